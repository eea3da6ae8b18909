//! Syllable nuclei: peaks of the loudness envelope in voiced speech.
//!
//! After N. H. de Jong and T. Wempe, "Praat script to detect syllable nuclei and measure speech
//! rate automatically", Behavior Research Methods 41 (2009): a syllable nucleus is a peak of
//! intensity that rises and falls by at least a dip threshold (2 dB there) around it and lies in
//! voiced speech. Here the intensity is the RMS level of each 10 ms hop (its finest time
//! resolution; the 300–3400 Hz band energy of the 40 ms analysis window was tried and merged
//! fast syllables), smoothed over 30 ms, and the peak is confirmed causally: once the envelope
//! has fallen `prominence_db` below it. The confirmation delay is the fall time of the
//! syllable, typically 30–100 ms.
//!
//! Measured against the syllables of the FDA sentence texts (`examples/eval_agitation.rs`): it
//! finds about 0.72 of them on clean read speech (0.61 on telephone), correlation with the
//! text's count 0.86 (0.77). It compresses fast speech: a 1.4× speed-up reads about 15 %
//! faster.

/// Frames of the moving average that smooths the envelope.
const SMOOTH: usize = 3;

/// Finds syllable nuclei in a stream of frames, one call per frame, without allocating.
#[derive(Debug, Clone)]
pub struct SyllableDetector {
    prominence_db: f32,
    min_gap_frames: u32,
    recent: [f32; SMOOTH],
    filled: usize,
    pos: usize,
    /// Lowest envelope since the last confirmed peak (the dip before the candidate).
    dip: f32,
    /// Highest envelope since that dip, and whether that frame was voiced speech.
    peak: f32,
    peak_voiced: bool,
    since_peak: u32,
}

impl SyllableDetector {
    /// A detector confirming peaks that stand `prominence_db` above the dips on both sides,
    /// at least `min_gap_frames` frames apart.
    pub fn new(prominence_db: f32, min_gap_frames: u32) -> Self {
        Self {
            prominence_db,
            min_gap_frames,
            recent: [0.0; SMOOTH],
            filled: 0,
            pos: 0,
            dip: f32::INFINITY,
            peak: f32::NEG_INFINITY,
            peak_voiced: false,
            since_peak: u32::MAX,
        }
    }

    /// Forgets the envelope (after a gap in the input).
    pub fn reset(&mut self) {
        *self = Self::new(self.prominence_db, self.min_gap_frames);
    }

    /// Feeds one frame's level in dB and whether the frame is voiced speech;
    /// returns `true` when a syllable nucleus is confirmed in this frame.
    pub fn process(&mut self, energy_db: f32, voiced_speech: bool) -> bool {
        let energy_db = if energy_db.is_finite() {
            energy_db.max(-120.0)
        } else {
            -120.0
        };
        self.recent[self.pos] = energy_db;
        self.pos = (self.pos + 1) % SMOOTH;
        self.filled = (self.filled + 1).min(SMOOTH);
        let env = self.recent[..self.filled].iter().sum::<f32>() / self.filled as f32;
        self.since_peak = self.since_peak.saturating_add(1);

        if env > self.peak {
            self.peak = env;
            self.peak_voiced = voiced_speech;
        }
        let mut found = false;
        if self.peak - self.dip >= self.prominence_db && env <= self.peak - self.prominence_db {
            // The envelope rose from the dip to the peak and has fallen again: one nucleus.
            if self.peak_voiced && self.since_peak >= self.min_gap_frames {
                found = true;
                self.since_peak = 0;
            }
            self.dip = env;
            self.peak = env;
            self.peak_voiced = voiced_speech;
        } else if env < self.dip {
            // Still falling (or never rose enough): the dip moves down, the peak restarts.
            self.dip = env;
            self.peak = env;
            self.peak_voiced = voiced_speech;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Envelope of `n` syllables: 10 frames up by 12 dB, 10 frames down.
    fn syllables(n: usize) -> Vec<f32> {
        let mut out = vec![-60.0; 20];
        for _ in 0..n {
            for i in 0..20 {
                let x = if i < 10 { i as f32 } else { (20 - i) as f32 };
                out.push(-40.0 + 1.2 * x);
            }
        }
        out.extend(std::iter::repeat_n(-60.0, 20));
        out
    }

    #[test]
    fn counts_each_peak_once() {
        let mut d = SyllableDetector::new(2.0, 8);
        let n = syllables(7)
            .into_iter()
            .filter(|&e| d.process(e, true))
            .count();
        assert_eq!(n, 7);
    }

    #[test]
    fn ignores_unvoiced_peaks_and_small_ripples() {
        let mut d = SyllableDetector::new(2.0, 8);
        assert_eq!(
            syllables(5)
                .into_iter()
                .filter(|&e| d.process(e, false))
                .count(),
            0
        );
        let mut d = SyllableDetector::new(2.0, 8);
        let ripple = (0..400).map(|i| -30.0 + 0.8 * ((i as f32) * 0.7).sin());
        assert_eq!(ripple.filter(|&e| d.process(e, true)).count(), 0);
    }

    #[test]
    fn survives_non_finite_input() {
        let mut d = SyllableDetector::new(2.0, 8);
        for e in [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -30.0] {
            d.process(e, true);
        }
    }
}
