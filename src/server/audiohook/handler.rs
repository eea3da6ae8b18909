//! The WebSocket side: authentication of the upgrade request and the per-connection task that
//! drives a [`Session`].
//!
//! The handler is generic over the analysis floor through [`CallFloor`] and [`CallSink`], so it
//! runs against the real floor in the server and against a recording fake in tests.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tracing::Instrument as _;

use super::super::config::AudioHookConfig;
use super::super::floor::Floor;
use super::super::http::{AppState, INGEST_READ_BUFFER, constant_time_eq, is_oversized};
use super::super::ingest::{CallIngest, CallOpen, EndReason, Protocol};
use super::session::{Action, CallEnd, CallSpec, Failure, Session, SessionParams};
use super::signature::{self, RequestTarget, SignatureError};

/// Largest WebSocket message accepted, bytes: a text message of 65,535 characters may take up
/// to four bytes each; audio frames are limited further by the session.
pub const MAX_MESSAGE_BYTES: usize = 4 * super::message::MAX_TEXT_CHARS;

/// After a `disconnect`, how long the client has to send `close`.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Fixed delay before a failed authentication is answered (the reference waits 500 ms).
pub const AUTH_FAILURE_DELAY: Duration = Duration::from_millis(500);

/// How often the connection task checks timeouts.
pub const TICK: Duration = Duration::from_millis(500);

/// An open analysis call, as the handler sees it.
pub trait CallSink: Send {
    /// Pushes aligned audio, one buffer per party in the order of [`CallSpec::roles`]; never
    /// blocks.
    fn push(&mut self, parties: Vec<Vec<f32>>);
    /// Announces `frames` frames of skipped audio.
    fn gap(&mut self, frames: u64);
    /// Ends the call.
    fn end(self: Box<Self>, end: CallEnd);
}

/// Where calls are opened.
pub trait CallFloor: Send + Sync {
    /// Opens a call without blocking.
    ///
    /// # Errors
    ///
    /// The refusal's text (capacity, duplicate id...), sent to the client as `disconnect`.
    fn open(&self, spec: CallSpec) -> Result<Box<dyn CallSink>, String>;

    /// A session ended because of a protocol error or an idle timeout; called once per
    /// session, whether or not it had opened a call. For the floor's metrics (the session
    /// has logged it with its context).
    fn session_failed(&self, failure: &Failure);
}

/// Why an upgrade request was refused (answered with 401 after a fixed delay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `x-api-key` header.
    #[error("missing x-api-key")]
    MissingKey,
    /// The key is not configured.
    #[error("unknown API key")]
    UnknownKey,
    /// A required AudioHook header is missing or not text.
    #[error("missing or invalid header {0}")]
    MissingHeader(&'static str),
    /// The configured secret is not base64.
    #[error("the configured client secret is not base64")]
    BadSecret,
    /// The signature check failed.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
}

/// Checks an upgrade request against the configuration at `now_unix` (seconds since the
/// epoch) and returns the session's parameters.
///
/// # Errors
///
/// An [`AuthError`] naming the failed check (for the logs only; the client just gets 401).
pub fn authenticate(
    headers: &HeaderMap,
    uri: &Uri,
    config: &AudioHookConfig,
    now_unix: i64,
) -> Result<SessionParams, AuthError> {
    let text = |name: &'static str| -> Result<Option<&str>, AuthError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| AuthError::MissingHeader(name)),
        }
    };
    let key = text("x-api-key")?.ok_or(AuthError::MissingKey)?;
    // Compare against every key without stopping early.
    let mut found = None;
    for k in &config.keys {
        if constant_time_eq(k.key.as_bytes(), key.as_bytes()) {
            found = Some(k);
        }
    }
    let api_key = found.ok_or(AuthError::UnknownKey)?;
    let session_id = text("audiohook-session-id")?
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::MissingHeader("audiohook-session-id"))?;
    let organization_id = text("audiohook-organization-id")?
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::MissingHeader("audiohook-organization-id"))?;
    let correlation_id = text("audiohook-correlation-id")?.unwrap_or("");
    if !api_key.secret.is_empty() {
        let secret = signature::decode_secret(&api_key.secret).map_err(|_| AuthError::BadSecret)?;
        let request_target = uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = uri.authority().map(|a| a.as_str());
        signature::verify(
            headers,
            RequestTarget {
                request_target,
                authority,
            },
            &api_key.key,
            &secret,
            now_unix,
            config.max_signature_age(),
        )?;
    }
    let mut params = SessionParams::new(session_id, organization_id, correlation_id);
    params.idle_timeout = config.idle_timeout();
    params.close_grace = CLOSE_GRACE;
    Ok(params)
}

fn unix_now() -> i64 {
    crate::time::unix_now_s() as i64
}

/// The `GET /audiohook` route: [`upgrade_with`] on the server's floor and configuration.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let floor: Arc<dyn CallFloor> = Arc::new(FloorAdapter(Arc::clone(&state.floor)));
    let config = Arc::new(state.config.audiohook.clone());
    let response = upgrade_with(floor, config, headers, uri, ws).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state
            .floor
            .metrics()
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    response
}

/// The server's [`Floor`] as a [`CallFloor`].
#[derive(Debug)]
pub struct FloorAdapter(pub Arc<Floor>);

impl CallFloor for FloorAdapter {
    fn open(&self, spec: CallSpec) -> Result<Box<dyn CallSink>, String> {
        let open = CallOpen {
            protocol: Protocol::AudioHook,
            external_id: spec.external_id,
            label: spec.label,
            roles: spec.roles,
            sample_rate: spec.sample_rate,
            meta: spec.meta,
        };
        // The session sends `opened` as soon as this returns: time it here.
        let started = Instant::now();
        let result = self.0.open_call(open);
        self.0
            .metrics()
            .open_to_opened
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(ingest) => Ok(Box::new(ingest)),
            Err(refusal) => Err(refusal.to_string()),
        }
    }

    fn session_failed(&self, failure: &Failure) {
        let metrics = self.0.metrics();
        match failure {
            Failure::Protocol(_) => metrics.protocol_error(Protocol::AudioHook),
            Failure::IdleTimeout => metrics.idle_timeout(Protocol::AudioHook),
        }
    }
}

impl CallSink for CallIngest {
    fn push(&mut self, parties: Vec<Vec<f32>>) {
        CallIngest::push(self, parties);
    }
    fn gap(&mut self, frames: u64) {
        CallIngest::gap(self, frames);
    }
    fn end(self: Box<Self>, end: CallEnd) {
        let reason = match end {
            CallEnd::Completed => EndReason::Completed,
            CallEnd::Disconnected => EndReason::Disconnected,
            CallEnd::ProtocolError(e) => EndReason::ProtocolError(e),
        };
        CallIngest::end(*self, reason);
    }
}

/// Handles an upgrade request: authenticates it (401 after the configured delay on failure),
/// caps the message size and spawns the connection task.
pub async fn upgrade_with(
    floor: Arc<dyn CallFloor>,
    config: Arc<AudioHookConfig>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let params = match authenticate(&headers, &uri, &config, unix_now()) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "audiohook upgrade refused");
            tokio::time::sleep(AUTH_FAILURE_DELAY).await;
            return (StatusCode::UNAUTHORIZED, "unauthorized").into_response();
        }
    };
    let span = tracing::info_span!(
        "audiohook",
        session = %params.session_id,
        organization = %params.organization_id,
        correlation = %params.correlation_id,
    );
    ws.read_buffer_size(INGEST_READ_BUFFER)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| run(socket, params, floor).instrument(span))
}

/// Drives one session over `socket` until it ends. Every path out of here ends the call.
pub async fn run(mut socket: WebSocket, params: SessionParams, floor: Arc<dyn CallFloor>) {
    tracing::info!("audiohook connected");
    let mut session = Session::new(params, Instant::now());
    let mut call: Option<Box<dyn CallSink>> = None;
    let mut failure_reported = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let actions = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => session.on_text(t.as_str(), Instant::now()),
                Some(Ok(Message::Binary(b))) => session.on_binary(&b, Instant::now()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => {
                    tracing::info!("socket closed by the client");
                    session.on_socket_closed()
                }
                Some(Err(e)) if is_oversized(&e) => session.on_oversized(&e.to_string(), Instant::now()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "socket error");
                    session.on_socket_closed()
                }
            },
            _ = tick.tick() => session.on_tick(Instant::now()),
        };
        let done = execute(
            &mut socket,
            &mut session,
            &mut call,
            floor.as_ref(),
            actions,
        )
        .await;
        if let (false, Some(failure)) = (failure_reported, session.failure()) {
            floor.session_failed(failure);
            failure_reported = true;
        }
        if done || session.state() == super::session::State::Closed {
            break;
        }
    }
    if let Some(c) = call.take() {
        c.end(CallEnd::Disconnected);
    }
    tracing::info!(frames = session.frames_received(), "audiohook session over");
}

/// Carries out `actions`; returns true when the socket is finished.
async fn execute(
    socket: &mut WebSocket,
    session: &mut Session,
    call: &mut Option<Box<dyn CallSink>>,
    floor: &dyn CallFloor,
    actions: Vec<Action>,
) -> bool {
    let mut queue: VecDeque<Action> = actions.into();
    let mut done = false;
    while let Some(action) = queue.pop_front() {
        match action {
            Action::Send(text) => {
                if !done && socket.send(Message::Text(text.into())).await.is_err() {
                    done = true;
                    queue.extend(session.on_socket_closed());
                }
            }
            Action::OpenCall(spec) => {
                let result = floor.open(spec).map(|c| *call = Some(c));
                queue.extend(session.call_opened(result, Instant::now()));
            }
            Action::Push(parties) => {
                if let Some(c) = call.as_mut() {
                    c.push(parties);
                }
            }
            Action::Gap(frames) => {
                if let Some(c) = call.as_mut() {
                    c.gap(frames);
                }
            }
            Action::EndCall(end) => {
                if let Some(c) = call.take() {
                    tracing::info!(?end, "call ended");
                    c.end(end);
                }
            }
            Action::CloseSocket { reason } => {
                if !done {
                    let frame = CloseFrame {
                        code: axum::extract::ws::close_code::NORMAL,
                        reason: reason.into(),
                    };
                    // The peer may already be gone; nothing to do about it.
                    let _ = socket.send(Message::Close(Some(frame))).await;
                }
                done = true;
            }
        }
    }
    done
}
