//! The I/O half of catalogue sync: asks the county (reqwest, ETag/If-None-Match), verifies with
//! the trusted keys, judges with the pure core ([`super::judge_catalog`]), and keeps state and
//! refusals in the store for the heartbeat.
//!
//! - [`Syncer`]: one step per kind (`sync_keyring`, `fetch_catalog`, `sync_announcements`) and
//!   `install`, shared by `kiosk county sync` and the running kiosk;
//! - [`SyncedCatalogue`]: a verified catalogue waits here as *pending* until the app calls
//!   [`SyncedCatalogue::install_pending`] between visits (never in the middle of one); the install
//!   is the one-transaction `catalog::repo::replace`;
//! - [`spawn`]: the tokio loop around [`super::Plan`].
//!
//! SQLite runs on tokio's blocking pool; a store connection is opened per step and never held
//! across an await.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tokio::sync::{Notify, watch};

use super::{CatalogDiff, CatalogVerdict, Next, Plan, Refusal, SyncKind, judge_catalog};
use crate::catalog::Catalog;
use crate::catalog::bundle::BundleError;
use crate::catalog::keyring::{Keyring, KeyringError, RotationError};
use crate::catalog::repo::{self, CatalogMeta, ImportOptions, RepoError};
use crate::county::client::{BundleKind, ClientError, CountyClient};
use crate::county::noticeboard::{self, Freshness, NoticeError};
use crate::county::retry::{AttemptOutcome, BackoffPolicy};
use crate::county::wire::{Announcements, SyncRefusal, SyncReport};
use crate::store::{Store, StoreError};

/// Why a sync step could not run (not a refusal: those are [`Refusal`]s, kept and reported).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sync store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Fetch(#[from] ClientError),
    #[error(transparent)]
    Keys(#[from] KeyringError),
    #[error(transparent)]
    Notice(NoticeError),
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("sync task failed: {0}")]
    Task(String),
}

impl SyncError {
    /// How the schedule sees it: a county that cannot answer backs off, anything else waits
    /// for the regular interval.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            SyncError::Fetch(e) => e.outcome(),
            other => AttemptOutcome::Rejected {
                status: 0,
                detail: other.to_string(),
            },
        }
    }
}

/// A verified, complete, newer catalogue, not yet installed.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCatalogue {
    pub catalog: Catalog,
    pub diff: CatalogDiff,
    pub etag: Option<String>,
    /// Hex of the key that verified it.
    pub signer: String,
    /// Where it came from (the county URL).
    pub source: String,
}

/// A catalogue installed by sync.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledCatalogue {
    pub meta: CatalogMeta,
    pub catalog: Catalog,
    pub diff: CatalogDiff,
}

/// What the county offered as catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogOffer {
    /// 304: nothing new since the ETag.
    Unchanged,
    /// The installed catalogue already is the one offered.
    UpToDate,
    Pending(PendingCatalogue),
    Refused(Refusal),
}

/// What became of the county's key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringOutcome {
    /// The county serves no key rotation (404).
    NotOffered,
    /// Nothing new; the keys trusted now.
    Unchanged(Keyring),
    /// A rotation was applied: the new set.
    Applied(Keyring),
    Refused(Refusal),
}

/// What became of the county's announcements.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeOutcome {
    Unchanged,
    Kept {
        announcements: Announcements,
        /// The version kept before, if any.
        previous: Option<u64>,
        freshness: Freshness,
    },
    Refused(Refusal),
}

/// Catalogue sync against one county for one store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Syncer {
    client: CountyClient,
    store_path: PathBuf,
    base: Keyring,
}

impl Syncer {
    /// `base`: the configured keys (`Keyring::from_config`); rotations kept in the store apply
    /// on top.
    pub fn new(client: CountyClient, store_path: PathBuf, base: Keyring) -> Syncer {
        Syncer {
            client,
            store_path,
            base,
        }
    }

    pub fn store_path(&self) -> &Path {
        &self.store_path
    }

    pub fn client(&self) -> &CountyClient {
        &self.client
    }

    /// Runs `f` on a fresh store connection on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, SyncError> + Send + 'static,
    ) -> Result<T, SyncError> {
        let path = self.store_path.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&path)?;
            f(&mut store)
        })
        .await
        .map_err(|e| SyncError::Task(e.to_string()))?
    }

    /// The keys trusted now: the configured ones with every kept rotation applied.
    pub fn keyring_in(&self, store: &Store) -> Result<Keyring, SyncError> {
        keyring_of(store, &self.base)
    }

    /// [`Syncer::keyring_in`] on its own connection.
    pub async fn keyring(&self) -> Result<Keyring, SyncError> {
        let base = self.base.clone();
        self.blocking(move |s| keyring_of(s, &base)).await
    }

    /// Asks for the county's key rotation and applies a newer one signed by a trusted key.
    pub async fn sync_keyring(&self, now: DateTime<Utc>) -> Result<KeyringOutcome, SyncError> {
        let base = self.base.clone();
        let (ring, etag, county) = self
            .blocking(move |s| {
                Ok((
                    keyring_of(s, &base)?,
                    state(s, SyncKind::Keyring)?.0,
                    repo::meta(s)?.map(|m| m.county),
                ))
            })
            .await?;
        let offered = match self
            .client
            .bundle(BundleKind::Keyring, etag.as_deref())
            .await
        {
            Err(ClientError::Status { status: 404, .. }) => return Ok(KeyringOutcome::NotOffered),
            Err(e) => return Err(e.into()),
            Ok(None) => return Ok(KeyringOutcome::Unchanged(ring)),
            Ok(Some(b)) => b,
        };
        let (bytes, etag) = offered;
        match ring.rotate(&bytes, county.as_deref()) {
            Ok((next, rotation)) => {
                let version = rotation.version;
                self.blocking(move |s| {
                    let tx = s.conn_mut().transaction()?;
                    tx.execute(
                        "INSERT INTO county_keyring (version, bytes, applied_at) VALUES (?1, ?2, ?3)",
                        params![version as i64, bytes, now.to_rfc3339()],
                    )?;
                    set_state_in(&tx, SyncKind::Keyring, etag.as_deref(), Some(version), now)?;
                    clear_refusal_in(&tx, SyncKind::Keyring)?;
                    tx.commit()?;
                    Ok(())
                })
                .await?;
                tracing::info!(version, keys = %next.describe(), "county key rotation applied");
                Ok(KeyringOutcome::Applied(next))
            }
            // The rotation already applied, fetched again: nothing new.
            Err(RotationError::Replay { applied, offered }) if applied == offered => {
                let v = Some(applied);
                self.blocking(move |s| {
                    set_state_in(s.conn(), SyncKind::Keyring, etag.as_deref(), v, now)
                })
                .await?;
                Ok(KeyringOutcome::Unchanged(ring))
            }
            Err(e) => {
                let refusal = Refusal::Bundle {
                    kind: SyncKind::Keyring,
                    reason: e.reason(),
                    detail: e.to_string(),
                };
                self.refuse(refusal.clone(), etag, now).await?;
                Ok(KeyringOutcome::Refused(refusal))
            }
        }
    }

    /// The ETag of the catalogue installed (or last refused): what `If-None-Match` sends.
    pub async fn catalog_etag(&self) -> Result<Option<String>, SyncError> {
        self.blocking(|s| Ok(state(s, SyncKind::Catalog)?.0)).await
    }

    /// Asks for the catalogue (`If-None-Match: if_none_match`), verifies it with the trusted
    /// keys and judges it against the installed one. Nothing is installed here.
    pub async fn fetch_catalog(
        &self,
        if_none_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CatalogOffer, SyncError> {
        let ring = self.keyring().await?;
        let Some((bytes, etag)) = self
            .client
            .bundle(BundleKind::Catalog, if_none_match)
            .await?
        else {
            return Ok(CatalogOffer::Unchanged);
        };
        let (catalog, signer) = match ring.open_catalog(&bytes) {
            Ok(c) => c,
            Err(e) => {
                let refusal = Refusal::Bundle {
                    kind: SyncKind::Catalog,
                    reason: bundle_reason(&e),
                    detail: format!("catalogue bundle refused: {e}"),
                };
                self.refuse(refusal.clone(), etag, now).await?;
                return Ok(CatalogOffer::Refused(refusal));
            }
        };
        let installed = self
            .blocking(|s| Ok(repo::load(s)?.map(|(_, c)| c)))
            .await?;
        match judge_catalog(installed.as_ref(), &catalog) {
            Ok(CatalogVerdict::Install(diff)) => Ok(CatalogOffer::Pending(PendingCatalogue {
                catalog,
                diff,
                etag,
                signer,
                source: self.client.base_url().to_string(),
            })),
            Ok(CatalogVerdict::UpToDate) => {
                let version = Some(catalog.version);
                self.blocking(move |s| {
                    set_state_in(s.conn(), SyncKind::Catalog, etag.as_deref(), version, now)?;
                    clear_refusal_in(s.conn(), SyncKind::Catalog)
                })
                .await?;
                Ok(CatalogOffer::UpToDate)
            }
            Err(refusal) => {
                self.refuse(refusal.clone(), etag, now).await?;
                Ok(CatalogOffer::Refused(refusal))
            }
        }
    }

    /// Installs a pending catalogue in one transaction, judging it again against what is
    /// installed now. Blocking (SQLite): call it off the UI thread.
    pub fn install_in(
        &self,
        store: &mut Store,
        pending: PendingCatalogue,
        now: DateTime<Utc>,
    ) -> Result<InstalledCatalogue, SyncError> {
        let installed = repo::load(store)?.map(|(_, c)| c);
        let diff = match judge_catalog(installed.as_ref(), &pending.catalog) {
            Ok(CatalogVerdict::Install(diff)) => diff,
            Ok(CatalogVerdict::UpToDate) => pending.diff,
            Err(refusal) => {
                record_refusal(store, &refusal, pending.etag.as_deref(), now)?;
                return Err(SyncError::Refused(refusal));
            }
        };
        let meta = repo::replace(
            store,
            &pending.catalog,
            &ImportOptions {
                source: pending.source.clone(),
                signer_key: pending.signer.clone(),
                imported_at: now,
                allow_downgrade: false,
            },
        )?;
        set_state_in(
            store.conn(),
            SyncKind::Catalog,
            pending.etag.as_deref(),
            Some(meta.version),
            now,
        )?;
        clear_refusal_in(store.conn(), SyncKind::Catalog)?;
        tracing::info!(diff = %diff.summary(), "catalogue installed by sync");
        Ok(InstalledCatalogue {
            meta,
            catalog: pending.catalog,
            diff,
        })
    }

    /// [`Syncer::install_in`] on its own connection, on the blocking pool.
    pub async fn install(
        &self,
        pending: PendingCatalogue,
        now: DateTime<Utc>,
    ) -> Result<InstalledCatalogue, SyncError> {
        let this = self.clone();
        self.blocking(move |s| this.install_in(s, pending, now))
            .await
    }

    /// Asks for announcements newer than the kept ones and keeps them; an older bundle (a
    /// replay) is refused and the kept one stays.
    pub async fn sync_announcements(&self, now: DateTime<Utc>) -> Result<NoticeOutcome, SyncError> {
        let base = self.base.clone();
        let (ring, etag, previous) = self
            .blocking(move |s| {
                let ring = keyring_of(s, &base)?;
                let kept = noticeboard::stored_with(s, &ring).ok().flatten();
                let etag = kept.as_ref().and_then(|(_, e)| e.clone());
                // The version recorded when kept (also when the kept bundle's key was retired).
                let previous = kept
                    .map(|(a, _)| a.version)
                    .or(state(s, SyncKind::Announcements)?.1);
                Ok((ring, etag, previous))
            })
            .await?;
        let Some((bytes, etag)) = self
            .client
            .bundle(BundleKind::Announcements, etag.as_deref())
            .await?
        else {
            return Ok(NoticeOutcome::Unchanged);
        };
        self.blocking(
            move |s| match noticeboard::accept(s, &ring, &bytes, etag.as_deref(), now) {
                Ok((announcements, freshness)) => {
                    set_state_in(
                        s.conn(),
                        SyncKind::Announcements,
                        etag.as_deref(),
                        Some(announcements.version),
                        now,
                    )?;
                    clear_refusal_in(s.conn(), SyncKind::Announcements)?;
                    Ok(NoticeOutcome::Kept {
                        announcements,
                        previous,
                        freshness,
                    })
                }
                Err(e) => match e.refusal_reason() {
                    Some(reason) => {
                        let refusal = Refusal::Bundle {
                            kind: SyncKind::Announcements,
                            reason,
                            detail: e.to_string(),
                        };
                        record_refusal(s, &refusal, None, now)?;
                        Ok(NoticeOutcome::Refused(refusal))
                    }
                    None => Err(SyncError::Notice(e)),
                },
            },
        )
        .await
    }

    /// The kept announcements, verified with the keys trusted now.
    pub async fn kept_announcements(&self) -> Result<Option<Announcements>, SyncError> {
        let base = self.base.clone();
        self.blocking(move |s| {
            let ring = keyring_of(s, &base)?;
            Ok(noticeboard::stored_with(s, &ring)
                .map_err(SyncError::Notice)?
                .map(|(a, _)| a))
        })
        .await
    }

    async fn refuse(
        &self,
        refusal: Refusal,
        etag: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        tracing::warn!(
            kind = refusal.kind().as_str(),
            reason = refusal.reason(),
            "{refusal}"
        );
        self.blocking(move |s| record_refusal(s, &refusal, etag.as_deref(), now))
            .await
    }
}

fn bundle_reason(e: &BundleError) -> &'static str {
    match e {
        BundleError::SignedByOtherKey { .. } | BundleError::BadSignature => "untrusted",
        _ => "invalid",
    }
}

/// The keys trusted now: `base` (the configured keys) with every rotation kept in `store`
/// applied, each verified again.
pub fn keyring_in_store(store: &Store, base: &Keyring) -> Result<Keyring, SyncError> {
    keyring_of(store, base)
}

fn keyring_of(store: &Store, base: &Keyring) -> Result<Keyring, SyncError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT bytes FROM county_keyring ORDER BY version")?;
    let chain = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let (ring, skipped) = Keyring::replay(base.clone(), &chain);
    for (i, e) in skipped {
        tracing::debug!(link = i, "kept key rotation skipped: {e}");
    }
    Ok(ring)
}

/// (etag, version) kept for a kind.
fn state(store: &Store, kind: SyncKind) -> Result<(Option<String>, Option<u64>), SyncError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT etag, version FROM sync_state WHERE kind = ?1",
            [kind.as_str()],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
                ))
            },
        )
        .optional()?
        .unwrap_or((None, None)))
}

fn set_state_in(
    conn: &rusqlite::Connection,
    kind: SyncKind,
    etag: Option<&str>,
    version: Option<u64>,
    now: DateTime<Utc>,
) -> Result<(), SyncError> {
    conn.execute(
        "INSERT INTO sync_state (kind, etag, version, checked_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind) DO UPDATE SET etag = excluded.etag,
             version = COALESCE(excluded.version, sync_state.version),
             checked_at = excluded.checked_at",
        params![
            kind.as_str(),
            etag,
            version.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

fn clear_refusal_in(conn: &rusqlite::Connection, kind: SyncKind) -> Result<(), SyncError> {
    conn.execute("DELETE FROM sync_refusal WHERE kind = ?1", [kind.as_str()])?;
    Ok(())
}

/// Keeps a refusal for the heartbeat; with `etag`, the refused bundle is not fetched again
/// until the county offers another.
fn record_refusal(
    store: &Store,
    refusal: &Refusal,
    etag: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), SyncError> {
    let kind = refusal.kind();
    store.conn().execute(
        "INSERT INTO sync_refusal (kind, reason, detail, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind) DO UPDATE SET reason = excluded.reason, detail = excluded.detail,
             at = excluded.at",
        params![
            kind.as_str(),
            refusal.reason(),
            refusal.to_string(),
            now.to_rfc3339()
        ],
    )?;
    if etag.is_some() && kind != SyncKind::Announcements {
        set_state_in(store.conn(), kind, etag, None, now)?;
    }
    Ok(())
}

/// What the heartbeat reports about sync: versions installed, refusals kept (newest first).
pub fn report(store: &Store) -> Result<SyncReport, rusqlite::Error> {
    let conn = store.conn();
    let catalog: Option<(String, i64)> = conn
        .query_row(
            "SELECT county, version FROM catalog_meta WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let announcements_version: Option<i64> = conn
        .query_row(
            "SELECT version FROM sync_state WHERE kind = 'announcements'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let keyring_version: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM county_keyring", [], |r| r.get(0))?;
    let mut stmt =
        conn.prepare("SELECT kind, reason, detail, at FROM sync_refusal ORDER BY at DESC")?;
    let refusals = stmt
        .query_map([], |r| {
            Ok(SyncRefusal {
                kind: r.get(0)?,
                reason: r.get(1)?,
                detail: r.get(2)?,
                at: DateTime::parse_from_rfc3339(&r.get::<_, String>(3)?)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (catalog_county, catalog_version) = match catalog {
        Some((c, v)) => (Some(c), Some(v.max(0) as u64)),
        None => (None, None),
    };
    Ok(SyncReport {
        catalog_county,
        catalog_version,
        announcements_version: announcements_version.map(|v| v.max(0) as u64),
        keyring_version: keyring_version.map(|v| v.max(0) as u64),
        refusals,
    })
}

// ---------------------------------------------------------------------------------------------
// Pending catalogue and the loop.

/// The catalogue the running kiosk synchronised: a verified newer catalogue waits here until the
/// app installs it between visits. Shared between the sync loop and the app.
#[derive(Debug)]
pub struct SyncedCatalogue {
    syncer: Syncer,
    pending: Mutex<Option<PendingCatalogue>>,
}

impl SyncedCatalogue {
    pub fn new(syncer: Syncer) -> SyncedCatalogue {
        SyncedCatalogue {
            syncer,
            pending: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<PendingCatalogue>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `pending` (replacing an older pending one).
    pub fn offer(&self, pending: PendingCatalogue) {
        *self.slot() = Some(pending);
    }

    /// What installing the pending catalogue would change; `None` when nothing waits.
    pub fn pending(&self) -> Option<CatalogDiff> {
        self.slot().as_ref().map(|p| p.diff.clone())
    }

    /// The ETag of the pending catalogue, so the loop does not fetch it again.
    pub fn pending_etag(&self) -> Option<String> {
        self.slot().as_ref().and_then(|p| p.etag.clone())
    }

    /// Installs the pending catalogue, if any, in one transaction: `Ok(None)` when nothing
    /// waits. Call it when a visit has ended (idle screen), never during one; it blocks on
    /// SQLite for the length of one transaction, so call it off the UI thread. On a store error
    /// the catalogue stays pending; a refusal (e.g. a technician installed a newer one meanwhile)
    /// drops it.
    pub fn install_pending(&self) -> Result<Option<InstalledCatalogue>, SyncError> {
        let Some(pending) = self.slot().take() else {
            return Ok(None);
        };
        let mut store = Store::open(self.syncer.store_path())?;
        match self
            .syncer
            .install_in(&mut store, pending.clone(), Utc::now())
        {
            Ok(installed) => Ok(Some(installed)),
            Err(e @ SyncError::Refused(_)) => Err(e),
            Err(e) => {
                let mut slot = self.slot();
                if slot.is_none() {
                    *slot = Some(pending);
                }
                Err(e)
            }
        }
    }
}

/// The loop's settings (`county.catalog_refresh_secs`, `announcements_refresh_secs`, the
/// outbox's backoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncSettings {
    pub catalog_every: Duration,
    pub announcements_every: Duration,
    pub policy: BackoffPolicy,
}

impl SyncSettings {
    pub fn from_config(c: &crate::config::Config) -> SyncSettings {
        let base = c.outbox.backoff_base_secs.max(1);
        SyncSettings {
            catalog_every: Duration::from_secs(c.county.catalog_refresh_secs.max(60)),
            announcements_every: Duration::from_secs(c.county.announcements_refresh_secs.max(60)),
            policy: BackoffPolicy {
                base: Duration::from_secs(base),
                max: Duration::from_secs(c.outbox.backoff_max_secs.max(base)),
            },
        }
    }
}

/// What the loop last saw, for the app (announcements for the idle screen, a pending
/// catalogue) and the technician.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    /// Passes made (each asks the county for whatever was due).
    pub passes: u64,
    /// A verified catalogue waiting for the end of the visit.
    pub pending: Option<CatalogDiff>,
    /// The announcements kept (verified), for the idle screen.
    pub announcements: Option<Announcements>,
    /// The newest refusal, in English.
    pub last_refusal: Option<String>,
    /// The newest failure to reach the county or the store.
    pub last_error: Option<String>,
}

/// The running sync loop. Dropping it does not stop it; call [`SyncHandle::shutdown`].
#[derive(Debug)]
pub struct SyncHandle {
    synced: Arc<SyncedCatalogue>,
    status: watch::Receiver<SyncStatus>,
    stop: watch::Sender<bool>,
    nudge: Arc<Notify>,
    join: tokio::task::JoinHandle<()>,
}

impl SyncHandle {
    /// Where a verified catalogue waits for [`SyncedCatalogue::install_pending`].
    pub fn synced(&self) -> Arc<SyncedCatalogue> {
        self.synced.clone()
    }

    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Ask the county now for everything (e.g. a technician's request).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Stops the loop after its current step and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

/// Starts the sync loop on the current tokio runtime.
pub fn spawn(syncer: Syncer, settings: SyncSettings) -> SyncHandle {
    let synced = Arc::new(SyncedCatalogue::new(syncer.clone()));
    let (status_tx, status) = watch::channel(SyncStatus::default());
    let (stop, mut stop_rx) = watch::channel(false);
    let nudge = Arc::new(Notify::new());
    let loop_synced = synced.clone();
    let loop_nudge = nudge.clone();
    let join = tokio::spawn(async move {
        match syncer.kept_announcements().await {
            Ok(Some(a)) => status_tx.send_modify(|s| s.announcements = Some(a)),
            Ok(None) => {}
            Err(e) => tracing::warn!("kept announcements not shown: {e}"),
        }
        let mut plan = Plan::new(
            settings.catalog_every,
            settings.announcements_every,
            settings.policy,
            Utc::now(),
        );
        loop {
            if *stop_rx.borrow() {
                break;
            }
            let now = Utc::now();
            match plan.next(now) {
                Next::WaitUntil(at) => {
                    let wait = (at - now)
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .max(Duration::from_millis(5));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = loop_nudge.notified() => {
                            plan = Plan::new(
                                settings.catalog_every,
                                settings.announcements_every,
                                settings.policy,
                                Utc::now(),
                            );
                        }
                        _ = stop_rx.changed() => {}
                    }
                }
                Next::Check(kinds) => {
                    let mut link_down = false;
                    for kind in kinds {
                        if link_down && kind == SyncKind::Catalog {
                            continue;
                        }
                        let result = pass(&syncer, &loop_synced, kind, &status_tx).await;
                        let now = Utc::now();
                        let schedule = plan.schedule_mut(kind);
                        match result {
                            Ok(()) => {
                                if kind != SyncKind::Keyring {
                                    schedule.answered(now);
                                }
                            }
                            Err(e) => {
                                let outcome = e.outcome();
                                link_down = matches!(outcome, AttemptOutcome::Unavailable { .. });
                                tracing::warn!(kind = kind.as_str(), "sync: {e}");
                                schedule.failed(&outcome, now, rand::random::<f64>());
                                status_tx.send_modify(|s| s.last_error = Some(e.to_string()));
                            }
                        }
                    }
                    status_tx.send_modify(|s| s.passes += 1);
                }
            }
        }
    });
    SyncHandle {
        synced,
        status,
        stop,
        nudge,
        join,
    }
}

async fn pass(
    syncer: &Syncer,
    synced: &SyncedCatalogue,
    kind: SyncKind,
    status: &watch::Sender<SyncStatus>,
) -> Result<(), SyncError> {
    let now = Utc::now();
    let refused = |r: &Refusal| {
        let text = r.to_string();
        status.send_modify(|s| s.last_refusal = Some(text));
    };
    match kind {
        SyncKind::Keyring => {
            if let KeyringOutcome::Refused(r) = syncer.sync_keyring(now).await? {
                refused(&r);
            }
        }
        SyncKind::Catalog => {
            let etag = match synced.pending_etag() {
                Some(e) => Some(e),
                None => syncer.catalog_etag().await?,
            };
            match syncer.fetch_catalog(etag.as_deref(), now).await? {
                CatalogOffer::Pending(p) => {
                    tracing::info!(diff = %p.diff.summary(), "new catalogue verified; installed when the visit ends");
                    let diff = p.diff.clone();
                    synced.offer(p);
                    status.send_modify(|s| s.pending = Some(diff));
                }
                CatalogOffer::Refused(r) => refused(&r),
                CatalogOffer::Unchanged | CatalogOffer::UpToDate => {}
            }
        }
        SyncKind::Announcements => match syncer.sync_announcements(now).await? {
            NoticeOutcome::Kept { announcements, .. } => {
                status.send_modify(|s| s.announcements = Some(announcements));
            }
            NoticeOutcome::Refused(r) => refused(&r),
            NoticeOutcome::Unchanged => {}
        },
    }
    Ok(())
}
