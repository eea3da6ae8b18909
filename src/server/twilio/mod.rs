//! Twilio Media Streams ingest (placeholder until the protocol lands).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::http::AppState;

/// The WebSocket upgrade handler.
pub async fn upgrade(State(_state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        "Twilio ingest is not built yet\n",
    )
        .into_response()
}
