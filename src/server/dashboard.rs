//! The supervisor dashboard and agent pages (placeholder until the pages land).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::http::AppState;

/// The dashboard's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/", get(|| async { "callpulse\n" }))
}
