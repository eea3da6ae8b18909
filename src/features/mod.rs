//! Per-frame measurements of one party: spectrum, pitch, loudness and voice activity.
//!
//! [`FeatureExtractor`] chains the stages for one party's frames. It is built once per party
//! ([`FeatureExtractor::new`] plans the FFTs and allocates every buffer) and then turns each
//! [`Frame`] into a [`PartyFeatures`] without allocating.

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
use vad::{BANDS, Vad, VadInput, band_powers};

/// What one party sounds like in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PartyFeatures {
    /// Voice activity decision.
    pub speech: bool,
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
}

/// The feature stages of one party.
#[derive(Debug)]
pub struct FeatureExtractor {
    spectrum: Spectrum,
    pitch: PitchTracker,
    momentary: MomentaryLoudness,
    vad: Vad,
}

impl FeatureExtractor {
    /// Builds every stage for frames of `geometry`.
    ///
    /// # Errors
    /// [`ConfigError`] when a stage rejects the configuration.
    pub fn new(config: &AnalysisConfig, geometry: FrameGeometry) -> Result<Self, ConfigError> {
        let hop_s = geometry.hop as f32 / geometry.rate as f32;
        let pitch = PitchTracker::new(config.pitch(), geometry)?;
        Ok(Self {
            spectrum: Spectrum::new(geometry.window, geometry.rate, pitch.max_lag()),
            pitch,
            momentary: MomentaryLoudness::new(geometry.rate, geometry.hop),
            vad: Vad::new(config.vad(), hop_s)?,
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
        let speech = self.vad.process(&VadInput {
            level_db: loudness_db,
            clarity: pitch.clarity,
            band_power,
            gap: frame.gap,
        });
        PartyFeatures {
            speech,
            f0_hz: if frame.gap { None } else { pitch.f0_hz },
            voicing: pitch.clarity,
            loudness_db,
            lufs_m,
            gap: frame.gap,
        }
    }
}
