//! The call pipeline: a source pulled by one analysis thread, records pushed to sinks over
//! bounded channels.
//!
//! ```text
//! Source ──read──► analysis thread (CallAnalyzer) ──bounded channel──► sink thread ──► Sink
//!                                                  └─bounded channel──► sink thread ──► Sink
//! ```
//!
//! Each sink has its own thread, a bounded `crossbeam-channel` and an [`Overflow`] policy:
//! [`Overflow::Block`] makes the analysis wait (file analysis: nothing may be lost),
//! [`Overflow::DropNewest`] drops the record and counts it (live calls: analysis must keep up
//! with the audio). The summary is never dropped. A sink that fails stops receiving records;
//! the others go on, every sink is finished (flushed) and the error is reported at the end.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use crate::call::CallAnalyzer;
use crate::config::AnalysisConfig;
use crate::error::Error;
use crate::latency::LatencyHistogram;
use crate::record::Record;
use crate::sink::Sink;
use crate::source::{Block, CaptureAnchor, Source};
use crate::summary::{LiveSummary, Summary};
use crate::time::thread_cpu_time;

/// Records a sink channel holds before its overflow policy applies.
pub const SINK_CAPACITY: usize = 4096;

/// What to do when a sink's channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for the sink (lossless; for files).
    Block,
    /// Drop the record and count it (for live calls).
    DropNewest,
}

struct Outlet {
    tx: Sender<Record>,
    frames: bool,
    overflow: Overflow,
    dropped: Arc<AtomicU64>,
}

impl Outlet {
    fn send(&self, record: Record) {
        match self.overflow {
            // A closed channel means the sink thread has gone (it failed); its error is
            // reported when the run is joined.
            Overflow::Block => {
                let _ = self.tx.send(record);
            }
            Overflow::DropNewest => {
                if let Err(TrySendError::Full(_)) = self.tx.try_send(record) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Latency percentiles published by the analysis thread for other threads (`--stats`).
#[derive(Default)]
struct LatencyProbe {
    frame_p50_us: AtomicU64,
    frame_p99_us: AtomicU64,
    alert_p50_us: AtomicU64,
    alert_p99_us: AtomicU64,
    alerts: AtomicU64,
}

/// Latency so far of a live call, from [`Running::latency`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencyNow {
    /// Capture → frame features, median, ms.
    pub frame_p50_ms: f64,
    /// Capture → frame features, 99th percentile, ms.
    pub frame_p99_ms: f64,
    /// Capture → alert, median, ms.
    pub alert_p50_ms: f64,
    /// Capture → alert, 99th percentile, ms.
    pub alert_p99_ms: f64,
    /// Alerts so far.
    pub alerts: u64,
}

impl LatencyProbe {
    fn publish(&self, frames: &LatencyHistogram, alerts: &LatencyHistogram) {
        let us = |ms: f64| (ms * 1000.0) as u64;
        self.frame_p50_us
            .store(us(frames.quantile_ms(0.5)), Ordering::Relaxed);
        self.frame_p99_us
            .store(us(frames.quantile_ms(0.99)), Ordering::Relaxed);
        self.alert_p50_us
            .store(us(alerts.quantile_ms(0.5)), Ordering::Relaxed);
        self.alert_p99_us
            .store(us(alerts.quantile_ms(0.99)), Ordering::Relaxed);
        self.alerts.store(alerts.count(), Ordering::Relaxed);
    }

    fn read(&self) -> LatencyNow {
        let ms = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1000.0;
        LatencyNow {
            frame_p50_ms: ms(&self.frame_p50_us),
            frame_p99_ms: ms(&self.frame_p99_us),
            alert_p50_ms: ms(&self.alert_p50_us),
            alert_p99_ms: ms(&self.alert_p99_us),
            alerts: self.alerts.load(Ordering::Relaxed),
        }
    }
}

/// A configured pipeline, ready to run one call.
pub struct Pipeline {
    config: AnalysisConfig,
    frames: bool,
    sinks: Vec<(Box<dyn Sink>, Overflow, usize)>,
    name: String,
}

/// What a finished run measured about itself.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The call's summary (also sent to every sink).
    pub summary: Arc<Summary>,
    /// Frames analysed.
    pub frames: u64,
    /// CPU time of the analysis thread.
    pub analysis_cpu: Option<Duration>,
    /// Wall-clock time from start to the last sink finished.
    pub wall: Duration,
    /// Records dropped by sinks with [`Overflow::DropNewest`].
    pub records_dropped: u64,
}

impl RunReport {
    /// Audio seconds analysed per second of analysis CPU time (per wall time when the CPU
    /// time is unknown).
    pub fn realtime_factor(&self) -> f64 {
        let busy = self.analysis_cpu.unwrap_or(self.wall).as_secs_f64();
        self.summary.duration_s / busy.max(1e-9)
    }
}

/// What the analysis thread returns: the summary, the frame count, its CPU time, and the error
/// that ended the input early, if one did (the summary was still written).
type AnalysisOutcome = (Arc<Summary>, u64, Option<Duration>, Option<Error>);

/// A call being analysed.
pub struct Running {
    probe: Arc<LatencyProbe>,
    progress_ms: Arc<AtomicU64>,
    duration_s: Option<f64>,
    analysis: JoinHandle<Result<AnalysisOutcome, Error>>,
    sinks: Vec<JoinHandle<Result<(), Error>>>,
    dropped: Vec<Arc<AtomicU64>>,
    started: Instant,
}

impl Pipeline {
    /// A pipeline with `config` and no sinks.
    pub fn new(config: AnalysisConfig) -> Self {
        Self {
            config,
            frames: false,
            sinks: Vec::new(),
            name: "call".into(),
        }
    }

    /// Whether frame records are emitted (they are large; events and the summary always are).
    pub fn frames(mut self, on: bool) -> Self {
        self.frames = on;
        self
    }

    /// Names the call in logs and thread names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a sink with its overflow policy and a channel of [`SINK_CAPACITY`] records.
    pub fn sink(self, sink: impl Sink + 'static, overflow: Overflow) -> Self {
        self.sink_with_capacity(sink, overflow, SINK_CAPACITY)
    }

    /// Adds a sink with its overflow policy and a channel of `capacity` records (at least 1).
    pub fn sink_with_capacity(
        mut self,
        sink: impl Sink + 'static,
        overflow: Overflow,
        capacity: usize,
    ) -> Self {
        self.sinks.push((Box::new(sink), overflow, capacity.max(1)));
        self
    }

    /// Builds the analysis for `source` and starts the threads.
    ///
    /// # Errors
    /// [`Error::Config`] when the configuration does not fit the source; [`Error::Internal`]
    /// when a thread cannot be started.
    pub fn spawn(self, mut source: Box<dyn Source>) -> Result<Running, Error> {
        let started = Instant::now();
        let info = source.info().clone();
        let mut analyzer = CallAnalyzer::new(&self.config, &info.parties)?;
        let progress_ms = Arc::new(AtomicU64::new(0));
        let mut outlets = Vec::new();
        let mut sinks = Vec::new();
        let mut dropped = Vec::new();
        for (i, (mut sink, overflow, capacity)) in self.sinks.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::bounded::<Record>(capacity);
            let counter = Arc::new(AtomicU64::new(0));
            dropped.push(Arc::clone(&counter));
            outlets.push(Outlet {
                tx,
                frames: self.frames || sink.wants_frames(),
                overflow,
                dropped: counter,
            });
            let handle = std::thread::Builder::new()
                .name(format!("{}-sink-{i}", self.name))
                .spawn(move || {
                    let mut failed = None;
                    for record in rx {
                        if failed.is_none()
                            && let Err(e) = sink.record(&record)
                        {
                            tracing::error!(sink = i, error = %e, "sink failed; its records are discarded from now on");
                            failed = Some(e);
                        }
                    }
                    let finished = sink.finish();
                    match failed {
                        Some(e) => Err(e),
                        None => finished,
                    }
                })
                .map_err(|e| Error::Internal {
                    stage: "pipeline",
                    message: format!("cannot start a sink thread: {e}"),
                })?;
            sinks.push(handle);
        }
        let progress = Arc::clone(&progress_ms);
        let probe = Arc::new(LatencyProbe::default());
        let probe_writer = Arc::clone(&probe);
        let geometry = analyzer.geometry();
        // A frame's newest sample lies half a window after its centre.
        let window_half_s = geometry.window as f64 / 2.0 / f64::from(geometry.rate);
        let algorithmic_delay_ms =
            f64::from(self.config.pitch().lookahead_frames) * geometry.hop as f64 * 1000.0
                / f64::from(geometry.rate);
        let first_rate = info.parties[0].sample_rate;
        let name = self.name.clone();
        let analysis = std::thread::Builder::new()
            .name(format!("{}-analysis", self.name))
            .spawn(move || {
                let span = tracing::info_span!("call", name = %name);
                let _enter = span.enter();
                tracing::info!(
                    parties = info.parties.len(),
                    rate = analyzer.geometry().rate,
                    "analysis started"
                );
                let capacity = crate::source::wav::DEFAULT_BLOCK_FRAMES;
                let mut block = Block::with_capacity(info.parties.len(), capacity);
                let mut first_samples = 0u64;
                let mut failure = None;
                // Live sources: capture times and latency (allocated here, once).
                let anchor = Cell::new(None::<CaptureAnchor>);
                let unix_offset = crate::time::unix_offset_s();
                let frame_latency = RefCell::new(LatencyHistogram::new());
                let alert_latency = RefCell::new(LatencyHistogram::new());
                let emit = |mut rec: Record| {
                    if let Some(a) = anchor.get() {
                        let now = crate::time::mono_ns();
                        let stamp = |t: f64, h: &RefCell<LatencyHistogram>| {
                            let newest = t + window_half_s;
                            let captured =
                                a.mono_ns as f64 - (a.t - newest) * 1e9;
                            h.borrow_mut()
                                .record((now as f64 - captured).max(0.0) as u64);
                            Some(unix_offset + captured / 1e9)
                        };
                        match &mut rec {
                            Record::Frame(f) => {
                                f.captured_at = stamp(f.t, &frame_latency);
                                let h = frame_latency.borrow();
                                if h.count().is_multiple_of(100) {
                                    probe_writer.publish(&h, &alert_latency.borrow());
                                }
                            }
                            Record::Alert(al) => {
                                al.captured_at = stamp(al.t, &alert_latency);
                            }
                            _ => {}
                        }
                    }
                    let frame = matches!(rec, Record::Frame(_));
                    for o in outlets.iter().filter(|o| o.frames || !frame) {
                        o.send(rec.clone());
                    }
                };
                loop {
                    match source.read(&mut block) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            tracing::error!(error = %e, "reading the input failed; finishing with what was read");
                            failure = Some(e);
                            break;
                        }
                    }
                    anchor.set(source.capture_anchor());
                    if let Err(e) = analyzer.process(&block, emit) {
                        failure = Some(e);
                        break;
                    }
                    first_samples += block.parties.first().map_or(0, |p| p.samples.len() as u64);
                    progress.store(first_samples * 1000 / u64::from(first_rate), Ordering::Relaxed);
                }
                if let Err(e) = analyzer.finish(emit) {
                    failure.get_or_insert(e);
                }
                let dropped_so_far = outlets
                    .iter()
                    .map(|o| o.dropped.load(Ordering::Relaxed))
                    .sum();
                let mut summary = analyzer.summary(&source.diagnostics(), dropped_so_far);
                let capture = source.capture_reports();
                if !capture.is_empty() {
                    probe_writer.publish(&frame_latency.borrow(), &alert_latency.borrow());
                    summary.live = Some(LiveSummary {
                        capture_to_frame_ms: frame_latency.borrow().summary(),
                        capture_to_alert_ms: alert_latency.borrow().summary(),
                        algorithmic_delay_ms,
                        capture,
                    });
                }
                let summary = Arc::new(summary);
                for o in &outlets {
                    // The summary is never dropped, whatever the policy.
                    let _ = o.tx.send(Record::Summary(Arc::clone(&summary)));
                }
                drop(outlets);
                tracing::info!(frames = analyzer.frames_emitted(), "analysis finished");
                let cpu = thread_cpu_time();
                Ok((summary, analyzer.frames_emitted(), cpu, failure))
            })
            .map_err(|e| Error::Internal {
                stage: "pipeline",
                message: format!("cannot start the analysis thread: {e}"),
            })?;
        Ok(Running {
            probe,
            progress_ms,
            duration_s: info.duration_s,
            analysis,
            sinks,
            dropped,
            started,
        })
    }
}

impl Running {
    /// Seconds of input analysed so far.
    pub fn progress_s(&self) -> f64 {
        self.progress_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Expected length of the input in seconds, when known.
    pub fn duration_s(&self) -> Option<f64> {
        self.duration_s
    }

    /// For live sources: capture → frame and capture → alert latency so far (p50, p99 in ms),
    /// updated every 100 frames.
    pub fn latency(&self) -> LatencyNow {
        self.probe.read()
    }

    /// Whether the analysis thread has ended.
    pub fn is_finished(&self) -> bool {
        self.analysis.is_finished()
    }

    /// Waits for the analysis and every sink to finish.
    ///
    /// # Errors
    /// The analysis error if there was one (sinks were still flushed), otherwise the first
    /// sink error.
    pub fn wait(self) -> Result<RunReport, Error> {
        let (report, failure) = self.wait_with_failure()?;
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Waits like [`Running::wait`], but returns the report also when the input failed
    /// part-way (a live stream died): the error that ended it comes alongside, after the
    /// summary of what was analysed has been written to every sink.
    ///
    /// # Errors
    /// A sink error, or a thread that panicked.
    pub fn wait_with_failure(self) -> Result<(RunReport, Option<Error>), Error> {
        let analysis = self.analysis.join().unwrap_or_else(|_| {
            Err(Error::Internal {
                stage: "analysis",
                message: "the analysis thread panicked".into(),
            })
        });
        let mut sink_error = None;
        for handle in self.sinks {
            let r = handle.join().unwrap_or_else(|_| {
                Err(Error::Internal {
                    stage: "sink",
                    message: "a sink thread panicked".into(),
                })
            });
            if let Err(e) = r {
                sink_error.get_or_insert(e);
            }
        }
        let (summary, frames, analysis_cpu, failure) = analysis?;
        if let Some(e) = sink_error {
            return Err(failure.unwrap_or(e));
        }
        let report = RunReport {
            summary,
            frames,
            analysis_cpu,
            wall: self.started.elapsed(),
            records_dropped: self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum(),
        };
        Ok((report, failure))
    }
}

/// Analyses `source` to the end and returns every frame and the summary.
///
/// A convenience for tests, evaluations and tools: it keeps every frame in memory (about
/// 100 records per second of audio), so it is not for long live calls.
///
/// # Errors
/// As [`Pipeline::spawn`] and [`Running::wait`].
pub fn analyze_frames(
    config: AnalysisConfig,
    source: Box<dyn Source>,
) -> Result<(Vec<crate::record::FrameRecord>, Arc<Summary>), Error> {
    let (sink, records) = crate::sink::MemorySink::new();
    let report = Pipeline::new(config)
        .frames(true)
        .sink(sink, Overflow::Block)
        .spawn(source)?
        .wait()?;
    let frames = records
        .take()
        .into_iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    Ok((frames, report.summary))
}
