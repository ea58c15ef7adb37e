//! Demo mode's parts: reader and printer simulators on pseudo-terminals, the reference back
//! office embedded on loopback, the demo catalogue, a temporary data directory.
//!
//! The kiosk talks to them through the same drivers and adapters as on a real terminal; only
//! the station's assembly ([`super::Station::demo`]) differs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backoffice::EmbeddedBackoffice;
use crate::catalog::Catalog;
use crate::printer::status::PaperState;
use crate::sim::idcard::IdcardSimulator;
use crate::sim::printer::PrinterSimulator;

/// How demo mode starts; tests change the failure knobs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The simulated printer's paper state at start (e.g. `PaperEnd`).
    pub printer_state: PaperState,
    /// Start the embedded back office; when false the county link points at a closed port.
    pub county_reachable: bool,
    /// The catalogue (default: the demo catalogue).
    pub catalog: Option<Catalog>,
    /// How long a submission waits for the county before it says 待上传.
    pub confirm_wait: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            printer_state: PaperState::Ok,
            county_reachable: true,
            catalog: None,
            confirm_wait: Duration::from_secs(5),
        }
    }
}

/// What demo mode runs besides the kiosk. Dropped (after the kiosk's own parts stopped) by
/// the station: simulators and back office stop, the data directory is removed.
pub struct DemoParts {
    pub idcard_sim: Arc<IdcardSimulator>,
    pub printer_sim: Arc<PrinterSimulator>,
    pub backoffice: Option<EmbeddedBackoffice>,
    pub data_dir: PathBuf,
}

impl Drop for DemoParts {
    fn drop(&mut self) {
        if let Some(b) = self.backoffice.take() {
            b.stop();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
