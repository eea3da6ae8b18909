//! Headset earcons: a short, quiet, distinct tone pattern in the agent's headset for every
//! alert kind, so the agent hears a coaching cue without looking at a screen.
//!
//! * [`mod@pattern`]: the patterns and [`Synth`], an allocation-free synthesiser.
//! * [`player`]: [`EarconSink`], a [`crate::sink::Sink`] that plays alerts on a `cpal` output
//!   device, and [`play_once`] for previews.
//!
//! ## Patterns
//!
//! Each tone has raised-cosine attack and release ramps of 9 ms (no clicks) and is followed by
//! the gap shown. Frequencies lie in 400–1600 Hz (audible over a telephone headset, not
//! shrill); every pattern, trailing gap included, lasts at most 600 ms.
//! [`Severity::Critical`](crate::alert::Severity::Critical) plays the pattern twice, never
//! louder.
//!
//! | kind | tones (Hz / ms on + ms gap) | length | meaning |
//! |---|---|---|---|
//! | `agent_interrupting` | 988 / 130 + 40, 659 / 170 + 120 | 460 ms | falling pair: step back, let the caller finish |
//! | `agent_monologue` | 587 / 380 + 120 | 500 ms | one long steady tone: hand the floor over |
//! | `dead_air` | 494 / 150 + 110, 740 / 150 + 120 | 530 ms | slow rising pair, a question: say something |
//! | `caller_agitation_rising` | 523 / 110 + 30, 659 / 110 + 30, 784 / 160 + 120 | 560 ms | rising major triad (C–E–G): the caller is getting upset, soften |
//! | `agent_loudness_rising` | 415 / 120 + 80, 415 / 120 + 120 | 440 ms | low repeated tone: lower your voice |
//! | `agent_pace_fast` | 1319 / 50 + 40, ×2, 1319 / 50 + 120 | 350 ms | quick high triple: slow down |
//!
//! ## Level and rate
//!
//! The peak level is capped at [`EarconConfig::level_dbfs`] (default −20 dBFS, allowed
//! −60..=−6): no sample exceeds it. The sink limits how often cues play, on its own thread and
//! by wall clock: no two earcons closer than [`EarconConfig::min_gap`] (default 3 s), the same
//! kind not again within [`EarconConfig::repeat_gap`] (default 20 s). Suppressed cues are
//! counted ([`EarconStats::rate_limited`]).
//!
//! ## Real-time boundary
//!
//! The output callback pops [`Cue`]s from an `rtrb` ring, renders them with [`Synth`],
//! converts to the device's sample format and bumps atomic counters. It never allocates,
//! locks, logs, does I/O or blocks. A full ring hands the cue back: it is dropped and counted
//! ([`EarconStats::dropped`]), never overwriting one already queued.
//!
//! ## Example
//!
//! ```no_run
//! use callpulse::alert::{AlertKind, Severity};
//! use callpulse::capture::device::{Direction, find, host};
//! use callpulse::earcon::{EarconConfig, play_once};
//!
//! # fn main() -> Result<(), callpulse::Error> {
//! let host = host(None)?;
//! let headset = find(&host, None, Direction::Output)?;
//! play_once(&headset, EarconConfig::default(), AlertKind::DeadAir, Severity::Warn)?;
//! # Ok(())
//! # }
//! ```

pub mod pattern;
pub mod player;

use std::time::Duration;

use crate::error::ConfigError;

pub use pattern::{ALL_KINDS, Cue, Pattern, Synth, Tone, pattern};
pub use player::{EarconSink, EarconStats, StatsHandle, play_once};

/// How loud earcons are and how often they may play.
#[derive(Debug, Clone, PartialEq)]
pub struct EarconConfig {
    /// Peak level in dBFS (−60..=−6; default −20). No output sample exceeds it.
    pub level_dbfs: f32,
    /// No two earcons start closer than this (default 3 s).
    pub min_gap: Duration,
    /// The same alert kind does not sound again sooner than this (default 20 s).
    pub repeat_gap: Duration,
}

impl Default for EarconConfig {
    fn default() -> Self {
        Self {
            level_dbfs: -20.0,
            min_gap: Duration::from_secs(3),
            repeat_gap: Duration::from_secs(20),
        }
    }
}

/// The longest [`EarconConfig::min_gap`] or [`EarconConfig::repeat_gap`] accepted.
pub const MAX_GAP: Duration = Duration::from_secs(3600);

impl EarconConfig {
    /// Checks every field.
    ///
    /// # Examples
    /// ```
    /// use callpulse::earcon::EarconConfig;
    ///
    /// let loud = EarconConfig { level_dbfs: 0.0, ..EarconConfig::default() };
    /// assert_eq!(loud.validate().unwrap_err().field, "earcon.level_dbfs");
    /// ```
    ///
    /// # Errors
    /// [`ConfigError`] naming `earcon.level_dbfs` (not finite or outside −60..=−6 dBFS),
    /// `earcon.min_gap` or `earcon.repeat_gap` (above [`MAX_GAP`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        pattern::validate_level(self.level_dbfs)?;
        for (field, gap) in [
            ("earcon.min_gap", self.min_gap),
            ("earcon.repeat_gap", self.repeat_gap),
        ] {
            if gap > MAX_GAP {
                return Err(ConfigError::new(
                    field,
                    format!("{gap:?} is longer than {MAX_GAP:?}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_field() {
        assert!(EarconConfig::default().validate().is_ok());
        for (config, field) in [
            (
                EarconConfig {
                    level_dbfs: -70.0,
                    ..Default::default()
                },
                "earcon.level_dbfs",
            ),
            (
                EarconConfig {
                    level_dbfs: f32::NAN,
                    ..Default::default()
                },
                "earcon.level_dbfs",
            ),
            (
                EarconConfig {
                    min_gap: Duration::from_secs(7200),
                    ..Default::default()
                },
                "earcon.min_gap",
            ),
            (
                EarconConfig {
                    repeat_gap: Duration::from_secs(7200),
                    ..Default::default()
                },
                "earcon.repeat_gap",
            ),
        ] {
            let e = config.validate().unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.to_string().contains(field), "{e}");
        }
    }
}
