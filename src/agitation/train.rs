//! Training and evaluation of the agitation model (offline; used by
//! `examples/train_agitation.rs` and `examples/eval_agitation.rs`, never on the analysis
//! thread).
//!
//! * [`utterance_features`] measures one utterance exactly as the live stage measures a window:
//!   the product's frames through [`PartyProsody`], with a window long enough to hold the whole
//!   utterance.
//! * [`relative_to_speaker`] subtracts each speaker's baseline, formed as the live baseline is: a
//!   low quantile of that speaker's calm (neutral) utterances.
//! * [`fit`] is an L2-regularised logistic regression on standardised features (Newton's
//!   method; the problem has eight parameters).
//! * [`leave_one_speaker_out`] and [`within_speaker_auc`] give the figures `models/MODEL.md`
//!   reports: every score comes from a model that never saw the scored speaker.

use std::collections::BTreeMap;

use super::AgitationConfig;
use crate::prosody::{FEATURES, Features, PartyProsody, baseline::quantile};
use crate::record::FrameRecord;
use crate::role::Role;

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Speaker id (cross-validation folds are per speaker).
    pub speaker: String,
    /// Recording condition, e.g. `clean` or `telephone` (baselines are per speaker and
    /// condition, as a live baseline is per call).
    pub condition: &'static str,
    /// Angry (`true`) or neutral.
    pub angry: bool,
    /// Absolute features of the utterance.
    pub features: Features,
}

/// The features of one utterance from its analysed frames (`role`'s channel), measured over
/// all of its speech; `None` when it holds too little speech.
pub fn utterance_features(
    frames: &[FrameRecord],
    role: Role,
    config: &AgitationConfig,
    hop_s: f32,
) -> Option<Features> {
    let whole = AgitationConfig {
        window_s: 30.0,
        min_window_s: 0.3,
        ..config.clone()
    };
    let mut p = PartyProsody::new(whole.prosody(hop_s));
    for f in frames {
        if let Some(pf) = f.party(role) {
            p.process(pf, true);
        }
    }
    p.features()
}

/// Baseline-relative features: the baseline of each speaker in each condition is the
/// `q`-quantile of the features of that speaker's neutral samples in that condition (a feature
/// missing everywhere stays 0).
pub fn relative_to_speaker(samples: &[Sample], q: f32) -> Vec<[f32; FEATURES]> {
    let key = |s: &Sample| (s.speaker.clone(), s.condition);
    let mut baselines: BTreeMap<(String, &str), [Option<f32>; FEATURES]> = BTreeMap::new();
    for sample in samples {
        let sp = key(sample);
        if baselines.contains_key(&sp) {
            continue;
        }
        let mut base = [None; FEATURES];
        for (k, b) in base.iter_mut().enumerate() {
            let mut v: Vec<f32> = samples
                .iter()
                .filter(|s| key(s) == sp && !s.angry)
                .filter_map(|s| s.features[k])
                .collect();
            if !v.is_empty() {
                *b = Some(quantile(&mut v, q));
            }
        }
        baselines.insert(sp, base);
    }
    samples
        .iter()
        .map(|s| {
            let base = baselines[&key(s)];
            let mut out = [0.0; FEATURES];
            for k in 0..FEATURES {
                if let (Some(x), Some(b)) = (s.features[k], base[k]) {
                    out[k] = x - b;
                }
            }
            out
        })
        .collect()
}

/// A fitted logistic regression (the model file's coefficients).
pub type Fitted = super::model::Linear;

impl Fitted {
    /// These coefficients as a model with alert `thresholds`.
    pub fn model(&self, thresholds: super::model::Thresholds) -> super::AgitationModel {
        super::AgitationModel {
            linear: *self,
            thresholds,
        }
    }

    /// The model file text (format of [`super::model`]) for these coefficients, with alert
    /// `thresholds` and free-form `training` provenance.
    pub fn to_model_json(
        &self,
        thresholds: super::model::Thresholds,
        training: serde_json::Value,
    ) -> String {
        let r = |v: &[f32]| -> Vec<f64> {
            v.iter()
                .map(|&x| (f64::from(x) * 1e6).round() / 1e6)
                .collect()
        };
        let value = serde_json::json!({
            "format": super::model::FORMAT,
            "version": super::model::VERSION,
            "features": crate::prosody::FEATURE_NAMES,
            "mean": r(&self.mean),
            "scale": r(&self.scale),
            "weights": r(&self.weights),
            "intercept": r(&[self.intercept])[0],
            "thresholds": {
                "warn": r(&[thresholds.warn])[0],
                "critical": r(&[thresholds.critical])[0],
                "release": r(&[thresholds.release])[0],
            },
            "training": training,
        });
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Fits `P(angry | x)` by L2-regularised logistic regression (penalty `l2` on the standardised
/// weights, not on the intercept) over the features where `use_feature` is true. Classes are
/// weighted to balance.
pub fn fit(x: &[[f32; FEATURES]], y: &[bool], l2: f64, use_feature: [bool; FEATURES]) -> Fitted {
    let n = x.len().max(1) as f64;
    let mut mean = [0.0f32; FEATURES];
    let mut scale = [1.0f32; FEATURES];
    for k in 0..FEATURES {
        let m = x.iter().map(|r| f64::from(r[k])).sum::<f64>() / n;
        let v = x.iter().map(|r| (f64::from(r[k]) - m).powi(2)).sum::<f64>() / n;
        mean[k] = m as f32;
        scale[k] = if v > 1e-12 { v.sqrt() as f32 } else { 1.0 };
    }
    let cols: Vec<usize> = (0..FEATURES).filter(|&k| use_feature[k]).collect();
    let d = cols.len() + 1;
    let rows: Vec<Vec<f64>> = x
        .iter()
        .map(|r| {
            let mut v = vec![1.0];
            v.extend(cols.iter().map(|&k| f64::from((r[k] - mean[k]) / scale[k])));
            v
        })
        .collect();
    let pos = y.iter().filter(|&&b| b).count().max(1) as f64;
    let neg = (y.len() as f64 - pos).max(1.0);
    let weight = |b: bool| if b { n / (2.0 * pos) } else { n / (2.0 * neg) };
    let mut beta = vec![0.0; d];
    for _ in 0..50 {
        let mut g = vec![0.0; d];
        let mut h = vec![vec![0.0; d]; d];
        for (r, &label) in rows.iter().zip(y) {
            let z: f64 = r.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let w = weight(label);
            let e = w * (p - if label { 1.0 } else { 0.0 });
            let s = w * p * (1.0 - p);
            for i in 0..d {
                g[i] += e * r[i];
                for j in 0..d {
                    h[i][j] += s * r[i] * r[j];
                }
            }
        }
        for i in 1..d {
            g[i] += l2 * beta[i];
            h[i][i] += l2;
        }
        h[0][0] += 1e-9;
        let step = solve(h, g);
        let mut moved = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            moved = moved.max(s.abs());
        }
        if moved < 1e-10 {
            break;
        }
    }
    let mut weights = [0.0f32; FEATURES];
    for (i, &k) in cols.iter().enumerate() {
        weights[k] = beta[i + 1] as f32;
    }
    Fitted {
        mean,
        scale,
        weights,
        intercept: beta[0] as f32,
    }
}

/// As [`fit`], with every weight constrained to be non-negative: each feature is oriented so
/// that arousal raises it, so a negative weight can only come from collinearity or from a
/// corpus artefact (e.g. EmoDB's peak normalisation). Active set: features whose weight comes
/// out negative are left out and the rest refitted, until no weight is negative.
pub fn fit_nonnegative(
    x: &[[f32; FEATURES]],
    y: &[bool],
    l2: f64,
    mut use_feature: [bool; FEATURES],
) -> Fitted {
    loop {
        let m = fit(x, y, l2, use_feature);
        let negative: Vec<usize> = (0..FEATURES)
            .filter(|&k| use_feature[k] && m.weights[k] < 0.0)
            .collect();
        if negative.is_empty() {
            return m;
        }
        // Drop the most negative first: removing one feature changes the others' weights.
        let worst = negative
            .iter()
            .copied()
            .min_by(|&a, &b| m.weights[a].total_cmp(&m.weights[b]))
            .unwrap_or(negative[0]);
        use_feature[worst] = false;
    }
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting (a singular pivot gives a
/// zero step for that unknown).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        if a[c][c].abs() < 1e-12 {
            continue;
        }
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            let (upper, lower) = a.split_at_mut(r);
            for (x, &p) in lower[0][c..].iter_mut().zip(&upper[c][c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        if a[c][c].abs() < 1e-12 {
            continue;
        }
        let s: f64 = (c + 1..n).map(|k| a[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / a[c][c];
    }
    x
}

/// Area under the ROC curve of `pos` scores against `neg` scores (ties count half); `None`
/// when either is empty.
pub fn auc(pos: &[f32], neg: &[f32]) -> Option<f64> {
    let (wins, pairs) = auc_pairs(pos, neg);
    (pairs > 0).then(|| wins / pairs as f64)
}

fn auc_pairs(pos: &[f32], neg: &[f32]) -> (f64, usize) {
    let mut wins = 0.0;
    for &p in pos {
        for &q in neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    (wins, pos.len() * neg.len())
}

/// Within-speaker AUC per speaker, and pooled over every (angry, neutral) pair of the same
/// speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct AucReport {
    /// `(speaker, AUC, angry count, neutral count)` per speaker with both classes.
    pub per_speaker: Vec<(String, f64, usize, usize)>,
    /// Mean of the per-speaker AUCs.
    pub mean: f64,
    /// Share of same-speaker (angry, neutral) pairs ordered correctly.
    pub pooled: f64,
}

/// Within-speaker AUC of `scores` (one per sample).
pub fn within_speaker_auc(samples: &[Sample], scores: &[f32]) -> AucReport {
    let mut by: BTreeMap<&str, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    for (s, &score) in samples.iter().zip(scores) {
        let e = by.entry(s.speaker.as_str()).or_default();
        if s.angry {
            e.0.push(score);
        } else {
            e.1.push(score);
        }
    }
    let mut per_speaker = Vec::new();
    let (mut wins, mut pairs) = (0.0, 0usize);
    for (sp, (pos, neg)) in by {
        let (w, p) = auc_pairs(&pos, &neg);
        if p > 0 {
            per_speaker.push((sp.to_string(), w / p as f64, pos.len(), neg.len()));
            wins += w;
            pairs += p;
        }
    }
    let mean = per_speaker.iter().map(|r| r.1).sum::<f64>() / per_speaker.len().max(1) as f64;
    AucReport {
        per_speaker,
        mean,
        pooled: if pairs > 0 { wins / pairs as f64 } else { 0.0 },
    }
}

/// Leave-one-speaker-out scores of `test`: each speaker's test samples are scored by a model
/// fitted on the `train` samples of every *other* speaker (relative features from
/// [`relative_to_speaker`] with quantile `q`).
pub fn leave_one_speaker_out(
    train: &[Sample],
    test: &[Sample],
    q: f32,
    l2: f64,
    use_feature: [bool; FEATURES],
    nonnegative: bool,
) -> Vec<f32> {
    let train_rel = relative_to_speaker(train, q);
    let test_rel = relative_to_speaker(test, q);
    let mut scores = vec![0.0; test.len()];
    let speakers: std::collections::BTreeSet<&str> =
        test.iter().map(|s| s.speaker.as_str()).collect();
    for held in speakers {
        let (x, y): (Vec<_>, Vec<_>) = train
            .iter()
            .zip(&train_rel)
            .filter(|(s, _)| s.speaker != held)
            .map(|(s, r)| (*r, s.angry))
            .unzip();
        let model = if nonnegative {
            fit_nonnegative(&x, &y, l2, use_feature)
        } else {
            fit(&x, &y, l2, use_feature)
        };
        for (i, s) in test.iter().enumerate() {
            if s.speaker == held {
                scores[i] = model.score(&test_rel[i]);
            }
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_separable_direction_and_scores_auc() {
        // Feature 2 separates the classes, the others are noise.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let angry = i % 2 == 0;
            let noise = ((i * 37) % 11) as f32 / 11.0 - 0.5;
            let mut r = [noise; FEATURES];
            r[2] = if angry { 3.0 } else { 0.0 } + noise;
            x.push(r);
            y.push(angry);
        }
        let m = fit(&x, &y, 1.0, [true; FEATURES]);
        assert!(m.weights[2] > 1.0, "{:?}", m.weights);
        let (pos, neg): (Vec<f32>, Vec<f32>) = (
            x.iter()
                .zip(&y)
                .filter(|(_, a)| **a)
                .map(|(r, _)| m.score(r))
                .collect(),
            x.iter()
                .zip(&y)
                .filter(|(_, a)| !**a)
                .map(|(r, _)| m.score(r))
                .collect(),
        );
        assert_eq!(auc(&pos, &neg), Some(1.0));
        let masked = fit(&x, &y, 1.0, [false, false, false, true, true, true, true]);
        assert_eq!(masked.weights[2], 0.0);
    }

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(auc(&[1.0], &[1.0]), Some(0.5));
        assert_eq!(auc(&[2.0, 0.0], &[1.0]), Some(0.5));
        assert_eq!(auc(&[], &[1.0]), None);
    }
}
