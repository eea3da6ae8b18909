//! [`LiveSource`]: one or two `cpal` input streams behind the [`Source`] seam.
//!
//! ```text
//! device A callback ──rtrb──┐
//!                            ├─► LiveSource::read (analysis thread) ──► Pipeline
//! device B callback ──rtrb──┘        gaps, capture times, drift correction
//! ```
//!
//! * **One device** (the usual case): one stream; the agent and caller are two channels of it
//!   (a channel map), so both parties share one clock.
//! * **Two devices** (one per party): two streams, two clocks. The second stream is resampled
//!   by a [`DriftCorrector`] (rubato's asynchronous resampler) steered by the difference of
//!   the two rings' fill levels, so the parties stay aligned however long the call.
//!
//! The reader hands out blocks of `block` (10 ms) per stream, waiting (1 ms sleeps) until
//! every stream has one. Frames the callback had to drop (ring full: the analysis stalled)
//! come back as the same number of zero frames flagged `gap`, so the timeline stays true;
//! xruns reported by the backend flag the next block `gap`. A stream error ends the input
//! after what was captured before it has been analysed, and [`Source::read`] returns
//! [`Error::Stream`]; so does a device that delivers nothing for `stall_timeout`. The WAV
//! device's end of input ([`super::wav_device::END_OF_INPUT`]) ends the input cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use serde::Serialize;

use super::drift::DriftCorrector;
use super::ring::{self, CaptureCounters, Mark, Reader};
use crate::error::Error;
use crate::record::round;
use crate::role::Role;
use crate::source::{Block, CaptureAnchor, PartySpec, Source, SourceInfo};
use crate::time::mono_ns;

/// One input device and the parties it carries.
#[derive(Clone)]
pub struct StreamSpec {
    /// The device to record.
    pub device: cpal::Device,
    /// The parties on this device: role and the device channel (0-based) carrying it.
    /// One or two entries.
    pub parties: Vec<(Role, u16)>,
    /// How to name it in messages (e.g. the name the user gave).
    pub label: String,
}

/// How to capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Sample rate to ask the device for [default: [`PREFERRED_RATE`] when the device offers
    /// it, else its default rate].
    pub sample_rate: Option<u32>,
    /// Callback buffer to ask for [default 10 ms]; the backend may give another size.
    pub buffer: Duration,
    /// Ring capacity per stream [default 2 s]: how long the analysis may stall before
    /// samples are dropped (and counted).
    pub ring: Duration,
    /// Largest block handed to the analysis at once [default 10 ms]; whatever has arrived is
    /// handed on without waiting for a whole block.
    pub block: Duration,
    /// Stop after this much audio [default: until stopped].
    pub duration: Option<Duration>,
    /// A device that delivers nothing for this long has failed [default 5 s; the first
    /// callback of a fresh PulseAudio null sink can take about 2 s].
    pub stall_timeout: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            sample_rate: None,
            buffer: Duration::from_millis(10),
            ring: Duration::from_secs(2),
            block: Duration::from_millis(10),
            duration: None,
            stall_timeout: Duration::from_secs(5),
        }
    }
}

/// What one capture stream did, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureReport {
    /// The device, as named.
    pub device: String,
    /// The rate it ran at, in Hz.
    pub sample_rate: u32,
    /// Channels the device delivered.
    pub channels: u16,
    /// Callbacks received.
    pub callbacks: u64,
    /// Frames captured into the ring.
    pub frames: u64,
    /// Frames dropped because the ring was full (they became a gap).
    pub frames_dropped: u64,
    /// Gaps put into the timeline (ring overflows and xruns).
    pub gaps: u64,
    /// Xruns the backend reported.
    pub xruns: u64,
    /// Other stream errors.
    pub stream_errors: u64,
    /// Ring capacity in ms.
    pub ring_ms: f64,
    /// Highest ring fill seen, in percent of the capacity.
    pub ring_fill_max_pct: f64,
    /// The drift loop's steady-state correction against the first device, in ppm (two devices
    /// only): about −500 when this device's clock runs 500 ppm fast.
    pub drift_ppm: Option<f64>,
}

/// Live counters of a capture, readable from any thread while it runs.
#[derive(Clone)]
pub struct CaptureMonitor {
    counters: Vec<(String, u64, Arc<CaptureCounters>)>,
}

/// A snapshot of [`CaptureMonitor`], summed over the streams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CaptureSnapshot {
    /// Callbacks received.
    pub callbacks: u64,
    /// Frames captured.
    pub frames: u64,
    /// Frames dropped (ring full).
    pub dropped: u64,
    /// Xruns reported.
    pub xruns: u64,
    /// Highest ring fill of any stream, percent.
    pub ring_fill_max_pct: f64,
}

impl CaptureMonitor {
    /// The counters now.
    pub fn snapshot(&self) -> CaptureSnapshot {
        let mut s = CaptureSnapshot::default();
        for (_, capacity, c) in &self.counters {
            s.callbacks += c.callbacks.load(Ordering::Relaxed);
            s.frames += c.frames.load(Ordering::Relaxed);
            s.dropped += c.dropped_frames.load(Ordering::Relaxed);
            s.xruns += c.xruns.load(Ordering::Relaxed);
            s.ring_fill_max_pct = s.ring_fill_max_pct.max(fill_pct(c, *capacity));
        }
        s
    }

    /// Whether every stream has delivered at least one callback.
    pub fn started(&self) -> bool {
        self.counters
            .iter()
            .all(|(_, _, c)| c.callbacks.load(Ordering::Relaxed) > 0)
    }
}

/// The highest fill of a ring of `capacity` frames, in percent.
fn fill_pct(c: &CaptureCounters, capacity: u64) -> f64 {
    c.max_fill.load(Ordering::Relaxed) as f64 * 100.0 / capacity.max(1) as f64
}

/// The reading state of one stream.
struct Input {
    label: String,
    rate: u32,
    channels: u16,
    parties: Vec<usize>,
    reader: Reader,
    capacity: usize,
    block: usize,
    /// Frames read from the ring so far.
    pos: u64,
    /// Frames delivered to the analysis so far (ring frames plus gap zeros).
    delivered: u64,
    /// The newest mark at or before `pos`.
    mark: Option<Mark>,
    /// Zero frames still to deliver for a gap.
    gap_left: u64,
    gaps: u64,
    ended: bool,
    failed: Option<String>,
    drift: Option<DriftCorrector>,
    /// Input frames owed to the drift corrector (the fraction, or what was not yet there).
    carry: f64,
    scratch: Vec<f32>,
    /// Kept alive while capturing; dropped (stopping the callback) when the source is.
    _stream: cpal::Stream,
}

/// Live audio from one or two devices, as a [`Source`].
pub struct LiveSource {
    info: SourceInfo,
    inputs: Vec<Input>,
    stop: Arc<AtomicBool>,
    limit_frames: Option<u64>,
    stall_ns: u64,
    started_ns: u64,
    anchor: Option<CaptureAnchor>,
    /// The fill difference between the streams once both have settled (their callback sizes
    /// differ, so their rings sit at different levels): the drift loop holds it.
    drift_setpoint: Option<f64>,
    /// Sum and count of the fill differences measured while settling; their mean becomes the
    /// setpoint (one measurement could be off by a late callback).
    settling: (f64, u32),
}

/// Audio delivered before the drift loop takes its setpoint.
const DRIFT_SETTLE_S: f64 = 1.0;

/// The rate asked of a device when none is given: the analysis rate for wide-band input, so
/// the analysis needs no resampler (and its latency) of its own.
pub const PREFERRED_RATE: u32 = 16_000;

fn sample_format_ok(f: cpal::SampleFormat) -> bool {
    use cpal::SampleFormat as F;
    matches!(
        f,
        F::I8 | F::I16 | F::I32 | F::U8 | F::U16 | F::U32 | F::F32 | F::F64
    )
}

/// Opens one input stream writing into `writer`.
fn build_stream(
    spec: &StreamSpec,
    config: &cpal::SupportedStreamConfig,
    buffer: cpal::BufferSize,
    mut writer: ring::Writer,
    mut errors: ring::ErrorWriter,
) -> Result<cpal::Stream, cpal::Error> {
    let stream_config = cpal::StreamConfig {
        channels: config.channels(),
        sample_rate: config.sample_rate(),
        buffer_size: buffer,
    };
    spec.device.build_input_stream_raw(
        stream_config,
        config.sample_format(),
        move |data: &cpal::Data, info: &cpal::InputCallbackInfo| {
            // The real-time boundary: see `ring`'s docs. Nothing here allocates or blocks.
            let ts = info.timestamp();
            let delay = ts
                .callback
                .checked_duration_since(ts.capture)
                .map_or(0, |d| d.as_nanos().min(1_000_000_000) as u64);
            use cpal::SampleFormat as F;
            match data.sample_format() {
                F::I8 => write_as::<i8>(&mut writer, data, delay),
                F::I16 => write_as::<i16>(&mut writer, data, delay),
                F::I32 => write_as::<i32>(&mut writer, data, delay),
                F::U8 => write_as::<u8>(&mut writer, data, delay),
                F::U16 => write_as::<u16>(&mut writer, data, delay),
                F::U32 => write_as::<u32>(&mut writer, data, delay),
                F::F32 => write_as::<f32>(&mut writer, data, delay),
                F::F64 => write_as::<f64>(&mut writer, data, delay),
                _ => {}
            }
        },
        move |e| errors.error(e),
        Some(Duration::from_secs(5)),
    )
}

fn write_as<T>(writer: &mut ring::Writer, data: &cpal::Data, delay: u64)
where
    T: cpal::SizedSample,
    f32: cpal::FromSample<T>,
{
    if let Some(s) = data.as_slice::<T>() {
        writer.write(s, delay);
    }
}

impl LiveSource {
    /// Opens and starts the streams. `stop` ends the input when set (Ctrl-C, a quit key):
    /// what is in the rings is still analysed.
    ///
    /// # Errors
    /// [`Error::Device`] when a device lacks a channel, a rate or a sample format, or the
    /// stream cannot be built or started; [`Error::Config`] for bad options.
    pub fn open(
        streams: Vec<StreamSpec>,
        options: &CaptureOptions,
        stop: Arc<AtomicBool>,
    ) -> Result<LiveSource, Error> {
        use crate::error::ConfigError;
        if streams.is_empty() || streams.len() > 2 {
            return Err(
                ConfigError::new("capture.streams", "give one or two input devices").into(),
            );
        }
        let parties: usize = streams.iter().map(|s| s.parties.len()).sum();
        if !(1..=2).contains(&parties) || streams.iter().any(|s| s.parties.is_empty()) {
            return Err(ConfigError::new(
                "capture.parties",
                "one or two parties in all, at least one per device",
            )
            .into());
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if !(1.0..=100.0).contains(&ms(options.block))
            || !(1.0..=500.0).contains(&ms(options.buffer))
        {
            return Err(ConfigError::new(
                "capture.block/buffer",
                "the block must be 1-100 ms and the buffer 1-500 ms",
            )
            .into());
        }
        if ms(options.ring) < 4.0 * ms(options.buffer).max(ms(options.block))
            || ms(options.ring) > 60_000.0
        {
            return Err(ConfigError::new(
                "capture.ring",
                "the ring must hold at least 4 buffers and at most 60 s",
            )
            .into());
        }
        let mut inputs = Vec::new();
        let mut party_specs = Vec::new();
        for spec in &streams {
            let dev_err = |message: String| Error::Device {
                device: spec.label.clone(),
                message,
            };
            let default = spec
                .device
                .default_input_config()
                .map_err(|e| dev_err(format!("cannot record from it: {e}")))?;
            let mut config = default;
            // Without a rate asked for, record at the analysis rate when the device can (the
            // server or driver converts), so no resampler delay is added; else its default.
            let wanted = options.sample_rate.or_else(|| {
                spec.device
                    .supported_input_configs()
                    .ok()
                    .and_then(|mut r| {
                        r.find(|r| r.channels() == default.channels())
                            .and_then(|r| r.try_with_sample_rate(PREFERRED_RATE))
                            .map(|c| c.sample_rate())
                    })
            });
            if let Some(rate) = wanted {
                let ranges: Vec<_> = spec
                    .device
                    .supported_input_configs()
                    .map_err(|e| dev_err(format!("cannot list its configurations: {e}")))?
                    .collect();
                let found = ranges
                    .iter()
                    .filter(|r| r.channels() == default.channels())
                    .find_map(|r| r.try_with_sample_rate(rate))
                    .or_else(|| ranges.iter().find_map(|r| r.try_with_sample_rate(rate)));
                config = found.ok_or_else(|| {
                    dev_err(format!(
                        "it does not record at {rate} Hz (its default is {} Hz)",
                        default.sample_rate()
                    ))
                })?;
            }
            if !sample_format_ok(config.sample_format()) {
                return Err(dev_err(format!(
                    "its sample format {} is not supported",
                    config.sample_format()
                )));
            }
            let channels = config.channels();
            for &(role, ch) in &spec.parties {
                if ch >= channels {
                    return Err(dev_err(format!(
                        "channel {ch} ({role}) does not exist: the device records {channels} channel{}",
                        if channels == 1 { "" } else { "s" }
                    )));
                }
            }
            let rate = config.sample_rate();
            let frames =
                |d: Duration| ((d.as_secs_f64() * f64::from(rate)).round() as usize).max(1);
            let capacity = frames(options.ring);
            let block = frames(options.block);
            let map: Vec<usize> = spec.parties.iter().map(|&(_, c)| usize::from(c)).collect();
            let (writer, errors, reader) = ring::rings(&map, usize::from(channels), rate, capacity);
            let fixed = cpal::BufferSize::Fixed(frames(options.buffer) as u32);
            let fits = match config.buffer_size() {
                cpal::SupportedBufferSize::Range { min, max } => {
                    (*min..=*max).contains(&(frames(options.buffer) as u32))
                }
                cpal::SupportedBufferSize::Unknown => true,
            };
            let buffer = if fits {
                fixed
            } else {
                cpal::BufferSize::Default
            };
            let stream = build_stream(spec, &config, buffer, writer, errors)
                .map_err(|e| dev_err(format!("cannot open an input stream: {e}")))?;
            stream
                .play()
                .map_err(|e| dev_err(format!("cannot start the input stream: {e}")))?;
            tracing::info!(device = %spec.label, rate, channels, ?buffer, "capture started");
            let first = party_specs.len();
            for &(role, ch) in &spec.parties {
                party_specs.push(PartySpec {
                    role,
                    sample_rate: rate,
                    label: format!("{} channel {ch}", spec.label),
                });
            }
            let drift = if !inputs.is_empty() && spec.parties.len() == 1 {
                Some(DriftCorrector::new(rate, 2 * block)?)
            } else {
                None
            };
            let scratch_len = drift
                .as_ref()
                .map_or(block, |_| DriftCorrector::max_output(2 * block));
            inputs.push(Input {
                label: spec.label.clone(),
                rate,
                channels,
                parties: (first..party_specs.len()).collect(),
                reader,
                capacity,
                block,
                pos: 0,
                delivered: 0,
                mark: None,
                gap_left: 0,
                gaps: 0,
                ended: false,
                failed: None,
                drift,
                carry: 0.0,
                scratch: Vec::with_capacity(scratch_len),
                _stream: stream,
            });
        }
        let roles: Vec<Role> = party_specs.iter().map(|p| p.role).collect();
        if roles.len() == 2 && roles[0] == roles[1] {
            return Err(ConfigError::new(
                "capture.parties",
                "the two parties need different roles",
            )
            .into());
        }
        let limit_frames = options
            .duration
            .map(|d| (d.as_secs_f64() * f64::from(inputs[0].rate)).round() as u64);
        Ok(LiveSource {
            info: SourceInfo {
                parties: party_specs,
                duration_s: options.duration.map(|d| d.as_secs_f64()),
            },
            inputs,
            stop,
            limit_frames,
            stall_ns: options.stall_timeout.as_nanos() as u64,
            started_ns: mono_ns(),
            anchor: None,
            drift_setpoint: None,
            settling: (0.0, 0),
        })
    }

    /// Counters that can be read from another thread while the capture runs.
    pub fn monitor(&self) -> CaptureMonitor {
        CaptureMonitor {
            counters: self
                .inputs
                .iter()
                .map(|i| {
                    (
                        i.label.clone(),
                        i.capacity as u64,
                        Arc::clone(&i.reader.counters),
                    )
                })
                .collect(),
        }
    }

    /// What each stream did so far.
    pub fn reports(&self) -> Vec<CaptureReport> {
        self.inputs
            .iter()
            .map(|i| {
                let c = &i.reader.counters;
                CaptureReport {
                    device: i.label.clone(),
                    sample_rate: i.rate,
                    channels: i.channels,
                    callbacks: c.callbacks.load(Ordering::Relaxed),
                    frames: c.frames.load(Ordering::Relaxed),
                    frames_dropped: c.dropped_frames.load(Ordering::Relaxed),
                    gaps: i.gaps,
                    xruns: c.xruns.load(Ordering::Relaxed),
                    stream_errors: c.errors.load(Ordering::Relaxed),
                    ring_ms: round(i.capacity as f64 * 1000.0 / f64::from(i.rate), 1),
                    ring_fill_max_pct: round(fill_pct(c, i.capacity as u64), 1),
                    drift_ppm: i.drift.as_ref().map(|d| round(d.correction_ppm(), 1)),
                }
            })
            .collect()
    }

    /// Takes stream errors out of their rings: the end of a WAV device's input ends the
    /// stream; anything else fails it.
    fn poll_errors(&mut self) {
        for input in &mut self.inputs {
            while let Ok(e) = input.reader.errors.pop() {
                if super::wav_device::is_end_of_input(&e) {
                    input.ended = true;
                } else if e.kind() == cpal::ErrorKind::DeviceChanged {
                    tracing::warn!(device = %input.label, "the audio route changed; capture goes on");
                } else if input.failed.is_none() {
                    tracing::error!(device = %input.label, error = %e, "the input stream failed");
                    input.failed = Some(format!("{}: {e}", input.label));
                }
            }
        }
    }

    /// Fills this input's parties in `block` with its next frames, at most `limit` (and a
    /// block). Returns the frames given (0 when it has nothing).
    fn fill(input: &mut Input, block: &mut Block, limit: usize) -> usize {
        // A drift-corrected stream may need a little more than a block to keep up.
        let most = if input.drift.is_some() {
            2 * input.block
        } else {
            input.block
        };
        let n = limit.min(most);
        if n == 0 {
            return 0;
        }
        let per = input.parties.len();
        // Marks at or before the read position: the newest gives the capture time; a mark
        // announcing lost frames at exactly this position starts a gap.
        while let Ok(m) = input.reader.marks.peek().copied() {
            if m.start > input.pos {
                break;
            }
            let _ = input.reader.marks.pop();
            if m.lost > 0 {
                input.gap_left += m.lost;
                input.gaps += 1;
            }
            if m.glitch {
                for &p in &input.parties {
                    block.parties[p].gap = true;
                }
                input.gaps += 1;
            }
            input.mark = Some(m);
        }
        if input.gap_left > 0 {
            let zeros = input.gap_left.min(n as u64) as usize;
            for &p in &input.parties {
                let pb = &mut block.parties[p];
                pb.samples.resize(zeros, 0.0);
                pb.gap = true;
            }
            input.gap_left -= zeros as u64;
            input.delivered += zeros as u64;
            return zeros;
        }
        let available = input.reader.samples.slots() / per;
        // A mark for a chunk starting inside this block must not be skipped: read up to it.
        let to_mark = input
            .reader
            .marks
            .peek()
            .ok()
            .filter(|m| m.lost > 0)
            .map_or(u64::MAX, |m| m.start - input.pos);
        let take = n.min(available).min(to_mark.max(1) as usize);
        if take == 0 {
            return 0;
        }
        let Ok(chunk) = input.reader.samples.read_chunk(take * per) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        for (i, &s) in a.iter().chain(b).enumerate() {
            block.parties[input.parties[i % per]].samples.push(s);
        }
        chunk.commit_all();
        input.pos += take as u64;
        input.delivered += take as u64;
        take
    }
}

impl Source for LiveSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(&mut self, block: &mut Block) -> Result<bool, Error> {
        block.reset(self.info.parties.len());
        loop {
            self.poll_errors();
            let stopping = self.stop.load(Ordering::Relaxed)
                || self
                    .limit_frames
                    .is_some_and(|limit| self.inputs[0].delivered >= limit);
            if stopping {
                return Ok(false);
            }
            // Whatever has arrived is analysed at once (up to a block): waiting for whole
            // blocks would add up to a block of latency.
            let ready = self
                .inputs
                .iter()
                .all(|i| i.gap_left > 0 || i.reader.samples.slots() >= i.parties.len());
            let finished = self.inputs.iter().any(|i| {
                (i.ended || i.failed.is_some()) && i.reader.samples.slots() == 0 && i.gap_left == 0
            });
            if ready && !finished {
                break;
            }
            if finished {
                if let Some(message) = self.inputs.iter().find_map(|i| i.failed.clone()) {
                    return Err(Error::Stream { message });
                }
                return Ok(false);
            }
            let now = mono_ns();
            for input in &self.inputs {
                let last = input
                    .reader
                    .counters
                    .last_callback_ns
                    .load(Ordering::Relaxed);
                let since = now.saturating_sub(last.max(self.started_ns));
                if since > self.stall_ns {
                    return Err(Error::Stream {
                        message: format!(
                            "{}: no audio for {:.1} s (the device or the audio server stopped delivering)",
                            input.label,
                            since as f64 / 1e9
                        ),
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Fill every input; the drift-corrected one is resampled after its fill error is known.
        let reference_fill = {
            let i = &self.inputs[0];
            (i.reader.samples.slots() / i.parties.len()) as f64 / f64::from(i.rate)
        };
        let elapsed_s = self.inputs[0].delivered as f64 / f64::from(self.inputs[0].rate);
        let mut reference_s = 0.0;
        for (k, input) in self.inputs.iter_mut().enumerate() {
            let pos_before = input.pos;
            // The corrected stream gives as much input as the resampler turns into the
            // reference's span at the current ratio: its ring then fills or drains with the
            // ratio's error, which the loop below sees and corrects.
            let want = input
                .drift
                .as_ref()
                .map(|d| reference_s * f64::from(input.rate) / d.ratio() + input.carry);
            let limit = want.map_or(input.block, |w| w.max(0.0) as usize);
            let taken = Self::fill(input, block, limit);
            if k == 0 {
                reference_s = taken as f64 / f64::from(input.rate);
            }
            if let Some(want) = want {
                input.carry = (want - taken as f64).clamp(0.0, 2.0 * input.block as f64);
            }
            if let (Some(drift), [p]) = (&mut input.drift, input.parties.as_slice()) {
                let fill = input.reader.samples.slots() as f64 / f64::from(input.rate);
                let difference = fill - reference_fill;
                let error = match self.drift_setpoint {
                    Some(setpoint) => difference - setpoint,
                    None => {
                        // The second half of the settling time is averaged.
                        if elapsed_s >= DRIFT_SETTLE_S / 2.0 {
                            self.settling.0 += difference;
                            self.settling.1 += 1;
                        }
                        if elapsed_s >= DRIFT_SETTLE_S {
                            self.drift_setpoint =
                                Some(self.settling.0 / f64::from(self.settling.1));
                        }
                        0.0
                    }
                };
                let samples = &mut block.parties[*p].samples;
                input.scratch.clear();
                drift.process(samples, error, &mut input.scratch);
                samples.clear();
                samples.extend_from_slice(&input.scratch);
            }
            // The anchor: capture time of the newest real frame of the first input.
            if k == 0
                && input.pos > pos_before
                && let Some(m) = input.mark
            {
                let last = input.pos - 1;
                let offset = (last.saturating_sub(m.start)) as f64 * 1e9 / f64::from(input.rate);
                self.anchor = Some(CaptureAnchor {
                    t: input.delivered as f64 / f64::from(input.rate),
                    mono_ns: m.capture_ns + offset as u64,
                });
            }
        }
        for p in &mut block.parties {
            p.sanitize(1.0);
        }
        Ok(true)
    }

    fn capture_anchor(&self) -> Option<CaptureAnchor> {
        self.anchor
    }

    fn capture_reports(&self) -> Vec<CaptureReport> {
        self.reports()
    }
}
