//! The Media Streams state machine, independent of any transport.
//!
//! A [`Session`] takes what arrives on the socket ([`Session::on_text`], [`Session::on_binary`])
//! and what happens to it ([`Session::on_refused`], [`Session::on_idle`],
//! [`Session::on_disconnect`], [`Session::on_shutdown`]) and answers with [`Action`]s for the
//! transport to carry out in order: open the call, push audio, announce gaps, end the call,
//! close the socket. It never blocks and never panics; tests drive it with hand-built JSON.
//!
//! ```text
//! AwaitConnected ──connected──► AwaitStart ──start (token, format ok)──► Streaming ──stop──► Closed
//!        └──────────── start ─────────┘          media/mark/dtmf ◄──┘   any error ──► Closed
//! ```
//!
//! * `start` is authenticated with a token from `customParameters.token` or the URL's
//!   `?token=`, compared in constant time with every configured token. No configured token
//!   means no stream is accepted (fail closed).
//! * The media format must be `audio/x-mulaw`, 8000 Hz, mono.
//! * Sequence numbers must increase (holes are counted, not errors); every message after
//!   `start` must carry the stream's SID; `media` before `start`, malformed JSON (Twilio's
//!   error 31951), a binary frame or a broken timestamp are protocol errors: the call ends with
//!   [`EndReason::ProtocolError`] and the socket is closed with a reason.
//! * `mark` and `dtmf` are counted and logged at debug level; unknown events are ignored.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::role::Role;
use crate::server::http::constant_time_eq;
use crate::server::ingest::{CallOpen, EndReason, Protocol, Refusal};

use super::align::{AlignConfig, AlignStats, Aligned, Aligner, PushOutcome};
use super::message::{self, Message, MessageError, Start, Track};

/// WebSocket close codes used by the session (RFC 6455 §7.4.1, IANA registry).
pub mod close_code {
    /// Normal closure: the stream stopped.
    pub const NORMAL: u16 = 1000;
    /// Going away: idle timeout or server shutdown.
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error: out-of-order sequence, wrong stream, media before start.
    pub const PROTOCOL: u16 = 1002;
    /// Unsupported data: a binary frame or an unsupported media format.
    pub const UNSUPPORTED: u16 = 1003;
    /// Invalid payload data: malformed JSON (Twilio error 31951).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: authentication failed.
    pub const POLICY: u16 = 1008;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
    /// Internal error.
    pub const INTERNAL: u16 = 1011;
    /// Try again later: the server is at capacity.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Longest close reason allowed by WebSocket (control frame of 125 bytes minus the code).
pub const MAX_CLOSE_REASON: usize = 123;

/// The session's configuration.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Tokens that authenticate a stream. Empty: every stream is refused.
    pub tokens: Vec<String>,
    /// The role of the `inbound` track (the caller by default).
    pub inbound: Role,
    /// The role of the `outbound` track (the agent by default).
    pub outbound: Role,
    /// The jitter buffer.
    pub align: AlignConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            inbound: Role::Caller,
            outbound: Role::Agent,
            align: AlignConfig::default(),
        }
    }
}

impl SessionConfig {
    /// The role of `track`.
    pub fn role(&self, track: Track) -> Role {
        match track {
            Track::Inbound => self.inbound,
            Track::Outbound => self.outbound,
        }
    }
}

/// A close frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close code (see [`close_code`]).
    pub code: u16,
    /// Why, at most [`MAX_CLOSE_REASON`] bytes.
    pub reason: String,
}

impl Close {
    fn new(code: u16, reason: &str) -> Self {
        let mut cut = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        Self {
            code,
            reason: reason[..cut].to_owned(),
        }
    }
}

/// What the transport must do, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Open the call (`Floor::open_call`); on refusal call [`Session::on_refused`].
    Open(CallOpen),
    /// Push aligned audio: one buffer per party in the order of [`CallOpen::roles`].
    Push(Vec<Vec<f32>>),
    /// Announce this many frames of missing audio.
    Gap(u64),
    /// End the call.
    End(EndReason),
    /// Close the socket with this frame (after which nothing more is sent).
    Close(Close),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitConnected,
    AwaitStart,
    Streaming,
    Closed,
}

/// Counters of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Text messages received.
    pub messages: u64,
    /// `media` messages received.
    pub media: u64,
    /// `mark` messages.
    pub marks: u64,
    /// `dtmf` messages.
    pub dtmf: u64,
    /// Messages with an unknown event.
    pub unknown: u64,
    /// Sequence numbers skipped (messages Twilio numbered but we never saw).
    pub sequence_holes: u64,
    /// The aligner's counters (once streaming).
    pub align: Option<AlignStats>,
}

/// One Media Stream (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use callpulse::server::twilio::session::{Action, Session, SessionConfig};
///
/// let cfg = SessionConfig { tokens: vec!["s3cret".into()], ..SessionConfig::default() };
/// let mut s = Session::new(Arc::new(cfg), Some("s3cret".into()));
/// let mut out = Vec::new();
/// s.on_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#, &mut out);
/// s.on_text(r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{
///     "accountSid":"AC1","callSid":"CA1","streamSid":"MZ1","tracks":["inbound"],
///     "customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,
///     "channels":1}}}"#, &mut out);
/// assert!(matches!(&out[0], Action::Open(open) if open.external_id == "MZ1"));
/// ```
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    url_token: Option<String>,
    state: State,
    last_seq: Option<u64>,
    stream_sid: Option<String>,
    aligner: Option<Aligner>,
    aligned: Vec<Aligned>,
    stats: SessionStats,
}

/// Compares `candidate` with every token in constant time (SHA-256 digests compared with a
/// fold of XORs, so neither the content nor the length of a token leaks through timing).
fn token_matches(tokens: &[String], candidate: &str) -> bool {
    let c = Sha256::digest(candidate.as_bytes());
    let mut any = 0u8;
    for t in tokens {
        let d = Sha256::digest(t.as_bytes());
        any |= u8::from(constant_time_eq(&c, &d));
    }
    any == 1
}

impl Session {
    /// A new session. `url_token` is the `token` of the upgrade request's query, if any.
    pub fn new(config: Arc<SessionConfig>, url_token: Option<String>) -> Self {
        Self {
            config,
            url_token,
            state: State::AwaitConnected,
            last_seq: None,
            stream_sid: None,
            aligner: None,
            aligned: Vec::new(),
            stats: SessionStats::default(),
        }
    }

    /// Whether the session is over (the socket is to be or has been closed).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The stream SID once `start` arrived.
    pub fn stream_sid(&self) -> Option<&str> {
        self.stream_sid.as_deref()
    }

    /// The counters so far.
    pub fn stats(&self) -> SessionStats {
        let mut s = self.stats.clone();
        s.align = self.aligner.as_ref().map(Aligner::stats);
        s
    }

    /// Handles one text frame.
    pub fn on_text(&mut self, text: &str, out: &mut Vec<Action>) {
        if self.is_closed() {
            return;
        }
        self.stats.messages += 1;
        let msg = match message::parse(text) {
            Ok(m) => m,
            Err(e) => {
                let code = match e {
                    MessageError::TooLarge { .. }
                    | MessageError::PayloadTooLarge { .. }
                    | MessageError::FieldTooLarge { .. } => close_code::TOO_BIG,
                    _ => close_code::INVALID_PAYLOAD,
                };
                self.fail(code, &format!("31951 malformed message: {e}"), out);
                return;
            }
        };
        if let Some(seq) = msg.sequence_number() {
            let seq = seq.0;
            if let Some(last) = self.last_seq {
                if seq <= last {
                    self.fail(
                        close_code::PROTOCOL,
                        &format!("sequenceNumber {seq} after {last}: must increase"),
                        out,
                    );
                    return;
                }
                self.stats.sequence_holes += seq - last - 1;
            }
            self.last_seq = Some(seq);
        }
        if let (Some(expected), Some(got)) = (&self.stream_sid, msg.stream_sid()) {
            if expected != got {
                let reason = format!("streamSid {got:?} is not this stream's");
                self.fail(close_code::PROTOCOL, &reason, out);
                return;
            }
        }
        match msg {
            Message::Connected(c) => {
                if self.state == State::AwaitConnected {
                    tracing::debug!(protocol = %c.protocol, version = %c.version, "connected");
                    self.state = State::AwaitStart;
                }
            }
            Message::Start(start) => {
                if self.state == State::Streaming {
                    self.fail(close_code::PROTOCOL, "a second start message", out);
                } else {
                    self.start(&start, out);
                }
            }
            Message::Media(m) => {
                self.stats.media += 1;
                if self.state != State::Streaming {
                    self.fail(close_code::PROTOCOL, "media before start", out);
                    return;
                }
                let Some(aligner) = self.aligner.as_mut() else {
                    self.fail(close_code::INTERNAL, "no aligner", out);
                    return;
                };
                let pushed = aligner.push(
                    m.track,
                    m.chunk.0,
                    m.timestamp.0,
                    &m.payload,
                    &mut self.aligned,
                );
                match pushed {
                    Ok(PushOutcome::Accepted | PushOutcome::Empty) => {}
                    Ok(outcome) => {
                        tracing::trace!(track = %m.track, chunk = m.chunk.0, ?outcome, "chunk dropped");
                    }
                    Err(e) => {
                        self.drain(out);
                        self.fail(close_code::PROTOCOL, &e.to_string(), out);
                        return;
                    }
                }
                self.drain(out);
            }
            Message::Mark(m) => {
                self.stats.marks += 1;
                tracing::debug!(name = ?m.mark.map(|k| k.name), "mark");
            }
            Message::Dtmf(d) => {
                self.stats.dtmf += 1;
                tracing::debug!(digit = ?d.dtmf.map(|k| k.digit), "dtmf");
            }
            Message::Stop(_) => {
                if self.state == State::Streaming {
                    self.finish(EndReason::Completed, out);
                    out.push(Action::Close(Close::new(
                        close_code::NORMAL,
                        "stream stopped",
                    )));
                } else {
                    out.push(Action::Close(Close::new(
                        close_code::NORMAL,
                        "stream stopped before start",
                    )));
                }
                self.state = State::Closed;
            }
            Message::Other { event } => {
                self.stats.unknown += 1;
                tracing::debug!(%event, "unknown event ignored");
            }
        }
    }

    /// Handles a binary frame: Twilio sends none, so it is a protocol error.
    pub fn on_binary(&mut self, len: usize, out: &mut Vec<Action>) {
        if !self.is_closed() {
            let reason = format!("unexpected binary frame of {len} bytes");
            self.fail(close_code::UNSUPPORTED, &reason, out);
        }
    }

    /// The WebSocket layer failed (for example a message over its size limit): end the call
    /// with a protocol error and try to close.
    pub fn on_transport_error(&mut self, detail: &str, out: &mut Vec<Action>) {
        if !self.is_closed() {
            self.fail(close_code::PROTOCOL, detail, out);
        }
    }

    /// The call of the last [`Action::Open`] was refused: close the socket with the reason
    /// (1013 "try again later" when the server is full or overloaded).
    pub fn on_refused(&mut self, refusal: &Refusal, out: &mut Vec<Action>) {
        let code = match refusal {
            Refusal::AtCapacity { .. } | Refusal::Overloaded => close_code::TRY_AGAIN_LATER,
            Refusal::ShuttingDown => close_code::GOING_AWAY,
            Refusal::Duplicate(_) | Refusal::Invalid(_) => close_code::POLICY,
        };
        self.aligner = None;
        self.state = State::Closed;
        out.push(Action::Close(Close::new(
            code,
            &format!("call refused: {refusal}"),
        )));
    }

    /// Nothing arrived for the idle timeout: end the call as disconnected and close.
    pub fn on_idle(&mut self, out: &mut Vec<Action>) {
        if !self.is_closed() {
            self.finish(EndReason::Disconnected, out);
            self.state = State::Closed;
            out.push(Action::Close(Close::new(
                close_code::GOING_AWAY,
                "idle timeout: no message received",
            )));
        }
    }

    /// The client went away (socket closed or failed without `stop`): end the call as
    /// disconnected. No close frame is produced.
    pub fn on_disconnect(&mut self, out: &mut Vec<Action>) {
        if !self.is_closed() {
            self.finish(EndReason::Disconnected, out);
            self.state = State::Closed;
        }
    }

    /// The server is shutting down: end the call and close.
    pub fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        if !self.is_closed() {
            self.finish(EndReason::Shutdown, out);
            self.state = State::Closed;
            out.push(Action::Close(Close::new(
                close_code::GOING_AWAY,
                "server shutting down",
            )));
        }
    }

    fn start(&mut self, start: &Start, out: &mut Vec<Action>) {
        let info = &start.start;
        if start.stream_sid.is_empty() {
            self.fail(close_code::PROTOCOL, "start without a streamSid", out);
            return;
        }
        if info
            .stream_sid
            .as_deref()
            .is_some_and(|s| s != start.stream_sid)
        {
            self.fail(close_code::PROTOCOL, "start.streamSid differs", out);
            return;
        }
        let token = info.custom_parameters.get("token");
        let ok = [token, self.url_token.as_ref()]
            .into_iter()
            .flatten()
            .fold(false, |ok, t| ok | token_matches(&self.config.tokens, t));
        if !ok {
            let reason = if token.is_none() && self.url_token.is_none() {
                "unauthorized: no token (customParameters.token or ?token=)"
            } else {
                "unauthorized: invalid token"
            };
            tracing::warn!(stream_sid = %start.stream_sid, "{reason}");
            self.fail(close_code::POLICY, reason, out);
            return;
        }
        let f = &info.media_format;
        if !f.encoding.eq_ignore_ascii_case("audio/x-mulaw")
            || f.sample_rate.0 != 8000
            || f.channels.0 != 1
        {
            let reason = format!(
                "unsupported media format {} {} Hz {} ch: audio/x-mulaw 8000 Hz mono only",
                f.encoding, f.sample_rate.0, f.channels.0
            );
            self.fail(close_code::UNSUPPORTED, &reason, out);
            return;
        }
        let mut tracks: Vec<Track> = Vec::with_capacity(2);
        for &t in &info.tracks {
            if !tracks.contains(&t) {
                tracks.push(t);
            }
        }
        tracks.sort();
        if tracks.is_empty() {
            self.fail(close_code::PROTOCOL, "start without tracks", out);
            return;
        }
        let roles: Vec<Role> = tracks.iter().map(|&t| self.config.role(t)).collect();
        let params: BTreeMap<&String, &String> = info
            .custom_parameters
            .iter()
            .filter(|(k, _)| k.as_str() != "token")
            .collect();
        let meta = serde_json::json!({
            "accountSid": info.account_sid,
            "callSid": info.call_sid,
            "streamSid": start.stream_sid,
            "tracks": tracks.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "mediaFormat": { "encoding": f.encoding, "sampleRate": f.sample_rate.0, "channels": f.channels.0 },
            "customParameters": params,
        });
        let label = if info.call_sid.is_empty() {
            start.stream_sid.clone()
        } else {
            info.call_sid.clone()
        };
        self.stream_sid = Some(start.stream_sid.clone());
        self.aligner = Some(Aligner::new(&tracks, self.config.align));
        self.state = State::Streaming;
        tracing::info!(stream_sid = %start.stream_sid, call_sid = %info.call_sid, ?tracks, "stream started");
        out.push(Action::Open(CallOpen {
            protocol: Protocol::Twilio,
            external_id: start.stream_sid.clone(),
            label,
            roles,
            sample_rate: 8000,
            meta,
        }));
    }

    /// Moves aligned pieces into actions.
    fn drain(&mut self, out: &mut Vec<Action>) {
        for a in self.aligned.drain(..) {
            match a {
                Aligned::Audio(b) => out.push(Action::Push(b)),
                Aligned::Gap(n) => out.push(Action::Gap(n)),
            }
        }
    }

    /// Flushes the buffers and ends the call, if one is open.
    fn finish(&mut self, reason: EndReason, out: &mut Vec<Action>) {
        if self.state != State::Streaming {
            return;
        }
        if let Some(a) = self.aligner.as_mut() {
            a.finish(&mut self.aligned);
        }
        self.drain(out);
        tracing::info!(stream_sid = ?self.stream_sid, ?reason, stats = ?self.stats(), "stream ended");
        out.push(Action::End(reason));
    }

    /// A protocol error: end the call (if open) and close.
    fn fail(&mut self, code: u16, reason: &str, out: &mut Vec<Action>) {
        tracing::warn!(stream_sid = ?self.stream_sid, code, reason, "twilio stream error");
        self.finish(EndReason::ProtocolError(reason.to_owned()), out);
        self.state = State::Closed;
        out.push(Action::Close(Close::new(code, reason)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        let tokens = vec!["abc".to_owned(), "longer-token".to_owned()];
        assert!(token_matches(&tokens, "abc"));
        assert!(token_matches(&tokens, "longer-token"));
        for bad in ["", "ab", "abcd", "ABC", "longer-toke"] {
            assert!(!token_matches(&tokens, bad), "{bad}");
        }
        assert!(!token_matches(&[], "abc"));
    }

    #[test]
    fn close_reason_is_truncated_on_a_char_boundary() {
        let c = Close::new(1000, &"é".repeat(100));
        assert!(c.reason.len() <= MAX_CLOSE_REASON);
        assert_eq!(c.reason.chars().count(), 61);
    }
}
