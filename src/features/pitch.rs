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
//! Two causal refinements use the previous frame only (no look-ahead):
//! * **Octave-jump guard**: when MPM's pick lies an octave above the previous voiced frame's
//!   F0 and a key maximum at least as strong continues the previous period, the period
//!   continues (the missing-fundamental error of telephone speech).
//! * **Voicing hysteresis**: a stretch turns voiced at clarity `voicing_threshold` and stays
//!   voiced down to `continue_threshold` while F0 moves less than 18 % per frame.
//! * **Level gate**: frames more than `level_gate_db` below the recent peak level (decaying
//!   5 dB/s) are unvoiced; weak voicing tails and hum carry little reliable pitch.
//!
//! All buffers are allocated in [`PitchTracker::new`]; [`PitchTracker::process`] does not
//! allocate.

use serde::Deserialize;

use super::spectrum::Spectrum;
use crate::config::FrameGeometry;
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
}

impl Default for PitchConfig {
    fn default() -> Self {
        Self {
            min_hz: 60.0,
            max_hz: 500.0,
            voicing_threshold: 0.7,
            continue_threshold: 0.45,
            level_gate_db: 25.0,
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
        if !(0.0..=1.0).contains(&self.voicing_threshold) {
            return Err(ConfigError::new(
                "pitch.voicing_threshold",
                "must lie in [0, 1]",
            ));
        }
        if !(0.0..=80.0).contains(&self.level_gate_db) {
            return Err(ConfigError::new(
                "pitch.level_gate_db",
                "must lie in [0, 80] dB",
            ));
        }
        if !(0.0..=self.voicing_threshold).contains(&self.continue_threshold) {
            return Err(ConfigError::new(
                "pitch.continue_threshold",
                "must lie in [0, pitch.voicing_threshold]",
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

/// Per-frame F0 tracker.
#[derive(Debug)]
pub struct PitchTracker {
    config: PitchConfig,
    rate: f32,
    min_lag: usize,
    max_lag: usize,
    acf: Vec<f32>,
    nsdf: Vec<f32>,
    /// Key maxima of the current frame: (lag index, value).
    peaks: [(usize, f32); MAX_PEAKS],
    /// Lag of the previous frame's F0, when it was voiced.
    prev_lag: Option<f32>,
    /// Recent peak of the window level in dB, decaying by `peak_decay_db` per frame.
    peak_db: f32,
    peak_decay_db: f32,
}

/// Decay of the peak level that the level gate measures against, in dB per second.
const PEAK_DECAY_DB_PER_S: f32 = 5.0;

/// Key maxima kept per frame (more than any lag range at 16 kHz holds in practice).
const MAX_PEAKS: usize = 48;
/// A key maximum within this ratio of the previous period continues the track.
const CONTINUITY_RATIO: f32 = 1.18;
/// ... if it reaches this fraction of the highest key maximum.
const CONTINUITY_MIN: f32 = 0.75;

/// Fraction of the highest NSDF maximum that the first key maximum must reach.
const KEY_MAX_RATIO: f32 = 0.93;

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
            peaks: [(0, 0.0); MAX_PEAKS],
            prev_lag: None,
            peak_db: -120.0,
            peak_decay_db: PEAK_DECAY_DB_PER_S * hop as f32 / rate_f,
        })
    }

    /// Forgets the previous frames (continuity and peak level), e.g. across a gap in the input.
    pub fn reset(&mut self) {
        self.prev_lag = None;
        self.peak_db = -120.0;
    }

    /// The longest lag the tracker reads from the autocorrelation (size [`Spectrum`] with it).
    pub fn max_lag(&self) -> usize {
        self.acf.len() - 1
    }

    /// Estimates the pitch of `window` whose spectrum `spectrum` holds.
    pub fn process(&mut self, window: &[f32], spectrum: &mut Spectrum) -> PitchEstimate {
        spectrum.autocorrelation(&mut self.acf);
        let n = window.len();
        let hi = (self.max_lag + 1).min(n - 1);
        // Level of the window against its recent peak, for the level gate.
        let level_db = 10.0 * (self.acf[0] / n as f32).max(1e-12).log10();
        self.peak_db = (self.peak_db - self.peak_decay_db).max(level_db);
        let loud_enough = self.config.level_gate_db <= 0.0
            || level_db >= self.peak_db - self.config.level_gate_db;
        // m(τ) = Σ_{j<n-τ} x[j]² + x[j+τ]², updated lag by lag.
        let mut m = 2.0 * self.acf[0];
        if m <= f32::MIN_POSITIVE {
            self.prev_lag = None;
            return PitchEstimate::default();
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
        // Key maxima: local maxima of the NSDF in the lag range, after the lobe around lag 0.
        let mut tau = 1;
        while tau < hi && self.nsdf[tau] > 0.0 {
            tau += 1;
        }
        let start = tau.max(self.min_lag);
        let mut count = 0;
        let mut best = 0.0f32;
        for t in start..hi {
            let v = self.nsdf[t];
            if v > 0.0 && v > self.nsdf[t - 1] && v >= self.nsdf[t + 1] && count < MAX_PEAKS {
                self.peaks[count] = (t, v);
                count += 1;
                best = best.max(v);
            }
        }
        let peaks = &self.peaks[..count];
        if best <= 0.0 {
            self.prev_lag = None;
            return PitchEstimate::default();
        }
        // MPM's rule: the first key maximum within KEY_MAX_RATIO of the highest (shortest
        // period, so no sub-octave errors) ...
        let threshold = KEY_MAX_RATIO * best;
        let first = peaks.iter().find(|p| p.1 >= threshold).copied();
        let mut chosen = first.map(|p| p.0);
        // ... unless that is an octave above the previous voiced frame while a strong key
        // maximum continues the previous period: then the jump is far less likely than a
        // continuing voice whose fundamental is missing (telephone speech).
        let octave_up = |t: usize, prev: f32| {
            let r = t as f32 / prev;
            r > 0.5 / CONTINUITY_RATIO && r < 0.5 * CONTINUITY_RATIO
        };
        if let Some(prev) = self.prev_lag
            && chosen.is_some_and(|t| octave_up(t, prev))
            && let Some(&(t, _)) = peaks
                .iter()
                .filter(|p| {
                    let r = p.0 as f32 / prev;
                    r < CONTINUITY_RATIO
                        && r > 1.0 / CONTINUITY_RATIO
                        && p.1 >= CONTINUITY_MIN * best
                        && first.is_some_and(|f| p.1 >= f.1)
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            chosen = Some(t);
        }
        let Some(t) = chosen else {
            self.prev_lag = None;
            return PitchEstimate::default();
        };
        let (a, b, c) = (self.nsdf[t - 1], self.nsdf[t], self.nsdf[t + 1]);
        let denom = a - 2.0 * b + c;
        let (shift, peak) = if denom.abs() > 1e-12 {
            let s = 0.5 * (a - c) / denom;
            (s, b - 0.25 * (a - c) * s)
        } else {
            (0.0, b)
        };
        let lag = t as f32 + shift;
        let f0 = self.rate / lag;
        let clarity = peak.clamp(0.0, 1.0);
        let continuing = self
            .prev_lag
            .is_some_and(|prev| (lag / prev) < CONTINUITY_RATIO && (prev / lag) < CONTINUITY_RATIO);
        let needed = if continuing {
            self.config.continue_threshold
        } else {
            self.config.voicing_threshold
        };
        let voiced = loud_enough
            && clarity >= needed
            && f0 >= self.config.min_hz * 0.97
            && f0 <= self.config.max_hz * 1.03;
        self.prev_lag = voiced.then_some(lag);
        PitchEstimate {
            f0_hz: voiced.then_some(f0),
            clarity,
        }
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
        let mut s = Spectrum::new(x.len(), rate, p.max_lag());
        s.process(x);
        p.process(x, &mut s)
    }

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
        let rate = 8000;
        let loud = harmonic(rate, 150.0, 320, 1, 8);
        let quiet: Vec<f32> = loud.iter().map(|x| x * 0.003).collect(); // -50 dB
        let geometry = FrameGeometry {
            rate,
            hop: 80,
            window: 320,
        };
        let mut p = PitchTracker::new(&PitchConfig::default(), geometry).unwrap();
        let mut s = Spectrum::new(320, rate, p.max_lag());
        s.process(&loud);
        assert!(p.process(&loud, &mut s).f0_hz.is_some());
        s.process(&quiet);
        let e = p.process(&quiet, &mut s);
        assert_eq!(e.f0_hz, None, "50 dB below the peak");
        assert!(
            e.clarity > 0.9,
            "still periodic: clarity is reported for the VAD"
        );
        // With the gate off, the same frame is voiced.
        let open = PitchConfig {
            level_gate_db: 0.0,
            ..PitchConfig::default()
        };
        let mut p = PitchTracker::new(&open, geometry).unwrap();
        s.process(&loud);
        p.process(&loud, &mut s);
        s.process(&quiet);
        assert!(p.process(&quiet, &mut s).f0_hz.is_some());
    }

    #[test]
    fn reset_forgets_the_track() {
        let rate = 8000;
        let geometry = FrameGeometry {
            rate,
            hop: 80,
            window: 320,
        };
        let loud = harmonic(rate, 150.0, 320, 1, 8);
        let quiet: Vec<f32> = loud.iter().map(|x| x * 0.003).collect();
        let mut p = PitchTracker::new(&PitchConfig::default(), geometry).unwrap();
        let mut s = Spectrum::new(320, rate, p.max_lag());
        s.process(&loud);
        p.process(&loud, &mut s);
        p.reset();
        // After a reset the quiet frame is judged on its own: no peak to be far below.
        s.process(&quiet);
        assert!(p.process(&quiet, &mut s).f0_hz.is_some());
    }
}
