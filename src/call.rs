//! One call's analysis: every party's chain, and the alignment of their frames.
//!
//! The call analyser runs on the call's analysis thread. It feeds each party's block to that
//! party's [`PartyAnalyzer`] and emits a [`FrameRecord`] as soon as every party has measured
//! the same frame, so both parties' frames stay aligned without locks.

use crate::config::{AnalysisConfig, FrameGeometry};
use crate::error::{ConfigError, Error};
use crate::party::PartyAnalyzer;
use crate::record::FrameRecord;
use crate::source::{Block, PartySpec, SourceDiagnostics};
use crate::summary::{InputSummary, Summary};

/// Analysis of one call.
#[derive(Debug)]
pub struct CallAnalyzer {
    parties: Vec<PartyAnalyzer>,
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
        Ok(Self {
            parties,
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

    /// Analyses one block, calling `emit` for every frame that all parties have measured.
    ///
    /// # Errors
    /// [`Error::Internal`] if a stage fails (a bug).
    pub fn process(
        &mut self,
        block: &Block,
        mut emit: impl FnMut(&FrameRecord),
    ) -> Result<(), Error> {
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
    pub fn finish(&mut self, mut emit: impl FnMut(&FrameRecord)) -> Result<(), Error> {
        for party in &mut self.parties {
            party.finish()?;
        }
        self.drain(true, &mut emit);
        Ok(())
    }

    fn drain(&mut self, finishing: bool, emit: &mut impl FnMut(&FrameRecord)) {
        loop {
            let ready = if finishing {
                self.parties.iter().any(|p| p.pending() > 0)
            } else {
                self.parties.iter().all(|p| p.pending() > 0)
            };
            if !ready {
                break;
            }
            let mut rec = FrameRecord {
                index: self.next_index,
                t: self.geometry.frame_time(self.next_index),
                parties: [None, None],
            };
            for party in &mut self.parties {
                rec.parties[party.role().index()] = party.pop();
            }
            self.next_index += 1;
            emit(&rec);
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
            agent: None,
            caller: None,
            input: InputSummary {
                truncated: diagnostics.truncated.clone(),
            },
            records_dropped,
        };
        let mut speech = [None, None];
        for party in &self.parties {
            let spec = party.spec();
            let stats = party.stats();
            let duration = stats.samples_in() as f64 / f64::from(spec.sample_rate);
            out.duration_s = out.duration_s.max((duration * 1e4).round() / 1e4);
            speech[party.role().index()] = Some(stats.speech_s());
            let s = Some(stats.summary(&spec.label, spec.sample_rate));
            match party.role() {
                crate::role::Role::Agent => out.agent = s,
                crate::role::Role::Caller => out.caller = s,
            }
        }
        if let [Some(a), Some(c)] = speech
            && a + c > 0.0
        {
            out.talk_ratio_agent = Some(((a / (a + c)) * 1e4).round() / 1e4);
        }
        out
    }
}
