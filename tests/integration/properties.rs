//! Property tests with shrinking: the WAV boundary never panics on damaged bytes, and our
//! momentary loudness equals the `ebur128` reference on arbitrary signals.

use callpulse::features::loudness::MomentaryLoudness;
use callpulse::source::wav::WavSource;
use callpulse::source::{Block, Source};
use ebur128::{EbuR128, Mode};
use proptest::prelude::*;

use crate::common::*;

fn valid_wav() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.wav");
    write_wav_i16(
        &p,
        8000,
        &[voice(8000, 0.3, 150.0, 0.0, 0.3, 0.3), vec![0.01; 2400]],
    );
    std::fs::read(p).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Any damage to a WAV file (bytes overwritten, file cut anywhere) gives an error or a
    /// (possibly truncated) analysis; never a panic.
    #[test]
    fn damaged_wav_files_never_panic(
        edits in proptest::collection::vec((0usize..4844, any::<u8>()), 0..12),
        cut in 0usize..4844,
    ) {
        let mut bytes = valid_wav();
        for (at, v) in edits {
            if at < bytes.len() {
                bytes[at] = v;
            }
        }
        bytes.truncate(cut.max(1));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.wav");
        std::fs::write(&p, &bytes).unwrap();
        let opened = [WavSource::stereo(&p, 0, 1), WavSource::single(&p, 0, callpulse::Role::Caller)];
        for mut source in opened.into_iter().flatten() {
            let mut block = Block::default();
            let mut reads = 0;
            while let Ok(true) = source.read(&mut block) {
                reads += 1;
                prop_assert!(reads < 100_000);
            }
        }
    }

    /// Momentary loudness equals ebur128's within 0.1 dB after every hop, for random noise
    /// bursts and tones at random levels and rates.
    #[test]
    fn momentary_loudness_matches_ebur128(
        rate in prop::sample::select(vec![8_000u32, 16_000, 22_050, 48_000]),
        freq in 50.0f32..3_500.0,
        level_db in -70.0f32..0.0,
        seed in any::<u32>(),
    ) {
        let amp = 10f32.powf(level_db / 20.0);
        let mut state = seed | 1;
        let n = rate as usize;
        let x: Vec<f32> = (0..n).map(|i| {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5;
            let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.5;
            let tone = (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin();
            amp * if (i / (n / 5)).is_multiple_of(2) { tone } else { noise }
        }).collect();
        let hop = rate as usize / 100;
        let mut ours = MomentaryLoudness::new(rate, hop);
        let mut reference = EbuR128::new(1, rate, Mode::M).unwrap();
        for chunk in x.chunks_exact(hop) {
            let got = f64::from(ours.process(chunk));
            reference.add_frames_f32(chunk).unwrap();
            let want = reference.loudness_momentary().unwrap();
            if want > -100.0 {
                prop_assert!((got - want).abs() <= 0.1, "{} vs {}", got, want);
            }
        }
    }
}
