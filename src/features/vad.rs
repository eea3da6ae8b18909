//! Voice activity per channel.
//!
//! A frame is speech when it stands out from the channel's noise floor *and* comes close to the
//! level of the channel's own talker, with a short onset confirmation and a hangover that
//! bridges the pauses inside a turn:
//!
//! * **Noise floor by minimum statistics** (R. Martin, "Noise power spectral density estimation
//!   based on optimal smoothing and minimum statistics", IEEE Trans. Speech Audio Process.
//!   9(5), 2001, reduced to the frame level): the minimum frame level over a sliding window of
//!   about 3 s, kept as the minima of 100 ms sub-windows in a fixed ring, so the floor follows a
//!   noise that rises as well as one that falls, and a long turn (with its pauses) does not
//!   drag it up.
//! * **Voicing**: periodic frames (the pitch tracker's clarity) need less margin above the
//!   floor than aperiodic ones, which keeps weak voiced speech in noise and rejects noise
//!   bursts (cf. the periodicity cue of ITU-T G.729 Annex B and of Sohn et al.'s statistical
//!   VAD, used here as a simple two-threshold rule).
//! * **Own-talker level**: close-talk and telephone channels carry the other talkers' speech
//!   (crosstalk, echo) well below the owner's level. The detector tracks the owner's speech
//!   level from voiced frames at least `learn_snr_db` above the floor (an asymmetric quantile
//!   tracker of their levels that rises fast and falls slowly) and rejects frames more than
//!   `crosstalk_db` below it. Until the owner has been heard the gate is open (requiring more
//!   margin then would lock out a talker on a noisy line for good). Rejecting
//!   leakage for good needs the other channel too; that is the conversation stage's job.
//! * **Consonants and noises**: an aperiodic frame counts only within `unvoiced_reach_ms` of a
//!   voiced one, so consonants and breaths at the edges of voiced speech are kept while clicks
//!   and rustle far from any voicing are not.
//! * **Onset and hangover**: two consecutive speech-like frames start speech (≤ 20 ms after the
//!   voice reaches the threshold); speech is held `hangover_ms` after the last one.
//!
//! Fixed-size state only: [`Vad::process`] does not allocate.

use serde::Deserialize;

use crate::error::ConfigError;

/// Voice activity detector settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// Margin above the noise floor, in dB, that a voiced frame needs (default 6).
    pub threshold_db: f32,
    /// Margin above the noise floor, in dB, that an aperiodic frame needs (default 14).
    pub loud_threshold_db: f32,
    /// Pitch clarity from which a frame counts as voiced (default 0.5).
    pub voiced_clarity: f32,
    /// Frames more than this many dB below the channel's own speech level are taken as
    /// leakage of another talker, not speech (default 15; 0 disables the gate).
    pub crosstalk_db: f32,
    /// Margin above the floor, in dB, of voiced frames that teach the channel's own speech
    /// level (default 15).
    pub learn_snr_db: f32,
    /// How long after a voiced frame an aperiodic frame (a consonant, a breath) may still
    /// count as speech, in ms (default 200). Aperiodic sounds far from any voicing (clicks,
    /// rustle, door slams) are not speech.
    pub unvoiced_reach_ms: f32,
    /// How long speech is held after the last speech-like frame, in ms (default 250).
    pub hangover_ms: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 8.0,
            loud_threshold_db: 12.0,
            voiced_clarity: 0.5,
            crosstalk_db: 15.0,
            learn_snr_db: 15.0,
            unvoiced_reach_ms: 200.0,
            hangover_ms: 250.0,
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
        if !(0.0..=1.0).contains(&self.voiced_clarity) {
            return Err(ConfigError::new("vad.voiced_clarity", "must lie in [0, 1]"));
        }
        if !(0.0..=80.0).contains(&self.crosstalk_db) {
            return Err(ConfigError::new(
                "vad.crosstalk_db",
                "must lie in [0, 80] dB",
            ));
        }
        if !(0.0..=80.0).contains(&self.learn_snr_db) {
            return Err(ConfigError::new(
                "vad.learn_snr_db",
                "must lie in [0, 80] dB",
            ));
        }
        if !(0.0..=2000.0).contains(&self.unvoiced_reach_ms) {
            return Err(ConfigError::new(
                "vad.unvoiced_reach_ms",
                "must lie in [0, 2000] ms",
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

/// Sub-windows of the minimum-statistics window.
const SUB_WINDOWS: usize = 30;
/// Length of one sub-window in seconds.
const SUB_WINDOW_S: f32 = 0.1;
/// Quantile of the talker's speech levels that the level tracker follows.
const LEVEL_QUANTILE: f32 = 0.8;
/// Step of the level tracker in dB per frame (up: q·step, down: (1 − q)·step).
const LEVEL_STEP_DB: f32 = 1.0;

/// Per-channel voice activity detector.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    sub_frames: u32,
    sub_min: [f32; SUB_WINDOWS],
    sub_filled: usize,
    sub_next: usize,
    cur_min: f32,
    cur_count: u32,
    floor_db: f32,
    speech_db: Option<f32>,
    hangover_frames: u32,
    reach_frames: u32,
    since_voiced: u32,
    hold: u32,
    run: u32,
}

impl Vad {
    /// A detector for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range.
    pub fn new(config: &VadConfig, hop_s: f32) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            sub_frames: ((SUB_WINDOW_S / hop_s).round() as u32).max(1),
            sub_min: [f32::INFINITY; SUB_WINDOWS],
            sub_filled: 0,
            sub_next: 0,
            cur_min: f32::INFINITY,
            cur_count: 0,
            floor_db: f32::NAN,
            speech_db: None,
            hangover_frames: (config.hangover_ms / 1000.0 / hop_s).round() as u32,
            reach_frames: (config.unvoiced_reach_ms / 1000.0 / hop_s).round() as u32,
            since_voiced: u32::MAX,
            hold: 0,
            run: 0,
        })
    }

    /// The current noise floor estimate in dBFS (NaN before the first frame).
    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }

    /// The channel's own speech level estimate in dBFS, once its talker has been heard.
    pub fn speech_level_db(&self) -> Option<f32> {
        self.speech_db
    }

    fn track_floor(&mut self, level: f32) {
        self.cur_min = self.cur_min.min(level);
        self.cur_count += 1;
        if self.cur_count == self.sub_frames {
            self.sub_min[self.sub_next] = self.cur_min;
            self.sub_next = (self.sub_next + 1) % SUB_WINDOWS;
            self.sub_filled = (self.sub_filled + 1).min(SUB_WINDOWS);
            self.cur_min = f32::INFINITY;
            self.cur_count = 0;
        }
        let window_min = self.sub_min[..self.sub_filled]
            .iter()
            .fold(self.cur_min, |m, &v| m.min(v));
        self.floor_db = window_min;
    }

    /// Decides one frame.
    pub fn process(&mut self, input: &VadInput) -> bool {
        if input.gap {
            self.hold = 0;
            self.run = 0;
            return false;
        }
        let level = input.level_db;
        self.track_floor(level);
        let snr = level - self.floor_db;
        let voiced = input.clarity >= self.config.voiced_clarity && snr >= self.config.threshold_db;
        self.since_voiced = if voiced {
            0
        } else {
            self.since_voiced.saturating_add(1)
        };
        let mut speechlike = voiced
            || (snr >= self.config.loud_threshold_db && self.since_voiced <= self.reach_frames);
        if let Some(talker) = self.speech_db
            && self.config.crosstalk_db > 0.0
            && level < talker - self.config.crosstalk_db
        {
            speechlike = false;
        }
        if speechlike && voiced && snr >= self.config.learn_snr_db {
            self.speech_db = Some(match self.speech_db {
                None => level,
                Some(s) if level > s => s + LEVEL_QUANTILE * LEVEL_STEP_DB,
                Some(s) => s - (1.0 - LEVEL_QUANTILE) * LEVEL_STEP_DB,
            });
        }
        self.run = if speechlike { self.run + 1 } else { 0 };
        if self.run >= 2 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(vad: &mut Vad, frames: &[(f32, f32)]) -> Vec<bool> {
        frames
            .iter()
            .map(|&(level_db, clarity)| {
                vad.process(&VadInput {
                    level_db,
                    clarity,
                    gap: false,
                })
            })
            .collect()
    }

    fn vad() -> Vad {
        Vad::new(&VadConfig::default(), 0.01).unwrap()
    }

    #[test]
    fn silence_and_steady_noise_are_not_speech() {
        let mut v = vad();
        assert!(run(&mut v, &[(-120.0, 0.0); 300]).iter().all(|s| !s));
        let noise: Vec<(f32, f32)> = (0..600)
            .map(|i| (-50.0 + (i % 7) as f32 * 0.5, 0.2))
            .collect();
        let mut v = vad();
        assert!(run(&mut v, &noise)[100..].iter().all(|s| !s));
    }

    #[test]
    fn a_voiced_burst_starts_within_20_ms_and_is_held_for_the_hangover() {
        let mut v = vad();
        let mut frames = vec![(-60.0, 0.1); 300];
        frames.extend(vec![(-30.0, 0.9); 100]);
        frames.extend(vec![(-60.0, 0.1); 100]);
        let d = run(&mut v, &frames);
        assert!(!d[299] && !d[300] && d[301], "onset on the second frame");
        assert!(d[399]);
        assert!(d[400 + 24] && !d[400 + 26], "held 250 ms");
    }

    #[test]
    fn crosstalk_far_below_the_talker_is_rejected() {
        let mut v = vad();
        let mut frames = vec![(-65.0, 0.1); 200];
        frames.extend(vec![(-30.0, 0.9); 200]); // the owner
        frames.extend(vec![(-65.0, 0.1); 100]);
        frames.extend(vec![(-55.0, 0.9); 200]); // another talker, 25 dB down
        let d = run(&mut v, &frames);
        assert!(d[300]);
        assert!(d[530..].iter().all(|s| !s));
    }

    #[test]
    fn gaps_end_speech() {
        let mut v = vad();
        run(&mut v, &[(-30.0, 0.9); 50]);
        assert!(!v.process(&VadInput {
            level_db: -30.0,
            clarity: 0.9,
            gap: true
        }));
    }
}
