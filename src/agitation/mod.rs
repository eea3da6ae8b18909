//! Caller agitation and agent composure, live, relative to each speaker's own baseline.
//!
//! Runs on the call's analysis thread after the conversation stage, one frame at a time:
//! * both parties' frames go through [`PartyProsody`] (sliding-window prosodic features and a
//!   per-speaker baseline, see [`crate::prosody`]);
//! * the caller's baseline-relative features are scored by the [`AgitationModel`] (a logistic
//!   regression stored in `models/`); the score is the caller's `agitation` in frame records,
//!   `null` until the caller's baseline exists, held between the caller's turns;
//! * [`Alarm`]s turn sustained rises into alerts: `caller_agitation_rising` (score above the
//!   model's `warn`/`critical` thresholds for `rise_s` of caller speech), `agent_loudness_rising`
//!   (the agent `loud_db` louder than their baseline, or `loud_pitch_st` higher and half as much
//!   louder, for `composure_s`; `critical` while the caller is agitated) and `agent_pace_fast`
//!   (speaking rate `pace_rise_syl_s` above the agent's baseline or above `pace_max_syl_s`, for
//!   `pace_s`). Each kind re-arms only after the condition has fallen back (hysteresis) and
//!   sounds at most once per `alert_interval_s`.
//!
//! What happens with awkward input (tested in `tests/integration/agitation.rs`): a call too
//! short for a baseline, or a party who never speaks, gives `agitation: null` and no alerts; a
//! speaker who whispers or shouts from the first second has that as their baseline, so nothing
//! fires unless they change; clipping flattens the spectrum of every frame, baseline included;
//! music on hold is kept out after `music_run_s` without a pause, and no alert is raised while
//! music was heard within the last window.
//!
//! The stage allocates in [`Agitation::new`] only.

pub mod config;
pub mod model;
pub mod train;
pub mod trend;

pub use config::AgitationConfig;
pub use model::AgitationModel;

use serde::Serialize;

use crate::alert::{Alert, AlertKind, Severity};
use crate::prosody::{FEATURES, PartyProsody};
use crate::record::{FrameRecord, round};
use crate::role::Role;
use trend::{Alarm, Level};

/// Index of `level_db`, `pitch_st` and `rate_syl_s` in a feature vector.
const PITCH: usize = 0;
const LEVEL: usize = 2;
const RATE: usize = 4;

/// Seconds per bucket of the last-minute history, and buckets kept.
const BUCKET_S: f64 = 1.0;
const BUCKETS: usize = 60;

/// The agitation and composure stage of one call.
#[derive(Debug, Clone)]
pub struct Agitation {
    config: AgitationConfig,
    model: AgitationModel,
    prosody: [PartyProsody; 2],
    score: Option<f32>,
    caller_alarm: Alarm,
    loud_alarm: Alarm,
    pace_alarm: Alarm,
    /// The agent was at least `loud_db` above their baseline after the last frame.
    agent_louder: bool,
    stats: AgitationStats,
}

/// The agitation figures of a call so far (fixed memory).
#[derive(Debug, Clone)]
pub struct AgitationStats {
    peak: Option<(f32, f64)>,
    buckets: [(f64, u32); BUCKETS],
    bucket_index: u64,
    alerts: [u32; 3],
}

/// Agitation figures in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AgitationSummary {
    /// Highest caller agitation score (`null` if the caller never got a baseline).
    pub peak: Option<f64>,
    /// Time of that peak in seconds from the start.
    pub peak_t: Option<f64>,
    /// Mean caller agitation over the call's last minute (frames with a score).
    pub last_minute: Option<f64>,
    /// Whether the call ended calmer than its peak: `true` when the peak reached the model's
    /// `warn` threshold and the last minute averaged below its `release` threshold, `false` when
    /// the peak reached `warn` and the last minute did not come down, `null` when the caller
    /// never reached `warn`.
    pub de_escalated: Option<bool>,
    /// `caller_agitation_rising` alerts raised.
    pub caller_agitation_rising: u32,
    /// `agent_loudness_rising` alerts raised.
    pub agent_loudness_rising: u32,
    /// `agent_pace_fast` alerts raised.
    pub agent_pace_fast: u32,
}

impl Agitation {
    /// Builds the stage for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`crate::error::ConfigError`] when the configuration is out of range.
    pub fn new(
        config: &AgitationConfig,
        model: AgitationModel,
        hop_s: f64,
    ) -> Result<Self, crate::error::ConfigError> {
        config.validate()?;
        let frames = |s: f32| (f64::from(s) / hop_s).round() as u64;
        let alarm = |hold_s: f32| {
            Alarm::new(
                frames(hold_s) as u32,
                frames(config.alert_interval_s),
                frames(config.escalate_after_s),
            )
        };
        Ok(Self {
            model,

            prosody: Role::ALL.map(|r| PartyProsody::new(config.prosody_for(r, hop_s as f32))),
            score: None,
            caller_alarm: alarm(config.rise_s),
            loud_alarm: alarm(config.composure_s),
            pace_alarm: alarm(config.pace_s),
            agent_louder: false,
            stats: AgitationStats {
                peak: None,
                buckets: [(0.0, 0); BUCKETS],
                bucket_index: 0,
                alerts: [0; 3],
            },
            config: config.clone(),
        })
    }

    /// The model in use.
    pub fn model(&self) -> &AgitationModel {
        &self.model
    }

    /// The prosody tracking of `role`.
    pub fn prosody(&self, role: Role) -> &PartyProsody {
        &self.prosody[role.index()]
    }

    /// The caller's current agitation score.
    pub fn score(&self) -> Option<f32> {
        self.score
    }

    /// Processes one aligned frame: fills in the caller's `agitation` and calls `emit` for each
    /// alert this frame raises.
    pub fn process(&mut self, rec: &mut FrameRecord, emit: &mut dyn FnMut(Alert)) {
        let no_music = self.no_recent_music();
        let warn = self.model.thresholds.warn;
        let caller_agitated = self.score.is_some_and(|s| s >= warn);

        // Caller: score and trend.
        if let Some(f) = rec.parties[Role::Caller.index()].as_mut() {
            let prosody = &mut self.prosody[Role::Caller.index()];
            let spoke = prosody.process(f, !caller_agitated);
            if spoke && let Some(x) = prosody.relative() {
                self.score = Some(self.model.score(&x));
            }
            f.agitation = self.score;
            if let Some(s) = self.score {
                self.stats.record(rec.t, s);
                let th = self.model.thresholds;
                let level = if s >= th.critical {
                    Level::Critical
                } else if s >= th.warn {
                    Level::Warn
                } else if s < th.release {
                    Level::Released
                } else {
                    Level::Normal
                };
                if let Some(sev) = self
                    .caller_alarm
                    .update(rec.index, level, spoke && no_music)
                {
                    let message = match sev {
                        Severity::Warn => {
                            "Caller agitation rising: acknowledge the frustration before solving"
                        }
                        Severity::Critical => {
                            "Caller very upset: let them finish, acknowledge, lower your pace"
                        }
                    };
                    self.raise(
                        AlertKind::CallerAgitationRising,
                        Role::Caller,
                        sev,
                        rec.t,
                        message,
                        emit,
                    );
                }
            }
        }

        // Agent: composure against their own baseline.
        if let Some(f) = rec.parties[Role::Agent.index()].as_mut() {
            // Adaptation stops while the agent is louder than their baseline by the alert margin.
            let prosody = &mut self.prosody[Role::Agent.index()];
            let spoke = prosody.process(f, !self.agent_louder);
            let counting = spoke && no_music;
            let stats = prosody.stats();
            let relative = prosody.relative_of(&stats);
            self.agent_louder = relative.is_some_and(|x| x[LEVEL] >= self.config.loud_db);
            let (loud, pace) = match relative {
                Some(x) => (
                    self.loudness_level(&x, caller_agitated),
                    self.pace_level(&x, stats.rate_syl_s),
                ),
                None => (Level::Normal, Level::Normal),
            };
            if let Some(sev) = self.loud_alarm.update(rec.index, loud, counting) {
                let message = match sev {
                    Severity::Warn => "You are getting louder: stay calm, lower your voice",
                    Severity::Critical => {
                        "The caller is upset and you are getting louder: stay calm, soften your voice"
                    }
                };
                self.raise(
                    AlertKind::AgentLoudnessRising,
                    Role::Agent,
                    sev,
                    rec.t,
                    message,
                    emit,
                );
            }
            if let Some(sev) = self.pace_alarm.update(rec.index, pace, counting) {
                self.raise(
                    AlertKind::AgentPaceFast,
                    Role::Agent,
                    sev,
                    rec.t,
                    "Slow down: you are speaking fast",
                    emit,
                );
            }
        }
    }

    fn loudness_level(&self, x: &[f32; FEATURES], caller_agitated: bool) -> Level {
        let c = &self.config;
        let loud =
            x[LEVEL] >= c.loud_db || (x[PITCH] >= c.loud_pitch_st && x[LEVEL] >= c.loud_db / 2.0);
        if loud {
            if caller_agitated {
                Level::Critical
            } else {
                Level::Warn
            }
        } else if x[LEVEL] < c.loud_db / 2.0 && x[PITCH] < c.loud_pitch_st / 2.0 {
            Level::Released
        } else {
            Level::Normal
        }
    }

    fn pace_level(&self, x: &[f32; FEATURES], rate: f32) -> Level {
        let c = &self.config;
        if x[RATE] >= c.pace_rise_syl_s || rate >= c.pace_max_syl_s {
            Level::Warn
        } else if x[RATE] < c.pace_rise_syl_s / 2.0 && rate < c.pace_max_syl_s * 0.85 {
            Level::Released
        } else {
            Level::Normal
        }
    }

    /// No music was heard on either channel within the last window (alerts are held back
    /// while it was).
    fn no_recent_music(&self) -> bool {
        let window = self.config.window_s;
        self.prosody
            .iter()
            .all(|p| p.since_music_s().is_none_or(|s| s > window))
    }

    fn raise(
        &mut self,
        kind: AlertKind,
        who: Role,
        severity: Severity,
        t: f64,
        message: &'static str,
        emit: &mut dyn FnMut(Alert),
    ) {
        let slot = match kind {
            AlertKind::CallerAgitationRising => Some(0),
            AlertKind::AgentLoudnessRising => Some(1),
            AlertKind::AgentPaceFast => Some(2),
            _ => None,
        };
        if let Some(slot) = slot {
            self.stats.alerts[slot] += 1;
        }
        emit(Alert {
            kind,
            t,
            who,
            severity,
            message,
            captured_at: None,
        });
    }

    /// The figures for the summary.
    pub fn summary(&self) -> AgitationSummary {
        let s = &self.stats;
        let last_minute = {
            let (sum, n) = s
                .buckets
                .iter()
                .fold((0.0, 0u32), |(a, n), &(x, k)| (a + x, n + k));
            (n > 0).then(|| round(sum / f64::from(n), 3))
        };
        let th = self.model.thresholds;
        let de_escalated = match (s.peak, last_minute) {
            (Some((p, _)), Some(l)) if p >= th.warn => Some(l < f64::from(th.release)),
            _ => None,
        };
        AgitationSummary {
            peak: s.peak.map(|(p, _)| round(f64::from(p), 3)),
            peak_t: s.peak.map(|(_, t)| round(t, 2)),
            last_minute,
            de_escalated,
            caller_agitation_rising: s.alerts[0],
            agent_loudness_rising: s.alerts[1],
            agent_pace_fast: s.alerts[2],
        }
    }
}

impl AgitationStats {
    fn record(&mut self, t: f64, score: f32) {
        if self.peak.is_none_or(|(p, _)| score > p) {
            self.peak = Some((score, t));
        }
        // A ring of one-second buckets: clear those skipped since the last score (at most all
        // of them), then add to the current one.
        let bucket = (t / BUCKET_S).floor().max(0.0) as u64;
        let from = self.bucket_index.max(bucket.saturating_sub(BUCKETS as u64));
        for b in from + 1..=bucket {
            self.buckets[(b % BUCKETS as u64) as usize] = (0.0, 0);
        }
        self.bucket_index = self.bucket_index.max(bucket);
        let b = &mut self.buckets[(bucket % BUCKETS as u64) as usize];
        b.0 += f64::from(score);
        b.1 += 1;
    }
}
