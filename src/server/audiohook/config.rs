//! AudioHook settings (the `[audiohook]` table of the server configuration).

use std::time::Duration;

use serde::Deserialize;

/// One API key the platform may present in `x-api-key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiKey {
    /// The API key (as configured in the Genesys integration).
    pub key: String,
    /// The client secret, base64. Empty: unsigned requests are accepted for this key.
    #[serde(default)]
    pub secret: String,
}

/// AudioHook settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioHookConfig {
    /// Accepted API keys. None configured: every upgrade is refused.
    pub keys: Vec<ApiKey>,
    /// Oldest signature accepted (`created` to now); the reference uses 10 s.
    #[serde(with = "secs")]
    pub max_signature_age: Duration,
    /// A session without any message for this long is ended (the client pings every ~5 s).
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// After a `disconnect`, how long to wait for the client's `close`.
    #[serde(with = "secs")]
    pub close_grace: Duration,
    /// Fixed delay before answering a failed authentication (hides what failed).
    #[serde(with = "secs")]
    pub auth_failure_delay: Duration,
}

impl Default for AudioHookConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            max_signature_age: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            close_grace: Duration::from_secs(5),
            auth_failure_delay: Duration::from_millis(500),
        }
    }
}

/// Durations written as (fractional) seconds.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}
