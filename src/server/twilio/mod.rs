//! Twilio Media Streams: the server side.
//!
//! Twilio opens a WebSocket to us (`<Start><Stream url="wss://…/twilio?token=…"
//! track="both_tracks">`) and sends JSON text frames: `connected`, `start` (stream metadata,
//! custom parameters, media format), `media` (about 20 ms of base64 μ-law at 8 kHz per track,
//! stamped with milliseconds since the stream started), `mark` and `dtmf` (bidirectional
//! streams only) and finally `stop`. We never send anything but the closing handshake (a
//! binary frame would be Twilio's warning 31950).
//!
//! The module is built in layers, each testable alone:
//!
//! * [`message`]: parsing and validating frames against explicit limits (typed errors,
//!   never a panic);
//! * [`align`]: the per-track jitter buffers that turn the caller's and the agent's chunks
//!   into one aligned timeline, with gaps where audio is missing;
//! * [`session`]: the transport-agnostic state machine (authentication, ordering, format
//!   checks) that answers each input with actions;
//! * [`handler`]: the axum WebSocket handler that carries those actions out against the
//!   [`Floor`](crate::server::floor) and the call's
//!   [`CallIngest`](crate::server::ingest::CallIngest).
//!
//! Roles: the `inbound` track is the caller and `outbound` the agent, by default; the
//! configuration can swap them (for example when the agent is the one who dialled in).

pub mod align;
pub mod handler;
pub mod message;
pub mod session;

pub use handler::upgrade;
