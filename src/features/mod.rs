//! Per-frame measurements of one party: spectrum, pitch, loudness and the band powers voice
//! activity is decided from.
//!
//! [`FeatureExtractor`] chains the stages for one party's frames. It is built once per party
//! ([`FeatureExtractor::new`] plans the FFTs and allocates every buffer) and then turns each
//! [`Frame`] into a [`PartyFeatures`] without allocating. The voice activity decision itself
//! ([`vad`]) is taken later, per call, once both parties' frames are aligned: the far end leaks
//! into the near channel, so the decision compares both channels ([`crate::crosstalk`]).

pub mod loudness;
pub mod pitch;
pub mod spectrum;
pub mod vad;

use serde::Serialize;

use crate::config::{AnalysisConfig, FrameGeometry};
use crate::error::ConfigError;
use crate::frames::Frame;
use loudness::MomentaryLoudness;
use pitch::PitchTracker;
use spectrum::Spectrum;
use vad::{BANDS, band_powers};

/// What one party sounds like in one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PartyFeatures {
    /// Voice activity decision (taken by the call, see [`crate::call`]; `false` until then).
    pub speech: bool,
    /// Speech that is not only held by the VAD's hangover: a talk spurt ends at its last
    /// active frame (decided with `speech`).
    #[serde(skip)]
    pub active: bool,
    /// Inside the utterance's extent: active, or a soft ending held by the hangover that still
    /// carries the talker's voice ([`vad::Vad::extent`]; decided with `speech`).
    #[serde(skip)]
    pub extent: bool,
    /// On the frame where speech starts, how many frames before it belong to the utterance
    /// ([`vad::Vad::onset_lead`]); 0 otherwise.
    #[serde(skip)]
    pub onset_lead: u32,
    /// F0 in Hz, `None` when unvoiced.
    pub f0_hz: Option<f32>,
    /// Periodicity (pitch clarity) in [0, 1].
    pub voicing: f32,
    /// RMS level of the frame's hop in dBFS.
    pub loudness_db: f32,
    /// K-weighted momentary loudness (400 ms) in LUFS.
    pub lufs_m: f32,
    /// The frame lies in a gap of the input.
    pub gap: bool,
    /// The caller's agitation score in [0, 1] (set by [`crate::agitation`] on the caller's
    /// frames once a baseline exists; `None` otherwise).
    pub agitation: Option<f32>,
    /// Mean-square power of the analysis window per band of [`vad::BAND_EDGES_HZ`] (NaN for a
    /// band above Nyquist), before any crosstalk compensation.
    #[serde(skip)]
    pub band_power: [f32; BANDS],
}

/// The feature stages of one party.
///
/// The pitch tracker may decide a frame only after it has seen a few more
/// ([`pitch::PitchConfig::lookahead_frames`]): the extractor then holds each frame's other
/// features in a fixed ring until its pitch comes out, so [`FeatureExtractor::process`]
/// returns the features of an earlier frame (in order, one per call once the ring is full)
/// and [`FeatureExtractor::flush`] the last ones at the end of the stream.
#[derive(Debug)]
pub struct FeatureExtractor {
    spectrum: Spectrum,
    pitch: PitchTracker,
    momentary: MomentaryLoudness,
    /// Frames waiting for their pitch: a ring of `latency + 1` slots.
    pending: Vec<PartyFeatures>,
    /// The newest `hop` samples of each waiting frame's window, slot by slot with `pending`
    /// (the call compares the two channels' waveforms over them, see [`crate::crosstalk`]).
    tails: Vec<f32>,
    hop: usize,
    head: usize,
    len: usize,
}

impl FeatureExtractor {
    /// Builds every stage for frames of `geometry`.
    ///
    /// # Errors
    /// [`ConfigError`] when a stage rejects the configuration.
    pub fn new(config: &AnalysisConfig, geometry: FrameGeometry) -> Result<Self, ConfigError> {
        let pitch = PitchTracker::new(config.pitch(), geometry)?;
        let empty = PartyFeatures::default();
        let slots = pitch.latency_frames() + 1;
        Ok(Self {
            tails: vec![0.0; slots * geometry.hop],
            hop: geometry.hop,
            spectrum: Spectrum::new(geometry.window, geometry.rate, pitch.max_lag()),
            pending: vec![empty; pitch.latency_frames() + 1],
            head: 0,
            len: 0,
            pitch,
            momentary: MomentaryLoudness::new(geometry.rate, geometry.hop),
        })
    }

    /// Frames between a frame passed in and its features coming out (the pitch tracker's
    /// look-ahead).
    pub fn latency_frames(&self) -> usize {
        self.pending.len() - 1
    }

    /// Measures one frame; returns the features of the frame [`Self::latency_frames`] frames
    /// before it, once there is one, with the newest `hop` samples of that frame's window.
    pub fn process(&mut self, frame: &Frame<'_>) -> Option<(PartyFeatures, &[f32])> {
        let loudness_db = loudness::rms_db(frame.hop);
        let lufs_m = self.momentary.process(frame.hop);
        self.spectrum.process(frame.window);
        if frame.gap {
            // Samples are missing: nothing before the gap may carry over into the pitch track.
            self.pitch.reset();
        }
        let pitch = self.pitch.process(frame.window, &mut self.spectrum);
        let mut band_power = [0.0; BANDS];
        band_powers(
            self.spectrum.power(),
            self.spectrum.bin_hz(),
            frame.window.len(),
            &mut band_power,
        );
        let slot = (self.head + self.len) % self.pending.len();
        let tail = &frame.window[frame.window.len().saturating_sub(self.hop)..];
        let dest = &mut self.tails[slot * self.hop..(slot + 1) * self.hop];
        dest[..tail.len()].copy_from_slice(tail);
        self.pending[slot] = PartyFeatures {
            loudness_db,
            lufs_m,
            gap: frame.gap,
            band_power,
            ..PartyFeatures::default()
        };
        self.len += 1;
        pitch.map(|p| self.pop(p))
    }

    /// At the end of the stream: the features (and window tail) of the oldest frame still held
    /// back, `None` when none is left.
    pub fn flush(&mut self) -> Option<(PartyFeatures, &[f32])> {
        let p = self.pitch.flush()?;
        Some(self.pop(p))
    }

    fn pop(&mut self, pitch: pitch::PitchEstimate) -> (PartyFeatures, &[f32]) {
        let slot = self.head;
        let mut f = self.pending[slot];
        self.head = (self.head + 1) % self.pending.len();
        self.len -= 1;
        f.f0_hz = if f.gap { None } else { pitch.f0_hz };
        f.voicing = pitch.clarity;
        (f, &self.tails[slot * self.hop..(slot + 1) * self.hop])
    }
}
