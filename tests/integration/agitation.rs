//! Caller agitation and agent composure: the model file, alerts on calls built from real
//! utterances (licensed EmoDB fixtures), and awkward input (too short, silent, shouting from the
//! start, whispering, clipping, music on hold).

use std::path::PathBuf;

use callpulse::agitation::{AgitationConfig, AgitationModel};
use callpulse::alert::{Alert, AlertKind};
use callpulse::pipeline::analyze_frames;
use callpulse::record::FrameRecord;
use callpulse::simulate::{Placement, RenderOptions, Script, UtteranceRef, render};
use callpulse::source::memory::MemorySource;
use callpulse::{AnalysisConfig, Error, Overflow, Pipeline, Role};

use crate::common::*;

fn clip(name: &str) -> UtteranceRef {
    UtteranceRef::Path(root().join("tests/fixtures/utterances").join(name))
}

const CALLER_NEUTRAL: [&str; 3] = ["03a01Nc.wav", "03a05Nd.wav", "03b01Nb.wav"];
const CALLER_ANGRY: [&str; 3] = ["03a01Wa.wav", "03a05Wa.wav", "03b01Wa.wav"];
const AGENT_NEUTRAL: [&str; 3] = ["08a01Na.wav", "08a05Nb.wav", "08b01Na.wav"];

/// Alternating turns: agent clip, caller clip(s); the caller's clips come from `caller(i)` for
/// the i-th caller utterance, `turns` caller utterances in all. Returns the script and the start
/// time of every caller utterance.
fn turns(
    turns: usize,
    caller: impl Fn(usize) -> Option<UtteranceRef>,
    agent_gain_db: impl Fn(usize) -> f64,
) -> (Script, Vec<f64>) {
    let mut placements = Vec::new();
    let mut starts = Vec::new();
    let mut t = 0.3;
    for i in 0..turns {
        placements.push(
            Placement::new(Role::Agent, t, clip(AGENT_NEUTRAL[i % 3])).gain_db(agent_gain_db(i)),
        );
        t += 2.6;
        if let Some(c) = caller(i) {
            starts.push(t);
            placements.push(Placement::new(Role::Caller, t, c));
        }
        t += 2.6;
    }
    (
        Script {
            rate: 16_000,
            duration_s: Some(t + 0.5),
            placements,
            path: None,
        },
        starts,
    )
}

/// Calm caller turns of [`escalation`]: 13 one-sentence turns hold about 12 s of active speech
/// (the VAD's talk spurts, pauses excluded), enough for a baseline (8 s of speech after the
/// first 1.5 s window) before the first angry turn.
const CALM_TURNS: usize = 13;

/// [`CALM_TURNS`] calm caller turns, then 5 angry ones; the first angry turn is
/// `starts[CALM_TURNS]`.
fn escalation() -> (Script, Vec<f64>) {
    turns(
        CALM_TURNS + 5,
        |i| {
            Some(clip(if i < CALM_TURNS {
                CALLER_NEUTRAL[i % 3]
            } else {
                CALLER_ANGRY[i % 3]
            }))
        },
        |_| 0.0,
    )
}

struct Analysed {
    frames: Vec<FrameRecord>,
    alerts: Vec<Alert>,
    summary: std::sync::Arc<callpulse::summary::Summary>,
}

fn analyse_channels(rate: u32, agent: Vec<f32>, caller: Vec<f32>) -> Analysed {
    let source = MemorySource::new(vec![
        (Role::Agent, rate, agent),
        (Role::Caller, rate, caller),
    ]);
    let (sink, records) = callpulse::sink::MemorySink::new();
    let report = Pipeline::new(AnalysisConfig::default())
        .frames(true)
        .sink(sink, Overflow::Block)
        .spawn(Box::new(source))
        .unwrap()
        .wait()
        .unwrap();
    let mut frames = Vec::new();
    let mut alerts = Vec::new();
    for r in records.take() {
        match r {
            callpulse::record::Record::Frame(f) => frames.push(f),
            callpulse::record::Record::Alert(a) => alerts.push(a),
            _ => {}
        }
    }
    Analysed {
        frames,
        alerts,
        summary: report.summary,
    }
}

fn analyse(script: &Script, telephone: bool) -> Analysed {
    let call = render(
        script,
        &RenderOptions {
            telephone,
            mulaw: telephone,
            leak_db: Some(-25.0),
            leak_delay_ms: 20.0,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    analyse_channels(call.rate, call.agent, call.caller)
}

/// The alerts of this stage (the conversation stage may add monologue alerts and the like).
fn agitation_alerts(alerts: &[Alert]) -> Vec<&Alert> {
    alerts
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                AlertKind::CallerAgitationRising
                    | AlertKind::AgentLoudnessRising
                    | AlertKind::AgentPaceFast
            )
        })
        .collect()
}

/// No caller frame has an agitation score.
fn assert_no_agitation(a: &Analysed) {
    assert!(
        a.frames
            .iter()
            .all(|f| f.party(Role::Caller).unwrap().agitation.is_none())
    );
}

fn of_kind(alerts: &[Alert], kind: AlertKind) -> Vec<f64> {
    alerts
        .iter()
        .filter(|a| a.kind == kind)
        .map(|a| a.t)
        .collect()
}

#[test]
fn the_built_in_model_is_valid_with_non_negative_weights() {
    let m = AgitationModel::builtin().unwrap();
    assert!(
        m.linear.weights.iter().all(|&w| w >= 0.0),
        "{:?}",
        m.linear.weights
    );
    assert!(m.linear.weights.iter().any(|&w| w > 0.0));
    let t = m.thresholds;
    assert!(t.release < t.warn && t.warn <= t.critical);
    // The documentation describes this version of the format.
    let doc = std::fs::read_to_string(root().join("models/MODEL.md")).unwrap();
    assert!(doc.contains("callpulse-agitation-model"));
    assert!(doc.contains("\"version\": 1"));
}

#[test]
fn broken_model_files_are_clear_errors() {
    let good: serde_json::Value =
        serde_json::from_str(callpulse::agitation::model::BUILTIN).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("not a valid model file", "{ this is not json".to_string()),
        ("not a valid model file", "{}".to_string()),
        ("format", {
            let mut v = good.clone();
            v["format"] = "something-else".into();
            v.to_string()
        }),
        ("version 2 is not supported", {
            let mut v = good.clone();
            v["version"] = 2.into();
            v.to_string()
        }),
        ("features must be exactly", {
            let mut v = good.clone();
            v["features"][0] = "loudness".into();
            v.to_string()
        }),
        ("weights has 3 values", {
            let mut v = good.clone();
            v["weights"] = serde_json::json!([1, 2, 3]);
            v.to_string()
        }),
        ("scale[2] (level_db) = 0 is not a positive", {
            let mut v = good.clone();
            v["scale"][2] = 0.into();
            v.to_string()
        }),
        ("release < warn", {
            let mut v = good.clone();
            v["thresholds"]["release"] = 0.95.into();
            v.to_string()
        }),
        ("unknown field", {
            let mut v = good.clone();
            v["bias"] = 1.into();
            v.to_string()
        }),
    ];
    for (expect, text) in cases {
        match AgitationModel::parse(&text, "test.json") {
            Err(e @ Error::Model { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("test.json") && msg.contains(expect), "{msg}");
                assert!(e.is_input_problem());
            }
            other => panic!("{expect}: {other:?}"),
        }
    }
    // Through the binary: one line naming the file, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("model.json");
    std::fs::write(&bad, "{\"format\": \"callpulse-agitation-model\"}").unwrap();
    let missing: PathBuf = dir.path().join("absent.json");
    for (path, name, what) in [
        (&bad, "model.json", "agitation model"),
        (&missing, "absent.json", "cannot read"),
    ] {
        let out = callpulse(&[
            "analyze",
            demo_call().to_str().unwrap(),
            "--agitation-model",
            path.to_str().unwrap(),
        ]);
        assert_one_line_error(&out, name, what);
    }
}

#[test]
fn an_escalating_caller_raises_an_alert_after_the_first_angry_turn_and_not_before() {
    let (script, starts) = escalation();
    let onset = starts[CALM_TURNS];
    for telephone in [false, true] {
        let a = analyse(&script, telephone);
        let rising = of_kind(&a.alerts, AlertKind::CallerAgitationRising);
        assert!(
            rising.iter().all(|&t| t >= onset),
            "telephone {telephone}: {rising:?} before {onset}"
        );
        assert!(
            rising.first().is_some_and(|&t| t - onset < 12.0),
            "telephone {telephone}: {rising:?}, onset {onset}"
        );
        // Frames carry the caller's agitation: null before the baseline, a score after.
        let caller: Vec<Option<f32>> = a
            .frames
            .iter()
            .map(|f| f.party(Role::Caller).unwrap().agitation)
            .collect();
        assert_eq!(caller[0], None);
        let before_onset = a.frames.iter().take_while(|f| f.t < onset).count();
        assert!(
            caller[before_onset - 1].is_some_and(|x| x < 0.4),
            "telephone {telephone}: a calm baseline before the first angry turn"
        );
        assert!(caller.iter().any(|s| s.is_some_and(|x| x >= 0.7)));
        assert!(caller.iter().flatten().all(|x| (0.0..=1.0).contains(x)));
        let s = &a.summary.agitation;
        assert!(s.peak.is_some_and(|p| p >= 0.7), "{s:?}");
        assert!(s.peak_t.is_some_and(|t| t >= onset));
        assert_eq!(s.de_escalated, Some(false), "{s:?}");
        assert_eq!(s.caller_agitation_rising as usize, rising.len());
    }
}

#[test]
fn a_calm_call_raises_no_agitation_alert() {
    let (script, _) = turns(18, |i| Some(clip(CALLER_NEUTRAL[i % 3])), |_| 0.0);
    let a = analyse(&script, false);
    assert!(agitation_alerts(&a.alerts).is_empty(), "{:?}", a.alerts);
    assert_eq!(a.summary.agitation.de_escalated, None);
    assert!(a.summary.agitation.peak.is_some_and(|p| p < 0.7));
}

#[test]
fn shouting_from_the_first_second_is_the_baseline_not_an_alert_storm() {
    let (script, _) = turns(18, |i| Some(clip(CALLER_ANGRY[i % 3])), |_| 0.0);
    let a = analyse(&script, false);
    let rising = of_kind(&a.alerts, AlertKind::CallerAgitationRising);
    assert!(rising.len() <= 1, "{rising:?}");
}

#[test]
fn a_call_too_short_or_a_silent_caller_gives_null_agitation_and_no_alerts() {
    // Two caller utterances: under the 8 s of speech a baseline needs.
    let (script, _) = turns(2, |i| Some(clip(CALLER_ANGRY[i])), |_| 0.0);
    let a = analyse(&script, false);
    assert_no_agitation(&a);
    assert!(agitation_alerts(&a.alerts).is_empty(), "{:?}", a.alerts);
    assert_eq!(a.summary.agitation.peak, None);
    assert_eq!(a.summary.agitation.last_minute, None);
    // A caller who never speaks.
    let (script, _) = turns(12, |_| None, |_| 0.0);
    let a = analyse(&script, false);
    assert_no_agitation(&a);
    assert!(agitation_alerts(&a.alerts).is_empty(), "{:?}", a.alerts);
    // Frame output: the caller object carries "agitation": null.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.wav");
    render(&script, &RenderOptions::default())
        .unwrap()
        .write_wav(&path)
        .unwrap();
    let out = callpulse(&["analyze", path.to_str().unwrap(), "--frames"]);
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    let frame = lines.iter().find(|l| l["type"] == "frame").unwrap();
    assert!(
        frame["caller"]
            .get("agitation")
            .is_some_and(|v| v.is_null()),
        "{frame}"
    );
    assert!(frame["agent"].get("agitation").is_none(), "{frame}");
    assert!(summary(&out.stdout)["agitation"]["peak"].is_null());
}

#[test]
fn whispering_clipping_and_music_on_hold_neither_panic_nor_storm() {
    let rate = 16_000;
    let n = rate as usize * 90;
    // Whispering: noise bursts at a syllable rhythm, no voicing, for 90 s.
    let mut whisper = vec![0.0f32; n];
    let mut seed = 1u32;
    for (i, x) in whisper.iter_mut().enumerate() {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        let t = i as f32 / rate as f32;
        let envelope = (((t * 4.0 * std::f32::consts::TAU).sin()).max(0.0))
            * if t % 5.0 < 3.0 { 1.0 } else { 0.0 };
        *x = 0.05 * noise * envelope;
    }
    // Music on hold on the agent channel: a legato melody of harmonic notes, no pauses.
    let notes = [220.0f32, 247.0, 262.0, 294.0, 330.0, 294.0, 262.0, 247.0];
    let music: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let f = notes[(t / 0.4) as usize % notes.len()];
            (1..6)
                .map(|h| (t * f * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                .sum::<f32>()
                * 0.15
        })
        .collect();
    let a = analyse_channels(rate, music, whisper);
    assert!(agitation_alerts(&a.alerts).is_empty(), "{:?}", a.alerts);
    for f in &a.frames {
        if let Some(x) = f.party(Role::Caller).unwrap().agitation {
            assert!((0.0..=1.0).contains(&x));
        }
    }

    // Clipping: the whole escalation call 20 dB too hot, clipped at full scale from the start.
    let (script, starts) = escalation();
    let call = render(&script, &RenderOptions::default()).unwrap();
    let hot = |x: &[f32]| {
        x.iter()
            .map(|s| (s * 10.0).clamp(-1.0, 1.0))
            .collect::<Vec<f32>>()
    };
    let a = analyse_channels(call.rate, hot(&call.agent), hot(&call.caller));
    let rising = of_kind(&a.alerts, AlertKind::CallerAgitationRising);
    assert!(rising.len() <= 2, "{rising:?}");
    assert!(
        rising.iter().all(|&t| t >= starts[CALM_TURNS]),
        "{rising:?}"
    );
}

#[test]
fn an_agent_getting_louder_is_told_to_stay_calm() {
    // The agent reads calmly at -12 dB for 10 turns, then 12 dB louder; the caller stays calm.
    let (script, starts) = turns(
        16,
        |i| Some(clip(CALLER_NEUTRAL[i % 3])),
        |i| if i < 10 { -12.0 } else { 0.0 },
    );
    let louder_from = starts[9] + 2.6;
    let a = analyse(&script, false);
    let loud = of_kind(&a.alerts, AlertKind::AgentLoudnessRising);
    assert!(!loud.is_empty(), "{:?}", a.alerts);
    assert!(
        loud.iter().all(|&t| t > louder_from),
        "{loud:?} before {louder_from}"
    );
    // The agent's window holds 4 s of their speech (about three 1.7 s turns here) and the
    // condition must hold for 2 s more.
    assert!(loud[0] - louder_from < 20.0, "{loud:?}");
    let alert = a
        .alerts
        .iter()
        .find(|x| x.kind == AlertKind::AgentLoudnessRising)
        .unwrap();
    assert_eq!(alert.who, Role::Agent);
    assert!(alert.message.contains("calm"));
    assert_eq!(
        a.summary.agitation.agent_loudness_rising as usize,
        loud.len()
    );
    assert!(of_kind(&a.alerts, AlertKind::CallerAgitationRising).is_empty());
}

#[test]
fn bad_agitation_settings_name_the_field() {
    let bad = AgitationConfig {
        baseline_quantile: 0.9,
        ..AgitationConfig::default()
    };
    let err = AnalysisConfig::default().with_agitation(bad).unwrap_err();
    assert_eq!(err.field, "agitation.baseline_quantile");
    let raw: callpulse::config::RawConfig =
        serde_json::from_str(r#"{"agitation": {"window_s": 0.1}}"#).unwrap();
    let err = AnalysisConfig::try_from(raw).unwrap_err();
    assert_eq!(err.field, "agitation.window_s");
}

#[test]
fn the_demo_call_gives_an_agitation_summary() {
    let source = callpulse::source::wav::WavSource::stereo(&demo_call(), 0, 1).unwrap();
    let (frames, summary) = analyze_frames(AnalysisConfig::default(), Box::new(source)).unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f.party(Role::Caller).unwrap().agitation.is_some())
    );
    assert!(summary.agitation.peak.is_some());
}

#[test]
fn an_agent_speeding_up_is_told_to_slow_down() {
    // The agent's clips played 1.8 times faster from the 11th turn on (rate and pitch up
    // together, as a resampler does); the caller stays calm. The syllable counter compresses
    // fast speech (a 1.4x speed-up reads about 15 % faster; MODEL.md), so a clear speed-up is
    // what the rule is sure to catch.
    let fast: Vec<UtteranceRef> = AGENT_NEUTRAL
        .iter()
        .map(|name| {
            let (rate, ch) = read_wav(&root().join("tests/fixtures/utterances").join(name));
            UtteranceRef::samples((rate as f32 * 1.8) as u32, ch[0].clone())
        })
        .collect();
    let mut placements = Vec::new();
    let mut t = 0.3;
    let mut faster_from = 0.0;
    for i in 0..24 {
        let agent = if i < 10 {
            clip(AGENT_NEUTRAL[i % 3])
        } else {
            if i == 10 {
                faster_from = t;
            }
            fast[i % 3].clone()
        };
        placements.push(Placement::new(Role::Agent, t, agent));
        // Fast turns are shorter: two of them back to back keep the agent talking.
        t += if i < 10 { 2.6 } else { 1.5 };
        if i < 10 || i % 2 == 1 {
            placements.push(Placement::new(Role::Caller, t, clip(CALLER_NEUTRAL[i % 3])));
            t += 2.6;
        }
    }
    let script = Script {
        rate: 16_000,
        duration_s: Some(t + 0.5),
        placements,
        path: None,
    };
    let a = analyse(&script, false);
    let pace = of_kind(&a.alerts, AlertKind::AgentPaceFast);
    assert!(!pace.is_empty(), "{:?}", a.alerts);
    assert!(
        pace.iter().all(|&t| t > faster_from),
        "{pace:?} before {faster_from}"
    );
    let alert = a
        .alerts
        .iter()
        .find(|x| x.kind == AlertKind::AgentPaceFast)
        .unwrap();
    assert_eq!(alert.who, Role::Agent);
    assert!(alert.message.contains("Slow down"));
}
