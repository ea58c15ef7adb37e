//! Demo mode's parts: reader and printer simulators on pseudo-terminals, the reference back
//! office embedded on loopback, the demo catalogue, a temporary data directory.
//!
//! The kiosk talks to them through the same drivers and adapters as on a real terminal; only
//! the station's assembly ([`super::Station::demo`]) differs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::card_hand::SimCardHand;
use super::catalogue::IndexedCatalogue;
use super::county::OutboxCounty;
use super::ports::Catalogue;
use super::sscard::SerialBankCard;
use super::{Station, StationError, SyncSetup};
use crate::backoffice::EmbeddedBackoffice;
use crate::catalog::Catalog;
use crate::catalog::keyring::Keyring;
use crate::config::Config;
use crate::county::outbox::WorkerConfig;
use crate::county::sync::SyncSettings;
use crate::county::{CountyAuth, CountyClient};
use crate::printer::device::{Printer, PrinterSettings};
use crate::printer::profile::{DEFAULT_PROFILE, PrinterProfile};
use crate::printer::status::PaperState;
use crate::sim::idcard::IdcardSimulator;
use crate::sim::idcard::SimOptions;
use crate::sim::printer::PrinterSimulator;
use crate::sim::printer::SimPrinterOptions;
use crate::sim::sscard::{SimSsCard, SsCardSimulator};
use crate::sscard::SsReaderSettings;
use crate::sscard::profile::{DEFAULT_SSCARD_PROFILE, SsReaderProfile};
use crate::store::Store;

fn demo_error(what: &'static str, e: impl std::fmt::Display) -> StationError {
    StationError::Demo {
        what,
        detail: e.to_string(),
    }
}

impl Station {
    /// Demo mode: the same adapters on simulators, the embedded back office and the demo
    /// catalogue (see [`demo`]); the outbox worker starts on `rt`.
    pub fn demo(options: DemoOptions, rt: tokio::runtime::Handle) -> Result<Self, StationError> {
        let config = Config::default();
        let data_dir = std::env::temp_dir().join(format!(
            "village-kiosk-demo-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&data_dir).map_err(|source| StationError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        // A catalogue of the caller's (a generated one) is not what the embedded back office
        // serves: no sync then, or the demo catalogue would replace it.
        let sync_catalogue = options.catalog.is_none();
        let shown = options
            .catalog
            .map(Arc::new)
            .unwrap_or_else(crate::catalog::demo::demo_catalog_shared);
        let catalogue = Arc::new(IndexedCatalogue::shared(shown.clone()));
        let idcard_sim = Arc::new(
            IdcardSimulator::start(SimOptions::default())
                .map_err(|e| demo_error("reader simulator", e))?,
        );
        let printer_sim = Arc::new(
            PrinterSimulator::start(SimPrinterOptions {
                state: options.printer_state,
                ..SimPrinterOptions::default()
            })
            .map_err(|e| demo_error("printer simulator", e))?,
        );
        // From here on the parts are owned by a guard: an error below still cleans up.
        let sscard_sim = options
            .sscard_reader
            .then(|| SsCardSimulator::start(None, Some(SimSsCard::demo())).map(Arc::new))
            .transpose()
            .map_err(|e| demo_error("social security card reader simulator", e))?;
        let mut parts = DemoParts {
            idcard_sim: idcard_sim.clone(),
            printer_sim: printer_sim.clone(),
            sscard_sim: sscard_sim.clone(),
            backoffice: None,
            data_dir: data_dir.clone(),
        };
        let profile = PrinterProfile::builtin(DEFAULT_PROFILE)
            .map_err(|e| demo_error("printer profile", e))?;
        let printer = Printer::new(PrinterSettings {
            port: printer_sim.path().to_path_buf(),
            profile,
        });

        // The back office and the kiosk's store each create a database: side by side.
        let store_path = data_dir.join("kiosk.sqlite3");
        let backoffice_path = data_dir.join("backoffice.sqlite3");
        let (backoffice, store) = std::thread::scope(|s| {
            let backoffice = options
                .county_reachable
                .then(|| s.spawn(|| EmbeddedBackoffice::start(&backoffice_path)));
            let store = Store::open(&store_path);
            let backoffice = backoffice.map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::backoffice::BackofficeError::Thread(
                        "the back office start-up panicked".into(),
                    ))
                })
            });
            (backoffice, store)
        });
        let store = store.map_err(|source| StationError::Store {
            path: store_path.clone(),
            source,
        })?;
        let (url, token) = match backoffice {
            Some(b) => {
                let b = b.map_err(|e| demo_error("back office", e))?;
                let url = b.url();
                let token = b.token().to_owned();
                parts.backoffice = Some(b);
                (url, token)
            }
            None => {
                // A port nobody listens on: every request is refused, like a dead county link.
                let l = std::net::TcpListener::bind("127.0.0.1:0")
                    .map_err(|e| demo_error("port", e))?;
                let addr = l.local_addr().map_err(|e| demo_error("port", e))?;
                drop(l);
                (
                    format!("http://{addr}"),
                    "demo-token-unreachable".to_owned(),
                )
            }
        };
        let client = CountyClient::new(
            &url,
            CountyAuth::DemoToken {
                token,
                station_id: config.station.id.clone(),
            },
            Duration::from_secs(config.county.timeout_secs.max(1)),
        )
        .map_err(|e| demo_error("county client", e))?;
        let worker = WorkerConfig {
            heartbeat_interval: Some(options.heartbeat_every),
            ..WorkerConfig::from_config(&config.outbox)
        };
        let county = OutboxCounty::start_with_worker(
            store,
            &store_path,
            Some(client.clone()),
            rt.clone(),
            catalogue.clone() as Arc<dyn Catalogue>,
            &config,
            worker,
        )
        .map_err(|e| demo_error("outbox", e.detail))?
        .with_confirm_wait(options.confirm_wait);
        let reader_port = idcard_sim.path().to_path_buf();
        let sync = (options.county_reachable && sync_catalogue).then(|| SyncSetup {
            client,
            store_path: store_path.clone(),
            keyring: Keyring::demo(),
            settings: SyncSettings::from_config(&config),
            seed: Some(shown),
        });
        let mut station = Self::assemble(
            &config,
            catalogue,
            printer,
            county,
            reader_port,
            data_dir,
            sync,
            options.printer_health_every,
            rt,
        );
        if let Some(sim) = &sscard_sim {
            let profile = SsReaderProfile::load(DEFAULT_SSCARD_PROFILE)
                .map_err(|e| demo_error("social security card reader profile", e))?;
            station.services.bank_card = Some(Arc::new(SerialBankCard::new(
                SsReaderSettings::from_profile(sim.path(), &profile),
            )));
        }
        station.demo = Some(parts);
        station.services.demo_hand = Some(Arc::new(SimCardHand::new(idcard_sim)));
        station.services.coordinator_pin = Some(
            super::coordinator_pin::demo(station.data_dir())
                .map_err(|e| demo_error("demo PIN", e))?,
        );
        Ok(station)
    }
}

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
    /// How often a heartbeat goes to the county (a real terminal: every minute).
    pub heartbeat_every: Duration,
    /// How often the idle printer's status is asked for the heartbeat.
    pub printer_health_every: Duration,
    /// Start a social security card reader simulator (`sim::sscard`) with the demo card
    /// inserted, and read bank accounts from it.
    pub sscard_reader: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            printer_state: PaperState::Ok,
            county_reachable: true,
            catalog: None,
            confirm_wait: Duration::from_secs(5),
            heartbeat_every: Duration::from_secs(60),
            printer_health_every: super::PRINTER_HEALTH_EVERY,
            sscard_reader: false,
        }
    }
}

/// What demo mode runs besides the kiosk. Dropped (after the kiosk's own parts stopped) by
/// the station: simulators and back office stop, the data directory is removed.
pub struct DemoParts {
    pub idcard_sim: Arc<IdcardSimulator>,
    pub printer_sim: Arc<PrinterSimulator>,
    /// With [`DemoOptions::sscard_reader`]: the social security card reader simulator.
    pub sscard_sim: Option<Arc<SsCardSimulator>>,
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
