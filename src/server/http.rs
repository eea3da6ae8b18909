//! The HTTP side: routes, access control, the JSON API, live-update WebSockets, metrics.
//!
//! | route | what | access |
//! |---|---|---|
//! | `GET /` , `/call/{id}`, `/agent/{id}`, `/assets/{file}` | dashboard pages ([`super::dashboard`]) | login token |
//! | `GET /api/calls`, `/api/calls/{id}` | floor and call JSON | login token |
//! | `GET /ws/floor`, `/ws/call/{id}` | live updates (JSON text messages) | login token |
//! | `GET /audiohook` | Genesys AudioHook ingest (WebSocket) | API key + signature |
//! | `GET /twilio` | Twilio Media Streams ingest (WebSocket) | stream token |
//! | `GET /metrics` | Prometheus text | open (scrape from the private network) |
//! | `GET /healthz` | liveness | open |
//!
//! The login token ([`ServerConfig::dashboard_token`]) is accepted as `?token=`, as the
//! `callpulse_token` cookie (set when a page is opened with `?token=`) or as
//! `Authorization: Bearer`. Live-update sockets never block a worker: each client reads
//! from a broadcast channel, and one that falls behind skips what it missed (counted in
//! `callpulse_dashboard_lagged_total`) and is sent a fresh snapshot; one that accepts no update
//! for [`ServerConfig::dashboard_send_timeout_s`] is disconnected (counted in
//! `callpulse_dashboard_slow_disconnects_total`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::config::ServerConfig;
use super::floor::Floor;

/// What every handler gets.
#[derive(Debug)]
pub struct AppState {
    /// The call floor.
    pub floor: Arc<Floor>,
    /// The configuration (the same as the floor's).
    pub config: Arc<ServerConfig>,
}

/// The query string of dashboard routes.
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    /// The login token.
    pub token: Option<String>,
}

/// Constant-time equality of two byte strings (the length may leak, the content does not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Read buffer of an ingest WebSocket, bytes. The transport's default (128 KiB, allocated up
/// front) would be most of a call's memory; an AudioHook frame is 3.2 kB and a Twilio message
/// under 1 kB, and a bigger message still fits (the buffer grows to the message limit).
pub const INGEST_READ_BUFFER: usize = 16 * 1024;

/// Whether a WebSocket receive error is the transport refusing a message or frame over its
/// size limit (the client's fault: a protocol error), rather than the connection failing.
///
/// axum's error is opaque and wraps a tungstenite version other than the one this crate
/// links, so the check reads tungstenite's message ("Space limit exceeded: Message too long").
pub fn is_oversized(error: &axum::Error) -> bool {
    let text = error.to_string();
    text.contains("limit exceeded") || text.contains("too long")
}

/// The login token the request carries, if any: `?token=`, the cookie, or a bearer header.
fn presented_token<'a>(headers: &'a HeaderMap, query: &'a TokenQuery) -> Option<&'a str> {
    if let Some(t) = query.token.as_deref() {
        return Some(t);
    }
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = auth.strip_prefix("Bearer ")
    {
        return Some(t.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("callpulse_token="))
}

/// Whether the request may see the dashboard and API.
pub fn authorized(config: &ServerConfig, headers: &HeaderMap, query: &TokenQuery) -> bool {
    match &config.dashboard_token {
        None => true,
        Some(expected) => presented_token(headers, query)
            .is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())),
    }
}

/// The 401 answer for the dashboard and API.
pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401: a login token is required: open the page with ?token=... (see `callpulse serve --help`)\n",
    )
        .into_response()
}

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/calls", get(api_calls))
        .route("/api/calls/{id}", get(api_call))
        .route("/ws/floor", get(ws_floor))
        .route("/ws/call/{id}", get(ws_call))
        .route("/audiohook", get(super::audiohook::upgrade))
        .route("/twilio", get(super::twilio::upgrade))
        .merge(super::dashboard::routes())
        .with_state(state)
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.floor.is_shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let floor = &state.floor;
    let text = floor
        .metrics()
        .render(floor.active(), &floor.queue_depths());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn api_calls(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorized(&state.config, &headers, &q) {
        return unauthorized();
    }
    axum::Json(state.floor.calls()).into_response()
}

async fn api_call(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorized(&state.config, &headers, &q) {
        return unauthorized();
    }
    match state.floor.call(&id) {
        Some(detail) => axum::Json(detail).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no call {id}\n")).into_response(),
    }
}

async fn ws_floor(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    if !authorized(&state.config, &headers, &q) {
        return unauthorized();
    }
    let rx = state.floor.subscribe();
    ws.on_upgrade(move |socket| async move {
        let snapshot = || {
            serde_json::to_string(&serde_json::json!({
                "type": "snapshot",
                "floor": state.floor.calls(),
            }))
            .ok()
        };
        follow(socket, rx, &state, snapshot).await;
    })
}

async fn ws_call(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    if !authorized(&state.config, &headers, &q) {
        return unauthorized();
    }
    let Some(entry) = state.floor.entry(&id) else {
        // Finished (or unknown): one snapshot and done.
        return match state.floor.call(&id) {
            Some(detail) => ws.on_upgrade(move |mut socket| async move {
                if let Ok(text) =
                    serde_json::to_string(&serde_json::json!({"type": "snapshot", "call": detail}))
                {
                    let _ = socket.send(Message::Text(text.into())).await;
                }
                let _ = socket.send(Message::Close(None)).await;
            }),
            None => (StatusCode::NOT_FOUND, format!("no call {id}\n")).into_response(),
        };
    };
    let rx = entry.subscribe();
    ws.on_upgrade(move |socket| async move {
        let snapshot = || {
            state.floor.call(&id).and_then(|detail| {
                serde_json::to_string(&serde_json::json!({"type": "snapshot", "call": detail})).ok()
            })
        };
        follow(socket, rx, &state, snapshot).await;
    })
}

/// Sends a snapshot, then every update, until the client goes or the channel closes. A client
/// that lags is counted and re-sent a snapshot; one that accepts nothing for the send timeout
/// is disconnected and counted (its kernel buffers are full: it stopped reading).
async fn follow(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<Arc<str>>,
    state: &AppState,
    snapshot: impl Fn() -> Option<String>,
) {
    let metrics = state.floor.metrics();
    let timeout = Duration::from_secs_f64(state.config.dashboard_send_timeout_s);
    // Sends one text message; false when the client is gone or too slow (then counted).
    let send = async |socket: &mut WebSocket, text: String| -> bool {
        match tokio::time::timeout(timeout, socket.send(Message::Text(text.into()))).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                tracing::warn!(
                    timeout_s = timeout.as_secs_f64(),
                    "dashboard client accepted no update within the send timeout: disconnected"
                );
                metrics.dashboard_slow.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    };
    metrics.dashboard_clients.fetch_add(1, Ordering::Relaxed);
    if let Some(text) = snapshot()
        && !send(&mut socket, text).await
    {
        metrics.dashboard_clients.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    loop {
        tokio::select! {
            update = rx.recv() => match update {
                Ok(text) => {
                    if !send(&mut socket, text.as_ref().to_owned()).await {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    metrics.dashboard_lagged.fetch_add(n, Ordering::Relaxed);
                    if let Some(text) = snapshot()
                        && !send(&mut socket, text).await
                    {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    metrics.dashboard_clients.fetch_sub(1, Ordering::Relaxed);
}
