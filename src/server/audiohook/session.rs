//! The AudioHook session state machine, independent of any transport.
//!
//! The socket driver feeds it what arrives ([`Session::on_text`], [`Session::on_binary`]), the
//! passage of time ([`Session::on_tick`]) and the loss of the connection
//! ([`Session::on_socket_closed`]), and carries out the [`Action`]s it returns, in order.
//! Opening the analysis call is a two-step exchange so the session never blocks on it: `open`
//! yields [`Action::OpenCall`], and the driver answers with [`Session::call_opened`], which
//! yields `opened` (or `disconnect` when the call was refused).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::role::Role;

use super::message::{
    self, Channel, ClientEnvelope, ClientMessage, DisconnectReason, Format, MediaFormat,
    OpenParameters, ProtocolError,
};

/// Largest binary (audio) frame accepted, bytes: two seconds of stereo PCMU, one of stereo L16.
pub const MAX_AUDIO_FRAME_BYTES: usize = 32_000;

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// The `audiohook-session-id` header: every message's `id` must equal it.
    pub session_id: String,
    /// The `audiohook-organization-id` header: `open`'s `organizationId` must equal it.
    pub organization_id: String,
    /// The `audiohook-correlation-id` header (kept with the call's metadata).
    pub correlation_id: String,
    /// No message at all for this long ends the session (the client pings every ~5 s).
    pub idle_timeout: Duration,
    /// After a `disconnect`, how long to wait for the client's `close` before dropping the
    /// socket.
    pub close_grace: Duration,
}

impl SessionParams {
    /// Parameters with the default timeouts (idle 30 s, close grace 5 s).
    pub fn new(session_id: &str, organization_id: &str, correlation_id: &str) -> Self {
        Self {
            session_id: session_id.to_owned(),
            organization_id: organization_id.to_owned(),
            correlation_id: correlation_id.to_owned(),
            idle_timeout: Duration::from_secs(30),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connected, waiting for `open` (or for the call to be opened after it).
    WaitOpen,
    /// `opened` sent; audio flows.
    Active,
    /// The client paused the audio.
    Paused,
    /// The server sent `disconnect` and waits for the client's `close`.
    Closing,
    /// `closed` sent or the socket is gone: nothing more happens.
    Closed,
}

impl State {
    /// A short name for logs and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            State::WaitOpen => "wait-open",
            State::Active => "active",
            State::Paused => "paused",
            State::Closing => "closing",
            State::Closed => "closed",
        }
    }
}

/// Why the analysis call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    /// The client closed the session.
    Completed,
    /// The connection went away without `close`.
    Disconnected,
    /// A protocol error or timeout ended the session.
    ProtocolError(String),
}

/// Why a session ended abnormally, for the floor's metrics ([`Session::failure`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The client broke the protocol (the text says how).
    Protocol(String),
    /// The client sent nothing for the idle timeout.
    IdleTimeout,
}

/// What the driver must open on the analysis floor.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSpec {
    /// The session id (unique per stream).
    pub external_id: String,
    /// A label: the conversation id.
    pub label: String,
    /// The parties, agent first when both are present; audio is pushed in this order.
    pub roles: Vec<Role>,
    /// Sample rate of the pushed audio, Hz.
    pub sample_rate: u32,
    /// Protocol metadata (organisation, conversation, participant, chosen media, language...).
    pub meta: Value,
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this JSON text message.
    Send(String),
    /// Open the analysis call, then report the outcome with [`Session::call_opened`].
    OpenCall(CallSpec),
    /// Push one chunk of audio: one buffer per party in the order of [`CallSpec::roles`].
    Push(Vec<Vec<f32>>),
    /// Announce this many frames of skipped audio.
    Gap(u64),
    /// End the analysis call.
    EndCall(CallEnd),
    /// Close the WebSocket (after sending what came before).
    CloseSocket {
        /// A short reason for the close frame and the logs.
        reason: String,
    },
}

/// One AudioHook session.
#[derive(Debug)]
pub struct Session {
    params: SessionParams,
    state: State,
    server_seq: u64,
    client_seq: u64,
    probe: bool,
    /// The chosen offer, exactly as sent, while the call is being opened.
    pending_media: Option<Value>,
    media: Option<MediaFormat>,
    roles: Vec<Role>,
    /// For each channel of the chosen offer, the index of its party in `roles`.
    channel_party: Vec<usize>,
    call_open: bool,
    last_message: Instant,
    closing_since: Option<Instant>,
    frames_received: u64,
    failure: Option<Failure>,
}

impl Session {
    /// A new session in [`State::WaitOpen`], connected at `now`.
    pub fn new(params: SessionParams, now: Instant) -> Self {
        Self {
            params,
            state: State::WaitOpen,
            server_seq: 0,
            client_seq: 0,
            probe: false,
            pending_media: None,
            media: None,
            roles: Vec::new(),
            channel_party: Vec::new(),
            call_open: false,
            last_message: now,
            closing_since: None,
            frames_received: 0,
            failure: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the session is a connection probe (nothing is recorded).
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The parties of the call, in push order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Audio frames (samples per channel) received and pushed.
    pub fn frames_received(&self) -> u64 {
        self.frames_received
    }

    /// The protocol error or timeout that ended the session (or began its ending), if one did.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Whether an analysis call is open (and will need ending).
    pub fn call_open(&self) -> bool {
        self.call_open
    }

    /// Handles a text frame received at `now`.
    pub fn on_text(&mut self, text: &str, now: Instant) -> Vec<Action> {
        if self.state == State::Closed {
            return Vec::new();
        }
        self.last_message = now;
        let env = match message::parse_client(text) {
            Ok(e) => e,
            Err(e) => return self.fail(e, now),
        };
        // After a `disconnect` the client's `close` is taken whatever its seq (the seq that
        // caused the disconnect may be the reason the numbering is off).
        let closing_close =
            self.state == State::Closing && matches!(env.message, ClientMessage::Close { .. });
        if !closing_close && let Err(e) = self.check_envelope(&env) {
            return self.fail(e, now);
        }
        self.client_seq = env.seq;
        self.handle(env, now)
    }

    fn check_envelope(&self, env: &ClientEnvelope) -> Result<(), ProtocolError> {
        if env.id != self.params.session_id {
            return Err(ProtocolError::WrongSession(
                env.id.chars().take(64).collect(),
            ));
        }
        let expected = self.client_seq.saturating_add(1);
        if env.seq != expected {
            return Err(ProtocolError::Sequence {
                expected,
                got: env.seq,
            });
        }
        Ok(())
    }

    fn handle(&mut self, env: ClientEnvelope, now: Instant) -> Vec<Action> {
        let kind = env.message.kind();
        match (self.state, env.message) {
            (_, ClientMessage::Ping { .. }) => vec![self.send("pong", json!({}))],
            (_, ClientMessage::Error { code, message }) => {
                tracing::warn!(code, message = %message, "client reported an error");
                Vec::new()
            }
            (_, ClientMessage::Update(p)) => {
                tracing::debug!(parameters = %p, "update");
                Vec::new()
            }
            (_, ClientMessage::Close { reason }) => {
                tracing::info!(reason = %reason, "client closed the session");
                let mut out = Vec::new();
                if self.call_open {
                    self.call_open = false;
                    out.push(Action::EndCall(CallEnd::Completed));
                }
                out.push(self.send("closed", json!({})));
                out.push(Action::CloseSocket {
                    reason: "closed".to_owned(),
                });
                self.set_state(State::Closed);
                out
            }
            (State::Closing, _) => Vec::new(),
            (State::WaitOpen, ClientMessage::Open(open)) if self.pending_media.is_none() => {
                self.on_open(open, now)
            }
            (State::Active | State::Paused, ClientMessage::Paused) => {
                self.set_state(State::Paused);
                Vec::new()
            }
            (State::Active | State::Paused, ClientMessage::Resumed(d)) => {
                self.set_state(State::Active);
                self.gap(d.discarded)
            }
            (State::Active | State::Paused, ClientMessage::Discarded(d)) => self.gap(d.discarded),
            (state, _) => self.fail(
                ProtocolError::UnexpectedMessage {
                    kind: kind.to_owned(),
                    state: state.as_str(),
                },
                now,
            ),
        }
    }

    fn on_open(&mut self, open: OpenParameters, now: Instant) -> Vec<Action> {
        if open.organization_id != self.params.organization_id {
            let org = open.organization_id.chars().take(64).collect();
            return self.fail(ProtocolError::WrongOrganization(org), now);
        }
        let Some((index, media)) = message::choose_media(&open.media) else {
            return self.fail(
                ProtocolError::Parameters {
                    kind: "open".to_owned(),
                    detail: "no supported media offered (audio, PCMU or L16, 8000 Hz, \
                             external/internal channels)"
                        .to_owned(),
                },
                now,
            );
        };
        let offer = open.media.get(index).cloned().unwrap_or(Value::Null);
        let mut roles: Vec<Role> = media.channels.iter().map(|c| role_of(*c)).collect();
        roles.sort_by_key(|r| r.index());
        self.channel_party = media
            .channels
            .iter()
            .map(|c| roles.iter().position(|r| *r == role_of(*c)).unwrap_or(0))
            .collect();
        self.roles = roles.clone();
        self.media = Some(media);
        if open.is_probe() {
            self.probe = true;
            tracing::info!("probe session: answering without opening a call");
            self.set_state(State::Active);
            return vec![self.send("opened", json!({ "media": [offer] }))];
        }
        let meta = json!({
            "organizationId": open.organization_id,
            "conversationId": open.conversation_id,
            "correlationId": self.params.correlation_id,
            "participant": open.participant,
            "media": offer,
            "language": open.language,
            "customConfig": open.custom_config,
        });
        let spec = CallSpec {
            external_id: self.params.session_id.clone(),
            label: open.conversation_id.clone(),
            roles,
            sample_rate: message::SUPPORTED_RATE,
            meta,
        };
        self.pending_media = Some(offer);
        vec![Action::OpenCall(spec)]
    }

    /// Reports the outcome of [`Action::OpenCall`]: `Ok` sends `opened` with the chosen offer
    /// echoed unmodified; `Err(reason)` (a refusal) sends `disconnect` with reason `error` and
    /// the refusal as `info`.
    pub fn call_opened(&mut self, result: Result<(), String>, now: Instant) -> Vec<Action> {
        let Some(offer) = self.pending_media.take() else {
            return Vec::new();
        };
        if self.state != State::WaitOpen {
            return Vec::new();
        }
        match result {
            Ok(()) => {
                self.call_open = true;
                self.set_state(State::Active);
                vec![self.send("opened", json!({ "media": [offer] }))]
            }
            Err(reason) => {
                tracing::warn!(reason = %reason, "call refused");
                self.disconnect(DisconnectReason::Error, &reason, now)
            }
        }
    }

    /// Handles a binary (audio) frame received at `now`.
    pub fn on_binary(&mut self, data: &[u8], now: Instant) -> Vec<Action> {
        match self.state {
            State::Closed | State::Closing => {
                // In flight when we sent `disconnect`/`closed`: the session is over.
                return Vec::new();
            }
            State::WaitOpen => {
                self.last_message = now;
                return self.fail(
                    ProtocolError::UnexpectedMessage {
                        kind: "audio".to_owned(),
                        state: self.state.as_str(),
                    },
                    now,
                );
            }
            State::Active | State::Paused => {}
        }
        self.last_message = now;
        let Some(media) = &self.media else {
            return Vec::new();
        };
        if data.len() > MAX_AUDIO_FRAME_BYTES {
            let e = ProtocolError::BadAudio(format!(
                "{} bytes (limit {MAX_AUDIO_FRAME_BYTES})",
                data.len()
            ));
            return self.fail(e, now);
        }
        let width = media.format.bytes_per_sample() * media.channels.len();
        if width == 0 || !data.len().is_multiple_of(width) {
            let e = ProtocolError::BadAudio(format!(
                "{} bytes is not a whole number of {width}-byte frames",
                data.len()
            ));
            return self.fail(e, now);
        }
        let frames = data.len() / width;
        if frames == 0 {
            return Vec::new();
        }
        if self.probe || !self.call_open {
            return Vec::new();
        }
        self.frames_received += frames as u64;
        vec![Action::Push(deinterleave(
            data,
            media.format,
            &self.channel_party,
            self.roles.len(),
        ))]
    }

    /// Checks timeouts at `now`: idle for longer than the idle timeout ends the session with a
    /// `disconnect`; a `disconnect` unanswered for the close grace closes the socket.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            State::Closed => Vec::new(),
            State::Closing => {
                let since = self.closing_since.unwrap_or(now);
                if now.saturating_duration_since(since) >= self.params.close_grace {
                    self.set_state(State::Closed);
                    vec![Action::CloseSocket {
                        reason: "no close after disconnect".to_owned(),
                    }]
                } else {
                    Vec::new()
                }
            }
            _ => {
                let idle = now.saturating_duration_since(self.last_message);
                if idle >= self.params.idle_timeout {
                    let info = format!("no message for {} s", idle.as_secs());
                    tracing::warn!(%info, "idle timeout");
                    self.failure.get_or_insert(Failure::IdleTimeout);
                    let mut out = self.end_call(CallEnd::ProtocolError("idle timeout".to_owned()));
                    out.extend(self.disconnect(DisconnectReason::Error, &info, now));
                    out
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The connection is gone (closed by the peer, reset, or closed by us): ends a call still
    /// open as [`CallEnd::Disconnected`].
    pub fn on_socket_closed(&mut self) -> Vec<Action> {
        let out = self.end_call(CallEnd::Disconnected);
        if self.state != State::Closed {
            self.set_state(State::Closed);
        }
        out
    }

    /// The transport refused a message over its size limit (`detail` is its error): a
    /// protocol error. The connection is usually unusable afterwards, so the `disconnect` may
    /// not arrive; the call ends either way.
    pub fn on_oversized(&mut self, detail: &str, now: Instant) -> Vec<Action> {
        self.fail(ProtocolError::Oversized(detail.to_owned()), now)
    }

    /// Asks the client to close the session (e.g. server shutdown): `disconnect` with `reason`.
    pub fn disconnect(
        &mut self,
        reason: DisconnectReason,
        info: &str,
        now: Instant,
    ) -> Vec<Action> {
        if matches!(self.state, State::Closing | State::Closed) {
            return Vec::new();
        }
        let mut params = json!({ "reason": reason.as_str() });
        if !info.is_empty() {
            params["info"] = Value::String(info.to_owned());
        }
        let out = vec![self.send("disconnect", params)];
        self.closing_since = Some(now);
        self.set_state(State::Closing);
        out
    }

    fn fail(&mut self, err: ProtocolError, now: Instant) -> Vec<Action> {
        if matches!(self.state, State::Closing | State::Closed) {
            tracing::debug!(error = %err, "ignored while closing");
            return Vec::new();
        }
        tracing::warn!(error = %err, "protocol error");
        self.failure
            .get_or_insert_with(|| Failure::Protocol(err.to_string()));
        let mut out = self.end_call(CallEnd::ProtocolError(err.to_string()));
        out.extend(self.disconnect(DisconnectReason::Error, &err.to_string(), now));
        out
    }

    fn end_call(&mut self, end: CallEnd) -> Vec<Action> {
        if self.call_open {
            self.call_open = false;
            vec![Action::EndCall(end)]
        } else {
            Vec::new()
        }
    }

    fn gap(&mut self, discarded: Duration) -> Vec<Action> {
        if !self.call_open {
            return Vec::new();
        }
        let frames = (discarded.as_secs_f64() * f64::from(message::SUPPORTED_RATE)).round();
        if frames >= 1.0 {
            // Bounded by `parse_duration` (at most 1e9 s).
            vec![Action::Gap(frames as u64)]
        } else {
            Vec::new()
        }
    }

    fn send(&mut self, kind: &str, parameters: Value) -> Action {
        self.server_seq += 1;
        Action::Send(message::server_message(
            &self.params.session_id,
            kind,
            self.server_seq,
            self.client_seq,
            parameters,
        ))
    }

    fn set_state(&mut self, state: State) {
        if self.state != state {
            tracing::info!(
                from = self.state.as_str(),
                to = state.as_str(),
                "session state"
            );
            self.state = state;
        }
    }
}

fn role_of(c: Channel) -> Role {
    match c {
        Channel::External => Role::Caller,
        Channel::Internal => Role::Agent,
    }
}

/// Splits interleaved samples into one f32 buffer per party (`channel_party[c]` is channel
/// `c`'s party). The caller checked that `data` holds whole frames.
fn deinterleave(
    data: &[u8],
    format: Format,
    channel_party: &[usize],
    parties: usize,
) -> Vec<Vec<f32>> {
    let channels = channel_party.len().max(1);
    let width = format.bytes_per_sample() * channels;
    let frames = data.len() / width;
    // One allocation per party (`vec![v; n]` would clone an empty, capacity-less vector).
    let mut out: Vec<Vec<f32>> = (0..parties).map(|_| Vec::with_capacity(frames)).collect();
    for frame in data.chunks_exact(width) {
        for (c, &party) in channel_party.iter().enumerate() {
            let s = match format {
                Format::Pcmu => crate::degrade::mulaw_decode(frame[c]),
                Format::L16 => i16::from_le_bytes([frame[2 * c], frame[2 * c + 1]]),
            };
            if let Some(buf) = out.get_mut(party) {
                buf.push(f32::from(s) / 32_768.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
    const ORG: &str = "d7934305-0972-4844-938e-9060eef73d05";
    const CONV: &str = "90b0e395-84d3-4570-ac13-9a62d8f514c9";

    fn session() -> (Session, Instant) {
        let now = Instant::now();
        (Session::new(SessionParams::new(SID, ORG, "corr"), now), now)
    }

    fn msg(kind: &str, seq: u64, params: &str) -> String {
        format!(
            r#"{{"version":"2","id":"{SID}","type":"{kind}","seq":{seq},"serverseq":{},"position":"PT0S","parameters":{params}}}"#,
            seq.saturating_sub(1)
        )
    }

    const STEREO_PCMU: &str =
        r#"{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000}"#;

    fn open_msg(conv: &str, participant: &str, media: &str) -> String {
        msg(
            "open",
            1,
            &format!(
                r#"{{"organizationId":"{ORG}","conversationId":"{conv}","participant":{{"id":"{participant}","ani":"+15551234","aniName":"A","dnis":"+15559876"}},"media":[{media}],"language":"en-US"}}"#
            ),
        )
    }

    fn sent(actions: &[Action]) -> Vec<Value> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(t) => Some(serde_json::from_str(t).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn opened(media: &str) -> (Session, Instant) {
        let (mut s, now) = session();
        let a = s.on_text(&open_msg(CONV, "p1", media), now);
        assert!(matches!(a.as_slice(), [Action::OpenCall(_)]), "{a:?}");
        let a = s.call_opened(Ok(()), now);
        assert_eq!(sent(&a)[0]["type"], "opened");
        (s, now)
    }

    #[test]
    fn open_echoes_the_chosen_offer_and_orders_roles() {
        let (mut s, now) = session();
        let l16 =
            r#"{"type":"audio","format":"L16","channels":["external","internal"],"rate":8000}"#;
        let pcmu = r#"{"type":"audio","format":"PCMU","channels":["internal","external"],"rate":8000,"extra":1}"#;
        let a = s.on_text(&open_msg(CONV, "p1", &format!("{l16},{pcmu}")), now);
        let Action::OpenCall(spec) = &a[0] else {
            panic!("{a:?}")
        };
        assert_eq!(spec.roles, vec![Role::Agent, Role::Caller]);
        assert_eq!(spec.external_id, SID);
        assert_eq!(spec.label, CONV);
        assert_eq!(spec.sample_rate, 8000);
        let a = s.call_opened(Ok(()), now);
        let m = &sent(&a)[0];
        assert_eq!(m["version"], "2");
        assert_eq!(m["id"], SID);
        assert_eq!(m["seq"], 1);
        assert_eq!(m["clientseq"], 1);
        let echoed: Value = serde_json::from_str(pcmu).unwrap();
        assert_eq!(m["parameters"]["media"], json!([echoed]));
        assert_eq!(s.state(), State::Active);
    }

    #[test]
    fn ping_pong_carries_the_ping_seq() {
        let (mut s, now) = opened(STEREO_PCMU);
        let a = s.on_text(&msg("ping", 2, "{}"), now);
        let m = &sent(&a)[0];
        assert_eq!(m["type"], "pong");
        assert_eq!(m["clientseq"], 2);
        assert_eq!(m["seq"], 2);
        let a = s.on_text(&msg("ping", 3, r#"{"rtt":"PT0.05S"}"#), now);
        assert_eq!(sent(&a)[0]["clientseq"], 3);
    }

    #[test]
    fn pcmu_is_deinterleaved_by_channel_order() {
        // internal (agent) first in the offer: byte 0 is the agent, byte 1 the caller.
        let (mut s, now) = opened(
            r#"{"type":"audio","format":"PCMU","channels":["internal","external"],"rate":8000}"#,
        );
        // 0xFF is μ-law zero; 0x00 is the most negative value.
        let a = s.on_binary(&[0xFF, 0x00, 0xFF, 0x00], now);
        let [Action::Push(p)] = a.as_slice() else {
            panic!("{a:?}")
        };
        assert_eq!(s.roles(), &[Role::Agent, Role::Caller]);
        assert_eq!(p[0], vec![0.0, 0.0]);
        assert!(p[1].iter().all(|&x| x < -0.9));
        assert_eq!(s.frames_received(), 2);
    }

    #[test]
    fn l16_little_endian_external_first_and_mono() {
        let (mut s, now) = opened(
            r#"{"type":"audio","format":"L16","channels":["external","internal"],"rate":8000}"#,
        );
        let a = s.on_binary(&[0x00, 0x40, 0x00, 0xC0], now);
        let [Action::Push(p)] = a.as_slice() else {
            panic!("{a:?}")
        };
        assert_eq!(p[0], vec![-0.5]); // agent = internal = second sample
        assert_eq!(p[1], vec![0.5]); // caller = external
        // Odd length: not whole frames.
        let a = s.on_binary(&[0, 0, 0], now);
        assert_eq!(sent(&a)[0]["type"], "disconnect");
        assert!(a.contains(&Action::EndCall(CallEnd::ProtocolError(
            "invalid audio frame: 3 bytes is not a whole number of 4-byte frames".to_owned()
        ))));

        let (mut s, now) =
            opened(r#"{"type":"audio","format":"L16","channels":["external"],"rate":8000}"#);
        assert_eq!(s.roles(), &[Role::Caller]);
        let a = s.on_binary(&[0x00, 0x40, 0x00, 0x40], now);
        assert_eq!(a, vec![Action::Push(vec![vec![0.5, 0.5]])]);
    }

    #[test]
    fn pause_resume_and_discard_advance_the_timeline() {
        let (mut s, now) = opened(STEREO_PCMU);
        assert!(s.on_text(&msg("paused", 2, "{}"), now).is_empty());
        assert_eq!(s.state(), State::Paused);
        let a = s.on_text(
            &msg("resumed", 3, r#"{"start":"PT1.5S","discarded":"PT2.25S"}"#),
            now,
        );
        assert_eq!(a, vec![Action::Gap(18_000)]);
        assert_eq!(s.state(), State::Active);
        let a = s.on_text(
            &msg("discarded", 4, r#"{"start":"PT5S","discarded":"PT0.1S"}"#),
            now,
        );
        assert_eq!(a, vec![Action::Gap(800)]);
    }

    #[test]
    fn close_ends_the_call_then_sends_closed() {
        let (mut s, now) = opened(STEREO_PCMU);
        let a = s.on_text(&msg("close", 2, r#"{"reason":"end"}"#), now);
        assert_eq!(a[0], Action::EndCall(CallEnd::Completed));
        let m = &sent(&a)[0];
        assert_eq!(m["type"], "closed");
        assert_eq!(m["clientseq"], 2);
        assert!(matches!(a.last(), Some(Action::CloseSocket { .. })));
        assert_eq!(s.state(), State::Closed);
        // Nothing more: audio after close is dropped, a vanishing socket ends nothing twice.
        assert!(s.on_binary(&[0xFF, 0xFF], now).is_empty());
        assert!(s.on_socket_closed().is_empty());
        assert_eq!(s.failure(), None, "a clean close is no failure");
    }

    fn assert_protocol_error(a: &[Action], info_part: &str) {
        let m = sent(a);
        assert_eq!(m.len(), 1, "{a:?}");
        assert_eq!(m[0]["type"], "disconnect");
        assert_eq!(m[0]["parameters"]["reason"], "error");
        let info = m[0]["parameters"]["info"].as_str().unwrap();
        assert!(info.contains(info_part), "{info}");
    }

    #[test]
    fn sequence_errors() {
        let (mut s, now) = opened(STEREO_PCMU);
        let a = s.on_text(&msg("ping", 3, "{}"), now);
        assert_protocol_error(&a, "expected seq 2, got 3");
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::EndCall(CallEnd::ProtocolError(_))))
        );
        assert_eq!(s.state(), State::Closing);
        // The client answers the disconnect with close; we reply closed.
        let a = s.on_text(&msg("close", 4, r#"{"reason":"disconnect"}"#), now);
        assert_eq!(sent(&a)[0]["type"], "closed");

        let (mut s, now) = opened(STEREO_PCMU);
        let a = s.on_text(&msg("ping", 1, "{}"), now);
        assert_protocol_error(&a, "expected seq 2, got 1");
    }

    #[test]
    fn first_message_must_be_open_with_seq_one() {
        let (mut s, now) = session();
        let a = s.on_text(&msg("ping", 1, "{}"), now);
        // A ping before open is answered (harmless); audio is not.
        assert_eq!(sent(&a)[0]["type"], "pong");
        let (mut s, now) = session();
        let a = s.on_binary(&[0xFF, 0xFF], now);
        assert_protocol_error(&a, "unexpected audio in state wait-open");
        let (mut s, now) = session();
        let a = s.on_text(&msg("paused", 1, "{}"), now);
        assert_protocol_error(&a, "unexpected paused");
    }

    #[test]
    fn wrong_id_org_unknown_type_and_garbage() {
        let (mut s, now) = session();
        let t =
            open_msg(CONV, "p1", STEREO_PCMU).replace(ORG, "00000000-0972-4844-938e-9060eef73d05");
        assert_protocol_error(&s.on_text(&t, now), "organizationId");

        let (mut s, now) = session();
        let t =
            open_msg(CONV, "p1", STEREO_PCMU).replace(SID, "10b0e395-84d3-4570-ac13-9a62d8f514c0");
        assert_protocol_error(&s.on_text(&t, now), "does not match the session");

        let (mut s, now) = opened(STEREO_PCMU);
        assert_protocol_error(
            &s.on_text(&msg("dance", 2, "{}"), now),
            "unknown message type",
        );

        for garbage in ["", "{", "null", "[1,2]", "{\"version\":2}", "\u{0}"] {
            let (mut s, now) = opened(STEREO_PCMU);
            assert_protocol_error(&s.on_text(garbage, now), "malformed");
        }
        let (mut s, now) = opened(STEREO_PCMU);
        let long = msg("ping", 2, &format!(r#"{{"x":"{}"}}"#, "é".repeat(70_000)));
        assert_protocol_error(&s.on_text(&long, now), "too long");
    }

    #[test]
    fn unsupported_media_only_is_refused() {
        let (mut s, now) = session();
        let t = open_msg(
            CONV,
            "p1",
            r#"{"type":"audio","format":"opus","channels":["external","internal"],"rate":48000},{"type":"audio","format":"PCMU","channels":["external"],"rate":16000}"#,
        );
        let a = s.on_text(&t, now);
        assert_protocol_error(&a, "no supported media");
        assert!(!a.iter().any(|x| matches!(x, Action::OpenCall(_))));
    }

    #[test]
    fn refusal_becomes_disconnect() {
        let (mut s, now) = session();
        s.on_text(&open_msg(CONV, "p1", STEREO_PCMU), now);
        let a = s.call_opened(Err("at capacity: 4 calls already live".to_owned()), now);
        assert_protocol_error(&a, "at capacity");
        assert!(!s.call_open());
        assert!(s.on_socket_closed().is_empty());
    }

    #[test]
    fn probe_opens_and_closes_without_a_call() {
        let (mut s, now) = session();
        let z = message::NULL_UUID;
        let a = s.on_text(&open_msg(z, z, STEREO_PCMU), now);
        assert_eq!(sent(&a)[0]["type"], "opened");
        assert!(a.iter().all(|x| matches!(x, Action::Send(_))));
        assert!(s.is_probe());
        assert!(s.on_binary(&[0xFF; 320], now).is_empty());
        let a = s.on_text(&msg("close", 2, r#"{"reason":"end"}"#), now);
        assert!(a.iter().all(|x| !matches!(x, Action::EndCall(_))));
        assert_eq!(sent(&a)[0]["type"], "closed");
    }

    #[test]
    fn vanishing_socket_ends_the_call_as_disconnected() {
        let (mut s, now) = opened(STEREO_PCMU);
        s.on_binary(&[0xFF; 320], now);
        assert_eq!(
            s.on_socket_closed(),
            vec![Action::EndCall(CallEnd::Disconnected)]
        );
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn idle_timeout_and_close_grace() {
        let (mut s, now) = opened(STEREO_PCMU);
        assert!(s.on_tick(now + Duration::from_secs(29)).is_empty());
        assert_eq!(s.failure(), None);
        let t = now + Duration::from_secs(31);
        let a = s.on_tick(t);
        assert_eq!(s.failure(), Some(&Failure::IdleTimeout));
        assert!(a.contains(&Action::EndCall(CallEnd::ProtocolError(
            "idle timeout".to_owned()
        ))));
        assert_protocol_error(&a, "no message for 31 s");
        assert!(s.on_tick(t + Duration::from_secs(1)).is_empty());
        let a = s.on_tick(t + Duration::from_secs(6));
        assert!(matches!(a.as_slice(), [Action::CloseSocket { .. }]));
    }

    #[test]
    fn oversized_audio_frame_is_an_error() {
        let (mut s, now) = opened(STEREO_PCMU);
        let a = s.on_binary(&vec![0xFF; MAX_AUDIO_FRAME_BYTES + 2], now);
        assert_protocol_error(&a, "limit");
    }

    #[test]
    fn arbitrary_input_never_panics() {
        use proptest::prelude::*;
        proptest!(|(texts in proptest::collection::vec(".{0,200}", 0..8), bins in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8))| {
            let (mut s, now) = opened(STEREO_PCMU);
            for t in &texts { s.on_text(t, now); }
            for b in &bins { s.on_binary(b, now); }
            s.on_tick(now + Duration::from_secs(100));
            s.on_socket_closed();
        });
    }
}
