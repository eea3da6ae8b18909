//! The Twilio Media Streams client session (`<Start><Stream track="both_tracks">`).
//!
//! JSON text messages only: `connected`, `start` (`sequenceNumber` "1"), then one `media`
//! message per track per 20 ms (inbound = caller, then outbound = agent, same `timestamp`),
//! each with its track's `chunk` (1, 2, ...), `timestamp` (ms since the start of the stream)
//! and a base64 μ-law `payload` of 160 bytes; `stop` last. `sequenceNumber` counts every
//! message after `connected`. All counters are strings, as Twilio sends them. A caller-only
//! call streams the inbound track alone.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::audio::{CallAudio, Encoding, Party, RATE, encode_interleaved};
use super::{SendOptions, SessionFailure, SessionReport, Target, connect_failure};

/// Samples per `media` message (20 ms at 8 kHz).
pub const CHUNK_SAMPLES: usize = 160;

/// A Twilio-style SID: two letters and 32 hex digits.
pub fn sid(prefix: &str) -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}{hex}")
}

/// `url` with `token=<token>` added to its query (percent-encoded).
fn with_token(url: &str, token: &str) -> String {
    let mut enc = String::new();
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}token={enc}")
}

/// Runs one session; never fails: the outcome is in the report.
pub(crate) async fn run_session(
    index: usize,
    target: &Target,
    audio: &CallAudio,
    opts: &SendOptions,
) -> SessionReport {
    let stream_sid = sid("MZ");
    let mut report = SessionReport::new(index, stream_sid.clone());
    let started = Instant::now();
    if let Err(f) = session(&mut report, target, audio, opts, &stream_sid).await {
        tracing::info!(session = %stream_sid, "session failed: {f}");
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
    stream_sid: &str,
) -> Result<(), SessionFailure> {
    let url = match &opts.token {
        Some(t) => with_token(&target.url, t),
        None => target.url.clone(),
    };
    let t0 = Instant::now();
    let (ws, _response) =
        tokio::time::timeout(opts.open_timeout, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| SessionFailure::Timeout {
                waiting_for: "upgrade".into(),
            })?
            .map_err(connect_failure)?;
    report.opened_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
    let (mut sink, mut stream) = ws.split();
    let send_failed = |e: tokio_tungstenite::tungstenite::Error| SessionFailure::Connect {
        message: format!("sending: {e}"),
    };

    let account_sid = sid("AC");
    let call_sid = sid("CA");
    let mut tracks: Vec<(&str, Party)> = Vec::new();
    if audio.caller.is_some() {
        tracks.push(("inbound", Party::Caller));
    }
    if audio.agent.is_some() {
        tracks.push(("outbound", Party::Agent));
    }
    let mut custom = serde_json::Map::new();
    if let Some(t) = &opts.token {
        custom.insert("token".into(), json!(t));
    }
    let mut seq: u64 = 0;
    let mut next_seq = || {
        seq += 1;
        seq.to_string()
    };
    let messages = [
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json!({
            "event": "start",
            "sequenceNumber": next_seq(),
            "start": {
                "accountSid": account_sid,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": tracks.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                "customParameters": custom,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
            },
            "streamSid": stream_sid,
        }),
    ];
    for m in messages {
        sink.send(Message::text(m.to_string()))
            .await
            .map_err(send_failed)?;
    }

    let total = audio.len();
    let origin = tokio::time::Instant::now();
    let mut chunk: u64 = 0;
    let mut pos = 0usize;
    let mut payload = Vec::with_capacity(CHUNK_SAMPLES);
    while pos < total {
        let send_at = opts
            .pace(pos as f64 / f64::from(RATE))
            .map_or_else(tokio::time::Instant::now, |d| origin + d);
        tokio::select! {
            biased;
            msg = stream.next() => match msg {
                None => return Err(SessionFailure::Closed { code: None, reason: String::new() }),
                Some(Err(e)) => return Err(SessionFailure::Connect { message: e.to_string() }),
                Some(Ok(Message::Close(frame))) => {
                    return Err(SessionFailure::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    });
                }
                // Bidirectional servers may send `media`, `mark` or `clear`: not ours to act on.
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep_until(send_at) => {
                let end = (pos + CHUNK_SAMPLES).min(total);
                chunk += 1;
                let timestamp = (pos as u64 * 1000 / u64::from(RATE)).to_string();
                let chunk_text = chunk.to_string();
                // One message per track, written together (one flush): a load test runs
                // hundreds of these senders beside the server.
                for (name, party) in &tracks {
                    payload.clear();
                    encode_interleaved(audio, &[*party], pos, end, Encoding::Pcmu, &mut payload);
                    // Written directly: every field is digits, a fixed name, hex or base64,
                    // nothing to escape (and no JSON tree to build 50 times a second).
                    let text = format!(
                        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"{name}","chunk":"{chunk_text}","timestamp":"{timestamp}","payload":"{}"}},"streamSid":"{stream_sid}"}}"#,
                        next_seq(),
                        STANDARD.encode(&payload),
                    );
                    sink.feed(Message::text(text)).await.map_err(send_failed)?;
                    report.bytes_sent += payload.len() as u64;
                    report.frames_sent += 1;
                }
                sink.flush().await.map_err(send_failed)?;
                pos = end;
                report.audio_s = pos as f64 / f64::from(RATE);
            }
        }
    }
    let stop = json!({
        "event": "stop",
        "sequenceNumber": next_seq(),
        "streamSid": stream_sid,
        "stop": {"accountSid": account_sid, "callSid": call_sid},
    });
    sink.send(Message::text(stop.to_string()))
        .await
        .map_err(send_failed)?;
    let _ = sink.send(Message::Close(None)).await;
    // Let the server see the close; its answer (or silence) does not change the outcome.
    let _ = tokio::time::timeout(opts.close_timeout, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    Ok(())
}

/// Parses a `media` message's counters and payload (for tests and tools): `(track, chunk,
/// timestamp ms, μ-law bytes)`, or `None` if it is not a well-formed `media` message.
pub fn parse_media(message: &Value) -> Option<(String, u64, u64, Vec<u8>)> {
    if message.get("event")?.as_str()? != "media" {
        return None;
    }
    let media = message.get("media")?;
    let track = media.get("track")?.as_str()?.to_string();
    let chunk = media.get("chunk")?.as_str()?.parse().ok()?;
    let timestamp = media.get("timestamp")?.as_str()?.parse().ok()?;
    let payload = STANDARD.decode(media.get("payload")?.as_str()?).ok()?;
    Some((track, chunk, timestamp, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_and_tokens() {
        let s = sid("MZ");
        assert_eq!(s.len(), 34);
        assert!(s.starts_with("MZ"));
        assert_eq!(
            with_token("ws://h/twilio", "a b&c"),
            "ws://h/twilio?token=a%20b%26c"
        );
        assert_eq!(with_token("ws://h/t?x=1", "t"), "ws://h/t?x=1&token=t");
    }

    #[test]
    fn media_parses() {
        let m = json!({"event": "media", "media": {"track": "inbound", "chunk": "3",
            "timestamp": "40", "payload": STANDARD.encode([1u8, 2])}});
        assert_eq!(parse_media(&m), Some(("inbound".into(), 3, 40, vec![1, 2])));
        assert_eq!(parse_media(&json!({"event": "stop"})), None);
    }
}
