//! The rules of the way into the maintenance screen (维护界面), pure: the hidden gesture
//! ([`TapCounter`]: five taps on the corner within a few seconds) and the PIN lockout
//! ([`Lockout`]: five wrong PINs lock it for 15 minutes).
//!
//! Sans-IO: no clock, no files. `now` is passed in; [`super::MaintenanceGate`] keeps the
//! lockout in a file so it survives a restart.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Taps on the hidden corner that open the PIN entry.
pub const TAPS: usize = 5;
/// Within this time, first tap to last.
pub const TAP_WINDOW: Duration = Duration::from_secs(4);
/// Wrong PINs in a row before the lock.
pub const MAX_FAILURES: u32 = 5;
/// How long the lock lasts.
pub const LOCK_FOR: Duration = Duration::from_secs(15 * 60);

/// Counts taps on the hidden corner (隐藏手势).
#[derive(Debug, Clone, Default)]
pub struct TapCounter {
    taps: VecDeque<Instant>,
}

impl TapCounter {
    /// A tap at `now`; true when it completes the gesture (the count then starts over).
    pub fn tap(&mut self, now: Instant) -> bool {
        while self
            .taps
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > TAP_WINDOW)
        {
            self.taps.pop_front();
        }
        self.taps.push_back(now);
        if self.taps.len() >= TAPS {
            self.taps.clear();
            true
        } else {
            false
        }
    }
}

/// What became of a PIN entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    Accepted,
    /// Wrong; this many tries are left before the lock.
    Wrong {
        left: u32,
    },
    /// Locked until then (the PIN was not even compared).
    Locked {
        until: DateTime<Utc>,
    },
}

/// The PIN lockout state, as kept on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    /// Wrong PINs in a row since the last success or lock.
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Lockout {
    /// Until when entries are refused, if locked at `now`. A lock further ahead than
    /// [`LOCK_FOR`] (the clock was set back) counts as [`LOCK_FOR`] from `now`.
    pub fn locked(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = self.locked_until.filter(|u| *u > now)?;
        Some(until.min(now + lock_for()))
    }

    /// Records one entry whose correctness the caller found (only call when not
    /// [`Lockout::locked`]; a locked gate answers `Locked` and records nothing).
    pub fn record(&mut self, correct: bool, now: DateTime<Utc>) -> PinVerdict {
        if let Some(until) = self.locked(now) {
            return PinVerdict::Locked { until };
        }
        if correct {
            *self = Lockout::default();
            return PinVerdict::Accepted;
        }
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            let until = now + lock_for();
            *self = Lockout {
                failures: 0,
                locked_until: Some(until),
            };
            PinVerdict::Locked { until }
        } else {
            PinVerdict::Wrong {
                left: MAX_FAILURES - self.failures,
            }
        }
    }
}

fn lock_for() -> chrono::Duration {
    chrono::Duration::from_std(LOCK_FOR).unwrap_or(chrono::Duration::minutes(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_taps_within_the_window_open_it_and_slow_taps_do_not() {
        let t0 = Instant::now();
        let mut c = TapCounter::default();
        for i in 0..4 {
            assert!(!c.tap(t0 + Duration::from_millis(500 * i)));
        }
        assert!(c.tap(t0 + Duration::from_millis(2000)));
        // Starts over after opening; taps 2 s apart never gather five within 4 s.
        let mut c = TapCounter::default();
        assert!((0..20).all(|i| !c.tap(t0 + Duration::from_secs(2 * i))));
    }

    #[test]
    fn five_wrong_pins_lock_for_fifteen_minutes() {
        let now: DateTime<Utc> = "2026-12-02T05:00:00Z".parse().unwrap();
        let mut l = Lockout::default();
        for left in (1..MAX_FAILURES).rev() {
            assert_eq!(l.record(false, now), PinVerdict::Wrong { left });
        }
        let until = now + chrono::Duration::minutes(15);
        assert_eq!(l.record(false, now), PinVerdict::Locked { until });
        // Even the right PIN is refused while locked.
        let later = now + chrono::Duration::minutes(14);
        assert_eq!(l.record(true, later), PinVerdict::Locked { until });
        let after = now + chrono::Duration::minutes(15);
        assert_eq!(l.locked(after), None);
        assert_eq!(l.record(true, after), PinVerdict::Accepted);
        assert_eq!(l, Lockout::default());
        // A success resets the count.
        l.record(false, after);
        l.record(true, after);
        assert_eq!(l.failures, 0);
        // A clock set back does not lengthen the lock beyond 15 minutes.
        let far = Lockout {
            failures: 0,
            locked_until: Some(now + chrono::Duration::days(30)),
        };
        assert_eq!(far.locked(now), Some(until));
    }
}
