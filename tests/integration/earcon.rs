//! Headset earcons: the synthesiser renders without allocating, and the `earcons` subcommand
//! plays the right pattern at the right level through a real (headless) PulseAudio server.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_no_alloc::assert_no_alloc;
use callpulse::alert::{AlertKind, Severity};
use callpulse::earcon::pattern::{ALL_KINDS, peak_frequency};
use callpulse::earcon::{Synth, pattern};

use crate::pulse::PulseServer;

#[test]
fn earcon_render_does_not_allocate() {
    let mut synth = Synth::new(48_000, 2, -20.0).unwrap();
    let mut out = vec![0.0f32; 2 * 480];
    let mut peak = 0.0f32;
    let mut rejected = 0;
    assert_no_alloc(|| {
        // 60 s of 10 ms buffers, a cue (both severities, every kind) every 250 ms: the queue
        // fills and refuses some.
        for i in 0..6000usize {
            if i % 25 == 0 {
                let kind = ALL_KINDS[(i / 25) % ALL_KINDS.len()];
                let severity = if i % 50 == 0 {
                    Severity::Critical
                } else {
                    Severity::Warn
                };
                if synth.start(kind, severity).is_err() {
                    rejected += 1;
                }
            }
            synth.render(&mut out);
            for &v in &out {
                peak = peak.max(v.abs());
            }
        }
    });
    assert!(synth.completed() > 50, "{} played", synth.completed());
    assert!(rejected > 0, "the queue is bounded");
    assert!(peak <= synth.peak() && peak > 0.9 * synth.peak());
}

/// Sends SIGINT (parecord then finalises its WAV header) and waits at most 5 s.
fn interrupt(mut child: Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain signal to a child process we started and have not reaped.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The first channel of a 16-bit stereo WAV as f32, read from the `data` chunk to the end of
/// the file (robust to a header whose sizes were never written).
fn read_s16_stereo(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF",
        "not a WAV file"
    );
    let mut at = 12;
    let data = loop {
        assert!(at + 8 <= bytes.len(), "no data chunk");
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            break &bytes[at + 8..];
        }
        at += 8 + size + (size & 1);
    };
    data.chunks_exact(4)
        .map(|f| f32::from(i16::from_le_bytes([f[0], f[1]])) / 32768.0)
        .collect()
}

/// Spans (start, end sample) where 1 ms blocks peak above `threshold`, joining spans closer
/// than 10 ms.
fn tone_spans(x: &[f32], rate: usize, threshold: f32) -> Vec<(usize, usize)> {
    let block = rate / 1000;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, b) in x.chunks(block).enumerate() {
        if b.iter().any(|v| v.abs() > threshold) {
            let (s, e) = (i * block, i * block + b.len());
            match spans.last_mut() {
                Some(last) if s - last.1 < 10 * block => last.1 = e,
                _ => spans.push((s, e)),
            }
        }
    }
    spans
}

fn db(x: f32) -> f32 {
    20.0 * x.max(1e-9).log10()
}

#[test]
fn earcon_through_pulse() {
    let Some(server) = PulseServer::start("earcon_through_pulse", &["vsink", "earcons"]) else {
        return;
    };
    let wav = server.scratch().join("earcons.wav");
    let recorder = server.record("earcons.monitor", &wav);
    std::thread::sleep(Duration::from_secs(1));
    let out = server
        .command(env!("CARGO_BIN_EXE_callpulse"))
        .args([
            "earcons",
            "--device",
            "earcons",
            "--kind",
            "caller_agitation_rising",
            "--level-db",
            "-20",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run callpulse");
    std::thread::sleep(Duration::from_millis(500));
    interrupt(recorder);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "callpulse earcons failed: {stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stdout.contains("caller_agitation_rising"), "{stdout}");

    let rate = 48_000;
    let x = read_s16_stereo(&wav);
    assert!(x.len() > rate, "only {} samples recorded", x.len());
    let cap = 10f32.powf(-20.0 / 20.0);
    let spans = tone_spans(&x, rate, 0.1 * cap);
    let expected = pattern(AlertKind::CallerAgitationRising).tones;
    assert_eq!(
        spans.len(),
        expected.len(),
        "tone spans {spans:?} (seconds: {:?})",
        spans
            .iter()
            .map(|(s, e)| (*s as f32 / rate as f32, *e as f32 / rate as f32))
            .collect::<Vec<_>>()
    );
    // Presence: the tones stand far above the silence around them.
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
    let first = spans[0].0;
    let last = spans[spans.len() - 1].1;
    let tone_rms = rms(&x[first..last]);
    // Silence: everything recorded 20 ms clear of the spans (their ramps reach below the
    // threshold). The null sink's monitor may deliver nothing before the first sound, so
    // most of it lies after the pattern.
    let margin = rate / 50;
    let outside: Vec<f32> = x[..first.saturating_sub(margin)]
        .iter()
        .chain(&x[(last + margin).min(x.len())..])
        .copied()
        .collect();
    assert!(
        outside.len() > rate / 10,
        "only {} silent samples",
        outside.len()
    );
    let silence = rms(&outside);
    assert!(
        db(tone_rms) - db(silence) > 40.0,
        "tone {} dB, silence {} dB",
        db(tone_rms),
        db(silence)
    );
    eprintln!("earcon_through_pulse: {stderr}");
    // Frequencies, in order.
    for ((s, e), tone) in spans.iter().zip(expected) {
        let f = peak_frequency(&x[*s..*e], rate as f32, 300.0, 1800.0);
        eprintln!(
            "  span {:.3}-{:.3} s: {f:.1} Hz (expected {} Hz)",
            *s as f32 / rate as f32,
            *e as f32 / rate as f32,
            tone.hz
        );
        assert!(
            (f - tone.hz).abs() <= 0.02 * tone.hz,
            "expected {} Hz, measured {f} Hz",
            tone.hz
        );
    }
    // Level: close to the cap and never above it.
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    eprintln!("  peak {:.2} dBFS, cap {:.2} dBFS", db(peak), db(cap));
    assert!(
        (db(peak) - db(cap)).abs() <= 1.5,
        "peak {} dBFS vs cap {} dBFS",
        db(peak),
        db(cap)
    );
    assert!(
        db(peak) <= db(cap) + 0.5,
        "peak {} dBFS above the cap",
        db(peak)
    );
}

#[test]
fn earcon_unknown_device_lists_outputs() {
    let Some(server) =
        PulseServer::start("earcon_unknown_device_lists_outputs", &["vsink", "earcons"])
    else {
        return;
    };
    let out = server
        .command(env!("CARGO_BIN_EXE_callpulse"))
        .args(["earcons", "--device", "nosuch", "--kind", "dead_air"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run callpulse");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error, not a panic: {stderr}"
    );
    assert!(stderr.contains("nosuch"), "{stderr}");
    assert!(stderr.contains("output devices"), "{stderr}");
    for sink in ["vsink", "earcons"] {
        assert!(stderr.contains(sink), "lists {sink}: {stderr}");
    }
    // A monitor is an input, not an output.
    assert!(!stderr.contains("earcons.monitor"), "{stderr}");
}

#[test]
fn earcon_cli_rejects_bad_kind_and_level() {
    let out = crate::common::callpulse(&["earcons", "--kind", "shouting"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("caller_agitation_rising"),
        "lists the kinds: {stderr}"
    );
    let out = crate::common::callpulse(&["earcons", "--level-db", "-3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("earcon.level_dbfs"),
        "names the field: {stderr}"
    );
}
