//! Conversation dynamics against ground truth.
//!
//! ```text
//! cargo run --release --example eval_conversation [-- --data ../shared/data]
//!     [--calls 50] [--seed-start 0] [--sim-only] [--dump] [--config JSON]
//! ```
//!
//! `--seed-start S --calls N` evaluate the simulated calls of seeds `S..S+N` (seeds 100..150
//! are the held-out set used to check parameters chosen on 0..50); `--sim-only` skips the AMI
//! pairs; `--dump` prints, per call, every true interruption (hit or miss, with the cause of a
//! miss) and every false one (with its cause), both parties' detected spurts and the
//! detector's events around it. The tally of causes is always printed; the causes are
//! assigned from the truth and the detected spurts by the rules in `diagnose`.
//!
//! * **AMI pairs**: every pair of the four per-speaker close-talk channels of
//!   `conversation/ES2004a_750-780/` analysed as a two-party call (first = agent, second =
//!   caller). Reference overlap: frames where both speakers' RTTM turns cover the frame centre.
//!   Estimated overlap: frames inside `overlap` events. Also each channel's voice activity F1
//!   in the pair (crosstalk compensation on). Clean and with 10 dB white noise per channel.
//! * **Simulated calls** (`callpulse::simulate::random_script`, seeds 0–49 by default,
//!   `--calls N` to change): utterances of 11 speakers from `../shared/data` (pitch, EmoDB,
//!   RAVDESS sentences; AMI and sentence-onset backchannels), leakage −20…−3 dB delayed
//!   0–60 ms, half telephone band + μ-law, half with noise. Scored against the generator's
//!   ground truth: interruption precision and recall (a detection matches a true interruption
//!   by the same party whose onset is within 0.5 s), the share of true backchannels that were
//!   reported as interruptions, overlap frame F1, and the latency of `agent_interrupting`
//!   alerts after the frame where the rule decides on the true timings (newcomer onset +
//!   max(backchannel_max, turn_end)); the alert debounce is set to 0 here so that every
//!   interruption raises one.

use std::collections::BTreeMap;

use callpulse::Role;
use callpulse::alert::AlertKind;
use callpulse::conversation::ConversationConfig;
use callpulse::conversation::{Event, EventKind};
use callpulse::record::{FrameRecord, Record};
use callpulse::simulate::{
    OverlapClass, RandomCallOptions, Truth, UtterancePool, random_script, render,
};
use callpulse::{AnalysisConfig, degrade::add_white_noise};

mod support;
use support::{Counts, HOP, count, labels, read_rttm};

/// What one analysed call produced.
struct Analysed {
    frames: Vec<FrameRecord>,
    records: Vec<Record>,
}

fn analyse(config: &AnalysisConfig, rate: u32, agent: Vec<f32>, caller: Vec<f32>) -> Analysed {
    let records = support::call_records(config, rate, agent, caller);
    let frames = records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some(*f),
            _ => None,
        })
        .collect();
    Analysed { frames, records }
}

/// Frames covered by events of `kind` (frame `i` when its centre lies in the event).
fn event_frames(records: &[Record], kind: EventKind, n: usize) -> Vec<bool> {
    let mut out = vec![false; n];
    for r in records {
        if let Record::Event(e) = r
            && e.kind == kind
        {
            // Centre (i + 0.5)·HOP in [start, end).
            let first = (e.start / HOP - 0.5).ceil().max(0.0) as usize;
            let end = ((e.end / HOP - 0.5).ceil().max(0.0) as usize).min(n);
            for o in out.iter_mut().take(end).skip(first) {
                *o = true;
            }
        }
    }
    out
}

fn add(a: &mut Counts, b: Counts) {
    a.tp += b.tp;
    a.fp += b.fp;
    a.fn_ += b.fn_;
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// A detected talk spurt of one party: `[start, end)` in seconds, from the first speech frame
/// to the frame after the last active one (as the conversation stage counts it).
#[derive(Debug, Clone, Copy)]
struct Spurt {
    start: f64,
    end: f64,
}

fn spurts(frames: &[FrameRecord], role: Role) -> Vec<Spurt> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    for (i, f) in frames.iter().enumerate() {
        let (s, a) = f
            .party(role)
            .map_or((false, false), |p| (p.speech, p.active));
        match (&mut open, s) {
            (None, true) => open = Some((i, i)),
            (Some(run), true) => {
                if a {
                    run.1 = i;
                }
            }
            (Some(run), false) => {
                out.push(Spurt {
                    start: run.0 as f64 * HOP,
                    end: (run.1 + 1) as f64 * HOP,
                });
                open = None;
            }
            (None, false) => {}
        }
    }
    if let Some(run) = open {
        out.push(Spurt {
            start: run.0 as f64 * HOP,
            end: (run.1 + 1) as f64 * HOP,
        });
    }
    out
}

/// The spurt of `list` covering `t` (start ≤ t < end).
fn spurt_at(list: &[Spurt], t: f64) -> Option<Spurt> {
    list.iter().copied().find(|s| s.start <= t && t < s.end)
}

fn spans_in(list: &[Spurt], lo: f64, hi: f64) -> String {
    let v: Vec<String> = list
        .iter()
        .filter(|s| s.end > lo && s.start < hi)
        .map(|s| format!("{:.2}-{:.2}", s.start, s.end))
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(" ")
    }
}

/// Why a true interruption was missed or a detection was false, for the tally and `--dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    // Misses.
    MissOnsetOff,
    MissByOther,
    MissNewcomerAlreadyOn,
    MissNewcomerNotDetected,
    MissHolderOffAtOnset,
    MissHolderEndedEarly,
    MissNewcomerCutShort,
    MissOther,
    // False alarms.
    FaNewcomerLeakOrNoise,
    FaOnsetOff,
    FaTruthTurnEnd,
    FaTruthBackchannel,
    FaRolesSwapped,
    FaHolderNotSpeaking,
    FaOther,
}

impl Cause {
    fn text(self) -> &'static str {
        match self {
            Cause::MissOnsetOff => "detected by the same party, onset more than 0.5 s away",
            Cause::MissByOther => "an interruption by the other party detected instead",
            Cause::MissNewcomerAlreadyOn => {
                "newcomer's channel already 'speaking' before the onset (leak, hangover)"
            }
            Cause::MissNewcomerNotDetected => "newcomer's speech not detected near the onset",
            Cause::MissHolderOffAtOnset => {
                "holder not in a spurt at the newcomer's detected onset (pause or suppressed)"
            }
            Cause::MissHolderEndedEarly => {
                "holder's spurt ended < turn_end after the onset (split by a pause, or suppressed in double talk)"
            }
            Cause::MissNewcomerCutShort => "newcomer's spurt shorter than backchannel_max",
            Cause::MissOther => "other",
            Cause::FaNewcomerLeakOrNoise => {
                "'newcomer' not speaking in the truth (leak of the other party, noise)"
            }
            Cause::FaOnsetOff => "true interruption, detected onset more than 0.5 s away",
            Cause::FaTruthTurnEnd => "truth: turn-end overlap (holder ended <= 0.5 s after onset)",
            Cause::FaTruthBackchannel => "truth: backchannel",
            Cause::FaRolesSwapped => "truth overlap has the other party as newcomer",
            Cause::FaHolderNotSpeaking => {
                "newcomer speaks but the 'holder' does not (leak of the newcomer, hangover)"
            }
            Cause::FaOther => "other",
        }
    }
}

/// Per-call diagnosis of the interruption decisions: tallies a [`Cause`] per miss and per
/// false alarm, and with `dump` prints one line per true and per falsely detected
/// interruption with both parties' spurts and the detector's events around it.
#[allow(clippy::too_many_arguments)]
fn diagnose(
    seed: u64,
    truth: &Truth,
    frames: &[FrameRecord],
    records: &[Record],
    est_int: &[Event],
    hit: &[bool],
    used: &[bool],
    bc: f64,
    te: f64,
    dump: bool,
    tally: &mut BTreeMap<Cause, usize>,
) {
    let sp = [spurts(frames, Role::Agent), spurts(frames, Role::Caller)];
    let events_near = |lo: f64, hi: f64| -> String {
        let v: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                Record::Event(e)
                    if e.start < hi
                        && e.end > lo
                        && matches!(
                            e.kind,
                            EventKind::Overlap | EventKind::Interruption | EventKind::Backchannel
                        ) =>
                {
                    Some(format!(
                        "{}{}:{}@{:.2}-{:.2}",
                        e.kind.name(),
                        e.class.map_or(String::new(), |c| format!("/{}", c.name())),
                        e.party.map_or("-", |p| p.as_str()),
                        e.start,
                        e.end
                    ))
                }
                _ => None,
            })
            .collect();
        if v.is_empty() {
            "-".into()
        } else {
            v.join(" ")
        }
    };
    let utt_of = |who: Role, t: f64| {
        truth
            .utterances
            .iter()
            .filter(|u| u.who == who && u.start <= t + 1e-9 && u.end > t)
            .max_by(|a, b| a.start.total_cmp(&b.start))
            .copied()
    };
    let info = &truth.info;
    let head = format!(
        "seed {seed} leak {:.1} dB {:.0} ms{}{}",
        info.leak_db.unwrap_or(f64::NAN),
        info.leak_delay_ms,
        if info.telephone { " tel" } else { "" },
        info.snr_db
            .map_or(String::new(), |s| format!(" snr {s:.0}")),
    );
    for (t, &was_hit) in truth.interruptions.iter().zip(hit) {
        let n = t.by;
        let h = n.other();
        let holder = utt_of(h, t.start);
        let cause = if was_hit {
            None
        } else if est_int.iter().any(|e| {
            e.party == Some(n)
                && (e.start - t.start).abs() > 0.5
                && (e.start - t.start).abs() <= 2.0
        }) {
            Some(Cause::MissOnsetOff)
        } else if est_int
            .iter()
            .any(|e| e.party == Some(h) && e.start > t.start - 1.0 && e.start < t.start + 1.5)
        {
            Some(Cause::MissByOther)
        } else {
            let sn = &sp[n.index()];
            let sh = &sp[h.index()];
            match sn
                .iter()
                .find(|s| s.start >= t.start - 0.5 && s.start < t.start + 0.5)
            {
                None if spurt_at(sn, t.start).is_some() => Some(Cause::MissNewcomerAlreadyOn),
                None => Some(Cause::MissNewcomerNotDetected),
                Some(ns) => match spurt_at(sh, ns.start) {
                    None => Some(Cause::MissHolderOffAtOnset),
                    Some(hs) if hs.end < ns.start + te => Some(Cause::MissHolderEndedEarly),
                    Some(_) if ns.end - ns.start < bc => Some(Cause::MissNewcomerCutShort),
                    Some(_) => Some(Cause::MissOther),
                },
            }
        };
        if let Some(c) = cause {
            *tally.entry(c).or_default() += 1;
        }
        if dump {
            let (lo, hi) = (t.start - 1.0, t.start + 2.0);
            println!(
                "{head}: {} interruption at {:.2} by {} (holder utterance {}) {}\n    spurts {}: {}\n    spurts {}: {}\n    events: {}",
                if was_hit { "HIT " } else { "MISS" },
                t.start,
                n.as_str(),
                holder.map_or("?".into(), |u| format!("{:.2}-{:.2}", u.start, u.end)),
                cause.map_or("", |c| c.text()),
                n.as_str(),
                spans_in(&sp[n.index()], lo, hi),
                h.as_str(),
                spans_in(&sp[h.index()], lo, hi),
                events_near(lo, hi),
            );
        }
    }
    for (e, _) in est_int.iter().zip(used).filter(|(_, u)| !**u) {
        let Some(n) = e.party else { continue };
        let h = n.other();
        let s = e.start;
        let own = truth
            .utterances
            .iter()
            .filter(|u| u.who == n && u.start <= s + 0.3 && u.end > s)
            .min_by(|a, b| a.start.total_cmp(&b.start))
            .copied();
        let mut note = String::new();
        let cause = match own {
            None => Cause::FaNewcomerLeakOrNoise,
            Some(u) => {
                let mine = truth
                    .overlaps
                    .iter()
                    .find(|o| o.newcomer == n && (o.newcomer_onset - u.start).abs() < 1e-6);
                let theirs = truth
                    .overlaps
                    .iter()
                    .find(|o| o.newcomer == h && o.end > s - 0.5 && o.start < s + 1.0);
                match (mine, theirs) {
                    (Some(o), _) if o.class == OverlapClass::Interruption => Cause::FaOnsetOff,
                    (Some(o), _) if o.class == OverlapClass::TurnEnd => {
                        if let Some(hu) = utt_of(h, o.start) {
                            let next = truth.utterances.iter().find(|v| {
                                v.who == h && v.start >= hu.end && v.start < hu.end + 1.0
                            });
                            note = format!(
                                " [holder utterance {:.2}-{:.2}{}]",
                                hu.start,
                                hu.end,
                                next.map_or(String::new(), |v| format!(
                                    ", resumes {:.2}-{:.2}",
                                    v.start, v.end
                                ))
                            );
                        }
                        Cause::FaTruthTurnEnd
                    }
                    (Some(_), _) => Cause::FaTruthBackchannel,
                    (None, Some(_)) => Cause::FaRolesSwapped,
                    (None, None) if utt_of(h, s).is_some() => Cause::FaOther,
                    (None, None) => Cause::FaHolderNotSpeaking,
                }
            }
        };
        *tally.entry(cause).or_default() += 1;
        if dump {
            let (lo, hi) = (s - 1.0, s + 2.0);
            let utts: Vec<String> = truth
                .utterances
                .iter()
                .filter(|u| u.end > lo && u.start < hi)
                .map(|u| format!("{}:{:.2}-{:.2}", u.who.as_str(), u.start, u.end))
                .collect();
            println!(
                "{head}: FALSE interruption at {s:.2} by {} {}{note}\n    truth utterances: {}\n    spurts {}: {}\n    spurts {}: {}\n    events: {}",
                n.as_str(),
                cause.text(),
                utts.join(" "),
                n.as_str(),
                spans_in(&sp[n.index()], lo, hi),
                h.as_str(),
                spans_in(&sp[h.index()], lo, hi),
                events_near(lo, hi),
            );
        }
    }
}

/// What the simulated-call evaluation runs on.
struct SimArgs {
    seed_start: u64,
    calls: u64,
    dump: bool,
}

fn simulated(data: &std::path::Path, config: &AnalysisConfig, args: &SimArgs) {
    let pool = UtterancePool::from_shared_data(data).expect("utterance pool");
    let config = config
        .clone()
        .with_conversation(ConversationConfig {
            interrupt_alert_debounce_ms: 0.0,
            ..config.conversation().clone()
        })
        .expect("config");
    let bc = f64::from(config.conversation().backchannel_max_ms) / 1000.0;
    let te = f64::from(config.conversation().turn_end_ms) / 1000.0;
    let (mut tp, mut n_est, mut n_true) = (0usize, 0usize, 0usize);
    let (mut bc_total, mut bc_as_int) = (0usize, 0usize);
    let mut ov = Counts::default();
    let mut ov_by_leak = [Counts::default(); 3];
    let mut latencies = Vec::new();
    let mut missed_alerts = 0usize;
    let mut tally: BTreeMap<Cause, usize> = BTreeMap::new();
    let (mut vad_all, mut vad_in_overlap) = (Counts::default(), Counts::default());
    // Missed overlap frames by how many parties' detectors said speech there (0, 1, 2).
    let mut missed_overlap = [0usize; 3];
    // Of those with one party on: [holder off, newcomer off] × [first 200 ms, later].
    let mut missed_one = [[0usize; 2]; 2];
    let seeds = args.seed_start..args.seed_start + args.calls;
    for seed in seeds.clone() {
        let (script, opts) =
            random_script(seed, &pool, &RandomCallOptions::default()).expect("script");
        let call = render(&script, &opts).expect("render");
        let truth = &call.truth;
        let n = call.agent.len() / (call.rate as usize / 100);
        let out = analyse(&config, call.rate, call.agent.clone(), call.caller.clone());
        let est_int: Vec<_> = out
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Event(e) if e.kind == EventKind::Interruption => Some(*e),
                _ => None,
            })
            .collect();
        n_est += est_int.len();
        n_true += truth.interruptions.len();
        let mut used = vec![false; est_int.len()];
        let mut hit = vec![false; truth.interruptions.len()];
        for (t, h) in truth.interruptions.iter().zip(&mut hit) {
            if let Some(k) = est_int.iter().enumerate().position(|(k, e)| {
                !used[k] && e.party == Some(t.by) && (e.start - t.start).abs() <= 0.5
            }) {
                used[k] = true;
                *h = true;
                tp += 1;
            }
        }
        diagnose(
            seed,
            truth,
            &out.frames,
            &out.records,
            &est_int,
            &hit,
            &used,
            bc,
            te,
            args.dump,
            &mut tally,
        );
        for b in truth
            .overlaps
            .iter()
            .filter(|o| o.class == OverlapClass::Backchannel)
        {
            bc_total += 1;
            if est_int
                .iter()
                .any(|e| e.party == Some(b.newcomer) && (e.start - b.newcomer_onset).abs() <= 0.5)
            {
                bc_as_int += 1;
            }
        }
        let reference = truth.overlap_frames(HOP, n);
        for role in Role::ALL {
            let truth_speech = truth.speech_frames(role, HOP, n);
            let est: Vec<bool> = (0..n)
                .map(|i| {
                    out.frames
                        .get(i)
                        .and_then(|f| f.party(role))
                        .is_some_and(|p| p.speech)
                })
                .collect();
            add(&mut vad_all, count(&est, &truth_speech, None));
            add(
                &mut vad_in_overlap,
                count(&est, &truth_speech, Some(&reference)),
            );
        }
        let est = event_frames(&out.records, EventKind::Overlap, n);
        for i in (0..n).filter(|&i| reference[i] && !est[i]) {
            let on = |role: Role| {
                out.frames
                    .get(i)
                    .and_then(|f| f.party(role))
                    .is_some_and(|p| p.speech)
            };
            missed_overlap[usize::from(on(Role::Agent)) + usize::from(on(Role::Caller))] += 1;
            let t = (i as f64 + 0.5) * HOP;
            if let Some(o) = truth.overlaps.iter().find(|o| o.start <= t && t < o.end)
                && on(Role::Agent) != on(Role::Caller)
            {
                let early = usize::from(t - o.start >= 0.2);
                missed_one[usize::from(!on(o.newcomer))][early] += 1;
            }
        }
        let c = count(&est, &reference, None);
        add(&mut ov, c);
        let leak = truth.info.leak_db.unwrap_or(-99.0);
        let bucket = if leak >= -8.0 {
            0
        } else if leak >= -14.0 {
            1
        } else {
            2
        };
        add(&mut ov_by_leak[bucket], c);
        let alerts: Vec<f64> = out
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Alert(a) if a.kind == AlertKind::AgentInterrupting => Some(a.t),
                _ => None,
            })
            .collect();
        for t in truth.interruptions.iter().filter(|t| t.by == Role::Agent) {
            let decides = t.start + bc.max(te);
            match alerts.iter().find(|&&a| a >= t.start && a <= decides + 2.0) {
                Some(a) => latencies.push(a - decides),
                None => missed_alerts += 1,
            }
        }
    }
    let p = tp as f64 / n_est.max(1) as f64;
    let r = tp as f64 / n_true.max(1) as f64;
    println!(
        "Simulated calls: {} (seeds {}..{})",
        args.calls, seeds.start, seeds.end
    );
    println!(
        "interruptions: true {n_true}, detected {n_est}, matched {tp}: precision {p:.3}, recall {r:.3}"
    );
    println!(
        "backchannels reported as interruptions: {bc_as_int} of {bc_total} ({:.1} %)",
        100.0 * bc_as_int as f64 / bc_total.max(1) as f64
    );
    let (op, or, of) = ov.f1();
    println!("overlap frames: P {op:.3} R {or:.3} F1 {of:.3}");
    for (k, name) in ["leak -8..-3 dB", "leak -14..-8 dB", "leak -20..-14 dB"]
        .iter()
        .enumerate()
    {
        let (p, r, f) = ov_by_leak[k].f1();
        println!("  {name:<17} P {p:.3} R {r:.3} F1 {f:.3}");
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "agent_interrupting alert latency after the deciding frame: n {} (missed {missed_alerts}), p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        1e3 * percentile(&latencies, 0.5),
        1e3 * percentile(&latencies, 0.9),
        1e3 * percentile(&latencies, 0.99),
        1e3 * latencies.last().copied().unwrap_or(f64::NAN),
    );
    let (p, r, f) = vad_all.f1();
    let (_, ro, _) = vad_in_overlap.f1();
    println!(
        "voice activity per party vs utterance extents: P {p:.3} R {r:.3} F1 {f:.3}; recall inside true overlaps {ro:.3}"
    );
    println!(
        "missed overlap frames: {} with neither party's VAD on, {} with one, {} with both",
        missed_overlap[0], missed_overlap[1], missed_overlap[2]
    );
    println!(
        "  with one on: holder's VAD off {} (first 200 ms of the overlap) + {} (later), newcomer's off {} + {}",
        missed_one[0][0], missed_one[0][1], missed_one[1][0], missed_one[1][1]
    );
    println!("causes of missed interruptions / false interruptions:");
    for (c, k) in &tally {
        println!("  {k:>4}  {:?}: {}", c, c.text());
    }
}

fn main() {
    let value = |name: &str, default: u64| {
        std::env::args()
            .skip_while(|a| a != name)
            .nth(1)
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let flag = |name: &str| std::env::args().any(|a| a == name);
    let sim = SimArgs {
        seed_start: value("--seed-start", 0),
        calls: value("--calls", 50),
        dump: flag("--dump"),
    };
    let sim_only = flag("--sim-only");
    // The flags without a value are the example's own; the rest goes to the shared parser.
    let args: Vec<String> = std::env::args()
        .filter(|a| a != "--dump" && a != "--sim-only")
        .collect();
    let Some(support::EvalArgs { data, config }) = support::args_from(
        "eval_conversation",
        "conversation",
        &args,
        &["--calls", "--seed-start"],
    ) else {
        return;
    };
    simulated(&data, &config, &sim);
    if sim_only {
        return;
    }
    println!();
    let es = data.join("conversation/ES2004a_750-780");
    let turns = read_rttm(&es.join("ES2004a_750-780.rttm"));
    let speakers = ["MEO015", "FEE013", "MEE014", "FEE016"];
    println!("AMI ES2004a 750-780 s, pairs of per-speaker channels (agent, caller)");
    println!(
        "{:<14} {:<16} {:>8} {:>8} {:>20} {:>14} {:>14}",
        "condition",
        "pair",
        "ref ov s",
        "est ov s",
        "overlap P / R / F1",
        "VAD F1 agent",
        "VAD F1 caller"
    );
    for (cond, name) in ["clean", "+10 dB noise"].iter().enumerate() {
        let mut total = Counts::default();
        let mut f1s = Vec::new();
        for a in 0..4 {
            for b in (a + 1)..4 {
                let (rate, mut xa) = support::read_mono(&es.join(format!("{}.wav", speakers[a])));
                let (_, mut xb) = support::read_mono(&es.join(format!("{}.wav", speakers[b])));
                if cond == 1 {
                    add_white_noise(&mut xa, rate, 10.0, 100 + a as u64);
                    add_white_noise(&mut xb, rate, 10.0, 200 + b as u64);
                }
                let n = xa.len().min(xb.len()) / (rate as usize / 100);
                let out = analyse(&config, rate, xa, xb);
                let (ref_a, _) = labels(&turns, n, Some(speakers[a]));
                let (ref_b, _) = labels(&turns, n, Some(speakers[b]));
                let reference: Vec<bool> =
                    ref_a.iter().zip(&ref_b).map(|(x, y)| *x && *y).collect();
                let est = event_frames(&out.records, EventKind::Overlap, n);
                let c = count(&est, &reference, None);
                add(&mut total, c);
                let (p, r, f1) = c.f1();
                f1s.push(f1);
                let speech = |role: Role| -> Vec<bool> {
                    out.frames
                        .iter()
                        .take(n)
                        .map(|f| f.party(role).is_some_and(|p| p.speech))
                        .collect()
                };
                let va = count(&speech(Role::Agent), &ref_a, None).f1().2;
                let vb = count(&speech(Role::Caller), &ref_b, None).f1().2;
                println!(
                    "{:<14} {:<16} {:>7.2}s {:>7.2}s   {:.3} {:.3} {:.3} {:>14.3} {:>14.3}",
                    name,
                    format!("{}+{}", speakers[a], speakers[b]),
                    reference.iter().filter(|&&x| x).count() as f64 * HOP,
                    est.iter().filter(|&&x| x).count() as f64 * HOP,
                    p,
                    r,
                    f1,
                    va,
                    vb
                );
            }
        }
        let (p, r, f1) = total.f1();
        println!(
            "{:<14} {:<16} pooled P {:.3} R {:.3} F1 {:.3}; mean pair F1 {:.3}\n",
            name,
            "all pairs",
            p,
            r,
            f1,
            f1s.iter().sum::<f64>() / f1s.len() as f64
        );
    }
}
