//! The call-floor server's core: calls fed through the ingest seam are analysed exactly like
//! `analyze`, finalised however they end, isolated from each other's failures, bounded by
//! capacity; the HTTP side enforces its token and exports metrics.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::Role;
use callpulse::config::AnalysisConfig;
use callpulse::server::ServerConfig;
use callpulse::server::floor::Floor;
use callpulse::server::ingest::{CallIngest, CallOpen, EndReason, Protocol, Refusal};

use crate::common::{TestServer, callpulse, demo_call, json_lines, read_wav};

fn config(dir: &Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        workers: 2,
        output_dir: Some(dir.to_owned()),
        ..ServerConfig::default()
    }
}

fn open(floor: &Floor, external_id: &str, label: &str) -> Result<CallIngest, Refusal> {
    floor.open_call(CallOpen {
        protocol: Protocol::AudioHook,
        external_id: external_id.into(),
        label: label.into(),
        roles: vec![Role::Agent, Role::Caller],
        sample_rate: 8000,
        meta: serde_json::json!({"test": true}),
    })
}

/// Streams `channels` (agent, caller) into `call` in 200 ms chunks, as fast as possible.
fn stream(call: &mut CallIngest, channels: &[Vec<f32>]) {
    let n = channels[0].len();
    let mut start = 0;
    while start < n {
        let end = (start + 1600).min(n);
        call.push(vec![
            channels[0][start..end].to_vec(),
            channels[1][start..end].to_vec(),
        ]);
        start = end;
    }
}

/// Waits until call `id` is in the finished list.
fn wait_finished(floor: &Floor, id: &str) -> Arc<callpulse::server::floor::FinishedCall> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(f) = floor.calls().finished.iter().find(|f| f.id == id) {
            return Arc::clone(f);
        }
        assert!(Instant::now() < deadline, "call {id} never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn records_of(lines: &[serde_json::Value], kinds: &[&str]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter(|l| kinds.contains(&l["type"].as_str().unwrap_or("")))
        .cloned()
        .collect()
}

#[test]
fn a_call_through_the_floor_is_analysed_exactly_like_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let floor = Floor::start(config(dir.path()), AnalysisConfig::default()).unwrap();
    let (rate, channels) = read_wav(&demo_call());
    assert_eq!(rate, 8000);
    let mut call = open(&floor, "session-1", "demo").unwrap();
    let id = call.id().to_owned();
    stream(&mut call, &channels);
    assert_eq!(call.frames_dropped(), 0);
    call.end(EndReason::Completed);
    let finished = wait_finished(&floor, &id);
    assert_eq!(finished.end_reason, EndReason::Completed);
    assert!(finished.error.is_none(), "{:?}", finished.error);

    let file = std::fs::read(finished.file.as_ref().unwrap()).unwrap();
    let served = json_lines(&file);
    let out = callpulse(&["analyze", demo_call().to_str().unwrap()]);
    assert!(out.status.success());
    let analyzed = json_lines(&out.stdout);
    let kinds = ["event", "alert", "summary"];
    let (a, b) = (records_of(&served, &kinds), records_of(&analyzed, &kinds));
    assert!(b.len() > 5, "the demo call has events");
    // The summary names its input; everything else must agree.
    let strip = |mut v: Vec<serde_json::Value>| {
        for r in &mut v {
            for party in ["agent", "caller"] {
                if let Some(p) = r.get_mut(party).and_then(|p| p.as_object_mut()) {
                    p.remove("source");
                }
            }
        }
        v
    };
    assert_eq!(strip(a), strip(b));
    // The finished record carries the same summary.
    assert_eq!(
        finished.summary.as_ref().unwrap()["frames"],
        analyzed.last().unwrap()["frames"]
    );
    floor.shutdown();
    floor.join();
}

#[test]
fn a_panicking_call_ends_with_an_error_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.workers = 1; // both calls on the same worker
    cfg.fault_panic_label = Some("boom".into());
    let floor = Floor::start(cfg, AnalysisConfig::default()).unwrap();
    let (_, channels) = read_wav(&demo_call());
    let short: Vec<Vec<f32>> = channels.iter().map(|c| c[..80_000].to_vec()).collect();
    let mut good = open(&floor, "good", "fine").unwrap();
    let mut bad = open(&floor, "bad", "boom").unwrap();
    let (good_id, bad_id) = (good.id().to_owned(), bad.id().to_owned());
    stream(&mut bad, &short);
    stream(&mut good, &short);
    let failed = wait_finished(&floor, &bad_id);
    let error = failed.error.as_deref().unwrap_or("");
    assert!(error.contains("panicked"), "{error}");
    let lines = json_lines(&std::fs::read(failed.file.as_ref().unwrap()).unwrap());
    assert!(
        lines.iter().any(|l| l["type"] == "error"),
        "an error record"
    );
    assert_eq!(lines.last().unwrap()["type"], "summary");
    // The other call on the same worker is untouched.
    good.end(EndReason::Completed);
    bad.end(EndReason::Completed);
    let ok = wait_finished(&floor, &good_id);
    assert!(ok.error.is_none());
    assert!((ok.summary.as_ref().unwrap()["duration_s"].as_f64().unwrap() - 10.0).abs() < 0.01);
    let text = floor
        .metrics()
        .render(floor.active(), &floor.queue_depths());
    assert!(text.contains("callpulse_calls_failed_total 1"), "{text}");
    floor.shutdown();
    floor.join();
}

#[test]
fn calls_beyond_capacity_are_refused_and_the_running_ones_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_calls = 2;
    let floor = Floor::start(cfg, AnalysisConfig::default()).unwrap();
    let mut a = open(&floor, "a", "a").unwrap();
    assert!(matches!(
        open(&floor, "a", "again"),
        Err(Refusal::Duplicate(_))
    ));
    let b = open(&floor, "b", "b").unwrap();
    match open(&floor, "c", "c") {
        Err(Refusal::AtCapacity { max: 2 }) => {}
        other => panic!("expected a capacity refusal, got {other:?}"),
    }
    let invalid = floor.open_call(CallOpen {
        protocol: Protocol::Twilio,
        external_id: "x".into(),
        label: "x".into(),
        roles: vec![Role::Caller, Role::Caller],
        sample_rate: 8000,
        meta: serde_json::Value::Null,
    });
    assert!(matches!(invalid, Err(Refusal::Invalid(_))));
    let (_, channels) = read_wav(&demo_call());
    let short: Vec<Vec<f32>> = channels.iter().map(|c| c[..16_000].to_vec()).collect();
    stream(&mut a, &short);
    let id = a.id().to_owned();
    drop(a); // the client vanished
    let f = wait_finished(&floor, &id);
    assert_eq!(f.end_reason, EndReason::Disconnected);
    assert!((f.summary.as_ref().unwrap()["duration_s"].as_f64().unwrap() - 2.0).abs() < 0.01);
    let text = floor
        .metrics()
        .render(floor.active(), &floor.queue_depths());
    assert!(text.contains("callpulse_calls_refused_total 3"), "{text}");
    // Workers stop once every call has ended: end the last one before joining them.
    b.end(EndReason::Completed);
    floor.shutdown();
    floor.join();
}

#[test]
fn gaps_advance_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let floor = Floor::start(config(dir.path()), AnalysisConfig::default()).unwrap();
    let (_, channels) = read_wav(&demo_call());
    let part: Vec<Vec<f32>> = channels.iter().map(|c| c[..8000].to_vec()).collect();
    let mut call = open(&floor, "gappy", "gappy").unwrap();
    let id = call.id().to_owned();
    stream(&mut call, &part);
    call.gap(4000);
    stream(&mut call, &part);
    call.end(EndReason::Completed);
    let f = wait_finished(&floor, &id);
    let s = f.summary.as_ref().unwrap();
    assert!(
        (s["duration_s"].as_f64().unwrap() - 2.5).abs() < 0.01,
        "{s}"
    );
    floor.shutdown();
    floor.join();
}

#[test]
fn http_api_needs_the_token_and_metrics_are_exported() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.dashboard_token = Some("let-me-in".into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(cfg));
    let addr = server.addr;
    let get = |path: &str| -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        (status, text)
    };
    assert_eq!(get("/api/calls").0, 401);
    assert_eq!(get("/api/calls?token=wrong").0, 401);
    let (status, body) = get("/api/calls?token=let-me-in");
    assert_eq!(status, 200);
    assert!(body.contains("\"live\":[]"), "{body}");
    assert_eq!(get("/api/calls/nope?token=let-me-in").0, 404);
    assert_eq!(get("/healthz").0, 200);
    let (status, metrics) = get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "callpulse_active_calls 0",
        "callpulse_frames_dropped_total 0",
        "callpulse_alerts_total{kind=\"agent_interrupting\"} 0",
        "callpulse_ingest_to_alert_seconds_bucket{le=\"+Inf\"} 0",
    ] {
        assert!(metrics.contains(name), "{name} missing in\n{metrics}");
    }
    runtime.block_on(server.stop());
}

/// `callpulse send` (the vendor-faithful client, a separate process) against the server:
/// AudioHook with a signature and Twilio with a token, three calls each at once; every call
/// is analysed, finalised with a summary of the whole file, and counted.
#[test]
fn send_streams_calls_into_serve_over_both_protocols() {
    const KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
    const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    let (rate, channels) = read_wav(&demo_call());
    let short: Vec<Vec<f32>> = channels
        .iter()
        .map(|c| c[..rate as usize * 12].to_vec())
        .collect();
    crate::common::write_wav_i16(&wav, rate, &short);
    let mut cfg = config(&dir.path().join("calls"));
    cfg.audiohook.keys.push(callpulse::server::config::ApiKey {
        key: KEY.into(),
        secret: SECRET.into(),
    });
    cfg.twilio.tokens.push("tw-token".into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(cfg));
    let (addr, floor) = (server.addr, Arc::clone(&server.floor));
    let wav_arg = wav.to_str().unwrap();
    let ah_url = format!("ws://{addr}/audiohook");
    let out = callpulse(&[
        "send",
        &ah_url,
        wav_arg,
        "--api-key",
        KEY,
        "--client-secret",
        SECRET,
        "--calls",
        "3",
        "--speed",
        "0",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "audiohook send failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tw_url = format!("ws://{addr}/twilio");
    let out = callpulse(&[
        "send",
        &tw_url,
        wav_arg,
        "--protocol",
        "twilio",
        "--token",
        "tw-token",
        "--calls",
        "3",
        "--speed",
        "0",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "twilio send failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A wrong signature secret is refused.
    let out = callpulse(&[
        "send",
        &ah_url,
        wav_arg,
        "--api-key",
        KEY,
        "--client-secret",
        "d3Jvbmc=",
        "--speed",
        "0",
    ]);
    assert!(!out.status.success(), "a wrong secret must be refused");
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let snap = floor.calls();
        if snap.live.is_empty() && snap.finished.len() >= 6 {
            break snap.finished;
        }
        assert!(
            Instant::now() < deadline,
            "calls did not finish: {} live",
            snap.live.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(finished.len(), 6);
    for f in &finished {
        assert_eq!(f.end_reason, EndReason::Completed, "{}", f.id);
        assert!(f.error.is_none());
        let s = f.summary.as_ref().unwrap();
        let d = s["duration_s"].as_f64().unwrap();
        assert!((d - 12.0).abs() < 0.05, "{} analysed {d} s of 12 s", f.id);
        assert!(s["agent"].is_object() && s["caller"].is_object(), "{s}");
        let lines = json_lines(&std::fs::read(f.file.as_ref().unwrap()).unwrap());
        assert!(
            lines.iter().any(|l| l["type"] == "event"),
            "{}: no events",
            f.id
        );
    }
    let protocols: Vec<_> = finished.iter().map(|f| f.protocol).collect();
    assert_eq!(
        protocols
            .iter()
            .filter(|p| **p == Protocol::AudioHook)
            .count(),
        3
    );
    let text = floor
        .metrics()
        .render(floor.active(), &floor.queue_depths());
    assert!(text.contains("callpulse_frames_dropped_total 0"), "{text}");
    assert!(
        text.contains("callpulse_calls_opened_total{protocol=\"twilio\"} 3"),
        "{text}"
    );
    assert!(text.contains("callpulse_auth_failures_total 1"), "{text}");
    runtime.block_on(server.stop());
}

/// A dashboard client that stops reading never slows the analysis: the server's send to it
/// times out, it is disconnected and counted, and the call is analysed to its end. The client
/// follows one call's page feed (a timeline point per 100 ms of audio) with a tiny receive
/// buffer, so the kernel's buffers fill after a few tens of minutes of audio.
#[test]
fn a_dashboard_client_that_stops_reading_is_dropped_and_analysis_goes_on() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.dashboard_send_timeout_s = 0.5;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(cfg));
    let (addr, floor) = (server.addr, Arc::clone(&server.floor));
    let mut call = open(&floor, "slow-reader", "slow reader").unwrap();
    let id = call.id().to_owned();
    // The client: the handshake, then it never reads again.
    let _client = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws/call/{id}"), stream)
            .await
            .expect("call page socket");
        ws
    });
    let metrics = Arc::clone(floor.metrics());
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait("the client", &|| {
        metrics.dashboard_clients.load(Ordering::Relaxed) == 1
    });
    let (_, demo) = read_wav(&demo_call());
    let started = Instant::now();
    let mut minutes = 0;
    while metrics.dashboard_slow.load(Ordering::Relaxed) == 0 {
        assert!(
            minutes < 300,
            "the stalled client was never dropped ({minutes} min of audio)"
        );
        stream(&mut call, &demo);
        minutes += 1;
        // At the analysis' pace: nothing is dropped at the worker queue.
        wait("the analysis", &|| {
            metrics.frames_analysed.load(Ordering::Relaxed)
                >= metrics.frames_in.load(Ordering::Relaxed)
        });
    }
    println!(
        "stalled client dropped after {minutes} min of audio ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(metrics.dashboard_slow.load(Ordering::Relaxed), 1);
    wait("the client to be released", &|| {
        metrics.dashboard_clients.load(Ordering::Relaxed) == 0
    });
    call.end(EndReason::Completed);
    let finished = wait_finished(&floor, &id);
    assert_eq!(finished.end_reason, EndReason::Completed);
    assert_eq!(metrics.frames_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(
        metrics.frames_analysed.load(Ordering::Relaxed),
        minutes * demo[0].len() as u64
    );
    runtime.block_on(server.stop());
}

/// A client that floods audio faster than the analysis takes it: the full queue drops
/// chunks (counted per call and in the metrics) and they are analysed as gaps, so the call's
/// timeline still covers all of its audio, trailing drops included; the call is finalised.
#[test]
fn a_flood_is_dropped_counted_and_analysed_as_gaps() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.workers = 1;
    cfg.queue_messages = 16;
    let floor = Floor::start(cfg, AnalysisConfig::default()).unwrap();
    let (_, demo) = read_wav(&demo_call());
    let mut call = open(&floor, "flood", "flood").unwrap();
    let id = call.id().to_owned();
    for _ in 0..5 {
        stream(&mut call, &demo);
    }
    let dropped = call.frames_dropped();
    call.end(EndReason::Completed);
    let finished = wait_finished(&floor, &id);
    let total = 5 * demo[0].len() as u64;
    println!("flood: {dropped} of {total} frames dropped");
    assert!(
        dropped > 0,
        "a 16-message queue took 5 minutes of audio at once"
    );
    assert_eq!(
        floor.metrics().frames_dropped.load(Ordering::Relaxed),
        dropped
    );
    assert_eq!(
        floor.metrics().frames_analysed.load(Ordering::Relaxed),
        total - dropped
    );
    let summary = finished.summary.as_ref().expect("a summary");
    let duration = summary["duration_s"].as_f64().unwrap();
    assert!(
        (duration - total as f64 / 8000.0).abs() < 0.02,
        "the timeline covers all the audio: {duration} s"
    );
    floor.shutdown();
    floor.join();
}
