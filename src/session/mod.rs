//! A villager's visit as a state machine: idle, browsing, identified, filling, confirming,
//! submitted, rating; with the inactivity warning and wipe, and the card-lift and 首页 wipes.
//!
//! Sans-IO: no clock, no timers, no I/O. `now` is passed in, so tests drive hours of
//! inactivity in microseconds. The session is the only place personal data (the card, the
//! answers) lives while a villager is at the kiosk; [`Session::wipe`] drops and zeroises it.
//! This module must never log personal data, and never keep it after a wipe.

pub mod validate;

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::config::SessionConfig;
use crate::idcard::IdCard;

/// How long a villager may stay without touching the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRules {
    /// The "are you still there" warning (您还在吗) appears after this long without a touch.
    pub warn_after: Duration,
    /// Everything personal is wiped and the kiosk returns to idle after this long.
    pub wipe_after: Duration,
}

impl Default for SessionRules {
    fn default() -> Self {
        Self::from(&SessionConfig::default())
    }
}

impl From<&SessionConfig> for SessionRules {
    fn from(c: &SessionConfig) -> Self {
        // A warning after the wipe would never show: clamp it to the wipe.
        let wipe_after = Duration::from_secs(c.wipe_after_secs.max(1));
        let warn_after = Duration::from_secs(c.warn_after_secs).min(wipe_after);
        Self {
            warn_after,
            wipe_after,
        }
    }
}

/// Where the villager is in the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// 待机: nobody at the kiosk; announcements on screen.
    Idle,
    /// Looking at categories, search results and guides; nothing personal yet.
    Browsing,
    /// A valid card is on the reader.
    Identified,
    /// Filling in an application form.
    Filling,
    /// On the confirmation page.
    Confirming,
    /// The application was accepted; only its receipt number remains.
    Submitted,
    /// 好差评.
    Rating,
}

/// What the caller must do after [`Session::tick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing to show.
    Quiet,
    /// Show (or update) the warning: this many whole seconds are left before the wipe.
    Warn { seconds_left: u64 },
    /// The session was just wiped for inactivity: show the idle screen.
    Wiped,
}

/// Why a session was wiped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeReason {
    Inactivity,
    CardLifted,
    Home,
    Finished,
}

/// One villager's visit.
pub struct Session {
    rules: SessionRules,
    stage: Stage,
    last_touch: Option<Instant>,
    warning: bool,
    card: Option<IdCard>,
    answers: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stage", &self.stage)
            .field("warning", &self.warning)
            .field("card", &self.card)
            .field("answers", &self.answers.len())
            .finish()
    }
}

impl Session {
    pub fn new(rules: SessionRules) -> Self {
        Self {
            rules,
            stage: Stage::Idle,
            last_touch: None,
            warning: false,
            card: None,
            answers: Vec::new(),
        }
    }

    pub fn rules(&self) -> SessionRules {
        self.rules
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Whether the inactivity warning is showing.
    pub fn warning(&self) -> bool {
        self.warning
    }

    /// The villager touched "start" on the idle screen (or anything else).
    pub fn start(&mut self, now: Instant) {
        if self.stage == Stage::Idle {
            self.stage = Stage::Browsing;
        }
        self.touch(now);
    }

    /// Any touch: restarts the inactivity clock and hides the warning.
    pub fn touch(&mut self, now: Instant) {
        self.last_touch = Some(now);
        self.warning = false;
    }

    /// Moves to `stage` (never to `Idle`: use [`Session::wipe`]).
    pub fn advance(&mut self, stage: Stage, now: Instant) {
        if stage != Stage::Idle {
            self.stage = stage;
            self.touch(now);
        }
    }

    /// Called about once a second with the current time.
    pub fn tick(&mut self, now: Instant) -> Tick {
        if self.stage == Stage::Idle {
            return Tick::Quiet;
        }
        let Some(last) = self.last_touch else {
            self.last_touch = Some(now);
            return Tick::Quiet;
        };
        let idle = now.saturating_duration_since(last);
        if idle >= self.rules.wipe_after {
            self.wipe(WipeReason::Inactivity);
            return Tick::Wiped;
        }
        if idle >= self.rules.warn_after {
            self.warning = true;
            let left = self.rules.wipe_after - idle;
            // Round up: "1 second left" until the very end.
            let seconds_left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Tick::Warn { seconds_left };
        }
        Tick::Quiet
    }

    /// A valid card was placed: the villager is identified.
    pub fn identify(&mut self, card: IdCard, now: Instant) {
        self.card = Some(card);
        self.answers.clear();
        self.advance(Stage::Identified, now);
    }

    pub fn card(&self) -> Option<&IdCard> {
        self.card.as_ref()
    }

    /// The card was lifted from the reader: everything personal goes. Returns whether there was
    /// anything personal to wipe (so the caller can tell the villager).
    pub fn card_lifted(&mut self) -> bool {
        let had = self.has_personal_data();
        self.card = None;
        self.answers.clear();
        if matches!(
            self.stage,
            Stage::Identified | Stage::Filling | Stage::Confirming
        ) {
            self.stage = Stage::Browsing;
        }
        had
    }

    pub fn set_answer(&mut self, key: &str, value: &str) {
        match self.answers.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Zeroizing::new(value.to_owned()),
            None => self
                .answers
                .push((key.to_owned(), Zeroizing::new(value.to_owned()))),
        }
    }

    pub fn answer(&self, key: &str) -> Option<&str> {
        self.answers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Drops the card and the answers but keeps the stage (after a submission only the
    /// receipt number is needed).
    pub fn forget_personal_data(&mut self) {
        self.card = None;
        self.answers.clear();
    }

    pub fn has_personal_data(&self) -> bool {
        self.card.is_some() || !self.answers.is_empty()
    }

    /// Ends the visit: personal data dropped (and zeroised), back to idle.
    pub fn wipe(&mut self, reason: WipeReason) {
        tracing::info!(?reason, "session wiped");
        self.forget_personal_data();
        self.stage = Stage::Idle;
        self.last_touch = None;
        self.warning = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idcard::{CardKind, Sex};
    use chrono::NaiveDate;

    fn card() -> IdCard {
        IdCard {
            kind: CardKind::Resident,
            name: "张卫国".into(),
            english_name: None,
            sex: Sex::Male,
            nation_code: Some("01".into()),
            nation: Some("汉".into()),
            nationality: None,
            birth_date: NaiveDate::from_ymd_opt(1958, 3, 1).unwrap(),
            address: Some("示范县城关镇东关村".into()),
            id_number: "410329195803010010".into(),
            issuer: "示范县公安局".into(),
            valid_from: NaiveDate::from_ymd_opt(2018, 1, 1).unwrap(),
            valid_until: None,
            pass_number: None,
            issue_count: None,
            photo: vec![],
        }
    }

    fn rules() -> SessionRules {
        SessionRules::from(&SessionConfig {
            warn_after_secs: 45,
            wipe_after_secs: 60,
        })
    }

    #[test]
    fn idle_session_never_warns() {
        let t0 = Instant::now();
        let mut s = Session::new(rules());
        assert_eq!(s.tick(t0 + Duration::from_secs(3600)), Tick::Quiet);
    }

    #[test]
    fn warns_at_45_and_wipes_at_60() {
        let t0 = Instant::now();
        let mut s = Session::new(rules());
        s.start(t0);
        s.identify(card(), t0);
        s.set_answer("phone", "13800138000");
        assert_eq!(s.tick(t0 + Duration::from_secs(44)), Tick::Quiet);
        assert_eq!(
            s.tick(t0 + Duration::from_secs(45)),
            Tick::Warn { seconds_left: 15 }
        );
        assert!(s.warning());
        assert_eq!(
            s.tick(t0 + Duration::from_millis(59_500)),
            Tick::Warn { seconds_left: 1 }
        );
        assert_eq!(s.tick(t0 + Duration::from_secs(60)), Tick::Wiped);
        assert_eq!(s.stage(), Stage::Idle);
        assert!(!s.has_personal_data());
        assert!(s.card().is_none());
        assert_eq!(s.answer("phone"), None);
    }

    #[test]
    fn a_touch_restarts_the_clock_and_hides_the_warning() {
        let t0 = Instant::now();
        let mut s = Session::new(rules());
        s.start(t0);
        assert!(matches!(
            s.tick(t0 + Duration::from_secs(50)),
            Tick::Warn { .. }
        ));
        s.touch(t0 + Duration::from_secs(50));
        assert!(!s.warning());
        assert_eq!(s.tick(t0 + Duration::from_secs(94)), Tick::Quiet);
        assert_eq!(s.tick(t0 + Duration::from_secs(110)), Tick::Wiped);
    }

    #[test]
    fn card_lift_wipes_personal_data_but_keeps_browsing() {
        let t0 = Instant::now();
        let mut s = Session::new(rules());
        s.start(t0);
        s.identify(card(), t0);
        s.advance(Stage::Filling, t0);
        s.set_answer("phone", "138");
        assert!(s.card_lifted());
        assert!(!s.has_personal_data());
        assert_eq!(s.stage(), Stage::Browsing);
        assert!(!s.card_lifted());
    }

    #[test]
    fn configured_times_are_used_and_warning_never_after_wipe() {
        let r = SessionRules::from(&SessionConfig {
            warn_after_secs: 90,
            wipe_after_secs: 30,
        });
        assert_eq!(r.warn_after, Duration::from_secs(30));
        assert_eq!(r.wipe_after, Duration::from_secs(30));
    }
}
