//! The tone patterns, one per [`AlertKind`], and [`Synth`], the allocation-free synthesiser
//! that renders them into an output buffer.
//!
//! A pattern is 1–4 sine tones, each followed by a gap (the last gap separates the pattern from
//! whatever plays next). Every tone has raised-cosine attack and release ramps of
//! [`RAMP_MS`] so it starts and ends at zero: no clicks. The table of patterns is in the
//! [module docs](crate::earcon).

use crate::alert::{AlertKind, Severity};
use crate::error::ConfigError;

/// Length of each tone's raised-cosine attack and of its release, in milliseconds.
pub const RAMP_MS: u32 = 9;

/// How many cues [`Synth::start`] holds while a pattern is playing.
pub const QUEUE: usize = 4;

/// How often a pattern plays for each severity: [`Severity::Critical`] plays it twice.
pub fn passes(severity: Severity) -> u32 {
    match severity {
        Severity::Warn => 1,
        Severity::Critical => 2,
    }
}

/// One sine tone of a pattern, followed by silence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    /// Frequency in Hz (400–1600).
    pub hz: f32,
    /// How long the tone sounds, ramps included, in milliseconds.
    pub on_ms: u32,
    /// The silence after it, in milliseconds.
    pub gap_ms: u32,
}

const fn tone(hz: f32, on_ms: u32, gap_ms: u32) -> Tone {
    Tone { hz, on_ms, gap_ms }
}

/// The tone pattern of one alert kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pattern {
    /// The tones in playing order (1–4).
    pub tones: &'static [Tone],
    /// What the agent should hear in it.
    pub meaning: &'static str,
}

impl Pattern {
    /// The pattern's length (tones and gaps, the trailing gap included), in milliseconds.
    pub fn duration_ms(&self) -> u32 {
        self.tones.iter().map(|t| t.on_ms + t.gap_ms).sum()
    }
}

const INTERRUPTING: [Tone; 2] = [tone(988.0, 130, 40), tone(659.0, 170, 120)];
const MONOLOGUE: [Tone; 1] = [tone(587.0, 380, 120)];
const DEAD_AIR: [Tone; 2] = [tone(494.0, 150, 110), tone(740.0, 150, 120)];
const AGITATION: [Tone; 3] = [
    tone(523.0, 110, 30),
    tone(659.0, 110, 30),
    tone(784.0, 160, 120),
];
const LOUDNESS: [Tone; 2] = [tone(415.0, 120, 80), tone(415.0, 120, 120)];
const PACE: [Tone; 3] = [
    tone(1319.0, 50, 40),
    tone(1319.0, 50, 40),
    tone(1319.0, 50, 120),
];

/// Every alert kind, in the order `callpulse earcons --kind all` plays them.
pub const ALL_KINDS: [AlertKind; 6] = AlertKind::ALL;

/// The earcon of `kind`.
pub fn pattern(kind: AlertKind) -> Pattern {
    match kind {
        AlertKind::AgentInterrupting => Pattern {
            tones: &INTERRUPTING,
            meaning: "falling pair: step back, let the caller finish",
        },
        AlertKind::AgentMonologue => Pattern {
            tones: &MONOLOGUE,
            meaning: "one long steady tone: you have held the floor a long time, hand it over",
        },
        AlertKind::DeadAir => Pattern {
            tones: &DEAD_AIR,
            meaning: "slow rising pair, a question: say something",
        },
        AlertKind::CallerAgitationRising => Pattern {
            tones: &AGITATION,
            meaning: "rising major triad: the caller is getting upset, soften",
        },
        AlertKind::AgentLoudnessRising => Pattern {
            tones: &LOUDNESS,
            meaning: "low repeated tone: lower your voice",
        },
        AlertKind::AgentPaceFast => Pattern {
            tones: &PACE,
            meaning: "quick high triple: slow down",
        },
    }
}

/// A request to play the earcon of `kind` at `severity`. Small and `Copy`, so it crosses the
/// real-time boundary through a ring without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cue {
    /// Which pattern.
    pub kind: AlertKind,
    /// How urgent: [`Severity::Critical`] plays the pattern twice, never louder.
    pub severity: Severity,
}

/// The lowest allowed [`Synth`] level, in dBFS.
pub const LEVEL_MIN_DBFS: f32 = -60.0;
/// The highest allowed [`Synth`] level, in dBFS.
pub const LEVEL_MAX_DBFS: f32 = -6.0;

/// Checks a peak level in dBFS (finite, [`LEVEL_MIN_DBFS`]`..=`[`LEVEL_MAX_DBFS`]).
///
/// # Errors
/// [`ConfigError`] naming `earcon.level_dbfs`.
pub fn validate_level(level_dbfs: f32) -> Result<(), ConfigError> {
    if !level_dbfs.is_finite() || !(LEVEL_MIN_DBFS..=LEVEL_MAX_DBFS).contains(&level_dbfs) {
        return Err(ConfigError::new(
            "earcon.level_dbfs",
            format!(
                "{level_dbfs} dBFS is outside {LEVEL_MIN_DBFS}..={LEVEL_MAX_DBFS} dBFS (a headset cue must be quiet but audible)"
            ),
        ));
    }
    Ok(())
}

/// Where the synthesiser is within a cue.
#[derive(Debug, Clone, Copy)]
struct Playing {
    cue: Cue,
    tones: &'static [Tone],
    /// Passes still to play after this one.
    passes_left: u32,
    /// The current tone's index.
    tone: usize,
    /// Sample position within the current tone (gap included).
    pos: u32,
    /// The current tone's length and its gap's, in samples.
    on: u32,
    total: u32,
    /// Ramp length for the current tone, in samples.
    ramp: u32,
    /// Phase increment per sample, in cycles.
    inc: f32,
}

/// Renders earcon patterns into interleaved output buffers.
///
/// # Real-time guarantees
/// [`Synth::new`] is the only method that may allocate (it does not, today: the patterns are
/// static). [`Synth::start`], [`Synth::next_sample`] and [`Synth::render`] never allocate,
/// lock, log, do I/O or block: they are safe in an audio callback. Pending cues wait in a
/// fixed queue of [`QUEUE`]; a pattern in progress always finishes before the next starts.
/// The output never exceeds the configured peak level: the oscillator amplitude is the level
/// and every sample is clamped to it.
///
/// # Examples
/// ```
/// use callpulse::alert::{AlertKind, Severity};
/// use callpulse::earcon::Synth;
///
/// let mut synth = Synth::new(48_000, 2, -20.0)?;
/// synth.start(AlertKind::DeadAir, Severity::Warn).expect("the queue has room");
/// let mut out = [0.0f32; 960]; // 10 ms, stereo
/// synth.render(&mut out);
/// assert!(out.iter().all(|s| s.abs() <= synth.peak()));
/// # Ok::<(), callpulse::error::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Synth {
    rate: u32,
    channels: usize,
    amp: f32,
    phase: f32,
    playing: Option<Playing>,
    queue: [Option<Cue>; QUEUE],
    queue_head: usize,
    queue_len: usize,
    completed: u64,
}

impl Synth {
    /// A synthesiser for `sample_rate` Hz and `channels` interleaved channels whose peak is
    /// `level_dbfs`.
    ///
    /// # Errors
    /// [`ConfigError`] naming `earcon.level_dbfs` (outside −60..=−6), `earcon.sample_rate`
    /// (outside 8000..=384000) or `earcon.channels` (0 or above 64).
    pub fn new(sample_rate: u32, channels: u16, level_dbfs: f32) -> Result<Self, ConfigError> {
        validate_level(level_dbfs)?;
        if !(8_000..=384_000).contains(&sample_rate) {
            return Err(ConfigError::new(
                "earcon.sample_rate",
                format!("{sample_rate} Hz is outside 8000..=384000 Hz"),
            ));
        }
        if !(1..=64).contains(&channels) {
            return Err(ConfigError::new(
                "earcon.channels",
                format!("{channels} channels is outside 1..=64"),
            ));
        }
        Ok(Self {
            rate: sample_rate,
            channels: usize::from(channels),
            amp: 10f32.powf(level_dbfs / 20.0),
            phase: 0.0,
            playing: None,
            queue: [None; QUEUE],
            queue_head: 0,
            queue_len: 0,
            completed: 0,
        })
    }

    /// The peak amplitude (linear, full scale 1.0) that no output sample exceeds.
    pub fn peak(&self) -> f32 {
        self.amp
    }

    /// The number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Whether nothing is playing or queued.
    pub fn is_idle(&self) -> bool {
        self.playing.is_none() && self.queue_len == 0
    }

    /// How many cues have finished playing since construction.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Queues the earcon of `kind` at `severity`; it starts at once when nothing plays, else
    /// after the pattern in progress and any queued before it.
    ///
    /// # Errors
    /// The cue back when [`QUEUE`] cues are already waiting (nothing is overwritten).
    pub fn start(&mut self, kind: AlertKind, severity: Severity) -> Result<(), Cue> {
        let cue = Cue { kind, severity };
        if self.playing.is_none() && self.queue_len == 0 {
            self.begin(cue);
            return Ok(());
        }
        if self.queue_len == QUEUE {
            return Err(cue);
        }
        self.queue[(self.queue_head + self.queue_len) % QUEUE] = Some(cue);
        self.queue_len += 1;
        Ok(())
    }

    fn samples(&self, ms: u32) -> u32 {
        // Exact for every rate up to 384 kHz and every length up to ~11 s.
        ((u64::from(ms) * u64::from(self.rate) + 500) / 1000) as u32
    }

    fn begin(&mut self, cue: Cue) {
        let tones = pattern(cue.kind).tones;
        let mut p = Playing {
            cue,
            tones,
            passes_left: passes(cue.severity) - 1,
            tone: 0,
            pos: 0,
            on: 0,
            total: 0,
            ramp: 0,
            inc: 0.0,
        };
        self.load_tone(&mut p);
        self.playing = Some(p);
    }

    fn load_tone(&self, p: &mut Playing) {
        let t = p.tones[p.tone];
        p.pos = 0;
        p.on = self.samples(t.on_ms).max(2);
        p.total = p.on + self.samples(t.gap_ms);
        p.ramp = self.samples(RAMP_MS).clamp(1, p.on / 2);
        p.inc = t.hz / self.rate as f32;
    }

    fn pop_queue(&mut self) -> Option<Cue> {
        if self.queue_len == 0 {
            return None;
        }
        let cue = self.queue[self.queue_head].take();
        self.queue_head = (self.queue_head + 1) % QUEUE;
        self.queue_len -= 1;
        cue
    }

    /// The next mono sample (advances by one frame). Zero when idle.
    #[inline]
    pub fn next_sample(&mut self) -> f32 {
        let Some(mut p) = self.playing else {
            return 0.0;
        };
        let value = if p.pos < p.on {
            // Raised-cosine edges: zero at the first and last sample of the tone.
            let k = p.pos.min(p.on - 1 - p.pos);
            let env = if k < p.ramp {
                0.5 - 0.5 * (std::f32::consts::PI * k as f32 / p.ramp as f32).cos()
            } else {
                1.0
            };
            let s = (std::f32::consts::TAU * self.phase).sin();
            self.phase += p.inc;
            if self.phase >= 1.0 {
                self.phase -= 1.0;
            }
            (self.amp * env * s).clamp(-self.amp, self.amp)
        } else {
            0.0
        };
        p.pos += 1;
        if p.pos >= p.total {
            if p.tone + 1 < p.tones.len() {
                p.tone += 1;
                self.load_tone(&mut p);
            } else if p.passes_left > 0 {
                p.passes_left -= 1;
                p.tone = 0;
                self.load_tone(&mut p);
            } else {
                self.completed += 1;
                self.playing = None;
                if let Some(next) = self.pop_queue() {
                    self.begin(next);
                }
                return value;
            }
        }
        self.playing = Some(p);
        value
    }

    /// Writes interleaved frames into `out` (the same signal on every channel; zeros when
    /// idle). A trailing partial frame is zeroed.
    pub fn render(&mut self, out: &mut [f32]) {
        let mut frames = out.chunks_exact_mut(self.channels);
        for frame in &mut frames {
            let v = self.next_sample();
            frame.fill(v);
        }
        frames.into_remainder().fill(0.0);
    }

    /// The cue playing now, if any.
    pub fn current(&self) -> Option<Cue> {
        self.playing.map(|p| p.cue)
    }
}

/// The Goertzel power of `x` at `hz` for sample rate `rate` (test and analysis helper; no
/// allocation).
pub fn goertzel_power(x: &[f32], rate: f32, hz: f32) -> f64 {
    let w = std::f64::consts::TAU * f64::from(hz) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The frequency with the most Goertzel power in `lo..=hi` Hz, searched in 1 Hz steps and
/// then refined to 0.05 Hz (analysis helper for tests).
pub fn peak_frequency(x: &[f32], rate: f32, lo: f32, hi: f32) -> f32 {
    let mut best = (lo, f64::MIN);
    let mut f = lo;
    while f <= hi {
        let p = goertzel_power(x, rate, f);
        if p > best.1 {
            best = (f, p);
        }
        f += 1.0;
    }
    let centre = best.0;
    let mut f = centre - 1.0;
    while f <= centre + 1.0 {
        let p = goertzel_power(x, rate, f);
        if p > best.1 {
            best = (f, p);
        }
        f += 0.05;
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn render_cue(kind: AlertKind, severity: Severity, channels: u16) -> (Synth, Vec<f32>) {
        let mut s = Synth::new(RATE, channels, -20.0).unwrap();
        s.start(kind, severity).unwrap();
        let mut out = vec![0.0; RATE as usize * 2 * usize::from(channels)];
        s.render(&mut out);
        (s, out)
    }

    fn mono(kind: AlertKind, severity: Severity) -> Vec<f32> {
        render_cue(kind, severity, 1).1
    }

    fn ms(x: u32) -> usize {
        (x as usize * RATE as usize + 500) / 1000
    }

    #[test]
    fn patterns_are_within_limits() {
        for kind in ALL_KINDS {
            let p = pattern(kind);
            assert!((1..=4).contains(&p.tones.len()), "{kind:?}");
            assert!(p.duration_ms() <= 600, "{kind:?}: {} ms", p.duration_ms());
            for t in p.tones {
                assert!((400.0..=1600.0).contains(&t.hz), "{kind:?}: {} Hz", t.hz);
                assert!(t.on_ms >= 2 * RAMP_MS + 20, "{kind:?}: tone too short");
            }
            assert_eq!(AlertKind::from_name(kind.name()), Some(kind));
            assert_eq!(ALL_KINDS[kind.index()], kind);
        }
        assert_eq!(AlertKind::from_name("all"), None);
    }

    #[test]
    fn patterns_are_pairwise_distinct() {
        for (i, a) in ALL_KINDS.iter().enumerate() {
            for b in &ALL_KINDS[i + 1..] {
                let (pa, pb) = (pattern(*a), pattern(*b));
                assert_ne!(pa.tones, pb.tones, "{a:?} and {b:?}");
                // Distinct to the ear: another tone count, contour or pitch set.
                let key = |p: Pattern| {
                    p.tones
                        .iter()
                        .map(|t| (t.hz.round() as u32, t.on_ms / 20))
                        .collect::<Vec<_>>()
                };
                assert_ne!(key(pa), key(pb), "{a:?} and {b:?} sound alike");
            }
        }
    }

    #[test]
    fn tones_are_at_their_frequencies() {
        for kind in ALL_KINDS {
            let x = mono(kind, Severity::Warn);
            let mut at = 0;
            for t in pattern(kind).tones {
                let seg = &x[at..at + ms(t.on_ms)];
                let f = peak_frequency(seg, RATE as f32, 300.0, 1800.0);
                assert!(
                    (f - t.hz).abs() <= 0.01 * t.hz,
                    "{kind:?}: tone {} Hz measured at {f} Hz",
                    t.hz
                );
                // The gap is silent.
                assert!(
                    x[at + ms(t.on_ms)..at + ms(t.on_ms + t.gap_ms)]
                        .iter()
                        .all(|&v| v == 0.0)
                );
                at += ms(t.on_ms + t.gap_ms);
            }
            // Nothing after the pattern.
            assert!(x[at..].iter().all(|&v| v == 0.0), "{kind:?}");
        }
    }

    #[test]
    fn peak_never_exceeds_the_cap() {
        for level in [-60.0f32, -20.0, -6.0] {
            let cap = 10f32.powf(level / 20.0);
            for kind in ALL_KINDS {
                for severity in [Severity::Warn, Severity::Critical] {
                    let mut s = Synth::new(44_100, 2, level).unwrap();
                    assert_eq!(s.peak(), cap);
                    s.start(kind, severity).unwrap();
                    let mut out = vec![0.0; 44_100 * 2 * 2];
                    s.render(&mut out);
                    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    assert!(
                        peak <= cap,
                        "{kind:?} {severity:?} at {level}: {peak} > {cap}"
                    );
                    // And reaches it (within 0.1 dB): the level means what it says.
                    assert!(peak >= cap * 0.989, "{kind:?}: {peak} vs {cap}");
                }
            }
        }
    }

    #[test]
    fn envelope_starts_and_ends_at_zero() {
        for kind in ALL_KINDS {
            let x = mono(kind, Severity::Warn);
            let cap = 10f32.powf(-20.0 / 20.0);
            let mut at = 0;
            for t in pattern(kind).tones {
                let on = ms(t.on_ms);
                assert_eq!(x[at], 0.0, "{kind:?}: first sample");
                assert!(x[at + on - 1].abs() < 1e-6, "{kind:?}: last sample");
                // The ramps rise smoothly: no sample-to-sample jump above what a sine at full
                // level can do (a click would).
                let max_step = std::f32::consts::TAU * t.hz / RATE as f32 * cap * 1.05;
                for w in x[at..at + on + 1].windows(2) {
                    assert!((w[1] - w[0]).abs() <= max_step, "{kind:?}: jump");
                }
                // 1 ms in, the envelope is still well below full level.
                let early = x[at..at + ms(1)].iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(early < 0.1 * cap, "{kind:?}: attack too fast ({early})");
                at += ms(t.on_ms + t.gap_ms);
            }
        }
    }

    #[test]
    fn all_channels_carry_the_same_signal() {
        let (_, x) = render_cue(AlertKind::AgentPaceFast, Severity::Warn, 2);
        for f in x.chunks_exact(2) {
            assert_eq!(f[0], f[1]);
        }
        assert!(x.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn critical_plays_twice_never_louder() {
        for kind in ALL_KINDS {
            let warn = mono(kind, Severity::Warn);
            let crit = mono(kind, Severity::Critical);
            let len = ms(pattern(kind).duration_ms());
            assert_eq!(&crit[..len], &warn[..len], "{kind:?} first pass");
            let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
            let e1 = energy(&crit[..len]);
            let e2 = energy(&crit[len..2 * len]);
            assert!(
                (e2 / e1 - 1.0).abs() < 0.01,
                "{kind:?}: second pass {e2} vs {e1}"
            );
            assert!(crit[2 * len..].iter().all(|&v| v == 0.0));
            let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak(&crit) <= peak(&warn) + 1e-7);
        }
    }

    #[test]
    fn a_pattern_finishes_before_the_next_starts() {
        let mut s = Synth::new(RATE, 1, -20.0).unwrap();
        s.start(AlertKind::AgentPaceFast, Severity::Warn).unwrap();
        for _ in 0..QUEUE {
            s.start(AlertKind::DeadAir, Severity::Warn).unwrap();
        }
        assert_eq!(
            s.start(AlertKind::DeadAir, Severity::Warn),
            Err(Cue {
                kind: AlertKind::DeadAir,
                severity: Severity::Warn
            })
        );
        let first = ms(pattern(AlertKind::AgentPaceFast).duration_ms());
        let mut x = vec![0.0; first];
        s.render(&mut x);
        assert_eq!(s.completed(), 1);
        assert_eq!(
            s.current().map(|c| c.kind),
            Some(AlertKind::DeadAir),
            "the next cue starts right after the first"
        );
        // The first rendered exactly as alone.
        let alone = mono(AlertKind::AgentPaceFast, Severity::Warn);
        assert_eq!(&x[..], &alone[..first]);
        let mut rest = vec![0.0; RATE as usize * 3];
        s.render(&mut rest);
        assert_eq!(s.completed(), 1 + QUEUE as u64);
        assert!(s.is_idle());
    }

    #[test]
    fn validation_names_the_field() {
        for bad in [-61.0f32, -5.0, 0.0, f32::NAN, f32::INFINITY] {
            let e = Synth::new(RATE, 2, bad).unwrap_err();
            assert_eq!(e.field, "earcon.level_dbfs", "{bad}");
        }
        assert!(Synth::new(RATE, 2, -60.0).is_ok());
        assert!(Synth::new(RATE, 2, -6.0).is_ok());
        assert_eq!(
            Synth::new(1000, 2, -20.0).unwrap_err().field,
            "earcon.sample_rate"
        );
        assert_eq!(
            Synth::new(RATE, 0, -20.0).unwrap_err().field,
            "earcon.channels"
        );
    }

    #[test]
    fn idle_output_is_silence_and_partial_frames_are_zeroed() {
        let mut s = Synth::new(8_000, 2, -20.0).unwrap();
        let mut out = [1.0f32; 7];
        s.render(&mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        assert!(s.is_idle());
    }
}
