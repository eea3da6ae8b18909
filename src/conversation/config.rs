//! Thresholds of the conversation stage.

use serde::Deserialize;

use crate::config::in_range;
use crate::error::ConfigError;

/// Conversation-dynamics settings (all durations in milliseconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationConfig {
    /// A talk spurt shorter than this that does not take the floor is a backchannel
    /// ("mm-hmm", "yeah"); a newcomer who talks at least this long during the holder's speech
    /// is competing for the floor (default 500).
    pub backchannel_max_ms: f32,
    /// Spurts shorter than this are too short to be a backchannel (clicks, breaths, leftover
    /// echo) and are not reported as one (default 120).
    pub min_backchannel_ms: f32,
    /// A holder who stops within this time after the newcomer's onset was finishing the turn:
    /// the overlap is a turn-end (collaborative) overlap, not an interruption (default 500).
    pub turn_end_ms: f32,
    /// Overlaps shorter than this are not reported as `overlap` events (onset and offset
    /// jitter of the two detectors); backchannels are reported whatever their overlap
    /// (default 100).
    pub min_overlap_ms: f32,
    /// A short spurt in a silence of the holder counts as a backchannel when the holder's
    /// silence around it lasts at most this long (default 1000).
    pub pause_backchannel_ms: f32,
    /// Two spurts of one party separated by a silence at most this long are one stretch of
    /// talk for the overlap rules (a pause inside an utterance, a detector that drops out for
    /// a moment): a holder who pauses this briefly still holds, and resumes as the holder, not
    /// as a newcomer; a newcomer's talk runs on across such a pause (default 300).
    pub join_pause_ms: f32,
    /// A holder who falls silent at least this long after an overlap's onset while the
    /// newcomer goes on talking has yielded: for the overlap's class its talk ends at its last
    /// extent frame before that silence, even if it resumes within `join_pause_ms` (or the
    /// detector's hangover); 0 turns the rule off (default 250).
    pub yield_pause_ms: f32,
    /// Both parties silent at least this long while the call is active is dead air
    /// (default 5000).
    pub dead_air_ms: f32,
    /// One party holding the floor at least this long is a monologue (default 30000).
    pub monologue_ms: f32,
    /// An `agent_interrupting` alert is raised at most once in this time; later ones are
    /// counted as suppressed (default 10000).
    pub interrupt_alert_debounce_ms: f32,
    /// The third agent interruption within this time makes the alert `critical`
    /// (default 120000).
    pub interrupt_critical_window_ms: f32,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            backchannel_max_ms: 500.0,
            min_backchannel_ms: 120.0,
            turn_end_ms: 500.0,
            min_overlap_ms: 100.0,
            pause_backchannel_ms: 1000.0,
            join_pause_ms: 300.0,
            yield_pause_ms: 250.0,
            dead_air_ms: 5000.0,
            monologue_ms: 30_000.0,
            interrupt_alert_debounce_ms: 10_000.0,
            interrupt_critical_window_ms: 120_000.0,
        }
    }
}

impl ConversationConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fields: [(&'static str, f32, f32, f32); 11] = [
            (
                "conversation.min_backchannel_ms",
                self.min_backchannel_ms,
                0.0,
                self.backchannel_max_ms,
            ),
            (
                "conversation.backchannel_max_ms",
                self.backchannel_max_ms,
                50.0,
                5_000.0,
            ),
            ("conversation.turn_end_ms", self.turn_end_ms, 0.0, 5_000.0),
            (
                "conversation.min_overlap_ms",
                self.min_overlap_ms,
                0.0,
                5_000.0,
            ),
            (
                "conversation.pause_backchannel_ms",
                self.pause_backchannel_ms,
                0.0,
                10_000.0,
            ),
            (
                "conversation.join_pause_ms",
                self.join_pause_ms,
                0.0,
                2_000.0,
            ),
            (
                "conversation.yield_pause_ms",
                self.yield_pause_ms,
                0.0,
                2_000.0,
            ),
            (
                "conversation.dead_air_ms",
                self.dead_air_ms,
                500.0,
                600_000.0,
            ),
            (
                "conversation.monologue_ms",
                self.monologue_ms,
                1_000.0,
                3_600_000.0,
            ),
            (
                "conversation.interrupt_alert_debounce_ms",
                self.interrupt_alert_debounce_ms,
                0.0,
                3_600_000.0,
            ),
            (
                "conversation.interrupt_critical_window_ms",
                self.interrupt_critical_window_ms,
                0.0,
                3_600_000.0,
            ),
        ];
        fields
            .into_iter()
            .try_for_each(|(field, v, lo, hi)| in_range(field, v, lo, hi, " ms"))
    }
}
