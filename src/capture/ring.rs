//! The real-time boundary: what runs in the audio callback, and the rings it fills.
//!
//! # The callback contract
//!
//! [`Writer::write`] is the whole of what the capture callback does: it takes the mapped
//! channels of each incoming frame, converts them to `f32` and pushes them into an `rtrb`
//! ring (single producer, single consumer, wait-free), pushes one [`Mark`] (where the chunk
//! starts in the ring, when it was captured, how many frames were lost just before it) into a
//! second ring, and bumps atomic counters. It never allocates, locks, logs, does I/O, panics
//! or waits: when the ring is full (the analysis thread stalled), the incoming chunk is
//! dropped whole and counted, and the frames lost are announced by the next chunk's mark so
//! that the reader can put a gap of the same length in the timeline. Non-finite samples are
//! left for the reader to count and replace (the callback only copies).
//!
//! Stream errors arrive through cpal's error callback; they are moved (not copied, so no
//! allocation) into a small third ring for the reader, and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpal::{FromSample, Sample};

use crate::time::mono_ns;

/// Where one callback's chunk starts in the sample ring and when it was captured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// Index (in frames pushed into the ring since the start) of the chunk's first frame.
    pub start: u64,
    /// Monotonic time ([`mono_ns`]) at which the chunk's first frame was captured.
    pub capture_ns: u64,
    /// Frames lost just before this chunk (ring overflow), to be replaced by a gap.
    pub lost: u64,
    /// An xrun or stream error was reported before this chunk.
    pub glitch: bool,
}

/// Counters shared by the callback (writer) and everyone else (readers), all relaxed atomics.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Callbacks received.
    pub callbacks: AtomicU64,
    /// Frames (one sample per mapped channel) pushed into the ring.
    pub frames: AtomicU64,
    /// Frames dropped because the ring was full.
    pub dropped_frames: AtomicU64,
    /// Chunk marks dropped because their ring was full (the timing of those chunks is then
    /// interpolated from the previous mark).
    pub dropped_marks: AtomicU64,
    /// Xruns (buffer overruns) the backend reported.
    pub xruns: AtomicU64,
    /// Other stream errors the backend reported.
    pub errors: AtomicU64,
    /// Highest ring fill seen by the writer, in frames.
    pub max_fill: AtomicU64,
    /// Monotonic time of the latest callback, ns (0 before the first).
    pub last_callback_ns: AtomicU64,
    /// An xrun was reported and the next chunk has not yet been marked as following it.
    glitch_pending: AtomicBool,
}

/// The callback side of one capture stream. Owned by the audio callback.
pub struct Writer {
    samples: rtrb::Producer<f32>,
    marks: rtrb::Producer<Mark>,
    /// For each party of this stream, in order, the device channel it reads.
    map: [usize; 2],
    parties: usize,
    channels: usize,
    capacity_frames: u64,
    pushed: u64,
    lost: u64,
    glitch: bool,
    counters: Arc<CaptureCounters>,
}

/// The reader side of one capture stream (read by [`super::LiveSource`]).
pub struct Reader {
    pub(crate) samples: rtrb::Consumer<f32>,
    pub(crate) marks: rtrb::Consumer<Mark>,
    pub(crate) errors: rtrb::Consumer<cpal::Error>,
    pub(crate) counters: Arc<CaptureCounters>,
}

impl Reader {
    /// The stream's counters.
    pub fn counters(&self) -> &CaptureCounters {
        &self.counters
    }
}

/// Error-callback side: stream errors are moved into a ring for the reader.
pub struct ErrorWriter {
    errors: rtrb::Producer<cpal::Error>,
    counters: Arc<CaptureCounters>,
}

/// Makes the rings of one stream: `capacity_frames` frames of `map.len()` parties read from a
/// device with `channels` interleaved channels at `rate` Hz.
pub fn rings(
    map: &[usize],
    channels: usize,
    rate: u32,
    capacity_frames: usize,
) -> (Writer, ErrorWriter, Reader) {
    let parties = map.len().clamp(1, 2);
    let (samples, samples_rx) = rtrb::RingBuffer::new(capacity_frames * parties);
    // One mark per callback; callbacks are at least ~1 ms, so a mark per 0.5 ms of ring
    // capacity is plenty.
    let marks_capacity = (capacity_frames * 2000 / rate.max(1) as usize).max(64);
    let (marks, marks_rx) = rtrb::RingBuffer::new(marks_capacity);
    let (errors, errors_rx) = rtrb::RingBuffer::new(16);
    let counters = Arc::new(CaptureCounters::default());
    let mut m = [0usize; 2];
    for (slot, &c) in m.iter_mut().zip(map) {
        *slot = c;
    }
    (
        Writer {
            samples,
            marks,
            map: m,
            parties,
            channels: channels.max(1),
            capacity_frames: capacity_frames as u64,
            pushed: 0,
            lost: 0,
            glitch: false,
            counters: Arc::clone(&counters),
        },
        ErrorWriter {
            errors,
            counters: Arc::clone(&counters),
        },
        Reader {
            samples: samples_rx,
            marks: marks_rx,
            errors: errors_rx,
            counters,
        },
    )
}

impl Writer {
    /// Copies one callback's interleaved `data` into the ring. `capture_delay_ns` is how long
    /// before now the chunk's first frame was captured (from the callback's timestamps).
    /// Real-time safe: see the module docs.
    pub fn write<T>(&mut self, data: &[T], capture_delay_ns: u64)
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let now = mono_ns();
        let c = &self.counters;
        c.callbacks.fetch_add(1, Ordering::Relaxed);
        c.last_callback_ns.store(now, Ordering::Relaxed);
        let frames = data.len() / self.channels;
        if frames == 0 {
            return;
        }
        let needed = frames * self.parties;
        let Ok(chunk) = self.samples.write_chunk_uninit(needed) else {
            // Full: drop this chunk whole (newest), count it, announce it with the next mark.
            self.lost += frames as u64;
            c.dropped_frames.fetch_add(frames as u64, Ordering::Relaxed);
            return;
        };
        let map = &self.map[..self.parties];
        let channels = self.channels;
        let iter = data
            .chunks_exact(channels)
            .flat_map(|frame| map.iter().map(move |&ch| f32::from_sample(frame[ch])));
        chunk.fill_from_iter(iter);
        self.glitch |= c.glitch_pending.swap(false, Ordering::Relaxed);
        let mark = Mark {
            start: self.pushed,
            capture_ns: now.saturating_sub(capture_delay_ns),
            lost: self.lost,
            glitch: self.glitch,
        };
        if self.marks.push(mark).is_ok() {
            self.lost = 0;
            self.glitch = false;
        } else {
            c.dropped_marks.fetch_add(1, Ordering::Relaxed);
        }
        self.pushed += frames as u64;
        c.frames.fetch_add(frames as u64, Ordering::Relaxed);
        let fill = self.capacity_frames - (self.samples.slots() / self.parties) as u64;
        c.max_fill.fetch_max(fill, Ordering::Relaxed);
    }
}

impl ErrorWriter {
    /// Takes a stream error from cpal's error callback: counted, and handed to the reader.
    /// A full error ring drops the error (the count remains).
    pub fn error(&mut self, e: cpal::Error) {
        if e.kind() == cpal::ErrorKind::Xrun {
            self.counters.xruns.fetch_add(1, Ordering::Relaxed);
            self.counters.glitch_pending.store(true, Ordering::Relaxed);
            return;
        }
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let _ = self.errors.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_channels_and_marks_chunks() {
        let (mut w, _e, mut r) = rings(&[1, 0], 3, 8000, 4);
        // Three channels; party 0 reads channel 1, party 1 channel 0.
        w.write::<f32>(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0);
        let got: Vec<f32> = (0..4).map(|_| r.samples.pop().unwrap()).collect();
        assert_eq!(got, vec![0.2, 0.1, 0.5, 0.4]);
        let m = r.marks.pop().unwrap();
        assert_eq!((m.start, m.lost, m.glitch), (0, 0, false));
        assert_eq!(r.counters.frames.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_full_ring_drops_the_chunk_and_the_next_mark_says_so() {
        let (mut w, _e, mut r) = rings(&[0], 1, 8000, 4);
        w.write::<i16>(&[1000, 2000, 3000], 0);
        w.write::<i16>(&[4000, 5000], 0); // only 1 slot left: dropped
        assert_eq!(r.counters.dropped_frames.load(Ordering::Relaxed), 2);
        for _ in 0..3 {
            r.samples.pop().unwrap();
        }
        w.write::<i16>(&[6000], 0);
        let marks: Vec<Mark> = std::iter::from_fn(|| r.marks.pop().ok()).collect();
        assert_eq!(marks.len(), 2);
        assert_eq!((marks[1].start, marks[1].lost), (3, 2));
        let s = r.samples.pop().unwrap();
        assert!((s - 6000.0 / 32768.0).abs() < 1e-6);
        assert_eq!(r.counters.max_fill.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn errors_are_counted_and_passed_on() {
        let (_w, mut e, mut r) = rings(&[0], 1, 8000, 4);
        e.error(cpal::Error::new(cpal::ErrorKind::Xrun));
        e.error(cpal::Error::new(cpal::ErrorKind::DeviceNotAvailable));
        assert_eq!(r.counters.xruns.load(Ordering::Relaxed), 1);
        assert_eq!(r.counters.errors.load(Ordering::Relaxed), 1);
        assert_eq!(
            r.errors.pop().unwrap().kind(),
            cpal::ErrorKind::DeviceNotAvailable
        );
    }
}
