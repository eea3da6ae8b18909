//! `callpulse live` through a real PulseAudio server with null sinks: capture agrees with
//! `analyze` of the same file, faults end cleanly, and a missing device is a clear error.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::pulse::PulseServer;

/// A 16 s two-party call at 16 kHz built from the EmoDB fixtures, with one interruption by
/// each party (as `analyze` finds them).
fn interrupted_call(dir: &Path) -> PathBuf {
    let script = interrupting_script(16_000);
    let script_path = dir.join("call.txt");
    std::fs::write(&script_path, script).unwrap();
    let wav = dir.join("call.wav");
    let out = Command::new(env!("CARGO_BIN_EXE_callpulse"))
        .arg("simulate")
        .arg(&script_path)
        .arg("-o")
        .arg(&wav)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wav
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

/// Per frame: (agent speech, caller speech, agent loudness dB).
fn speech(frames: &[&Value]) -> Vec<(bool, bool, f64)> {
    frames
        .iter()
        .map(|f| {
            (
                f["agent"]["speech"].as_bool().unwrap(),
                f["caller"]["speech"].as_bool().unwrap(),
                f["agent"]["loudness_db"].as_f64().unwrap()
                    + f["caller"]["loudness_db"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The frame offset of `reference` inside `live` that best matches the loudness contours
/// (normalised cross-correlation).
fn align(reference: &[(bool, bool, f64)], live: &[(bool, bool, f64)]) -> usize {
    let n = reference.len();
    assert!(
        live.len() >= n,
        "live capture shorter than the file: {} < {n}",
        live.len()
    );
    let mean = |v: &[(bool, bool, f64)]| v.iter().map(|x| x.2).sum::<f64>() / v.len() as f64;
    let rm = mean(reference);
    let mut best = (f64::MIN, 0);
    for k in 0..=(live.len() - n) {
        let window = &live[k..k + n];
        let lm = mean(window);
        let (mut num, mut ra, mut la) = (0.0, 0.0, 0.0);
        for (r, l) in reference.iter().zip(window) {
            num += (r.2 - rm) * (l.2 - lm);
            ra += (r.2 - rm).powi(2);
            la += (l.2 - lm).powi(2);
        }
        let c = num / (ra * la).sqrt().max(1e-9);
        if c > best.0 {
            best = (c, k);
        }
    }
    assert!(
        best.0 > 0.9,
        "capture does not resemble the file: correlation {}",
        best.0
    );
    best.1
}

/// Starts `callpulse live` with `args` on `server`, and waits until it reports that audio
/// arrives. Returns the child and a channel of its further stderr lines.
fn start_live(server: &PulseServer, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = server
        .command(env!("CARGO_BIN_EXE_callpulse"))
        .arg("live")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("callpulse: capturing") => break,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("live never started capturing; stderr:\n{}", seen.join("\n"));
            }
        }
    }
    (child, rx)
}

/// Waits for `child` to exit within `limit`; kills it and panics otherwise.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("callpulse live did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: &Child) {
    // SAFETY: sending a signal to a child process we own.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

fn rest(rx: &mpsc::Receiver<String>) -> String {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        out.push(line);
    }
    out.join("\n")
}

#[test]
fn live_capture_through_pulseaudio_agrees_with_analyze() {
    let Some(server) = PulseServer::start("live_capture_through_pulseaudio", &["vsink"]) else {
        return;
    };
    let dir = server.scratch();
    let wav = interrupted_call(&dir);
    let reference = Command::new(env!("CARGO_BIN_EXE_callpulse"))
        .args(["analyze", "--frames"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(reference.status.success());
    let reference = jsonl(&String::from_utf8_lossy(&reference.stdout));

    let out = dir.join("live.jsonl");
    let out_s = out.display().to_string();
    let (mut child, rx) = start_live(
        &server,
        &[
            "--device",
            "vsink.monitor",
            "--rate",
            "16000",
            "--frames",
            "-o",
            &out_s,
        ],
    );
    let mut player = server.play(&wav, "vsink");
    let played = player.wait().unwrap();
    assert!(played.success(), "paplay failed");
    std::thread::sleep(Duration::from_millis(800));
    // SIGTERM ends the call cleanly: exit 0, summary written.
    terminate(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let stderr = rest(&rx);
    assert!(status.success(), "live failed: {status}\n{stderr}");
    assert!(stderr.contains("live call ended"), "{stderr}");

    let live = jsonl(&std::fs::read_to_string(&out).unwrap());
    let summary = live.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let capture = &summary["live"]["capture"][0];
    assert_eq!(capture["frames_dropped"], 0, "{capture}");
    assert!(
        summary["live"]["capture_to_frame_ms"]["count"]
            .as_u64()
            .unwrap()
            > 1000
    );

    let ref_frames = of_type(&reference, "frame");
    let live_frames = of_type(&live, "frame");
    for f in &live_frames {
        assert!(f["captured_at"].as_f64().unwrap() > 1.7e9, "{f}");
    }
    let r = speech(&ref_frames);
    let l = speech(&live_frames);
    let k = align(&r, &l);
    for (party, pick) in [("agent", 0usize), ("caller", 1usize)] {
        let agree = r
            .iter()
            .zip(&l[k..])
            .filter(|(a, b)| if pick == 0 { a.0 == b.0 } else { a.1 == b.1 })
            .count();
        let pct = agree as f64 * 100.0 / r.len() as f64;
        eprintln!("{party}: speech frames agree {pct:.2} % (offset {k} frames)");
        assert!(
            pct >= 95.0,
            "{party}: only {pct:.1} % of speech frames agree"
        );
    }
    // The same interruptions, by the same party, at the same times (±0.1 s).
    let shift = k as f64 * 0.01;
    let ints = |records: &[Value], shift: f64| -> Vec<(String, f64)> {
        records
            .iter()
            .filter(|r| r["type"] == "event" && r["kind"] == "interruption")
            .map(|r| {
                (
                    r["by"].as_str().unwrap().to_string(),
                    r["start"].as_f64().unwrap() - shift,
                )
            })
            .collect()
    };
    let (ri, li) = (ints(&reference, 0.0), ints(&live, shift));
    assert!(!ri.is_empty());
    assert_eq!(ri.len(), li.len(), "analyze {ri:?} vs live {li:?}");
    for (a, b) in ri.iter().zip(&li) {
        assert_eq!(a.0, b.0, "{ri:?} vs {li:?}");
        assert!((a.1 - b.1).abs() <= 0.1, "{ri:?} vs {li:?}");
    }
}

#[test]
fn live_ends_cleanly_when_the_audio_server_dies() {
    let Some(mut server) = PulseServer::start("live_server_dies", &["vsink"]) else {
        return;
    };
    let dir = server.scratch();
    let wav = interrupted_call(&dir);
    let out = dir.join("live.jsonl");
    let out_s = out.display().to_string();
    let (mut child, rx) = start_live(&server, &["--device", "vsink.monitor", "-o", &out_s]);
    let mut player = server.play(&wav, "vsink");
    std::thread::sleep(Duration::from_secs(3));
    server.kill();
    let _ = player.wait();
    let status = wait_exit(&mut child, Duration::from_secs(15));
    let stderr = rest(&rx);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("live call failed"), "{stderr}");
    assert!(stderr.contains("error: audio stream failed"), "{stderr}");
    let records = jsonl(&std::fs::read_to_string(&out).unwrap());
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "summary", "the summary closes the output");
    assert!(summary["duration_s"].as_f64().unwrap() > 2.0, "{summary}");
}

#[test]
fn live_with_an_unknown_device_lists_the_devices() {
    let Some(server) = PulseServer::start("live_unknown_device", &["vsink"]) else {
        return;
    };
    let out = server
        .command(env!("CARGO_BIN_EXE_callpulse"))
        .args(["live", "--host", "pulseaudio", "--device", "no-such-mic"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-mic"), "{stderr}");
    assert!(stderr.contains("no such input device"), "{stderr}");
    assert!(
        stderr.contains("pulseaudio:vsink.monitor"),
        "lists the inputs: {stderr}"
    );
}
