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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PartyFeatures {
    /// Voice activity decision (taken by the call, see [`crate::call`]; `false` until then).
    pub speech: bool,
    /// Speech that is not only held by the VAD's hangover: a talk spurt ends at its last
    /// active frame (decided with `speech`).
    #[serde(skip)]
    pub active: bool,
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
#[derive(Debug)]
pub struct FeatureExtractor {
    spectrum: Spectrum,
    pitch: PitchTracker,
    momentary: MomentaryLoudness,
}

impl FeatureExtractor {
    /// Builds every stage for frames of `geometry`.
    ///
    /// # Errors
    /// [`ConfigError`] when a stage rejects the configuration.
    pub fn new(config: &AnalysisConfig, geometry: FrameGeometry) -> Result<Self, ConfigError> {
        let pitch = PitchTracker::new(config.pitch(), geometry)?;
        Ok(Self {
            spectrum: Spectrum::new(geometry.window, geometry.rate, pitch.max_lag()),
            pitch,
            momentary: MomentaryLoudness::new(geometry.rate, geometry.hop),
        })
    }

    /// Measures one frame.
    pub fn process(&mut self, frame: &Frame<'_>) -> PartyFeatures {
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
        PartyFeatures {
            speech: false,
            active: false,
            f0_hz: if frame.gap { None } else { pitch.f0_hz },
            voicing: pitch.clarity,
            loudness_db,
            lufs_m,
            gap: frame.gap,
            agitation: None,
            band_power,
        }
    }
}
