//! `callpulse earcons`: play the headset earcons, to preview the cues and check the level.

use anyhow::{Context, Result, bail};
use clap::Args;
use cpal::traits::DeviceTrait;

use callpulse::alert::AlertKind;
use callpulse::alert::Severity;
use callpulse::capture::device::{Direction, find, host};
use callpulse::earcon::pattern::{ALL_KINDS, passes};
use callpulse::earcon::{EarconConfig, EarconSink, pattern};

/// Arguments of `callpulse earcons`.
#[derive(Args, Debug)]
pub struct EarconsArgs {
    /// Output device: its name, its id (`pulseaudio:headset` or `headset`) or a fragment
    /// matching one device [default: the host's default output].
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Audio host (e.g. `pulseaudio`, `alsa`) [default: PulseAudio when running, else ALSA].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The alert kind to play (e.g. `caller_agitation_rising`), or `all` to play each in turn.
    #[arg(long, value_name = "KIND", default_value = "all")]
    pub kind: String,
    /// Severity: `critical` plays the pattern twice.
    #[arg(long, value_name = "LEVEL", default_value = "warn", value_parser = ["warn", "critical"])]
    pub severity: String,
    /// Peak level in dBFS (-60 to -6).
    #[arg(long, value_name = "DB", default_value_t = -20.0, allow_negative_numbers = true)]
    pub level_db: f32,
}

/// Plays the earcon(s) asked for on the chosen device, printing each kind's name and meaning.
///
/// # Errors
/// An unknown kind, an invalid level, a host or device that cannot be found or opened (the
/// message lists the output devices), or a stream that did not play.
pub fn run(args: &EarconsArgs) -> Result<()> {
    let kinds = if args.kind == "all" {
        ALL_KINDS.to_vec()
    } else {
        match AlertKind::from_name(&args.kind) {
            Some(k) => vec![k],
            None => {
                let names: Vec<&str> = ALL_KINDS.iter().map(|k| k.name()).collect();
                bail!(
                    "unknown alert kind {:?}; kinds: all, {}",
                    args.kind,
                    names.join(", ")
                );
            }
        }
    };
    let severity = if args.severity == "critical" {
        Severity::Critical
    } else {
        Severity::Warn
    };
    let config = EarconConfig {
        level_dbfs: args.level_db,
        ..EarconConfig::default()
    };
    config.validate()?;
    let host = host(args.host.as_deref())?;
    let device = find(&host, args.device.as_deref(), Direction::Output)?;
    let mut sink = EarconSink::open(&device, config)?;
    let (rate, channels) = sink.format();
    eprintln!(
        "playing on {} ({rate} Hz, {channels} channels) at {} dBFS peak",
        device
            .id()
            .map_or_else(|_| "the output device".to_string(), |id| id.to_string()),
        args.level_db
    );
    // A fresh device may take a couple of seconds to ask for its first buffer.
    let start_wait = std::time::Duration::from_secs(4);
    for (i, kind) in kinds.iter().enumerate() {
        let p = pattern(*kind);
        println!("{:<24} {}", kind.name(), p.meaning);
        sink.play(*kind, severity);
        let length =
            std::time::Duration::from_millis(u64::from(p.duration_ms() * passes(severity)));
        let wait = if i == 0 {
            length + start_wait
        } else {
            length * 2
        };
        if !sink.wait_idle(wait) {
            let stats = sink.stats();
            bail!(
                "the output device did not play the earcon within {wait:?} ({} callbacks, {} stream errors)",
                stats.callbacks,
                stats.stream_errors
            );
        }
        if i + 1 < kinds.len() {
            // A pause between previews so each is heard on its own.
            std::thread::sleep(std::time::Duration::from_millis(600));
        }
    }
    callpulse::sink::Sink::finish(&mut sink).context("closing the output stream")?;
    Ok(())
}
