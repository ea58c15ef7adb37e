//! The [`SoftwareUpdates`] port: the update driver ([`Updater`]) installing a downloaded,
//! verified update into the inactive slot, and the reboot into it.
//!
//! The download is the update timer's (`kiosk update check`, a process of its own); this
//! adapter only installs what it left verified, when the UI says nobody is at the kiosk, and
//! never writes the running slot, the outbox or the store ([`Updater::install`]).

use std::sync::Arc;
use std::time::Duration;

use super::ports::{DeviceError, SoftwareUpdates};
use crate::update::Updater;
use crate::update::machine::UpdateState;

/// How the terminal boots into an installed update (`systemctl reboot` on a terminal; tests
/// record the call). `Err`: why not, in English.
pub type Reboot = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// `systemctl reboot`: systemd stops the app (SIGTERM, the one shutdown path) and boots the
/// counted entry of the new slot.
pub fn systemctl_reboot() -> Reboot {
    Arc::new(|| {
        let status = std::process::Command::new("systemctl")
            .arg("reboot")
            .status()
            .map_err(|e| format!("cannot run systemctl reboot: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("systemctl reboot exited with {status}"))
        }
    })
}

/// Installs with the update driver, reboots with `reboot`.
pub struct UpdaterInstall {
    updater: Updater,
    reboot: Reboot,
}

impl UpdaterInstall {
    pub fn new(updater: Updater, reboot: Reboot) -> Self {
        Self { updater, reboot }
    }

    /// Whether a downloaded update waits to be installed (reads the state file).
    pub fn verified(&self) -> bool {
        matches!(self.updater.state(), Ok(UpdateState::Verified { .. }))
    }
}

fn update_error(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        "软件更新没有装上，继续使用当前版本",
        "The software update was not installed; the current version stays",
        e.to_string(),
    )
}

impl SoftwareUpdates for UpdaterInstall {
    fn install_verified(&self) -> Result<Option<String>, DeviceError> {
        match self.updater.state().map_err(update_error)? {
            UpdateState::Verified { .. } => {}
            _ => return Ok(None),
        }
        // Only called between visits: the UI checked that nobody is at the kiosk.
        match self.updater.install(false).map_err(update_error)? {
            UpdateState::Installed { manifest, .. } => Ok(Some(manifest.version)),
            other => Err(update_error(format!(
                "update: the install ended in state {}",
                other.name()
            ))),
        }
    }

    fn reboot(&self) -> Result<(), DeviceError> {
        (self.reboot)().map_err(update_error)
    }
}

/// Calls `on_verified` (on the runtime) when the update timer has left a verified update,
/// checking the state file every `every`, until the task is aborted.
pub fn watch(
    rt: &tokio::runtime::Handle,
    install: Arc<UpdaterInstall>,
    every: Duration,
    on_verified: impl Fn() + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        loop {
            let i = install.clone();
            if let Ok(true) = tokio::task::spawn_blocking(move || i.verified()).await {
                on_verified();
            }
            tokio::time::sleep(every).await;
        }
    })
}
