//! `callpulse devices`: the audio hosts and their devices.

use anyhow::Result;
use clap::Args;

use callpulse::capture::device::{self, DirectionInfo, HostInfo};

/// Options of `callpulse devices`.
#[derive(Args)]
pub struct DevicesArgs {
    /// Only this host (e.g. alsa, pulseaudio) [default: every available host].
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Write JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn direction(d: &DirectionInfo) -> String {
    let rates = if d.rates.0 == d.rates.1 {
        format!("{} Hz", d.rates.0)
    } else {
        format!("{}-{} Hz", d.rates.0, d.rates.1)
    };
    format!(
        "{} ch, {} Hz, {} (supports {rates}, up to {} ch)",
        d.channels, d.sample_rate, d.format, d.max_channels
    )
}

/// Lists hosts and devices on stdout.
pub fn run(args: &DevicesArgs) -> Result<()> {
    let hosts: Vec<HostInfo> = match &args.host {
        Some(name) => {
            let host = device::host(Some(name))?;
            vec![HostInfo {
                name: name.to_lowercase(),
                devices: device::list(&host)?,
                error: None,
            }]
        }
        None => device::list_all(),
    };
    if args.json {
        let out: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "host": h.name,
                    "error": h.error,
                    "devices": h.devices.iter().map(|d| serde_json::json!({
                        "id": d.id,
                        "name": d.name,
                        "default_input": d.default_input,
                        "default_output": d.default_output,
                        "input": d.input.as_ref().map(|i| serde_json::json!({
                            "channels": i.channels, "sample_rate": i.sample_rate,
                            "format": i.format, "rates": [i.rates.0, i.rates.1],
                            "max_channels": i.max_channels})),
                        "output": d.output.as_ref().map(|o| serde_json::json!({
                            "channels": o.channels, "sample_rate": o.sample_rate,
                            "format": o.format, "rates": [o.rates.0, o.rates.1],
                            "max_channels": o.max_channels})),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if hosts.is_empty() {
        println!("no audio host is available");
    }
    for h in &hosts {
        println!("host {}", h.name);
        if let Some(e) = &h.error {
            println!("  (cannot list: {e})");
            continue;
        }
        if h.devices.is_empty() {
            println!("  (no devices)");
        }
        for d in &h.devices {
            let mut marks = Vec::new();
            if d.default_input {
                marks.push("default input");
            }
            if d.default_output {
                marks.push("default output");
            }
            let marks = if marks.is_empty() {
                String::new()
            } else {
                format!("  [{}]", marks.join(", "))
            };
            println!("  {}  \"{}\"{marks}", d.id, d.name);
            if let Some(i) = &d.input {
                println!("      input:  {}", direction(i));
            }
            if let Some(o) = &d.output {
                println!("      output: {}", direction(o));
            }
        }
    }
    println!(
        "\nUse a device with `callpulse live --host HOST --device ID` (an id, its part after \
         the host, its name, or a fragment that only it has)."
    );
    Ok(())
}
