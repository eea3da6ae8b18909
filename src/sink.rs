//! Where records go: the [`Sink`] seam, a JSON Lines sink and an in-memory sink for tests.
//!
//! Sinks run on their own threads (see [`crate::pipeline`]), fed over bounded channels, so a
//! slow disk or terminal never stalls the analysis of a live call. They may allocate and do
//! I/O freely.

use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::record::Record;

/// A consumer of records, pushed one at a time, then finished once.
pub trait Sink: Send {
    /// Takes one record.
    ///
    /// # Errors
    /// [`Error::Sink`] when the record cannot be written; the pipeline stops feeding this sink
    /// and reports the error when the run ends.
    fn record(&mut self, record: &Record) -> Result<(), Error>;

    /// Whether this sink wants frame records even when the pipeline does not write frames
    /// (a live view draws meters from them). Default: no, the pipeline's setting decides.
    fn wants_frames(&self) -> bool {
        false
    }

    /// Flushes everything; called once after the last record, also after an error.
    ///
    /// # Errors
    /// [`Error::Sink`] when the flush fails.
    fn finish(&mut self) -> Result<(), Error>;
}

/// Writes records as JSON Lines (one object per line) to any writer.
pub struct JsonlSink<W: Write + Send> {
    out: BufWriter<W>,
}

impl<W: Write + Send> JsonlSink<W> {
    /// A sink writing to `out` through a buffer.
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, out),
        }
    }
}

impl<W: Write + Send> Sink for JsonlSink<W> {
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        record.write_json(&mut self.out).map_err(Error::Sink)?;
        if matches!(record, Record::Summary(_)) {
            // The summary closes a call: make it visible at once (a live reader is waiting).
            self.out.flush().map_err(Error::Sink)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(Error::Sink)
    }
}

/// Keeps every record in memory. For tests and evaluations: it grows with the call.
#[derive(Default)]
pub struct MemorySink {
    records: Arc<Mutex<Vec<Record>>>,
}

/// The reading end of a [`MemorySink`].
#[derive(Clone, Default)]
pub struct MemoryRecords {
    records: Arc<Mutex<Vec<Record>>>,
}

impl MemorySink {
    /// A sink and the handle to read what it collected.
    pub fn new() -> (Self, MemoryRecords) {
        let records = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                records: Arc::clone(&records),
            },
            MemoryRecords { records },
        )
    }
}

impl MemoryRecords {
    /// Takes the records collected so far.
    pub fn take(&self) -> Vec<Record> {
        match self.records.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Sink for MemorySink {
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        match self.records.lock() {
            Ok(mut v) => v.push(record.clone()),
            Err(poisoned) => poisoned.into_inner().push(record.clone()),
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
