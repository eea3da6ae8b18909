//! Voice activity accuracy on real speech with reference turns.
//!
//! ```text
//! cargo run --release --example eval_vad [-- --data ../shared/data]
//! ```
//!
//! * Per-speaker AMI close-talk channels (`conversation/ES2004a_750-780/*.wav`, 16 kHz, 30 s,
//!   crosstalk from the other speakers 15–40 dB down): each channel analysed on its own, scored
//!   against that speaker's RTTM turns. Conditions: clean, +10 dB white noise (relative to the
//!   active level, fixed seed), telephone (8 kHz, 300–3400 Hz, μ-law), telephone + 10 dB noise.
//! * Frame labels as in the data README: 10 ms frames, frame `i` is speech when its centre
//!   `(i + 0.5)·10 ms` lies in a turn; `floor(samples / 160)` frames. F1 is given without a
//!   collar and with frames within 0.25 s of a reference boundary excluded (the usual collar;
//!   the AMI turns are coarse, their boundaries about ±0.1 s).
//! * The mono AMI mixtures (`dev00`, `dev01`, `tst00`, `tst01`) and `sample.wav` scored against
//!   "any speaker active", and the share of frames marked speech inside `tst01`'s unannotated
//!   noisy gaps (a false-alarm check).
//! * A check of the reference itself: on each AMI channel, sound made at that talker's own
//!   microphone outside their RTTM turns (the frame is at least -45 dBFS and 10 dB louder than
//!   on every other close-talk microphone), in all and voiced, and the F1 a detector would get
//!   that is exact on the reference turns and also marks those voiced frames (per channel, and
//!   for the overlap of the six pairs of channels).

use callpulse::Role;

mod support;
use callpulse::config::AnalysisConfig;
use callpulse::degrade::{add_white_noise, telephone};

use support::{HOP, count, labels, read_rttm};

fn decide(config: &AnalysisConfig, rate: u32, x: Vec<f32>) -> Vec<bool> {
    support::frames(config, rate, x)
        .iter()
        .map(|f| f.party(Role::Caller).is_some_and(|p| p.speech))
        .collect()
}

fn condition(rate: u32, x: &[f32], cond: usize, seed: u64) -> (u32, Vec<f32>) {
    match cond {
        0 => (rate, x.to_vec()),
        1 => {
            let mut y = x.to_vec();
            add_white_noise(&mut y, rate, 10.0, seed);
            (rate, y)
        }
        2 => (8_000, telephone(x, rate).expect("telephone")),
        _ => {
            let mut y = telephone(x, rate).expect("telephone");
            add_white_noise(&mut y, 8_000, 10.0, seed);
            (8_000, y)
        }
    }
}

const CONDITIONS: [&str; 4] = ["clean", "+10 dB noise", "telephone", "telephone +10 dB"];

fn main() {
    let Some(support::EvalArgs { data, config }) = support::args("eval_vad", "conversation") else {
        return;
    };
    let conv = data.join("conversation");
    let es = conv.join("ES2004a_750-780");
    let turns = read_rttm(&es.join("ES2004a_750-780.rttm"));
    println!("Per-speaker AMI close-talk channels (ES2004a 750-780 s), frame P / R / F1");
    println!(
        "{:<18} {:<9} {:>7} {:>22} {:>22}",
        "condition", "channel", "ref s", "no collar", "0.25 s collar"
    );
    for (cond, name) in CONDITIONS.iter().enumerate() {
        let mut sum = [0.0; 2];
        for (k, speaker) in ["MEO015", "FEE013", "MEE014", "FEE016"].iter().enumerate() {
            let (rate, x) = support::read_mono(&es.join(format!("{speaker}.wav")));
            let n = x.len() / (rate as usize / 100);
            let (reference, scored) = labels(&turns, n, Some(speaker));
            let (r2, y) = condition(rate, &x, cond, 1000 + k as u64);
            let est = decide(&config, r2, y);
            let a = count(&est, &reference, None).f1();
            let b = count(&est, &reference, Some(&scored)).f1();
            sum[0] += a.2;
            sum[1] += b.2;
            let ref_s = reference.iter().filter(|&&r| r).count() as f64 * HOP;
            println!(
                "{:<18} {:<9} {:>6.1}s   {:.3} {:.3} {:.3}    {:.3} {:.3} {:.3}",
                name, speaker, ref_s, a.0, a.1, a.2, b.0, b.1, b.2
            );
        }
        println!(
            "{:<18} {:<9} {:>7}   {:>17.3}    {:>17.3}",
            name,
            "mean F1",
            "",
            sum[0] / 4.0,
            sum[1] / 4.0
        );
    }
    own_sound_outside_turns(&config, &es, &turns);
    println!("\nMono mixtures, any speaker active, frame P / R / F1 (clean)");
    for stem in ["sample", "dev00", "dev01", "tst00", "tst01"] {
        let (rate, x) = support::read_mono(&conv.join(format!("{stem}.wav")));
        let turns = read_rttm(&conv.join(format!("{stem}.rttm")));
        let n = (x.len() / (rate as usize / 100)).min(3000);
        let (reference, scored) = labels(&turns, n, None);
        let est = decide(&config, rate, x);
        let a = count(&est[..n], &reference, None).f1();
        let b = count(&est[..n], &reference, Some(&scored)).f1();
        println!(
            "{stem:<8} no collar {:.3} {:.3} {:.3}   collar {:.3} {:.3} {:.3}",
            a.0, a.1, a.2, b.0, b.1, b.2
        );
        if stem == "tst01" {
            // Unannotated noisy events listed in the data README.
            let gaps = [
                (0.30, 1.27),
                (3.78, 4.39),
                (8.02, 9.14),
                (9.71, 10.91),
                (11.80, 12.63),
                (13.94, 15.37),
                (18.72, 20.07),
                (21.12, 22.65),
            ];
            let mut total = 0;
            let mut marked = 0;
            for (i, e) in est.iter().enumerate().take(n) {
                let c = (i as f64 + 0.5) * HOP;
                if gaps.iter().any(|&(a, b)| c >= a && c < b) && !reference[i] {
                    total += 1;
                    marked += usize::from(*e);
                }
            }
            println!(
                "tst01 noise events: {:.1} % of {} frames marked speech (false alarms)",
                100.0 * marked as f64 / total.max(1) as f64,
                total
            );
        }
    }
}

/// Sound at each talker's own microphone outside their reference turns (clean channels).
fn own_sound_outside_turns(
    config: &AnalysisConfig,
    es: &std::path::Path,
    turns: &[(f64, f64, String)],
) {
    const SPEAKERS: [&str; 4] = ["MEO015", "FEE013", "MEE014", "FEE016"];
    let frames: Vec<Vec<(f32, bool)>> = SPEAKERS
        .iter()
        .map(|s| {
            let (rate, x) = support::read_mono(&es.join(format!("{s}.wav")));
            support::frames(config, rate, x)
                .iter()
                .map(|f| {
                    f.party(Role::Caller)
                        .map_or((-120.0, false), |p| (p.loudness_db, p.f0_hz.is_some()))
                })
                .collect()
        })
        .collect();
    let n = frames.iter().map(Vec::len).min().unwrap_or(0);
    println!(
        "\nReference check: sound at the talker's own microphone (>= -45 dBFS, >= 10 dB above every other channel) outside their turns"
    );
    println!(
        "{:<9} {:>7} {:>12} {:>12} {:>34}",
        "channel", "ref s", "outside s", "voiced s", "F1 of exact turns + voiced sound"
    );
    let references: Vec<Vec<bool>> = SPEAKERS
        .iter()
        .map(|s| labels(turns, n, Some(s)).0)
        .collect();
    // Per channel: frames of voiced own-seat sound outside the speaker's turns.
    let mut extra = vec![vec![false; n]; SPEAKERS.len()];
    for (k, speaker) in SPEAKERS.iter().enumerate() {
        let reference = &references[k];
        let (mut outside, mut voiced) = (0usize, 0usize);
        for i in 0..n {
            let (level, is_voiced) = frames[k][i];
            let others = (0..SPEAKERS.len())
                .filter(|&j| j != k)
                .map(|j| frames[j][i].0)
                .fold(f32::MIN, f32::max);
            if !reference[i] && level >= -45.0 && level - others >= 10.0 {
                outside += 1;
                voiced += usize::from(is_voiced);
                extra[k][i] = is_voiced;
            }
        }
        let r = reference.iter().take(n).filter(|&&r| r).count();
        let precision = r as f64 / (r + voiced).max(1) as f64;
        println!(
            "{:<9} {:>6.1}s {:>11.2}s {:>11.2}s {:>34.3}",
            speaker,
            r as f64 * HOP,
            outside as f64 * HOP,
            voiced as f64 * HOP,
            2.0 * precision / (1.0 + precision)
        );
    }
    // The same detector on the six pairs: its overlap is the reference overlap plus the voiced
    // own-seat sound of one talker during the other's turn.
    let (mut true_ov, mut false_ov) = (0usize, 0usize);
    for a in 0..SPEAKERS.len() {
        for b in a + 1..SPEAKERS.len() {
            for i in 0..n {
                let (ra, rb) = (references[a][i], references[b][i]);
                if ra && rb {
                    true_ov += 1;
                } else if (ra || extra[a][i]) && (rb || extra[b][i]) {
                    false_ov += 1;
                }
            }
        }
    }
    let precision = true_ov as f64 / (true_ov + false_ov).max(1) as f64;
    println!(
        "overlap over the six pairs, pooled: reference {:.2} s; that detector adds {:.2} s of overlap the reference does not have: F1 {:.3}",
        true_ov as f64 * HOP,
        false_ov as f64 * HOP,
        2.0 * precision / (1.0 + precision)
    );
}
