//! Rendering a script: placing the clean utterances, leakage, telephone band, μ-law, noise,
//! and the WAV output. Offline: everything here allocates freely.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::script::{DEFAULT_TAIL_S, MAX_DURATION_S, MAX_RATE, MIN_RATE, Script, UtteranceRef};
use super::truth::{SimulationInfo, Truth, TruthRules, Utterance, speech_extent};
use crate::degrade::{self, TELEPHONE_RATE, active_power};
use crate::error::{ConfigError, Error};
use crate::role::Role;
use crate::source::wav::WavSource;

/// Length of the fade at the edges of a cut excerpt (seconds).
pub const FADE_S: f64 = 0.005;
/// Longest leakage delay accepted (ms).
pub const MAX_LEAK_DELAY_MS: f64 = 60.0;

/// How to render a script: the degradations and the ground-truth rules.
///
/// The order is fixed: clean utterances are placed, each channel receives the other channel's
/// clean mix (leakage), then the telephone band and μ-law, then noise.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// 300–3400 Hz band at 8 kHz with G.711 μ-law ([`degrade::telephone`]); forces the output
    /// rate to 8000 Hz.
    pub telephone: bool,
    /// G.711 μ-law round trip (implied by `telephone`).
    pub mulaw: bool,
    /// White noise per channel at this SNR (dB) relative to the active level of the channel's
    /// own speech ([`degrade::active_power`], after the band and μ-law).
    pub snr_db: Option<f64>,
    /// Far-end leakage: each channel also receives the other channel's clean signal scaled by
    /// this many dB (≤ 0, e.g. −3 … −20).
    pub leak_db: Option<f64>,
    /// Delay of the leakage (0–60 ms).
    pub leak_delay_ms: f64,
    /// Seed of the noise.
    pub seed: u64,
    /// The ground-truth thresholds.
    pub rules: TruthRules,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            telephone: false,
            mulaw: false,
            snr_db: None,
            leak_db: None,
            leak_delay_ms: 0.0,
            seed: 0,
            rules: TruthRules::default(),
        }
    }
}

impl RenderOptions {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field: `leak_db` above 0 or not finite, `leak_delay_ms`
    /// outside 0–60, `snr_db` not finite, a rule threshold not positive.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(l) = self.leak_db {
            if !l.is_finite() || l > 0.0 {
                return Err(ConfigError::new("leak_db", format!("{l} must be ≤ 0 dB")).into());
            }
        }
        if !(0.0..=MAX_LEAK_DELAY_MS).contains(&self.leak_delay_ms) {
            return Err(ConfigError::new(
                "leak_delay_ms",
                format!("{} is outside 0–{MAX_LEAK_DELAY_MS} ms", self.leak_delay_ms),
            )
            .into());
        }
        if let Some(s) = self.snr_db {
            if !s.is_finite() || s.abs() > 200.0 {
                return Err(ConfigError::new("snr_db", format!("{s} is not a usable SNR")).into());
            }
        }
        let r = &self.rules;
        for (field, v) in [
            ("rules.backchannel_max_s", r.backchannel_max_s),
            ("rules.turn_end_s", r.turn_end_s),
            ("rules.backchannel_pause_max_s", r.backchannel_pause_max_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ConfigError::new(field, format!("{v} must be positive")).into());
            }
        }
        Ok(())
    }
}

/// A rendered call: both channels at `rate` and its ground truth.
#[derive(Debug, Clone)]
pub struct SimulatedCall {
    /// Sample rate (Hz).
    pub rate: u32,
    /// Channel 0.
    pub agent: Vec<f32>,
    /// Channel 1.
    pub caller: Vec<f32>,
    /// The ground truth.
    pub truth: Truth,
}

impl SimulatedCall {
    /// The channel of `role`.
    pub fn channel(&self, role: Role) -> &[f32] {
        match role {
            Role::Agent => &self.agent,
            Role::Caller => &self.caller,
        }
    }

    /// Writes a stereo 16-bit PCM WAV (channel 0 agent, channel 1 caller). Samples beyond full
    /// scale are clipped (never wrapped) and counted; the count is returned and logged as a
    /// warning when non-zero.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be created or written.
    pub fn write_wav(&self, path: &Path) -> Result<u64, Error> {
        let io = |e: hound::Error| Error::Io {
            path: path.to_owned(),
            source: match e {
                hound::Error::IoError(e) => e,
                other => std::io::Error::other(other.to_string()),
            },
        };
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: self.rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).map_err(io)?;
        let mut clipped = 0u64;
        let mut quantise = |x: f32| -> i16 {
            let v = (f64::from(x) * 32768.0).round();
            if !(-32768.0..=32767.0).contains(&v) {
                clipped += 1;
            }
            if v.is_nan() {
                0
            } else {
                v.clamp(-32768.0, 32767.0) as i16
            }
        };
        let n = self.agent.len().max(self.caller.len());
        for i in 0..n {
            let a = quantise(self.agent.get(i).copied().unwrap_or(0.0));
            let c = quantise(self.caller.get(i).copied().unwrap_or(0.0));
            w.write_sample(a).map_err(io)?;
            w.write_sample(c).map_err(io)?;
        }
        w.finalize().map_err(io)?;
        if clipped > 0 {
            tracing::warn!(
                file = %path.display(),
                clipped,
                "samples beyond full scale were clipped"
            );
        }
        Ok(clipped)
    }
}

/// A source decoded to mono f32.
pub(super) struct Decoded {
    pub(super) rate: u32,
    pub(super) samples: Arc<[f32]>,
}

fn script_err(line: usize, message: impl Into<String>) -> Error {
    Error::Script {
        line,
        message: message.into(),
    }
}

/// Reads channel 0 of a WAV file (at most [`MAX_DURATION_S`] of it) with the analysis's own
/// reader.
pub(super) fn read_wav(path: &Path) -> Result<Decoded, Error> {
    let max_frames = (MAX_DURATION_S * f64::from(MAX_RATE * 4)) as usize;
    let (rate, samples) = WavSource::read_channel(path, 0, max_frames)?;
    let max_frames = (MAX_DURATION_S * f64::from(rate)) as usize;
    Ok(Decoded {
        rate,
        samples: samples[..samples.len().min(max_frames)].into(),
    })
}

/// Raised-cosine fade over the first `n` samples (fade in) or the last `n` (fade out).
fn fade(x: &mut [f32], n: usize, fade_in: bool) {
    let n = n.min(x.len());
    let len = x.len();
    for k in 0..n {
        let g = 0.5 - 0.5 * (std::f64::consts::PI * (k as f64 + 0.5) / n as f64).cos();
        let i = if fade_in { k } else { len - 1 - k };
        x[i] *= g as f32;
    }
}

/// One placement, cut, resampled, faded and scaled, positioned at `start` (samples).
struct Placed {
    role: Role,
    line: usize,
    start: usize,
    clip: Vec<f32>,
}

fn place(
    script: &Script,
    rate: u32,
    cache: &mut HashMap<PathBuf, Arc<Decoded>>,
) -> Result<Vec<Placed>, Error> {
    let mut placed = Vec::with_capacity(script.placements.len());
    for (index, p) in script.placements.iter().enumerate() {
        let line = if p.line > 0 { p.line } else { index + 1 };
        for (what, v) in [
            ("start time", Some(p.start_s)),
            ("from", p.from_s),
            ("dur", p.dur_s),
        ] {
            if let Some(v) = v {
                if !(0.0..=MAX_DURATION_S).contains(&v) {
                    return Err(script_err(
                        line,
                        format!("{what} {v} s is negative or out of range"),
                    ));
                }
            }
        }
        if !p.gain_db.is_finite() || p.gain_db.abs() > 120.0 {
            return Err(script_err(
                line,
                format!("gain_db {} is out of range", p.gain_db),
            ));
        }
        let decoded = match &p.source {
            UtteranceRef::Path(path) => match cache.get(path) {
                Some(d) => Arc::clone(d),
                None => {
                    let d = Arc::new(read_wav(path).map_err(|e| script_err(line, e.to_string()))?);
                    cache.insert(path.clone(), Arc::clone(&d));
                    d
                }
            },
            UtteranceRef::Samples { rate, samples } => {
                if *rate == 0 || *rate > MAX_RATE * 4 || samples.is_empty() {
                    return Err(script_err(
                        line,
                        format!(
                            "an in-memory clip at {rate} Hz with {} samples cannot be placed",
                            samples.len()
                        ),
                    ));
                }
                Arc::new(Decoded {
                    rate: *rate,
                    samples: Arc::clone(samples),
                })
            }
        };
        let sr = f64::from(decoded.rate);
        let len = decoded.samples.len();
        let file_s = len as f64 / sr;
        let name = p.source.describe();
        let from_s = p.from_s.unwrap_or(0.0);
        let from = (from_s * sr).round() as usize;
        if from >= len {
            return Err(script_err(
                line,
                format!("from={from_s} s is past the end of {name} ({file_s:.3} s long)"),
            ));
        }
        let end = match p.dur_s {
            Some(d) => {
                let end_s = from_s + d;
                if end_s > file_s + 0.5 / sr + 1e-9 {
                    return Err(script_err(
                        line,
                        format!(
                            "the excerpt from={from_s} dur={d} ends at {end_s:.3} s, after the end of {name} ({file_s:.3} s long)"
                        ),
                    ));
                }
                ((end_s * sr).round() as usize).clamp(from + 1, len)
            }
            None => len,
        };
        let mut cut = decoded.samples[from..end].to_vec();
        let fade_n = (FADE_S * sr).round() as usize;
        if from > 0 {
            fade(&mut cut, fade_n, true);
        }
        if end < len {
            fade(&mut cut, fade_n, false);
        }
        let mut clip = degrade::resample(&cut, decoded.rate, rate)?;
        let gain = 10f64.powf(p.gain_db / 20.0) as f32;
        if gain != 1.0 {
            clip.iter_mut().for_each(|s| *s *= gain);
        }
        placed.push(Placed {
            role: p.role,
            line,
            start: (p.start_s * f64::from(rate)).round() as usize,
            clip,
        });
    }
    // Placements on one channel must not overlap.
    for role in Role::ALL {
        let mut spans: Vec<&Placed> = placed.iter().filter(|p| p.role == role).collect();
        spans.sort_by_key(|p| (p.start, p.line));
        for w in spans.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b.start < a.start + a.clip.len() {
                let (first, second) = if a.line < b.line { (a, b) } else { (b, a) };
                return Err(script_err(
                    second.line,
                    format!(
                        "this {role} placement ({:.3}–{:.3} s) overlaps the one at line {} \
                         ({:.3}–{:.3} s); placements on one channel must not overlap",
                        second.start as f64 / f64::from(rate),
                        (second.start + second.clip.len()) as f64 / f64::from(rate),
                        first.line,
                        first.start as f64 / f64::from(rate),
                        (first.start + first.clip.len()) as f64 / f64::from(rate),
                    ),
                ));
            }
        }
    }
    Ok(placed)
}

/// Renders a script: both channels and the ground truth.
///
/// # Errors
/// [`Error::Script`] (with the line) when a file is missing, unreadable or not WAV, an excerpt
/// lies outside its file, placements overlap on one channel, a placement starts after the
/// script's duration, or the rate is out of range; [`Error::Config`] for bad options;
/// [`Error::Internal`] if the resampler fails.
///
/// # Examples
/// ```
/// use callpulse::Role;
/// use callpulse::simulate::{Placement, RenderOptions, Script, UtteranceRef, render};
///
/// // A 1 s tone with 0.2 s of silence either side, placed at 1.0 s on the agent channel.
/// let mut clip = vec![0.0f32; 11_200];
/// for (i, s) in clip.iter_mut().enumerate().skip(1600).take(8000) {
///     *s = (i as f32 * 0.2).sin() * 0.3;
/// }
/// let script = Script {
///     rate: 8000,
///     placements: vec![Placement::new(Role::Agent, 1.0, UtteranceRef::samples(8000, clip))],
///     ..Script::default()
/// };
/// let call = render(&script, &RenderOptions::default())?;
/// let u = call.truth.utterances[0];
/// assert!((u.start - 1.2).abs() < 0.01 && (u.end - 2.2).abs() < 0.01);
/// # Ok::<(), callpulse::Error>(())
/// ```
pub fn render(script: &Script, options: &RenderOptions) -> Result<SimulatedCall, Error> {
    options.validate()?;
    if !(MIN_RATE..=MAX_RATE).contains(&script.rate) {
        return Err(ConfigError::new(
            "rate",
            format!("{} Hz is outside {MIN_RATE}–{MAX_RATE}", script.rate),
        )
        .into());
    }
    let rate = if options.telephone {
        TELEPHONE_RATE
    } else {
        script.rate
    };
    let fs = f64::from(rate);
    let mut cache = HashMap::new();
    let placed = place(script, rate, &mut cache)?;

    let total = match script.duration_s {
        Some(d) => {
            if !(d.is_finite() && d > 0.0 && d <= MAX_DURATION_S) {
                return Err(ConfigError::new("duration", format!("{d} s is out of range")).into());
            }
            let n = (d * fs).round() as usize;
            if let Some(p) = placed.iter().find(|p| p.start >= n) {
                return Err(script_err(
                    p.line,
                    format!("the placement starts at or after the end of the call ({d} s)"),
                ));
            }
            if let Some(p) = placed.iter().find(|p| p.start + p.clip.len() > n) {
                tracing::warn!(
                    line = p.line,
                    "a placement runs past the duration; it is cut at {d} s"
                );
            }
            n
        }
        None => {
            let end = placed
                .iter()
                .map(|p| p.start + p.clip.len())
                .max()
                .unwrap_or(0);
            end + (DEFAULT_TAIL_S * fs).round() as usize
        }
    };
    if total as f64 > MAX_DURATION_S * fs {
        return Err(script_err(
            placed.iter().map(|p| p.line).max().unwrap_or(0),
            format!("the call would be longer than the limit of {MAX_DURATION_S} s"),
        ));
    }

    // Clean mix and the truth's utterance extents.
    let mut clean = [vec![0.0f32; total], vec![0.0f32; total]];
    let mut utterances = Vec::new();
    for p in &placed {
        let n = p.clip.len().min(total - p.start);
        let clip = &p.clip[..n];
        for (o, s) in clean[p.role.index()][p.start..p.start + n]
            .iter_mut()
            .zip(clip)
        {
            *o += s;
        }
        match speech_extent(clip, rate) {
            Some((a, b)) => utterances.push(Utterance {
                who: p.role,
                start: (p.start + a) as f64 / fs,
                end: (p.start + b) as f64 / fs,
                line: p.line,
            }),
            None => tracing::warn!(line = p.line, "a placement holds no speech; no utterance"),
        }
    }

    // Leakage from the other channel's clean mix.
    let mut out = clean.clone();
    if let Some(leak_db) = options.leak_db {
        let g = 10f64.powf(leak_db / 20.0) as f32;
        let delay = (options.leak_delay_ms / 1000.0 * fs).round() as usize;
        for role in Role::ALL {
            let from = &clean[1 - role.index()];
            let to = &mut out[role.index()];
            for (o, s) in to.iter_mut().skip(delay).zip(from) {
                *o += g * s;
            }
        }
    }

    // Telephone band / μ-law.
    let mulaw = options.mulaw || options.telephone;
    let channel_chain = |x: &[f32]| -> Result<Vec<f32>, Error> {
        if options.telephone {
            let mut y = degrade::telephone(x, rate)?;
            y.resize(x.len(), 0.0);
            Ok(y)
        } else if mulaw {
            Ok(x.iter()
                .map(|&s| degrade::mulaw_round_trip(f64::from(s)))
                .collect())
        } else {
            Ok(x.to_vec())
        }
    };
    let mut channels = [channel_chain(&out[0])?, channel_chain(&out[1])?];

    // Noise relative to the channel's own speech level (after the same band and μ-law).
    if let Some(snr_db) = options.snr_db {
        for role in Role::ALL {
            let i = role.index();
            let own = if options.leak_db.is_some() {
                active_power(&channel_chain(&clean[i])?, rate)
            } else {
                active_power(&channels[i], rate)
            };
            if own <= 0.0 {
                continue;
            }
            degrade::add_noise_power(
                &mut channels[i],
                own / 10f64.powf(snr_db / 10.0),
                options.seed.wrapping_mul(2).wrapping_add(i as u64),
            );
        }
    }

    let info = SimulationInfo {
        rate,
        duration_s: total as f64 / fs,
        telephone: options.telephone,
        mulaw,
        snr_db: options.snr_db,
        leak_db: options.leak_db,
        leak_delay_ms: if options.leak_db.is_some() {
            options.leak_delay_ms
        } else {
            0.0
        },
        seed: options.seed,
        script: script.path.as_ref().map(|p| p.display().to_string()),
    };
    let truth = Truth::from_utterances(info, utterances, &options.rules);
    let [agent, caller] = channels;
    Ok(SimulatedCall {
        rate,
        agent,
        caller,
        truth,
    })
}
