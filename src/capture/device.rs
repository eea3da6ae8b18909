//! Audio hosts and devices: listing them and finding one by name, with errors that list what
//! there is.
//!
//! A device is named by its description's name (`"Monitor of Null Output"`), by its cpal id
//! (`"pulseaudio:vsink.monitor"`, or the part after the host, `"vsink.monitor"`), or by a
//! fragment of either that matches exactly one device. No name means the host's default.

use cpal::traits::{DeviceTrait, HostTrait};

use crate::error::Error;

/// What a device offers in one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectionInfo {
    /// Channels of the default configuration.
    pub channels: u16,
    /// Sample rate of the default configuration, in Hz.
    pub sample_rate: u32,
    /// Sample format of the default configuration (e.g. `f32`, `i16`).
    pub format: String,
    /// Lowest and highest sample rate of any supported configuration, in Hz.
    pub rates: (u32, u32),
    /// Most channels of any supported configuration.
    pub max_channels: u16,
}

/// One device of a host.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// The human-readable name.
    pub name: String,
    /// The stable id (`host:id`), usable with `--device`.
    pub id: String,
    /// Input capabilities, if the device records.
    pub input: Option<DirectionInfo>,
    /// Output capabilities, if the device plays.
    pub output: Option<DirectionInfo>,
    /// Whether this is the host's default input device.
    pub default_input: bool,
    /// Whether this is the host's default output device.
    pub default_output: bool,
}

/// One audio host (ALSA, PulseAudio, ...) and its devices.
#[derive(Debug, Clone, PartialEq)]
pub struct HostInfo {
    /// The host's name, usable with `--host`.
    pub name: String,
    /// Its devices; empty when it could not be listed (see `error`).
    pub devices: Vec<DeviceInfo>,
    /// Why the host could not be opened or listed.
    pub error: Option<String>,
}

/// The names of the hosts compiled in, whether available or not.
pub fn host_names() -> Vec<String> {
    cpal::ALL_HOSTS
        .iter()
        .map(|h| h.name().to_lowercase())
        .collect()
}

/// Opens the host called `name` (case-insensitive; `None` for cpal's default: PulseAudio or
/// PipeWire when running, else ALSA).
///
/// # Errors
/// [`Error::Device`] when no host has that name or it is not available, naming the hosts.
pub fn host(name: Option<&str>) -> Result<cpal::Host, Error> {
    let Some(name) = name else {
        return Ok(cpal::default_host());
    };
    let wanted = name.to_lowercase();
    let id = cpal::ALL_HOSTS
        .iter()
        .find(|h| h.name().to_lowercase() == wanted)
        .ok_or_else(|| Error::Device {
            device: name.to_string(),
            message: format!("no such audio host; hosts: {}", host_names().join(", ")),
        })?;
    cpal::host_from_id(*id).map_err(|e| Error::Device {
        device: name.to_string(),
        message: format!("the host is not available: {e}"),
    })
}

fn id_of(device: &cpal::Device) -> String {
    device
        .id()
        .map_or_else(|_| "?".to_string(), |id| id.to_string())
}

fn name_of(device: &cpal::Device) -> String {
    device
        .description()
        .map_or_else(|_| id_of(device), |d| d.name().to_string())
}

fn direction(
    default: Result<cpal::SupportedStreamConfig, cpal::Error>,
    ranges: Option<Vec<cpal::SupportedStreamConfigRange>>,
) -> Option<DirectionInfo> {
    let default = default.ok()?;
    let ranges = ranges.unwrap_or_default();
    let lo = ranges.iter().map(|r| r.min_sample_rate()).min();
    let hi = ranges.iter().map(|r| r.max_sample_rate()).max();
    let max_channels = ranges.iter().map(|r| r.channels()).max();
    Some(DirectionInfo {
        channels: default.channels(),
        sample_rate: default.sample_rate(),
        format: default.sample_format().to_string(),
        rates: (
            lo.unwrap_or(default.sample_rate()),
            hi.unwrap_or(default.sample_rate()),
        ),
        max_channels: max_channels.unwrap_or(default.channels()),
    })
}

/// Describes one device.
pub fn describe(device: &cpal::Device, host: &cpal::Host) -> DeviceInfo {
    let id = id_of(device);
    let is = |d: Option<cpal::Device>| d.is_some_and(|d| id_of(&d) == id);
    DeviceInfo {
        name: name_of(device),
        input: direction(
            device.default_input_config(),
            device.supported_input_configs().ok().map(Iterator::collect),
        ),
        output: direction(
            device.default_output_config(),
            device
                .supported_output_configs()
                .ok()
                .map(Iterator::collect),
        ),
        default_input: is(host.default_input_device()),
        default_output: is(host.default_output_device()),
        id,
    }
}

/// Lists the devices of `host`.
///
/// # Errors
/// [`Error::Device`] when the host cannot enumerate its devices.
pub fn list(host: &cpal::Host) -> Result<Vec<DeviceInfo>, Error> {
    let devices = host.devices().map_err(|e| Error::Device {
        device: host.id().name().to_string(),
        message: format!("cannot list devices: {e}"),
    })?;
    Ok(devices.map(|d| describe(&d, host)).collect())
}

/// Lists every available host with its devices (hosts that fail say why).
pub fn list_all() -> Vec<HostInfo> {
    cpal::available_hosts()
        .into_iter()
        .map(|id| {
            let name = id.name().to_lowercase();
            match cpal::host_from_id(id)
                .map_err(|e| e.to_string())
                .and_then(|h| list(&h).map_err(|e| e.to_string()))
            {
                Ok(devices) => HostInfo {
                    name,
                    devices,
                    error: None,
                },
                Err(e) => HostInfo {
                    name,
                    devices: Vec::new(),
                    error: Some(e),
                },
            }
        })
        .collect()
}

/// Which way a device is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Recording.
    Input,
    /// Playing.
    Output,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }

    fn supported(self, device: &cpal::Device) -> bool {
        match self {
            Direction::Input => device.default_input_config().is_ok(),
            Direction::Output => device.default_output_config().is_ok(),
        }
    }
}

/// Finds the `direction` device of `host` called `name`, or the default one.
///
/// Matching, in order: the exact name or id (with or without the `host:` prefix), then a
/// case-insensitive fragment of either that only one device has.
///
/// # Errors
/// [`Error::Device`] when nothing or more than one device matches, or there is no default
/// device; the message lists the devices that could be used.
pub fn find(
    host: &cpal::Host,
    name: Option<&str>,
    direction: Direction,
) -> Result<cpal::Device, Error> {
    let candidates: Vec<cpal::Device> = host
        .devices()
        .map_err(|e| Error::Device {
            device: name.unwrap_or("default").to_string(),
            message: format!("cannot list the {} devices: {e}", host.id().name()),
        })?
        .filter(|d| direction.supported(d))
        .collect();
    let listing = |devices: &[cpal::Device]| {
        if devices.is_empty() {
            format!(
                "the {} host has no {} devices",
                host.id().name(),
                direction.word()
            )
        } else {
            let lines: Vec<String> = devices
                .iter()
                .map(|d| format!("  {}  ({})", id_of(d), name_of(d)))
                .collect();
            format!(
                "{} devices of the {} host:\n{}",
                direction.word(),
                host.id().name(),
                lines.join("\n")
            )
        }
    };
    let Some(name) = name else {
        let default = match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        };
        return default.ok_or_else(|| Error::Device {
            device: "default".into(),
            message: format!(
                "there is no default {} device; {}",
                direction.word(),
                listing(&candidates)
            ),
        });
    };
    let short = |d: &cpal::Device| {
        let id = id_of(d);
        id.split_once(':').map(|(_, s)| s.to_string()).unwrap_or(id)
    };
    if let Some(d) = candidates
        .iter()
        .find(|d| id_of(d) == name || short(d) == name || name_of(d) == name)
    {
        return Ok(d.clone());
    }
    let lower = name.to_lowercase();
    let partial: Vec<&cpal::Device> = candidates
        .iter()
        .filter(|d| {
            id_of(d).to_lowercase().contains(&lower) || name_of(d).to_lowercase().contains(&lower)
        })
        .collect();
    match partial.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Device {
            device: name.to_string(),
            message: format!(
                "no such {} device; {}",
                direction.word(),
                listing(&candidates)
            ),
        }),
        many => Err(Error::Device {
            device: name.to_string(),
            message: format!(
                "the name matches {} {} devices; give more of it; {}",
                many.len(),
                direction.word(),
                listing(&candidates)
            ),
        }),
    }
}
