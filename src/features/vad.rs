//! Voice activity per channel.
//!
//! The detector decides each frame at frame time from the frame and the channel's past only (no
//! look-ahead beyond the analysis window). It combines three questions:
//!
//! 1. **Is the frame above the noise?** The frame's power is split into five bands
//!    (100–300, 300–700, 700–1500, 1500–3400 and 3400–8000 Hz, those below Nyquist) by summing
//!    bins of the shared power spectrum ([`band_powers`]). Each band has its own noise floor,
//!    tracked by minimum statistics: the minimum of the recursively smoothed band power over a
//!    sliding window of about two seconds, kept as the minima of eight sub-windows (R. Martin,
//!    "Noise power spectral density estimation based on optimal smoothing and minimum
//!    statistics", IEEE Trans. Speech Audio Process. 9(5), 2001, reduced to a fixed smoothing
//!    constant and no bias correction). The frame's SNR is the mean of the per-band a-posteriori
//!    SNRs `E_b / N_b`, in dB: a sub-band SNR sum as in the AMR VAD option 1 (3GPP TS 26.094)
//!    and close to the long-term spectral divergence of J. Ramírez et al., "Efficient voice
//!    activity detection algorithms using long-term speech information", Speech Communication
//!    42, 2004, without its look-ahead. Speech concentrates its energy in a few bands while
//!    white or coloured stationary noise spreads it, so the band SNR stands well above the
//!    broadband SNR in noise.
//! 2. **Is it this channel's talker?** A close-talk or handset channel also carries the other
//!    talkers (crosstalk, echo), 15–40 dB below its owner. The detector tracks the owner's
//!    speech level (a fast-attack, slowly decaying follower of the level of confirmed voiced
//!    speech, as in the active speech level of ITU-T P.56, simplified) and only accepts frames
//!    within [`VadConfig::relative_db`] of it: a relative decision rather than one fixed
//!    threshold above the floor.
//! 3. **Is it voice?** Speech onsets need voiced frames: [`VadConfig::onset_voiced_frames`] of
//!    the last [`VadConfig::onset_window_ms`] must be periodic (pitch clarity from the MPM
//!    tracker at least [`VadConfig::voiced_clarity`]). Door slams, clicks and rustle are loud
//!    but aperiodic and do not start speech. Once started, speech continues on level with a
//!    lower threshold (hysteresis), through unvoiced stretches of at most
//!    [`VadConfig::max_unvoiced_ms`] (consonants, soft endings; a noise burst that follows
//!    speech is cut there), and is held after the last active frame for a hangover that grows
//!    with the length of the burst up to [`VadConfig::hangover_ms`] (the burst-dependent
//!    hangover of ITU-T G.729 Annex B and of the AMR VAD): pauses between words are bridged,
//!    while a short backchannel is not padded by the full hangover.
//!
//! The detector also reports each utterance's **extent**, for measuring overlaps: its active
//! frames plus the soft start before the onset test passed ([`Vad::onset_lead`]) and the soft
//! ending after the last active frame ([`Vad::extent`]), frames above the noise by
//! [`VadConfig::release_threshold_db`] and within [`VadConfig::extent_range_db`] of the
//! talker's level without a break. They fail the activity test only on voicing or on
//! `relative_db`, which guard onsets against noise bursts and crosstalk; the speech decision
//! itself does not change.
//!
//! In a two-party call ([`crate::call`]) the detector also hears whether the other party was
//! talking in the previous frame while its voice has been found mixed into this channel
//! ([`VadInput::other_talking`]). The second voice lowers the periodicity of the mixture, so
//! onsets then need only [`VadConfig::double_talk_onset_frames`] frames of clarity
//! [`VadConfig::double_talk_clarity`]. The noise floors are tracked on the band powers before
//! crosstalk compensation ([`VadInput::raw_band_power`]).
//!
//! Everything lives in fixed-size fields sized in [`Vad::new`]; [`Vad::process`] does not
//! allocate, does not panic, and treats non-finite inputs as non-speech without updating its
//! state. It costs a few dozen floating-point operations and two logarithms per frame; the band
//! sums of [`band_powers`] are one pass over the spectrum's bins.

use serde::Deserialize;

use crate::config::in_range;
use crate::error::ConfigError;

/// Number of analysis bands.
pub const BANDS: usize = 5;

/// Band edges in Hz: band `b` covers `[BAND_EDGES_HZ[b], BAND_EDGES_HZ[b + 1])`.
pub const BAND_EDGES_HZ: [f32; BANDS + 1] = [100.0, 300.0, 700.0, 1500.0, 3400.0, 8000.0];

/// Sub-windows of the minimum-statistics search.
const FLOOR_SUBWINDOWS: usize = 8;
/// Smoothing of the band powers before the minimum search (per 10 ms frame; ≈ 60 ms).
const POWER_SMOOTHING: f32 = 0.85;
/// Lowest noise floor per band (mean-square, about −100 dBFS): keeps the SNR finite on digital
/// silence.
const MIN_FLOOR_POWER: f32 = 1e-10;
/// Share of the distance to a louder voiced frame that the speech level moves per frame.
const LEVEL_ATTACK: f32 = 0.2;
/// Longest onset window the history register holds, in frames.
const MAX_ONSET_FRAMES: u32 = 32;

/// Voice activity detector settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// Band SNR in dB (mean of the per-band power-to-floor ratios) a frame needs to count
    /// towards a speech onset (default 6).
    pub threshold_db: f32,
    /// Band SNR in dB that keeps speech going once it has started; at most `threshold_db`
    /// (default 5).
    pub release_threshold_db: f32,
    /// Pitch clarity in [0, 1] at which a frame counts as voiced (default 0.8).
    pub voiced_clarity: f32,
    /// Pitch clarity at which a frame counts as voiced for keeping speech going (see
    /// `max_unvoiced_ms`); at most `voiced_clarity` (default 0.6).
    pub sustain_clarity: f32,
    /// Pitch clarity at which a frame counts as voiced for a speech onset while the other
    /// party of a call is talking; at most `voiced_clarity` (default 0.5). The other voice
    /// leaks into this channel and, being periodic at another pitch, lowers the periodicity
    /// of the mixture: with a voice `x` dB weaker mixed in, the clarity of a clean vowel drops
    /// by a factor of about `1 / (1 + 10^(x/10))`. Single-channel analysis never uses it.
    pub double_talk_clarity: f32,
    /// Window in ms over which onset evidence is counted, at most 320 (default 50).
    pub onset_window_ms: f32,
    /// Voiced active frames needed within `onset_window_ms` to start speech (default 3).
    pub onset_voiced_frames: u32,
    /// Voiced active frames needed within `onset_window_ms` to start speech while the other
    /// party of a call is talking; at most `onset_voiced_frames` (default 2). With the other
    /// voice mixed in, fewer frames pass the clarity test, and a late onset delays every
    /// overlap decision.
    pub double_talk_onset_frames: u32,
    /// How far below the channel's tracked speech level, in dB, a frame may lie and still be
    /// this channel's talker; quieter frames are taken for crosstalk or echo (default 18).
    pub relative_db: f32,
    /// How fast the tracked speech level decays, in dB per second, so that a talker who becomes
    /// quieter is followed (default 0.2).
    pub level_decay_db_per_s: f32,
    /// Absolute level in dBFS (100 Hz and up, over the analysis window) below which a frame is
    /// never speech (default −65).
    pub min_level_dbfs: f32,
    /// Length in ms of the minimum-statistics window of the noise floor: the floor follows a
    /// rise of the noise within about this time (default 2500).
    pub floor_window_ms: f32,
    /// Longest stretch in ms without a voiced frame that speech may continue through (an
    /// unvoiced consonant cluster, a soft ending); aperiodic noise bursts that follow speech are
    /// cut after it (default 300).
    pub max_unvoiced_ms: f32,
    /// How long speech is held after the last active frame, in ms, once speech has lasted
    /// twice as long; shorter bursts (backchannels) get a hangover of half their length,
    /// at least one onset window (default 500).
    pub hangover_ms: f32,
    /// How far below the channel's tracked speech level, in dB, a frame held by the hangover may
    /// lie and still extend the utterance (see [`Vad::extent`]); it must also be above the noise
    /// by `release_threshold_db` (default 35).
    pub extent_range_db: f32,
    /// Longest stretch in ms before a detected onset that the utterance's extent may reach back
    /// over (see [`Vad::onset_lead`]; default 200).
    pub onset_lead_ms: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 6.0,
            release_threshold_db: 5.0,
            voiced_clarity: 0.8,
            sustain_clarity: 0.6,
            double_talk_clarity: 0.5,
            onset_window_ms: 50.0,
            onset_voiced_frames: 3,
            double_talk_onset_frames: 2,
            relative_db: 18.0,
            level_decay_db_per_s: 0.2,
            min_level_dbfs: -65.0,
            floor_window_ms: 2500.0,
            max_unvoiced_ms: 300.0,
            hangover_ms: 500.0,
            extent_range_db: 35.0,
            onset_lead_ms: 200.0,
        }
    }
}

impl VadConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("vad.threshold_db", self.threshold_db, 0.0, 60.0, " dB")?;
        in_range(
            "vad.release_threshold_db",
            self.release_threshold_db,
            0.0,
            self.threshold_db,
            " dB (at most vad.threshold_db)",
        )?;
        in_range("vad.voiced_clarity", self.voiced_clarity, 0.0, 1.0, "")?;
        in_range(
            "vad.sustain_clarity",
            self.sustain_clarity,
            0.0,
            self.voiced_clarity,
            " (at most vad.voiced_clarity)",
        )?;
        in_range(
            "vad.double_talk_clarity",
            self.double_talk_clarity,
            0.0,
            self.voiced_clarity,
            " (at most vad.voiced_clarity)",
        )?;
        in_range(
            "vad.onset_window_ms",
            self.onset_window_ms,
            10.0,
            320.0,
            " ms",
        )?;
        if self.onset_voiced_frames == 0 || self.onset_voiced_frames > MAX_ONSET_FRAMES {
            return Err(ConfigError::new(
                "vad.onset_voiced_frames",
                format!("must lie in [1, {MAX_ONSET_FRAMES}]"),
            ));
        }
        if self.double_talk_onset_frames == 0
            || self.double_talk_onset_frames > self.onset_voiced_frames
        {
            return Err(ConfigError::new(
                "vad.double_talk_onset_frames",
                "must lie in [1, vad.onset_voiced_frames]",
            ));
        }
        in_range("vad.relative_db", self.relative_db, 3.0, 120.0, " dB")?;
        in_range(
            "vad.level_decay_db_per_s",
            self.level_decay_db_per_s,
            0.0,
            20.0,
            " dB/s",
        )?;
        in_range(
            "vad.min_level_dbfs",
            self.min_level_dbfs,
            -120.0,
            0.0,
            " dBFS",
        )?;
        in_range(
            "vad.floor_window_ms",
            self.floor_window_ms,
            200.0,
            20_000.0,
            " ms",
        )?;
        in_range(
            "vad.max_unvoiced_ms",
            self.max_unvoiced_ms,
            0.0,
            5000.0,
            " ms",
        )?;
        in_range("vad.hangover_ms", self.hangover_ms, 0.0, 2000.0, " ms")?;
        in_range("vad.onset_lead_ms", self.onset_lead_ms, 0.0, 1000.0, " ms")?;
        in_range(
            "vad.extent_range_db",
            self.extent_range_db,
            0.0,
            120.0,
            " dB",
        )?;
        Ok(())
    }
}

/// What the VAD looks at for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadInput {
    /// Periodicity (pitch clarity) in [0, 1].
    pub clarity: f32,
    /// Mean-square power of the analysis window per band of [`BAND_EDGES_HZ`] (see
    /// [`band_powers`]); NaN for a band above Nyquist.
    pub band_power: [f32; BANDS],
    /// The frame lies in a gap of the input.
    pub gap: bool,
    /// The band powers before any crosstalk compensation (for a single channel, the same as
    /// `band_power`). The noise floors are tracked on these: a compensation that sets a band
    /// to the floor must not pull the floor itself down.
    pub raw_band_power: [f32; BANDS],
    /// The other party of the call was talking in the previous frame (double talk possible:
    /// onsets need only `double_talk_clarity`); `false` for a single channel.
    pub other_talking: bool,
    /// The other party of the call was talking in the previous frame and no leakage path from
    /// it into this channel has been found, so its crosstalk has not been subtracted: energy
    /// in this channel may be its voice, and an onset's extent does not reach back over it
    /// ([`Vad::onset_lead`]); `false` for a single channel.
    pub other_unexplained: bool,
}

/// Sums the one-sided power spectrum `power` (bins `bin_hz` apart, of a window of `window`
/// samples zero-padded to any length) into the bands of [`BAND_EDGES_HZ`], scaled to the
/// window's mean square (so a full-scale sine gives 0.5 in its band). Bands starting above the
/// last bin are NaN. One pass over the bins; no allocation.
pub fn band_powers(power: &[f32], bin_hz: f32, window: usize, out: &mut [f32; BANDS]) {
    if !(bin_hz.is_finite() && bin_hz > 0.0) || window == 0 {
        out.fill(f32::NAN);
        return;
    }
    // Parseval for the one-sided spectrum of the zero-padded window: the window's mean square
    // is Σ|X[k]|² · 2 / (N · window), N the FFT length.
    let n = (2 * power.len().saturating_sub(1)).max(1) as f32;
    let norm = 2.0 / (n * window as f32);
    for (b, o) in out.iter_mut().enumerate() {
        let lo = ((BAND_EDGES_HZ[b] / bin_hz).ceil() as usize).min(power.len());
        let hi = ((BAND_EDGES_HZ[b + 1] / bin_hz).ceil() as usize).min(power.len());
        *o = if lo < hi {
            sum(&power[lo..hi]) * norm
        } else {
            f32::NAN
        };
    }
}

/// Sum with eight independent accumulators, which the compiler turns into SIMD adds (a plain
/// sequential `f32` sum cannot be reordered).
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A mean-square power in dB (floored at −300 dB, so never −∞ or NaN for finite input).
pub(crate) fn db(power: f32) -> f32 {
    10.0 * power.max(1e-30).log10()
}

/// Every band power is usable: finite and not negative, or NaN (a band above Nyquist).
fn powers_valid(powers: &[f32; BANDS]) -> bool {
    powers
        .iter()
        .all(|p| p.is_nan() || (p.is_finite() && *p >= 0.0))
}

/// Per-channel voice activity detector.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    /// Smoothed band powers (NaN before the first frame).
    smooth: [f32; BANDS],
    /// Minimum of the current sub-window per band.
    sub_min: [f32; BANDS],
    /// Minima of the last completed sub-windows.
    ring: [[f32; BANDS]; FLOOR_SUBWINDOWS],
    ring_pos: usize,
    sub_frames: u32,
    sub_len: u32,
    /// Noise floor per band (mean square).
    floor: [f32; BANDS],
    /// Tracked speech level in dBFS, NaN until the first voiced speech.
    speech_level_db: f32,
    level_decay_per_frame: f32,
    /// Bit k: frame `now − k` was a voiced active frame.
    voiced_history: u32,
    onset_mask: u32,
    in_speech: bool,
    hold: u32,
    hangover_frames: u32,
    min_hangover_frames: u32,
    /// Frames since speech started.
    speech_run: u32,
    /// Frames since the last voiced frame.
    unvoiced_run: u32,
    max_unvoiced_frames: u32,
    last_snr_db: f32,
    last_level_db: f32,
    /// The last frame was active speech (not only held by the hangover).
    last_active: bool,
    /// The last frame was inside the utterance's extent (see [`Vad::extent`]).
    last_extent: bool,
    /// Frames in a row, up to the last one, outside speech that carry a voice (the extent test).
    pre_run: u32,
    max_lead_frames: u32,
    /// Frames before the last one that belong to the utterance just started.
    onset_lead: u32,
}

impl Vad {
    /// A detector for frames `hop_s` seconds apart.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is out of range or `hop_s` is not a positive
    /// duration.
    pub fn new(config: &VadConfig, hop_s: f32) -> Result<Self, ConfigError> {
        config.validate()?;
        if !(hop_s.is_finite() && hop_s > 0.0) {
            return Err(ConfigError::new("hop_ms", "must be a positive duration"));
        }
        let frames = |ms: f32| (ms / 1000.0 / hop_s).round().max(0.0) as u32;
        let onset_frames = frames(config.onset_window_ms).clamp(1, MAX_ONSET_FRAMES);
        Ok(Self {
            config: config.clone(),
            smooth: [f32::NAN; BANDS],
            sub_min: [f32::INFINITY; BANDS],
            ring: [[f32::INFINITY; BANDS]; FLOOR_SUBWINDOWS],
            ring_pos: 0,
            sub_frames: 0,
            sub_len: (frames(config.floor_window_ms) / FLOOR_SUBWINDOWS as u32).max(1),
            floor: [MIN_FLOOR_POWER; BANDS],
            speech_level_db: f32::NAN,
            level_decay_per_frame: config.level_decay_db_per_s * hop_s,
            voiced_history: 0,
            onset_mask: if onset_frames >= 32 {
                u32::MAX
            } else {
                (1u32 << onset_frames) - 1
            },
            in_speech: false,
            hold: 0,
            hangover_frames: frames(config.hangover_ms),
            min_hangover_frames: onset_frames.min(frames(config.hangover_ms)),
            speech_run: 0,
            unvoiced_run: 0,
            max_unvoiced_frames: frames(config.max_unvoiced_ms),
            last_snr_db: f32::NAN,
            last_level_db: f32::NAN,
            last_active: false,
            last_extent: false,
            pre_run: 0,
            max_lead_frames: frames(config.onset_lead_ms),
            onset_lead: 0,
        })
    }

    /// The current noise floor, summed over the bands, in dBFS.
    pub fn noise_floor_db(&self) -> f32 {
        db(self.floor.iter().filter(|f| f.is_finite()).sum())
    }

    /// The current noise floor per band (mean square; at least about −100 dBFS).
    pub fn band_floor(&self) -> &[f32; BANDS] {
        &self.floor
    }

    /// The tracked speech level of the channel's talker in dBFS (NaN before any speech).
    pub fn speech_level_db(&self) -> f32 {
        self.speech_level_db
    }

    /// The band SNR of the last frame in dB (NaN before the first frame).
    pub fn snr_db(&self) -> f32 {
        self.last_snr_db
    }

    /// The level (100 Hz and up) of the last frame in dBFS.
    pub fn level_db(&self) -> f32 {
        self.last_level_db
    }

    /// Whether the last frame was active speech: speech that is not only held by the
    /// hangover. A talk spurt ends at its last active frame.
    pub fn active(&self) -> bool {
        self.last_active
    }

    /// Whether the last frame was inside the utterance's extent: an active frame, or a frame
    /// held by the hangover that follows active frames without a break and still carries the
    /// talker's voice: above the noise by `release_threshold_db` and within
    /// `extent_range_db` of the tracked speech level. Such a frame is a soft ending (a decaying
    /// vowel, a final unvoiced consonant) that fails the activity test's voicing and
    /// relative-level conditions. An utterance's extent ends at its last such frame.
    pub fn extent(&self) -> bool {
        self.last_extent
    }

    /// On the frame that starts speech, how many frames before it already belong to the
    /// utterance (0 on every other frame): the frames just before the onset, without a break,
    /// that pass the extent test of [`Vad::extent`] (at most `onset_lead_ms`). The onset test
    /// needs voiced frames, and a soft start (a breathy or unvoiced first syllable, a voice
    /// that rises under the other party's) precedes them.
    pub fn onset_lead(&self) -> u32 {
        self.onset_lead
    }

    fn release(&mut self) {
        self.last_active = false;
        self.last_extent = false;
        self.pre_run = 0;
        self.onset_lead = 0;
        self.in_speech = false;
        self.hold = 0;
        self.voiced_history = 0;
    }

    /// Updates the noise floors with one frame's band powers.
    fn track_floor(&mut self, power: &[f32; BANDS]) {
        for b in 0..BANDS {
            let e = power[b];
            if !e.is_finite() {
                continue;
            }
            let s = if self.smooth[b].is_finite() {
                POWER_SMOOTHING * self.smooth[b] + (1.0 - POWER_SMOOTHING) * e
            } else {
                e
            };
            self.smooth[b] = s;
            self.sub_min[b] = self.sub_min[b].min(s);
            let mut m = self.sub_min[b];
            for sub in &self.ring {
                m = m.min(sub[b]);
            }
            self.floor[b] = m.max(MIN_FLOOR_POWER);
        }
        self.sub_frames += 1;
        if self.sub_frames >= self.sub_len {
            self.sub_frames = 0;
            self.ring[self.ring_pos] = self.sub_min;
            self.ring_pos = (self.ring_pos + 1) % FLOOR_SUBWINDOWS;
            self.sub_min = [f32::INFINITY; BANDS];
        }
    }

    /// Decides one frame: `true` when it is speech of this channel's talker.
    pub fn process(&mut self, input: &VadInput) -> bool {
        let valid = input.band_power.iter().any(|p| p.is_finite() && *p >= 0.0)
            && powers_valid(&input.band_power);
        if input.gap || !valid {
            self.release();
            return false;
        }
        let clarity = if input.clarity.is_finite() {
            input.clarity
        } else {
            0.0
        };
        self.track_floor(if powers_valid(&input.raw_band_power) {
            &input.raw_band_power
        } else {
            &input.band_power
        });

        // Band SNR: mean of the per-band power-to-floor ratios.
        let (mut ratio_sum, mut total, mut n) = (0.0f32, 0.0f32, 0u32);
        for (e, f) in input.band_power.iter().zip(&self.floor) {
            if e.is_finite() {
                ratio_sum += e / f;
                total += e;
                n += 1;
            }
        }
        let snr_db = db(ratio_sum / n.max(1) as f32);
        let level_db = db(total);
        self.last_snr_db = snr_db;
        self.last_level_db = level_db;

        let c = &self.config;
        let audible = level_db >= c.min_level_dbfs;
        let own = |margin: f32| {
            self.speech_level_db.is_nan() || level_db >= self.speech_level_db - margin
        };
        let onset_active = audible && snr_db >= c.threshold_db && own(c.relative_db);
        let onset_clarity = if input.other_talking {
            c.double_talk_clarity
        } else {
            c.voiced_clarity
        };
        let voiced = onset_active && clarity >= onset_clarity;
        self.voiced_history = (self.voiced_history << 1) | u32::from(voiced);

        self.unvoiced_run = if onset_active && clarity >= c.sustain_clarity {
            0
        } else {
            self.unvoiced_run.saturating_add(1)
        };
        let above_noise = audible && snr_db >= c.release_threshold_db;
        let voice = above_noise && own(c.extent_range_db);
        self.onset_lead = 0;
        if self.in_speech {
            self.speech_run = self.speech_run.saturating_add(1);
            let active =
                above_noise && own(c.relative_db) && self.unvoiced_run <= self.max_unvoiced_frames;
            self.last_extent = active || (self.last_extent && voice);
            self.last_active = active;
            if active {
                self.hold = (self.speech_run / 2)
                    .max(self.min_hangover_frames)
                    .min(self.hangover_frames);
            } else if self.hold > 0 {
                self.hold -= 1;
            } else {
                self.in_speech = false;
                self.last_extent = false;
            }
        } else if (self.voiced_history & self.onset_mask).count_ones()
            >= if input.other_talking {
                c.double_talk_onset_frames
            } else {
                c.onset_voiced_frames
            }
        {
            self.in_speech = true;
            self.last_active = true;
            self.last_extent = true;
            self.onset_lead = self.pre_run.min(self.max_lead_frames);
            self.speech_run = 0;
            self.hold = self.min_hangover_frames;
        } else {
            self.last_active = false;
            self.last_extent = false;
        }

        // Before an onset, a frame's energy counts as this talker's only while no other talker
        // may account for it.
        self.pre_run = if !self.in_speech && voice && !input.other_unexplained {
            self.pre_run.saturating_add(1)
        } else {
            0
        };

        // The talker's level follows louder voiced speech quickly and decays slowly.
        if self.speech_level_db.is_finite() {
            self.speech_level_db -= self.level_decay_per_frame;
        }
        if self.in_speech && voiced {
            if self.speech_level_db.is_nan() {
                self.speech_level_db = level_db;
            } else if level_db > self.speech_level_db {
                self.speech_level_db += LEVEL_ATTACK * (level_db - self.speech_level_db);
            }
        }
        self.in_speech
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnalysisConfig;
    use crate::pipeline::analyze_frames;
    use crate::role::Role;
    use crate::source::memory::MemorySource;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    const RATE: u32 = 8000;
    const HOP: usize = 80;

    /// A voiced harmonic burst (F0 150 Hz, harmonics to 3.5 kHz falling 6 dB/octave, 10 ms
    /// ramps) of RMS `rms`, from `start_s` to `end_s`, added into `x`.
    fn add_burst(x: &mut [f32], start_s: f32, end_s: f32, rms: f32) {
        let a = (start_s * RATE as f32) as usize;
        let b = ((end_s * RATE as f32) as usize).min(x.len());
        let f0 = 150.0;
        let harmonics: Vec<f32> = (1..=23).map(|k| 1.0 / k as f32).collect();
        let norm = (harmonics.iter().map(|h| h * h).sum::<f32>() / 2.0).sqrt();
        let ramp = (RATE / 100) as f32;
        for (i, s) in x[a..b].iter_mut().enumerate() {
            let t = (a + i) as f32 / RATE as f32;
            let env = (i as f32 / ramp).min((b - a - i) as f32 / ramp).min(1.0);
            let v: f32 = harmonics
                .iter()
                .enumerate()
                .map(|(k, h)| h * (2.0 * std::f32::consts::PI * f0 * (k + 1) as f32 * t).sin())
                .sum();
            *s += rms / norm * env * v;
        }
    }

    fn add_noise(x: &mut [f32], rms: f32, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, rms).expect("valid sigma");
        for s in x {
            *s += normal.sample(&mut rng);
        }
    }

    fn decisions(x: Vec<f32>) -> Vec<bool> {
        let source = MemorySource::new(vec![(Role::Caller, RATE, x)]);
        let (frames, _) =
            analyze_frames(AnalysisConfig::default(), Box::new(source)).expect("analysis runs");
        frames
            .iter()
            .map(|f| f.party(Role::Caller).is_some_and(|p| p.speech))
            .collect()
    }

    fn frame(t: f32) -> usize {
        (t * RATE as f32) as usize / HOP
    }

    fn first_speech(d: &[bool], from: usize) -> Option<usize> {
        d.iter().skip(from).position(|&s| s).map(|i| i + from)
    }

    fn seconds(n: f32) -> Vec<f32> {
        vec![0.0; (n * RATE as f32) as usize]
    }

    #[test]
    fn silence_is_not_speech() {
        assert!(decisions(seconds(3.0)).iter().all(|&s| !s));
        let mut hiss = seconds(3.0);
        add_noise(&mut hiss, 1e-4, 1);
        assert!(decisions(hiss).iter().all(|&s| !s));
    }

    /// Per frame: (speech, extent, onset lead) of a single channel.
    fn extents(x: Vec<f32>) -> Vec<(bool, bool, u32)> {
        let source = MemorySource::new(vec![(Role::Caller, RATE, x)]);
        let (frames, _) =
            analyze_frames(AnalysisConfig::default(), Box::new(source)).expect("analysis runs");
        frames
            .iter()
            .map(|f| {
                f.party(Role::Caller)
                    .map_or((false, false, 0), |p| (p.speech, p.extent, p.onset_lead))
            })
            .collect()
    }

    fn add_noise_between(x: &mut [f32], start_s: f32, end_s: f32, rms: f32, seed: u64) {
        let a = (start_s * RATE as f32) as usize;
        let b = ((end_s * RATE as f32) as usize).min(x.len());
        add_noise(&mut x[a..b], rms, seed);
    }

    #[test]
    fn the_extent_takes_in_soft_unvoiced_starts_and_endings() {
        // 150 ms of breath noise 20 dB below the vowel before it and 250 ms after it: neither
        // is voiced nor within `relative_db` of the talker, both are well above the noise.
        let mut x = seconds(3.5);
        add_noise(&mut x, 1e-4, 5);
        add_noise_between(&mut x, 0.85, 1.0, 0.01, 6);
        add_burst(&mut x, 1.0, 2.0, 0.1);
        add_noise_between(&mut x, 2.0, 2.25, 0.01, 7);
        let d = extents(x);
        let onset = d.iter().position(|f| f.0).expect("burst detected");
        let lead = d[onset].2 as usize;
        // The 40 ms analysis window sees the breath a few frames before it starts.
        assert!(
            (frame(0.8)..=frame(0.9)).contains(&(onset - lead)),
            "extent starts at frame {} (onset {onset}, lead {lead})",
            onset - lead
        );
        assert!(d.iter().filter(|f| f.2 > 0).count() == 1, "one onset");
        let last = d.iter().rposition(|f| f.1).expect("extent");
        assert!(
            (frame(2.2)..=frame(2.3)).contains(&last),
            "extent ends at frame {last}"
        );
    }

    #[test]
    fn voiced_burst_starts_within_100_ms_and_ends_after_the_hangover() {
        let mut x = seconds(3.5);
        add_noise(&mut x, 1e-4, 2);
        add_burst(&mut x, 1.0, 2.0, 0.1);
        let d = decisions(x);
        let onset = first_speech(&d, 0).expect("burst detected");
        assert!(onset >= frame(1.0) - 2, "early onset at frame {onset}");
        assert!(onset <= frame(1.1), "onset at frame {onset}, after 100 ms");
        assert!(
            d[frame(1.1)..frame(2.0)].iter().all(|&s| s),
            "gap inside the burst"
        );
        // Held through the hangover, released after it.
        assert!(d[frame(2.3)], "released before the hangover");
        let end = d[frame(2.0)..].iter().position(|&s| !s).expect("released") + frame(2.0);
        assert!(end <= frame(2.6), "still speech at frame {end}");
        assert!(d[end..].iter().all(|&s| !s));
    }

    #[test]
    fn short_backchannel_gets_a_short_hangover() {
        let mut x = seconds(2.5);
        add_noise(&mut x, 1e-4, 3);
        add_burst(&mut x, 1.0, 1.3, 0.1);
        let d = decisions(x);
        assert!(first_speech(&d, 0).is_some_and(|i| i <= frame(1.1)));
        assert!(
            !d[frame(1.5)],
            "a 300 ms burst should be released within 200 ms"
        );
    }

    #[test]
    fn burst_in_white_noise_at_10_db_snr_is_detected() {
        let mut x = seconds(5.0);
        let (rms, snr_db) = (0.05, 10.0);
        add_burst(&mut x, 3.0, 4.0, rms);
        add_noise(&mut x, rms / 10f32.powf(snr_db / 20.0), 4);
        let d = decisions(x);
        // The floor settles within the first second; noise alone is never speech.
        assert!(
            d[frame(1.0)..frame(3.0)].iter().all(|&s| !s),
            "noise taken for speech"
        );
        let onset = first_speech(&d, frame(1.0)).expect("burst detected");
        assert!(onset <= frame(3.1), "onset at frame {onset}");
        let hits = d[frame(3.0)..frame(4.0)].iter().filter(|&&s| s).count();
        assert!(hits >= 90, "{hits} of 100 burst frames detected");
        assert!(d[frame(4.8)..].iter().all(|&s| !s), "not released");
    }

    #[test]
    fn stationary_white_noise_is_not_speech() {
        for (seed, rms) in [(5, 0.3), (6, 0.01), (7, 1e-3)] {
            let mut x = seconds(4.0);
            add_noise(&mut x, rms, seed);
            let d = decisions(x);
            let speech = d[frame(0.5)..].iter().filter(|&&s| s).count();
            assert_eq!(speech, 0, "noise at rms {rms}");
        }
    }

    #[test]
    fn crosstalk_30_db_below_the_talker_is_not_speech() {
        let mut x = seconds(4.5);
        add_noise(&mut x, 1e-4, 8);
        add_burst(&mut x, 0.5, 1.5, 0.1);
        add_burst(&mut x, 2.5, 3.5, 0.1 * 10f32.powf(-30.0 / 20.0));
        let d = decisions(x);
        assert!(
            d[frame(0.6)..frame(1.5)].iter().all(|&s| s),
            "talker missed"
        );
        assert!(
            d[frame(2.2)..].iter().all(|&s| !s),
            "crosstalk 30 dB down taken for speech"
        );
        // Without the loud talker before it, the same quiet burst is speech.
        let mut y = seconds(2.5);
        add_noise(&mut y, 1e-5, 9);
        add_burst(&mut y, 1.0, 2.0, 0.1 * 10f32.powf(-30.0 / 20.0));
        assert!(decisions(y)[frame(1.1)..frame(2.0)].iter().all(|&s| s));
    }

    #[test]
    fn odd_inputs_never_panic_and_are_not_speech() {
        let mut vad = Vad::new(&VadConfig::default(), 0.01).expect("valid");
        let odd = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -1.0,
            0.0,
            f32::MAX,
        ];
        for &v in &odd {
            for &c in &odd {
                let input = VadInput {
                    clarity: c,
                    band_power: [v; BANDS],
                    raw_band_power: [v; BANDS],
                    gap: false,
                    other_talking: false,
                    other_unexplained: false,
                };
                let _ = vad.process(&input);
            }
        }
        let nan = VadInput {
            clarity: 1.0,
            band_power: [f32::NAN; BANDS],
            raw_band_power: [f32::NAN; BANDS],
            gap: false,
            other_talking: false,
            other_unexplained: false,
        };
        assert!(!vad.process(&nan));
        let mut out = [0.0; BANDS];
        band_powers(&[], 12.5, 320, &mut out);
        band_powers(&[1.0; 10], 0.0, 0, &mut out);
        band_powers(&[1.0; 10], f32::NAN, 320, &mut out);
        assert!(out.iter().all(|p| p.is_nan()));
    }

    #[test]
    fn band_powers_match_the_mean_square() {
        let mut s = crate::features::spectrum::Spectrum::new(320, RATE, 320);
        let x: Vec<f32> = (0..320)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / RATE as f32).sin())
            .collect();
        s.process(&x);
        let mut out = [0.0; BANDS];
        band_powers(s.power(), s.bin_hz(), 320, &mut out);
        // A 1 kHz sine of amplitude 0.5 has mean square 0.125, nearly all in band 2.
        assert!((out[2] / 0.125 - 1.0).abs() < 0.1, "{out:?}");
        assert!(out[4].is_finite() && out.iter().all(|p| *p >= 0.0));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |f: fn(&mut VadConfig)| {
            let mut c = VadConfig::default();
            f(&mut c);
            c.validate().expect_err("rejected").field
        };
        assert_eq!(bad(|c| c.threshold_db = f32::NAN), "vad.threshold_db");
        assert_eq!(
            bad(|c| c.release_threshold_db = 20.0),
            "vad.release_threshold_db"
        );
        assert_eq!(bad(|c| c.sustain_clarity = 0.9), "vad.sustain_clarity");
        assert_eq!(
            bad(|c| c.onset_voiced_frames = 0),
            "vad.onset_voiced_frames"
        );
        assert_eq!(bad(|c| c.onset_window_ms = 1000.0), "vad.onset_window_ms");
        assert_eq!(bad(|c| c.hangover_ms = -1.0), "vad.hangover_ms");
        assert_eq!(
            bad(|c| c.double_talk_clarity = 0.9),
            "vad.double_talk_clarity"
        );
        assert_eq!(
            bad(|c| c.double_talk_onset_frames = 4),
            "vad.double_talk_onset_frames"
        );
        assert!(VadConfig::default().validate().is_ok());
        let raw: VadConfig = serde_json::from_str(r#"{"hangover_ms": 200}"#).expect("parses");
        assert_eq!(raw.hangover_ms, 200.0);
        assert!(serde_json::from_str::<VadConfig>(r#"{"nope": 1}"#).is_err());
    }
}
