//! The call server (temporary minimal module on branch `twilio`; the lead's version wins at
//! merge).

pub mod ingest;
pub mod twilio;

/// Placeholder for the lead's metrics module, so `ingest` compiles on this branch.
pub mod metrics {
    /// Server-wide counters (placeholder).
    #[derive(Debug, Default)]
    pub struct Metrics;

    impl Metrics {
        /// Counts received frames.
        pub fn frames_received(&self, _frames: u64) {}
        /// Counts dropped frames.
        pub fn frames_dropped(&self, _frames: u64) {}
    }
}
