//! Fundamental frequency (F0) and voicing per frame.
//!
//! A McLeod Pitch Method (MPM) tracker: P. McLeod and G. Wyvill, "A smarter way to find pitch",
//! Proc. ICMC 2005. The normalised square difference function (NSDF)
//! `n(τ) = 2·r(τ) / m(τ)`, where `r` is the autocorrelation (from the shared FFT, see
//! [`Spectrum::autocorrelation`]) and `m(τ) = Σ x[j]² + x[j+τ]²`, is computed for lags in the
//! configured F0 range; the first "key maximum" within a fraction of the highest one is the
//! period, refined by parabolic interpolation. Its height is the frame's clarity (voicing
//! strength). Picking the first key maximum, rather than the highest, protects against
//! sub-octave errors. The NSDF works on the periodicity in the harmonics, so it still finds the
//! period of telephone speech whose fundamental is filtered out.
//!
//! Refinements that look back at the previous frame only:
//! * **Continuity guard**: when MPM's pick does not continue the previous voiced frame's
//!   period (within 18 %) and a key maximum at least as high does, that one is taken: among
//!   maxima of nearly equal height a continuing track is likelier than a jump (mostly the
//!   octave jump of telephone speech, whose fundamental is missing).
//! * **Voicing hysteresis**: a stretch turns voiced at `voicing_threshold` and stays voiced
//!   down to `continue_threshold` while F0 moves less than 18 % per frame.
//! * **Level gate**: frames more than `level_gate_db` below the recent peak level (decaying
//!   5 dB/s) are unvoiced; weak voicing tails and hum carry little reliable pitch.
//!
//! The thresholds apply to a **voicing score**, not to the clarity alone:
//! * plus `level_weight` × the frame's level relative to that recent peak, mapped linearly
//!   onto [−1, 1] over `level_reference_db` ± 10 dB. A frame near the talker's peak level
//!   turns voiced at a lower clarity than a weak one: onsets of a low male voice, and telephone
//!   speech without its fundamental, are loud but less clear, while weak frames of middling
//!   clarity are mostly breath, fricatives and decaying tails;
//! * minus up to `centre_weight` when the frame's hop (the centre of its window) is more than
//!   3 dB weaker than the whole window: the periodicity then lies in the edges of the window,
//!   in voicing that starts after the frame or ended before it.
//!
//! **Bounded look-ahead** (`lookahead_frames`, default 2 = 20 ms at a 10 ms hop): a frame is
//! decided once the next frames are in. A frame that continuous, clear-enough frames join to
//! one clear enough to start voicing is an onset and needs only `continue_threshold`; at an
//! onset the continuity guard takes the next frame's period when there is no previous one.
//! [`PitchTracker::process`] then returns the estimate of an earlier frame, so each estimate
//! belongs to the frame it was computed for and the latency is stated:
//! [`PitchTracker::latency_frames`]. With `lookahead_frames` = 0 the tracker is causal.
//!
//! All buffers are allocated in [`PitchTracker::new`]; [`PitchTracker::process`] does not
//! allocate.

use serde::Deserialize;

use super::spectrum::Spectrum;
use crate::config::{FrameGeometry, in_range};
use crate::error::ConfigError;

/// Pitch tracker settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PitchConfig {
    /// Lowest F0 searched, in Hz (default 60).
    pub min_hz: f32,
    /// Highest F0 searched, in Hz (default 500).
    pub max_hz: f32,
    /// NSDF clarity from which an unvoiced stretch turns voiced (default 0.7).
    pub voicing_threshold: f32,
    /// Lower clarity that keeps a voiced stretch voiced while F0 stays continuous (default
    /// 0.45): hysteresis, so voicing neither flickers nor ends early in weak endings.
    pub continue_threshold: f32,
    /// Frames more than this many dB below the recent peak level are unvoiced (default 25;
    /// 0 disables): the weak tails of voicing and low hum carry little reliable pitch.
    pub level_gate_db: f32,
    /// Weight of the frame level in the voicing score (default 0.05; 0 disables): the
    /// thresholds apply to `clarity + level_weight · clamp((level − peak −
    /// level_reference_db) / 10 dB, −1, 1)`, where `level − peak` is the frame's level against
    /// the recent peak of the level gate.
    pub level_weight: f32,
    /// Level relative to the recent peak, in dB, at which the level term of the voicing score
    /// is zero (default −10).
    pub level_reference_db: f32,
    /// Frames after a frame that its decision may wait for (default 2, at most
    /// [`MAX_LOOKAHEAD_FRAMES`]; 0 makes the tracker causal): a frame that continuous,
    /// clear-enough frames join to a clearly voiced one starts voicing at
    /// `continue_threshold`. Adds this many hops of latency (see [`PitchTracker`]).
    pub lookahead_frames: u32,
    /// Penalty on the voicing score of a frame whose hop (the centre of its window) is much
    /// weaker than the whole window (default 0.3; 0 disables): none down to 3 dB below the
    /// window, the full weight from 9 dB below. Such a frame borrows its periodicity from
    /// voicing that starts later or ended earlier in the window (a 40 ms window reaches 15 ms
    /// beyond its hop on either side).
    pub centre_weight: f32,
}

impl Default for PitchConfig {
    fn default() -> Self {
        Self {
            min_hz: 60.0,
            max_hz: 500.0,
            voicing_threshold: 0.7,
            continue_threshold: 0.45,
            level_gate_db: 25.0,
            level_weight: 0.05,
            level_reference_db: -10.0,
            lookahead_frames: 2,
            centre_weight: 0.3,
        }
    }
}

impl PitchConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.min_hz.is_finite() && self.min_hz >= 30.0) {
            return Err(ConfigError::new("pitch.min_hz", "must be at least 30 Hz"));
        }
        if !(self.max_hz.is_finite() && self.max_hz > self.min_hz * 1.5) {
            return Err(ConfigError::new(
                "pitch.max_hz",
                "must be finite and at least 1.5 × pitch.min_hz",
            ));
        }
        in_range(
            "pitch.voicing_threshold",
            self.voicing_threshold,
            0.0,
            1.0,
            "",
        )?;
        in_range(
            "pitch.continue_threshold",
            self.continue_threshold,
            0.0,
            self.voicing_threshold,
            " (at most pitch.voicing_threshold)",
        )?;
        in_range("pitch.level_gate_db", self.level_gate_db, 0.0, 80.0, " dB")?;
        in_range("pitch.level_weight", self.level_weight, 0.0, 0.5, "")?;
        in_range("pitch.centre_weight", self.centre_weight, 0.0, 1.0, "")?;
        in_range(
            "pitch.level_reference_db",
            self.level_reference_db,
            -60.0,
            0.0,
            " dB",
        )?;
        if self.lookahead_frames > MAX_LOOKAHEAD_FRAMES {
            return Err(ConfigError::new(
                "pitch.lookahead_frames",
                format!(
                    "{} must be at most {MAX_LOOKAHEAD_FRAMES}",
                    self.lookahead_frames
                ),
            ));
        }
        Ok(())
    }
}

/// The pitch of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PitchEstimate {
    /// F0 in Hz, `None` when the frame is unvoiced.
    pub f0_hz: Option<f32>,
    /// Periodicity strength in [0, 1] (the NSDF peak), whether or not the frame is voiced.
    pub clarity: f32,
}

/// The analysis of one frame, kept until its voicing and period are decided.
#[derive(Debug, Clone, Copy)]
struct Analysis {
    /// Key maxima: (refined lag, refined height, raw height at the integer lag).
    peaks: [(f32, f32, f32); MAX_PEAKS],
    count: usize,
    /// Highest raw key maximum (0 when the frame is silent or has none).
    best: f32,
    /// Window level relative to the recent peak, in dB (≤ 0).
    relative_db: f32,
    /// Not more than `level_gate_db` below the recent peak.
    loud_enough: bool,
    /// Level of the frame's hop (the centre of the window) relative to the window, in dB.
    centre_db: f32,
    /// First frame after [`PitchTracker::reset`]: nothing before it continues into it.
    fresh: bool,
    /// MPM's pick ([`Analysis::pick`]), found once when the frame is analysed.
    first: Option<(f32, f32, f32)>,
    /// The voicing score at the pick's clarity (0 without a pick).
    first_score: f32,
}

impl Analysis {
    const EMPTY: Analysis = Analysis {
        peaks: [(0.0, 0.0, 0.0); MAX_PEAKS],
        count: 0,
        best: 0.0,
        relative_db: -120.0,
        loud_enough: false,
        centre_db: 0.0,
        fresh: false,
        first: None,
        first_score: 0.0,
    };

    fn peaks(&self) -> &[(f32, f32, f32)] {
        &self.peaks[..self.count]
    }

    /// MPM's rule: the first key maximum within `KEY_MAX_RATIO` of the highest (shortest
    /// period, so no sub-octave errors).
    fn pick(&self) -> Option<(f32, f32, f32)> {
        if self.best <= 0.0 {
            return None;
        }
        let threshold = KEY_MAX_RATIO * self.best;
        self.peaks().iter().find(|p| p.2 >= threshold).copied()
    }
}

/// Per-frame F0 tracker.
///
/// With `lookahead_frames` = D > 0, [`PitchTracker::process`] returns the estimate of the frame
/// D frames before the one just passed in (`None` for the first D frames), and
/// [`PitchTracker::flush`] returns the last D at the end of the stream: the caller keeps its own
/// per-frame values for D frames and joins them with the estimate that comes out (as
/// [`crate::features::FeatureExtractor`] does), so every frame keeps its own time and the
/// stage's latency grows by D hops.
#[derive(Debug)]
pub struct PitchTracker {
    config: PitchConfig,
    rate: f32,
    min_lag: usize,
    max_lag: usize,
    acf: Vec<f32>,
    nsdf: Vec<f32>,
    /// Frames analysed but not decided yet: a ring of `lookahead_frames + 1` slots.
    pending: Vec<Analysis>,
    /// Slot of the oldest pending frame.
    head: usize,
    /// Pending frames.
    len: usize,
    /// The next frame analysed starts a new stretch (after [`PitchTracker::reset`]).
    fresh: bool,
    /// Lag of the last decided frame's F0, when it was voiced.
    prev_lag: Option<f32>,
    /// Recent peak of the window level in dB, decaying by `peak_decay_db` per frame.
    peak_db: f32,
    peak_decay_db: f32,
    hop: usize,
}

/// Decay of the peak level that the level gate measures against, in dB per second.
const PEAK_DECAY_DB_PER_S: f32 = 5.0;

/// Level difference (dB) over which the level term of the voicing score goes from 0 to ±1.
const LEVEL_SPAN_DB: f32 = 10.0;

/// A hop up to this many dB below its window costs the voicing score nothing ...
const CENTRE_FREE_DB: f32 = 3.0;
/// ... and the full `centre_weight` this many dB further down.
const CENTRE_SPAN_DB: f32 = 6.0;

/// Longest look-ahead accepted by [`PitchConfig::validate`], in frames.
pub const MAX_LOOKAHEAD_FRAMES: u32 = 4;

/// Key maxima kept per frame (more than any lag range at 16 kHz holds in practice).
const MAX_PEAKS: usize = 48;
/// A key maximum within this ratio of the previous period continues the track.
const CONTINUITY_RATIO: f32 = 1.18;
/// ... if it reaches this fraction of the highest key maximum.
const CONTINUITY_MIN: f32 = 0.75;

/// Fraction of the highest NSDF maximum that the first key maximum must reach.
const KEY_MAX_RATIO: f32 = 0.93;

fn continuous(a: f32, b: f32) -> bool {
    a / b < CONTINUITY_RATIO && b / a < CONTINUITY_RATIO
}

impl PitchTracker {
    /// A tracker for the frames of `geometry` (window length, hop and rate).
    ///
    /// # Errors
    /// [`ConfigError`] when the window cannot hold two periods of `min_hz` or `max_hz` is at
    /// or above a quarter of the rate.
    pub fn new(config: &PitchConfig, geometry: FrameGeometry) -> Result<Self, ConfigError> {
        config.validate()?;
        let FrameGeometry { rate, hop, window } = geometry;
        let rate_f = rate as f32;
        let max_lag = (rate_f / config.min_hz).ceil() as usize + 1;
        let min_lag = ((rate_f / config.max_hz).floor() as usize).max(2);
        if 2 * max_lag > window + 2 {
            return Err(ConfigError::new(
                "pitch.min_hz",
                format!(
                    "a {window}-sample window cannot hold two periods of {} Hz",
                    config.min_hz
                ),
            ));
        }
        Ok(Self {
            config: config.clone(),
            rate: rate_f,
            min_lag,
            max_lag,
            acf: vec![0.0; max_lag + 2],
            nsdf: vec![0.0; max_lag + 2],
            pending: vec![Analysis::EMPTY; config.lookahead_frames as usize + 1],
            head: 0,
            len: 0,
            fresh: true,
            prev_lag: None,
            peak_db: -120.0,
            peak_decay_db: PEAK_DECAY_DB_PER_S * hop as f32 / rate_f,
            hop,
        })
    }

    /// Starts a new stretch (e.g. across a gap in the input): the peak level is forgotten, and
    /// no frame passed in before continues into one passed in after, in either direction.
    /// Frames still pending are returned by later calls as usual.
    pub fn reset(&mut self) {
        self.fresh = true;
        self.peak_db = -120.0;
    }

    /// The longest lag the tracker reads from the autocorrelation (size [`Spectrum`] with it).
    pub fn max_lag(&self) -> usize {
        self.acf.len() - 1
    }

    /// Frames between a frame passed to [`PitchTracker::process`] and its estimate coming out
    /// (`lookahead_frames`).
    pub fn latency_frames(&self) -> usize {
        self.pending.len() - 1
    }

    /// Analyses `window`, whose spectrum `spectrum` holds, and returns the estimate of the
    /// frame [`PitchTracker::latency_frames`] frames before it, once there is one.
    pub fn process(&mut self, window: &[f32], spectrum: &mut Spectrum) -> Option<PitchEstimate> {
        let slot = (self.head + self.len) % self.pending.len();
        self.analyse(window, spectrum, slot);
        self.len += 1;
        if self.len == self.pending.len() {
            Some(self.decide_oldest())
        } else {
            None
        }
    }

    /// At the end of the stream: the estimate of the oldest frame still pending, decided with
    /// the frames that follow it; `None` when none is left.
    pub fn flush(&mut self) -> Option<PitchEstimate> {
        (self.len > 0).then(|| self.decide_oldest())
    }

    /// The NSDF's key maxima and the level of one frame, into `pending[slot]`.
    fn analyse(&mut self, window: &[f32], spectrum: &mut Spectrum, slot: usize) {
        self.find_peaks(window, spectrum, slot);
        let a = self.pending[slot];
        let first = a.pick();
        self.pending[slot].first = first;
        self.pending[slot].first_score = first.map_or(0.0, |p| self.score(&a, p.1));
    }

    /// The level terms and the NSDF key maxima of the frame in `slot`.
    fn find_peaks(&mut self, window: &[f32], spectrum: &mut Spectrum, slot: usize) {
        spectrum.autocorrelation(&mut self.acf);
        let a = &mut self.pending[slot];
        a.count = 0;
        a.best = 0.0;
        a.fresh = std::mem::take(&mut self.fresh);
        let n = window.len();
        let hi = (self.max_lag + 1).min(n - 1);
        // Level of the window against its recent peak, for the level gate and the score.
        let level_db = 10.0 * (self.acf[0] / n as f32).max(1e-12).log10();
        self.peak_db = (self.peak_db - self.peak_decay_db).max(level_db);
        a.relative_db = level_db - self.peak_db;
        a.loud_enough =
            self.config.level_gate_db <= 0.0 || a.relative_db >= -self.config.level_gate_db;
        // Level of the hop (the window's centre) against the whole window.
        let margin = (n - self.hop) / 2;
        let centre: f32 = window[margin..margin + self.hop]
            .iter()
            .map(|x| x * x)
            .sum();
        a.centre_db = 10.0 * (centre / self.hop as f32).max(1e-12).log10() - level_db;
        // m(τ) = Σ_{j<n-τ} x[j]² + x[j+τ]², updated lag by lag.
        let mut m = 2.0 * self.acf[0];
        if m <= f32::MIN_POSITIVE {
            return;
        }
        self.nsdf[0] = 1.0;
        for tau in 1..=hi {
            m -= window[tau - 1] * window[tau - 1] + window[n - tau] * window[n - tau];
            self.nsdf[tau] = if m > 1e-12 {
                2.0 * self.acf[tau] / m
            } else {
                0.0
            };
        }
        // Key maxima: local maxima of the NSDF in the lag range, after the lobe around lag 0,
        // each refined by parabolic interpolation.
        let mut tau = 1;
        while tau < hi && self.nsdf[tau] > 0.0 {
            tau += 1;
        }
        let start = tau.max(self.min_lag);
        for t in start..hi {
            let (p, v, q) = (self.nsdf[t - 1], self.nsdf[t], self.nsdf[t + 1]);
            if v > 0.0 && v > p && v >= q && a.count < MAX_PEAKS {
                let denom = p - 2.0 * v + q;
                let (shift, peak) = if denom.abs() > 1e-12 {
                    let s = 0.5 * (p - q) / denom;
                    (s, v - 0.25 * (p - q) * s)
                } else {
                    (0.0, v)
                };
                a.peaks[a.count] = (t as f32 + shift, peak.clamp(0.0, 1.0), v);
                a.count += 1;
                a.best = a.best.max(v);
            }
        }
    }

    /// The voicing score of `a` at clarity `clarity`: clarity plus the level term, minus the
    /// weak-centre term.
    fn score(&self, a: &Analysis, clarity: f32) -> f32 {
        let relative = (a.relative_db - self.config.level_reference_db) / LEVEL_SPAN_DB;
        let weak_centre = (-CENTRE_FREE_DB - a.centre_db) / CENTRE_SPAN_DB;
        clarity + self.config.level_weight * relative.clamp(-1.0, 1.0)
            - self.config.centre_weight * weak_centre.clamp(0.0, 1.0)
    }

    fn in_range(&self, lag: f32) -> bool {
        let f0 = self.rate / lag;
        f0 >= self.config.min_hz * 0.97 && f0 <= self.config.max_hz * 1.03
    }

    /// The key maximum of `a` that continues period `prev` when MPM's pick `first` does not:
    /// the strongest one within `CONTINUITY_RATIO` of `prev`, if it reaches `CONTINUITY_MIN` of
    /// the highest maximum and is at least as high as `first`. Among maxima of nearly equal
    /// height, MPM takes the shortest period; a continuing track is the likelier choice (an
    /// octave jump is mostly the missing fundamental of telephone speech).
    fn continuity_guard(
        a: &Analysis,
        first: (f32, f32, f32),
        prev: f32,
    ) -> Option<(f32, f32, f32)> {
        if continuous(first.0, prev) {
            return None;
        }
        a.peaks()
            .iter()
            .filter(|p| continuous(p.0, prev) && p.2 >= CONTINUITY_MIN * a.best && p.2 >= first.2)
            .max_by(|x, y| x.2.total_cmp(&y.2))
            .copied()
    }

    /// Decides the oldest pending frame with the frames after it and removes it.
    fn decide_oldest(&mut self) -> PitchEstimate {
        let size = self.pending.len();
        let head = self.head;
        // The frames after it in the same stretch: its look-ahead.
        let mut ahead = 0;
        while ahead + 1 < self.len && !self.pending[(head + ahead + 1) % size].fresh {
            ahead += 1;
        }
        let (estimate, lag) = self.decide(head, ahead);
        self.head = (head + 1) % size;
        self.len -= 1;
        self.prev_lag = lag;
        estimate
    }

    /// The estimate of `pending[head]`, with `ahead` frames after it, and its lag when voiced.
    fn decide(&self, head: usize, ahead: usize) -> (PitchEstimate, Option<f32>) {
        let size = self.pending.len();
        let a = &self.pending[head];
        let prev_lag = if a.fresh { None } else { self.prev_lag };
        let Some(first) = a.first else {
            return (PitchEstimate::default(), None);
        };
        // Continuity with the previous voiced frame or, at an onset, with the next frame when
        // that one is clear enough to start voicing.
        let next_lag = (ahead > 0)
            .then(|| {
                let b = &self.pending[(head + 1) % size];
                b.first
                    .filter(|_| b.loud_enough && b.first_score >= self.config.voicing_threshold)
                    .map(|p| p.0)
            })
            .flatten();
        let (lag, clarity, _) = prev_lag
            .or(next_lag)
            .and_then(|reference| Self::continuity_guard(a, first, reference))
            .unwrap_or(first);
        let continuing = prev_lag.is_some_and(|prev| continuous(lag, prev));
        // Look-ahead: a frame that a stretch of continuous, clear-enough frames joins to a frame
        // clear enough to start voicing is an onset, held to the lower threshold.
        let mut onset = false;
        if !continuing {
            let mut last = lag;
            for k in 1..=ahead {
                let b = &self.pending[(head + k) % size];
                let Some(p) = b.first else { break };
                if !(b.loud_enough && continuous(p.0, last)) {
                    break;
                }
                let s = b.first_score;
                if s >= self.config.voicing_threshold {
                    onset = true;
                    break;
                }
                if s < self.config.continue_threshold {
                    break;
                }
                last = p.0;
            }
        }
        let needed = if continuing || onset {
            self.config.continue_threshold
        } else {
            self.config.voicing_threshold
        };
        let voiced = a.loud_enough && self.score(a, clarity) >= needed && self.in_range(lag);
        let estimate = PitchEstimate {
            f0_hz: voiced.then_some(self.rate / lag),
            clarity,
        };
        (estimate, voiced.then_some(lag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harmonic(rate: u32, f0: f32, n: usize, first: usize, last: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (first..=last)
                    .map(|k| (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin() / k as f32)
                    .sum::<f32>()
                    * 0.2
            })
            .collect()
    }

    fn estimate(x: &[f32], rate: u32) -> PitchEstimate {
        let geometry = FrameGeometry {
            rate,
            hop: rate as usize / 100,
            window: x.len(),
        };
        let mut p = PitchTracker::new(&PitchConfig::default(), geometry).unwrap();
        run(&mut p, &[x])[0]
    }

    /// Every frame of `windows` through `p`, flushed at the end: one estimate per window.
    fn run(p: &mut PitchTracker, windows: &[&[f32]]) -> Vec<PitchEstimate> {
        let mut s = Spectrum::new(windows[0].len(), p.rate as u32, p.max_lag());
        let mut out = Vec::new();
        for w in windows {
            s.process(w);
            out.extend(p.process(w, &mut s));
        }
        while let Some(e) = p.flush() {
            out.push(e);
        }
        assert_eq!(out.len(), windows.len());
        out
    }

    const GEOMETRY_8K: FrameGeometry = FrameGeometry {
        rate: 8000,
        hop: 80,
        window: 320,
    };

    #[test]
    fn finds_f0_of_a_harmonic_complex() {
        for f0 in [70.0, 110.0, 220.0, 400.0] {
            let x = harmonic(8000, f0, 320, 1, 8);
            let e = estimate(&x, 8000);
            let got = e.f0_hz.expect("voiced");
            assert!((got / f0 - 1.0).abs() < 0.01, "{f0}: {got}");
        }
    }

    #[test]
    fn finds_missing_fundamental() {
        // Telephone band: harmonics from 300 Hz up only.
        for f0 in [100.0f32, 150.0, 210.0] {
            let first = (300.0 / f0).ceil() as usize;
            let x = harmonic(8000, f0, 320, first, first + 6);
            let got = estimate(&x, 8000).f0_hz.expect("voiced");
            assert!((got / f0 - 1.0).abs() < 0.01, "{f0}: {got}");
        }
    }

    #[test]
    fn silence_and_noise_are_unvoiced() {
        assert_eq!(estimate(&[0.0; 320], 8000).f0_hz, None);
        let mut state = 0x1234_5678u32;
        let noise: Vec<f32> = (0..320)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) - 0.5
            })
            .collect();
        assert_eq!(estimate(&noise, 8000).f0_hz, None);
    }

    #[test]
    fn level_gate_unvoices_weak_frames_after_loud_ones() {
        let loud = harmonic(8000, 150.0, 320, 1, 8);
        let quiet: Vec<f32> = loud.iter().map(|x| x * 0.003).collect(); // -50 dB
        let mut p = PitchTracker::new(&PitchConfig::default(), GEOMETRY_8K).unwrap();
        let e = run(&mut p, &[&loud, &quiet]);
        assert!(e[0].f0_hz.is_some());
        assert_eq!(e[1].f0_hz, None, "50 dB below the peak");
        assert!(
            e[1].clarity > 0.9,
            "still periodic: clarity is reported for the VAD"
        );
        // With the gate off, the same frame is voiced.
        let open = PitchConfig {
            level_gate_db: 0.0,
            level_weight: 0.0,
            ..PitchConfig::default()
        };
        let mut p = PitchTracker::new(&open, GEOMETRY_8K).unwrap();
        assert!(run(&mut p, &[&loud, &quiet])[1].f0_hz.is_some());
    }

    #[test]
    fn reset_forgets_the_track() {
        let loud = harmonic(8000, 150.0, 320, 1, 8);
        let quiet: Vec<f32> = loud.iter().map(|x| x * 0.003).collect();
        let mut p = PitchTracker::new(&PitchConfig::default(), GEOMETRY_8K).unwrap();
        let mut s = Spectrum::new(320, 8000, p.max_lag());
        s.process(&loud);
        p.process(&loud, &mut s);
        p.reset();
        // After a reset the quiet frame is judged on its own: no peak to be far below.
        s.process(&quiet);
        p.process(&quiet, &mut s);
        assert!(p.flush().is_some_and(|e| e.f0_hz.is_some()));
        assert!(p.flush().is_some_and(|e| e.f0_hz.is_some()));
        assert_eq!(p.flush(), None);
    }

    /// A deterministic white noise in [-0.5, 0.5).
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn lookahead_delays_by_its_frames_and_keeps_order() {
        let config = PitchConfig {
            lookahead_frames: 2,
            ..PitchConfig::default()
        };
        let mut p = PitchTracker::new(&config, GEOMETRY_8K).unwrap();
        assert_eq!(p.latency_frames(), 2);
        let mut s = Spectrum::new(320, 8000, p.max_lag());
        let frames: Vec<Vec<f32>> = [100.0, 150.0, 200.0, 250.0]
            .iter()
            .map(|&f0| harmonic(8000, f0, 320, 1, 8))
            .collect();
        let mut out = Vec::new();
        for (k, w) in frames.iter().enumerate() {
            s.process(w);
            let e = p.process(w, &mut s);
            assert_eq!(e.is_some(), k >= 2, "frame {k}");
            out.extend(e);
        }
        while let Some(e) = p.flush() {
            out.push(e);
        }
        let got: Vec<f32> = out.iter().map(|e| e.f0_hz.expect("voiced")).collect();
        for (g, want) in got.iter().zip([100.0, 150.0, 200.0, 250.0]) {
            assert!((g / want - 1.0).abs() < 0.01, "{got:?}");
        }
    }

    #[test]
    fn lookahead_starts_voicing_at_a_weak_onset_that_clear_frames_follow() {
        // An onset frame of middling clarity (a voice under noise) followed by clear frames of
        // the same F0: causal, it must wait for the clear frames; with look-ahead it starts.
        let clear = harmonic(8000, 120.0, 320, 1, 8);
        let n = noise(320, 0x2545_f491);
        let weak: Vec<f32> = clear.iter().zip(&n).map(|(c, e)| c + 0.55 * e).collect();
        let mut causal = PitchTracker::new(
            &PitchConfig {
                lookahead_frames: 0,
                ..PitchConfig::default()
            },
            GEOMETRY_8K,
        )
        .unwrap();
        let e = run(&mut causal, &[&weak, &clear, &clear]);
        let c = e[0].clarity;
        assert!(
            (0.45..0.65).contains(&c),
            "clarity {c} between the thresholds"
        );
        assert_eq!(e[0].f0_hz, None);
        let mut ahead = PitchTracker::new(&PitchConfig::default(), GEOMETRY_8K).unwrap();
        let e = run(&mut ahead, &[&weak, &clear, &clear]);
        let f = e[0].f0_hz.expect("voiced with look-ahead");
        assert!((f / 120.0 - 1.0).abs() < 0.03, "{f}");
    }

    #[test]
    fn a_weak_centre_lowers_the_voicing_score() {
        // Voicing only in the last 120 samples of the window: the hop (samples 120..200) is
        // silent, the periodicity lies beyond it.
        let mut x = harmonic(8000, 150.0, 320, 1, 8);
        x[..200].fill(0.0);
        let with = |centre_weight| {
            let config = PitchConfig {
                centre_weight,
                level_weight: 0.0,
                ..PitchConfig::default()
            };
            let mut p = PitchTracker::new(&config, GEOMETRY_8K).unwrap();
            run(&mut p, &[&x])[0]
        };
        assert!(with(0.0).f0_hz.is_some(), "periodic: {:?}", with(0.0));
        assert_eq!(with(1.0).f0_hz, None);
    }

    #[test]
    fn rejects_out_of_range_settings() {
        for (config, field) in [
            (
                PitchConfig {
                    lookahead_frames: MAX_LOOKAHEAD_FRAMES + 1,
                    ..PitchConfig::default()
                },
                "pitch.lookahead_frames",
            ),
            (
                PitchConfig {
                    level_weight: -0.1,
                    ..PitchConfig::default()
                },
                "pitch.level_weight",
            ),
            (
                PitchConfig {
                    centre_weight: 2.0,
                    ..PitchConfig::default()
                },
                "pitch.centre_weight",
            ),
        ] {
            let e = config.validate().unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }
}
