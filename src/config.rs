//! Analysis configuration: a raw, serde-friendly form and a validated, typed form.
//!
//! [`RawConfig`] is what a user writes (milliseconds and hertz as plain numbers, every field
//! optional). [`AnalysisConfig::try_from`] checks it and turns it into typed values
//! ([`Duration`]s, not integers of milliseconds). Errors name the offending field. Stages take
//! the typed form and allocate everything they need in their constructors.

use std::time::Duration;

use serde::Deserialize;

use crate::agitation::{AgitationConfig, AgitationModel};
use crate::conversation::ConversationConfig;
use crate::crosstalk::CrosstalkConfig;
use crate::error::ConfigError;
use crate::features::pitch::PitchConfig;
use crate::features::vad::VadConfig;

/// Analysis rates the pipeline runs at. Inputs at other rates are resampled to one of these.
pub const ANALYSIS_RATES: [u32; 2] = [8_000, 16_000];

/// The configuration as written by a user. Missing fields take the defaults of
/// [`AnalysisConfig::default`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// Frame hop in milliseconds (default 10).
    pub hop_ms: Option<f64>,
    /// Analysis window in milliseconds (default 40, long enough for two periods of 60 Hz).
    pub window_ms: Option<f64>,
    /// Analysis sample rate in Hz, 8000 or 16000 (default: 8000 for inputs at 8 kHz or
    /// below, 16000 otherwise).
    pub analysis_rate: Option<u32>,
    /// Pitch tracker settings.
    pub pitch: PitchConfig,
    /// Voice activity detector settings.
    pub vad: VadConfig,
    /// Crosstalk and echo compensation settings.
    pub crosstalk: CrosstalkConfig,
    /// Conversation-dynamics thresholds.
    pub conversation: ConversationConfig,
    /// Agitation and composure settings.
    pub agitation: AgitationConfig,
}

/// A validated analysis configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    hop: Duration,
    window: Duration,
    analysis_rate: Option<u32>,
    pitch: PitchConfig,
    vad: VadConfig,
    crosstalk: CrosstalkConfig,
    conversation: ConversationConfig,
    agitation: AgitationConfig,
    /// `None`: the built-in model (`models/agitation.json`).
    agitation_model: Option<AgitationModel>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            hop: Duration::from_millis(10),
            window: Duration::from_millis(40),
            analysis_rate: None,
            pitch: PitchConfig::default(),
            vad: VadConfig::default(),
            crosstalk: CrosstalkConfig::default(),
            conversation: ConversationConfig::default(),
            agitation: AgitationConfig::default(),
            agitation_model: None,
        }
    }
}

impl TryFrom<RawConfig> for AnalysisConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let defaults = AnalysisConfig::default();
        let hop = match raw.hop_ms {
            Some(ms) => duration_ms("hop_ms", ms)?,
            None => defaults.hop,
        };
        let window = match raw.window_ms {
            Some(ms) => duration_ms("window_ms", ms)?,
            None => defaults.window,
        };
        let config = AnalysisConfig {
            hop,
            window,
            analysis_rate: raw.analysis_rate,
            pitch: raw.pitch,
            vad: raw.vad,
            crosstalk: raw.crosstalk,
            conversation: raw.conversation,
            agitation: raw.agitation,
            agitation_model: None,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Checks that a setting lies in `[lo, hi]`; the error names `field` and says the range with
/// its `unit` (e.g. `" ms"`). Shared by every stage's configuration.
pub(crate) fn in_range(
    field: &'static str,
    value: f32,
    lo: f32,
    hi: f32,
    unit: &str,
) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value} must lie in [{lo}, {hi}]{unit}"),
        ))
    }
}

fn duration_ms(field: &'static str, ms: f64) -> Result<Duration, ConfigError> {
    if !ms.is_finite() || ms <= 0.0 || ms > 1000.0 {
        return Err(ConfigError::new(
            field,
            format!("{ms} ms is not a duration between 0 and 1000 ms"),
        ));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

impl AnalysisConfig {
    /// Sets the analysis rate (8000 or 16000 Hz); `None` picks one from the input rate.
    ///
    /// # Errors
    /// [`ConfigError`] naming `analysis_rate` for any other rate.
    pub fn with_analysis_rate(mut self, rate: Option<u32>) -> Result<Self, ConfigError> {
        self.analysis_rate = rate;
        self.validate()?;
        Ok(self)
    }

    /// Replaces the pitch settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the pitch field that is out of range.
    pub fn with_pitch(mut self, pitch: PitchConfig) -> Result<Self, ConfigError> {
        self.pitch = pitch;
        self.validate()?;
        Ok(self)
    }

    /// Replaces the voice activity settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the VAD field that is out of range.
    pub fn with_vad(mut self, vad: VadConfig) -> Result<Self, ConfigError> {
        self.vad = vad;
        self.validate()?;
        Ok(self)
    }

    /// Replaces the crosstalk settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the crosstalk field that is out of range.
    pub fn with_crosstalk(mut self, crosstalk: CrosstalkConfig) -> Result<Self, ConfigError> {
        self.crosstalk = crosstalk;
        self.validate()?;
        Ok(self)
    }

    /// Replaces the conversation thresholds.
    ///
    /// # Errors
    /// [`ConfigError`] naming the conversation field that is out of range.
    pub fn with_conversation(
        mut self,
        conversation: ConversationConfig,
    ) -> Result<Self, ConfigError> {
        self.conversation = conversation;
        self.validate()?;
        Ok(self)
    }

    /// Replaces the agitation and composure settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the agitation field that is out of range.
    pub fn with_agitation(mut self, agitation: AgitationConfig) -> Result<Self, ConfigError> {
        self.agitation = agitation;
        self.validate()?;
        Ok(self)
    }

    /// Uses `model` instead of the built-in agitation model.
    pub fn with_agitation_model(mut self, model: AgitationModel) -> Self {
        self.agitation_model = Some(model);
        self
    }

    /// Agitation and composure settings.
    pub fn agitation(&self) -> &AgitationConfig {
        &self.agitation
    }

    /// The agitation model set with [`AnalysisConfig::with_agitation_model`], if any.
    pub fn agitation_model(&self) -> Option<&AgitationModel> {
        self.agitation_model.as_ref()
    }

    /// Conversation-dynamics thresholds.
    pub fn conversation(&self) -> &ConversationConfig {
        &self.conversation
    }

    /// Frame hop (10 ms by default).
    pub fn hop(&self) -> Duration {
        self.hop
    }

    /// Analysis window length (40 ms by default).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Pitch tracker settings.
    pub fn pitch(&self) -> &PitchConfig {
        &self.pitch
    }

    /// Voice activity detector settings.
    pub fn vad(&self) -> &VadConfig {
        &self.vad
    }

    /// Crosstalk and echo compensation settings.
    pub fn crosstalk(&self) -> &CrosstalkConfig {
        &self.crosstalk
    }

    /// The analysis rate for an input at `input_rate` Hz: the configured one, or 8 kHz for
    /// telephone-rate inputs (≤ 8 kHz) and 16 kHz for everything else.
    pub fn analysis_rate_for(&self, input_rate: u32) -> u32 {
        self.analysis_rate
            .unwrap_or(if input_rate <= 8_000 { 8_000 } else { 16_000 })
    }

    /// The frame geometry in samples at `rate`.
    ///
    /// # Errors
    /// [`ConfigError`] when the hop or window is not a whole number of samples at `rate`.
    pub fn geometry(&self, rate: u32) -> Result<FrameGeometry, ConfigError> {
        let hop = samples_exact("hop_ms", self.hop, rate)?;
        let window = samples_exact("window_ms", self.window, rate)?;
        if window < hop || (window - hop) % 2 != 0 {
            return Err(ConfigError::new(
                "window_ms",
                format!(
                    "the window ({window} samples) must be at least the hop ({hop} samples) and \
                     exceed it by an even number of samples so that frames are centred"
                ),
            ));
        }
        Ok(FrameGeometry { rate, hop, window })
    }

    /// Checks every field.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(rate) = self.analysis_rate
            && !ANALYSIS_RATES.contains(&rate)
        {
            return Err(ConfigError::new(
                "analysis_rate",
                format!("{rate} Hz is not supported; use 8000 or 16000"),
            ));
        }
        for rate in ANALYSIS_RATES {
            self.geometry(rate)?;
        }
        self.pitch.validate()?;
        self.vad.validate()?;
        self.crosstalk.validate()?;
        self.conversation.validate()?;
        self.agitation.validate()?;
        let nyquist = 4_000.0;
        if self.pitch.max_hz >= nyquist {
            return Err(ConfigError::new(
                "pitch.max_hz",
                format!("must be below {nyquist} Hz"),
            ));
        }
        let min_window = Duration::from_secs_f64(2.0 / f64::from(self.pitch.min_hz));
        if self.window < min_window {
            return Err(ConfigError::new(
                "window_ms",
                format!(
                    "a {:.0} ms window cannot hold two periods of pitch.min_hz = {} Hz (needs {:.1} ms)",
                    self.window.as_secs_f64() * 1e3,
                    self.pitch.min_hz,
                    min_window.as_secs_f64() * 1e3
                ),
            ));
        }
        Ok(())
    }
}

fn samples_exact(field: &'static str, d: Duration, rate: u32) -> Result<usize, ConfigError> {
    let exact = d.as_secs_f64() * f64::from(rate);
    let n = exact.round();
    if (exact - n).abs() > 1e-6 || n < 1.0 {
        return Err(ConfigError::new(
            field,
            format!(
                "{} ms is not a whole number of samples at {rate} Hz",
                d.as_secs_f64() * 1e3
            ),
        ));
    }
    Ok(n as usize)
}

/// Hop and window in samples at one analysis rate.
///
/// Frame `i` is centred at `t = (i + 0.5) · hop / rate` seconds: its hop covers samples
/// `[i·hop, (i+1)·hop)` and its window the `window` samples centred on that hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameGeometry {
    /// Analysis sample rate in Hz.
    pub rate: u32,
    /// Samples per hop.
    pub hop: usize,
    /// Samples per analysis window.
    pub window: usize,
}

impl FrameGeometry {
    /// Samples of look-back (and look-ahead) the window has beyond the hop on each side.
    pub fn margin(&self) -> usize {
        (self.window - self.hop) / 2
    }

    /// The centre time in seconds of frame `index`.
    pub fn frame_time(&self, index: u64) -> f64 {
        (index as f64 + 0.5) * self.hop as f64 / f64::from(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_give_centred_frames() {
        let c = AnalysisConfig::default();
        c.validate().unwrap();
        let g = c.geometry(8_000).unwrap();
        assert_eq!((g.hop, g.window, g.margin()), (80, 320, 120));
        assert!((g.frame_time(0) - 0.005).abs() < 1e-12);
        assert_eq!(c.analysis_rate_for(8_000), 8_000);
        assert_eq!(c.analysis_rate_for(44_100), 16_000);
    }

    #[test]
    fn raw_errors_name_the_field() {
        let raw: RawConfig = serde_json::from_str(r#"{"hop_ms": 10.03}"#).unwrap();
        let err = AnalysisConfig::try_from(raw).unwrap_err();
        assert_eq!(err.field, "hop_ms");
        let raw: RawConfig = serde_json::from_str(r#"{"analysis_rate": 11025}"#).unwrap();
        assert_eq!(
            AnalysisConfig::try_from(raw).unwrap_err().field,
            "analysis_rate"
        );
        let raw: RawConfig = serde_json::from_str(r#"{"window_ms": 20}"#).unwrap();
        assert_eq!(
            AnalysisConfig::try_from(raw).unwrap_err().field,
            "window_ms"
        );
        assert!(serde_json::from_str::<RawConfig>(r#"{"hopms": 10}"#).is_err());
    }
}
