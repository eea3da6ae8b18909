//! The same input fed in blocks of any size gives identical frames (STYLE.md tier c).

use callpulse::Role;
use callpulse::config::AnalysisConfig;
use callpulse::pipeline::analyze_frames;
use callpulse::source::memory::MemorySource;
use callpulse::source::wav::WavSource;

use crate::common::*;

const BLOCKS: [usize; 5] = [1, 64, 441, 480, 1024];

#[test]
fn wav_blocks_of_any_size_give_identical_frames() {
    // Two real 16 kHz channels, analysed at 16 kHz (no resampling) and at 8 kHz (resampled).
    for rate in [None, Some(8_000)] {
        let config = AnalysisConfig::default().with_analysis_rate(rate).unwrap();
        let run = |block: usize| {
            let source = WavSource::pair(&ami("FEE013.wav"), &ami("MEO015.wav"))
                .unwrap()
                .with_block_frames(block);
            analyze_frames(config.clone(), Box::new(source)).unwrap()
        };
        let (reference, summary) = run(BLOCKS[4]);
        assert_eq!(reference.len(), 3000);
        assert!(summary.agent.as_ref().unwrap().speech_s > 5.0);
        for block in BLOCKS {
            let (frames, s) = run(block);
            assert_eq!(frames, reference, "analysis rate {rate:?}, block {block}");
            assert_eq!(s, summary);
        }
    }
}

#[test]
fn resampled_input_is_block_invariant_too() {
    // 44.1 kHz and 8 kHz parties in one call: both resampler paths and uneven block pairing.
    let agent = voice(44_100, 3.0, 140.0, 0.3, 2.0, 0.3);
    let caller = voice(8_000, 3.0, 230.0, 1.0, 2.7, 0.3);
    let run = |block: usize| {
        let source = MemorySource::new(vec![
            (Role::Agent, 44_100, agent.clone()),
            (Role::Caller, 8_000, caller.clone()),
        ])
        .with_block(block);
        analyze_frames(AnalysisConfig::default(), Box::new(source))
            .unwrap()
            .0
    };
    let reference = run(1024);
    assert_eq!(reference.len(), 300);
    for block in BLOCKS {
        assert_eq!(run(block), reference, "block {block}");
    }
}

#[test]
fn bulk_wav_decoding_equals_hound() {
    use callpulse::source::{Block, Source};
    let dir = tempfile::tempdir().unwrap();
    let a = voice(8000, 1.0, 130.0, 0.1, 0.9, 0.5);
    let b: Vec<f32> = a.iter().map(|x| -x * 0.5).collect();
    let p16 = dir.path().join("i16.wav");
    let pf = dir.path().join("f32.wav");
    write_wav_i16(&p16, 8000, &[a.clone(), b.clone()]);
    write_wav_f32(&pf, 8000, &[a.clone(), b.clone()]);
    for p in [p16, pf] {
        let mut r = hound::WavReader::open(&p).unwrap();
        let expected: Vec<f32> = if r.spec().sample_format == hound::SampleFormat::Float {
            r.samples::<f32>().map(|s| s.unwrap()).collect()
        } else {
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / 32768.0)
                .collect()
        };
        let mut source = WavSource::stereo(&p, 0, 1).unwrap().with_block_frames(333);
        let mut block = Block::default();
        let mut got = [Vec::new(), Vec::new()];
        while source.read(&mut block).unwrap() {
            for (g, pb) in got.iter_mut().zip(&block.parties) {
                g.extend_from_slice(&pb.samples);
            }
        }
        let left: Vec<f32> = expected.iter().step_by(2).copied().collect();
        let right: Vec<f32> = expected.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(got[0], left, "{}", p.display());
        assert_eq!(got[1], right, "{}", p.display());
    }
}
