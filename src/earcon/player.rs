//! Plays earcons on a `cpal` output device: [`EarconSink`], a [`Sink`] that turns alerts into
//! cues, and [`play_once`] for previews.
//!
//! The sink runs on its own thread (see [`crate::pipeline`]); it rate-limits alerts by wall
//! clock and pushes small `Copy` [`Cue`]s into an `rtrb` ring of [`RING`]. The output
//! callback, the only real-time code here, pops cues, renders them with [`Synth`], converts
//! to the device's sample format and bumps atomic counters: no allocation, lock, log, I/O or
//! blocking.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig};

use super::EarconConfig;
use super::pattern::{ALL_KINDS, Cue, Synth, passes, pattern};
use crate::alert::{AlertKind, Severity};
use crate::error::Error;
use crate::record::Record;
use crate::sink::Sink;

/// Capacity of the cue ring between the sink and the output callback.
pub const RING: usize = 16;

/// The longest [`Sink::finish`] waits for the pattern in progress (and the audio still in the
/// device's buffer) before it stops the stream.
pub const FINISH_WAIT: Duration = Duration::from_millis(1500);

/// How long opening a stream may take before it counts as failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`play_once`] waits for the stream's first callback on top of the pattern's own
/// length (a fresh PulseAudio null sink may take ~2 s).
const START_WAIT: Duration = Duration::from_secs(4);

#[derive(Debug, Default)]
struct Shared {
    played: AtomicU64,
    rate_limited: AtomicU64,
    dropped: AtomicU64,
    stream_errors: AtomicU64,
    callbacks: AtomicU64,
}

/// What an [`EarconSink`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EarconStats {
    /// Cues that finished playing (rendered to the end, trailing gap included).
    pub played: u64,
    /// Alerts not played because of [`EarconConfig::min_gap`] or
    /// [`EarconConfig::repeat_gap`].
    pub rate_limited: u64,
    /// Cues dropped because the ring to the output callback was full.
    pub dropped: u64,
    /// Errors reported by the audio backend while the stream ran (xruns, a lost server, ...).
    pub stream_errors: u64,
    /// Output callbacks so far (zero means the device never asked for audio).
    pub callbacks: u64,
}

/// Reads an [`EarconSink`]'s counters from any thread, also after the sink moved to its own
/// thread or was dropped.
#[derive(Debug, Clone)]
pub struct StatsHandle(Arc<Shared>);

impl StatsHandle {
    /// The counters now.
    pub fn get(&self) -> EarconStats {
        let s = &self.0;
        EarconStats {
            played: s.played.load(Ordering::Acquire),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            stream_errors: s.stream_errors.load(Ordering::Relaxed),
            callbacks: s.callbacks.load(Ordering::Relaxed),
        }
    }
}

/// Wall-clock rate limiting of cues: no two closer than `min_gap`, the same kind not within
/// `repeat_gap`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    min_gap: Duration,
    repeat_gap: Duration,
    last_any: Option<Instant>,
    last: [Option<Instant>; ALL_KINDS.len()],
}

impl RateLimiter {
    /// A limiter with the gaps of `config`.
    pub fn new(config: &EarconConfig) -> Self {
        Self {
            min_gap: config.min_gap,
            repeat_gap: config.repeat_gap,
            last_any: None,
            last: [None; ALL_KINDS.len()],
        }
    }

    /// Whether a cue of `kind` may play at `now`.
    pub fn allows(&self, kind: AlertKind, now: Instant) -> bool {
        let since = |t: Option<Instant>, gap: Duration| {
            t.is_none_or(|t| now.saturating_duration_since(t) >= gap)
        };
        since(self.last_any, self.min_gap) && since(self.last[kind.index()], self.repeat_gap)
    }

    /// Notes that a cue of `kind` was queued at `now`.
    pub fn note(&mut self, kind: AlertKind, now: Instant) {
        self.last_any = Some(now);
        self.last[kind.index()] = Some(now);
    }
}

/// What happened to one offered cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Queued for the output callback.
    Queued,
    /// Suppressed by the rate limits.
    RateLimited,
    /// The ring was full: dropped.
    Dropped,
}

/// The output callback's state: everything it touches, owned (nothing shared but atomics).
struct Callback {
    synth: Synth,
    cues: rtrb::Consumer<Cue>,
    shared: Arc<Shared>,
    done: u64,
}

impl Callback {
    /// Fills one output buffer. Real-time: no allocation, lock, log, I/O or blocking.
    fn fill<T: SizedSample + FromSample<f32>>(&mut self, data: &mut [T]) {
        let channels = self.synth.channels();
        for frame in data.chunks_mut(channels) {
            if self.synth.is_idle() {
                if let Ok(cue) = self.cues.pop() {
                    // The synthesiser is idle, so its queue has room.
                    let _ = self.synth.start(cue.kind, cue.severity);
                }
            }
            frame.fill(T::from_sample(self.synth.next_sample()));
        }
        let completed = self.synth.completed();
        if completed != self.done {
            self.shared
                .played
                .fetch_add(completed - self.done, Ordering::Release);
            self.done = completed;
        }
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
    }
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut state: Callback,
) -> Result<cpal::Stream, cpal::Error> {
    let errors = Arc::clone(&state.shared);
    device.build_output_stream(
        *config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| state.fill(data),
        move |_: cpal::Error| {
            errors.stream_errors.fetch_add(1, Ordering::Relaxed);
        },
        Some(OPEN_TIMEOUT),
    )
}

fn device_name(device: &cpal::Device) -> String {
    device.id().map_or_else(
        |_| {
            device
                .description()
                .map_or_else(|_| "?".to_string(), |d| d.name().to_string())
        },
        |id| id.to_string(),
    )
}

/// Plays alerts as earcons on an output device (see the [module docs](crate::earcon)).
///
/// Only [`Record::Alert`] records are played; everything else is ignored. Alerts are
/// rate-limited by [`EarconConfig::min_gap`] and [`EarconConfig::repeat_gap`] on the sink's
/// thread; the output callback only renders.
///
/// # Examples
/// ```no_run
/// use callpulse::capture::device::{Direction, find, host};
/// use callpulse::earcon::{EarconConfig, EarconSink};
///
/// # fn main() -> Result<(), callpulse::Error> {
/// let headset = find(&host(None)?, Some("headset"), Direction::Output)?;
/// let sink = EarconSink::open(&headset, EarconConfig::default())?;
/// let stats = sink.stats_handle();
/// // ... hand `sink` to a pipeline (`Pipeline::sink`), run the call ...
/// eprintln!("earcons played: {}", stats.get().played);
/// # Ok(())
/// # }
/// ```
pub struct EarconSink {
    stream: Option<cpal::Stream>,
    cues: rtrb::Producer<Cue>,
    shared: Arc<Shared>,
    limiter: RateLimiter,
    pushed: u64,
    rate: u32,
    channels: u16,
    buffer_frames: Option<u32>,
}

impl EarconSink {
    /// Opens and starts an output stream on `device` with its default output configuration
    /// (any common sample format), asking for 10 ms buffers and falling back to the device's
    /// default buffer size when refused.
    ///
    /// # Errors
    /// [`Error::Config`] when `config` is invalid (the field is named); [`Error::Device`] when
    /// the device has no output configuration, an unsupported sample format, or refuses to
    /// open or start the stream.
    pub fn open(device: &cpal::Device, config: EarconConfig) -> Result<EarconSink, Error> {
        config.validate()?;
        let name = device_name(device);
        let device_error = |message: String| Error::Device {
            device: name.clone(),
            message,
        };
        let supported = device
            .default_output_config()
            .map_err(|e| device_error(format!("no output configuration: {e}")))?;
        let format = supported.sample_format();
        let mut stream_config = supported.config();
        let rate = stream_config.sample_rate;
        let channels = stream_config.channels;
        let synth = Synth::new(rate, channels, config.level_dbfs)?;
        let shared = Arc::new(Shared::default());
        let fixed = (rate / 100).max(1);
        let mut attempt = |buffer: BufferSize| {
            stream_config.buffer_size = buffer;
            let (producer, consumer) = rtrb::RingBuffer::new(RING);
            let state = Callback {
                synth: synth.clone(),
                cues: consumer,
                shared: Arc::clone(&shared),
                done: 0,
            };
            let stream = match format {
                SampleFormat::I8 => build::<i8>(device, &stream_config, state),
                SampleFormat::I16 => build::<i16>(device, &stream_config, state),
                SampleFormat::I24 => build::<cpal::I24>(device, &stream_config, state),
                SampleFormat::I32 => build::<i32>(device, &stream_config, state),
                SampleFormat::I64 => build::<i64>(device, &stream_config, state),
                SampleFormat::U8 => build::<u8>(device, &stream_config, state),
                SampleFormat::U16 => build::<u16>(device, &stream_config, state),
                SampleFormat::U32 => build::<u32>(device, &stream_config, state),
                SampleFormat::U64 => build::<u64>(device, &stream_config, state),
                SampleFormat::F32 => build::<f32>(device, &stream_config, state),
                SampleFormat::F64 => build::<f64>(device, &stream_config, state),
                other => {
                    return Err(Err(format!(
                        "its output sample format {other} is not supported"
                    )));
                }
            };
            stream.map(|s| (s, producer)).map_err(Ok)
        };
        let (stream, producer, buffer_frames) = match attempt(BufferSize::Fixed(fixed)) {
            Ok((s, p)) => (s, p, Some(fixed)),
            Err(Err(message)) => return Err(device_error(message)),
            Err(Ok(first)) => match attempt(BufferSize::Default) {
                Ok((s, p)) => {
                    let frames = s.buffer_size().ok();
                    (s, p, frames)
                }
                Err(Err(message)) => return Err(device_error(message)),
                Err(Ok(e)) => {
                    return Err(device_error(format!(
                        "cannot open an output stream ({format}, {rate} Hz, {channels} channels): {e} (with {fixed}-frame buffers: {first})"
                    )));
                }
            },
        };
        stream
            .play()
            .map_err(|e| device_error(format!("cannot start the output stream: {e}")))?;
        Ok(EarconSink {
            stream: Some(stream),
            cues: producer,
            shared,
            limiter: RateLimiter::new(&config),
            pushed: 0,
            rate,
            channels,
            buffer_frames,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> EarconStats {
        self.stats_handle().get()
    }

    /// A handle that reads the counters from any thread, for as long as it lives.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(Arc::clone(&self.shared))
    }

    /// The stream's sample rate (Hz) and channel count.
    pub fn format(&self) -> (u32, u16) {
        (self.rate, self.channels)
    }

    /// Offers a cue at `now`: rate-limited, then queued for the output callback.
    pub fn offer(&mut self, cue: Cue, now: Instant) -> Outcome {
        if !self.limiter.allows(cue.kind, now) {
            self.shared.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Outcome::RateLimited;
        }
        match self.push(cue) {
            Outcome::Queued => {
                self.limiter.note(cue.kind, now);
                Outcome::Queued
            }
            other => other,
        }
    }

    /// Queues the earcon of `kind` at `severity` without rate limiting (previews, tests).
    /// Returns [`Outcome::Dropped`] when the ring is full.
    pub fn play(&mut self, kind: AlertKind, severity: Severity) -> Outcome {
        self.push(Cue { kind, severity })
    }

    fn push(&mut self, cue: Cue) -> Outcome {
        if self.stream.is_none() || self.cues.push(cue).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Outcome::Dropped;
        }
        self.pushed += 1;
        Outcome::Queued
    }

    /// Waits until every queued cue has played, at most `timeout`. Returns whether they all
    /// did. The audio may still be in the device's buffer for a few tens of milliseconds.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now() + timeout)
    }

    fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            if self.shared.played.load(Ordering::Acquire) >= self.pushed {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// How long audio rendered by the callback may take to leave the device's buffer.
    fn tail(&self) -> Duration {
        let frames = self.buffer_frames.unwrap_or(self.rate / 10);
        let buffers = Duration::from_secs_f64(2.0 * f64::from(frames) / f64::from(self.rate));
        (buffers + Duration::from_millis(50)).min(Duration::from_millis(400))
    }

    fn stop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // A stream that cannot pause is stopped by dropping it.
            let _ = stream.pause();
        }
    }
}

impl Sink for EarconSink {
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        if let Record::Alert(a) = record {
            self.offer(
                Cue {
                    kind: a.kind,
                    severity: a.severity,
                },
                Instant::now(),
            );
        }
        Ok(())
    }

    /// Waits (at most [`FINISH_WAIT`]) until the pattern in progress has played, then stops
    /// the stream. Cues still queued after that are not played.
    fn finish(&mut self) -> Result<(), Error> {
        if self.stream.is_none() {
            return Ok(());
        }
        let start = Instant::now();
        let deadline = start + FINISH_WAIT;
        if self.pushed > 0 {
            let tail = self.tail();
            self.wait_until(deadline - tail);
            std::thread::sleep(tail.min(deadline.saturating_duration_since(Instant::now())));
        }
        self.stop();
        Ok(())
    }
}

impl Drop for EarconSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Plays the earcon of `kind` at `severity` once on `device` and returns after it has played
/// (no rate limits apply). Opens and closes its own stream.
///
/// # Errors
/// As [`EarconSink::open`]; [`Error::Stream`] when the device did not play the pattern in
/// time (it never asked for audio, or the stream failed).
pub fn play_once(
    device: &cpal::Device,
    config: EarconConfig,
    kind: AlertKind,
    severity: Severity,
) -> Result<(), Error> {
    let mut sink = EarconSink::open(device, config)?;
    sink.play(kind, severity);
    let length = Duration::from_millis(u64::from(pattern(kind).duration_ms() * passes(severity)));
    let played = sink.wait_idle(length + START_WAIT);
    std::thread::sleep(sink.tail());
    sink.stop();
    if played {
        return Ok(());
    }
    let stats = sink.stats();
    Err(Error::Stream {
        message: format!(
            "the earcon did not play within {:?} ({} callbacks, {} stream errors)",
            length + START_WAIT,
            stats.callbacks,
            stats.stream_errors
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_apply_by_wall_clock() {
        let config = EarconConfig::default();
        let mut l = RateLimiter::new(&config);
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        assert!(l.allows(AlertKind::DeadAir, t0));
        l.note(AlertKind::DeadAir, t0);
        // Any kind: not within min_gap.
        assert!(!l.allows(AlertKind::AgentPaceFast, at(2.9)));
        assert!(l.allows(AlertKind::AgentPaceFast, at(3.0)));
        // The same kind: not within repeat_gap.
        assert!(!l.allows(AlertKind::DeadAir, at(3.0)));
        assert!(!l.allows(AlertKind::DeadAir, at(19.9)));
        assert!(l.allows(AlertKind::DeadAir, at(20.0)));
        l.note(AlertKind::AgentPaceFast, at(5.0));
        assert!(
            !l.allows(AlertKind::DeadAir, at(7.0)),
            "min_gap after the newer cue"
        );
        assert!(l.allows(AlertKind::DeadAir, at(20.0)));
        // A clock that went backwards never panics and counts as no time passed.
        assert!(!l.allows(AlertKind::AgentMonologue, t0));
    }

    #[test]
    fn zero_gaps_allow_everything() {
        let config = EarconConfig {
            min_gap: Duration::ZERO,
            repeat_gap: Duration::ZERO,
            ..EarconConfig::default()
        };
        let mut l = RateLimiter::new(&config);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.allows(AlertKind::DeadAir, t0));
            l.note(AlertKind::DeadAir, t0);
        }
    }
}
