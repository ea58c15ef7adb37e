//! Catalogue updates (目录更新) between visits: when sync holds a newer verified catalogue
//! (`station::ports::CatalogueUpdates`), it is installed only while nobody is at the kiosk, and
//! the screen switches to it only on the idle screen, never in the middle of a visit. A guide
//! a villager has open is the visit's own copy and stays as it was.
//!
//! Software updates (软件更新, issue 12 part 4) the same way: when the update timer has left a
//! downloaded, verified update (`station::ports::SoftwareUpdates`), it is written to the
//! inactive slot on the blocking pool only while nobody is at the kiosk, and the terminal
//! reboots into it only on the idle screen with no session; a visit that starts meanwhile
//! delays the reboot until it ends (the install itself never touches the running slot).
//!
//! No adapter of its own: the idle screen shows nothing of the catalogue, and every other page
//! reads the catalogue when it is shown.

use super::Page;
use super::shell::{Kiosk, Next, SoftwareStep, UiEvent};
use crate::session::Stage;
use crate::station::ports::{CatalogueChange, DeviceError};

/// Nobody is at the kiosk (idle screen, no session).
fn between(k: &Kiosk) -> bool {
    k.page() == Page::Idle && k.stage() == Stage::Idle
}

/// Called when a visit ended and when sync has something new: an installed catalogue goes in
/// use now; a pending one is installed on the blocking pool. During a visit, nothing.
pub fn between_visits(k: &Kiosk) -> Next {
    software_between_visits(k);
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

/// Nobody is at the kiosk: an installed update is rebooted into; a verified one is installed
/// (both on the blocking pool). During a visit, nothing.
fn software_between_visits(k: &Kiosk) {
    let Some(software) = k.services.software.clone() else {
        return;
    };
    if !between(k) {
        return;
    }
    let step = k.shell.borrow().software.clone();
    match step {
        SoftwareStep::Idle => {
            k.shell.borrow_mut().software = SoftwareStep::Installing;
            k.spawn_blocking(move || UiEvent::SoftwareInstalled(software.install_verified()));
        }
        SoftwareStep::Installed(version) => {
            tracing::warn!(%version, "software update installed: rebooting into it between visits");
            k.shell.borrow_mut().software = SoftwareStep::Rebooting;
            k.spawn_blocking(move || UiEvent::SoftwareRebooting(software.reboot()));
        }
        SoftwareStep::Installing | SoftwareStep::Rebooting => {}
    }
}

/// The install finished: reboot now if nobody came meanwhile, else after this visit.
pub fn on_software_installed(k: &Kiosk, result: Result<Option<String>, DeviceError>) -> Next {
    let next = match result {
        Ok(Some(version)) => {
            tracing::info!(%version, "software update in the inactive slot");
            SoftwareStep::Installed(version)
        }
        Ok(None) => SoftwareStep::Idle,
        Err(e) => {
            // The old version runs on; the update's state file says why (heartbeat).
            tracing::warn!("{}", e.detail);
            SoftwareStep::Idle
        }
    };
    let retry_now = matches!(next, SoftwareStep::Installed(_));
    k.shell.borrow_mut().software = next;
    if retry_now {
        software_between_visits(k);
    }
    Next::Stay
}

/// The reboot was asked for; if it failed the update waits in its slot for the next start.
pub fn on_software_rebooting(result: Result<(), DeviceError>) -> Next {
    if let Err(e) = result {
        tracing::error!("{}; the update boots at the next restart", e.detail);
    }
    Next::Stay
}
