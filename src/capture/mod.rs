//! Live capture: audio devices through `cpal`, a lock-free ring per stream, and a
//! [`crate::source::Source`] that the call's analysis thread pulls.
//!
//! * [`device`]: hosts and devices, found by name, with errors that list the alternatives.
//! * [`drift`]: clock drift correction between two devices, steered by ring fill levels.
//! * [`wav_device`]: a WAV file as a `cpal` input device (cpal's `custom` host), for tests and
//!   demos that need no audio server.

pub mod device;
pub mod drift;
pub mod live;
pub mod ring;
pub mod wav_device;

pub use live::{CaptureMonitor, CaptureOptions, CaptureReport, LiveSource, StreamSpec};
pub use ring::CaptureCounters;
