//! Loudness against the `ebur128` crate (libebur128's algorithm) as the reference: ±0.1 dB.

use callpulse::Role;
use callpulse::config::AnalysisConfig;
use callpulse::features::loudness::MomentaryLoudness;
use callpulse::pipeline::analyze_frames;
use callpulse::source::memory::MemorySource;
use ebur128::{EbuR128, Mode};

use crate::common::*;

const TOLERANCE_DB: f64 = 0.1;

/// Compares our momentary loudness with ebur128's after every hop; returns the worst
/// difference over hops where the reference is above `floor` LUFS.
fn worst_difference(x: &[f32], rate: u32, floor: f64) -> f64 {
    let hop = rate as usize / 100;
    let mut ours = MomentaryLoudness::new(rate, hop);
    let mut reference = EbuR128::new(1, rate, Mode::M).unwrap();
    let mut worst: f64 = 0.0;
    let mut compared = 0;
    for chunk in x.chunks_exact(hop) {
        let got = f64::from(ours.process(chunk));
        reference.add_frames_f32(chunk).unwrap();
        let want = reference.loudness_momentary().unwrap();
        if want > floor {
            worst = worst.max((got - want).abs());
            compared += 1;
        }
    }
    assert!(compared > 50, "compared only {compared} hops");
    worst
}

#[test]
fn sines_match_ebur128() {
    for rate in [8_000u32, 16_000, 44_100, 48_000] {
        for f in [100.0f32, 997.0, 3000.0] {
            for amp in [0.9f32, 0.1, 0.003] {
                let x: Vec<f32> = (0..rate * 2)
                    .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin() * amp)
                    .collect();
                let worst = worst_difference(&x, rate, -90.0);
                assert!(
                    worst <= TOLERANCE_DB,
                    "{rate} Hz, {f} Hz, amp {amp}: {worst} dB"
                );
            }
        }
    }
    // The standard's anchor: a 997 Hz sine at 0 dBFS peak reads -3.01 LUFS.
    let rate = 48_000;
    let x: Vec<f32> = (0..rate)
        .map(|i| (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin())
        .collect();
    let mut m = MomentaryLoudness::new(rate, 480);
    let mut last = 0.0;
    for c in x.chunks_exact(480) {
        last = m.process(c);
    }
    assert!((f64::from(last) + 3.01).abs() < 0.05, "{last}");
}

#[test]
fn speech_matches_ebur128() {
    let (rate, ch) = read_wav(&ami("FEE013.wav"));
    assert!(worst_difference(&ch[0], rate, -70.0) <= TOLERANCE_DB);
    let (rate, ch) = read_wav(&demo_call());
    for c in &ch {
        assert!(worst_difference(c, rate, -70.0) <= TOLERANCE_DB);
    }
}

#[test]
fn pipeline_frames_carry_the_same_momentary_loudness() {
    // Through the whole pipeline (DC blocker included) on real speech.
    let (rate, ch) = read_wav(&demo_call());
    let caller = ch[1][..rate as usize * 20].to_vec();
    let source = MemorySource::new(vec![(Role::Caller, rate, caller.clone())]);
    let (frames, _) = analyze_frames(AnalysisConfig::default(), Box::new(source)).unwrap();
    let mut reference = EbuR128::new(1, rate, Mode::M).unwrap();
    let hop = rate as usize / 100;
    let mut worst: f64 = 0.0;
    for (frame, chunk) in frames.iter().zip(caller.chunks_exact(hop)) {
        reference.add_frames_f32(chunk).unwrap();
        let want = reference.loudness_momentary().unwrap();
        if want > -60.0 {
            let got = f64::from(frame.party(Role::Caller).unwrap().lufs_m);
            worst = worst.max((got - want).abs());
        }
    }
    assert!(worst <= TOLERANCE_DB, "worst {worst} dB");
}
