//! Bad input never panics: a one-line error naming the file and the problem, or a counted
//! recovery reported in the summary.

use std::fs;
use std::io::Write;

use crate::common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.wav");
    let out = callpulse(&["analyze", s(&p)]);
    assert_one_line_error(&out, "nope.wav", "no such file");
}

#[test]
fn zero_length_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.wav");
    fs::write(&p, b"").unwrap();
    assert_one_line_error(&callpulse(&["analyze", s(&p)]), "empty.wav", "empty");
}

#[test]
fn not_a_wav_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.wav");
    fs::write(&p, b"these are meeting notes, not audio\n").unwrap();
    assert_one_line_error(
        &callpulse(&["analyze", s(&p)]),
        "notes.wav",
        "not a readable WAV",
    );
}

#[test]
fn truncated_header() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_wav_i16(&good, 8000, &[vec![0.1; 800], vec![0.1; 800]]);
    let p = dir.path().join("cut.wav");
    fs::write(&p, &fs::read(&good).unwrap()[..30]).unwrap();
    assert_one_line_error(&callpulse(&["analyze", s(&p)]), "cut.wav", "truncated");
}

#[test]
fn header_without_samples() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nosamples.wav");
    write_wav_i16(&p, 8000, &[vec![], vec![]]);
    assert_one_line_error(
        &callpulse(&["analyze", s(&p)]),
        "nosamples.wav",
        "no audio samples",
    );
}

/// A WAV header with an arbitrary format tag and sample width, followed by some data.
fn raw_wav(tag: u16, bits: u16, channels: u16, data: usize) -> Vec<u8> {
    let rate = 8000u32;
    let block = channels * bits / 8;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data as u32).to_le_bytes());
    v.extend(std::iter::repeat_n(0x55u8, data));
    v
}

#[test]
fn unsupported_formats_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (name, tag, bits, what) in [
        ("mulaw.wav", 7u16, 8u16, "mu-law"),
        ("alaw.wav", 6, 8, "a-law"),
        ("double.wav", 3, 64, "64-bit"),
    ] {
        let p = dir.path().join(name);
        fs::write(&p, raw_wav(tag, bits, 2, 1600)).unwrap();
        assert_one_line_error(&callpulse(&["analyze", s(&p)]), name, what);
    }
}

#[test]
fn channel_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stereo.wav");
    write_wav_i16(&p, 8000, &[vec![0.0; 800], vec![0.0; 800]]);
    let out = callpulse(&["analyze", s(&p), "--caller-channel", "5"]);
    assert_one_line_error(
        &out,
        "stereo.wav",
        "channel 5 does not exist (the file has 2 channels)",
    );
    let out = callpulse(&["analyze", s(&p), "--caller-channel", "0"]);
    assert_one_line_error(&out, "", "cannot both be channel 0");
}

#[test]
fn truncated_data_is_analysed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    let rate = 8000;
    write_wav_i16(
        &good,
        rate,
        &[
            voice(rate, 4.0, 120.0, 0.5, 3.5, 0.3),
            voice(rate, 4.0, 220.0, 0.0, 0.0, 0.3),
        ],
    );
    let bytes = fs::read(&good).unwrap();
    let p = dir.path().join("half.wav");
    // Keep the header (which still promises 4 s) and the first 2 s of samples.
    fs::write(&p, &bytes[..44 + 2 * rate as usize * 4]).unwrap();
    let out = callpulse(&["analyze", s(&p)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("truncated"), "warns: {stderr}");
    let sum = summary(&out.stdout);
    assert!(
        sum["input"]["truncated"]
            .as_str()
            .unwrap()
            .contains("half.wav")
    );
    assert!(
        (sum["duration_s"].as_f64().unwrap() - 2.0).abs() < 0.01,
        "{sum}"
    );
    assert_eq!(sum["frames"], 200);
}

#[test]
fn nan_and_infinite_samples_are_replaced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.wav");
    let rate = 16000;
    let mut agent = voice(rate, 2.0, 150.0, 0.2, 1.8, 0.3);
    for i in (1000..20000).step_by(1000) {
        agent[i] = f32::NAN;
    }
    agent[25000] = f32::INFINITY;
    agent[25001] = f32::NEG_INFINITY;
    let caller = vec![0.0; agent.len()];
    write_wav_f32(&p, rate, &[agent, caller]);
    let out = callpulse(&["analyze", s(&p), "--frames"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum = summary(&out.stdout);
    assert_eq!(sum["agent"]["nonfinite_samples"], 21);
    assert_eq!(sum["caller"]["nonfinite_samples"], 0);
    // Every number in the output is finite (serde_json would have refused NaN anyway).
    for line in json_lines(&out.stdout) {
        if line["type"] == "frame" {
            assert!(line["agent"]["loudness_db"].as_f64().unwrap().is_finite());
        }
    }
    assert!(
        sum["agent"]["speech_s"].as_f64().unwrap() > 1.0,
        "still analysed: {sum}"
    );
}

#[test]
fn clipping_is_counted_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clip.wav");
    let rate = 8000;
    let loud: Vec<f32> = voice(rate, 2.0, 180.0, 0.2, 1.8, 3.0)
        .into_iter()
        .map(|x| x.clamp(-1.0, 1.0))
        .collect();
    let clipped = loud.iter().filter(|x| x.abs() >= 1.0).count();
    assert!(clipped > 100);
    write_wav_i16(&p, rate, &[loud, vec![0.0; 16000]]);
    let out = callpulse(&["analyze", s(&p)]);
    assert!(out.status.success());
    let sum = summary(&out.stdout);
    assert_eq!(
        sum["agent"]["clipped_samples"].as_u64().unwrap() as usize,
        clipped
    );
    let f0 = sum["agent"]["median_f0_hz"].as_f64().unwrap();
    assert!(
        (f0 / 180.0 - 1.0).abs() < 0.03,
        "pitch survives clipping: {f0}"
    );
}

#[test]
fn dc_offset_is_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 8000;
    let clean = voice(rate, 3.0, 130.0, 0.5, 2.5, 0.3);
    let offset: Vec<f32> = clean.iter().map(|x| x + 0.25).collect();
    let a = dir.path().join("clean.wav");
    let b = dir.path().join("dc.wav");
    write_wav_i16(&a, rate, &[clean.clone(), vec![0.0; clean.len()]]);
    write_wav_i16(&b, rate, &[offset, vec![0.0; clean.len()]]);
    let sa = summary(&callpulse(&["analyze", s(&a)]).stdout);
    let sb = summary(&callpulse(&["analyze", s(&b)]).stdout);
    assert!((sb["agent"]["dc_offset"].as_f64().unwrap() - 0.25).abs() < 0.001);
    let speech = |v: &serde_json::Value| v["agent"]["speech_s"].as_f64().unwrap();
    assert!((speech(&sa) - speech(&sb)).abs() <= 0.1, "{sa} vs {sb}");
    assert_eq!(sa["agent"]["median_f0_hz"], sb["agent"]["median_f0_hz"]);
}

#[test]
fn pure_silence_gives_no_speech_and_no_pitch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("silence.wav");
    write_wav_i16(&p, 8000, &[vec![0.0; 24000], vec![0.0; 24000]]);
    let out = callpulse(&["analyze", s(&p)]);
    assert!(out.status.success());
    let sum = summary(&out.stdout);
    for party in ["agent", "caller"] {
        assert_eq!(sum[party]["speech_s"], 0.0);
        assert!(sum[party]["median_f0_hz"].is_null());
        assert!(sum[party]["mean_loudness_db"].is_null());
    }
    assert!(sum["talk_ratio_agent"].is_null());
}

#[test]
fn odd_rates_and_sample_formats_are_read() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, bits) in [(11_025u32, 8u16), (44_100, 24), (96_000, 32), (22_050, 16)] {
        let p = dir.path().join(format!("r{rate}_{bits}.wav"));
        let x = voice(rate, 1.5, 200.0, 0.2, 1.3, 0.4);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        let full = ((1i64 << (bits - 1)) - 1) as f32;
        for v in &x {
            w.write_sample((v * full) as i32).unwrap();
        }
        w.finalize().unwrap();
        let out = callpulse(&["analyze", s(&p), "--role", "agent"]);
        assert!(
            out.status.success(),
            "{rate}/{bits}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sum = summary(&out.stdout);
        assert!(sum["caller"].is_null(), "mono is one party");
        let f0 = sum["agent"]["median_f0_hz"].as_f64().unwrap();
        assert!((f0 / 200.0 - 1.0).abs() < 0.03, "{rate}/{bits}: {f0}");
        assert!((sum["duration_s"].as_f64().unwrap() - 1.5).abs() < 0.001);
    }
}

#[test]
fn two_mono_files_at_different_rates() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("agent.wav");
    let c = dir.path().join("caller.wav");
    write_wav_i16(&a, 8000, &[voice(8000, 3.0, 110.0, 0.3, 1.3, 0.3)]);
    write_wav_i16(&c, 16000, &[voice(16000, 3.0, 240.0, 1.6, 2.8, 0.3)]);
    let out = callpulse(&["analyze", "--agent", s(&a), "--caller", s(&c), "--frames"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let frames: Vec<_> = lines.iter().filter(|l| l["type"] == "frame").collect();
    assert_eq!(frames.len(), 300);
    let sum = summary(&out.stdout);
    assert_eq!(sum["analysis_rate"], 16000);
    assert!((sum["agent"]["median_f0_hz"].as_f64().unwrap() / 110.0 - 1.0).abs() < 0.03);
    assert!((sum["caller"]["median_f0_hz"].as_f64().unwrap() / 240.0 - 1.0).abs() < 0.03);
}

#[test]
fn unwritable_output_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.wav");
    write_wav_i16(&p, 8000, &[vec![0.0; 800], vec![0.0; 800]]);
    let target = dir.path().join("no/such/dir/out.jsonl");
    let out = callpulse(&["analyze", s(&p), "-o", target.to_str().unwrap()]);
    assert_one_line_error(&out, "out.jsonl", "cannot create");
    let _ = std::io::stderr().flush();
}
