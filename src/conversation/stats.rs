//! Running figures of the conversation for the summary, in fixed memory.

use serde::Serialize;

use crate::alert::AlertKind;
use crate::record::round;
use crate::role::Role;

/// Response gaps are histogrammed from −`GAP_SPAN_S` to +`GAP_SPAN_S` in frame steps.
const GAP_SPAN_S: f64 = 10.0;

/// A pair of figures, one per party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerParty<T> {
    /// The agent's.
    pub agent: T,
    /// The caller's.
    pub caller: T,
}

impl<T> PerParty<T> {
    fn get_mut(&mut self, role: Role) -> &mut T {
        match role {
            Role::Agent => &mut self.agent,
            Role::Caller => &mut self.caller,
        }
    }
}

/// Counts of alerts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AlertCounts {
    /// `agent_interrupting` alerts raised.
    pub agent_interrupting: u32,
    /// `agent_monologue` alerts raised.
    pub agent_monologue: u32,
    /// `dead_air` alerts raised.
    pub dead_air: u32,
    /// Alerts held back by debouncing.
    pub suppressed: u32,
}

/// The conversation's figures in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    /// Talk time per party in seconds (talk spurts without the detector's hangover).
    pub talk_s: PerParty<f64>,
    /// Seconds both parties talked at once (overlap events).
    pub overlap_s: f64,
    /// `overlap_s` as a percentage of the call's duration.
    pub overlap_pct: f64,
    /// Interruptions by party.
    pub interruptions: PerParty<u32>,
    /// Backchannels by party.
    pub backchannels: PerParty<u32>,
    /// Overlaps at the end of a turn (collaborative), by the newcomer.
    pub turn_end_overlaps: PerParty<u32>,
    /// Turns per party.
    pub turns: PerParty<u32>,
    /// Longest time each party held the floor, in seconds.
    pub longest_monologue_s: PerParty<f64>,
    /// Seconds of dead air.
    pub dead_air_s: f64,
    /// `dead_air_s` as a percentage of the call's duration.
    pub dead_air_pct: f64,
    /// Median time from the end of one party's turn to the start of the other's, in seconds
    /// (negative when the next turn started in overlap); `null` without a floor change.
    pub median_response_gap_s: Option<f64>,
    /// Alerts raised by kind.
    pub alerts: AlertCounts,
}

/// Running figures, updated by the conversation stage.
#[derive(Debug, Clone)]
pub struct ConversationStats {
    hop_s: f64,
    talk_frames: PerParty<u64>,
    overlap_frames: u64,
    interruptions: PerParty<u32>,
    backchannels: PerParty<u32>,
    turn_end: PerParty<u32>,
    turns: PerParty<u32>,
    longest_turn: PerParty<u64>,
    dead_air_frames: u64,
    gaps: Vec<u32>,
    gap_count: u64,
    alerts: AlertCounts,
}

impl ConversationStats {
    /// Empty figures for frames `hop_s` seconds apart (allocates the response-gap histogram).
    pub fn new(hop_s: f64) -> Self {
        let bins = (2.0 * GAP_SPAN_S / hop_s).ceil() as usize + 1;
        Self {
            hop_s,
            talk_frames: PerParty::default(),
            overlap_frames: 0,
            interruptions: PerParty::default(),
            backchannels: PerParty::default(),
            turn_end: PerParty::default(),
            turns: PerParty::default(),
            longest_turn: PerParty::default(),
            dead_air_frames: 0,
            gaps: vec![0; bins],
            gap_count: 0,
            alerts: AlertCounts::default(),
        }
    }

    pub(crate) fn talk(&mut self, role: Role, frames: u64) {
        *self.talk_frames.get_mut(role) += frames;
    }

    pub(crate) fn overlap(&mut self, frames: u64) {
        self.overlap_frames += frames;
    }

    pub(crate) fn interruption(&mut self, by: Role) {
        *self.interruptions.get_mut(by) += 1;
    }

    pub(crate) fn backchannel(&mut self, by: Role) {
        *self.backchannels.get_mut(by) += 1;
    }

    pub(crate) fn turn_end_overlap(&mut self, by: Role) {
        *self.turn_end.get_mut(by) += 1;
    }

    pub(crate) fn turn(&mut self, who: Role, frames: u64) {
        *self.turns.get_mut(who) += 1;
        let longest = self.longest_turn.get_mut(who);
        *longest = (*longest).max(frames);
    }

    pub(crate) fn dead_air(&mut self, frames: u64) {
        self.dead_air_frames += frames;
    }

    pub(crate) fn response_gap(&mut self, frames: i64) {
        let centre = (self.gaps.len() / 2) as i64;
        let bin = (frames + centre).clamp(0, self.gaps.len() as i64 - 1) as usize;
        self.gaps[bin] += 1;
        self.gap_count += 1;
    }

    pub(crate) fn alert(&mut self, kind: AlertKind) {
        match kind {
            AlertKind::AgentInterrupting => self.alerts.agent_interrupting += 1,
            AlertKind::AgentMonologue => self.alerts.agent_monologue += 1,
            AlertKind::DeadAir => self.alerts.dead_air += 1,
            // Raised and counted by the agitation stage.
            _ => {}
        }
    }

    pub(crate) fn suppressed(&mut self) {
        self.alerts.suppressed += 1;
    }

    /// Talk time of `role` so far in seconds.
    pub fn talk_s(&self, role: Role) -> f64 {
        let f = match role {
            Role::Agent => self.talk_frames.agent,
            Role::Caller => self.talk_frames.caller,
        };
        f as f64 * self.hop_s
    }

    fn median_gap_s(&self) -> Option<f64> {
        if self.gap_count == 0 {
            return None;
        }
        let half = self.gap_count.div_ceil(2);
        let mut seen = 0u64;
        let centre = (self.gaps.len() / 2) as i64;
        for (i, &c) in self.gaps.iter().enumerate() {
            seen += u64::from(c);
            if seen >= half {
                return Some(round((i as i64 - centre) as f64 * self.hop_s, 2));
            }
        }
        None
    }

    /// The figures for a call of `duration_s` seconds.
    pub fn summary(&self, duration_s: f64) -> ConversationSummary {
        let pct = |frames: u64| {
            if duration_s > 0.0 {
                round(100.0 * frames as f64 * self.hop_s / duration_s, 2)
            } else {
                0.0
            }
        };
        let secs = |frames: u64| round(frames as f64 * self.hop_s, 2);
        ConversationSummary {
            talk_s: PerParty {
                agent: secs(self.talk_frames.agent),
                caller: secs(self.talk_frames.caller),
            },
            overlap_s: secs(self.overlap_frames),
            overlap_pct: pct(self.overlap_frames),
            interruptions: self.interruptions,
            backchannels: self.backchannels,
            turn_end_overlaps: self.turn_end,
            turns: self.turns,
            longest_monologue_s: PerParty {
                agent: secs(self.longest_turn.agent),
                caller: secs(self.longest_turn.caller),
            },
            dead_air_s: secs(self.dead_air_frames),
            dead_air_pct: pct(self.dead_air_frames),
            median_response_gap_s: self.median_gap_s(),
            alerts: self.alerts,
        }
    }
}
