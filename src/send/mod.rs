//! `callpulse send`: a client that streams a call into a media-stream server over WebSocket
//! the way a contact-centre platform does, for demos, tests and load tests.
//!
//! Two protocols, spoken as the vendors speak them:
//!
//! * **Genesys Cloud AudioHook v2** ([`audiohook`]): upgrade request with the
//!   `audiohook-*` and `x-api-key` headers and, with a client secret, an HTTP Message
//!   Signature ([`signature`]); `open` with media offers, `opened`, binary audio frames
//!   interleaved in the order of the chosen offer, `ping`/`pong`, `pause`/`paused`,
//!   `resume`/`resumed`, `disconnect`, `close`/`closed`.
//! * **Twilio Media Streams** ([`twilio`]): `connected`, `start`, 20 ms `media` messages per
//!   track (inbound = caller, outbound = agent) with base64 μ-law payloads, `stop`.
//!
//! Only `ws://` is spoken (no TLS in this crate): to reach a `wss://` endpoint, run a
//! TLS-terminating reverse proxy (or a local TLS tunnel) in front of it.
//!
//! Each session runs on the tokio runtime; [`send_calls`] runs `calls` of them at once (the
//! same audio, each with its own ids), paced at `speed` times real time, and returns a
//! [`SendReport`]. Per-session failures (refused upgrade, server disconnect, protocol error,
//! timeouts) are recorded in the report, never panics.
//!
//! # Examples
//!
//! ```no_run
//! use callpulse::send::{CallAudio, SendOptions, run};
//! # fn main() -> Result<(), callpulse::send::SendError> {
//! let audio = CallAudio::from_wav("call.wav".as_ref(), 0, 1)?;
//! let opts = SendOptions { api_key: "key".into(), speed: 0.0, calls: 3, ..SendOptions::default() };
//! let report = run("ws://localhost:8080/audiohook", &audio, &opts)?;
//! println!("{} ok, {} failed", report.ok, report.failed);
//! # Ok(())
//! # }
//! ```

pub mod audio;
pub mod audiohook;
pub mod signature;
pub mod twilio;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::Serialize;
use tokio_tungstenite::tungstenite;

pub use audio::{CallAudio, Encoding};

/// Which vendor protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Genesys Cloud AudioHook, protocol version "2".
    #[default]
    AudioHook,
    /// Twilio Media Streams (`<Start><Stream track="both_tracks">`).
    Twilio,
}

/// Which AudioHook channel order to offer first (both are offered for a two-party call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelOrder {
    /// `["external", "internal"]`: caller first (what Genesys offers first).
    #[default]
    ExternalFirst,
    /// `["internal", "external"]`: agent first.
    InternalFirst,
}

/// Options of a send run. Build with struct update syntax from [`SendOptions::default`];
/// [`send_calls`] checks them before anything connects.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The protocol.
    pub protocol: Protocol,
    /// AudioHook `x-api-key` (also the signature's `keyid`).
    pub api_key: String,
    /// AudioHook client secret, base64 as Genesys shows it; `None` sends an unsigned request.
    pub client_secret: Option<String>,
    /// AudioHook organization id (a UUID) [default: a fixed example id].
    pub org_id: String,
    /// Conversation id for `open` [default: a fresh UUID per session].
    pub conversation_id: Option<String>,
    /// `open.parameters.language` (BCP-47) [default: `en-US`].
    pub language: Option<String>,
    /// Twilio: the token, sent in the URL query (`token=`) and in `customParameters.token`.
    pub token: Option<String>,
    /// AudioHook media format to offer.
    pub format: Encoding,
    /// AudioHook channel order offered first.
    pub channel_order: ChannelOrder,
    /// AudioHook audio frame length (Genesys sends 200 ms). 20 ms to 1 s.
    pub frame: Duration,
    /// Pace: 1 = real time, 2 = twice as fast; 0 or infinity = as fast as the socket takes it.
    pub speed: f64,
    /// Concurrent sessions of the same audio (1 to 10,000).
    pub calls: usize,
    /// Delay between the starts of consecutive sessions.
    pub ramp: Duration,
    /// AudioHook ping interval (first ping 1 s after `opened`, or this if shorter).
    pub ping_interval: Duration,
    /// How long to wait for the upgrade response and for `opened` (each).
    pub open_timeout: Duration,
    /// How long to wait for `closed` after `close` (Twilio: for the server to close).
    pub close_timeout: Duration,
}

/// The organization id sent when none is given.
pub const DEFAULT_ORG_ID: &str = "d7934305-0972-4844-938e-9060eef73d05";

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            protocol: Protocol::AudioHook,
            api_key: String::new(),
            client_secret: None,
            org_id: DEFAULT_ORG_ID.into(),
            conversation_id: None,
            language: Some("en-US".into()),
            token: None,
            format: Encoding::Pcmu,
            channel_order: ChannelOrder::ExternalFirst,
            frame: Duration::from_millis(200),
            speed: 1.0,
            calls: 1,
            ramp: Duration::ZERO,
            ping_interval: Duration::from_secs(5),
            open_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
        }
    }
}

impl SendOptions {
    /// The decoded client secret, if any.
    ///
    /// # Errors
    /// [`SendError::Config`] if it is not base64 or decodes to nothing.
    pub fn secret_bytes(&self) -> Result<Option<Vec<u8>>, SendError> {
        match &self.client_secret {
            None => Ok(None),
            Some(s) => {
                let bytes = STANDARD
                    .decode(s.trim())
                    .map_err(|e| config("client_secret", format!("not base64: {e}")))?;
                if bytes.is_empty() {
                    return Err(config("client_secret", "decodes to no bytes"));
                }
                Ok(Some(bytes))
            }
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`SendError::Config`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), SendError> {
        if self.speed.is_nan() || self.speed < 0.0 {
            return Err(config(
                "speed",
                "must be >= 0 (0 or inf: as fast as possible)",
            ));
        }
        if self.calls == 0 || self.calls > 10_000 {
            return Err(config("calls", "must be 1 to 10000"));
        }
        if self.frame < Duration::from_millis(20) || self.frame > Duration::from_secs(1) {
            return Err(config("frame", "must be 20 ms to 1 s"));
        }
        if !self.frame.as_micros().is_multiple_of(125) {
            return Err(config("frame", "must be a whole number of 8 kHz samples"));
        }
        if self.ping_interval < Duration::from_millis(100) {
            return Err(config("ping_interval", "must be at least 100 ms"));
        }
        if self.protocol == Protocol::AudioHook {
            if self.api_key.trim().is_empty() {
                return Err(config("api_key", "AudioHook needs an API key"));
            }
            if self.org_id.trim().is_empty() {
                return Err(config("org_id", "must not be empty"));
            }
        }
        if self.protocol == Protocol::Twilio && self.format == Encoding::L16 {
            return Err(config("format", "Twilio Media Streams carry μ-law only"));
        }
        self.secret_bytes()?;
        Ok(())
    }

    /// Seconds to wait before sending audio that starts `audio_s` into the call, or `None`
    /// when unpaced.
    pub(crate) fn pace(&self, audio_s: f64) -> Option<Duration> {
        if self.speed == 0.0 || !self.speed.is_finite() {
            None
        } else {
            Some(Duration::from_secs_f64((audio_s / self.speed).max(0.0)))
        }
    }
}

fn config(field: &'static str, message: impl Into<String>) -> SendError {
    SendError::Config {
        field,
        message: message.into(),
    }
}

/// Errors of a send run as a whole. Failures of single sessions are not errors of the run:
/// they are in [`SendReport::sessions`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// An option is out of range (not retryable: fix the option).
    #[error("{field}: {message}")]
    Config {
        /// The option concerned.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The URL cannot be used: not `ws://host[:port]/path`, or `wss://` (TLS is for a reverse
    /// proxy).
    #[error("{url}: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The audio cannot be read.
    #[error(transparent)]
    Audio(#[from] crate::Error),
    /// The runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Why one session failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionFailure {
    /// The TCP connection or the upgrade failed before any HTTP answer (retryable).
    Connect {
        /// The I/O or WebSocket error.
        message: String,
    },
    /// The server refused the upgrade with an HTTP status.
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The response body, if any (at most 200 characters).
        body: String,
    },
    /// The server sent `disconnect` (other than `completed`).
    Disconnected {
        /// The `reason` parameter.
        reason: String,
        /// The `info` parameter, if any.
        info: Option<String>,
    },
    /// The server closed the WebSocket before the session completed.
    Closed {
        /// The close code, if a close frame came.
        code: Option<u16>,
        /// The close reason text.
        reason: String,
    },
    /// The server broke the protocol: a non-JSON or unexpected message, an `opened` that
    /// chose no offered media, ...
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The server did not answer in time.
    Timeout {
        /// What was awaited (`upgrade`, `opened`, `pong`, `closed`).
        waiting_for: String,
    },
}

impl std::fmt::Display for SessionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect { message } => write!(f, "cannot connect: {message}"),
            Self::Refused { status, body } if body.is_empty() => {
                write!(f, "upgrade refused: HTTP {status}")
            }
            Self::Refused { status, body } => write!(f, "upgrade refused: HTTP {status}: {body}"),
            Self::Disconnected { reason, info } => match info {
                Some(i) => write!(f, "server disconnected: {reason} ({i})"),
                None => write!(f, "server disconnected: {reason}"),
            },
            Self::Closed { code, reason } => match code {
                Some(c) => write!(f, "server closed the socket: {c} {reason}"),
                None => write!(f, "server closed the socket without a close frame"),
            },
            Self::Protocol { message } => write!(f, "protocol error: {message}"),
            Self::Timeout { waiting_for } => write!(f, "timeout waiting for {waiting_for}"),
        }
    }
}

/// What one session did.
#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    /// 0-based index of the session in the run.
    pub index: usize,
    /// The session id (AudioHook session UUID, Twilio stream SID).
    pub session_id: String,
    /// Why the session failed, `None` if it completed.
    pub failure: Option<SessionFailure>,
    /// Time from the upgrade request to `opened` (AudioHook) or to the upgrade response
    /// (Twilio), in milliseconds.
    pub opened_ms: Option<f64>,
    /// Audio payload bytes sent.
    pub bytes_sent: u64,
    /// Audio frames (AudioHook binary frames, Twilio `media` messages) sent.
    pub frames_sent: u64,
    /// Seconds of audio sent.
    pub audio_s: f64,
    /// Wall time of the session, seconds.
    pub duration_s: f64,
    /// The `disconnect` reason when the server ended the session with `completed`.
    pub server_reason: Option<String>,
    /// Round-trip times of answered pings, milliseconds.
    pub ping_rtt_ms: Vec<f64>,
}

impl SessionReport {
    pub(crate) fn new(index: usize, session_id: String) -> Self {
        Self {
            index,
            session_id,
            failure: None,
            opened_ms: None,
            bytes_sent: 0,
            frames_sent: 0,
            audio_s: 0.0,
            duration_s: 0.0,
            server_reason: None,
            ping_rtt_ms: Vec::new(),
        }
    }

    /// Whether the session completed.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Summary statistics of a latency, milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LatencyStats {
    /// Median (nearest rank).
    pub p50_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl LatencyStats {
    /// Stats of `values` (ms), `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        Some(Self {
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: v[v.len() - 1],
        })
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    /// The URL sent to.
    pub url: String,
    /// `audiohook` or `twilio`.
    pub protocol: &'static str,
    /// Sessions that completed.
    pub ok: usize,
    /// Sessions that failed.
    pub failed: usize,
    /// Latency to `opened` (AudioHook) or to the upgrade (Twilio) over the sessions that got
    /// that far.
    pub opened: Option<LatencyStats>,
    /// Audio bytes sent, all sessions.
    pub bytes_sent: u64,
    /// Audio frames sent, all sessions.
    pub frames_sent: u64,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Each session.
    pub sessions: Vec<SessionReport>,
}

impl SendReport {
    fn from_sessions(
        url: &str,
        protocol: Protocol,
        sessions: Vec<SessionReport>,
        wall: Duration,
    ) -> Self {
        let ok = sessions.iter().filter(|s| s.ok()).count();
        let opened: Vec<f64> = sessions.iter().filter_map(|s| s.opened_ms).collect();
        Self {
            url: url.to_string(),
            protocol: match protocol {
                Protocol::AudioHook => "audiohook",
                Protocol::Twilio => "twilio",
            },
            ok,
            failed: sessions.len() - ok,
            opened: LatencyStats::of(&opened),
            bytes_sent: sessions.iter().map(|s| s.bytes_sent).sum(),
            frames_sent: sessions.iter().map(|s| s.frames_sent).sum(),
            duration_s: wall.as_secs_f64(),
            sessions,
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The parts of a `ws://` URL a session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given (with a path, `/` if it had none).
    pub url: String,
    /// `host[:port]`, the port left out when it is 80 (the signature's `@authority`).
    pub authority: String,
    /// Path and query (the signature's `@request-target`).
    pub request_target: String,
}

impl Target {
    /// Parses `ws://host[:port][/path][?query]`; `default_path` is used when there is no path.
    ///
    /// # Errors
    /// [`SendError::Url`] for another scheme (`wss://` included: put a TLS proxy in front),
    /// a missing host or an unparsable URL.
    pub fn parse(url: &str, default_path: &str) -> Result<Self, SendError> {
        let bad = |message: &str| SendError::Url {
            url: url.to_string(),
            message: message.to_string(),
        };
        let uri: tungstenite::http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("ws") => {}
            Some("wss") => {
                return Err(bad(
                    "wss:// is not supported (no TLS here): use ws:// to a TLS-terminating proxy",
                ));
            }
            _ => return Err(bad("the URL must start with ws://")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let authority = match uri.port_u16() {
            Some(p) if p != 80 => format!("{host}:{p}"),
            _ => host.to_string(),
        };
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = if after_scheme.contains('/') {
            uri.path().to_string()
        } else {
            default_path.to_string()
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        let request_target = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let port = uri.port_u16().map_or(String::new(), |p| format!(":{p}"));
        Ok(Self {
            url: format!("ws://{host}{port}{request_target}"),
            authority,
            request_target,
        })
    }
}

/// A random UUID version 4, lower-case hyphenated.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Turns a failed upgrade into a [`SessionFailure`].
pub(crate) fn connect_failure(e: tungstenite::Error) -> SessionFailure {
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).chars().take(200).collect())
                .unwrap_or_default();
            SessionFailure::Refused { status, body }
        }
        other => SessionFailure::Connect {
            message: other.to_string(),
        },
    }
}

/// Runs `opts.calls` sessions of `audio` against `url` at once (each started `opts.ramp` after
/// the previous one) and waits for them all. Must be called within a tokio runtime with the
/// time and net drivers (see [`run`] for a blocking version).
///
/// # Errors
/// [`SendError::Config`] or [`SendError::Url`] before anything connects. Session failures are
/// not errors: see [`SendReport::failed`].
pub async fn send_calls(
    url: &str,
    audio: &CallAudio,
    opts: &SendOptions,
) -> Result<SendReport, SendError> {
    opts.validate()?;
    if audio.is_empty() {
        return Err(config("audio", "no samples to send"));
    }
    let default_path = match opts.protocol {
        Protocol::AudioHook => "/audiohook",
        Protocol::Twilio => "/twilio",
    };
    let target = Target::parse(url, default_path)?;
    let secret = opts.secret_bytes()?;
    let started = Instant::now();
    let audio = std::sync::Arc::new(audio.clone());
    let opts_shared = std::sync::Arc::new(opts.clone());
    let target = std::sync::Arc::new(target);
    let secret = std::sync::Arc::new(secret);
    let mut handles = Vec::with_capacity(opts.calls);
    for index in 0..opts.calls {
        let start_at = tokio::time::Instant::from_std(started) + opts.ramp * index as u32;
        let (audio, opts, target, secret) = (
            audio.clone(),
            opts_shared.clone(),
            target.clone(),
            secret.clone(),
        );
        handles.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at).await;
            match opts.protocol {
                Protocol::AudioHook => {
                    audiohook::run_session(index, &target, &audio, &opts, secret.as_deref()).await
                }
                Protocol::Twilio => twilio::run_session(index, &target, &audio, &opts).await,
            }
        }));
    }
    let mut sessions = Vec::with_capacity(handles.len());
    for (index, handle) in handles.into_iter().enumerate() {
        match handle.await {
            Ok(report) => sessions.push(report),
            Err(e) => {
                let mut r = SessionReport::new(index, String::new());
                r.failure = Some(SessionFailure::Protocol {
                    message: format!("session task failed: {e}"),
                });
                sessions.push(r);
            }
        }
    }
    Ok(SendReport::from_sessions(
        &target.url,
        opts.protocol,
        sessions,
        started.elapsed(),
    ))
}

/// [`send_calls`] on a runtime of its own, blocking until every session ended.
///
/// # Errors
/// As [`send_calls`], and [`SendError::Runtime`] if the runtime cannot start.
pub fn run(url: &str, audio: &CallAudio, opts: &SendOptions) -> Result<SendReport, SendError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(SendError::Runtime)?;
    runtime.block_on(send_calls(url, audio, opts))
}

/// An ISO-8601 duration of `samples` at 8 kHz, as AudioHook positions are written:
/// `PT0S`, `PT0.2S`, `PT12.34S` (trailing zeros dropped).
pub fn iso_duration(samples: u64) -> String {
    let whole = samples / u64::from(audio::RATE);
    let frac = samples % u64::from(audio::RATE);
    if frac == 0 {
        return format!("PT{whole}S");
    }
    // 8 kHz: one sample is 125 µs, so six decimals are exact.
    let micros = frac * 125;
    let s = format!("{micros:06}");
    format!("PT{whole}.{}S", s.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration(0), "PT0S");
        assert_eq!(iso_duration(1600), "PT0.2S");
        assert_eq!(iso_duration(98_720), "PT12.34S");
        assert_eq!(iso_duration(8_001), "PT1.000125S");
    }

    #[test]
    fn targets() {
        let t = Target::parse("ws://localhost:8080", "/audiohook").expect("valid");
        assert_eq!(t.request_target, "/audiohook");
        assert_eq!(t.authority, "localhost:8080");
        assert_eq!(t.url, "ws://localhost:8080/audiohook");
        let t = Target::parse("ws://example.com:80/x/y?a=1", "/audiohook").expect("valid");
        assert_eq!(t.request_target, "/x/y?a=1");
        assert_eq!(t.authority, "example.com");
        assert!(Target::parse("wss://example.com/", "/").is_err());
        assert!(Target::parse("http://example.com/", "/").is_err());
    }

    #[test]
    fn uuids_are_v4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn latency_stats() {
        let s = LatencyStats::of(&[3.0, 1.0, 2.0]).expect("some");
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.max_ms, 3.0);
        assert!(LatencyStats::of(&[]).is_none());
    }

    #[test]
    fn options_are_checked() {
        let ok = SendOptions {
            api_key: "k".into(),
            ..SendOptions::default()
        };
        assert!(ok.validate().is_ok());
        assert!(SendOptions::default().validate().is_err());
        let bad = SendOptions {
            client_secret: Some("!!".into()),
            ..ok.clone()
        };
        assert!(matches!(
            bad.validate(),
            Err(SendError::Config {
                field: "client_secret",
                ..
            })
        ));
        let bad = SendOptions {
            speed: f64::NAN,
            ..ok
        };
        assert!(bad.validate().is_err());
    }
}
