//! The agent view in a real terminal: `callpulse live --input-wav <demo call> --view` inside a
//! detached tmux session, read back with `tmux capture-pane`.
//!
//! Needs tmux; without it the test is skipped with a message, unless
//! `CALLPULSE_REQUIRE_PULSE=1` makes a missing tool a failure.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{callpulse, demo_call, json_lines};

/// A private tmux server (its own socket), killed when the test ends, pass or fail.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self, session: &str) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CALLPULSE_REQUIRE_PULSE").as_deref() != Ok("1"),
            "tmux is missing and CALLPULSE_REQUIRE_PULSE=1 requires it"
        );
        eprintln!("skipping the agent view test: tmux is not installed");
    }
    ok
}

/// The message of the first alert `callpulse analyze` raises on `call`.
fn first_alert_message(call: &Path) -> String {
    let out = callpulse(&["analyze", call.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
        .into_iter()
        .find(|r| r["type"] == "alert")
        .and_then(|r| r["message"].as_str().map(str::to_owned))
        .expect("the demo call raises an alert")
}

/// Polls the screen every 200 ms until `done` holds or `limit` passes; returns the last screen.
fn wait_for(tmux: &Tmux, session: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let screen = tmux.screen(session);
        if done(&screen) || start.elapsed() > limit {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn live_view_shows_the_alert_and_quits_on_q() {
    if !tmux_available() {
        return;
    }
    let call = demo_call();
    let message = first_alert_message(&call);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let unique = format!("callpulse-view-{}", std::process::id());
    let tmux = Tmux {
        socket: unique.clone(),
    };
    let command = format!(
        "'{}' live --input-wav '{}' --view -o '{}'; sleep 30",
        env!("CARGO_BIN_EXE_callpulse"),
        call.display(),
        out.display()
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        &unique,
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    assert!(
        started.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    let screen = wait_for(&tmux, &unique, Duration::from_secs(60), |s| {
        s.contains(&message)
    });
    assert!(
        screen.contains(&message),
        "the alert {message:?} is on screen:\n{screen}"
    );
    assert!(
        screen.contains("Caller") && screen.contains("Agent"),
        "both parties are on screen:\n{screen}"
    );

    let sent = tmux.run(&["send-keys", "-t", &unique, "q"]);
    assert!(sent.status.success());
    // The program ends the call, writes the summary and gives the terminal back.
    let start = Instant::now();
    let ended = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let last = text.lines().last().unwrap_or_default().to_owned();
        if last.contains("\"type\":\"summary\"") || start.elapsed() > Duration::from_secs(10) {
            break last;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        ended.contains("\"type\":\"summary\""),
        "out.jsonl ends with the summary after q; last line: {ended}"
    );
    let screen = tmux.screen(&unique);
    assert!(
        !screen.contains("q: quit"),
        "the view is gone after q:\n{screen}"
    );
}
