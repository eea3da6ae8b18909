//! Conversation dynamics against ground truth.
//!
//! ```text
//! cargo run --release --example eval_conversation [-- --data ../shared/data]
//! ```
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

use callpulse::Role;
use callpulse::alert::AlertKind;
use callpulse::conversation::ConversationConfig;
use callpulse::conversation::EventKind;
use callpulse::pipeline::{Overflow, Pipeline};
use callpulse::record::{FrameRecord, Record};
use callpulse::simulate::{OverlapClass, RandomCallOptions, UtterancePool, random_script, render};
use callpulse::sink::MemorySink;
use callpulse::source::memory::MemorySource;
use callpulse::{AnalysisConfig, degrade::add_white_noise};

mod support;
use support::{Counts, HOP, count, labels, read_rttm};

/// What one analysed call produced.
struct Analysed {
    frames: Vec<FrameRecord>,
    records: Vec<Record>,
}

fn analyse(config: &AnalysisConfig, rate: u32, agent: Vec<f32>, caller: Vec<f32>) -> Analysed {
    let source = MemorySource::new(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    let (sink, records) = MemorySink::new();
    Pipeline::new(config.clone())
        .frames(true)
        .sink(sink, Overflow::Block)
        .spawn(Box::new(source))
        .expect("pipeline")
        .wait()
        .expect("analysis");
    let records = records.take();
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

fn simulated(data: &std::path::Path, config: &AnalysisConfig, calls: u64) {
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
    for seed in 0..calls {
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
        for t in &truth.interruptions {
            if let Some(k) = est_int.iter().enumerate().position(|(k, e)| {
                !used[k] && e.party == Some(t.by) && (e.start - t.start).abs() <= 0.5
            }) {
                used[k] = true;
                tp += 1;
            }
        }
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
        let est = event_frames(&out.records, EventKind::Overlap, n);
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
    println!("Simulated calls: {calls} (seeds 0..{calls})");
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
}

fn main() {
    let calls = std::env::args()
        .skip_while(|a| a != "--calls")
        .nth(1)
        .map_or(50, |n| n.parse().expect("--calls N"));
    let args: Vec<String> = std::env::args().collect();
    let Some(support::EvalArgs { data, config }) =
        support::args_from("eval_conversation", "conversation", &args, &["--calls"])
    else {
        return;
    };
    simulated(&data, &config, calls);
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
