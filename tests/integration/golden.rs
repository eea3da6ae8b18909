//! Golden tests on the licensed fixtures (STYLE.md tier b): expected values with a tolerance per
//! metric. How they were produced: `callpulse analyze assets/demo/auto_repairs_60s_stereo.wav`
//! and `cargo run --release --example eval_vad` (clean, no collar) at the commit that added
//! this file. A change that moves a value outside its tolerance must say why in its commit.
//! `talk_ratio_agent` moved from 0.27 to 0.30 when it began to count talk spurts without the
//! VAD's hangover (the conversation stage) instead of VAD frames.

use callpulse::Role;
use callpulse::config::AnalysisConfig;
use callpulse::pipeline::analyze_frames;
use callpulse::source::wav::WavSource;

use crate::common::*;

fn close(name: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{name}: {got} (golden {want} ± {tol})"
    );
}

#[test]
fn demo_call_summary() {
    let out = callpulse(&["analyze", demo_call().to_str().unwrap()]);
    assert!(out.status.success());
    let s = summary(&out.stdout);
    assert_eq!(s["frames"], 6000);
    assert_eq!(s["duration_s"], 60.0);
    // (party, speech s, mean loudness dBFS, median F0 Hz, voiced s)
    for (party, speech, level, f0, voiced) in [
        ("agent", 13.44, -17.84, 264.0, 8.34),
        ("caller", 33.45, -18.12, 124.6, 18.81),
    ] {
        let p = &s[party];
        close(
            &format!("{party} speech_s"),
            p["speech_s"].as_f64().unwrap(),
            speech,
            1.5,
        );
        close(
            &format!("{party} mean_loudness_db"),
            p["mean_loudness_db"].as_f64().unwrap(),
            level,
            0.5,
        );
        close(
            &format!("{party} median_f0_hz"),
            p["median_f0_hz"].as_f64().unwrap(),
            f0,
            f0 * 0.03,
        );
        close(
            &format!("{party} voiced_s"),
            p["voiced_s"].as_f64().unwrap(),
            voiced,
            1.5,
        );
        assert_eq!(p["clipped_samples"], 0);
    }
    close(
        "talk_ratio_agent",
        s["talk_ratio_agent"].as_f64().unwrap(),
        0.300,
        0.03,
    );
}

/// Frame labels of `speaker` from the fixture's RTTM (frame centre inside a turn).
fn reference(speaker: &str, frames: usize) -> Vec<bool> {
    let rttm = std::fs::read_to_string(ami("ES2004a_750-780.rttm")).unwrap();
    let mut out = vec![false; frames];
    for l in rttm.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f[7] != speaker {
            continue;
        }
        let on: f64 = f[3].parse().unwrap();
        let end = on + f[4].parse::<f64>().unwrap();
        for (i, o) in out.iter_mut().enumerate() {
            let c = (i as f64 + 0.5) * 0.01;
            *o |= c >= on && c < end;
        }
    }
    out
}

#[test]
fn ami_channels_voice_activity() {
    // (channel, golden precision, recall, F1): clean, no collar, each channel on its own.
    // MEE014 (0.7 s of annotated speech) is limited by loud sounds on its channel that the
    // RTTM leaves out and by crosstalk, which a per-channel detector cannot tell from a quiet
    // owner; its recall is held here, its precision is not.
    for (speaker, p_want, r_want, f_want) in [
        ("FEE013", 0.907, 0.813, 0.857),
        ("FEE016", 0.863, 0.814, 0.838),
        ("MEO015", 0.679, 0.830, 0.747),
        ("MEE014", 0.071, 0.878, 0.132),
    ] {
        let source = WavSource::single(&ami(&format!("{speaker}.wav")), 0, Role::Caller).unwrap();
        let (frames, _) = analyze_frames(AnalysisConfig::default(), Box::new(source)).unwrap();
        let truth = reference(speaker, frames.len());
        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
        for (f, &t) in frames.iter().zip(&truth) {
            match (f.party(Role::Caller).unwrap().speech, t) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                _ => {}
            }
        }
        let p = tp / (tp + fp);
        let r = tp / (tp + fn_);
        let f1 = 2.0 * p * r / (p + r);
        close(&format!("{speaker} recall"), r, r_want, 0.03);
        if f_want > 0.7 {
            close(&format!("{speaker} precision"), p, p_want, 0.03);
            close(&format!("{speaker} F1"), f1, f_want, 0.03);
        }
    }
}
