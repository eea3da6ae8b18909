//! `callpulse send` against a fake server written here (tokio-tungstenite), independent of
//! the crate's own server: headers, the HTTP message signature (checked with its own HMAC),
//! the AudioHook envelope counters, channel interleave, μ-law/L16 payloads, Twilio counters,
//! concurrent sessions and failures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callpulse::degrade::mulaw_decode;
use callpulse::send::{
    CallAudio, ChannelOrder, Encoding, Protocol, SendOptions, SessionFailure, send_calls,
};
use futures_util::{SinkExt, StreamExt};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

const API_KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";

/// What the fake server does.
#[derive(Clone)]
enum Behaviour {
    /// AudioHook: answer `opened` with offer `choose`, `pong`, `closed`.
    AudioHook { choose: usize },
    /// Refuse the upgrade with this status.
    Refuse(u16),
    /// AudioHook: `opened`, then `disconnect` with this reason.
    Disconnect(&'static str),
    /// AudioHook: `opened`, then a text message that is not JSON.
    Garbage,
    /// Twilio: just record.
    Record,
}

/// One connection as the server saw it.
#[derive(Default, Debug)]
struct Conn {
    path: String,
    headers: HashMap<String, String>,
    texts: Vec<Value>,
    binary: Vec<Vec<u8>>,
}

type Log = Arc<Mutex<Vec<Conn>>>;

async fn serve(behaviour: Behaviour) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Log = Arc::default();
    let log2 = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = log2.clone();
            let behaviour = behaviour.clone();
            tokio::spawn(async move { connection(tcp, behaviour, log).await });
        }
    });
    (format!("ws://{addr}"), log)
}

// tungstenite's handshake callback fixes the error type (an HTTP response).
#[allow(clippy::result_large_err)]
async fn connection(tcp: tokio::net::TcpStream, behaviour: Behaviour, log: Log) {
    let mut conn = Conn::default();
    let refuse = match behaviour {
        Behaviour::Refuse(s) => Some(s),
        _ => None,
    };
    let mut seen = (String::new(), HashMap::new());
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        seen.0 = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        for (k, v) in req.headers() {
            seen.1
                .insert(k.as_str().to_string(), v.to_str().unwrap_or("").to_string());
        }
        if let Some(status) = refuse {
            let mut r = ErrorResponse::new(Some("go away".into()));
            *r.status_mut() = StatusCode::from_u16(status).expect("status");
            return Err(r);
        }
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await;
    conn.path = seen.0;
    conn.headers = seen.1;
    let Ok(mut ws) = ws else {
        log.lock().expect("log").push(conn);
        return;
    };
    let mut seq = 0u64;
    let mut reply = |kind: &str, id: &str, clientseq: u64, params: Value| {
        seq += 1;
        Message::text(
            json!({"version": "2", "type": kind, "id": id, "seq": seq,
                   "clientseq": clientseq, "parameters": params})
            .to_string(),
        )
    };
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Binary(b) => conn.binary.push(b.to_vec()),
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("client sends JSON");
                conn.texts.push(v.clone());
                if matches!(behaviour, Behaviour::Record) {
                    continue;
                }
                let id = v["id"].as_str().unwrap_or("").to_string();
                let cs = v["seq"].as_u64().unwrap_or(0);
                let out = match v["type"].as_str().unwrap_or("") {
                    "open" => {
                        let choose = match behaviour {
                            Behaviour::AudioHook { choose } => choose,
                            _ => 0,
                        };
                        let media = v["parameters"]["media"][choose].clone();
                        let mut out = vec![reply("opened", &id, cs, json!({"media": [media]}))];
                        match behaviour {
                            Behaviour::Disconnect(reason) => out.push(reply(
                                "disconnect",
                                &id,
                                cs,
                                json!({"reason": reason, "info": "test"}),
                            )),
                            Behaviour::Garbage => out.push(Message::text("{not json")),
                            _ => {}
                        }
                        out
                    }
                    "ping" => vec![reply("pong", &id, cs, json!({}))],
                    "close" => vec![reply("closed", &id, cs, json!({}))],
                    _ => vec![],
                };
                for m in out {
                    let _ = ws.send(m).await;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    log.lock().expect("log").push(conn);
}

/// Agent and caller test signals (different tones and levels), 8 kHz.
fn signals(n: usize) -> (Vec<i16>, Vec<i16>) {
    let tone = |f: f64, a: f64| -> Vec<i16> {
        (0..n)
            .map(|i| (a * (2.0 * std::f64::consts::PI * f * i as f64 / 8000.0).sin()) as i16)
            .collect()
    };
    (tone(300.0, 8000.0), tone(500.0, 20000.0))
}

fn write_wav(dir: &Path, channels: &[Vec<i16>]) -> PathBuf {
    let path = dir.join("send.wav");
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create");
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample(ch[i]).expect("write");
        }
    }
    w.finalize().expect("finalize");
    path
}

fn opts() -> SendOptions {
    SendOptions {
        api_key: API_KEY.into(),
        speed: 0.0,
        close_timeout: Duration::from_secs(2),
        ..SendOptions::default()
    }
}

fn assert_mulaw_close(got: i16, want: i16) {
    let tol = i32::from(want).abs() / 16 + 16;
    assert!(
        (i32::from(got) - i32::from(want)).abs() <= tol,
        "decoded {got}, sent {want}"
    );
}

/// Checks the signature headers by rebuilding the base from the request as a server would.
fn verify_signature(conn: &Conn) {
    let h = &conn.headers;
    let input = &h["signature-input"];
    let list = input.strip_prefix("sig1=").expect("label sig1");
    let (names, params) = list.split_once(')').expect("inner list");
    let names: Vec<&str> = names
        .trim_start_matches('(')
        .split(' ')
        .map(|n| n.trim_matches('"'))
        .collect();
    assert_eq!(
        names,
        [
            "@request-target",
            "@authority",
            "audiohook-organization-id",
            "audiohook-session-id",
            "audiohook-correlation-id",
            "x-api-key"
        ]
    );
    let mut base = String::new();
    for n in &names {
        let value = match *n {
            "@request-target" => conn.path.clone(),
            "@authority" => h["host"].clone(),
            other => h[other].clone(),
        };
        base.push_str(&format!("\"{n}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {list}"));
    let key = STANDARD.decode(SECRET).expect("secret");
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(base.as_bytes());
    let want = format!("sig1=:{}:", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(h["signature"], want, "signature over {base:?}");
    // Parameters.
    let p: HashMap<&str, &str> = params
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    assert_eq!(p["keyid"], format!("\"{API_KEY}\""));
    assert_eq!(p["alg"], "\"hmac-sha256\"");
    assert!(p["nonce"].trim_matches('"').len() >= 22);
    let created: u64 = p["created"].parse().expect("created");
    let expires: u64 = p["expires"].parse().expect("expires");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(created.abs_diff(now) < 60);
    assert_eq!(expires, created + 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn audiohook_signed_session_honours_the_chosen_channel_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, caller) = signals(4000); // 0.5 s
    let wav = write_wav(dir.path(), &[agent.clone(), caller.clone()]);
    let audio = CallAudio::from_wav(&wav, 0, 1).expect("wav");
    // The server picks the second offer: ["internal", "external"] (agent first).
    let (url, log) = serve(Behaviour::AudioHook { choose: 1 }).await;
    let options = SendOptions {
        client_secret: Some(SECRET.into()),
        // A ping during the session: first at min(1 s, interval).
        ping_interval: Duration::from_millis(100),
        speed: 2.0,
        ..opts()
    };
    let report = send_calls(&url, &audio, &options).await.expect("run");
    assert_eq!(report.ok, 1, "{report:?}");
    assert_eq!(report.failed, 0);
    assert!(report.opened.is_some());
    assert_eq!(report.frames_sent, 3); // 200 + 200 + 100 ms
    assert_eq!(report.bytes_sent, 8000);
    let conns = log.lock().expect("log");
    let conn = &conns[0];
    assert_eq!(conn.path, "/audiohook");
    for h in [
        "audiohook-organization-id",
        "audiohook-session-id",
        "audiohook-correlation-id",
        "x-api-key",
        "signature-input",
        "signature",
    ] {
        assert!(conn.headers.contains_key(h), "missing {h}");
    }
    assert_eq!(conn.headers["x-api-key"], API_KEY);
    verify_signature(conn);

    // Envelope: seq 1, 2, ...; the session id; positions; open first, close last.
    let session_id = &conn.headers["audiohook-session-id"];
    assert_eq!(report.sessions[0].session_id, *session_id);
    for (i, m) in conn.texts.iter().enumerate() {
        assert_eq!(m["version"], "2");
        assert_eq!(m["seq"], json!(i + 1));
        assert_eq!(m["id"], json!(session_id));
        let pos = m["position"].as_str().expect("position");
        assert!(pos.starts_with("PT") && pos.ends_with('S'), "{pos}");
    }
    let open = &conn.texts[0];
    assert_eq!(open["type"], "open");
    assert_eq!(open["position"], "PT0S");
    assert_eq!(open["serverseq"], 0);
    let params = &open["parameters"];
    assert_eq!(params["organizationId"], callpulse::send::DEFAULT_ORG_ID);
    for f in ["id", "ani", "aniName", "dnis"] {
        assert!(params["participant"][f].is_string(), "participant.{f}");
    }
    assert_eq!(
        params["media"][0],
        json!({"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000})
    );
    let close = conn.texts.last().expect("close");
    assert_eq!(close["type"], "close");
    assert_eq!(close["parameters"]["reason"], "end");
    assert_eq!(close["position"], "PT0.5S");
    assert!(close["serverseq"].as_u64().expect("serverseq") >= 1);
    let pings = conn.texts.iter().filter(|m| m["type"] == "ping").count();
    assert!(
        pings >= 1,
        "no ping in a 250 ms session with a 100 ms interval"
    );
    // A pong may still be in flight when `close` goes out: at least the first is timed.
    assert!((1..=pings).contains(&report.sessions[0].ping_rtt_ms.len()));

    // Audio: agent first, as chosen; μ-law decodes back to the WAV.
    let bytes: Vec<u8> = conn.binary.concat();
    assert_eq!(bytes.len(), 8000);
    for (i, pair) in bytes.chunks(2).enumerate() {
        assert_mulaw_close(mulaw_decode(pair[0]), agent[i]);
        assert_mulaw_close(mulaw_decode(pair[1]), caller[i]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audiohook_l16_caller_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, caller) = signals(1000);
    let wav = write_wav(dir.path(), std::slice::from_ref(&caller));
    let audio = CallAudio::from_wav(&wav, 0, 1).expect("wav");
    assert!(audio.agent.is_none());
    let (url, log) = serve(Behaviour::AudioHook { choose: 0 }).await;
    let options = SendOptions {
        format: Encoding::L16,
        frame: Duration::from_millis(20),
        channel_order: ChannelOrder::InternalFirst,
        ..opts()
    };
    let report = send_calls(&format!("{url}/custom/path?x=1"), &audio, &options)
        .await
        .expect("run");
    assert_eq!(report.ok, 1, "{report:?}");
    let conns = log.lock().expect("log");
    let conn = &conns[0];
    assert_eq!(conn.path, "/custom/path?x=1");
    assert!(!conn.headers.contains_key("signature"));
    let media = &conn.texts[0]["parameters"]["media"];
    assert_eq!(media.as_array().map(Vec::len), Some(1));
    assert_eq!(media[0]["channels"], json!(["external"]));
    assert_eq!(media[0]["format"], "L16");
    assert_eq!(conn.binary.len(), 7); // 125 ms in 20 ms frames
    assert!(conn.binary.iter().take(6).all(|f| f.len() == 320));
    let samples: Vec<i16> = conn
        .binary
        .concat()
        .chunks(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(samples, caller);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_calls_have_distinct_ids() {
    let (agent, caller) = signals(800);
    let audio = CallAudio::from_samples(Some(agent), Some(caller));
    let (url, log) = serve(Behaviour::AudioHook { choose: 0 }).await;
    let options = SendOptions {
        calls: 3,
        ramp: Duration::from_millis(10),
        ..opts()
    };
    let report = send_calls(&url, &audio, &options).await.expect("run");
    assert_eq!(report.ok, 3, "{report:?}");
    assert_eq!(report.sessions.len(), 3);
    let conns = log.lock().expect("log");
    assert_eq!(conns.len(), 3);
    let mut ids: Vec<&String> = conns
        .iter()
        .map(|c| &c.headers["audiohook-session-id"])
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let mut corr: Vec<&String> = conns
        .iter()
        .map(|c| &c.headers["audiohook-correlation-id"])
        .collect();
    corr.sort();
    corr.dedup();
    assert_eq!(corr.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_reported_not_panicked() {
    let audio = CallAudio::from_samples(None, Some(signals(800).1));
    let (url, _) = serve(Behaviour::Refuse(401)).await;
    let report = send_calls(&url, &audio, &opts()).await.expect("run");
    assert_eq!(report.failed, 1);
    assert!(
        matches!(
            report.sessions[0].failure,
            Some(SessionFailure::Refused { status: 401, .. })
        ),
        "{report:?}"
    );

    let (url, log) = serve(Behaviour::Disconnect("unauthorized")).await;
    let report = send_calls(&url, &audio, &opts()).await.expect("run");
    assert_eq!(
        report.sessions[0].failure,
        Some(SessionFailure::Disconnected {
            reason: "unauthorized".into(),
            info: Some("test".into())
        })
    );
    // The client answered the disconnect with close(reason=disconnect).
    {
        let conns = log.lock().expect("log");
        let last = conns[0].texts.last().expect("texts");
        assert_eq!(last["type"], "close");
        assert_eq!(last["parameters"]["reason"], "disconnect");
    }

    let (url, _) = serve(Behaviour::Disconnect("completed")).await;
    let report = send_calls(&url, &audio, &opts()).await.expect("run");
    assert_eq!(report.ok, 1);
    assert_eq!(
        report.sessions[0].server_reason.as_deref(),
        Some("completed")
    );

    let (url, _) = serve(Behaviour::Garbage).await;
    let report = send_calls(&url, &audio, &opts()).await.expect("run");
    assert!(matches!(
        report.sessions[0].failure,
        Some(SessionFailure::Protocol { .. })
    ));

    // Nobody listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let report = send_calls(&format!("ws://127.0.0.1:{port}"), &audio, &opts())
        .await
        .expect("run");
    assert!(matches!(
        report.sessions[0].failure,
        Some(SessionFailure::Connect { .. })
    ));
    assert!(
        send_calls("wss://example.com/", &audio, &opts())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_media_stream() {
    let (agent, caller) = signals(1000); // 125 ms: 6 full chunks and one of 40 samples
    let audio = CallAudio::from_samples(Some(agent.clone()), Some(caller.clone()));
    let (url, log) = serve(Behaviour::Record).await;
    let options = SendOptions {
        protocol: Protocol::Twilio,
        token: Some("s3cret token".into()),
        ..opts()
    };
    let report = send_calls(&url, &audio, &options).await.expect("run");
    assert_eq!(report.ok, 1, "{report:?}");
    assert_eq!(report.frames_sent, 14);
    let conns = log.lock().expect("log");
    let conn = &conns[0];
    assert_eq!(conn.path, "/twilio?token=s3cret%20token");
    let t = &conn.texts;
    assert_eq!(
        t[0],
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    );
    let start = &t[1];
    assert_eq!(start["event"], "start");
    assert_eq!(start["sequenceNumber"], "1");
    let sid = start["streamSid"].as_str().expect("sid");
    assert_eq!(start["start"]["streamSid"], sid);
    assert_eq!(start["start"]["tracks"], json!(["inbound", "outbound"]));
    assert_eq!(start["start"]["customParameters"]["token"], "s3cret token");
    assert_eq!(
        start["start"]["mediaFormat"],
        json!({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1})
    );
    let media = &t[2..t.len() - 1];
    assert_eq!(media.len(), 14);
    let mut decoded: HashMap<String, Vec<i16>> = HashMap::new();
    for (i, m) in media.iter().enumerate() {
        assert_eq!(m["sequenceNumber"], (i + 2).to_string());
        assert_eq!(m["streamSid"], sid);
        let (track, chunk, ts, payload) =
            callpulse::send::twilio::parse_media(m).expect("media message");
        assert_eq!(track, if i % 2 == 0 { "inbound" } else { "outbound" });
        assert_eq!(chunk, (i / 2 + 1) as u64);
        assert_eq!(ts, (i / 2) as u64 * 20);
        assert_eq!(payload.len(), if i / 2 < 6 { 160 } else { 40 });
        decoded
            .entry(track)
            .or_default()
            .extend(payload.iter().map(|&b| mulaw_decode(b)));
    }
    for (got, want) in decoded["inbound"].iter().zip(&caller) {
        assert_mulaw_close(*got, *want);
    }
    for (got, want) in decoded["outbound"].iter().zip(&agent) {
        assert_mulaw_close(*got, *want);
    }
    let stop = t.last().expect("stop");
    assert_eq!(stop["event"], "stop");
    assert_eq!(stop["sequenceNumber"], "16");
    assert_eq!(stop["stop"]["accountSid"], start["start"]["accountSid"]);
    assert_eq!(stop["stop"]["callSid"], start["start"]["callSid"]);
    assert!(conn.binary.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_sends_three_calls_and_fails_on_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, caller) = signals(1600);
    let wav = write_wav(dir.path(), &[agent, caller]);
    let wav = wav.to_string_lossy().to_string();
    let (url, log) = serve(Behaviour::AudioHook { choose: 0 }).await;
    let args: Vec<String> = [
        "send",
        &url,
        &wav,
        "--calls",
        "3",
        "--speed",
        "0",
        "--json",
        "--client-secret",
        SECRET,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::common::callpulse(&args)
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["ok"], 3);
    assert_eq!(report["failed"], 0);
    assert!(report["opened"]["p99_ms"].is_number());
    assert_eq!(log.lock().expect("log").len(), 3);

    let (url, _) = serve(Behaviour::Refuse(403)).await;
    let out = tokio::task::spawn_blocking(move || {
        crate::common::callpulse(&["send", &url, &wav, "--speed", "0"])
    })
    .await
    .expect("join");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 403"), "{err}");

    let help = crate::common::callpulse(&["send", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Examples:") && help.contains("--client-secret"));
}
