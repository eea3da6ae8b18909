//! The agent view's model: what the panel shows, updated record by record, with no terminal
//! I/O (so it is tested without a terminal).
//!
//! Memory is fixed: the agitation history is a ring of [`HISTORY_POINTS`] points of
//! [`HISTORY_STEP_S`] each, the alert list a ring of [`ALERTS_SHOWN`] alerts; nothing grows with
//! the length of the call. Every time the state uses is call time (the records' `t`), so the
//! same records always give the same picture.

use std::sync::Arc;

use crate::alert::Alert;
use crate::conversation::{Event, EventKind};
use crate::features::PartyFeatures;
use crate::record::{FrameRecord, Record};
use crate::role::Role;
use crate::summary::Summary;

/// Seconds of call time per point of the agitation history.
pub const HISTORY_STEP_S: f64 = 0.5;
/// Points in the agitation history (120 × 0.5 s = the last minute).
pub const HISTORY_POINTS: usize = 120;
/// Alerts kept for the list, newest first.
pub const ALERTS_SHOWN: usize = 5;
/// How long the newest alert stays highlighted, in seconds of call time.
pub const ALERT_HIGHLIGHT_S: f64 = 4.0;
/// How far back the trend arrow looks, in seconds.
pub const TREND_WINDOW_S: f64 = 3.0;
/// Change of agitation over [`TREND_WINDOW_S`] that turns the arrow up or down.
pub const TREND_THRESHOLD: f32 = 0.05;
/// Meter time constants: a level rise shows within ~50 ms, a fall within ~300 ms.
const METER_ATTACK_S: f64 = 0.05;
const METER_RELEASE_S: f64 = 0.3;
/// The meter's floor in dBFS (silence sits here).
pub const METER_FLOOR_DB: f32 = -60.0;
/// A voiced F0 is held this long across unvoiced frames, so the number does not flicker.
const F0_HOLD_S: f64 = 0.2;

/// A fixed ring of the `N` newest values.
#[derive(Debug, Clone)]
struct Ring<T: Copy, const N: usize> {
    items: [Option<T>; N],
    /// Slot of the next push.
    head: usize,
    len: usize,
}

impl<T: Copy, const N: usize> Ring<T, N> {
    fn new() -> Self {
        Self {
            items: [None; N],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, value: T) {
        self.items[self.head] = Some(value);
        self.head = (self.head + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// The values, newest first.
    fn newest_first(&self) -> impl Iterator<Item = &T> + '_ {
        (1..=self.len).filter_map(move |k| self.items[(self.head + N - k) % N].as_ref())
    }

    /// The `k`-th newest value (0 = newest).
    fn back(&self, k: usize) -> Option<&T> {
        (k < self.len)
            .then(|| self.items[(self.head + N - 1 - k) % N].as_ref())
            .flatten()
    }
}

/// Who holds the floor at the newest frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speaker {
    /// No frame yet.
    Waiting,
    /// Nobody speaks; the silence has lasted this many seconds.
    Nobody {
        /// Seconds since anyone last spoke (since the start if nobody has yet).
        silence_s: f64,
    },
    /// One party speaks.
    One(Role),
    /// Both speak at once: talk-over.
    Both,
}

/// Which way the caller's agitation is going over the last [`TREND_WINDOW_S`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Up by more than [`TREND_THRESHOLD`].
    Rising,
    /// Within [`TREND_THRESHOLD`].
    Steady,
    /// Down by more than [`TREND_THRESHOLD`].
    Falling,
}

impl Trend {
    /// The arrow shown: `↑`, `→` or `↓`.
    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Rising => "↑",
            Trend::Steady => "→",
            Trend::Falling => "↓",
        }
    }
}

/// One party's meters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartyMeter {
    /// Speaking at the newest frame.
    pub speech: bool,
    /// Frame level in dBFS, smoothed (fast rise, slower fall), never below [`METER_FLOOR_DB`].
    pub level_db: f32,
    /// Momentary loudness (400 ms) in LUFS at the newest frame.
    pub lufs_m: f32,
    /// Current F0 in Hz while voiced (held briefly across unvoiced frames), else `None`.
    pub f0_hz: Option<f32>,
    /// Time of the last voiced frame.
    last_voiced_t: f64,
}

impl PartyMeter {
    fn new() -> Self {
        Self {
            speech: false,
            level_db: METER_FLOOR_DB,
            lufs_m: f32::NEG_INFINITY,
            f0_hz: None,
            last_voiced_t: f64::NEG_INFINITY,
        }
    }

    fn update(&mut self, p: &PartyFeatures, t: f64, dt: f64) {
        self.speech = p.speech;
        let target = if p.loudness_db.is_finite() {
            p.loudness_db.max(METER_FLOOR_DB)
        } else {
            METER_FLOOR_DB
        };
        let tau = if target > self.level_db {
            METER_ATTACK_S
        } else {
            METER_RELEASE_S
        };
        let alpha = (1.0 - (-dt / tau).exp()) as f32;
        self.level_db += alpha * (target - self.level_db);
        self.lufs_m = p.lufs_m;
        match p.f0_hz {
            Some(f) if f.is_finite() => {
                self.f0_hz = Some(f);
                self.last_voiced_t = t;
            }
            _ if t - self.last_voiced_t > F0_HOLD_S || !p.speech => self.f0_hz = None,
            _ => {}
        }
    }

    /// The smoothed level as a fraction of the meter (0 at [`METER_FLOOR_DB`], 1 at 0 dBFS).
    pub fn level_ratio(&self) -> f64 {
        f64::from((self.level_db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0)
    }
}

/// One point of the agitation history: the mean over its step, `None` before a baseline.
type HistoryPoint = Option<f32>;

/// The agent view's model. Feed it every record with [`ViewState::apply`]; read it with the
/// accessors (or draw it with [`crate::view::draw()`]).
///
/// # Examples
///
/// ```
/// use callpulse::view::ViewState;
///
/// let state = ViewState::new("call 42");
/// assert_eq!(state.call_name(), "call 42");
/// assert_eq!(state.talk_ratio_agent(), None);
/// ```
#[derive(Debug, Clone)]
pub struct ViewState {
    call_name: String,
    /// Time of the newest record in seconds.
    t: f64,
    last_frame_t: Option<f64>,
    parties: [Option<PartyMeter>; 2],
    speech_frames: [u64; 2],
    /// Time of the last frame anyone spoke in.
    last_speech_t: Option<f64>,
    agitation: Option<f32>,
    history: Ring<HistoryPoint, HISTORY_POINTS>,
    /// The step being accumulated: its index, sum and count of scores.
    step: Option<(u64, f64, u32)>,
    interruptions: [u32; 2],
    overlaps: u32,
    backchannels: u32,
    alerts: Ring<Alert, ALERTS_SHOWN>,
    alerts_total: u32,
    summary: Option<Arc<Summary>>,
}

impl ViewState {
    /// An empty view of the call named `call_name`.
    pub fn new(call_name: impl Into<String>) -> Self {
        Self {
            call_name: call_name.into(),
            t: 0.0,
            last_frame_t: None,
            parties: [None, None],
            speech_frames: [0; 2],
            last_speech_t: None,
            agitation: None,
            history: Ring::new(),
            step: None,
            interruptions: [0; 2],
            overlaps: 0,
            backchannels: 0,
            alerts: Ring::new(),
            alerts_total: 0,
            summary: None,
        }
    }

    /// Takes one record into the picture.
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Frame(f) => self.frame(f),
            Record::Event(e) => self.event(e),
            Record::Alert(a) => {
                self.alerts.push(*a);
                self.alerts_total = self.alerts_total.saturating_add(1);
                self.advance(a.t);
            }
            Record::Summary(s) => {
                self.summary = Some(Arc::clone(s));
                self.advance(s.duration_s);
            }
        }
    }

    fn advance(&mut self, t: f64) {
        if t.is_finite() && t > self.t {
            self.t = t;
        }
    }

    fn frame(&mut self, f: &FrameRecord) {
        let dt = self
            .last_frame_t
            .map_or(0.01, |last| (f.t - last).clamp(0.0, 1.0));
        self.last_frame_t = Some(f.t);
        self.advance(f.t);
        let mut anyone = false;
        for role in Role::ALL {
            let i = role.index();
            match f.party(role) {
                Some(p) => {
                    self.parties[i]
                        .get_or_insert_with(PartyMeter::new)
                        .update(p, f.t, dt);
                    if p.speech {
                        self.speech_frames[i] += 1;
                        anyone = true;
                    }
                }
                None => self.parties[i] = None,
            }
        }
        if anyone {
            self.last_speech_t = Some(f.t);
        }
        if let Some(caller) = f.party(Role::Caller) {
            self.agitation = caller.agitation.filter(|a| a.is_finite());
            self.history_point(f.t, self.agitation);
        }
    }

    /// Accumulates the caller's score into the current history step; closes steps passed.
    fn history_point(&mut self, t: f64, score: Option<f32>) {
        let index = (t.max(0.0) / HISTORY_STEP_S) as u64;
        match self.step {
            Some((current, _, _)) if index < current => return,
            Some((current, sum, n)) if index > current => {
                self.history
                    .push((n > 0).then(|| (sum / f64::from(n)) as f32));
                // Steps with no frame at all (a gap in the records) show as absent, at most
                // one ring's worth.
                let missing = (index - current - 1).min(HISTORY_POINTS as u64);
                for _ in 0..missing {
                    self.history.push(None);
                }
                self.step = Some((index, 0.0, 0));
            }
            Some(_) => {}
            None => self.step = Some((index, 0.0, 0)),
        }
        if let (Some(a), Some((_, sum, n))) = (score, self.step.as_mut()) {
            *sum += f64::from(a);
            *n += 1;
        }
    }

    fn event(&mut self, e: &Event) {
        self.advance(e.end);
        match e.kind {
            EventKind::Interruption => {
                if let Some(p) = e.party {
                    self.interruptions[p.index()] += 1;
                }
            }
            EventKind::Overlap => self.overlaps += 1,
            EventKind::Backchannel => self.backchannels += 1,
            _ => {}
        }
    }

    /// The call's name.
    pub fn call_name(&self) -> &str {
        &self.call_name
    }

    /// Call time of the newest record, in seconds.
    pub fn elapsed_s(&self) -> f64 {
        self.t
    }

    /// Who speaks at the newest frame.
    pub fn speaker(&self) -> Speaker {
        let Some(t) = self.last_frame_t else {
            return Speaker::Waiting;
        };
        let speaking = |r: Role| self.parties[r.index()].is_some_and(|p| p.speech);
        match (speaking(Role::Agent), speaking(Role::Caller)) {
            (true, true) => Speaker::Both,
            (true, false) => Speaker::One(Role::Agent),
            (false, true) => Speaker::One(Role::Caller),
            (false, false) => Speaker::Nobody {
                silence_s: (t - self.last_speech_t.unwrap_or(0.0)).max(0.0),
            },
        }
    }

    /// The meters of `role`, `None` when the call has no such party (or no frame yet).
    pub fn party(&self, role: Role) -> Option<&PartyMeter> {
        self.parties[role.index()].as_ref()
    }

    /// The agent's share of the speech time so far (from frames), `None` before anyone spoke.
    pub fn talk_ratio_agent(&self) -> Option<f64> {
        let [agent, caller] = self.speech_frames;
        let total = agent + caller;
        (total > 0).then(|| agent as f64 / total as f64)
    }

    /// Interruptions so far by `role`.
    pub fn interruptions(&self, role: Role) -> u32 {
        self.interruptions[role.index()]
    }

    /// Overlap events so far.
    pub fn overlaps(&self) -> u32 {
        self.overlaps
    }

    /// Backchannel events so far.
    pub fn backchannels(&self) -> u32 {
        self.backchannels
    }

    /// The caller's agitation at the newest frame, `None` while the baseline is being learnt
    /// (or with no caller).
    pub fn agitation(&self) -> Option<f32> {
        self.agitation
    }

    /// Whether the call has a caller channel at all (no frame yet counts as having one).
    pub fn has_caller(&self) -> bool {
        self.last_frame_t.is_none() || self.parties[Role::Caller.index()].is_some()
    }

    /// The agitation history, oldest first: the last [`HISTORY_POINTS`] completed steps of
    /// [`HISTORY_STEP_S`], each the mean score over its step (`None` without a score).
    pub fn agitation_history(&self) -> impl Iterator<Item = Option<f32>> + '_ {
        let mut points = [None; HISTORY_POINTS];
        let mut n = 0;
        for p in self.history.newest_first() {
            points[n] = *p;
            n += 1;
        }
        (0..n).rev().map(move |k| points[k])
    }

    /// The trend of the caller's agitation: the current score against the history point
    /// [`TREND_WINDOW_S`] ago. `None` until both exist.
    pub fn agitation_trend(&self) -> Option<Trend> {
        let now = self.agitation?;
        let back = (TREND_WINDOW_S / HISTORY_STEP_S).round() as usize;
        // The newest completed step ends at most one step ago, so step `back - 1` back is
        // about `TREND_WINDOW_S` old.
        let then = (*self.history.back(back.saturating_sub(1))?)?;
        let delta = now - then;
        Some(if delta > TREND_THRESHOLD {
            Trend::Rising
        } else if delta < -TREND_THRESHOLD {
            Trend::Falling
        } else {
            Trend::Steady
        })
    }

    /// The last [`ALERTS_SHOWN`] alerts, newest first.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> + '_ {
        self.alerts.newest_first()
    }

    /// Alerts received in the whole call.
    pub fn alerts_total(&self) -> u32 {
        self.alerts_total
    }

    /// Whether the newest alert is recent enough to stand out ([`ALERT_HIGHLIGHT_S`]).
    pub fn newest_alert_highlighted(&self) -> bool {
        self.alerts
            .back(0)
            .is_some_and(|a| self.t - a.t < ALERT_HIGHLIGHT_S && self.summary.is_none())
    }

    /// The call's summary once it has ended.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKind, Severity};

    fn party(speech: bool, f0: Option<f32>, db: f32, agitation: Option<f32>) -> PartyFeatures {
        PartyFeatures {
            speech,
            active: speech,
            extent: speech,
            f0_hz: f0,
            loudness_db: db,
            lufs_m: db + 1.0,
            agitation,
            ..PartyFeatures::default()
        }
    }

    fn frame(index: u64, agent: PartyFeatures, caller: PartyFeatures) -> Record {
        Record::Frame(FrameRecord {
            index,
            t: (index as f64 + 0.5) * 0.01,
            parties: [Some(agent), Some(caller)],
            captured_at: None,
        })
    }

    fn talk(index: u64, agent: bool, caller: bool) -> Record {
        frame(
            index,
            party(agent, None, -30.0, None),
            party(caller, None, -30.0, None),
        )
    }

    fn alert(t: f64, message: &'static str) -> Record {
        Record::Alert(Alert {
            kind: AlertKind::CallerAgitationRising,
            t,
            who: Role::Caller,
            severity: Severity::Warn,
            message,
            captured_at: None,
        })
    }

    #[test]
    fn talk_ratio_counts_speech_frames_of_each_party() {
        let mut s = ViewState::new("c");
        assert_eq!(s.talk_ratio_agent(), None);
        for i in 0..300 {
            s.apply(&talk(i, true, false));
        }
        for i in 300..400 {
            s.apply(&talk(i, false, true));
        }
        for i in 400..500 {
            s.apply(&talk(i, false, false));
        }
        let r = s.talk_ratio_agent().unwrap();
        assert!((r - 0.75).abs() < 1e-9, "{r}");
    }

    #[test]
    fn speaker_and_silence_timer() {
        let mut s = ViewState::new("c");
        assert_eq!(s.speaker(), Speaker::Waiting);
        s.apply(&talk(0, true, false));
        assert_eq!(s.speaker(), Speaker::One(Role::Agent));
        s.apply(&talk(1, true, true));
        assert_eq!(s.speaker(), Speaker::Both);
        s.apply(&talk(2, false, true));
        assert_eq!(s.speaker(), Speaker::One(Role::Caller));
        for i in 3..=252 {
            s.apply(&talk(i, false, false));
        }
        match s.speaker() {
            Speaker::Nobody { silence_s } => assert!((silence_s - 2.5).abs() < 1e-9, "{silence_s}"),
            other => panic!("{other:?}"),
        }
        s.apply(&talk(253, true, false));
        assert_eq!(s.speaker(), Speaker::One(Role::Agent));
    }

    #[test]
    fn alerts_newest_first_and_bounded() {
        const MESSAGES: [&str; 8] = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"];
        let mut s = ViewState::new("c");
        for (i, m) in MESSAGES.iter().enumerate() {
            s.apply(&alert(i as f64, m));
        }
        let shown: Vec<_> = s.alerts().map(|a| a.message).collect();
        assert_eq!(shown, ["a7", "a6", "a5", "a4", "a3"]);
        assert_eq!(s.alerts_total(), 8);
        assert!(s.newest_alert_highlighted());
        for i in 0..1200 {
            s.apply(&talk(i, false, false));
        }
        assert!(!s.newest_alert_highlighted(), "the highlight fades");
    }

    #[test]
    fn agitation_trend_and_bounded_history() {
        let mut s = ViewState::new("c");
        let quiet = party(false, None, -60.0, None);
        // Baseline first: no score, no trend.
        for i in 0..500 {
            s.apply(&frame(i, quiet, party(true, Some(200.0), -20.0, None)));
        }
        assert_eq!(s.agitation(), None);
        assert_eq!(s.agitation_trend(), None);
        // A steady score, then a rise, then a fall.
        let mut i = 500;
        let mut run = |s: &mut ViewState, n: u64, score: &dyn Fn(u64) -> f32| {
            for k in 0..n {
                s.apply(&frame(
                    i,
                    quiet,
                    party(true, Some(200.0), -20.0, Some(score(k))),
                ));
                i += 1;
            }
        };
        run(&mut s, 600, &|_| 0.3);
        assert_eq!(s.agitation_trend(), Some(Trend::Steady));
        run(&mut s, 500, &|k| 0.3 + 0.5 * k as f32 / 500.0);
        assert_eq!(s.agitation_trend(), Some(Trend::Rising));
        run(&mut s, 500, &|k| 0.8 - 0.6 * k as f32 / 500.0);
        assert_eq!(s.agitation_trend(), Some(Trend::Falling));
        assert!((s.agitation().unwrap() - 0.2).abs() < 0.01);
        // A long call keeps only the last minute.
        run(&mut s, 20_000, &|_| 0.5);
        let h: Vec<_> = s.agitation_history().collect();
        assert_eq!(h.len(), HISTORY_POINTS);
        assert!(h.iter().all(|p| p.is_some_and(|a| (a - 0.5).abs() < 1e-6)));
    }

    #[test]
    fn history_is_oldest_first_with_none_before_baseline() {
        let mut s = ViewState::new("c");
        let quiet = party(false, None, -60.0, None);
        for i in 0..100 {
            s.apply(&frame(i, quiet, party(true, None, -20.0, None)));
        }
        for i in 100..201 {
            s.apply(&frame(i, quiet, party(true, None, -20.0, Some(0.4))));
        }
        let h: Vec<_> = s.agitation_history().collect();
        assert_eq!(h.len(), 4);
        assert_eq!(&h[..2], &[None, None]);
        assert!(h[2..].iter().all(|p| p.is_some()));
    }

    #[test]
    fn meters_smooth_level_and_hold_pitch() {
        let mut s = ViewState::new("c");
        let quiet = party(false, None, -80.0, None);
        s.apply(&frame(0, quiet, quiet));
        assert_eq!(s.party(Role::Agent).unwrap().level_db, METER_FLOOR_DB);
        for i in 1..30 {
            s.apply(&frame(i, party(true, Some(120.0), -20.0, None), quiet));
        }
        let m = *s.party(Role::Agent).unwrap();
        assert!((m.level_db - -20.0).abs() < 1.0, "{}", m.level_db);
        assert_eq!(m.f0_hz, Some(120.0));
        // Unvoiced for 100 ms while speaking: held; for 300 ms: gone.
        for i in 30..40 {
            s.apply(&frame(i, party(true, None, -20.0, None), quiet));
        }
        assert_eq!(s.party(Role::Agent).unwrap().f0_hz, Some(120.0));
        for i in 40..60 {
            s.apply(&frame(i, party(true, None, -20.0, None), quiet));
        }
        assert_eq!(s.party(Role::Agent).unwrap().f0_hz, None);
        // Silence: the meter falls, more slowly than it rose.
        s.apply(&frame(60, quiet, quiet));
        assert!(s.party(Role::Agent).unwrap().level_db < -20.0);
        assert!(s.party(Role::Agent).unwrap().level_db > -40.0);
    }

    #[test]
    fn events_are_counted() {
        let mut s = ViewState::new("c");
        let ev = |kind, party| {
            Record::Event(Event {
                kind,
                start: 1.0,
                end: 2.0,
                party,
                class: None,
            })
        };
        s.apply(&ev(EventKind::Interruption, Some(Role::Agent)));
        s.apply(&ev(EventKind::Interruption, Some(Role::Agent)));
        s.apply(&ev(EventKind::Interruption, Some(Role::Caller)));
        s.apply(&ev(EventKind::Overlap, Some(Role::Agent)));
        s.apply(&ev(EventKind::Backchannel, Some(Role::Caller)));
        s.apply(&ev(EventKind::Turn, Some(Role::Caller)));
        assert_eq!(s.interruptions(Role::Agent), 2);
        assert_eq!(s.interruptions(Role::Caller), 1);
        assert_eq!(s.overlaps(), 1);
        assert_eq!(s.backchannels(), 1);
        assert_eq!(s.elapsed_s(), 2.0);
    }
}
