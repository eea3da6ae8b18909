//! The call simulator: truth extents and classes on synthetic bursts, leakage, degradations,
//! errors through the binary, the CLI end to end, and random calls from licensed fixtures
//! (and from the shared data folder when it is present).

use std::fs;
use std::path::{Path, PathBuf};

use callpulse::Role;
use callpulse::degrade::active_power;
use callpulse::simulate::{
    OverlapClass, Placement, RandomCallOptions, RenderOptions, Script, Truth, UtterancePool,
    UtteranceRef, random_script, render,
};
use proptest::prelude::*;

use crate::common::*;

fn utterances_dir() -> PathBuf {
    root().join("tests/fixtures/utterances")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `len_s` of a 200 Hz harmonic tone at 0.3, with `pad_s` of silence either side, at 8 kHz.
fn burst(pad_s: f64, len_s: f64) -> UtteranceRef {
    let rate = 8000;
    let pad = (pad_s * 8000.0) as usize;
    let n = (len_s * 8000.0) as usize;
    let mut x = vec![0.0f32; pad * 2 + n];
    for i in 0..n {
        let t = i as f32 / rate as f32;
        x[pad + i] = 0.2 * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
            + 0.1 * (2.0 * std::f32::consts::PI * 400.0 * t).sin();
    }
    UtteranceRef::samples(rate, x)
}

fn script(placements: Vec<Placement>) -> Script {
    Script {
        rate: 8000,
        placements,
        ..Script::default()
    }
}

#[test]
fn extent_of_a_padded_burst_matches_the_hand_computed_value() {
    let call = render(
        &script(vec![Placement::new(Role::Agent, 1.0, burst(0.2, 1.0))]),
        &RenderOptions::default(),
    )
    .unwrap();
    let u = &call.truth.utterances;
    assert_eq!(u.len(), 1);
    assert!((u[0].start - 1.2).abs() <= 0.01, "{:?}", u[0]);
    assert!((u[0].end - 2.2).abs() <= 0.01, "{:?}", u[0]);
    // Default duration: end of the placement (2.4 s) + 0.5 s.
    assert!((call.truth.info.duration_s - 2.9).abs() < 1e-9);
    assert_eq!(call.agent.len(), 23_200);
    assert!(call.caller.iter().all(|&x| x == 0.0));
    let frames = call.truth.speech_frames(Role::Agent, 0.01, 290);
    let on: Vec<usize> = (0..290).filter(|&i| frames[i]).collect();
    assert_eq!((on[0], *on.last().unwrap(), on.len()), (120, 219, 100));
    assert!(
        call.truth
            .speech_frames(Role::Caller, 0.01, 290)
            .iter()
            .all(|&f| !f)
    );
}

#[test]
fn a_hand_built_call_has_exactly_one_overlap_of_each_class() {
    let call = render(
        &script(vec![
            Placement::new(Role::Agent, 0.0, burst(0.0, 4.0)),
            Placement::new(Role::Caller, 2.0, burst(0.0, 0.3)), // backchannel
            Placement::new(Role::Caller, 3.8, burst(0.0, 2.2)), // agent ends 0.2 s later
            Placement::new(Role::Agent, 5.0, burst(0.0, 2.0)),  // caller runs on 1 s
        ]),
        &RenderOptions::default(),
    )
    .unwrap();
    let t = &call.truth;
    let classes: Vec<_> = t.overlaps.iter().map(|o| (o.class, o.newcomer)).collect();
    assert_eq!(
        classes,
        [
            (OverlapClass::Backchannel, Role::Caller),
            (OverlapClass::TurnEnd, Role::Caller),
            (OverlapClass::Interruption, Role::Agent),
        ]
    );
    assert_eq!(t.interruptions.len(), 1);
    assert!((t.interruptions[0].start - 5.0).abs() < 0.011);
    assert!((t.interruptions[0].end - 6.0).abs() < 0.011);
    assert_eq!(t.backchannels.len(), 1);
    assert_eq!(t.backchannels[0].by, Role::Caller);
    assert_eq!(t.turns.len(), 3, "{:?}", t.turns);
    assert_eq!(
        t.turns.iter().map(|t| t.who).collect::<Vec<_>>(),
        [Role::Agent, Role::Caller, Role::Agent]
    );
    // The JSONL: a header, then events sorted by start with 4-decimal times.
    let mut out = Vec::new();
    t.write_jsonl(&mut out).unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines[0]["type"], "simulation");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["snr_db"], serde_json::Value::Null);
    assert_eq!(lines[0]["script"], serde_json::Value::Null);
    let starts: Vec<f64> = lines[1..]
        .iter()
        .map(|l| l["start"].as_f64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    for l in &lines[1..] {
        assert!(l["end"].as_f64() >= l["start"].as_f64());
    }
    let kinds = |k: &str| lines.iter().filter(|l| l["kind"] == k).count();
    assert_eq!(
        (kinds("utterance"), kinds("overlap"), kinds("interruption")),
        (4, 3, 1)
    );
    let o = lines.iter().find(|l| l["kind"] == "overlap").unwrap();
    assert_eq!(o["class"], "backchannel");
    assert_eq!(o["by"], "caller");
}

#[test]
fn leakage_is_the_other_channel_scaled_and_delayed() {
    let options = RenderOptions {
        leak_db: Some(-6.0),
        leak_delay_ms: 20.0,
        ..RenderOptions::default()
    };
    let call = render(
        &script(vec![Placement::new(Role::Agent, 0.5, burst(0.1, 1.5))]),
        &options,
    )
    .unwrap();
    let delay = 160;
    let g = 10f64.powf(-6.0 / 20.0);
    let a = &call.agent;
    let c = &call.caller;
    assert!(c[..delay].iter().all(|&x| x == 0.0));
    let (mut ac, mut aa, mut cc) = (0.0, 0.0, 0.0);
    for i in 0..a.len() - delay {
        let (x, y) = (f64::from(a[i]), f64::from(c[i + delay]));
        ac += x * y;
        aa += x * x;
        cc += y * y;
    }
    let correlation = ac / (aa * cc).sqrt();
    let level_db = 10.0 * (cc / aa).log10();
    assert!(correlation > 0.9999, "correlation {correlation}");
    assert!(
        (level_db - 20.0 * g.log10()).abs() < 0.1,
        "leak level {level_db} dB"
    );
    // The agent channel is untouched (the caller is silent).
    assert!(call.truth.utterances.iter().all(|u| u.who == Role::Agent));
}

fn fixture_call() -> Script {
    let u = |name: &str| UtteranceRef::Path(utterances_dir().join(name));
    Script {
        rate: 16000,
        placements: vec![
            Placement::new(Role::Agent, 0.2, u("03a01Nc.wav")),
            Placement::new(Role::Caller, 1.9, u("08a05Nb.wav")),
            Placement::new(Role::Agent, 4.0, u("03b01Nb.wav")).excerpt(0.3, Some(1.2)),
            Placement::new(Role::Caller, 5.5, u("08b01Na.wav")).gain_db(-6.0),
        ],
        ..Script::default()
    }
}

#[test]
fn fixtures_render_and_truth_lies_within_the_placements() {
    let script = fixture_call();
    let call = render(&script, &RenderOptions::default()).unwrap();
    assert_eq!(call.rate, 16000);
    assert_eq!(call.truth.utterances.len(), 4);
    let spans = [(0.2, 2.2), (1.9, 3.9), (4.0, 5.2), (5.5, 7.5)];
    for u in &call.truth.utterances {
        let (a, b) = spans[u.line - 1];
        assert!(
            u.start >= a - 1e-9 && u.end <= b + 1e-3,
            "{u:?} vs {a}..{b}"
        );
        assert!(u.end - u.start > 0.8, "{u:?}");
    }
    // The excerpt at line 3 runs (almost) to its cut: speech does not end before the fade.
    let cut = call.truth.utterances.iter().find(|u| u.line == 3).unwrap();
    assert!((cut.end - 5.2).abs() < 0.05, "{cut:?}");
    // The -6 dB placement is 6 dB quieter than the same speaker... (same gain path): check
    // the caller's level over line 4's extent against a 0 dB render.
    let mut loud = script.clone();
    loud.placements[3].gain_db = 0.0;
    let loud = render(&loud, &RenderOptions::default()).unwrap();
    let range = |c: &[f32]| c[(5.6 * 16000.0) as usize..(7.4 * 16000.0) as usize].to_vec();
    let db = 10.0
        * (active_power(&range(&call.caller), 16000) / active_power(&range(&loud.caller), 16000))
            .log10();
    assert!((db + 6.0).abs() < 0.01, "{db}");
}

#[test]
fn telephone_mulaw_and_noise() {
    let script = fixture_call();
    let clean = RenderOptions {
        telephone: true,
        ..RenderOptions::default()
    };
    let noisy = RenderOptions {
        snr_db: Some(15.0),
        seed: 3,
        ..clean.clone()
    };
    let a = render(&script, &clean).unwrap();
    let b = render(&script, &noisy).unwrap();
    assert_eq!((a.rate, b.rate), (8000, 8000));
    assert!(a.truth.info.telephone && a.truth.info.mulaw);
    assert_eq!(a.agent.len(), b.agent.len());
    for role in Role::ALL {
        let (x, y) = (a.channel(role), b.channel(role));
        let noise: Vec<f32> = y.iter().zip(x).map(|(p, q)| p - q).collect();
        let np = noise.iter().map(|&v| f64::from(v * v)).sum::<f64>() / noise.len() as f64;
        let snr = 10.0 * (active_power(x, 8000) / np).log10();
        assert!((snr - 15.0).abs() < 1.0, "{role}: SNR {snr}");
    }
    // μ-law alone: values lie on the μ-law grid.
    let m = render(
        &script,
        &RenderOptions {
            mulaw: true,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(m.rate, 16000);
    for &x in m.agent.iter().step_by(97) {
        let code = (x * 32768.0).round() as i16;
        let back = callpulse::degrade::mulaw_decode(callpulse::degrade::mulaw_encode(code));
        assert_eq!(code, back);
    }
    // Same seed, same noise.
    assert_eq!(render(&script, &noisy).unwrap().agent, b.agent);
}

fn write_script(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("call.txt");
    fs::write(&p, text).unwrap();
    p
}

fn fixture_script_text() -> String {
    let d = utterances_dir();
    let ami = ami("FEE016.wav");
    format!(
        "# a test call\nrate 8000\nagent 0.3 {}\ncaller 1.2 {} from=18.52 dur=0.46\n\
         caller 2.1 {}\nagent 4.3 {} gain_db=-3\n",
        s(&d.join("03a01Nc.wav")),
        s(&ami),
        s(&d.join("08a01Na.wav")),
        s(&d.join("03a05Nd.wav")),
    )
}

#[test]
fn cli_end_to_end_writes_a_call_that_analyze_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), &fixture_script_text());
    let wav = dir.path().join("out.wav");
    let out = callpulse(&["simulate", s(&script), "-o", s(&wav), "--leak-db", "-15"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels.len()), (8000, 2));
    let truth = fs::read(dir.path().join("out.truth.jsonl")).unwrap();
    let lines = json_lines(&truth);
    assert_eq!(lines[0]["type"], "simulation");
    assert_eq!(lines[0]["leak_db"], -15.0);
    assert!(lines[0]["script"].as_str().unwrap().ends_with("call.txt"));
    let utterances: Vec<_> = lines.iter().filter(|l| l["kind"] == "utterance").collect();
    assert_eq!(utterances.len(), 4);
    assert_eq!(
        utterances[1]["line"], 4,
        "sorted by start: the AMI clip second"
    );
    assert!(lines.iter().any(|l| l["kind"] == "backchannel"));
    let analysed = callpulse(&["analyze", s(&wav)]);
    assert!(analysed.status.success());
    let summary = summary(&analysed.stdout);
    assert!(summary["agent"]["speech_s"].as_f64().unwrap() > 1.0);
    assert!(summary["caller"]["speech_s"].as_f64().unwrap() > 1.0);
    // --truth elsewhere, telephone.
    let truth = dir.path().join("t.jsonl");
    let out = callpulse(&[
        "simulate",
        s(&script),
        "-o",
        s(&wav),
        "--truth",
        s(&truth),
        "--telephone",
        "--snr",
        "20",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_lines(&fs::read(&truth).unwrap())[0]["telephone"], true);
}

#[test]
fn cli_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let good = s(&utterances_dir().join("03a01Nc.wav")).to_string();
    let run = |text: &str| {
        let p = write_script(dir.path(), text);
        callpulse(&["simulate", s(&p), "-o", s(&wav)])
    };
    let out = run(&format!("agent 0 {good}\n\ncaller 1 missing_clip.wav\n"));
    assert_one_line_error(&out, "missing_clip.wav", "line 3");
    let out = run(&format!("agent 0 {good}\n# two\nagent 1.5 {good}\n"));
    assert_one_line_error(&out, "call.txt", "line 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let out = run("caller 1.2.3 x.wav\n");
    assert_one_line_error(&out, "call.txt", "bad number");
    let out = run(&format!("agent 0 {good} from=1.5 dur=1\n"));
    assert_one_line_error(&out, "03a01Nc.wav", "after the end");
    let out = run("agent -2 x.wav\n");
    assert_one_line_error(&out, "line 1", "zero or more");
    let notes = dir.path().join("notes.wav");
    fs::write(&notes, "not audio").unwrap();
    let out = run(&format!("caller 0 {}\n", s(&notes)));
    assert_one_line_error(&out, "notes.wav", "not a readable WAV");
    let out = callpulse(&["simulate", "no_such_script.txt", "-o", s(&wav)]);
    assert_one_line_error(&out, "no_such_script.txt", "no such file");
    for garbage in [
        "\u{0}\u{1}agent\n",
        "agent agent agent",
        "caller 1 x.wav from=",
        "rate 0",
        "duration 1e400",
        "=",
        "caller 1e-400 ./\n",
    ] {
        let out = run(garbage);
        assert_eq!(out.status.code(), Some(1), "{garbage:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn random_text_never_panics(text in "(?s)[a-z0-9 .=_#/\\-\n\t]{0,200}") {
        if let Ok(script) = Script::parse(&text, Path::new("/nonexistent")) {
            let _ = render(&script, &RenderOptions::default());
        }
    }

    #[test]
    fn keyword_like_lines_never_panic(
        lines in proptest::collection::vec(
            ("(agent|caller|rate|duration|bogus)", "[-0-9.e]{0,6}", "[a-z]{0,3}", "(from|dur|gain_db|x)=[-0-9.e]{0,5}"),
            0..6,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|(k, n, p, o)| format!("{k} {n} {p}.wav {o}\n"))
            .collect();
        if let Ok(script) = Script::parse(&text, Path::new("/nonexistent")) {
            let _ = render(&script, &RenderOptions::default());
        }
    }
}

fn fixture_pool() -> UtterancePool {
    let mut pool = UtterancePool::default();
    pool.add_emodb(&utterances_dir()).unwrap();
    pool.add_ami_backchannels(&root().join("tests/fixtures/ami"))
        .unwrap();
    pool
}

#[derive(Default, Debug)]
struct Counts {
    calls: usize,
    seconds: f64,
    utterances: usize,
    turns: usize,
    backchannel: usize,
    turn_end: usize,
    interruption: usize,
    backchannels: usize,
}

impl Counts {
    fn add(&mut self, t: &Truth) {
        self.calls += 1;
        self.seconds += t.info.duration_s;
        self.utterances += t.utterances.len();
        self.turns += t.turns.len();
        self.backchannel += t.count(OverlapClass::Backchannel);
        self.turn_end += t.count(OverlapClass::TurnEnd);
        self.interruption += t.count(OverlapClass::Interruption);
        self.backchannels += t.backchannels.len();
    }
}

#[test]
fn random_calls_from_fixtures_are_deterministic_and_varied() {
    let pool = fixture_pool();
    assert_eq!(pool.usable_speakers(), 2);
    assert_eq!(pool.shared_backchannels.len(), 5);
    let opts = RandomCallOptions::default();
    let mut counts = Counts::default();
    for seed in 0..6 {
        let (script, options) = random_script(seed, &pool, &opts).unwrap();
        let call = render(&script, &options).unwrap();
        let t = &call.truth;
        assert!(
            (25.0..75.0).contains(&t.info.duration_s),
            "{}",
            t.info.duration_s
        );
        counts.add(t);
    }
    println!("random calls from the fixtures: {counts:?}");
    assert!(counts.backchannel >= 6 && counts.turn_end >= 3 && counts.interruption >= 3);
    let (a, _) = random_script(7, &pool, &opts).unwrap();
    let (b, _) = random_script(7, &pool, &opts).unwrap();
    assert_eq!(a, b);
}

/// The shared data folder, if present (evaluation data that is never copied into the repo).
fn shared_data() -> Option<PathBuf> {
    ["../shared/data", "/work/shared/data"]
        .iter()
        .map(|p| root().join(p))
        .find(|p| p.join("pitch").is_dir() && p.join("emotion").is_dir())
}

#[test]
fn random_set_from_shared_data_has_every_class() {
    let Some(dir) = shared_data() else {
        eprintln!("shared data not found; skipping");
        return;
    };
    let pool = UtterancePool::from_shared_data(&dir).unwrap();
    assert_eq!(pool.usable_speakers(), 11);
    let opts = RandomCallOptions::default();
    let mut counts = Counts::default();
    let mut without = 0;
    for seed in 0..12 {
        let (script, options) = random_script(seed, &pool, &opts).unwrap();
        let call = render(&script, &options).unwrap();
        let t = &call.truth;
        // Turn ends and interruptions are dealt in every block of five transitions, so every
        // call has both; backchannels are drawn per utterance (probability 0.4), so a call may
        // lack them (seed 3 has none since the truth stopped counting clicks as speech: the
        // clips' lengths, and with them the random draws, moved) and the set is checked below.
        if t.count(OverlapClass::TurnEnd) == 0 || t.count(OverlapClass::Interruption) == 0 {
            without += 1;
        }
        counts.add(t);
    }
    println!("12 random calls from {}: {counts:?}", dir.display());
    assert_eq!(
        without, 0,
        "{without} calls lack a turn end or an interruption"
    );
    assert!(counts.backchannel >= 24, "{counts:?}");
}
