//! Genesys AudioHook v2 conformance: a raw WebSocket client (tokio-tungstenite) sends the
//! vendor's message sequences, JSON written by hand as the platform sends it, to the real
//! upgrade handler. Most tests use a recording fake floor (to see exactly what reaches the
//! analysis); one runs the whole server with its real floor and workers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use callpulse::send::signature::{SignatureHeaders, SignatureParams, sign};
use callpulse::server::audiohook::{
    CallEnd, CallFloor, CallSink, CallSpec, Failure, signature, upgrade_with,
};
use callpulse::server::config::{ApiKey, AudioHookConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
const UNSIGNED_KEY: &str = "unsigned-key";
const ORG: &str = "d7934305-0972-4844-938e-9060eef73d05";
const CONV: &str = "4d3ea8f1-8e1a-4a8c-9c58-c1d2a0e9b7f3";
const NULL: &str = "00000000-0000-0000-0000-000000000000";
const PCMU_STEREO: &str =
    r#"{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000}"#;

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Open(CallSpec),
    Push(Vec<Vec<f32>>),
    Gap(u64),
    End(CallEnd),
    Failed(Failure),
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Ev>>,
    refuse: Option<String>,
}

impl Recorder {
    fn events(&self) -> Vec<Ev> {
        self.events.lock().unwrap().clone()
    }
    fn push(&self, e: Ev) {
        self.events.lock().unwrap().push(e);
    }
}

struct Sink(Arc<Recorder>);

impl CallSink for Sink {
    fn push(&mut self, parties: Vec<Vec<f32>>) {
        self.0.push(Ev::Push(parties));
    }
    fn gap(&mut self, frames: u64) {
        self.0.push(Ev::Gap(frames));
    }
    fn end(self: Box<Self>, end: CallEnd) {
        self.0.push(Ev::End(end));
    }
}

struct Fake(Arc<Recorder>);

impl CallFloor for Fake {
    fn open(&self, spec: CallSpec) -> Result<Box<dyn CallSink>, String> {
        if let Some(r) = &self.0.refuse {
            return Err(r.clone());
        }
        self.0.push(Ev::Open(spec));
        Ok(Box::new(Sink(Arc::clone(&self.0))))
    }
    fn session_failed(&self, failure: &Failure) {
        self.0.push(Ev::Failed(failure.clone()));
    }
}

fn config() -> AudioHookConfig {
    AudioHookConfig {
        keys: vec![
            ApiKey {
                key: KEY.into(),
                secret: SECRET.into(),
            },
            ApiKey {
                key: UNSIGNED_KEY.into(),
                secret: String::new(),
            },
        ],
        ..AudioHookConfig::default()
    }
}

/// Serves the handler on a fake floor; returns the port and the recorder.
async fn serve(refuse: Option<&str>) -> (u16, Arc<Recorder>) {
    let rec = Arc::new(Recorder {
        events: Mutex::new(Vec::new()),
        refuse: refuse.map(str::to_owned),
    });
    let floor: Arc<dyn CallFloor> = Arc::new(Fake(Arc::clone(&rec)));
    let cfg = Arc::new(config());
    let app = Router::new().route(
        "/audiohook",
        get(move |headers: HeaderMap, uri: Uri, ws: WebSocketUpgrade| {
            upgrade_with(Arc::clone(&floor), Arc::clone(&cfg), headers, uri, ws)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, rec)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects as Genesys does: the four headers, signed with the example secret at `created`
/// (`None`: unsigned, with `key`).
async fn connect(
    port: u16,
    session: &str,
    key: Option<&str>,
    created: Option<i64>,
    secret: &[u8],
) -> Result<Ws, tungstenite::Error> {
    let path = "/audiohook?integration=callpulse";
    let mut req = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .unwrap();
    let correlation = "e160e428-53e2-487c-977d-96989bf5c99d";
    let mut hdrs = vec![
        ("audiohook-organization-id", ORG),
        ("audiohook-session-id", session),
        ("audiohook-correlation-id", correlation),
    ];
    if let Some(k) = key {
        hdrs.push(("x-api-key", k));
    }
    for (k, v) in &hdrs {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    if let (Some(created), Some(k)) = (created, key) {
        let authority = format!("127.0.0.1:{port}");
        let mut components = vec![
            ("@request-target", path),
            ("@authority", authority.as_str()),
        ];
        components.extend(hdrs.iter().copied());
        let SignatureHeaders {
            signature_input: input,
            signature: sig,
        } = sign(
            &components,
            &SignatureParams {
                keyid: k.into(),
                nonce: "bm9uY2Utb2YtYXQtbGVhc3QtMjItY2hhcnM".into(),
                created: u64::try_from(created).unwrap(),
                expires: u64::try_from(created + 30).unwrap(),
            },
            secret,
        );
        req.headers_mut()
            .insert("signature-input", input.parse().unwrap());
        req.headers_mut().insert("signature", sig.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

fn secret() -> Vec<u8> {
    signature::decode_secret(SECRET).unwrap()
}

async fn connect_ok(port: u16, session: &str) -> Ws {
    connect(port, session, Some(KEY), Some(unix_now()), &secret())
        .await
        .expect("signed upgrade accepted")
}

fn client_msg(session: &str, kind: &str, seq: u64, serverseq: u64, params: &str) -> Message {
    Message::text(format!(
        r#"{{"version":"2","id":"{session}","type":"{kind}","seq":{seq},"serverseq":{serverseq},"position":"PT{}S","parameters":{params}}}"#,
        seq
    ))
}

fn open_msg(session: &str, conv: &str, participant: &str, media: &str) -> Message {
    client_msg(
        session,
        "open",
        1,
        0,
        &format!(
            r#"{{"organizationId":"{ORG}","conversationId":"{conv}","participant":{{"id":"{participant}","ani":"+13175550000","aniName":"John Doe","dnis":"+13175551111"}},"media":[{media}],"language":"en-US"}}"#
        ),
    )
}

/// The next text message as JSON (skipping transport pings); `None` when the socket ends.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("server answered within 5 s")?;
        match m {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
}

async fn expect_disconnect(ws: &mut Ws, info_part: &str) {
    let m = next_json(ws).await.expect("a disconnect");
    assert_eq!(m["type"], "disconnect", "{m}");
    assert_eq!(m["parameters"]["reason"], "error");
    let info = m["parameters"]["info"].as_str().unwrap();
    assert!(info.contains(info_part), "{info}");
}

async fn wait_for(rec: &Recorder, pred: impl Fn(&[Ev]) -> bool) -> Vec<Ev> {
    let t0 = Instant::now();
    loop {
        let e = rec.events();
        if pred(&e) || t0.elapsed() > Duration::from_secs(5) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn session_id(n: u8) -> String {
    format!("30b0e395-84d3-4570-ac13-9a62d8f514{n:02x}")
}

#[tokio::test]
async fn audiohook_happy_path() {
    let (port, rec) = serve(None).await;
    let sid = session_id(1);
    let mut ws = connect_ok(port, &sid).await;
    let l16 = r#"{"type":"audio","format":"L16","channels":["external","internal"],"rate":8000}"#;
    let pcmu = r#"{"type":"audio","format":"PCMU","channels":["internal","external"],"rate":8000}"#;
    ws.send(open_msg(&sid, CONV, "p-1", &format!("{l16},{pcmu}")))
        .await
        .unwrap();
    let opened = next_json(&mut ws).await.unwrap();
    assert_eq!(opened["type"], "opened");
    assert_eq!(opened["version"], "2");
    assert_eq!(opened["id"], sid.as_str());
    assert_eq!(opened["seq"], 1);
    assert_eq!(opened["clientseq"], 1);
    let echoed: Value = serde_json::from_str(pcmu).unwrap();
    assert_eq!(opened["parameters"]["media"], Value::Array(vec![echoed]));

    ws.send(client_msg(&sid, "ping", 2, 1, "{}")).await.unwrap();
    let pong = next_json(&mut ws).await.unwrap();
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["clientseq"], 2);
    assert_eq!(pong["seq"], 2);

    // 200 ms of stereo PCMU: agent (internal, first byte) silent, caller at full negative.
    let audio: Vec<u8> = (0..1600).flat_map(|_| [0xFFu8, 0x00]).collect();
    ws.send(Message::binary(audio)).await.unwrap();
    ws.send(client_msg(&sid, "paused", 3, 2, "{}"))
        .await
        .unwrap();
    ws.send(client_msg(
        &sid,
        "resumed",
        4,
        2,
        r#"{"start":"PT0.2S","discarded":"PT1.5S"}"#,
    ))
    .await
    .unwrap();
    ws.send(client_msg(
        &sid,
        "discarded",
        5,
        2,
        r#"{"start":"PT1.7S","discarded":"PT0.25S"}"#,
    ))
    .await
    .unwrap();
    ws.send(client_msg(&sid, "close", 6, 2, r#"{"reason":"end"}"#))
        .await
        .unwrap();
    let closed = next_json(&mut ws).await.unwrap();
    assert_eq!(closed["type"], "closed");
    assert_eq!(closed["clientseq"], 6);
    assert_eq!(closed["seq"], 3);

    let ev = wait_for(&rec, |e| matches!(e.last(), Some(Ev::End(_)))).await;
    assert_eq!(ev.len(), 5, "{ev:?}");
    let Ev::Open(spec) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(spec.external_id, sid);
    assert_eq!(spec.label, CONV);
    assert_eq!(
        spec.roles,
        vec![callpulse::Role::Agent, callpulse::Role::Caller]
    );
    assert_eq!(spec.meta["organizationId"], ORG);
    let Ev::Push(p) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(p[0].len(), 1600);
    assert!(p[0].iter().all(|&x| x == 0.0));
    assert!(p[1].iter().all(|&x| x < -0.9));
    assert_eq!(ev[2], Ev::Gap(12_000));
    assert_eq!(ev[3], Ev::Gap(2_000));
    assert_eq!(ev[4], Ev::End(CallEnd::Completed));
}

#[tokio::test]
async fn audiohook_authentication_failures_get_401_after_a_delay() {
    let (port, rec) = serve(None).await;
    let sid = session_id(2);
    let cases: [(Option<&str>, Option<i64>, Vec<u8>); 4] = [
        (Some(KEY), Some(unix_now()), b"wrong secret".to_vec()), // wrong signature
        (Some(KEY), Some(unix_now() - 60), secret()),            // too old
        (None, None, Vec::new()),                                // missing key
        (Some(KEY), None, Vec::new()),                           // signed key, no signature
    ];
    for (key, created, sec) in cases {
        let t0 = Instant::now();
        match connect(port, &sid, key, created, &sec).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
            other => panic!("expected 401, got {:?}", other.map(|_| "a socket")),
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(450),
            "{:?}",
            t0.elapsed()
        );
    }
    // An unknown key too; an unsigned key is accepted without a signature.
    assert!(connect(port, &sid, Some("nope"), None, &[]).await.is_err());
    let mut ws = connect(port, &sid, Some(UNSIGNED_KEY), None, &[])
        .await
        .expect("unsigned key accepted");
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "opened");
    assert!(matches!(rec.events()[0], Ev::Open(_)));
}

#[tokio::test]
async fn audiohook_seq_out_of_order_is_a_protocol_error() {
    let (port, rec) = serve(None).await;
    let sid = session_id(3);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    next_json(&mut ws).await.unwrap();
    ws.send(client_msg(&sid, "ping", 3, 1, "{}")).await.unwrap();
    expect_disconnect(&mut ws, "expected seq 2, got 3").await;
    // The platform answers disconnect with close.
    ws.send(client_msg(
        &sid,
        "close",
        4,
        2,
        r#"{"reason":"disconnect"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "closed");
    let ev = wait_for(&rec, |e| e.len() >= 3).await;
    assert!(matches!(&ev[1], Ev::End(CallEnd::ProtocolError(e)) if e.contains("seq")));
    // Reported to the floor (metrics) once.
    assert!(matches!(&ev[2], Ev::Failed(Failure::Protocol(e)) if e.contains("seq")));
    assert_eq!(ev.len(), 3, "{ev:?}");
}

#[tokio::test]
async fn audiohook_unknown_type_binary_before_open_and_unsupported_media() {
    let (port, rec) = serve(None).await;
    let sid = session_id(4);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    next_json(&mut ws).await.unwrap();
    ws.send(client_msg(&sid, "teleport", 2, 1, "{}"))
        .await
        .unwrap();
    expect_disconnect(&mut ws, "unknown message type").await;

    let sid = session_id(5);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(Message::binary(vec![0xFFu8; 320])).await.unwrap();
    expect_disconnect(&mut ws, "unexpected audio").await;

    let sid = session_id(6);
    let mut ws = connect_ok(port, &sid).await;
    let opus =
        r#"{"type":"audio","format":"opus","channels":["external","internal"],"rate":48000}"#;
    ws.send(open_msg(&sid, CONV, "p", opus)).await.unwrap();
    expect_disconnect(&mut ws, "no supported media").await;

    let failed = |e: &[Ev]| e.iter().filter(|e| matches!(e, Ev::Failed(_))).count();
    let ev = wait_for(&rec, |e| failed(e) >= 3).await;
    // Only the first session opened a call; each of the three failures was reported.
    assert_eq!(
        ev.iter().filter(|e| matches!(e, Ev::Open(_))).count(),
        1,
        "{ev:?}"
    );
    assert_eq!(failed(&ev), 3, "{ev:?}");
}

#[tokio::test]
async fn audiohook_oversized_messages() {
    let (port, rec) = serve(None).await;
    // Over 65,535 characters but within the WebSocket cap: a protocol error.
    let sid = session_id(7);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    next_json(&mut ws).await.unwrap();
    let pad = "x".repeat(70_000);
    ws.send(client_msg(
        &sid,
        "ping",
        2,
        1,
        &format!(r#"{{"pad":"{pad}"}}"#),
    ))
    .await
    .unwrap();
    expect_disconnect(&mut ws, "too long").await;

    // Beyond the WebSocket cap: the server drops the connection, the call ends.
    let sid = session_id(8);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    next_json(&mut ws).await.unwrap();
    let _ = ws.send(Message::binary(vec![0xFFu8; 1 << 20])).await;
    // The transport refused the frame; a `disconnect` may still get through before it closes.
    if let Some(m) = next_json(&mut ws).await {
        assert_eq!(m["type"], "disconnect", "{m}");
    }
    // Both are protocol errors: the first ends the call as one, the second drops the socket.
    let ev = wait_for(&rec, |e| {
        e.iter().filter(|x| matches!(x, Ev::Failed(_))).count() >= 2
    })
    .await;
    let failures: Vec<_> = ev
        .iter()
        .filter_map(|x| match x {
            Ev::Failed(Failure::Protocol(e)) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 2, "{ev:?}");
    assert!(failures[0].contains("too long"), "{failures:?}");
    assert!(failures[1].contains("size limit"), "{failures:?}");
    assert_eq!(
        ev.iter()
            .filter(|x| matches!(x, Ev::End(CallEnd::ProtocolError(_))))
            .count(),
        2,
        "{ev:?}"
    );
}

#[tokio::test]
async fn audiohook_probe_session_opens_no_call() {
    let (port, rec) = serve(None).await;
    let sid = session_id(9);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, NULL, NULL, PCMU_STEREO))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "opened");
    ws.send(client_msg(&sid, "close", 2, 1, r#"{"reason":"end"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "closed");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rec.events().is_empty());
}

#[tokio::test]
async fn audiohook_client_vanishing_mid_call_ends_it_disconnected() {
    let (port, rec) = serve(None).await;
    let sid = session_id(10);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    next_json(&mut ws).await.unwrap();
    ws.send(Message::binary(vec![0xFFu8; 3200])).await.unwrap();
    drop(ws); // no close frame, no close message
    let ev = wait_for(&rec, |e| matches!(e.last(), Some(Ev::End(_)))).await;
    assert_eq!(ev.last(), Some(&Ev::End(CallEnd::Disconnected)), "{ev:?}");
}

#[tokio::test]
async fn audiohook_refusal_becomes_disconnect() {
    let (port, _rec) = serve(Some("at capacity: 1 calls already live")).await;
    let sid = session_id(11);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    expect_disconnect(&mut ws, "at capacity").await;
}

#[tokio::test]
async fn audiohook_against_the_real_floor() {
    use callpulse::server::ServerConfig;
    let mut config = ServerConfig::default();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.workers = 1;
    config.audiohook = self::config();
    // Short, to test it below; every other step here answers at once.
    config.audiohook.idle_timeout_s = 2.0;
    let server = crate::common::TestServer::start(config).await;
    let (port, floor) = (server.addr.port(), Arc::clone(&server.floor));
    // A probe first: nothing on the floor.
    let sid = session_id(12);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, NULL, NULL, PCMU_STEREO))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "opened");
    assert_eq!(floor.active(), 0);
    ws.send(client_msg(&sid, "close", 2, 1, r#"{"reason":"end"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "closed");

    // A real call: two seconds of audio, then close.
    let sid = session_id(13);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "opened");
    assert_eq!(floor.active(), 1);
    for _ in 0..10 {
        ws.send(Message::binary(vec![0xFFu8; 3200])).await.unwrap();
    }
    ws.send(client_msg(&sid, "close", 2, 1, r#"{"reason":"end"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "closed");
    crate::common::settle(Duration::from_secs(10), || floor.active() == 0).await;
    assert_eq!(floor.active(), 0);

    // A protocol error is counted in the metrics.
    let errors = || floor.metrics().protocol_errors[0].load(Ordering::Relaxed);
    assert_eq!(errors(), 0);
    let sid = session_id(14);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(Message::binary(vec![0xFFu8; 320])).await.unwrap();
    expect_disconnect(&mut ws, "unexpected audio").await;
    crate::common::settle(Duration::from_secs(5), || errors() > 0).await;
    assert_eq!(errors(), 1);
    let text = floor.metrics().render(0, &[]);
    assert!(
        text.contains("callpulse_protocol_errors_total{protocol=\"audiohook\"} 1"),
        "{text}"
    );

    // So is a client that opens a call and then says nothing.
    let idle = || floor.metrics().idle_timeouts[0].load(Ordering::Relaxed);
    let sid = session_id(15);
    let mut ws = connect_ok(port, &sid).await;
    ws.send(open_msg(&sid, CONV, "p", PCMU_STEREO))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "opened");
    expect_disconnect(&mut ws, "no message for").await;
    crate::common::settle(Duration::from_secs(5), || idle() > 0).await;
    assert_eq!(idle(), 1);
    assert_eq!(errors(), 1, "an idle timeout is not a protocol error");
    server.stop().await;
}
