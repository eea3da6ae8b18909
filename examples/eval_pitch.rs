//! Pitch accuracy against the laryngograph reference of the FDA database (Bagshaw et al. 1993),
//! at the native rate and through the project's telephone channel (8 kHz, 300–3400 Hz, μ-law).
//!
//! ```text
//! cargo run --release --example eval_pitch [-- --data ../shared/data]
//! ```
//!
//! The files are evaluation-only and stay in `../shared/data/pitch`. Each goes through the
//! product's own path (`analyze_frames`: resampler, framer, spectrum, pitch tracker, VAD).
//! Our frames are centred at 5, 15, 25 ms …, the reference's at 0, 15, 30 ms …: at each
//! reference time the estimate is interpolated between the two neighbouring frames (voicing
//! from the nearer one, F0 in log-frequency when both are voiced, else the voiced one's).
//!
//! Metrics, over all files pooled: gross pitch error (GPE, % of frames voiced in both with
//! |est − ref| / ref > 20 %), fine error (|cents| over voiced-in-both frames without a gross
//! error: mean and median), voicing decision error (VDE, % of all frames where the voiced /
//! unvoiced decisions differ).

use std::path::Path;

use callpulse::Role;

mod support;
use callpulse::degrade::telephone;
use callpulse::record::FrameRecord;

#[derive(Default, Clone)]
struct Score {
    frames: u64,
    voicing_errors: u64,
    missed_voicing: u64,
    both_voiced: u64,
    gross: u64,
    cents: Vec<f64>,
}

impl Score {
    fn add(&mut self, other: &Score) {
        self.frames += other.frames;
        self.voicing_errors += other.voicing_errors;
        self.missed_voicing += other.missed_voicing;
        self.both_voiced += other.both_voiced;
        self.gross += other.gross;
        self.cents.extend_from_slice(&other.cents);
    }

    fn row(&self, name: &str) -> String {
        let mut c = self.cents.clone();
        c.sort_by(f64::total_cmp);
        let median = c.get(c.len() / 2).copied().unwrap_or(f64::NAN);
        let mean = c.iter().sum::<f64>() / c.len().max(1) as f64;
        format!(
            "{name:<24} {:>7.2} % {:>9.1} {:>9.1} {:>8.2} % {:>6.2} % {:>6.2} % {:>8}",
            100.0 * self.gross as f64 / self.both_voiced.max(1) as f64,
            mean,
            median,
            100.0 * self.voicing_errors as f64 / self.frames.max(1) as f64,
            100.0 * self.missed_voicing as f64 / self.frames.max(1) as f64,
            100.0 * (self.voicing_errors - self.missed_voicing) as f64 / self.frames.max(1) as f64,
            self.frames
        )
    }
}

fn read_reference(path: &Path) -> Vec<(f64, f64)> {
    std::fs::read_to_string(path)
        .expect("reference CSV")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (t, f) = l.split_once(',')?;
            Some((t.parse().ok()?, f.parse().ok()?))
        })
        .collect()
}

/// Our estimate at time `t` (seconds), interpolated between neighbouring frames.
fn estimate_at(frames: &[FrameRecord], t: f64, hop: f64) -> Option<Option<f64>> {
    let x = t / hop - 0.5;
    let i0 = x.floor();
    if i0 < -1.0 {
        return None;
    }
    let get = |i: f64| -> Option<Option<f64>> {
        let i = i.clamp(0.0, f64::MAX) as usize;
        frames
            .get(i)
            .map(|f| f.party(Role::Caller).and_then(|p| p.f0_hz).map(f64::from))
    };
    let a = get(i0)?;
    let b = get(i0 + 1.0).unwrap_or(a);
    let w = x - i0;
    let nearer = if w < 0.5 { a } else { b };
    Some(match (a, b, nearer) {
        (_, _, None) => None,
        (Some(fa), Some(fb), _) => Some((fa.ln() * (1.0 - w) + fb.ln() * w).exp()),
        (Some(f), None, _) | (None, Some(f), _) => Some(f),
        (None, None, _) => None,
    })
}

fn score(frames: &[FrameRecord], reference: &[(f64, f64)], hop: f64, offset: f64) -> Score {
    let mut s = Score::default();
    for &(t, f_ref) in reference {
        let Some(est) = estimate_at(frames, t + offset, hop) else {
            continue;
        };
        s.frames += 1;
        let ref_voiced = f_ref > 0.0;
        if ref_voiced != est.is_some() {
            s.voicing_errors += 1;
            s.missed_voicing += u64::from(ref_voiced);
        }
        if let (true, Some(f)) = (ref_voiced, est) {
            s.both_voiced += 1;
            if (f - f_ref).abs() / f_ref > 0.2 {
                s.gross += 1;
            } else {
                s.cents.push((1200.0 * (f / f_ref).log2()).abs());
            }
        }
    }
    s
}

fn main() {
    let Some(support::EvalArgs { data, config }) = support::args("eval_pitch", "pitch") else {
        return;
    };
    let dir = data.join("pitch");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("pitch dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".wav"))
        .collect();
    names.sort();
    let hop = config.hop().as_secs_f64();
    let offsets = [-0.015, 0.0, 0.015];
    // [condition][speaker][offset]
    let mut totals = vec![vec![vec![Score::default(); offsets.len()]; 2]; 2];
    let started = std::time::Instant::now();
    for name in &names {
        let stem = name.trim_end_matches(".wav");
        let (rate, x) = support::read_mono(&dir.join(name));
        let reference = read_reference(&dir.join(format!("{stem}.f0.csv")));
        let speaker = usize::from(stem.starts_with("sb"));
        for (cond, (rate, signal)) in [
            (rate, x.clone()),
            (8_000, telephone(&x, rate).expect("telephone")),
        ]
        .into_iter()
        .enumerate()
        {
            let frames = support::frames(&config, rate, signal);
            for (k, &off) in offsets.iter().enumerate() {
                let s = score(&frames, &reference, hop, off);
                totals[cond][speaker][k].add(&s);
            }
        }
    }
    println!(
        "Pitch on ../shared/data/pitch (FDA, {} files, laryngograph reference), {:.1} s",
        names.len(),
        started.elapsed().as_secs_f64()
    );
    for (cond, title) in [
        "native (20 kHz file, analysed at 16 kHz)",
        "telephone (8 kHz, 300-3400 Hz, mu-law)",
    ]
    .iter()
    .enumerate()
    {
        println!("{title}");
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8} {:>8}",
            "set", "gross", "fine mean", "fine med", "voicing", "V->UV", "UV->V", "frames"
        );
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>10}",
            "", "(>20%)", "(cents)", "(cents)", "error"
        );
        let mut all = Score::default();
        for (sp, label) in ["rl (male)", "sb (female)"].iter().enumerate() {
            println!("{}", totals[cond][sp][1].row(label));
            all.add(&totals[cond][sp][1]);
        }
        println!("{}", all.row("all, offset 0"));
        for (k, &off) in offsets.iter().enumerate() {
            if off != 0.0 {
                let mut s = totals[cond][0][k].clone();
                s.add(&totals[cond][1][k]);
                println!("{}", s.row(&format!("all, offset {:+.0} ms", off * 1000.0)));
            }
        }
        println!();
    }
}
