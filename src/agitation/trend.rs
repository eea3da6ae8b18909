//! Sustained-rise alarms with hysteresis and a rate limit.
//!
//! One loud frame never alerts: a condition must hold for `hold` counted frames in a row (the
//! party's speech frames; silence neither adds nor resets), the alarm then disarms until the
//! condition falls below its release level (hysteresis), and two alerts of one kind are at least
//! `interval` frames apart, except that a `warn` may be followed by a `critical` after
//! `escalate` frames. Alert fatigue is the first complaint about live-coaching products; these
//! three rules bound how often each kind can sound.

use crate::alert::Severity;

/// Where the watched quantity stands in this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Below the release level: the alarm re-arms.
    Released,
    /// Between release and warn: nothing accumulates.
    Normal,
    /// At or above the warn level.
    Warn,
    /// At or above the critical level.
    Critical,
}

/// An alarm on one condition.
#[derive(Debug, Clone)]
pub struct Alarm {
    hold: u32,
    interval: u64,
    escalate: u64,
    above_warn: u32,
    above_critical: u32,
    armed: bool,
    last: Option<(u64, Severity)>,
}

impl Alarm {
    /// An armed alarm needing `hold` counted frames, at least `interval` frames between alerts
    /// and `escalate` frames from a `warn` to a `critical`.
    pub fn new(hold: u32, interval: u64, escalate: u64) -> Self {
        Self {
            hold: hold.max(1),
            interval,
            escalate,
            above_warn: 0,
            above_critical: 0,
            armed: true,
            last: None,
        }
    }

    /// Updates the alarm with frame `index`'s level; `counting` says whether this frame counts
    /// toward the hold time (the party speaks). Returns the severity of an alert to raise now.
    pub fn update(&mut self, index: u64, level: Level, counting: bool) -> Option<Severity> {
        if level == Level::Released {
            self.armed = true;
            self.above_warn = 0;
            self.above_critical = 0;
            return None;
        }
        if !counting {
            return None;
        }
        match level {
            Level::Released | Level::Normal => {
                self.above_warn = 0;
                self.above_critical = 0;
                return None;
            }
            Level::Warn => {
                self.above_warn += 1;
                self.above_critical = 0;
            }
            Level::Critical => {
                self.above_warn += 1;
                self.above_critical += 1;
            }
        }
        let since = |last: Option<(u64, Severity)>| last.map(|(at, _)| index.saturating_sub(at));
        let rested = since(self.last).is_none_or(|d| d >= self.interval);
        let severity = if self.above_critical >= self.hold {
            let escalation = matches!(self.last, Some((at, Severity::Warn)) if index.saturating_sub(at) >= self.escalate)
                && !self.armed;
            ((self.armed && rested) || escalation).then_some(Severity::Critical)
        } else if self.above_warn >= self.hold {
            (self.armed && rested).then_some(Severity::Warn)
        } else {
            None
        };
        if let Some(s) = severity {
            self.armed = false;
            self.last = Some((index, s));
        }
        severity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(alarm: &mut Alarm, from: u64, n: u64, level: Level) -> Vec<(u64, Severity)> {
        (from..from + n)
            .filter_map(|i| alarm.update(i, level, true).map(|s| (i, s)))
            .collect()
    }

    #[test]
    fn needs_a_sustained_condition() {
        let mut a = Alarm::new(100, 6000, 1500);
        for i in 0..1000 {
            // Flickering above and below never accumulates 100 frames in a row.
            let level = if i % 50 < 40 {
                Level::Warn
            } else {
                Level::Normal
            };
            assert_eq!(a.update(i, level, true), None);
        }
        assert_eq!(
            run(&mut a, 1000, 200, Level::Warn),
            vec![(1099, Severity::Warn)]
        );
    }

    #[test]
    fn silence_neither_counts_nor_resets() {
        let mut a = Alarm::new(100, 6000, 1500);
        assert!(run(&mut a, 0, 60, Level::Warn).is_empty());
        for i in 60..500 {
            assert_eq!(a.update(i, Level::Warn, false), None);
        }
        assert_eq!(
            run(&mut a, 500, 60, Level::Warn),
            vec![(539, Severity::Warn)]
        );
    }

    #[test]
    fn hysteresis_and_rate_limit() {
        let mut a = Alarm::new(100, 6000, 1500);
        assert_eq!(run(&mut a, 0, 1000, Level::Warn).len(), 1);
        // Still above, not released: no second alert however long it lasts.
        assert!(run(&mut a, 1000, 10_000, Level::Warn).is_empty());
        run(&mut a, 11_000, 10, Level::Released);
        assert_eq!(run(&mut a, 11_010, 200, Level::Warn).len(), 1);
        // Released and risen again within the interval: held back until it has passed.
        run(&mut a, 11_210, 10, Level::Released);
        let v = run(&mut a, 11_220, 10_000, Level::Warn);
        assert_eq!(v, vec![(11_109 + 6000, Severity::Warn)]);
    }

    #[test]
    fn escalates_once_from_warn_to_critical() {
        let mut a = Alarm::new(100, 6000, 1500);
        assert_eq!(run(&mut a, 0, 200, Level::Warn), vec![(99, Severity::Warn)]);
        let v = run(&mut a, 200, 5000, Level::Critical);
        assert_eq!(v, vec![(1599, Severity::Critical)]);
    }

    #[test]
    fn goes_straight_to_critical() {
        let mut a = Alarm::new(100, 6000, 1500);
        assert_eq!(
            run(&mut a, 0, 5000, Level::Critical),
            vec![(99, Severity::Critical)]
        );
    }
}
