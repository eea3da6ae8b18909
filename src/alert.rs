//! Alerts: short coaching cues raised live by the analysis stages.
//!
//! An [`Alert`] is `Copy` (its message is a `&'static str`), so raising one on the analysis
//! thread never allocates. Sinks receive it as a [`crate::record::Record::Alert`].

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::role::Role;

/// What an alert is about. The names are the output contract's `kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// The agent talked over the caller and kept going.
    AgentInterrupting,
    /// The agent has held the floor for a long time.
    AgentMonologue,
    /// Nobody has spoken for a long time while the call is active.
    DeadAir,
    /// The caller's agitation has risen above their own baseline and stayed up.
    CallerAgitationRising,
    /// The agent has become louder (or louder and higher) than their own baseline.
    AgentLoudnessRising,
    /// The agent speaks well faster than their own baseline or a set limit.
    AgentPaceFast,
}

impl AlertKind {
    /// Every kind, in the order of [`AlertKind::index`].
    pub const ALL: [AlertKind; 6] = [
        AlertKind::AgentInterrupting,
        AlertKind::AgentMonologue,
        AlertKind::DeadAir,
        AlertKind::CallerAgitationRising,
        AlertKind::AgentLoudnessRising,
        AlertKind::AgentPaceFast,
    ];

    /// A small index into per-kind tables (`0..AlertKind::ALL.len()`).
    pub fn index(self) -> usize {
        match self {
            AlertKind::AgentInterrupting => 0,
            AlertKind::AgentMonologue => 1,
            AlertKind::DeadAir => 2,
            AlertKind::CallerAgitationRising => 3,
            AlertKind::AgentLoudnessRising => 4,
            AlertKind::AgentPaceFast => 5,
        }
    }

    /// The kind whose contract name ([`AlertKind::name`]) is `name`.
    pub fn from_name(name: &str) -> Option<AlertKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The contract name, e.g. `"agent_interrupting"`.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::AgentInterrupting => "agent_interrupting",
            AlertKind::AgentMonologue => "agent_monologue",
            AlertKind::DeadAir => "dead_air",
            AlertKind::CallerAgitationRising => "caller_agitation_rising",
            AlertKind::AgentLoudnessRising => "agent_loudness_rising",
            AlertKind::AgentPaceFast => "agent_pace_fast",
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a glance.
    Warn,
    /// Act now.
    Critical,
}

/// One alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alert {
    /// What the alert is about.
    pub kind: AlertKind,
    /// Time of the frame that decided it, in seconds from the start of the input.
    pub t: f64,
    /// Whom the alert is about.
    pub who: Role,
    /// How urgent it is.
    pub severity: Severity,
    /// A short coaching message for the agent.
    pub message: &'static str,
    /// For live input: when the newest sample of the deciding frame was captured, in Unix
    /// seconds (`None` for files).
    pub captured_at: Option<f64>,
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("type", "alert")?;
        m.serialize_entry("kind", &self.kind)?;
        m.serialize_entry("t", &crate::record::round(self.t, 4))?;
        m.serialize_entry("who", &self.who)?;
        m.serialize_entry("severity", &self.severity)?;
        m.serialize_entry("message", self.message)?;
        if let Some(c) = self.captured_at {
            m.serialize_entry("captured_at", &crate::record::round(c, 4))?;
        }
        m.end()
    }
}
