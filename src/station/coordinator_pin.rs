//! The PIN that opens 帮办员模式 (coordinator mode): the maintenance PIN's hash as the
//! provisioning bundle installs it (`/etc/village-kiosk/maintenance-pin.hash`, see
//! `provision::bundle::paths::PIN_HASH`), or in demo mode the documented demo PIN.
//!
//! Only the hash is held; the UI verifies a typed PIN with `PinHash::verify` on tokio's
//! blocking pool (PBKDF2 is slow on purpose) and never keeps it beyond the attempt.

use std::path::Path;
use std::sync::Arc;

use crate::provision::pin::{PinHash, hash_with_salt};

/// The demo station's coordinator PIN (documented in docs/ui.md).
pub const DEMO_PIN: &str = "246810";

/// The installed maintenance PIN's hash under `root` (`/` on a terminal); `None` (coordinator
/// mode unavailable, the reason logged) when it is missing or unreadable.
pub fn installed(root: &Path) -> Option<Arc<PinHash>> {
    let path = root.join(crate::provision::bundle::paths::PIN_HASH);
    match std::fs::read_to_string(&path) {
        Ok(text) => match PinHash::parse(&text) {
            Ok(h) => Some(Arc::new(h)),
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

/// The demo PIN's hash (few iterations: it protects nothing).
pub fn demo() -> Arc<PinHash> {
    let text = hash_with_salt(DEMO_PIN, b"village-kiosk-demo-pin", 1000);
    // The text was just made by the matching encoder.
    Arc::new(PinHash::parse(&text).expect("the demo PIN hash parses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_pin_verifies_and_others_do_not() {
        let h = demo();
        assert!(h.verify(DEMO_PIN));
        assert!(!h.verify("111111"));
    }

    #[test]
    fn a_missing_hash_file_means_no_coordinator_mode() {
        let dir = tempfile::tempdir().unwrap();
        assert!(installed(dir.path()).is_none());
        let path = dir.path().join(crate::provision::bundle::paths::PIN_HASH);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not a hash\n").unwrap();
        assert!(installed(dir.path()).is_none());
        std::fs::write(&path, hash_with_salt("135790", &[9; 16], 1000)).unwrap();
        assert!(installed(dir.path()).unwrap().verify("135790"));
    }
}
