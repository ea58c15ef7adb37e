//! The `county-backoffice` command line: clap options, one function per subcommand, typed
//! errors ([`CliError`]). The only part of the back office that reads files named on the
//! command line (signing key, catalogue, announcements); the library parts take values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::{Parser, Subcommand};

use super::{
    BackofficeError, Bundles, Db, DbError, ServeConfig, TlsFiles, certs, demo_announcements,
};
use crate::catalog::bundle;
use crate::county::wire::{self, CaseStatus};

/// Why a `county-backoffice` command failed; each message names the file or value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("certs revoke: {0}")]
    Revoke(String),
    #[error(transparent)]
    Provision(#[from] super::provision::ProvisionCliError),
    #[error(transparent)]
    Publish(#[from] super::publish::PublishError),
    #[error(transparent)]
    Update(#[from] super::update::UpdatePublishError),
    #[error("cannot read the {what} {}: {source}; check the path and its permissions", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {}: {source}", path.display())]
    SigningKey {
        path: PathBuf,
        source: bundle::KeyError,
    },
    #[error("catalogue {}: {detail}", path.display())]
    Catalogue { path: PathBuf, detail: String },
    #[error("announcements {}: {source}", path.display())]
    Announcements {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("station id {0:?}: use letters, digits, '-' and '_' only")]
    BadStationId(String),
    #[error("station list {}: {source}", path.display())]
    Ledger {
        path: PathBuf,
        source: super::ledger::LedgerError,
    },
    #[error(transparent)]
    Request(#[from] super::ledger::LedgerError),
    #[error("give the database with --db PATH (or COUNTY_BACKOFFICE_DB)")]
    NoDb,
    #[error(transparent)]
    Backoffice(#[from] BackofficeError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Certs(#[from] certs::CertError),
    #[error(transparent)]
    Sms(#[from] super::notices::SmsConfigError),
    #[error("--public-url {0:?}: {1}")]
    PublicUrl(String, &'static str),
    #[error(transparent)]
    Staff(#[from] super::staff::cli::StaffCliError),
    #[error(
        "plain HTTP for the staff pages only on a loopback address (behind a TLS proxy) or in demo mode: give --staff-tls-cert and --staff-tls-key"
    )]
    PlainStaffRefused,
}

/// county-backoffice: the reference county back office (县级政务服务后台) for village kiosks.
#[derive(Debug, Parser)]
#[command(name = "county-backoffice", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the county API (HTTPS with client certificates, or plain HTTP in demo mode).
    Serve(Box<ServeArgs>),
    /// County staff: list, show and advance cases.
    #[command(subcommand)]
    Case(CaseCommand),
    /// The station ledger (站点台账): every station, online or silent, verdict, failing checks,
    /// queue, versions, remote requests, and village coverage; import the station list; ask a
    /// station for a doctor run or a screenshot.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Stations {
        #[command(subcommand)]
        action: Option<StationsCommand>,
        #[arg(
            long,
            env = "COUNTY_BACKOFFICE_DB",
            value_name = "PATH",
            required = true
        )]
        db: Option<PathBuf>,
        /// Minutes without a heartbeat after which a station counts as offline (silent).
        #[arg(long, default_value_t = 3)]
        offline_after_mins: u64,
    },
    /// Test PKI: a county CA, the server's certificate, station certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// County staff: publish a signed catalogue, announcements or key rotation bundle, to every
    /// station or first to some (--stations).
    Publish(super::publish::PublishArgs),
    /// Provisioning bundles for stations (kiosk provision).
    #[command(subcommand)]
    Provision(super::provision::ProvisionCommand),
    /// What each station installed from the county and where it stands with what is published.
    Rollout {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// The reference SMS gateway: takes messages like the county's gateway and appends them to
    /// a file (one JSON line each) instead of sending them.
    SmsGateway {
        /// Address to listen on; messages are posted to http://ADDR/send.
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The file messages are appended to.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// A file holding the bearer token requests must carry.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Answer 503 to the first N new messages after recording them (a lost answer).
        #[arg(long, value_name = "N", default_value_t = 0)]
        fail_after_receive: u32,
    },
    /// Result notices (结果短信) queued for the SMS gateway: state, attempts, last error.
    Notices {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// Operator accounts for the staff pages: department clerks and county supervisors.
    #[command(subcommand)]
    Operator(super::staff::cli::OperatorCommand),
    /// The supervisor's report per department and per station (CSV or HTML).
    Report(super::staff::cli::ReportArgs),
    /// County staff: software updates (signed manifests), staged to some stations first, and
    /// each station's update state.
    #[command(subcommand)]
    Update(super::update::UpdateCommand),
}

#[derive(Debug, Subcommand)]
enum StationsCommand {
    /// Import the county's station list (CSV: station_id,township,village,name; see
    /// docs/county.md), so stations never heard from show in the ledger. Any bad row refuses
    /// the whole file.
    Import {
        file: PathBuf,
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// Ask one station for a doctor run or a screenshot of its idle screen; the request goes
    /// out with the answer to its next heartbeat, the result comes with a later one.
    Request {
        station: String,
        #[arg(value_enum)]
        kind: RemoteKindArg,
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// Print the former interim staff token. It opens nothing any more: the ledger page is on
    /// the staff listener (serve --staff-listen) behind the operator login, for supervisors.
    Token {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RemoteKindArg {
    Doctor,
    Screenshot,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The back office's database: an SQLite file (created if missing), or a PostgreSQL
    /// database as postgres://USER[:PASSWORD]@HOST:PORT/DB (several back offices may share
    /// one). Every command's --db takes either.
    #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
    db: PathBuf,
    /// County CA certificate (PEM) that issued the stations' client certificates.
    #[arg(long, value_name = "PEM", requires_all = ["tls_cert", "tls_key"])]
    tls_ca: Option<PathBuf>,
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "PEM", requires_all = ["tls_ca", "tls_cert"])]
    tls_key: Option<PathBuf>,
    /// The county CA's certificate revocation list (PEM, see `certs revoke`): revoked station
    /// certificates are refused in the handshake.
    #[arg(long, value_name = "PEM", requires = "tls_ca")]
    tls_crl: Option<PathBuf>,
    /// At most this many TLS handshakes in progress; further connections are closed at once.
    #[arg(long, value_name = "N", default_value_t = super::DEFAULT_MAX_TLS_HANDSHAKES)]
    max_tls_handshakes: usize,
    /// Connections to a PostgreSQL --db (requests wait for a free one); an SQLite --db always
    /// has one.
    #[arg(
        long,
        value_name = "N",
        default_value_t = super::DEFAULT_DB_CONNECTIONS as u16,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    db_connections: u16,
    /// Demo mode: plain HTTP with this bearer token. Never in production.
    #[arg(
        long,
        env = "COUNTY_DEMO_TOKEN",
        value_name = "TOKEN",
        conflicts_with = "tls_ca"
    )]
    demo_token: Option<String>,
    /// The catalogue to serve (JSON, as data/demo-catalog.json); default: the demo catalogue.
    #[arg(long, value_name = "JSON")]
    catalog: Option<PathBuf>,
    /// Announcements to serve (JSON `{"items": [...]}`); default: the demo announcements.
    #[arg(long, value_name = "JSON")]
    announcements: Option<PathBuf>,
    /// ed25519 signing key file for bundles (see `kiosk catalog keygen`); required with TLS.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// The public progress page's own listener (plain HTTPS, no client certificates), e.g.
    /// 0.0.0.0:443.
    #[arg(long, value_name = "ADDR", requires = "public_url")]
    public_listen: Option<SocketAddr>,
    /// The base URL phones are given for the progress page, e.g. https://jd.example.gov.cn;
    /// receipts print <URL>/p/<token>.
    #[arg(long, value_name = "URL", requires = "public_listen")]
    public_url: Option<String>,
    /// The public listener's certificate chain (PEM), one phones trust.
    #[arg(long, value_name = "PEM", requires_all = ["public_listen", "public_tls_key"])]
    public_tls_cert: Option<PathBuf>,
    /// The public listener's private key (PEM).
    #[arg(long, value_name = "PEM", requires_all = ["public_listen", "public_tls_cert"])]
    public_tls_key: Option<PathBuf>,
    /// The county's SMS gateway for result notices (POST, JSON; see docs/county.md).
    #[arg(long, value_name = "URL")]
    sms_gateway: Option<String>,
    /// A file holding the gateway's bearer token.
    #[arg(long, value_name = "FILE", requires = "sms_gateway")]
    sms_token_file: Option<PathBuf>,
    /// The message signature (短信签名) the gateway sends the messages under.
    #[arg(long, value_name = "TEXT", default_value = "县政务服务")]
    sms_sign: String,
    /// Serve the staff pages (/staff/...) on this address, apart from the stations' port.
    #[arg(long, value_name = "ADDR")]
    staff_listen: Option<SocketAddr>,
    /// The staff listener's certificate chain (PEM; plain HTTPS, no client certificates).
    #[arg(long, value_name = "PEM", requires_all = ["staff_tls_key", "staff_listen"])]
    staff_tls_cert: Option<PathBuf>,
    /// The staff listener's private key (PEM).
    #[arg(long, value_name = "PEM", requires_all = ["staff_tls_cert", "staff_listen"])]
    staff_tls_key: Option<PathBuf>,
    /// The county's holiday calendar (see README: one `YYYY-MM-DD off|work` per line); default:
    /// weekends only.
    #[arg(long, value_name = "FILE")]
    holidays: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CaseCommand {
    /// List cases, newest first.
    List {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        /// Only cases in this status.
        #[arg(long)]
        status: Option<CaseStatus>,
        /// Only cases from this station.
        #[arg(long)]
        station: Option<String>,
        /// Only cases routed to this department (主管部门, as in the catalogue).
        #[arg(long)]
        department: Option<String>,
        /// The catalogue whose departments are valid (default: the demo catalogue).
        #[arg(long, value_name = "JSON")]
        catalog: Option<PathBuf>,
    },
    /// Show one case with its timeline, due dates and audit log.
    Show {
        case_number: String,
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        /// The county's holiday calendar (default: weekends only).
        #[arg(long, value_name = "FILE")]
        holidays: Option<PathBuf>,
    },
    /// Move a case to its next status (accepted, in_review, approved, rejected,
    /// ready_for_collection, collected).
    Advance {
        case_number: String,
        #[arg(long, value_name = "STATUS")]
        to: CaseStatus,
        /// The reason (rejected) or the collection window (ready_for_collection); a note otherwise.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The note in English, shown by kiosks in their English UI (only with --note).
        #[arg(long, value_name = "TEXT")]
        note_en: Option<String>,
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        /// The operator acting (recorded in the audit log; a clerk only in their department).
        /// Without it the change is recorded as done by `cli`.
        #[arg(long, value_name = "USERNAME")]
        operator: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Revoke a station's certificate: adds its serial to <dir>/revoked-serials.txt and writes
    /// the county CA's revocation list <dir>/crl.pem (serve it with `serve --tls-crl`).
    Revoke {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, value_name = "ID")]
        station_id: String,
        /// Days until the list's next update.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Create a county CA: <dir>/ca.pem and <dir>/ca.key.
    Ca {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, default_value = "Demo County CA")]
        name: String,
        #[arg(long, default_value_t = 3650)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Create the server certificate <dir>/server.pem, .key for the given hosts.
    Server {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// DNS name or IP address; repeat for several.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        #[arg(long, default_value_t = 825)]
        days: u32,
        #[arg(long)]
        force: bool,
    },
    /// Create a station's client certificate <dir>/station-<ID>.pem, .key (CN = station id).
    Station {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, value_name = "ID")]
        station_id: String,
        #[arg(long, default_value_t = 825)]
        days: u32,
        #[arg(long)]
        force: bool,
    },
}

/// Entry point of the `county-backoffice` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Serve(args) => run_serve(*args),
        Command::Case(c) => run_case(c),
        Command::Stations {
            action,
            db,
            offline_after_mins,
        } => run_stations(action, db, offline_after_mins),
        Command::Certs(c) => run_certs(c),
        Command::Publish(args) => Ok(super::publish::run_publish(args)?),
        Command::Rollout { db } => Ok(super::publish::run_rollout(db)?),
        Command::Provision(c) => Ok(super::provision::run(c)?),
        Command::SmsGateway {
            listen,
            out,
            token_file,
            fail_after_receive,
        } => run_sms_gateway(listen, out, token_file, fail_after_receive),
        Command::Notices { db } => {
            let db = Db::open(&db)?;
            let rows = super::notices::notices(&db)?;
            println!(
                "{:<20} {:<21} {:<8} {:>8}  {:<13} LAST ERROR",
                "CASE", "RESULT", "STATE", "ATTEMPTS", "PHONE"
            );
            for n in &rows {
                println!(
                    "{:<20} {:<21} {:<8} {:>8}  {:<13} {}",
                    n.case_number,
                    n.case_status.as_str(),
                    n.state.as_str(),
                    n.attempts,
                    n.phone_masked,
                    n.last_error.as_deref().unwrap_or("-")
                );
            }
            if rows.is_empty() {
                println!("(no result notice queued yet)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Operator(c) => Ok(super::staff::cli::run_operator(c)?),
        Command::Report(args) => Ok(super::staff::cli::run_report(args)?),
        Command::Update(c) => Ok(super::update::run(c)?),
    }
}

fn read_secret(what: &'static str, path: &std::path::Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.trim().to_string())
}

fn run_sms_gateway(
    listen: SocketAddr,
    out: PathBuf,
    token_file: Option<PathBuf>,
    fail_after_receive: u32,
) -> Result<ExitCode, CliError> {
    let token = match &token_file {
        Some(p) => Some(read_secret("SMS gateway token file", p)?),
        None => None,
    };
    let options = super::sms_gateway::GatewayOptions {
        out,
        token,
        fail_after_receive,
    };
    let rt = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| CliError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().unwrap_or(listen);
        eprintln!(
            "county-backoffice sms-gateway: taking messages at http://{addr}{} into {}",
            super::sms_gateway::SEND_PATH,
            options.out.display()
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        super::sms_gateway::serve_gateway(
            listener,
            options,
            tokio::sync::watch::channel(0).0,
            shutdown,
        )
        .await?;
        Ok::<(), CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_stations(
    action: Option<StationsCommand>,
    db: Option<PathBuf>,
    offline_after_mins: u64,
) -> Result<ExitCode, CliError> {
    use super::ledger;
    let now = Utc::now();
    match action {
        Some(StationsCommand::Import { file, db }) => {
            let text = std::fs::read_to_string(&file).map_err(|source| CliError::Read {
                what: "station list",
                path: file.clone(),
                source,
            })?;
            let list = ledger::parse_station_list(&text).map_err(|e| CliError::Ledger {
                path: file.clone(),
                source: e,
            })?;
            let (added, updated) = ledger::import(&Db::open(&db)?, &list, now)?;
            println!(
                "imported {} station(s): {added} new, {updated} updated",
                list.len()
            );
        }
        Some(StationsCommand::Request { station, kind, db }) => {
            let kind = match kind {
                RemoteKindArg::Doctor => wire::RemoteRequestKind::Doctor,
                RemoteKindArg::Screenshot => wire::RemoteRequestKind::Screenshot,
            };
            let id = ledger::request(&Db::open(&db)?, &station, kind, now)?;
            println!(
                "request #{id} ({}) queued for {station}: it goes out with the answer to its next heartbeat",
                kind.as_str()
            );
        }
        Some(StationsCommand::Token { db }) => {
            println!("{}", ledger::staff_token(&Db::open(&db)?)?);
            eprintln!(
                "note: this token no longer opens the ledger; log in as a supervisor at \
                 /staff/ledger on the staff listener (serve --staff-listen)"
            );
        }
        None => {
            let Some(db) = db else {
                return Err(CliError::NoDb);
            };
            let db = Db::open(&db)?;
            let rows = ledger::ledger(&db, now, Duration::from_secs(offline_after_mins * 60))?;
            print_ledger(&rows, now);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_ledger(rows: &[super::ledger::LedgerRow], now: chrono::DateTime<Utc>) {
    let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
    println!(
        "{:<20} {:<8} {:<20} {:<7} {:<10} {:>5}  {:<16} {:<8}  FAILING / FAULTS / REMOTE",
        "STATION",
        "STATE",
        "LAST SEEN (UTC)",
        "VERDICT",
        "VERSION",
        "QUEUE",
        "OLDEST PENDING",
        "CATALOG"
    );
    for r in rows {
        let seen = r.seen.as_ref();
        let mut notes = r.failing_checks.clone();
        if let Some(s) = seen
            && !s.faults().is_empty()
        {
            notes.push(s.faults());
        }
        for e in [&r.last_doctor, &r.last_screenshot].into_iter().flatten() {
            notes.push(super::ledger::remote_summary(e));
        }
        println!(
            "{:<20} {:<8} {:<20} {:<7} {:<10} {:>5}  {:<16} {:<8}  {}",
            r.station_id,
            r.presence.as_str(),
            dash(
                seen.map(|s| s.last_seen.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default()
            ),
            r.verdict.as_deref().unwrap_or("-"),
            dash(seen.map(|s| s.software_version.clone()).unwrap_or_default()),
            dash(seen.map(|s| s.queue_length.to_string()).unwrap_or_default()),
            dash(
                r.oldest_pending_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            ),
            dash(r.catalog_version.map(|v| v.to_string()).unwrap_or_default()),
            dash(notes.join("; ")),
        );
    }
    if rows.is_empty() {
        println!("(no station has sent a heartbeat yet)");
    }
    let c = super::ledger::coverage(rows);
    println!(
        "coverage: {}/{} villages have a working terminal ({} UTC); {} station(s) not on the list",
        c.covered,
        c.villages,
        now.format("%Y-%m-%d %H:%M"),
        c.unlisted
    );
}

fn run_serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let tls = match (args.tls_ca, args.tls_cert, args.tls_key) {
        (Some(ca_cert), Some(cert), Some(key)) => Some(TlsFiles {
            ca_cert,
            cert,
            key,
            crl: args.tls_crl.clone(),
        }),
        _ => None,
    };
    let key = match &args.signing_key {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::Read {
                what: "signing key",
                path: p.clone(),
                source,
            })?;
            bundle::parse_signing_key(&text).map_err(|source| CliError::SigningKey {
                path: p.clone(),
                source,
            })?
        }
        None if tls.is_some() => return Err(BackofficeError::DemoKeyInProduction.into()),
        None => bundle::demo_signing_key(),
    };
    let catalog = match &args.catalog {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| CliError::Read {
                what: "catalogue",
                path: p.clone(),
                source,
            })?;
            bundle::parse_catalog_json(&bytes).map_err(|detail| CliError::Catalogue {
                path: p.clone(),
                detail,
            })?
        }
        None => crate::catalog::demo::demo_catalog(),
    };
    let announcements = match &args.announcements {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| CliError::Read {
                what: "announcements",
                path: p.clone(),
                source,
            })?;
            serde_json::from_slice(&bytes).map_err(|source| CliError::Announcements {
                path: p.clone(),
                source,
            })?
        }
        None => demo_announcements(),
    };
    let bundles = Bundles::new(&catalog, &announcements, &key)?;
    let holidays = super::staff::cli::load_holidays(args.holidays.as_deref())?;
    let staff_tls = match (args.staff_tls_cert, args.staff_tls_key) {
        (Some(cert), Some(key)) => Some(super::staff::StaffTls { cert, key }),
        _ => None,
    };
    if let Some(addr) = args.staff_listen
        && staff_tls.is_none()
        && !addr.ip().is_loopback()
        && args.demo_token.is_none()
    {
        return Err(CliError::PlainStaffRefused);
    }
    let staff_options = super::staff::StaffOptions {
        tls: staff_tls,
        ..super::staff::StaffOptions::plain(
            std::sync::Arc::new(super::staff::SystemClock),
            holidays,
        )
    };
    let config = ServeConfig {
        db_path: args.db,
        tls,
        demo_token: args.demo_token,
        offline_after: Duration::from_secs(180),
        max_tls_handshakes: args.max_tls_handshakes,
        db_connections: args.db_connections.into(),
    };
    if config.tls.is_none() && config.demo_token.is_none() {
        return Err(BackofficeError::PlainHttpRefused.into());
    }
    let public_tls = args
        .public_tls_cert
        .clone()
        .zip(args.public_tls_key.clone());
    let public = match (args.public_listen, &args.public_url) {
        (Some(addr), Some(url)) => {
            check_public_url(url, public_tls.is_some())?;
            if public_tls.is_none() && config.tls.is_some() {
                return Err(BackofficeError::PublicPlainHttp.into());
            }
            let l = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| CliError::Listen { addr, source })?;
            eprintln!("county-backoffice: public progress page on {addr} as {url}");
            Some((
                l,
                super::public::PublicOptions {
                    url: url.trim_end_matches('/').to_string(),
                    tls: public_tls,
                },
            ))
        }
        _ => None,
    };
    let sms = match &args.sms_gateway {
        Some(url) => {
            let token = match &args.sms_token_file {
                Some(p) => Some(read_secret("SMS gateway token file", p)?),
                None => None,
            };
            Some(super::notices::SmsGatewayConfig::new(
                url,
                token,
                &args.sms_sign,
            )?)
        }
        None => None,
    };
    let extras = super::ServeExtras {
        public,
        sms,
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| CliError::Listen {
                addr: args.listen,
                source,
            })?;
        let mode = if config.tls.is_some() {
            "https (mutual TLS)"
        } else {
            "http (DEMO mode, bearer token)"
        };
        eprintln!(
            "county-backoffice: serving {mode} on {}",
            listener.local_addr().unwrap_or(args.listen)
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let mut extras = extras;
        if let Some(staff_addr) = args.staff_listen {
            let staff_listener =
                tokio::net::TcpListener::bind(staff_addr)
                    .await
                    .map_err(|source| CliError::Listen {
                        addr: staff_addr,
                        source,
                    })?;
            eprintln!(
                "county-backoffice: staff pages on {}://{}/staff/",
                if staff_options.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                staff_listener.local_addr().unwrap_or(staff_addr)
            );
            let staff_listener = staff_listener
                .into_std()
                .map_err(|source| CliError::Listen {
                    addr: staff_addr,
                    source,
                })?;
            extras.staff = Some((staff_listener, staff_options));
        }
        super::serve_with(listener, config, bundles, extras, shutdown).await?;
        Ok::<(), CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The public URL is an absolute http(s) URL without query or fragment; https unless the
/// listener is plain (demo).
fn check_public_url(url: &str, tls: bool) -> Result<(), CliError> {
    let bad = |why| CliError::PublicUrl(url.to_string(), why);
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| bad("not a URL; give e.g. https://jd.example.gov.cn"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if !tls => {}
        "http" => {
            return Err(bad(
                "the listener has a certificate: the URL must be https://",
            ));
        }
        _ => return Err(bad("use an https:// URL")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("no query or fragment: receipts append /p/<token>"));
    }
    Ok(())
}

fn print_case(v: &wire::CaseView) {
    println!("case       {}", v.case_number);
    println!("receipt    {}", v.receipt_number);
    println!("station    {}", v.station_id);
    println!("item       {} {}", v.item_code, v.item_name);
    println!("applicant  {}", v.applicant_name_masked);
    println!("status     {} ({})", v.status, v.status.label_zh());
    if let Some(r) = &v.rejection_reason {
        println!("reason     {r}");
    }
    if let Some(w) = &v.collection_window {
        println!("window     {w}");
    }
    println!("timeline");
    for t in &v.timeline {
        println!(
            "  {}  {:<21} {}",
            t.at.format("%Y-%m-%d %H:%M:%S"),
            t.status.as_str(),
            t.note.as_deref().unwrap_or("")
        );
    }
}

fn run_case(c: CaseCommand) -> Result<ExitCode, CliError> {
    match c {
        CaseCommand::List {
            db,
            status,
            station,
            department,
            catalog,
        } => {
            let db = Db::open(&db)?;
            let mut numbers = db.case_numbers(status, station.as_deref(), None)?;
            if let Some(d) = &department {
                let routed = super::staff::cli::department_cases(&db, d, catalog.as_deref())?;
                numbers.retain(|n| routed.contains(n));
            }
            println!(
                "{:<20} {:<22} {:<16} {:<10} {:<8} ITEM",
                "CASE", "STATUS", "STATION", "APPLICANT", "RECEIPT"
            );
            for n in &numbers {
                if let Some((v, _, _)) = db.case(n)? {
                    println!(
                        "{:<20} {:<22} {:<16} {:<10} {:<8} {} {}",
                        v.case_number,
                        v.status.as_str(),
                        v.station_id,
                        v.applicant_name_masked,
                        v.receipt_number,
                        v.item_code,
                        v.item_name
                    );
                }
            }
            eprintln!("{} case(s)", numbers.len());
            Ok(ExitCode::SUCCESS)
        }
        CaseCommand::Show {
            case_number,
            db,
            holidays,
        } => {
            let db = Db::open(&db)?;
            match db.case(&case_number)? {
                Some((v, _, _)) => {
                    print_case(&v);
                    super::staff::cli::print_staff_part(&db, &case_number, holidays.as_deref())?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(DbError::NoCase(case_number).into()),
            }
        }
        CaseCommand::Advance {
            case_number,
            to,
            note,
            note_en,
            db,
            operator,
        } => {
            let mut db = Db::open(&db)?;
            let v = match operator {
                Some(username) => {
                    let op = super::staff::operators::get(&db, &username)
                        .map_err(super::staff::cli::StaffCliError::from)?
                        .ok_or(super::staff::StaffError::NoOperator(username))
                        .map_err(super::staff::cli::StaffCliError::from)?;
                    super::staff::cases::change_status(
                        &mut db,
                        &op,
                        &case_number,
                        to,
                        note.as_deref(),
                        note_en.as_deref(),
                        Utc::now(),
                    )
                    .map_err(super::staff::cli::StaffCliError::from)?
                }
                None => db.advance_as(
                    &case_number,
                    to,
                    note.as_deref(),
                    note_en.as_deref(),
                    "cli",
                    Utc::now(),
                )?,
            };
            println!(
                "{} is now {} ({})",
                v.case_number,
                v.status,
                v.status.label_zh()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_certs(c: CertsCommand) -> Result<ExitCode, CliError> {
    match c {
        CertsCommand::Revoke {
            dir,
            station_id,
            days,
        } => {
            let ca_path = dir.join("ca.pem");
            let ca = certs::read_pair(&ca_path, &dir.join("ca.key"))?;
            let station = dir.join(format!("station-{station_id}.pem"));
            let pem = std::fs::read_to_string(&station).map_err(|source| CliError::Read {
                what: "station certificate",
                path: station.clone(),
                source,
            })?;
            let serial = certs::serial_of(&pem).ok_or_else(|| {
                CliError::Revoke(format!("{} holds no certificate", station.display()))
            })?;
            let list = dir.join("revoked-serials.txt");
            let mut serials: Vec<String> = std::fs::read_to_string(&list)
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if !serials.contains(&hex::encode(&serial)) {
                serials.push(hex::encode(&serial));
            }
            let raw: Vec<Vec<u8>> = serials.iter().filter_map(|h| hex::decode(h).ok()).collect();
            let crl = certs::new_crl(&ca, &ca_path, &raw, raw.len() as u64, days)?;
            std::fs::write(&list, serials.join("\n") + "\n")
                .map_err(|e| CliError::Revoke(format!("cannot write {}: {e}", list.display())))?;
            let crl_path = dir.join("crl.pem");
            std::fs::write(&crl_path, crl).map_err(|e| {
                CliError::Revoke(format!("cannot write {}: {e}", crl_path.display()))
            })?;
            println!(
                "revoked {station_id}; {} certificate(s) in {}; restart serve to apply",
                raw.len(),
                crl_path.display()
            );
        }
        CertsCommand::Ca {
            dir,
            name,
            days,
            force,
        } => {
            let pair = certs::new_ca(&name, days)?;
            let (cert, key) = certs::write_pair(&dir, "ca", &pair, force)?;
            println!("county CA: {} (key {})", cert.display(), key.display());
        }
        CertsCommand::Server {
            dir,
            hosts,
            days,
            force,
        } => {
            let ca_path = dir.join("ca.pem");
            let ca = certs::read_pair(&ca_path, &dir.join("ca.key"))?;
            let pair = certs::new_server(&ca, &ca_path, &hosts, days)?;
            let (cert, key) = certs::write_pair(&dir, "server", &pair, force)?;
            println!(
                "server certificate: {} (key {})",
                cert.display(),
                key.display()
            );
        }
        CertsCommand::Station {
            dir,
            station_id,
            days,
            force,
        } => {
            if station_id.is_empty()
                || !station_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(CliError::BadStationId(station_id));
            }
            let ca_path = dir.join("ca.pem");
            let ca = certs::read_pair(&ca_path, &dir.join("ca.key"))?;
            let pair = certs::new_station(&ca, &ca_path, &station_id, days)?;
            let (cert, key) =
                certs::write_pair(&dir, &format!("station-{station_id}"), &pair, force)?;
            println!(
                "station certificate: {} (key {})",
                cert.display(),
                key.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
