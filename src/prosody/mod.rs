//! Prosody of one party: how they sound over their last seconds of speech, relative to how
//! they sounded when the call began.
//!
//! Every frame of a party passes through [`PartyProsody::process`]:
//! 1. [`syllables`] finds syllable nuclei in the loudness envelope (speaking rate);
//! 2. [`window`] keeps the last few seconds of that party's speech and its statistics;
//! 3. [`baseline`] forms the speaker's own baseline from their first ~20 s of speech;
//! 4. [`PartyProsody::relative`] gives the window's features minus the baseline, the input of
//!    the agitation model and of the composure rules ([`crate::agitation`]). For the caller the
//!    window is cut at turn starts (a pause of `turn_pause_frames`): a turn is scored on its
//!    own speech, not averaged with the end of the turn before.
//!
//! The features and their sources (eGeMAPS: F. Eyben et al., "The Geneva Minimalistic Acoustic
//! Parameter Set (GeMAPS) for Voice Research and Affective Computing", IEEE Trans. Affective
//! Computing 7(2), 2016), each oriented so that arousal raises it:
//!
//! | name | what | source |
//! |---|---|---|
//! | `pitch_st` | mean F0 of voiced frames, semitones (re 100 Hz, then re baseline) | eGeMAPS `F0semitoneFrom27.5Hz` mean |
//! | `pitch_sd_st` | standard deviation of that F0 in semitones: pitch range/variability | eGeMAPS F0 `stddevNorm`, pitch range |
//! | `level_db` | mean frame RMS level in dB | eGeMAPS loudness mean |
//! | `level_sd_db` | standard deviation of the frame level in dB: dynamics | eGeMAPS loudness `stddevNorm` |
//! | `rate_syl_s` | syllable nuclei per second of speech | eGeMAPS `loudnessPeaksPerSec`; de Jong & Wempe 2009 |
//! | `tilt_db` | energy 1500–3400 Hz over 300–1500 Hz in dB, voiced frames | eGeMAPS alpha ratio (50–1000 vs 1000–5000 Hz), moved into the telephone band |
//! | `voiced_fraction` | share of speech frames that are voiced | eGeMAPS voiced-segment statistics (`VoicedSegmentsPerSec`, mean length) |
//!
//! The alpha ratio is taken within 300–3400 Hz so that a telephone channel measures the same
//! thing as a wideband one; the Hammarberg index (peak 0–2 kHz vs 2–5 kHz) needs energy above
//! the telephone band and is left out.
//!
//! **Blips.** Syllables count only in talk spurts of at least [`MIN_SPURT_FRAMES`] (80 ms):
//! what passes the VAD for a frame or two is mostly leakage or noise, and a syllable peak in a
//! two-frame "spurt" would make the speaking rate jump (measured: calm agents on telephone calls
//! with −25 dB far-end leakage read 50 % faster without this rule).
//!
//! **Music and tones.** Hold music is periodic and loud and can pass a VAD. Speech pauses; music
//! does not: frames of a speech run longer than `music_run_s` without a pause are kept out of the
//! window and the baseline (the first `music_run_s` of such a run still count).
//!
//! Everything is allocated in [`PartyProsody::new`]; processing a frame does not allocate.

pub mod baseline;
pub mod syllables;
pub mod window;

use crate::features::PartyFeatures;
use baseline::{Baseline, BaselineSettings};
use syllables::SyllableDetector;
use window::{ProsodyWindow, SpeechFrame, WindowStats};

/// Active frames a talk spurt needs before its syllables count (80 ms at a 10 ms hop).
pub const MIN_SPURT_FRAMES: usize = 8;

/// Number of prosodic features.
pub const FEATURES: usize = 7;

/// The features' names, in the order of every feature vector (and of the model file).
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "pitch_st",
    "pitch_sd_st",
    "level_db",
    "level_sd_db",
    "rate_syl_s",
    "tilt_db",
    "voiced_fraction",
];

/// A feature vector in the order of [`FEATURE_NAMES`]; `None` where the speech gives no value
/// (no voiced frames: no pitch, no tilt).
pub type Features = [Option<f32>; FEATURES];

/// F0 in semitones relative to 100 Hz.
pub fn semitones(f0_hz: f32) -> f32 {
    12.0 * (f0_hz / 100.0).log2()
}

/// Spectral tilt of a frame from its band powers ([`crate::features::vad::BAND_EDGES_HZ`]):
/// energy in 1500–3400 Hz over 300–1500 Hz, in dB; `None` for a silent frame.
pub fn tilt_db(band_power: &[f32; crate::features::vad::BANDS]) -> Option<f32> {
    let low = band_power[1] + band_power[2];
    let high = band_power[3];
    (low > 1e-12 && high > 0.0 && high.is_finite() && low.is_finite())
        .then(|| 10.0 * (high / low).log10())
}

/// The features of a window's statistics.
pub fn features(s: &WindowStats) -> Features {
    [
        s.pitch_st,
        s.pitch_sd_st,
        Some(s.level_db),
        Some(s.level_sd_db),
        Some(s.rate_syl_s),
        s.tilt_db,
        Some(s.voiced_fraction),
    ]
}

/// Settings of a party's prosody tracking, in frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProsodySettings {
    /// Speech frames in the sliding window.
    pub window_frames: usize,
    /// Speech frames the window needs before its features count.
    pub min_window_frames: usize,
    /// Voiced frames the window needs for pitch and tilt.
    pub min_voiced_frames: u32,
    /// Dip on both sides of a syllable nucleus, dB.
    pub syllable_prominence_db: f32,
    /// Least distance between syllable nuclei, frames.
    pub syllable_gap_frames: u32,
    /// Continuous speech beyond this many frames is treated as music or tones.
    pub music_run_frames: u32,
    /// A pause of the party's own of at least this many frames starts a new turn, and
    /// [`PartyProsody::relative`] then describes the current turn alone (0: one window sliding
    /// across turns).
    pub turn_pause_frames: u32,
    /// Baseline formation and adaptation.
    pub baseline: BaselineSettings,
    /// Frame hop in seconds.
    pub hop_s: f32,
}

/// Prosody tracking of one party.
#[derive(Debug, Clone)]
pub struct PartyProsody {
    settings: ProsodySettings,
    syllables: SyllableDetector,
    window: ProsodyWindow,
    baseline: Baseline,
    pending_syllables: u32,
    /// Active frames in the current talk spurt so far.
    spurt_len: usize,
    since_snapshot: usize,
    /// Speech frames between baseline snapshots.
    snapshot_frames: usize,
    run: u32,
    frames_since_music: u32,
    /// The current turn's speech (used when `turn_pause_frames` > 0).
    turn: ProsodyWindow,
    /// Frames since this party's last speech frame.
    pause_frames: u32,
}

impl PartyProsody {
    /// Builds the tracker (allocates the window).
    pub fn new(settings: ProsodySettings) -> Self {
        Self {
            syllables: SyllableDetector::new(
                settings.syllable_prominence_db,
                settings.syllable_gap_frames,
            ),
            window: ProsodyWindow::new(
                settings.window_frames,
                settings.hop_s,
                settings.min_voiced_frames,
            ),
            baseline: Baseline::new(settings.baseline),
            pending_syllables: 0,
            spurt_len: 0,
            since_snapshot: 0,
            snapshot_frames: ((settings.baseline.snapshot_s / settings.hop_s).round() as usize)
                .max(1),
            run: 0,
            frames_since_music: u32::MAX,
            turn: ProsodyWindow::new(
                settings.window_frames,
                settings.hop_s,
                settings.min_voiced_frames,
            ),
            pause_frames: u32::MAX,
            settings,
        }
    }

    /// Feeds one frame of this party. `adapt` allows the baseline to adapt at a snapshot due in
    /// this frame (pass `false` while the party is judged agitated). Returns `true` when the
    /// frame was speech and entered the window.
    pub fn process(&mut self, f: &PartyFeatures, adapt: bool) -> bool {
        if !f.active || f.gap {
            self.pause_frames = self.pause_frames.saturating_add(1);
        }
        if f.gap {
            self.syllables.reset();
            self.pending_syllables = 0;
            self.run = 0;
            self.spurt_len = 0;
            return false;
        }
        let voiced_speech = f.active && f.f0_hz.is_some();
        if self.syllables.process(f.loudness_db, voiced_speech) {
            self.pending_syllables += 1;
        }
        if !f.speech {
            self.run = 0;
        } else {
            self.run = self.run.saturating_add(1);
        }
        if self.run > self.settings.music_run_frames {
            self.frames_since_music = 0;
            self.pending_syllables = 0;
            self.spurt_len = 0;
            return false;
        }
        self.frames_since_music = self.frames_since_music.saturating_add(1);
        if !f.active {
            // The syllables of a spurt shorter than MIN_SPURT_FRAMES are dropped: blips of
            // leakage or noise that pass the VAD for a frame or two would otherwise carry a
            // syllable peak each and make the speaking rate jump.
            self.spurt_len = 0;
            self.pending_syllables = 0;
            return false;
        }
        self.spurt_len = self.spurt_len.saturating_add(1);
        let syllable = self.spurt_len >= MIN_SPURT_FRAMES && self.pending_syllables > 0;
        if syllable {
            self.pending_syllables -= 1;
        }
        let pitch_st = f
            .f0_hz
            .filter(|f0| f0.is_finite() && *f0 > 0.0)
            .map(semitones);
        let frame = SpeechFrame {
            pitch_st,
            level_db: if f.loudness_db.is_finite() {
                f.loudness_db.max(-120.0)
            } else {
                -120.0
            },
            tilt_db: pitch_st.and(tilt_db(&f.band_power)),
            syllable,
        };
        self.push(frame, adapt);
        true
    }

    fn push(&mut self, frame: SpeechFrame, adapt: bool) {
        let turns = self.settings.turn_pause_frames;
        if turns > 0 {
            if self.pause_frames >= turns {
                self.turn.clear();
            }
            self.turn.push(frame);
        }
        self.pause_frames = 0;
        self.window.push(frame);
        self.since_snapshot += 1;
        // Snapshots of a full window only: a half-filled window is noisier, and a low quantile of
        // noisy values would sit too low.
        if self.since_snapshot >= self.snapshot_frames
            && self.window.len() >= self.settings.window_frames
        {
            self.since_snapshot = 0;
            let fv = features(&self.window.stats());
            self.baseline.observe(&fv, adapt);
        }
    }

    /// The window's statistics.
    pub fn stats(&self) -> WindowStats {
        self.window.stats()
    }

    /// The window's features, once it holds enough speech.
    pub fn features(&self) -> Option<Features> {
        (self.window.len() >= self.settings.min_window_frames)
            .then(|| features(&self.window.stats()))
    }

    /// The features relative to the baseline, once both exist: of the current turn's last
    /// window of speech when turns are tracked (`turn_pause_frames` > 0, once the turn holds
    /// `min_window_frames` of speech), otherwise of the sliding window.
    pub fn relative(&self) -> Option<[f32; FEATURES]> {
        if self.settings.turn_pause_frames > 0 {
            return (self.baseline.ready() && self.turn.len() >= self.settings.min_window_frames)
                .then(|| self.baseline.relative(&features(&self.turn.stats())));
        }
        self.relative_of(&self.window.stats())
    }

    /// As [`PartyProsody::relative`], for statistics `stats` the caller already took from
    /// [`PartyProsody::stats`] in this frame.
    pub fn relative_of(&self, stats: &WindowStats) -> Option<[f32; FEATURES]> {
        (self.baseline.ready() && self.window.len() >= self.settings.min_window_frames)
            .then(|| self.baseline.relative(&features(stats)))
    }

    /// The speaker's baseline.
    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// Seconds since music-like continuous sound was last heard on this channel (`None` if
    /// never).
    pub fn since_music_s(&self) -> Option<f32> {
        (self.frames_since_music != u32::MAX)
            .then_some(self.frames_since_music as f32 * self.settings.hop_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agitation::AgitationConfig;

    fn frame(f0_hz: Option<f32>) -> PartyFeatures {
        PartyFeatures {
            speech: f0_hz.is_some(),
            active: f0_hz.is_some(),
            extent: f0_hz.is_some(),
            f0_hz,
            voicing: if f0_hz.is_some() { 0.9 } else { 0.0 },
            loudness_db: if f0_hz.is_some() { -20.0 } else { -70.0 },
            ..PartyFeatures::default()
        }
    }

    /// A tracker with `turn_pause_s` that has heard 30 s of calm talk at 100 Hz in 2 s spurts
    /// (a baseline).
    fn calm(turn_pause_s: f32) -> PartyProsody {
        let config = AgitationConfig {
            turn_pause_s,
            ..AgitationConfig::default()
        };
        let mut p = PartyProsody::new(config.prosody(0.01));
        for i in 0..3000 {
            p.process(&frame((i % 230 < 200).then_some(100.0)), true);
        }
        p
    }

    /// `pause_s` of silence, then `turn_s` of speech at 200 Hz (12 semitones up).
    fn then(mut p: PartyProsody, pause_s: f32, turn_s: f32) -> PartyProsody {
        let frames = |s: f32| (s * 100.0).round() as usize;
        for _ in 0..frames(pause_s) {
            p.process(&frame(None), true);
        }
        for _ in 0..frames(turn_s) {
            p.process(&frame(Some(200.0)), true);
        }
        p
    }

    /// Calm talk, a 2 s pause, then `turn_s` at 200 Hz.
    fn call(turn_pause_s: f32, turn_s: f32) -> PartyProsody {
        then(calm(turn_pause_s), 2.0, turn_s)
    }

    #[test]
    fn a_new_turn_is_scored_on_its_own() {
        // Too little of the new turn yet: no features (the score of the last turn is held).
        assert_eq!(call(1.0, 0.4).relative(), None);
        let turn = call(1.0, 0.6).relative().expect("baseline and turn");
        assert!((turn[0] - 12.0).abs() < 0.1, "{turn:?}");
        // One window sliding across turns mixes in the calm end of the turn before.
        let sliding = call(0.0, 0.6).relative().expect("baseline and window");
        assert!((sliding[0] - 12.0 * 0.6 / 1.5).abs() < 0.1, "{sliding:?}");
    }

    #[test]
    fn a_pause_shorter_than_the_turn_pause_keeps_the_turn() {
        // 0.5 s pause (< 1 s): the turn goes on, so its window still holds calm speech.
        let p = then(calm(1.0), 0.5, 0.6);
        let x = p.relative().expect("features");
        assert!(x[0] > 1.0 && x[0] < 11.0, "{x:?}");
    }
}
