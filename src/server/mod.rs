//! The call-floor server (`callpulse serve`): live calls streamed by contact-centre platforms
//! (Genesys AudioHook, Twilio Media Streams) over WebSockets, analysed on a fixed pool of
//! worker threads, watched on a browser dashboard, exported as Prometheus metrics.
//!
//! ```text
//!  platform ──WebSocket──► ingest handler (tokio)      ─try_send─► worker thread (fixed pool)
//!  AudioHook / Twilio      parse, authenticate, decode    bounded    CallAnalyzer per call,
//!                          align tracks, gaps             queue      JSONL file, live state
//!                                                                          │ broadcast
//!  browser ◄──WebSocket── dashboard / agent pages / API ◄──────────────────┘ (never blocks)
//! ```
//!
//! The async side only parses, authenticates and moves bytes ([`ingest`]); DSP runs on the
//! workers ([`worker`]); the [`floor`] holds what the dashboard sees. See [`http`] for the
//! routes and access rules, [`config`] for the TOML file, [`metrics`] for `/metrics`.

pub mod audiohook;
pub mod config;
pub mod dashboard;
pub mod floor;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod twilio;
pub mod worker;

use std::future::Future;
use std::sync::Arc;

use crate::config::AnalysisConfig;
use crate::error::Error;

pub use config::ServerConfig;
pub use floor::Floor;
pub use http::AppState;

/// A running server: its address and a way to stop it.
pub struct Server {
    /// The address it listens on.
    pub local_addr: std::net::SocketAddr,
    /// The call floor.
    pub floor: Arc<Floor>,
}

/// Binds `config.listen`, starts the workers and serves until `shutdown` completes; then
/// refuses new calls, ends the live ones (each finalised: summary and file written) and
/// returns. `ready` is told the bound address (useful with port 0).
///
/// # Errors
/// [`Error::Config`] for a bad configuration, [`Error::Io`] when the address cannot be bound
/// or the output directory created.
pub async fn run(
    config: ServerConfig,
    analysis: AnalysisConfig,
    ready: impl FnOnce(&Server),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listen = config.listen;
    let floor = Floor::start(config, analysis)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Io {
            path: format!("listen address {listen}").into(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| Error::Io {
        path: format!("listen address {listen}").into(),
        source,
    })?;
    ready(&Server {
        local_addr,
        floor: Arc::clone(&floor),
    });
    tracing::info!(%local_addr, workers = floor.config().worker_count(), "serving");
    let state = Arc::new(AppState {
        floor: Arc::clone(&floor),
        config: Arc::clone(floor.config()),
    });
    let app = http::router(state);
    let stop_floor = Arc::clone(&floor);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop_floor.shutdown();
        })
        .await;
    floor.shutdown();
    result.map_err(|source| Error::Io {
        path: format!("listen address {listen}").into(),
        source,
    })
}
