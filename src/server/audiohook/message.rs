//! AudioHook v2 messages: the JSON envelope, every client message the server understands and
//! the server messages it sends.
//!
//! Client text is untrusted: [`parse_client`] checks the length (at most [`MAX_TEXT_CHARS`]
//! characters) before parsing, then the envelope's fields and types, then the parameters of the
//! message's type, and returns a typed [`ProtocolError`] for anything it cannot use. It never
//! panics. Unknown fields are ignored (the platform may add some); unknown message *types* are
//! errors.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// The protocol version this server speaks.
pub const VERSION: &str = "2";

/// Longest text message accepted, in characters (the protocol's limit).
pub const MAX_TEXT_CHARS: usize = 65_535;

/// The null UUID: a probe session uses it as conversation and participant id.
pub const NULL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// A message the server cannot accept. Each is answered with `disconnect` (reason `error`,
/// `info` = the error's text) and ends the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A text message longer than [`MAX_TEXT_CHARS`].
    #[error("message too long: {0} characters (limit {MAX_TEXT_CHARS})")]
    TooLong(usize),
    /// Not JSON, or not an object with the envelope's fields of the right types.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// `version` is not "2".
    #[error("unsupported protocol version {0:?}")]
    Version(String),
    /// A message type this server does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The parameters do not fit the message type.
    #[error("invalid parameters for {kind}: {detail}")]
    Parameters {
        /// The message type.
        kind: String,
        /// What is wrong.
        detail: String,
    },
    /// `seq` did not increase by exactly one.
    #[error("sequence error: expected seq {expected}, got {got}")]
    Sequence {
        /// The seq expected.
        expected: u64,
        /// The seq received.
        got: u64,
    },
    /// The message's `id` is not this session's.
    #[error("message id {0:?} does not match the session")]
    WrongSession(String),
    /// `organizationId` differs from the upgrade request's header.
    #[error("organizationId {0:?} does not match the audiohook-organization-id header")]
    WrongOrganization(String),
    /// A message that is not allowed in the session's current state.
    #[error("unexpected {kind} in state {state}")]
    UnexpectedMessage {
        /// The message type (or "audio").
        kind: String,
        /// The session state.
        state: &'static str,
    },
    /// A binary frame that cannot be audio of the negotiated format.
    #[error("invalid audio frame: {0}")]
    BadAudio(String),
    /// A WebSocket message over the transport's size limit (the transport dropped it).
    #[error("websocket message over the size limit: {0}")]
    Oversized(String),
    /// An ISO-8601 duration the server cannot read.
    #[error("invalid duration {0:?}")]
    Duration(String),
}

/// The fields common to every client message.
#[derive(Debug, Clone, Deserialize)]
struct RawEnvelope {
    version: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    seq: u64,
    #[serde(default)]
    serverseq: u64,
    #[serde(default)]
    position: Option<String>,
    #[serde(default)]
    parameters: Value,
}

/// A parsed client message with its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEnvelope {
    /// The session id.
    pub id: String,
    /// The client's sequence number.
    pub seq: u64,
    /// The last server seq the client had seen.
    pub serverseq: u64,
    /// Audio received so far by the client's clock, when given.
    pub position: Option<Duration>,
    /// The message.
    pub message: ClientMessage,
}

/// A client message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// `open`: start a session.
    Open(OpenParameters),
    /// `ping`: answered by `pong`.
    Ping {
        /// The round-trip time the client measured, when given.
        rtt: Option<Duration>,
    },
    /// `update` (e.g. a language change); acknowledged silently.
    Update(Value),
    /// `paused`: the client paused the audio.
    Paused,
    /// `resumed`: the client resumed; `discarded` audio was skipped while paused.
    Resumed(DiscardParameters),
    /// `discarded`: the client skipped some audio (e.g. a backlog).
    Discarded(DiscardParameters),
    /// `error`: the client reports a problem.
    Error {
        /// An HTTP-like status code.
        code: u16,
        /// The client's description.
        message: String,
    },
    /// `close`: the client ends the session.
    Close {
        /// `end`, `error`, `disconnect` or `reconnect`.
        reason: String,
    },
}

impl ClientMessage {
    /// The message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Open(_) => "open",
            ClientMessage::Ping { .. } => "ping",
            ClientMessage::Update(_) => "update",
            ClientMessage::Paused => "paused",
            ClientMessage::Resumed(_) => "resumed",
            ClientMessage::Discarded(_) => "discarded",
            ClientMessage::Error { .. } => "error",
            ClientMessage::Close { .. } => "close",
        }
    }
}

/// Parameters of `open`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenParameters {
    /// The Genesys organisation.
    pub organization_id: String,
    /// The conversation (call).
    pub conversation_id: String,
    /// The participant: `{id, ani, aniName, dnis}`, kept as sent.
    pub participant: Value,
    /// The participant's id (the null UUID for probes).
    pub participant_id: String,
    /// The media offers, each exactly as sent (to be echoed unmodified).
    pub media: Vec<Value>,
    /// The conversation language, when given.
    pub language: Option<String>,
    /// Integration-specific configuration, when given.
    pub custom_config: Option<Value>,
}

impl OpenParameters {
    /// Whether this is a connection probe (null conversation and participant ids).
    pub fn is_probe(&self) -> bool {
        self.conversation_id == NULL_UUID && self.participant_id == NULL_UUID
    }
}

/// Parameters of `resumed` and `discarded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscardParameters {
    /// Stream position where the skipped audio starts.
    pub start: Duration,
    /// How much audio was skipped.
    pub discarded: Duration,
}

/// Sample encoding of a media offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// G.711 μ-law, one byte per sample.
    Pcmu,
    /// Linear 16-bit little-endian PCM.
    L16,
}

impl Format {
    /// Bytes per sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Format::Pcmu => 1,
            Format::L16 => 2,
        }
    }
}

/// A channel of a media offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The customer.
    External,
    /// The agent.
    Internal,
}

/// A media offer the server can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFormat {
    /// The encoding.
    pub format: Format,
    /// The channels, in the order samples are interleaved.
    pub channels: Vec<Channel>,
    /// Sample rate, Hz (always 8000 here).
    pub rate: u32,
}

/// The sample rate the server accepts.
pub const SUPPORTED_RATE: u32 = 8000;

/// Reads one media offer; `None` when it is not one the server supports (not audio, another
/// format or rate, unknown or repeated channels, no channel).
pub fn supported_media(offer: &Value) -> Option<MediaFormat> {
    #[derive(Deserialize)]
    struct Offer {
        #[serde(rename = "type")]
        kind: String,
        format: String,
        channels: Vec<String>,
        rate: u32,
    }
    let o: Offer = serde_json::from_value(offer.clone()).ok()?;
    if o.kind != "audio" || o.rate != SUPPORTED_RATE {
        return None;
    }
    let format = match o.format.as_str() {
        "PCMU" => Format::Pcmu,
        "L16" => Format::L16,
        _ => return None,
    };
    let mut channels = Vec::with_capacity(2);
    for c in &o.channels {
        let ch = match c.as_str() {
            "external" => Channel::External,
            "internal" => Channel::Internal,
            _ => return None,
        };
        if channels.contains(&ch) {
            return None;
        }
        channels.push(ch);
    }
    if channels.is_empty() {
        return None;
    }
    Some(MediaFormat {
        format,
        channels,
        rate: o.rate,
    })
}

/// Picks the offer to accept: PCMU stereo first, then L16 stereo, then mono PCMU, then mono
/// L16 (the first offer of the best kind). Returns its index among `offers` and its reading.
pub fn choose_media(offers: &[Value]) -> Option<(usize, MediaFormat)> {
    let rank = |m: &MediaFormat| {
        let stereo = if m.channels.len() == 2 { 0 } else { 2 };
        let fmt = match m.format {
            Format::Pcmu => 0,
            Format::L16 => 1,
        };
        stereo + fmt
    };
    offers
        .iter()
        .enumerate()
        .filter_map(|(i, o)| supported_media(o).map(|m| (i, m)))
        .min_by_key(|(i, m)| (rank(m), *i))
}

/// Parses an ISO-8601 duration of the form the protocol uses (`PT12.34S`, also with `nH`,
/// `nM` and a `nD` day part).
///
/// # Errors
///
/// [`ProtocolError::Duration`] when it is not such a duration or is absurdly long.
pub fn parse_duration(s: &str) -> Result<Duration, ProtocolError> {
    let err = || ProtocolError::Duration(s.chars().take(64).collect());
    if s.len() > 64 {
        return Err(err());
    }
    let rest = s.strip_prefix('P').ok_or_else(err)?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut secs = 0.0f64;
    let mut any = false;
    if !days.is_empty() {
        let d = days.strip_suffix('D').ok_or_else(err)?;
        secs += number(d).ok_or_else(err)? * 86_400.0;
        any = true;
    }
    let mut t = time;
    if rest.contains('T') && t.is_empty() {
        return Err(err());
    }
    let mut seen = 0u8; // H=1, M=2, S=3: units in order
    while !t.is_empty() {
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let (num, unit_rest) = t.split_at(end);
        let mut chars = unit_rest.chars();
        let unit = chars.next().ok_or_else(err)?;
        let (order, factor) = match unit {
            'H' => (1, 3600.0),
            'M' => (2, 60.0),
            'S' => (3, 1.0),
            _ => return Err(err()),
        };
        if order <= seen || (order != 3 && num.contains('.')) {
            return Err(err());
        }
        seen = order;
        secs += number(num).ok_or_else(err)? * factor;
        any = true;
        t = chars.as_str();
    }
    if !any || !secs.is_finite() || secs > 1.0e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn number(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Formats a duration the way the protocol writes them (`PT1.25S`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("PT{}S", ms / 1000)
    } else {
        let s = format!("PT{}.{:03}", ms / 1000, ms % 1000);
        format!("{}S", s.trim_end_matches('0'))
    }
}

/// Parses one client text message.
///
/// # Errors
///
/// A [`ProtocolError`] for text that is too long, not JSON, lacks an envelope field or has one
/// of the wrong type, carries another version, has an unknown type, or parameters that do not
/// fit its type.
pub fn parse_client(text: &str) -> Result<ClientEnvelope, ProtocolError> {
    if text.len() > MAX_TEXT_CHARS {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(ProtocolError::TooLong(chars));
        }
    }
    let raw: RawEnvelope = serde_json::from_str(text).map_err(|e| {
        let mut m = e.to_string();
        m.truncate(200);
        ProtocolError::Malformed(m)
    })?;
    if raw.version != VERSION {
        return Err(ProtocolError::Version(
            raw.version.chars().take(16).collect(),
        ));
    }
    let position = match &raw.position {
        Some(p) => Some(parse_duration(p)?),
        None => None,
    };
    let message = parse_parameters(&raw.kind, raw.parameters)?;
    Ok(ClientEnvelope {
        id: raw.id,
        seq: raw.seq,
        serverseq: raw.serverseq,
        position,
        message,
    })
}

fn parse_parameters(kind: &str, p: Value) -> Result<ClientMessage, ProtocolError> {
    let bad = |detail: String| ProtocolError::Parameters {
        kind: kind.to_owned(),
        detail: detail.chars().take(200).collect(),
    };
    let params = |p: Value| -> Result<Value, ProtocolError> {
        match p {
            Value::Null => Ok(Value::Object(Default::default())),
            Value::Object(_) => Ok(p),
            _ => Err(bad("parameters is not an object".to_owned())),
        }
    };
    let p = params(p)?;
    match kind {
        "open" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Open {
                organization_id: String,
                conversation_id: String,
                participant: Value,
                media: Vec<Value>,
                #[serde(default)]
                language: Option<String>,
                #[serde(default)]
                custom_config: Option<Value>,
            }
            let o: Open = serde_json::from_value(p).map_err(|e| bad(e.to_string()))?;
            let participant_id = o
                .participant
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("participant.id missing or not a string".to_owned()))?
                .to_owned();
            Ok(ClientMessage::Open(OpenParameters {
                organization_id: o.organization_id,
                conversation_id: o.conversation_id,
                participant: o.participant,
                participant_id,
                media: o.media,
                language: o.language,
                custom_config: o.custom_config,
            }))
        }
        "ping" => {
            let rtt = match p.get("rtt") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(parse_duration(s)?),
                Some(_) => return Err(bad("rtt is not a string".to_owned())),
            };
            Ok(ClientMessage::Ping { rtt })
        }
        "update" => Ok(ClientMessage::Update(p)),
        "paused" => Ok(ClientMessage::Paused),
        "resumed" | "discarded" => {
            #[derive(Deserialize)]
            struct D {
                start: String,
                discarded: String,
            }
            let d: D = serde_json::from_value(p).map_err(|e| bad(e.to_string()))?;
            let d = DiscardParameters {
                start: parse_duration(&d.start)?,
                discarded: parse_duration(&d.discarded)?,
            };
            Ok(if kind == "resumed" {
                ClientMessage::Resumed(d)
            } else {
                ClientMessage::Discarded(d)
            })
        }
        "error" => {
            #[derive(Deserialize)]
            struct E {
                code: u16,
                #[serde(default)]
                message: String,
            }
            let e: E = serde_json::from_value(p).map_err(|e| bad(e.to_string()))?;
            Ok(ClientMessage::Error {
                code: e.code,
                message: e.message,
            })
        }
        "close" => {
            #[derive(Deserialize)]
            struct C {
                #[serde(default)]
                reason: Option<String>,
            }
            let c: C = serde_json::from_value(p).map_err(|e| bad(e.to_string()))?;
            Ok(ClientMessage::Close {
                reason: c.reason.unwrap_or_default(),
            })
        }
        other => Err(ProtocolError::UnknownType(other.chars().take(64).collect())),
    }
}

/// Reasons a server gives in `disconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server is done with the session.
    Completed,
    /// Authentication failed.
    Unauthorized,
    /// A protocol or server error.
    Error,
}

impl DisconnectReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Completed => "completed",
            DisconnectReason::Unauthorized => "unauthorized",
            DisconnectReason::Error => "error",
        }
    }
}

/// Serialises a server message (`version`, `id`, `type`, `seq`, `clientseq`, `parameters`).
pub fn server_message(id: &str, kind: &str, seq: u64, clientseq: u64, parameters: Value) -> String {
    json!({
        "version": VERSION,
        "id": id,
        "type": kind,
        "seq": seq,
        "clientseq": clientseq,
        "parameters": parameters,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(kind: &str, params: &str) -> String {
        format!(
            r#"{{"version":"2","id":"e160e428-53e2-487c-977d-96989bf5c99d","type":"{kind}","seq":1,"serverseq":0,"position":"PT0S","parameters":{params}}}"#
        )
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT0S").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("PT12.34S").unwrap(),
            Duration::from_secs_f64(12.34)
        );
        assert_eq!(
            parse_duration("PT1H2M3S").unwrap(),
            Duration::from_secs(3723)
        );
        assert_eq!(
            parse_duration("P1DT1S").unwrap(),
            Duration::from_secs(86_401)
        );
        for bad in [
            "", "P", "PT", "T1S", "PT1", "PTS", "PT1.2.3S", "PT-1S", "PT1S2M", "PT1X", "PT1.5M",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_millis(1250)), "PT1.25S");
        assert_eq!(format_duration(Duration::from_secs(3)), "PT3S");
    }

    #[test]
    fn parses_open() {
        let t = env(
            "open",
            r#"{"organizationId":"o","conversationId":"c","participant":{"id":"p","ani":"+1","aniName":"x","dnis":"+2"},"media":[{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000}],"language":"en-US"}"#,
        );
        let e = parse_client(&t).unwrap();
        let ClientMessage::Open(o) = e.message else {
            panic!("open expected")
        };
        assert_eq!(o.organization_id, "o");
        assert_eq!(o.participant_id, "p");
        assert_eq!(o.media.len(), 1);
        assert!(!o.is_probe());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            parse_client("not json"),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse_client("[]"),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse_client(r#"{"version":"2","id":"x","type":"ping","seq":"1","parameters":{}}"#),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse_client(r#"{"version":"1","id":"x","type":"ping","seq":1,"parameters":{}}"#),
            Err(ProtocolError::Version(_))
        ));
        assert!(matches!(
            parse_client(&env("bogus", "{}")),
            Err(ProtocolError::UnknownType(_))
        ));
        assert!(matches!(
            parse_client(&env("discarded", r#"{"start":"PT1S"}"#)),
            Err(ProtocolError::Parameters { .. })
        ));
        assert!(matches!(
            parse_client(&env("ping", "[1]")),
            Err(ProtocolError::Parameters { .. })
        ));
        let long = env(
            "ping",
            &format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_TEXT_CHARS)),
        );
        assert!(matches!(
            parse_client(&long),
            Err(ProtocolError::TooLong(_))
        ));
        let deep = "[".repeat(10_000);
        assert!(parse_client(&deep).is_err());
    }

    #[test]
    fn media_choice() {
        let offers: Vec<Value> = serde_json::from_str(
            r#"[{"type":"audio","format":"L16","channels":["internal","external"],"rate":8000},
                {"type":"audio","format":"PCMU","channels":["external"],"rate":8000},
                {"type":"audio","format":"PCMU","channels":["internal","external"],"rate":8000},
                {"type":"audio","format":"opus","channels":["external","internal"],"rate":48000}]"#,
        )
        .unwrap();
        let (i, m) = choose_media(&offers).unwrap();
        assert_eq!(i, 2);
        assert_eq!(m.channels, vec![Channel::Internal, Channel::External]);
        assert_eq!(choose_media(&offers[..2]).unwrap().0, 0);
        assert!(choose_media(&offers[3..]).is_none());
    }
}
