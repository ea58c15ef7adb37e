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
use crate::county::wire::{self, CaseStatus};

pub mod certs;
mod cli;
pub mod db;
mod http;
pub mod ledger;
pub mod lookup;
pub mod publish;

pub use cli::{CliError, main};
pub mod provision;

pub use db::{Db, DbError, StationRow};
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
    serve_with_gate(listener, config, bundles, http::Gate::new(), shutdown).await
}

async fn serve_with_gate(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    bundles: Bundles,
    gate: http::Gate,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    let tls = match (&config.tls, &config.demo_token) {
        (None, None) => return Err(BackofficeError::PlainHttpRefused),
        (Some(_), Some(_)) => return Err(BackofficeError::TokenWithTls),
        (Some(files), None) => Some(Arc::new(http::server_tls_config(files)?)),
        (None, Some(_)) => None,
    };
    let db = Db::open(&config.db_path)?;
    db.person_key_salt()?;
    let state = http::AppState {
        db: Arc::new(Mutex::new(db)),
        inflight: Arc::new(Mutex::new(Default::default())),
        config: Arc::new(config),
        gate,
        bundles: Arc::new(bundles),
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
        .map_err(BackofficeError::Io)
}

/// A back office on 127.0.0.1 in its own thread, for demo mode and tests. Stops when dropped.
pub struct EmbeddedBackoffice {
    addr: SocketAddr,
    scheme: &'static str,
    token: Option<String>,
    db_path: PathBuf,
    gate: http::Gate,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedBackoffice {
    /// Demo mode: plain HTTP on 127.0.0.1:0 with a fresh bearer token, demo bundles.
    pub fn start(db_path: &Path) -> Result<EmbeddedBackoffice, BackofficeError> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let config = ServeConfig::demo(db_path.to_path_buf(), token.clone());
        Self::start_with(
            config,
            Bundles::demo()?,
            "127.0.0.1:0"
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
        )
    }

    /// Any configuration (e.g. mutual TLS in tests) on `addr`.
    pub fn start_with(
        config: ServeConfig,
        bundles: Bundles,
        addr: SocketAddr,
    ) -> Result<EmbeddedBackoffice, BackofficeError> {
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
        Db::open(&db_path)?;
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
                        serve_with_gate(listener, config, bundles, thread_gate, shutdown).await
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
            scheme,
            token,
            db_path,
            gate,
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
        Ok(Db::open(&self.db_path)?)
    }

    /// County staff move a case on (as `county-backoffice case advance`).
    pub fn advance(
        &self,
        case_number: &str,
        to: CaseStatus,
        note: Option<&str>,
    ) -> Result<wire::CaseView, BackofficeError> {
        Ok(self.db()?.advance(case_number, to, note, Utc::now())?)
    }

    /// Test hook: while held, submissions wait after claiming their idempotency key.
    pub fn hold_submissions(&self, hold: bool) {
        self.gate.hold.send_replace(hold);
    }

    /// Test hook: how many submissions have claimed their key so far.
    pub fn claims(&self) -> u64 {
        *self.gate.claims.borrow()
    }

    /// Test hook: waits until `n` submissions have claimed their key in total.
    pub async fn wait_for_claims(&self, n: u64) {
        let mut rx = self.gate.claims.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    /// Test hook: waits until exactly `n` TLS handshakes are in progress.
    pub async fn wait_for_handshakes(&self, n: usize) {
        let mut rx = self.gate.handshakes.subscribe();
        let _ = rx.wait_for(|c| *c == n).await;
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
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
