//! The maintenance screen's state (维护界面), below its two controllers ([`super::pin`],
//! [`super::maintenance`]) like [`super::visit`] is below the villager's pages.
//!
//! - [`DeskSetup`]: what the app hands the screen (the PIN paths, how a doctor run is made, the
//!   drivers' live health, the details lines, the volume, the restart); absent, the hidden
//!   gesture opens a PIN page that says the screen is not set up.
//! - [`DeskVisit`]: what one technician's visit typed and saw; replaced whole when the visit
//!   ends (leave, inactivity), like a villager's visit. It holds nothing personal: a card read
//!   keeps only "read OK, kind, valid until".

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::doctor::Report;
use crate::doctor::health::HealthReporter;
use crate::maintenance::{MaintenancePaths, TapCounter, Volume};

/// The lines of network, certificate and outbox details (computed off the UI thread; no names).
pub type DetailsRun = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// What the app gives the maintenance screen.
#[derive(Clone)]
pub struct DeskSetup {
    pub paths: MaintenancePaths,
    /// How a doctor run is made (the app runs `doctor::run` with its config).
    pub doctor: super::remote::DoctorRun,
    /// The drivers' live status (the app's drivers hold the reader and printer ports).
    pub health: Option<HealthReporter>,
    /// County URL, certificate subject and expiry, outbox counts and ages.
    pub details: Option<DetailsRun>,
    pub volume: Volume,
    /// `ui.orientation` from the config.
    pub orientation: String,
    /// Ends the app with [`crate::maintenance::RESTART_EXIT_CODE`] (systemd starts it again).
    pub restart: std::rc::Rc<dyn Fn()>,
}

/// One technician's visit to the maintenance screen.
#[derive(Default)]
pub struct DeskVisit {
    pub pin: Zeroizing<String>,
    pub pin_message: String,
    pub checking: bool,
    /// The PIN was accepted in this visit.
    pub open: bool,
    pub report: Option<Report>,
    pub doctor_running: bool,
    pub details: Vec<String>,
    pub print_result: String,
    pub card_result: String,
    pub touch_result: String,
}

/// The shell's part for the maintenance screen.
#[derive(Default)]
pub struct Desk {
    pub setup: Option<DeskSetup>,
    /// Counts taps on the idle screen's corner (kept across visits; never personal).
    pub taps: TapCounter,
    pub visit: DeskVisit,
}
