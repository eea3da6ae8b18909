//! One call's analysis: every party's chain, the alignment of their frames, and the voice
//! activity decision that needs both.
//!
//! The call analyser runs on the call's analysis thread. It feeds each party's block to that
//! party's [`PartyAnalyzer`] and, as soon as every party has measured the same frame, removes
//! the other party's leakage from each channel's band powers ([`Crosstalk`]), decides each
//! party's voice activity ([`Vad`]) and emits a [`FrameRecord`]: both parties' frames stay
//! aligned without locks.

use crate::agitation::{Agitation, AgitationModel};
use crate::alert::Alert;
use crate::config::{AnalysisConfig, FrameGeometry};
use crate::conversation::{Conversation, Output};
use crate::crosstalk::Crosstalk;
use crate::error::{ConfigError, Error};
use crate::features::PartyFeatures;
use crate::features::vad::{Vad, VadInput};
use crate::party::PartyAnalyzer;
use crate::record::{FrameRecord, Record};
use crate::role::Role;
use crate::source::{Block, PartySpec, SourceDiagnostics};
use crate::summary::{InputSummary, Summary};

/// Analysis of one call.
#[derive(Debug)]
pub struct CallAnalyzer {
    parties: Vec<PartyAnalyzer>,
    /// One detector per party, in the order of `parties`.
    vads: Vec<Vad>,
    /// Present for two-party calls.
    crosstalk: Option<Crosstalk>,
    conversation: Conversation,
    agitation: Agitation,
    geometry: FrameGeometry,
    next_index: u64,
}

impl CallAnalyzer {
    /// Builds the chains for `parties` (one or two, with different roles).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty party list, duplicate roles or a configuration a stage
    /// rejects.
    pub fn new(config: &AnalysisConfig, parties: &[PartySpec]) -> Result<Self, Error> {
        if parties.is_empty() || parties.len() > 2 {
            return Err(ConfigError::new("parties", "a call has one or two parties").into());
        }
        if parties.len() == 2 && parties[0].role == parties[1].role {
            return Err(ConfigError::new(
                "parties",
                format!("both channels are marked {}", parties[0].role),
            )
            .into());
        }
        let max_rate = parties.iter().map(|p| p.sample_rate).max().unwrap_or(8_000);
        let geometry = config.geometry(config.analysis_rate_for(max_rate))?;
        let parties = parties
            .iter()
            .map(|spec| PartyAnalyzer::new(config, geometry, spec.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let hop_s = geometry.hop as f32 / geometry.rate as f32;
        let vads = parties
            .iter()
            .map(|_| Vad::new(config.vad(), hop_s))
            .collect::<Result<Vec<_>, _>>()?;
        let crosstalk = if parties.len() == 2 {
            Some(Crosstalk::new(
                config.crosstalk(),
                geometry.hop,
                geometry.rate,
            )?)
        } else {
            None
        };
        let conversation = Conversation::new(config.conversation(), f64::from(hop_s))?;
        let model = match config.agitation_model() {
            Some(m) => *m,
            None => AgitationModel::builtin()?,
        };
        let agitation = Agitation::new(config.agitation(), model, f64::from(hop_s))?;
        Ok(Self {
            parties,
            vads,
            crosstalk,
            conversation,
            agitation,
            geometry,
            next_index: 0,
        })
    }

    /// The frame geometry the call is analysed at.
    pub fn geometry(&self) -> FrameGeometry {
        self.geometry
    }

    /// The party chains.
    pub fn parties(&self) -> &[PartyAnalyzer] {
        &self.parties
    }

    /// The agitation and composure stage.
    pub fn agitation(&self) -> &Agitation {
        &self.agitation
    }

    /// The conversation stage (floor, figures).
    pub fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    /// Analyses one block, calling `emit` for every frame that all parties have measured and
    /// for every conversation event and alert it completes.
    ///
    /// # Errors
    /// [`Error::Internal`] if a stage fails (a bug).
    pub fn process(&mut self, block: &Block, mut emit: impl FnMut(Record)) -> Result<(), Error> {
        for (party, pb) in self.parties.iter_mut().zip(&block.parties) {
            party.push(pb)?;
        }
        self.drain(false, &mut emit);
        Ok(())
    }

    /// Flushes every party at the end of the input and emits the remaining frames; a party
    /// that ended earlier is absent (`None`) from the frames beyond its end.
    ///
    /// # Errors
    /// [`Error::Internal`] if a stage fails (a bug).
    pub fn finish(&mut self, mut emit: impl FnMut(Record)) -> Result<(), Error> {
        for party in &mut self.parties {
            party.finish()?;
        }
        self.drain(true, &mut emit);
        self.conversation.finish(&mut |o| emit(output_record(o)));
        Ok(())
    }

    fn drain(&mut self, finishing: bool, emit: &mut impl FnMut(Record)) {
        loop {
            let ready = if finishing {
                self.parties.iter().any(|p| p.pending() > 0)
            } else {
                self.parties.iter().all(|p| p.pending() > 0)
            };
            if !ready {
                break;
            }
            let mut popped: [Option<PartyFeatures>; 2] = [None, None];
            for (slot, party) in popped.iter_mut().zip(&mut self.parties) {
                *slot = party.pop();
            }
            self.decide(&mut popped);
            let mut rec = FrameRecord {
                index: self.next_index,
                t: self.geometry.frame_time(self.next_index),
                parties: [None, None],
                captured_at: None,
            };
            for (f, party) in popped.iter().zip(&mut self.parties) {
                if let Some(f) = f {
                    party.record_frame(f);
                }
                rec.parties[party.role().index()] = *f;
            }
            self.next_index += 1;
            let mut alerts: [Option<Alert>; 3] = [None; 3];
            let mut raised = 0;
            self.agitation.process(&mut rec, &mut |a| {
                if let Some(slot) = alerts.get_mut(raised) {
                    *slot = Some(a);
                    raised += 1;
                }
            });
            emit(Record::Frame(rec));
            self.conversation
                .process(&rec, &mut |o| emit(output_record(o)));
            for a in alerts.into_iter().flatten() {
                emit(Record::Alert(a));
            }
        }
    }

    /// Decides voice activity for one aligned frame (`frames` in the order of the parties).
    fn decide(&mut self, frames: &mut [Option<PartyFeatures>; 2]) {
        let mut bands = [[f32::NAN; crate::features::vad::BANDS]; 2];
        for (b, f) in bands.iter_mut().zip(frames.iter()) {
            if let Some(f) = f {
                *b = f.band_power;
            }
        }
        if let Some(crosstalk) = &mut self.crosstalk {
            match frames {
                [Some(a), Some(b)] if !a.gap && !b.gap => {
                    let floors = [self.vads[0].band_floor(), self.vads[1].band_floor()];
                    let hops = [self.parties[0].last_hop(), self.parties[1].last_hop()];
                    crosstalk.process(&mut bands, floors, Some(hops));
                }
                _ => crosstalk.reset_history(),
            }
        }
        // Each detector hears whether the other party was talking (its last frame's decision)
        // while a leakage path from the other party into this channel has been found: only
        // then is a second voice mixed into this channel, lowering its periodicity.
        let path = |from: usize| self.crosstalk.as_ref().is_some_and(|x| x.path_found(from));
        // Without a path, the other party's crosstalk is left in this channel.
        let other_active = [
            self.vads.get(1).is_some_and(Vad::active),
            self.vads.first().is_some_and(Vad::active),
        ];
        let talking = [other_active[0] && path(1), other_active[1] && path(0)];
        for ((((f, vad), band_power), other_talking), other_active) in frames
            .iter_mut()
            .zip(&mut self.vads)
            .zip(bands)
            .zip(talking)
            .zip(other_active)
        {
            if let Some(f) = f {
                f.speech = vad.process(&VadInput {
                    clarity: f.voicing,
                    band_power,
                    raw_band_power: f.band_power,
                    gap: f.gap,
                    other_talking,
                    other_unexplained: other_active && !other_talking,
                });
                f.active = vad.active();
                f.extent = vad.extent();
                f.onset_lead = vad.onset_lead();
            }
        }
    }

    /// Frames emitted so far.
    pub fn frames_emitted(&self) -> u64 {
        self.next_index
    }

    /// The call's summary so far.
    pub fn summary(&self, diagnostics: &SourceDiagnostics, records_dropped: u64) -> Summary {
        let hop_s = self.geometry.hop as f64 / f64::from(self.geometry.rate);
        let mut out = Summary {
            kind: "summary",
            duration_s: 0.0,
            frames: self.next_index,
            hop_s,
            analysis_rate: self.geometry.rate,
            talk_ratio_agent: None,
            conversation: self.conversation.stats().summary(0.0),
            agitation: self.agitation.summary(),
            agent: None,
            caller: None,
            input: InputSummary {
                truncated: diagnostics.truncated.clone(),
            },
            records_dropped,
            live: None,
        };
        let mut present = [false, false];
        for party in &self.parties {
            let spec = party.spec();
            let stats = party.stats();
            let duration = stats.samples_in() as f64 / f64::from(spec.sample_rate);
            out.duration_s = out.duration_s.max((duration * 1e4).round() / 1e4);
            present[party.role().index()] = true;
            let s = Some(stats.summary(&spec.label, spec.sample_rate));
            match party.role() {
                Role::Agent => out.agent = s,
                Role::Caller => out.caller = s,
            }
        }
        out.conversation = self.conversation.stats().summary(out.duration_s);
        let talk = self.conversation.stats();
        let (a, c) = (talk.talk_s(Role::Agent), talk.talk_s(Role::Caller));
        if present == [true, true] && a + c > 0.0 {
            out.talk_ratio_agent = Some(((a / (a + c)) * 1e4).round() / 1e4);
        }
        out
    }
}

fn output_record(o: Output) -> Record {
    match o {
        Output::Event(e) => Record::Event(e),
        Output::Alert(a) => Record::Alert(a),
    }
}
