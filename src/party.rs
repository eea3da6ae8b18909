//! One party's chain: resampler → DC blocker → framer → features, plus the statistics the
//! summary needs (the call records each frame once its voice activity is decided).
//!
//! Built once per party with everything preallocated; [`PartyAnalyzer::push`] runs the chain on
//! a block and queues the finished frames in a fixed-capacity queue for the call analyser to
//! align with the other party's. Each queued frame keeps the newest hop of samples of its
//! analysis window (in the same fixed ring), so the call can compare the two
//! channels' waveforms over the very windows the band powers were measured on
//! ([`crate::crosstalk`]).

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
pub struct PartyAnalyzer {
    spec: PartySpec,
    resampler: PartyResampler,
    chain: Chain,
    queue: FrameQueue,
    stats: PartyStats,
}

impl std::fmt::Debug for PartyAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyAnalyzer")
            .field("spec", &self.spec)
            .field("chain", &self.chain)
            .field("pending", &self.queue.len)
            .finish()
    }
}

/// Finished frames waiting for the other party, each with the newest `hop` samples of its
/// analysis window: a fixed ring of `QUEUE_FRAMES` slots that drops its oldest frame when full.
#[derive(Debug)]
struct FrameQueue {
    features: Vec<PartyFeatures>,
    samples: Vec<f32>,
    hop: usize,
    head: usize,
    len: usize,
    /// The slot of the frame last popped (its samples stay until the next push).
    last: usize,
}

impl FrameQueue {
    fn new(hop: usize) -> Self {
        Self {
            features: vec![PartyFeatures::default(); QUEUE_FRAMES],
            samples: vec![0.0; QUEUE_FRAMES * hop],
            hop,
            head: 0,
            len: 0,
            last: 0,
        }
    }

    fn samples(&self, slot: usize) -> &[f32] {
        &self.samples[slot * self.hop..(slot + 1) * self.hop]
    }

    /// Queues `f` with its window tail `tail`; `false` when the oldest frame had to be dropped.
    fn push(&mut self, f: PartyFeatures, tail: &[f32]) -> bool {
        let kept = self.len < QUEUE_FRAMES;
        if !kept {
            self.head = (self.head + 1) % QUEUE_FRAMES;
            self.len -= 1;
        }
        let slot = (self.head + self.len) % QUEUE_FRAMES;
        self.features[slot] = f;
        self.samples[slot * self.hop..(slot + 1) * self.hop].copy_from_slice(tail);
        self.len += 1;
        kept
    }

    fn pop(&mut self) -> Option<PartyFeatures> {
        if self.len == 0 {
            return None;
        }
        self.last = self.head;
        self.head = (self.head + 1) % QUEUE_FRAMES;
        self.len -= 1;
        Some(self.features[self.last])
    }
}

/// The stages after the resampler.
struct Chain {
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

impl Chain {
    /// Runs resampled samples through the chain and queues the finished frames.
    fn run(&mut self, converted: &[f32], queue: &mut FrameQueue, stats: &mut PartyStats) {
        let Self {
            dc,
            framer,
            features,
            scratch,
        } = self;
        for piece in converted.chunks(scratch.len()) {
            let buf = &mut scratch[..piece.len()];
            buf.copy_from_slice(piece);
            dc.process(buf);
            framer.push(buf, |frame| {
                if let Some((f, tail)) = features.process(&frame) {
                    enqueue(queue, stats, f, tail);
                }
            });
        }
    }

    /// Flushes the framer and the features' look-ahead at the end of the input.
    fn finish(&mut self, queue: &mut FrameQueue, stats: &mut PartyStats) {
        let Self {
            framer, features, ..
        } = self;
        framer.finish(|frame| {
            if let Some((f, tail)) = features.process(&frame) {
                enqueue(queue, stats, f, tail);
            }
        });
        while let Some((f, tail)) = features.flush() {
            enqueue(queue, stats, f, tail);
        }
    }
}

fn enqueue(queue: &mut FrameQueue, stats: &mut PartyStats, f: PartyFeatures, tail: &[f32]) {
    if !queue.push(f, tail) {
        // The other party is more than QUEUE_FRAMES behind: keep memory bounded, count it.
        stats.record_queue_drop();
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
            resampler: PartyResampler::new(spec.sample_rate, geometry.rate)?,
            chain: Chain {
                dc: DcBlocker::new(f64::from(geometry.rate), DC_CORNER_HZ),
                framer: Framer::new(geometry),
                features: FeatureExtractor::new(config, geometry)?,
                scratch: vec![0.0; SCRATCH],
            },
            queue: FrameQueue::new(geometry.hop),
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
        self.queue.len
    }

    /// Takes the oldest finished frame; the newest hop of samples of its window is then
    /// [`PartyAnalyzer::last_hop`].
    pub fn pop(&mut self) -> Option<PartyFeatures> {
        self.queue.pop()
    }

    /// The newest `hop` samples of the analysis window (at the analysis rate, after the DC
    /// blocker) of the frame last taken with [`PartyAnalyzer::pop`]: one frame's tail after
    /// another is the channel's signal, running `margin` samples ahead of the frames' hops, so
    /// the last `window` of them are the frame's window. Zeros before the first frame; valid
    /// until the next block is pushed.
    pub fn last_hop(&self) -> &[f32] {
        self.queue.samples(self.queue.last)
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
            resampler,
            chain,
            queue,
            stats,
            ..
        } = self;
        resampler.process(&block.samples, |converted| {
            chain.run(converted, queue, stats)
        })
    }

    /// Flushes the resampler and the framer at the end of the input.
    ///
    /// # Errors
    /// [`Error::Internal`] if the resampler fails (a bug).
    pub fn finish(&mut self) -> Result<(), Error> {
        let Self {
            resampler,
            chain,
            queue,
            stats,
            ..
        } = self;
        resampler.finish(|converted| chain.run(converted, queue, stats))?;
        chain.finish(queue, stats);
        Ok(())
    }
}
