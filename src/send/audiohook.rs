//! The Genesys Cloud AudioHook v2 client session.
//!
//! One session: the signed upgrade request, `open` with media offers, `opened` (its chosen
//! offer decides the format and the channel order of the binary frames: `external` = caller,
//! `internal` = agent), audio frames at the configured pace, a `ping` 1 s after `opened` and
//! then every ping interval (a ping still unanswered at the next one is a failure), `pause` →
//! `paused` (audio held, nothing discarded) and `resume` → `resumed`, `disconnect` → `close`
//! with reason `disconnect`, and at the end of the audio `close` with reason `end` and the wait
//! for `closed`. Every client message carries `seq` (1, 2, ...), `serverseq` (the last server
//! `seq` seen) and `position` (audio sent so far, ISO-8601 duration).

use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::audio::{CallAudio, Encoding, Party, RATE, encode_interleaved};
use super::signature::{SignatureParams, sign};
use super::{
    ChannelOrder, SendOptions, SessionFailure, SessionReport, Target, connect_failure,
    iso_duration, uuid_v4,
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest text message accepted from the server (the protocol's limit).
const MAX_TEXT: usize = 65_535;
/// Lifetime of the signature (`expires - created`), as Genesys' builder uses.
const SIGNATURE_LIFETIME_S: u64 = 30;
/// Delay of the first ping after `opened` (the platform's habit).
const FIRST_PING: Duration = Duration::from_secs(1);

/// The media offers of `open` for this audio and these options, most preferred first: for a
/// two-party call both channel orders (the configured one first), then each channel alone; for
/// a caller-only call `["external"]`.
pub fn media_offers(audio: &CallAudio, opts: &SendOptions) -> Vec<Value> {
    let offer = |channels: &[&str]| {
        json!({
            "type": "audio",
            "format": opts.format.audiohook_name(),
            "channels": channels,
            "rate": RATE,
        })
    };
    if audio.agent.is_none() {
        return vec![offer(&["external"])];
    }
    if audio.caller.is_none() {
        return vec![offer(&["internal"])];
    }
    let (first, second) = match opts.channel_order {
        ChannelOrder::ExternalFirst => (["external", "internal"], ["internal", "external"]),
        ChannelOrder::InternalFirst => (["internal", "external"], ["external", "internal"]),
    };
    vec![
        offer(&first),
        offer(&second),
        offer(&["external"]),
        offer(&["internal"]),
    ]
}

/// The media the server chose in `opened`: its format and the parties in channel order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenMedia {
    /// The sample encoding.
    pub encoding: Encoding,
    /// The parties, in the order their samples are interleaved.
    pub parties: Vec<Party>,
}

/// Checks `opened.parameters.media` against the offers: exactly one entry, equal (in type,
/// format, channels and rate) to one of them.
///
/// # Errors
/// A [`SessionFailure::Protocol`] saying what is wrong.
pub fn chosen_media(params: &Value, offers: &[Value]) -> Result<ChosenMedia, SessionFailure> {
    let bad = |m: &str| SessionFailure::Protocol {
        message: format!("opened: {m}"),
    };
    let media = params
        .get("media")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no media array"))?;
    let [entry] = media.as_slice() else {
        return Err(bad(&format!(
            "media must hold exactly one entry, got {}",
            media.len()
        )));
    };
    let key = |v: &Value| {
        (
            v.get("type").cloned(),
            v.get("format").cloned(),
            v.get("channels").cloned(),
            v.get("rate").and_then(Value::as_f64),
        )
    };
    if !offers.iter().any(|o| key(o) == key(entry)) {
        return Err(bad(&format!("media {entry} is not one of the offers")));
    }
    let encoding = match entry.get("format").and_then(Value::as_str) {
        Some("PCMU") => Encoding::Pcmu,
        Some("L16") => Encoding::L16,
        other => return Err(bad(&format!("unknown format {other:?}"))),
    };
    let mut parties = Vec::new();
    for ch in entry
        .get("channels")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        parties.push(match ch.as_str() {
            Some("external") => Party::Caller,
            Some("internal") => Party::Agent,
            _ => return Err(bad(&format!("unknown channel {ch}"))),
        });
    }
    if parties.is_empty() {
        return Err(bad("no channels"));
    }
    Ok(ChosenMedia { encoding, parties })
}

/// An ISO-8601 duration of a wall-clock time (for `rtt`).
fn iso_elapsed(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        return format!("PT{}S", d.as_secs());
    }
    let frac = format!("{nanos:09}");
    format!("PT{}.{}S", d.as_secs(), frac.trim_end_matches('0'))
}

/// A message from the server, checked for the envelope.
struct ServerMessage {
    kind: String,
    seq: Option<u64>,
    clientseq: Option<u64>,
    params: Value,
}

/// The client's half of a session: what it sends and the counters it keeps.
struct Client {
    sink: SplitSink<Ws, Message>,
    id: String,
    seq: u64,
    serverseq: u64,
    /// Samples per party sent so far.
    position: u64,
}

impl Client {
    async fn send(&mut self, kind: &str, parameters: Value) -> Result<u64, SessionFailure> {
        self.seq += 1;
        let msg = json!({
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "serverseq": self.serverseq,
            "id": self.id,
            "position": iso_duration(self.position),
            "parameters": parameters,
        });
        self.sink
            .send(Message::text(msg.to_string()))
            .await
            .map_err(|e| SessionFailure::Connect {
                message: format!("sending {kind}: {e}"),
            })?;
        Ok(self.seq)
    }

    /// Best effort after a failure: `error` then `close` with reason `error`.
    async fn abort(&mut self, code: u16, message: &str) {
        let _ = self
            .send("error", json!({"code": code, "message": message}))
            .await;
        let _ = self.send("close", json!({"reason": "error"})).await;
        let _ = self.sink.send(Message::Close(None)).await;
    }
}

/// Reads the next control message, skipping WebSocket pings and pongs.
async fn recv(
    stream: &mut SplitStream<Ws>,
    client: &mut Client,
) -> Result<ServerMessage, SessionFailure> {
    loop {
        let msg = match stream.next().await {
            None => {
                return Err(SessionFailure::Closed {
                    code: None,
                    reason: String::new(),
                });
            }
            Some(Err(e)) => {
                return Err(SessionFailure::Connect {
                    message: e.to_string(),
                });
            }
            Some(Ok(m)) => m,
        };
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(frame) => {
                return Err(SessionFailure::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                });
            }
            Message::Binary(_) => {
                return Err(SessionFailure::Protocol {
                    message: "the server sent a binary message".into(),
                });
            }
            _ => continue,
        };
        if text.len() > MAX_TEXT {
            return Err(SessionFailure::Protocol {
                message: format!("text message of {} bytes (limit {MAX_TEXT})", text.len()),
            });
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| SessionFailure::Protocol {
            message: format!("not JSON: {e}"),
        })?;
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| SessionFailure::Protocol {
                message: "a message without a type".into(),
            })?
            .to_string();
        if let Some(id) = value.get("id").and_then(Value::as_str)
            && id != client.id
        {
            return Err(SessionFailure::Protocol {
                message: format!("{kind} for session {id}, not {}", client.id),
            });
        }
        let seq = value.get("seq").and_then(Value::as_u64);
        if let Some(s) = seq {
            client.serverseq = s;
        }
        return Ok(ServerMessage {
            kind,
            seq,
            clientseq: value.get("clientseq").and_then(Value::as_u64),
            params: value.get("parameters").cloned().unwrap_or(Value::Null),
        });
    }
}

/// Builds the upgrade request: headers, and the signature when there is a secret.
fn request(
    target: &Target,
    opts: &SendOptions,
    session_id: &str,
    correlation_id: &str,
    secret: Option<&[u8]>,
) -> Result<tungstenite::handshake::client::Request, SessionFailure> {
    let bad = |e: &dyn std::fmt::Display| SessionFailure::Connect {
        message: format!("cannot build the request: {e}"),
    };
    let mut req = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| bad(&e))?;
    let mut headers: Vec<(&str, String)> = vec![
        ("audiohook-organization-id", opts.org_id.clone()),
        ("audiohook-session-id", session_id.to_string()),
        ("audiohook-correlation-id", correlation_id.to_string()),
        ("x-api-key", opts.api_key.clone()),
    ];
    if let Some(key) = secret {
        let mut components: Vec<(&str, &str)> = vec![
            ("@request-target", &target.request_target),
            ("@authority", &target.authority),
        ];
        components.extend(headers.iter().map(|(n, v)| (*n, v.as_str())));
        let params = SignatureParams::now(&opts.api_key, SIGNATURE_LIFETIME_S);
        let sig = sign(&components, &params, key);
        headers.push(("signature-input", sig.signature_input));
        headers.push(("signature", sig.signature));
    }
    for (name, value) in headers {
        let value = HeaderValue::from_str(&value).map_err(|e| bad(&e))?;
        req.headers_mut().insert(name, value);
    }
    Ok(req)
}

/// Runs one session; never fails: the outcome is in the report.
pub(crate) async fn run_session(
    index: usize,
    target: &Target,
    audio: &CallAudio,
    opts: &SendOptions,
    secret: Option<&[u8]>,
) -> SessionReport {
    let session_id = uuid_v4();
    let mut report = SessionReport::new(index, session_id.clone());
    let started = Instant::now();
    if let Err(f) = session(&mut report, target, audio, opts, secret).await {
        tracing::info!(session = %report.session_id, "session failed: {f}");
        report.failure = Some(f);
    }
    report.duration_s = started.elapsed().as_secs_f64();
    report
}

async fn session(
    report: &mut SessionReport,
    target: &Target,
    audio: &CallAudio,
    opts: &SendOptions,
    secret: Option<&[u8]>,
) -> Result<(), SessionFailure> {
    let correlation_id = uuid_v4();
    let req = request(target, opts, &report.session_id, &correlation_id, secret)?;
    let t0 = Instant::now();
    let timeout = |what: &str| SessionFailure::Timeout {
        waiting_for: what.to_string(),
    };
    let (ws, _response) =
        tokio::time::timeout(opts.open_timeout, tokio_tungstenite::connect_async(req))
            .await
            .map_err(|_| timeout("upgrade"))?
            .map_err(connect_failure)?;
    let (sink, mut stream) = ws.split();
    let mut client = Client {
        sink,
        id: report.session_id.clone(),
        seq: 0,
        serverseq: 0,
        position: 0,
    };

    let offers = media_offers(audio, opts);
    let mut open = json!({
        "organizationId": opts.org_id,
        "conversationId": opts.conversation_id.clone().unwrap_or_else(uuid_v4),
        "participant": {
            "id": uuid_v4(),
            "ani": "+13175550100",
            "aniName": "callpulse send",
            "dnis": "+18005550199",
        },
        "media": offers,
    });
    if let (Some(lang), Some(obj)) = (&opts.language, open.as_object_mut()) {
        obj.insert("language".into(), json!(lang));
    }
    client.send("open", open).await?;

    // Wait for `opened`.
    let deadline = tokio::time::Instant::now() + opts.open_timeout;
    let opened = loop {
        let msg = tokio::time::timeout_at(deadline, recv(&mut stream, &mut client))
            .await
            .map_err(|_| timeout("opened"))??;
        match msg.kind.as_str() {
            "opened" => break msg,
            "disconnect" => {
                return disconnected(report, &mut client, &mut stream, opts, &msg).await;
            }
            "event" | "pong" | "updated" => {}
            other => {
                let m = format!("unexpected {other} before opened");
                client.abort(409, &m).await;
                return Err(SessionFailure::Protocol { message: m });
            }
        }
    };
    report.opened_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
    let media = match chosen_media(&opened.params, &offers) {
        Ok(m) => m,
        Err(f) => {
            client.abort(400, &f.to_string()).await;
            return Err(f);
        }
    };
    let mut paused = opened
        .params
        .get("startPaused")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    tracing::info!(session = %report.session_id, seq = ?opened.seq, "opened");

    // Stream.
    let total = audio.len() as u64;
    let frame_samples = (opts.frame.as_micros() as u64 * u64::from(RATE) / 1_000_000).max(1);
    let mut origin = tokio::time::Instant::now();
    let mut ping_at = origin + FIRST_PING.min(opts.ping_interval);
    let mut pending_ping: Option<(u64, Instant)> = None;
    let mut last_rtt: Option<Duration> = None;
    let mut buf = Vec::new();
    while client.position < total || paused {
        let send_at = opts
            .pace(client.position as f64 / f64::from(RATE))
            .map_or_else(tokio::time::Instant::now, |d| origin + d);
        tokio::select! {
            biased;
            msg = recv(&mut stream, &mut client) => {
                let msg = msg?;
                match msg.kind.as_str() {
                    "pong" => {
                        if let Some((seq, at)) = pending_ping
                            && msg.clientseq.is_none_or(|c| c >= seq)
                        {
                            let rtt = at.elapsed();
                            report.ping_rtt_ms.push(rtt.as_secs_f64() * 1000.0);
                            last_rtt = Some(rtt);
                            pending_ping = None;
                        }
                    }
                    "pause" => {
                        if !paused {
                            paused = true;
                            client.send("paused", json!({})).await?;
                        }
                    }
                    "resume" => {
                        if paused {
                            paused = false;
                            let start = iso_duration(client.position);
                            client
                                .send("resumed", json!({"start": start, "discarded": "PT0S"}))
                                .await?;
                            origin = tokio::time::Instant::now()
                                - opts
                                    .pace(client.position as f64 / f64::from(RATE))
                                    .unwrap_or_default();
                        }
                    }
                    "disconnect" => {
                        return disconnected(report, &mut client, &mut stream, opts, &msg).await;
                    }
                    "event" | "updated" | "reconnect" => {}
                    other => {
                        let m = format!("unexpected {other} while streaming");
                        client.abort(409, &m).await;
                        return Err(SessionFailure::Protocol { message: m });
                    }
                }
            }
            () = tokio::time::sleep_until(ping_at) => {
                if pending_ping.is_some() {
                    client.abort(408, "Timeout waiting for pong").await;
                    return Err(timeout("pong"));
                }
                let params = last_rtt.map_or_else(|| json!({}), |r| json!({"rtt": iso_elapsed(r)}));
                let seq = client.send("ping", params).await?;
                pending_ping = Some((seq, Instant::now()));
                ping_at += opts.ping_interval;
            }
            () = tokio::time::sleep_until(send_at), if !paused && client.position < total => {
                let start = client.position as usize;
                let end = (client.position + frame_samples).min(total) as usize;
                buf.clear();
                encode_interleaved(audio, &media.parties, start, end, media.encoding, &mut buf);
                let bytes = buf.len() as u64;
                client
                    .sink
                    .send(Message::binary(std::mem::take(&mut buf)))
                    .await
                    .map_err(|e| SessionFailure::Connect { message: format!("sending audio: {e}") })?;
                client.position = end as u64;
                report.bytes_sent += bytes;
                report.frames_sent += 1;
                report.audio_s = client.position as f64 / f64::from(RATE);
            }
        }
    }

    // Close transaction.
    client.send("close", json!({"reason": "end"})).await?;
    let deadline = tokio::time::Instant::now() + opts.close_timeout;
    loop {
        let msg = tokio::time::timeout_at(deadline, recv(&mut stream, &mut client))
            .await
            .map_err(|_| timeout("closed"))??;
        match msg.kind.as_str() {
            "closed" => break,
            "disconnect" => {
                return disconnected(report, &mut client, &mut stream, opts, &msg).await;
            }
            _ => {}
        }
    }
    finish(&mut client, &mut stream).await;
    Ok(())
}

/// The server sent `disconnect`: answer with `close` (reason `disconnect`), wait briefly for
/// `closed`, and report. Reason `completed` is a normal end.
async fn disconnected(
    report: &mut SessionReport,
    client: &mut Client,
    stream: &mut SplitStream<Ws>,
    opts: &SendOptions,
    msg: &ServerMessage,
) -> Result<(), SessionFailure> {
    let reason = msg
        .params
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("(none)")
        .to_string();
    let info = msg
        .params
        .get("info")
        .and_then(Value::as_str)
        .map(str::to_string);
    if client
        .send("close", json!({"reason": "disconnect"}))
        .await
        .is_ok()
    {
        let _ = tokio::time::timeout(opts.close_timeout, async {
            while let Ok(m) = recv(stream, client).await {
                if m.kind == "closed" {
                    break;
                }
            }
        })
        .await;
    }
    finish(client, stream).await;
    if reason == "completed" {
        report.server_reason = Some(reason);
        Ok(())
    } else {
        Err(SessionFailure::Disconnected { reason, info })
    }
}

/// Closes the WebSocket and drains it briefly so the server sees a clean close.
async fn finish(client: &mut Client, stream: &mut SplitStream<Ws>) {
    let _ = client.sink.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stereo() -> CallAudio {
        CallAudio::from_samples(Some(vec![0; 8]), Some(vec![0; 8]))
    }

    #[test]
    fn offers_follow_the_order_and_the_format() {
        let opts = SendOptions {
            channel_order: ChannelOrder::InternalFirst,
            format: Encoding::L16,
            ..SendOptions::default()
        };
        let offers = media_offers(&stereo(), &opts);
        assert_eq!(offers.len(), 4);
        assert_eq!(offers[0]["channels"], json!(["internal", "external"]));
        assert_eq!(offers[0]["format"], "L16");
        assert_eq!(offers[0]["rate"], 8000);
        let mono = CallAudio::from_samples(None, Some(vec![0; 8]));
        assert_eq!(
            media_offers(&mono, &opts)[0]["channels"],
            json!(["external"])
        );
    }

    #[test]
    fn chosen_media_is_checked() {
        let offers = media_offers(&stereo(), &SendOptions::default());
        let chosen = chosen_media(&json!({"media": [offers[1].clone()]}), &offers).expect("ok");
        assert_eq!(chosen.parties, vec![Party::Agent, Party::Caller]);
        assert_eq!(chosen.encoding, Encoding::Pcmu);
        assert!(chosen_media(&json!({"media": []}), &offers).is_err());
        assert!(chosen_media(&json!({"media": offers.clone()}), &offers).is_err());
        let mut other = offers[0].clone();
        other["rate"] = json!(16000);
        assert!(chosen_media(&json!({"media": [other]}), &offers).is_err());
        assert!(chosen_media(&json!("nonsense"), &offers).is_err());
    }

    #[test]
    fn rtt_durations() {
        assert_eq!(iso_elapsed(Duration::from_millis(1500)), "PT1.5S");
        assert_eq!(iso_elapsed(Duration::from_secs(2)), "PT2S");
    }
}
