//! A WAV file as a `cpal` input device (cpal's `custom` host), for tests and demos that need
//! no audio server.
//!
//! The live capture code takes a [`cpal::Host`] or [`cpal::Device`]; [`wav_host`] makes a host
//! whose only device, named `wav:<file name>`, records the file. Unchanged capture code then
//! runs against it, paced in real time, faster, or as fast as possible, optionally with a clock
//! that runs fast or slow (for drift tests) and with silence before the file.
//!
//! # The device
//!
//! * One input device, also the default input device; no output devices.
//! * One supported input configuration per sample format, [`cpal::SampleFormat::F32`] and
//!   [`cpal::SampleFormat::I16`], each with the file's channel count and sample rate (a single
//!   rate). Any other channel count, rate or format is refused with
//!   [`cpal::ErrorKind::UnsupportedConfig`].
//! * Samples are the file's samples as this crate reads them (integer codes scaled to
//!   [-1, 1), as in [`crate::source::wav`]); in `I16` they are scaled back, which is exact for
//!   a 16-bit file.
//!
//! # The stream contract
//!
//! * A stream starts paused and delivers nothing until [`cpal::traits::StreamTrait::play`]
//!   (cpal 0.18 semantics); `pause` stops delivery and `play` resumes it where it stopped.
//!   Dropping the stream stops its thread and joins it.
//! * Each data callback gets interleaved frames: `n` frames for [`cpal::BufferSize::Fixed`]`(n)`,
//!   otherwise [`WavDeviceOptions::buffer_frames`] (default 10 ms of the file's rate). The last
//!   buffer holds what is left and may be shorter; nothing is padded.
//! * Timestamps are on the stream's clock, whose zero is the moment the stream was built and
//!   which [`cpal::traits::StreamTrait::now`] also reads: `capture` is the instant the
//!   buffer's first frame was "recorded", `callback` the instant of the call. A buffer is
//!   delivered once its last frame is due. Deadlines are absolute (frame `k` is due
//!   `k / (rate · speed) · (1 − clock_ppm · 10⁻⁶)` after `play`, shifted by the time spent
//!   paused), so no error accumulates. At infinite speed nothing sleeps and `capture` is the
//!   instant the buffer was produced.
//! * After the last frame the data callback is never called again, and the error callback is
//!   called exactly once with [`cpal::ErrorKind::DeviceNotAvailable`] and the message
//!   [`END_OF_INPUT`]; [`is_end_of_input`] recognises it. Capture code treats it as a clean end
//!   of input, not as a failure.
//! * The stream's thread holds no lock while calling the callbacks and allocates nothing per
//!   buffer.
//!
//! # Examples
//!
//! ```no_run
//! use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
//! use callpulse::capture::wav_device::{wav_host, is_end_of_input, WavDeviceOptions};
//!
//! let host = wav_host(std::path::Path::new("call.wav"), WavDeviceOptions::default())?;
//! let device = host.default_input_device().expect("the WAV host has an input device");
//! let config = device.default_input_config().expect("it has a configuration").config();
//! let stream = device
//!     .build_input_stream(
//!         config,
//!         |samples: &[f32], _: &cpal::InputCallbackInfo| { /* push into a ring */ },
//!         |e| if !is_end_of_input(&e) { eprintln!("stream error: {e}") },
//!         None,
//!     )
//!     .expect("the configuration is the device's own");
//! stream.play().expect("a WAV stream always plays");
//! # Ok::<(), callpulse::Error>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, Data, DeviceDescription, DeviceDescriptionBuilder, DeviceId, ErrorKind, FrameCount,
    InputCallbackInfo, InputStreamTimestamp, OutputCallbackInfo, SampleFormat, StreamConfig,
    StreamInstant, SupportedBufferSize, SupportedStreamConfig, SupportedStreamConfigRange,
};

use crate::error::{ConfigError, Error};
use crate::source::wav::WavSource;

/// The message of the error that ends a WAV device's stream after its last sample (kind
/// [`cpal::ErrorKind::DeviceNotAvailable`]). See [`is_end_of_input`].
pub const END_OF_INPUT: &str = "end of input file";

/// Largest buffer a stream accepts, in frames (also the top of the supported range).
const MAX_BUFFER_FRAMES: u32 = 1 << 20;

/// How a WAV file plays as a device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WavDeviceOptions {
    /// Playback speed: 1.0 is real time, 2.0 twice as fast, [`f64::INFINITY`] as fast as the
    /// callback takes the data. Must be positive.
    pub speed: f64,
    /// Frames per callback when the stream's configuration says [`cpal::BufferSize::Default`];
    /// `None` for 10 ms of the file's rate. Must not be `Some(0)`.
    pub buffer_frames: Option<u32>,
    /// The device's clock runs this many parts per million fast (+) or slow (−) against the
    /// wall clock, so it delivers that much more or less audio per wall-clock second (for
    /// drift tests). Must be finite and within ±100 000.
    pub clock_ppm: f64,
    /// Silence delivered before the file's first sample.
    pub lead_silence: Duration,
}

impl Default for WavDeviceOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            buffer_frames: None,
            clock_ppm: 0.0,
            lead_silence: Duration::ZERO,
        }
    }
}

impl WavDeviceOptions {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.speed.is_nan() || self.speed <= 0.0 {
            return Err(ConfigError::new(
                "speed",
                format!("must be positive (or infinite), not {}", self.speed),
            ));
        }
        if !self.clock_ppm.is_finite() || self.clock_ppm.abs() > 100_000.0 {
            return Err(ConfigError::new(
                "clock_ppm",
                format!("must be within ±100000 ppm, not {}", self.clock_ppm),
            ));
        }
        if let Some(n) = self.buffer_frames
            && (n == 0 || n > MAX_BUFFER_FRAMES)
        {
            return Err(ConfigError::new(
                "buffer_frames",
                format!("must be 1 to {MAX_BUFFER_FRAMES} frames, not {n}"),
            ));
        }
        if self.lead_silence > Duration::from_secs(24 * 3600) {
            return Err(ConfigError::new(
                "lead_silence",
                "must be at most 24 hours".to_string(),
            ));
        }
        Ok(())
    }
}

/// True when `e` is the error a WAV device's stream reports after its last sample (kind
/// [`cpal::ErrorKind::DeviceNotAvailable`], message [`END_OF_INPUT`]): a clean end of input.
pub fn is_end_of_input(e: &cpal::Error) -> bool {
    e.kind() == ErrorKind::DeviceNotAvailable && e.message() == Some(END_OF_INPUT)
}

/// A host with one input device that records the WAV file at `path`, named
/// `wav:<file name>` and also the default input device. The whole file is read now.
///
/// # Errors
/// As the crate's WAV reader: [`Error::Io`] when the file cannot be opened,
/// [`Error::InvalidWav`] when it is not a readable WAV file, [`Error::UnsupportedFormat`] for
/// a sample format `hound` does not read, [`Error::Empty`] when it holds no samples;
/// [`Error::Config`] when an option is out of range (naming it).
pub fn wav_host(path: &Path, options: WavDeviceOptions) -> Result<cpal::Host, Error> {
    let device = WavDevice::open(path, options)?;
    Ok(cpal::Host::from(cpal::platform::CustomHost::from_host(
        WavHost { device },
    )))
}

/// What a device plays: the whole file, interleaved.
struct Recording {
    name: String,
    samples: Vec<f32>,
    channels: u16,
    rate: u32,
    options: WavDeviceOptions,
}

#[derive(Clone)]
struct WavHost {
    device: WavDevice,
}

#[derive(Clone)]
struct WavDevice {
    recording: Arc<Recording>,
}

impl WavDevice {
    fn open(path: &Path, options: WavDeviceOptions) -> Result<Self, Error> {
        options.validate()?;
        // Channel 0 through the crate's reader: it validates the file and maps every error.
        let (rate, first) = WavSource::read_channel(path, 0, usize::MAX)?;
        let channels = hound::WavReader::open(path)
            .map_err(|e| Error::InvalidWav {
                path: path.to_owned(),
                reason: e.to_string(),
            })?
            .spec()
            .channels;
        let mut columns = vec![first];
        for channel in 1..channels {
            columns.push(WavSource::read_channel(path, channel, usize::MAX)?.1);
        }
        // A file cut off mid-frame: keep whole frames only.
        let frames = columns.iter().map(Vec::len).min().unwrap_or(0);
        if frames == 0 {
            return Err(Error::Empty {
                path: path.to_owned(),
            });
        }
        let mut samples = Vec::with_capacity(frames * usize::from(channels));
        for i in 0..frames {
            samples.extend(columns.iter().map(|c| c[i]));
        }
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        Ok(Self {
            recording: Arc::new(Recording {
                name: format!("wav:{file_name}"),
                samples,
                channels,
                rate,
                options,
            }),
        })
    }

    fn range(&self, format: SampleFormat) -> SupportedStreamConfigRange {
        let r = &self.recording;
        SupportedStreamConfigRange::new(
            r.channels,
            r.rate,
            r.rate,
            SupportedBufferSize::Range {
                min: 1,
                max: MAX_BUFFER_FRAMES,
            },
            format,
        )
    }

    fn default_buffer_frames(&self) -> u32 {
        let r = &self.recording;
        r.options
            .buffer_frames
            .unwrap_or((r.rate / 100).max(1))
            .clamp(1, MAX_BUFFER_FRAMES)
    }
}

impl PartialEq for WavDevice {
    fn eq(&self, other: &Self) -> bool {
        self.recording.name == other.recording.name
    }
}

impl Eq for WavDevice {}

impl std::hash::Hash for WavDevice {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.recording.name.hash(state);
    }
}

impl fmt::Debug for WavDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.recording;
        f.debug_struct("WavDevice")
            .field("name", &r.name)
            .field("channels", &r.channels)
            .field("rate", &r.rate)
            .field(
                "frames",
                &(r.samples.len() / usize::from(r.channels.max(1))),
            )
            .finish()
    }
}

impl fmt::Display for WavDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.recording.name)
    }
}

impl HostTrait for WavHost {
    type Device = WavDevice;
    type Devices = std::iter::Once<WavDevice>;

    fn is_available() -> bool {
        true
    }

    fn devices(&self) -> Result<Self::Devices, cpal::Error> {
        Ok(std::iter::once(self.device.clone()))
    }

    fn default_input_device(&self) -> Option<Self::Device> {
        Some(self.device.clone())
    }

    fn default_output_device(&self) -> Option<Self::Device> {
        None
    }
}

impl DeviceTrait for WavDevice {
    type SupportedInputConfigs = std::vec::IntoIter<SupportedStreamConfigRange>;
    type SupportedOutputConfigs = std::iter::Empty<SupportedStreamConfigRange>;
    type Stream = WavStream;

    fn description(&self) -> Result<DeviceDescription, cpal::Error> {
        Ok(DeviceDescriptionBuilder::new(&self.recording.name)
            .driver("callpulse WAV device")
            .direction(cpal::DeviceDirection::Input)
            .build())
    }

    fn id(&self) -> Result<DeviceId, cpal::Error> {
        Ok(DeviceId::new(cpal::HostId::Custom, &self.recording.name))
    }

    fn supported_input_configs(&self) -> Result<Self::SupportedInputConfigs, cpal::Error> {
        Ok(vec![self.range(SampleFormat::F32), self.range(SampleFormat::I16)].into_iter())
    }

    fn supported_output_configs(&self) -> Result<Self::SupportedOutputConfigs, cpal::Error> {
        Ok(std::iter::empty())
    }

    fn default_input_config(&self) -> Result<SupportedStreamConfig, cpal::Error> {
        let r = &self.recording;
        Ok(SupportedStreamConfig::new(
            r.channels,
            r.rate,
            SupportedBufferSize::Range {
                min: 1,
                max: MAX_BUFFER_FRAMES,
            },
            SampleFormat::F32,
        ))
    }

    fn default_output_config(&self) -> Result<SupportedStreamConfig, cpal::Error> {
        Err(cpal::Error::with_message(
            ErrorKind::UnsupportedConfig,
            "a WAV device has no output",
        ))
    }

    fn build_input_stream_raw<D, E>(
        &self,
        config: StreamConfig,
        sample_format: SampleFormat,
        data_callback: D,
        error_callback: E,
        _timeout: Option<Duration>,
    ) -> Result<Self::Stream, cpal::Error>
    where
        D: FnMut(&Data, &InputCallbackInfo) + Send + 'static,
        E: FnMut(cpal::Error) + Send + 'static,
    {
        let r = &self.recording;
        if config.channels != r.channels
            || config.sample_rate != r.rate
            || !matches!(sample_format, SampleFormat::F32 | SampleFormat::I16)
        {
            return Err(cpal::Error::with_message(
                ErrorKind::UnsupportedConfig,
                format!(
                    "{} records {} channel(s) at {} Hz in f32 or i16; asked for {} channel(s) \
                     at {} Hz in {sample_format}",
                    r.name, r.channels, r.rate, config.channels, config.sample_rate
                ),
            ));
        }
        let buffer_frames = match config.buffer_size {
            BufferSize::Default => self.default_buffer_frames(),
            BufferSize::Fixed(n) if (1..=MAX_BUFFER_FRAMES).contains(&n) => n,
            BufferSize::Fixed(n) => {
                return Err(cpal::Error::with_message(
                    ErrorKind::UnsupportedConfig,
                    format!("buffer size {n} is outside 1 to {MAX_BUFFER_FRAMES} frames"),
                ));
            }
        };
        WavStream::spawn(
            Arc::clone(&self.recording),
            sample_format,
            buffer_frames,
            data_callback,
            error_callback,
        )
    }

    fn build_output_stream_raw<D, E>(
        &self,
        _config: StreamConfig,
        _sample_format: SampleFormat,
        _data_callback: D,
        _error_callback: E,
        _timeout: Option<Duration>,
    ) -> Result<Self::Stream, cpal::Error>
    where
        D: FnMut(&mut Data, &OutputCallbackInfo) + Send + 'static,
        E: FnMut(cpal::Error) + Send + 'static,
    {
        Err(cpal::Error::with_message(
            ErrorKind::UnsupportedConfig,
            "a WAV device has no output",
        ))
    }
}

/// What the stream handle tells its thread.
struct State {
    playing: bool,
    exit: bool,
}

struct Control {
    state: Mutex<State>,
    wake: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.wake.notify_all();
    }
}

/// A running WAV device stream: a thread that delivers the file's buffers.
pub struct WavStream {
    control: Arc<Control>,
    /// Zero of the stream's clock.
    start: Instant,
    buffer_frames: u32,
    thread: Option<JoinHandle<()>>,
}

fn instant_since(start: Instant, t: Instant) -> StreamInstant {
    let d = t.saturating_duration_since(start);
    StreamInstant::new(d.as_secs(), d.subsec_nanos())
}

impl WavStream {
    fn spawn<D, E>(
        recording: Arc<Recording>,
        format: SampleFormat,
        buffer_frames: u32,
        mut data_callback: D,
        mut error_callback: E,
    ) -> Result<Self, cpal::Error>
    where
        D: FnMut(&Data, &InputCallbackInfo) + Send + 'static,
        E: FnMut(cpal::Error) + Send + 'static,
    {
        let control = Arc::new(Control {
            state: Mutex::new(State {
                playing: false,
                exit: false,
            }),
            wake: Condvar::new(),
        });
        let start = Instant::now();
        let thread_control = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name(format!("{} stream", recording.name))
            .spawn(move || {
                let mut player = Player::new(&recording, format, buffer_frames, start);
                if player.run(&thread_control, &mut data_callback) {
                    error_callback(cpal::Error::with_message(
                        ErrorKind::DeviceNotAvailable,
                        END_OF_INPUT,
                    ));
                }
            })
            .map_err(|e| {
                cpal::Error::with_message(
                    ErrorKind::ResourceExhausted,
                    format!("cannot start the stream thread: {e}"),
                )
            })?;
        Ok(Self {
            control,
            start,
            buffer_frames,
            thread: Some(thread),
        })
    }
}

impl StreamTrait for WavStream {
    fn play(&self) -> Result<(), cpal::Error> {
        self.control.set(|s| s.playing = true);
        Ok(())
    }

    fn pause(&self) -> Result<(), cpal::Error> {
        self.control.set(|s| s.playing = false);
        Ok(())
    }

    fn buffer_size(&self) -> Result<FrameCount, cpal::Error> {
        Ok(self.buffer_frames)
    }

    fn now(&self) -> StreamInstant {
        instant_since(self.start, Instant::now())
    }
}

impl Drop for WavStream {
    fn drop(&mut self) {
        self.control.set(|s| s.exit = true);
        if let Some(thread) = self.thread.take() {
            // A panic in the user's callback ended the thread; nothing more to do about it.
            let _ = thread.join();
        }
    }
}

/// The stream thread's state: where it is in the file and when the next buffer is due.
struct Player<'a> {
    recording: &'a Recording,
    format: SampleFormat,
    channels: usize,
    buffer_frames: u64,
    /// Silent frames before the file.
    lead: u64,
    /// Frames in all (lead + file).
    total: u64,
    /// Frames delivered.
    position: u64,
    /// Wall-clock seconds per frame (None: as fast as possible).
    frame_period: Option<f64>,
    /// Stream-clock zero.
    start: Instant,
    f32_buffer: Vec<f32>,
    i16_buffer: Vec<i16>,
}

enum Wait {
    Due,
    Paused,
    Exit,
}

impl<'a> Player<'a> {
    fn new(
        recording: &'a Recording,
        format: SampleFormat,
        buffer_frames: u32,
        start: Instant,
    ) -> Self {
        let channels = usize::from(recording.channels.max(1));
        let rate = f64::from(recording.rate.max(1));
        let o = &recording.options;
        let lead = (o.lead_silence.as_secs_f64() * rate).round() as u64;
        let frame_period = o
            .speed
            .is_finite()
            .then(|| (1.0 - o.clock_ppm * 1e-6) / (rate * o.speed));
        let samples = buffer_frames as usize * channels;
        Self {
            recording,
            format,
            channels,
            buffer_frames: u64::from(buffer_frames),
            lead,
            total: lead + (recording.samples.len() / channels) as u64,
            position: 0,
            frame_period,
            start,
            f32_buffer: if format == SampleFormat::F32 {
                vec![0.0; samples]
            } else {
                Vec::new()
            },
            i16_buffer: if format == SampleFormat::I16 {
                vec![0; samples]
            } else {
                Vec::new()
            },
        }
    }

    /// The instant frame `k` is recorded, given the instant of frame 0.
    fn due(&self, origin: Instant, k: u64) -> Instant {
        match self.frame_period {
            Some(p) => origin + Duration::from_secs_f64((k as f64 * p).min(1e9)),
            None => origin,
        }
    }

    /// Waits until `deadline`, a pause or the end of the stream, whichever comes first.
    fn wait_until(control: &Control, deadline: Instant) -> Wait {
        let mut state = control.lock();
        loop {
            if state.exit {
                return Wait::Exit;
            }
            if !state.playing {
                return Wait::Paused;
            }
            let now = Instant::now();
            if now >= deadline {
                return Wait::Due;
            }
            state = control
                .wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits while paused. Returns false when the stream is dropped.
    fn wait_while_paused(control: &Control) -> bool {
        let mut state = control.lock();
        while !state.playing && !state.exit {
            state = control
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !state.exit
    }

    /// Copies frames `[from, from + n)` of the lead-in plus file into the scratch buffer and
    /// returns the sample count.
    fn fill(&mut self, from: u64, n: usize) -> usize {
        let ch = self.channels;
        let len = n * ch;
        let silent = self.lead.saturating_sub(from).min(n as u64) as usize;
        let file_from = (from + silent as u64 - self.lead) as usize * ch;
        let audio = &self.recording.samples[file_from..file_from + (n - silent) * ch];
        match self.format {
            SampleFormat::I16 => {
                let out = &mut self.i16_buffer[..len];
                out[..silent * ch].fill(0);
                for (o, &s) in out[silent * ch..].iter_mut().zip(audio) {
                    // `as` saturates and maps NaN to 0: no panic on bad data.
                    *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                }
            }
            _ => {
                let out = &mut self.f32_buffer[..len];
                out[..silent * ch].fill(0.0);
                out[silent * ch..].copy_from_slice(audio);
            }
        }
        len
    }

    /// Delivers the whole stream. Returns true when it reached the end of the file, false
    /// when the stream was dropped first.
    fn run<D>(&mut self, control: &Control, data_callback: &mut D) -> bool
    where
        D: FnMut(&Data, &InputCallbackInfo),
    {
        // The instant frame 0 was recorded; set at the first `play`, moved on by pauses.
        let mut origin: Option<Instant> = None;
        while self.position < self.total {
            let n = (self.total - self.position).min(self.buffer_frames) as usize;
            let deadline = origin.map(|o| self.due(o, self.position + n as u64));
            let wait = match deadline {
                Some(deadline) => Self::wait_until(control, deadline),
                None => Wait::Paused,
            };
            match wait {
                Wait::Exit => return false,
                Wait::Paused => {
                    let paused_at = Instant::now();
                    if !Self::wait_while_paused(control) {
                        return false;
                    }
                    let resumed = Instant::now();
                    origin = Some(match origin {
                        Some(o) => o + (resumed - paused_at),
                        None => resumed,
                    });
                    continue;
                }
                Wait::Due => {}
            }
            let len = self.fill(self.position, n);
            let now = Instant::now();
            let capture = match (self.frame_period, origin) {
                (Some(_), Some(o)) => self.due(o, self.position),
                _ => now,
            };
            let timestamp = InputStreamTimestamp {
                callback: instant_since(self.start, now),
                capture: instant_since(self.start, capture),
            };
            let (ptr, format) = match self.format {
                SampleFormat::I16 => (self.i16_buffer.as_mut_ptr().cast::<()>(), SampleFormat::I16),
                _ => (self.f32_buffer.as_mut_ptr().cast::<()>(), SampleFormat::F32),
            };
            // SAFETY: `ptr` points at the first of at least `len` initialised samples of
            // `format` (the buffer of that format, sized for `buffer_frames` frames, `len` ≤
            // that), which stay alive and unaliased for the duration of the callback.
            let data = unsafe { Data::from_parts(ptr, len, format) };
            data_callback(&data, &InputCallbackInfo::new(timestamp));
            self.position += n as u64;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    fn write_wav(
        dir: &Path,
        name: &str,
        spec: hound::WavSpec,
        samples: &[i32],
    ) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &s in samples {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Int, 8) => w.write_sample(s as i8).unwrap(),
                (hound::SampleFormat::Int, 16) => w.write_sample(s as i16).unwrap(),
                (hound::SampleFormat::Int, _) => w.write_sample(s).unwrap(),
                (hound::SampleFormat::Float, _) => w.write_sample(s as f32 / 1000.0).unwrap(),
            }
        }
        w.finalize().unwrap();
        path
    }

    fn spec(channels: u16, rate: u32, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    fn pcm16(channels: u16, rate: u32, frames: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<i32> = (0..frames * usize::from(channels))
            .map(|i| ((i as i64 * 7919) % 65536 - 32768) as i32)
            .collect();
        let path = write_wav(
            dir.path(),
            "t.wav",
            spec(channels, rate, 16, hound::SampleFormat::Int),
            &samples,
        );
        (dir, path)
    }

    /// What one stream delivered.
    struct Run {
        samples: Vec<f32>,
        sizes: Vec<usize>,
        stamps: Vec<InputStreamTimestamp>,
        ends: usize,
        elapsed: Duration,
    }

    fn record(host: &cpal::Host, buffer: BufferSize, stop_after: Option<Duration>) -> Run {
        let device = host.default_input_device().unwrap();
        let mut config = device.default_input_config().unwrap().config();
        config.buffer_size = buffer;
        let (tx, rx) = mpsc::channel::<(Vec<f32>, InputStreamTimestamp)>();
        let ends = Arc::new(AtomicUsize::new(0));
        let (end_tx, end_rx) = mpsc::channel::<()>();
        let e2 = Arc::clone(&ends);
        let stream = device
            .build_input_stream(
                config,
                move |s: &[f32], info: &InputCallbackInfo| {
                    let _ = tx.send((s.to_vec(), info.timestamp()));
                },
                move |e| {
                    assert!(is_end_of_input(&e), "{e}");
                    e2.fetch_add(1, Ordering::SeqCst);
                    let _ = end_tx.send(());
                },
                None,
            )
            .unwrap();
        // Nothing before play.
        std::thread::sleep(Duration::from_millis(30));
        let t = Instant::now();
        stream.play().unwrap();
        match stop_after {
            Some(d) => std::thread::sleep(d),
            None => end_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        }
        let elapsed = t.elapsed();
        // Give a wrongly repeated end or data call a chance to show up.
        std::thread::sleep(Duration::from_millis(30));
        drop(stream);
        let mut run = Run {
            samples: Vec::new(),
            sizes: Vec::new(),
            stamps: Vec::new(),
            ends: ends.load(Ordering::SeqCst),
            elapsed,
        };
        for (s, ts) in rx.try_iter() {
            run.sizes.push(s.len());
            run.samples.extend(s);
            run.stamps.push(ts);
        }
        run
    }

    fn fast() -> WavDeviceOptions {
        WavDeviceOptions {
            speed: f64::INFINITY,
            ..WavDeviceOptions::default()
        }
    }

    #[test]
    fn delivers_the_files_samples_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (8, hound::SampleFormat::Int, 127),
            (16, hound::SampleFormat::Int, 32767),
            (24, hound::SampleFormat::Int, 8_388_607),
            (32, hound::SampleFormat::Int, i32::MAX),
            (32, hound::SampleFormat::Float, 1000),
        ];
        for (bits, format, max) in cases {
            let frames = 1234;
            let raw: Vec<i32> = (0..frames * 2)
                .map(|i| {
                    let x = ((i as i64 * 7919) % 2001 - 1000) as f64 / 1000.0;
                    (x * f64::from(max)) as i32
                })
                .collect();
            let name = format!("{bits}-{format:?}.wav");
            let path = write_wav(dir.path(), &name, spec(2, 8000, bits, format), &raw);
            let host = wav_host(&path, fast()).unwrap();
            let run = record(&host, BufferSize::Default, None);
            let mut want = Vec::new();
            let mut reader = hound::WavReader::open(&path).unwrap();
            match format {
                hound::SampleFormat::Float => {
                    want.extend(reader.samples::<f32>().map(|s| s.unwrap()));
                }
                hound::SampleFormat::Int => {
                    let scale = 1.0 / (1u64 << (bits - 1)) as f64;
                    want.extend(
                        reader
                            .samples::<i32>()
                            .map(|s| s.unwrap() as f32 * scale as f32),
                    );
                }
            }
            assert_eq!(run.samples.len(), want.len(), "{name}");
            for (i, (a, b)) in run.samples.iter().zip(&want).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{name} sample {i}");
            }
            assert_eq!(run.ends, 1, "{name}");
        }
    }

    #[test]
    fn i16_stream_is_exact_for_a_16_bit_file() {
        let (_dir, path) = pcm16(1, 8000, 500);
        let host = wav_host(&path, fast()).unwrap();
        let device = host.default_input_device().unwrap();
        let config = StreamConfig {
            channels: 1,
            sample_rate: 8000,
            buffer_size: BufferSize::Fixed(64),
        };
        let (tx, rx) = mpsc::channel::<Vec<i16>>();
        let (end_tx, end_rx) = mpsc::channel::<()>();
        let stream = device
            .build_input_stream(
                config,
                move |s: &[i16], _: &InputCallbackInfo| {
                    let _ = tx.send(s.to_vec());
                },
                move |_| {
                    let _ = end_tx.send(());
                },
                None,
            )
            .unwrap();
        stream.play().unwrap();
        end_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        drop(stream);
        let got: Vec<i16> = rx.try_iter().flatten().collect();
        let want: Vec<i16> = hound::WavReader::open(&path)
            .unwrap()
            .samples::<i16>()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_fixed_buffer_size_is_honoured_and_lead_silence_comes_first() {
        let (_dir, path) = pcm16(2, 8000, 1000);
        let options = WavDeviceOptions {
            lead_silence: Duration::from_millis(10), // 80 frames
            ..fast()
        };
        let host = wav_host(&path, options).unwrap();
        let run = record(&host, BufferSize::Fixed(256), None);
        // 1080 frames: four buffers of 256 frames, then 56.
        assert_eq!(run.sizes, vec![512, 512, 512, 512, 112]);
        assert!(run.samples[..160].iter().all(|&s| s == 0.0));
        assert_ne!(run.samples[160], 0.0);
        assert_eq!(run.ends, 1);
        // The default size is 10 ms.
        let run = record(&host, BufferSize::Default, None);
        assert_eq!(run.sizes[0], 160);
    }

    #[test]
    fn real_time_pacing_and_timestamps() {
        let (_dir, path) = pcm16(1, 8000, 8000);
        let host = wav_host(&path, WavDeviceOptions::default()).unwrap();
        let run = record(&host, BufferSize::Fixed(400), None);
        let secs = run.elapsed.as_secs_f64();
        assert!((0.9..1.5).contains(&secs), "a 1 s file took {secs} s");
        assert_eq!(run.samples.len(), 8000);
        assert_eq!(run.ends, 1);
        // Capture instants are 50 ms apart exactly; each callback comes after its buffer ends.
        for (i, w) in run.stamps.windows(2).enumerate() {
            let step = w[1].capture.duration_since(w[0].capture);
            let off = (step.as_secs_f64() - 0.05).abs();
            assert!(off < 1e-6, "buffer {i}: capture step {step:?}");
        }
        for ts in &run.stamps {
            let lag = ts.callback.duration_since(ts.capture).as_secs_f64();
            assert!(lag >= 0.05 - 1e-6, "callback {lag} s after capture");
        }
    }

    #[test]
    fn a_fast_clock_delivers_more_samples_per_second() {
        // 10 s files at 20× speed: about 0.5 s of wall time each.
        let (_dir, path) = pcm16(1, 8000, 80_000);
        let count = |ppm: f64| {
            let options = WavDeviceOptions {
                speed: 20.0,
                clock_ppm: ppm,
                ..WavDeviceOptions::default()
            };
            let host = wav_host(&path, options).unwrap();
            let run = record(
                &host,
                BufferSize::Fixed(80),
                Some(Duration::from_millis(400)),
            );
            // Frames per wall second, from the capture stamps of the first and last buffer.
            let first = run.stamps.first().unwrap().capture;
            let last = run.stamps.last().unwrap().capture;
            let frames = (run.stamps.len() - 1) as f64 * 80.0;
            frames / last.duration_since(first).as_secs_f64()
        };
        let nominal = count(0.0);
        let fast = count(10_000.0);
        let gain = fast / nominal - 1.0;
        assert!(
            (nominal / 160_000.0 - 1.0).abs() < 1e-3,
            "nominal {nominal}"
        );
        assert!((gain - 0.01).abs() < 0.001, "gain {gain}");
    }

    #[test]
    fn wall_clock_rate_follows_clock_ppm() {
        // The same, measured by arrival time (wall clock) rather than the stamps: 40 s files
        // at 40× speed, about 1 s each.
        let (_dir, path) = pcm16(1, 8000, 320_000);
        let measure = |ppm: f64| {
            let options = WavDeviceOptions {
                speed: 40.0,
                clock_ppm: ppm,
                ..WavDeviceOptions::default()
            };
            let host = wav_host(&path, options).unwrap();
            let run = record(&host, BufferSize::Fixed(800), None);
            run.samples.len() as f64 / run.elapsed.as_secs_f64()
        };
        let nominal = measure(0.0);
        let fast = measure(10_000.0);
        let gain = fast / nominal - 1.0;
        // Wide tolerance: on a loaded machine the last wake-up may come milliseconds late.
        assert!((gain - 0.01).abs() < 0.005, "gain {gain}");
    }

    #[test]
    fn pause_stops_delivery_and_drop_stops_the_thread() {
        let (_dir, path) = pcm16(1, 8000, 8000);
        let host = wav_host(&path, WavDeviceOptions::default()).unwrap();
        let device = host.default_input_device().unwrap();
        let config = device.default_input_config().unwrap().config();
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = Arc::clone(&calls);
        let stream = device
            .build_input_stream(
                config,
                move |_: &[f32], _: &InputCallbackInfo| {
                    c2.fetch_add(1, Ordering::SeqCst);
                },
                |_| {},
                None,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "delivered before play");
        stream.play().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        stream.pause().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let paused = calls.load(Ordering::SeqCst);
        assert!(paused > 3, "{paused} calls in 100 ms");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            paused,
            "delivered while paused"
        );
        stream.play().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(calls.load(Ordering::SeqCst) > paused);
        let t = Instant::now();
        drop(stream);
        assert!(t.elapsed() < Duration::from_millis(100));
        let after = calls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(calls.load(Ordering::SeqCst), after, "delivered after drop");
    }

    #[test]
    fn now_is_on_the_capture_clock() {
        let (_dir, path) = pcm16(1, 8000, 800);
        let host = wav_host(&path, WavDeviceOptions::default()).unwrap();
        let device = host.default_input_device().unwrap();
        let config = device.default_input_config().unwrap().config();
        let (tx, rx) = mpsc::channel();
        let stream = device
            .build_input_stream(
                config,
                move |_: &[f32], info: &InputCallbackInfo| {
                    let _ = tx.send(info.timestamp().callback);
                },
                |_| {},
                None,
            )
            .unwrap();
        stream.play().unwrap();
        let callback = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let now = stream.now();
        assert!(now >= callback);
        assert!(now.duration_since(callback) < Duration::from_millis(200));
    }

    #[test]
    fn file_errors_are_the_crates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.wav");
        assert!(matches!(wav_host(&missing, fast()), Err(Error::Io { .. })));
        let text = dir.path().join("text.wav");
        std::fs::write(&text, b"this is not a RIFF file at all, just some text").unwrap();
        assert!(matches!(
            wav_host(&text, fast()),
            Err(Error::InvalidWav { .. })
        ));
        let empty = write_wav(
            dir.path(),
            "empty.wav",
            spec(1, 8000, 16, hound::SampleFormat::Int),
            &[],
        );
        assert!(matches!(wav_host(&empty, fast()), Err(Error::Empty { .. })));
        let (_d, ok) = pcm16(1, 8000, 10);
        let bad = WavDeviceOptions {
            speed: 0.0,
            ..WavDeviceOptions::default()
        };
        assert!(matches!(wav_host(&ok, bad), Err(Error::Config(e)) if e.field == "speed"));
        let bad = WavDeviceOptions {
            clock_ppm: f64::NAN,
            ..WavDeviceOptions::default()
        };
        assert!(matches!(wav_host(&ok, bad), Err(Error::Config(e)) if e.field == "clock_ppm"));
    }

    #[test]
    fn the_host_has_one_input_device_and_no_output() {
        let (_dir, path) = pcm16(2, 22_050, 100);
        let host = wav_host(&path, fast()).unwrap();
        let devices: Vec<cpal::Device> = host.devices().unwrap().collect();
        assert_eq!(devices.len(), 1);
        let device = &devices[0];
        assert_eq!(device.description().unwrap().name(), "wav:t.wav");
        assert_eq!(host.input_devices().unwrap().count(), 1);
        assert_eq!(host.output_devices().unwrap().count(), 0);
        assert!(host.default_output_device().is_none());
        assert_eq!(host.default_input_device().as_ref(), Some(device));
        let configs: Vec<SupportedStreamConfigRange> =
            device.supported_input_configs().unwrap().collect();
        assert!(!configs.is_empty());
        for c in &configs {
            assert_eq!(c.channels(), 2);
            assert_eq!(c.min_sample_rate(), 22_050);
            assert_eq!(c.max_sample_rate(), 22_050);
        }
        assert!(
            configs
                .iter()
                .any(|c| c.sample_format() == SampleFormat::F32)
        );
        let default = device.default_input_config().unwrap();
        assert_eq!(default.sample_format(), SampleFormat::F32);
        assert_eq!(default.channels(), 2);
        assert_eq!(default.sample_rate(), 22_050);
        assert_eq!(device.supported_output_configs().unwrap().count(), 0);
        // The crate's device lookup finds it by name.
        let found = crate::capture::device::find(
            &host,
            Some("t.wav"),
            crate::capture::device::Direction::Input,
        )
        .unwrap();
        assert_eq!(&found, device);
    }

    #[test]
    fn unsupported_configs_are_refused() {
        let (_dir, path) = pcm16(2, 8000, 100);
        let host = wav_host(&path, fast()).unwrap();
        let device = host.default_input_device().unwrap();
        let good = device.default_input_config().unwrap().config();
        let tries = [
            StreamConfig {
                sample_rate: 16_000,
                ..good
            },
            StreamConfig {
                channels: 1,
                ..good
            },
            StreamConfig {
                buffer_size: BufferSize::Fixed(0),
                ..good
            },
        ];
        for config in tries {
            let e = device
                .build_input_stream(config, |_: &[f32], _: &InputCallbackInfo| {}, |_| {}, None)
                .err()
                .unwrap();
            assert_eq!(e.kind(), ErrorKind::UnsupportedConfig, "{config:?}");
        }
        let e = device
            .build_input_stream(good, |_: &[u8], _: &InputCallbackInfo| {}, |_| {}, None)
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::UnsupportedConfig);
        assert!(
            device
                .build_output_stream(
                    good,
                    |_: &mut [f32], _: &OutputCallbackInfo| {},
                    |_| {},
                    None
                )
                .is_err()
        );
    }

    #[test]
    fn end_of_input_is_recognised() {
        assert!(is_end_of_input(&cpal::Error::with_message(
            ErrorKind::DeviceNotAvailable,
            END_OF_INPUT
        )));
        assert!(!is_end_of_input(&cpal::Error::new(
            ErrorKind::DeviceNotAvailable
        )));
        assert!(!is_end_of_input(&cpal::Error::with_message(
            ErrorKind::Other,
            END_OF_INPUT
        )));
    }
}
