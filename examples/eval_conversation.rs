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

use callpulse::Role;
use callpulse::conversation::EventKind;
use callpulse::pipeline::{Overflow, Pipeline};
use callpulse::record::{FrameRecord, Record};
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

/// Frames covered by events of `kind`.
fn event_frames(records: &[Record], kind: EventKind, n: usize) -> Vec<bool> {
    let mut out = vec![false; n];
    for r in records {
        if let Record::Event(e) = r
            && e.kind == kind
        {
            for (i, o) in out.iter_mut().enumerate() {
                let c = (i as f64 + 0.5) * HOP;
                if c >= e.start && c < e.end {
                    *o = true;
                }
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

fn main() {
    let Some(support::EvalArgs { data, config }) =
        support::args("eval_conversation", "conversation")
    else {
        return;
    };
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
