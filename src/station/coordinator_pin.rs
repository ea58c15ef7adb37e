//! The PIN that opens 帮办员模式 (coordinator mode): the maintenance PIN, checked through
//! [`crate::maintenance::verify_maintenance_pin`] with the maintenance screen's lockout (five
//! wrong PINs on either door lock both for 15 minutes). On a terminal its hash is the file the
//! provisioning bundle installs (`/etc/village-kiosk/maintenance-pin.hash`, see
//! `provision::bundle::paths::PIN_HASH`) and the lockout is in the data directory; in demo mode
//! the documented demo PIN's hash is written into the demo's temporary data directory.
//!
//! Only where the hash and the lockout are is held here; the UI verifies a typed PIN on tokio's
//! blocking pool (PBKDF2 is slow on purpose) and never keeps it beyond the attempt.

use std::path::Path;

use crate::maintenance::{LOCKOUT_FILE, MaintenancePaths, PIN_HASH_FILE, SETTINGS_FILE};
use crate::provision::pin::{PinHash, hash_with_salt};

/// The demo station's coordinator (and maintenance) PIN (documented in docs/ui.md).
pub const DEMO_PIN: &str = "246810";

/// The installed maintenance PIN under `root` (`/` on a terminal) with its lockout in
/// `data_dir`; `None` (coordinator mode unavailable, the reason logged) when the hash is
/// missing or unreadable.
pub fn installed(root: &Path, data_dir: &Path) -> Option<MaintenancePaths> {
    let path = root.join(crate::provision::bundle::paths::PIN_HASH);
    match std::fs::read_to_string(&path) {
        Ok(text) => match PinHash::parse(&text) {
            Ok(_) => Some(MaintenancePaths {
                pin_hash: path,
                lockout: data_dir.join(LOCKOUT_FILE),
                settings: data_dir.join(SETTINGS_FILE),
            }),
            Err(e) => {
                tracing::warn!(
                    "coordinator mode unavailable: {} is not a PIN hash: {e}",
                    path.display()
                );
                None
            }
        },
        Err(e) => {
            tracing::info!(
                "coordinator mode unavailable: cannot read {}: {e}",
                path.display()
            );
            None
        }
    }
}

/// Writes the demo PIN's hash (few iterations: it protects nothing) into `data_dir`; the
/// lockout lives beside it.
pub fn demo(data_dir: &Path) -> std::io::Result<MaintenancePaths> {
    let paths = MaintenancePaths {
        pin_hash: data_dir.join(PIN_HASH_FILE),
        lockout: data_dir.join(LOCKOUT_FILE),
        settings: data_dir.join(SETTINGS_FILE),
    };
    std::fs::write(
        &paths.pin_hash,
        hash_with_salt(DEMO_PIN, b"village-kiosk-demo-pin", 1000),
    )?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maintenance::{PinVerdict, verify_maintenance_pin};

    #[test]
    fn the_demo_pin_verifies_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = demo(dir.path()).unwrap();
        let now = chrono::Utc::now();
        assert_eq!(
            verify_maintenance_pin(&p, "111111", now).unwrap(),
            PinVerdict::Wrong { left: 4 }
        );
        assert_eq!(
            verify_maintenance_pin(&p, DEMO_PIN, now).unwrap(),
            PinVerdict::Accepted
        );
    }

    #[test]
    fn a_missing_hash_file_means_no_coordinator_mode() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        assert!(installed(dir.path(), &data).is_none());
        let path = dir.path().join(crate::provision::bundle::paths::PIN_HASH);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not a hash\n").unwrap();
        assert!(installed(dir.path(), &data).is_none());
        std::fs::write(&path, hash_with_salt("135790", &[9; 16], 1000)).unwrap();
        let p = installed(dir.path(), &data).unwrap();
        assert_eq!(p.pin_hash, path);
        assert_eq!(p.lockout, data.join(LOCKOUT_FILE));
    }
}
