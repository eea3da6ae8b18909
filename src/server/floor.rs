//! The call floor: every live call's state, the recently finished calls, the workers that
//! analyse them and the live-update channels the dashboard listens to.
//!
//! # Who touches what
//!
//! * Protocol handlers (async) call [`Floor::open_call`]: a capacity check and a registry
//!   insert under a short lock, then the call's `Open` message goes to its worker with
//!   `try_send`. Nothing waits for the analysis.
//! * Workers (threads, see [`super::worker`]) own the analysis and write each call's
//!   [`CallLive`] (tile, timeline ring, alert and event rings) under that call's own mutex,
//!   held for microseconds, and publish updates on `tokio::sync::broadcast` channels:
//!   sending never blocks, and a slow dashboard client only lags (it is counted and sent a
//!   fresh snapshot), so no client can slow the analysis.
//! * HTTP handlers read snapshots ([`Floor::calls`], [`Floor::call`]) and subscribe to
//!   updates ([`Floor::subscribe`], [`CallEntry::subscribe`]).
//!
//! Every per-call history is a bounded ring; the finished list keeps the newest
//! [`ServerConfig::finished_kept`] calls.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::config::AnalysisConfig;
use crate::error::Error;
use crate::role::Role;
use crate::time::unix_now_s;

use super::config::ServerConfig;
use super::ingest::{CallIngest, CallOpen, CallShared, Protocol, Refusal, WorkerMsg};
use super::metrics::Metrics;
use super::worker;

/// Timeline points kept per live call (10 per second of audio: 5 minutes).
pub const TIMELINE_POINTS: usize = 3000;
/// Alerts kept per call.
pub const ALERTS_KEPT: usize = 200;
/// Conversation events kept per call.
pub const EVENTS_KEPT: usize = 500;
/// Seconds of the agitation trend on a tile (one point per second).
pub const TREND_POINTS: usize = 60;
/// Live updates buffered per channel for slow clients before they lag.
const UPDATE_BUFFER: usize = 4096;

/// An alert as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// Contract name, e.g. `agent_interrupting`.
    pub kind: &'static str,
    /// `warn` or `critical`.
    pub severity: &'static str,
    /// Whom it is about.
    pub who: Role,
    /// The coaching message.
    pub message: &'static str,
    /// Call time of the deciding frame, seconds.
    pub t: f64,
    /// When the server raised it (Unix seconds).
    pub at: f64,
}

/// Who is speaking now.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Speaking {
    /// The agent speaks.
    pub agent: bool,
    /// The caller speaks.
    pub caller: bool,
}

/// One live call as a dashboard tile.
#[derive(Debug, Clone, Serialize)]
pub struct CallTile {
    /// The server's call id.
    pub id: String,
    /// The protocol it came over.
    pub protocol: Protocol,
    /// The platform's id (AudioHook session id, Twilio stream SID).
    pub external_id: String,
    /// Human label.
    pub label: String,
    /// When it opened (Unix seconds).
    pub started_at: f64,
    /// Audio analysed so far, seconds.
    pub t: f64,
    /// Who speaks now.
    pub speaking: Speaking,
    /// Agent talk time over both parties' talk time so far (`null` before anyone spoke).
    pub talk_ratio_agent: Option<f64>,
    /// Frames with both parties speaking, as a percentage of frames with anyone speaking.
    pub overlap_pct: f64,
    /// The caller's agitation now, in [0, 1] (`null` before a baseline exists).
    pub agitation: Option<f64>,
    /// Agitation over the last minute, one value per second (oldest first; `null` = none).
    pub trend: Vec<Option<f32>>,
    /// Alerts so far.
    pub alerts: u32,
    /// The newest alert.
    pub latest_alert: Option<AlertView>,
    /// How much the call needs a supervisor's attention (higher first): agitation plus recent
    /// alerts weighted by severity.
    pub attention: f64,
    /// Audio frames lost on the way (queue overflow, lost packets, discarded by the platform).
    pub gap_frames: u64,
}

/// Both parties' figures at one timeline point (every 100 ms of audio).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PointParty {
    /// Speech in this stretch.
    pub speech: bool,
    /// Mean frame level, dBFS.
    pub loudness_db: f32,
    /// Median-ish F0 (the last voiced frame's), Hz.
    pub f0_hz: Option<f32>,
    /// Agitation (caller only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agitation: Option<f32>,
}

/// One timeline point of a call.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimelinePoint {
    /// Call time at the end of the stretch, seconds.
    pub t: f64,
    /// The agent (absent for a one-party call without an agent).
    pub agent: Option<PointParty>,
    /// The caller.
    pub caller: Option<PointParty>,
}

/// A finished call, as the dashboard and API list it.
#[derive(Debug, Clone, Serialize)]
pub struct FinishedCall {
    /// The server's call id.
    pub id: String,
    /// The protocol.
    pub protocol: Protocol,
    /// The platform's id.
    pub external_id: String,
    /// Human label.
    pub label: String,
    /// When it opened and ended (Unix seconds).
    pub started_at: f64,
    /// When it ended.
    pub ended_at: f64,
    /// Why it ended.
    pub end_reason: super::ingest::EndReason,
    /// The analysis failed (the error event's message).
    pub error: Option<String>,
    /// Alerts raised.
    pub alerts: u32,
    /// The summary record (output contract).
    pub summary: Option<serde_json::Value>,
    /// The per-call JSON Lines file, when written.
    pub file: Option<String>,
}

/// What the worker keeps visible about a live call.
#[derive(Debug)]
pub struct CallLive {
    /// The tile.
    pub tile: CallTile,
    /// Recent timeline points.
    pub timeline: VecDeque<TimelinePoint>,
    /// Recent alerts.
    pub alerts: VecDeque<AlertView>,
    /// Recent conversation events (output-contract JSON, kept as text: a parsed value costs
    /// ten times the memory).
    pub events: VecDeque<Arc<RawValue>>,
    /// Protocol metadata.
    pub meta: serde_json::Value,
}

/// A live call in the registry.
#[derive(Debug)]
pub struct CallEntry {
    /// Shared with the ingest handle.
    pub shared: Arc<CallShared>,
    /// Visible state, written by the worker.
    pub live: Mutex<CallLive>,
    /// Per-call live updates (timeline points, events, alerts, tile, finished).
    pub updates: broadcast::Sender<Arc<str>>,
}

impl CallEntry {
    /// Locks the visible state (a poisoned lock is recovered: the data is plain values).
    pub fn lock(&self) -> MutexGuard<'_, CallLive> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to this call's live updates.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }
}

#[derive(Debug, Default)]
struct Registry {
    live: HashMap<String, Arc<CallEntry>>,
    finished: VecDeque<Arc<FinishedCall>>,
}

/// A call as `/api/calls/<id>` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CallDetail {
    /// `live` or `finished`.
    pub state: &'static str,
    /// The tile (live calls).
    pub tile: Option<CallTile>,
    /// The finished record (finished calls).
    pub finished: Option<Arc<FinishedCall>>,
    /// Timeline points (live calls; the last five minutes).
    pub timeline: Vec<TimelinePoint>,
    /// Alerts.
    pub alerts: Vec<AlertView>,
    /// Conversation events.
    pub events: Vec<Arc<RawValue>>,
    /// Protocol metadata.
    pub meta: serde_json::Value,
}

/// The floor listing of `/api/calls`.
#[derive(Debug, Clone, Serialize)]
pub struct FloorSnapshot {
    /// Live calls, those needing attention first.
    pub live: Vec<CallTile>,
    /// Recently finished calls, newest first.
    pub finished: Vec<Arc<FinishedCall>>,
}

/// The whole call floor. Shared (`Arc`) by the HTTP side and the workers.
#[derive(Debug)]
pub struct Floor {
    config: Arc<ServerConfig>,
    metrics: Arc<Metrics>,
    queues: Vec<Sender<WorkerMsg>>,
    registry: Mutex<Registry>,
    updates: broadcast::Sender<Arc<str>>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// `s` reduced to characters safe in file names and URLs (letters, digits, `-`, `_`, `.`),
/// at most 64 of them.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect()
}

impl Floor {
    /// Builds the floor and starts its worker threads.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration or analysis tuning; [`Error::Io`] when
    /// the output directory cannot be created.
    pub fn start(config: ServerConfig, analysis: AnalysisConfig) -> Result<Arc<Self>, Error> {
        config.validate()?;
        if let Some(dir) = &config.output_dir {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        // A call description that the analysis would reject is found now, not per call.
        crate::call::CallAnalyzer::new(
            &analysis,
            &worker::party_specs(&[Role::Agent, Role::Caller], 8000),
        )?;
        let n = config.worker_count();
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let mut queues = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = crossbeam_channel::bounded(config.queue_messages);
            queues.push(tx);
            receivers.push(rx);
        }
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        let floor = Arc::new(Self {
            config: Arc::clone(&config),
            metrics,
            queues,
            registry: Mutex::new(Registry::default()),
            updates,
            next_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            workers: Mutex::new(Vec::new()),
        });
        let mut handles = Vec::with_capacity(n);
        for (i, rx) in receivers.into_iter().enumerate() {
            let w = worker::Worker::new(i, Arc::downgrade(&floor), analysis.clone(), rx);
            let handle = std::thread::Builder::new()
                .name(format!("callpulse-worker-{i}"))
                .spawn(move || w.run())
                .map_err(|e| Error::Internal {
                    stage: "server",
                    message: format!("cannot start a worker thread: {e}"),
                })?;
            handles.push(handle);
        }
        *floor.workers.lock().unwrap_or_else(|p| p.into_inner()) = handles;
        Ok(floor)
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a call: checks capacity and the description, registers it and hands it to its
    /// worker. Never blocks on the analysis.
    ///
    /// # Errors
    /// A [`Refusal`] saying why (capacity, duplicate id, invalid, overloaded, shutting down);
    /// it is counted in the metrics and logged.
    pub fn open_call(&self, open: CallOpen) -> Result<CallIngest, Refusal> {
        let result = self.try_open(open);
        if let Err(r) = &result {
            self.metrics.calls_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = %r, "call refused");
        }
        result
    }

    fn try_open(&self, open: CallOpen) -> Result<CallIngest, Refusal> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(Refusal::ShuttingDown);
        }
        let roles = &open.roles;
        if roles.is_empty() || roles.len() > 2 || (roles.len() == 2 && roles[0] == roles[1]) {
            return Err(Refusal::Invalid(format!("parties {roles:?}")));
        }
        if !(4000..=48_000).contains(&open.sample_rate) {
            return Err(Refusal::Invalid(format!(
                "sample rate {} Hz",
                open.sample_rate
            )));
        }
        let mut base = sanitize(&open.external_id);
        if base.is_empty() {
            base = "call".into();
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("{base}-{n}");
        let worker = (n as usize) % self.queues.len();
        let shared = Arc::new(CallShared::new(id.clone(), worker));
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        let tile = CallTile {
            id: id.clone(),
            protocol: open.protocol,
            external_id: open.external_id.clone(),
            label: open.label.clone(),
            started_at: unix_now_s(),
            t: 0.0,
            speaking: Speaking::default(),
            talk_ratio_agent: None,
            overlap_pct: 0.0,
            agitation: None,
            trend: Vec::new(),
            alerts: 0,
            latest_alert: None,
            attention: 0.0,
            gap_frames: 0,
        };
        let entry = Arc::new(CallEntry {
            shared: Arc::clone(&shared),
            live: Mutex::new(CallLive {
                tile,
                timeline: VecDeque::new(),
                alerts: VecDeque::new(),
                events: VecDeque::new(),
                meta: open.meta.clone(),
            }),
            updates,
        });
        {
            let mut reg = self.registry();
            if reg.live.len() >= self.config.max_calls {
                return Err(Refusal::AtCapacity {
                    max: self.config.max_calls,
                });
            }
            if reg
                .live
                .values()
                .any(|e| e.lock().tile.external_id == open.external_id)
            {
                return Err(Refusal::Duplicate(open.external_id));
            }
            reg.live.insert(id.clone(), Arc::clone(&entry));
        }
        let parties = open.roles.len();
        let rate = open.sample_rate;
        let protocol = open.protocol;
        let msg = WorkerMsg::Open {
            call: Arc::clone(&shared),
            open,
        };
        match self.queues[worker].try_send(msg) {
            Ok(()) => shared.sent.fetch_add(1, Ordering::Release),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.registry().live.remove(&id);
                return Err(Refusal::Overloaded);
            }
        };
        self.metrics.call_opened(protocol);
        tracing::info!(call = %id, protocol = protocol.name(), worker, "call opened");
        self.publish(&Update::Opened {
            call: &entry.lock().tile,
        });
        Ok(CallIngest::new(
            shared,
            self.queues[worker].clone(),
            Arc::clone(&self.metrics),
            parties,
            rate,
        ))
    }

    /// The live entry of call `id`.
    pub fn entry(&self, id: &str) -> Option<Arc<CallEntry>> {
        self.registry().live.get(id).cloned()
    }

    /// Number of live calls.
    pub fn active(&self) -> usize {
        self.registry().live.len()
    }

    /// Messages waiting in each worker's queue.
    pub fn queue_depths(&self) -> Vec<usize> {
        self.queues.iter().map(Sender::len).collect()
    }

    /// The floor: live calls (attention first) and recently finished ones (newest first).
    pub fn calls(&self) -> FloorSnapshot {
        let (entries, finished) = {
            let reg = self.registry();
            let entries: Vec<_> = reg.live.values().cloned().collect();
            (
                entries,
                reg.finished.iter().rev().cloned().collect::<Vec<_>>(),
            )
        };
        let mut live: Vec<CallTile> = entries.iter().map(|e| e.lock().tile.clone()).collect();
        live.sort_by(|a, b| {
            b.attention
                .total_cmp(&a.attention)
                .then(a.started_at.total_cmp(&b.started_at))
        });
        FloorSnapshot { live, finished }
    }

    /// One call, live or finished.
    pub fn call(&self, id: &str) -> Option<CallDetail> {
        let (entry, finished) = {
            let reg = self.registry();
            (
                reg.live.get(id).cloned(),
                reg.finished.iter().find(|f| f.id == id).cloned(),
            )
        };
        if let Some(e) = entry {
            let live = e.lock();
            return Some(CallDetail {
                state: "live",
                tile: Some(live.tile.clone()),
                finished: None,
                timeline: live.timeline.iter().copied().collect(),
                alerts: live.alerts.iter().cloned().collect(),
                events: live.events.iter().cloned().collect(),
                meta: live.meta.clone(),
            });
        }
        finished.map(|f| CallDetail {
            state: "finished",
            tile: None,
            finished: Some(f),
            timeline: Vec::new(),
            alerts: Vec::new(),
            events: Vec::new(),
            meta: serde_json::Value::Null,
        })
    }

    /// Subscribes to floor-wide updates (JSON text messages, see [`Update`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }

    /// Whether anyone listens to floor updates (so workers skip serialising otherwise).
    pub fn has_listeners(&self) -> bool {
        self.updates.receiver_count() > 0
    }

    /// Publishes a floor-wide update (never blocks).
    pub(crate) fn publish(&self, update: &Update<'_>) {
        if self.has_listeners()
            && let Ok(text) = serde_json::to_string(update)
        {
            self.send_raw(Arc::from(text));
        }
    }

    /// Publishes an already serialised floor-wide update (never blocks).
    pub(crate) fn send_raw(&self, text: Arc<str>) {
        if self.has_listeners() {
            let _ = self.updates.send(text);
        }
    }

    /// Moves a finished call from the live list to the finished list and tells listeners.
    pub(crate) fn finished(&self, finished: FinishedCall) {
        let finished = Arc::new(finished);
        let entry = {
            let mut reg = self.registry();
            let entry = reg.live.remove(&finished.id);
            reg.finished.push_back(Arc::clone(&finished));
            while reg.finished.len() > self.config.finished_kept {
                reg.finished.pop_front();
            }
            entry
        };
        self.metrics.calls_finished.fetch_add(1, Ordering::Relaxed);
        let update = Update::Finished { call: &finished };
        if let Ok(text) = serde_json::to_string(&update) {
            let text: Arc<str> = Arc::from(text);
            if let Some(e) = entry {
                let _ = e.updates.send(Arc::clone(&text));
            }
            self.send_raw(text);
        }
    }

    /// Refuses new calls from now on and ends the live ones; workers finalise them and stop
    /// once every ingest handle is gone. Call [`Floor::join`] afterwards.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether [`Floor::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Waits for the workers to finalise every call and stop (after [`Floor::shutdown`]).
    pub fn join(&self) {
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

/// A live update, as sent to dashboard clients (JSON, `type` tagged).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update<'a> {
    /// A call opened.
    Opened {
        /// Its tile.
        call: &'a CallTile,
    },
    /// A call's tile changed (sent about twice a second, and at once on an alert).
    Tile {
        /// The tile.
        call: &'a CallTile,
    },
    /// An alert was raised.
    Alert {
        /// The call id.
        call: &'a str,
        /// The alert.
        alert: &'a AlertView,
    },
    /// A conversation event of a call (per-call channel only).
    Event {
        /// The call id.
        call: &'a str,
        /// The event (output-contract JSON).
        event: &'a RawValue,
    },
    /// A timeline point of a call (per-call channel only).
    Point {
        /// The call id.
        call: &'a str,
        /// The point.
        point: &'a TimelinePoint,
    },
    /// A call finished.
    Finished {
        /// The finished record.
        call: &'a FinishedCall,
    },
}
