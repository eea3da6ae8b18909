//! The seam between the async side (protocol handlers) and the analysis workers.
//!
//! A protocol handler turns its wire format into calls on a [`CallIngest`]: it asks the
//! [`Floor`](super::floor::Floor) to [`open_call`](super::floor::Floor::open_call), then
//! pushes decoded, aligned audio ([`CallIngest::push`]), gaps ([`CallIngest::gap`]) and finally
//! [`CallIngest::end`]. None of these block or wait for the analysis: audio travels to the
//! call's worker over a bounded queue with `try_send`; when the queue is full the chunk is
//! dropped, counted (per call and in the metrics) and replaced by a gap of the same length,
//! announced with the next chunk that gets through, so the timeline stays whole.
//!
//! Ending a call never gets lost: [`CallIngest::end`] (or dropping the handle, for a client
//! that vanished) marks the call ended in state shared with the worker, which finalises the
//! call (summary written, dashboard told) once it has processed every message that did get
//! through, even when the end message itself found the queue full.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Sender, TrySendError};

use crate::role::Role;
use crate::time::mono_ns;

use super::metrics::Metrics;

/// The wire protocol a call arrived over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Genesys Cloud AudioHook v2.
    AudioHook,
    /// Twilio Media Streams.
    Twilio,
}

impl Protocol {
    /// The name used in logs, metrics and the API (`audiohook`, `twilio`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::AudioHook => "audiohook",
            Protocol::Twilio => "twilio",
        }
    }
}

/// What a protocol handler knows about a call when it opens it.
#[derive(Debug, Clone)]
pub struct CallOpen {
    /// The protocol.
    pub protocol: Protocol,
    /// The platform's id for this stream (AudioHook session id, Twilio stream SID); it must be
    /// unique among live calls and is used in file names after sanitising.
    pub external_id: String,
    /// A human label for the dashboard (conversation id, caller number, call SID...).
    pub label: String,
    /// The parties present, agent and/or caller (one or two, different roles).
    pub roles: Vec<Role>,
    /// Sample rate of the pushed audio, Hz (8000 for both protocols).
    pub sample_rate: u32,
    /// Protocol metadata kept with the call (shown in the API, written to the call's file).
    pub meta: serde_json::Value,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum EndReason {
    /// The platform closed the stream normally.
    Completed,
    /// The connection went away without a close.
    Disconnected,
    /// A protocol error ended it (the detail says which).
    ProtocolError(String),
    /// The server is shutting down.
    Shutdown,
}

/// Why a call was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The server runs as many calls as it is configured for.
    #[error("at capacity: {max} calls already live")]
    AtCapacity {
        /// The configured maximum.
        max: usize,
    },
    /// A live call already has this external id.
    #[error("a call with id {0} is already live")]
    Duplicate(String),
    /// The call description is unusable (no parties, same role twice, bad rate).
    #[error("invalid call: {0}")]
    Invalid(String),
    /// The worker's queue is full; the call cannot even be opened.
    #[error("the analysis workers are overloaded")]
    Overloaded,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// A message to a worker. Audio is per party, in the order of [`CallOpen::roles`].
#[derive(Debug)]
pub enum WorkerMsg {
    /// A new call for this worker.
    Open {
        /// The call.
        call: Arc<CallShared>,
        /// Its description.
        open: CallOpen,
    },
    /// Audio of a call.
    Audio {
        /// The call.
        call: Arc<CallShared>,
        /// Frames lost just before this chunk (queue overflow, lost packets, discarded audio).
        gap_before: u64,
        /// One buffer per party, all of the same length.
        parties: Vec<Vec<f32>>,
        /// When the async side received the last byte of this chunk ([`mono_ns`]).
        received_ns: u64,
    },
    /// The call ended (also signalled through [`CallShared`], so this may be lost).
    End {
        /// The call.
        call: Arc<CallShared>,
    },
}

/// State of one call shared by its ingest handle and its worker.
#[derive(Debug)]
pub struct CallShared {
    /// The server's id for the call (unique for the process lifetime).
    pub id: String,
    /// Index of the worker that owns the call.
    pub worker: usize,
    /// Messages that got into the worker's queue.
    pub sent: AtomicU64,
    /// Set once the call has ended on the ingest side.
    pub ended: AtomicBool,
    /// Why it ended (set before `ended`).
    pub end_reason: std::sync::Mutex<Option<EndReason>>,
    /// Frames dropped because the worker queue was full.
    pub frames_dropped: AtomicU64,
    /// Frames received from the wire.
    pub frames_received: AtomicU64,
    /// Frames of missing audio after the last chunk that reached the queue (dropped or
    /// announced as a gap), set before `ended`: the worker analyses them as a gap before it
    /// finalises, so the call's timeline covers all of it.
    pub trailing_gap: AtomicU64,
}

impl CallShared {
    /// New shared state for call `id` on `worker`.
    pub fn new(id: String, worker: usize) -> Self {
        Self {
            id,
            worker,
            sent: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            end_reason: std::sync::Mutex::new(None),
            frames_dropped: AtomicU64::new(0),
            frames_received: AtomicU64::new(0),
            trailing_gap: AtomicU64::new(0),
        }
    }

    /// The end reason, once ended.
    pub fn reason(&self) -> Option<EndReason> {
        self.end_reason.lock().map(|r| r.clone()).unwrap_or(None)
    }
}

/// The ingest side's handle on one open call. Dropping it without [`end`](Self::end) ends the
/// call as [`EndReason::Disconnected`].
#[derive(Debug)]
pub struct CallIngest {
    shared: Arc<CallShared>,
    queue: Sender<WorkerMsg>,
    metrics: Arc<Metrics>,
    parties: usize,
    sample_rate: u32,
    /// Frames to announce as a gap before the next chunk that gets through.
    pending_gap: u64,
    done: bool,
}

impl CallIngest {
    pub(crate) fn new(
        shared: Arc<CallShared>,
        queue: Sender<WorkerMsg>,
        metrics: Arc<Metrics>,
        parties: usize,
        sample_rate: u32,
    ) -> Self {
        Self {
            shared,
            queue,
            metrics,
            parties,
            sample_rate,
            pending_gap: 0,
            done: false,
        }
    }

    /// The server's id for this call (used in the API and dashboard URLs).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The sample rate audio must be pushed at.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of parties (buffers expected by [`push`](Self::push)).
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Frames dropped so far because the worker could not keep up.
    pub fn frames_dropped(&self) -> u64 {
        self.shared.frames_dropped.load(Ordering::Relaxed)
    }

    /// Sends one chunk of aligned audio: one buffer per party in the order of
    /// [`CallOpen::roles`], all the same length (shorter ones are padded with silence). Never
    /// blocks: a full queue drops the chunk and turns it into a gap.
    pub fn push(&mut self, parties: Vec<Vec<f32>>) {
        if self.done {
            return;
        }
        let mut parties = parties;
        parties.resize_with(self.parties, Vec::new);
        let frames = parties.iter().map(Vec::len).max().unwrap_or(0);
        if frames == 0 {
            return;
        }
        for p in &mut parties {
            p.resize(frames, 0.0);
        }
        self.shared
            .frames_received
            .fetch_add(frames as u64, Ordering::Relaxed);
        self.metrics.frames_received(frames as u64);
        let msg = WorkerMsg::Audio {
            call: Arc::clone(&self.shared),
            gap_before: self.pending_gap,
            parties,
            received_ns: mono_ns(),
        };
        match self.queue.try_send(msg) {
            Ok(()) => {
                self.pending_gap = 0;
                self.shared.sent.fetch_add(1, Ordering::Release);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending_gap += frames as u64;
                let before = self
                    .shared
                    .frames_dropped
                    .fetch_add(frames as u64, Ordering::Relaxed);
                if before == 0 {
                    tracing::warn!(
                        call = %self.shared.id,
                        "analysis queue full: audio dropped and analysed as a gap (this call's \
                         further drops are counted, not logged)"
                    );
                }
                self.metrics.frames_dropped(frames as u64);
            }
        }
    }

    /// Announces `frames` frames of missing audio (discarded by the platform, lost packets):
    /// the analysis inserts as much silence flagged as a gap, so the timeline advances.
    pub fn gap(&mut self, frames: u64) {
        if !self.done {
            self.pending_gap += frames;
        }
    }

    /// Ends the call. The worker finalises it (summary, files, dashboard) after the audio
    /// already queued.
    pub fn end(mut self, reason: EndReason) {
        self.finish(reason);
    }

    fn finish(&mut self, reason: EndReason) {
        if self.done {
            return;
        }
        self.done = true;
        self.shared
            .trailing_gap
            .store(self.pending_gap, Ordering::Relaxed);
        if let Ok(mut r) = self.shared.end_reason.lock() {
            *r = Some(reason);
        }
        self.shared.ended.store(true, Ordering::Release);
        // A wake-up for the worker; if the queue is full the worker finds the flag anyway.
        let msg = WorkerMsg::End {
            call: Arc::clone(&self.shared),
        };
        if self.queue.try_send(msg).is_ok() {
            self.shared.sent.fetch_add(1, Ordering::Release);
        }
    }
}

impl Drop for CallIngest {
    fn drop(&mut self) {
        self.finish(EndReason::Disconnected);
    }
}
