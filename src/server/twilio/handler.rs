//! The axum WebSocket handler for `GET /twilio`: carries a [`Session`]'s actions out against
//! the [`Floor`] and the call's [`CallIngest`].
//!
//! * Messages over [`WS_MAX_MESSAGE_BYTES`] are refused by the WebSocket layer (the call ends
//!   with a protocol error); messages over [`MAX_MESSAGE_BYTES`] by the session, with close
//!   code 1009.
//! * No message for the idle timeout (`twilio.idle_timeout_s`, default 30 s) ends the call as
//!   disconnected and closes the socket with 1001.
//! * The client vanishing (socket closed or failed without `stop`) ends the call as
//!   disconnected; the server shutting down ends it as shut down.
//! * A refusal from [`Floor::open_call`] closes the socket with 1013 "try again later" (at
//!   capacity, overloaded) and the reason.
//! * Nothing but the closing handshake is ever sent (a binary frame would be Twilio's warning
//!   31950).
//!
//! Every stream runs in a `twilio` tracing span carrying its stream SID and call id.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::server::config::TwilioConfig;
use crate::server::floor::Floor;
use crate::server::http::{AppState, TokenQuery};
use crate::server::http::{INGEST_READ_BUFFER, is_oversized};
use crate::server::ingest::{CallIngest, Protocol};

use super::align::AlignConfig;
use super::message::MAX_MESSAGE_BYTES;
use super::session::{Action, Close, Session, SessionConfig, close_code};

/// Largest WebSocket message (and frame) the transport accepts, bytes: twice the session's
/// limit, so that messages in between are refused by the session with a clear close reason.
pub const WS_MAX_MESSAGE_BYTES: usize = 2 * MAX_MESSAGE_BYTES;

/// How often the handler wakes without input to check the idle timeout and shutdown.
const TICK: Duration = Duration::from_millis(500);

/// How long the closing handshake may take after we sent our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The session configuration for the server's `[twilio]` settings.
pub fn session_config(c: &TwilioConfig) -> SessionConfig {
    SessionConfig {
        tokens: c.tokens.clone(),
        inbound: c.inbound,
        outbound: c.outbound,
        align: AlignConfig {
            window: Duration::from_millis(u64::from(c.jitter_ms)),
            ..AlignConfig::default()
        },
    }
}

/// `GET /twilio`: upgrades to a WebSocket and runs a Media Stream on it. The stream token may
/// be given as `?token=` (or as the `token` custom parameter of the `<Stream>`).
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    if state.floor.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let config = Arc::new(session_config(&state.config.twilio));
    let idle = state.config.twilio.idle_timeout();
    let floor = Arc::clone(&state.floor);
    ws.read_buffer_size(INGEST_READ_BUFFER)
        .max_message_size(WS_MAX_MESSAGE_BYTES)
        .max_frame_size(WS_MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, floor, config, query.token, idle))
}

/// Runs one Media Stream on an upgraded socket until it ends. Usable without the router (for
/// tests or another server).
pub async fn serve(
    socket: WebSocket,
    floor: Arc<Floor>,
    config: Arc<SessionConfig>,
    url_token: Option<String>,
    idle: Duration,
) {
    let span = tracing::info_span!(
        "twilio",
        stream_sid = tracing::field::Empty,
        call = tracing::field::Empty
    );
    let run = Stream {
        socket,
        floor,
        session: Session::new(config, url_token),
        call: None,
        span: span.clone(),
    };
    run.run(idle).instrument(span).await;
}

struct Stream {
    socket: WebSocket,
    floor: Arc<Floor>,
    session: Session,
    call: Option<CallIngest>,
    span: tracing::Span,
}

impl Stream {
    async fn run(mut self, idle: Duration) {
        let mut actions: Vec<Action> = Vec::new();
        let mut last = Instant::now();
        let mut sent_close = false;
        loop {
            match tokio::time::timeout(TICK.min(idle), self.socket.recv()).await {
                Err(_) => {
                    if self.floor.is_shutting_down() {
                        self.session.on_shutdown(&mut actions);
                    } else if last.elapsed() >= idle {
                        tracing::info!(idle_s = idle.as_secs_f64(), "idle timeout");
                        if !self.session.is_closed() {
                            self.floor.metrics().idle_timeout(Protocol::Twilio);
                        }
                        self.session.on_idle(&mut actions);
                    }
                }
                Ok(None) => self.session.on_disconnect(&mut actions),
                Ok(Some(Err(e))) => {
                    // A message over the transport's limit is the client's fault; anything
                    // else (reset, broken pipe) means the client vanished.
                    let text = e.to_string();
                    tracing::info!(error = %text, "websocket error");
                    if is_oversized(&e) {
                        self.session
                            .on_transport_error(&format!("websocket error: {text}"), &mut actions);
                    } else {
                        self.session.on_disconnect(&mut actions);
                    }
                }
                Ok(Some(Ok(msg))) => {
                    last = Instant::now();
                    match msg {
                        WsMessage::Text(t) => self.session.on_text(t.as_str(), &mut actions),
                        WsMessage::Binary(b) => self.session.on_binary(b.len(), &mut actions),
                        WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                        WsMessage::Close(_) => self.session.on_disconnect(&mut actions),
                    }
                }
            }
            while !actions.is_empty() {
                for action in std::mem::take(&mut actions) {
                    if self.apply(action, &mut actions).await {
                        sent_close = true;
                    }
                }
            }
            if self.session.is_closed() {
                break;
            }
        }
        if let Some(call) = self.call.take() {
            // The session always ends an open call; this is a safety net.
            call.end(crate::server::ingest::EndReason::Disconnected);
        }
        if sent_close {
            // Let the client answer the close handshake, briefly.
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                while let Some(Ok(_)) = self.socket.recv().await {}
            })
            .await;
        }
    }

    /// Carries out one action; returns whether a close frame was sent.
    async fn apply(&mut self, action: Action, more: &mut Vec<Action>) -> bool {
        match action {
            Action::Open(open) => {
                if let Some(sid) = self.session.stream_sid() {
                    self.span.record("stream_sid", sid);
                }
                match self.floor.open_call(open) {
                    Ok(call) => {
                        self.span.record("call", call.id());
                        tracing::info!(call = call.id(), "call opened");
                        self.call = Some(call);
                    }
                    Err(refusal) => self.session.on_refused(&refusal, more),
                }
            }
            Action::Push(parties) => {
                if let Some(call) = self.call.as_mut() {
                    call.push(parties);
                }
            }
            Action::Gap(frames) => {
                if let Some(call) = self.call.as_mut() {
                    call.gap(frames);
                }
            }
            Action::End(reason) => {
                if let Some(call) = self.call.take() {
                    tracing::info!(?reason, "call ended");
                    call.end(reason);
                }
            }
            Action::Close(close) => {
                self.count(&close);
                let Close { code, reason } = close;
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = self.socket.send(WsMessage::Close(Some(frame))).await;
                return true;
            }
        }
        false
    }

    fn count(&self, close: &Close) {
        let metrics = self.floor.metrics();
        match close.code {
            // Refusals by the floor (duplicate, invalid) also close with POLICY; the floor
            // counts those itself.
            close_code::POLICY if close.reason.starts_with("unauthorized") => {
                metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
            }
            close_code::PROTOCOL
            | close_code::UNSUPPORTED
            | close_code::INVALID_PAYLOAD
            | close_code::TOO_BIG
            | close_code::INTERNAL => metrics.protocol_error(Protocol::Twilio),
            _ => {}
        }
    }
}
