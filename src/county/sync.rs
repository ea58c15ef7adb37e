//! 目录同步: keeping a kiosk's catalogue, announcements and trusted keys current from the county.
//!
//! This file is the sans-IO core, in the manner of [`super::retry`]: *what next, and when*.
//! - [`Plan`]: when to ask the county next for each kind (the catalogue with its key rotation
//!   every `county.catalog_refresh_secs`, announcements every
//!   `county.announcements_refresh_secs`), backing off with full jitter while the county cannot
//!   answer, `now` and the jitter sample passed in;
//! - [`judge_catalog`]: whether a verified catalogue may replace the installed one (a downgrade, a
//!   catalogue of another county or the same version with other content is a [`Refusal`]) and
//!   what changes ([`CatalogDiff`]: items added, changed, removed; old and new version).
//!
//! The thin I/O half is [`driver`]: HTTP with ETag/If-None-Match, the store, the tokio loop, and
//! [`driver::SyncedCatalogue`], which holds a verified catalogue as *pending* until the app calls
//! `install_pending()` between visits. Refusals are kept in the store for the heartbeat.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::retry::{AttemptOutcome, BackoffPolicy, LinkState};
use super::wire;
use crate::catalog::Catalog;

pub mod driver;

pub use driver::{
    CatalogOffer, InstalledCatalogue, KeyringOutcome, NoticeOutcome, PendingCatalogue, SyncError,
    SyncHandle, SyncSettings, SyncStatus, SyncedCatalogue, Syncer, report, spawn,
};

/// What is synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncKind {
    /// 密钥轮换: key rotation bundles (`GET /v1/keyring`).
    Keyring,
    /// 事项目录 (`GET /v1/catalog`).
    Catalog,
    /// 通知公告 (`GET /v1/announcements`).
    Announcements,
}

impl SyncKind {
    pub const ALL: [SyncKind; 3] = [
        SyncKind::Keyring,
        SyncKind::Catalog,
        SyncKind::Announcements,
    ];

    /// The name in the store, the heartbeat and the bundle's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Keyring => "keyring",
            SyncKind::Catalog => "catalog",
            SyncKind::Announcements => "announcements",
        }
    }

    pub fn parse(s: &str) -> Option<SyncKind> {
        SyncKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// When to ask the county next for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    every: Duration,
    policy: BackoffPolicy,
    link: LinkState,
    next: DateTime<Utc>,
}

impl Schedule {
    /// Due at once (`now`), then every `every`.
    pub fn new(every: Duration, policy: BackoffPolicy, now: DateTime<Utc>) -> Schedule {
        Schedule {
            every,
            policy,
            link: LinkState::default(),
            next: now,
        }
    }

    pub fn due(&self, now: DateTime<Utc>) -> bool {
        now >= self.next
    }

    pub fn next_at(&self) -> DateTime<Utc> {
        self.next
    }

    /// Consecutive failures to reach the county for this kind.
    pub fn failures(&self) -> u32 {
        self.link.consecutive_failures
    }

    /// The county answered (new, unchanged or refused): next check after the interval.
    pub fn answered(&mut self, now: DateTime<Utc>) {
        self.link = LinkState::default();
        self.next = after(now, self.every);
    }

    /// The attempt failed with `outcome`. Unavailable: back off (never later than the regular
    /// interval); a 4xx answer counts as answered (retrying would give the same answer).
    pub fn failed(&mut self, outcome: &AttemptOutcome, now: DateTime<Utc>, jitter: f64) {
        match outcome {
            AttemptOutcome::Unavailable { .. } => {
                self.link.record(outcome, now, &self.policy, jitter);
                self.next = self.link.next_attempt(now).min(after(now, self.every));
            }
            AttemptOutcome::Delivered | AttemptOutcome::Rejected { .. } => self.answered(now),
        }
    }
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1));
    now.checked_add_signed(d).unwrap_or(now)
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask the county now for these kinds, in this order (a key rotation before the catalogue,
    /// so a catalogue signed with a newly announced key verifies).
    Check(Vec<SyncKind>),
    /// Nothing is due before this instant.
    WaitUntil(DateTime<Utc>),
}

/// The schedules of a running kiosk: catalogue (with key rotation) and announcements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub catalog: Schedule,
    pub announcements: Schedule,
}

impl Plan {
    pub fn new(
        catalog_every: Duration,
        announcements_every: Duration,
        policy: BackoffPolicy,
        now: DateTime<Utc>,
    ) -> Plan {
        Plan {
            catalog: Schedule::new(catalog_every, policy, now),
            announcements: Schedule::new(announcements_every, policy, now),
        }
    }

    /// What is due at `now`, or when the next thing is.
    pub fn next(&self, now: DateTime<Utc>) -> Next {
        let mut due = Vec::new();
        if self.catalog.due(now) {
            due.push(SyncKind::Keyring);
            due.push(SyncKind::Catalog);
        }
        if self.announcements.due(now) {
            due.push(SyncKind::Announcements);
        }
        if due.is_empty() {
            Next::WaitUntil(self.catalog.next_at().min(self.announcements.next_at()))
        } else {
            Next::Check(due)
        }
    }

    /// The schedule a kind follows (the key rotation goes with the catalogue).
    pub fn schedule_mut(&mut self, kind: SyncKind) -> &mut Schedule {
        match kind {
            SyncKind::Keyring | SyncKind::Catalog => &mut self.catalog,
            SyncKind::Announcements => &mut self.announcements,
        }
    }
}

/// What a new catalogue changes (目录变更): item codes added, changed and removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogDiff {
    pub county: String,
    /// The installed version; `None` when nothing was installed yet.
    pub old_version: Option<u64>,
    pub new_version: u64,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl CatalogDiff {
    /// One line for logs and the CLI: `示范县 version 1 -> 2: 1 added, 2 changed, 0 removed`.
    pub fn summary(&self) -> String {
        let old = self
            .old_version
            .map_or_else(|| "none".to_string(), |v| v.to_string());
        format!(
            "{} version {} -> {}: {} added, {} changed, {} removed",
            self.county,
            old,
            self.new_version,
            self.added.len(),
            self.changed.len(),
            self.removed.len()
        )
    }
}

/// The differences between the installed catalogue and an offered one. Pure.
pub fn diff(installed: Option<&Catalog>, offered: &Catalog) -> CatalogDiff {
    let old: BTreeMap<&str, _> = installed
        .map(|c| c.items.iter().map(|i| (i.code.as_str(), i)).collect())
        .unwrap_or_default();
    let mut d = CatalogDiff {
        county: offered.county.clone(),
        old_version: installed.map(|c| c.version),
        new_version: offered.version,
        ..CatalogDiff::default()
    };
    for item in &offered.items {
        match old.get(item.code.as_str()) {
            None => d.added.push(item.code.clone()),
            Some(before) if *before != item => d.changed.push(item.code.clone()),
            Some(_) => {}
        }
    }
    let new_codes: std::collections::BTreeSet<&str> =
        offered.items.iter().map(|i| i.code.as_str()).collect();
    d.removed = old
        .keys()
        .filter(|c| !new_codes.contains(*c))
        .map(|c| c.to_string())
        .collect();
    d
}

/// Whether a verified, complete catalogue may be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogVerdict {
    /// Newer (or the first): install it between visits.
    Install(CatalogDiff),
    /// The installed catalogue already is this one.
    UpToDate,
}

/// Why the kiosk refused what the county offered. The catalogue, keys or announcements in use
/// are unchanged; the refusal is kept for the heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "catalogue version {offered} of {county} is older than the installed version {installed}; a kiosk never installs an older catalogue by itself (a technician may, with `kiosk catalog import --allow-downgrade`)"
    )]
    Downgrade {
        county: String,
        installed: u64,
        offered: u64,
    },
    #[error(
        "the offered catalogue is {offered}'s, but this kiosk's catalogue is {installed}'s; check county.url (a technician may install another county's catalogue with `kiosk catalog import`)"
    )]
    OtherCounty { installed: String, offered: String },
    #[error(
        "catalogue version {version} was offered again with other content; the county must publish it as a new version"
    )]
    SameVersionChanged { version: u64 },
    /// A bundle that failed verification or checks (bad signature, untrusted key, replay, …).
    #[error("{detail}")]
    Bundle {
        kind: SyncKind,
        /// `untrusted`, `replay`, `other_county` or `invalid`.
        reason: &'static str,
        detail: String,
    },
}

impl Refusal {
    pub fn kind(&self) -> SyncKind {
        match self {
            Refusal::Bundle { kind, .. } => *kind,
            _ => SyncKind::Catalog,
        }
    }

    /// The stable word the heartbeat reports.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Downgrade { .. } => "downgrade",
            Refusal::OtherCounty { .. } => "other_county",
            Refusal::SameVersionChanged { .. } => "invalid",
            Refusal::Bundle { reason, .. } => reason,
        }
    }

    /// The refusal as the heartbeat carries it.
    pub fn to_wire(&self, at: DateTime<Utc>) -> wire::SyncRefusal {
        wire::SyncRefusal {
            kind: self.kind().as_str().to_string(),
            reason: self.reason().to_string(),
            detail: self.to_string(),
            at,
        }
    }
}

/// Judges a verified, complete catalogue against the installed one. Pure.
pub fn judge_catalog(
    installed: Option<&Catalog>,
    offered: &Catalog,
) -> Result<CatalogVerdict, Refusal> {
    let Some(current) = installed else {
        return Ok(CatalogVerdict::Install(diff(None, offered)));
    };
    if current.county != offered.county {
        return Err(Refusal::OtherCounty {
            installed: current.county.clone(),
            offered: offered.county.clone(),
        });
    }
    if offered.version < current.version {
        return Err(Refusal::Downgrade {
            county: current.county.clone(),
            installed: current.version,
            offered: offered.version,
        });
    }
    if offered.version == current.version {
        return if offered.items == current.items {
            Ok(CatalogVerdict::UpToDate)
        } else {
            Err(Refusal::SameVersionChanged {
                version: offered.version,
            })
        };
    }
    Ok(CatalogVerdict::Install(diff(Some(current), offered)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Category;
    use crate::catalog::sample::sample_item;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn catalog(county: &str, version: u64, codes: &[&str]) -> Catalog {
        Catalog {
            county: county.into(),
            version,
            items: codes
                .iter()
                .map(|c| sample_item(c, &format!("事项{c}"), Category::SocialInsurance))
                .collect(),
        }
    }

    #[test]
    fn diff_names_added_changed_and_removed() {
        let old = catalog("示范县", 1, &["A-1", "A-2", "A-3"]);
        let mut new = catalog("示范县", 2, &["A-1", "A-2", "A-4"]);
        new.items[1].name.push_str("（新）");
        let d = diff(Some(&old), &new);
        assert_eq!(d.added, ["A-4"]);
        assert_eq!(d.changed, ["A-2"]);
        assert_eq!(d.removed, ["A-3"]);
        assert_eq!(d.old_version, Some(1));
        assert_eq!(
            d.summary(),
            "示范县 version 1 -> 2: 1 added, 1 changed, 1 removed"
        );
        let first = diff(None, &new);
        assert_eq!(first.added.len(), 3);
        assert!(first.summary().contains("none -> 2"));
    }

    #[test]
    fn downgrade_other_county_and_changed_same_version_are_refused() {
        let installed = catalog("示范县", 5, &["A-1"]);
        assert_eq!(
            judge_catalog(Some(&installed), &catalog("示范县", 4, &["A-1"]))
                .unwrap_err()
                .reason(),
            "downgrade"
        );
        let other = judge_catalog(Some(&installed), &catalog("邻县", 9, &["A-1"])).unwrap_err();
        assert_eq!(other.reason(), "other_county");
        assert!(other.to_string().contains("邻县"));
        assert_eq!(
            judge_catalog(Some(&installed), &catalog("示范县", 5, &["A-1"])),
            Ok(CatalogVerdict::UpToDate)
        );
        assert_eq!(
            judge_catalog(Some(&installed), &catalog("示范县", 5, &["A-2"])),
            Err(Refusal::SameVersionChanged { version: 5 })
        );
        assert!(matches!(
            judge_catalog(Some(&installed), &catalog("示范县", 6, &["A-1", "A-2"])),
            Ok(CatalogVerdict::Install(d)) if d.added == ["A-2"]
        ));
        let w = Refusal::Downgrade {
            county: "示范县".into(),
            installed: 5,
            offered: 4,
        }
        .to_wire(t("2026-12-01T00:00:00Z"));
        assert_eq!(
            (w.kind.as_str(), w.reason.as_str()),
            ("catalog", "downgrade")
        );
    }

    #[test]
    fn plan_checks_keyring_before_catalogue_and_backs_off_while_the_county_is_down() {
        let t0 = t("2026-12-01T08:00:00Z");
        let policy = BackoffPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
        };
        let mut plan = Plan::new(
            Duration::from_secs(3600),
            Duration::from_secs(900),
            policy,
            t0,
        );
        assert_eq!(
            plan.next(t0),
            Next::Check(vec![
                SyncKind::Keyring,
                SyncKind::Catalog,
                SyncKind::Announcements
            ])
        );
        plan.schedule_mut(SyncKind::Catalog).answered(t0);
        plan.schedule_mut(SyncKind::Announcements).answered(t0);
        assert_eq!(
            plan.next(t0),
            Next::WaitUntil(t0 + chrono::Duration::seconds(900))
        );
        let t1 = t0 + chrono::Duration::seconds(900);
        assert_eq!(plan.next(t1), Next::Check(vec![SyncKind::Announcements]));

        // Six hours of outage on a virtual clock: retries back off up to the policy's ceiling,
        // never later than the regular interval, then the first answer restores the interval.
        let down = AttemptOutcome::Unavailable {
            retry_after: None,
            detail: "connection refused".into(),
        };
        let mut now = t1;
        let end = t1 + chrono::Duration::hours(6);
        let mut attempts = 0;
        let s = plan.schedule_mut(SyncKind::Catalog);
        *s = Schedule::new(Duration::from_secs(3600), policy, now);
        while now < end {
            assert!(s.due(now));
            s.failed(&down, now, 0.999);
            attempts += 1;
            let gap = s.next_at() - now;
            assert!(gap <= chrono::Duration::seconds(600), "{gap}");
            assert!(gap >= chrono::Duration::milliseconds(10));
            now = s.next_at();
        }
        assert!(attempts > 30 && attempts < 100, "{attempts}");
        s.answered(now);
        assert_eq!(s.failures(), 0);
        assert_eq!(s.next_at(), now + chrono::Duration::seconds(3600));
        // A 404 (a county without key rotation) is an answer, not an outage.
        s.failed(
            &AttemptOutcome::Rejected {
                status: 404,
                detail: "not found".into(),
            },
            now,
            0.5,
        );
        assert_eq!(s.next_at(), now + chrono::Duration::seconds(3600));
    }
}
