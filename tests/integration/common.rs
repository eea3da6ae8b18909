//! Helpers shared by the integration tests: WAV writing, test signals, running the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The AMI fixture directory (licensed CC BY 4.0, see its NOTICE.md).
pub fn ami(name: &str) -> PathBuf {
    root().join("tests/fixtures/ami").join(name)
}

/// The demo call shipped in the repository.
pub fn demo_call() -> PathBuf {
    root().join("assets/demo/auto_repairs_60s_stereo.wav")
}

/// Writes 16-bit PCM channels (equal lengths) to `path`.
pub fn write_wav_i16(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16)
                .unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Writes 32-bit float channels (values kept as given, NaN included) to `path`.
pub fn write_wav_f32(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample(ch[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Reads a mono or multi-channel WAV as per-channel f32.
pub fn read_wav(path: &Path) -> (u32, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
    let mut out = vec![Vec::new(); n];
    for (i, s) in r.samples::<i32>().enumerate() {
        out[i % n].push(s.unwrap() as f32 * scale);
    }
    (spec.sample_rate, out)
}

/// A harmonic complex (1/k amplitudes) at `f0`, `amp` peak-ish, from `start` to `end` seconds
/// within `total` seconds, with 10 ms raised-cosine edges.
pub fn voice(rate: u32, total: f32, f0: f32, start: f32, end: f32, amp: f32) -> Vec<f32> {
    let n = (total * rate as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            if t < start || t >= end {
                return 0.0;
            }
            let edge = ((t - start).min(end - t) / 0.01).min(1.0);
            let env = 0.5 - 0.5 * (std::f32::consts::PI * edge).cos();
            let mut s = 0.0;
            let mut k = 1;
            while (k as f32) * f0 < rate as f32 / 2.0 && k <= 20 {
                s += (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin() / k as f32;
                k += 1;
            }
            s * amp * env
        })
        .collect()
}

/// Writes an 8 kHz stereo call of `secs` seconds to `dir/call.wav`: on the agent channel a
/// voice at `agent.0` Hz from `agent.1` to `agent.2` s, on the caller channel likewise.
pub fn two_voice_call(
    dir: &Path,
    secs: f32,
    agent: (f32, f32, f32),
    caller: (f32, f32, f32),
) -> PathBuf {
    let p = dir.join("call.wav");
    let rate = 8000;
    write_wav_i16(
        &p,
        rate,
        &[
            voice(rate, secs, agent.0, agent.1, agent.2, 0.3),
            voice(rate, secs, caller.0, caller.1, caller.2, 0.3),
        ],
    );
    p
}

/// Runs the `callpulse` binary.
pub fn callpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callpulse"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run callpulse")
}

/// Parses JSON Lines output.
pub fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The summary record (the last line).
pub fn summary(out: &[u8]) -> serde_json::Value {
    let lines = json_lines(out);
    let last = lines.last().expect("some output").clone();
    assert_eq!(last["type"], "summary", "the last line is the summary");
    last
}

/// Asserts a failed run printed one clear line naming `file` and containing `what`.
pub fn assert_one_line_error(out: &Output, file: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code 1, not a panic: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(!stderr.contains("backtrace"), "no backtrace: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("callpulse: error: "), "{stderr}");
    assert!(lines[0].contains(file), "names the file {file}: {stderr}");
    assert!(
        lines[0].to_lowercase().contains(&what.to_lowercase()),
        "says {what:?}: {stderr}"
    );
}

/// A frame where each party talks (`Some(active)`) or not (`None`).
pub fn talk(
    index: u64,
    agent: Option<bool>,
    caller: Option<bool>,
    gap: bool,
) -> callpulse::record::FrameRecord {
    let party = |s: Option<bool>| callpulse::features::PartyFeatures {
        speech: s.is_some(),
        active: s.unwrap_or(false),
        extent: s.unwrap_or(false),
        onset_lead: 0,
        f0_hz: None,
        voicing: 0.0,
        loudness_db: -30.0,
        lufs_m: -30.0,
        gap,
        agitation: None,
        band_power: [0.0; 5],
    };
    callpulse::record::FrameRecord {
        index,
        t: (index as f64 + 0.5) * 0.01,
        parties: [Some(party(agent)), Some(party(caller))],
        captured_at: None,
    }
}

/// `callpulse serve` running in-process on the current tokio runtime (started with
/// [`TestServer::start`]); [`TestServer::stop`] shuts it down and checks it ended cleanly.
/// Dropping it without `stop` stops it too, unchecked.
pub struct TestServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its floor.
    pub floor: std::sync::Arc<callpulse::server::Floor>,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Result<(), callpulse::Error>>,
}

impl TestServer {
    /// Starts the server with `config` and the default analysis; returns once it listens.
    pub async fn start(config: callpulse::server::ServerConfig) -> Self {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(callpulse::server::run(
            config,
            callpulse::AnalysisConfig::default(),
            move |s| {
                let _ = ready_tx.send((s.local_addr, std::sync::Arc::clone(&s.floor)));
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let (addr, floor) = tokio::time::timeout(std::time::Duration::from_secs(10), ready_rx)
            .await
            .expect("the server listens within 10 s")
            .expect("the server started");
        Self {
            addr,
            floor,
            stop,
            handle,
        }
    }

    /// Shuts the server down and waits for it: it must end without an error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// Polls `done` every 20 ms on the current tokio runtime until it holds or `limit` has
/// passed; the caller asserts on the state afterwards, so a timeout fails there with its values.
pub async fn settle(limit: std::time::Duration, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The script (`callpulse simulate` format) of a 16 s two-party call at `rate` built from the
/// EmoDB fixtures: the caller interrupts at 1.6 s, the agent talks over the caller at 5.75 s
/// (one interruption by each party, as `analyze` finds them).
pub fn interrupting_script(rate: u32) -> String {
    let utt = root().join("tests/fixtures/utterances");
    let u = |name: &str| utt.join(name).display().to_string();
    format!(
        "rate {rate}\n\
         caller 0.30 {} gain_db=-3\n\
         agent  1.00 {} gain_db=-3\n\
         caller 5.00 {} gain_db=-3\n\
         agent  5.60 {} gain_db=-3\n\
         agent  10.0 {} gain_db=-3\n\
         caller 13.5 {} gain_db=-3\n",
        u("03a05Wa.wav"),
        u("08a01Na.wav"),
        u("03b01Wa.wav"),
        u("08b01Na.wav"),
        u("08a05Nb.wav"),
        u("03a01Nc.wav"),
    )
}
