//! Random two-party calls for evaluation sets: sentences alternate in turns, separated by gaps,
//! turn-end overlaps and interruptions, with backchannels sprinkled in; each call gets its own
//! degradations. Deterministic for a seed.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::render::{RenderOptions, read_wav};
use super::script::{Placement, Script, UtteranceRef};
use super::truth::speech_extent;
use crate::degrade::active_power;
use crate::error::Error;
use crate::role::Role;

/// One clip of a pool: the speech part `[from_s, from_s + dur_s)` of a source (source
/// seconds, leading and trailing silence trimmed) and its active level.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolClip {
    /// The audio (in memory for pools built by this module).
    pub source: UtteranceRef,
    /// Start of the speech in the source (seconds).
    pub from_s: f64,
    /// Length of the speech (seconds).
    pub dur_s: f64,
    /// Active level of the speech, dBFS ([`active_power`]).
    pub level_db: f64,
}

impl PoolClip {
    /// Trims `[from_s, from_s + dur_s)` of in-memory samples (`dur_s: None`: to the end) to its
    /// speech extent and measures its level. `None` when it holds no speech.
    pub fn from_samples(
        rate: u32,
        samples: Arc<[f32]>,
        from_s: f64,
        dur_s: Option<f64>,
    ) -> Option<Self> {
        let fs = f64::from(rate);
        let a = ((from_s * fs).round() as usize).min(samples.len());
        let b = dur_s.map_or(samples.len(), |d| {
            (((from_s + d) * fs).round() as usize).min(samples.len())
        });
        let region = samples.get(a..b)?;
        let (s, e) = speech_extent(region, rate)?;
        let power = active_power(&region[s..e], rate);
        if power <= 0.0 {
            return None;
        }
        Some(Self {
            from_s: (a + s) as f64 / fs,
            dur_s: (e - s) as f64 / fs,
            level_db: 10.0 * power.log10(),
            source: UtteranceRef::Samples { rate, samples },
        })
    }

    /// The first `len_s` seconds of this clip's speech, as a clip of its own.
    pub fn head(&self, len_s: f64) -> Option<Self> {
        let UtteranceRef::Samples { rate, samples } = &self.source else {
            return None;
        };
        Self::from_samples(
            *rate,
            Arc::clone(samples),
            self.from_s,
            Some(len_s.min(self.dur_s)),
        )
    }
}

/// One speaker of a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpeaker {
    /// A name such as `rl`, `emodb03`, `ravdess02`.
    pub name: String,
    /// Sentence clips.
    pub sentences: Vec<PoolClip>,
    /// Short clips (0.15–0.45 s of speech) this speaker can use as backchannels.
    pub backchannels: Vec<PoolClip>,
}

/// Utterances to draw random calls from: per-speaker sentences and short clips, plus short
/// clips any speaker may use (e.g. real "mm-hmm"s of other talkers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UtterancePool {
    /// The speakers (at least two are needed for a call).
    pub speakers: Vec<PoolSpeaker>,
    /// Short clips shared by all speakers.
    pub shared_backchannels: Vec<PoolClip>,
}

/// The short turns of the AMI excerpt `ES2004a_750-780` used as backchannels:
/// (speaker channel file, start s, length s), from its RTTM.
pub const AMI_BACKCHANNELS: [(&str, f64, f64); 5] = [
    ("FEE013", 2.59, 0.36),
    ("FEE016", 18.52, 0.46),
    ("FEE016", 22.32, 0.37),
    ("FEE016", 25.60, 0.24),
    ("FEE016", 27.34, 0.31),
];

/// Shortest and longest speech of a backchannel clip (seconds).
const BACKCHANNEL_RANGE_S: (f64, f64) = (0.15, 0.45);

fn load(path: &Path) -> Result<(u32, Arc<[f32]>), Error> {
    let d = read_wav(path)?;
    Ok((d.rate, d.samples))
}

fn sorted_wavs(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, std::path::PathBuf)>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut out: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            (name.ends_with(".wav") && keep(&name)).then_some((name, p))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl UtterancePool {
    /// Adds a sentence to `speaker` (created if new), and a backchannel made of its first
    /// 0.25–0.45 s of speech (length chosen from `syllable_s`).
    fn add_sentence(&mut self, speaker: &str, clip: PoolClip, syllable_s: f64) {
        let index = match self.speakers.iter().position(|s| s.name == speaker) {
            Some(i) => i,
            None => {
                self.speakers.push(PoolSpeaker {
                    name: speaker.to_string(),
                    sentences: Vec::new(),
                    backchannels: Vec::new(),
                });
                self.speakers.len() - 1
            }
        };
        let s = &mut self.speakers[index];
        if let Some(bc) = clip.head(syllable_s) {
            if (BACKCHANNEL_RANGE_S.0..=BACKCHANNEL_RANGE_S.1).contains(&bc.dur_s) {
                s.backchannels.push(bc);
            }
        }
        if clip.dur_s >= 1.0 {
            s.sentences.push(clip);
        }
    }

    /// Adds the sentences of the files in `dir` accepted by `speaker_of` (file name → speaker).
    fn add_dir(
        &mut self,
        dir: &Path,
        speaker_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(), Error> {
        let mut rng = StdRng::seed_from_u64(0x5EED);
        for (name, path) in sorted_wavs(dir, |n| speaker_of(n).is_some())? {
            let Some(speaker) = speaker_of(&name) else {
                continue;
            };
            let (rate, samples) = load(&path)?;
            let syllable = rng.random_range(0.25..0.45);
            if let Some(clip) = PoolClip::from_samples(rate, samples, 0.0, None) {
                self.add_sentence(&speaker, clip, syllable);
            }
        }
        Ok(())
    }

    /// Adds the neutral EmoDB clips of `dir` (`SSTTTNv.wav`; speaker `emodbSS`).
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be listed; a WAV error when a file is unreadable.
    pub fn add_emodb(&mut self, dir: &Path) -> Result<(), Error> {
        self.add_dir(dir, |n| {
            let b = n.as_bytes();
            (b.len() >= 7 && b[5] == b'N' && b[..2].iter().all(u8::is_ascii_digit))
                .then(|| format!("emodb{}", &n[..2]))
        })
    }

    /// Adds the short AMI turns ([`AMI_BACKCHANNELS`]) from the channel files in `dir` as
    /// shared backchannels.
    ///
    /// # Errors
    /// As [`UtterancePool::add_emodb`].
    pub fn add_ami_backchannels(&mut self, dir: &Path) -> Result<(), Error> {
        for (speaker, start, len) in AMI_BACKCHANNELS {
            let (rate, samples) = load(&dir.join(format!("{speaker}.wav")))?;
            if let Some(mut clip) = PoolClip::from_samples(rate, samples, start, Some(len)) {
                clip.dur_s = clip.dur_s.min(BACKCHANNEL_RANGE_S.1);
                if clip.dur_s >= BACKCHANNEL_RANGE_S.0 {
                    self.shared_backchannels.push(clip);
                }
            }
        }
        Ok(())
    }

    /// The pool of the shared data folder (`/work/shared/data` or `../shared/data`), read in
    /// place and never copied: sentences of `pitch/rl*.wav` (speaker `rl`), `pitch/sb*.wav`
    /// (`sb`), neutral EmoDB (`emotion/emodb/*N*.wav`, speakers 03, 08, 09, 10, 11) and neutral
    /// RAVDESS (`emotion/ravdess/03-01-01-*`, speaker = actor); backchannels from the AMI
    /// channels of `conversation/ES2004a_750-780/` and the first syllable of each sentence.
    ///
    /// # Errors
    /// [`Error::Io`] when a folder is missing; a WAV error when a file is unreadable.
    pub fn from_shared_data(dir: &Path) -> Result<Self, Error> {
        let mut pool = Self::default();
        let pitch = dir.join("pitch");
        pool.add_dir(&pitch, |n| n.starts_with("rl").then(|| "rl".to_string()))?;
        pool.add_dir(&pitch, |n| n.starts_with("sb").then(|| "sb".to_string()))?;
        pool.add_emodb(&dir.join("emotion/emodb"))?;
        pool.add_dir(&dir.join("emotion/ravdess"), |n| {
            let stem = n.strip_suffix(".wav")?;
            stem.starts_with("03-01-01-")
                .then(|| format!("ravdess{}", stem.rsplit('-').next().unwrap_or("")))
        })?;
        pool.add_ami_backchannels(&dir.join("conversation/ES2004a_750-780"))?;
        Ok(pool)
    }

    /// Number of usable speakers (with at least one sentence).
    pub fn usable_speakers(&self) -> usize {
        self.speakers
            .iter()
            .filter(|s| !s.sentences.is_empty())
            .count()
    }
}

/// How random calls are made; [`Default`] gives the ranges of the evaluation set.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCallOptions {
    /// Target call length range (seconds).
    pub length_s: (f64, f64),
    /// Active speech level of each speaker (dBFS) ± `level_spread_db`.
    pub level_dbfs: f64,
    /// Spread of the per-speaker level (dB, uniform ±).
    pub level_spread_db: f64,
    /// Transitions between turns are dealt in shuffled blocks of five: two gaps, one turn-end
    /// overlap, one interruption, and one drawn at random: a turn end with this probability,
    /// ...
    pub turn_end_prob: f64,
    /// ... an interruption with this one, else a gap.
    pub interruption_prob: f64,
    /// Probability that the listener backchannels inside one of the holder's utterances.
    pub backchannel_prob: f64,
    /// Leakage level range (dB), `None`: no leakage.
    pub leak_db: Option<(f64, f64)>,
    /// Leakage delay range (ms).
    pub leak_delay_ms: (f64, f64),
    /// Probability of the telephone band (with μ-law).
    pub telephone_prob: f64,
    /// Probability of noise.
    pub noise_prob: f64,
    /// SNR range of the noise (dB).
    pub snr_db: (f64, f64),
}

impl Default for RandomCallOptions {
    fn default() -> Self {
        Self {
            length_s: (30.0, 60.0),
            level_dbfs: -26.0,
            level_spread_db: 3.0,
            turn_end_prob: 0.25,
            interruption_prob: 0.25,
            backchannel_prob: 0.4,
            leak_db: Some((-20.0, -3.0)),
            leak_delay_ms: (0.0, 60.0),
            telephone_prob: 0.5,
            noise_prob: 0.5,
            snr_db: (10.0, 30.0),
        }
    }
}

/// Space left between two placements on one channel (seconds).
const MARGIN_S: f64 = 0.03;

fn uniform(rng: &mut StdRng, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

struct Builder<'a> {
    rng: StdRng,
    placements: Vec<Placement>,
    /// End of the last placement per channel (seconds).
    busy: [f64; 2],
    speakers: [&'a PoolSpeaker; 2],
    gain_target: [f64; 2],
    shared: &'a [PoolClip],
}

impl Builder<'_> {
    /// Places `clip` (cut to `dur_s`) at `start` on `role`; returns the index of the placement.
    fn place(&mut self, role: Role, start: f64, clip: &PoolClip, dur_s: f64) -> usize {
        let gain = (self.gain_target[role.index()] - clip.level_db).clamp(-40.0, 40.0);
        self.placements.push(
            Placement::new(role, start, clip.source.clone())
                .excerpt(clip.from_s, Some(dur_s))
                .gain_db(gain),
        );
        self.busy[role.index()] = start + dur_s;
        self.placements.len() - 1
    }

    fn sentence(&mut self, role: Role, min_s: f64) -> Option<PoolClip> {
        let list: Vec<&PoolClip> = self.speakers[role.index()]
            .sentences
            .iter()
            .filter(|c| c.dur_s >= min_s)
            .collect();
        if list.is_empty() {
            return None;
        }
        Some(list[self.rng.random_range(0..list.len())].clone())
    }

    /// A sentence length: the whole clip, or 1.0–4.0 s of it when it is longer than 4 s.
    fn length(&mut self, clip: &PoolClip, min_s: f64) -> f64 {
        if clip.dur_s > 4.0 {
            uniform(&mut self.rng, (min_s.max(1.0), 4.0))
        } else {
            clip.dur_s
        }
    }

    fn backchannel_clip(&mut self, role: Role) -> Option<PoolClip> {
        let own = &self.speakers[role.index()].backchannels;
        let use_shared = !self.shared.is_empty() && (own.is_empty() || self.rng.random_bool(0.5));
        let list = if use_shared { self.shared } else { own };
        if list.is_empty() {
            return None;
        }
        Some(list[self.rng.random_range(0..list.len())].clone())
    }

    /// A backchannel by `listener` inside the holder's utterance `[start, end)`, ending before
    /// `limit`.
    fn maybe_backchannel(&mut self, listener: Role, start: f64, end: f64, limit: f64, prob: f64) {
        if !self.rng.random_bool(prob.clamp(0.0, 1.0)) {
            return;
        }
        let Some(clip) = self.backchannel_clip(listener) else {
            return;
        };
        let lo = (start + 0.6).max(self.busy[listener.index()] + MARGIN_S);
        let hi = (end - 0.3).min(limit - MARGIN_S) - clip.dur_s;
        if hi > lo {
            let at = uniform(&mut self.rng, (lo, hi));
            self.place(listener, at, &clip, clip.dur_s);
        }
    }
}

/// What happens between two turns.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Transition {
    Gap,
    TurnEnd,
    Interruption,
}

fn other(role: Role) -> Role {
    match role {
        Role::Agent => Role::Caller,
        Role::Caller => Role::Agent,
    }
}

/// A random call from `pool`, deterministic for `seed`: the script and the render options
/// (leakage, telephone, noise) drawn for this call.
///
/// Two different speakers take turns of 1–3 sentences (0.2–0.8 s pauses inside a turn;
/// sentences longer than 4 s are cut to 1–4 s), each speaker at its own level
/// (`level_dbfs` ± `level_spread_db`). Between turns (dealt in blocks, see
/// [`RandomCallOptions::turn_end_prob`]): a gap of 0.1–1.0 s, a turn-end overlap (the next
/// starts 0.1–0.4 s before the holder's utterance ends) or an interruption (the newcomer starts
/// 0.8–2.0 s before it ends, at least 0.5 s after its start, and speaks ≥ 1.2 s, beyond the
/// holder's end; in half of them the holder yields, stopping 0.6–1.2 s after the onset). A
/// transition that does not fit (the other channel still busy, the sentence too short)
/// becomes a gap and is dealt again at the next turn change. The listener backchannels (0.15–0.45 s
/// clips) inside the holder's utterances, ≥ 0.6 s after their start and ≥ 0.3 s before their
/// end, with probability `backchannel_prob`. No two placements overlap on one channel.
///
/// # Errors
/// [`Error::Config`] when the pool has fewer than two speakers with sentences.
pub fn random_script(
    seed: u64,
    pool: &UtterancePool,
    opts: &RandomCallOptions,
) -> Result<(Script, RenderOptions), Error> {
    let usable: Vec<&PoolSpeaker> = pool
        .speakers
        .iter()
        .filter(|s| !s.sentences.is_empty())
        .collect();
    if usable.len() < 2 {
        return Err(crate::error::ConfigError::new(
            "pool",
            "at least two speakers with sentences are needed",
        )
        .into());
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let a = rng.random_range(0..usable.len());
    let mut c = rng.random_range(0..usable.len() - 1);
    if c >= a {
        c += 1;
    }
    let spread = opts.level_spread_db.abs();
    let gain_target = [
        opts.level_dbfs + uniform(&mut rng, (-spread, spread)),
        opts.level_dbfs + uniform(&mut rng, (-spread, spread)),
    ];
    let length = uniform(&mut rng, opts.length_s);
    let mut b = Builder {
        rng,
        placements: Vec::new(),
        busy: [0.0; 2],
        speakers: [usable[a], usable[c]],
        gain_target,
        shared: &pool.shared_backchannels,
    };

    let mut holder = if b.rng.random_bool(0.7) {
        Role::Agent
    } else {
        Role::Caller
    };
    let mut t = uniform(&mut b.rng, (0.2, 0.8));
    let mut deck: Vec<Transition> = Vec::new();
    // The newcomer's first sentence may be forced long (interruptions).
    let mut first_min_s: f64 = 1.0;
    while t < length - 2.0 {
        let listener = other(holder);
        let n = b.rng.random_range(1..=3);
        let mut k = 0;
        loop {
            let last = k + 1 >= n || t > length - 5.0;
            // The transition after this turn is drawn before its last sentence, which must be
            // long enough to be interrupted.
            let transition = if last {
                if deck.is_empty() {
                    deck = vec![
                        Transition::Gap,
                        Transition::Gap,
                        Transition::TurnEnd,
                        Transition::Interruption,
                    ];
                    let draw: f64 = b.rng.random();
                    deck.push(if draw < opts.interruption_prob {
                        Transition::Interruption
                    } else if draw < opts.interruption_prob + opts.turn_end_prob {
                        Transition::TurnEnd
                    } else {
                        Transition::Gap
                    });
                    deck.shuffle(&mut b.rng);
                }
                deck.pop()
            } else {
                None
            };
            let mut min_s = if k == 0 { first_min_s } else { 1.0 };
            if transition == Some(Transition::Interruption) {
                min_s = min_s.max(1.6);
            }
            let Some(clip) = b
                .sentence(holder, min_s)
                .or_else(|| b.sentence(holder, 1.0))
            else {
                break;
            };
            let start = t.max(b.busy[holder.index()] + MARGIN_S);
            let dur = b.length(&clip, min_s);
            let index = b.place(holder, start, &clip, dur);
            let end = start + dur;
            let Some(transition) = transition else {
                b.maybe_backchannel(listener, start, end, f64::INFINITY, opts.backchannel_prob);
                t = end + uniform(&mut b.rng, (0.2, 0.8));
                k += 1;
                continue;
            };
            // The transition to the other party.
            let earliest = b.busy[listener.index()] + MARGIN_S;
            first_min_s = 1.0;
            let mut onset = end + uniform(&mut b.rng, (0.1, 1.0));
            match transition {
                Transition::Interruption => {
                    let latest = 2.0f64.min(dur - 0.5).min(end - earliest);
                    let before = uniform(&mut b.rng, (0.8, latest));
                    let at = end - before;
                    if latest < 0.8 {
                        // Does not fit here: deal it again at the next transition.
                        deck.push(Transition::Interruption);
                    } else if at >= start + 0.5 && at >= earliest {
                        onset = at;
                        first_min_s = 1.2;
                        if b.rng.random_bool(0.5) {
                            // The holder yields: stops 0.6–1.2 s after the onset.
                            let stop = onset + uniform(&mut b.rng, (0.6, 1.2));
                            if stop < end {
                                b.placements[index].dur_s = Some(stop - start);
                                b.busy[holder.index()] = stop;
                            }
                        } else {
                            first_min_s = (end - onset + 0.5).max(1.2);
                        }
                    }
                }
                Transition::TurnEnd => {
                    let at = end - uniform(&mut b.rng, (0.1, 0.4));
                    if at >= earliest {
                        onset = at;
                    } else {
                        deck.push(Transition::TurnEnd);
                    }
                }
                Transition::Gap => {}
            }
            let holder_end = b.busy[holder.index()];
            b.maybe_backchannel(listener, start, holder_end, onset, opts.backchannel_prob);
            t = onset.max(b.busy[listener.index()] + MARGIN_S);
            break;
        }
        holder = listener;
    }

    let mut rng = b.rng;
    let script = Script {
        rate: 8000,
        duration_s: None,
        placements: b.placements,
        path: None,
    };
    let telephone = rng.random_bool(opts.telephone_prob.clamp(0.0, 1.0));
    let noise = rng.random_bool(opts.noise_prob.clamp(0.0, 1.0));
    // Levels to 0.1 dB and delays to 0.1 ms: readable in the truth header.
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    let options = RenderOptions {
        telephone,
        mulaw: telephone,
        snr_db: noise.then(|| round1(uniform(&mut rng, opts.snr_db))),
        leak_db: opts.leak_db.map(|r| round1(uniform(&mut rng, r))),
        leak_delay_ms: round1(uniform(&mut rng, opts.leak_delay_ms)),
        seed,
        ..RenderOptions::default()
    };
    Ok((script, options))
}
