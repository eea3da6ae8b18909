//! The per-frame path allocates nothing in steady state (STYLE.md point 3).

use assert_no_alloc::assert_no_alloc;
use callpulse::Role;
use callpulse::call::CallAnalyzer;
use callpulse::config::AnalysisConfig;
use callpulse::record::FrameRecord;
use callpulse::source::memory::MemorySource;
use callpulse::source::wav::WavSource;
use callpulse::source::{Block, Source};

use crate::common::*;

/// Reads every block up front (outside the guard).
fn blocks(mut source: impl Source) -> (Vec<callpulse::source::PartySpec>, Vec<Block>) {
    let parties = source.info().parties.clone();
    let mut out = Vec::new();
    loop {
        let mut b = Block::default();
        if !source.read(&mut b).unwrap() {
            break;
        }
        out.push(b);
    }
    (parties, out)
}

fn run_guarded(config: AnalysisConfig, source: impl Source, min_frames: usize) {
    let (parties, blocks) = blocks(source);
    let mut analyzer = CallAnalyzer::new(&config, &parties).unwrap();
    let mut frames: Vec<FrameRecord> = Vec::with_capacity(100_000);
    // Warm-up outside the guard: the first block fills the pipeline.
    analyzer.process(&blocks[0], |f| frames.push(*f)).unwrap();
    let before = frames.len();
    assert_no_alloc(|| {
        for b in &blocks[1..] {
            analyzer.process(b, |f| frames.push(*f)).unwrap();
        }
        analyzer.finish(|f| frames.push(*f)).unwrap();
    });
    assert!(
        frames.len() - before >= min_frames,
        "only {} frames",
        frames.len() - before
    );
}

#[test]
fn call_analysis_does_not_allocate_per_frame() {
    // 8 kHz stereo: no resampling.
    let (rate, ch) = read_wav(&demo_call());
    let source = MemorySource::new(vec![
        (Role::Agent, rate, ch[0][..rate as usize * 30].to_vec()),
        (Role::Caller, rate, ch[1][..rate as usize * 30].to_vec()),
    ]);
    run_guarded(AnalysisConfig::default(), source, 2900);
}

#[test]
fn resampled_analysis_does_not_allocate_per_frame() {
    // 16 kHz and 44.1 kHz parties resampled to 8 kHz.
    let (rate, ch) = read_wav(&ami("FEE013.wav"));
    let source = MemorySource::new(vec![
        (Role::Agent, rate, ch[0].clone()),
        (
            Role::Caller,
            44_100,
            voice(44_100, 30.0, 180.0, 1.0, 29.0, 0.3),
        ),
    ]);
    let config = AnalysisConfig::default()
        .with_analysis_rate(Some(8_000))
        .unwrap();
    run_guarded(config, source, 2900);
}

#[test]
fn reading_a_wav_file_does_not_allocate_per_block() {
    let mut source = WavSource::stereo(&demo_call(), 0, 1).unwrap();
    let mut block = Block::default();
    source.read(&mut block).unwrap();
    assert_no_alloc(|| {
        for _ in 0..200 {
            assert!(source.read(&mut block).unwrap());
        }
    });
}
