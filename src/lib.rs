//! # callpulse
//!
//! Real-time voice call analytics: per-frame pitch, loudness and voice activity for both
//! parties of a contact-centre call, the conversation's turn-taking, the caller's agitation and
//! the agent's composure, as a stream of JSON Lines records with coaching alerts.
//!
//! ## Data flow
//!
//! ```text
//! Source ──► PartyAnalyzer (per party) ──────────► CallAnalyzer ─────────────────────────► sinks
//! WAV file    resample → DC block → framer →        aligns frames, crosstalk, VAD,         JSONL
//!             features (spectrum, pitch, loudness)  conversation, agitation, alerts        memory
//! ```
//!
//! * [`source`]: where audio comes from ([`source::Source`]; [`source::wav::WavSource`]).
//! * [`resample`], [`frames`], [`features`]: one party's chain, every stage built once and then
//!   run without allocating.
//! * [`party`], [`call`]: the chains of a call and the alignment of both parties' frames;
//!   [`crosstalk`] and [`features::vad`] decide who speaks.
//! * [`conversation`]: turns, overlaps, interruptions vs backchannels, dead air, monologues.
//! * [`prosody`], [`agitation`]: each party's sliding-window prosody against their own
//!   baseline, the caller's agitation score (model in `models/`), composure alerts.
//! * [`pipeline`]: the analysis thread and the sink threads, joined by bounded channels.
//! * [`sink`], [`record`], [`summary`]: the output contract.
//!
//! ## Example
//!
//! ```no_run
//! use callpulse::{AnalysisConfig, Overflow, Pipeline};
//! use callpulse::sink::JsonlSink;
//! use callpulse::source::wav::WavSource;
//!
//! # fn main() -> Result<(), callpulse::Error> {
//! let source = WavSource::stereo("call.wav".as_ref(), 0, 1)?;
//! let report = Pipeline::new(AnalysisConfig::default())
//!     .frames(true)
//!     .sink(JsonlSink::new(std::io::stdout()), Overflow::Block)
//!     .spawn(Box::new(source))?
//!     .wait()?;
//! eprintln!("agent talk ratio: {:?}", report.summary.talk_ratio_agent);
//! # Ok(())
//! # }
//! ```
//!
//! ## Real-time contract
//!
//! Stages allocate in their constructors and process into memory they own; the per-frame path
//! (`PartyAnalyzer::push` and everything it calls) performs no heap allocation, takes no lock,
//! does no I/O and does not log. A test runs it under an allocation guard.

#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod agitation;
pub mod alert;
pub mod call;
pub mod capture;
pub mod config;
pub mod conversation;
pub mod crosstalk;
pub mod degrade;
pub mod earcon;
pub mod error;
pub mod features;
pub mod filter;
pub mod frames;
pub mod latency;
pub mod party;
pub mod pipeline;
pub mod prosody;
pub mod record;
pub mod resample;
pub mod role;
pub mod send;
pub mod server;
pub mod simulate;
pub mod sink;
pub mod source;
pub mod stats;
pub mod summary;
pub mod time;
pub mod view;

pub use config::AnalysisConfig;
pub use error::Error;
pub use pipeline::{Overflow, Pipeline};
pub use role::Role;
