//! Sample-rate conversion of one party's stream to the analysis rate, with `rubato`.
//!
//! `rubato`'s synchronous FFT resampler runs on fixed input chunks that this wrapper collects,
//! so the output does not depend on how the input was split into blocks. Its start-up delay is
//! trimmed, so output sample `n` lines up with input time `n / out_rate`, and [`finish`]
//! flushes the tail so that the output has `ceil(input · ratio)` samples. Everything is
//! allocated in [`PartyResampler::new`]; [`PartyResampler::process`] does not allocate.
//!
//! [`finish`]: PartyResampler::finish

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::error::Error;

/// Input chunk the FFT resampler works on (a hint; rubato rounds it to fit the ratio).
const CHUNK: usize = 1024;

struct Converter {
    fft: Fft<f32>,
    chunk: usize,
    input: Vec<f32>,
    fill: usize,
    output: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    to_trim: usize,
    /// Input samples received.
    received: u64,
    /// Output samples delivered.
    delivered: u64,
    ratio: f64,
}

/// Converts one party's stream from its input rate to the analysis rate.
pub struct PartyResampler {
    converter: Option<Converter>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal {
        stage: "resampler",
        message: e.to_string(),
    }
}

impl PartyResampler {
    /// A resampler from `input_rate` to `output_rate` Hz; a pass-through when they are equal.
    ///
    /// # Errors
    /// [`Error::Internal`] if `rubato` rejects the rates (both must be non-zero).
    pub fn new(input_rate: u32, output_rate: u32) -> Result<Self, Error> {
        if input_rate == output_rate {
            return Ok(Self { converter: None });
        }
        let fft = Fft::<f32>::new(
            input_rate as usize,
            output_rate as usize,
            CHUNK,
            1,
            FixedSync::Input,
        )
        .map_err(internal)?;
        let chunk = fft.input_frames_next();
        let output = vec![0.0; fft.output_frames_max()];
        let to_trim = fft.output_delay();
        let ratio = f64::from(output_rate) / f64::from(input_rate);
        Ok(Self {
            converter: Some(Converter {
                fft,
                chunk,
                input: vec![0.0; chunk],
                fill: 0,
                output,
                to_trim,
                received: 0,
                delivered: 0,
                ratio,
            }),
        })
    }

    /// Most samples one call of `out` can receive (for callers that preallocate).
    pub fn max_output_block(&self) -> usize {
        self.converter
            .as_ref()
            .map_or(usize::MAX, |c| c.output.len())
    }

    /// Converts `input`, handing the converted samples to `out` as they become available
    /// (possibly in several pieces, possibly none yet).
    ///
    /// # Errors
    /// [`Error::Internal`] if the resampler fails, which would be a bug.
    pub fn process(&mut self, mut input: &[f32], mut out: impl FnMut(&[f32])) -> Result<(), Error> {
        let Some(c) = self.converter.as_mut() else {
            out(input);
            return Ok(());
        };
        c.received += input.len() as u64;
        while !input.is_empty() {
            let take = (c.chunk - c.fill).min(input.len());
            c.input[c.fill..c.fill + take].copy_from_slice(&input[..take]);
            c.fill += take;
            input = &input[take..];
            if c.fill == c.chunk {
                c.fill = 0;
                c.run(None, &mut out)?;
            }
        }
        Ok(())
    }

    /// Flushes the tail: the output then holds `ceil(input samples · ratio)` samples in all.
    ///
    /// # Errors
    /// [`Error::Internal`] if the resampler fails, which would be a bug.
    pub fn finish(&mut self, mut out: impl FnMut(&[f32])) -> Result<(), Error> {
        let Some(c) = self.converter.as_mut() else {
            return Ok(());
        };
        let expected = (c.received as f64 * c.ratio).ceil() as u64;
        let partial = c.fill;
        c.input[partial..].fill(0.0);
        c.fill = 0;
        c.run(Some(partial), &mut out)?;
        // Pump silence until the delayed tail has come out.
        let mut guard = 0;
        while c.delivered < expected && guard < 64 {
            c.input.fill(0.0);
            c.run(Some(0), &mut out)?;
            guard += 1;
        }
        Ok(())
    }
}

impl Converter {
    fn run(&mut self, partial: Option<usize>, out: &mut impl FnMut(&[f32])) -> Result<(), Error> {
        let input = InterleavedSlice::new(&self.input[..], 1, self.chunk).map_err(internal)?;
        let capacity = self.output.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.output[..], 1, capacity).map_err(internal)?;
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (_, written) = self
            .fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(internal)?;
        let mut produced = &self.output[..written];
        let trim = self.to_trim.min(produced.len());
        self.to_trim -= trim;
        produced = &produced[trim..];
        if partial.is_some() {
            // Past the end of the input: deliver only up to the expected length.
            let expected = (self.received as f64 * self.ratio).ceil() as u64;
            let room = expected.saturating_sub(self.delivered) as usize;
            produced = &produced[..produced.len().min(room)];
        }
        if !produced.is_empty() {
            self.delivered += produced.len() as u64;
            out(produced);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[f32], from: u32, to: u32, block: usize) -> Vec<f32> {
        let mut r = PartyResampler::new(from, to).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(block) {
            r.process(chunk, |s| out.extend_from_slice(s)).unwrap();
        }
        r.finish(|s| out.extend_from_slice(s)).unwrap();
        out
    }

    #[test]
    fn length_and_alignment_are_preserved() {
        let from = 20_000;
        let to = 16_000;
        let f = 440.0;
        let input: Vec<f32> = (0..from)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / from as f32).sin() * 0.5)
            .collect();
        let out = run(&input, from, to, 333);
        assert_eq!(out.len(), to as usize);
        // In the middle the output is the same sine at the new rate, in phase.
        for (i, got) in out.iter().enumerate().take(12000).skip(4000) {
            let want = (2.0 * std::f32::consts::PI * f * i as f32 / to as f32).sin() * 0.5;
            assert!((got - want).abs() < 2e-3, "sample {i}: {got} vs {want}");
        }
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let input: Vec<f32> = (0..30_000)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let a = run(&input, 44_100, 16_000, 1);
        for block in [64, 441, 480, 1024, 30_000] {
            assert_eq!(a, run(&input, 44_100, 16_000, block), "block {block}");
        }
    }
}
