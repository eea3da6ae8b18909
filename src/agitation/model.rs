//! The agitation model: a logistic regression over baseline-relative prosodic features, kept
//! as a versioned JSON text file in `models/` (format documented in `models/MODEL.md`).
//!
//! ```json
//! {
//!   "format": "callpulse-agitation-model",
//!   "version": 1,
//!   "features": ["pitch_st", "pitch_sd_st", "level_db", "level_sd_db",
//!                "rate_syl_s", "tilt_db", "voiced_fraction"],
//!   "mean": [...], "scale": [...], "weights": [...], "intercept": -0.4,
//!   "thresholds": {"warn": 0.7, "critical": 0.9, "release": 0.4},
//!   "training": { ... free-form provenance and metrics ... }
//! }
//! ```
//!
//! The score of a feature vector `x` is `σ(b + Σ wₖ (xₖ − meanₖ) / scaleₖ)`, in [0, 1].
//! [`AgitationModel::parse`] checks everything (format, version, the feature list in order,
//! finite numbers, positive scales, ordered thresholds) and names what is wrong; a broken model
//! is an [`Error::Model`], never a panic.

use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::prosody::{FEATURE_NAMES, FEATURES};

/// The `format` value of a model file.
pub const FORMAT: &str = "callpulse-agitation-model";

/// The model file version this build reads.
pub const VERSION: u32 = 1;

/// The model shipped in `models/agitation.json`, compiled in.
pub const BUILTIN: &str = include_str!("../../models/agitation.json");

/// Score thresholds of the caller agitation alert.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Sustained score above this raises a `warn`.
    pub warn: f32,
    /// Sustained score above this raises a `critical`.
    pub critical: f32,
    /// The score must fall below this before a new rise can alert (hysteresis).
    pub release: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    format: String,
    version: u32,
    features: Vec<String>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    weights: Vec<f64>,
    intercept: f64,
    thresholds: Thresholds,
    #[serde(default)]
    #[allow(dead_code)]
    training: serde_json::Value,
}

/// A logistic regression on standardised features:
/// `σ(intercept + Σ weightsₖ (xₖ − meanₖ) / scaleₖ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    /// Mean of each feature in the training data.
    pub mean: [f32; FEATURES],
    /// Standard deviation of each feature in the training data.
    pub scale: [f32; FEATURES],
    /// Weight of each standardised feature.
    pub weights: [f32; FEATURES],
    /// Intercept.
    pub intercept: f32,
}

impl Linear {
    /// The score of baseline-relative features, in [0, 1].
    pub fn score(&self, x: &[f32; FEATURES]) -> f32 {
        let z = (0..FEATURES).fold(self.intercept, |z, k| {
            z + self.weights[k] * (x[k] - self.mean[k]) / self.scale[k]
        });
        sigmoid(z)
    }
}

/// A validated agitation model. `Copy`: the stage holds it by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgitationModel {
    /// The coefficients.
    pub linear: Linear,
    /// Alert thresholds on the score.
    pub thresholds: Thresholds,
}

impl AgitationModel {
    /// The compiled-in model (`models/agitation.json`).
    ///
    /// # Errors
    /// [`Error::Model`] if the shipped file is broken (a test keeps it valid).
    pub fn builtin() -> Result<Self, Error> {
        Self::parse(BUILTIN, "built-in")
    }

    /// Reads and validates a model file.
    ///
    /// # Errors
    /// [`Error::Model`] naming the path and the problem.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Model {
            origin: origin.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses and validates the text of a model file; `origin` names it in errors.
    ///
    /// # Errors
    /// [`Error::Model`] naming what is wrong.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let bad = |message: String| Error::Model {
            origin: origin.to_string(),
            message,
        };
        let raw: RawModel =
            serde_json::from_str(text).map_err(|e| bad(format!("not a valid model file: {e}")))?;
        if raw.format != FORMAT {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT:?}",
                raw.format
            )));
        }
        if raw.version != VERSION {
            return Err(bad(format!(
                "version {} is not supported (this build reads version {VERSION})",
                raw.version
            )));
        }
        if raw.features != FEATURE_NAMES {
            return Err(bad(format!(
                "features must be exactly {FEATURE_NAMES:?} in this order, found {:?}",
                raw.features
            )));
        }
        let array = |name: &str, v: &[f64], positive: bool| -> Result<[f32; FEATURES], Error> {
            if v.len() != FEATURES {
                return Err(bad(format!(
                    "{name} has {} values, expected {FEATURES}",
                    v.len()
                )));
            }
            let mut out = [0.0; FEATURES];
            for (k, (o, &x)) in out.iter_mut().zip(v).enumerate() {
                if !x.is_finite() || x.abs() > 1e6 || (positive && x <= 1e-9) {
                    return Err(bad(format!(
                        "{name}[{k}] ({}) = {x} is not {}",
                        FEATURE_NAMES[k],
                        if positive {
                            "a positive finite number"
                        } else {
                            "a finite number"
                        }
                    )));
                }
                *o = x as f32;
            }
            Ok(out)
        };
        let mean = array("mean", &raw.mean, false)?;
        let scale = array("scale", &raw.scale, true)?;
        let weights = array("weights", &raw.weights, false)?;
        if !raw.intercept.is_finite() || raw.intercept.abs() > 1e6 {
            return Err(bad(format!("intercept {} is not finite", raw.intercept)));
        }
        let t = raw.thresholds;
        let unit = |x: f32| x.is_finite() && (0.0..=1.0).contains(&x);
        let ordered = t.release < t.warn && t.warn <= t.critical;
        if !(unit(t.warn) && unit(t.critical) && unit(t.release) && ordered) {
            return Err(bad(format!(
                "thresholds must lie in [0, 1] with release < warn ≤ critical, found release {}, warn {}, critical {}",
                t.release, t.warn, t.critical
            )));
        }
        Ok(Self {
            linear: Linear {
                mean,
                scale,
                weights,
                intercept: raw.intercept as f32,
            },
            thresholds: t,
        })
    }

    /// The score of baseline-relative features, in [0, 1].
    pub fn score(&self, x: &[f32; FEATURES]) -> f32 {
        self.linear.score(x)
    }
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z.clamp(-60.0, 60.0)).exp())
}
