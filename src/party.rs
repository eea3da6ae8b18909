//! One party's chain: resampler → DC blocker → framer → features, plus the statistics the
//! summary needs (the call records each frame once its voice activity is decided).
//!
//! Built once per party with everything preallocated; [`PartyAnalyzer::push`] runs the chain on
//! a block and queues the finished frames in a fixed-capacity queue for the call analyser to
//! align with the other party's. Each queued frame keeps the newest hop of samples of its
//! analysis window (in a fixed ring beside the queue), so the call can compare the two
//! channels' waveforms over the very windows the band powers were measured on
//! ([`crate::crosstalk`]).

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
    /// The window tails of the queued frames, slot `(head + k) % QUEUE_FRAMES` for the `k`-th.
    hops: HopRing,
    /// The window tail of the frame last taken with [`PartyAnalyzer::pop`].
    last_hop: Vec<f32>,
    stats: PartyStats,
}

/// The newest `hop` samples of each queued frame's window, in step with the feature queue.
#[derive(Debug)]
struct HopRing {
    samples: Vec<f32>,
    hop: usize,
    head: usize,
}

impl HopRing {
    fn slot(&mut self, k: usize) -> &mut [f32] {
        let s = (self.head + k) % QUEUE_FRAMES;
        &mut self.samples[s * self.hop..(s + 1) * self.hop]
    }
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
            hops: HopRing {
                samples: vec![0.0; QUEUE_FRAMES * geometry.hop],
                hop: geometry.hop,
                head: 0,
            },
            last_hop: vec![0.0; geometry.hop],
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

    /// Takes the oldest finished frame; the newest hop of samples of its window is then
    /// [`PartyAnalyzer::last_hop`].
    pub fn pop(&mut self) -> Option<PartyFeatures> {
        let f = self.queue.pop_front()?;
        let Self { hops, last_hop, .. } = self;
        last_hop.copy_from_slice(hops.slot(0));
        hops.head = (hops.head + 1) % QUEUE_FRAMES;
        Some(f)
    }

    /// The newest `hop` samples of the analysis window (at the analysis rate, after the DC
    /// blocker) of the frame last taken with [`PartyAnalyzer::pop`]: one frame's tail after
    /// another is the channel's signal, running `margin` samples ahead of the frames' hops, so
    /// the last `window` of them are the frame's window. Zeros before the first frame.
    pub fn last_hop(&self) -> &[f32] {
        &self.last_hop
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
            hops,
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
            run_frames(
                converted,
                dc,
                framer,
                features,
                scratch,
                (queue, hops),
                stats,
            );
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
            hops,
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
            run_frames(
                converted,
                dc,
                framer,
                features,
                scratch,
                (queue, hops),
                stats,
            );
        })?;
        framer.finish(|frame| {
            if let Some((f, tail)) = features.process(&frame) {
                enqueue((&mut *queue, &mut *hops), stats, f, tail);
            }
        });
        while let Some((f, tail)) = features.flush() {
            enqueue((&mut *queue, &mut *hops), stats, f, tail);
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
    (queue, hops): (&mut VecDeque<PartyFeatures>, &mut HopRing),
    stats: &mut PartyStats,
) {
    for piece in converted.chunks(scratch.len()) {
        let buf = &mut scratch[..piece.len()];
        buf.copy_from_slice(piece);
        dc.process(buf);
        framer.push(buf, |frame| {
            if let Some((f, tail)) = features.process(&frame) {
                enqueue((&mut *queue, &mut *hops), stats, f, tail);
            }
        });
    }
}

fn enqueue(
    (queue, hops): (&mut VecDeque<PartyFeatures>, &mut HopRing),
    stats: &mut PartyStats,
    f: PartyFeatures,
    hop: &[f32],
) {
    if queue.len() == QUEUE_FRAMES {
        // The other party is more than QUEUE_FRAMES behind: keep memory bounded, count it.
        queue.pop_front();
        hops.head = (hops.head + 1) % QUEUE_FRAMES;
        stats.record_queue_drop();
    }
    let k = queue.len();
    hops.slot(k).copy_from_slice(hop);
    queue.push_back(f);
}
