//! The messages Twilio sends over a Media Stream, parsed and validated at the boundary.
//!
//! Every message is a JSON text frame with an `event` field. Counters (`sequenceNumber`,
//! `chunk`, `timestamp`) arrive as strings of digits; [`Counter`] also accepts JSON numbers,
//! leniently, and rejects anything else with a typed [`MessageError`]. Media payloads are
//! base64 μ-law and are decoded here, against [`MAX_PAYLOAD_BYTES`]. Nothing in this module
//! panics on any input.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Largest text message accepted, bytes. A `media` message of 20 ms is about 400 bytes; a
/// `start` message with custom parameters a few kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest decoded media payload, bytes (= samples at 8 kHz μ-law): one second. Twilio sends
/// 20 ms (160 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 8000;

/// Most custom parameters accepted in a `start` message.
pub const MAX_CUSTOM_PARAMETERS: usize = 64;

/// Longest identifier or custom parameter value accepted, bytes.
pub const MAX_FIELD_BYTES: usize = 2048;

/// Why a text frame is not a valid Twilio message (Twilio's error 31951 semantics).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The frame is larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or JSON without the fields the event requires (serde's message).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The media payload is not valid base64.
    #[error("media payload is not valid base64: {0}")]
    BadPayload(String),
    /// The decoded media payload is larger than [`MAX_PAYLOAD_BYTES`].
    #[error("media payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// Its (estimated) length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A string field or the custom parameters exceed their limits.
    #[error("field {field} exceeds its limit")]
    FieldTooLarge {
        /// The field.
        field: &'static str,
    },
}

/// A non-negative counter that Twilio sends as a string of digits (`"42"`). JSON integers are
/// accepted too; signs, fractions, empty strings and anything over `u64` are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Counter(pub u64);

impl Counter {
    /// Parses a string of ASCII digits (at most 19, so it fits a `u64` with room).
    pub fn parse(s: &str) -> Option<Counter> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Counter)
    }
}

impl<'de> Deserialize<'de> for Counter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Counter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer as a string of digits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Counter, E> {
                Counter::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Counter, E> {
                Ok(Counter(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Counter, E> {
                u64::try_from(v)
                    .map(Counter)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Counter, E> {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// One leg of the call, as Twilio names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Track {
    /// Audio from the far end into Twilio: the caller.
    Inbound,
    /// Audio Twilio sends to the far end: the agent (or the application).
    Outbound,
}

impl Track {
    /// Twilio's name (`inbound`, `outbound`).
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Inbound => "inbound",
            Track::Outbound => "outbound",
        }
    }

    /// Parses `inbound`/`outbound`, also `inbound_track`/`outbound_track` (as in the TwiML
    /// attribute and in `dtmf` messages).
    pub fn parse(s: &str) -> Option<Track> {
        match s {
            "inbound" | "inbound_track" => Some(Track::Inbound),
            "outbound" | "outbound_track" => Some(Track::Outbound),
            _ => None,
        }
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Track {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Track::parse(&s).ok_or_else(|| {
            de::Error::invalid_value(de::Unexpected::Str(&s), &"inbound or outbound")
        })
    }
}

/// The audio format announced in `start.mediaFormat`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    /// `audio/x-mulaw` for Media Streams.
    pub encoding: String,
    /// 8000.
    pub sample_rate: Counter,
    /// 1.
    pub channels: Counter,
}

/// The body of a `start` message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInfo {
    /// The Twilio account.
    #[serde(default)]
    pub account_sid: String,
    /// The call.
    #[serde(default)]
    pub call_sid: String,
    /// The stream (repeated in the envelope).
    #[serde(default)]
    pub stream_sid: Option<String>,
    /// The tracks that will be streamed.
    pub tracks: Vec<Track>,
    /// The `<Parameter>`s of the `<Stream>` TwiML (values are strings).
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
    /// The audio format.
    pub media_format: MediaFormat,
}

/// A `start` message: the stream's metadata, sent once after `connected`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    /// The message's sequence number.
    pub sequence_number: Counter,
    /// The stream.
    pub stream_sid: String,
    /// The metadata.
    pub start: StartInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMediaBody {
    track: Track,
    chunk: Counter,
    timestamp: Counter,
    payload: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMedia {
    sequence_number: Counter,
    stream_sid: String,
    media: RawMediaBody,
}

/// A `media` message: one chunk (about 20 ms) of one track, payload decoded to μ-law bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The message's sequence number.
    pub sequence_number: Counter,
    /// The stream.
    pub stream_sid: String,
    /// The track.
    pub track: Track,
    /// The chunk number within the track (1, 2, 3...).
    pub chunk: Counter,
    /// Milliseconds since the stream started.
    pub timestamp: Counter,
    /// μ-law bytes, one per sample at 8 kHz.
    pub payload: Vec<u8>,
}

/// The body of a `mark` message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MarkInfo {
    /// The mark's name.
    #[serde(default)]
    pub name: String,
}

/// A `mark` message (bidirectional streams; logged and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// The message's sequence number.
    pub sequence_number: Counter,
    /// The stream.
    pub stream_sid: String,
    /// The mark.
    #[serde(default)]
    pub mark: Option<MarkInfo>,
}

/// The body of a `dtmf` message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DtmfInfo {
    /// The track (`inbound_track`).
    #[serde(default)]
    pub track: Option<String>,
    /// The key pressed.
    #[serde(default)]
    pub digit: String,
}

/// A `dtmf` message (bidirectional streams; logged and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dtmf {
    /// The message's sequence number.
    pub sequence_number: Counter,
    /// The stream.
    pub stream_sid: String,
    /// The key press.
    #[serde(default)]
    pub dtmf: Option<DtmfInfo>,
}

/// A `stop` message: the stream has ended (the last message).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stop {
    /// The message's sequence number.
    pub sequence_number: Counter,
    /// The stream.
    pub stream_sid: String,
}

/// A `connected` message: the first message of the socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Connected {
    /// `Call`.
    #[serde(default)]
    pub protocol: String,
    /// `1.0.0`.
    #[serde(default)]
    pub version: String,
}

/// A message from Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `connected`.
    Connected(Connected),
    /// `start`.
    Start(Box<Start>),
    /// `media`.
    Media(Media),
    /// `mark`.
    Mark(Mark),
    /// `dtmf`.
    Dtmf(Dtmf),
    /// `stop`.
    Stop(Stop),
    /// An event this server does not know (kept for forward compatibility: logged, ignored).
    Other {
        /// The event's name (truncated to [`MAX_FIELD_BYTES`]).
        event: String,
    },
}

impl Message {
    /// The event name.
    pub fn event(&self) -> &str {
        match self {
            Message::Connected(_) => "connected",
            Message::Start(_) => "start",
            Message::Media(_) => "media",
            Message::Mark(_) => "mark",
            Message::Dtmf(_) => "dtmf",
            Message::Stop(_) => "stop",
            Message::Other { event } => event,
        }
    }

    /// The sequence number, for the events that carry one.
    pub fn sequence_number(&self) -> Option<Counter> {
        match self {
            Message::Start(s) => Some(s.sequence_number),
            Message::Media(m) => Some(m.sequence_number),
            Message::Mark(m) => Some(m.sequence_number),
            Message::Dtmf(m) => Some(m.sequence_number),
            Message::Stop(m) => Some(m.sequence_number),
            Message::Connected(_) | Message::Other { .. } => None,
        }
    }

    /// The stream SID, for the events that carry one.
    pub fn stream_sid(&self) -> Option<&str> {
        match self {
            Message::Start(s) => Some(&s.stream_sid),
            Message::Media(m) => Some(&m.stream_sid),
            Message::Mark(m) => Some(&m.stream_sid),
            Message::Dtmf(m) => Some(&m.stream_sid),
            Message::Stop(m) => Some(&m.stream_sid),
            Message::Connected(_) | Message::Other { .. } => None,
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
}

fn malformed(e: serde_json::Error) -> MessageError {
    MessageError::Malformed(e.to_string())
}

fn check_len(field: &'static str, s: &str) -> Result<(), MessageError> {
    if s.len() > MAX_FIELD_BYTES {
        Err(MessageError::FieldTooLarge { field })
    } else {
        Ok(())
    }
}

/// Parses and validates one text frame.
///
/// # Examples
///
/// ```
/// use callpulse::server::twilio::message::{parse, Message, Track};
///
/// let m = parse(r#"{"event":"media","sequenceNumber":"3","streamSid":"MZ1",
///     "media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8="}}"#).unwrap();
/// let Message::Media(m) = m else { panic!() };
/// assert_eq!((m.track, m.timestamp.0, m.payload), (Track::Inbound, 5, vec![0xff, 0xff]));
/// ```
///
/// # Errors
/// [`MessageError`] when the frame is too large, not JSON, lacks a required field, has a
/// counter that is not a string of digits, or carries a bad or oversized payload.
pub fn parse(text: &str) -> Result<Message, MessageError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge {
            len: text.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let env: Envelope<'_> = serde_json::from_str(text).map_err(malformed)?;
    let msg = match env.event.as_ref() {
        "connected" => Message::Connected(serde_json::from_str(text).map_err(malformed)?),
        "start" => {
            let s: Start = serde_json::from_str(text).map_err(malformed)?;
            check_len("streamSid", &s.stream_sid)?;
            check_len("start.accountSid", &s.start.account_sid)?;
            check_len("start.callSid", &s.start.call_sid)?;
            if s.start.custom_parameters.len() > MAX_CUSTOM_PARAMETERS {
                return Err(MessageError::FieldTooLarge {
                    field: "start.customParameters",
                });
            }
            for (k, v) in &s.start.custom_parameters {
                check_len("start.customParameters", k)?;
                check_len("start.customParameters", v)?;
            }
            if s.start.tracks.len() > 2 {
                return Err(MessageError::FieldTooLarge {
                    field: "start.tracks",
                });
            }
            Message::Start(Box::new(s))
        }
        "media" => {
            let raw: RawMedia = serde_json::from_str(text).map_err(malformed)?;
            check_len("streamSid", &raw.stream_sid)?;
            Message::Media(Media {
                sequence_number: raw.sequence_number,
                stream_sid: raw.stream_sid,
                track: raw.media.track,
                chunk: raw.media.chunk,
                timestamp: raw.media.timestamp,
                payload: decode_payload(&raw.media.payload)?,
            })
        }
        "mark" => Message::Mark(serde_json::from_str(text).map_err(malformed)?),
        "dtmf" => Message::Dtmf(serde_json::from_str(text).map_err(malformed)?),
        "stop" => Message::Stop(serde_json::from_str(text).map_err(malformed)?),
        other => {
            let mut event = other.to_owned();
            if event.len() > MAX_FIELD_BYTES {
                let mut cut = MAX_FIELD_BYTES;
                while !event.is_char_boundary(cut) {
                    cut -= 1;
                }
                event.truncate(cut);
            }
            Message::Other { event }
        }
    };
    Ok(msg)
}

/// Decodes a base64 payload, refusing one that would exceed [`MAX_PAYLOAD_BYTES`] before
/// decoding it.
///
/// # Errors
/// [`MessageError::PayloadTooLarge`] or [`MessageError::BadPayload`].
pub fn decode_payload(b64: &str) -> Result<Vec<u8>, MessageError> {
    let estimate = b64.len() / 4 * 3;
    if estimate > MAX_PAYLOAD_BYTES + 2 {
        return Err(MessageError::PayloadTooLarge {
            len: estimate,
            max: MAX_PAYLOAD_BYTES,
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| MessageError::BadPayload(e.to_string()))?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(MessageError::PayloadTooLarge {
            len: bytes.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accept_digits_and_numbers_only() {
        let ok = |j: &str| serde_json::from_str::<Counter>(j).ok();
        assert_eq!(ok(r#""42""#), Some(Counter(42)));
        assert_eq!(ok("42"), Some(Counter(42)));
        assert_eq!(ok(r#""0""#), Some(Counter(0)));
        for bad in [
            r#""""#,
            r#""-1""#,
            r#""+1""#,
            r#""1.5""#,
            r#"" 1""#,
            r#""abc""#,
            r#""99999999999999999999""#,
            "-1",
            "1.5",
            "null",
            "true",
            "[]",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn start_parses_as_twilio_sends_it() {
        let m = parse(
            r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1",
            "callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw",
            "sampleRate":8000,"channels":1},"customParameters":{"token":"t"}},"streamSid":"MZ1"}"#,
        );
        let Ok(Message::Start(s)) = m else {
            panic!("{m:?}")
        };
        assert_eq!(s.start.tracks, vec![Track::Inbound, Track::Outbound]);
        assert_eq!(s.start.media_format.sample_rate, Counter(8000));
        assert_eq!(s.start.custom_parameters["token"], "t");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(matches!(parse("not json"), Err(MessageError::Malformed(_))));
        assert!(matches!(parse("{}"), Err(MessageError::Malformed(_))));
        assert!(matches!(
            parse(r#"{"event":"media","sequenceNumber":"x","streamSid":"MZ","media":{}}"#),
            Err(MessageError::Malformed(_))
        ));
        assert!(matches!(
            parse(
                r#"{"event":"media","sequenceNumber":"2","streamSid":"MZ","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"!!"}}"#
            ),
            Err(MessageError::BadPayload(_))
        ));
        let big = "A".repeat(MAX_PAYLOAD_BYTES * 2);
        let text = format!(
            r#"{{"event":"media","sequenceNumber":"2","streamSid":"MZ","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":"{big}"}}}}"#
        );
        assert!(matches!(
            parse(&text),
            Err(MessageError::PayloadTooLarge { .. })
        ));
        let huge = " ".repeat(MAX_MESSAGE_BYTES + 1);
        assert!(matches!(parse(&huge), Err(MessageError::TooLarge { .. })));
        assert!(matches!(
            parse(r#"{"event":"whatever"}"#),
            Ok(Message::Other { .. })
        ));
    }
}
