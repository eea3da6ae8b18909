//! Genesys Cloud AudioHook v2, server side.
//!
//! The contact centre is the WebSocket client; it opens, and closes, every session. This module
//! authenticates the upgrade request ([`signature`], [`handler::authenticate`]), parses and
//! writes the protocol's JSON messages ([`message`]), runs each session's state machine
//! ([`session`]) and connects it to the analysis floor ([`handler`]).
//!
//! ## Session state machine
//!
//! ```text
//!            open (org ok, media ok)                 paused
//! wait-open ─────────────────────────► active ◄──────────────► paused
//!     │        OpenCall → call_opened   │   resumed / discarded → gap
//!     │        → opened                 │
//!     │ protocol error, refusal,        │ protocol error, idle timeout
//!     │ idle timeout → disconnect       ▼ → disconnect
//!     └──────────────────────────────► closing ── close → closed ──► closed
//!                                        └── no close within the grace → socket closed
//! any state: close → EndCall(Completed), closed; socket gone → EndCall(Disconnected)
//! ```
//!
//! * Every client message's `id` must be the session's and its `seq` the previous one plus
//!   one (the first is 1); `open`'s `organizationId` must equal the
//!   `audiohook-organization-id` header.
//! * `opened` echoes exactly one offered media entry, unmodified: stereo PCMU first, then stereo
//!   L16, then mono (8 kHz only). Without a usable offer the session ends with `disconnect`
//!   (reason `error`, `info` saying why).
//! * `opened` never waits for the analysis: opening a call on the floor does not block, and a
//!   refusal (capacity, duplicate) becomes `disconnect` (reason `error`, `info` = the refusal).
//! * Probe sessions (null conversation and participant ids) are answered and closed cleanly;
//!   no call is opened, their audio is ignored.
//! * `external` is the caller, `internal` the agent; audio is deinterleaved in the order of the
//!   chosen offer's `channels` and pushed agent first.
//! * Audio before `opened` is a protocol error; audio after `disconnect` or `closed` (already
//!   in flight) is dropped.
//!
//! ## Limits
//!
//! * Text messages: at most 65,535 characters ([`message::MAX_TEXT_CHARS`]); WebSocket
//!   messages and frames: at most [`handler::MAX_MESSAGE_BYTES`] (bigger ones drop the
//!   connection); audio frames: at most [`session::MAX_AUDIO_FRAME_BYTES`] and a whole number
//!   of sample frames.
//! * No message for the idle timeout (30 s by default) ends the session; after `disconnect` the
//!   client has the close grace (5 s) to send `close`.
//! * Signatures older than 10 s, with a nonce shorter than 22 characters, or whose keyid is
//!   not the API key are refused; failed authentication is answered with 401 after a fixed
//!   500 ms delay.

pub mod handler;
pub mod message;
pub mod session;
pub mod signature;

pub use handler::{CallFloor, CallSink, authenticate, run, upgrade, upgrade_with};
pub use session::{Action, CallEnd, CallSpec, Failure, Session, SessionParams, State};
