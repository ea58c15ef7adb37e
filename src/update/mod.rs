//! Software updates (软件更新) with automatic rollback: an A/B root layout and systemd-boot's
//! boot counting.
//!
//! The county publishes a manifest signed with its release key (`manifest`); the terminal
//! downloads the new root slot's files in the background, resumable and paced (`driver`),
//! verifies every byte against the manifest (a compressed root filesystem also unpacked to
//! its listed size and hash, `unpack`), writes them to the inactive slot between visits,
//! and reboots into it with a counted boot entry (`bootcount`). A health gate
//! (`kiosk update confirm`, ordered before `boot-complete.target`) passes only after the app's
//! first frame and a healthy doctor verdict; `systemd-bless-boot` then drops the counter. A new
//! version that never gets there uses up its tries and systemd-boot boots the previous slot
//! again; the old version notices, removes the failed entry and reports `rolled_back` in the
//! heartbeat (`machine`). Design and reasons: ARCHITECTURE.md, "Software updates".

pub mod bootcount;
pub mod driver;
pub mod machine;
pub mod manifest;
pub mod unpack;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use driver::{UpdateError, Updater};

/// `[update]` in the config: where the slots and the ESP are, and how the download is paced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// The county's release key (hex ed25519 public key, 发布密钥) that signs update manifests;
    /// distinct from the catalogue keys. Without it the terminal takes no software updates.
    pub release_key: Option<String>,
    /// Where the EFI system partition is mounted (its `loader/entries/` holds the slots' boot
    /// entries).
    pub esp_dir: PathBuf,
    /// The block device of a root slot; `{slot}` is `a` or `b`.
    pub slot_device: String,
    /// Kernel options of a slot's boot entry besides `root=`, `rw` and `kiosk.slot=`.
    pub kernel_options: String,
    /// Download pace, bytes per second (0: unpaced). The county link is shared with the
    /// villagers' submissions.
    pub max_bytes_per_sec: u64,
    /// How often the running kiosk asks the county for an update, in seconds.
    pub check_secs: u64,
    /// How long a new version has, from boot, to show its first frame and a healthy verdict
    /// (`kiosk update confirm`).
    pub health_within_secs: u64,
    /// The kernel command line to read the running slot from.
    pub cmdline: PathBuf,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            release_key: None,
            esp_dir: PathBuf::from("/boot/efi"),
            slot_device: "/dev/disk/by-partlabel/root-{slot}".into(),
            kernel_options: "quiet loglevel=3 console=ttyS0,115200n8 vt.global_cursor_default=0 consoleblank=0 systemd.show_status=false panic=10".into(),
            max_bytes_per_sec: 256 * 1024,
            check_secs: 3600,
            health_within_secs: 300,
            cmdline: PathBuf::from("/proc/cmdline"),
        }
    }
}

impl UpdateConfig {
    /// The block device (or file) of `slot`.
    pub fn slot_device(&self, slot: bootcount::Slot) -> PathBuf {
        PathBuf::from(self.slot_device.replace("{slot}", slot.name()))
    }
}

/// The update directory inside the data directory (state file and downloads).
pub fn update_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("update")
}

/// What the heartbeat reports: `None` when this terminal never took an update.
pub fn heartbeat_report(data_dir: &Path) -> Option<crate::county::wire::UpdateReport> {
    driver::report_in(&update_dir(data_dir), env!("CARGO_PKG_VERSION"))
}
