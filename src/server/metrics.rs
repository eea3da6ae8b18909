//! Server metrics, exported at `/metrics` in the Prometheus text exposition format (0.0.4).
//!
//! Every metric is a relaxed atomic bumped where the thing happens (ingest, workers, the
//! dashboard fan-out), so recording never locks or allocates. The exposition is written by
//! hand: it is a few lines of a stable text format, and a metrics crate would add a registry
//! and locks for nothing this server needs.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::alert::AlertKind;

use super::ingest::Protocol;

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS_S: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0,
];

const PROTOCOLS: [Protocol; 2] = [Protocol::AudioHook, Protocol::Twilio];

/// A latency histogram with fixed buckets ([`LATENCY_BUCKETS_S`]), lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_S.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation of `seconds` (negative values count as 0).
    pub fn observe(&self, seconds: f64) {
        let s = seconds.max(0.0);
        if let Some(i) = LATENCY_BUCKETS_S.iter().position(|&b| s <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((s * 1e6).min(u64::MAX as f64) as u64, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, bound) in self.buckets.iter().zip(LATENCY_BUCKETS_S) {
            cumulative += b.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every counter the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Calls opened, by protocol (index of [`Protocol`] in `audiohook`, `twilio` order).
    pub calls_opened: [AtomicU64; 2],
    /// Calls refused (capacity, overload, duplicate, invalid).
    pub calls_refused: AtomicU64,
    /// Calls finished.
    pub calls_finished: AtomicU64,
    /// Calls that ended with an analysis error (a worker caught a panic or a stage failed).
    pub calls_failed: AtomicU64,
    /// Probe sessions completed (AudioHook integration checks; nothing recorded).
    pub probes: AtomicU64,
    /// Connections refused for authentication.
    pub auth_failures: AtomicU64,
    /// Protocol errors that ended a session, by protocol.
    pub protocol_errors: [AtomicU64; 2],
    /// Sessions ended because the client sent nothing for the idle timeout, by protocol.
    pub idle_timeouts: [AtomicU64; 2],
    /// Audio frames (one sample per party) received from the wire.
    pub frames_in: AtomicU64,
    /// Frames dropped because a worker queue was full (replaced by gaps).
    pub frames_dropped: AtomicU64,
    /// Frames analysed by the workers.
    pub frames_analysed: AtomicU64,
    /// Alerts raised, by kind (order of [`AlertKind::ALL`]).
    pub alerts: [AtomicU64; 6],
    /// Dashboard updates a slow client missed (it is then sent a fresh snapshot).
    pub dashboard_lagged: AtomicU64,
    /// Dashboard clients connected.
    pub dashboard_clients: AtomicU64,
    /// Dashboard clients disconnected for not accepting an update within the send timeout.
    pub dashboard_slow: AtomicU64,
    /// Worker queue messages processed.
    pub worker_messages: AtomicU64,
    /// Time from the arrival of the audio that completed an alert's frame to the alert.
    pub ingest_to_alert: Histogram,
    /// Time an AudioHook `open` spends being accepted by the floor (the `opened` reply is sent
    /// right after).
    pub open_to_opened: Histogram,
}

fn protocol_index(p: Protocol) -> usize {
    match p {
        Protocol::AudioHook => 0,
        Protocol::Twilio => 1,
    }
}

impl Metrics {
    pub(crate) fn frames_received(&self, n: u64) {
        self.frames_in.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn frames_dropped(&self, n: u64) {
        self.frames_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an opened call.
    pub fn call_opened(&self, p: Protocol) {
        self.calls_opened[protocol_index(p)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a protocol error that ended a session.
    pub fn protocol_error(&self, p: Protocol) {
        self.protocol_errors[protocol_index(p)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a session ended by the idle timeout.
    pub fn idle_timeout(&self, p: Protocol) {
        self.idle_timeouts[protocol_index(p)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an alert.
    pub fn alert(&self, kind: AlertKind) {
        self.alerts[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `active` is the number of live calls, `workers` the queue depth of
    /// each worker.
    pub fn render(&self, active: usize, queue_depths: &[usize]) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut simple = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        simple(
            "callpulse_active_calls",
            "gauge",
            "Calls being analysed now.",
            active as u64,
        );
        simple(
            "callpulse_calls_refused_total",
            "counter",
            "Calls refused (capacity, overload, duplicate id, invalid).",
            load(&self.calls_refused),
        );
        simple(
            "callpulse_calls_finished_total",
            "counter",
            "Calls finalised (summary written).",
            load(&self.calls_finished),
        );
        simple(
            "callpulse_calls_failed_total",
            "counter",
            "Calls whose analysis failed (error event written).",
            load(&self.calls_failed),
        );
        simple(
            "callpulse_probes_total",
            "counter",
            "AudioHook probe sessions completed.",
            load(&self.probes),
        );
        simple(
            "callpulse_auth_failures_total",
            "counter",
            "Connections refused for a missing or wrong key, token or signature.",
            load(&self.auth_failures),
        );
        simple(
            "callpulse_frames_received_total",
            "counter",
            "Audio frames received from the wire.",
            load(&self.frames_in),
        );
        simple(
            "callpulse_frames_dropped_total",
            "counter",
            "Audio frames dropped at a full worker queue (analysed as gaps).",
            load(&self.frames_dropped),
        );
        simple(
            "callpulse_frames_analysed_total",
            "counter",
            "Audio frames analysed.",
            load(&self.frames_analysed),
        );
        simple(
            "callpulse_dashboard_clients",
            "gauge",
            "Dashboard and agent-page live connections.",
            load(&self.dashboard_clients),
        );
        simple(
            "callpulse_dashboard_lagged_total",
            "counter",
            "Live updates skipped for slow dashboard clients.",
            load(&self.dashboard_lagged),
        );
        simple(
            "callpulse_dashboard_slow_disconnects_total",
            "counter",
            "Dashboard clients disconnected for accepting no update within the send timeout.",
            load(&self.dashboard_slow),
        );
        simple(
            "callpulse_worker_messages_total",
            "counter",
            "Messages processed by the analysis workers.",
            load(&self.worker_messages),
        );
        let mut by_protocol = |name: &str, help: &str, counters: &[AtomicU64; 2]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for p in PROTOCOLS {
                let v = load(&counters[protocol_index(p)]);
                let _ = writeln!(out, "{name}{{protocol=\"{}\"}} {v}", p.name());
            }
        };
        by_protocol(
            "callpulse_calls_opened_total",
            "Calls opened, by protocol.",
            &self.calls_opened,
        );
        by_protocol(
            "callpulse_protocol_errors_total",
            "Sessions ended by a protocol error (malformed, out of order, oversized...).",
            &self.protocol_errors,
        );
        by_protocol(
            "callpulse_idle_timeouts_total",
            "Sessions ended because the client sent nothing for the idle timeout.",
            &self.idle_timeouts,
        );
        let _ = writeln!(out, "# HELP callpulse_alerts_total Alerts raised, by kind.");
        let _ = writeln!(out, "# TYPE callpulse_alerts_total counter");
        for (k, a) in AlertKind::ALL.iter().zip(&self.alerts) {
            let _ = writeln!(
                out,
                "callpulse_alerts_total{{kind=\"{}\"}} {}",
                k.name(),
                load(a)
            );
        }
        let _ = writeln!(
            out,
            "# HELP callpulse_worker_queue_depth Messages waiting per analysis worker."
        );
        let _ = writeln!(out, "# TYPE callpulse_worker_queue_depth gauge");
        for (i, d) in queue_depths.iter().enumerate() {
            let _ = writeln!(out, "callpulse_worker_queue_depth{{worker=\"{i}\"}} {d}");
        }
        self.ingest_to_alert.render(
            &mut out,
            "callpulse_ingest_to_alert_seconds",
            "From the arrival of the audio completing an alert's frame to the alert.",
        );
        self.open_to_opened.render(
            &mut out,
            "callpulse_audiohook_open_seconds",
            "Time an AudioHook open spends being accepted (opened is sent right after).",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.ingest_to_alert.observe(0.003);
        m.ingest_to_alert.observe(0.15);
        m.ingest_to_alert.observe(50.0);
        m.alert(AlertKind::DeadAir);
        let text = m.render(2, &[0, 3]);
        assert!(text.contains("callpulse_ingest_to_alert_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("callpulse_ingest_to_alert_seconds_bucket{le=\"0.2\"} 2"));
        assert!(text.contains("callpulse_ingest_to_alert_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("callpulse_alerts_total{kind=\"dead_air\"} 1"));
        assert!(text.contains("callpulse_active_calls 2"));
        assert!(text.contains("callpulse_worker_queue_depth{worker=\"1\"} 3"));
    }
}
