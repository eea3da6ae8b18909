//! Trains the agitation model and reports leave-one-speaker-out results.
//!
//! ```text
//! cargo run --release --example train_agitation [-- --data ../shared/data] [--write]
//! ```
//!
//! Every utterance of `emotion/` (RAVDESS and EmoDB, angry vs neutral; see its README) is
//! analysed through the product's own path (resampler, framer, pitch, VAD, then
//! `callpulse::prosody` with a window holding the whole utterance), clean and after the
//! telephone degradation of `callpulse::degrade::telephone` (8 kHz, 300–3400 Hz, μ-law).
//! Features are made relative to each speaker's baseline per condition (the 0.25-quantile of
//! that speaker's neutral utterances, as the live baseline is a low quantile of calm speech).
//!
//! Every figure is leave-one-speaker-out: a speaker's utterances are scored by a model fitted on
//! the other eight speakers only. The within-speaker ROC-AUC is reported per speaker, as the
//! mean over speakers and pooled over all same-speaker (angry, neutral) pairs. A small grid of
//! feature sets, L2 strengths, weight signs and training sets is shown. The shipped
//! configuration: all features with non-negative weights (each feature is oriented so that
//! arousal raises it), L2 = 1, trained on the clean and telephone copies of the EmoDB speakers
//! only (CC0; RAVDESS is CC BY-NC-SA 4.0 and serves for evaluation only). How it was chosen is
//! in `models/MODEL.md`. `--write` fits it on all EmoDB speakers and writes
//! `models/agitation.json`.

use callpulse::agitation::model::Thresholds;
use callpulse::agitation::train::{
    Sample, fit_nonnegative, leave_one_speaker_out, relative_to_speaker, within_speaker_auc,
};
use callpulse::prosody::{FEATURE_NAMES, FEATURES};

mod support;

/// The shipped configuration, fixed in advance.
const L2: f64 = 1.0;
const QUANTILE: f32 = 0.25;
const THRESHOLDS: Thresholds = Thresholds {
    warn: 0.7,
    critical: 0.9,
    release: 0.4,
};

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let write = argv.iter().any(|a| a == "--write");
    let rest: Vec<String> = argv.iter().filter(|a| *a != "--write").cloned().collect();
    let Some(args) = support::args_from("train_agitation", "emotion", &rest, &[]) else {
        return;
    };
    let samples = support::emotion_samples(&args);
    let clean: Vec<Sample> = samples
        .iter()
        .filter(|s| s.condition == "clean")
        .cloned()
        .collect();
    let tel: Vec<Sample> = samples
        .iter()
        .filter(|s| s.condition == "telephone")
        .cloned()
        .collect();
    println!(
        "utterances: {} clean, {} telephone; speakers: {}\n",
        clean.len(),
        tel.len(),
        clean
            .iter()
            .map(|s| s.speaker.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );

    feature_table(&clean, "clean");
    feature_table(&tel, "telephone");

    // EmoDB alone is CC0: a model trained on it carries no licence condition (RAVDESS is
    // CC BY-NC-SA 4.0). Its figures on the RAVDESS speakers are cross-corpus.
    let emodb = support::shipped_training_set(&samples);
    let all = [true; FEATURES];
    let mut without_level = all;
    without_level[2] = false;
    let mut sets: Vec<(String, [bool; FEATURES])> = vec![
        ("all seven".into(), all),
        ("without level_db".into(), without_level),
    ];
    for (k, name) in FEATURE_NAMES.iter().enumerate() {
        let mut m = [false; FEATURES];
        m[k] = true;
        sets.push((format!("{name} only"), m));
    }

    println!("leave-one-speaker-out within-speaker ROC-AUC (mean over speakers / pooled pairs)");
    println!(
        "{:<22} {:>6} {:>4} {:<16} {:>15} {:>15}",
        "features", "L2", "sign", "trained on", "clean", "telephone"
    );
    for (name, mask) in &sets {
        let l2s: &[f64] = if name.ends_with("only") {
            &[L2]
        } else {
            &[0.1, 1.0, 10.0]
        };
        let signs: &[bool] = if name.ends_with("only") {
            &[false]
        } else {
            &[false, true]
        };
        for (&l2, &nonneg) in l2s.iter().flat_map(|l| signs.iter().map(move |s| (l, s))) {
            for (trained, train) in [
                ("clean", &clean),
                ("clean+telephone", &samples),
                ("EmoDB (CC0) only", &emodb),
            ] {
                let a = leave_one_speaker_out(train, &clean, QUANTILE, l2, *mask, nonneg);
                let b = leave_one_speaker_out(train, &tel, QUANTILE, l2, *mask, nonneg);
                let (ra, rb) = (within_speaker_auc(&clean, &a), within_speaker_auc(&tel, &b));
                let chosen =
                    name == "all seven" && l2 == L2 && trained == "EmoDB (CC0) only" && nonneg;
                println!(
                    "{:<22} {:>6} {:>4} {:<16} {:>7.3} / {:.3} {:>7.3} / {:.3}{}",
                    name,
                    l2,
                    if nonneg { "w≥0" } else { "any" },
                    trained,
                    ra.mean,
                    ra.pooled,
                    rb.mean,
                    rb.pooled,
                    if chosen { "   <- shipped" } else { "" }
                );
            }
        }
    }

    let a = leave_one_speaker_out(&emodb, &clean, QUANTILE, L2, all, true);
    let b = leave_one_speaker_out(&emodb, &tel, QUANTILE, L2, all, true);
    let (ra, rb) = (within_speaker_auc(&clean, &a), within_speaker_auc(&tel, &b));
    println!("\nshipped configuration, per speaker (clean AUC, telephone AUC, angry/neutral):");
    for (x, y) in ra.per_speaker.iter().zip(&rb.per_speaker) {
        println!("  {:<10} {:.3}  {:.3}  {}/{}", x.0, x.1, y.1, x.2, x.3);
    }
    print_scores("clean", &clean, &a);
    print_scores("telephone", &tel, &b);

    let rel = relative_to_speaker(&emodb, QUANTILE);
    let y: Vec<bool> = emodb.iter().map(|s| s.angry).collect();
    let model = fit_nonnegative(&rel, &y, L2, all);
    println!(
        "\nshipped model: all EmoDB speakers, clean + telephone ({} utterances):",
        emodb.len()
    );
    for (k, name) in FEATURE_NAMES.iter().enumerate() {
        println!(
            "  {:<16} weight {:+.3}  (mean {:+.3}, scale {:.3})",
            name, model.weights[k], model.mean[k], model.scale[k]
        );
    }
    println!("  intercept {:+.3}", model.intercept);
    if write {
        let training = serde_json::json!({
            "data": "../shared/data/emotion, EmoDB speakers 03, 08, 09, 10, 11 (CC0); RAVDESS actors 1-4 (CC BY-NC-SA 4.0) for evaluation only",
            "command": "cargo run --release --example train_agitation -- --write",
            "utterances": emodb.len(),
            "conditions": ["clean", "telephone (8 kHz, 300-3400 Hz, mu-law)"],
            "baseline_quantile": QUANTILE,
            "l2": L2,
            "loso_within_speaker_auc_all_nine_speakers": {
                "clean": {"mean": round3(ra.mean), "pooled": round3(ra.pooled)},
                "telephone": {"mean": round3(rb.mean), "pooled": round3(rb.pooled)},
            },
        });
        let text = model.to_model_json(THRESHOLDS, training);
        callpulse::agitation::AgitationModel::parse(&text, "new model").expect("valid model");
        std::fs::write("models/agitation.json", text).expect("write models/agitation.json");
        println!("\nwrote models/agitation.json");
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Mean relative features of each class, per corpus.
fn feature_table(samples: &[Sample], condition: &str) {
    let rel = relative_to_speaker(samples, QUANTILE);
    println!("mean baseline-relative features, {condition}:");
    print!("  {:<18}", "");
    for n in FEATURE_NAMES {
        print!("{n:>16}");
    }
    println!();
    for corpus in ["ravdess", "emodb"] {
        for angry in [false, true] {
            let rows: Vec<&[f32; FEATURES]> = samples
                .iter()
                .zip(&rel)
                .filter(|(s, _)| s.speaker.starts_with(corpus) && s.angry == angry)
                .map(|(_, r)| r)
                .collect();
            print!(
                "  {:<18}",
                format!("{corpus} {}", if angry { "angry" } else { "neutral" })
            );
            for k in 0..FEATURES {
                let m = rows.iter().map(|r| r[k]).sum::<f32>() / rows.len().max(1) as f32;
                print!("{m:>16.2}");
            }
            println!();
        }
    }
    println!();
}

fn print_scores(condition: &str, samples: &[Sample], scores: &[f32]) {
    let med = |angry: bool| {
        let mut v: Vec<f32> = samples
            .iter()
            .zip(scores)
            .filter(|(s, _)| s.angry == angry)
            .map(|(_, &x)| x)
            .collect();
        v.sort_by(f32::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4])
    };
    let (n, a) = (med(false), med(true));
    println!(
        "  {condition} scores (LOSO) quartiles: neutral {:.2} {:.2} {:.2}, angry {:.2} {:.2} {:.2}",
        n.0, n.1, n.2, a.0, a.1, a.2
    );
}
