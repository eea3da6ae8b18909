//! The frame's spectrum, computed once per frame and shared by the stages that need it.
//!
//! The window is zero-padded to a power of two of at least `window + max_lag` samples and
//! transformed with `realfft` (planned once in [`Spectrum::new`]); the power spectrum of that
//! padded frame is the Fourier transform of its *linear* autocorrelation for every lag up to
//! `max_lag` (no circular wrap-around), which is what the pitch tracker needs.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Power spectrum of one zero-padded analysis window.
pub struct Spectrum {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    input: Vec<f32>,
    bins: Vec<Complex<f32>>,
    scratch_fwd: Vec<Complex<f32>>,
    scratch_inv: Vec<Complex<f32>>,
    inverse_in: Vec<Complex<f32>>,
    power: Vec<f32>,
    rate: u32,
    window: usize,
    max_lag: usize,
}

impl std::fmt::Debug for Spectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spectrum")
            .field("fft_len", &self.input.len())
            .field("rate", &self.rate)
            .finish()
    }
}

impl Spectrum {
    /// Plans the transforms for windows of `window` samples at `rate` Hz whose linear
    /// autocorrelation is needed up to lag `max_lag` (at most `window`).
    pub fn new(window: usize, rate: u32, max_lag: usize) -> Self {
        let max_lag = max_lag.min(window);
        let n = (window + max_lag).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        Self {
            input: forward.make_input_vec(),
            bins: forward.make_output_vec(),
            scratch_fwd: forward.make_scratch_vec(),
            scratch_inv: inverse.make_scratch_vec(),
            inverse_in: inverse.make_input_vec(),
            power: vec![0.0; n / 2 + 1],
            forward,
            inverse,
            rate,
            window,
            max_lag,
        }
    }

    /// Transforms `window` (exactly the window length given to [`Spectrum::new`]).
    pub fn process(&mut self, window: &[f32]) {
        let w = self.window.min(window.len());
        self.input[..w].copy_from_slice(&window[..w]);
        self.input[w..].fill(0.0);
        // Lengths match by construction, so this cannot fail.
        let _ = self.forward.process_with_scratch(
            &mut self.input,
            &mut self.bins,
            &mut self.scratch_fwd,
        );
        for (p, b) in self.power.iter_mut().zip(&self.bins) {
            *p = b.norm_sqr();
        }
    }

    /// `|X[k]|²` for bins `k = 0 ..= fft_len/2` of the last processed window.
    pub fn power(&self) -> &[f32] {
        &self.power
    }

    /// The complex bins of the last processed window.
    pub fn bins(&self) -> &[Complex<f32>] {
        &self.bins
    }

    /// FFT length.
    pub fn fft_len(&self) -> usize {
        self.input.len()
    }

    /// Width of one bin in Hz.
    pub fn bin_hz(&self) -> f32 {
        self.rate as f32 / self.fft_len() as f32
    }

    /// Sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Writes the linear autocorrelation `r[τ] = Σ x[j]·x[j+τ]` of the last window for lags
    /// `0 .. out.len()` (at most `max_lag + 1`) into `out`. Uses the planned inverse FFT.
    pub fn autocorrelation(&mut self, out: &mut [f32]) {
        let n = self.fft_len();
        for (c, p) in self.inverse_in.iter_mut().zip(&self.power) {
            *c = Complex::new(*p, 0.0);
        }
        // `input` is free again after the forward transform; reuse it as the output.
        let _ = self.inverse.process_with_scratch(
            &mut self.inverse_in,
            &mut self.input,
            &mut self.scratch_inv,
        );
        let scale = 1.0 / n as f32;
        let m = out.len().min(self.max_lag + 1);
        for (o, v) in out[..m].iter_mut().zip(&self.input) {
            *o = v * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autocorrelation_matches_the_direct_sum() {
        let w = 64;
        let x: Vec<f32> = (0..w).map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0).collect();
        let mut s = Spectrum::new(w, 8000, w);
        s.process(&x);
        let mut r = vec![0.0; w];
        s.autocorrelation(&mut r);
        for tau in 0..w {
            let direct: f32 = (0..w - tau).map(|j| x[j] * x[j + tau]).sum();
            assert!(
                (r[tau] - direct).abs() < 1e-3,
                "lag {tau}: {} vs {direct}",
                r[tau]
            );
        }
    }
}
