//! Ground truth of a simulated call: utterance extents, turns, overlaps and their classes,
//! interruptions and backchannels, derived from the placements by the rules in the
//! [module docs](super).

use std::io::Write;

use serde::Serialize;

use crate::conversation::OverlapClass;
use crate::error::Error;
use crate::role::Role;

/// An utterance shorter than this (extent, in seconds) is a backchannel candidate.
pub const BACKCHANNEL_MAX_S: f64 = 0.5;
/// An overlap is a turn end when the holder's utterance ends at most this long (seconds) after
/// the newcomer's onset.
pub const TURN_END_S: f64 = 0.5;
/// A short utterance inside a pause of the other party at most this long (seconds) is a
/// backchannel (a listening response in a pause).
pub const BACKCHANNEL_PAUSE_MAX_S: f64 = 1.0;
/// Frame length (seconds) of the speech-extent measurement.
pub const EXTENT_FRAME_S: f64 = 0.01;
/// A frame belongs to the speech extent when its RMS is within this many dB of the clip's
/// loudest frame ...
pub const EXTENT_RANGE_DB: f64 = 35.0;
/// ... and above this level (dBFS, RMS of the frame; a full-scale sine is −3 dBFS) ...
pub const EXTENT_FLOOR_DBFS: f64 = -60.0;
/// ... and lies in a run of at least this many such frames in a row: an isolated frame or
/// two (a click at the start of a recording, a lip smack) separated from the speech by
/// silence is not speech.
pub const EXTENT_MIN_RUN_FRAMES: usize = 3;

/// The thresholds of the ground-truth rules; [`Default`] gives the public constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthRules {
    /// See [`BACKCHANNEL_MAX_S`].
    pub backchannel_max_s: f64,
    /// See [`TURN_END_S`].
    pub turn_end_s: f64,
    /// See [`BACKCHANNEL_PAUSE_MAX_S`].
    pub backchannel_pause_max_s: f64,
}

impl Default for TruthRules {
    fn default() -> Self {
        Self {
            backchannel_max_s: BACKCHANNEL_MAX_S,
            turn_end_s: TURN_END_S,
            backchannel_pause_max_s: BACKCHANNEL_PAUSE_MAX_S,
        }
    }
}

/// The speech extent of one placement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utterance {
    /// Whose channel it is on.
    pub who: Role,
    /// Start of the extent (seconds from the start of the call).
    pub start: f64,
    /// End of the extent (seconds).
    pub end: f64,
    /// The script line of the placement (for a script built in code: its 1-based number).
    pub line: usize,
}

impl Utterance {
    /// Length of the extent in seconds.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// A maximal run of one party's utterances (backchannels not counted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Turn {
    /// Who holds the turn.
    pub who: Role,
    /// Start of its first utterance.
    pub start: f64,
    /// Latest end of its utterances.
    pub end: f64,
}

/// A maximal interval in which both parties are inside an utterance extent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    /// Start (seconds).
    pub start: f64,
    /// End (seconds).
    pub end: f64,
    /// Its class.
    pub class: OverlapClass,
    /// The party whose utterance containing the overlap start began later.
    pub newcomer: Role,
    /// Onset of the newcomer's utterance (seconds).
    pub newcomer_onset: f64,
}

/// An overlap of class interruption, from the newcomer's onset to the end of the overlap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interruption {
    /// The newcomer's onset (seconds).
    pub start: f64,
    /// End of the overlap (seconds).
    pub end: f64,
    /// Who interrupted.
    pub by: Role,
}

/// A short utterance that overlaps the other party or fills a short pause of theirs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backchannel {
    /// Start of the utterance extent (seconds).
    pub start: f64,
    /// End of the utterance extent (seconds).
    pub end: f64,
    /// Who gave it.
    pub by: Role,
}

/// How the call was made: the first line of the JSONL truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationInfo {
    /// Output sample rate (Hz).
    pub rate: u32,
    /// Length of the call (seconds).
    pub duration_s: f64,
    /// Telephone band applied.
    pub telephone: bool,
    /// μ-law round trip applied (always with `telephone`).
    pub mulaw: bool,
    /// Noise SNR (dB), if noise was added.
    pub snr_db: Option<f64>,
    /// Leakage level (dB), if leakage was added.
    pub leak_db: Option<f64>,
    /// Leakage delay (ms).
    pub leak_delay_ms: f64,
    /// Noise seed.
    pub seed: u64,
    /// The script file, if the script came from one.
    pub script: Option<String>,
}

/// The ground truth of a simulated call. Every vector is sorted by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// How the call was made.
    pub info: SimulationInfo,
    /// One per placement with any speech (placements of silence have no extent).
    pub utterances: Vec<Utterance>,
    /// Turns.
    pub turns: Vec<Turn>,
    /// Overlaps with their class and newcomer.
    pub overlaps: Vec<Overlap>,
    /// Overlaps of class interruption.
    pub interruptions: Vec<Interruption>,
    /// Backchannels.
    pub backchannels: Vec<Backchannel>,
}

/// The speech extent of a clip as a range of samples `[first, end)`: from the first to the
/// last 10 ms frame whose RMS is within [`EXTENT_RANGE_DB`] of the loudest frame and above
/// [`EXTENT_FLOOR_DBFS`], counting only runs of at least [`EXTENT_MIN_RUN_FRAMES`] such
/// frames. `None` when there is no such run (a silent clip, or clicks only).
pub fn speech_extent(clip: &[f32], rate: u32) -> Option<(usize, usize)> {
    let hop = ((f64::from(rate) * EXTENT_FRAME_S).round() as usize).max(1);
    let powers: Vec<f64> = clip
        .chunks(hop)
        .map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / c.len() as f64)
        .collect();
    let loudest = powers.iter().copied().fold(0.0, f64::max);
    if loudest <= 0.0 {
        return None;
    }
    let floor = 10f64.powf(EXTENT_FLOOR_DBFS / 10.0);
    let threshold = (loudest * 10f64.powf(-EXTENT_RANGE_DB / 10.0)).max(floor);
    let run = |w: &[f64]| w.iter().all(|&p| p >= threshold && p > floor);
    let mut runs = powers.windows(EXTENT_MIN_RUN_FRAMES);
    let first = runs.clone().position(run)?;
    let last = runs.rposition(run)? + EXTENT_MIN_RUN_FRAMES - 1;
    Some((first * hop, ((last + 1) * hop).min(clip.len())))
}

/// The utterance of `who` containing time `t` (latest start wins).
fn containing(utterances: &[Utterance], who: Role, t: f64) -> Option<&Utterance> {
    utterances
        .iter()
        .filter(|u| u.who == who && u.start <= t + 1e-9 && u.end > t)
        .max_by(|a, b| a.start.total_cmp(&b.start))
}

/// Merged extents of one party.
fn merged(utterances: &[Utterance], who: Role) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for u in utterances.iter().filter(|u| u.who == who) {
        match out.last_mut() {
            Some(last) if u.start <= last.1 => last.1 = last.1.max(u.end),
            _ => out.push((u.start, u.end)),
        }
    }
    out
}

fn other(role: Role) -> Role {
    match role {
        Role::Agent => Role::Caller,
        Role::Caller => Role::Agent,
    }
}

fn frame_of(t: f64) -> i64 {
    ((t + 1e-9) / EXTENT_FRAME_S).floor() as i64
}

impl Truth {
    /// Derives turns, overlaps, interruptions and backchannels from utterance extents by
    /// `rules` (see the [module docs](super) for the definitions).
    pub fn from_utterances(
        info: SimulationInfo,
        mut utterances: Vec<Utterance>,
        rules: &TruthRules,
    ) -> Self {
        utterances.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.line.cmp(&b.line)));

        // Backchannels.
        let is_backchannel: Vec<bool> = utterances
            .iter()
            .map(|u| {
                if u.duration() >= rules.backchannel_max_s {
                    return false;
                }
                let others: Vec<&Utterance> = utterances
                    .iter()
                    .filter(|v| v.who == other(u.who))
                    .collect();
                let overlaps = others.iter().any(|v| v.start < u.end && u.start < v.end);
                let in_pause = others.windows(2).any(|w| {
                    w[0].end <= u.start
                        && u.end <= w[1].start
                        && w[1].start - w[0].end <= rules.backchannel_pause_max_s
                });
                overlaps || in_pause
            })
            .collect();
        let backchannels = utterances
            .iter()
            .zip(&is_backchannel)
            .filter(|(_, b)| **b)
            .map(|(u, _)| Backchannel {
                start: u.start,
                end: u.end,
                by: u.who,
            })
            .collect();

        // Turns.
        let mut turns: Vec<Turn> = Vec::new();
        for (u, _) in utterances.iter().zip(&is_backchannel).filter(|(_, b)| !**b) {
            match turns.last_mut() {
                Some(t) if t.who == u.who => t.end = t.end.max(u.end),
                _ => turns.push(Turn {
                    who: u.who,
                    start: u.start,
                    end: u.end,
                }),
            }
        }

        // Overlaps.
        let a = merged(&utterances, Role::Agent);
        let c = merged(&utterances, Role::Caller);
        let mut overlaps = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < c.len() {
            let start = a[i].0.max(c[j].0);
            let end = a[i].1.min(c[j].1);
            if end > start + 1e-9 {
                if let (Some(ua), Some(uc)) = (
                    containing(&utterances, Role::Agent, start),
                    containing(&utterances, Role::Caller, start),
                ) {
                    let (newcomer, holder) = if frame_of(ua.start) == frame_of(uc.start) {
                        if ua.duration() < uc.duration() {
                            (ua, uc)
                        } else {
                            (uc, ua)
                        }
                    } else if ua.start > uc.start {
                        (ua, uc)
                    } else {
                        (uc, ua)
                    };
                    let class = if newcomer.duration() < rules.backchannel_max_s {
                        OverlapClass::Backchannel
                    } else if holder.end <= newcomer.start + rules.turn_end_s + 1e-9 {
                        OverlapClass::TurnEnd
                    } else {
                        OverlapClass::Interruption
                    };
                    overlaps.push(Overlap {
                        start,
                        end,
                        class,
                        newcomer: newcomer.who,
                        newcomer_onset: newcomer.start,
                    });
                }
            }
            if a[i].1 < c[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        let interruptions = overlaps
            .iter()
            .filter(|o| o.class == OverlapClass::Interruption)
            .map(|o| Interruption {
                start: o.newcomer_onset,
                end: o.end,
                by: o.newcomer,
            })
            .collect();

        Self {
            info,
            utterances,
            turns,
            overlaps,
            interruptions,
            backchannels,
        }
    }

    /// Number of overlaps of `class`.
    pub fn count(&self, class: OverlapClass) -> usize {
        self.overlaps.iter().filter(|o| o.class == class).count()
    }

    /// Writes the truth as JSON Lines: the `simulation` line, then every event sorted by start
    /// (times rounded to 4 decimals).
    ///
    /// # Errors
    /// [`Error::Sink`] when writing fails.
    pub fn write_jsonl(&self, mut w: impl Write) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Header<'a> {
            r#type: &'static str,
            version: u32,
            #[serde(flatten)]
            info: &'a SimulationInfo,
        }
        #[derive(Serialize)]
        struct Event {
            r#type: &'static str,
            kind: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            who: Option<Role>,
            start: f64,
            end: f64,
            #[serde(skip_serializing_if = "Option::is_none")]
            class: Option<&'static str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            by: Option<Role>,
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<usize>,
        }
        let r4 = |x: f64| (x * 1e4).round() / 1e4;
        let event = |kind, start: f64, end: f64| Event {
            r#type: "event",
            kind,
            who: None,
            start: r4(start),
            end: r4(end.max(start)),
            class: None,
            by: None,
            line: None,
        };
        let mut events: Vec<(f64, usize, Event)> = Vec::new();
        for u in &self.utterances {
            let mut e = event("utterance", u.start, u.end);
            e.who = Some(u.who);
            e.line = Some(u.line);
            events.push((u.start, 0, e));
        }
        for t in &self.turns {
            let mut e = event("turn", t.start, t.end);
            e.who = Some(t.who);
            events.push((t.start, 1, e));
        }
        for o in &self.overlaps {
            let mut e = event("overlap", o.start, o.end);
            e.class = Some(o.class.name());
            e.by = Some(o.newcomer);
            events.push((o.start, 2, e));
        }
        for x in &self.interruptions {
            let mut e = event("interruption", x.start, x.end);
            e.by = Some(x.by);
            events.push((x.start, 3, e));
        }
        for b in &self.backchannels {
            let mut e = event("backchannel", b.start, b.end);
            e.by = Some(b.by);
            events.push((b.start, 4, e));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut info = self.info.clone();
        info.duration_s = r4(info.duration_s);
        let header = Header {
            r#type: "simulation",
            version: 1,
            info: &info,
        };
        json_line(&mut w, &header)?;
        for (_, _, e) in &events {
            json_line(&mut w, e)?;
        }
        w.flush().map_err(Error::Sink)
    }

    /// Per-frame speech of `role`: frame `i` is true when its centre `(i + 0.5)·hop_s` lies in
    /// one of that party's utterance extents.
    pub fn speech_frames(&self, role: Role, hop_s: f64, n_frames: usize) -> Vec<bool> {
        let spans: Vec<(f64, f64)> = self
            .utterances
            .iter()
            .filter(|u| u.who == role)
            .map(|u| (u.start, u.end))
            .collect();
        frames_in(&spans, hop_s, n_frames)
    }

    /// Per-frame overlap: frame `i` is true when its centre `(i + 0.5)·hop_s` lies in an
    /// overlap.
    pub fn overlap_frames(&self, hop_s: f64, n_frames: usize) -> Vec<bool> {
        let spans: Vec<(f64, f64)> = self.overlaps.iter().map(|o| (o.start, o.end)).collect();
        frames_in(&spans, hop_s, n_frames)
    }
}

fn frames_in(spans: &[(f64, f64)], hop_s: f64, n: usize) -> Vec<bool> {
    let mut out = vec![false; n];
    if hop_s <= 0.0 || !hop_s.is_finite() {
        return out;
    }
    for &(s, e) in spans {
        // Centres c_i = (i + 0.5)·hop in [s, e).
        let first = ((s / hop_s - 0.5).ceil().max(0.0)) as usize;
        let mut i = first;
        while i < n && (i as f64 + 0.5) * hop_s < e {
            out[i] = true;
            i += 1;
        }
    }
    out
}

fn json_line(w: &mut impl Write, value: &impl Serialize) -> Result<(), Error> {
    serde_json::to_writer(&mut *w, value).map_err(|e| Error::Sink(e.into()))?;
    w.write_all(b"\n").map_err(Error::Sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SimulationInfo {
        SimulationInfo {
            rate: 8000,
            duration_s: 20.0,
            telephone: false,
            mulaw: false,
            snr_db: None,
            leak_db: None,
            leak_delay_ms: 0.0,
            seed: 0,
            script: None,
        }
    }

    fn u(who: Role, start: f64, end: f64, line: usize) -> Utterance {
        Utterance {
            who,
            start,
            end,
            line,
        }
    }

    #[test]
    fn extent_of_a_tone_burst() {
        let rate = 8000;
        let mut clip = vec![0.0f32; 14_000];
        for (i, s) in clip.iter_mut().enumerate().skip(2000).take(8000) {
            *s = (i as f32 * 0.3).sin() * 0.5;
        }
        assert_eq!(speech_extent(&clip, rate), Some((2000, 10_000)));
        assert_eq!(speech_extent(&[0.0; 100], rate), None);
        assert_eq!(speech_extent(&[1e-5; 1000], rate), None, "below -60 dBFS");
        // A 10 ms click 0.5 s before the burst is not where the speech starts.
        for s in clip.iter_mut().take(80) {
            *s = 0.3;
        }
        assert_eq!(speech_extent(&clip, rate), Some((2000, 10_000)));
    }

    #[test]
    fn classes_turns_and_backchannels() {
        use Role::{Agent as A, Caller as C};
        let t = Truth::from_utterances(
            info(),
            vec![
                u(A, 0.0, 4.0, 1),
                u(C, 2.0, 2.3, 2),   // backchannel inside the agent's utterance
                u(C, 3.8, 6.0, 3),   // turn end: agent ends 0.2 s after onset
                u(A, 5.0, 7.0, 4),   // interruption: caller runs on 1 s
                u(C, 8.0, 10.0, 5),  // after a gap
                u(A, 10.5, 10.8, 6), // backchannel in a 0.9 s pause of the caller
                u(C, 10.9, 13.0, 7),
            ],
            &TruthRules::default(),
        );
        let classes: Vec<_> = t.overlaps.iter().map(|o| (o.class, o.newcomer)).collect();
        assert_eq!(
            classes,
            vec![
                (OverlapClass::Backchannel, C),
                (OverlapClass::TurnEnd, C),
                (OverlapClass::Interruption, A),
            ]
        );
        assert_eq!(t.interruptions.len(), 1);
        assert_eq!(t.interruptions[0].start, 5.0);
        assert_eq!(t.interruptions[0].end, 6.0);
        assert_eq!(t.backchannels.len(), 2);
        let turns: Vec<_> = t.turns.iter().map(|t| (t.who, t.start, t.end)).collect();
        assert_eq!(
            turns,
            vec![(A, 0.0, 4.0), (C, 3.8, 6.0), (A, 5.0, 7.0), (C, 8.0, 13.0)]
        );
        let frames = t.overlap_frames(0.01, 2000);
        assert!(frames[205] && !frames[235] && frames[390] && !frames[410]);
        let mut out = Vec::new();
        t.write_jsonl(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\"type\":\"simulation\",\"version\":1,\"rate\":8000"));
        assert_eq!(text.lines().count(), 1 + 7 + 4 + 3 + 1 + 2);
    }

    #[test]
    fn same_frame_onsets_make_the_shorter_one_the_newcomer() {
        use Role::{Agent as A, Caller as C};
        let t = Truth::from_utterances(
            info(),
            vec![u(A, 1.0, 3.0, 1), u(C, 1.004, 1.4, 2)],
            &TruthRules::default(),
        );
        assert_eq!(t.overlaps[0].newcomer, C);
        assert_eq!(t.overlaps[0].class, OverlapClass::Backchannel);
    }
}
