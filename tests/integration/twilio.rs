//! Twilio Media Streams conformance: the documented message sequence, built by hand as Twilio
//! sends it (counters as strings, base64 μ-law payloads), driven through the session.

use std::sync::Arc;

use base64::Engine as _;
use callpulse::Role;
use callpulse::degrade::mulaw_encode;
use callpulse::server::ingest::EndReason;
use callpulse::server::twilio::session::{Action, Session, SessionConfig, close_code};

const TOKEN: &str = "tok-123";
const SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

fn config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        tokens: vec!["other".into(), TOKEN.into()],
        ..SessionConfig::default()
    })
}

fn connected() -> String {
    r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned()
}

fn start_with(seq: u64, tracks: &str, params: &str, format: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"{seq}","start":{{"accountSid":"AC123","streamSid":"{SID}","callSid":"CA456","tracks":{tracks},"mediaFormat":{format},"customParameters":{params}}},"streamSid":"{SID}"}}"#
    )
}

fn start(seq: u64, tracks: &str) -> String {
    start_with(
        seq,
        tracks,
        &format!(r#"{{"token":"{TOKEN}","agent":"42"}}"#),
        r#"{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}"#,
    )
}

/// A `media` message of `n` samples of the constant `value`.
fn media_n(seq: u64, track: &str, chunk: u64, ts: u64, value: i16, n: usize) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(vec![mulaw_encode(value); n]);
    format!(
        r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"{track}","chunk":"{chunk}","timestamp":"{ts}","payload":"{payload}"}},"streamSid":"{SID}"}}"#
    )
}

fn media(seq: u64, track: &str, chunk: u64, ts: u64, value: i16) -> String {
    media_n(seq, track, chunk, ts, value, 160)
}

fn stop(seq: u64) -> String {
    format!(
        r#"{{"event":"stop","sequenceNumber":"{seq}","streamSid":"{SID}","stop":{{"accountSid":"AC123","callSid":"CA456"}}}}"#
    )
}

/// Everything the session asked for, with audio concatenated per party.
#[derive(Debug, Default)]
struct Outcome {
    roles: Vec<Role>,
    opened: bool,
    /// Per party: the samples pushed, with gaps expanded to `NaN` so positions line up.
    parties: Vec<Vec<f32>>,
    gaps: Vec<u64>,
    end: Option<EndReason>,
    close: Option<(u16, String)>,
}

impl Outcome {
    fn apply(&mut self, actions: Vec<Action>) {
        for a in actions {
            assert!(self.close.is_none(), "action after close: {a:?}");
            match a {
                Action::Open(open) => {
                    assert!(!self.opened);
                    self.opened = true;
                    self.roles = open.roles.clone();
                    self.parties = vec![Vec::new(); open.roles.len()];
                }
                Action::Push(b) => {
                    assert!(self.opened && self.end.is_none());
                    assert_eq!(b.len(), self.parties.len());
                    let n = b[0].len();
                    assert!(n > 0);
                    for (p, buf) in self.parties.iter_mut().zip(b) {
                        assert_eq!(buf.len(), n, "unequal party lengths");
                        p.extend(buf);
                    }
                }
                Action::Gap(n) => {
                    assert!(self.opened && self.end.is_none());
                    self.gaps.push(n);
                    for p in &mut self.parties {
                        p.extend(std::iter::repeat_n(f32::NAN, n as usize));
                    }
                }
                Action::End(r) => {
                    assert!(self.opened && self.end.is_none());
                    self.end = Some(r);
                }
                Action::Close(c) => self.close = Some((c.code, c.reason)),
            }
        }
    }

    fn party(&self, role: Role) -> &[f32] {
        let i = self.roles.iter().position(|&r| r == role).expect("role");
        &self.parties[i]
    }
}

fn run(url_token: Option<&str>, messages: &[String]) -> (Session, Outcome) {
    let mut s = Session::new(config(), url_token.map(str::to_owned));
    let mut o = Outcome::default();
    for m in messages {
        let mut out = Vec::new();
        s.on_text(m, &mut out);
        o.apply(out);
    }
    (s, o)
}

fn level(x: i16) -> f32 {
    f32::from(callpulse::degrade::mulaw_decode(mulaw_encode(x))) / 32768.0
}

#[test]
fn happy_path_both_tracks() {
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    let mut seq = 2;
    for i in 0..50u64 {
        msgs.push(media(seq, "inbound", i + 1, i * 20, 1000));
        msgs.push(media(seq + 1, "outbound", i + 1, i * 20, -3000));
        seq += 2;
    }
    msgs.push(stop(seq));
    let (s, o) = run(None, &msgs);
    assert!(s.is_closed());
    assert_eq!(o.roles, vec![Role::Caller, Role::Agent]);
    assert_eq!(o.end, Some(EndReason::Completed));
    assert_eq!(o.close.as_ref().map(|c| c.0), Some(close_code::NORMAL));
    assert!(o.gaps.is_empty());
    assert_eq!(o.party(Role::Caller).len(), 8000);
    assert!(o.party(Role::Caller).iter().all(|&x| x == level(1000)));
    assert!(o.party(Role::Agent).iter().all(|&x| x == level(-3000)));
    let stats = s.stats();
    assert_eq!(stats.media, 100);
    assert_eq!(stats.sequence_holes, 0);
}

#[test]
fn url_token_and_numeric_counters_are_accepted() {
    let start = start_with(
        1,
        r#"["inbound"]"#,
        "{}",
        r#"{"encoding":"audio/x-mulaw","sampleRate":"8000","channels":"1"}"#,
    );
    let m = format!(
        r#"{{"event":"media","sequenceNumber":2,"streamSid":"{SID}","media":{{"track":"inbound","chunk":1,"timestamp":0,"payload":"{}"}}}}"#,
        base64::engine::general_purpose::STANDARD.encode([0xffu8; 160])
    );
    let (_, o) = run(Some(TOKEN), &[connected(), start, m, stop(3)]);
    assert!(o.opened);
    assert_eq!(o.roles, vec![Role::Caller]);
    assert_eq!(o.party(Role::Caller).len(), 160);
    assert_eq!(o.end, Some(EndReason::Completed));
}

#[test]
fn tracks_out_of_order_are_realigned() {
    // The outbound track lags by 100 ms (5 chunks), and inbound chunks 3 and 4 are swapped.
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    let mut seq = 2;
    let mut order: Vec<u64> = (0..20).collect();
    order.swap(2, 3);
    let value = |i: u64| 100 * (i as i16 + 1);
    for k in 0..25u64 {
        if let Some(&i) = order.get(k as usize) {
            msgs.push(media(seq, "inbound", i + 1, i * 20, value(i)));
            seq += 1;
        }
        if k >= 5 {
            let i = k - 5;
            msgs.push(media(seq, "outbound", i + 1, i * 20, -value(i)));
            seq += 1;
        }
    }
    msgs.push(stop(seq));
    let (s, o) = run(None, &msgs);
    assert_eq!(o.end, Some(EndReason::Completed));
    assert!(o.gaps.is_empty());
    let (c, a) = (o.party(Role::Caller), o.party(Role::Agent));
    assert_eq!(c.len(), 20 * 160);
    assert_eq!(a.len(), 20 * 160);
    for i in 0..20u64 {
        let at = (i * 160) as usize;
        assert_eq!(c[at], level(value(i)), "caller chunk {i}");
        assert_eq!(a[at + 159], level(-value(i)), "agent chunk {i}");
    }
    let st = s.stats().align.expect("align stats");
    assert!(st.tracks.iter().all(|(_, t)| t.missing_samples == 0));
}

#[test]
fn a_missing_chunk_in_both_tracks_is_a_gap_of_the_right_length() {
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    let mut seq = 2;
    for i in 0..20u64 {
        if i == 7 || i == 8 {
            seq += 2; // lost: a sequence hole and a timestamp hole
            continue;
        }
        msgs.push(media(seq, "inbound", i + 1, i * 20, 500));
        msgs.push(media(seq + 1, "outbound", i + 1, i * 20, -500));
        seq += 2;
    }
    msgs.push(stop(seq));
    let (s, o) = run(None, &msgs);
    // The gap may be announced in pieces (one per release); the total is what counts.
    assert_eq!(o.gaps.iter().sum::<u64>(), 320);
    let c = o.party(Role::Caller);
    assert_eq!(c.len(), 20 * 160);
    assert!(c[7 * 160..9 * 160].iter().all(|x| x.is_nan()));
    assert!(c[9 * 160..].iter().all(|&x| x == level(500)));
    assert_eq!(s.stats().sequence_holes, 4);
}

#[test]
fn a_chunk_missing_in_one_track_becomes_zeros_there() {
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    let mut seq = 2;
    for i in 0..20u64 {
        if i != 4 {
            msgs.push(media(seq, "inbound", i + 1, i * 20, 500));
        }
        msgs.push(media(seq + 1, "outbound", i + 1, i * 20, -500));
        seq += 2;
    }
    msgs.push(stop(seq));
    let (s, o) = run(None, &msgs);
    assert!(o.gaps.is_empty());
    let c = o.party(Role::Caller);
    assert_eq!(c.len(), 3200);
    assert!(c[4 * 160..5 * 160].iter().all(|&x| x == 0.0));
    assert!(c[5 * 160..].iter().all(|&x| x == level(500)));
    let st = s.stats().align.expect("align stats");
    assert_eq!(st.tracks[0].1.missing_samples, 160);
}

#[test]
fn a_gap_at_the_end_of_one_track_and_late_chunks() {
    // Inbound chunk 2 arrives after the window has passed: it is dropped, counted, and its
    // place is already zeros.
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    let mut seq = 2;
    for i in 0..30u64 {
        if i != 1 {
            msgs.push(media(seq, "inbound", i + 1, i * 20, 500));
        }
        msgs.push(media(seq + 1, "outbound", i + 1, i * 20, -500));
        seq += 2;
    }
    msgs.push(media(seq, "inbound", 2, 20, 500)); // 560 ms late
    msgs.push(media(seq + 1, "inbound", 30, 580, 500)); // duplicate
    msgs.push(stop(seq + 2));
    let (s, o) = run(None, &msgs);
    assert_eq!(o.party(Role::Caller).len(), 30 * 160);
    let st = s.stats().align.expect("align stats");
    assert_eq!(
        st.tracks[0].1.late_chunks + st.tracks[0].1.duplicate_chunks,
        2
    );
    assert_eq!(st.tracks[0].1.missing_samples, 160);
}

#[test]
fn only_one_track_flowing_does_not_hold_the_other_back() {
    // Both tracks announced, only the inbound one flows (e.g. the agent leg is on hold).
    let mut s = Session::new(config(), None);
    let mut o = Outcome::default();
    let mut out = Vec::new();
    s.on_text(&connected(), &mut out);
    s.on_text(&start(1, r#"["inbound","outbound"]"#), &mut out);
    o.apply(std::mem::take(&mut out));
    for i in 0..100u64 {
        s.on_text(&media(i + 2, "inbound", i + 1, i * 20, 700), &mut out);
        o.apply(std::mem::take(&mut out));
        let received = (i + 1) * 160;
        let emitted = o.party(Role::Caller).len() as u64;
        assert!(
            received - emitted <= 1600,
            "held back {} samples",
            received - emitted
        );
    }
    s.on_text(&stop(200), &mut out);
    o.apply(out);
    assert_eq!(o.party(Role::Caller).len(), 16000);
    assert!(o.party(Role::Agent).iter().all(|&x| x == 0.0));
    assert_eq!(o.end, Some(EndReason::Completed));
}

#[test]
fn inbound_only_stream() {
    let mut msgs = vec![connected(), start(1, r#"["inbound"]"#)];
    for i in 0..10u64 {
        msgs.push(media(i + 2, "inbound", i + 1, i * 20, 100));
    }
    msgs.push(stop(12));
    let (_, o) = run(None, &msgs);
    assert_eq!(o.roles, vec![Role::Caller]);
    assert_eq!(o.parties.len(), 1);
    assert_eq!(o.party(Role::Caller).len(), 1600);
}

#[test]
fn wrong_or_missing_token_is_refused_without_a_call() {
    for (url, params) in [
        (None, r#"{"token":"nope"}"#),
        (None, "{}"),
        (Some("nope"), "{}"),
        (Some(""), r#"{"token":""}"#),
    ] {
        let st = start_with(
            1,
            r#"["inbound"]"#,
            params,
            r#"{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}"#,
        );
        let (s, o) = run(url, &[connected(), st, media(2, "inbound", 1, 0, 1)]);
        assert!(!o.opened);
        assert!(s.is_closed());
        let (code, reason) = o.close.expect("closed");
        assert_eq!(code, close_code::POLICY);
        assert!(reason.contains("unauthorized"), "{reason}");
    }
}

#[test]
fn no_configured_token_refuses_everything() {
    let mut s = Session::new(Arc::new(SessionConfig::default()), None);
    let mut out = Vec::new();
    s.on_text(&start(1, r#"["inbound"]"#), &mut out);
    assert!(matches!(&out[..], [Action::Close(c)] if c.code == close_code::POLICY));
}

#[test]
fn unsupported_media_format_is_refused() {
    let st = start_with(
        1,
        r#"["inbound"]"#,
        &format!(r#"{{"token":"{TOKEN}"}}"#),
        r#"{"encoding":"audio/l16","sampleRate":16000,"channels":1}"#,
    );
    let (_, o) = run(None, &[connected(), st]);
    assert!(!o.opened);
    let (code, reason) = o.close.expect("closed");
    assert_eq!(code, close_code::UNSUPPORTED);
    assert!(reason.contains("audio/x-mulaw"), "{reason}");
}

#[test]
fn media_before_start_is_a_protocol_error() {
    let (s, o) = run(None, &[connected(), media(1, "inbound", 1, 0, 1)]);
    assert!(s.is_closed() && !o.opened);
    let (code, reason) = o.close.expect("closed");
    assert_eq!(code, close_code::PROTOCOL);
    assert!(reason.contains("before start"), "{reason}");
}

#[test]
fn malformed_json_ends_the_call_with_a_protocol_error() {
    let mut msgs = vec![connected(), start(1, r#"["inbound","outbound"]"#)];
    msgs.push(media(2, "inbound", 1, 0, 1));
    msgs.push(media(3, "outbound", 1, 0, 1));
    msgs.push(r#"{"event":"media","sequenceNumber":"4","#.to_owned());
    msgs.push(media(5, "inbound", 2, 20, 1));
    let (s, o) = run(None, &msgs);
    assert!(s.is_closed());
    assert!(matches!(&o.end, Some(EndReason::ProtocolError(r)) if r.contains("31951")));
    let code = o.close.as_ref().expect("closed").0;
    assert_eq!(code, close_code::INVALID_PAYLOAD);
    // The audio before the error was delivered.
    assert_eq!(o.party(Role::Caller).len(), 160);
}

#[test]
fn garbage_counters_are_protocol_errors() {
    for bad in [r#""-3""#, r#""3.0""#, r#""three""#, r#""""#, "null"] {
        let m = format!(
            r#"{{"event":"media","sequenceNumber":{bad},"streamSid":"{SID}","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":""}}}}"#
        );
        let (_, o) = run(None, &[connected(), start(1, r#"["inbound"]"#), m]);
        assert!(matches!(&o.end, Some(EndReason::ProtocolError(_))), "{bad}");
    }
}

#[test]
fn huge_message_is_refused() {
    let huge = media_n(2, "inbound", 1, 0, 1, 200_000);
    let (_, o) = run(None, &[connected(), start(1, r#"["inbound"]"#), huge]);
    assert!(matches!(&o.end, Some(EndReason::ProtocolError(_))));
    assert_eq!(o.close.expect("closed").0, close_code::TOO_BIG);
    // A payload over one second but under the message limit is refused as well.
    let big = media_n(2, "inbound", 1, 0, 1, 9000);
    let (_, o) = run(None, &[connected(), start(1, r#"["inbound"]"#), big]);
    assert_eq!(o.close.expect("closed").0, close_code::TOO_BIG);
}

#[test]
fn sequence_numbers_must_increase_and_stream_sid_must_match() {
    let msgs = [
        connected(),
        start(1, r#"["inbound"]"#),
        media(3, "inbound", 1, 0, 1),
        media(3, "inbound", 2, 20, 1),
    ];
    let (_, o) = run(None, &msgs);
    assert!(matches!(&o.end, Some(EndReason::ProtocolError(r)) if r.contains("sequenceNumber")));
    let other = media(2, "inbound", 1, 0, 1).replace(SID, "MZother");
    let (_, o) = run(None, &[connected(), start(1, r#"["inbound"]"#), other]);
    assert!(matches!(&o.end, Some(EndReason::ProtocolError(r)) if r.contains("streamSid")));
    assert_eq!(o.close.expect("closed").0, close_code::PROTOCOL);
}

#[test]
fn marks_dtmf_and_unknown_events_are_ignored() {
    let msgs = [
        connected(),
        start(1, r#"["inbound"]"#),
        format!(
            r#"{{"event":"dtmf","streamSid":"{SID}","sequenceNumber":"2","dtmf":{{"track":"inbound_track","digit":"1"}}}}"#
        ),
        format!(
            r#"{{"event":"mark","sequenceNumber":"3","streamSid":"{SID}","mark":{{"name":"my label"}}}}"#
        ),
        r#"{"event":"futureThing","sequenceNumber":"4"}"#.to_owned(),
        media(5, "inbound", 1, 0, 1),
        stop(6),
    ];
    let (s, o) = run(None, &msgs);
    assert_eq!(o.end, Some(EndReason::Completed));
    let st = s.stats();
    assert_eq!((st.dtmf, st.marks, st.unknown), (1, 1, 1));
}

#[test]
fn stop_flushes_and_ends_completed_disconnect_ends_disconnected() {
    // Stop while the agent track lags: everything buffered is flushed before the end.
    let msgs = [
        connected(),
        start(1, r#"["inbound","outbound"]"#),
        media(2, "inbound", 1, 0, 1),
        media(3, "inbound", 2, 20, 1),
        stop(4),
    ];
    let (_, o) = run(None, &msgs);
    assert_eq!(o.party(Role::Caller).len(), 320);
    assert_eq!(o.end, Some(EndReason::Completed));

    let (mut s, mut o) = run(None, &msgs[..4]);
    let mut out = Vec::new();
    s.on_disconnect(&mut out);
    o.apply(out);
    assert_eq!(o.party(Role::Caller).len(), 320);
    assert_eq!(o.end, Some(EndReason::Disconnected));
    assert!(o.close.is_none());

    let (mut s, mut o) = run(None, &msgs[..4]);
    let mut out = Vec::new();
    s.on_idle(&mut out);
    o.apply(out);
    assert_eq!(o.end, Some(EndReason::Disconnected));
    assert_eq!(o.close.expect("closed").0, close_code::GOING_AWAY);
}

#[test]
fn binary_frames_and_refusals_close_cleanly() {
    let (mut s, mut o) = run(None, &[connected(), start(1, r#"["inbound"]"#)]);
    let mut out = Vec::new();
    s.on_binary(10, &mut out);
    o.apply(out);
    assert!(matches!(&o.end, Some(EndReason::ProtocolError(_))));
    assert_eq!(o.close.expect("closed").0, close_code::UNSUPPORTED);

    let (mut s, o) = run(None, &[connected(), start(1, r#"["inbound"]"#)]);
    assert!(o.opened);
    let mut out = Vec::new();
    s.on_refused(
        &callpulse::server::ingest::Refusal::AtCapacity { max: 4 },
        &mut out,
    );
    assert!(
        matches!(&out[..], [Action::Close(c)] if c.code == close_code::TRY_AGAIN_LATER && c.reason.contains("capacity"))
    );
    let mut out = Vec::new();
    s.on_text(&media(2, "inbound", 1, 0, 1), &mut out);
    s.on_disconnect(&mut out);
    assert!(out.is_empty());
}

#[test]
fn arbitrary_input_never_panics_and_stays_bounded() {
    // A hostile client: random JSON-ish text, timestamps all over the place.
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut s = Session::new(config(), None);
    let mut out = Vec::new();
    s.on_text(&connected(), &mut out);
    s.on_text(&start(1, r#"["inbound","outbound"]"#), &mut out);
    let mut seq = 2;
    for _ in 0..5000 {
        let r = next();
        let track = if r & 1 == 0 { "inbound" } else { "outbound" };
        let ts = (r >> 8) % 20_000;
        let n = ((r >> 40) % 400) as usize;
        s.on_text(&media_n(seq, track, r % 7, ts, 1, n), &mut out);
        seq += 1 + (r >> 60);
        for a in &out {
            if let Action::Push(b) = a {
                // Equal lengths, and never more than one window plus one chunk at once.
                assert!(
                    b.iter()
                        .all(|p| p.len() == b[0].len() && p.len() <= 9600 + 1600)
                );
            }
        }
        out.clear();
        if s.is_closed() {
            break;
        }
    }
    for junk in ["", "{", "[]", "null", r#"{"event":5}"#, "\u{0}"] {
        let mut s = Session::new(config(), None);
        let mut out = Vec::new();
        s.on_text(junk, &mut out);
        assert!(s.is_closed(), "{junk:?}");
    }
}

// ---- Socket level: a real server, a WebSocket client sending what Twilio sends. ----

mod socket {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use callpulse::server::ServerConfig;
    use callpulse::server::floor::Floor;
    use callpulse::server::ingest::EndReason;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    use crate::common::TestServer;

    use super::{SID, TOKEN, connected, media, start, stop};

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn start_server(max_calls: usize) -> TestServer {
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            workers: 1,
            max_calls,
            ..ServerConfig::default()
        };
        config.twilio.tokens = vec![TOKEN.into()];
        TestServer::start(config).await
    }

    async fn connect(addr: SocketAddr, query: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/twilio{query}"))
            .await
            .unwrap();
        ws
    }

    async fn send(ws: &mut Ws, text: &str) {
        ws.send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// The close frame the server sends (code, reason); fails on anything else.
    async fn close_of(ws: &mut Ws) -> (u16, String) {
        let deadline = Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout(deadline, ws.next())
                .await
                .expect("server answers within 10 s");
            match msg {
                Some(Ok(Message::Close(Some(f)))) => {
                    return (u16::from(f.code), f.reason.to_string());
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    async fn finished(
        floor: &Floor,
        external_id: &str,
    ) -> Arc<callpulse::server::floor::FinishedCall> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(f) = floor
                .calls()
                .finished
                .iter()
                .find(|f| f.external_id == external_id)
            {
                return Arc::clone(f);
            }
            assert!(
                Instant::now() < deadline,
                "call {external_id} never finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_over_the_socket_is_analysed_and_completed() {
        let server = start_server(4).await;
        let (addr, floor) = (server.addr, Arc::clone(&server.floor));
        let mut ws = connect(addr, "").await;
        send(&mut ws, &connected()).await;
        send(&mut ws, &start(1, r#"["inbound","outbound"]"#)).await;
        let mut seq = 2;
        for i in 0..100u64 {
            send(&mut ws, &media(seq, "inbound", i + 1, i * 20, 1000)).await;
            send(&mut ws, &media(seq + 1, "outbound", i + 1, i * 20, -1000)).await;
            seq += 2;
        }
        send(&mut ws, &stop(seq)).await;
        assert_eq!(close_of(&mut ws).await.0, 1000);
        let f = finished(&floor, SID).await;
        assert_eq!(f.end_reason, EndReason::Completed);
        assert_eq!(f.label, "CA456");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_token_over_the_socket_is_closed_with_policy_violation() {
        let server = start_server(4).await;
        let (addr, floor) = (server.addr, Arc::clone(&server.floor));
        let mut ws = connect(addr, "?token=wrong").await;
        send(&mut ws, &connected()).await;
        let st = start(1, r#"["inbound"]"#).replace(TOKEN, "wrong");
        send(&mut ws, &st).await;
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1008);
        assert!(reason.contains("unauthorized"), "{reason}");
        assert!(floor.calls().live.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_capacity_is_try_again_later_and_a_vanished_client_is_disconnected() {
        let server = start_server(1).await;
        let (addr, floor) = (server.addr, Arc::clone(&server.floor));
        let mut a = connect(addr, "").await;
        send(&mut a, &connected()).await;
        send(&mut a, &start(1, r#"["inbound"]"#)).await;
        send(&mut a, &media(2, "inbound", 1, 0, 500)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while floor.active() == 0 {
            assert!(Instant::now() < deadline, "first call never opened");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut b = connect(addr, "").await;
        send(&mut b, &connected()).await;
        send(&mut b, &start(1, r#"["inbound"]"#).replace(SID, "MZsecond")).await;
        let (code, reason) = close_of(&mut b).await;
        assert_eq!(code, 1013);
        assert!(reason.contains("capacity"), "{reason}");
        // The first client vanishes without stop.
        drop(a);
        let f = finished(&floor, SID).await;
        assert_eq!(f.end_reason, EndReason::Disconnected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_json_over_the_socket_is_a_protocol_error() {
        let server = start_server(4).await;
        let (addr, floor) = (server.addr, Arc::clone(&server.floor));
        let mut ws = connect(addr, "").await;
        send(&mut ws, &connected()).await;
        send(&mut ws, &start(1, r#"["inbound"]"#)).await;
        send(&mut ws, "{not json").await;
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1007);
        assert!(reason.contains("31951"), "{reason}");
        let f = finished(&floor, SID).await;
        assert!(matches!(f.end_reason, EndReason::ProtocolError(_)));
    }
}
