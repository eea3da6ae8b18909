//! The library's error type.
//!
//! One `#[non_exhaustive]` enum, in the manner of symphonia's `Error`: each variant says what went
//! wrong and with which input, and [`Error::is_input_problem`] tells a caller whether a different
//! input (rather than a retry) is what would help. Hot-path code never builds these: per-frame
//! recoveries (NaN samples, clipping, gaps) are counted, not raised.

use std::io;
use std::path::PathBuf;

/// Everything that can stop an analysis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read at the operating-system level.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The file is not a readable WAV file (bad header, truncated header, wrong magic).
    #[error("{path}: not a readable WAV file: {reason}")]
    InvalidWav {
        /// The file concerned.
        path: PathBuf,
        /// What the WAV reader objected to.
        reason: String,
    },
    /// The file is a WAV file, but in a sample format this crate does not read.
    #[error("{path}: unsupported WAV format: {what}")]
    UnsupportedFormat {
        /// The file concerned.
        path: PathBuf,
        /// The format found, e.g. "64-bit float" or "A-law (format tag 6)".
        what: String,
    },
    /// The file holds no audio samples at all.
    #[error("{path}: the file holds no audio samples")]
    Empty {
        /// The file concerned.
        path: PathBuf,
    },
    /// A channel index was asked for that the file does not have.
    #[error("{path}: channel {index} does not exist (the file has {channels} channel{plural})", plural = if *.channels == 1 { "" } else { "s" })]
    NoSuchChannel {
        /// The file concerned.
        path: PathBuf,
        /// The channel index asked for (0-based).
        index: u16,
        /// How many channels the file has.
        channels: u16,
    },
    /// A configuration value is out of range or inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A call-simulation script (see `simulate`) is wrong at a line: an unknown keyword, a bad
    /// number, a file that cannot be read, placements that overlap on one channel, ...
    #[error("line {line}: {message}")]
    Script {
        /// The 1-based line of the script (for a script built in code: the 1-based placement
        /// number).
        line: usize,
        /// What is wrong, naming the file or the other line concerned.
        message: String,
    },
    /// An agitation model file (see `agitation::AgitationModel`) cannot be used: unreadable,
    /// not JSON, another format or version, a missing or misordered feature, a number that is
    /// not finite or out of range.
    #[error("agitation model {origin}: {message}")]
    Model {
        /// Where the model came from: its path, or `built-in`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// An audio host or device cannot be used: it does not exist, does not support the
    /// configuration asked for, or refused to open. The message names the device and, where it
    /// helps, lists the devices there are.
    #[error("audio device {device}: {message}")]
    Device {
        /// The device (or host) concerned, as the user named it.
        device: String,
        /// What is wrong, with the alternatives where useful.
        message: String,
    },
    /// A running audio stream failed (the audio server went away, the device was unplugged).
    /// What was captured before the failure has been analysed and written.
    #[error("audio stream failed: {message}")]
    Stream {
        /// What the audio backend reported.
        message: String,
    },
    /// Writing results to a sink failed (disk full, closed pipe, ...).
    #[error("writing results failed: {0}")]
    Sink(#[source] io::Error),
    /// An internal stage failed; this is a bug, reported instead of panicking.
    #[error("internal error in {stage}: {message}")]
    Internal {
        /// The stage that failed.
        stage: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// True when the problem lies in the input (file content or configuration), so retrying
    /// the same call cannot help but another input can. False for I/O and internal errors,
    /// where a retry may succeed.
    pub fn is_input_problem(&self) -> bool {
        matches!(
            self,
            Error::InvalidWav { .. }
                | Error::UnsupportedFormat { .. }
                | Error::Empty { .. }
                | Error::NoSuchChannel { .. }
                | Error::Config(_)
                | Error::Script { .. }
                | Error::Model { .. }
        )
    }
}

/// A configuration value that was rejected when a config was built. Names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid configuration: {field}: {message}")]
pub struct ConfigError {
    /// The configuration field, as spelled in the raw config (e.g. `pitch.min_hz`).
    pub field: &'static str,
    /// Why the value was rejected.
    pub message: String,
}

impl ConfigError {
    /// A rejection of `field` for `message`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
