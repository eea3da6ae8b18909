//! Where audio comes from: the [`Source`] seam and its implementations.
//!
//! A source delivers [`Block`]s: for every party of the call, the next run of samples as `f32`
//! in [-1, 1] at that party's own input rate, with the recoveries already applied and counted
//! (non-finite samples replaced by silence, clipped samples counted) and a `gap` flag when
//! samples were lost before the block. Sources are pulled by the call's analysis thread. A WAV
//! file ([`wav::WavSource`]) is the first source; live devices and network streams come later
//! through the same trait.

pub mod memory;
pub mod wav;

use crate::error::Error;
use crate::role::Role;

/// One party's channel as a source delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartySpec {
    /// Which side of the call this channel carries.
    pub role: Role,
    /// Sample rate of the delivered samples, in Hz.
    pub sample_rate: u32,
    /// Where it comes from, for messages (e.g. `call.wav channel 1`).
    pub label: String,
}

/// What a source knows about itself before it is read.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The parties, in the order of [`Block::parties`].
    pub parties: Vec<PartySpec>,
    /// Expected duration in seconds, when known (files), for progress reporting.
    pub duration_s: Option<f64>,
}

/// One party's share of a [`Block`].
#[derive(Debug, Clone, Default)]
pub struct PartyBlock {
    /// Samples in [-1, 1] (values outside are possible for float input and are kept).
    pub samples: Vec<f32>,
    /// Samples were lost before this block (an xrun, a lost packet).
    pub gap: bool,
    /// Non-finite samples (NaN, ±inf) in this block, replaced by 0.0.
    pub nonfinite: u32,
    /// Samples at or beyond full scale in this block.
    pub clipped: u32,
}

impl PartyBlock {
    /// Empties the block for reuse, keeping its allocation.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.gap = false;
        self.nonfinite = 0;
        self.clipped = 0;
    }

    /// Replaces non-finite samples by 0.0 and counts them, and counts samples at or beyond
    /// `full_scale`, into `nonfinite` and `clipped`.
    pub(crate) fn sanitize(&mut self, full_scale: f32) {
        self.nonfinite = 0;
        self.clipped = 0;
        for s in &mut self.samples {
            if !s.is_finite() {
                *s = 0.0;
                self.nonfinite += 1;
            } else if s.abs() >= full_scale {
                self.clipped += 1;
            }
        }
    }
}

/// A run of samples for every party of a call, covering about the same stretch of time.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// One entry per party, in the order of [`SourceInfo::parties`].
    pub parties: Vec<PartyBlock>,
}

impl Block {
    /// Makes the block hold `parties` empty party blocks, keeping their allocations.
    pub fn reset(&mut self, parties: usize) {
        self.parties.resize_with(parties, Default::default);
        for p in &mut self.parties {
            p.clear();
        }
    }

    /// A block for `parties` parties, each with room for `capacity` samples.
    pub fn with_capacity(parties: usize, capacity: usize) -> Self {
        Self {
            parties: (0..parties)
                .map(|_| PartyBlock {
                    samples: Vec::with_capacity(capacity),
                    ..PartyBlock::default()
                })
                .collect(),
        }
    }
}

/// What went wrong with an input that was still analysed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceDiagnostics {
    /// The input ended before its header said it would; `reason` says how.
    pub truncated: Option<String>,
}

/// Where the newest sample a live source delivered sits in the input timeline and when it was
/// captured: the analysis maps every frame's and alert's input time to a capture time with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureAnchor {
    /// Input time, in seconds from the start, just after the newest delivered sample.
    pub t: f64,
    /// When that sample was captured, on the monotonic clock of [`crate::time::mono_ns`].
    pub mono_ns: u64,
}

/// A producer of call audio, pulled by the analysis thread.
pub trait Source: Send {
    /// The parties and what is known of the input.
    fn info(&self) -> &SourceInfo;

    /// Fills `block` (cleared first, one entry per party) with the next samples.
    /// Returns `Ok(false)` once the input is exhausted and `block` is empty.
    ///
    /// # Errors
    /// An [`Error`] when the input cannot be read any further and nothing can be recovered.
    /// Recoverable damage (a truncated file) ends the input instead and is reported by
    /// [`Source::diagnostics`].
    fn read(&mut self, block: &mut Block) -> Result<bool, Error>;

    /// Damage found while reading, reported in the summary.
    fn diagnostics(&self) -> SourceDiagnostics {
        SourceDiagnostics::default()
    }

    /// For live sources: the capture time of the newest delivered sample (`None` for files).
    /// Called after every [`Source::read`]; must not allocate.
    fn capture_anchor(&self) -> Option<CaptureAnchor> {
        None
    }

    /// For live sources: what each capture stream did (empty for files).
    fn capture_reports(&self) -> Vec<crate::capture::live::CaptureReport> {
        Vec::new()
    }
}
