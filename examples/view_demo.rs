//! Shows the agent view on a recorded call, replayed at real-time pace.
//!
//! The call is analysed first (as `callpulse analyze --frames` would), then its records are fed
//! to an [`AgentView`] at the pace of their call time, as a live call would feed them. Press `q`
//! to quit.
//!
//! ```text
//! cargo run --example view_demo [-- [CALL.wav] [--speed FACTOR]]
//! ```
//!
//! The default call is the demo call, `assets/demo/auto_repairs_60s_stereo.wav`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use callpulse::pipeline::{Overflow, Pipeline};
use callpulse::record::Record;
use callpulse::sink::{MemorySink, Sink};
use callpulse::source::wav::WavSource;
use callpulse::view::{AgentView, ViewOptions};
use callpulse::{AnalysisConfig, Error};

/// The call time at which a live pipeline would emit `record`.
fn emitted_at(record: &Record) -> f64 {
    match record {
        Record::Frame(f) => f.t,
        Record::Event(e) => e.end,
        Record::Alert(a) => a.t,
        Record::Summary(s) => s.duration_s,
        _ => 0.0,
    }
}

fn main() -> Result<(), Error> {
    let mut path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/auto_repairs_60s_stereo.wav");
    let mut speed = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--speed" => {
                speed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| *s > 0.0)
                    .unwrap_or(1.0);
            }
            _ => path = PathBuf::from(arg),
        }
    }
    let source = WavSource::stereo(&path, 0, 1)?;
    let (memory, records) = MemorySink::new();
    Pipeline::new(AnalysisConfig::default())
        .frames(true)
        .sink(memory, Overflow::Block)
        .spawn(Box::new(source))?
        .wait()?;
    let records = records.take();

    let stop = Arc::new(AtomicBool::new(false));
    let name = path
        .file_stem()
        .map_or("call".into(), |s| s.to_string_lossy().into_owned());
    let mut view = AgentView::new(ViewOptions::new(name, Arc::clone(&stop)))?;
    let start = Instant::now();
    for record in &records {
        let due = Duration::from_secs_f64((emitted_at(record) / speed).max(0.0));
        while start.elapsed() < due && !stop.load(Ordering::SeqCst) {
            std::thread::sleep((due - start.elapsed()).min(Duration::from_millis(5)));
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        view.record(record)?;
    }
    view.finish()
}
