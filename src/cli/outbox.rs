//! `kiosk outbox …` and `kiosk county ping`: the technician's view of the county link.
//!
//! Output is plain English for technicians; no personal data is printed (receipts, case numbers
//! and masked names only). Exit codes: 0 all well, 1 failure or something needs attention,
//! 2 usage error (clap).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;

use super::Globals;
use crate::config::{self, Config};
use crate::county::outbox::{Outbox, OutboxState};
use crate::county::{CountyClient, tls};
use crate::store::Store;

mod salvage;

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// Counts of pending, delivered and attention-needing entries, and the last error.
    Status,
    /// The newest outbox entries (no personal data).
    List {
        /// Only entries in this state: pending, delivered or needs_attention.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Queue an entry that needs attention again (same key, same body).
    Retry {
        /// The entry's id (see `kiosk outbox list`).
        id: i64,
    },
    /// Copy every readable pending and needs-attention entry of a damaged store into a fresh
    /// store and list what could not be read (exit 0 all copied, 3 some unreadable).
    Salvage(salvage::SalvageArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum CountyCommand {
    /// Check the link: reachability, TLS handshake, certificate expiry, clock skew, latency.
    Ping,
    /// Bring the catalogue, announcements and trusted keys up to date from the county now and
    /// print what changed.
    Sync(super::county::SyncArgs),
    /// The county keys trusted now (configured, or after the county's key rotation).
    Keys,
}

fn load_config(g: &Globals) -> anyhow::Result<Config> {
    Ok(g.loaded()?.config.clone())
}

fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let dir = config::data_dir(cfg);
    Store::open_in(&dir).with_context(|| format!("cannot open the store in {}", dir.display()))
}

pub fn run_outbox(cmd: OutboxCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        OutboxCommand::Status => {
            let cfg = load_config(g)?;
            let store = open_store(&cfg)?;
            let s = Outbox::stats(&store)?;
            outln!("pending          {}", s.pending);
            outln!("needs attention  {}", s.needs_attention);
            outln!("delivered        {}", s.delivered);
            outln!("open cases       {}", s.open_cases);
            outln!(
                "oldest pending   {}",
                s.oldest_pending_at.as_deref().unwrap_or("-")
            );
            outln!(
                "last error       {}",
                s.last_error.as_deref().unwrap_or("-")
            );
            if s.needs_attention > 0 {
                outln!(
                    "verdict          ATTENTION: {} entr{} refused by the county; see `kiosk outbox list --state needs_attention`, fix the cause, then `kiosk outbox retry ID`",
                    s.needs_attention,
                    if s.needs_attention == 1 {
                        "y was"
                    } else {
                        "ies were"
                    }
                );
                Ok(ExitCode::FAILURE)
            } else {
                outln!(
                    "verdict          OK{}",
                    if s.pending > 0 {
                        " (entries waiting for the county are kept until delivered)"
                    } else {
                        ""
                    }
                );
                Ok(ExitCode::SUCCESS)
            }
        }
        OutboxCommand::List { state, limit } => {
            let state: Option<OutboxState> = match state.as_deref() {
                None => None,
                Some(s) => Some(s.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "unknown state {s:?}; expected pending, delivered or needs_attention"
                    )
                })?),
            };
            let cfg = load_config(g)?;
            let store = open_store(&cfg)?;
            let rows = Outbox::list(&store, state, limit)?;
            outln!(
                "{:>6} {:<11} {:<16} {:>8} {:<17} {:<19} {:<24} LAST ERROR",
                "ID",
                "KIND",
                "STATE",
                "ATTEMPTS",
                "RECEIPT",
                "CASE",
                "CREATED"
            );
            for r in &rows {
                outln!(
                    "{:>6} {:<11} {:<16} {:>8} {:<17} {:<19} {:<24} {}",
                    r.id,
                    r.kind.as_str(),
                    r.state.as_str(),
                    r.attempts,
                    r.receipt_number.as_deref().unwrap_or("-"),
                    r.case_number.as_deref().unwrap_or("-"),
                    r.created_at,
                    r.last_error.as_deref().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id } => {
            let cfg = load_config(g)?;
            let mut store = open_store(&cfg)?;
            Outbox::retry(&mut store, id)?;
            outln!("outbox entry {id} is queued again; the worker sends it with the same key");
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Salvage(args) => salvage::run(args, g),
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

fn report(name: &str, v: Verdict, detail: &str) -> anyhow::Result<()> {
    let tag = match v {
        Verdict::Ok => "OK",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
        Verdict::Skip => "SKIP",
    };
    outln!("{name:<16} {tag:<5} {detail}");
    Ok(())
}

pub fn run_county(cmd: CountyCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        CountyCommand::Ping => {
            let cfg = load_config(g)?;
            let rt = tokio::runtime::Runtime::new()?;
            let failed = rt.block_on(ping(&cfg))?;
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        CountyCommand::Sync(args) => super::county::run_sync(args, g),
        CountyCommand::Keys => super::county::run_keys(g),
    }
}

/// Runs every check and prints one line each; returns whether any failed.
async fn ping(cfg: &Config) -> anyhow::Result<bool> {
    let Some(url) = cfg.county.url.as_deref() else {
        anyhow::bail!(
            "no [county] url in the config: demo mode runs an embedded back office, there is no link to check"
        );
    };
    let parsed = reqwest::Url::parse(url).with_context(|| format!("county url {url:?}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("county url {url:?} has no host"))?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let timeout = Duration::from_secs(cfg.county.timeout_secs.max(1));
    let mut failed = false;

    // 1. Reachability.
    let started = Instant::now();
    let tcp = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let tcp = match tcp {
        Ok(Ok(s)) => {
            report(
                "reachability",
                Verdict::Ok,
                &format!(
                    "{host}:{port} connected in {} ms",
                    started.elapsed().as_millis()
                ),
            )?;
            Some(s)
        }
        Ok(Err(e)) => {
            report(
                "reachability",
                Verdict::Fail,
                &format!("{host}:{port}: {e}"),
            )?;
            None
        }
        Err(_) => {
            report(
                "reachability",
                Verdict::Fail,
                &format!("{host}:{port}: no answer within {} s", timeout.as_secs()),
            )?;
            None
        }
    };
    let Some(tcp) = tcp else {
        report("tls handshake", Verdict::Skip, "not reachable")?;
        report("certificates", Verdict::Skip, "not reachable")?;
        report("clock skew", Verdict::Skip, "not reachable")?;
        report("latency", Verdict::Skip, "not reachable")?;
        return Ok(true);
    };

    // 2. TLS handshake and 3. certificate expiry.
    let now = Utc::now();
    let expiry = |what: &str, der: &[u8]| -> anyhow::Result<Verdict> {
        match tls::summarize(der) {
            Some(s) => {
                let days = (s.not_after - now).num_days();
                let v = if s.not_after <= now || s.not_before > now {
                    Verdict::Fail
                } else if days < 30 {
                    Verdict::Warn
                } else {
                    Verdict::Ok
                };
                report(
                    "certificates",
                    v,
                    &format!(
                        "{what} {} expires {} ({days} days)",
                        s.common_name.unwrap_or_default(),
                        s.not_after.format("%Y-%m-%d")
                    ),
                )?;
                Ok(v)
            }
            None => {
                report(
                    "certificates",
                    Verdict::Fail,
                    &format!("{what}: unreadable certificate"),
                )?;
                Ok(Verdict::Fail)
            }
        }
    };
    match parsed.scheme() {
        "https" => {
            let (Some(ca), Some(cert), Some(key)) = (
                &cfg.county.ca_cert,
                &cfg.county.client_cert,
                &cfg.county.client_key,
            ) else {
                report(
                    "tls handshake",
                    Verdict::Fail,
                    "[county] needs ca_cert, client_cert and client_key for mutual TLS",
                )?;
                return Ok(true);
            };
            let setup = (|| -> Result<_, tls::TlsError> {
                let ca = tls::load_certs(ca)?;
                let chain = tls::load_certs(cert)?;
                let key = tls::load_key(key)?;
                Ok((tls::client_config(&ca, Some((chain.clone(), key)))?, chain))
            })();
            let (client_cfg, chain) = match setup {
                Ok(x) => x,
                Err(e) => {
                    report("tls handshake", Verdict::Fail, &e.to_string())?;
                    return Ok(true);
                }
            };
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client_cfg));
            let name = match rustls::pki_types::ServerName::try_from(host.clone()) {
                Ok(n) => n,
                Err(e) => {
                    report(
                        "tls handshake",
                        Verdict::Fail,
                        &format!("server name {host}: {e}"),
                    )?;
                    return Ok(true);
                }
            };
            let started = Instant::now();
            match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
                Ok(Ok(stream)) => {
                    let (_, conn) = stream.get_ref();
                    report(
                        "tls handshake",
                        Verdict::Ok,
                        &format!(
                            "{:?} in {} ms; server verified by the county CA",
                            conn.protocol_version()
                                .map(|v| format!("{v:?}"))
                                .unwrap_or_default(),
                            started.elapsed().as_millis()
                        ),
                    )?;
                    if let Some(server) = conn.peer_certificates().and_then(|c| c.first()) {
                        failed |= expiry("server", server)? == Verdict::Fail;
                    }
                }
                Ok(Err(e)) => {
                    report("tls handshake", Verdict::Fail, &format!("{e}"))?;
                    failed = true;
                }
                Err(_) => {
                    report("tls handshake", Verdict::Fail, "timed out")?;
                    failed = true;
                }
            }
            if let Some(own) = chain.first() {
                failed |= expiry("station", own)? == Verdict::Fail;
            }
        }
        _ => {
            drop(tcp);
            report(
                "tls handshake",
                Verdict::Warn,
                "plain HTTP: allowed in demo mode only",
            )?;
            report("certificates", Verdict::Skip, "no TLS")?;
        }
    }

    // 4. Clock skew and 5. latency, through the API (also checks authentication).
    let client = match CountyClient::from_config(&cfg.county, &cfg.station) {
        Ok(Some(c)) => c,
        Ok(None) => anyhow::bail!("no county url"),
        Err(e) => {
            report("clock skew", Verdict::Fail, &e.to_string())?;
            report("latency", Verdict::Skip, "no client")?;
            return Ok(true);
        }
    };
    let mut rtts = Vec::new();
    let mut skew = None;
    let mut last_err = None;
    for _ in 0..3 {
        let sent = Utc::now();
        let started = Instant::now();
        match client.hello().await {
            Ok(hello) => {
                let rtt = started.elapsed();
                let mid = sent + chrono::Duration::from_std(rtt / 2).unwrap_or_default();
                skew = Some((hello.server_time - mid, hello.station_id));
                rtts.push(rtt);
            }
            Err(e) => last_err = Some(e.to_string()),
        }
    }
    match skew {
        Some((d, station)) => {
            let ms = d.num_milliseconds();
            let v = if ms.abs() <= 30_000 {
                Verdict::Ok
            } else if ms.abs() <= 120_000 {
                Verdict::Warn
            } else {
                Verdict::Fail
            };
            failed |= v == Verdict::Fail;
            report(
                "clock skew",
                v,
                &format!(
                    "county clock is {:+.1} s from ours (authenticated as station {station})",
                    ms as f64 / 1000.0
                ),
            )?;
        }
        None => {
            failed = true;
            report(
                "clock skew",
                Verdict::Fail,
                last_err.as_deref().unwrap_or("no answer"),
            )?;
        }
    }
    if rtts.is_empty() {
        report("latency", Verdict::Fail, "no request succeeded")?;
        failed = true;
    } else {
        rtts.sort();
        let median = rtts[rtts.len() / 2];
        let v = if median <= Duration::from_secs(1) {
            Verdict::Ok
        } else if median <= Duration::from_secs(5) {
            Verdict::Warn
        } else {
            Verdict::Fail
        };
        failed |= v == Verdict::Fail;
        report(
            "latency",
            v,
            &format!(
                "median {} ms over {} requests",
                median.as_millis(),
                rtts.len()
            ),
        )?;
    }
    outln!("verdict          {}", if failed { "FAIL" } else { "OK" });
    Ok(failed)
}
