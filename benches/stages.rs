//! Per-stage and end-to-end costs of the analysis.
//!
//! Budget (DESIGN.md): ≥ 1000 concurrent stereo 8 kHz calls per core, i.e. ≤ 10 µs of CPU per
//! 10 ms stereo frame for everything (≈ 5 µs per party frame: framing, spectrum, pitch,
//! loudness, VAD). Each benchmark below processes one 10 ms frame (or the stated unit) of real
//! speech from the demo call, so its median is directly the per-frame cost.
//!
//! Run: `cargo bench --bench stages` (CI runs `cargo test --benches` so this never rots).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

use callpulse::Role;
use callpulse::call::CallAnalyzer;
use callpulse::config::AnalysisConfig;
use callpulse::features::FeatureExtractor;
use callpulse::features::loudness::{MomentaryLoudness, rms_db};
use callpulse::features::pitch::PitchTracker;
use callpulse::features::spectrum::Spectrum;
use callpulse::frames::{Frame, Framer};
use callpulse::resample::PartyResampler;
use callpulse::source::{Block, PartyBlock, PartySpec};

/// The demo call's two channels at 8 kHz.
fn demo() -> (u32, Vec<f32>, Vec<f32>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/auto_repairs_60s_stereo.wav");
    let mut r = hound::WavReader::open(path).expect("demo call");
    let rate = r.spec().sample_rate;
    let mut a = Vec::new();
    let mut c = Vec::new();
    for (i, s) in r.samples::<i16>().enumerate() {
        let v = f32::from(s.expect("sample")) / 32768.0;
        if i % 2 == 0 { a.push(v) } else { c.push(v) }
    }
    (rate, a, c)
}

/// Every analysis window of `x` (hop 80, window 320 at 8 kHz), copied out once.
fn windows(x: &[f32], config: &AnalysisConfig, rate: u32) -> Vec<Vec<f32>> {
    let mut framer = Framer::new(config.geometry(rate).expect("geometry"));
    let mut out = Vec::new();
    framer.push(x, |f| out.push(f.window.to_vec()));
    out
}

fn stages(c: &mut Criterion) {
    let (rate, agent, caller) = demo();
    let config = AnalysisConfig::default();
    let g = config.geometry(rate).expect("geometry");
    let wins = windows(&agent, &config, rate);
    let mut i = 0;
    let mut next = || {
        i = (i + 1) % wins.len();
        i
    };

    let mut pitch = PitchTracker::new(config.pitch(), g).expect("pitch");
    let mut spectrum = Spectrum::new(g.window, rate, pitch.max_lag());
    c.bench_function(
        "spectrum (320-sample window, 512-point FFT) per frame",
        |b| b.iter(|| spectrum.process(black_box(&wins[next()]))),
    );

    c.bench_function("spectrum + pitch per frame", |b| {
        b.iter(|| {
            let k = next();
            spectrum.process(&wins[k]);
            black_box(pitch.process(&wins[k], &mut spectrum))
        })
    });

    let mut momentary = MomentaryLoudness::new(rate, g.hop);
    c.bench_function("loudness per frame (rms + K-weighted momentary)", |b| {
        b.iter(|| {
            let w = &wins[next()];
            let hop = &w[g.margin()..g.margin() + g.hop];
            black_box((rms_db(hop), momentary.process(hop)))
        })
    });

    let mut features = FeatureExtractor::new(&config, g).expect("features");
    c.bench_function(
        "features per party frame (spectrum+pitch+loudness+vad)",
        |b| {
            b.iter(|| {
                let k = next();
                let w = &wins[k];
                let frame = Frame {
                    index: k as u64,
                    t: 0.0,
                    window: w,
                    hop: &w[g.margin()..g.margin() + g.hop],
                    gap: false,
                };
                black_box(features.process(&frame).map(|(f, _)| f))
            })
        },
    );

    let mut framer = Framer::new(g);
    c.bench_function("framer per frame (80 samples in)", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + g.hop) % (agent.len() - g.hop);
            framer.push(black_box(&agent[k..k + g.hop]), |f| {
                black_box(f.index);
            })
        })
    });

    let wide: Vec<f32> = (0..44_100)
        .map(|i| ((i * 7919 % 2000) as f32 / 1000.0 - 1.0) * 0.1)
        .collect();
    let mut resampler = PartyResampler::new(44_100, 16_000).expect("resampler");
    c.bench_function("resample 44.1 -> 16 kHz per 10 ms (441 samples)", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 441) % (wide.len() - 441);
            resampler
                .process(black_box(&wide[k..k + 441]), |s| {
                    black_box(s.len());
                })
                .expect("resample")
        })
    });

    // End to end: one stereo 8 kHz call, blocks of 10 ms, both parties through every stage
    // and aligned. The median is the cost of one stereo frame.
    let parties = vec![
        PartySpec {
            role: Role::Agent,
            sample_rate: rate,
            label: "agent".into(),
        },
        PartySpec {
            role: Role::Caller,
            sample_rate: rate,
            label: "caller".into(),
        },
    ];
    let mut call = CallAnalyzer::new(&config, &parties).expect("call");
    let blocks: Vec<Block> = agent
        .chunks_exact(g.hop)
        .zip(caller.chunks_exact(g.hop))
        .map(|(a, c)| Block {
            parties: vec![
                PartyBlock {
                    samples: a.to_vec(),
                    ..PartyBlock::default()
                },
                PartyBlock {
                    samples: c.to_vec(),
                    ..PartyBlock::default()
                },
            ],
        })
        .collect();
    let mut k = 0;
    c.bench_function("call end to end per stereo frame (8 kHz)", |b| {
        b.iter(|| {
            k = (k + 1) % blocks.len();
            call.process(black_box(&blocks[k]), |r| {
                black_box(&r);
            })
            .expect("process")
        })
    });
}

/// The conversation stage alone, on the demo call's aligned frames (decided once up front).
fn conversation(c: &mut Criterion) {
    use callpulse::conversation::{Conversation, ConversationConfig};
    use callpulse::pipeline::analyze_frames;
    use callpulse::source::memory::MemorySource;
    let (rate, agent, caller) = demo();
    let source = MemorySource::new(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    let (frames, _) = analyze_frames(AnalysisConfig::default(), Box::new(source)).expect("frames");
    let mut stage = Conversation::new(&ConversationConfig::default(), 0.01).expect("stage");
    let mut k = 0;
    let mut events = 0u64;
    c.bench_function("conversation per frame", |b| {
        b.iter(|| {
            k = (k + 1) % frames.len();
            // Frame indices must grow; the stage sees a repeating call.
            let mut f = frames[k];
            f.index = events;
            events += 1;
            stage.process(black_box(&f), &mut |o| {
                black_box(&o);
            })
        })
    });
}

/// The agitation and composure stage alone, on the demo call's aligned frames (both parties'
/// prosody, the caller's score, the alarms).
fn agitation(c: &mut Criterion) {
    use callpulse::agitation::{Agitation, AgitationConfig, AgitationModel};
    use callpulse::pipeline::analyze_frames;
    use callpulse::source::memory::MemorySource;
    let (rate, agent, caller) = demo();
    let source = MemorySource::new(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    let (frames, _) = analyze_frames(AnalysisConfig::default(), Box::new(source)).expect("frames");
    let model = AgitationModel::builtin().expect("model");
    let mut stage = Agitation::new(&AgitationConfig::default(), model, 0.01).expect("stage");
    let mut k = 0;
    let mut index = 0u64;
    c.bench_function("agitation per frame", |b| {
        b.iter(|| {
            k = (k + 1) % frames.len();
            let mut f = frames[k];
            f.index = index;
            index += 1;
            stage.process(black_box(&mut f), &mut |a| {
                black_box(&a);
            })
        })
    });
}

/// The earcon synthesiser: one 10 ms stereo 48 kHz output buffer (480 frames) with a pattern
/// always playing (budget: far below the callback period, ≤ 20 µs).
fn earcon(c: &mut Criterion) {
    use callpulse::alert::{AlertKind, Severity};
    use callpulse::earcon::Synth;
    let mut synth = Synth::new(48_000, 2, -20.0).expect("synth");
    let mut out = vec![0.0f32; 2 * 480];
    c.bench_function("earcon render 10 ms", |b| {
        b.iter(|| {
            if synth.is_idle() {
                let _ = synth.start(AlertKind::CallerAgitationRising, Severity::Warn);
            }
            synth.render(black_box(&mut out));
        })
    });
}

criterion_group!(benches, stages, conversation, agitation, earcon);
criterion_main!(benches);
