//! The pipeline's queues: overflow policies, drop counters, failing sinks.

use std::io;
use std::time::Duration;

use callpulse::config::AnalysisConfig;
use callpulse::pipeline::{Overflow, Pipeline};
use callpulse::record::Record;
use callpulse::sink::{MemorySink, Sink};
use callpulse::source::memory::MemorySource;
use callpulse::{Error, Role};

use crate::common::*;

/// A sink that takes 1 ms per record, like a slow terminal.
struct Slow(MemorySink);

impl Sink for Slow {
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.record(record)
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.0.finish()
    }
}

/// A sink whose disk is full from the 10th record on.
struct Failing(u32);

impl Sink for Failing {
    fn record(&mut self, _: &Record) -> Result<(), Error> {
        self.0 += 1;
        if self.0 >= 10 {
            return Err(Error::Sink(io::Error::other("disk full")));
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

fn source() -> Box<MemorySource> {
    Box::new(MemorySource::new(vec![(
        Role::Caller,
        8000,
        voice(8000, 5.0, 150.0, 0.5, 4.5, 0.3),
    )]))
}

#[test]
fn a_slow_sink_drops_newest_and_counts_but_never_the_summary() {
    let (slow, slow_records) = MemorySink::new();
    let (fast, fast_records) = MemorySink::new();
    let report = Pipeline::new(AnalysisConfig::default())
        .frames(true)
        .sink_with_capacity(Slow(slow), Overflow::DropNewest, 8)
        .sink(fast, Overflow::Block)
        .spawn(source())
        .unwrap()
        .wait()
        .unwrap();
    let slow = slow_records.take();
    let fast = fast_records.take();
    let frames = |r: &[Record]| r.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert_eq!(frames(&fast), 500, "the blocking sink lost nothing");
    assert!(
        report.records_dropped > 100,
        "dropped {}",
        report.records_dropped
    );
    assert_eq!(
        slow.len() as u64 + report.records_dropped,
        fast.len() as u64,
        "every record delivered or counted"
    );
    assert!(
        matches!(slow.last(), Some(Record::Summary(_))),
        "the summary is never dropped"
    );
    assert_eq!(report.summary.records_dropped, report.records_dropped);
}

#[test]
fn a_failing_sink_is_reported_and_the_others_are_flushed() {
    let (memory, records) = MemorySink::new();
    let err = Pipeline::new(AnalysisConfig::default())
        .frames(true)
        .sink(Failing(0), Overflow::Block)
        .sink(memory, Overflow::Block)
        .spawn(source())
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    let got = records.take();
    let frames = got.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert_eq!(frames, 500, "the healthy sink got every frame");
    assert!(matches!(got.last(), Some(Record::Summary(_))));
}
