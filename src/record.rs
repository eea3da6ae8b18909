//! What the analysis emits: frames, conversation events, alerts, and one summary at the end. [`Record::write_json`] writes the JSON Lines output contract of DESIGN.md.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;

use crate::alert::Alert;
use crate::conversation::Event;
use crate::features::PartyFeatures;
use crate::role::Role;
use crate::summary::Summary;

/// Both parties' measurements at one frame time. `Copy`, so it moves through channels without
/// allocating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRecord {
    /// Frame index from the start of the input.
    pub index: u64,
    /// Centre of the frame in seconds from the start of the input.
    pub t: f64,
    /// Per party, indexed by [`Role::index`]; `None` for a party the input does not have.
    pub parties: [Option<PartyFeatures>; 2],
    /// For live input: when the newest sample of this frame's window was captured, in Unix
    /// seconds (`None` for files).
    pub captured_at: Option<f64>,
}

impl FrameRecord {
    /// The measurements of `role`, if the call has that party.
    pub fn party(&self, role: Role) -> Option<&PartyFeatures> {
        self.parties[role.index()].as_ref()
    }

    /// Whether any party's frame lies in a gap.
    pub fn gap(&self) -> bool {
        self.parties.iter().flatten().any(|p| p.gap)
    }
}

/// One output record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Record {
    /// Per-frame measurements (written only when frames are asked for).
    Frame(FrameRecord),
    /// A finished conversation event (always written).
    Event(Event),
    /// A live alert (always written).
    Alert(Alert),
    /// The closing summary of a call.
    Summary(Arc<Summary>),
}

/// `x` rounded to `decimals` decimal places (the precision of the written output).
pub(crate) fn round(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * p).round() / p
}

#[derive(Serialize)]
struct PartyOut {
    speech: bool,
    f0_hz: Option<f64>,
    loudness_db: f64,
    lufs_m: f64,
    voicing: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap: bool,
    /// Present (as `null` until a baseline exists) on the caller only.
    #[serde(skip_serializing_if = "Option::is_none")]
    agitation: Option<Option<f64>>,
}

impl PartyOut {
    fn new(p: &PartyFeatures, role: Role) -> Self {
        Self {
            speech: p.speech,
            f0_hz: p.f0_hz.map(|f| round(f64::from(f), 1)),
            loudness_db: round(f64::from(p.loudness_db), 2),
            lufs_m: round(f64::from(p.lufs_m), 2),
            voicing: round(f64::from(p.voicing), 3),
            gap: p.gap,
            agitation: (role == Role::Caller)
                .then_some(p.agitation.map(|a| round(f64::from(a), 3))),
        }
    }
}

#[derive(Serialize)]
struct FrameOut {
    #[serde(rename = "type")]
    kind: &'static str,
    t: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gap: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    captured_at: Option<f64>,
    agent: Option<PartyOut>,
    caller: Option<PartyOut>,
}

impl Record {
    /// Writes the record as one line of JSON (with the trailing newline).
    ///
    /// # Errors
    /// Any I/O error from `w`.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Record::Frame(f) => {
                let out = FrameOut {
                    kind: "frame",
                    t: round(f.t, 4),
                    gap: f.gap(),
                    captured_at: f.captured_at.map(|c| round(c, 4)),
                    agent: f.party(Role::Agent).map(|p| PartyOut::new(p, Role::Agent)),
                    caller: f
                        .party(Role::Caller)
                        .map(|p| PartyOut::new(p, Role::Caller)),
                };
                serde_json::to_writer(&mut *w, &out)?;
            }
            Record::Event(e) => serde_json::to_writer(&mut *w, e)?,
            Record::Alert(a) => serde_json::to_writer(&mut *w, a)?,
            Record::Summary(s) => serde_json::to_writer(&mut *w, s.as_ref())?,
        }
        w.write_all(b"\n")
    }
}
