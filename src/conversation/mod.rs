//! Conversation dynamics: who holds the floor, turns, overlaps and what they were
//! (interruption, backchannel, turn-end overlap), dead air and monologues, live, frame by frame.
//!
//! The stage reads both parties' voice activity from each aligned [`FrameRecord`] and keeps,
//! per party, the current **talk spurt**: a run of speech frames from its onset to its last
//! *active* frame (speech not only held by the detector's hangover, see
//! [`crate::features::vad::Vad::active`]). The spurt's onset is moved back over the soft start
//! the detector found before its onset test passed
//! ([`crate::features::vad::Vad::onset_lead`]), and its **extent** runs on past the last active
//! frame through the soft ending that still carries the talker's voice
//! ([`crate::features::vad::Vad::extent`]): the extent of an utterance as the simulator's truth
//! measures it (every frame within 35 dB of the loudest). Spurts follow the talkspurt model of P. T. Brady, "A
//! statistical analysis of on-off patterns in 16 conversations", Bell Syst. Tech. J. 47(1),
//! 1968, and the terms of M. Heldner and J. Edlund, "Pauses, gaps and overlaps in
//! conversations", J. Phonetics 38(4), 2010: a *pause* is a silence between two spurts of the
//! same party, a *gap* a silence at a change of speaker, an *overlap* a stretch where both
//! talk.
//!
//! ## The floor
//! The first party to talk takes the floor. The other party takes it over once it has talked
//! for at least `backchannel_max_ms` in one spurt **and** the holder has stopped (the holder's
//! turn ends at its last active frame). Shorter spurts never take the floor: listening responses
//! do not change who is speaking (S. Duncan, "Some signals and rules for taking speaking turns
//! in conversations", J. Pers. Soc. Psychol. 23(2), 1972; V. Yngve's "back channel", 1970).
//! The time from the end of one turn to the start of the next is the response gap, negative
//! when the next turn started in overlap (the floor-transfer offset of Heldner and Edlund).
//!
//! ## Overlaps
//! For the overlap rules a party's spurts separated by a pause of at most `join_pause_ms` are
//! one stretch of **talk** (a pause inside an utterance, or the detector dropping out for a
//! moment in double talk). An overlap begins when a party (the **newcomer**) starts talking
//! while the other (the **holder**) is talking (in a spurt, or paused no longer than
//! `join_pause_ms`); a holder who resumes after such a pause is still the holder, not a
//! newcomer; if both start in the same frame, the floor holder is the holder (and
//! with nobody holding the floor, as after a gap, the overlap is not classified). It is
//! classified as soon as the evidence is in:
//! * **backchannel**: the newcomer's talk ends shorter than `backchannel_max_ms` (about 0.5 s,
//!   the usual upper bound of "mm-hmm", "yeah"; R. Gravano and J. Hirschberg, "Turn-taking
//!   cues in task-oriented dialogue", Comput. Speech Lang. 25(3), 2011);
//! * **turn-end overlap** (collaborative, E. A. Schegloff's "terminal overlap", "Overlapping
//!   talk and the organization of turn-taking for conversation", Lang. Soc. 29(1), 2000): the
//!   newcomer keeps talking, but the holder stops within `turn_end_ms` of the newcomer's
//!   onset: the holder was finishing;
//! * a holder who falls silent for `yield_pause_ms` after the onset while the newcomer talks on
//!   has **yielded**: its talk ends, for the class, at its last extent frame before that
//!   silence, even when it says more within `join_pause_ms` (a holder pausing this long in
//!   double talk has stopped competing; what it says next is not the continuation of the
//!   overlapped utterance);
//! * **interruption** (competitive, after the overlap classes of G. W. Beattie, *Talk*, 1983,
//!   as operationalised by Gravano and Hirschberg): the newcomer has talked for
//!   `backchannel_max_ms` and the holder is still talking `turn_end_ms` after the onset: the
//!   newcomer talks over the holder, whether the holder then yields or not. This is decided
//!   live at the first frame where both conditions hold, and an agent interruption raises the
//!   `agent_interrupting` alert in that same frame.
//!
//! The holder's talk and the overlap's extent (from the newcomer's onset to the end of the
//! shorter of the two extents) are measured on extents; the newcomer's length, which tells a
//! backchannel from a bid for the floor, on its active frames.
//!
//! Acoustics alone cannot tell a holder who yields at once to an interruption from one who
//! was finishing; such overlaps count as turn-end overlaps. A short spurt of the listener in a
//! pause of the holder (the holder's silence around it at most `pause_backchannel_ms`) is a
//! backchannel too, without overlap.
//!
//! ## Dead air and monologues
//! Dead air is both parties silent for at least `dead_air_ms` after the first speech of the
//! call; the `dead_air` alert fires the frame the silence reaches it. A monologue is a turn of
//! at least `monologue_ms`; an agent turn reaching it raises `agent_monologue` (once per turn)
//! while the agent is still talking.
//!
//! ## Timing and gaps
//! Alerts are raised in the frame that decides them. Events may start up to the detector's
//! `onset_lead_ms` before the frame whose onset test started them. Events are written when they
//! are complete, which is at most the detector's hangover plus `pause_backchannel_ms` after their
//! end, so they are not in start order. A gap in the input ends every spurt and turn at its
//! last active frame; an overlap not yet classified is reported as `unresolved`; nothing is
//! carried across the gap, so no overlap is invented. A one-party call has no overlaps.
//!
//! Everything lives in fixed-size fields sized in [`Conversation::new`]; processing a frame
//! does not allocate.

pub mod config;
pub mod event;
pub mod stats;

pub use config::ConversationConfig;
pub use event::{Event, EventKind, OverlapClass};
pub use stats::{ConversationStats, ConversationSummary};

use crate::alert::{Alert, AlertKind, Severity};
use crate::error::ConfigError;
use crate::record::FrameRecord;
use crate::role::Role;

/// What the stage emits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    /// A finished event.
    Event(Event),
    /// A live alert.
    Alert(Alert),
}

/// Overlaps that can await classification at once; beyond that the oldest is reported as
/// unresolved (it cannot happen with two parties, who start at most two spurts in a hangover).
const MAX_EPISODES: usize = 8;
/// Agent interruptions remembered for the severity rule.
const RECENT_INTERRUPTIONS: usize = 3;

const ROLES: [Role; 2] = Role::ALL;

const MSG_INTERRUPTING: &str = "You talked over the caller: let them finish.";
const MSG_INTERRUPTING_AGAIN: &str =
    "You keep talking over the caller: stop, listen to the whole story.";
const MSG_MONOLOGUE: &str = "Long monologue: pause and ask the caller a question.";
const MSG_DEAD_AIR: &str = "Dead air: tell the caller what you are doing.";

#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    last_active: u64,
    /// Last frame of the spurt's extent (its last active frame or the soft ending after it).
    last_extent: u64,
}

impl Run {
    fn frames(&self) -> u64 {
        self.last_active + 1 - self.start
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PartyState {
    run: Option<Run>,
    /// Last active frame of any spurt.
    last_active: Option<u64>,
    /// Last extent frame of any spurt.
    last_extent: Option<u64>,
    /// Start of the party's current stretch of talk: spurts joined across pauses of at most
    /// `join_pause_ms`.
    talk_start: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Decision {
    Class(OverlapClass),
    NoOverlap,
}

#[derive(Debug, Clone, Copy)]
struct Episode {
    newcomer: Role,
    holder: Role,
    start: u64,
    holder_start: u64,
    /// Last active and last extent frame of the newcomer's talk, once a spurt of it ended.
    newcomer_end: Option<(u64, u64)>,
    /// The same for the holder.
    holder_end: Option<(u64, u64)>,
    /// The holder started a new stretch of talk after the newcomer's spurt ended: the
    /// newcomer's talk is over even within `join_pause_ms`.
    newcomer_closed: bool,
    /// The holder fell silent after the onset for `yield_pause_ms` while the newcomer talked:
    /// the holder's last extent frame before that silence.
    holder_yield: Option<u64>,
    decision: Option<Decision>,
}

#[derive(Debug, Clone, Copy)]
struct PauseCandidate {
    by: Role,
    start: u64,
    end: u64,
    holder_silent_since: u64,
}

#[derive(Debug, Clone, Copy)]
struct Turn {
    who: Role,
    start: u64,
    alerted: bool,
}

/// Frame counts of the thresholds.
#[derive(Debug, Clone, Copy)]
struct Frames {
    backchannel: u64,
    min_backchannel: u64,
    turn_end: u64,
    min_overlap: u64,
    pause: u64,
    join: u64,
    /// 0: off.
    yield_pause: u64,
    dead_air: u64,
    monologue: u64,
    debounce: u64,
    critical_window: u64,
}

/// The conversation stage of one call.
#[derive(Debug, Clone)]
pub struct Conversation {
    hop_s: f64,
    n: Frames,
    parties: [PartyState; 2],
    episodes: [Option<Episode>; MAX_EPISODES],
    pause: Option<PauseCandidate>,
    floor: Option<Turn>,
    silence_start: Option<u64>,
    silence_alerted: bool,
    /// Silence is not measured before this frame (the frame after a gap).
    resume_at: u64,
    last_interrupt_alert: Option<u64>,
    recent_interruptions: [Option<u64>; RECENT_INTERRUPTIONS],
    stats: ConversationStats,
    last_index: Option<u64>,
}

impl Conversation {
    /// A stage for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range or `hop_s` is not positive.
    pub fn new(config: &ConversationConfig, hop_s: f64) -> Result<Self, ConfigError> {
        config.validate()?;
        if !(hop_s.is_finite() && hop_s > 0.0) {
            return Err(ConfigError::new("hop_ms", "must be a positive duration"));
        }
        let round = |ms: f32| (f64::from(ms) / 1000.0 / hop_s).round() as u64;
        let frames = |ms: f32| round(ms).max(1);
        Ok(Self {
            hop_s,
            n: Frames {
                backchannel: frames(config.backchannel_max_ms),
                min_backchannel: frames(config.min_backchannel_ms),
                turn_end: frames(config.turn_end_ms),
                min_overlap: frames(config.min_overlap_ms),
                pause: frames(config.pause_backchannel_ms),
                join: round(config.join_pause_ms),
                yield_pause: round(config.yield_pause_ms),
                dead_air: frames(config.dead_air_ms),
                monologue: frames(config.monologue_ms),
                debounce: frames(config.interrupt_alert_debounce_ms),
                critical_window: frames(config.interrupt_critical_window_ms),
            },
            parties: [PartyState::default(); 2],
            episodes: [None; MAX_EPISODES],
            pause: None,
            floor: None,
            silence_start: None,
            silence_alerted: false,
            resume_at: 0,
            last_interrupt_alert: None,
            recent_interruptions: [None; RECENT_INTERRUPTIONS],
            stats: ConversationStats::new(hop_s),
            last_index: None,
        })
    }

    /// The running figures.
    pub fn stats(&self) -> &ConversationStats {
        &self.stats
    }

    /// Who holds the floor now, if anyone.
    pub fn floor(&self) -> Option<Role> {
        self.floor.map(|t| t.who)
    }

    fn t(&self, frame: u64) -> f64 {
        frame as f64 * self.hop_s
    }

    /// Processes one aligned frame, calling `emit` for every event completed and alert raised.
    pub fn process(&mut self, rec: &FrameRecord, emit: &mut dyn FnMut(Output)) {
        let i = rec.index;
        self.last_index = Some(i);
        if rec.gap() {
            self.cut(i, emit);
            return;
        }
        let mut speech = [(false, false, false); 2];
        let mut lead = [0u64; 2];
        for role in ROLES {
            if let Some(p) = rec.party(role) {
                speech[role.index()] = (p.speech, p.active, p.extent);
                lead[role.index()] = u64::from(p.onset_lead);
            }
        }
        // Spurts that ended (their last active frame is already recorded) ...
        for role in ROLES {
            if !speech[role.index()].0
                && let Some(run) = self.parties[role.index()].run.take()
            {
                self.end_run(role, run);
            }
        }
        // ... then spurts that start or go on.
        for role in ROLES {
            let (s, active, extent) = speech[role.index()];
            if !s {
                continue;
            }
            let state = &mut self.parties[role.index()];
            match &mut state.run {
                None => self.start_run(role, i, lead[role.index()], emit),
                Some(run) => {
                    if active {
                        run.last_active = i;
                        state.last_active = Some(i);
                    }
                    if extent {
                        run.last_extent = i;
                        state.last_extent = Some(i);
                    }
                }
            }
        }
        self.resolve(i, false, emit);
        self.expire_pause(i);
        self.update_floor(emit);
        self.check_monologue(i, emit);
        self.check_dead_air(i, emit);
    }

    /// Ends the call after its last frame: completes every open spurt, overlap, turn and
    /// silence.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Output)) {
        let Some(last) = self.last_index else {
            return;
        };
        for role in ROLES {
            if let Some(run) = self.parties[role.index()].run.take() {
                self.end_run(role, run);
            }
        }
        self.resolve(last, true, emit);
        self.pause = None;
        self.update_floor(emit);
        self.end_turn(emit);
        self.end_silence(last + 1, emit);
    }

    /// The start of `role`'s stretch of talk at frame `i`: its current spurt's, or, while it
    /// has been silent at most `join_pause_ms`, the one before the pause.
    fn talking_since(&self, role: Role, i: u64) -> Option<u64> {
        let state = &self.parties[role.index()];
        if state.run.is_some() {
            return state.talk_start;
        }
        match (state.talk_start, state.last_active) {
            (Some(start), Some(last)) if i <= last + 1 + self.n.join => Some(start),
            _ => None,
        }
    }

    fn start_run(&mut self, role: Role, now: u64, lead: u64, emit: &mut dyn FnMut(Output)) {
        // The spurt starts `lead` frames back, after this party's last spurt and any gap.
        let floor = self.parties[role.index()]
            .last_extent
            .map_or(self.resume_at, |l| (l + 1).max(self.resume_at));
        let i = now.saturating_sub(lead).max(floor.min(now));
        let resumed = self.talking_since(role, i);
        let other = role.other();
        if resumed.is_none() && self.parties[other.index()].run.is_none() {
            // A new stretch of talk: the other party's spurts that ended before it are over,
            // so their episodes can be decided now (a short spurt in this party's pause is
            // then a backchannel candidate before the check below).
            let mut closed = false;
            for e in self.episodes.iter_mut().flatten() {
                if e.newcomer == other && e.newcomer_end.is_some() {
                    e.newcomer_closed = true;
                    closed = true;
                }
            }
            if closed {
                self.resolve(i, false, emit);
            }
        }
        let state = &mut self.parties[role.index()];
        state.run = Some(Run {
            start: i,
            last_active: i,
            last_extent: i,
        });
        state.last_active = Some(i);
        state.last_extent = Some(i);
        state.talk_start = Some(resumed.unwrap_or(i));
        self.end_silence(i, emit);
        // The other party's short spurt in this party's pause was a backchannel.
        if let Some(c) = self.pause
            && c.by == other
        {
            if i.saturating_sub(c.holder_silent_since) <= self.n.pause {
                self.stats.backchannel(c.by);
                emit(Output::Event(Event {
                    kind: EventKind::Backchannel,
                    start: self.t(c.start),
                    end: self.t(c.end),
                    party: Some(c.by),
                    class: None,
                }));
            }
            self.pause = None;
        }
        if let Some(talk) = resumed {
            // A pause inside this party's talk is over: its episodes go on.
            for e in self.episodes.iter_mut().flatten() {
                if e.newcomer == role && e.start == talk {
                    e.newcomer_end = None;
                }
                if e.holder == role && e.holder_start == talk {
                    e.holder_end = None;
                }
            }
            return;
        }
        let Some(other_start) = self.talking_since(other, i) else {
            return;
        };
        let (newcomer, holder, start, holder_start) = if other_start > i {
            // This party's soft start came first: the other party is the newcomer.
            (other, role, other_start, i)
        } else if other_start == i {
            match self.floor {
                Some(t) if t.who == other => (role, other, i, i),
                Some(_) => (other, role, i, i),
                // A simultaneous start with nobody holding the floor (the start of the call,
                // after a gap): nobody interrupts anybody.
                None => return,
            }
        } else {
            (role, other, i, other_start)
        };
        let episode = Episode {
            newcomer,
            holder,
            start,
            holder_start,
            newcomer_end: None,
            holder_end: None,
            newcomer_closed: false,
            holder_yield: None,
            decision: None,
        };
        if let Some(slot) = self.episodes.iter_mut().find(|e| e.is_none()) {
            *slot = Some(episode);
        } else {
            // Cannot happen with two parties; keep memory bounded regardless.
            self.episodes[0] = Some(episode);
        }
    }

    fn end_run(&mut self, role: Role, run: Run) {
        self.stats.talk(role, run.frames());
        let talk = self.parties[role.index()].talk_start.unwrap_or(run.start);
        let mut in_episode = false;
        for e in self.episodes.iter_mut().flatten() {
            if e.newcomer == role && e.start == talk {
                e.newcomer_end = Some((run.last_active, run.last_extent));
                in_episode = true;
            }
            if e.holder == role && e.holder_start == talk {
                e.holder_end = Some((run.last_active, run.last_extent));
            }
        }
        if !in_episode {
            self.maybe_pause_backchannel(role, run);
        }
    }

    /// A short spurt of `role` while the other holds the floor and is silent: a candidate
    /// backchannel, confirmed if the holder resumes soon enough.
    fn maybe_pause_backchannel(&mut self, role: Role, run: Run) {
        let holder = role.other();
        if run.frames() >= self.n.backchannel
            || run.frames() < self.n.min_backchannel
            || self.floor.is_none_or(|t| t.who != holder)
        {
            return;
        }
        let Some(last) = self.parties[holder.index()].last_active else {
            return;
        };
        let silent_since = last + 1;
        if run.start >= silent_since && run.start - silent_since <= self.n.pause {
            self.pause = Some(PauseCandidate {
                by: role,
                start: run.start,
                end: run.last_active + 1,
                holder_silent_since: silent_since,
            });
        }
    }

    fn expire_pause(&mut self, i: u64) {
        if let Some(c) = self.pause
            && i.saturating_sub(c.holder_silent_since) > self.n.pause
        {
            self.pause = None;
        }
    }

    /// The last active frame and the last extent frame of an episode party's talk that
    /// started at `start`, and whether that talk is over (silent longer than `join_pause_ms`
    /// at frame `i`).
    fn spurt_end(
        &self,
        role: Role,
        start: u64,
        ended: Option<(u64, u64)>,
        i: u64,
        finishing: bool,
    ) -> (u64, u64, bool) {
        let state = &self.parties[role.index()];
        if let Some(run) = state.run
            && state.talk_start == Some(start)
        {
            return (run.last_active, run.last_extent, finishing);
        }
        match ended {
            Some((end, extent)) => (end, extent, finishing || i > end + 1 + self.n.join),
            None => (start, start, true),
        }
    }

    fn resolve(&mut self, i: u64, finishing: bool, emit: &mut dyn FnMut(Output)) {
        for k in 0..MAX_EPISODES {
            let Some(mut e) = self.episodes[k] else {
                continue;
            };
            let (la_q, ex_q, q_final) = self.spurt_end(
                e.newcomer,
                e.start,
                e.newcomer_end,
                i,
                finishing || e.newcomer_closed,
            );
            let (_, ex_p, p_final) =
                self.spurt_end(e.holder, e.holder_start, e.holder_end, i, finishing);
            // The holder talks (for the overlap) to the end of its extent; the newcomer's
            // length, which tells a backchannel, counts its active frames.
            let overlapped = ex_p >= e.start;
            if e.decision.is_none() && e.holder_yield.is_none() && self.n.yield_pause > 0 {
                // The holder silent for `yield_pause_ms` after the onset while the newcomer
                // talks on: it has yielded.
                let last = self.parties[e.holder.index()]
                    .last_extent
                    .unwrap_or(e.holder_start);
                if last >= e.start
                    && i > last + self.n.yield_pause
                    && ex_q > last + self.n.yield_pause
                    && !q_final
                {
                    e.holder_yield = Some(last);
                }
            }
            if e.decision.is_none() {
                let talked = la_q + 1 - e.start;
                let (held, p_final) = match e.holder_yield {
                    Some(y) => (ex_p.min(y), true),
                    None => (ex_p, p_final),
                };
                e.decision = if talked >= self.n.backchannel {
                    if held >= e.start + self.n.turn_end {
                        self.on_interruption(e.newcomer, i, emit);
                        Some(Decision::Class(OverlapClass::Interruption))
                    } else if p_final {
                        Some(if overlapped {
                            Decision::Class(OverlapClass::TurnEnd)
                        } else {
                            Decision::NoOverlap
                        })
                    } else {
                        None
                    }
                } else if q_final && overlapped && talked >= self.n.min_backchannel {
                    Some(Decision::Class(OverlapClass::Backchannel))
                } else if q_final && overlapped {
                    // A blip (click, breath, leftover echo): neither a backchannel nor a
                    // bid for the floor.
                    Some(Decision::NoOverlap)
                } else if q_final && p_final {
                    Some(Decision::NoOverlap)
                } else {
                    None
                };
            }
            self.episodes[k] = Some(e);
            match e.decision {
                None => {}
                Some(Decision::NoOverlap) => {
                    self.episodes[k] = None;
                    if q_final {
                        self.maybe_pause_backchannel(
                            e.newcomer,
                            Run {
                                start: e.start,
                                last_active: la_q,
                                last_extent: ex_q,
                            },
                        );
                    }
                }
                Some(Decision::Class(class)) => {
                    // The overlap runs to the end of the shorter of the two extents.
                    let known = (q_final && (p_final || ex_p >= ex_q)) || (p_final && ex_q >= ex_p);
                    if known {
                        self.episodes[k] = None;
                        self.emit_overlap(&e, class, la_q, ex_p.min(ex_q) + 1, emit);
                    }
                }
            }
        }
    }

    fn emit_overlap(
        &mut self,
        e: &Episode,
        class: OverlapClass,
        la_q: u64,
        end: u64,
        emit: &mut dyn FnMut(Output),
    ) {
        let frames = end.saturating_sub(e.start);
        let by = Some(e.newcomer);
        if frames >= self.n.min_overlap {
            self.stats.overlap(frames);
            emit(Output::Event(Event {
                kind: EventKind::Overlap,
                start: self.t(e.start),
                end: self.t(end.max(e.start)),
                party: by,
                class: Some(class),
            }));
        }
        match class {
            OverlapClass::Interruption => {
                self.stats.interruption(e.newcomer);
                emit(Output::Event(Event {
                    kind: EventKind::Interruption,
                    start: self.t(e.start),
                    end: self.t(end.max(e.start)),
                    party: by,
                    class: None,
                }));
            }
            OverlapClass::Backchannel => {
                self.stats.backchannel(e.newcomer);
                emit(Output::Event(Event {
                    kind: EventKind::Backchannel,
                    start: self.t(e.start),
                    end: self.t(la_q + 1),
                    party: by,
                    class: None,
                }));
            }
            OverlapClass::TurnEnd => {
                if frames >= self.n.min_overlap {
                    self.stats.turn_end_overlap(e.newcomer);
                }
            }
            OverlapClass::Unresolved => {}
        }
    }

    fn on_interruption(&mut self, by: Role, i: u64, emit: &mut dyn FnMut(Output)) {
        if by != Role::Agent {
            return;
        }
        self.recent_interruptions.rotate_right(1);
        self.recent_interruptions[0] = Some(i);
        let critical = self
            .recent_interruptions
            .iter()
            .all(|t| t.is_some_and(|t| i - t <= self.n.critical_window));
        if self
            .last_interrupt_alert
            .is_some_and(|t| i - t < self.n.debounce)
        {
            self.stats.suppressed();
            return;
        }
        self.last_interrupt_alert = Some(i);
        self.raise(
            Alert {
                kind: AlertKind::AgentInterrupting,
                t: self.t(i) + self.hop_s / 2.0,
                who: Role::Agent,
                severity: if critical {
                    Severity::Critical
                } else {
                    Severity::Warn
                },
                message: if critical {
                    MSG_INTERRUPTING_AGAIN
                } else {
                    MSG_INTERRUPTING
                },
                captured_at: None,
            },
            emit,
        );
    }

    fn raise(&mut self, alert: Alert, emit: &mut dyn FnMut(Output)) {
        self.stats.alert(alert.kind);
        emit(Output::Alert(alert));
    }

    fn update_floor(&mut self, emit: &mut dyn FnMut(Output)) {
        let Some(turn) = self.floor else {
            let first = ROLES
                .iter()
                .filter_map(|&r| self.parties[r.index()].run.map(|run| (run.start, r)))
                .min_by_key(|&(start, _)| start);
            if let Some((start, who)) = first {
                self.floor = Some(Turn {
                    who,
                    start,
                    alerted: false,
                });
            }
            return;
        };
        let other = turn.who.other();
        let Some(run) = self.parties[other.index()].run else {
            return;
        };
        if run.frames() < self.n.backchannel || self.parties[turn.who.index()].run.is_some() {
            return;
        }
        let end = self.end_turn(emit);
        if let Some(end) = end {
            self.stats.response_gap(run.start as i64 - end as i64);
        }
        self.floor = Some(Turn {
            who: other,
            start: run.start,
            alerted: false,
        });
    }

    /// Ends the current turn at its holder's last active frame; returns that end (exclusive).
    fn end_turn(&mut self, emit: &mut dyn FnMut(Output)) -> Option<u64> {
        let turn = self.floor.take()?;
        let end = self.parties[turn.who.index()]
            .last_active
            .map_or(turn.start, |l| l + 1)
            .max(turn.start);
        let frames = end - turn.start;
        self.stats.turn(turn.who, frames);
        emit(Output::Event(Event {
            kind: EventKind::Turn,
            start: self.t(turn.start),
            end: self.t(end),
            party: Some(turn.who),
            class: None,
        }));
        if frames >= self.n.monologue {
            emit(Output::Event(Event {
                kind: EventKind::Monologue,
                start: self.t(turn.start),
                end: self.t(end),
                party: Some(turn.who),
                class: None,
            }));
        }
        Some(end)
    }

    fn check_monologue(&mut self, i: u64, emit: &mut dyn FnMut(Output)) {
        let Some(turn) = self.floor else {
            return;
        };
        if turn.who != Role::Agent
            || turn.alerted
            || self.parties[Role::Agent.index()].run.is_none()
            || i + 1 - turn.start.min(i) < self.n.monologue
        {
            return;
        }
        self.floor = Some(Turn {
            alerted: true,
            ..turn
        });
        self.raise(
            Alert {
                kind: AlertKind::AgentMonologue,
                t: self.t(i) + self.hop_s / 2.0,
                who: Role::Agent,
                severity: Severity::Warn,
                message: MSG_MONOLOGUE,
                captured_at: None,
            },
            emit,
        );
    }

    fn check_dead_air(&mut self, i: u64, emit: &mut dyn FnMut(Output)) {
        if self.parties.iter().any(|p| p.run.is_some()) {
            return;
        }
        let Some(last) = self.parties.iter().filter_map(|p| p.last_active).max() else {
            return;
        };
        let start = *self
            .silence_start
            .get_or_insert((last + 1).max(self.resume_at));
        if !self.silence_alerted && i + 1 >= start + self.n.dead_air {
            self.silence_alerted = true;
            self.raise(
                Alert {
                    kind: AlertKind::DeadAir,
                    t: self.t(i) + self.hop_s / 2.0,
                    who: Role::Agent,
                    severity: Severity::Warn,
                    message: MSG_DEAD_AIR,
                    captured_at: None,
                },
                emit,
            );
        }
    }

    /// Ends a silence at frame `end` (exclusive), reporting it if it was dead air.
    fn end_silence(&mut self, end: u64, emit: &mut dyn FnMut(Output)) {
        if let Some(start) = self.silence_start.take()
            && end >= start + self.n.dead_air
        {
            self.stats.dead_air(end - start);
            emit(Output::Event(Event {
                kind: EventKind::DeadAir,
                start: self.t(start),
                end: self.t(end),
                party: None,
                class: None,
            }));
        }
        self.silence_alerted = false;
    }

    /// A gap in the input at frame `i`: close everything at what is known.
    fn cut(&mut self, i: u64, emit: &mut dyn FnMut(Output)) {
        for role in ROLES {
            if let Some(run) = self.parties[role.index()].run.take() {
                self.end_run(role, run);
            }
        }
        for k in 0..MAX_EPISODES {
            let Some(mut e) = self.episodes[k] else {
                continue;
            };
            if e.decision.is_none() {
                let la_p = e.holder_end.map_or(e.holder_start, |(_, extent)| extent);
                e.decision = Some(if la_p >= e.start {
                    Decision::Class(OverlapClass::Unresolved)
                } else {
                    Decision::NoOverlap
                });
                self.episodes[k] = Some(e);
            }
        }
        self.resolve(i, true, emit);
        self.episodes = [None; MAX_EPISODES];
        self.pause = None;
        self.end_turn(emit);
        // The silence before the gap may have been dead air; the gap itself is not silence.
        if let Some(start) = self.silence_start
            && i >= start + self.n.dead_air
        {
            self.end_silence(i, emit);
        }
        self.silence_start = None;
        self.silence_alerted = false;
        self.resume_at = i + 1;
    }
}
