//! Signal degradations for robustness tests and evaluations: a telephone channel (8 kHz,
//! 300–3400 Hz, G.711 μ-law) and additive white noise at a given SNR.
//!
//! These are offline tools, not pipeline stages: they take a whole signal and allocate their
//! result. The evaluations use them to measure the analysis on telephone audio and in noise;
//! the call simulator will use them to build test calls.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use crate::error::Error;
use crate::filter::{Biquad, BiquadCoeffs};
use crate::resample::PartyResampler;

/// Rate of the telephone channel.
pub const TELEPHONE_RATE: u32 = 8_000;

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32_635;

/// G.711 μ-law encoding of one 16-bit sample (ITU-T G.711, as in the reference `g711.c`).
pub fn mulaw_encode(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 { 0x80 } else { 0 };
    if pcm < 0 {
        pcm = -pcm;
    }
    pcm = pcm.min(MULAW_CLIP) + MULAW_BIAS;
    let v = (pcm >> 7) as u32;
    let exponent = if v == 0 { 0 } else { 31 - v.leading_zeros() };
    let mantissa = ((pcm >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// G.711 μ-law decoding of one byte to a 16-bit sample.
pub fn mulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// A whole signal converted from `from` to `to` Hz with the pipeline's resampler (the input
/// itself when the rates are equal). Allocates the result.
///
/// # Errors
/// [`Error::Internal`] if the resampler cannot be built for these rates.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, Error> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let mut out =
        Vec::with_capacity((samples.len() as f64 * f64::from(to) / f64::from(from)) as usize + 8);
    let mut resampler = PartyResampler::new(from, to)?;
    resampler.process(samples, |s| out.extend_from_slice(s))?;
    resampler.finish(|s| out.extend_from_slice(s))?;
    Ok(out)
}

/// One sample in [-1, 1) through a G.711 μ-law encoder and decoder (16-bit PCM in between).
pub fn mulaw_round_trip(x: f64) -> f32 {
    let pcm = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    f32::from(mulaw_decode(mulaw_encode(pcm))) / 32768.0
}

/// Passes `samples` (at `rate` Hz) through a telephone channel: resampled to 8 kHz,
/// band-limited to 300–3400 Hz (4th-order Butterworth high-pass and low-pass), and quantised
/// with G.711 μ-law. Returns the 8 kHz signal.
///
/// # Errors
/// [`Error::Internal`] if the resampler cannot be built for `rate`.
pub fn telephone(samples: &[f32], rate: u32) -> Result<Vec<f32>, Error> {
    let mut narrow = resample(samples, rate, TELEPHONE_RATE)?;
    let fs = f64::from(TELEPHONE_RATE);
    // Butterworth 4th order = two biquads with Q = 0.5412 and 1.3066.
    let qs = [0.541_196_1, 1.306_563];
    let mut filters: Vec<Biquad> = qs
        .iter()
        .map(|&q| Biquad::new(BiquadCoeffs::highpass(fs, 300.0, q)))
        .chain(
            qs.iter()
                .map(|&q| Biquad::new(BiquadCoeffs::lowpass(fs, 3400.0, q))),
        )
        .collect();
    for s in &mut narrow {
        let mut y = f64::from(*s);
        for f in &mut filters {
            y = f.process(y);
        }
        *s = mulaw_round_trip(y);
    }
    Ok(narrow)
}

/// Active level of a signal in mean-square terms: the mean power of its 10 ms frames whose
/// level lies within 25 dB of the 95th-percentile frame level. Close to the speech level of a
/// recording whatever share of it is silence (a simplification of ITU-T P.56).
pub fn active_power(samples: &[f32], rate: u32) -> f64 {
    let hop = (rate as usize / 100).max(1);
    let mut powers: Vec<f64> = samples
        .chunks(hop)
        .map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / c.len() as f64)
        .collect();
    if powers.is_empty() {
        return 0.0;
    }
    let mut sorted = powers.clone();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted[((sorted.len() - 1) as f64 * 0.95) as usize];
    let floor = p95 * 10f64.powf(-25.0 / 10.0);
    powers.retain(|&p| p >= floor && p > 0.0);
    if powers.is_empty() {
        0.0
    } else {
        powers.iter().sum::<f64>() / powers.len() as f64
    }
}

/// Adds white Gaussian noise so that the signal's [`active_power`] stands `snr_db` above the
/// noise power. Deterministic for a given `seed`. A silent signal is left unchanged.
pub fn add_white_noise(samples: &mut [f32], rate: u32, snr_db: f64, seed: u64) {
    let signal = active_power(samples, rate);
    if signal <= 0.0 {
        return;
    }
    add_noise_power(samples, signal / 10f64.powf(snr_db / 10.0), seed);
}

/// Adds white Gaussian noise of mean-square `power`. Deterministic for a given `seed`.
pub fn add_noise_power(samples: &mut [f32], power: f64, seed: u64) {
    let Ok(normal) = Normal::new(0.0, power.sqrt()) else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed);
    for s in samples {
        *s += normal.sample(&mut rng) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_matches_g711_reference_points() {
        // Reference values of the classic g711.c.
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(mulaw_encode(-1), 0x7F);
        assert_eq!(mulaw_encode(32767), 0x80);
        assert_eq!(mulaw_encode(-32768), 0x00);
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0x00), -32124);
        // Round trip keeps the error within the segment's step.
        for x in (-32000i16..32000).step_by(97) {
            let y = mulaw_decode(mulaw_encode(x));
            let step = (i32::from(x).abs() / 16).max(8);
            assert!((i32::from(x) - i32::from(y)).abs() <= step, "{x} -> {y}");
        }
    }

    #[test]
    fn telephone_removes_out_of_band_energy() {
        let rate = 16_000;
        let tone = |f: f32| -> Vec<f32> {
            (0..rate)
                .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin() * 0.3)
                .collect()
        };
        let level = |x: &[f32]| crate::features::loudness::rms_db(&x[2000..6000]);
        let pass = telephone(&tone(1000.0), rate).unwrap();
        let low = telephone(&tone(100.0), rate).unwrap();
        assert_eq!(pass.len(), 8000);
        assert!((level(&pass) - crate::features::loudness::rms_db(&tone(1000.0))).abs() < 0.5);
        assert!(level(&low) < level(&pass) - 20.0);
    }

    #[test]
    fn noise_has_the_requested_snr() {
        let rate = 8000;
        let mut x: Vec<f32> = (0..rate * 4)
            .map(|i| {
                if (i / 8000) % 2 == 0 {
                    (i as f32 * 0.3).sin() * 0.2
                } else {
                    0.0
                }
            })
            .collect();
        let clean = x.clone();
        add_white_noise(&mut x, rate, 10.0, 7);
        let noise: Vec<f32> = x.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let np = noise.iter().map(|&v| f64::from(v * v)).sum::<f64>() / noise.len() as f64;
        let snr = 10.0 * (active_power(&clean, rate) / np).log10();
        assert!((snr - 10.0).abs() < 0.2, "{snr}");
    }
}
