//! The server's configuration: a TOML file (`callpulse serve --server-config FILE`), overridden by
//! command-line flags, validated before anything starts.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! workers = 2                 # analysis threads (default: one per core)
//! max_calls = 600             # live calls accepted; more are refused with a reason
//! output_dir = "calls"        # one JSON Lines file per call (events, alerts, summary)
//! dashboard_token = "s3cret"  # login token for the dashboard, API and agent pages
//! dashboard_send_timeout_s = 10  # a page that accepts no update for this long is dropped
//!
//! [[audiohook.keys]]
//! key = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
//! secret = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="   # "" = unsigned requests accepted
//!
//! [twilio]
//! tokens = ["twilio-stream-token"]
//! inbound = "caller"
//! outbound = "agent"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{ConfigError, Error};
use crate::role::Role;

/// One AudioHook API key and its client secret.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The `x-api-key` value.
    pub key: String,
    /// The client secret, base64; empty when the platform sends no signature.
    #[serde(default)]
    pub secret: String,
}

/// AudioHook ingest settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AudioHookConfig {
    /// Accepted API keys. With none, AudioHook sessions are refused.
    pub keys: Vec<ApiKey>,
    /// Oldest signature accepted (`created` to now), in seconds.
    pub max_signature_age_s: f64,
    /// A session with no message for this long is ended, in seconds.
    pub idle_timeout_s: f64,
}

impl Default for AudioHookConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            max_signature_age_s: 10.0,
            idle_timeout_s: 30.0,
        }
    }
}

impl AudioHookConfig {
    /// [`Self::max_signature_age_s`] as a duration.
    pub fn max_signature_age(&self) -> Duration {
        Duration::from_secs_f64(self.max_signature_age_s)
    }

    /// [`Self::idle_timeout_s`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_s)
    }
}

/// Twilio Media Streams ingest settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// Accepted stream tokens (`?token=` in the stream URL or a `token` custom parameter).
    /// With none, Twilio streams are refused.
    pub tokens: Vec<String>,
    /// Who the inbound track is (default the caller).
    pub inbound: Role,
    /// Who the outbound track is (default the agent).
    pub outbound: Role,
    /// How long the aligner waits for the other track's chunk, in milliseconds.
    pub jitter_ms: u32,
    /// A stream with no message for this long is ended, in seconds.
    pub idle_timeout_s: f64,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            inbound: Role::Caller,
            outbound: Role::Agent,
            jitter_ms: 200,
            idle_timeout_s: 30.0,
        }
    }
}

impl TwilioConfig {
    /// [`Self::idle_timeout_s`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_s)
    }
}

/// Everything `callpulse serve` needs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (HTTP and WebSocket).
    pub listen: SocketAddr,
    /// Analysis worker threads (0 = one per core).
    pub workers: usize,
    /// Most live calls; more are refused with a reason.
    pub max_calls: usize,
    /// Messages each worker queue holds (about 200 ms of one call's audio per message for
    /// AudioHook, 20 ms for Twilio); beyond it audio is dropped, counted and analysed as a gap.
    pub queue_messages: usize,
    /// Directory for per-call JSON Lines files (events, alerts, summary); none = not written.
    pub output_dir: Option<PathBuf>,
    /// Also write every frame into the per-call files (large).
    pub frames: bool,
    /// Token that the dashboard, agent pages and API require (`?token=`, a `callpulse_token`
    /// cookie or `Authorization: Bearer`); none = open (only for loopback use).
    pub dashboard_token: Option<String>,
    /// Finished calls kept for the dashboard and API.
    pub finished_kept: usize,
    /// Seconds a dashboard or agent-page client may take to accept one live update; a client
    /// slower than that (or one that stopped reading) is disconnected and counted. Its page
    /// reconnects and gets a fresh snapshot.
    pub dashboard_send_timeout_s: f64,
    /// Analysis tuning: a JSON file of the same format as `analyze --config`.
    pub tuning: Option<PathBuf>,
    /// AudioHook settings.
    pub audiohook: AudioHookConfig,
    /// Twilio settings.
    pub twilio: TwilioConfig,
    /// Fault injection for tests: the analysis of a call with this label panics at its first
    /// audio (not settable from TOML).
    #[serde(skip)]
    #[doc(hidden)]
    pub fault_panic_label: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            max_calls: 1000,
            queue_messages: 8192,
            output_dir: Some(PathBuf::from("calls")),
            frames: false,
            dashboard_token: None,
            finished_kept: 200,
            dashboard_send_timeout_s: 10.0,
            tuning: None,
            audiohook: AudioHookConfig::default(),
            twilio: TwilioConfig::default(),
            fault_panic_label: None,
        }
    }
}

impl ServerConfig {
    /// Reads and validates a TOML file.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::Config`] for bad TOML or values (the field is
    /// named).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates TOML text.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field at fault.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text)
            .map_err(|e| ConfigError::new("server config", e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        let bad =
            |field: &'static str, message: String| Err(ConfigError::new(field, message).into());
        if self.workers > 256 {
            return bad(
                "workers",
                format!("must be 0 (one per core) to 256, not {}", self.workers),
            );
        }
        if self.max_calls == 0 || self.max_calls > 100_000 {
            return bad(
                "max_calls",
                format!("must be 1 to 100000, not {}", self.max_calls),
            );
        }
        if self.queue_messages < 16 || self.queue_messages > 1_000_000 {
            return bad(
                "queue_messages",
                format!("must be 16 to 1000000, not {}", self.queue_messages),
            );
        }
        let timeouts = [
            (
                "audiohook.max_signature_age_s",
                self.audiohook.max_signature_age_s,
            ),
            ("audiohook.idle_timeout_s", self.audiohook.idle_timeout_s),
            ("twilio.idle_timeout_s", self.twilio.idle_timeout_s),
            ("dashboard_send_timeout_s", self.dashboard_send_timeout_s),
        ];
        for (field, v) in timeouts {
            if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
                return bad(
                    field,
                    format!("must be more than 0 and at most 3600 s, not {v}"),
                );
            }
        }
        if self.twilio.inbound == self.twilio.outbound {
            return bad(
                "twilio.outbound",
                format!("both tracks are marked {}", self.twilio.inbound),
            );
        }
        if self.twilio.jitter_ms > 5000 {
            return bad(
                "twilio.jitter_ms",
                format!("must be at most 5000, not {}", self.twilio.jitter_ms),
            );
        }
        for k in &self.audiohook.keys {
            if k.key.is_empty() {
                return bad("audiohook.keys.key", "must not be empty".into());
            }
            if !k.secret.is_empty() {
                use base64::Engine as _;
                if base64::engine::general_purpose::STANDARD
                    .decode(k.secret.as_bytes())
                    .is_err()
                {
                    return bad(
                        "audiohook.keys.secret",
                        format!("the secret of key {} is not base64", k.key),
                    );
                }
            }
        }
        if self.twilio.tokens.iter().any(String::is_empty) {
            return bad("twilio.tokens", "a token must not be empty".into());
        }
        if self.dashboard_token.as_deref() == Some("") {
            return bad(
                "dashboard_token",
                "must not be empty (leave it out instead)".into(),
            );
        }
        Ok(())
    }

    /// The number of worker threads to start.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(2, usize::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"
listen = "127.0.0.1:8080"
workers = 2
max_calls = 600
output_dir = "calls"
dashboard_token = "s3cret"

[[audiohook.keys]]
key = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
secret = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="

[twilio]
tokens = ["twilio-stream-token"]
inbound = "caller"
outbound = "agent"
"#;
        let c = ServerConfig::from_toml(text).unwrap();
        assert_eq!(c.workers, 2);
        assert_eq!(c.audiohook.keys.len(), 1);
        assert_eq!(c.twilio.inbound, Role::Caller);
    }

    #[test]
    fn errors_name_the_field() {
        let e = ServerConfig::from_toml("max_calls = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_calls"), "{e}");
        let e = ServerConfig::from_toml("bogus = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = ServerConfig::from_toml("[twilio]\ninbound = \"agent\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("twilio.outbound"), "{e}");
        let e = ServerConfig::from_toml("[[audiohook.keys]]\nkey = \"k\"\nsecret = \"%%\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret"), "{e}");
    }
}
