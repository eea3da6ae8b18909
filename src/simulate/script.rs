//! The simulation script: its programmatic form and the parser of the text form (see the
//! [module docs](super) for the format).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::role::Role;

/// Output rate when the script does not say (Hz).
pub const DEFAULT_RATE: u32 = 8_000;
/// Lowest output rate accepted (Hz).
pub const MIN_RATE: u32 = 4_000;
/// Highest output rate accepted (Hz).
pub const MAX_RATE: u32 = 192_000;
/// Longest call, and latest placement time, accepted (seconds): one hour.
pub const MAX_DURATION_S: f64 = 3_600.0;
/// Silence after the last placement when the script gives no duration (seconds).
pub const DEFAULT_TAIL_S: f64 = 0.5;
/// Largest gain accepted (dB).
pub const MAX_GAIN_DB: f64 = 40.0;
/// Lowest gain accepted (dB).
pub const MIN_GAIN_DB: f64 = -120.0;

/// Where an utterance's audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum UtteranceRef {
    /// A WAV file (mono, or its channel 0 is used), any rate and any format `hound` reads.
    Path(PathBuf),
    /// Samples in memory, in [-1, 1], at `rate` Hz.
    Samples {
        /// Sample rate (Hz).
        rate: u32,
        /// The samples (shared, so that a pool of clips is cheap to place many times).
        samples: Arc<[f32]>,
    },
}

impl UtteranceRef {
    /// In-memory samples at `rate` Hz.
    pub fn samples(rate: u32, samples: impl Into<Arc<[f32]>>) -> Self {
        UtteranceRef::Samples {
            rate,
            samples: samples.into(),
        }
    }

    /// A name for messages: the path, or "an in-memory clip".
    pub fn describe(&self) -> String {
        match self {
            UtteranceRef::Path(p) => p.display().to_string(),
            UtteranceRef::Samples { .. } => "an in-memory clip".to_string(),
        }
    }
}

/// One utterance placed on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The channel: agent (0) or caller (1).
    pub role: Role,
    /// Where the (cut) clip starts in the call (seconds).
    pub start_s: f64,
    /// The audio.
    pub source: UtteranceRef,
    /// Start of the excerpt in the source (source seconds); `None`: its beginning.
    pub from_s: Option<f64>,
    /// Length of the excerpt (source seconds); `None`: to the end of the source.
    pub dur_s: Option<f64>,
    /// Gain applied to the clip (dB).
    pub gain_db: f64,
    /// The script line it came from; 0 for a placement built in code (messages then give its
    /// 1-based number in [`Script::placements`]).
    pub line: usize,
}

impl Placement {
    /// The whole of `source` at `start_s` on `role`'s channel, at unity gain.
    pub fn new(role: Role, start_s: f64, source: UtteranceRef) -> Self {
        Self {
            role,
            start_s,
            source,
            from_s: None,
            dur_s: None,
            gain_db: 0.0,
            line: 0,
        }
    }

    /// Cuts the excerpt `[from_s, from_s + dur_s)` of the source (source seconds).
    pub fn excerpt(mut self, from_s: f64, dur_s: Option<f64>) -> Self {
        self.from_s = Some(from_s);
        self.dur_s = dur_s;
        self
    }

    /// Sets the gain (dB).
    pub fn gain_db(mut self, gain_db: f64) -> Self {
        self.gain_db = gain_db;
        self
    }
}

/// A call to simulate: utterances placed on the agent and caller channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Output sample rate (Hz); `--telephone` overrides it with 8000.
    pub rate: u32,
    /// Length of the call (seconds); `None`: end of the last placement + 0.5 s.
    pub duration_s: Option<f64>,
    /// The placements, in any order.
    pub placements: Vec<Placement>,
    /// The script file this came from, if any (recorded in the truth).
    pub path: Option<PathBuf>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            rate: DEFAULT_RATE,
            duration_s: None,
            placements: Vec::new(),
            path: None,
        }
    }
}

fn err(line: usize, message: impl Into<String>) -> Error {
    Error::Script {
        line,
        message: message.into(),
    }
}

fn number(line: usize, token: &str, what: &str) -> Result<f64, Error> {
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(err(
            line,
            format!("bad number {token:?} for {what}: expected a decimal number such as 1.25"),
        )),
    }
}

fn seconds(line: usize, token: &str, what: &str, positive: bool) -> Result<f64, Error> {
    let v = number(line, token, what)?;
    if v < 0.0 || (positive && v == 0.0) {
        return Err(err(
            line,
            format!(
                "{what} must be {} seconds, not {token}",
                if positive {
                    "a positive number of"
                } else {
                    "zero or more"
                }
            ),
        ));
    }
    if v > MAX_DURATION_S {
        return Err(err(
            line,
            format!("{what} {token} s is beyond the limit of {MAX_DURATION_S} s"),
        ));
    }
    Ok(v)
}

impl Script {
    /// Reads and parses a script file; relative paths in it resolve against its directory.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Script`] as for [`Script::parse`].
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let base = path.parent().unwrap_or(Path::new(""));
        let mut script = Self::parse(&text, base)?;
        script.path = Some(path.to_owned());
        Ok(script)
    }

    /// Parses the text form; relative paths resolve against `base_dir`. Files are not opened
    /// here: [`render`](super::render) reads them and reports unreadable files, excerpts
    /// outside a file and overlapping placements, with their lines.
    ///
    /// # Errors
    /// [`Error::Script`] with the line number: unknown keyword, role or option, bad or
    /// negative number, missing field, a value out of range or given twice.
    ///
    /// # Examples
    /// ```
    /// use callpulse::simulate::Script;
    /// let s = Script::parse("rate 16000\nagent 0.5 hello.wav gain_db=-3\n", "utt".as_ref())?;
    /// assert_eq!(s.rate, 16000);
    /// assert_eq!(s.placements[0].gain_db, -3.0);
    /// # Ok::<(), callpulse::Error>(())
    /// ```
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, Error> {
        let mut script = Script::default();
        let mut rate_line = None;
        let mut duration_line = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("");
            let mut tokens = content.split_whitespace();
            let Some(keyword) = tokens.next() else {
                continue;
            };
            let rest: Vec<&str> = tokens.collect();
            match keyword.to_ascii_lowercase().as_str() {
                "rate" => {
                    if let Some(first) = rate_line {
                        return Err(err(
                            line,
                            format!("rate given twice (also at line {first})"),
                        ));
                    }
                    let [value] = rest[..] else {
                        return Err(err(line, "expected `rate HZ`, e.g. `rate 8000`"));
                    };
                    script.rate = match value.parse::<u32>() {
                        Ok(r) if (MIN_RATE..=MAX_RATE).contains(&r) => r,
                        _ => {
                            return Err(err(
                                line,
                                format!(
                                    "bad rate {value:?}: expected a whole number of Hz from \
                                     {MIN_RATE} to {MAX_RATE}"
                                ),
                            ));
                        }
                    };
                    rate_line = Some(line);
                }
                "duration" => {
                    if let Some(first) = duration_line {
                        return Err(err(
                            line,
                            format!("duration given twice (also at line {first})"),
                        ));
                    }
                    let [value] = rest[..] else {
                        return Err(err(line, "expected `duration SECONDS`, e.g. `duration 30`"));
                    };
                    script.duration_s = Some(seconds(line, value, "duration", true)?);
                    duration_line = Some(line);
                }
                "agent" | "caller" => {
                    let role = if keyword.eq_ignore_ascii_case("agent") {
                        Role::Agent
                    } else {
                        Role::Caller
                    };
                    script
                        .placements
                        .push(parse_placement(line, role, &rest, base_dir)?);
                }
                _ => {
                    return Err(err(
                        line,
                        format!(
                            "unknown keyword {keyword:?}: a line starts with agent, caller, rate \
                             or duration"
                        ),
                    ));
                }
            }
        }
        Ok(script)
    }
}

fn parse_placement(
    line: usize,
    role: Role,
    rest: &[&str],
    base_dir: &Path,
) -> Result<Placement, Error> {
    let usage = format!("expected `{role} START_S PATH [from=S] [dur=S] [gain_db=G]`");
    let (Some(start), Some(path)) = (rest.first(), rest.get(1)) else {
        return Err(err(line, usage));
    };
    if start.contains('=') || path.contains('=') {
        return Err(err(line, usage));
    }
    let start_s = seconds(line, start, "start time", false)?;
    let path = Path::new(path);
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    };
    let mut placement = Placement::new(role, start_s, UtteranceRef::Path(path));
    placement.line = line;
    let mut seen: Vec<&str> = Vec::new();
    for option in &rest[2..] {
        let Some((key, value)) = option.split_once('=') else {
            return Err(err(
                line,
                format!("unexpected {option:?}: options are from=S, dur=S and gain_db=G"),
            ));
        };
        if seen.contains(&key) {
            return Err(err(line, format!("option {key} given twice")));
        }
        match key {
            "from" => placement.from_s = Some(seconds(line, value, "from", false)?),
            "dur" => placement.dur_s = Some(seconds(line, value, "dur", true)?),
            "gain_db" => {
                let g = number(line, value, "gain_db")?;
                if !(MIN_GAIN_DB..=MAX_GAIN_DB).contains(&g) {
                    return Err(err(
                        line,
                        format!("gain_db {value} is outside {MIN_GAIN_DB}…{MAX_GAIN_DB} dB"),
                    ));
                }
                placement.gain_db = g;
            }
            _ => {
                return Err(err(
                    line,
                    format!("unknown option {key:?}: options are from=S, dur=S and gain_db=G"),
                ));
            }
        }
        seen.push(key);
    }
    Ok(placement)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Script, Error> {
        Script::parse(text, Path::new("/base"))
    }

    fn message(text: &str) -> (usize, String) {
        match parse(text) {
            Err(Error::Script { line, message }) => (line, message),
            other => panic!("expected a script error, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_documented_example() {
        let s = parse(
            "# comments and blank lines allowed\n\nrate 8000              # optional\n\
             duration 30\nagent  0.50  utt/hello.wav\n\
             caller 2.10  utt/mmhm.wav  from=0.20 dur=0.35 gain_db=-3\n",
        )
        .unwrap();
        assert_eq!(s.rate, 8000);
        assert_eq!(s.duration_s, Some(30.0));
        assert_eq!(s.placements.len(), 2);
        let c = &s.placements[1];
        assert_eq!(c.role, Role::Caller);
        assert_eq!(c.start_s, 2.1);
        assert_eq!(c.from_s, Some(0.2));
        assert_eq!(c.dur_s, Some(0.35));
        assert_eq!(c.gain_db, -3.0);
        assert_eq!(c.line, 6);
        assert_eq!(
            c.source,
            UtteranceRef::Path(PathBuf::from("/base/utt/mmhm.wav"))
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(message("\nhello 1 x.wav").0, 2);
        assert!(message("agent 1,5 x.wav").1.contains("bad number \"1,5\""));
        assert!(message("agent -1 x.wav").1.contains("zero or more"));
        assert!(message("caller 1 x.wav dur=0").1.contains("positive"));
        assert!(
            message("caller 1 x.wav loud=3")
                .1
                .contains("unknown option")
        );
        assert!(message("caller 1").1.contains("expected"));
        assert!(message("rate 8000\nrate 16000").1.contains("line 1"));
        assert!(message("rate 12.5").1.contains("bad rate"));
        assert!(message("agent nan x.wav").1.contains("bad number"));
        assert!(message("agent 1e9 x.wav").1.contains("limit"));
    }
}
