//! A speaker's own baseline of each prosodic feature, from their first seconds of speech.
//!
//! **Formation.** Every `snapshot_s` seconds of speech the party's window features are recorded,
//! until `baseline_s` seconds of speech (about 20 s, as DESIGN.md asks). The baseline of each
//! feature is a *low quantile* (`quantile`, default 0.25) of these snapshots rather than their
//! mean: every feature is oriented so that arousal raises it (higher and more variable pitch,
//! louder, faster, flatter spectrum, more voicing), so a low quantile anchors the baseline on the
//! speaker's calmer moments. A caller who starts already upset usually still has calmer
//! stretches in the first 20 s; they set the anchor. The baseline is usable from `min_s`
//! seconds of speech.
//!
//! **Adaptation.** After formation the baseline follows the same quantile slowly by stochastic
//! quantile tracking (each snapshot moves it up by `q·η` when the value lies above it and down
//! by `(1 − q)·η` when below, which settles at the `q`-quantile), with `η` set so that the
//! baseline moves one typical spread of the feature in `adapt_s` seconds of speech. The caller
//! of [`Baseline::observe`] stops adaptation while the speaker is judged agitated, so a long
//! angry stretch does not become the new normal; a speaker who started upset and calms down
//! pulls the anchor down three times faster than it rises.
//!
//! A speaker who is upset for the whole of the first 20 s and never calmer gets a high baseline,
//! and their agitation reads low until they calm down: the documented limit of a purely
//! relative design.
//!
//! Fixed memory: the snapshots live in arrays sized at compile time.

use super::{FEATURES, Features};

/// Snapshots kept while the baseline forms (20 s at 0.5 s needs 40).
pub const MAX_SNAPSHOTS: usize = 64;

/// A typical spread of each feature across calm speech, in its own unit, in the order of
/// [`super::FEATURE_NAMES`]; sets the adaptation step.
const SPREAD: [f32; FEATURES] = [2.0, 1.0, 4.0, 2.0, 1.0, 3.0, 0.1];

/// Baseline settings (typed; see [`crate::agitation::AgitationConfig`] for the user's form).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineSettings {
    /// Speech seconds between snapshots.
    pub snapshot_s: f32,
    /// Speech seconds over which the baseline forms.
    pub baseline_s: f32,
    /// Speech seconds from which the baseline is used.
    pub min_s: f32,
    /// The quantile that anchors the baseline.
    pub quantile: f32,
    /// Speech seconds in which adaptation moves the baseline by one typical spread.
    pub adapt_s: f32,
}

/// One speaker's baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    settings: BaselineSettings,
    values: [[f32; MAX_SNAPSHOTS]; FEATURES],
    counts: [usize; FEATURES],
    base: [Option<f32>; FEATURES],
    speech_s: f32,
    scratch: [f32; MAX_SNAPSHOTS],
}

impl Baseline {
    /// An empty baseline.
    pub fn new(settings: BaselineSettings) -> Self {
        Self {
            settings,
            values: [[0.0; MAX_SNAPSHOTS]; FEATURES],
            counts: [0; FEATURES],
            base: [None; FEATURES],
            speech_s: 0.0,
            scratch: [0.0; MAX_SNAPSHOTS],
        }
    }

    /// Whether enough speech has been heard to use the baseline.
    pub fn ready(&self) -> bool {
        self.speech_s >= self.settings.min_s && self.base.iter().any(Option::is_some)
    }

    /// Whether formation is over and the baseline only adapts.
    pub fn formed(&self) -> bool {
        self.speech_s >= self.settings.baseline_s
    }

    /// Speech seconds observed so far (in snapshots).
    pub fn speech_s(&self) -> f32 {
        self.speech_s
    }

    /// The baseline value of each feature (`None` where the speaker has given no value yet,
    /// e.g. pitch of a whisperer).
    pub fn values(&self) -> [Option<f32>; FEATURES] {
        self.base
    }

    /// Records one snapshot of the speaker's window features; `adapt` allows the baseline to
    /// move after formation (pass `false` while the speaker is judged agitated).
    pub fn observe(&mut self, f: &Features, adapt: bool) {
        let forming = !self.formed();
        self.speech_s += self.settings.snapshot_s;
        let q = self.settings.quantile;
        for k in 0..FEATURES {
            let Some(x) = f[k] else { continue };
            if forming || self.base[k].is_none() {
                // Keep the newest MAX_SNAPSHOTS values (round-robin once full).
                let seen = self.counts[k];
                self.values[k][seen % MAX_SNAPSHOTS] = x;
                self.counts[k] = seen + 1;
                let n = self.counts[k].min(MAX_SNAPSHOTS);
                let s = &mut self.scratch[..n];
                s.copy_from_slice(&self.values[k][..n]);
                self.base[k] = Some(quantile(s, q));
            } else if adapt && let Some(b) = self.base[k] {
                let eta = SPREAD[k] * self.settings.snapshot_s / self.settings.adapt_s / q;
                self.base[k] = Some(if x >= b {
                    b + q * eta
                } else {
                    b - (1.0 - q) * eta
                });
            }
        }
    }

    /// Features relative to the baseline; a feature missing on either side is 0 (no evidence
    /// either way).
    pub fn relative(&self, f: &Features) -> [f32; FEATURES] {
        let mut out = [0.0; FEATURES];
        for (o, (x, b)) in out.iter_mut().zip(f.iter().zip(&self.base)) {
            if let (Some(x), Some(b)) = (x, b) {
                *o = x - b;
            }
        }
        out
    }
}

/// The `q`-quantile of `values` (linear interpolation between order statistics); sorts
/// `values` in place. `values` must not be empty.
pub fn quantile(values: &mut [f32], q: f32) -> f32 {
    values.sort_unstable_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f32;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BaselineSettings {
        BaselineSettings {
            snapshot_s: 0.5,
            baseline_s: 20.0,
            min_s: 8.0,
            quantile: 0.25,
            adapt_s: 300.0,
        }
    }

    fn all(x: f32) -> Features {
        [Some(x); FEATURES]
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(quantile(&mut [1.0, 2.0], 0.25), 1.25);
        assert_eq!(quantile(&mut [7.0], 0.9), 7.0);
    }

    #[test]
    fn forms_from_a_low_quantile_and_is_ready_after_min_s() {
        let mut b = Baseline::new(settings());
        for i in 0..15 {
            b.observe(&all(i as f32), true);
            assert!(!b.ready());
        }
        b.observe(&all(15.0), true);
        assert!(b.ready());
        for i in 16..40 {
            b.observe(&all(i as f32), true);
        }
        assert!(b.formed());
        // 40 snapshots 0..39: the 0.25-quantile is 9.75.
        assert_eq!(b.values()[0], Some(9.75));
        assert_eq!(b.relative(&all(12.0))[3], 12.0 - 9.75);
    }

    #[test]
    fn adapts_slowly_and_not_while_agitated() {
        let mut b = Baseline::new(settings());
        for _ in 0..40 {
            b.observe(&all(0.0), true);
        }
        for _ in 0..20 {
            b.observe(&all(10.0), false);
        }
        assert_eq!(b.values()[2], Some(0.0));
        // 10 s of louder speech with adaptation: the level moves by 4 dB · 10 / 300.
        for _ in 0..20 {
            b.observe(&all(10.0), true);
        }
        let level = b.values()[2].unwrap_or(f32::NAN);
        assert!((level - 4.0 * 10.0 / 300.0).abs() < 1e-4, "{level}");
    }

    #[test]
    fn missing_features_stay_missing() {
        let mut b = Baseline::new(settings());
        let mut f = all(1.0);
        f[0] = None;
        for _ in 0..40 {
            b.observe(&f, true);
        }
        assert_eq!(b.values()[0], None);
        assert_eq!(b.relative(&all(5.0))[0], 0.0);
        assert_eq!(b.relative(&all(5.0))[1], 4.0);
    }
}
