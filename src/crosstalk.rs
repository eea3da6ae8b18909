//! Crosstalk and echo: the far end leaking into the near channel.
//!
//! Real call audio carries each party's voice into the other's channel as well: line echo from
//! a hybrid, acoustic echo from a speakerphone, crosstalk between headsets in one room. In the
//! field the leak can be as strong as 3 dB below the real voice and arrives 0–60 ms late. A
//! per-channel voice activity detector alone takes it for speech (it is a voice, it is periodic,
//! it is well above the noise), so leakage would show as talk and as overlap. This stage looks
//! at both channels together and hands each channel's detector only the part of its band
//! powers that the other channel does not explain.
//!
//! ## Method
//! For each direction (party A leaking into B and B into A), each of the five VAD bands `b` and
//! each candidate delay `d` of 0 … `max_delay_ms` in whole frames, the stage tracks a coupling
//! gain `g[d][b]` in dB: the level of B's band relative to A's band `d` frames earlier. It is
//! updated only on frames where A's band is clearly active (at least `active_snr_db` above A's
//! noise floor), with the ratio `r = B_b(t) − A_b(t − d)` in dB:
//!
//! * `r < g`: the coupling is at most `r`; `g` moves down quickly (at most 0.5 dB per frame).
//!   Frames where B carries only the leak give the lowest ratios, so `g` settles near them.
//! * `g ≤ r < g + 6 dB`: close to the estimate; `g` moves up slowly (0.1 dB per frame), so it
//!   tracks a low quantile (about the 17th percentile) of the ratios near it.
//! * `r ≥ g + 6 dB`: B has something of its own (double talk); `g` drifts up by 1 dB/s only,
//!   so double talk cannot teach the stage that B's own voice is leakage.
//!
//! This is the level-difference logic of a Geigel double-talk detector (D. L. Duttweiler, "A
//! twelve-channel digital echo canceler", IEEE Trans. Commun. 26(5), 1978) made per band and
//! adaptive, with the coupling learnt as a low quantile as in minimum-statistics noise
//! estimation (R. Martin, 2001). The predicted leak in B's band is the largest
//! `A_b(t − d) + g[d][b]` over the delays (so an unknown delay, and onsets and decays of A,
//! are covered), plus `margin_db`. A band of B at or below the predicted leak is taken for
//! leakage and replaced by B's noise floor; a band above it keeps only the excess power. The
//! detector then decides B's activity on what is left: B's own speech during A's speech still
//! counts wherever it stands above the leak in some bands.
//!
//! A leak is weaker than its source, so a band of B that is at least as loud as A's band at
//! every searched delay is B's own and left alone, and the gains never exceed 0 dB. The gains
//! start at `initial_gain_db` (0 dB: leakage as loud as the source), the cautious side: early
//! in a call B's speech over A's counts only where it is louder than A's; within about a
//! second of A's speech the gains have fallen to the real coupling. Across a gap in
//! either channel nothing carries over: the history is cleared.
//!
//! ## Waveform test
//! Band levels cannot tell a leak 3 dB below its source from double talk: both raise every
//! band of B. The waveforms can: the leak is a delayed, scaled (and filtered) copy of A, so it
//! correlates with A at the path's delay, while B's own voice does not (the coherence-based
//! double-talk detectors of acoustic echo cancellation, e.g. T. Gänsler et al., "A double-talk
//! detector based on coherence", IEEE Trans. Commun. 44(11), 1996, here without the adaptive
//! filter). With `coherence` on, the stage keeps the last `coherence_window_ms + max_delay_ms`
//! samples of each channel (the newest hop of each frame's analysis window, so the test sees
//! the very window the band powers came from) and
//! * every fifth frame cross-correlates the two histories by FFT (one real FFT per channel and
//!   one inverse, planned in [`Crosstalk::new`]); the squared normalised correlation `ρ²(d)`
//!   per delay `d` is folded into a score per direction (rising quickly, decaying slowly), for
//!   the direction whose source is the louder channel; the best delay of each direction is its
//!   path;
//! * every frame, once a path's score reaches `min_path_coherence`, computes `ρ²` between B's
//!   last window and A's window at the path's delay (± 2 samples): the share of B's power that
//!   A's waveform explains. That share of B's band power total, spread over the bands like A's
//!   bands at that delay and raised by `coherence_margin_db`, is subtracted from B's bands
//!   (down to B's noise floor) instead of the level-based estimate. The explained power is
//!   bounded by the path's coupling (learnt on windows A explains almost wholly) plus 3 dB, and
//!   never exceeds A's own power: a voice correlates with itself at short lags, so without the
//!   bound B's own voice could be "explained" through the sum of the two paths' delays.
//!
//! Real echo paths are filters, not one delayed copy; a path whose correlation at its best
//! delay stays below `min_path_coherence` (room crosstalk between headsets, say) is left to the
//! level comparison. [`Crosstalk::path_found`] tells the call whether the other party's voice
//! is mixed into a channel, so that its detector may relax its voicing test in double talk
//! ([`crate::features::vad::VadConfig::double_talk_clarity`]).
//!
//! Cost: per frame, two directions × bands × delays comparisons and ten logarithms, 2 × 5
//! dot products of `coherence_window_ms` samples, and every fifth frame three FFTs of
//! `2 · max_delay + window` samples rounded up to a power of two (2048 at 8 kHz); no
//! allocation (every buffer is sized in [`Crosstalk::new`]).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::Deserialize;

use crate::config::in_range;
use crate::error::ConfigError;
use crate::features::vad::{BANDS, db};

/// Most delays (in frames, including 0) the stage can track.
pub const MAX_LAGS: usize = 32;
/// Largest downward step of a coupling gain per 10 ms, in dB.
const DOWN_DB: f32 = 0.5;
/// Upward step of a coupling gain per 10 ms near the estimate, in dB.
const UP_DB: f32 = 0.1;
/// Upward drift of a coupling gain per 10 ms during double talk, in dB.
const DRIFT_DB: f32 = 0.01;
/// Ratios this far above the gain count as double talk, in dB.
const NEAR_DB: f32 = 6.0;
/// Range the coupling gains are kept in, in dB.
const GAIN_RANGE_DB: (f32, f32) = (-90.0, 0.0);
/// The delay search of the waveform test runs every this many frames.
const SEARCH_EVERY: u32 = 5;
/// Weight of one search in the smoothed squared correlation per delay when it is higher than
/// the smoothed value ...
const SEARCH_RISE: f32 = 0.2;
/// ... and when it is lower: a path correlates only while its source talks, so the score
/// holds through the source's silences and through double talk and decays slowly.
const SEARCH_FALL: f32 = 0.02;
/// Samples either side of the learnt delay the per-frame correlation looks at.
const DELAY_SLACK: usize = 2;
/// Share of a window explained by the other channel from which the window is taken for leak
/// only (the coupling is learnt there).
const LEAK_ONLY_SHARE: f32 = 0.8;
/// Weight of one leak-only window in the learnt coupling.
const COUPLING_WEIGHT: f32 = 0.05;
/// How far (as a power ratio, 3 dB) a window's leak may exceed the learnt coupling.
const COUPLING_SLACK: f32 = 2.0;
/// Mean-square power below which a window is silence to the waveform test (−80 dBFS).
const SILENT_POWER: f64 = 1e-8;

/// Crosstalk compensation settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrosstalkConfig {
    /// Compare both channels before deciding voice activity (default true). Off, each channel
    /// is judged on its own.
    pub enabled: bool,
    /// Longest delay of the leak behind its source, in ms (default 60).
    pub max_delay_ms: f32,
    /// How far above the predicted leak, in dB, a band must stand to count as the channel's
    /// own sound (default 3).
    pub margin_db: f32,
    /// Coupling assumed before any has been measured, in dB (default 0: as loud as the source).
    pub initial_gain_db: f32,
    /// How far above its noise floor, in dB, the source's band must be for the coupling to be
    /// measured on a frame (default 15).
    pub active_snr_db: f32,
    /// Compare the two channels' waveforms as well (default true): a leak is a delayed copy of
    /// the other channel and correlates with it, the channel's own voice does not.
    pub coherence: bool,
    /// Length in ms of the waveform comparison window (default 40).
    pub coherence_window_ms: f32,
    /// Smoothed squared correlation at the best delay from which a leakage path counts as
    /// found and the waveform test replaces the level comparison (default 0.3).
    pub min_path_coherence: f32,
    /// Over-subtraction of the correlated part, in dB (default 3).
    pub coherence_margin_db: f32,
    /// Smoothed squared correlation at the best delay from which the other party's voice
    /// counts as mixed into a channel, so that the channel's detector relaxes its onset
    /// voicing test while the other party talks (`vad.double_talk_*`; default 0.15).
    pub voice_path_coherence: f32,
}

impl Default for CrosstalkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_delay_ms: 60.0,
            margin_db: 3.0,
            initial_gain_db: 0.0,
            active_snr_db: 15.0,
            coherence: true,
            coherence_window_ms: 40.0,
            min_path_coherence: 0.3,
            coherence_margin_db: 3.0,
            voice_path_coherence: 0.15,
        }
    }
}

impl CrosstalkConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range(
            "crosstalk.max_delay_ms",
            self.max_delay_ms,
            0.0,
            300.0,
            " ms",
        )?;
        in_range("crosstalk.margin_db", self.margin_db, 0.0, 20.0, " dB")?;
        in_range(
            "crosstalk.initial_gain_db",
            self.initial_gain_db,
            GAIN_RANGE_DB.0,
            GAIN_RANGE_DB.1,
            " dB",
        )?;
        in_range(
            "crosstalk.active_snr_db",
            self.active_snr_db,
            0.0,
            60.0,
            " dB",
        )?;
        in_range(
            "crosstalk.coherence_window_ms",
            self.coherence_window_ms,
            10.0,
            200.0,
            " ms",
        )?;
        in_range(
            "crosstalk.min_path_coherence",
            self.min_path_coherence,
            0.0,
            1.0,
            "",
        )?;
        in_range(
            "crosstalk.coherence_margin_db",
            self.coherence_margin_db,
            0.0,
            20.0,
            " dB",
        )?;
        in_range(
            "crosstalk.voice_path_coherence",
            self.voice_path_coherence,
            0.0,
            1.0,
            "",
        )
    }
}

/// One direction of leakage: a source channel into a destination channel.
#[derive(Debug, Clone)]
struct Path {
    /// Coupling gain in dB per delay and band.
    gain: [[f32; BANDS]; MAX_LAGS],
}

/// The waveform test: the delay of each leakage path, searched by cross-correlation, and per
/// frame the share of each channel's power that the other channel's waveform at that delay
/// explains.
#[derive(Clone)]
struct Coherence {
    /// Comparison window `W` in samples.
    window: usize,
    /// Longest delay `L` in samples.
    max_lag: usize,
    /// The last `W + L` samples of each channel, oldest first.
    hist: [Vec<f32>; 2],
    /// Samples in `hist` since the last gap.
    filled: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    fft_in: Vec<f32>,
    spec: [Vec<Complex<f32>>; 2],
    fft_scratch: Vec<Complex<f32>>,
    corr: Vec<f32>,
    /// Prefix sums of the squared samples of `hist` (length `W + L + 1`).
    prefix: [Vec<f64>; 2],
    /// Smoothed squared correlation per delay, `score[src][d]`: `src` leaking into the other
    /// channel `d` samples late.
    score: [Vec<f32>; 2],
    /// Best delay per direction and its score.
    delay: [usize; 2],
    confidence: [f32; 2],
    /// Power coupling per direction (leak power over source power at the delay), learnt on
    /// windows the source explains almost wholly; NaN until then.
    coupling: [f32; 2],
    frames: u32,
}

impl std::fmt::Debug for Coherence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coherence")
            .field("window", &self.window)
            .field("max_lag", &self.max_lag)
            .field("delay", &self.delay)
            .field("confidence", &self.confidence)
            .finish()
    }
}

impl Coherence {
    fn new(window: usize, max_lag: usize) -> Self {
        let len = window + max_lag;
        let n = (len + max_lag).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch = forward.get_scratch_len().max(inverse.get_scratch_len());
        Self {
            window,
            max_lag,
            hist: [vec![0.0; len], vec![0.0; len]],
            filled: 0,
            fft_in: vec![0.0; n],
            spec: [forward.make_output_vec(), forward.make_output_vec()],
            fft_scratch: vec![Complex::default(); scratch],
            corr: vec![0.0; n],
            forward,
            inverse,
            prefix: [vec![0.0; len + 1], vec![0.0; len + 1]],
            score: [vec![0.0; max_lag + 1], vec![0.0; max_lag + 1]],
            delay: [0; 2],
            confidence: [0.0; 2],
            coupling: [f32::NAN; 2],
            frames: 0,
        }
    }

    fn reset_history(&mut self) {
        for h in &mut self.hist {
            h.fill(0.0);
        }
        self.filled = 0;
    }

    /// Appends one hop of each channel (equal lengths, at most `W + L`).
    fn push(&mut self, hops: [&[f32]; 2]) {
        let len = self.hist[0].len();
        let k = hops[0].len().min(hops[1].len()).min(len);
        for (h, x) in self.hist.iter_mut().zip(hops) {
            h.copy_within(k.., 0);
            h[len - k..].copy_from_slice(&x[..k]);
        }
        self.filled = (self.filled + k).min(len);
        self.frames = self.frames.wrapping_add(1);
        if self.filled == len && self.frames.is_multiple_of(SEARCH_EVERY) {
            self.search();
        }
    }

    /// Cross-correlates the whole history of both channels (one FFT each and one inverse) and
    /// folds the squared normalised correlation per delay into the scores of the direction
    /// whose source is the louder channel over the comparison window.
    fn search(&mut self) {
        let len = self.hist[0].len();
        let n = self.fft_in.len();
        for c in 0..2 {
            let p = &mut self.prefix[c];
            p[0] = 0.0;
            for (i, &x) in self.hist[c].iter().enumerate() {
                p[i + 1] = p[i] + f64::from(x) * f64::from(x);
            }
            self.fft_in[..len].copy_from_slice(&self.hist[c]);
            self.fft_in[len..].fill(0.0);
            if self
                .forward
                .process_with_scratch(&mut self.fft_in, &mut self.spec[c], &mut self.fft_scratch)
                .is_err()
            {
                return;
            }
        }
        let recent = |c: usize| self.prefix[c][len] - self.prefix[c][len - self.window];
        let (e0, e1) = (recent(0), recent(1));
        let src = if e0 >= e1 { 0 } else { 1 };
        if recent(src) / (self.window as f64) < SILENT_POWER {
            return;
        }
        let dst = 1 - src;
        // corr[d] = Σ_m src[m] · dst[m + d]: dst lagging src by d.
        let [s0, s1] = &mut self.spec;
        let (a, b) = if src == 0 { (s0, &*s1) } else { (s1, &*s0) };
        for (x, y) in a.iter_mut().zip(b.iter()) {
            *x = x.conj() * y;
        }
        // The inverse ignores the imaginary parts of the DC and Nyquist bins.
        if self
            .inverse
            .process_with_scratch(a, &mut self.corr, &mut self.fft_scratch)
            .is_err()
        {
            return;
        }
        let scale = 1.0 / n as f64;
        let (ps, pd) = (&self.prefix[src], &self.prefix[dst]);
        let mut best = (0usize, f32::NEG_INFINITY);
        for d in 0..=self.max_lag {
            let es = ps[len - d] - ps[0];
            let ed = pd[len] - pd[d];
            let r = f64::from(self.corr[d]) * scale;
            let rho2 = if es > 0.0 && ed > 0.0 {
                ((r * r) / (es * ed)).min(1.0) as f32
            } else {
                0.0
            };
            let s = &mut self.score[src][d];
            *s += if rho2 > *s { SEARCH_RISE } else { SEARCH_FALL } * (rho2 - *s);
            if *s > best.1 {
                best = (d, *s);
            }
        }
        self.delay[src] = best.0;
        self.confidence[src] = best.1;
    }

    /// Share in [0, 1] of the last window of `src`'s partner channel that `src`'s waveform at
    /// the learnt delay (± [`DELAY_SLACK`]) explains, and that delay; `None` while no path
    /// from `src` has reached `min_confidence`, and `None` when the explained part would be
    /// louder than `src` itself over the window: a leak is weaker than its source (this is
    /// what keeps a talker's own voice when the reverse path's delay plus this one is short
    /// enough for the voice to correlate with itself).
    fn explained(&mut self, src: usize, min_confidence: f32) -> Option<(f32, usize)> {
        if self.confidence[src] < min_confidence || self.filled < self.hist[0].len() {
            return None;
        }
        let len = self.hist[0].len();
        let (x, y) = (&self.hist[src], &self.hist[1 - src]);
        let tail = &y[len - self.window..];
        let ey: f32 = tail.iter().map(|v| v * v).sum();
        if f64::from(ey) / (self.window as f64) < SILENT_POWER {
            return Some((0.0, self.delay[src]));
        }
        let lo = self.delay[src].saturating_sub(DELAY_SLACK);
        let hi = (self.delay[src] + DELAY_SLACK).min(self.max_lag);
        let mut best = (0.0f32, self.delay[src], 0.0f32);
        for d in lo..=hi {
            let start = len - self.window - d;
            let seg = &x[start..start + self.window];
            let (mut dot, mut ex) = (0.0f32, 0.0f32);
            for (a, b) in seg.iter().zip(tail) {
                dot += a * b;
                ex += a * a;
            }
            if ex > 0.0 {
                let rho2 = (dot * dot / (ex * ey)).min(1.0);
                if rho2 > best.0 {
                    best = (rho2, d, ex);
                }
            }
        }
        let (share, delay, ex) = best;
        if share * ey > ex || ex <= 0.0 {
            return None;
        }
        // The leak's power relative to its source: learnt where the source explains nearly
        // all of the window (the partner silent), then a bound on what any window may blame
        // on the source: a voice correlates with itself at short lags, so the partner's own
        // voice can look partly "explained" through the two paths' summed delay.
        let ratio = share * ey / ex;
        let g = &mut self.coupling[src];
        if share >= LEAK_ONLY_SHARE {
            *g = if g.is_nan() {
                ratio
            } else {
                *g + COUPLING_WEIGHT * (ratio - *g)
            };
        }
        if g.is_nan() {
            return None;
        }
        let bound = *g * COUPLING_SLACK;
        Some(((bound * ex / ey).min(share), delay))
    }
}

/// The crosstalk compensation of a two-party call.
#[derive(Debug, Clone)]
pub struct Crosstalk {
    config: CrosstalkConfig,
    lags: usize,
    /// Band levels in dB of both channels for the last `lags` frames (ring).
    history: [[[f32; BANDS]; MAX_LAGS]; 2],
    pos: usize,
    /// Frames in the history since the last gap.
    filled: usize,
    /// `paths[0]`: channel 0 into channel 1; `paths[1]`: channel 1 into channel 0.
    paths: [Path; 2],
    step: f32,
    /// The waveform test (with `coherence` on).
    coherence: Option<Coherence>,
    /// Samples per frame (converts the waveform test's delays to frames).
    hop: usize,
    /// `coherence_margin_db` as a power ratio.
    coherence_margin: f32,
}

fn power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl Crosstalk {
    /// A compensation stage for frames of `hop` samples at `rate` Hz.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range or the hop or rate is zero.
    pub fn new(config: &CrosstalkConfig, hop: usize, rate: u32) -> Result<Self, ConfigError> {
        config.validate()?;
        if hop == 0 || rate == 0 {
            return Err(ConfigError::new("hop_ms", "must be a positive duration"));
        }
        let hop_s = hop as f32 / rate as f32;
        let samples = |ms: f32| (ms / 1000.0 * rate as f32).round() as usize;
        let coherence = config.coherence.then(|| {
            Coherence::new(
                samples(config.coherence_window_ms).max(hop),
                samples(config.max_delay_ms),
            )
        });
        let lags = ((config.max_delay_ms / 1000.0 / hop_s).ceil() as usize + 1).clamp(1, MAX_LAGS);
        let path = Path {
            gain: [[config.initial_gain_db; BANDS]; MAX_LAGS],
        };
        Ok(Self {
            config: config.clone(),
            lags,
            history: [[[f32::NEG_INFINITY; BANDS]; MAX_LAGS]; 2],
            pos: 0,
            filled: 0,
            paths: [path.clone(), path],
            step: hop_s / 0.01,
            coherence,
            hop,
            coherence_margin: power(config.coherence_margin_db),
        })
    }

    /// The coupling gain in dB currently assumed from channel `from` into the other channel, in
    /// band `band`: the largest over the delays.
    pub fn coupling_db(&self, from: usize, band: usize) -> f32 {
        let path = &self.paths[from.min(1)];
        (0..self.lags)
            .map(|d| path.gain[d][band.min(BANDS - 1)])
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Forgets the level history (after a gap), keeping the learnt couplings.
    pub fn reset_history(&mut self) {
        self.history = [[[f32::NEG_INFINITY; BANDS]; MAX_LAGS]; 2];
        self.filled = 0;
        if let Some(c) = &mut self.coherence {
            c.reset_history();
        }
    }

    /// Whether the waveform test has found channel `from`'s voice in the other channel
    /// (smoothed squared correlation at least `voice_path_coherence`): the other channel's
    /// detector may then allow for a second voice while `from` talks.
    pub fn path_found(&self, from: usize) -> bool {
        self.config.enabled
            && self
                .coherence
                .as_ref()
                .is_some_and(|c| c.confidence[from.min(1)] >= self.config.voice_path_coherence)
    }

    /// The leakage delay in ms the waveform test has found from channel `from` into the other
    /// and its smoothed squared correlation there; `None` with `coherence` off.
    #[cfg(test)]
    fn path(&self, from: usize, rate: u32) -> Option<(f32, f32)> {
        let c = self.coherence.as_ref()?;
        let from = from.min(1);
        Some((
            c.delay[from] as f32 * 1000.0 / rate as f32,
            c.confidence[from],
        ))
    }

    /// Compensates one aligned pair of frames in place: `bands[c]` are channel `c`'s band
    /// powers (mean square, NaN above Nyquist), `floors[c]` its detector's noise floors,
    /// `hops[c]` the frame's hop of samples (equal lengths; the waveform test is skipped
    /// without them). On return each channel's bands hold what the other channel does not
    /// explain.
    pub fn process(
        &mut self,
        bands: &mut [[f32; BANDS]; 2],
        floors: [&[f32; BANDS]; 2],
        hops: Option<[&[f32]; 2]>,
    ) {
        if !self.config.enabled {
            return;
        }
        if let (Some(c), Some(h)) = (&mut self.coherence, hops) {
            c.push(h);
        }
        let raw = *bands;
        let mut level = [[f32::NAN; BANDS]; 2];
        for c in 0..2 {
            for b in 0..BANDS {
                if raw[c][b].is_finite() {
                    level[c][b] = db(raw[c][b]);
                }
            }
        }
        self.pos = (self.pos + 1) % MAX_LAGS;
        self.history[0][self.pos] = level[0];
        self.history[1][self.pos] = level[1];
        self.filled = (self.filled + 1).min(self.lags);

        for src in 0..2 {
            let dst = 1 - src;
            for b in 0..BANDS {
                let y = level[dst][b];
                if !y.is_finite() {
                    continue;
                }
                let active_at = db(floors[src][b]) + self.config.active_snr_db;
                let mut leak = f32::NEG_INFINITY;
                let mut loudest = f32::NEG_INFINITY;
                for d in 0..self.filled {
                    let x = self.history[src][(self.pos + MAX_LAGS - d) % MAX_LAGS][b];
                    if !x.is_finite() {
                        continue;
                    }
                    let g = &mut self.paths[src].gain[d][b];
                    if x >= active_at {
                        let r = y - x;
                        *g = if r < *g {
                            (*g - DOWN_DB * self.step).max(r)
                        } else if r < *g + NEAR_DB {
                            *g + UP_DB * self.step
                        } else {
                            *g + DRIFT_DB * self.step
                        }
                        .clamp(GAIN_RANGE_DB.0, GAIN_RANGE_DB.1);
                    }
                    leak = leak.max(x + *g);
                    loudest = loudest.max(x);
                }
                if !leak.is_finite() || y >= loudest {
                    // A leak is weaker than its source: the louder channel owns the band.
                    continue;
                }
                let leak = leak + self.config.margin_db;
                let floor = floors[dst][b];
                bands[dst][b] = if y <= leak {
                    raw[dst][b].min(floor)
                } else {
                    (raw[dst][b] - power(leak)).max(floor.min(raw[dst][b]))
                };
            }
            self.subtract_coherent(src, &raw, bands, floors[1 - src]);
        }
    }

    /// With a leakage path from `src` found by the waveform test, replaces the level-based
    /// estimate of the partner channel: the share `ρ²` of its power that `src`'s waveform at
    /// the path's delay explains is the leak; it is spread over the bands in the proportions of
    /// `src`'s bands at that delay and subtracted (times `coherence_margin_db`), down to the
    /// noise floor.
    fn subtract_coherent(
        &mut self,
        src: usize,
        raw: &[[f32; BANDS]; 2],
        bands: &mut [[f32; BANDS]; 2],
        floor: &[f32; BANDS],
    ) {
        let Some(c) = &mut self.coherence else {
            return;
        };
        let Some((share, delay)) = c.explained(src, self.config.min_path_coherence) else {
            return;
        };
        let dst = 1 - src;
        let k = ((delay + self.hop / 2) / self.hop).min(self.filled.saturating_sub(1));
        let past = &self.history[src][(self.pos + MAX_LAGS - k) % MAX_LAGS];
        // The source's band powers at that delay (0 where either side has no value).
        let mut src_power = [0.0f32; BANDS];
        let (mut total_src, mut total_dst) = (0.0f32, 0.0f32);
        for b in 0..BANDS {
            if past[b].is_finite() && raw[dst][b].is_finite() {
                src_power[b] = power(past[b]);
                total_src += src_power[b];
                total_dst += raw[dst][b];
            }
        }
        if total_src <= 0.0 {
            return;
        }
        let leak_total = share * total_dst * self.coherence_margin;
        for b in 0..BANDS {
            if !(past[b].is_finite() && raw[dst][b].is_finite()) {
                continue;
            }
            // The explained power is shared among the bands like the source's power; what is
            // left of a band never falls below its noise floor (or its own power, if lower).
            let leak = leak_total * src_power[b] / total_src;
            let own = raw[dst][b] - leak;
            bands[dst][b] = own.max(floor[b].min(raw[dst][b]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> Crosstalk {
        Crosstalk::new(&CrosstalkConfig::default(), 80, 8000).expect("valid")
    }

    const FLOOR: [f32; BANDS] = [1e-9; BANDS];

    #[test]
    fn a_leak_6_db_down_is_removed_after_learning() {
        let mut x = stage();
        let mut out = [[0.0; BANDS]; 2];
        for i in 0..300 {
            // A talks with a level that wanders; B carries A's band powers 6 dB down, 2 frames late.
            let a = 1e-3 * (1.0 + 0.5 * ((i as f32) * 0.3).sin());
            let a_late = 1e-3 * (1.0 + 0.5 * (((i as f32) - 2.0) * 0.3).sin());
            out = [[a; BANDS], [a_late * 0.25; BANDS]];
            x.process(&mut out, [&FLOOR, &FLOOR], None);
        }
        assert!(out[1].iter().all(|&p| p <= 1e-9), "{:?}", out[1]);
        assert!(
            out[0].iter().all(|&p| p > 1e-4),
            "A is untouched: {:?}",
            out[0]
        );
        let g = x.coupling_db(0, 2);
        assert!((-8.0..=-5.0).contains(&g), "learnt coupling {g} dB");
    }

    #[test]
    fn own_speech_over_the_leak_still_counts() {
        let mut x = stage();
        let mut out = [[0.0; BANDS]; 2];
        for _ in 0..300 {
            out = [[1e-3; BANDS], [0.25e-3; BANDS]];
            x.process(&mut out, [&FLOOR, &FLOOR], None);
        }
        // B starts talking as loud as A while A goes on.
        for _ in 0..100 {
            out = [[1e-3; BANDS], [1.25e-3; BANDS]];
            x.process(&mut out, [&FLOOR, &FLOOR], None);
        }
        assert!(
            out[1].iter().all(|&p| p > 0.5e-3),
            "B's own speech survives: {:?}",
            out[1]
        );
    }

    #[test]
    fn disabled_changes_nothing_and_bad_config_is_named() {
        let config = CrosstalkConfig {
            enabled: false,
            ..CrosstalkConfig::default()
        };
        let mut x = Crosstalk::new(&config, 80, 8000).expect("valid");
        let mut bands = [[1e-3; BANDS], [0.5e-3; BANDS]];
        x.process(&mut bands, [&FLOOR, &FLOOR], None);
        assert_eq!(bands, [[1e-3; BANDS], [0.5e-3; BANDS]]);
        let bad = CrosstalkConfig {
            max_delay_ms: -1.0,
            ..CrosstalkConfig::default()
        };
        let e = Crosstalk::new(&bad, 80, 8000).expect_err("rejected");
        assert!(e.to_string().contains("crosstalk.max_delay_ms"), "{e}");
    }

    /// A noise-like "voice" with a slowly wandering level (a deterministic generator).
    fn voice(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let white = (state as f32 / u32::MAX as f32) - 0.5;
                white * 0.1 * (1.2 + ((i as f32) * 0.002).sin())
            })
            .collect()
    }

    /// Mean-square power of `x` as five equal band powers (flat spectrum).
    fn flat_bands(x: &[f32]) -> [f32; BANDS] {
        let p = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
        [p / BANDS as f32; BANDS]
    }

    #[test]
    fn the_waveform_test_removes_a_delayed_copy_and_keeps_double_talk() {
        // B carries A 6 dB down and 17 samples late; B talks itself in the second half.
        let (hop, window, delay) = (80usize, 320usize, 17usize);
        let frames = 400;
        let a = voice(frames * hop + window, 1);
        let own = voice(frames * hop + window, 2);
        let b: Vec<f32> = (0..a.len())
            .map(|i| {
                let leak = if i >= delay { 0.5 * a[i - delay] } else { 0.0 };
                let talk = if i >= frames / 2 * hop { own[i] } else { 0.0 };
                leak + talk
            })
            .collect();
        let mut x = stage();
        let floor = [1e-9; BANDS];
        let (mut leak_only, mut double_talk) = (Vec::new(), Vec::new());
        for f in 0..frames {
            // The newest hop of the window ending at `end`, and the window's band powers.
            let end = f * hop + window;
            let mut bands = [
                flat_bands(&a[end - window..end]),
                flat_bands(&b[end - window..end]),
            ];
            let own_power = flat_bands(&own[end - window..end])[0];
            x.process(
                &mut bands,
                [&floor, &floor],
                Some([&a[end - hop..end], &b[end - hop..end]]),
            );
            if (100..frames / 2 - window / hop).contains(&f) {
                leak_only.push(bands[1][0]);
            } else if f >= frames / 2 + 20 {
                double_talk.push(bands[1][0] / own_power);
            }
        }
        let (delay_ms, score) = x.path(0, 8000).expect("coherence on");
        assert!((delay_ms - 17.0 / 8.0).abs() < 0.2, "delay {delay_ms} ms");
        assert!(score > 0.5 && x.path_found(0), "score {score}");
        let worst = leak_only.iter().copied().fold(0.0f32, f32::max);
        assert!(worst <= 1.001e-9, "leak left: {worst}");
        // B's own voice, as loud as the leak, keeps most of its power (the leak's share and
        // its 3 dB margin are taken off).
        let kept = double_talk.iter().sum::<f32>() / double_talk.len() as f32;
        assert!(kept > 0.3, "own power kept {kept}");
    }

    #[test]
    fn nan_bands_pass_through() {
        let mut x = stage();
        let mut bands = [[1e-3, 1e-3, 1e-3, 1e-3, f32::NAN]; 2];
        x.process(&mut bands, [&FLOOR, &FLOOR], None);
        assert!(bands[0][4].is_nan() && bands[1][4].is_nan());
    }
}
