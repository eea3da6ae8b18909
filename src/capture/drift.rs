//! Clock drift correction between two capture devices.
//!
//! When the agent and the caller are captured by two devices, each runs on its own crystal:
//! their "48 kHz" differ by tens of parts per million, and 50 ppm over an hour is 180 ms of
//! slide between the parties, enough to break crosstalk and turn-taking measures. A
//! [`DriftCorrector`] resamples the second stream so that, on average, it delivers exactly as
//! many samples as the reference stream.
//!
//! # Method
//!
//! * **What is measured: ring fill levels.** Each stream's callback pushes into its own ring
//!   and the analysis thread reads both at the reference's pace. A stream whose clock is fast
//!   slowly fills its ring; one that is slow drains it. The difference of the two fill levels,
//!   in seconds (`fill_error_s`, this stream minus the reference), is the integral of the rate
//!   mismatch: it needs no clock reading, no timestamps, and it is exactly the quantity that
//!   must stay bounded (the rings must neither overflow nor underrun). A positive error means
//!   this stream is ahead, so its resampling ratio must go below 1.
//! * **Resampling.** `rubato`'s asynchronous sinc resampler ([`rubato::Async`], README
//!   "Resampling a stream"; the ratio is steered with
//!   [`rubato::Adjustable::set_resample_ratio_relative`], ramped over one chunk so the change
//!   is click-free) with a 128-tap Blackman-Harris windowed sinc and a maximum relative ratio
//!   of 1.01. It works on fixed input chunks of [`CHUNK_FRAMES`] frames collected here, and
//!   everything is allocated in [`DriftCorrector::new`].
//! * **Controller.** Fill levels jitter by a callback size (10 ms or more) while the drift
//!   moves them by microseconds per second, so the measured error is first low-passed (time
//!   constant [`FILTER_TIME_S`]), then drives a PI controller tuned as a critically damped
//!   second-order loop with natural time constant τ = [`TIME_CONSTANT_S`]: `Kp = 2/τ`,
//!   `Ki = 1/τ²`. A constant drift `d` is cancelled with no residual error (the integral holds
//!   `−d`); a step of drift `d` moves the fill by at most `d·τ/e` (3.7 ms for 500 ppm) before
//!   it is pulled back, and after about five τ (100 s) the rate error is below a few ppm. The
//!   correction is clamped to ±[`MAX_CORRECTION_PPM`] ppm (real crystals are within ±100 ppm;
//!   a larger error means something else is wrong), and the integral is clamped to the same
//!   range so it cannot wind up. At ±1000 ppm the pitch shift (0.1 %, 1.7 cents) is inaudible
//!   and far below any pitch measure's resolution.
//! * **Latency.** The sinc filter delays the signal by [`DriftCorrector::latency_frames`]
//!   frames (half the filter, 64 frames: 8 ms at 8 kHz, 1.3 ms at 48 kHz); in addition up to
//!   `CHUNK_FRAMES − 1` input frames wait in the corrector until a chunk is full. The first
//!   shows as a constant delay of the corrected stream (subtract it from its timestamps); the
//!   second as a small sawtooth in its fill level, which the filter absorbs.
//!
//! # Real-time
//!
//! [`DriftCorrector::process`] allocates nothing, takes no lock and cannot fail: output that
//! would not fit in the capacity of the caller's `out` is dropped and counted
//! ([`DriftCorrector::dropped_frames`]); size `out` with [`DriftCorrector::max_output`].

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Adjustable, Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::error::{ConfigError, Error};

/// Input frames the resampler works on per step.
pub const CHUNK_FRAMES: usize = 64;

/// Natural time constant τ of the correction loop, in seconds.
pub const TIME_CONSTANT_S: f64 = 20.0;

/// Time constant of the low-pass filter on the measured fill error, in seconds.
pub const FILTER_TIME_S: f64 = 2.0;

/// Largest correction applied, in parts per million either way.
pub const MAX_CORRECTION_PPM: f64 = 1000.0;

/// Relative ratio range the resampler is built for (well beyond the clamp).
const MAX_RELATIVE_RATIO: f64 = 1.01;

/// Sinc filter length (taps).
const SINC_LEN: usize = 128;

/// Highest sample rate accepted.
const MAX_RATE: u32 = 768_000;

/// Fill errors beyond this many seconds are treated as this many (a bad measurement must not
/// throw the controller far off).
const MAX_FILL_ERROR_S: f64 = 10.0;

/// Resamples one stream to follow another's clock, steered by ring fill levels. See the
/// [module docs](self) for the method.
///
/// # Examples
///
/// ```
/// use callpulse::capture::drift::DriftCorrector;
///
/// let mut corrector = DriftCorrector::new(8000, 80)?;
/// let mut out = Vec::with_capacity(DriftCorrector::max_output(80));
/// let input = [0.0f32; 80];
/// out.clear();
/// corrector.process(&input, 0.0, &mut out); // no allocation
/// assert!(out.len() <= DriftCorrector::max_output(80));
/// assert_eq!(corrector.ratio(), 1.0);
/// # Ok::<(), callpulse::Error>(())
/// ```
pub struct DriftCorrector {
    resampler: Async<f32>,
    rate: f64,
    /// Input frames waiting for a full chunk.
    input: Vec<f32>,
    fill: usize,
    /// One chunk's output.
    output: Vec<f32>,
    /// Low-passed fill error, in seconds.
    filtered_error: f64,
    /// The integral term (a relative rate correction).
    integral: f64,
    /// The correction applied: ratio = 1 + correction.
    correction: f64,
    /// Output frames that did not fit in `out`.
    dropped: u64,
    /// Chunks the resampler refused (passed through unchanged); a bug if ever non-zero.
    failures: u64,
}

/// The most output frames one resampler chunk can give.
fn per_chunk_max() -> usize {
    // rubato's bound for a fixed input chunk: chunk · ratio · max relative ratio + 10.
    (CHUNK_FRAMES as f64 * MAX_RELATIVE_RATIO).ceil() as usize + 11
}

impl DriftCorrector {
    /// A corrector for a mono stream at `rate` Hz fed at most `max_input` frames per
    /// [`process`](Self::process) call. Allocates everything it will use.
    ///
    /// # Errors
    /// [`Error::Config`] when `rate` is 0 or above 768 kHz or `max_input` is 0;
    /// [`Error::Internal`] if `rubato` rejects its parameters (a bug).
    pub fn new(rate: u32, max_input: usize) -> Result<Self, Error> {
        if rate == 0 || rate > MAX_RATE {
            return Err(ConfigError::new(
                "drift.rate",
                format!("must be 1 to {MAX_RATE} Hz, not {rate}"),
            )
            .into());
        }
        if max_input == 0 {
            return Err(ConfigError::new("drift.max_input", "must be at least 1 frame").into());
        }
        let internal = |message: String| Error::Internal {
            stage: "drift corrector",
            message,
        };
        let parameters =
            SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
                .oversampling_factor(128)
                .interpolation(SincInterpolationType::Cubic);
        let resampler = Async::<f32>::new_sinc(
            1.0,
            MAX_RELATIVE_RATIO,
            &parameters,
            CHUNK_FRAMES,
            1,
            FixedAsync::Input,
        )
        .map_err(|e| internal(e.to_string()))?;
        if resampler.input_frames_max() != CHUNK_FRAMES
            || resampler.output_frames_max() > per_chunk_max()
        {
            return Err(internal(format!(
                "unexpected buffer sizes: input {} (want {CHUNK_FRAMES}), output {} (at most {})",
                resampler.input_frames_max(),
                resampler.output_frames_max(),
                per_chunk_max()
            )));
        }
        Ok(Self {
            input: vec![0.0; resampler.input_frames_max()],
            output: vec![0.0; resampler.output_frames_max()],
            resampler,
            rate: f64::from(rate),
            fill: 0,
            filtered_error: 0.0,
            integral: 0.0,
            correction: 0.0,
            dropped: 0,
            failures: 0,
        })
    }

    /// The most output frames one [`process`](Self::process) call with up to `max_input`
    /// input frames can append: the capacity to give `out`.
    pub fn max_output(max_input: usize) -> usize {
        // A call completes at most ceil(max_input / CHUNK_FRAMES) chunks (fewer than
        // CHUNK_FRAMES frames wait from the call before).
        max_input
            .div_ceil(CHUNK_FRAMES)
            .saturating_mul(per_chunk_max())
    }

    /// Corrects `input` (frames of this stream) and appends the result to `out`, within its
    /// capacity. `fill_error_s` is this stream's ring fill minus the reference stream's ring
    /// fill, in seconds, measured now: positive when this stream is ahead (its clock is fast),
    /// which lowers the ratio. A non-finite error is ignored.
    ///
    /// Does not allocate: output beyond `out`'s capacity is dropped and counted in
    /// [`dropped_frames`](Self::dropped_frames).
    pub fn process(&mut self, input: &[f32], fill_error_s: f64, out: &mut Vec<f32>) {
        self.steer(input.len(), fill_error_s);
        let mut input = input;
        while !input.is_empty() {
            let take = (CHUNK_FRAMES - self.fill).min(input.len());
            self.input[self.fill..self.fill + take].copy_from_slice(&input[..take]);
            self.fill += take;
            input = &input[take..];
            if self.fill == CHUNK_FRAMES {
                self.fill = 0;
                self.run_chunk(out);
            }
        }
    }

    /// Updates the controller for `frames` frames of elapsed stream time.
    fn steer(&mut self, frames: usize, fill_error_s: f64) {
        if frames == 0 || !fill_error_s.is_finite() {
            return;
        }
        let dt = frames as f64 / self.rate;
        let error = fill_error_s.clamp(-MAX_FILL_ERROR_S, MAX_FILL_ERROR_S);
        self.filtered_error += (error - self.filtered_error) * (1.0 - (-dt / FILTER_TIME_S).exp());
        let kp = 2.0 / TIME_CONSTANT_S;
        let ki = 1.0 / (TIME_CONSTANT_S * TIME_CONSTANT_S);
        let limit = MAX_CORRECTION_PPM * 1e-6;
        self.integral = (self.integral - ki * self.filtered_error * dt).clamp(-limit, limit);
        let correction = (self.integral - kp * self.filtered_error).clamp(-limit, limit);
        if correction != self.correction
            && self
                .resampler
                .set_resample_ratio_relative(1.0 + correction, true)
                .is_ok()
        {
            self.correction = correction;
        }
    }

    fn run_chunk(&mut self, out: &mut Vec<f32>) {
        let capacity = self.output.len();
        let produced = match (
            InterleavedSlice::new(&self.input[..], 1, CHUNK_FRAMES),
            InterleavedSlice::new_mut(&mut self.output[..], 1, capacity),
        ) {
            (Ok(input), Ok(mut output)) => self
                .resampler
                .process_into_buffer(&input, &mut output, None)
                .ok()
                .map(|(_, written)| written),
            _ => None,
        };
        let samples = match produced {
            Some(written) => &self.output[..written],
            None => {
                // Cannot happen with the buffers sized in `new`; keep the audio regardless.
                self.failures += 1;
                &self.input[..]
            }
        };
        let room = out.capacity() - out.len();
        let fits = samples.len().min(room);
        out.extend_from_slice(&samples[..fits]);
        self.dropped += (samples.len() - fits) as u64;
    }

    /// The current ratio of output to input rate (1 + correction), for statistics.
    pub fn ratio(&self) -> f64 {
        1.0 + self.correction
    }

    /// The loop's estimate of the clock mismatch, as the relative rate correction it holds in
    /// steady state, in ppm (the integral term: −500 for a clock 500 ppm fast). Unlike
    /// [`ratio`](Self::ratio), it is free of the proportional term's reaction to the jitter of
    /// the fill measurement, so it is the figure to report.
    pub fn correction_ppm(&self) -> f64 {
        self.integral * 1e6
    }

    /// The signal delay the corrector adds, in output frames (half the sinc filter). Input
    /// frames waiting for a full chunk (up to [`CHUNK_FRAMES`] − 1) come on top of it.
    pub fn latency_frames(&self) -> usize {
        self.resampler.output_delay()
    }

    /// Output frames dropped because `out` was full (0 when `out` is sized with
    /// [`max_output`](Self::max_output) and inputs stay within `max_input`).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Chunks the resampler refused and that were passed through uncorrected; always 0
    /// unless there is a bug.
    pub fn failed_chunks(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;
    const PERIOD: usize = 80; // 10 ms

    /// One closed-loop simulation: a producer whose clock runs `drift` fast feeds the
    /// corrector; the corrected stream fills a ring that a reference consumer drains by
    /// `PERIOD` frames every 10 ms. Returns the fill error (s) per period and the output.
    struct Sim {
        corrector: DriftCorrector,
        fill_errors: Vec<f64>,
        output: Vec<f32>,
        produced: u64,
    }

    fn simulate(drift: f64, seconds: f64, tone_hz: f64, keep_from_s: f64) -> Sim {
        let max_input = PERIOD + 2;
        let mut corrector = DriftCorrector::new(RATE, max_input).unwrap();
        let mut out = Vec::with_capacity(DriftCorrector::max_output(max_input));
        let mut input = vec![0.0f32; max_input];
        let periods = (seconds * 100.0) as usize;
        let mut owed = 0.0f64;
        let mut produced = 0u64;
        let mut fill: i64 = 0;
        let mut fill_errors = Vec::with_capacity(periods);
        let mut output = Vec::new();
        let step = 2.0 * std::f64::consts::PI * tone_hz / (f64::from(RATE) * (1.0 + drift));
        for p in 0..periods {
            owed += PERIOD as f64 * (1.0 + drift);
            let n = owed.floor() as usize;
            owed -= n as f64;
            for (i, x) in input[..n].iter_mut().enumerate() {
                *x = (0.5 * ((produced + i as u64) as f64 * step).sin()) as f32;
            }
            produced += n as u64;
            let error = fill as f64 / f64::from(RATE);
            out.clear();
            corrector.process(&input[..n], error, &mut out);
            fill += out.len() as i64;
            fill -= PERIOD as i64;
            fill_errors.push(fill as f64 / f64::from(RATE));
            if p as f64 / 100.0 >= keep_from_s {
                output.extend_from_slice(&out);
            }
        }
        assert_eq!(corrector.dropped_frames(), 0);
        assert_eq!(corrector.failed_chunks(), 0);
        Sim {
            corrector,
            fill_errors,
            output,
            produced,
        }
    }

    fn mean(xs: &[f64]) -> f64 {
        xs.iter().sum::<f64>() / xs.len() as f64
    }

    /// The output rate error (relative) between seconds `a` and `b`, from the mean fill
    /// level over 10 s around each (the fill integrates the rate error).
    fn rate_error(fill_errors: &[f64], a: f64, b: f64) -> f64 {
        let at = |t: f64| mean(&fill_errors[(t * 100.0) as usize..((t + 10.0) * 100.0) as usize]);
        (at(b) - at(a)) / (b - a)
    }

    #[test]
    fn converges_on_a_fast_clock() {
        let drift = 500e-6;
        let sim = simulate(drift, 200.0, 0.0, f64::INFINITY);
        let rate = rate_error(&sim.fill_errors, 130.0, 190.0);
        assert!(rate.abs() < 50e-6, "rate error {} ppm", rate * 1e6);
        let ratio_error = (1.0 + drift) * sim.corrector.ratio() - 1.0;
        assert!(
            ratio_error.abs() < 50e-6,
            "ratio error {} ppm",
            ratio_error * 1e6
        );
        let worst = sim.fill_errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        assert!(worst < 0.030, "fill error reached {} ms", worst * 1e3);
        assert!(sim.produced > 0);
    }

    #[test]
    fn converges_on_a_slow_clock() {
        let drift = -300e-6;
        let sim = simulate(drift, 200.0, 0.0, f64::INFINITY);
        let rate = rate_error(&sim.fill_errors, 130.0, 190.0);
        assert!(rate.abs() < 50e-6, "rate error {} ppm", rate * 1e6);
        let worst = sim.fill_errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        assert!(worst < 0.030, "fill error reached {} ms", worst * 1e3);
    }

    #[test]
    fn zero_drift_keeps_the_ratio_at_one() {
        let sim = simulate(0.0, 150.0, 0.0, f64::INFINITY);
        let off = sim.corrector.ratio() - 1.0;
        assert!(off.abs() < 10e-6, "ratio off by {} ppm", off * 1e6);
        let rate = rate_error(&sim.fill_errors, 80.0, 130.0);
        assert!(rate.abs() < 10e-6, "rate error {} ppm", rate * 1e6);
    }

    /// Least-squares fit of `a·sin + b·cos` at `omega` (radians per sample); returns the SNR
    /// of the fit against the residual, in dB.
    fn sine_snr(x: &[f32], omega: f64) -> f64 {
        let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (n, &v) in x.iter().enumerate() {
            let (s, c) = (n as f64 * omega).sin_cos();
            ss += s * s;
            sc += s * c;
            cc += c * c;
            xs += f64::from(v) * s;
            xc += f64::from(v) * c;
        }
        let det = ss * cc - sc * sc;
        let a = (xs * cc - xc * sc) / det;
        let b = (xc * ss - xs * sc) / det;
        let (mut signal, mut noise) = (0.0, 0.0);
        for (n, &v) in x.iter().enumerate() {
            let (s, c) = (n as f64 * omega).sin_cos();
            let fit = a * s + b * c;
            signal += fit * fit;
            noise += (f64::from(v) - fit).powi(2);
        }
        10.0 * (signal / noise.max(1e-30)).log10()
    }

    #[test]
    fn a_sine_passes_undistorted() {
        // Unity ratio.
        let mut c = DriftCorrector::new(RATE, 1000).unwrap();
        let omega = 2.0 * std::f64::consts::PI * 440.0 / f64::from(RATE);
        let input: Vec<f32> = (0..16_000)
            .map(|n| (0.5 * (n as f64 * omega).sin()) as f32)
            .collect();
        let mut all = Vec::new();
        let mut out = Vec::with_capacity(DriftCorrector::max_output(1000));
        for block in input.chunks(1000) {
            out.clear();
            c.process(block, 0.0, &mut out);
            all.extend_from_slice(&out);
        }
        assert!(all.len() >= 15_900);
        let snr = sine_snr(&all[1000..15_000], omega);
        assert!(snr > 40.0, "SNR {snr} dB at ratio 1");

        // At the clamp (−1000 ppm): a steady positive error drives it there.
        let mut c = DriftCorrector::new(RATE, 1000).unwrap();
        let input: Vec<f32> = (0..240_000)
            .map(|n| (0.5 * (n as f64 * omega).sin()) as f32)
            .collect();
        let mut all = Vec::new();
        for block in input.chunks(1000) {
            out.clear();
            c.process(block, 0.02, &mut out);
            all.extend_from_slice(&out);
        }
        let ratio = c.ratio();
        assert!((ratio - (1.0 - 1e-3)).abs() < 1e-12, "ratio {ratio}");
        let tail = &all[all.len() - 16_000..all.len() - 1000];
        let snr = sine_snr(tail, omega / ratio);
        assert!(snr > 40.0, "SNR {snr} dB at ratio {ratio}");
        // And the wrong frequency (unity) fits far worse: the frequency really moved.
        assert!(sine_snr(tail, omega) < snr - 10.0);
    }

    #[test]
    fn a_drifting_tone_comes_out_at_the_reference_frequency() {
        let tone = 300.0;
        let sim = simulate(500e-6, 200.0, tone, 140.0);
        // Frequency from the first and last upward zero crossings (linearly interpolated).
        let x = &sim.output;
        let crossings: Vec<f64> = (1..x.len())
            .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
            .map(|i| (i - 1) as f64 + f64::from(x[i - 1] / (x[i - 1] - x[i])))
            .collect();
        let cycles = (crossings.len() - 1) as f64;
        let span = crossings[crossings.len() - 1] - crossings[0];
        let hz = cycles / span * f64::from(RATE);
        let off = hz / tone - 1.0;
        assert!(off.abs() < 50e-6, "tone off by {} ppm", off * 1e6);
        let omega = 2.0 * std::f64::consts::PI * tone / f64::from(RATE);
        let snr = sine_snr(&x[x.len() - 4000..], omega);
        assert!(snr > 40.0, "SNR {snr} dB");
    }

    #[test]
    fn bad_arguments_and_bad_errors() {
        assert!(matches!(DriftCorrector::new(0, 10), Err(Error::Config(_))));
        assert!(matches!(
            DriftCorrector::new(8000, 0),
            Err(Error::Config(_))
        ));
        let mut c = DriftCorrector::new(8000, 100).unwrap();
        let mut out = Vec::with_capacity(DriftCorrector::max_output(100));
        c.process(&[0.0; 100], f64::NAN, &mut out);
        c.process(&[0.0; 100], f64::INFINITY, &mut out);
        assert_eq!(c.ratio(), 1.0);
        c.process(&[0.0; 100], 1e300, &mut out);
        assert!((c.ratio() - 1.0).abs() <= MAX_CORRECTION_PPM * 1e-6 + 1e-15);
        // An `out` without room: output dropped and counted, nothing grows.
        let mut tiny = Vec::with_capacity(10);
        c.process(&[0.0; 100], 0.0, &mut tiny);
        assert!(tiny.len() <= tiny.capacity());
        assert!(c.dropped_frames() > 0);
        assert!(c.latency_frames() > 0);
    }
}
