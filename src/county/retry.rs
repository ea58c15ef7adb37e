//! The outbox's retry and scheduling rules, without I/O: outcomes and `now` in, decisions out.
//!
//! Two levels of backoff:
//! - the **link** (the county as a whole): a refused connection, a timeout, 5xx or 429 means
//!   the county cannot take work now. The link backs off exponentially with full jitter
//!   (`delay = random(0, min(max, base * 2^failures))`), never less than a `Retry-After` the
//!   county sent. Items are not pushed back individually, so once the county recovers the
//!   whole queue drains at once, oldest first.
//! - the **item**: a validation rejection (4xx) marks that item as needing attention; it is
//!   kept and shown, never dropped and never retried by itself.
//!
//! This module must never touch a socket, a clock, a random source or SQLite: the caller passes
//! `now` and a jitter sample in `[0, 1)`, which is what lets a test run hours of outage on a
//! virtual clock in milliseconds.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The backoff parameters (`[outbox] backoff_base_secs`, `backoff_max_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
        }
    }
}

impl BackoffPolicy {
    /// The ceiling of the delay after `failures` consecutive failures (1 = first failure).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let factor = 1u64 << exp;
        let ms = (self.base.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(ms).min(self.max)
    }

    /// Full jitter: a delay uniformly in `[0, ceiling]`, from a sample `jitter` in `[0, 1)`.
    /// Never below 10 ms, so a failing county is not hammered in a tight loop.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(failures).as_secs_f64();
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        Duration::from_secs_f64(ceiling * j).max(Duration::from_millis(10))
    }
}

/// What happened to one attempt, as the driver classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx: the county has it.
    Delivered,
    /// The county could not take it now: connection refused or dropped, timeout, truncated
    /// answer, 5xx, 429, a 409 "still in progress", or an authentication failure.
    Unavailable {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// 4xx other than 408/409/429 and the authentication failures: the county looked at this
    /// item and refused it. Retrying the same bytes would give the same answer.
    Rejected { status: u16, detail: String },
}

/// What the driver must do with the item after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemDecision {
    /// Mark delivered (and keep the county's answer).
    Delivered,
    /// Keep it pending; the link decides when the next attempt is.
    Pending { last_error: String },
    /// Keep it, flagged for a technician and the villager; do not retry by itself.
    NeedsAttention { reason: String },
}

/// The state of the link to the county: consecutive failures and when the next try may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkState {
    pub consecutive_failures: u32,
    pub blocked_until: Option<DateTime<Utc>>,
}

impl LinkState {
    /// Whether an attempt may be made at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.blocked_until.is_none_or(|t| now >= t)
    }

    /// When the next attempt may go (`now` if open).
    pub fn next_attempt(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.blocked_until {
            Some(t) if t > now => t,
            _ => now,
        }
    }

    /// Folds one attempt's outcome into the link and says what to do with the item.
    pub fn record(
        &mut self,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &BackoffPolicy,
        jitter: f64,
    ) -> ItemDecision {
        match outcome {
            AttemptOutcome::Delivered => {
                self.consecutive_failures = 0;
                self.blocked_until = None;
                ItemDecision::Delivered
            }
            AttemptOutcome::Rejected { status, detail } => {
                // The county answered: the link works.
                self.consecutive_failures = 0;
                self.blocked_until = None;
                ItemDecision::NeedsAttention {
                    reason: format!("county rejected it ({status}): {detail}"),
                }
            }
            AttemptOutcome::Unavailable {
                retry_after,
                detail,
            } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let mut delay = policy.delay(self.consecutive_failures, jitter);
                if let Some(ra) = retry_after {
                    // Honour Retry-After, but never beyond the policy's ceiling: a county
                    // asking for a day must not park applications for a day.
                    delay = delay.max((*ra).min(policy.max));
                }
                let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                self.blocked_until = Some(now.checked_add_signed(delay).unwrap_or(now));
                ItemDecision::Pending {
                    last_error: detail.clone(),
                }
            }
        }
    }
}

/// Classifies an HTTP status (with its `Retry-After`) into an outcome.
pub fn classify_status(status: u16, retry_after: Option<Duration>, detail: &str) -> AttemptOutcome {
    match status {
        200..=299 => AttemptOutcome::Delivered,
        401 | 403 | 407 | 408 | 409 | 425 | 429 => AttemptOutcome::Unavailable {
            retry_after,
            detail: format!("HTTP {status}: {detail}"),
        },
        400..=499 => AttemptOutcome::Rejected {
            status,
            detail: detail.to_string(),
        },
        _ => AttemptOutcome::Unavailable {
            retry_after,
            detail: format!("HTTP {status}: {detail}"),
        },
    }
}

/// Parses a `Retry-After` value: delta-seconds, or an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether an open case is due for a status poll.
pub fn poll_due(
    status_checked_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    interval: Duration,
) -> bool {
    match status_checked_at {
        None => true,
        Some(t) => now - t >= chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = BackoffPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(2));
        assert_eq!(p.ceiling(2), Duration::from_secs(4));
        assert_eq!(p.ceiling(5), Duration::from_secs(32));
        assert_eq!(p.ceiling(20), Duration::from_secs(600));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(600));
        assert!(p.delay(3, 0.999) <= Duration::from_secs(8));
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(10));
        assert!(p.delay(3, f64::NAN) <= Duration::from_secs(8));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_ceiling() {
        let p = BackoffPolicy::default();
        let mut link = LinkState::default();
        let out = AttemptOutcome::Unavailable {
            retry_after: Some(Duration::from_secs(120)),
            detail: "503".into(),
        };
        link.record(&out, t0(), &p, 0.0);
        assert_eq!(
            link.blocked_until,
            Some(t0() + chrono::Duration::seconds(120))
        );
        let huge = AttemptOutcome::Unavailable {
            retry_after: Some(Duration::from_secs(86_400)),
            detail: "429".into(),
        };
        link.record(&huge, t0(), &p, 0.0);
        assert_eq!(
            link.blocked_until,
            Some(t0() + chrono::Duration::seconds(600))
        );
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify_status(201, None, ""), AttemptOutcome::Delivered);
        assert!(matches!(
            classify_status(422, None, "bad"),
            AttemptOutcome::Rejected { status: 422, .. }
        ));
        assert!(matches!(
            classify_status(429, Some(Duration::from_secs(3)), ""),
            AttemptOutcome::Unavailable {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(matches!(
            classify_status(500, None, ""),
            AttemptOutcome::Unavailable { .. }
        ));
        assert!(matches!(
            classify_status(409, None, ""),
            AttemptOutcome::Unavailable { .. }
        ));
    }

    #[test]
    fn parses_retry_after_forms() {
        assert_eq!(parse_retry_after("7", t0()), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 08:01:00 GMT", t0()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", t0()), None);
    }

    /// Hours of outage on a virtual clock: a queue of 500 items, a county down for six hours
    /// that answers 503 with Retry-After half the time. Every item is delivered exactly once
    /// after recovery, attempts during the outage stay sparse, and nothing is dropped.
    #[test]
    fn six_hours_of_outage_on_a_virtual_clock() {
        let policy = BackoffPolicy::default();
        let mut link = LinkState::default();
        let start = t0();
        let outage_end = start + chrono::Duration::hours(6);
        let mut pending: std::collections::VecDeque<u32> = (0..500).collect();
        let mut delivered = vec![0u32; 500];
        let mut now = start;
        let mut attempts_during_outage = 0u32;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut jitter = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut max_gap = chrono::Duration::zero();
        let mut last_attempt = start;
        while let Some(&item) = pending.front() {
            now = link.next_attempt(now);
            let outcome = if now < outage_end {
                attempts_during_outage += 1;
                AttemptOutcome::Unavailable {
                    retry_after: attempts_during_outage
                        .is_multiple_of(2)
                        .then(|| Duration::from_secs(30)),
                    detail: "503".into(),
                }
            } else {
                AttemptOutcome::Delivered
            };
            max_gap = max_gap.max(now - last_attempt);
            last_attempt = now;
            match link.record(&outcome, now, &policy, jitter()) {
                ItemDecision::Delivered => {
                    delivered[item as usize] += 1;
                    pending.pop_front();
                }
                ItemDecision::Pending { .. } => {}
                ItemDecision::NeedsAttention { .. } => panic!("never rejected here"),
            }
        }
        assert!(delivered.iter().all(|&n| n == 1), "each exactly once");
        assert!(now >= outage_end);
        // The queue drains as soon as the county is back: within one backoff ceiling.
        assert!(now - outage_end <= chrono::Duration::seconds(600));
        // Six hours with a 10-minute ceiling: far fewer than one attempt a second.
        assert!(
            attempts_during_outage > 30,
            "kept trying: {attempts_during_outage}"
        );
        assert!(
            attempts_during_outage < 6 * 3600 / 10,
            "{attempts_during_outage}"
        );
        assert!(max_gap <= chrono::Duration::seconds(600));
    }

    #[test]
    fn rejection_needs_attention_and_keeps_the_link_open() {
        let p = BackoffPolicy::default();
        let mut link = LinkState {
            consecutive_failures: 4,
            blocked_until: None,
        };
        let d = link.record(
            &AttemptOutcome::Rejected {
                status: 422,
                detail: "unknown item".into(),
            },
            t0(),
            &p,
            0.5,
        );
        assert!(matches!(d, ItemDecision::NeedsAttention { .. }));
        assert!(link.is_open(t0()));
        assert_eq!(link.consecutive_failures, 0);
    }
}
