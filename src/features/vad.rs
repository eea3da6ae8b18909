//! Voice activity per channel.
//!
//! A frame is speech when its level stands far enough above the channel's adaptive noise floor
//! and it looks like voice (periodic, or clearly louder than the floor), with a short onset
//! confirmation and a hangover that bridges the short pauses inside a turn.
//!
//! * The **noise floor** follows the quietest frames quickly and rises slowly (minimum
//!   statistics in the manner of R. Martin, "Noise power spectral density estimation based on
//!   optimal smoothing and minimum statistics", IEEE TSAP 2001, reduced to a per-frame level).
//! * **Voicing** comes from the pitch tracker's clarity.
//!
//! Everything lives in fixed fields; [`Vad::process`] does not allocate.

use serde::Deserialize;

use crate::error::ConfigError;

/// Voice activity detector settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// Level above the noise floor, in dB, that a voiced frame needs to count as speech
    /// (default 9).
    pub threshold_db: f32,
    /// Level above the noise floor, in dB, at which even an aperiodic frame counts as speech
    /// (default 18).
    pub loud_threshold_db: f32,
    /// How long speech is held after the last speech-like frame, in ms (default 200).
    pub hangover_ms: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 9.0,
            loud_threshold_db: 18.0,
            hangover_ms: 200.0,
        }
    }
}

impl VadConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=60.0).contains(&self.threshold_db) {
            return Err(ConfigError::new(
                "vad.threshold_db",
                "must lie in [0, 60] dB",
            ));
        }
        if !(self.threshold_db..=80.0).contains(&self.loud_threshold_db) {
            return Err(ConfigError::new(
                "vad.loud_threshold_db",
                "must lie between vad.threshold_db and 80 dB",
            ));
        }
        if !(0.0..=2000.0).contains(&self.hangover_ms) {
            return Err(ConfigError::new(
                "vad.hangover_ms",
                "must lie in [0, 2000] ms",
            ));
        }
        Ok(())
    }
}

/// What the VAD looks at for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadInput {
    /// Frame level in dBFS.
    pub level_db: f32,
    /// Periodicity (pitch clarity) in [0, 1].
    pub clarity: f32,
    /// The frame lies in a gap of the input.
    pub gap: bool,
}

/// Per-channel voice activity detector.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    hop_s: f32,
    floor_db: f32,
    frames_seen: u32,
    hangover_frames: u32,
    hold: u32,
    candidate_run: u32,
}

/// Floor rise per second when the level stays above it (dB/s).
const FLOOR_RISE_DB_PER_S: f32 = 1.0;
/// Voiced frames with at least this clarity count as voice.
const VOICED_CLARITY: f32 = 0.5;

impl Vad {
    /// A detector for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range.
    pub fn new(config: &VadConfig, hop_s: f32) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            hop_s,
            floor_db: f32::NAN,
            frames_seen: 0,
            hangover_frames: (config.hangover_ms / 1000.0 / hop_s).round() as u32,
            hold: 0,
            candidate_run: 0,
        })
    }

    /// The current noise floor estimate in dBFS (NaN before the first frame).
    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Decides one frame.
    pub fn process(&mut self, input: &VadInput) -> bool {
        if input.gap {
            self.hold = 0;
            self.candidate_run = 0;
            return false;
        }
        let level = input.level_db;
        self.frames_seen = self.frames_seen.saturating_add(1);
        if self.floor_db.is_nan() || level < self.floor_db {
            self.floor_db = level;
        } else {
            self.floor_db += FLOOR_RISE_DB_PER_S * self.hop_s;
        }
        let above = level - self.floor_db;
        let speechlike = (above >= self.config.threshold_db && input.clarity >= VOICED_CLARITY)
            || above >= self.config.loud_threshold_db;
        if speechlike {
            self.candidate_run += 1;
        } else {
            self.candidate_run = 0;
        }
        if self.candidate_run >= 2 {
            self.hold = self.hangover_frames + 1;
        }
        if self.hold > 0 {
            self.hold -= 1;
            true
        } else {
            false
        }
    }
}
