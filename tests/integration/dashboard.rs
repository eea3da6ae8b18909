//! The dashboard in a real browser: headless Chromium driven through chromedriver
//! (fantoccini), against a server started in-process, with two calls streamed in real time by
//! `callpulse send` (separate processes): one over AudioHook (signed), one over Twilio.
//!
//! Checked: the pages need the token (401 without; the token sets the cookie the pages'
//! sockets use), the floor shows a tile per live call, an alert appears on the page within
//! 1 s of the server raising it (server `at` vs the page's `data-shown-at`, printed), the agent
//! page shows the coaching message, a call that ends moves to the finished list, and the call
//! page shows the summary. Screenshots of the three pages are written to the temp directory.
//!
//! Needs `chromium` and `chromium-driver` (`scripts/setup --test`). Without them the test is
//! skipped with a message, unless `CALLPULSE_REQUIRE_BROWSER` is set (CI), where it fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::server::ServerConfig;
use callpulse::server::config::ApiKey;
use callpulse::server::ingest::Protocol;
use callpulse::simulate::{RenderOptions, Script, render};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use crate::common::*;

const TOKEN: &str = "dashboard-test-token";
/// The AudioHook key and secret of the spec's example.
const AUDIOHOOK_KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const AUDIOHOOK_SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
const TWILIO_TOKEN: &str = "dashboard-test-twilio";

/// `name` on the PATH (or in /usr/bin).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// chromedriver, started in its own process group on a free loopback port; dropping it kills
/// the group (chromedriver and the Chromium it started), also when the test fails.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start(driver: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let me = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (process_group(0)); only that group is signalled
        // (a pid of 0 or 1 would mean "everyone": refused).
        if let Ok(pgid) = i32::try_from(self.child.id())
            && pgid > 1
        {
            // SAFETY: kill(2) with a negative pid signals exactly the process group `pgid`,
            // which is chromedriver's own group (and the Chromium it started).
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `callpulse send` streaming a WAV in real time, as its own process; killed when dropped
/// (a failed assertion), waited for by [`Sender::finish`].
struct Sender {
    child: Child,
    what: &'static str,
}

impl Sender {
    fn start(what: &'static str, args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_callpulse"))
            .arg("send")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start callpulse send");
        Self { child, what }
    }

    /// Waits for the sender to end and checks it succeeded.
    fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{}: send did not end", self.what);
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(status.success(), "{}: send failed: {err}", self.what);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The 16 s call of the live test at 8 kHz: the caller interrupts at 1.6 s, the agent talks
/// over the caller at 5.75 s (`agent_interrupting`, about 6.3 s into the call).
fn interrupting_call() -> (u32, Vec<f32>, Vec<f32>) {
    let utt = root().join("tests/fixtures/utterances");
    let text = interrupting_script(8000);
    let script = Script::parse(&text, &utt).unwrap();
    let call = render(&script, &RenderOptions::default()).unwrap();
    (call.rate, call.agent, call.caller)
}

/// A plain HTTP/1.1 GET: status line and headers, and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// Runs `js` (a function body returning a value) until it returns something truthy.
async fn wait_for(client: &Client, what: &str, js: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = client.execute(js, vec![]).await.unwrap();
        let truthy = match &v {
            Value::Null | Value::Bool(false) => false,
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.unwrap();
    let path = std::env::temp_dir().join(format!("callpulse-dashboard-{name}.png"));
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

#[test]
fn dashboard_in_headless_chromium() {
    let required = std::env::var_os("CALLPULSE_REQUIRE_BROWSER").is_some();
    let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
        assert!(
            !required,
            "CALLPULSE_REQUIRE_BROWSER is set but chromium/chromedriver are missing \
             (install with scripts/setup --test)"
        );
        eprintln!(
            "SKIPPED dashboard_in_headless_chromium: chromium and chromedriver not found \
             (install with scripts/setup --test; set CALLPULSE_REQUIRE_BROWSER=1 to fail instead)"
        );
        return;
    };
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The server, in-process on a free port.
    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 2,
        output_dir: Some(dir.path().join("calls")),
        dashboard_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    };
    let mut config = config;
    config.audiohook.keys.push(ApiKey {
        key: AUDIOHOOK_KEY.into(),
        secret: AUDIOHOOK_SECRET.into(),
    });
    config.twilio.tokens.push(TWILIO_TOKEN.into());
    let server = rt.block_on(TestServer::start(config));
    let (addr, floor) = (server.addr, Arc::clone(&server.floor));
    let base = format!("http://{addr}");

    // Access rules and headers, over plain HTTP.
    let (head, body) = http_get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(body.contains("?token="), "the 401 page says how to log in");
    let (head, _) = http_get(addr, &format!("/?token={TOKEN}"));
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(lower.contains("content-type: text/html"), "{head}");
    assert!(lower.contains("cache-control: no-cache"), "{head}");
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(
        lower.contains("set-cookie: callpulse_token=") && lower.contains("httponly"),
        "{head}"
    );
    assert!(lower.contains("samesite=strict"), "{head}");
    let (head, _) = http_get(addr, "/assets/floor.js");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = http_get(addr, &format!("/assets/floor.js?token={TOKEN}"));
    assert!(
        head.to_ascii_lowercase().contains("text/javascript"),
        "{head}"
    );

    rt.block_on(async {
        // Killed when this block ends, also by a failed assertion (unwinding drops it).
        let driver = Chromedriver::start(&driver);
        let webdriver = format!("http://127.0.0.1:{}", driver.port);
        let profile = dir.path().join("chromium-profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("start a Chromium session");

        // Without the token: the 401 page.
        client.goto(&format!("{base}/")).await.unwrap();
        let text = client.find(fantoccini::Locator::Css("body")).await.unwrap();
        let text = text.text().await.unwrap();
        assert!(text.contains("401"), "{text}");

        // With the token: the floor, empty, live.
        client.goto(&format!("{base}/?token={TOKEN}")).await.unwrap();
        wait_for(
            &client,
            "the floor socket",
            "return document.getElementById('conn').dataset.state === 'live';",
            Duration::from_secs(10),
        )
        .await;
        let url = client.current_url().await.unwrap();
        assert!(!url.as_str().contains("token"), "token left in the address: {url}");

        // Two calls, streamed in real time by `callpulse send`: the interrupting call over
        // AudioHook, the demo call over Twilio.
        let (rate, agent, caller) = interrupting_call();
        let wav_a = dir.path().join("interrupting.wav");
        write_wav_i16(&wav_a, rate, &[agent, caller]);
        let demo = demo_call();
        let sender_a = Sender::start(
            "audiohook",
            &[
                &format!("ws://{addr}/audiohook"),
                wav_a.to_str().unwrap(),
                "--api-key",
                AUDIOHOOK_KEY,
                "--client-secret",
                AUDIOHOOK_SECRET,
            ],
        );
        let sender_b = Sender::start(
            "twilio",
            &[
                &format!("ws://{addr}/twilio"),
                demo.to_str().unwrap(),
                "--protocol",
                "twilio",
                "--token",
                TWILIO_TOKEN,
            ],
        );
        // The server's ids of the two calls, by protocol.
        let deadline = Instant::now() + Duration::from_secs(10);
        let (id_a, id_b) = loop {
            let live = floor.calls().live;
            let id = |p: Protocol| live.iter().find(|t| t.protocol == p).map(|t| t.id.clone());
            if let (Some(a), Some(b)) = (id(Protocol::AudioHook), id(Protocol::Twilio)) {
                break (a, b);
            }
            assert!(Instant::now() < deadline, "the two calls did not open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let (id_a, id_b) = (id_a.as_str(), id_b.as_str());

        let ids = wait_for(
            &client,
            "two tiles",
            "const t = [...document.querySelectorAll('#live .tile')].map(e => e.dataset.call);
             return t.length === 2 ? t : null;",
            Duration::from_secs(5),
        )
        .await;
        let mut ids: Vec<String> = serde_json::from_value(ids).unwrap();
        ids.sort();
        let mut expected = vec![id_a.to_string(), id_b.to_string()];
        expected.sort();
        assert_eq!(ids, expected);

        // The alert, on screen within 1 s of the server raising it.
        let shown = wait_for(
            &client,
            "an alert on the floor",
            &format!(
                "const e = document.querySelector('#live .tile[data-call=\"{id_a}\"] .latest-alert[data-alert-at]');
                 return e ? [e.dataset.alertAt, e.dataset.shownAt, e.dataset.kind, e.textContent] : null;"
            ),
            Duration::from_secs(15),
        )
        .await;
        let at: f64 = shown[0].as_str().unwrap().parse().unwrap();
        let shown_ms: f64 = shown[1].as_str().unwrap().parse().unwrap();
        let delay = shown_ms / 1000.0 - at;
        println!(
            "alert {} ({}) raised at {at:.3}, shown {delay:.3} s later",
            shown[2], shown[3]
        );
        assert_eq!(shown[2], "agent_interrupting");
        assert!(
            (-0.05..=1.0).contains(&delay),
            "alert-to-screen delay {delay:.3} s"
        );
        // The tile's figures are rendered.
        let tile = wait_for(
            &client,
            "tile figures",
            &format!(
                "const t = document.querySelector('#live .tile[data-call=\"{id_a}\"]');
                 return t && t.querySelector('.alert-count').textContent.startsWith('1 alert')
                     ? t.textContent : null;"
            ),
            Duration::from_secs(2),
        )
        .await;
        assert!(tile.as_str().unwrap().contains("agent talk"), "{tile}");
        tokio::time::sleep(Duration::from_millis(700)).await;
        screenshot(&client, "floor").await;

        // The agent page (the cookie authenticates it): the coaching message.
        client
            .goto(&format!("{base}/agent/{id_a}"))
            .await
            .unwrap();
        let coaching = wait_for(
            &client,
            "the coaching message",
            "const c = document.getElementById('coaching');
             return c.dataset.alertAt ? [c.className, document.getElementById('coaching-message').textContent] : null;",
            Duration::from_secs(5),
        )
        .await;
        println!("agent page coaching: {coaching}");
        assert!(coaching[0].as_str().unwrap().contains("sev-warn"));
        assert!(coaching[1].as_str().unwrap().contains("let them finish"));
        screenshot(&client, "agent").await;

        // Back on the floor: call A ends (its audio is 16 s) and moves to the finished list.
        client.goto(&format!("{base}/")).await.unwrap();
        let row = wait_for(
            &client,
            "the finished call",
            &format!(
                "const r = document.querySelector('#finished [data-call=\"{id_a}\"]');
                 const live = document.querySelector('#live .tile[data-call=\"{id_a}\"]');
                 return r && !live ? r.textContent : null;"
            ),
            Duration::from_secs(20),
        )
        .await;
        println!("finished row: {row}");
        assert!(row.as_str().unwrap().contains("0:16"), "{row}");
        assert!(row.as_str().unwrap().contains("audiohook"), "{row}");
        sender_a.finish();
        screenshot(&client, "floor-finished").await;

        // The finished call's page: the summary.
        client.goto(&format!("{base}/call/{id_a}")).await.unwrap();
        let rows = wait_for(
            &client,
            "the summary",
            "const s = document.getElementById('summary-section');
             return s.hidden ? null : document.querySelectorAll('#summary tr').length;",
            Duration::from_secs(5),
        )
        .await;
        assert!(rows.as_u64().unwrap() > 10, "{rows}");
        screenshot(&client, "call-finished").await;

        // The live call's page: timeline and figures.
        client.goto(&format!("{base}/call/{id_b}")).await.unwrap();
        wait_for(
            &client,
            "the live call page",
            "return document.getElementById('call-state').dataset.state === 'live';",
            Duration::from_secs(5),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        screenshot(&client, "call").await;
        drop(sender_b); // the demo call runs 60 s: stopped here (the server sees a disconnect)
        client.close().await.unwrap();
        drop(driver);
    });
    rt.block_on(server.stop());
    println!("dashboard test took {:.1} s", began.elapsed().as_secs_f64());
}
