//! What the evaluation examples share: their arguments, WAV reading, and the product's own
//! analysis path for one channel. (A directory with `mod.rs`, so Cargo does not build it as an
//! example of its own.)

// Each example uses a different part of this module; the rest is dead code there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use callpulse::Role;
use callpulse::config::{AnalysisConfig, RawConfig};
use callpulse::pipeline::analyze_frames;
use callpulse::record::FrameRecord;
use callpulse::source::memory::MemorySource;

/// Parsed arguments of an evaluation.
pub struct EvalArgs {
    /// The shared data directory (`--data`, default `../shared/data`).
    pub data: PathBuf,
    /// The analysis configuration (`--config JSON`, fields of `RawConfig`).
    pub config: AnalysisConfig,
}

/// Parses `--data DIR` and `--config JSON`; `None` after `--help` or when `data/subdir` is
/// missing (with a message saying so).
pub fn args(name: &str, subdir: &str) -> Option<EvalArgs> {
    let args: Vec<String> = std::env::args().collect();
    args_from(name, subdir, &args, &[])
}

/// As [`args`], over `argv` (program name first), skipping the options in `own` (each with
/// one value), which the example parses itself.
pub fn args_from(name: &str, subdir: &str, argv: &[String], own: &[&str]) -> Option<EvalArgs> {
    let mut data = PathBuf::from("../shared/data");
    let mut config = AnalysisConfig::default();
    let mut args = argv.iter().skip(1).cloned();
    while let Some(a) = args.next() {
        match a.as_str() {
            o if own.contains(&o) => {
                args.next();
            }
            "--data" => data = PathBuf::from(args.next().expect("--data DIR")),
            "--config" => {
                let json = args.next().expect("--config JSON");
                let raw: RawConfig = serde_json::from_str(&json).expect("RawConfig JSON");
                config = AnalysisConfig::try_from(raw).expect("valid configuration");
            }
            "-h" | "--help" => {
                println!(
                    "usage: {name} [--data DIR] [--config JSON]\n  DIR defaults to ../shared/data; \
                     JSON has the fields of callpulse::config::RawConfig, e.g. '{{\"vad\":{{\"hangover_ms\":300}}}}'"
                );
                return None;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if !data.join(subdir).is_dir() {
        eprintln!(
            "{name}: {} not found; nothing to evaluate (pass --data DIR)",
            data.join(subdir).display()
        );
        return None;
    }
    println!(
        "command: cargo run --release --example {name} -- --data {}\n",
        data.display()
    );
    Some(EvalArgs { data, config })
}

/// A 16-bit mono WAV as samples in [-1, 1).
pub fn read_mono(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).expect("readable WAV");
    let rate = r.spec().sample_rate;
    let x = r
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect();
    (rate, x)
}

/// Every frame of `samples` analysed as one party through the product's pipeline.
pub fn frames(config: &AnalysisConfig, rate: u32, samples: Vec<f32>) -> Vec<FrameRecord> {
    let source = MemorySource::new(vec![(Role::Caller, rate, samples)]);
    analyze_frames(config.clone(), Box::new(source))
        .expect("analysis")
        .0
}

/// Frame hop of the labels in seconds.
pub const HOP: f64 = 0.01;
/// Frames this close to a reference boundary are left out of collared scores.
pub const COLLAR: f64 = 0.25;

/// Turns `(onset, end, speaker)` of an RTTM file.
pub fn read_rttm(path: &Path) -> Vec<(f64, f64, String)> {
    std::fs::read_to_string(path)
        .expect("RTTM")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 || f[0] != "SPEAKER" {
                return None;
            }
            let on: f64 = f[3].parse().ok()?;
            let dur: f64 = f[4].parse().ok()?;
            Some((on, on + dur, f[7].to_string()))
        })
        .collect()
}

/// Reference labels for `n` frames: true where a turn of an accepted speaker covers the centre.
pub fn labels(
    turns: &[(f64, f64, String)],
    n: usize,
    speaker: Option<&str>,
) -> (Vec<bool>, Vec<bool>) {
    let mut speech = vec![false; n];
    let mut scored = vec![true; n];
    for (on, end, who) in turns {
        if speaker.is_some_and(|s| s != who) {
            continue;
        }
        for (i, s) in speech.iter_mut().enumerate() {
            let c = (i as f64 + 0.5) * HOP;
            if c >= *on && c < *end {
                *s = true;
            }
        }
    }
    // Collar: exclude frames within COLLAR of a change of the reference.
    for i in 1..n {
        if speech[i] != speech[i - 1] {
            let t = i as f64 * HOP;
            for (j, sc) in scored.iter_mut().enumerate() {
                if ((j as f64 + 0.5) * HOP - t).abs() < COLLAR {
                    *sc = false;
                }
            }
        }
    }
    (speech, scored)
}

/// Frame counts of a detection against a reference.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
}

impl Counts {
    /// Precision, recall and F1.
    pub fn f1(&self) -> (f64, f64, f64) {
        let p = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        let r = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        (
            p,
            r,
            if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            },
        )
    }
}

/// Counts `est` against `reference` over the frames `scored` marks (all when `None`).
pub fn count(est: &[bool], reference: &[bool], scored: Option<&[bool]>) -> Counts {
    let mut c = Counts::default();
    for (i, (&e, &r)) in est.iter().zip(reference).enumerate() {
        if scored.is_some_and(|s| !s[i]) {
            continue;
        }
        match (e, r) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, true) => c.fn_ += 1,
            _ => {}
        }
    }
    c
}

/// One utterance of `emotion/labels.csv`.
pub struct EmotionFile {
    /// Path relative to `emotion/`.
    pub file: String,
    /// Speaker id.
    pub speaker: String,
    /// Angry (`true`) or neutral.
    pub angry: bool,
}

/// The rows of `emotion/labels.csv`.
pub fn emotion_files(data: &Path) -> Vec<EmotionFile> {
    let labels =
        std::fs::read_to_string(data.join("emotion/labels.csv")).expect("emotion/labels.csv");
    labels
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f.len() >= 6).then(|| EmotionFile {
                file: f[0].to_string(),
                speaker: f[2].to_string(),
                angry: f[5] == "angry",
            })
        })
        .collect()
}

/// Every emotion utterance measured through the product's path, clean and after
/// `degrade::telephone`, as training samples (utterances with too little speech are left out,
/// with a message).
pub fn emotion_samples(args: &EvalArgs) -> Vec<callpulse::agitation::train::Sample> {
    use callpulse::agitation::train::{Sample, utterance_features};
    let dir = args.data.join("emotion");
    let mut samples = Vec::new();
    for e in emotion_files(&args.data) {
        let (rate, x) = read_mono(&dir.join(&e.file));
        let tel = callpulse::degrade::telephone(&x, rate).expect("telephone");
        for (condition, rate, x) in [("clean", rate, x), ("telephone", 8_000, tel)] {
            let frames = frames(&args.config, rate, x);
            match utterance_features(&frames, Role::Caller, args.config.agitation(), 0.01) {
                Some(features) => samples.push(Sample {
                    speaker: e.speaker.clone(),
                    condition,
                    angry: e.angry,
                    features,
                }),
                None => println!("{} ({condition}): too little speech, left out", e.file),
            }
        }
    }
    samples
}

/// The training set of the shipped model: the EmoDB speakers only. EmoDB is CC0, so the model
/// carries no licence condition; RAVDESS (CC BY-NC-SA 4.0) is used for evaluation only.
pub fn shipped_training_set(
    samples: &[callpulse::agitation::train::Sample],
) -> Vec<callpulse::agitation::train::Sample> {
    samples
        .iter()
        .filter(|s| s.speaker.starts_with("emodb"))
        .cloned()
        .collect()
}

/// Every record (frames included) of a two-party call analysed through the product's pipeline.
pub fn call_records(
    config: &AnalysisConfig,
    rate: u32,
    agent: Vec<f32>,
    caller: Vec<f32>,
) -> Vec<callpulse::record::Record> {
    use callpulse::pipeline::{Overflow, Pipeline};
    let source = MemorySource::new(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    let (sink, records) = callpulse::sink::MemorySink::new();
    Pipeline::new(config.clone())
        .frames(true)
        .sink(sink, Overflow::Block)
        .spawn(Box::new(source))
        .expect("pipeline")
        .wait()
        .expect("analysis");
    records.take()
}
