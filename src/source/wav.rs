//! WAV files through `hound`: one stereo (or multi-channel) file with a channel per party, two
//! mono files, or one mono file analysed as one party.
//!
//! Every format `hound` reads is accepted: 8/16/24/32-bit integer PCM and 32-bit float, at any
//! sample rate. Damage is handled at this boundary: a header that cannot be parsed, a format
//! that is not supported or a file without samples is an [`Error`] naming the file; a file that
//! ends before its header says it should is analysed as far as it goes and reported as
//! truncated; NaN/inf samples become silence and are counted.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavIntoSamples, WavReader};

use super::{Block, PartySpec, Source, SourceDiagnostics, SourceInfo};
use crate::error::Error;
use crate::role::Role;

/// Frames read per block unless told otherwise (about 128 ms at 8 kHz).
pub const DEFAULT_BLOCK_FRAMES: usize = 1024;

/// Highest sample rate accepted (a header above this is treated as corrupt).
const MAX_SAMPLE_RATE: u32 = 768_000;

enum Samples {
    Int(WavIntoSamples<BufReader<File>, i32>),
    Float(WavIntoSamples<BufReader<File>, f32>),
    /// Packed little-endian 16-bit PCM or 32-bit float read in bulk: hound has validated the
    /// header and positioned the reader at the data; its per-sample iterator costs more than
    /// the whole pitch tracker, so the two common layouts are decoded here.
    Raw {
        reader: BufReader<File>,
        layout: RawLayout,
        bytes_left: u64,
        bytes: Vec<u8>,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum RawLayout {
    Pcm16,
    Float32,
}

/// One open WAV file.
struct WavFile {
    path: PathBuf,
    samples: Samples,
    channels: u16,
    sample_rate: u32,
    /// Scale from integer codes to [-1, 1].
    scale: f32,
    /// Values with |x| at or above this count as clipped.
    full_scale: f32,
    /// Frames the header promises.
    frames: u64,
    /// Frames delivered so far.
    read: u64,
    /// Interleaved scratch for one block.
    scratch: Vec<f32>,
}

impl WavFile {
    fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            return Err(Error::InvalidWav {
                path: path.to_owned(),
                reason: "the file is empty (0 bytes)".into(),
            });
        }
        let fmt = describe_format(path);
        let reader =
            WavReader::new(BufReader::new(file)).map_err(|e| open_error(path, e, fmt.clone()))?;
        let spec = reader.spec();
        if spec.channels == 0 {
            return Err(Error::InvalidWav {
                path: path.to_owned(),
                reason: "the header declares 0 channels".into(),
            });
        }
        if spec.sample_rate == 0 || spec.sample_rate > MAX_SAMPLE_RATE {
            return Err(Error::InvalidWav {
                path: path.to_owned(),
                reason: format!(
                    "the header declares a sample rate of {} Hz",
                    spec.sample_rate
                ),
            });
        }
        let frames = u64::from(reader.duration());
        if frames == 0 {
            return Err(Error::Empty {
                path: path.to_owned(),
            });
        }
        let packed = |bytes: u16| {
            fmt.as_ref()
                .is_some_and(|f| f.block_align == spec.channels * bytes && f.bits == bytes * 8)
        };
        let raw = |reader: WavReader<BufReader<File>>, layout, bytes: u16| Samples::Raw {
            bytes_left: u64::from(reader.len()) * u64::from(bytes),
            reader: reader.into_inner(),
            layout,
            bytes: Vec::new(),
        };
        let (samples, scale, full_scale) = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) if packed(4) => {
                (raw(reader, RawLayout::Float32, 4), 1.0, 1.0)
            }
            (SampleFormat::Int, 16) if packed(2) => (
                raw(reader, RawLayout::Pcm16, 2),
                1.0 / 32768.0,
                32767.0 / 32768.0,
            ),
            (SampleFormat::Float, 32) => (Samples::Float(reader.into_samples()), 1.0, 1.0),
            (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
                let scale = 1.0 / (1u64 << (bits - 1)) as f64;
                let max_code = ((1u64 << (bits - 1)) - 1) as f64;
                (
                    Samples::Int(reader.into_samples()),
                    scale as f32,
                    (max_code * scale) as f32,
                )
            }
            (format, bits) => {
                return Err(Error::UnsupportedFormat {
                    path: path.to_owned(),
                    what: format!(
                        "{bits}-bit {}",
                        if format == SampleFormat::Float {
                            "float"
                        } else {
                            "integer"
                        }
                    ),
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            samples,
            channels: spec.channels,
            sample_rate: spec.sample_rate,
            scale,
            full_scale,
            frames,
            read: 0,
            scratch: Vec::new(),
        })
    }

    /// Reads up to `frames` interleaved frames into `self.scratch`. Returns the number of whole
    /// frames read and, when the file broke off early, why.
    fn read_frames(&mut self, frames: usize) -> (usize, Option<String>) {
        let channels = usize::from(self.channels);
        self.scratch.clear();
        let want = frames * channels;
        let mut broke = None;
        match &mut self.samples {
            Samples::Int(it) => {
                for s in it.by_ref().take(want) {
                    match s {
                        Ok(v) => self.scratch.push(v as f32 * self.scale),
                        Err(e) => {
                            broke = Some(e.to_string());
                            break;
                        }
                    }
                }
            }
            Samples::Raw {
                reader,
                layout,
                bytes_left,
                bytes,
            } => {
                let width = if *layout == RawLayout::Pcm16 { 2 } else { 4 };
                let len = ((want * width) as u64).min(*bytes_left) as usize;
                bytes.resize(len, 0);
                let mut filled = 0;
                while filled < len {
                    match reader.read(&mut bytes[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            broke = Some(e.to_string());
                            break;
                        }
                    }
                }
                *bytes_left -= filled as u64;
                if filled < len && broke.is_none() {
                    broke = Some("unexpected end of file".into());
                    *bytes_left = 0;
                }
                let scale = self.scale;
                match layout {
                    RawLayout::Pcm16 => self.scratch.extend(
                        bytes[..filled - filled % 2]
                            .chunks_exact(2)
                            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * scale),
                    ),
                    RawLayout::Float32 => self.scratch.extend(
                        bytes[..filled - filled % 4]
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    ),
                }
            }
            Samples::Float(it) => {
                for s in it.by_ref().take(want) {
                    match s {
                        Ok(v) => self.scratch.push(v),
                        Err(e) => {
                            broke = Some(e.to_string());
                            break;
                        }
                    }
                }
            }
        }
        let whole = self.scratch.len() / channels;
        self.scratch.truncate(whole * channels);
        self.read += whole as u64;
        if broke.is_none() && whole < frames && self.read < self.frames {
            broke = Some("unexpected end of file".into());
        }
        (whole, broke)
    }
}

/// Turns a `hound` open error into an [`Error`] a user can act on.
/// What the `fmt ` chunk says, read by hand for error messages and the bulk-read fast path.
#[derive(Clone)]
struct FmtInfo {
    tag: u16,
    block_align: u16,
    bits: u16,
    text: String,
}

fn open_error(path: &Path, e: hound::Error, format: Option<FmtInfo>) -> Error {
    let path = path.to_owned();
    // hound reports a short read as `ErrorKind::Other` with this text.
    let short_read = |e: &io::Error| {
        e.kind() == io::ErrorKind::UnexpectedEof
            || e.to_string().contains("Failed to read enough bytes")
    };
    match e {
        hound::Error::IoError(e) if short_read(&e) => Error::InvalidWav {
            path,
            reason: "the header is truncated".into(),
        },
        hound::Error::IoError(source) => Error::Io { path, source },
        hound::Error::Unsupported => Error::UnsupportedFormat {
            path,
            what: format.map_or_else(|| "a format hound does not read".into(), |f| f.text),
        },
        // hound rejects float widths other than 32 as malformed; to a user it is unsupported.
        hound::Error::FormatError(_)
            if format.as_ref().is_some_and(|f| f.tag == 3 && f.bits != 32) =>
        {
            Error::UnsupportedFormat {
                path,
                what: format.map_or_else(String::new, |f| f.text),
            }
        }
        hound::Error::FormatError(reason) => Error::InvalidWav {
            path,
            reason: reason.to_string(),
        },
        other => Error::InvalidWav {
            path,
            reason: other.to_string(),
        },
    }
}

/// Best-effort description of a WAV's `fmt ` chunk (format tag, bits, text), for error
/// messages about unsupported formats. Reads at most 64 KiB.
fn describe_format(path: &Path) -> Option<FmtInfo> {
    let mut head = Vec::new();
    File::open(path)
        .ok()?
        .take(65_536)
        .read_to_end(&mut head)
        .ok()?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes(head[at + 4..at + 8].try_into().ok()?) as usize;
        if id == b"fmt " && at + 8 + 16 <= head.len() {
            let body = &head[at + 8..];
            let tag = u16::from_le_bytes([body[0], body[1]]);
            let block_align = u16::from_le_bytes([body[12], body[13]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            let name = match tag {
                1 => "integer PCM",
                3 => "IEEE float",
                6 => "A-law",
                7 => "mu-law",
                2 => "Microsoft ADPCM",
                17 => "IMA ADPCM",
                85 => "MP3",
                0xFFFE => "extensible",
                _ => "unknown",
            };
            return Some(FmtInfo {
                tag,
                block_align,
                bits,
                text: format!("{bits}-bit {name} (format tag {tag})"),
            });
        }
        at = at.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// Which channel of which file feeds a party.
struct Route {
    file: usize,
    channel: usize,
}

/// A [`Source`] reading WAV files.
pub struct WavSource {
    files: Vec<WavFile>,
    routes: Vec<Route>,
    info: SourceInfo,
    block_frames: usize,
    diagnostics: SourceDiagnostics,
    done: bool,
}

impl WavSource {
    /// Reads channel `channel` of a WAV file whole, at most `max_frames` samples of it, through
    /// the same reader as the analysis (every format it accepts, truncated data recovered).
    /// A convenience for offline tools (the call simulator): it allocates the whole signal.
    ///
    /// # Errors
    /// As [`WavSource::single`], and any read error.
    pub fn read_channel(
        path: &Path,
        channel: u16,
        max_frames: usize,
    ) -> Result<(u32, Vec<f32>), Error> {
        let mut source = Self::single(path, channel, Role::Caller)?;
        let rate = source.info().parties[0].sample_rate;
        let mut block = Block::default();
        let mut samples = Vec::new();
        while samples.len() < max_frames && source.read(&mut block)? {
            samples.extend_from_slice(&block.parties[0].samples);
        }
        samples.truncate(max_frames);
        Ok((rate, samples))
    }

    /// A multi-channel file with one channel per party (0-based indices).
    ///
    /// # Errors
    /// [`Error`] when the file cannot be opened or parsed, holds no samples, or lacks one of
    /// the channels; [`Error::Config`] when both parties are given the same channel.
    pub fn stereo(path: &Path, agent_channel: u16, caller_channel: u16) -> Result<Self, Error> {
        if agent_channel == caller_channel {
            return Err(crate::error::ConfigError::new(
                "caller_channel",
                format!("agent and caller cannot both be channel {agent_channel}"),
            )
            .into());
        }
        let file = WavFile::open(path)?;
        for index in [agent_channel, caller_channel] {
            if index >= file.channels {
                return Err(Error::NoSuchChannel {
                    path: path.to_owned(),
                    index,
                    channels: file.channels,
                });
            }
        }
        let routes = vec![
            Route {
                file: 0,
                channel: usize::from(agent_channel),
            },
            Route {
                file: 0,
                channel: usize::from(caller_channel),
            },
        ];
        Ok(Self::build(
            vec![file],
            routes,
            &[Role::Agent, Role::Caller],
        ))
    }

    /// One channel of a file analysed as a single party (`channel` 0 for a mono file).
    ///
    /// # Errors
    /// As [`WavSource::stereo`].
    pub fn single(path: &Path, channel: u16, role: Role) -> Result<Self, Error> {
        let file = WavFile::open(path)?;
        if channel >= file.channels {
            return Err(Error::NoSuchChannel {
                path: path.to_owned(),
                index: channel,
                channels: file.channels,
            });
        }
        let routes = vec![Route {
            file: 0,
            channel: usize::from(channel),
        }];
        Ok(Self::build(vec![file], routes, &[role]))
    }

    /// Two files, one per party; each must be mono (or its channel 0 is used). Their rates
    /// may differ; each party is resampled on its own.
    ///
    /// # Errors
    /// As [`WavSource::stereo`], for either file.
    pub fn pair(agent: &Path, caller: &Path) -> Result<Self, Error> {
        let files = vec![WavFile::open(agent)?, WavFile::open(caller)?];
        for f in &files {
            if f.channels != 1 {
                tracing::warn!(
                    file = %f.path.display(),
                    channels = f.channels,
                    "expected a mono file; using its channel 0"
                );
            }
        }
        let routes = vec![
            Route {
                file: 0,
                channel: 0,
            },
            Route {
                file: 1,
                channel: 0,
            },
        ];
        Ok(Self::build(files, routes, &[Role::Agent, Role::Caller]))
    }

    fn build(files: Vec<WavFile>, routes: Vec<Route>, roles: &[Role]) -> Self {
        let parties = routes
            .iter()
            .zip(roles)
            .map(|(r, &role)| {
                let f = &files[r.file];
                PartySpec {
                    role,
                    sample_rate: f.sample_rate,
                    label: if f.channels > 1 {
                        format!("{} channel {}", f.path.display(), r.channel)
                    } else {
                        f.path.display().to_string()
                    },
                }
            })
            .collect();
        let duration_s = files
            .iter()
            .map(|f| f.frames as f64 / f64::from(f.sample_rate))
            .fold(0.0, f64::max);
        Self {
            files,
            routes,
            info: SourceInfo {
                parties,
                duration_s: Some(duration_s),
            },
            block_frames: DEFAULT_BLOCK_FRAMES,
            diagnostics: SourceDiagnostics::default(),
            done: false,
        }
    }

    /// Sets how many frames of the first file each block carries (other files: the same
    /// duration at their own rate). Results do not depend on it; tests use it to prove that.
    pub fn with_block_frames(mut self, frames: usize) -> Self {
        self.block_frames = frames.max(1);
        self
    }
}

impl Source for WavSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(&mut self, block: &mut Block) -> Result<bool, Error> {
        block.reset(self.routes.len());
        if self.done {
            return Ok(false);
        }
        let base_rate = f64::from(self.files[0].sample_rate);
        let mut any = false;
        let mut all_ended = true;
        let mut first_read = 0;
        let mut first_ended = false;
        for (i, file) in self.files.iter_mut().enumerate() {
            let scale = f64::from(file.sample_rate) / base_rate;
            let frames = if i == 0 {
                self.block_frames
            } else if first_ended {
                ((self.block_frames as f64 * scale).ceil() as usize).max(1)
            } else {
                // Keep later files level in time with the first one.
                let due = (first_read as f64 * scale).round() as u64;
                due.saturating_sub(file.read) as usize
            };
            let (got, broke) = if frames == 0 {
                (0, None)
            } else {
                file.read_frames(frames)
            };
            if frames == 0 {
                file.scratch.clear();
            }
            if let Some(reason) = broke {
                tracing::warn!(
                    file = %file.path.display(),
                    %reason,
                    frames_read = file.read,
                    frames_expected = file.frames,
                    "input ended early; analysing what was read"
                );
                self.diagnostics.truncated.get_or_insert_with(|| {
                    format!(
                        "{}: {reason} after {} of {} frames",
                        file.path.display(),
                        file.read,
                        file.frames
                    )
                });
                file.frames = file.read;
            }
            let ended = file.read >= file.frames;
            if i == 0 {
                first_read = file.read;
                first_ended = ended;
            }
            any |= got > 0;
            all_ended &= ended;
        }
        for (route, party) in self.routes.iter().zip(block.parties.iter_mut()) {
            let file = &self.files[route.file];
            let channels = usize::from(file.channels);
            party
                .samples
                .extend(file.scratch.iter().skip(route.channel).step_by(channels));
            party.sanitize(file.full_scale);
        }
        if all_ended {
            self.done = true;
        }
        Ok(any)
    }

    fn diagnostics(&self) -> SourceDiagnostics {
        self.diagnostics.clone()
    }
}
