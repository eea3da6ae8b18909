//! Settings of the agitation and composure stage (`agitation.*` in a config file).

use serde::Deserialize;

use crate::config::in_range;
use crate::error::ConfigError;
use crate::prosody::ProsodySettings;
use crate::prosody::baseline::BaselineSettings;

/// Agitation and composure settings. Times are seconds of the party's own *speech* unless
/// they say otherwise. The model's score thresholds live in the model file
/// ([`super::AgitationModel`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgitationConfig {
    /// Caller speech in the sliding window the agitation features are measured over (default
    /// 1.5 s: long enough for a stable pitch mean, short enough to react within an angry turn).
    pub window_s: f32,
    /// Agent speech in the sliding window of the composure rules (default 4 s: speaking rate
    /// needs more syllables than pitch needs frames).
    pub agent_window_s: f32,
    /// Speech the window (or the caller's current turn) needs before its features count
    /// (default 0.5 s).
    pub min_window_s: f32,
    /// A pause of the caller's own at least this long (wall clock) starts a new turn, and the
    /// agitation score then measures the new turn alone (its last `window_s` of speech), once
    /// it holds `min_window_s` of speech; until then the score of the turn before is held
    /// (default 1 s; 0 lets one window slide across turns). Without it, the first second of an
    /// angry turn is averaged with the calm end of the turn before: measured on simulated
    /// escalation calls, the median alert delay was twice as long.
    pub turn_pause_s: f32,
    /// Speech over which each party's baseline forms (default 20 s).
    pub baseline_s: f32,
    /// Speech after which the baseline is used; `agitation` is `null` before (default 8 s).
    pub min_baseline_s: f32,
    /// Quantile of the first snapshots that anchors the baseline (default 0.25).
    pub baseline_quantile: f32,
    /// Speech in which adaptation moves the baseline by one typical spread (default 300 s).
    pub adapt_s: f32,
    /// Speech between baseline snapshots (default 0.5 s).
    pub snapshot_s: f32,
    /// Dip around a syllable nucleus in the loudness envelope (default 2 dB).
    pub syllable_prominence_db: f32,
    /// Least time between syllable nuclei (default 60 ms).
    pub syllable_gap_ms: f32,
    /// Continuous sound without a pause beyond this is treated as music or tones and kept out
    /// of the features (default 20 s of wall-clock time).
    pub music_run_s: f32,
    /// Caller speech with the score above the model's `warn` threshold before
    /// `caller_agitation_rising` fires (default 0.3 s).
    pub rise_s: f32,
    /// Least time between two alerts of one kind, wall clock (default 60 s): alert fatigue is
    /// the first complaint about such products.
    pub alert_interval_s: f32,
    /// A `warn` may be followed by a `critical` of the same kind this soon (default 15 s).
    pub escalate_after_s: f32,
    /// The agent's level above their baseline that counts as getting louder (default 6 dB).
    pub loud_db: f32,
    /// The agent's pitch above their baseline that counts as getting higher, together with
    /// half of `loud_db` (default 3 semitones).
    pub loud_pitch_st: f32,
    /// Agent speech that must stay louder/higher before `agent_loudness_rising` (default 2 s).
    pub composure_s: f32,
    /// Speaking rate above the agent's baseline that counts as fast (default 3 syllables/s).
    pub pace_rise_syl_s: f32,
    /// Speaking rate that is fast whatever the baseline (default 7 syllables/s).
    pub pace_max_syl_s: f32,
    /// Agent speech that must stay fast before `agent_pace_fast` (default 5 s).
    pub pace_s: f32,
}

impl Default for AgitationConfig {
    fn default() -> Self {
        Self {
            window_s: 1.5,
            agent_window_s: 4.0,
            min_window_s: 0.5,
            turn_pause_s: 1.0,
            baseline_s: 20.0,
            min_baseline_s: 8.0,
            baseline_quantile: 0.25,
            adapt_s: 300.0,
            snapshot_s: 0.5,
            syllable_prominence_db: 2.0,
            syllable_gap_ms: 60.0,
            music_run_s: 20.0,
            rise_s: 0.3,
            alert_interval_s: 60.0,
            escalate_after_s: 15.0,
            loud_db: 6.0,
            loud_pitch_st: 3.0,
            composure_s: 2.0,
            pace_rise_syl_s: 3.0,
            pace_max_syl_s: 7.0,
            pace_s: 5.0,
        }
    }
}

impl AgitationConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("agitation.window_s", self.window_s, 0.5, 30.0, " s")?;
        in_range(
            "agitation.agent_window_s",
            self.agent_window_s,
            0.5,
            30.0,
            " s",
        )?;
        in_range(
            "agitation.min_window_s",
            self.min_window_s,
            0.1,
            self.window_s,
            " s",
        )?;
        in_range("agitation.turn_pause_s", self.turn_pause_s, 0.0, 60.0, " s")?;
        in_range("agitation.baseline_s", self.baseline_s, 1.0, 30.0, " s")?;
        in_range(
            "agitation.min_baseline_s",
            self.min_baseline_s,
            0.5,
            self.baseline_s,
            " s",
        )?;
        in_range(
            "agitation.baseline_quantile",
            self.baseline_quantile,
            0.05,
            0.5,
            "",
        )?;
        in_range("agitation.adapt_s", self.adapt_s, 10.0, 36_000.0, " s")?;
        in_range("agitation.snapshot_s", self.snapshot_s, 0.1, 5.0, " s")?;
        in_range(
            "agitation.syllable_prominence_db",
            self.syllable_prominence_db,
            0.5,
            20.0,
            " dB",
        )?;
        in_range(
            "agitation.syllable_gap_ms",
            self.syllable_gap_ms,
            0.0,
            500.0,
            " ms",
        )?;
        in_range("agitation.music_run_s", self.music_run_s, 2.0, 3600.0, " s")?;
        in_range("agitation.rise_s", self.rise_s, 0.0, 60.0, " s")?;
        in_range(
            "agitation.alert_interval_s",
            self.alert_interval_s,
            0.0,
            3600.0,
            " s",
        )?;
        in_range(
            "agitation.escalate_after_s",
            self.escalate_after_s,
            0.0,
            3600.0,
            " s",
        )?;
        in_range("agitation.loud_db", self.loud_db, 1.0, 40.0, " dB")?;
        in_range(
            "agitation.loud_pitch_st",
            self.loud_pitch_st,
            0.5,
            24.0,
            " st",
        )?;
        in_range("agitation.composure_s", self.composure_s, 0.0, 60.0, " s")?;
        in_range(
            "agitation.pace_rise_syl_s",
            self.pace_rise_syl_s,
            0.1,
            10.0,
            " syllables/s",
        )?;
        in_range(
            "agitation.pace_max_syl_s",
            self.pace_max_syl_s,
            2.0,
            20.0,
            " syllables/s",
        )?;
        in_range("agitation.pace_s", self.pace_s, 0.0, 60.0, " s")?;
        Ok(())
    }

    /// The prosody settings of `role`'s channel for frames `hop_s` seconds apart.
    pub fn prosody_for(&self, role: crate::role::Role, hop_s: f32) -> ProsodySettings {
        let mut s = self.prosody(hop_s);
        if role == crate::role::Role::Agent {
            // The composure rules watch the agent's last seconds of speech across turns.
            s.turn_pause_frames = 0;
            s.window_frames = (self.agent_window_s / hop_s).round().max(1.0) as usize;
        }
        s
    }

    /// The prosody settings for frames `hop_s` seconds apart (the caller's window).
    pub fn prosody(&self, hop_s: f32) -> ProsodySettings {
        let frames = |s: f32| (s / hop_s).round().max(1.0);
        ProsodySettings {
            window_frames: frames(self.window_s) as usize,
            min_window_frames: frames(self.min_window_s) as usize,
            min_voiced_frames: frames(0.2) as u32,
            syllable_prominence_db: self.syllable_prominence_db,
            syllable_gap_frames: (self.syllable_gap_ms / 1000.0 / hop_s).round() as u32,
            music_run_frames: frames(self.music_run_s) as u32,
            turn_pause_frames: (self.turn_pause_s / hop_s).round() as u32,
            baseline: BaselineSettings {
                snapshot_s: self.snapshot_s,
                baseline_s: self.baseline_s,
                min_s: self.min_baseline_s,
                quantile: self.baseline_quantile,
                adapt_s: self.adapt_s,
            },
            hop_s,
        }
    }
}
