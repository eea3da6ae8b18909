//! Loudness per frame: plain RMS level in dBFS and K-weighted momentary loudness.
//!
//! * **Frame level** (`loudness_db` in the output): `20·log10(rms)` over the frame's hop, so a
//!   full-scale square wave is 0 dBFS and a full-scale sine −3.01 dBFS; floored at
//!   [`FLOOR_DB`] for digital silence.
//! * **Momentary loudness** (`lufs_m`): ITU-R BS.1770-4 K-weighting (pre-filter shelf and RLB
//!   high-pass, see [`BiquadCoeffs::k_weighting`]) and the mean square over the last 400 ms,
//!   `L = −0.691 + 10·log10(ms)` LUFS for one channel. The 400 ms end at the end of the
//!   frame's hop, as in EBU Tech 3341 meters, so it equals what the `ebur128` crate reports
//!   after being fed the same samples up to that point (checked in the tests to ±0.1 dB).
//!
//! The 400 ms are kept as one sum of squares per hop in a fixed ring, so a frame costs two
//! biquads per sample plus a constant.

use crate::filter::{Biquad, BiquadCoeffs};

/// Level reported for digital silence, in dB.
pub const FLOOR_DB: f32 = -120.0;

/// Length of the momentary loudness window.
pub const MOMENTARY_WINDOW_S: f64 = 0.4;

/// `20·log10(rms)` of `samples` in dBFS, floored at [`FLOOR_DB`].
pub fn rms_db(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return FLOOR_DB;
    }
    let ms: f64 = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    power_db(ms)
}

/// `10·log10(mean square)` floored at [`FLOOR_DB`].
pub fn power_db(mean_square: f64) -> f32 {
    if mean_square <= 1e-12 {
        FLOOR_DB
    } else {
        ((10.0 * mean_square.log10()) as f32).max(FLOOR_DB)
    }
}

/// K-weighted momentary loudness at a fixed hop.
#[derive(Debug, Clone)]
pub struct MomentaryLoudness {
    filters: [Biquad; 2],
    hops: Vec<f64>,
    next: usize,
    sum: f64,
    window_samples: f64,
}

impl MomentaryLoudness {
    /// A meter for a stream at `rate` Hz fed `hop` samples at a time. The 400 ms window is
    /// rounded to whole hops (exact for 10 ms hops).
    pub fn new(rate: u32, hop: usize) -> Self {
        let hops = ((MOMENTARY_WINDOW_S * f64::from(rate) / hop as f64).round() as usize).max(1);
        let [shelf, rlb] = BiquadCoeffs::k_weighting(f64::from(rate));
        Self {
            filters: [Biquad::new(shelf), Biquad::new(rlb)],
            hops: vec![0.0; hops],
            next: 0,
            sum: 0.0,
            window_samples: (hops * hop) as f64,
        }
    }

    /// Feeds one hop and returns the momentary loudness in LUFS over the window ending with it
    /// (floored at [`FLOOR_DB`]).
    pub fn process(&mut self, hop: &[f32]) -> f32 {
        let mut energy = 0.0;
        for &s in hop {
            let [shelf, rlb] = &mut self.filters;
            let y = rlb.process(shelf.process(f64::from(s)));
            energy += y * y;
        }
        self.sum += energy - self.hops[self.next];
        self.hops[self.next] = energy;
        self.next = (self.next + 1) % self.hops.len();
        if self.next == 0 {
            // Once per window, re-sum exactly so rounding never accumulates over a long call.
            self.sum = self.hops.iter().sum();
        }
        let ms = self.sum / self.window_samples;
        if ms <= 1e-15 {
            FLOOR_DB
        } else {
            ((-0.691 + 10.0 * ms.log10()) as f32).max(FLOOR_DB)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_of_known_signals() {
        let sine: Vec<f32> = (0..8000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin() * 0.5)
            .collect();
        assert!((rms_db(&sine) - (20.0 * 0.5f32.log10() - 3.0103)).abs() < 0.01);
        assert_eq!(rms_db(&[0.0; 80]), FLOOR_DB);
        assert!((rms_db(&[1.0; 80])).abs() < 1e-6);
    }
}
