//! `callpulse serve`: the call-floor server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use callpulse::server::config::ApiKey;
use callpulse::server::{self, ServerConfig};

use crate::Tuning;

/// Arguments of `callpulse serve`. Flags override the TOML file.
#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file (see the callpulse::server::config docs or README "Call-floor
    /// server" for every key).
    #[arg(long, value_name = "FILE")]
    server_config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Analysis worker threads [default: one per core].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Most concurrent calls; more are refused with a clear reason [default: 1000].
    #[arg(long, value_name = "N")]
    max_calls: Option<usize>,
    /// Directory for each call's JSON Lines file (events, alerts, summary) [default: calls].
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Write no per-call files.
    #[arg(long, conflicts_with = "output_dir")]
    no_files: bool,
    /// Also write every frame into the per-call files.
    #[arg(long)]
    frames: bool,
    /// Login token for the dashboard, agent pages and API (open with ?token=...).
    #[arg(long, value_name = "TOKEN")]
    dashboard_token: Option<String>,
    /// AudioHook API key accepted, as KEY or KEY:SECRET (secret base64; without one,
    /// unsigned requests are accepted for that key). Repeatable.
    #[arg(long = "audiohook-key", value_name = "KEY[:SECRET]")]
    audiohook_keys: Vec<String>,
    /// Twilio stream token accepted (`?token=` or a `token` custom parameter). Repeatable.
    #[arg(long = "twilio-token", value_name = "TOKEN")]
    twilio_tokens: Vec<String>,
    #[command(flatten)]
    tuning: Tuning,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<()> {
    let mut config = match &args.server_config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.workers {
        config.workers = v;
    }
    if let Some(v) = args.max_calls {
        config.max_calls = v;
    }
    if let Some(v) = &args.output_dir {
        config.output_dir = Some(v.clone());
    }
    if args.no_files {
        config.output_dir = None;
    }
    config.frames |= args.frames;
    if let Some(t) = &args.dashboard_token {
        config.dashboard_token = Some(t.clone());
    }
    for k in &args.audiohook_keys {
        let (key, secret) = k.split_once(':').unwrap_or((k, ""));
        config.audiohook.keys.push(ApiKey {
            key: key.to_owned(),
            secret: secret.to_owned(),
        });
    }
    config
        .twilio
        .tokens
        .extend(args.twilio_tokens.iter().cloned());
    config.validate()?;
    let analysis = args.tuning.config()?;
    if config.audiohook.keys.is_empty() && config.twilio.tokens.is_empty() {
        tracing::warn!(
            "no AudioHook key and no Twilio token configured: every stream will be refused"
        );
        eprintln!(
            "callpulse: warning: no --audiohook-key and no --twilio-token: every stream will be refused"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("callpulse-io")
        .build()
        .context("cannot start the async runtime")?;
    let token = config.dashboard_token.clone();
    let result = runtime.block_on(server::run(
        config,
        analysis,
        |s| {
            let q = token.as_deref().map(|t| format!("/?token={t}")).unwrap_or_else(|| "/".into());
            eprintln!(
                "callpulse: serving on http://{addr} (dashboard http://{addr}{q}, metrics http://{addr}/metrics); \
                 AudioHook ws://{addr}/audiohook, Twilio ws://{addr}/twilio; Ctrl-C stops",
                addr = s.local_addr
            );
        },
        shutdown_signal(),
    ));
    // Handlers are dropped with the runtime: their calls end and the workers finalise them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    eprintln!("callpulse: stopping: ending live calls and writing their summaries");
}
