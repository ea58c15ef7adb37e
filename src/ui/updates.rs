//! Catalogue updates (目录更新) between visits: when sync holds a newer verified catalogue
//! (`station::ports::CatalogueUpdates`), it is installed only while nobody is at the kiosk, and
//! the screen switches to it only on the idle screen, never in the middle of a visit. A guide
//! a villager has open is the visit's own copy and stays as it was.
//!
//! No adapter of its own: the idle screen shows nothing of the catalogue, and every other page
//! reads the catalogue when it is shown.

use super::Page;
use super::shell::{Kiosk, Next, UiEvent};
use crate::session::Stage;
use crate::station::ports::{CatalogueChange, DeviceError};

/// Nobody is at the kiosk (idle screen, no session).
fn between(k: &Kiosk) -> bool {
    k.page() == Page::Idle && k.stage() == Stage::Idle
}

/// Called when a visit ended and when sync has something new: an installed catalogue goes in
/// use now; a pending one is installed on the blocking pool. During a visit, nothing.
pub fn between_visits(k: &Kiosk) -> Next {
    let Some(updates) = k.services.updates.clone() else {
        return Next::Stay;
    };
    if !between(k) {
        return Next::Stay;
    }
    if updates.ready() {
        if let Some(version) = updates.put_in_use() {
            tracing::info!(version, "catalogue in use from now on");
        }
    } else if updates.pending() {
        k.spawn_blocking(move || UiEvent::CatalogueInstalled(updates.install_pending()));
    }
    Next::Stay
}

/// The install finished: shown now if nobody came meanwhile, else after this visit.
pub fn on_installed(k: &Kiosk, result: Result<Option<CatalogueChange>, DeviceError>) -> Next {
    match result {
        Ok(Some(change)) => {
            tracing::info!(?change, "synchronised catalogue installed");
            between_visits(k)
        }
        Ok(None) => Next::Stay,
        Err(e) => {
            tracing::warn!("{}", e.detail);
            Next::Stay
        }
    }
}
