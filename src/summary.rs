//! The closing `summary` record of a call.

use serde::Serialize;

use crate::agitation::AgitationSummary;
use crate::capture::CaptureReport;
use crate::conversation::ConversationSummary;
use crate::latency::LatencySummary;
use crate::stats::PartySummary;

/// The summary of a whole call, written last.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Length of the input in seconds (the longest party).
    pub duration_s: f64,
    /// Frames analysed.
    pub frames: u64,
    /// Frame hop in seconds.
    pub hop_s: f64,
    /// Rate the analysis ran at, in Hz.
    pub analysis_rate: u32,
    /// Agent talk time over both parties' talk time (`null` unless both parties are present
    /// and someone spoke).
    pub talk_ratio_agent: Option<f64>,
    /// Turn-taking figures: talk time, overlap, interruptions, backchannels, monologues, dead
    /// air, response gaps and alert counts.
    #[serde(flatten)]
    pub conversation: ConversationSummary,
    /// Caller agitation (peak, when, the last minute, de-escalation) and the counts of the
    /// agitation and composure alerts.
    pub agitation: AgitationSummary,
    /// The agent's figures (`null` when the input has no agent channel).
    pub agent: Option<PartySummary>,
    /// The caller's figures (`null` when the input has no caller channel).
    pub caller: Option<PartySummary>,
    /// Damage to the input that was recovered from.
    pub input: InputSummary,
    /// Records that sinks dropped (overflow policy) before this summary.
    pub records_dropped: u64,
    /// Live capture only: latency, rings, drops and xruns (absent for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSummary>,
}

/// How a live call's capture and analysis kept up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSummary {
    /// From the capture of the newest sample in a frame's window to the frame's features
    /// being handed to the sinks. Includes the pitch tracker's look-ahead
    /// (`algorithmic_delay_ms`), the device buffering and the wait for a whole block.
    pub capture_to_frame_ms: LatencySummary,
    /// From the capture of the newest sample in the deciding frame's window to the alert
    /// being handed to the sinks.
    pub capture_to_alert_ms: LatencySummary,
    /// The part of the latency that the analysis itself needs: the frames the pitch tracker
    /// looks ahead, in ms.
    pub algorithmic_delay_ms: f64,
    /// Per capture stream: rates, callbacks, drops, gaps, xruns, ring fill, drift.
    pub capture: Vec<CaptureReport>,
}

/// Damage to the input that the analysis recovered from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputSummary {
    /// Set when the input ended early: how, and after how much.
    pub truncated: Option<String>,
}
