//! One party's chain: resampler → DC blocker → framer → features, plus the statistics the
//! summary needs (the call records each frame once its voice activity is decided).
//!
//! Built once per party with everything preallocated; [`PartyAnalyzer::push`] runs the chain on
//! a block and queues the finished frames in a fixed-capacity queue for the call analyser to
//! align with the other party's.

use std::collections::VecDeque;

use crate::config::{AnalysisConfig, FrameGeometry};
use crate::error::Error;
use crate::features::{FeatureExtractor, PartyFeatures};
use crate::filter::DcBlocker;
use crate::frames::Framer;
use crate::resample::PartyResampler;
use crate::role::Role;
use crate::source::{PartyBlock, PartySpec};
use crate::stats::PartyStats;

/// Frames a party may run ahead of the other before the oldest is dropped (5 s at 10 ms).
pub const QUEUE_FRAMES: usize = 500;

/// Samples processed per step after resampling.
const SCRATCH: usize = 1024;

/// Corner of the DC blocker in Hz.
const DC_CORNER_HZ: f64 = 10.0;

/// The analysis chain of one party.
#[derive(Debug)]
pub struct PartyAnalyzer {
    spec: PartySpec,
    chain: Chain,
    queue: VecDeque<PartyFeatures>,
    stats: PartyStats,
}

struct Chain {
    resampler: PartyResampler,
    dc: DcBlocker,
    framer: Framer,
    features: FeatureExtractor,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("framer", &self.framer.geometry())
            .finish()
    }
}

impl PartyAnalyzer {
    /// Builds the chain for `spec`, converting to `geometry.rate`.
    ///
    /// # Errors
    /// [`Error::Config`] when a stage rejects the configuration, [`Error::Internal`] when the
    /// resampler cannot be built.
    pub fn new(
        config: &AnalysisConfig,
        geometry: FrameGeometry,
        spec: PartySpec,
    ) -> Result<Self, Error> {
        Ok(Self {
            chain: Chain {
                resampler: PartyResampler::new(spec.sample_rate, geometry.rate)?,
                dc: DcBlocker::new(f64::from(geometry.rate), DC_CORNER_HZ),
                framer: Framer::new(geometry),
                features: FeatureExtractor::new(config, geometry)?,
                scratch: vec![0.0; SCRATCH],
            },
            queue: VecDeque::with_capacity(QUEUE_FRAMES),
            stats: PartyStats::new(geometry.hop as f64 / f64::from(geometry.rate)),
            spec,
        })
    }

    /// Which side of the call this is.
    pub fn role(&self) -> Role {
        self.spec.role
    }

    /// Where this party's audio comes from.
    pub fn spec(&self) -> &PartySpec {
        &self.spec
    }

    /// Running statistics.
    pub fn stats(&self) -> &PartyStats {
        &self.stats
    }

    /// Frames waiting to be aligned with the other party.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Takes the oldest finished frame.
    pub fn pop(&mut self) -> Option<PartyFeatures> {
        self.queue.pop_front()
    }

    /// Counts a frame whose voice activity has been decided into the statistics.
    pub fn record_frame(&mut self, f: &PartyFeatures) {
        self.stats.record_frame(f);
    }

    /// Runs the chain on one block.
    ///
    /// # Errors
    /// [`Error::Internal`] if the resampler fails (a bug).
    pub fn push(&mut self, block: &PartyBlock) -> Result<(), Error> {
        self.stats.record_input(block);
        if block.gap {
            self.chain.framer.mark_gap();
        }
        let Self {
            chain,
            queue,
            stats,
            ..
        } = self;
        let Chain {
            resampler,
            dc,
            framer,
            features,
            scratch,
        } = chain;
        resampler.process(&block.samples, |converted| {
            run_frames(converted, dc, framer, features, scratch, queue, stats);
        })
    }

    /// Flushes the resampler and the framer at the end of the input.
    ///
    /// # Errors
    /// [`Error::Internal`] if the resampler fails (a bug).
    pub fn finish(&mut self) -> Result<(), Error> {
        let Self {
            chain,
            queue,
            stats,
            ..
        } = self;
        let Chain {
            resampler,
            dc,
            framer,
            features,
            scratch,
        } = chain;
        resampler.finish(|converted| {
            run_frames(converted, dc, framer, features, scratch, queue, stats);
        })?;
        framer.finish(|frame| {
            if let Some(f) = features.process(&frame) {
                enqueue(queue, stats, f);
            }
        });
        while let Some(f) = features.flush() {
            enqueue(queue, stats, f);
        }
        Ok(())
    }
}

fn run_frames(
    converted: &[f32],
    dc: &mut DcBlocker,
    framer: &mut Framer,
    features: &mut FeatureExtractor,
    scratch: &mut [f32],
    queue: &mut VecDeque<PartyFeatures>,
    stats: &mut PartyStats,
) {
    for piece in converted.chunks(scratch.len()) {
        let buf = &mut scratch[..piece.len()];
        buf.copy_from_slice(piece);
        dc.process(buf);
        framer.push(buf, |frame| {
            if let Some(f) = features.process(&frame) {
                enqueue(queue, stats, f);
            }
        });
    }
}

fn enqueue(queue: &mut VecDeque<PartyFeatures>, stats: &mut PartyStats, f: PartyFeatures) {
    if queue.len() == QUEUE_FRAMES {
        // The other party is more than QUEUE_FRAMES behind: keep memory bounded, count it.
        queue.pop_front();
        stats.record_queue_drop();
    }
    queue.push_back(f);
}
