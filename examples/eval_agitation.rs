//! Caller agitation alerts on simulated escalation and calm calls.
//!
//! ```text
//! cargo run --release --example eval_agitation [-- --data ../shared/data] [--seeds N]
//! ```
//!
//! Calls are built with `callpulse::simulate` from real utterances: the caller channel holds one
//! speaker of `emotion/` (RAVDESS or EmoDB), the agent channel calm read sentences of the FDA
//! pitch corpus (`pitch/`), in alternating turns with 0.4–1.2 s gaps, leakage of each channel
//! into the other at −25 dB. Each condition is rendered clean (16 kHz) and through the
//! telephone channel (8 kHz, 300–3400 Hz, μ-law).
//!
//! * **Escalation calls**: the caller's neutral utterances (in random order, repeated as needed)
//!   until 30 s of caller audio, then angry ones for 20 s. The alert delay is the time from the
//!   speech onset of the first angry utterance to the first `caller_agitation_rising` alert.
//! * **Calm calls**: 150 s of the caller's neutral utterances only; every
//!   `caller_agitation_rising` alert there, and before the onset in escalation calls, is false.
//!
//! Every call of a speaker is scored by a model fitted without that speaker (leave one speaker
//! out; the shipped configuration of `train_agitation`, fitted on the other EmoDB speakers), so
//! no figure comes from a speaker the model was trained on. The alert thresholds are the shipped
//! model's. Seeds 0, 10 and 11 were used while choosing the stage's defaults (window, rise time,
//! turn pause); report others (`--first-seed 1 --seeds 9`). Agent composure alerts on the calm
//! agent channel are counted too.

use std::sync::Arc;

use callpulse::agitation::AgitationModel;
use callpulse::agitation::train::{fit_nonnegative, relative_to_speaker};
use callpulse::alert::AlertKind;
use callpulse::prosody::FEATURES;
use callpulse::record::Record;
use callpulse::simulate::{Placement, RenderOptions, Script, UtteranceRef, render, speech_extent};
use callpulse::{AnalysisConfig, Role};

mod support;

const L2: f64 = 1.0;
const QUANTILE: f32 = 0.25;

/// A small deterministic generator (xorshift), so calls are reproducible without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize].clone()
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 10_000) as f64 / 10_000.0
    }
}

type Clip = (u32, Arc<[f32]>);

/// A call script: agent and caller turns; returns the script and, if it has angry speech, the
/// onset of the first angry speech and the end of the caller's turn holding it.
fn build(
    rng: &mut Rng,
    agent: &[Clip],
    neutral: &[Clip],
    angry: &[Clip],
    calm_s: f64,
    angry_s: f64,
) -> (Script, Option<(f64, f64)>) {
    let mut placements = Vec::new();
    let mut t = 0.5;
    let (mut caller_s, mut angry_done) = (0.0, 0.0);
    let mut onset = None;
    let mut first_turn_end = None;
    while caller_s < calm_s || (!angry.is_empty() && angry_done < angry_s) {
        let a = rng.pick(agent);
        let len = a.1.len() as f64 / f64::from(a.0);
        placements.push(Placement::new(
            Role::Agent,
            t,
            UtteranceRef::samples(a.0, a.1),
        ));
        t += len + rng.uniform(0.4, 1.2);
        let turns = 1 + rng.next() % 3;
        for _ in 0..turns {
            let is_angry = caller_s >= calm_s;
            if is_angry && (angry.is_empty() || angry_done >= angry_s) {
                break;
            }
            let c = rng.pick(if is_angry { angry } else { neutral });
            let len = c.1.len() as f64 / f64::from(c.0);
            if is_angry && onset.is_none() {
                let start = speech_extent(&c.1, c.0).map_or(0, |(s, _)| s);
                onset = Some(t + start as f64 / f64::from(c.0));
            }
            placements.push(Placement::new(
                Role::Caller,
                t,
                UtteranceRef::samples(c.0, c.1),
            ));
            t += len + rng.uniform(0.1, 0.4);
            if is_angry {
                angry_done += len;
            } else {
                caller_s += len;
            }
        }
        if onset.is_some() && first_turn_end.is_none() {
            first_turn_end = Some(t);
        }
        t += rng.uniform(0.3, 0.8);
    }
    let script = Script {
        rate: 16_000,
        duration_s: Some(t + 1.0),
        placements,
        path: None,
    };
    (script, onset.zip(first_turn_end))
}

fn analyse(
    config: &AnalysisConfig,
    script: &Script,
    telephone: bool,
    seed: u64,
) -> (f64, Vec<Record>) {
    let call = render(
        script,
        &RenderOptions {
            telephone,
            mulaw: telephone,
            leak_db: Some(-25.0),
            leak_delay_ms: 20.0,
            seed,
            ..RenderOptions::default()
        },
    )
    .expect("render");
    let duration = call.agent.len() as f64 / f64::from(call.rate);
    let records = support::call_records(config, call.rate, call.agent, call.caller);
    (duration, records)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let seeds: u64 = argv
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| argv.get(i + 1))
        .map_or(3, |s| s.parse().expect("--seeds N"));
    let first: u64 = argv
        .iter()
        .position(|a| a == "--first-seed")
        .and_then(|i| argv.get(i + 1))
        .map_or(0, |s| s.parse().expect("--first-seed N"));
    let Some(args) = support::args_from(
        "eval_agitation",
        "emotion",
        &argv,
        &["--seeds", "--first-seed"],
    ) else {
        return;
    };
    let samples = support::emotion_samples(&args);
    let files = support::emotion_files(&args.data);
    // The agent of a call is one FDA speaker (rl or sb), reading calm sentences.
    let mut agents: [Vec<Clip>; 2] = [Vec::new(), Vec::new()];
    let (mut syllables, mut syllables_tel) = (Vec::new(), Vec::new());
    let texts = std::fs::read_to_string(args.data.join("pitch/sentences.csv")).unwrap_or_default();
    for (sp, agent) in ["rl", "sb"].iter().zip(&mut agents) {
        for line in texts.lines().skip(1) {
            let Some((id, text)) = line.split_once(',') else {
                continue;
            };
            let path = args.data.join(format!("pitch/{sp}{id}.wav"));
            if path.exists() {
                let (rate, x) = support::read_mono(&path);
                let frames = support::frames(&args.config, rate, x.clone());
                let stats = speech_stats(&frames, args.config.agitation());
                syllables.push((text_syllables(text), stats));
                let tel = callpulse::degrade::telephone(&x, rate).expect("telephone");
                let frames = support::frames(&args.config, 8_000, tel);
                let stats = speech_stats(&frames, args.config.agitation());
                syllables_tel.push((text_syllables(text), stats));
                agent.push((rate, x.into()));
            }
        }
    }
    rate_check("clean", &syllables);
    rate_check("telephone", &syllables_tel);
    let speakers: std::collections::BTreeSet<String> =
        files.iter().map(|f| f.speaker.clone()).collect();
    // The shipped model's alert thresholds; only the weights are refitted per held-out speaker.
    let thresholds = AgitationModel::builtin()
        .expect("built-in model")
        .thresholds;

    let mut delays = Vec::new();
    let mut speech_delays = Vec::new();
    let mut in_first_turn = 0u32;
    let mut missed = 0;
    let mut calls = 0;
    let (mut calm_s, mut false_alerts) = (0.0, 0u32);
    let mut composure = [0u32; 2];
    let mut agent_s = 0.0;
    println!(
        "{:<10} {:<10} {:>5} {:>10} {:>10} {:>10} {:>8}",
        "speaker", "condition", "seed", "delay s", "false", "turn peak", "turn s"
    );
    for speaker in &speakers {
        let (train_x, train_y): (Vec<[f32; FEATURES]>, Vec<bool>) = {
            let train: Vec<_> = support::shipped_training_set(&samples)
                .into_iter()
                .filter(|s| &s.speaker != speaker)
                .collect();
            let rel = relative_to_speaker(&train, QUANTILE);
            (rel, train.iter().map(|s| s.angry).collect())
        };
        let model = fit_nonnegative(&train_x, &train_y, L2, [true; FEATURES]).model(thresholds);
        let config = args.config.clone().with_agitation_model(model);
        let clips = |angry: bool| -> Vec<Clip> {
            files
                .iter()
                .filter(|f| &f.speaker == speaker && f.angry == angry)
                .map(|f| {
                    let (rate, x) = support::read_mono(&args.data.join("emotion").join(&f.file));
                    (rate, x.into())
                })
                .collect()
        };
        let (neutral, angry) = (clips(false), clips(true));
        assert!(
            !neutral.is_empty() && !angry.is_empty(),
            "{speaker}: no clips"
        );
        for seed in first..first + seeds {
            for telephone in [false, true] {
                let cond = if telephone { "telephone" } else { "clean" };
                let mut rng =
                    Rng(0x9E37_79B9_7F4A_7C15 ^ (seed * 7919 + speaker.len() as u64 * 31 + 1));
                // Escalation call.
                let agent = &agents[(seed as usize + speaker.len()) % 2];
                let (script, onset) = build(&mut rng, agent, &neutral, &angry, 30.0, 20.0);
                let (onset, turn_end) = onset.expect("angry onset");
                let (_, records) = analyse(&config, &script, telephone, seed);
                let alerts: Vec<(AlertKind, f64)> = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Alert(a) => Some((a.kind, a.t)),
                        _ => None,
                    })
                    .collect();
                let rising: Vec<f64> = alerts
                    .iter()
                    .filter(|a| a.0 == AlertKind::CallerAgitationRising)
                    .map(|a| a.1)
                    .collect();
                let before = rising.iter().filter(|&&t| t < onset).count() as u32;
                // The highest caller score during the first angry turn.
                let first_turn_peak = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Frame(f) if f.t >= onset && f.t <= turn_end => {
                            f.party(Role::Caller).and_then(|c| c.agitation)
                        }
                        _ => None,
                    })
                    .fold(0.0f32, f32::max);
                let delay = rising.iter().find(|&&t| t >= onset).map(|t| t - onset);
                calls += 1;
                match delay {
                    Some(d) => {
                        delays.push(d);
                        in_first_turn += u32::from(onset + d <= turn_end);
                        // The caller's own speech between the onset and the alert.
                        let spoke = records
                            .iter()
                            .filter_map(|r| match r {
                                Record::Frame(f) if f.t >= onset && f.t <= onset + d => {
                                    f.party(Role::Caller).map(|c| c.active)
                                }
                                _ => None,
                            })
                            .filter(|&a| a)
                            .count();
                        speech_delays.push(spoke as f64 * 0.01);
                    }
                    None => missed += 1,
                }
                false_alerts += before;
                calm_s += onset;
                // Calm call.
                let (script, _) = build(&mut rng, agent, &neutral, &[], 150.0, 0.0);
                let (duration, records) = analyse(&config, &script, telephone, seed + 1000);
                let mut calm_false = 0;
                for r in &records {
                    if let Record::Alert(a) = r {
                        match a.kind {
                            AlertKind::CallerAgitationRising => calm_false += 1,
                            AlertKind::AgentLoudnessRising => composure[0] += 1,
                            AlertKind::AgentPaceFast => composure[1] += 1,
                            _ => {}
                        }
                    }
                }
                false_alerts += calm_false;
                calm_s += duration;
                agent_s += duration;
                println!(
                    "{:<10} {:<10} {:>5} {:>10} {:>10} {:>10.2} {:>8.1}",
                    speaker,
                    cond,
                    seed,
                    delay.map_or("missed".to_string(), |d| format!("{d:.2}")),
                    before + calm_false,
                    first_turn_peak,
                    turn_end - onset
                );
            }
        }
    }
    delays.sort_by(f64::total_cmp);
    speech_delays.sort_by(f64::total_cmp);
    let quantile = |v: &[f64], p: f64| {
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .copied()
    };
    let q = |p: f64| quantile(&delays, p);
    println!(
        "\nescalation calls: {calls}, alerted {} , missed {missed}",
        delays.len()
    );
    println!(
        "alert delay after the first angry speech: median {:.2} s, p90 {:.2} s, max {:.2} s",
        q(0.5).unwrap_or(f64::NAN),
        q(0.9).unwrap_or(f64::NAN),
        q(1.0).unwrap_or(f64::NAN)
    );
    // The same median with every missed call counted as never alerted.
    let all_calls = {
        let mut v = delays.clone();
        v.resize(calls as usize, f64::INFINITY);
        quantile(&v, 0.5)
    };
    println!(
        "median over all {calls} calls, a missed call counted as never: {}",
        all_calls.map_or("n/a".to_string(), |d| if d.is_finite() {
            format!("{d:.2} s")
        } else {
            "never".to_string()
        })
    );
    println!("alerted during the caller's first angry turn: {in_first_turn} of {calls} calls");
    println!(
        "caller speech between that onset and the alert: median {:.2} s, p90 {:.2} s",
        quantile(&speech_delays, 0.5).unwrap_or(f64::NAN),
        quantile(&speech_delays, 0.9).unwrap_or(f64::NAN)
    );
    println!(
        "false caller_agitation_rising alerts: {false_alerts} in {:.1} min of calm speech ({:.2} per hour)",
        calm_s / 60.0,
        f64::from(false_alerts) / (calm_s / 3600.0)
    );
    println!(
        "agent composure alerts on calm read speech (calm calls, {:.1} min): agent_loudness_rising {}, agent_pace_fast {}",
        agent_s / 60.0,
        composure[0],
        composure[1]
    );
}

/// Speech seconds and syllable nuclei of one utterance (the product's path, whole utterance).
fn speech_stats(
    frames: &[callpulse::record::FrameRecord],
    config: &callpulse::agitation::AgitationConfig,
) -> (f32, f32) {
    let whole = callpulse::agitation::AgitationConfig {
        window_s: 30.0,
        min_window_s: 0.1,
        ..config.clone()
    };
    let mut p = callpulse::prosody::PartyProsody::new(whole.prosody(0.01));
    for f in frames {
        if let Some(c) = f.party(Role::Caller) {
            p.process(c, true);
        }
    }
    let s = p.stats();
    (s.speech_s, s.rate_syl_s * s.speech_s)
}

/// Syllables of an English text by vowel groups (a final silent "e" dropped, at least one per
/// word): a rough reference, good to about ±10 % on sentences.
fn text_syllables(text: &str) -> f32 {
    text.split(|c: char| !c.is_ascii_alphabetic() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_ascii_lowercase().replace('\'', "");
            let vowel = |c: char| "aeiouy".contains(c);
            let mut n = 0;
            let mut prev = false;
            for c in w.chars() {
                let v = vowel(c);
                if v && !prev {
                    n += 1;
                }
                prev = v;
            }
            if w.ends_with('e') && !w.ends_with("le") && n > 1 {
                n -= 1;
            }
            n.max(1) as f32
        })
        .sum()
}

/// Detected syllable nuclei against the text's syllables on the FDA sentences.
fn rate_check(condition: &str, rows: &[(f32, (f32, f32))]) {
    let n = rows.len() as f32;
    let (mut ratio, mut xy, mut xx, mut yy, mut sx, mut sy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut speech, mut text_total) = (0.0, 0.0);
    for &(t, (s, d)) in rows {
        ratio += d / t;
        sx += t;
        sy += d;
        xy += t * d;
        xx += t * t;
        yy += d * d;
        speech += s;
        text_total += t;
    }
    let r = (n * xy - sx * sy) / ((n * xx - sx * sx).sqrt() * (n * yy - sy * sy).sqrt());
    println!(
        "speaking rate check, FDA sentences, {condition} ({} utterances): detected/text syllables {:.2} (mean ratio), correlation {:.2}; text syllables per second of speech {:.2}, detected {:.2}\n",
        rows.len(),
        ratio / n,
        r,
        text_total / speech,
        sy / speech
    );
}
