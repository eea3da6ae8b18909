//! Samples already in memory as a [`Source`]: synthetic test signals, degraded copies of
//! recordings in evaluations, and chunk-size invariance tests.

use super::{Block, PartySpec, Source, SourceInfo};
use crate::error::Error;
use crate::role::Role;

/// One or two parties' samples held in memory, delivered in blocks of a chosen size.
pub struct MemorySource {
    info: SourceInfo,
    signals: Vec<Vec<f32>>,
    pos: Vec<usize>,
    block: usize,
    /// Sample offsets (per party) before which a gap is flagged.
    gaps: Vec<Vec<usize>>,
}

impl MemorySource {
    /// Parties as `(role, sample rate, samples)`; blocks of 1024 samples of the first party.
    pub fn new(parties: Vec<(Role, u32, Vec<f32>)>) -> Self {
        let mut specs = Vec::new();
        let mut signals = Vec::new();
        let mut duration: f64 = 0.0;
        for (role, rate, samples) in parties {
            duration = duration.max(samples.len() as f64 / f64::from(rate.max(1)));
            specs.push(PartySpec {
                role,
                sample_rate: rate,
                label: format!("memory:{role}"),
            });
            signals.push(samples);
        }
        let n = signals.len();
        Self {
            info: SourceInfo {
                parties: specs,
                duration_s: Some(duration),
            },
            signals,
            pos: vec![0; n],
            block: 1024,
            gaps: vec![Vec::new(); n],
        }
    }

    /// Sets the block size in samples of the first party (others: the same duration).
    pub fn with_block(mut self, samples: usize) -> Self {
        self.block = samples.max(1);
        self
    }

    /// Flags a gap (lost samples) in `party`'s stream just before sample `at`.
    pub fn with_gap(mut self, party: usize, at: usize) -> Self {
        if let Some(g) = self.gaps.get_mut(party) {
            g.push(at);
            g.sort_unstable();
        }
        self
    }
}

impl Source for MemorySource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(&mut self, block: &mut Block) -> Result<bool, Error> {
        block.reset(self.signals.len());
        let base_rate = f64::from(self.info.parties.first().map_or(1, |p| p.sample_rate));
        let first_end = (self.pos.first().copied().unwrap_or(0) + self.block) as f64 / base_rate;
        let mut any = false;
        for (i, (signal, out)) in self
            .signals
            .iter()
            .zip(block.parties.iter_mut())
            .enumerate()
        {
            let rate = f64::from(self.info.parties[i].sample_rate);
            let start = self.pos[i];
            let mut end = if i == 0 {
                start + self.block
            } else {
                (first_end * rate).round() as usize
            };
            if self.pos[0] >= self.signals[0].len() {
                end = start + ((self.block as f64 * rate / base_rate).ceil() as usize).max(1);
            }
            // Split blocks at gaps so the flag lands on the right sample.
            if let Some(&g) = self.gaps[i].iter().find(|&&g| g > start && g < end) {
                end = g;
            }
            let end = end.min(signal.len());
            if end > start {
                out.samples.extend_from_slice(&signal[start..end]);
                out.gap = self.gaps[i].contains(&start) && start > 0;
                out.sanitize(1.0);
                self.pos[i] = end;
                any = true;
            }
        }
        Ok(any)
    }
}
