//! Small IIR filters used by several stages: biquads (RBJ cookbook and the BS.1770 K-weighting
//! pair) and a DC blocker.
//!
//! Written by hand rather than taken from a crate because the K-weighting coefficients must be
//! exactly those of ITU-R BS.1770 as libebur128 derives them for any rate (so that our loudness
//! equals the `ebur128` crate's), and because these run per sample on the analysis thread in
//! `f64` with no allocation; the whole thing is a dozen lines.

use std::f64::consts::PI;

/// Normalised biquad coefficients (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoeffs {
    /// Feed-forward coefficients b0, b1, b2.
    pub b: [f64; 3],
    /// Feedback coefficients a1, a2.
    pub a: [f64; 2],
}

impl BiquadCoeffs {
    /// Second-order Butterworth-style low-pass (RBJ cookbook) at `f0` Hz with quality `q`.
    pub fn lowpass(rate: f64, f0: f64, q: f64) -> Self {
        let w0 = 2.0 * PI * f0 / rate;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * q);
        let a0 = 1.0 + alpha;
        Self {
            b: [(1.0 - c) / 2.0 / a0, (1.0 - c) / a0, (1.0 - c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    /// Second-order high-pass (RBJ cookbook) at `f0` Hz with quality `q`.
    pub fn highpass(rate: f64, f0: f64, q: f64) -> Self {
        let w0 = 2.0 * PI * f0 / rate;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * q);
        let a0 = 1.0 + alpha;
        Self {
            b: [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    /// The two stages of the BS.1770 K-weighting filter at `rate` Hz: the high-shelf
    /// "pre-filter" (head effects) and the RLB high-pass, with the analog prototypes'
    /// parameters as libebur128 uses them so that any sample rate gets the right response.
    #[allow(non_snake_case)] // the names of the standard's formulae
    pub fn k_weighting(rate: f64) -> [Self; 2] {
        let f0 = 1681.974450955533;
        let G = 3.999843853973347;
        let Q = 0.7071752369554196;
        let K = (PI * f0 / rate).tan();
        let Vh = 10f64.powf(G / 20.0);
        let Vb = Vh.powf(0.4996667741545416);
        let a0 = 1.0 + K / Q + K * K;
        let shelf = Self {
            b: [
                (Vh + Vb * K / Q + K * K) / a0,
                2.0 * (K * K - Vh) / a0,
                (Vh - Vb * K / Q + K * K) / a0,
            ],
            a: [2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0],
        };
        let f0 = 38.13547087602444;
        let Q = 0.5003270373238773;
        let K = (PI * f0 / rate).tan();
        let d = 1.0 + K / Q + K * K;
        let rlb = Self {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (K * K - 1.0) / d, (1.0 - K / Q + K * K) / d],
        };
        [shelf, rlb]
    }
}

/// A biquad in transposed direct form II with `f64` state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    c: BiquadCoeffs,
    z1: f64,
    z2: f64,
}

impl Biquad {
    /// A filter with the given coefficients and zero state.
    pub fn new(c: BiquadCoeffs) -> Self {
        Self {
            c,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Filters one sample.
    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let y = self.c.b[0] * x + self.z1;
        self.z1 = self.c.b[1] * x - self.c.a[0] * y + self.z2;
        self.z2 = self.c.b[2] * x - self.c.a[1] * y;
        y
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.z1 = 0.0;
        self.z2 = 0.0;
    }
}

/// First-order DC blocker `y[n] = x[n] − x[n−1] + r·y[n−1]`, with the pole placed for a
/// −3 dB corner at `corner_hz` (10 Hz by default in the pipeline: −0.04 dB at 100 Hz).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcBlocker {
    r: f64,
    x1: f64,
    y1: f64,
}

impl DcBlocker {
    /// A blocker for a stream at `rate` Hz.
    pub fn new(rate: f64, corner_hz: f64) -> Self {
        Self {
            r: (-2.0 * PI * corner_hz / rate).exp(),
            x1: 0.0,
            y1: 0.0,
        }
    }

    /// Filters `samples` in place.
    pub fn process(&mut self, samples: &mut [f32]) {
        for s in samples {
            let x = f64::from(*s);
            let y = x - self.x1 + self.r * self.y1;
            self.x1 = x;
            self.y1 = y;
            *s = y as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain_db(c: BiquadCoeffs, rate: f64, f: f64) -> f64 {
        let mut bq = Biquad::new(c);
        let n = (rate * 2.0) as usize;
        let mut acc = 0.0;
        let mut count = 0;
        for i in 0..n {
            let y = bq.process((2.0 * PI * f * i as f64 / rate).sin());
            if i > n / 2 {
                acc += y * y;
                count += 1;
            }
        }
        10.0 * (acc / count as f64 / 0.5).log10()
    }

    #[test]
    fn rbj_filters_are_minus_3_db_at_the_corner_with_butterworth_q() {
        let q = std::f64::consts::FRAC_1_SQRT_2;
        assert!(
            (gain_db(BiquadCoeffs::lowpass(8000.0, 1000.0, q), 8000.0, 1000.0) + 3.01).abs() < 0.05
        );
        assert!(
            (gain_db(BiquadCoeffs::highpass(8000.0, 300.0, q), 8000.0, 300.0) + 3.01).abs() < 0.05
        );
        assert!(gain_db(BiquadCoeffs::lowpass(8000.0, 1000.0, q), 8000.0, 100.0).abs() < 0.01);
    }

    #[test]
    fn k_weighting_has_the_standard_shape() {
        // BS.1770: about +4 dB at high frequencies, 0 dB near 1 kHz (within 0.7 dB), strong cut at 20 Hz.
        let [shelf, rlb] = BiquadCoeffs::k_weighting(48_000.0);
        let g = |f| gain_db(shelf, 48_000.0, f) + gain_db(rlb, 48_000.0, f);
        assert!((g(10_000.0) - 4.0).abs() < 0.2, "{}", g(10_000.0));
        assert!(g(1_000.0).abs() < 0.7, "{}", g(1_000.0));
        assert!(g(20.0) < -10.0);
    }

    #[test]
    fn dc_blocker_removes_offset() {
        let mut dc = DcBlocker::new(8000.0, 10.0);
        let mut x = vec![0.5f32; 8000];
        dc.process(&mut x);
        assert!(x[7999].abs() < 1e-3);
    }
}
