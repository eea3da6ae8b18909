//! Live capture without an audio server: the callback side under an allocation guard, and
//! `LiveSource` on WAV files played as cpal devices (cpal's `custom` host).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use assert_no_alloc::assert_no_alloc;
use callpulse::Role;
use callpulse::capture::device::{self, Direction};
use callpulse::capture::ring;
use callpulse::capture::wav_device::{WavDeviceOptions, wav_host};
use callpulse::capture::{CaptureOptions, LiveSource, StreamSpec};
use callpulse::source::{Block, Source};

use crate::common::*;

#[test]
fn the_capture_callback_does_not_allocate() {
    let (mut writer, mut errors, reader) = ring::rings(&[0, 1], 2, 48_000, 9600);
    let i16s: Vec<i16> = (0..960).map(|i| (i * 37 % 2000) as i16).collect();
    let f32s: Vec<f32> = (0..960).map(|i| (i as f32 * 0.01).sin()).collect();
    assert_no_alloc(|| {
        for _ in 0..10 {
            writer.write(&i16s, 1_000_000);
            writer.write(&f32s, 0);
        }
        // Overflow: the ring is full now; chunks are dropped and counted, still no allocation.
        for _ in 0..20 {
            writer.write(&f32s, 0);
        }
        errors.error(cpal::Error::new(cpal::ErrorKind::Xrun));
    });
    assert_eq!(reader.counters().frames.load(Ordering::Relaxed), 9600);
    assert_eq!(
        reader.counters().dropped_frames.load(Ordering::Relaxed),
        20 * 480
    );
    assert_eq!(reader.counters().xruns.load(Ordering::Relaxed), 1);
}

fn wav_stream(path: &std::path::Path, speed: f64) -> StreamSpec {
    let host = wav_host(
        path,
        WavDeviceOptions {
            speed,
            ..WavDeviceOptions::default()
        },
    )
    .unwrap();
    StreamSpec {
        device: device::find(&host, None, Direction::Input).unwrap(),
        parties: vec![(Role::Agent, 0), (Role::Caller, 1)],
        label: path.display().to_string(),
    }
}

/// Reads `source` to its end; returns per-party sample counts and whether any block was a gap.
fn drain(source: &mut LiveSource) -> ([usize; 2], usize) {
    let mut block = Block::with_capacity(2, 4096);
    let mut counts = [0usize; 2];
    let mut gaps = 0;
    while source.read(&mut block).unwrap() {
        for (c, p) in counts.iter_mut().zip(&block.parties) {
            *c += p.samples.len();
        }
        gaps += usize::from(block.parties.iter().any(|p| p.gap));
    }
    (counts, gaps)
}

#[test]
fn live_frames_from_a_wav_device_equal_analyze() {
    // The same samples through the live path (device callback → ring → LiveSource) give the
    // same frames and events as the file path: capture adds no distortion of its own.
    let wav = demo_call();
    let stop = Arc::new(AtomicBool::new(false));
    let options = CaptureOptions {
        duration: Some(Duration::from_secs(20)),
        ..CaptureOptions::default()
    };
    let live = LiveSource::open(vec![wav_stream(&wav, 40.0)], &options, stop).unwrap();
    let config = callpulse::AnalysisConfig::default();
    let (live_frames, live_summary) =
        callpulse::pipeline::analyze_frames(config.clone(), Box::new(live)).unwrap();
    let file = callpulse::source::wav::WavSource::stereo(&wav, 0, 1).unwrap();
    let (file_frames, _) = callpulse::pipeline::analyze_frames(config, Box::new(file)).unwrap();
    assert_eq!(live_frames.len(), 2000);
    // The last frames differ: the live input ends at 20 s, where the file goes on (the pitch
    // tracker looks 2 frames ahead).
    for (a, b) in live_frames.iter().zip(&file_frames).take(1995) {
        assert!(a.captured_at.is_some());
        assert_eq!(a.parties, b.parties, "frame {}", a.index);
    }
    let live = live_summary.live.as_ref().expect("a live section");
    assert_eq!(live.capture[0].frames_dropped, 0);
    assert_eq!(live.capture_to_frame_ms.count, 2000);
}

#[test]
fn a_stalled_analysis_overflows_the_ring_counts_it_and_keeps_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    let rate = 8000;
    let n = rate as usize * 6;
    let ch: Vec<f32> = (0..n).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    write_wav_i16(&path, rate, &[ch.clone(), ch]);
    let stop = Arc::new(AtomicBool::new(false));
    let options = CaptureOptions {
        ring: Duration::from_millis(200),
        ..CaptureOptions::default()
    };
    // 6 s of audio delivered in 0.6 s; the reader sleeps through the first 0.4 s.
    let started = Instant::now();
    let mut source = LiveSource::open(vec![wav_stream(&path, 10.0)], &options, stop).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (counts, gaps) = drain(&mut source);
    let elapsed = started.elapsed();
    let report = &source.capture_reports()[0];
    assert!(report.frames_dropped > 0, "{report:?}");
    assert!(gaps > 0, "dropped frames come back as a gap");
    // The callback never blocked: the device delivered the whole file at its own pace.
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    // Dropped frames were replaced by as many gap frames: the timeline is whole.
    assert_eq!(counts, [n, n], "{report:?}");
    assert_eq!(report.frames + report.frames_dropped, n as u64);
}

#[test]
fn live_reading_does_not_allocate_in_steady_state() {
    let wav = demo_call();
    let stop = Arc::new(AtomicBool::new(false));
    let mut source = LiveSource::open(
        vec![wav_stream(&wav, 20.0)],
        &CaptureOptions::default(),
        stop,
    )
    .unwrap();
    let mut block = Block::with_capacity(2, 4096);
    for _ in 0..20 {
        assert!(source.read(&mut block).unwrap());
    }
    let mut samples = 0;
    assert_no_alloc(|| {
        for _ in 0..300 {
            if source.read(&mut block).unwrap() {
                samples += block.parties[0].samples.len();
                let _ = source.capture_anchor();
            }
        }
    });
    assert!(samples > 8000, "{samples}");
}

#[test]
fn bad_capture_options_and_channels_are_named() {
    let wav = demo_call();
    let stop = Arc::new(AtomicBool::new(false));
    let mut spec = wav_stream(&wav, 1.0);
    spec.parties = vec![(Role::Agent, 0), (Role::Caller, 5)];
    let e = LiveSource::open(vec![spec], &CaptureOptions::default(), Arc::clone(&stop))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("channel 5") && e.contains("2 channels"), "{e}");
    let options = CaptureOptions {
        ring: Duration::from_millis(5),
        ..CaptureOptions::default()
    };
    let e = LiveSource::open(vec![wav_stream(&wav, 1.0)], &options, stop)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("capture.ring"), "{e}");
}

#[test]
fn stop_ends_the_input_cleanly() {
    let wav = demo_call();
    let stop = Arc::new(AtomicBool::new(false));
    let mut source = LiveSource::open(
        vec![wav_stream(&wav, 1.0)],
        &CaptureOptions::default(),
        Arc::clone(&stop),
    )
    .unwrap();
    let mut block = Block::with_capacity(2, 4096);
    assert!(source.read(&mut block).unwrap());
    stop.store(true, Ordering::Relaxed);
    assert!(!source.read(&mut block).unwrap());
}

#[test]
fn two_devices_with_drifting_clocks_are_kept_aligned() {
    // The agent and the caller on two WAV devices; the caller's clock runs 500 ppm fast. The
    // drift loop must find that and resample the caller's stream to the agent's clock. The
    // devices run at 4× real time: faster would multiply the scheduling delays of a loaded
    // machine into seconds of stream-time jitter of the fill levels the loop measures.
    let dir = tempfile::tempdir().unwrap();
    let rate = 8000u32;
    let n = rate as usize * 90;
    let tone = |hz: f32| -> Vec<f32> {
        (0..n)
            .map(|i| 0.2 * (i as f32 * hz * std::f32::consts::TAU / rate as f32).sin())
            .collect()
    };
    let (agent, caller) = (dir.path().join("agent.wav"), dir.path().join("caller.wav"));
    write_wav_i16(&agent, rate, &[tone(200.0)]);
    write_wav_i16(&caller, rate, &[tone(300.0)]);
    let device = |path: &std::path::Path, ppm: f64, role: Role| {
        let host = wav_host(
            path,
            WavDeviceOptions {
                speed: 4.0,
                clock_ppm: ppm,
                ..WavDeviceOptions::default()
            },
        )
        .unwrap();
        StreamSpec {
            device: device::find(&host, None, Direction::Input).unwrap(),
            parties: vec![(role, 0)],
            label: path.display().to_string(),
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let options = CaptureOptions {
        duration: Some(Duration::from_secs(80)),
        ..CaptureOptions::default()
    };
    let mut source = LiveSource::open(
        vec![
            device(&agent, 0.0, Role::Agent),
            device(&caller, 500.0, Role::Caller),
        ],
        &options,
        stop,
    )
    .unwrap();
    let (counts, _) = drain(&mut source);
    let report = &source.capture_reports()[1];
    let ppm = report.drift_ppm.unwrap();
    eprintln!(
        "drift corrected: {ppm} ppm; samples agent {} caller {}",
        counts[0], counts[1]
    );
    assert!(
        (-700.0..=-300.0).contains(&ppm),
        "correction {ppm} ppm for a +500 ppm clock"
    );
    // Both parties got the same amount of audio (within 20 ms).
    assert!(counts[0].abs_diff(counts[1]) < 160, "{counts:?}");
}
