//! The `callpulse` command line. Library errors are typed; here they become one-line messages.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use callpulse::config::RawConfig;
use callpulse::features::pitch::PitchConfig;
use callpulse::pipeline::{Overflow, Pipeline, RunReport};
use callpulse::sink::{JsonlSink, MemorySink};
use callpulse::source::Source;
use callpulse::source::wav::WavSource;
use callpulse::{AnalysisConfig, Role};

mod cli;

/// The sample call shipped for `callpulse demo` (see assets/demo/NOTICE.md).
const DEMO_CALL: &str = "assets/demo/auto_repairs_60s_stereo.wav";

/// Real-time voice call analytics for contact-centre calls.
///
/// callpulse measures both sides of a call frame by frame (pitch, loudness, voice activity)
/// and writes JSON Lines: optional per-frame records, then a summary of the call.
#[derive(Parser)]
#[command(name = "callpulse", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a call recording and write JSON Lines.
    ///
    /// Inputs: a stereo WAV (channel 0 = agent, channel 1 = caller unless remapped), two mono
    /// WAVs with --agent and --caller, or a mono WAV analysed as one party (--role). Any
    /// sample rate and any WAV sample format that hound reads (8/16/24/32-bit PCM, 32-bit
    /// float).
    ///
    /// Examples:
    ///   callpulse analyze call.wav --frames -o call.jsonl
    ///   callpulse analyze call.wav --agent-channel 1 --caller-channel 0
    ///   callpulse analyze --agent agent.wav --caller caller.wav
    ///   callpulse analyze customer.wav --role caller
    #[command(verbatim_doc_comment)]
    Analyze(AnalyzeArgs),
    /// Analyse the sample call shipped with callpulse and print a readable summary.
    Demo {
        /// Also write the full JSON Lines output (frames included) to this file.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Build a two-channel call WAV and its ground truth from a script of placed utterances.
    ///
    /// The script is line-based text: `#` starts a comment; each line is one of
    ///   rate HZ                  output rate (optional, default 8000)
    ///   duration S               call length (optional, default: last placement end + 0.5 s)
    ///   agent|caller START_S PATH [from=S] [dur=S] [gain_db=G]
    /// A placement puts a WAV file (mono, or its channel 0; any rate, resampled) at START_S
    /// seconds on that channel; from/dur cut an excerpt in source seconds (5 ms fades at the
    /// cuts); relative paths resolve against the script's folder. Placements on one channel
    /// must not overlap.
    ///
    /// Example script:
    ///   # a greeting, a listening "mm-hmm", then the caller takes over
    ///   rate 8000
    ///   agent  0.50  utt/hello.wav
    ///   caller 2.10  utt/mmhm.wav  from=0.20 dur=0.35 gain_db=-3
    ///   caller 4.00  utt/question.wav
    ///
    /// Processing order: clean placements, leakage (--leak-db, --leak-delay-ms), telephone
    /// band and/or mu-law, noise (--snr). Output: stereo 16-bit WAV (channel 0 agent, 1
    /// caller) and a JSON Lines truth: a "simulation" line, then utterance, turn, overlap
    /// (class backchannel | turn_end | interruption, by the newcomer), interruption and
    /// backchannel events. In short: an utterance is a placement's speech extent (10 ms
    /// frames within 35 dB of its loudest frame and above -60 dBFS); an overlap's newcomer is
    /// the party whose utterance began later; it is a backchannel if the newcomer's
    /// utterance is under 0.5 s, a turn end if the holder stops within 0.5 s of the
    /// newcomer's onset, else an interruption (exact definitions: callpulse::simulate docs).
    ///
    /// Examples:
    ///   callpulse simulate call.txt -o call.wav
    ///   callpulse simulate call.txt -o call.wav --telephone --snr 15 --leak-db -12 --leak-delay-ms 30
    #[command(verbatim_doc_comment)]
    Simulate(SimulateArgs),
    /// Analyse a live call from audio devices, with live alerts.
    ///
    /// Captures with cpal from one device whose channels carry the agent and the caller
    /// (--agent-channel/--caller-channel, default 0 and 1; a one-channel device carries one
    /// party, --role), or from two devices, one per party (--agent-device/--caller-device;
    /// their clock drift is corrected). --input-wav plays a file as if it were a device.
    /// Writes JSON Lines like `analyze` (each frame and alert also carries `captured_at`, the
    /// Unix time its newest sample was captured) until --duration, Ctrl-C or SIGTERM, then
    /// a summary record (with a `live` section: latency, ring fill, drops, xruns) and one
    /// line on stderr. A device that fails mid-call ends it the same way, with exit status 1.
    ///
    /// Examples:
    ///   callpulse devices
    ///   callpulse live --device vsink.monitor -o call.jsonl --stats
    ///   callpulse live --agent-device headset --caller-device softphone.monitor
    ///   callpulse live --input-wav assets/demo/auto_repairs_60s_stereo.wav
    #[command(verbatim_doc_comment)]
    Live(cli::live::LiveArgs),
    /// List audio hosts and devices (ids, channels, rates) for `live`.
    Devices(cli::devices::DevicesArgs),
    /// Play the headset earcons (preview the cues, check the headset level).
    Earcons(cli::earcons::EarconsArgs),
    /// Run the call-floor server: live calls over Genesys AudioHook and Twilio Media Streams,
    /// a supervisor dashboard, agent pages, a JSON API and Prometheus metrics.
    ///
    /// Each call is analysed as it streams in (on a fixed pool of worker threads) and its
    /// events, alerts and summary are written to --output-dir/<start>-<call>.jsonl. Streams
    /// need a configured AudioHook API key (and its signature when the key has a secret) or a
    /// Twilio token; the dashboard and API need --dashboard-token when one is set.
    /// TLS: put the server behind a reverse proxy (README "Call-floor server").
    ///
    /// Examples:
    ///   callpulse serve --audiohook-key MYKEY:BASE64SECRET --dashboard-token s3cret
    ///   callpulse serve --server-config floor.toml --listen 0.0.0.0:8080
    ///   callpulse send ws://127.0.0.1:8080/audiohook call.wav --api-key MYKEY --client-secret BASE64SECRET
    #[command(verbatim_doc_comment)]
    Serve(cli::serve::ServeArgs),
    /// Stream a WAV call into a media-stream server as Genesys AudioHook or Twilio would.
    ///
    /// Connects over WebSocket (ws:// only; put a TLS proxy in front of wss:// endpoints),
    /// speaks the vendor's protocol exactly (AudioHook: audiohook-* and x-api-key headers,
    /// an HTTP message signature with --client-secret, open/opened, binary audio frames in
    /// the order of the chosen media offer, ping/pong, pause/resume, close/closed; Twilio:
    /// connected, start, 20 ms media messages per track, stop), paced in real time or faster.
    /// Channel 0 of a stereo WAV is the agent, channel 1 the caller; a mono WAV is the caller.
    /// Prints a report (sessions ok/failed and why, opened latency p50/p99/max, frames and
    /// bytes sent); exits non-zero if any session failed.
    ///
    /// Examples:
    ///   callpulse send ws://localhost:8080 call.wav --api-key KEY --client-secret SECRET
    ///   callpulse send ws://localhost:8080/twilio call.wav --protocol twilio --token T
    ///   callpulse send ws://localhost:8080 call.wav --calls 50 --ramp-ms 100 --speed 0 --json
    #[command(verbatim_doc_comment)]
    Send(cli::send::SendArgs),
}

#[derive(Args)]
struct SimulateArgs {
    /// The script (see above).
    #[arg(value_name = "SCRIPT")]
    script: PathBuf,
    /// The call WAV to write (stereo, 16-bit PCM).
    #[arg(short, long, value_name = "WAV")]
    output: PathBuf,
    /// The truth file to write [default: <output stem>.truth.jsonl next to the WAV].
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Telephone channel: 300-3400 Hz band at 8 kHz with G.711 mu-law (output rate 8000).
    #[arg(long)]
    telephone: bool,
    /// G.711 mu-law round trip (implied by --telephone).
    #[arg(long)]
    mulaw: bool,
    /// White noise per channel at this SNR (dB) relative to the channel's own speech level.
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    snr: Option<f64>,
    /// Far-end leakage: each channel also gets the other channel's clean signal at this level
    /// (dB, <= 0, e.g. -3 to -20).
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    leak_db: Option<f64>,
    /// Delay of the leakage (0-60 ms).
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    leak_delay_ms: f64,
    /// Seed of the noise.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// A WAV file: stereo (one channel per party) or mono (one party, see --role).
    #[arg(value_name = "FILE", required_unless_present_all = ["agent", "caller"], conflicts_with_all = ["agent", "caller"])]
    file: Option<PathBuf>,
    /// Mono WAV of the agent's side (use with --caller).
    #[arg(long, value_name = "WAV", requires = "caller")]
    agent: Option<PathBuf>,
    /// Mono WAV of the caller's side (use with --agent).
    #[arg(long, value_name = "WAV", requires = "agent")]
    caller: Option<PathBuf>,
    /// Channel of FILE that carries the agent (0-based).
    #[arg(long, value_name = "N", default_value_t = 0)]
    agent_channel: u16,
    /// Channel of FILE that carries the caller (0-based).
    #[arg(long, value_name = "N", default_value_t = 1)]
    caller_channel: u16,
    /// For a mono FILE: which party it is.
    #[arg(long, value_name = "ROLE", default_value = "caller", value_parser = ["agent", "caller"])]
    role: String,
    /// Write per-frame records (100 per second of audio; large).
    #[arg(long)]
    frames: bool,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    tuning: Tuning,
    /// Print processing figures (CPU time per frame, real-time factor) to standard error.
    #[arg(long)]
    stats: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
struct Tuning {
    /// Analysis configuration file (JSON; fields as in callpulse::config::RawConfig).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Analysis rate in Hz: 8000 or 16000 [default: 8000 for inputs at 8 kHz or below,
    /// 16000 otherwise].
    #[arg(long, value_name = "HZ")]
    analysis_rate: Option<u32>,
    /// Lowest pitch searched, in Hz [default: 60].
    #[arg(long, value_name = "HZ")]
    pitch_min: Option<f32>,
    /// Highest pitch searched, in Hz [default: 500].
    #[arg(long, value_name = "HZ")]
    pitch_max: Option<f32>,
    /// Frames (10 ms each) the pitch tracker waits for before deciding a frame's voicing:
    /// more steadies the voicing of weak onsets on telephone audio, each adds 10 ms of
    /// latency [default: the configuration file's, else 2; `live`: 0, live cues want the
    /// lowest latency].
    #[arg(long, value_name = "FRAMES")]
    pitch_lookahead: Option<u32>,
    /// Caller agitation model (JSON, format in models/MODEL.md) [default: the built-in
    /// models/agitation.json]. Checked at start: a broken file is an error naming the problem.
    #[arg(long, value_name = "FILE")]
    agitation_model: Option<PathBuf>,
}

impl Tuning {
    /// The analysis configuration: the file, then the flags over it.
    fn config(&self) -> Result<AnalysisConfig> {
        self.config_with_lookahead(None)
    }

    /// As [`Self::config`], with a command's own default pitch look-ahead: used unless the
    /// flag or the configuration file sets one.
    fn config_with_lookahead(&self, command_default: Option<u32>) -> Result<AnalysisConfig> {
        let (raw, file_sets_lookahead): (RawConfig, bool) = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("{}: cannot read the configuration", path.display())
                })?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: invalid configuration", path.display()))?;
                let sets = value.pointer("/pitch/lookahead_frames").is_some();
                let raw = serde_json::from_value(value)
                    .with_context(|| format!("{}: invalid configuration", path.display()))?;
                (raw, sets)
            }
            None => (RawConfig::default(), false),
        };
        let mut config = AnalysisConfig::try_from(raw)?;
        let lookahead = self
            .pitch_lookahead
            .or(command_default.filter(|_| !file_sets_lookahead));
        if self.analysis_rate.is_some() {
            config = config.with_analysis_rate(self.analysis_rate)?;
        }
        if self.pitch_min.is_some() || self.pitch_max.is_some() || lookahead.is_some() {
            let mut pitch: PitchConfig = config.pitch().clone();
            if let Some(v) = lookahead {
                pitch.lookahead_frames = v;
            }
            if let Some(v) = self.pitch_min {
                pitch.min_hz = v;
            }
            if let Some(v) = self.pitch_max {
                pitch.max_hz = v;
            }
            config = config.with_pitch(pitch)?;
        }
        if let Some(path) = &self.agitation_model {
            config = config.with_agitation_model(callpulse::agitation::AgitationModel::load(path)?);
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(&args),
        Command::Demo { output } => demo(output.as_deref()),
        Command::Simulate(args) => simulate(&args),
        Command::Live(args) => cli::live::run(&args),
        Command::Devices(args) => cli::devices::run(&args),
        Command::Earcons(args) => cli::earcons::run(&args),
        Command::Serve(args) => cli::serve::run(&args),
        Command::Send(args) => cli::send::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, no backtrace.
            let mut msg = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !msg.contains(&cause) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&cause);
                }
            }
            eprintln!("callpulse: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn simulate(args: &SimulateArgs) -> Result<()> {
    use callpulse::simulate::{RenderOptions, Script, render};
    let name = args.script.display().to_string();
    let script = Script::from_file(&args.script).map_err(|e| match e {
        callpulse::Error::Io { .. } => anyhow::Error::from(e),
        other => anyhow::Error::from(other).context(name.clone()),
    })?;
    let options = RenderOptions {
        telephone: args.telephone,
        mulaw: args.mulaw,
        snr_db: args.snr,
        leak_db: args.leak_db,
        leak_delay_ms: args.leak_delay_ms,
        seed: args.seed,
        ..RenderOptions::default()
    };
    let call = render(&script, &options).with_context(|| name.clone())?;
    let clipped = call.write_wav(&args.output)?;
    if clipped > 0 {
        eprintln!(
            "callpulse: warning: {clipped} samples beyond full scale were clipped in {}",
            args.output.display()
        );
    }
    let truth_path = args.truth.clone().unwrap_or_else(|| {
        let stem = args
            .output
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        args.output.with_file_name(format!("{stem}.truth.jsonl"))
    });
    let file = File::create(&truth_path)
        .with_context(|| format!("{}: cannot create the truth file", truth_path.display()))?;
    call.truth.write_jsonl(io::BufWriter::new(file))?;
    let t = &call.truth;
    eprintln!(
        "callpulse: wrote {} ({:.1} s at {} Hz) and {}: {} utterances, {} turns, {} overlaps, \
         {} interruptions, {} backchannels",
        args.output.display(),
        t.info.duration_s,
        call.rate,
        truth_path.display(),
        t.utterances.len(),
        t.turns.len(),
        t.overlaps.len(),
        t.interruptions.len(),
        t.backchannels.len()
    );
    Ok(())
}

fn open_source(args: &AnalyzeArgs) -> Result<WavSource> {
    Ok(match (&args.file, &args.agent, &args.caller) {
        (_, Some(agent), Some(caller)) => WavSource::pair(agent, caller)?,
        (Some(file), _, _) => {
            let channels = hound::WavReader::open(file)
                .map(|r| r.spec().channels)
                .unwrap_or(2);
            if channels == 1 {
                let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
                WavSource::single(file, 0, role)?
            } else {
                WavSource::stereo(file, args.agent_channel, args.caller_channel)?
            }
        }
        _ => bail!("give a FILE, or both --agent and --caller"),
    })
}

fn analyze(args: &AnalyzeArgs) -> Result<()> {
    let config = args.tuning.config()?;
    let source = open_source(args)?;
    let pipeline = Pipeline::new(config).frames(args.frames).name("analyze");
    let pipeline = match &args.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("{}: cannot create the output file", path.display()))?;
            pipeline.sink(JsonlSink::new(file), Overflow::Block)
        }
        None => pipeline.sink(JsonlSink::new(io::stdout()), Overflow::Block),
    };
    let report = run(pipeline, source, !args.no_progress)?;
    if let Some(t) = &report.summary.input.truncated {
        eprintln!("callpulse: warning: the input was truncated ({t}); analysed what was there");
    }
    if args.stats {
        print_stats(&report);
    }
    Ok(())
}

/// Runs the pipeline, with a progress bar on a terminal for inputs longer than a minute.
fn run(pipeline: Pipeline, source: WavSource, progress: bool) -> Result<RunReport> {
    let duration = source.info().duration_s;
    let running = pipeline.spawn(Box::new(source))?;
    let bar = match duration {
        Some(d) if progress && d > 60.0 && io::stderr().is_terminal() => {
            let bar = ProgressBar::new((d * 1000.0) as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} analysing [{bar:40}] {msg} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Some(bar)
        }
        _ => None,
    };
    if let Some(bar) = &bar {
        while !running.is_finished() {
            let done = running.progress_s();
            bar.set_position((done * 1000.0) as u64);
            bar.set_message(format!("{done:.0} s of {:.0} s", duration.unwrap_or(0.0)));
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }
    Ok(running.wait()?)
}

fn print_stats(report: &RunReport) {
    let frames = report.frames.max(1) as f64;
    let cpu = report.analysis_cpu.unwrap_or(report.wall).as_secs_f64();
    eprintln!(
        "callpulse: stats: {} frames, {:.1} s of audio, analysis CPU {:.3} s ({:.2} µs per frame), \
         wall {:.3} s, real-time factor {:.0}x, records dropped {}",
        report.frames,
        report.summary.duration_s,
        cpu,
        cpu * 1e6 / frames,
        report.wall.as_secs_f64(),
        report.realtime_factor(),
        report.records_dropped
    );
}

fn demo(output: Option<&Path>) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO_CALL);
    let path = if path.exists() {
        path
    } else {
        PathBuf::from(DEMO_CALL)
    };
    let source = WavSource::stereo(&path, 0, 1)
        .with_context(|| "the demo call is missing; run from the repository".to_string())?;
    let (memory, records) = MemorySink::new();
    let mut pipeline = Pipeline::new(AnalysisConfig::default())
        .frames(true)
        .name("demo")
        .sink(memory, Overflow::Block);
    if let Some(out) = output {
        let file = File::create(out)
            .with_context(|| format!("{}: cannot create the output file", out.display()))?;
        pipeline = pipeline.sink(JsonlSink::new(file), Overflow::Block);
    }
    println!("callpulse demo: analysing {}", path.display());
    let report = run(pipeline, source, true)?;
    let records = records.take();
    callpulse_demo_print(&report, &records);
    if let Some(out) = output {
        println!(
            "\nFull JSON Lines output (frames and summary): {}",
            out.display()
        );
    }
    Ok(())
}

fn callpulse_demo_print(report: &RunReport, records: &[callpulse::record::Record]) {
    use callpulse::record::Record;
    let s = &report.summary;
    println!(
        "\n{:.1} s of call audio analysed in {:.2} s of CPU ({:.0}x real time), {} frames of {} ms.\n",
        s.duration_s,
        report.analysis_cpu.unwrap_or(report.wall).as_secs_f64(),
        report.realtime_factor(),
        s.frames,
        (s.hop_s * 1000.0).round()
    );
    println!(
        "{:<8} {:>9} {:>8} {:>14} {:>13}",
        "party", "speech", "share", "mean level", "median pitch"
    );
    for (name, p) in [("agent", &s.agent), ("caller", &s.caller)] {
        if let Some(p) = p {
            println!(
                "{:<8} {:>7.1} s {:>7.1}% {:>11} {:>13}",
                name,
                p.speech_s,
                p.speech_pct,
                p.mean_loudness_db
                    .map_or("-".into(), |d| format!("{d:.1} dBFS")),
                p.median_f0_hz.map_or("-".into(), |f| format!("{f:.0} Hz")),
            );
        }
    }
    if let Some(r) = s.talk_ratio_agent {
        println!(
            "\nTalk ratio: agent {:.0}% / caller {:.0}% of the speech.",
            r * 100.0,
            (1.0 - r) * 100.0
        );
    }
    let a = &s.agitation;
    if let Some(peak) = a.peak {
        println!(
            "Caller agitation: peak {:.2} at {:.0} s, last minute {:.2}.",
            peak,
            a.peak_t.unwrap_or(0.0),
            a.last_minute.unwrap_or(0.0)
        );
    } else {
        println!("Caller agitation: no baseline yet (the caller spoke too little).");
    }
    let alerts: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Alert(a) => Some(a),
            _ => None,
        })
        .collect();
    if alerts.is_empty() {
        println!("Alerts: none.");
    } else {
        println!("Alerts:");
        for a in alerts {
            println!(
                "  {:>6.1} s  {:<24} {:<8} {}",
                a.t,
                a.kind.name(),
                format!("{:?}", a.severity).to_lowercase(),
                a.message
            );
        }
    }
    // A compact timeline: who is speaking, one character per second.
    let mut line = [String::new(), String::new()];
    let mut counts = [[0u32; 2]; 2];
    let per = (1.0 / s.hop_s).round() as usize;
    for (i, rec) in records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some(f),
            _ => None,
        })
        .enumerate()
    {
        for role in Role::ALL {
            if let Some(p) = rec.party(role) {
                counts[role.index()][usize::from(p.speech)] += 1;
            }
        }
        if (i + 1) % per == 0 {
            for role in Role::ALL {
                let [silent, speech] = counts[role.index()];
                line[role.index()].push(if speech * 2 > speech + silent {
                    '█'
                } else if speech > 0 {
                    '▄'
                } else {
                    '·'
                });
            }
            counts = [[0; 2]; 2];
        }
    }
    println!("\nWho spoke when (one mark per second: █ mostly speech, ▄ some, · none):");
    for role in Role::ALL {
        println!("  {:<7}{}", role.as_str(), line[role.index()]);
    }
    println!("\nThe last line of the JSON output, the summary record:");
    let mut buf = Vec::new();
    if Record::Summary(std::sync::Arc::clone(s))
        .write_json(&mut buf)
        .is_ok()
    {
        print!("{}", String::from_utf8_lossy(&buf));
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
