//! The per-frame path allocates nothing in steady state (STYLE.md point 3).

use assert_no_alloc::assert_no_alloc;
use callpulse::Role;
use callpulse::call::CallAnalyzer;
use callpulse::config::AnalysisConfig;
use callpulse::conversation::{Conversation, ConversationConfig, Output};
use callpulse::record::{FrameRecord, Record};
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
    let mut others: Vec<Record> = Vec::with_capacity(100_000);
    let mut keep = |r: Record| match r {
        Record::Frame(f) => frames.push(f),
        other => others.push(other),
    };
    // Warm-up outside the guard: the first block fills the pipeline.
    analyzer.process(&blocks[0], &mut keep).unwrap();
    assert_no_alloc(|| {
        for b in &blocks[1..] {
            analyzer.process(b, &mut keep).unwrap();
        }
        analyzer.finish(&mut keep).unwrap();
    });
    let before = 0;
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
fn call_analysis_with_a_leak_does_not_allocate_per_frame() {
    // The agent leaks into the caller's channel 6 dB down, 12.5 ms late: the waveform test of
    // the crosstalk stage finds the path and works on every frame.
    let (rate, ch) = read_wav(&demo_call());
    let n = rate as usize * 30;
    let caller: Vec<f32> = (0..n)
        .map(|i| ch[1][i] + if i >= 100 { 0.5 * ch[0][i - 100] } else { 0.0 })
        .collect();
    let source = MemorySource::new(vec![
        (Role::Agent, rate, ch[0][..n].to_vec()),
        (Role::Caller, rate, caller),
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

#[test]
fn conversation_stage_does_not_allocate_per_frame() {
    // A scripted hour of turn-taking with every kind of event: interruptions, backchannels,
    // turn-end overlaps, dead air, monologues and gaps.
    let mut stage = Conversation::new(&ConversationConfig::default(), 0.01).unwrap();
    let mut outputs: Vec<Output> = Vec::with_capacity(100_000);
    let mut kinds = std::collections::HashSet::new();
    let frames: Vec<FrameRecord> = (0..360_000u64)
        .map(|i| {
            let k = i % 9_000; // a 90 s cycle
            let agent = match k {
                0..=3_999 => Some(k % 300 < 280), // agent monologue with pauses
                4_100..=4_130 => Some(true),      // backchannel
                4_500..=5_000 => Some(true),      // interruption of the caller
                _ => None,
            };
            let caller = match k {
                3_900..=4_600 => Some(true), // turn-end overlap, then talked over
                5_200..=5_400 => Some(k % 50 < 45),
                _ => None,
            };
            talk(i, agent, caller, k == 8_999)
        })
        .collect();
    assert_no_alloc(|| {
        for f in &frames {
            stage.process(f, &mut |o| outputs.push(o));
        }
        stage.finish(&mut |o| outputs.push(o));
    });
    for o in &outputs {
        match o {
            Output::Event(e) => {
                assert!(e.end >= e.start, "{e:?}");
                kinds.insert(e.kind.name());
            }
            Output::Alert(a) => {
                kinds.insert(a.kind.name());
            }
        }
    }
    for k in [
        "turn",
        "overlap",
        "interruption",
        "backchannel",
        "dead_air",
        "monologue",
        "agent_interrupting",
        "agent_monologue",
        "dead_air",
    ] {
        assert!(kinds.contains(k), "no {k} in {kinds:?}");
    }
}

#[test]
fn agitation_stage_does_not_allocate_per_frame() {
    use callpulse::agitation::{Agitation, AgitationConfig, AgitationModel};
    use callpulse::alert::{Alert, AlertKind};

    let model = AgitationModel::builtin().unwrap();
    let mut stage = Agitation::new(&AgitationConfig::default(), model, 0.01).unwrap();
    // An hour of alternating 3 s turns; the caller's pitch, level and tilt rise in the second
    // half hour, and the agent gets louder in the last quarter, so that baselines form, scores
    // move and every alert kind's path runs.
    let mut frames: Vec<FrameRecord> = (0..360_000u64)
        .map(|i| {
            let k = i % 600;
            let caller_turn = k < 300;
            let mut f = talk(
                i,
                (!caller_turn).then_some(k % 40 < 30),
                caller_turn.then_some(k % 40 < 30),
                i % 100_000 == 99_999,
            );
            let angry = i > 180_000 && (i / 30_000) % 2 == 1;
            for (role, p) in f.parties.iter_mut().enumerate() {
                let p = p.as_mut().unwrap();
                let syllable = ((k % 15) as f32 / 15.0 * std::f32::consts::TAU).sin();
                let lift = if role == 1 && angry {
                    6.0
                } else if role == 0 && i > 270_000 {
                    10.0
                } else {
                    0.0
                };
                p.f0_hz = p
                    .active
                    .then_some(120.0 * 2f32.powf((lift + syllable) / 12.0));
                p.loudness_db = if p.active {
                    -30.0 + lift + 3.0 * syllable
                } else {
                    -70.0
                };
                let e = 10f32.powf(p.loudness_db / 10.0);
                p.band_power = [
                    e * 0.1,
                    e,
                    e * 0.5,
                    e * 0.05 * 10f32.powf(lift / 10.0),
                    f32::NAN,
                ];
            }
            f
        })
        .collect();
    let mut alerts: Vec<Alert> = Vec::with_capacity(10_000);
    assert_no_alloc(|| {
        for f in &mut frames {
            stage.process(f, &mut |a| alerts.push(a));
        }
    });
    let scored = frames
        .iter()
        .filter(|f| f.party(Role::Caller).unwrap().agitation.is_some())
        .count();
    assert!(scored > 300_000, "{scored}");
    let kinds: std::collections::HashSet<AlertKind> = alerts.iter().map(|a| a.kind).collect();
    assert!(
        kinds.contains(&AlertKind::CallerAgitationRising),
        "{alerts:?}"
    );
    assert!(
        kinds.contains(&AlertKind::AgentLoudnessRising),
        "{alerts:?}"
    );
    // Rate limits hold: never two alerts of one kind within a minute.
    for k in &kinds {
        let t: Vec<f64> = alerts
            .iter()
            .filter(|a| a.kind == *k)
            .map(|a| a.t)
            .collect();
        assert!(t.windows(2).all(|w| w[1] - w[0] >= 15.0), "{k:?}: {t:?}");
    }
}
