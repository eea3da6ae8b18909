//! The audio of a call to send: both parties at 8 kHz, 16-bit, and its encodings (G.711
//! μ-law, 16-bit linear little-endian).

use std::path::Path;

use crate::degrade::{mulaw_encode, resample};
use crate::error::Error;
use crate::source::wav::WavSource;

/// The rate every stream carries (AudioHook offers and Twilio media are 8 kHz).
pub const RATE: u32 = 8_000;

/// A call's audio, ready to send: each party as 8 kHz 16-bit samples. A party that is absent
/// (mono input) is sent as silence where a protocol needs it, or left out where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAudio {
    /// The agent's side (AudioHook `internal`, Twilio `outbound`).
    pub agent: Option<Vec<i16>>,
    /// The caller's side (AudioHook `external`, Twilio `inbound`).
    pub caller: Option<Vec<i16>>,
}

/// A float sample in [-1, 1) as 16-bit PCM, rounded and clipped.
fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

fn load_channel(path: &Path, channel: u16) -> Result<Vec<i16>, Error> {
    let (rate, samples) = WavSource::read_channel(path, channel, usize::MAX)?;
    let narrow = resample(&samples, rate, RATE)?;
    Ok(narrow.into_iter().map(to_i16).collect())
}

impl CallAudio {
    /// Reads a WAV file (any format the crate's reader accepts, any rate; resampled to
    /// 8 kHz). A file of two or more channels gives the agent from `agent_channel` and the
    /// caller from `caller_channel`; a mono file is the caller only.
    ///
    /// # Errors
    /// The reader's [`Error`]s: unreadable or invalid file, missing channel, no samples;
    /// [`Error::Config`] when both parties are given the same channel.
    pub fn from_wav(path: &Path, agent_channel: u16, caller_channel: u16) -> Result<Self, Error> {
        let channels = hound::WavReader::open(path)
            .map(|r| r.spec().channels)
            .unwrap_or(2);
        if channels == 1 {
            return Ok(Self {
                agent: None,
                caller: Some(load_channel(path, 0)?),
            });
        }
        // Let the reader check the channel pair (same channel, missing channel) up front.
        WavSource::stereo(path, agent_channel, caller_channel)?;
        let agent = load_channel(path, agent_channel)?;
        let caller = load_channel(path, caller_channel)?;
        Ok(Self {
            agent: Some(agent),
            caller: Some(caller),
        })
    }

    /// Audio from samples already at 8 kHz (at least one party present).
    pub fn from_samples(agent: Option<Vec<i16>>, caller: Option<Vec<i16>>) -> Self {
        Self { agent, caller }
    }

    /// The audio played `times` times back to back (long calls for soak tests); the shorter
    /// party is padded with silence first so the repetitions stay aligned. `times` of 0 is
    /// taken as 1.
    #[must_use]
    pub fn repeated(self, times: usize) -> Self {
        let len = self.len();
        let repeat = |track: Option<Vec<i16>>| {
            track.map(|mut t| {
                t.resize(len, 0);
                t.repeat(times.max(1))
            })
        };
        Self {
            agent: repeat(self.agent),
            caller: repeat(self.caller),
        }
    }

    /// Samples per party (the longer party; the shorter is padded with silence).
    pub fn len(&self) -> usize {
        let a = self.agent.as_ref().map_or(0, Vec::len);
        let c = self.caller.as_ref().map_or(0, Vec::len);
        a.max(c)
    }

    /// Whether there is no audio at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both parties are present.
    pub fn is_stereo(&self) -> bool {
        self.agent.is_some() && self.caller.is_some()
    }

    /// One party's sample at `i` (silence past its end or when the party is absent).
    pub fn sample(&self, party: Party, i: usize) -> i16 {
        let track = match party {
            Party::Agent => &self.agent,
            Party::Caller => &self.caller,
        };
        track.as_ref().and_then(|t| t.get(i)).copied().unwrap_or(0)
    }
}

/// One side of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The agent (AudioHook `internal`, Twilio `outbound`).
    Agent,
    /// The caller (AudioHook `external`, Twilio `inbound`).
    Caller,
}

/// How samples are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// G.711 μ-law, one byte per sample (AudioHook `PCMU`, Twilio `audio/x-mulaw`).
    #[default]
    Pcmu,
    /// 16-bit linear PCM, little-endian, two bytes per sample (AudioHook `L16`).
    L16,
}

impl Encoding {
    /// Bytes per sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::Pcmu => 1,
            Self::L16 => 2,
        }
    }

    /// The AudioHook `format` name.
    pub fn audiohook_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::L16 => "L16",
        }
    }

    /// Appends one sample's encoding to `out`.
    pub fn push(self, sample: i16, out: &mut Vec<u8>) {
        match self {
            Self::Pcmu => out.push(mulaw_encode(sample)),
            Self::L16 => out.extend_from_slice(&sample.to_le_bytes()),
        }
    }
}

/// Appends samples `start..end` of the given parties, interleaved in the order given (one
/// sample of each party per sample instant), encoded, to `out`.
pub fn encode_interleaved(
    audio: &CallAudio,
    parties: &[Party],
    start: usize,
    end: usize,
    encoding: Encoding,
    out: &mut Vec<u8>,
) {
    out.reserve((end.saturating_sub(start)) * parties.len() * encoding.bytes_per_sample());
    for i in start..end {
        for &p in parties {
            encoding.push(audio.sample(p, i), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::degrade::mulaw_decode;

    #[test]
    fn repeats_aligned() {
        let a = CallAudio::from_samples(Some(vec![1, 2, 3]), Some(vec![9])).repeated(2);
        assert_eq!(a.agent, Some(vec![1, 2, 3, 1, 2, 3]));
        assert_eq!(a.caller, Some(vec![9, 0, 0, 9, 0, 0]));
        let mono = CallAudio::from_samples(None, Some(vec![5, 6])).repeated(0);
        assert_eq!(mono, CallAudio::from_samples(None, Some(vec![5, 6])));
    }

    #[test]
    fn interleaves_in_the_order_given() {
        let audio = CallAudio::from_samples(Some(vec![1, 2, 3]), Some(vec![-1, -2]));
        let mut out = Vec::new();
        encode_interleaved(
            &audio,
            &[Party::Caller, Party::Agent],
            0,
            3,
            Encoding::L16,
            &mut out,
        );
        let s: Vec<i16> = out
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(s, vec![-1, 1, -2, 2, 0, 3]);
    }

    #[test]
    fn mulaw_round_trips_within_quantisation() {
        let audio = CallAudio::from_samples(None, Some(vec![1000, -20000]));
        let mut out = Vec::new();
        encode_interleaved(&audio, &[Party::Caller], 0, 2, Encoding::Pcmu, &mut out);
        assert_eq!(out.len(), 2);
        assert!((i32::from(mulaw_decode(out[0])) - 1000).abs() < 40);
        assert!((i32::from(mulaw_decode(out[1])) + 20000).abs() < 700);
        assert_eq!(audio.len(), 2);
        assert!(!audio.is_stereo());
    }
}
