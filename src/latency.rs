//! Latency of live analysis: a fixed histogram of delays, summarised as percentiles.
//!
//! The analysis thread records, for every frame and alert of a live call, the time from the
//! capture of the newest sample it depends on to the moment it is handed to the sinks. The
//! histogram has fixed 0.1 ms buckets up to 2 s (delays beyond land in the last bucket and
//! still count in `max`), so recording never allocates and memory does not grow with the call.

use crate::record::round;
use serde::Serialize;

/// Bucket width in nanoseconds (0.1 ms).
const BUCKET_NS: u64 = 100_000;
/// Number of buckets: 2 s of range.
const BUCKETS: usize = 20_000;

/// A histogram of delays. Allocates once in [`LatencyHistogram::new`].
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u32>,
    total: u64,
    max_ns: u64,
}

/// Percentiles of a [`LatencyHistogram`], in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Delays recorded.
    pub count: u64,
    /// Median, in ms.
    pub p50_ms: f64,
    /// 99th percentile, in ms.
    pub p99_ms: f64,
    /// Largest, in ms.
    pub max_ms: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (about 80 kB).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max_ns: 0,
        }
    }

    /// Records one delay in nanoseconds. Does not allocate.
    pub fn record(&mut self, ns: u64) {
        let i = ((ns / BUCKET_NS) as usize).min(BUCKETS - 1);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    /// Delays recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0..=1) in milliseconds, at the upper edge of its bucket; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let edge = (i as u64 + 1) * BUCKET_NS;
                return edge.min(self.max_ns.max(i as u64 * BUCKET_NS)) as f64 / 1e6;
            }
        }
        self.max_ns as f64 / 1e6
    }

    /// Count, median, 99th percentile and maximum.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.total,
            p50_ms: round(self.quantile_ms(0.5), 2),
            p99_ms: round(self.quantile_ms(0.99), 2),
            max_ms: round(self.max_ns as f64 / 1e6, 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=100u64 {
            h.record(ms * 1_000_000);
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() <= 0.11, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() <= 0.11, "{s:?}");
        assert_eq!(s.max_ms, 100.0);
    }

    #[test]
    fn empty_and_out_of_range() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.summary(), LatencySummary::default());
        h.record(10_000_000_000);
        let s = h.summary();
        assert_eq!(s.max_ms, 10_000.0);
        assert!(s.p99_ms >= 1999.9, "{s:?}");
    }
}
