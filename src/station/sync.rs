//! 目录同步 in the running kiosk: the catalogue and announcement sync loop (`county::sync`) for
//! this station, the [`CatalogueUpdates`] port the UI installs a new catalogue through between
//! visits, and the idle screen's announcements (公告栏) taken from the loop.
//!
//! The loop only fetches, verifies and holds a newer catalogue as pending; nothing here changes
//! what the screen shows by itself. The UI, when nobody is at the kiosk, asks
//! [`CatalogueSync::install_pending`] (one transaction through `catalog::repo::replace`, then
//! the new search index, on the blocking pool) and then [`CatalogueSync::put_in_use`] (a
//! pointer swap on the UI thread). A guide a villager has open is a copy and stays as it was.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::catalogue::{IndexedCatalogue, PreparedCatalogue};
use super::ports::{Announcement, CatalogueChange, CatalogueUpdates, DeviceError};
use crate::catalog::Catalog;
use crate::catalog::repo::{self, ImportOptions};
use crate::county::noticeboard;
use crate::county::sync::{SyncHandle, SyncSettings, SyncStatus, Syncer};
use crate::doctor::health::HealthReporter;
use crate::store::Store;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running kiosk's catalogue sync. Stop it with [`CatalogueSync::shutdown`].
pub struct CatalogueSync {
    loop_handle: Arc<Mutex<Option<SyncHandle>>>,
    status: watch::Sender<SyncStatus>,
    catalogue: Arc<IndexedCatalogue>,
    ready: Mutex<Option<PreparedCatalogue>>,
    health: HealthReporter,
    rt: tokio::runtime::Handle,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl CatalogueSync {
    /// Starts the loop on `rt`. `seed` (demo mode): the catalogue in use, installed in the
    /// store first when the store has none, so the loop compares the county's with it.
    pub fn start(
        rt: &tokio::runtime::Handle,
        syncer: Syncer,
        settings: SyncSettings,
        catalogue: Arc<IndexedCatalogue>,
        health: HealthReporter,
        seed: Option<Arc<Catalog>>,
    ) -> CatalogueSync {
        let (status, _) = watch::channel(SyncStatus::default());
        let loop_handle: Arc<Mutex<Option<SyncHandle>>> = Arc::default();
        let this = CatalogueSync {
            loop_handle: loop_handle.clone(),
            status: status.clone(),
            catalogue,
            ready: Mutex::new(None),
            health: health.clone(),
            rt: rt.clone(),
            tasks: Mutex::new(Vec::new()),
        };
        let task = rt.spawn(async move {
            if let Some(seed) = seed {
                let path = syncer.store_path().to_path_buf();
                let seeded = tokio::task::spawn_blocking(move || seed_store(&path, &seed)).await;
                if let Ok(Err(e)) = seeded {
                    tracing::warn!("demo catalogue not installed in the store: {e}");
                }
            }
            let handle = crate::county::sync::spawn(syncer, settings);
            let mut from_loop = handle.status();
            *lock(&loop_handle) = Some(handle);
            let mut last_refusal = None;
            loop {
                let now = from_loop.borrow_and_update().clone();
                if now.last_refusal != last_refusal {
                    if let Some(r) = &now.last_refusal {
                        health.error(format!("sync: {r}"));
                    }
                    last_refusal = now.last_refusal.clone();
                }
                status.send_replace(now);
                if from_loop.changed().await.is_err() {
                    break;
                }
            }
        });
        lock(&this.tasks).push(task);
        this
    }

    /// Asks the county now for everything (a technician's request, tests).
    pub fn nudge(&self) {
        if let Some(h) = lock(&self.loop_handle).as_ref() {
            h.nudge();
        }
    }

    /// The loop's status as it changes.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Calls `on_change` with what the idle screen shows: at once, whenever the county's
    /// announcements change, and every `every` (so an expired one leaves the screen).
    pub fn watch_announcements(
        &self,
        every: Duration,
        on_change: impl Fn(Vec<Announcement>) + Send + Sync + 'static,
    ) {
        let mut rx = self.status.subscribe();
        let task = self.rt.spawn(async move {
            let mut last: Option<Vec<Announcement>> = None;
            loop {
                let shown: Vec<Announcement> = rx
                    .borrow_and_update()
                    .announcements
                    .as_ref()
                    .map(|a| noticeboard::on_show(a, Utc::now()))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| Announcement {
                        title: a.title,
                        body: a.body,
                        published_at: a.published_at,
                    })
                    .collect();
                if last.as_ref() != Some(&shown) {
                    on_change(shown.clone());
                    last = Some(shown);
                }
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { break },
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
        lock(&self.tasks).push(task);
    }

    /// Calls `on_pending` whenever the loop holds a newer verified catalogue than before.
    pub fn watch_pending(&self, on_pending: impl Fn() + Send + Sync + 'static) {
        let mut rx = self.status.subscribe();
        let task = self.rt.spawn(async move {
            let mut last = None;
            loop {
                let pending = rx.borrow_and_update().pending.clone();
                if pending.is_some() && pending != last {
                    on_pending();
                }
                last = pending;
                if rx.changed().await.is_err() {
                    break;
                }
            }
        });
        lock(&self.tasks).push(task);
    }

    /// Stops the watchers and the loop (after its current step), at most `limit`. Call from
    /// outside the runtime. Returns whether the loop stopped in time.
    pub fn shutdown(&self, limit: Duration) -> bool {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        let Some(handle) = lock(&self.loop_handle).take() else {
            return true;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            self.rt.spawn(handle.shutdown());
            return false;
        }
        self.rt
            .block_on(async { tokio::time::timeout(limit, handle.shutdown()).await })
            .is_ok()
    }
}

impl CatalogueUpdates for CatalogueSync {
    fn pending(&self) -> bool {
        lock(&self.loop_handle)
            .as_ref()
            .is_some_and(|h| h.synced().pending().is_some())
    }

    fn install_pending(&self) -> Result<Option<CatalogueChange>, DeviceError> {
        let Some(synced) = lock(&self.loop_handle).as_ref().map(|h| h.synced()) else {
            return Ok(None);
        };
        match synced.install_pending() {
            Ok(None) => Ok(None),
            Ok(Some(installed)) => {
                let d = &installed.diff;
                let change = CatalogueChange {
                    previous: d.old_version,
                    version: installed.meta.version,
                    added: d.added.len(),
                    changed: d.changed.len(),
                    removed: d.removed.len(),
                };
                tracing::info!(diff = %d.summary(), "new catalogue installed; shown from the next idle screen");
                *lock(&self.ready) = Some(IndexedCatalogue::prepare(installed.catalog));
                Ok(Some(change))
            }
            Err(e) => {
                self.health.error(format!("catalogue install: {e}"));
                Err(DeviceError::new(
                    "目录更新没有装上",
                    "The catalogue update was not installed",
                    format!("catalogue install: {e}"),
                ))
            }
        }
    }

    fn ready(&self) -> bool {
        lock(&self.ready).is_some()
    }

    fn put_in_use(&self) -> Option<u64> {
        let prepared = lock(&self.ready).take()?;
        let version = prepared.version();
        self.catalogue.put(prepared);
        self.health.catalog_version(Some(version));
        Some(version)
    }
}

/// Demo mode: the catalogue in use becomes the installed one when the store has none.
fn seed_store(path: &std::path::Path, catalog: &Catalog) -> Result<(), String> {
    let mut store = Store::open(path).map_err(|e| e.to_string())?;
    if repo::meta(&store).map_err(|e| e.to_string())?.is_some() {
        return Ok(());
    }
    repo::replace(
        &mut store,
        catalog,
        &ImportOptions {
            source: "demo".into(),
            signer_key: hex::encode(crate::catalog::bundle::demo_verifying_key().to_bytes()),
            imported_at: Utc::now(),
            allow_downgrade: false,
        },
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}
