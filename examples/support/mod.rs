//! What the evaluation examples share: their arguments, WAV reading, and the product's own
//! analysis path for one channel. (A directory with `mod.rs`, so Cargo does not build it as an
//! example of its own.)

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
    let mut data = PathBuf::from("../shared/data");
    let mut config = AnalysisConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
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
