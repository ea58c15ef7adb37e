//! The probes of `kiosk doctor`: thin I/O that gathers the facts [`super::findings`] judges.
//!
//! Every probe runs on its own thread with its own time limit (the limits are constants below,
//! the longest 14 s, so the whole run ends within 20 s whatever hangs); a probe still running
//! at its limit is reported as failed and left behind, never waited for. The store is opened
//! read-only and never migrated or written: doctor changes nothing on the terminal.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::findings::{
    self, CardFacts, CatalogFacts, CertificateFacts, Check, ClockFacts, ConfigFacts, CountyFacts,
    OutboxFacts, PrinterFacts, ReaderFacts, Report, StoreFacts,
};
use super::health::HealthReporter;
use crate::config::{self, Config};
use crate::county::client::CountyClient;
use crate::county::tls;
use crate::idcard::reader::{PollOutcome, Reader, ReaderError, ReaderSettings};
use crate::printer::device::{PrintError, Printer, PrinterSettings};

/// Time limits per check.
pub const LIMIT_LOCAL: Duration = Duration::from_secs(5);
pub const LIMIT_READER: Duration = Duration::from_secs(8);
pub const LIMIT_PRINTER: Duration = Duration::from_secs(8);
/// DNS, TCP, TLS and HTTP together; each step has its own share below.
pub const LIMIT_COUNTY: Duration = Duration::from_secs(14);
const DNS_LIMIT: Duration = Duration::from_secs(2);
const TCP_LIMIT: Duration = Duration::from_secs(3);
const TLS_LIMIT: Duration = Duration::from_secs(3);
const HTTP_LIMIT: Duration = Duration::from_secs(4);

/// Where the `reader` and `printer` checks get their facts.
enum Devices {
    /// Open the ports and ask the devices (`kiosk doctor`, with the app stopped).
    Probe,
    /// The running app's drivers hold the ports: what they last reported
    /// ([`HealthReporter`]), so the ports are never opened a second time.
    Live(HealthReporter),
}

/// Runs every check with the config as `cli::main` loaded it (or why it could not) and returns
/// the report.
pub fn run(loaded: Result<&config::LoadedConfig, &config::ConfigError>) -> Report {
    run_with(loaded, None, Devices::Probe)
}

/// The in-app doctor (程序内自检): the maintenance screen's and a remote request's run inside
/// the running app. The reader and printer checks come from the live drivers' health (`health`,
/// the station's [`HealthReporter`]) instead of opening the ports the drivers hold; every other
/// check runs as `kiosk doctor` runs it, with the same ids and JSON shape. `data_dir` is the
/// station's data directory (demo mode's temporary one). Blocking (up to 20 s): call it off the
/// UI thread.
pub fn run_in_app(
    loaded: &config::LoadedConfig,
    data_dir: &Path,
    health: &HealthReporter,
) -> Report {
    run_with(
        Ok(loaded),
        Some(data_dir.to_path_buf()),
        Devices::Live(health.clone()),
    )
}

fn run_with(
    loaded: Result<&config::LoadedConfig, &config::ConfigError>,
    data_dir: Option<PathBuf>,
    devices: Devices,
) -> Report {
    let now = Utc::now();
    let (cfg, config_check) = match loaded {
        Err(e) => {
            let check = findings::config(&ConfigFacts::Unloadable(e.to_string()));
            // Nothing else can be judged without the settings.
            let mut checks = vec![check];
            for id in findings::CHECK_IDS.iter().skip(1) {
                checks.push(Check::skipped(id, "the config could not be read"));
            }
            return Report::new(checks);
        }
        Ok(l) => {
            let mut problems: Vec<String> = l.unknown_keys.iter().map(|k| k.to_string()).collect();
            problems.extend(
                l.config
                    .check()
                    .into_iter()
                    .map(|p| format!("{}: {}; {}", p.field, p.message, p.fix)),
            );
            if let Err(e) = crate::idcard::profile::ReaderProfile::load(&l.config.reader.profile) {
                problems.push(format!("reader.profile: {e}"));
            }
            if let Err(e) = crate::printer::PrinterProfile::load(&l.config.printer.profile) {
                problems.push(format!("printer.profile: {e}"));
            }
            let facts = ConfigFacts::Loaded {
                path: l.path.display().to_string(),
                found: l.found,
                problems,
            };
            (l.config.clone(), findings::config(&facts))
        }
    };
    let data_dir = data_dir.unwrap_or_else(|| config::data_dir(&cfg));
    let store_path = data_dir.join(crate::store::STORE_FILE);

    let mut pending = Vec::new();
    {
        let p = store_path.clone();
        pending.push(spawn(&["store"], LIMIT_LOCAL, move || {
            vec![findings::store(&store_facts(&p))]
        }));
    }
    {
        let d = data_dir.clone();
        pending.push(spawn(&["disk"], LIMIT_LOCAL, move || vec![disk_check(&d)]));
    }
    {
        let p = store_path.clone();
        let c = cfg.clone();
        pending.push(spawn(&["catalog"], LIMIT_LOCAL, move || {
            let trusted = trusted_key_hex(&c);
            vec![findings::catalog(
                &catalog_facts(&p),
                trusted.as_deref(),
                c.is_demo(),
                now,
            )]
        }));
    }
    {
        let p = store_path.clone();
        pending.push(spawn(&["outbox"], LIMIT_LOCAL, move || {
            vec![findings::outbox(&outbox_facts(&p), Utc::now())]
        }));
    }
    let mut live = Vec::new();
    match devices {
        Devices::Probe => {
            let c = cfg.clone();
            pending.push(spawn(&["reader"], LIMIT_READER, move || {
                vec![findings::reader(&reader_facts(&c))]
            }));
            let c = cfg.clone();
            pending.push(spawn(&["printer"], LIMIT_PRINTER, move || {
                vec![findings::printer(&printer_facts(&c))]
            }));
        }
        Devices::Live(health) => {
            let snapshot = health.snapshot();
            live.push(super::health::live_reader(&snapshot));
            live.push(super::health::live_printer(&snapshot));
        }
    }
    // The social security card reader is opened only while a card is read: probed in the
    // app too, and only when configured.
    if cfg.sscard.port.is_some() {
        let c = cfg.sscard.clone();
        pending.push(spawn(&["sscard"], LIMIT_READER, move || {
            vec![sscard_check(&c)]
        }));
    }
    {
        let c = cfg.clone();
        pending.push(spawn(&["certificate"], LIMIT_LOCAL, move || {
            vec![findings::certificate(
                &certificate_facts(&c),
                &c.station.id,
                Utc::now(),
            )]
        }));
    }
    {
        let c = cfg.clone();
        pending.push(spawn(&["county", "clock"], LIMIT_COUNTY, move || {
            let (county, offset) = county_facts(&c);
            let clock = ClockFacts {
                offset_ms: offset,
                synchronized: ntp_synchronized(),
            };
            vec![findings::county(&county), findings::clock(&clock)]
        }));
    }
    let mut checks = vec![config_check];
    checks.extend(live);
    for p in pending {
        checks.extend(p.wait());
    }
    Report::new(checks)
}

/// A probe running on its own thread.
struct Pending {
    ids: &'static [&'static str],
    limit: Duration,
    started: Instant,
    rx: mpsc::Receiver<Vec<Check>>,
}

fn spawn(
    ids: &'static [&'static str],
    limit: Duration,
    probe: impl FnOnce() -> Vec<Check> + Send + 'static,
) -> Pending {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name(format!("doctor-{}", ids[0]))
        .spawn(move || {
            let _ = tx.send(probe());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the {} check: {e}", ids[0]);
    }
    Pending {
        ids,
        limit,
        started,
        rx,
    }
}

impl Pending {
    /// The probe's checks, or "timed out" for each of its ids once its limit has passed.
    fn wait(self) -> Vec<Check> {
        let left = self.limit.saturating_sub(self.started.elapsed());
        match self.rx.recv_timeout(left) {
            Ok(checks) => checks,
            Err(_) => self
                .ids
                .iter()
                .map(|id| Check::timed_out(id, self.limit.as_secs()))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Store, catalogue, outbox: read-only SQLite.

/// Opens the store read-only (no migration, no pragma that writes).
fn open_read_only(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

fn store_facts(path: &Path) -> StoreFacts {
    let shown = path.display().to_string();
    if !path.exists() {
        return StoreFacts::Missing { path: shown };
    }
    let conn = match open_read_only(path) {
        Ok(c) => c,
        Err(e) => {
            return StoreFacts::Unopenable {
                path: shown,
                error: e.to_string(),
            };
        }
    };
    let check: Result<String, _> = conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
    match check {
        Ok(s) if s == "ok" => {}
        Ok(s) => {
            return StoreFacts::Damaged {
                path: shown,
                detail: s,
            };
        }
        Err(e) => {
            return StoreFacts::Damaged {
                path: shown,
                detail: e.to_string(),
            };
        }
    }
    let known = crate::store::MIGRATIONS
        .last()
        .map(|m| m.version)
        .unwrap_or(0);
    match conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)) {
        Ok(v) => StoreFacts::Opened {
            path: shown,
            schema_version: v,
            known_version: known,
        },
        Err(e) => StoreFacts::Damaged {
            path: shown,
            detail: e.to_string(),
        },
    }
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn catalog_facts(path: &Path) -> CatalogFacts {
    if !path.exists() {
        return CatalogFacts::NotInstalled;
    }
    let read = || -> Result<CatalogFacts, rusqlite::Error> {
        let conn = open_read_only(path)?;
        if !has_table(&conn, "catalog_meta")? {
            return Ok(CatalogFacts::NotInstalled);
        }
        let row = conn
            .query_row(
                "SELECT county, version, item_count, imported_at, signer_key FROM catalog_meta WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((county, version, items, imported_at, signer_key)) = row else {
            return Ok(CatalogFacts::NotInstalled);
        };
        let stored: i64 = conn.query_row("SELECT COUNT(*) FROM catalog_item", [], |r| r.get(0))?;
        if stored != items {
            return Ok(CatalogFacts::Unreadable(format!(
                "the metadata says {items} items, the store holds {stored}"
            )));
        }
        Ok(CatalogFacts::Installed {
            county,
            version: u64::try_from(version).unwrap_or(0),
            item_count: usize::try_from(items).unwrap_or(0),
            imported_at: parse_time(&imported_at),
            signer_key,
        })
    };
    read().unwrap_or_else(|e| CatalogFacts::Unreadable(e.to_string()))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn trusted_key_hex(c: &Config) -> Option<String> {
    match &c.county.catalog_public_key {
        Some(k) => crate::catalog::bundle::parse_verifying_key(k)
            .ok()
            .map(|k| hex::encode(k.as_bytes())),
        None if c.is_demo() => Some(crate::catalog::bundle::DEMO_PUBLIC_KEY_HEX.to_string()),
        None => None,
    }
}

fn outbox_facts(path: &Path) -> OutboxFacts {
    if !path.exists() {
        return OutboxFacts::NoStore;
    }
    let read = || -> Result<OutboxFacts, rusqlite::Error> {
        let conn = open_read_only(path)?;
        if !has_table(&conn, "outbox")? {
            return Ok(OutboxFacts::NoStore);
        }
        let count = |state: &str| -> Result<u32, rusqlite::Error> {
            conn.query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = ?1 AND kind != 'heartbeat'",
                [state],
                |r| r.get(0),
            )
        };
        let oldest: Option<String> = conn.query_row(
            "SELECT MIN(created_at) FROM outbox WHERE state = 'pending' AND kind != 'heartbeat'",
            [],
            |r| r.get(0),
        )?;
        let last_error: Option<String> = conn
            .query_row(
                "SELECT last_error FROM outbox WHERE last_error IS NOT NULL AND state != 'delivered'
                 ORDER BY last_attempt_at DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(OutboxFacts::Read {
            pending: count("pending")?,
            needs_attention: count("needs_attention")?,
            oldest_pending: oldest.as_deref().and_then(parse_time),
            last_error,
        })
    };
    read().unwrap_or_else(|e| OutboxFacts::Unreadable(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Disk and clock.

fn disk_check(data_dir: &Path) -> Check {
    // The data directory may not exist yet: measure the filesystem it will be on.
    let mut dir: PathBuf = data_dir.to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => break,
        }
    }
    match nix::sys::statvfs::statvfs(&dir) {
        // fsblkcnt_t and c_ulong are 32 bits wide on some targets the image may be built for.
        #[allow(clippy::unnecessary_cast)]
        Ok(s) => {
            let block = s.fragment_size() as u64;
            findings::disk(
                &data_dir.display().to_string(),
                s.blocks_available() as u64 * block,
                s.blocks() as u64 * block,
            )
        }
        Err(e) => Check::fail(
            "disk",
            format!("cannot measure free space of {}: {e}", dir.display()),
            "check that data.dir is on a mounted filesystem",
        )
        .zh("无法读取存储空间", "请检查数据目录"),
    }
}

/// systemd-timesyncd marks a synchronised clock with this file.
fn ntp_synchronized() -> Option<bool> {
    let run = Path::new("/run/systemd/timesync");
    if run.join("synchronized").exists() {
        Some(true)
    } else if run.exists() {
        Some(false)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Devices.

/// Whether opening failed because someone else holds the port (EBUSY: the running app).
fn is_busy(e: &serialport::Error) -> bool {
    e.to_string().to_ascii_lowercase().contains("busy")
}

fn reader_facts(c: &Config) -> ReaderFacts {
    let settings = match ReaderSettings::from_config(&c.reader) {
        Ok(Some(s)) => s,
        Ok(None) => return ReaderFacts::NotConfigured { demo: c.is_demo() },
        Err(e) => return ReaderFacts::Profile(e.to_string()),
    };
    let port = settings.port.display().to_string();
    if !settings.port.exists() {
        return ReaderFacts::PortMissing { port };
    }
    let mut reader = match Reader::open(&settings) {
        Ok(r) => r,
        Err(ReaderError::Open { source, .. }) if is_busy(&source) => {
            return ReaderFacts::Busy { port };
        }
        Err(ReaderError::Open { source, .. }) => {
            return ReaderFacts::OpenFailed {
                port,
                error: source.to_string(),
            };
        }
        Err(e) => {
            return ReaderFacts::Failed {
                port,
                error: e.to_string(),
            };
        }
    };
    // A reader just powered up may miss the first request.
    let mut status = reader.sam_status();
    if matches!(status, Err(ReaderError::NoAnswer { .. })) {
        status = reader.sam_status();
    }
    match status {
        Err(ReaderError::NoAnswer { baud, .. }) => return ReaderFacts::NoAnswer { port, baud },
        Err(e) => {
            return ReaderFacts::Failed {
                port,
                error: e.to_string(),
            };
        }
        Ok(s) if !s.is_ok() => {
            return ReaderFacts::Failed {
                port,
                error: format!("the SAM reports {s}"),
            };
        }
        Ok(_) => {}
    }
    let baud = settings.baud;
    // On the station's day, as the app checks cards.
    let today = crate::station::reader::station_day(c.station.time_zone).today();
    let card = match reader.poll(today) {
        Ok(PollOutcome::NoCard) => CardFacts::NoCard,
        Ok(PollOutcome::Card(Ok(card))) => CardFacts::Valid {
            kind: serde_json::to_string(&card.kind)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        },
        Ok(PollOutcome::Card(Err(rejection))) => CardFacts::Rejected {
            reason: rejection.to_string(),
            reason_zh: rejection.message_zh().to_string(),
        },
        Ok(PollOutcome::ReadFailed(e)) => CardFacts::ReadFailed(e),
        Err(ReaderError::NoAnswer { baud, .. }) => return ReaderFacts::NoAnswer { port, baud },
        Err(e) => {
            return ReaderFacts::Failed {
                port,
                error: e.to_string(),
            };
        }
    };
    ReaderFacts::Answered { port, baud, card }
}

/// The `sscard` check: the configured social security card reader asked whether a card is in.
pub fn sscard_check(c: &config::SsCardConfig) -> Check {
    findings::sscard(&sscard_facts(c))
}

fn sscard_facts(c: &config::SsCardConfig) -> findings::SsCardFacts {
    use crate::sscard::reader::{SsReader, SsReaderSettings};
    use findings::SsCardFacts;
    let settings = match SsReaderSettings::from_config(c) {
        Ok(Some(s)) => s,
        Ok(None) => return SsCardFacts::Profile("sscard.port is not set".into()),
        Err(e) => return SsCardFacts::Profile(e.to_string()),
    };
    let port = settings.port.display().to_string();
    if !settings.port.exists() {
        return SsCardFacts::PortMissing { port };
    }
    match SsReader::open(&settings).and_then(|mut r| r.card_present()) {
        Ok(card_present) => SsCardFacts::Answered { port, card_present },
        Err(e) => SsCardFacts::Failed {
            port,
            error: e.to_string(),
        },
    }
}

fn printer_facts(c: &Config) -> PrinterFacts {
    let settings = match PrinterSettings::from_config(&c.printer) {
        Ok(Some(s)) => s,
        Ok(None) => return PrinterFacts::NotConfigured { demo: c.is_demo() },
        Err(e) => return PrinterFacts::Profile(e.to_string()),
    };
    let port = settings.port.display().to_string();
    if !settings.port.exists() {
        return PrinterFacts::PortMissing { port };
    }
    if settings.profile.status.requests().is_empty() {
        return PrinterFacts::NoStatusSupport {
            port,
            profile: settings.profile.name.clone(),
        };
    }
    let printer = Printer::new(settings);
    match printer.status_blocking() {
        Ok(status) => PrinterFacts::Status { port, status },
        Err(PrintError::NotConnected { reason, .. })
            if reason.to_ascii_lowercase().contains("busy") =>
        {
            PrinterFacts::Busy { port }
        }
        Err(error) => PrinterFacts::Error { port, error },
    }
}

// ---------------------------------------------------------------------------------------------
// County link and certificate.

fn certificate_facts(c: &Config) -> CertificateFacts {
    let needed = c
        .county
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let Some(path) = &c.county.client_cert else {
        return CertificateFacts::NotConfigured { needed };
    };
    let shown = path.display().to_string();
    let certs = match tls::load_certs(path) {
        Ok(c) => c,
        Err(e) => {
            return CertificateFacts::Unreadable {
                path: shown,
                error: e.to_string(),
            };
        }
    };
    match certs.first().and_then(|der| tls::summarize(der)) {
        Some(s) => CertificateFacts::Parsed {
            path: shown,
            common_name: s.common_name,
            not_before: s.not_before,
            not_after: s.not_after,
        },
        None => CertificateFacts::Unreadable {
            path: shown,
            error: "not an X.509 certificate".into(),
        },
    }
}

/// The county check's facts and the clock offset (kiosk minus county, ms) when the county
/// answered.
fn county_facts(c: &Config) -> (CountyFacts, Result<i64, String>) {
    let Some(url) = c.county.url.clone() else {
        return (
            CountyFacts::NotConfigured,
            Err("demo mode: no county to compare with".into()),
        );
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return (
                CountyFacts::Misconfigured(format!("cannot start the async runtime: {e}")),
                Err("not checked".into()),
            );
        }
    };
    rt.block_on(county_async(c, &url))
}

async fn county_async(c: &Config, url: &str) -> (CountyFacts, Result<i64, String>) {
    let unknown = |why: &str| Err(why.to_string());
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return (
                CountyFacts::Misconfigured(format!("county.url {url:?}: {e}")),
                unknown("bad county.url"),
            );
        }
    };
    let Some(host) = parsed
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_string())
    else {
        return (
            CountyFacts::Misconfigured(format!("county.url {url:?} has no host")),
            unknown("bad county.url"),
        );
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    // 1. DNS.
    let looked_up =
        tokio::time::timeout(DNS_LIMIT, tokio::net::lookup_host((host.clone(), port))).await;
    let addrs = match looked_up {
        Ok(Ok(a)) => a.collect::<Vec<_>>(),
        Ok(Err(e)) => {
            return (
                CountyFacts::Dns {
                    host,
                    error: e.to_string(),
                },
                unknown("county not reachable"),
            );
        }
        Err(_) => {
            return (
                CountyFacts::Dns {
                    host,
                    error: format!("no answer within {} s", DNS_LIMIT.as_secs()),
                },
                unknown("county not reachable"),
            );
        }
    };
    let Some(addr) = addrs.first().copied() else {
        return (
            CountyFacts::Dns {
                host,
                error: "no address".into(),
            },
            unknown("county not reachable"),
        );
    };
    // 2. TCP.
    let shown = format!("{host}:{port}");
    let tcp = match tokio::time::timeout(TCP_LIMIT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return (
                CountyFacts::TcpRefused {
                    addr: shown,
                    error: e.to_string(),
                },
                unknown("county not reachable"),
            );
        }
        Err(_) => {
            return (
                CountyFacts::TcpTimeout {
                    addr: shown,
                    secs: TCP_LIMIT.as_secs(),
                },
                unknown("county not reachable"),
            );
        }
    };
    // 3. TLS, on its own connection so a hang names the handshake.
    if parsed.scheme() == "https" {
        let (Some(ca), Some(cert), Some(key)) = (
            &c.county.ca_cert,
            &c.county.client_cert,
            &c.county.client_key,
        ) else {
            return (
                CountyFacts::Misconfigured(
                    "county.url is https: [county] needs ca_cert, client_cert and client_key"
                        .into(),
                ),
                unknown("no TLS settings"),
            );
        };
        let setup = (|| -> Result<_, tls::TlsError> {
            let ca = tls::load_certs(ca)?;
            let chain = tls::load_certs(cert)?;
            let key = tls::load_key(key)?;
            tls::client_config(&ca, Some((chain, key)))
        })();
        let cfg = match setup {
            Ok(cfg) => cfg,
            Err(e) => {
                return (
                    CountyFacts::Misconfigured(e.to_string()),
                    unknown("no TLS settings"),
                );
            }
        };
        let name = match rustls::pki_types::ServerName::try_from(host.clone()) {
            Ok(n) => n,
            Err(e) => {
                return (
                    CountyFacts::Misconfigured(format!("county.url host {host:?}: {e}")),
                    unknown("bad county.url"),
                );
            }
        };
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
        match tokio::time::timeout(TLS_LIMIT, connector.connect(name, tcp)).await {
            Ok(Ok(_stream)) => {}
            Ok(Err(e)) => {
                let text = e.to_string();
                let untrusted = text.contains("UnknownIssuer")
                    || text.contains("invalid peer certificate")
                    || text.contains("NotValidForName");
                return (
                    CountyFacts::Tls {
                        addr: shown,
                        error: text,
                        untrusted_server: untrusted,
                    },
                    unknown("TLS failed"),
                );
            }
            Err(_) => {
                return (
                    CountyFacts::TlsTimeout {
                        addr: shown,
                        secs: TLS_LIMIT.as_secs(),
                    },
                    unknown("TLS handshake hangs"),
                );
            }
        }
    } else {
        drop(tcp);
    }
    // 4. HTTP: who the county thinks we are, and its clock.
    let mut county = c.county.clone();
    county.timeout_secs = county.timeout_secs.clamp(1, HTTP_LIMIT.as_secs());
    let client = match CountyClient::from_config(&county, &c.station) {
        Ok(Some(cl)) => cl,
        Ok(None) => return (CountyFacts::NotConfigured, unknown("demo mode")),
        Err(e) => {
            return (
                CountyFacts::Misconfigured(e.to_string()),
                unknown("no client"),
            );
        }
    };
    let sent_at = Utc::now();
    let started = Instant::now();
    let hello = tokio::time::timeout(HTTP_LIMIT, client.hello()).await;
    let latency = started.elapsed();
    match hello {
        Ok(Ok(h)) => {
            let midpoint = sent_at + chrono::Duration::from_std(latency / 2).unwrap_or_default();
            let offset = (midpoint - h.server_time).num_milliseconds();
            (
                CountyFacts::Answered {
                    url: url.to_string(),
                    latency_ms: latency.as_millis() as u64,
                },
                Ok(offset),
            )
        }
        Ok(Err(crate::county::client::ClientError::Status {
            status, message, ..
        })) => (
            CountyFacts::HttpStatus { status, message },
            unknown("the county refused"),
        ),
        Ok(Err(e)) => (
            CountyFacts::Http {
                error: e.to_string(),
            },
            unknown("no answer"),
        ),
        Err(_) => (
            CountyFacts::Http {
                error: format!("no HTTP answer within {} s", HTTP_LIMIT.as_secs()),
            },
            unknown("no answer"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The maintenance screen's details.

/// The maintenance screen's details lines, in Chinese: the county URL, the station
/// certificate's subject and expiry, the outbox counts and the oldest pending application's
/// age, from the store in `data_dir` (the station's). Read-only; no names, no error texts from
/// the queue. Blocking: call it off the UI thread.
pub fn details_zh(c: &Config, data_dir: &Path, now: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match &c.county.url {
        Some(url) => format!("县平台地址：{url}"),
        None => "县平台地址：未配置".into(),
    });
    lines.push(match certificate_facts(c) {
        CertificateFacts::Parsed {
            common_name,
            not_after,
            ..
        } => format!(
            "站点证书：CN={}，有效期至 {}",
            common_name.as_deref().unwrap_or("（无）"),
            not_after.format("%Y-%m-%d %H:%M UTC")
        ),
        CertificateFacts::NotConfigured { .. } => "站点证书：未配置".into(),
        CertificateFacts::Unreadable { path, .. } => format!("站点证书：{path} 读不出来"),
    });
    let store = data_dir.join(crate::store::STORE_FILE);
    lines.push(match outbox_facts(&store) {
        OutboxFacts::Read {
            pending,
            needs_attention,
            oldest_pending,
            ..
        } => {
            let age = oldest_pending
                .map(|t| {
                    let m = (now - t).num_minutes().max(0);
                    format!("，最早一件已等 {} 小时 {} 分", m / 60, m % 60)
                })
                .unwrap_or_default();
            format!("待上传：{pending} 件，需处理：{needs_attention} 件{age}")
        }
        OutboxFacts::NoStore => "待上传：本机还没有数据库".into(),
        OutboxFacts::Unreadable(_) => "待上传：数据库读不出来".into(),
    });
    lines
}
