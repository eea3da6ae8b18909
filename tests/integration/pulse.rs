//! A headless PulseAudio server for live-capture tests (recipe: `shared/LIVE-AUDIO.md`).
//!
//! Each [`PulseServer`] runs its own `pulseaudio` daemon in a private temporary directory with
//! null sinks (virtual output devices whose `.monitor` sources record what is played to them),
//! so tests can run in parallel and need no sound card. Programs that should talk to it are
//! started with [`PulseServer::command`], which points them at the server through the
//! environment. The server is killed when the value is dropped, and exits by itself if the test
//! process dies (20 s after its last client disconnects).
//!
//! Without the `pulseaudio` program the tests that need it are skipped with a message, unless
//! `CALLPULSE_REQUIRE_PULSE=1` (set by `.ci/run`, which installs it), where that is a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PulseAudio server with null sinks.
pub struct PulseServer {
    dir: tempfile::TempDir,
    child: Child,
}

/// Whether the tests must have a PulseAudio server (CI installs one).
fn required() -> bool {
    std::env::var("CALLPULSE_REQUIRE_PULSE").is_ok_and(|v| v == "1")
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl PulseServer {
    /// Starts a server with one null sink per name in `sinks` (2 channels, 48 kHz). The first
    /// sink is the default output and its monitor the default input. Returns `None` (after
    /// saying why on stderr) when PulseAudio is not installed and not required.
    pub fn start(test: &str, sinks: &[&str]) -> Option<PulseServer> {
        for program in ["pulseaudio", "pactl", "paplay"] {
            if !have(program) {
                assert!(
                    !required(),
                    "{test}: `{program}` is missing and CALLPULSE_REQUIRE_PULSE=1"
                );
                eprintln!(
                    "SKIPPED {test}: `{program}` is not installed (apt-get install pulseaudio pulseaudio-utils)"
                );
                return None;
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("callpulse-pa-")
            .tempdir()
            .expect("temporary directory");
        let home = dir.path().join("home");
        let run = dir.path().join("run");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&run).expect("runtime dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir mode");
        }
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "--daemonize=no",
            "-n",
            // Stops by itself 20 s after its last client left, should a test die without
            // dropping it.
            "--exit-idle-time=20",
            "--log-target=stderr",
            "--disallow-exit=no",
            "-L",
            "module-native-protocol-unix auth-anonymous=1",
        ]);
        for name in sinks {
            cmd.args([
                "-L",
                &format!("module-null-sink sink_name={name} rate=48000 channels=2"),
            ]);
        }
        let log = std::fs::File::create(dir.path().join("pulse.log")).expect("log file");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        Self::environment(&mut cmd, dir.path());
        let child = cmd.spawn().expect("start pulseaudio");
        let server = PulseServer { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = server
                .command("pactl")
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{test}: PulseAudio did not start; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(first) = sinks.first() {
            server.pactl(&["set-default-sink", first]);
            server.pactl(&["set-default-source", &format!("{first}.monitor")]);
        }
        Some(server)
    }

    fn environment(cmd: &mut Command, dir: &Path) {
        let run = dir.join("run");
        cmd.env("HOME", dir.join("home"))
            .env("XDG_RUNTIME_DIR", &run)
            .env(
                "PULSE_SERVER",
                format!("unix:{}", run.join("pulse/native").display()),
            )
            .env_remove("PULSE_SINK")
            .env_remove("PULSE_SOURCE");
    }

    /// A command for `program` that talks to this server.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        Self::environment(&mut cmd, self.dir.path());
        cmd
    }

    /// Runs `pactl` with `args` and panics with its output when it fails.
    pub fn pactl(&self, args: &[&str]) -> String {
        let out = self.command("pactl").args(args).output().expect("pactl");
        assert!(
            out.status.success(),
            "pactl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Plays `wav` into `sink` with a low latency (plain `paplay` asks for ~2 s of buffer).
    pub fn play(&self, wav: &Path, sink: &str) -> Child {
        self.command("paplay")
            .args([&format!("--device={sink}"), "--latency-msec=20"])
            .arg(wav)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("paplay")
    }

    /// Records `source` (e.g. `earcons.monitor`) as 16-bit WAV into `out` until killed.
    pub fn record(&self, source: &str, out: &Path) -> Child {
        self.command("parecord")
            .args([
                &format!("--device={source}"),
                "--file-format=wav",
                "--format=s16le",
                "--rate=48000",
                "--channels=2",
                "--latency-msec=20",
            ])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("parecord")
    }

    /// The server's process id (a fault test kills it mid-call).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pulse.log")).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the server.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        self.kill();
    }
}
