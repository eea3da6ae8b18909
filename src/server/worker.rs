//! Analysis workers: a fixed pool of threads, each owning the calls sharded to it.
//!
//! A worker takes messages from its bounded queue ([`WorkerMsg`]), runs each call's
//! [`CallAnalyzer`] on the audio (one call's stages always on the same thread), writes the
//! call's records to its JSON Lines file, keeps the call's visible state for the dashboard
//! ([`CallLive`](super::floor::CallLive)) and publishes live updates. Every 100 ms it also sweeps its calls: a call
//! whose ingest side ended is finalised (remaining frames flushed, summary written, the call
//! moved to the finished list) once every message that reached the queue is processed.
//!
//! A panic in one call's analysis is caught: that call ends with an `error` record and is
//! finalised; the worker and its other calls go on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::value::RawValue;

use crate::alert::Alert;
use crate::call::CallAnalyzer;
use crate::config::AnalysisConfig;
use crate::record::{FrameRecord, Record};
use crate::role::Role;
use crate::source::{Block, PartySpec, SourceDiagnostics};
use crate::time::{mono_ns, unix_now_s as unix_now};

use super::floor::{
    ALERTS_KEPT, AlertView, CallEntry, EVENTS_KEPT, FinishedCall, Floor, PointParty,
    TIMELINE_POINTS, TREND_POINTS, TimelinePoint, Update,
};
use super::ingest::{CallOpen, CallShared, EndReason, WorkerMsg};

/// Frames (10 ms) per timeline point.
const POINT_FRAMES: u32 = 10;
/// Wall time between tile updates of a call, ns.
const TILE_EVERY_NS: u64 = 500_000_000;
/// Largest block of gap zeros fed at once, frames.
const GAP_BLOCK: usize = 4000;

/// Party specs for `roles` at `rate` (labels name the role).
pub(crate) fn party_specs(roles: &[Role], rate: u32) -> Vec<PartySpec> {
    roles
        .iter()
        .map(|&role| PartySpec {
            role,
            sample_rate: rate,
            label: role.to_string(),
        })
        .collect()
}

/// Running figures for one timeline point and the tile.
#[derive(Default)]
struct Accum {
    frames: u32,
    speech: [bool; 2],
    loudness: [f32; 2],
    f0: [Option<f32>; 2],
    agitation: Option<f32>,
    present: [bool; 2],
}

/// One call on a worker.
struct CallRun {
    entry: Arc<CallEntry>,
    open: CallOpen,
    analyzer: CallAnalyzer,
    block: Block,
    out: Option<(PathBuf, BufWriter<File>)>,
    write_frames: bool,
    processed: u64,
    /// Arrival time of the chunk being analysed.
    received_ns: u64,
    accum: Accum,
    talk_frames: [u64; 2],
    overlap_frames: u64,
    any_frames: u64,
    speaking: [bool; 2],
    agitation: Option<f32>,
    trend: std::collections::VecDeque<Option<f32>>,
    trend_frames: u32,
    last_tile_ns: u64,
    alerts: u32,
    gap_frames: u64,
    failed: Option<String>,
    write_error: bool,
    panic_on_audio: bool,
    records: Vec<Record>,
}

/// One analysis worker thread.
pub(crate) struct Worker {
    index: usize,
    floor: Weak<Floor>,
    analysis: AnalysisConfig,
    rx: Receiver<WorkerMsg>,
    calls: HashMap<String, CallRun>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        floor: Weak<Floor>,
        analysis: AnalysisConfig,
        rx: Receiver<WorkerMsg>,
    ) -> Self {
        Self {
            index,
            floor,
            analysis,
            rx,
            calls: HashMap::new(),
        }
    }

    /// The thread's body: until the floor shuts down and every call is finalised.
    pub(crate) fn run(mut self) {
        let mut last_sweep = mono_ns();
        loop {
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = mono_ns();
            if now.saturating_sub(last_sweep) >= 100_000_000 {
                last_sweep = now;
                let Some(floor) = self.floor.upgrade() else {
                    break;
                };
                self.sweep(&floor, now);
                if floor.is_shutting_down() && self.calls.is_empty() && self.rx.is_empty() {
                    break;
                }
            }
        }
        if let Some(floor) = self.floor.upgrade() {
            let ids: Vec<String> = self.calls.keys().cloned().collect();
            for id in ids {
                self.finalise(&floor, &id, Some(EndReason::Shutdown));
            }
        }
        tracing::debug!(worker = self.index, "worker stopped");
    }

    fn handle(&mut self, msg: WorkerMsg) {
        let Some(floor) = self.floor.upgrade() else {
            return;
        };
        floor
            .metrics()
            .worker_messages
            .fetch_add(1, Ordering::Relaxed);
        match msg {
            WorkerMsg::Open { call, open } => self.open(&floor, call, open),
            WorkerMsg::Audio {
                call,
                gap_before,
                parties,
                received_ns,
            } => {
                let id = call.id.as_str();
                let Some(run) = self.calls.get_mut(id) else {
                    return;
                };
                run.processed += 1;
                if run.failed.is_some() {
                    return;
                }
                let result = catch_unwind(AssertUnwindSafe(|| {
                    run.audio(&floor, gap_before, &parties, received_ns)
                }));
                let failure = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(format!("analysis failed: {e}")),
                    Err(panic) => Some(format!("analysis panicked: {}", panic_message(&panic))),
                };
                if let Some(message) = failure {
                    tracing::error!(call = %id, %message, "call analysis failed; the call is ended");
                    run.failed = Some(message);
                    floor.metrics().calls_failed.fetch_add(1, Ordering::Relaxed);
                    self.finalise(&floor, id, None);
                }
            }
            WorkerMsg::End { call } => {
                if let Some(run) = self.calls.get_mut(&call.id) {
                    run.processed += 1;
                    self.finalise(&floor, &call.id, None);
                }
            }
        }
    }

    fn open(&mut self, floor: &Floor, call: Arc<CallShared>, open: CallOpen) {
        let Some(entry) = floor.entry(&call.id) else {
            return;
        };
        let specs = party_specs(&open.roles, open.sample_rate);
        let analyzer = match CallAnalyzer::new(&self.analysis, &specs) {
            Ok(a) => a,
            Err(e) => {
                // Checked at start for the usual shapes; a failure here ends the call.
                tracing::error!(call = %call.id, error = %e, "cannot analyse the call");
                floor.finished(FinishedCall {
                    id: call.id.clone(),
                    protocol: open.protocol,
                    external_id: open.external_id.clone(),
                    label: open.label.clone(),
                    started_at: entry.lock().tile.started_at,
                    ended_at: unix_now(),
                    end_reason: EndReason::ProtocolError(e.to_string()),
                    error: Some(e.to_string()),
                    alerts: 0,
                    summary: None,
                    file: None,
                });
                return;
            }
        };
        let config = floor.config();
        let out = config.output_dir.as_ref().and_then(|dir| {
            let started = entry.lock().tile.started_at as u64;
            let path = dir.join(format!("{started}-{}.jsonl", call.id));
            match File::create(&path) {
                Ok(f) => Some((path, BufWriter::new(f))),
                Err(e) => {
                    tracing::error!(call = %call.id, path = %path.display(), error = %e, "cannot write the call's file");
                    None
                }
            }
        });
        let panic_on_audio = config
            .fault_panic_label
            .as_deref()
            .is_some_and(|l| l == open.label);
        let parties = open.roles.len();
        let run = CallRun {
            entry,
            analyzer,
            block: Block::with_capacity(parties, GAP_BLOCK),
            out,
            write_frames: config.frames,
            processed: 1,
            received_ns: mono_ns(),
            accum: Accum::default(),
            talk_frames: [0; 2],
            overlap_frames: 0,
            any_frames: 0,
            speaking: [false; 2],
            agitation: None,
            trend: std::collections::VecDeque::with_capacity(TREND_POINTS),
            trend_frames: 0,
            last_tile_ns: 0,
            alerts: 0,
            gap_frames: 0,
            failed: None,
            write_error: false,
            panic_on_audio,
            records: Vec::with_capacity(64),
            open,
        };
        self.calls.insert(call.id.clone(), run);
    }

    /// Finalises calls whose ingest side ended once their queued messages are processed, and
    /// refreshes tiles.
    fn sweep(&mut self, floor: &Floor, now: u64) {
        let mut done = Vec::new();
        for (id, run) in &mut self.calls {
            let shared = &run.entry.shared;
            if shared.ended.load(Ordering::Acquire)
                && run.processed >= shared.sent.load(Ordering::Acquire)
            {
                done.push(id.clone());
            } else if now.saturating_sub(run.last_tile_ns) >= TILE_EVERY_NS {
                run.publish_tile(floor, now);
            }
        }
        for id in done {
            self.finalise(floor, &id, None);
        }
    }

    /// Flushes the call's analysis, writes its summary and moves it to the finished list.
    fn finalise(&mut self, floor: &Floor, id: &str, reason: Option<EndReason>) {
        let Some(mut run) = self.calls.remove(id) else {
            return;
        };
        let reason = reason
            .or_else(|| run.entry.shared.reason())
            .unwrap_or(EndReason::Disconnected);
        if run.failed.is_none() {
            // `ended` was read with Acquire before this call was chosen for finalising.
            let trailing = run.entry.shared.trailing_gap.load(Ordering::Relaxed);
            let result = catch_unwind(AssertUnwindSafe(|| {
                run.gap(floor, trailing)?;
                run.finish(floor)
            }));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => run.failed = Some(format!("analysis failed: {e}")),
                Err(p) => run.failed = Some(format!("analysis panicked: {}", panic_message(&p))),
            }
        }
        let summary = run.analyzer.summary(&SourceDiagnostics::default(), 0);
        if let Some(message) = &run.failed {
            let line = serde_json::json!({"type": "error", "t": run.entry.lock().tile.t, "message": message});
            run.write_line(&line);
        }
        run.write(&Record::Summary(Arc::new(summary.clone())));
        let file = run.out.take().map(|(path, mut w)| {
            if let Err(e) = w.flush() {
                tracing::error!(call = %id, error = %e, "cannot write the call's file");
            }
            path.display().to_string()
        });
        let started_at = run.entry.lock().tile.started_at;
        tracing::info!(
            call = %id,
            reason = ?reason,
            alerts = run.alerts,
            frames_dropped = run.entry.shared.frames_dropped.load(Ordering::Relaxed),
            gap_frames = run.gap_frames,
            "call finished"
        );
        floor.finished(FinishedCall {
            id: id.to_owned(),
            protocol: run.open.protocol,
            external_id: run.open.external_id.clone(),
            label: run.open.label.clone(),
            started_at,
            ended_at: unix_now(),
            end_reason: reason,
            error: run.failed.clone(),
            alerts: run.alerts,
            summary: serde_json::to_value(&summary).ok(),
            file,
        });
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl CallRun {
    fn audio(
        &mut self,
        floor: &Floor,
        gap_before: u64,
        parties: &[Vec<f32>],
        received_ns: u64,
    ) -> Result<(), crate::Error> {
        if self.panic_on_audio {
            panic!(
                "fault injection: panic on the audio of call {}",
                self.open.label
            );
        }
        self.received_ns = received_ns;
        self.gap(floor, gap_before)?;
        let n = self.open.roles.len();
        self.block.reset(n);
        for (p, samples) in self.block.parties.iter_mut().zip(parties) {
            p.samples.extend_from_slice(samples);
            p.sanitize(1.0);
        }
        let frames = parties.first().map_or(0, Vec::len) as u64;
        floor
            .metrics()
            .frames_analysed
            .fetch_add(frames, Ordering::Relaxed);
        self.analyse(floor)
    }

    /// Analyses `frames` frames of missing audio: silence flagged as a gap.
    fn gap(&mut self, floor: &Floor, frames: u64) -> Result<(), crate::Error> {
        let n = self.open.roles.len();
        let mut gap = frames;
        self.gap_frames += frames;
        while gap > 0 {
            let len = gap.min(GAP_BLOCK as u64) as usize;
            self.block.reset(n);
            for p in &mut self.block.parties {
                p.samples.resize(len, 0.0);
                p.gap = true;
            }
            self.analyse(floor)?;
            gap -= len as u64;
        }
        Ok(())
    }

    fn analyse(&mut self, floor: &Floor) -> Result<(), crate::Error> {
        // The records buffer is reused from block to block.
        let mut records = std::mem::take(&mut self.records);
        let result = self.analyzer.process(&self.block, |r| records.push(r));
        for r in records.drain(..) {
            self.record(floor, r);
        }
        self.records = records;
        result
    }

    fn finish(&mut self, floor: &Floor) -> Result<(), crate::Error> {
        let mut records = Vec::new();
        self.analyzer.finish(|r| records.push(r))?;
        for r in records {
            self.record(floor, r);
        }
        self.publish_tile(floor, mono_ns());
        Ok(())
    }

    fn write(&mut self, record: &Record) {
        if let Some((path, w)) = &mut self.out
            && let Err(e) = record.write_json(w)
            && !self.write_error
        {
            self.write_error = true;
            tracing::error!(path = %path.display(), error = %e, "cannot write the call's file");
        }
    }

    fn write_line(&mut self, value: &serde_json::Value) {
        if let Some((_, w)) = &mut self.out {
            let _ = serde_json::to_writer(&mut *w, value);
            let _ = w.write_all(b"\n");
        }
    }

    fn record(&mut self, floor: &Floor, record: Record) {
        match &record {
            Record::Frame(f) => {
                if self.write_frames {
                    self.write(&record);
                }
                self.frame(f);
            }
            Record::Event(e) => {
                self.write(&record);
                if let Ok(value) = serde_json::value::to_raw_value(e).map(Arc::<RawValue>::from) {
                    if self.entry.updates.receiver_count() > 0
                        && let Ok(text) = serde_json::to_string(&Update::Event {
                            call: &self.entry.shared.id,
                            event: &value,
                        })
                    {
                        let _ = self.entry.updates.send(Arc::from(text));
                    }
                    let mut live = self.entry.lock();
                    if live.events.len() >= EVENTS_KEPT {
                        live.events.pop_front();
                    }
                    live.events.push_back(value);
                }
            }
            Record::Alert(a) => {
                self.write(&record);
                self.alert(floor, a);
            }
            Record::Summary(_) => {}
        }
    }

    fn alert(&mut self, floor: &Floor, a: &Alert) {
        let latency = mono_ns().saturating_sub(self.received_ns) as f64 / 1e9;
        floor.metrics().ingest_to_alert.observe(latency);
        floor.metrics().alert(a.kind);
        self.alerts += 1;
        let view = AlertView {
            kind: a.kind.name(),
            severity: match a.severity {
                crate::alert::Severity::Warn => "warn",
                crate::alert::Severity::Critical => "critical",
            },
            who: a.who,
            message: a.message,
            t: a.t,
            at: unix_now(),
        };
        {
            let mut live = self.entry.lock();
            if live.alerts.len() >= ALERTS_KEPT {
                live.alerts.pop_front();
            }
            live.alerts.push_back(view.clone());
            live.tile.latest_alert = Some(view.clone());
            live.tile.alerts = self.alerts;
        }
        let update = Update::Alert {
            call: &self.entry.shared.id,
            alert: &view,
        };
        if let Ok(text) = serde_json::to_string(&update) {
            let text: Arc<str> = Arc::from(text);
            let _ = self.entry.updates.send(Arc::clone(&text));
            floor.send_raw(text);
        }
        self.publish_tile(floor, mono_ns());
    }

    fn frame(&mut self, f: &FrameRecord) {
        let mut any = false;
        for role in [Role::Agent, Role::Caller] {
            let i = role.index();
            if let Some(p) = f.party(role) {
                self.accum.present[i] = true;
                self.accum.speech[i] |= p.speech;
                self.accum.loudness[i] += p.loudness_db;
                if p.f0_hz.is_some() {
                    self.accum.f0[i] = p.f0_hz;
                }
                self.speaking[i] = p.speech;
                if p.speech {
                    self.talk_frames[i] += 1;
                    any = true;
                }
                if role == Role::Caller && p.agitation.is_some() {
                    self.agitation = p.agitation;
                    self.accum.agitation = p.agitation;
                }
            } else {
                self.speaking[i] = false;
            }
        }
        if any {
            self.any_frames += 1;
            if self.speaking == [true, true] {
                self.overlap_frames += 1;
            }
        }
        self.accum.frames += 1;
        if self.accum.frames >= POINT_FRAMES {
            let acc = std::mem::take(&mut self.accum);
            let party = |i: usize, agitation: Option<f32>| {
                acc.present[i].then(|| PointParty {
                    speech: acc.speech[i],
                    loudness_db: acc.loudness[i] / acc.frames as f32,
                    f0_hz: acc.f0[i],
                    agitation,
                })
            };
            let point = TimelinePoint {
                t: f.t,
                agent: party(Role::Agent.index(), None),
                caller: party(Role::Caller.index(), acc.agitation),
            };
            {
                let mut live = self.entry.lock();
                if live.timeline.len() >= TIMELINE_POINTS {
                    live.timeline.pop_front();
                }
                live.timeline.push_back(point);
                live.tile.t = f.t;
            }
            if self.entry.updates.receiver_count() > 0 {
                if let Ok(text) = serde_json::to_string(&Update::Point {
                    call: &self.entry.shared.id,
                    point: &point,
                }) {
                    let _ = self.entry.updates.send(Arc::from(text));
                }
            }
        }
        self.trend_frames += 1;
        if self.trend_frames >= 100 {
            self.trend_frames = 0;
            if self.trend.len() >= TREND_POINTS {
                self.trend.pop_front();
            }
            self.trend.push_back(self.agitation);
        }
    }

    fn publish_tile(&mut self, floor: &Floor, now: u64) {
        self.last_tile_ns = now;
        let talk = self.talk_frames[0] + self.talk_frames[1];
        let now_unix = unix_now();
        let mut live = self.entry.lock();
        let recent_alert_weight = live
            .alerts
            .iter()
            .rev()
            .take_while(|a| now_unix - a.at < 60.0)
            .map(|a| if a.severity == "critical" { 1.0 } else { 0.5 })
            .sum::<f64>();
        let tile = &mut live.tile;
        tile.speaking.agent = self.speaking[Role::Agent.index()];
        tile.speaking.caller = self.speaking[Role::Caller.index()];
        tile.talk_ratio_agent = (self.open.roles.len() == 2 && talk > 0)
            .then(|| self.talk_frames[Role::Agent.index()] as f64 / talk as f64);
        tile.overlap_pct = if self.any_frames > 0 {
            100.0 * self.overlap_frames as f64 / self.any_frames as f64
        } else {
            0.0
        };
        tile.agitation = self.agitation.map(f64::from);
        tile.trend = self.trend.iter().copied().collect();
        tile.attention = self.agitation.map_or(0.0, f64::from) + recent_alert_weight;
        tile.gap_frames = self.gap_frames;
        let update = Update::Tile { call: tile };
        if (floor.has_listeners() || self.entry.updates.receiver_count() > 0)
            && let Ok(text) = serde_json::to_string(&update)
        {
            let text: Arc<str> = Arc::from(text);
            let _ = self.entry.updates.send(Arc::clone(&text));
            floor.send_raw(text);
        }
    }
}
