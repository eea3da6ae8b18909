//! The command line and the JSON Lines output contract.

use crate::common::*;

#[test]
fn analyze_writes_the_output_contract() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_voice_call(dir.path(), 3.0, (120.0, 0.5, 1.5), (220.0, 1.8, 2.8));
    let out = callpulse(&["analyze", p.to_str().unwrap(), "--frames"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let frames = lines.iter().filter(|l| l["type"] == "frame").count();
    assert_eq!(frames, 300, "300 frames");
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert!(
        lines
            .iter()
            .all(|l| ["frame", "event", "alert", "summary"].contains(&l["type"].as_str().unwrap()))
    );
    let f = &lines[100];
    assert_eq!(f["type"], "frame");
    assert_eq!(f["t"], 1.005);
    assert_eq!(f["agent"]["speech"], true);
    assert!((f["agent"]["f0_hz"].as_f64().unwrap() - 120.0).abs() < 1.5);
    assert!(f["agent"]["loudness_db"].is_f64());
    assert!(f["agent"].get("agitation").is_none());
    assert_eq!(f["caller"]["speech"], false);
    assert!(f["caller"]["f0_hz"].is_null());
    assert!(f["caller"]["agitation"].is_null() && f["caller"].get("agitation").is_some());
    let s = summary(&out.stdout);
    assert_eq!(s["duration_s"], 3.0);
    assert_eq!(s["frames"], 300);
    for key in [
        "speech_s",
        "mean_loudness_db",
        "median_f0_hz",
        "gaps",
        "clipped_samples",
    ] {
        assert!(s["agent"].get(key).is_some(), "summary has agent.{key}");
    }
    // Without --frames: events, alerts and the summary only.
    let out = callpulse(&["analyze", p.to_str().unwrap()]);
    let lines = json_lines(&out.stdout);
    assert!(lines.iter().all(|l| l["type"] != "frame"));
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

#[test]
fn channels_can_be_remapped_and_output_goes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_voice_call(dir.path(), 2.0, (120.0, 0.2, 1.8), (240.0, 0.2, 1.8));
    let o = dir.path().join("out.jsonl");
    let out = callpulse(&[
        "analyze",
        p.to_str().unwrap(),
        "--agent-channel",
        "1",
        "--caller-channel",
        "0",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let s = summary(&std::fs::read(&o).unwrap());
    assert!((s["agent"]["median_f0_hz"].as_f64().unwrap() - 240.0).abs() < 3.0);
    assert!((s["caller"]["median_f0_hz"].as_f64().unwrap() - 120.0).abs() < 2.0);
}

#[test]
fn demo_runs_on_the_shipped_call() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("demo.jsonl");
    let out = callpulse(&["demo", "-o", o.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Talk ratio"), "{stdout}");
    assert!(stdout.contains("\"type\":\"summary\""), "{stdout}");
    let lines = json_lines(&std::fs::read(&o).unwrap());
    assert_eq!(lines.iter().filter(|l| l["type"] == "frame").count(), 6000);
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "event" && l["kind"] == "turn")
    );
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

#[test]
fn help_teaches() {
    let out = callpulse(&["analyze", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--agent-channel",
        "--frames",
        "Examples:",
        "stereo",
        "--role",
    ] {
        assert!(text.contains(needle), "help mentions {needle}");
    }
    let out = callpulse(&["analyze"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FILE"));
}

#[test]
fn bad_configuration_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.wav");
    write_wav_i16(&p, 8000, &[vec![0.0; 800], vec![0.0; 800]]);
    let out = callpulse(&[
        "analyze",
        p.to_str().unwrap(),
        "--pitch-min",
        "400",
        "--pitch-max",
        "300",
    ]);
    assert_one_line_error(&out, "", "pitch.max_hz");
    let out = callpulse(&["analyze", p.to_str().unwrap(), "--analysis-rate", "12000"]);
    assert_one_line_error(&out, "", "analysis_rate");
}
