//! `callpulse live`: analyse a call as it happens, from audio devices.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use callpulse::Role;
use callpulse::capture::device::{self, Direction};
use callpulse::capture::wav_device::{WavDeviceOptions, wav_host};
use callpulse::capture::{CaptureOptions, LiveSource, StreamSpec};
use callpulse::earcon::{EarconConfig, EarconSink};
use callpulse::pipeline::{Overflow, Pipeline, RunReport};
use callpulse::sink::JsonlSink;
use callpulse::source::Source;
use callpulse::summary::Summary;
use callpulse::view::{AgentView, ViewOptions};

use crate::Tuning;

/// Options of `callpulse live`.
#[derive(Args)]
pub struct LiveArgs {
    /// Audio host: alsa or pulseaudio [default: PulseAudio when its server runs, else ALSA].
    /// `callpulse devices` lists hosts and devices.
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Input device carrying both parties as channels [default: the default input]. An id
    /// (`pulseaudio:vsink.monitor`), the part after the host, the name, or a fragment only
    /// it has.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["agent_device", "caller_device"])]
    device: Option<String>,
    /// The agent's channel on the device (or on --agent-device).
    #[arg(long, value_name = "N", default_value_t = 0)]
    agent_channel: u16,
    /// The caller's channel on the device (or on --caller-device).
    #[arg(long, value_name = "N", default_value_t = 1)]
    caller_channel: u16,
    /// A one-channel device carries only this party (agent or caller).
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// The agent's own device (with --caller-device: two devices, two clocks, drift
    /// corrected).
    #[arg(long, value_name = "NAME", requires = "caller_device")]
    agent_device: Option<String>,
    /// The caller's own device (with --agent-device).
    #[arg(long, value_name = "NAME", requires = "agent_device")]
    caller_device: Option<String>,
    /// Play this WAV file as if it were a live input device (no audio server needed): for
    /// demos, rehearsals and tests. Channel map as for --device.
    #[arg(long, value_name = "WAV", conflicts_with_all = ["device", "agent_device", "caller_device", "host"])]
    input_wav: Option<PathBuf>,
    /// With --input-wav: play faster than real time (2 = twice as fast).
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "input_wav")]
    speed: f64,
    /// Sample rate to record at [default: the device's].
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// Device buffer to ask for, in ms (the backend may choose another).
    #[arg(long, value_name = "MS", default_value_t = 10)]
    buffer_ms: u32,
    /// Ring between the audio callback and the analysis, in ms: how long the analysis may
    /// stall before samples are dropped (counted, and a gap in the timeline).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    ring_ms: u32,
    /// Stop after this many seconds of audio [default: until Ctrl-C or SIGTERM].
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Write JSON Lines here [default: stdout].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write per-frame records (100 per second).
    #[arg(long)]
    frames: bool,
    /// Play a short, quiet tone pattern for every alert on this output device (the agent's
    /// headset); `callpulse earcons` previews them. Rate-limited: at most one every 3 s, the
    /// same kind at most every 20 s.
    #[arg(long, value_name = "NAME")]
    earcon_device: Option<String>,
    /// Peak level of the earcons in dBFS (-60 to -6).
    #[arg(long, value_name = "DB", default_value_t = -20.0, allow_negative_numbers = true)]
    earcon_level_db: f32,
    /// Show the agent view in this terminal: who speaks, loudness and pitch, the caller's
    /// agitation and its trend, talk ratio, the latest alerts with their coaching message.
    /// `q`, Esc or Ctrl-C ends the call. JSON Lines then go only to --output.
    #[arg(long)]
    view: bool,
    /// A line of latency, ring fill, drops and xruns on stderr every 5 s.
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    tuning: Tuning,
}

fn role(s: Option<&str>) -> Result<Role> {
    match s {
        None => Ok(Role::Agent),
        Some(r) => r.parse().map_err(anyhow::Error::msg),
    }
}

fn party_map(device: &cpal::Device, args: &LiveArgs) -> Result<Vec<(Role, u16)>> {
    use cpal::traits::DeviceTrait;
    let channels = device
        .default_input_config()
        .map(|c| c.channels())
        .unwrap_or(2);
    if channels == 1 || args.role.is_some() {
        let r = role(args.role.as_deref())?;
        let ch = match r {
            Role::Agent if channels > 1 => args.agent_channel,
            Role::Caller if channels > 1 => args.caller_channel,
            _ => 0,
        };
        return Ok(vec![(r, ch)]);
    }
    if args.agent_channel == args.caller_channel {
        bail!("--agent-channel and --caller-channel must differ");
    }
    Ok(vec![
        (Role::Agent, args.agent_channel),
        (Role::Caller, args.caller_channel),
    ])
}

/// The streams to open, from the arguments.
fn streams(args: &LiveArgs) -> Result<Vec<StreamSpec>> {
    if let Some(path) = &args.input_wav {
        if !(args.speed.is_finite() && args.speed > 0.0) {
            bail!("--speed must be a positive number");
        }
        let host = wav_host(
            path,
            WavDeviceOptions {
                speed: args.speed,
                ..WavDeviceOptions::default()
            },
        )?;
        let dev = device::find(&host, None, Direction::Input)?;
        let parties = party_map(&dev, args)?;
        return Ok(vec![StreamSpec {
            device: dev,
            parties,
            label: path.display().to_string(),
        }]);
    }
    let host = device::host(args.host.as_deref())?;
    match (&args.agent_device, &args.caller_device) {
        (Some(a), Some(c)) => {
            let agent = device::find(&host, Some(a), Direction::Input)?;
            let caller = device::find(&host, Some(c), Direction::Input)?;
            let ch = |d: &cpal::Device, wanted: u16| {
                use cpal::traits::DeviceTrait;
                let n = d.default_input_config().map(|c| c.channels()).unwrap_or(1);
                if n == 1 { 0 } else { wanted }
            };
            Ok(vec![
                StreamSpec {
                    parties: vec![(Role::Agent, ch(&agent, args.agent_channel))],
                    device: agent,
                    label: a.clone(),
                },
                StreamSpec {
                    parties: vec![(Role::Caller, ch(&caller, args.caller_channel))],
                    device: caller,
                    label: c.clone(),
                },
            ])
        }
        _ => {
            let dev = device::find(&host, args.device.as_deref(), Direction::Input)?;
            let parties = party_map(&dev, args)?;
            Ok(vec![StreamSpec {
                device: dev,
                parties,
                label: args
                    .device
                    .clone()
                    .unwrap_or_else(|| "default input".into()),
            }])
        }
    }
}

/// Runs `callpulse live`.
pub fn run(args: &LiveArgs) -> Result<()> {
    // Causal pitch by default: the look-ahead would add its frames to every cue's latency.
    let config = args.tuning.config_with_lookahead(Some(0))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // Ctrl-C and SIGTERM (the `termination` feature) end the call cleanly: what is in the
        // rings is analysed, sinks are flushed, the summary is written.
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("cannot install the Ctrl-C/SIGTERM handler")?;
    }
    let duration = match args.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => bail!("--duration must be a positive number"),
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let options = CaptureOptions {
        sample_rate: args.rate,
        buffer: Duration::from_millis(u64::from(args.buffer_ms)),
        ring: Duration::from_millis(u64::from(args.ring_ms)),
        duration,
        ..CaptureOptions::default()
    };
    let source = LiveSource::open(streams(args)?, &options, Arc::clone(&stop))?;
    let monitor = source.monitor();
    let parties: Vec<String> = source
        .info()
        .parties
        .iter()
        .map(|p| format!("{} = {} at {} Hz", p.role, p.label, p.sample_rate))
        .collect();
    let mut announced = false;
    let mut pipeline = Pipeline::new(config).frames(args.frames).name("live");
    pipeline = match &args.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("{}: cannot create the output file", path.display()))?;
            pipeline.sink(JsonlSink::new(file), Overflow::DropNewest)
        }
        // The view owns the terminal: JSON Lines only to a file then.
        None if args.view => pipeline,
        None => pipeline.sink(JsonlSink::new(io::stdout()), Overflow::DropNewest),
    };
    let mut earcons = None;
    if let Some(name) = &args.earcon_device {
        let host = device::host(if args.input_wav.is_some() {
            None
        } else {
            args.host.as_deref()
        })?;
        let out = device::find(&host, Some(name), Direction::Output)?;
        let config = EarconConfig {
            level_dbfs: args.earcon_level_db,
            ..EarconConfig::default()
        };
        let sink = EarconSink::open(&out, config)?;
        earcons = Some(sink.stats_handle());
        pipeline = pipeline.sink_with_capacity(sink, Overflow::DropNewest, 64);
    }
    if args.view {
        let name = match (&args.input_wav, &args.device) {
            (Some(p), _) => p
                .file_stem()
                .map_or_else(|| "call".into(), |s| s.to_string_lossy().into_owned()),
            (None, Some(d)) => d.clone(),
            (None, None) => "live call".into(),
        };
        let view = AgentView::new(ViewOptions::new(name, Arc::clone(&stop)))?;
        pipeline = pipeline.sink_with_capacity(view, Overflow::DropNewest, 1024);
    }
    let started = Instant::now();
    let running = pipeline.spawn(Box::new(source))?;
    let mut next_stats = started + Duration::from_secs(5);
    while !running.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
        if !announced && monitor.started() && !args.view {
            announced = true;
            eprintln!(
                "callpulse: capturing: {}; Ctrl-C to stop",
                parties.join(", ")
            );
        }
        if args.stats && !args.view && Instant::now() >= next_stats {
            next_stats += Duration::from_secs(5);
            let c = monitor.snapshot();
            let l = running.latency();
            eprintln!(
                "callpulse: live {:.0} s: capture→features p50 {:.1} ms p99 {:.1} ms, \
                 capture→alert p99 {:.1} ms ({} alerts), ring max {:.0} %, {} frames dropped, {} xruns",
                running.progress_s(),
                l.frame_p50_ms,
                l.frame_p99_ms,
                l.alert_p99_ms,
                l.alerts,
                c.ring_fill_max_pct,
                c.dropped,
                c.xruns
            );
        }
    }
    let (report, failure) = running.wait_with_failure()?;
    let mut line = summary_line(&report, failure.is_some());
    if let Some(stats) = earcons {
        let e = stats.get();
        line.push_str(&format!(
            "; earcons played {}, rate-limited {}, dropped {}",
            e.played, e.rate_limited, e.dropped
        ));
    }
    eprintln!("{line}");
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The one line written on stderr when a live call ends.
fn summary_line(report: &RunReport, failed: bool) -> String {
    let s: &Summary = &report.summary;
    let (c, a) = (&s.conversation.alerts, &s.agitation);
    let alerts = u64::from(
        c.agent_interrupting
            + c.agent_monologue
            + c.dead_air
            + a.caller_agitation_rising
            + a.agent_loudness_rising
            + a.agent_pace_fast,
    );
    let mut line = format!(
        "callpulse: live call {} after {:.1} s: {} alert{}",
        if failed { "failed" } else { "ended" },
        s.duration_s,
        alerts,
        if alerts == 1 { "" } else { "s" }
    );
    if let Some(live) = &s.live {
        let f = &live.capture_to_frame_ms;
        let a = &live.capture_to_alert_ms;
        line.push_str(&format!(
            "; capture→features p50 {:.1} ms p99 {:.1} ms (look-ahead {:.0} ms)",
            f.p50_ms, f.p99_ms, live.algorithmic_delay_ms
        ));
        if a.count > 0 {
            line.push_str(&format!(
                "; capture→alert p50 {:.1} ms p99 {:.1} ms",
                a.p50_ms, a.p99_ms
            ));
        }
        let dropped: u64 = live.capture.iter().map(|c| c.frames_dropped).sum();
        let xruns: u64 = live.capture.iter().map(|c| c.xruns).sum();
        let fill = live
            .capture
            .iter()
            .map(|c| c.ring_fill_max_pct)
            .fold(0.0, f64::max);
        line.push_str(&format!(
            "; ring max {fill:.0} %, {dropped} frames dropped, {xruns} xruns"
        ));
    }
    line.push_str(&format!("; {} records dropped", report.records_dropped));
    line
}
