//! `callpulse send`: stream a WAV call into a callpulse (or any) media-stream server as
//! Genesys AudioHook or Twilio Media Streams would.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use callpulse::send::{self, CallAudio, ChannelOrder, Encoding, Protocol, SendOptions, SendReport};

/// The protocol to speak.
#[derive(Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    /// Genesys Cloud AudioHook v2 (binary audio frames, signed upgrade).
    Audiohook,
    /// Twilio Media Streams (JSON media messages, base64 mu-law).
    Twilio,
}

/// AudioHook media format.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// G.711 mu-law, 1 byte per sample.
    Pcmu,
    /// 16-bit linear, little-endian.
    L16,
}

/// AudioHook channel order offered first.
#[derive(Clone, Copy, ValueEnum)]
pub enum OrderArg {
    /// ["external", "internal"]: caller first.
    ExternalFirst,
    /// ["internal", "external"]: agent first.
    InternalFirst,
}

/// Options of `callpulse send`.
#[derive(Args)]
pub struct SendArgs {
    /// Server URL: ws://HOST:PORT[/PATH] (no PATH: /audiohook or /twilio). Only ws:// is
    /// spoken; reach a wss:// endpoint through a TLS-terminating proxy.
    #[arg(value_name = "URL")]
    url: String,
    /// The call: a stereo WAV (one party per channel) or a mono WAV (the caller only). Any
    /// rate; sent at 8 kHz.
    #[arg(value_name = "WAV")]
    wav: PathBuf,
    /// Protocol to speak.
    #[arg(long, value_enum, default_value = "audiohook")]
    protocol: ProtocolArg,
    /// Channel of WAV that carries the agent (0-based).
    #[arg(long, value_name = "N", default_value_t = 0)]
    agent_channel: u16,
    /// Channel of WAV that carries the caller (0-based).
    #[arg(long, value_name = "N", default_value_t = 1)]
    caller_channel: u16,
    /// AudioHook API key (x-api-key header, signature keyid).
    #[arg(long, value_name = "KEY", default_value = "callpulse-test-key")]
    api_key: String,
    /// AudioHook client secret (base64); without it the request is not signed.
    #[arg(long, value_name = "BASE64")]
    client_secret: Option<String>,
    /// AudioHook organization id.
    #[arg(long, value_name = "UUID", default_value = send::DEFAULT_ORG_ID)]
    org_id: String,
    /// AudioHook conversation id [default: a fresh UUID per session].
    #[arg(long, value_name = "UUID")]
    conversation_id: Option<String>,
    /// Twilio token: added to the URL as ?token= and to start.customParameters.token.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// AudioHook media format offered.
    #[arg(long, value_enum, default_value = "pcmu")]
    format: FormatArg,
    /// AudioHook channel order offered first (both are offered).
    #[arg(long, value_enum, default_value = "external-first")]
    channel_order: OrderArg,
    /// AudioHook audio frame length in ms (20-1000).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    frame_ms: u64,
    /// Pace: 1 = real time, 4 = four times faster, 0 or inf = as fast as possible.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    speed: f64,
    /// Number of concurrent sessions of the same WAV, each with its own ids.
    #[arg(long, value_name = "N", default_value_t = 1)]
    calls: usize,
    /// Play the WAV this many times back to back in each session: long calls for soak
    /// tests (a 60 s WAV with --repeat 30 is a 30-minute call).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    repeat: u32,
    /// Delay between the starts of consecutive sessions, in ms.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    ramp_ms: u64,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    json: bool,
}

fn print_text(report: &SendReport) {
    eprintln!(
        "callpulse send: {} to {}: {} ok, {} failed, {} frames, {} bytes, {:.2} s",
        report.protocol,
        report.url,
        report.ok,
        report.failed,
        report.frames_sent,
        report.bytes_sent,
        report.duration_s
    );
    if let Some(l) = report.opened {
        eprintln!(
            "callpulse send: opened latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50_ms, l.p99_ms, l.max_ms
        );
    }
    for s in &report.sessions {
        if let Some(f) = &s.failure {
            eprintln!(
                "callpulse send: session {} ({}): {f}",
                s.index, s.session_id
            );
        } else if let Some(r) = &s.server_reason {
            eprintln!(
                "callpulse send: session {} ({}): ended by the server ({r})",
                s.index, s.session_id
            );
        }
    }
}

/// Runs `callpulse send`.
///
/// # Errors
/// Bad options, an unreadable WAV, or any session that failed.
pub fn run(args: &SendArgs) -> Result<()> {
    let audio = CallAudio::from_wav(&args.wav, args.agent_channel, args.caller_channel)?
        .repeated(args.repeat as usize);
    let opts = SendOptions {
        protocol: match args.protocol {
            ProtocolArg::Audiohook => Protocol::AudioHook,
            ProtocolArg::Twilio => Protocol::Twilio,
        },
        api_key: args.api_key.clone(),
        client_secret: args.client_secret.clone(),
        org_id: args.org_id.clone(),
        conversation_id: args.conversation_id.clone(),
        token: args.token.clone(),
        format: match args.format {
            FormatArg::Pcmu => Encoding::Pcmu,
            FormatArg::L16 => Encoding::L16,
        },
        channel_order: match args.channel_order {
            OrderArg::ExternalFirst => ChannelOrder::ExternalFirst,
            OrderArg::InternalFirst => ChannelOrder::InternalFirst,
        },
        frame: Duration::from_millis(args.frame_ms),
        speed: args.speed,
        calls: args.calls,
        ramp: Duration::from_millis(args.ramp_ms),
        ..SendOptions::default()
    };
    let report = send::run(&args.url, &audio, &opts).context("send")?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print_text(&report);
    }
    if report.failed > 0 {
        let first = report
            .sessions
            .iter()
            .find_map(|s| s.failure.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default();
        bail!(
            "{} of {} sessions failed (first: {first})",
            report.failed,
            report.sessions.len()
        );
    }
    Ok(())
}
