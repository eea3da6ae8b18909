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
//! Cost: per frame, two directions × bands × delays comparisons and ten logarithms; no
//! allocation (every array is fixed-size).

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
}

impl Default for CrosstalkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_delay_ms: 60.0,
            margin_db: 3.0,
            initial_gain_db: 0.0,
            active_snr_db: 15.0,
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
        )
    }
}

/// One direction of leakage: a source channel into a destination channel.
#[derive(Debug, Clone)]
struct Path {
    /// Coupling gain in dB per delay and band.
    gain: [[f32; BANDS]; MAX_LAGS],
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
}

fn power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl Crosstalk {
    /// A compensation stage for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range or `hop_s` is not positive.
    pub fn new(config: &CrosstalkConfig, hop_s: f32) -> Result<Self, ConfigError> {
        config.validate()?;
        if !(hop_s.is_finite() && hop_s > 0.0) {
            return Err(ConfigError::new("hop_ms", "must be a positive duration"));
        }
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
    }

    /// Compensates one aligned pair of frames in place: `bands[c]` are channel `c`'s band
    /// powers (mean square, NaN above Nyquist), `floors[c]` its detector's noise floors.
    /// On return each channel's bands hold what the other channel does not explain.
    pub fn process(&mut self, bands: &mut [[f32; BANDS]; 2], floors: [&[f32; BANDS]; 2]) {
        if !self.config.enabled {
            return;
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> Crosstalk {
        Crosstalk::new(&CrosstalkConfig::default(), 0.01).expect("valid")
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
            x.process(&mut out, [&FLOOR, &FLOOR]);
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
            x.process(&mut out, [&FLOOR, &FLOOR]);
        }
        // B starts talking as loud as A while A goes on.
        for _ in 0..100 {
            out = [[1e-3; BANDS], [1.25e-3; BANDS]];
            x.process(&mut out, [&FLOOR, &FLOOR]);
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
        let mut x = Crosstalk::new(&config, 0.01).expect("valid");
        let mut bands = [[1e-3; BANDS], [0.5e-3; BANDS]];
        x.process(&mut bands, [&FLOOR, &FLOOR]);
        assert_eq!(bands, [[1e-3; BANDS], [0.5e-3; BANDS]]);
        let bad = CrosstalkConfig {
            max_delay_ms: -1.0,
            ..CrosstalkConfig::default()
        };
        let e = Crosstalk::new(&bad, 0.01).expect_err("rejected");
        assert!(e.to_string().contains("crosstalk.max_delay_ms"), "{e}");
    }

    #[test]
    fn nan_bands_pass_through() {
        let mut x = stage();
        let mut bands = [[1e-3, 1e-3, 1e-3, 1e-3, f32::NAN]; 2];
        x.process(&mut bands, [&FLOOR, &FLOOR]);
        assert!(bands[0][4].is_nan() && bands[1][4].is_nan());
    }
}
