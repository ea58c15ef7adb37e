//! Person lookups that need the card (issue 14 #2): single-use challenges the county issues to
//! one station, short-lived and rate-limited per station. Sans-IO: `now` and the random bytes
//! are passed in; the HTTP handlers keep one [`LookupGuard`] in memory.
//!
//! A lookup of a person's cases (`POST /v1/persons/cases`) must present a challenge this
//! station asked for within [`CHALLENGE_TTL`] and has not used yet, plus the card key of the
//! card on its reader; see docs/county.md ("A person's cases") for the whole design and its
//! limits.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long a challenge may be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// At most this many challenges per station in [`RATE_WINDOW`] (a busy village point reads a
/// few cards an hour).
pub const RATE_LIMIT: usize = 30;
pub const RATE_WINDOW: Duration = Duration::from_secs(600);

/// Why a challenge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupRefusal {
    #[error("too many lookups from this station; retry after {0:?}")]
    RateLimited(Duration),
}

/// The challenges issued and each station's recent requests.
#[derive(Debug, Default)]
pub struct LookupGuard {
    open: HashMap<String, (String, DateTime<Utc>)>,
    recent: HashMap<String, VecDeque<DateTime<Utc>>>,
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_default()
}

impl LookupGuard {
    /// A new challenge for `station` (hex of `random`), valid until the returned time; or a
    /// refusal when the station asked too often.
    pub fn issue(
        &mut self,
        station: &str,
        now: DateTime<Utc>,
        random: [u8; 16],
    ) -> Result<(String, DateTime<Utc>), LookupRefusal> {
        self.open.retain(|_, (_, until)| *until > now);
        let window_start = now - chrono_dur(RATE_WINDOW);
        let recent = self.recent.entry(station.to_string()).or_default();
        while recent.front().is_some_and(|t| *t <= window_start) {
            recent.pop_front();
        }
        if recent.len() >= RATE_LIMIT {
            let oldest = recent.front().copied().unwrap_or(now);
            let wait = (oldest + chrono_dur(RATE_WINDOW) - now)
                .to_std()
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1));
            return Err(LookupRefusal::RateLimited(wait));
        }
        recent.push_back(now);
        let challenge = hex::encode(random);
        let until = now + chrono_dur(CHALLENGE_TTL);
        self.open
            .insert(challenge.clone(), (station.to_string(), until));
        Ok((challenge, until))
    }

    /// Uses up `challenge`: true only once, for the station it was issued to, before it
    /// expires. A wrong station does not use it up.
    pub fn consume(&mut self, station: &str, challenge: &str, now: DateTime<Utc>) -> bool {
        match self.open.get(challenge) {
            Some((owner, until)) if owner == station => {
                let fresh = *until > now;
                self.open.remove(challenge);
                fresh
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_single_use_per_station_and_expire() {
        let mut g = LookupGuard::default();
        let t0 = Utc::now();
        let (c, until) = g.issue("S1", t0, [1; 16]).unwrap();
        assert_eq!(until, t0 + chrono_dur(CHALLENGE_TTL));
        assert!(!g.consume("S2", &c, t0), "another station's challenge");
        assert!(g.consume("S1", &c, t0));
        assert!(!g.consume("S1", &c, t0), "single use");
        let (late, _) = g.issue("S1", t0, [2; 16]).unwrap();
        assert!(!g.consume("S1", &late, t0 + chrono_dur(CHALLENGE_TTL)));
        assert!(!g.consume("S1", "00", t0), "never issued");
    }

    #[test]
    fn each_station_is_rate_limited_on_its_own() {
        let mut g = LookupGuard::default();
        let t0 = Utc::now();
        for i in 0..RATE_LIMIT {
            g.issue(
                "S1",
                t0 + chrono::Duration::seconds(i as i64),
                [i as u8; 16],
            )
            .unwrap();
        }
        let refused = g.issue("S1", t0 + chrono::Duration::seconds(60), [99; 16]);
        assert_eq!(
            refused,
            Err(LookupRefusal::RateLimited(
                RATE_WINDOW - Duration::from_secs(60)
            ))
        );
        assert!(
            g.issue("S2", t0, [98; 16]).is_ok(),
            "other stations unaffected"
        );
        // Once the window has passed, the station may ask again.
        assert!(
            g.issue("S1", t0 + chrono_dur(RATE_WINDOW), [97; 16])
                .is_ok()
        );
    }
}
