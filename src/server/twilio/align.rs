//! Aligning Twilio's tracks: per-track jitter buffers keyed by `timestamp`.
//!
//! With `track="both_tracks"` Twilio sends the caller (`inbound`) and the agent (`outbound`)
//! as separate `media` messages of about 20 ms, each stamped with its position in
//! milliseconds since the stream started. The two tracks are not interleaved in any promised
//! order, a track may lag the other, a chunk may be missing, and a track may stop altogether
//! (hold, one-legged streams). The [`Aligner`] turns this into one timeline at 8 kHz and emits
//! [`Aligned`] pieces in time order: audio with one equally long buffer per track, or gaps.
//!
//! ## How it works
//!
//! Each track has a fixed ring of samples with a presence flag per sample, covering the
//! timeline from the emission cursor onwards. A chunk is written at `timestamp × 8` samples.
//! Audio is emitted
//!
//! * **at once** while every track has data at the cursor (the common case: latency is one
//!   chunk);
//! * **at the latest one window** (default 200 ms) behind the newest sample of any track:
//!   whatever is still missing then is declared missing. This is the reorder window (a chunk
//!   arriving up to a window late still finds its place) and the stall bound (a track that
//!   stops flowing holds the other back by one window, no more).
//!
//! ## Missing audio: gap or zeros
//!
//! * Where **every** track misses a stretch, it is emitted as [`Aligned::Gap`] (the session
//!   calls `CallIngest::gap`): nothing was heard, the analysis marks a discontinuity and the
//!   timeline still advances by the right number of samples.
//! * Where **one** track misses a stretch the other has, that track gets **zeros** in
//!   [`Aligned::Audio`], counted in [`TrackStats::missing_samples`]. The ingest seam has a
//!   gap per call, not per party; flagging the whole call would discard the other party's real
//!   audio, while 20 ms of digital silence in one party reads as a pause, which is what a
//!   lost chunk most likely was.
//!
//! ## Limits
//!
//! Memory is fixed at construction: per track a ring of one window plus one maximal chunk.
//! Chunks wholly behind the cursor are dropped and counted ([`TrackStats::late_chunks`]);
//! chunks whose samples are all already present are dropped and counted
//! ([`TrackStats::duplicate_chunks`]); a chunk more than [`AlignConfig::max_jump`] ahead of
//! the cursor is an error. Consecutive chunks (chunk number + 1) whose timestamp is off from
//! the previous chunk's end by at most [`AlignConfig::snap`] are snapped to it, so that
//! millisecond rounding of timestamps does not make one-sample holes or overlaps.

use std::time::Duration;

use crate::degrade::mulaw_decode;

use super::message::{MAX_PAYLOAD_BYTES, Track};

/// Samples per millisecond at Twilio's 8 kHz.
pub const SAMPLES_PER_MS: u64 = 8;

/// How the aligner waits and what it tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlignConfig {
    /// The reorder window: how long a missing chunk is waited for, and how far a stalled
    /// track may hold the other back. Default 200 ms.
    pub window: Duration,
    /// Largest timestamp error snapped away between consecutive chunks. Default 2 ms.
    pub snap: Duration,
    /// Largest jump ahead of the emission cursor accepted; beyond it the stream is broken.
    /// Default 60 s.
    pub max_jump: Duration,
}

impl Default for AlignConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(200),
            snap: Duration::from_millis(2),
            max_jump: Duration::from_secs(60),
        }
    }
}

/// A piece of the aligned timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Aligned {
    /// Audio: one buffer per track in the aligner's track order, all of the same length,
    /// samples in [-1, 1]. A track that missed part of it has zeros there.
    Audio(Vec<Vec<f32>>),
    /// This many samples (frames) where no track had audio.
    Gap(u64),
}

impl Aligned {
    /// Its length in samples.
    pub fn len(&self) -> u64 {
        match self {
            Aligned::Audio(b) => b.first().map_or(0, |v| v.len() as u64),
            Aligned::Gap(n) => *n,
        }
    }

    /// Whether it is empty (never emitted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What became of a pushed chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Written into the buffer (at least one new sample).
    Accepted,
    /// Wholly behind the emission cursor: dropped.
    Late,
    /// Every sample already present: dropped.
    Duplicate,
    /// A track this stream did not announce: dropped.
    UnexpectedTrack,
    /// No samples.
    Empty,
}

/// Why a chunk breaks the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlignError {
    /// The chunk is further ahead of the emission cursor than [`AlignConfig::max_jump`].
    #[error("timestamp {timestamp_ms} ms jumps {ahead_ms} ms ahead of the stream")]
    Jump {
        /// The chunk's timestamp.
        timestamp_ms: u64,
        /// How far ahead of the cursor it starts.
        ahead_ms: u64,
    },
    /// The chunk is longer than [`MAX_PAYLOAD_BYTES`].
    #[error("chunk of {len} samples is longer than {max}")]
    ChunkTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The timestamp is too large to place on the timeline.
    #[error("timestamp {0} ms out of range")]
    OutOfRange(u64),
}

/// Counters of one track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// Chunks accepted.
    pub chunks: u64,
    /// Chunks dropped because they arrived after their time was emitted.
    pub late_chunks: u64,
    /// Chunks dropped because every sample was already present.
    pub duplicate_chunks: u64,
    /// Samples of accepted chunks dropped as already present or already emitted.
    pub dropped_samples: u64,
    /// Chunks whose timestamp was snapped to the previous chunk's end.
    pub snapped: u64,
    /// Samples emitted as zeros because this track missed them while another had audio.
    pub missing_samples: u64,
}

/// Counters of an aligner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlignStats {
    /// Per track, in the aligner's track order.
    pub tracks: Vec<(Track, TrackStats)>,
    /// Samples emitted as audio.
    pub audio_samples: u64,
    /// Samples emitted as gaps (no track had audio).
    pub gap_samples: u64,
    /// Chunks of tracks the stream did not announce.
    pub unexpected_chunks: u64,
}

#[derive(Debug)]
struct Lane {
    track: Track,
    samples: Box<[f32]>,
    present: Box<[bool]>,
    /// End (exclusive) of the newest sample written, on the timeline.
    high: u64,
    /// The highest chunk number accepted and where it ended.
    last_chunk: Option<(u64, u64)>,
    stats: TrackStats,
}

/// Aligns one or two tracks into one timeline (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use callpulse::server::twilio::align::{AlignConfig, Aligned, Aligner};
/// use callpulse::server::twilio::message::Track;
///
/// let mut a = Aligner::new(&[Track::Inbound, Track::Outbound], AlignConfig::default());
/// let mut out = Vec::new();
/// a.push(Track::Outbound, 1, 0, &[0xff; 160], &mut out).unwrap();
/// assert!(out.is_empty()); // waits for the inbound track
/// a.push(Track::Inbound, 1, 0, &[0xff; 160], &mut out).unwrap();
/// assert_eq!(out.len(), 1);
/// assert!(matches!(&out[0], Aligned::Audio(b) if b.len() == 2 && b[0].len() == 160));
/// ```
#[derive(Debug)]
pub struct Aligner {
    lanes: Vec<Lane>,
    cap: u64,
    window: u64,
    snap: u64,
    max_jump: u64,
    /// The emission cursor: everything before it has been emitted.
    pos: u64,
    max_high: u64,
    audio_samples: u64,
    gap_samples: u64,
    unexpected_chunks: u64,
}

fn samples_of(d: Duration) -> u64 {
    u64::try_from(d.as_micros().saturating_mul(u128::from(SAMPLES_PER_MS)) / 1000)
        .unwrap_or(u64::MAX / 4)
}

impl Aligner {
    /// An aligner for `tracks` (one or two; duplicates are ignored; output buffers follow this
    /// order). Allocates its rings here: per track, one window plus one maximal chunk.
    pub fn new(tracks: &[Track], config: AlignConfig) -> Self {
        let window = samples_of(config.window).min(10 * 8000);
        let cap = window + MAX_PAYLOAD_BYTES as u64;
        let mut lanes: Vec<Lane> = Vec::with_capacity(tracks.len());
        for &track in tracks {
            if lanes.iter().any(|l| l.track == track) {
                continue;
            }
            lanes.push(Lane {
                track,
                samples: vec![0.0; cap as usize].into_boxed_slice(),
                present: vec![false; cap as usize].into_boxed_slice(),
                high: 0,
                last_chunk: None,
                stats: TrackStats::default(),
            });
        }
        Self {
            lanes,
            cap,
            window,
            snap: samples_of(config.snap),
            max_jump: samples_of(config.max_jump),
            pos: 0,
            max_high: 0,
            audio_samples: 0,
            gap_samples: 0,
            unexpected_chunks: 0,
        }
    }

    /// The emission cursor, samples since the stream started: everything before it has been
    /// emitted.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Samples buffered and not yet emitted (up to the newest sample of any track).
    pub fn pending(&self) -> u64 {
        self.max_high.saturating_sub(self.pos)
    }

    /// The counters so far.
    pub fn stats(&self) -> AlignStats {
        AlignStats {
            tracks: self.lanes.iter().map(|l| (l.track, l.stats)).collect(),
            audio_samples: self.audio_samples,
            gap_samples: self.gap_samples,
            unexpected_chunks: self.unexpected_chunks,
        }
    }

    /// Adds one chunk of μ-law `payload` of `track`, number `chunk`, starting `timestamp_ms`
    /// after the stream started, and appends whatever became ready to `out`.
    ///
    /// # Errors
    /// [`AlignError`] when the chunk is too long, its timestamp is out of range or jumps more
    /// than [`AlignConfig::max_jump`] ahead. The aligner is unchanged then.
    pub fn push(
        &mut self,
        track: Track,
        chunk: u64,
        timestamp_ms: u64,
        payload: &[u8],
        out: &mut Vec<Aligned>,
    ) -> Result<PushOutcome, AlignError> {
        let Some(li) = self.lanes.iter().position(|l| l.track == track) else {
            self.unexpected_chunks += 1;
            return Ok(PushOutcome::UnexpectedTrack);
        };
        if payload.is_empty() {
            return Ok(PushOutcome::Empty);
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(AlignError::ChunkTooLong {
                len: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let n = payload.len() as u64;
        let mut start = timestamp_ms
            .checked_mul(SAMPLES_PER_MS)
            .filter(|s| s.checked_add(n).is_some())
            .ok_or(AlignError::OutOfRange(timestamp_ms))?;
        let mut snapped = false;
        if let Some((c, e)) = self.lanes[li].last_chunk {
            if chunk == c.wrapping_add(1) && start != e && start.abs_diff(e) <= self.snap {
                start = e;
                snapped = true;
            }
        }
        let end = start + n;
        if end <= self.pos {
            self.lanes[li].stats.late_chunks += 1;
            return Ok(PushOutcome::Late);
        }
        if start > self.pos.saturating_add(self.max_jump) {
            return Err(AlignError::Jump {
                timestamp_ms,
                ahead_ms: (start - self.pos) / SAMPLES_PER_MS,
            });
        }
        if end > self.pos + self.cap {
            self.flush_to(end - self.cap, out);
        }
        let from = start.max(self.pos);
        let cap = self.cap;
        let lane = &mut self.lanes[li];
        let mut written = 0u64;
        for s in from..end {
            let idx = (s % cap) as usize;
            if lane.present[idx] {
                continue;
            }
            lane.samples[idx] = f32::from(mulaw_decode(payload[(s - start) as usize])) / 32768.0;
            lane.present[idx] = true;
            written += 1;
        }
        lane.stats.dropped_samples += n - written;
        if written == 0 {
            lane.stats.duplicate_chunks += 1;
            return Ok(PushOutcome::Duplicate);
        }
        lane.stats.chunks += 1;
        if snapped {
            lane.stats.snapped += 1;
        }
        if lane.last_chunk.is_none_or(|(c, _)| chunk > c) {
            lane.last_chunk = Some((chunk, end));
        }
        lane.high = lane.high.max(end);
        self.max_high = self.max_high.max(end);
        self.release(out);
        Ok(PushOutcome::Accepted)
    }

    /// Emits everything still buffered (the stream ended): holes in a track become zeros,
    /// holes in all tracks gaps.
    pub fn finish(&mut self, out: &mut Vec<Aligned>) {
        self.flush_to(self.max_high, out);
    }

    /// Emits what no longer needs waiting for.
    fn release(&mut self, out: &mut Vec<Aligned>) {
        let forced = self.max_high.saturating_sub(self.window).max(self.pos);
        let min_high = self.lanes.iter().map(|l| l.high).min().unwrap_or(0);
        let mut q = forced;
        while q < min_high && q < self.pos + self.cap {
            let idx = (q % self.cap) as usize;
            if !self.lanes.iter().all(|l| l.present[idx]) {
                break;
            }
            q += 1;
        }
        self.flush_to(q, out);
    }

    /// Emits the timeline up to `target` (exclusive).
    fn flush_to(&mut self, target: u64, out: &mut Vec<Aligned>) {
        if target <= self.pos {
            return;
        }
        let limit = target.min(self.pos + self.cap);
        let mut gap = 0u64;
        let mut audio: Vec<Vec<f32>> = Vec::new();
        for s in self.pos..limit {
            let idx = (s % self.cap) as usize;
            if !self.lanes.iter().any(|l| l.present[idx]) {
                if audio.first().is_some_and(|b| !b.is_empty()) {
                    self.emit_audio(std::mem::take(&mut audio), out);
                }
                gap += 1;
                continue;
            }
            if gap > 0 {
                self.emit_gap(gap, out);
                gap = 0;
            }
            if audio.is_empty() {
                audio = self
                    .lanes
                    .iter()
                    .map(|_| Vec::with_capacity((limit - s) as usize))
                    .collect();
            }
            for (lane, buf) in self.lanes.iter_mut().zip(audio.iter_mut()) {
                if lane.present[idx] {
                    buf.push(lane.samples[idx]);
                    lane.present[idx] = false;
                } else {
                    buf.push(0.0);
                    lane.stats.missing_samples += 1;
                }
            }
        }
        if audio.first().is_some_and(|b| !b.is_empty()) {
            self.emit_audio(audio, out);
        }
        gap += target - limit;
        if gap > 0 {
            self.emit_gap(gap, out);
        }
        self.pos = target;
        self.max_high = self.max_high.max(target);
    }

    fn emit_audio(&mut self, audio: Vec<Vec<f32>>, out: &mut Vec<Aligned>) {
        self.audio_samples += audio.first().map_or(0, |b| b.len() as u64);
        out.push(Aligned::Audio(audio));
    }

    fn emit_gap(&mut self, n: u64, out: &mut Vec<Aligned>) {
        self.gap_samples += n;
        if let Some(Aligned::Gap(g)) = out.last_mut() {
            *g += n;
        } else {
            out.push(Aligned::Gap(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::degrade::mulaw_encode;

    const BOTH: [Track; 2] = [Track::Inbound, Track::Outbound];

    fn chunk(v: i16) -> Vec<u8> {
        vec![mulaw_encode(v); 160]
    }

    fn total(out: &[Aligned]) -> u64 {
        out.iter().map(Aligned::len).sum()
    }

    #[test]
    fn both_tracks_in_step_emit_at_once() {
        let mut a = Aligner::new(&BOTH, AlignConfig::default());
        let mut out = Vec::new();
        for i in 0..10u64 {
            a.push(Track::Inbound, i + 1, i * 20, &chunk(1000), &mut out)
                .unwrap();
            a.push(Track::Outbound, i + 1, i * 20, &chunk(-1000), &mut out)
                .unwrap();
            assert_eq!(a.position(), (i + 1) * 160);
        }
        assert_eq!(total(&out), 1600);
        for o in &out {
            let Aligned::Audio(b) = o else { panic!() };
            assert!(b[0].iter().all(|&x| x > 0.0) && b[1].iter().all(|&x| x < 0.0));
        }
    }

    #[test]
    fn stall_holds_back_by_one_window_only() {
        let mut a = Aligner::new(&BOTH, AlignConfig::default());
        let mut out = Vec::new();
        for i in 0..50u64 {
            a.push(Track::Inbound, i + 1, i * 20, &chunk(1000), &mut out)
                .unwrap();
            assert!(a.pending() <= 1600);
        }
        assert_eq!(a.position(), 50 * 160 - 1600);
        a.finish(&mut out);
        assert_eq!(total(&out), 8000);
        assert_eq!(a.stats().tracks[1].1.missing_samples, 8000);
    }

    #[test]
    fn jump_too_far_is_an_error_and_bounded() {
        let mut a = Aligner::new(&BOTH, AlignConfig::default());
        let mut out = Vec::new();
        assert!(matches!(
            a.push(Track::Inbound, 1, 3_600_000, &chunk(1), &mut out),
            Err(AlignError::Jump { .. })
        ));
        assert!(matches!(
            a.push(Track::Inbound, 1, u64::MAX / 2, &chunk(1), &mut out),
            Err(AlignError::OutOfRange(_))
        ));
        // A jump within bounds becomes one gap, without walking the whole jump.
        a.push(Track::Inbound, 1, 50_000, &chunk(1), &mut out)
            .unwrap();
        a.push(Track::Outbound, 1, 50_000, &chunk(1), &mut out)
            .unwrap();
        assert_eq!(out, vec![Aligned::Gap(400_000 + 160 - 1600)]);
    }
}
