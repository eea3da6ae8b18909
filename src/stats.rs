//! Running per-party statistics for the summary, in fixed memory: counters, sums and a pitch
//! histogram (so the median F0 of a four-hour call costs the same as that of a minute).

use serde::Serialize;

use crate::features::PartyFeatures;
use crate::source::PartyBlock;

/// Pitch histogram resolution: bins per octave (10 per semitone).
const BINS_PER_OCTAVE: f64 = 120.0;
/// Lowest F0 the histogram holds.
const HIST_MIN_HZ: f64 = 30.0;
/// Number of bins (30 Hz to about 1.2 kHz).
const HIST_BINS: usize = 640;

/// Running statistics of one party.
#[derive(Debug, Clone)]
pub struct PartyStats {
    hop_s: f64,
    frames: u64,
    speech_frames: u64,
    speech_power: f64,
    voiced_speech_frames: u64,
    gap_frames: u64,
    gap_blocks: u64,
    samples_in: u64,
    clipped: u64,
    nonfinite: u64,
    sum_in: f64,
    queue_drops: u64,
    f0_hist: Vec<u32>,
}

impl PartyStats {
    /// Empty statistics for frames `hop_s` seconds apart.
    pub fn new(hop_s: f64) -> Self {
        Self {
            hop_s,
            frames: 0,
            speech_frames: 0,
            speech_power: 0.0,
            voiced_speech_frames: 0,
            gap_frames: 0,
            gap_blocks: 0,
            samples_in: 0,
            clipped: 0,
            nonfinite: 0,
            sum_in: 0.0,
            queue_drops: 0,
            f0_hist: vec![0; HIST_BINS],
        }
    }

    /// Counts an input block (before resampling).
    pub fn record_input(&mut self, block: &PartyBlock) {
        self.samples_in += block.samples.len() as u64;
        self.clipped += u64::from(block.clipped);
        self.nonfinite += u64::from(block.nonfinite);
        self.gap_blocks += u64::from(block.gap);
        self.sum_in += block.samples.iter().map(|&s| f64::from(s)).sum::<f64>();
    }

    /// Counts a finished frame.
    pub fn record_frame(&mut self, f: &PartyFeatures) {
        self.frames += 1;
        self.gap_frames += u64::from(f.gap);
        if f.speech {
            self.speech_frames += 1;
            self.speech_power += 10f64.powf(f64::from(f.loudness_db) / 10.0);
            if let Some(f0) = f.f0_hz {
                self.voiced_speech_frames += 1;
                let bin = (BINS_PER_OCTAVE * (f64::from(f0) / HIST_MIN_HZ).log2()).floor();
                if bin >= 0.0 && (bin as usize) < HIST_BINS {
                    self.f0_hist[bin as usize] += 1;
                }
            }
        }
    }

    /// Counts a frame dropped because the other party fell too far behind.
    pub fn record_queue_drop(&mut self) {
        self.queue_drops += 1;
    }

    /// Frames measured.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Seconds of speech.
    pub fn speech_s(&self) -> f64 {
        self.speech_frames as f64 * self.hop_s
    }

    /// Input samples received.
    pub fn samples_in(&self) -> u64 {
        self.samples_in
    }

    /// Median F0 of voiced speech frames (to a tenth of a semitone), if any.
    pub fn median_f0_hz(&self) -> Option<f64> {
        let total: u64 = self.f0_hist.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let half = total.div_ceil(2);
        let mut acc = 0;
        for (bin, &c) in self.f0_hist.iter().enumerate() {
            acc += u64::from(c);
            if acc >= half {
                return Some(HIST_MIN_HZ * 2f64.powf((bin as f64 + 0.5) / BINS_PER_OCTAVE));
            }
        }
        None
    }

    /// The summary of this party.
    pub fn summary(&self, source: &str, input_rate: u32) -> PartySummary {
        let round = |x: f64, d: f64| (x * d).round() / d;
        PartySummary {
            source: source.to_owned(),
            input_rate,
            speech_s: round(self.speech_s(), 100.0),
            speech_pct: if self.frames > 0 {
                round(
                    100.0 * self.speech_frames as f64 / self.frames as f64,
                    100.0,
                )
            } else {
                0.0
            },
            mean_loudness_db: (self.speech_frames > 0).then(|| {
                round(
                    10.0 * (self.speech_power / self.speech_frames as f64).log10(),
                    100.0,
                )
            }),
            median_f0_hz: self.median_f0_hz().map(|f| round(f, 10.0)),
            voiced_s: round(self.voiced_speech_frames as f64 * self.hop_s, 100.0),
            gaps: self.gap_blocks,
            gap_frames: self.gap_frames,
            clipped_samples: self.clipped,
            nonfinite_samples: self.nonfinite,
            dc_offset: if self.samples_in > 0 {
                round(self.sum_in / self.samples_in as f64, 1e5)
            } else {
                0.0
            },
            frames_dropped: self.queue_drops,
        }
    }
}

/// Summary of one party, as written in the `summary` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartySummary {
    /// Where the audio came from.
    pub source: String,
    /// Sample rate of the input in Hz.
    pub input_rate: u32,
    /// Seconds of speech (voice activity).
    pub speech_s: f64,
    /// Speech as a percentage of the frames.
    pub speech_pct: f64,
    /// Power-average frame level over speech frames in dBFS (`null` without speech).
    pub mean_loudness_db: Option<f64>,
    /// Median F0 over voiced speech frames in Hz (`null` without any).
    pub median_f0_hz: Option<f64>,
    /// Seconds of voiced speech.
    pub voiced_s: f64,
    /// Gaps (lost samples) reported by the source.
    pub gaps: u64,
    /// Frames touched by a gap.
    pub gap_frames: u64,
    /// Input samples at or beyond full scale.
    pub clipped_samples: u64,
    /// Input samples that were NaN or infinite (replaced by silence).
    pub nonfinite_samples: u64,
    /// Mean of the input samples (removed before analysis).
    pub dc_offset: f64,
    /// Frames dropped because the other party fell more than 5 s behind (live sources).
    pub frames_dropped: u64,
}
