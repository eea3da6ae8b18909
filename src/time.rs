//! Clocks for measuring the analysis itself.

use std::time::Duration;

/// CPU time consumed by the calling thread so far, where the platform can tell.
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the C
        // library defines; clock_gettime writes only into `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
        }
        None
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The monotonic clock in nanoseconds (`CLOCK_MONOTONIC`, the same for every thread of the
/// process). Safe to call from an audio callback: a vDSO read, no allocation, no lock.
pub fn mono_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `thread_cpu_time`: a valid timespec and a constant clock id.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        if rc == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
        0
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The offset from [`mono_ns`] to Unix time, in seconds: `unix = offset + mono_ns / 1e9`.
/// Taken once per call so that timestamps within a call are consistent.
pub fn unix_offset_s() -> f64 {
    unix_now_s() - mono_ns() as f64 / 1e9
}

/// Unix time now, in seconds (0 if the system clock is before 1970).
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
