//! The reference county back office (`county-backoffice`): receives applications exactly once,
//! assigns case numbers, lets county staff move cases through their statuses, serves signed
//! catalogue and announcement bundles, and keeps the station ledger.
//!
//! - `http`: the API on axum, authentication, the TLS listener.
//! - [`ledger`]: the station ledger (站点台账): the imported station list, coverage, remote
//!   requests, the `/staff/ledger` page.
//! - [`db`]: its SQLite file.
//! - [`certs`]: a test county CA, server and station certificates (rcgen).
//! - `cli`: the `county-backoffice` command line; the only part that reads files given on it.
//! - [`publish`]: county staff publish signed bundles, to every station or staged; the rollout
//!   view of what each station installed.
//! - [`provision`]: signed provisioning bundles for stations (`provision station`).
//! - [`public`]: the public progress page a receipt's QR code opens, on its own listener.
//! - [`notices`]: result notices by text message through the county's SMS gateway, queued in
//!   the database; [`sms_gateway`]: the reference gateway that writes messages to a file.
//! - [`staff`]: county staff: routing to departments, operator logins, audit log, due dates in
//!   working days, the supervisor's report, follow-ups of bad ratings; the `/staff` pages on
//!   their own listener.
//!
//! It is a reference, not the county's production system, but it keeps the production rules:
//! plain HTTP only in demo mode (with a bearer token), mutual TLS otherwise; a station sees only
//! its own cases and those of the person whose card it just read. It never logs personal data.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, bundle};
use crate::county::wire;

pub mod certs;
mod cli;
pub mod contact;
pub mod db;
mod http;
pub mod ledger;
pub mod lookup;
pub mod notices;
#[cfg(feature = "test-support")]
pub mod pg_server;
pub mod public;
pub mod publish;
pub mod sms_gateway;
pub mod sql;
pub mod staff;
pub mod update;

pub use cli::{CliError, main};
pub mod provision;

pub use db::{DEFAULT_DB_CONNECTIONS, Db, DbError, DbPool, StationRow};
pub use http::{DEFAULT_MAX_TLS_HANDSHAKES, PeerInfo, ServeConfig, TlsFiles};
pub use ledger::ledger_html;

#[derive(Debug, thiserror::Error)]
pub enum BackofficeError {
    #[error(
        "plain HTTP is refused outside demo mode: give --tls-ca, --tls-cert and --tls-key, or --demo-token for a demo"
    )]
    PlainHttpRefused,
    #[error("a demo token and TLS together: the bearer token is for plain-HTTP demo mode only")]
    TokenWithTls,
    #[error("production (TLS) needs --signing-key: the demo bundle key is public")]
    DemoKeyInProduction,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Tls(#[from] crate::county::tls::TlsError),
    #[error("bundle: {0}")]
    Bundle(String),
    #[error("I/O: {0}")]
    Io(std::io::Error),
    #[error("the back office thread failed: {0}")]
    Thread(String),
    #[error(
        "the public listener needs --public-tls-cert and --public-tls-key (a certificate phones trust); plain HTTP there is for demo mode only"
    )]
    PublicPlainHttp,
    #[error("staff: {0}")]
    Staff(String),
}

// ---------------------------------------------------------------------------------------------
// Signed bundles.

/// The signed catalogue and announcements the county serves, with their ETags.
pub struct Bundles {
    /// The signed catalogue and its ETag; the demo catalogue is signed on first request, so
    /// demo start-up does not pay for it.
    catalog: std::sync::OnceLock<(Vec<u8>, String)>,
    announcements: Vec<u8>,
    announcements_etag: String,
    public_key: [u8; 32],
    items: std::collections::HashSet<String>,
    /// Each item's department and time limits (cases are routed by them).
    routes: staff::Routes,
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..32])
}

impl Bundles {
    /// Signs `catalog` and `announcements` with `key`.
    pub fn new(
        catalog: &Catalog,
        announcements: &wire::Announcements,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, BackofficeError> {
        let catalog_bytes = bundle::sign_catalog(catalog, key)
            .map_err(|e| BackofficeError::Bundle(e.to_string()))?;
        let catalog_etag = etag(&catalog_bytes);
        Self::with_catalog(
            std::sync::OnceLock::from((catalog_bytes, catalog_etag)),
            catalog,
            announcements,
            key,
        )
    }

    /// The demo catalogue and announcements, signed with the public demo key (the catalogue on
    /// its first request).
    pub fn demo() -> Result<Self, BackofficeError> {
        Self::with_catalog(
            std::sync::OnceLock::new(),
            crate::catalog::demo::demo_catalog_ref(),
            &demo_announcements(),
            &bundle::demo_signing_key(),
        )
    }

    fn with_catalog(
        signed_catalog: std::sync::OnceLock<(Vec<u8>, String)>,
        catalog: &Catalog,
        announcements: &wire::Announcements,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, BackofficeError> {
        let ann_payload = serde_json::to_vec(announcements)
            .map_err(|e| BackofficeError::Bundle(e.to_string()))?;
        let ann_bytes = bundle::sign(bundle::KIND_ANNOUNCEMENTS, &ann_payload, key);
        Ok(Bundles {
            catalog: signed_catalog,
            announcements_etag: etag(&ann_bytes),
            announcements: ann_bytes,
            public_key: key.verifying_key().to_bytes(),
            items: catalog
                .items
                .iter()
                .filter(|i| i.village_online)
                .map(|i| i.code.clone())
                .collect(),
            routes: staff::Routes::from_catalog(catalog),
        })
    }

    /// The signed catalogue and its ETag (the demo catalogue is signed here the first time).
    pub fn catalog(&self) -> Result<(&[u8], &str), BackofficeError> {
        let (bytes, tag) = match self.catalog.get() {
            Some(signed) => signed,
            None => {
                let bytes = bundle::sign_catalog(
                    crate::catalog::demo::demo_catalog_ref(),
                    &bundle::demo_signing_key(),
                )
                .map_err(|e| BackofficeError::Bundle(e.to_string()))?;
                let tag = etag(&bytes);
                self.catalog.get_or_init(|| (bytes, tag))
            }
        };
        Ok((bytes, tag))
    }

    pub fn announcements(&self) -> (&[u8], &str) {
        (&self.announcements, &self.announcements_etag)
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// Each item's department and time limits.
    pub fn routes(&self) -> &staff::Routes {
        &self.routes
    }

    /// Whether applications for `code` may be accepted from village terminals.
    pub fn knows_item(&self, code: &str) -> bool {
        self.items.contains(code)
    }
}

/// The announcements demo mode serves (通知公告).
pub fn demo_announcements() -> wire::Announcements {
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    wire::Announcements {
        version: 1,
        issued_at: Some(at("2026-11-01T00:00:00Z")),
        items: vec![
            wire::Announcement {
                id: "2026-11-01-yanglao".into(),
                title: "2027年度城乡居民养老保险开始缴费".into(),
                body: "2027年度城乡居民基本养老保险费即日起开始缴纳，可在本站自助终端或村便民服务站办理。".into(),
                published_at: at("2026-11-01T00:00:00Z"),
                expires_at: None,
            },
            wire::Announcement {
                id: "2026-11-01-yibao".into(),
                title: "城乡居民医保集中参保期".into(),
                body: "个人缴费标准每人每年400元，集中参保期至12月31日；新生儿可随时参保。可在村便民服务站或手机缴纳。".into(),
                published_at: at("2026-11-01T00:00:00Z"),
                expires_at: Some(at("2027-01-01T00:00:00+08:00")),
            },
            wire::Announcement {
                id: "2026-10-20-gaoling".into(),
                title: "高龄津贴发放提醒".into(),
                body: "年满80周岁的老人每月可领取高龄津贴，未申请的请带身份证到村便民服务站办理。".into(),
                published_at: at("2026-10-20T00:00:00Z"),
                expires_at: None,
            },
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Serving.

/// What `serve` needs besides the listener.
pub struct ServeOptions {
    pub config: ServeConfig,
    pub bundles: Bundles,
}

/// Runs the back office on `listener` until `shutdown` resolves. Shared by the binary, the
/// demo mode and tests. Refuses plain HTTP unless a demo token is set.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    bundles: Bundles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    serve_with(listener, config, bundles, ServeExtras::default(), shutdown).await
}

/// What `serve` runs beside the stations' API: the public progress page, the SMS sender and
/// the staff pages.
#[derive(Debug, Default)]
pub struct ServeExtras {
    /// The public listener (bound, non-blocking) and its options (`--public-listen`,
    /// `--public-url`, its certificate).
    pub public: Option<(std::net::TcpListener, public::PublicOptions)>,
    /// The county's SMS gateway (`--sms-gateway`); without one, notices wait in the queue.
    pub sms: Option<notices::SmsGatewayConfig>,
    /// Wakes the sender and counts its attempts.
    pub notices: notices::SenderHandle,
    /// The staff listener (`--staff-listen`, bound, non-blocking) with the staff side's clock,
    /// holiday calendar and TLS.
    pub staff: Option<(std::net::TcpListener, staff::StaffOptions)>,
}

/// [`serve`] with the public progress page, the SMS sender and the staff pages.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    bundles: Bundles,
    extras: ServeExtras,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    serve_with_gate(
        listener,
        config,
        bundles,
        http::Gate::new(),
        extras,
        shutdown,
    )
    .await
}

/// [`serve`], and the staff pages (`/staff/...`) on `staff_listener` with `staff`'s clock,
/// holiday calendar and TLS.
pub async fn serve_with_staff(
    listener: tokio::net::TcpListener,
    staff_listener: tokio::net::TcpListener,
    config: ServeConfig,
    bundles: Bundles,
    staff: staff::StaffOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    let staff_listener = staff_listener.into_std().map_err(BackofficeError::Io)?;
    let extras = ServeExtras {
        staff: Some((staff_listener, staff)),
        ..ServeExtras::default()
    };
    serve_with(listener, config, bundles, extras, shutdown).await
}

async fn serve_with_gate(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    bundles: Bundles,
    gate: http::Gate,
    extras: ServeExtras,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    let tls = match (&config.tls, &config.demo_token) {
        (None, None) => return Err(BackofficeError::PlainHttpRefused),
        (Some(_), Some(_)) => return Err(BackofficeError::TokenWithTls),
        (Some(files), None) => Some(Arc::new(http::server_tls_config(files)?)),
        (None, Some(_)) => None,
    };
    let clock: Arc<dyn staff::Clock> = extras
        .staff
        .as_ref()
        .map(|(_, o)| o.clock.clone())
        .unwrap_or_else(|| Arc::new(staff::SystemClock));
    let (db, routed) = Db::off_runtime(|| {
        let db = DbPool::open(&config.db_path, config.db_connections)?;
        let routed = {
            let first = db.lock().unwrap_or_else(|p| p.into_inner());
            first.person_key_salt()?;
            staff::cases::route_unrouted(&first, bundles.routes(), clock.now())
                .map_err(|e| BackofficeError::Staff(e.to_string()))?
        };
        Ok::<_, BackofficeError>((db, routed))
    })?;
    if routed > 0 {
        tracing::info!(routed, "cases routed to their departments at start");
    }
    tracing::debug!(connections = db.len(), "database connections");
    let db = Arc::new(db);
    let bundles = Arc::new(bundles);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let public_url = extras.public.as_ref().map(|(_, o)| o.url.clone());
    if let Some((std_listener, options)) = extras.public {
        if options.tls.is_none() && config.demo_token.is_none() {
            return Err(BackofficeError::PublicPlainHttp);
        }
        let listener =
            tokio::net::TcpListener::from_std(std_listener).map_err(BackofficeError::Io)?;
        let public_db = db.clone();
        let stop = stopped(stop_rx.clone());
        let tls = options
            .tls
            .as_ref()
            .map(|(c, k)| public::public_tls_config(c, k));
        if let Some(Err(e)) = tls {
            return Err(e);
        }
        tokio::spawn(async move {
            if let Err(e) = public::serve_public(listener, &options, public_db, stop).await {
                tracing::error!(error = %e, "public progress page stopped");
            }
        });
    }
    if let Some(sms) = extras.sms {
        // The public page and the sender work through this process's connections too.
        notices::spawn_sender(db.clone(), sms, extras.notices.clone(), stop_rx.clone())?;
    }
    let staff_task = match extras.staff {
        Some((std_listener, options)) => {
            let staff_listener =
                tokio::net::TcpListener::from_std(std_listener).map_err(BackofficeError::Io)?;
            let tls = match &options.tls {
                Some(files) => Some(Arc::new(staff::staff_tls_config(files)?)),
                None => None,
            };
            let staff_state = staff::pages::StaffState {
                db: db.clone(),
                clock: options.clock.clone(),
                holidays: options.holidays.clone(),
                routes: Arc::new(bundles.routes().clone()),
                secure: tls.is_some(),
                login_limiter: Default::default(),
                offline_after: config.offline_after,
            };
            let listener = http::listen(
                staff_listener,
                tls,
                config.max_tls_handshakes,
                tokio::sync::watch::channel(0).0,
            )?;
            let app =
                staff::pages::router(staff_state).into_make_service_with_connect_info::<PeerInfo>();
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }))
        }
        None => None,
    };
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let shutdown = stopped(stop_rx);
    let state = http::AppState {
        public_url,
        clock,
        db,
        inflight: Arc::new(Mutex::new(Default::default())),
        config: Arc::new(config),
        gate,
        bundles,
        lookups: Arc::new(Mutex::new(lookup::LookupGuard::default())),
    };
    let listener = http::listen(
        listener,
        tls,
        state.config.max_tls_handshakes,
        state.gate.handshakes.clone(),
    )?;
    let app = http::router(state).into_make_service_with_connect_info::<PeerInfo>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(BackofficeError::Io)?;
    if let Some(task) = staff_task {
        match task.await {
            Ok(r) => r.map_err(BackofficeError::Io)?,
            Err(e) => return Err(BackofficeError::Thread(e.to_string())),
        }
    }
    Ok(())
}

/// A back office on 127.0.0.1 in its own thread, for demo mode and tests. Stops when dropped.
pub struct EmbeddedBackoffice {
    addr: SocketAddr,
    /// The staff pages' base URL, when started with them.
    staff_url: Option<String>,
    /// The clock the back office runs on (the staff options' one, or the wall clock).
    clock: Arc<dyn staff::Clock>,
    scheme: &'static str,
    token: Option<String>,
    db_path: PathBuf,
    /// The test-support hooks' side of the server's gate (holds, claims, handshakes).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    gate: http::Gate,
    public_url: Option<String>,
    notices: notices::SenderHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedBackoffice {
    /// Demo mode: plain HTTP on 127.0.0.1:0 with a fresh bearer token, demo bundles, and the
    /// public progress page on plain HTTP on another 127.0.0.1 port.
    pub fn start(db_path: &Path) -> Result<EmbeddedBackoffice, BackofficeError> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let config = ServeConfig::demo(db_path.to_path_buf(), token.clone());
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let public = Self::public_listener(loopback, None, None)?;
        Self::start_with_extras(
            config,
            Bundles::demo()?,
            loopback,
            ServeExtras {
                public: Some(public),
                ..ServeExtras::default()
            },
        )
    }

    /// A public listener bound on `addr`, with `url` (default: `http(s)://` and the address
    /// bound) and the certificate `tls`.
    pub fn public_listener(
        addr: SocketAddr,
        url: Option<String>,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> Result<(std::net::TcpListener, public::PublicOptions), BackofficeError> {
        let l = std::net::TcpListener::bind(addr).map_err(BackofficeError::Io)?;
        l.set_nonblocking(true).map_err(BackofficeError::Io)?;
        let bound = l.local_addr().map_err(BackofficeError::Io)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = url.unwrap_or_else(|| format!("{scheme}://{bound}"));
        Ok((l, public::PublicOptions { url, tls }))
    }

    /// Any configuration (e.g. mutual TLS in tests) on `addr`.
    pub fn start_with(
        config: ServeConfig,
        bundles: Bundles,
        addr: SocketAddr,
    ) -> Result<EmbeddedBackoffice, BackofficeError> {
        Self::start_with_extras(config, bundles, addr, ServeExtras::default())
    }

    /// Any configuration, and the staff pages on a second listener on 127.0.0.1 (plain HTTP
    /// unless `staff` has TLS), with `staff`'s clock and holiday calendar.
    pub fn start_with_staff(
        config: ServeConfig,
        bundles: Bundles,
        addr: SocketAddr,
        staff: staff::StaffOptions,
    ) -> Result<EmbeddedBackoffice, BackofficeError> {
        let l = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(BackofficeError::Io)?;
        l.set_nonblocking(true).map_err(BackofficeError::Io)?;
        let extras = ServeExtras {
            staff: Some((l, staff)),
            ..ServeExtras::default()
        };
        Self::start_with_extras(config, bundles, addr, extras)
    }

    /// [`Self::start_with`] with the public progress page, an SMS gateway or the staff pages.
    pub fn start_with_extras(
        config: ServeConfig,
        bundles: Bundles,
        addr: SocketAddr,
        extras: ServeExtras,
    ) -> Result<EmbeddedBackoffice, BackofficeError> {
        let public_url = extras.public.as_ref().map(|(_, o)| o.url.clone());
        let notices = extras.notices.clone();
        let clock: Arc<dyn staff::Clock> = match &extras.staff {
            Some((_, o)) => o.clock.clone(),
            None => Arc::new(staff::SystemClock),
        };
        let staff_url = match &extras.staff {
            Some((l, o)) => Some(format!(
                "{}://{}",
                if o.tls.is_some() { "https" } else { "http" },
                l.local_addr().map_err(BackofficeError::Io)?
            )),
            None => None,
        };
        let std_listener = std::net::TcpListener::bind(addr).map_err(BackofficeError::Io)?;
        std_listener
            .set_nonblocking(true)
            .map_err(BackofficeError::Io)?;
        let addr = std_listener.local_addr().map_err(BackofficeError::Io)?;
        let gate = http::Gate::new();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), BackofficeError>>();
        let token = config.demo_token.clone();
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let db_path = config.db_path.clone();
        // Open the database once here so a bad path fails `start`, not the thread.
        Db::open_off_runtime(&db_path)?;
        let thread_gate = gate.clone();
        let thread = std::thread::Builder::new()
            .name("county-backoffice".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(BackofficeError::Io(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(BackofficeError::Io(e)));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let shutdown = async move {
                        let _ = stop_rx.await;
                    };
                    if let Err(e) =
                        serve_with_gate(listener, config, bundles, thread_gate, extras, shutdown)
                            .await
                    {
                        tracing::error!(error = %e, "embedded back office stopped");
                    }
                });
            })
            .map_err(|e| BackofficeError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(BackofficeError::Thread(e.to_string())),
        }
        Ok(EmbeddedBackoffice {
            addr,
            staff_url,
            clock,
            scheme,
            token,
            db_path,
            gate,
            public_url,
            notices,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public progress page's base URL, when it runs.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The SMS sender's handle (attempts, wake).
    pub fn notices(&self) -> &notices::SenderHandle {
        &self.notices
    }

    /// The staff pages' base URL (`http://127.0.0.1:PORT`, `https` with staff TLS), when
    /// started with [`EmbeddedBackoffice::start_with_staff`].
    pub fn staff_url(&self) -> Option<String> {
        self.staff_url.clone()
    }

    /// The demo bearer token (empty under mutual TLS).
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or("")
    }

    /// A demo-mode client for `station_id` (bearer token; not for a TLS back office).
    pub fn demo_client(
        &self,
        station_id: &str,
    ) -> Result<crate::county::CountyClient, crate::county::client::ClientError> {
        crate::county::CountyClient::new(
            &self.url(),
            crate::county::CountyAuth::DemoToken {
                token: self.token().to_string(),
                station_id: station_id.to_string(),
            },
            Duration::from_secs(15),
        )
    }

    /// A new connection to the back office's database (for staff actions and test checks).
    pub fn db(&self) -> Result<Db, BackofficeError> {
        Ok(Db::open_off_runtime(&self.db_path)?)
    }

    /// County staff move a case on (as `county-backoffice case advance`).
    pub fn advance(
        &self,
        case_number: &str,
        to: wire::CaseStatus,
        note: Option<&str>,
    ) -> Result<wire::CaseView, BackofficeError> {
        let view = self
            .db()?
            .advance(case_number, to, note, self.clock.now())?;
        self.notices.wake();
        Ok(view)
    }

    /// [`EmbeddedBackoffice::advance`] with the note's English form too (as `county-backoffice
    /// case advance --note-en`).
    pub fn advance_with_english(
        &self,
        case_number: &str,
        to: wire::CaseStatus,
        note: &str,
        note_en: &str,
    ) -> Result<wire::CaseView, BackofficeError> {
        let view = self.db()?.advance_as(
            case_number,
            to,
            Some(note),
            Some(note_en),
            "cli",
            self.clock.now(),
        )?;
        self.notices.wake();
        Ok(view)
    }

    /// Test support: while held, submissions wait after claiming their idempotency key.
    #[cfg(feature = "test-support")]
    pub fn hold_submissions(&self, hold: bool) {
        self.gate.hold.send_replace(hold);
    }

    /// Test support: how many submissions have claimed their key so far.
    #[cfg(feature = "test-support")]
    pub fn claims(&self) -> u64 {
        *self.gate.claims.borrow()
    }

    /// Test support: waits until `n` submissions have claimed their key in total.
    #[cfg(feature = "test-support")]
    pub async fn wait_for_claims(&self, n: u64) {
        let mut rx = self.gate.claims.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    /// Test support: waits until exactly `n` TLS handshakes are in progress.
    #[cfg(feature = "test-support")]
    pub async fn wait_for_handshakes(&self, n: usize) {
        let mut rx = self.gate.handshakes.subscribe();
        let _ = rx.wait_for(|c| *c == n).await;
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        #[cfg(feature = "test-support")]
        self.gate.hold.send_replace(false);
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmbeddedBackoffice {
    fn drop(&mut self) {
        self.shutdown();
    }
}
