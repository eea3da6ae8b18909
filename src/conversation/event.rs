//! Conversation events: intervals of the call's structure, written when they end.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::record::round;
use crate::role::Role;

/// What an event is. The names are the output contract's `kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A party held the floor from `start` to `end` (`who`).
    Turn,
    /// Both parties spoke at once (`by` the newcomer, with its [`OverlapClass`]).
    Overlap,
    /// A party (`by`) talked over the floor holder and kept going.
    Interruption,
    /// A short listening response by `by` that did not take the floor.
    Backchannel,
    /// Nobody spoke for at least the dead-air time while the call was active.
    DeadAir,
    /// One party (`by`) held the floor for at least the monologue time.
    Monologue,
}

impl EventKind {
    /// The contract name, e.g. `"interruption"`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Turn => "turn",
            EventKind::Overlap => "overlap",
            EventKind::Interruption => "interruption",
            EventKind::Backchannel => "backchannel",
            EventKind::DeadAir => "dead_air",
            EventKind::Monologue => "monologue",
        }
    }
}

/// What kind of overlap it was (see the rules in [`crate::conversation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapClass {
    /// The newcomer kept talking while the holder went on: competitive.
    Interruption,
    /// A short listening response inside the holder's speech.
    Backchannel,
    /// The newcomer started as the holder was finishing: collaborative.
    TurnEnd,
    /// A gap in the input cut the overlap before it could be classified.
    Unresolved,
}

impl OverlapClass {
    /// The contract name, e.g. `"turn_end"`.
    pub fn name(self) -> &'static str {
        match self {
            OverlapClass::Interruption => "interruption",
            OverlapClass::Backchannel => "backchannel",
            OverlapClass::TurnEnd => "turn_end",
            OverlapClass::Unresolved => "unresolved",
        }
    }
}

/// One event. `Copy`, so it moves through channels without allocating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// What it is.
    pub kind: EventKind,
    /// Start in seconds from the start of the input.
    pub start: f64,
    /// End in seconds (never before `start`).
    pub end: f64,
    /// The party it belongs to: the turn holder, the newcomer of an overlap, the interrupter,
    /// the backchanneller, the monologuist; `None` for dead air.
    pub party: Option<Role>,
    /// For overlaps: their class.
    pub class: Option<OverlapClass>,
}

impl Event {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", "event")?;
        m.serialize_entry("kind", self.kind.name())?;
        m.serialize_entry("start", &round(self.start, 4))?;
        m.serialize_entry("end", &round(self.end, 4))?;
        if let Some(p) = self.party {
            let key = if self.kind == EventKind::Turn {
                "who"
            } else {
                "by"
            };
            m.serialize_entry(key, &p)?;
        }
        if let Some(c) = self.class {
            m.serialize_entry("class", &c)?;
        }
        m.end()
    }
}
