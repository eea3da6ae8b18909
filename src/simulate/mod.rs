//! Simulated calls with ground truth: utterance WAVs placed on the agent and caller channels
//! of a two-channel call, optionally degraded (far-end leakage, telephone band, μ-law, noise),
//! with a JSON Lines truth of who spoke when, turns, overlaps, interruptions and backchannels.
//!
//! Users test their thresholds with it (`callpulse simulate`); the test suite and the
//! evaluations use it for ground truth ([`random_script`] makes whole evaluation sets).
//! Rendering is offline: it allocates freely and is not real-time.
//!
//! # Script format
//!
//! Line-based text; `#` starts a comment; blank lines are ignored; fields are separated by
//! whitespace (paths cannot contain spaces).
//!
//! ```text
//! # comments and blank lines allowed
//! rate 8000              # optional output rate in Hz (default 8000)
//! duration 30            # optional total length in s (default: end of last placement + 0.5 s)
//! agent  0.50  utt/hello.wav
//! caller 2.10  utt/mmhm.wav  from=0.20 dur=0.35 gain_db=-3
//! ```
//!
//! * `<agent|caller> <start_s> <path> [from=S] [dur=S] [gain_db=G]` places the file at
//!   `start_s` seconds on that channel (agent = channel 0, caller = channel 1). The file may be
//!   mono or multi-channel (channel 0 is used), at any rate and in any format `hound` reads; it
//!   is resampled to the output rate with [`crate::resample::PartyResampler`]. `from`/`dur`
//!   cut an excerpt (in source seconds), with a 5 ms raised-cosine fade at each cut edge;
//!   `gain_db` scales it. Relative paths resolve against the script's directory.
//! * Errors name the line: unknown keyword, role or option, a bad or negative number, a
//!   missing, unreadable or non-WAV file (named), an excerpt outside its file, two placements
//!   that overlap on one channel (both lines named), a placement after `duration`. Limits:
//!   rates 4000–192000 Hz, times and durations up to 3600 s, gains −120…+40 dB. A placement
//!   that runs past `duration` is cut there.
//!
//! The same script can be built in code: [`Script`], [`Placement`], [`UtteranceRef`] (a path
//! or samples in memory).
//!
//! # Rendering
//!
//! [`render`] with [`RenderOptions`], in this order: clean utterances are placed → each
//! channel receives the *other* channel's clean mix scaled by `leak_db` and delayed by
//! `leak_delay_ms` (echo/crosstalk) → telephone band (300–3400 Hz at 8 kHz, which forces the
//! output rate to 8000) and/or G.711 μ-law → white noise per channel at `snr_db` relative to
//! the active level ([`crate::degrade::active_power`]) of that channel's own speech.
//! [`SimulatedCall::write_wav`] writes stereo 16-bit PCM (channel 0 agent, 1 caller),
//! clipping (and counting) samples beyond full scale.
//!
//! # Ground truth
//!
//! The definitions, which the conversation-dynamics detector is scored against:
//!
//! * **Speech extent** of a placement: over the placed clean clip (cut, resampled,
//!   gain-applied), 10 ms frames from the clip's start; the extent runs from the first to the
//!   last frame whose RMS is within 35 dB of the clip's loudest frame and above −60 dBFS,
//!   counting only runs of at least three such frames in a row (30 ms: a click before the
//!   speech is not its start) ([`speech_extent`]). Leading and trailing silence of the source
//!   is excluded; internal pauses are not split (one extent per placement). A placement
//!   without such a run has no
//!   utterance.
//! * **Utterance**: one per placement's extent.
//! * **Backchannel**: an utterance shorter than [`BACKCHANNEL_MAX_S`] (0.5 s) that either
//!   overlaps an utterance of the other party, or lies wholly within a silence of at most
//!   [`BACKCHANNEL_PAUSE_MAX_S`] (1.0 s) between two consecutive utterances of the other party.
//! * **Turn**: a maximal run of consecutive (by start time) utterances of one party, not
//!   counting backchannels; the other party's backchannels do not end a turn. A turn runs from
//!   its first utterance's start to the latest end of its utterances.
//! * **Overlap**: a maximal interval in which both parties are inside an utterance extent.
//!   At its start each party is inside one utterance; the **newcomer** is the party whose
//!   utterance began later (if both began in the same 10 ms frame, `floor(t / 0.01)`, the one
//!   with the shorter extent), the other is the **holder**. Its class:
//!   `backchannel` if the newcomer's utterance is shorter than [`BACKCHANNEL_MAX_S`]; else
//!   `turn_end` if the holder's utterance ends at most [`TURN_END_S`] (0.5 s) after the
//!   newcomer's onset; else `interruption`.
//! * **Interruption**: for each overlap of class interruption, from the newcomer's onset to
//!   the end of the overlap, `by` the newcomer.
//!
//! The thresholds are fields of [`TruthRules`] (defaults: the constants). The truth file
//! ([`Truth::write_jsonl`]) is JSON Lines: first
//!
//! ```text
//! {"type":"simulation","version":1,"rate":8000,"duration_s":12.5,"telephone":false,"mulaw":false,"snr_db":null,"leak_db":-12.0,"leak_delay_ms":20.0,"seed":0,"script":"call.txt"}
//! ```
//!
//! then the events sorted by start (ties: utterance, turn, overlap, interruption,
//! backchannel), times in seconds rounded to 4 decimals, `end ≥ start`:
//!
//! ```text
//! {"type":"event","kind":"utterance","who":"agent","start":0.52,"end":3.1,"line":4}
//! {"type":"event","kind":"turn","who":"agent","start":0.52,"end":3.1}
//! {"type":"event","kind":"overlap","start":2.9,"end":3.1,"class":"turn_end","by":"caller"}
//! {"type":"event","kind":"interruption","start":5.0,"end":5.8,"by":"agent"}
//! {"type":"event","kind":"backchannel","start":7.2,"end":7.5,"by":"caller"}
//! ```
//!
//! For frame-level scoring, [`Truth::speech_frames`] and [`Truth::overlap_frames`] give one
//! flag per frame, frame `i` standing for its centre `(i + 0.5)·hop_s`.
//!
//! # Example
//!
//! ```no_run
//! use callpulse::simulate::{RenderOptions, Script, render};
//!
//! # fn main() -> Result<(), callpulse::Error> {
//! let script = Script::from_file("call.txt".as_ref())?;
//! let options = RenderOptions { leak_db: Some(-15.0), leak_delay_ms: 20.0, ..Default::default() };
//! let call = render(&script, &options)?;
//! call.write_wav("call.wav".as_ref())?;
//! call.truth.write_jsonl(std::fs::File::create("call.truth.jsonl").map_err(callpulse::Error::Sink)?)?;
//! # Ok(())
//! # }
//! ```

mod random;
mod render;
mod script;
mod truth;

/// The overlap classes are the detector's own ([`crate::conversation::OverlapClass`]); the truth
/// never uses `Unresolved`.
pub use crate::conversation::OverlapClass;
pub use random::{
    AMI_BACKCHANNELS, PoolClip, PoolSpeaker, RandomCallOptions, UtterancePool, random_script,
};
pub use render::{FADE_S, MAX_LEAK_DELAY_MS, RenderOptions, SimulatedCall, render};
pub use script::{
    DEFAULT_RATE, DEFAULT_TAIL_S, MAX_DURATION_S, MAX_GAIN_DB, MAX_RATE, MIN_GAIN_DB, MIN_RATE,
    Placement, Script, UtteranceRef,
};
pub use truth::{
    BACKCHANNEL_MAX_S, BACKCHANNEL_PAUSE_MAX_S, Backchannel, EXTENT_FLOOR_DBFS, EXTENT_FRAME_S,
    EXTENT_MIN_RUN_FRAMES, EXTENT_RANGE_DB, Interruption, Overlap, SimulationInfo, TURN_END_S,
    Truth, TruthRules, Turn, Utterance, speech_extent,
};
