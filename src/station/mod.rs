//! 服务站: the one place the kiosk's parts are assembled, for a real terminal and for demo mode,
//! and the one place they are stopped.
//!
//! - [`Station::production`] opens what the config names: the installed catalogue, the reader
//!   and printer ports, the county link and its outbox worker.
//! - [`Station::demo`] starts the same adapters on demo parts ([`demo`]): simulators on
//!   pseudo-terminals, the back office embedded on loopback, a temporary data directory.
//! - Both give the same [`Services`] (the UI's ports, [`ports`]), one adapter per port in its own
//!   file: [`catalogue`], [`printer`], [`county`], [`reader`], [`sscard`] and [`card_hand`], and [`sync`]
//!   (catalogue sync and the idle screen's announcements).
//! - [`health`]: what the drivers report goes into the heartbeat.
//! - [`software`]: a verified software update installed between visits, then the reboot.
//! - [`Station::shutdown`] (also on drop) is the only shutdown path, and what SIGTERM and SIGINT
//!   lead to ([`Station::on_signal`]): no new print jobs, the job on the printer finishes, the
//!   outbox worker finishes its step (a delivery in progress is recorded), the sync loop stops,
//!   then demo parts stop and the demo data directory goes.
//!
//! Nothing here formats text for the screen; ports return typed data and the UI words it.

#[cfg(feature = "demo")]
pub mod card_hand;
pub mod catalogue;
pub mod coordinator_pin;
pub mod county;
#[cfg(feature = "demo")]
pub mod demo;
pub mod health;
pub mod ports;
pub mod printer;
pub mod reader;
pub mod software;
pub mod sscard;
pub mod sync;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "demo")]
pub use demo::{DemoOptions, DemoParts};
pub use ports::Services;

use self::catalogue::IndexedCatalogue;
use self::county::OutboxCounty;
use self::ports::{Announcement, CardEvent, CatalogueUpdates};
use self::printer::SerialReceiptPrinter;
use self::sync::CatalogueSync;
use crate::catalog::keyring::Keyring;
use crate::config::Config;
use crate::county::CountyClient;
use crate::county::sync::{SyncSettings, Syncer};
use crate::doctor::health::HealthReporter;
use crate::idcard::reader::ReaderHandle;
use crate::printer::device::{Printer, PrinterSettings};
use crate::printer::profile::PrinterProfile;
use crate::store::Store;

/// How long shutdown waits for the printer's job and for the outbox worker, each.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

/// Why a station could not be assembled. Precise English for the log and the CLI.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: crate::store::StoreError,
    },
    #[error("cannot load the installed catalogue: {0}")]
    Catalogue(#[source] crate::catalog::repo::RepoError),
    #[error("no catalogue is installed in {0}; import one with `kiosk catalog import`")]
    NoCatalogue(PathBuf),
    #[error("[{0}] port is not set in the config")]
    PortNotSet(&'static str),
    #[error("printer profile {name:?}: {detail}")]
    PrinterProfile { name: String, detail: String },
    #[error("social security card reader: {0}")]
    SsCardProfile(String),
    #[error("county link: {0}")]
    County(String),
    #[error("{0}")]
    Outbox(String),
    #[cfg(feature = "demo")]
    #[error("demo mode: {what}: {detail}")]
    Demo { what: &'static str, detail: String },
}

/// What shutdown found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// No job was left on the printer.
    pub printer_idle: bool,
    /// The outbox worker stopped after its step.
    pub outbox_stopped: bool,
}

impl ShutdownReport {
    pub fn clean(self) -> bool {
        self.printer_idle && self.outbox_stopped
    }
}

/// How often the running app looks for a software update the update timer has verified.
const UPDATE_WATCH_EVERY: Duration = Duration::from_secs(60);

/// How often the printer's status is asked while it is idle (paper runs out between jobs).
const PRINTER_HEALTH_EVERY: Duration = Duration::from_secs(30);

/// How the sync loop is set up (see [`Station::assemble`]).
struct SyncSetup {
    client: CountyClient,
    store_path: PathBuf,
    keyring: Keyring,
    settings: SyncSettings,
    /// Demo mode: the catalogue in use, installed in the store when it has none.
    seed: Option<Arc<crate::catalog::Catalog>>,
}

/// The kiosk's parts, assembled; owns everything that must be stopped (outbox worker, sync
/// loop, printer, demo parts). Stop it with [`Station::shutdown`] or by dropping it, outside
/// the tokio runtime and before the runtime is dropped.
pub struct Station {
    services: Services,
    county: Arc<OutboxCounty>,
    printer: Arc<SerialReceiptPrinter>,
    reader_port: PathBuf,
    /// `station.time_zone`: the day cards are validated on.
    time_zone: chrono_tz::Tz,
    /// The data directory (demo mode's temporary one): store, update state, settings.
    data_dir: PathBuf,
    /// Catalogue sync and announcements (`None`: no county link or no trusted key).
    sync: Option<Arc<CatalogueSync>>,
    /// Software updates between visits (`None`: no `update.release_key`, or demo mode).
    software: Option<Arc<software::UpdaterInstall>>,
    announcements_every: Duration,
    /// The app's device health, into the heartbeat.
    health: HealthReporter,
    rt: tokio::runtime::Handle,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    #[cfg(feature = "demo")]
    demo: Option<DemoParts>,
    stopped: Option<ShutdownReport>,
}

impl Station {
    /// A real terminal: the installed catalogue, the configured reader, printer and county
    /// link; the outbox worker starts on `rt`.
    pub fn production(config: &Config, rt: tokio::runtime::Handle) -> Result<Self, StationError> {
        let data_dir = crate::config::data_dir(config);
        std::fs::create_dir_all(&data_dir).map_err(|source| StationError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let store_path = data_dir.join("kiosk.sqlite3");
        let store = Store::open(&store_path).map_err(|source| StationError::Store {
            path: store_path.clone(),
            source,
        })?;
        let catalog = match crate::catalog::repo::load(&store).map_err(StationError::Catalogue)? {
            Some((_, c)) => c,
            None => return Err(StationError::NoCatalogue(store_path)),
        };
        let catalogue = Arc::new(IndexedCatalogue::new(catalog));
        let reader_port = config
            .reader
            .port
            .clone()
            .ok_or(StationError::PortNotSet("reader"))?;
        let printer_port = config
            .printer
            .port
            .clone()
            .ok_or(StationError::PortNotSet("printer"))?;
        let profile = PrinterProfile::builtin(&config.printer.profile).map_err(|e| {
            StationError::PrinterProfile {
                name: config.printer.profile.clone(),
                detail: e.to_string(),
            }
        })?;
        let printer = Printer::new(PrinterSettings {
            port: printer_port,
            profile,
        });
        let client = CountyClient::from_config(&config.county, &config.station)
            .map_err(|e| StationError::County(e.to_string()))?;
        let county = OutboxCounty::start_with_store(
            store,
            &store_path,
            client.clone(),
            rt.clone(),
            catalogue.clone(),
            config,
        )
        .map_err(|e| StationError::Outbox(e.detail))?;
        let sync = match (client, Keyring::from_config(config)) {
            (Some(client), Ok(keyring)) => Some(SyncSetup {
                client,
                store_path,
                keyring,
                settings: SyncSettings::from_config(config),
                seed: None,
            }),
            (None, _) => None,
            (Some(_), Err(e)) => {
                tracing::warn!("no catalogue sync and no announcements: {e}");
                None
            }
        };
        let software = config.update.release_key.is_some().then(|| {
            Arc::new(software::UpdaterInstall::new(
                crate::update::Updater::new(
                    config.update.clone(),
                    crate::update::update_dir(&data_dir),
                    env!("CARGO_PKG_VERSION"),
                ),
                software::systemctl_reboot(),
            ))
        });
        let mut station = Self::assemble(
            config,
            catalogue,
            printer,
            county,
            reader_port,
            data_dir,
            sync,
            PRINTER_HEALTH_EVERY,
            rt,
        );
        station.services.bank_card = crate::sscard::SsReaderSettings::from_config(&config.sscard)
            .map_err(|e| StationError::SsCardProfile(e.to_string()))?
            .map(|s| Arc::new(sscard::SerialBankCard::new(s)) as Arc<dyn ports::BankCardReader>);
        station.services.software = software
            .clone()
            .map(|s| s as Arc<dyn ports::SoftwareUpdates>);
        station.software = software;
        Ok(station)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        config: &Config,
        catalogue: Arc<IndexedCatalogue>,
        printer: Printer,
        county: OutboxCounty,
        reader_port: PathBuf,
        data_dir: PathBuf,
        sync: Option<SyncSetup>,
        printer_health_every: Duration,
        rt: tokio::runtime::Handle,
    ) -> Self {
        let health = HealthReporter::new(county.health().unwrap_or_default());
        health.catalog_version(Some(catalogue.version()));
        health::refresh_verdict(&health);
        let receipts = Arc::new(
            SerialReceiptPrinter::new(
                printer.clone(),
                config.station.name.clone(),
                config.station.complaint_phone.clone(),
                config.station.time_zone,
            )
            .with_health(health.clone()),
        );
        let county = Arc::new(county);
        let sync = sync.map(|s| {
            Arc::new(CatalogueSync::start(
                &rt,
                Syncer::new(s.client, s.store_path, s.keyring),
                s.settings,
                catalogue.clone(),
                health.clone(),
                s.seed,
            ))
        });
        let busy = receipts.clone();
        let watch = health::watch_printer(
            &rt,
            printer,
            Arc::new(move || busy.busy()),
            health.clone(),
            printer_health_every,
        );
        Self {
            services: Services {
                catalogue,
                printer: receipts.clone(),
                county: county.clone(),
                demo_hand: None,
                coordinator_pin: coordinator_pin::installed(std::path::Path::new("/"), &data_dir),
                station_name: config.station.name.clone(),
                updates: sync.clone().map(|s| s as Arc<dyn CatalogueUpdates>),
                software: None,
                bank_card: None,
            },
            county,
            printer: receipts,
            reader_port,
            time_zone: config.station.time_zone,
            data_dir,
            sync,
            software: None,
            announcements_every: Duration::from_secs(
                config.county.announcements_refresh_secs.max(60),
            ),
            health,
            rt,
            tasks: Mutex::new(vec![watch]),
            #[cfg(feature = "demo")]
            demo: None,
            stopped: None,
        }
    }

    /// The ports the UI is built with.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Demo mode's simulators and back office (`None` on a real terminal).
    #[cfg(feature = "demo")]
    pub fn demo_parts(&self) -> Option<&DemoParts> {
        self.demo.as_ref()
    }

    /// The reader's serial port (the simulator's pty in demo mode).
    pub fn reader_port(&self) -> &Path {
        &self.reader_port
    }

    /// The data directory the station runs on (demo mode: its temporary one).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The in-app doctor for this station (the maintenance screen's and remote requests'): the
    /// reader and printer checks from the live drivers' health, which hold the ports, the
    /// other checks as `kiosk doctor` runs them on this station's data directory
    /// (`doctor::probe::run_in_app`). Blocking when called: run it off the UI thread.
    pub fn in_app_doctor(
        &self,
        loaded: crate::config::LoadedConfig,
    ) -> impl Fn() -> crate::doctor::Report + Send + Sync + 'static {
        let (data_dir, health) = (self.data_dir.clone(), self.health.clone());
        move || crate::doctor::probe::run_in_app(&loaded, &data_dir, &health)
    }

    /// Where the maintenance screen's PIN hash, lockout and settings (the volume) are: the
    /// station's own (the provisioned hash, the demo PIN), else the hash beside the config file
    /// `config_path` with the lockout and settings in this station's data directory (demo mode:
    /// its temporary one, never `config::data_dir`).
    pub fn maintenance_paths(&self, config_path: &Path) -> crate::maintenance::MaintenancePaths {
        self.services.coordinator_pin.clone().unwrap_or_else(|| {
            crate::maintenance::MaintenancePaths::new(config_path, &self.data_dir)
        })
    }

    /// The maintenance screen's details lines for this station (`doctor::probe::details_zh`:
    /// county URL and certificate from `config`, the outbox of this station's store). Blocking
    /// when called: run it off the UI thread.
    pub fn maintenance_details(
        &self,
        config: Config,
    ) -> impl Fn() -> Vec<String> + Send + Sync + 'static {
        let data_dir = self.data_dir.clone();
        move || crate::doctor::probe::details_zh(&config, &data_dir, chrono::Utc::now())
    }

    /// Starts the reader driver; `on_event` gets its events on the runtime (after the
    /// heartbeat's health saw them). One reader per port at a time: stop the handle before
    /// starting another.
    pub fn start_reader(&self, on_event: impl Fn(CardEvent) + Send + 'static) -> ReaderHandle {
        reader::start(
            &self.reader_port,
            reader::station_day(self.time_zone),
            &self.rt,
            Some(self.health.clone()),
            on_event,
        )
    }

    /// Keeps the idle screen's announcements up to date from the sync loop ([`sync`]) until
    /// shutdown: `on_change` gets what to show at once, when the county's change, and every
    /// `refresh` (default `county.announcements_refresh_secs`) so expired ones leave the screen.
    /// Without a county link or a trusted key nothing is shown.
    pub fn start_noticeboard(
        &self,
        refresh: Option<Duration>,
        on_change: impl Fn(Vec<Announcement>) + Send + Sync + 'static,
    ) {
        if let Some(sync) = &self.sync {
            sync.watch_announcements(refresh.unwrap_or(self.announcements_every), on_change);
        }
    }

    /// Calls `on_pending` (on the runtime) whenever sync holds a newer verified catalogue,
    /// which the UI installs when the visit has ended ([`ports::CatalogueUpdates`]).
    pub fn start_catalogue_watch(&self, on_pending: impl Fn() + Send + Sync + 'static) {
        if let Some(sync) = &self.sync {
            sync.watch_pending(on_pending);
        }
    }

    /// Calls `on_verified` (on the runtime) whenever the update timer has left a downloaded,
    /// verified software update, which the UI installs when the visit has ended
    /// ([`ports::SoftwareUpdates`]). The state file is read once a minute. Nothing without a
    /// release key.
    pub fn start_update_watch(&self, on_verified: impl Fn() + Send + Sync + 'static) {
        if let Some(install) = &self.software {
            let task = software::watch(&self.rt, install.clone(), UPDATE_WATCH_EVERY, on_verified);
            self.tasks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(task);
        }
    }

    /// Catalogue sync, when the station has a county link and a trusted key.
    pub fn sync(&self) -> Option<&CatalogueSync> {
        self.sync.as_deref()
    }

    /// Where the app's device health goes; the next heartbeat carries it.
    pub fn health(&self) -> &HealthReporter {
        &self.health
    }

    /// The outbox worker's status (`None` without a county link); it changes after every
    /// delivery, heartbeats included.
    pub fn county_status(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<crate::county::outbox::WorkerStatus>> {
        self.county.worker_status()
    }

    /// Calls `on_signal` once when the process receives SIGTERM or SIGINT (from the runtime).
    /// The caller ends what it runs (the UI's event loop) and then calls [`Station::shutdown`]:
    /// a signal and a normal exit take the same path.
    pub fn on_signal(&self, on_signal: impl FnOnce(&'static str) + Send + 'static) {
        use tokio::signal::unix::{SignalKind, signal};
        let _guard = self.rt.enter();
        let (term, int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("SIGTERM/SIGINT not handled: {e}");
                return;
            }
        };
        let task = self.rt.spawn(async move {
            let (mut term, mut int) = (term, int);
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{name}: shutting down");
            on_signal(name);
        });
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    /// Whether a print job is on the printer now.
    pub fn printing(&self) -> bool {
        self.printer.busy()
    }

    /// Stops the station: no new print jobs and the one on the printer finishes, the outbox
    /// worker finishes its step, background tasks stop, then demo parts stop. Call outside the
    /// runtime, before it is dropped. Idempotent; also run on drop.
    pub fn shutdown(&mut self) -> ShutdownReport {
        if let Some(r) = self.stopped {
            return r;
        }
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
        let printer_idle = self.printer.finish(SHUTDOWN_LIMIT);
        if !printer_idle {
            tracing::error!("shutdown: the printer's job did not finish in time");
        }
        let outbox_stopped = self.county.shutdown(SHUTDOWN_LIMIT);
        if let Some(sync) = &self.sync
            && !sync.shutdown(SHUTDOWN_LIMIT)
        {
            tracing::error!("shutdown: the sync loop did not stop in time");
        }
        if !outbox_stopped {
            tracing::error!("shutdown: the outbox worker did not stop in time");
        }
        #[cfg(feature = "demo")]
        {
            self.demo = None;
        }
        let report = ShutdownReport {
            printer_idle,
            outbox_stopped,
        };
        tracing::info!(?report, "station stopped");
        self.stopped = Some(report);
        report
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.shutdown();
    }
}
