//! Provisioning (终端开通): a terminal becomes a county's station in one step, from a bundle the
//! county signs (`county-backoffice provision station ...`) and the technician installs
//! (`kiosk provision BUNDLE`, or a bundle named [`bundle::USB_FILE_NAME`] on a USB stick at
//! first boot).
//!
//! - [`bundle`]: sans-IO: the signed bundle's payload, its verification (signature, expiry,
//!   station, every value) and the files it becomes.
//! - [`install`]: the thin I/O edge that stages those files, imports the bundled catalogue and
//!   moves everything into place, or changes nothing.
//! - [`pin`]: the maintenance PIN's salted hash.
//!
//! [`status`] tells the app whether the terminal is provisioned, so that an unprovisioned
//! terminal shows [`NOT_PROVISIONED_TITLE`] and how to provision instead of crash-looping.

pub mod bundle;
pub mod install;
pub mod pin;

use std::path::Path;

pub use bundle::{ProvisionError, Provisioning};

/// The screen title on a terminal that is not provisioned yet.
pub const NOT_PROVISIONED_TITLE: &str = "本终端尚未开通";
/// What the not-provisioned screen says below the title (for the technician; villagers are told
/// to ask the staff).
pub const NOT_PROVISIONED_HOWTO: &str = "请工作人员联系县级运维人员开通本终端：将开通数据包（文件名 village-kiosk-provision.bundle）复制到 U 盘根目录，插入终端后重新启动；或通过 SSH 登录后运行 kiosk provision 数据包文件。";
/// The same in English (UI language `en`).
pub const NOT_PROVISIONED_TITLE_EN: &str = "This terminal is not set up yet";
pub const NOT_PROVISIONED_HOWTO_EN: &str = "Staff: ask the county technician to set it up: copy the provisioning bundle (file name village-kiosk-provision.bundle) to the top folder of a USB stick, plug it in and restart the terminal; or log in over SSH and run kiosk provision BUNDLE.";

/// Whether this terminal is a station yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `kiosk provision` installed a bundle (its record and the config are in place).
    Provisioned {
        station_id: String,
        station_name: String,
        /// 运维电话 for fault screens; empty when the county gave none.
        technician_phone: String,
    },
    /// No bundle was installed: show [`NOT_PROVISIONED_TITLE`] and [`NOT_PROVISIONED_HOWTO`].
    NotProvisioned,
}

/// The terminal's status, from `/etc/village-kiosk`.
pub fn status() -> Status {
    status_in(Path::new("/"))
}

/// [`status`] under another system root (tests, image builds).
pub fn status_in(root: &Path) -> Status {
    let config = root.join(bundle::paths::CONFIG);
    let record = std::fs::read(root.join(bundle::paths::RECORD))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match record {
        Some(r) if config.exists() => {
            let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            Status::Provisioned {
                station_id: field("station_id"),
                station_name: field("station_name"),
                technician_phone: field("technician_phone"),
            }
        }
        _ => Status::NotProvisioned,
    }
}
