//! Prosodic statistics over a sliding window of one party's recent speech.
//!
//! The window holds the last `capacity` frames of *speech* (silence and the other party's turns
//! do not push speech out of it), so its statistics describe how this person has sounded over
//! their last few seconds of talking. Running sums make each frame O(1); they are recomputed
//! from the stored frames every `capacity` frames so floating-point drift cannot build up over
//! a long call. Every buffer is allocated in [`ProsodyWindow::new`].

/// One speech frame as the window keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeechFrame {
    /// F0 in semitones relative to 100 Hz, when voiced.
    pub pitch_st: Option<f32>,
    /// RMS level of the frame in dBFS.
    pub level_db: f32,
    /// Spectral tilt of the frame in dB (see [`super::tilt_db`]), when voiced.
    pub tilt_db: Option<f32>,
    /// A syllable nucleus was confirmed in this frame.
    pub syllable: bool,
}

/// Prosodic statistics of the window's speech.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowStats {
    /// Seconds of speech in the window.
    pub speech_s: f32,
    /// Share of the speech frames that are voiced, in [0, 1].
    pub voiced_fraction: f32,
    /// Mean F0 in semitones re 100 Hz over voiced frames (`None` with too few voiced frames).
    pub pitch_st: Option<f32>,
    /// Standard deviation of F0 in semitones over voiced frames.
    pub pitch_sd_st: Option<f32>,
    /// Mean frame level in dBFS.
    pub level_db: f32,
    /// Standard deviation of the frame level in dB.
    pub level_sd_db: f32,
    /// Mean spectral tilt over voiced frames, in dB.
    pub tilt_db: Option<f32>,
    /// Syllable nuclei per second of speech.
    pub rate_syl_s: f32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: u32,
    voiced: u32,
    st: f64,
    st2: f64,
    level: f64,
    level2: f64,
    tilt: f64,
    tilt_n: u32,
    syllables: u32,
}

impl Sums {
    fn add(&mut self, f: &SpeechFrame, sign: f64) {
        let one = |c: &mut u32| {
            if sign > 0.0 {
                *c += 1;
            } else {
                *c = c.saturating_sub(1);
            }
        };
        one(&mut self.n);
        let l = f64::from(f.level_db);
        self.level += sign * l;
        self.level2 += sign * l * l;
        if let Some(st) = f.pitch_st {
            one(&mut self.voiced);
            let st = f64::from(st);
            self.st += sign * st;
            self.st2 += sign * st * st;
        }
        if let Some(t) = f.tilt_db {
            one(&mut self.tilt_n);
            self.tilt += sign * f64::from(t);
        }
        if f.syllable {
            one(&mut self.syllables);
        }
    }
}

/// A sliding window over the last speech frames of one party.
#[derive(Debug, Clone)]
pub struct ProsodyWindow {
    frames: Vec<SpeechFrame>,
    head: usize,
    len: usize,
    sums: Sums,
    since_resum: usize,
    hop_s: f32,
    min_voiced: u32,
}

impl ProsodyWindow {
    /// A window of `capacity` speech frames, `hop_s` seconds each; pitch statistics need at
    /// least `min_voiced` voiced frames.
    pub fn new(capacity: usize, hop_s: f32, min_voiced: u32) -> Self {
        let capacity = capacity.max(1);
        Self {
            frames: vec![SpeechFrame::default(); capacity],
            head: 0,
            len: 0,
            sums: Sums::default(),
            since_resum: 0,
            hop_s,
            min_voiced,
        }
    }

    /// Forgets every frame.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.sums = Sums::default();
        self.since_resum = 0;
    }

    /// Speech frames held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window holds no speech.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one speech frame, pushing out the oldest when full.
    pub fn push(&mut self, f: SpeechFrame) {
        let cap = self.frames.len();
        if self.len == cap {
            let old = self.frames[self.head];
            self.sums.add(&old, -1.0);
        } else {
            self.len += 1;
        }
        self.frames[self.head] = f;
        self.head = (self.head + 1) % cap;
        self.sums.add(&f, 1.0);
        self.since_resum += 1;
        if self.since_resum >= cap {
            self.resum();
        }
    }

    fn resum(&mut self) {
        let mut s = Sums::default();
        let cap = self.frames.len();
        for i in 0..self.len {
            let idx = (self.head + cap - self.len + i) % cap;
            s.add(&self.frames[idx], 1.0);
        }
        self.sums = s;
        self.since_resum = 0;
    }

    /// The statistics of the speech in the window.
    pub fn stats(&self) -> WindowStats {
        let s = &self.sums;
        if s.n == 0 {
            return WindowStats::default();
        }
        let n = f64::from(s.n);
        let sd = |sum: f64, sum2: f64, n: f64| ((sum2 / n - (sum / n).powi(2)).max(0.0)).sqrt();
        let voiced = f64::from(s.voiced);
        let pitch = s.voiced >= self.min_voiced.max(1);
        let speech_s = s.n as f32 * self.hop_s;
        WindowStats {
            speech_s,
            voiced_fraction: (voiced / n) as f32,
            pitch_st: pitch.then(|| (s.st / voiced) as f32),
            pitch_sd_st: pitch.then(|| sd(s.st, s.st2, voiced) as f32),
            level_db: (s.level / n) as f32,
            level_sd_db: sd(s.level, s.level2, n) as f32,
            tilt_db: (s.tilt_n >= self.min_voiced.max(1))
                .then(|| (s.tilt / f64::from(s.tilt_n)) as f32),
            rate_syl_s: s.syllables as f32 / speech_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(st: Option<f32>, level: f32, syllable: bool) -> SpeechFrame {
        SpeechFrame {
            pitch_st: st,
            level_db: level,
            tilt_db: st.map(|_| -10.0),
            syllable,
        }
    }

    #[test]
    fn statistics_of_the_last_frames_only() {
        let mut w = ProsodyWindow::new(100, 0.01, 10);
        for i in 0..100 {
            w.push(frame(Some(0.0), -40.0, i % 50 == 0));
        }
        for i in 0..100 {
            w.push(frame(
                Some(if i % 2 == 0 { 11.0 } else { 13.0 }),
                -20.0,
                i % 25 == 0,
            ));
        }
        let s = w.stats();
        assert!((s.pitch_st.unwrap_or(0.0) - 12.0).abs() < 1e-4);
        assert!((s.pitch_sd_st.unwrap_or(0.0) - 1.0).abs() < 1e-3);
        assert!((s.level_db + 20.0).abs() < 1e-4);
        assert!(s.level_sd_db < 1e-3);
        assert!((s.rate_syl_s - 4.0).abs() < 1e-4);
        assert!((s.speech_s - 1.0).abs() < 1e-6);
        assert_eq!(s.voiced_fraction, 1.0);
    }

    #[test]
    fn pitch_needs_enough_voiced_frames() {
        let mut w = ProsodyWindow::new(100, 0.01, 10);
        for i in 0..50 {
            w.push(frame((i < 5).then_some(3.0), -30.0, false));
        }
        let s = w.stats();
        assert_eq!(s.pitch_st, None);
        assert_eq!(s.tilt_db, None);
        assert!((s.voiced_fraction - 0.1).abs() < 1e-6);
    }

    #[test]
    fn long_runs_do_not_drift() {
        let mut w = ProsodyWindow::new(50, 0.01, 1);
        for i in 0..1_000_000u32 {
            w.push(frame(
                Some((i % 7) as f32 * 1e3),
                -30.0 + (i % 3) as f32,
                false,
            ));
        }
        let s = w.stats();
        let expect: f32 = (0..50u32)
            .map(|k| ((1_000_000 - 50 + k) % 7) as f32 * 1e3)
            .sum::<f32>()
            / 50.0;
        assert!((s.pitch_st.unwrap_or(0.0) - expect).abs() < 1e-2);
    }
}
