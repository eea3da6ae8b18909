//! Whole-pipeline checks on synthetic calls with analytic answers (STYLE.md tier a).

use callpulse::Role;
use callpulse::config::AnalysisConfig;
use callpulse::degrade::add_white_noise;
use callpulse::pipeline::analyze_frames;
use callpulse::record::FrameRecord;
use callpulse::source::memory::MemorySource;

use crate::common::*;

fn frames(parties: Vec<(Role, u32, Vec<f32>)>) -> Vec<FrameRecord> {
    analyze_frames(
        AnalysisConfig::default(),
        Box::new(MemorySource::new(parties)),
    )
    .unwrap()
    .0
}

/// Share of frames in [from, to) s where `role` is speech.
fn speech_share(fr: &[FrameRecord], role: Role, from: f64, to: f64) -> f64 {
    let sel: Vec<_> = fr.iter().filter(|f| f.t >= from && f.t < to).collect();
    sel.iter().filter(|f| f.party(role).unwrap().speech).count() as f64 / sel.len() as f64
}

#[test]
fn two_parties_are_measured_on_their_own_channels() {
    let rate = 8000;
    let agent = voice(rate, 5.0, 120.0, 0.5, 1.5, 0.3);
    let caller = voice(rate, 5.0, 220.0, 2.5, 3.5, 0.3);
    let fr = frames(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    assert_eq!(fr.len(), 500);
    assert!((fr[0].t - 0.005).abs() < 1e-9 && (fr[499].t - 4.995).abs() < 1e-9);
    // Speech where each voice is, silence elsewhere (edges: onset ≤ 100 ms, hangover).
    assert!(speech_share(&fr, Role::Agent, 0.6, 1.5) > 0.99);
    assert!(speech_share(&fr, Role::Caller, 2.6, 3.5) > 0.99);
    assert_eq!(speech_share(&fr, Role::Agent, 2.0, 5.0), 0.0);
    assert_eq!(speech_share(&fr, Role::Caller, 0.0, 2.4), 0.0);
    // Onset within 100 ms.
    let onset = fr
        .iter()
        .find(|f| f.party(Role::Caller).unwrap().speech)
        .unwrap()
        .t;
    assert!((2.49..=2.6).contains(&onset), "onset at {onset}");
    // Pitch of each party within 1 % in the steady part.
    for (role, f0, from, to) in [
        (Role::Agent, 120.0, 0.6, 1.4),
        (Role::Caller, 220.0, 2.6, 3.4),
    ] {
        for f in fr.iter().filter(|f| f.t >= from && f.t < to) {
            let got = f.party(role).unwrap().f0_hz.expect("voiced");
            assert!((got / f0 - 1.0).abs() < 0.01, "{role} at {}: {got}", f.t);
        }
    }
}

#[test]
fn frame_level_of_a_sine_is_exact() {
    let rate = 16_000;
    let amp = 0.5f32;
    let x: Vec<f32> = (0..rate * 2)
        .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin() * amp)
        .collect();
    let fr = frames(vec![(Role::Caller, rate, x)]);
    let want = 20.0 * f64::from(amp).log10() - 3.0103;
    for f in &fr[20..180] {
        let got = f64::from(f.party(Role::Caller).unwrap().loudness_db);
        assert!((got - want).abs() < 0.02, "{got} vs {want}");
    }
}

#[test]
fn vibrato_is_tracked() {
    // 150 Hz ± 6 % at 5 Hz: F0 follows within 2 %.
    let rate = 16_000;
    let n = rate as usize * 2;
    let mut phase = 0.0f64;
    let mut truth = Vec::with_capacity(n);
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 150.0 * (1.0 + 0.06 * (2.0 * std::f64::consts::PI * 5.0 * t).sin());
            truth.push(f0);
            phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
            ((1..=10)
                .map(|k| (phase * k as f64).sin() / k as f64)
                .sum::<f64>()
                * 0.2) as f32
        })
        .collect();
    let fr = frames(vec![(Role::Agent, rate, x)]);
    for f in &fr[20..180] {
        let centre = (f.t * f64::from(rate)) as usize;
        let got = f64::from(f.party(Role::Agent).unwrap().f0_hz.expect("voiced"));
        assert!(
            (got / truth[centre] - 1.0).abs() < 0.02,
            "at {}: {got} vs {}",
            f.t,
            truth[centre]
        );
    }
}

#[test]
fn voice_in_10_db_white_noise_is_found() {
    let rate = 8000;
    let mut x = voice(rate, 8.0, 160.0, 3.0, 5.0, 0.3);
    // SNR relative to the voice's active level.
    add_white_noise(&mut x, rate, 10.0, 42);
    let fr = frames(vec![(Role::Caller, rate, x)]);
    assert!(speech_share(&fr, Role::Caller, 3.1, 5.0) > 0.9);
    assert!(speech_share(&fr, Role::Caller, 1.0, 2.9) < 0.1);
    assert!(speech_share(&fr, Role::Caller, 5.4, 8.0) < 0.1);
}

#[test]
fn gaps_travel_with_the_frames() {
    let rate = 8000;
    let x = voice(rate, 2.0, 150.0, 0.2, 1.8, 0.3);
    let source = MemorySource::new(vec![(Role::Caller, rate, x)]).with_gap(0, 8000);
    let (fr, summary) = analyze_frames(AnalysisConfig::default(), Box::new(source)).unwrap();
    let flagged: Vec<u64> = fr.iter().filter(|f| f.gap()).map(|f| f.index).collect();
    assert_eq!(flagged, vec![100], "the frame whose hop starts at the gap");
    assert_eq!(fr[100].party(Role::Caller).unwrap().f0_hz, None);
    assert_eq!(summary.caller.as_ref().unwrap().gaps, 1);
}
