//! `kiosk update ...` (软件更新): sign a manifest (county staff, offline, with the release key),
//! check and download the county's update now, install it into the inactive slot, show the
//! state, and the boot-time health gate `kiosk update confirm` that
//! `village-kiosk-update-confirm.service` runs before `boot-complete.target`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::Utc;

use super::Globals;
use crate::catalog::bundle;
use crate::catalog::keyring::Keyring;
use crate::config;
use crate::county::client::CountyClient;
use crate::update::driver::{CheckOutcome, describe_slot_files};
use crate::update::machine::UpdateState;
use crate::update::manifest::{self, UpdateManifest};
use crate::update::{Updater, update_dir};

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Where this terminal stands with software updates.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Ask the county for an update now; download and verify it (resumes a cut download).
    Check,
    /// Write a downloaded, verified update into the inactive root slot with a counted boot
    /// entry; reboot afterwards to try it.
    Install {
        /// Reboot into the new slot once it is installed (the night maintenance window's unit).
        #[arg(long)]
        reboot: bool,
    },
    /// Boot-time health gate: on a trial boot, wait for the app's first frame
    /// (village-kiosk.service active) and a doctor verdict that does not fail. Exit 1 otherwise.
    Confirm {
        /// How long the new version has, in seconds (default: [update] health_within_secs).
        #[arg(long, value_name = "SECS")]
        within: Option<u64>,
    },
    /// County staff: sign an update manifest for the files in DIR with the release key.
    Sign {
        /// The new version, MAJOR.MINOR.PATCH.
        #[arg(long)]
        version: String,
        /// The directory holding rootfs.img.gz (what hardware/image/build writes; or the raw
        /// rootfs.img, not both), vmlinuz and initrd.img.
        #[arg(long, value_name = "DIR")]
        files: PathBuf,
        /// The release key's secret file (kiosk catalog keygen; not the catalogue key).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn updater(g: &Globals) -> anyhow::Result<(Updater, config::Config)> {
    let cfg = g.loaded()?.config.clone();
    let dir = update_dir(&config::data_dir(&cfg));
    Ok((
        Updater::new(cfg.update.clone(), dir, env!("CARGO_PKG_VERSION")),
        cfg,
    ))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `kiosk update ...`.
pub fn run(c: UpdateCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match c {
        UpdateCommand::Status { json } => {
            let (u, _) = updater(g)?;
            let report = u.report()?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!("running   {}", report.running_version);
                outln!("state     {}", report.state);
                if let Some(v) = &report.version {
                    outln!("version   {v}");
                }
                if let (Some(d), Some(t)) = (report.downloaded, report.total) {
                    outln!("download  {d} of {t} bytes");
                }
                if let Some(d) = &report.detail {
                    outln!("detail    {d}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        UpdateCommand::Check => {
            let (u, cfg) = updater(g)?;
            let client =
                CountyClient::from_config(&cfg.county, &cfg.station)?.ok_or_else(|| {
                    anyhow!("no [county] url in the config: there is no county to ask for updates")
                })?;
            let keys = Keyring::from_config(&cfg)?;
            let rt = runtime()?;
            match rt.block_on(u.check(&client, keys.keys()))? {
                CheckOutcome::NothingNew => {
                    outln!(
                        "no newer software offered (running {})",
                        env!("CARGO_PKG_VERSION")
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                CheckOutcome::Declined { version, state } => {
                    outln!(
                        "version {version} offered, not taken while the update state is {state}"
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                CheckOutcome::Offered(m) => {
                    outln!(
                        "version {} offered ({} bytes); downloading",
                        m.version,
                        m.total_size()
                    );
                }
            }
            let state = rt.block_on(u.download(&client))?;
            outln!(
                "update {}: {}",
                state.manifest().map_or("-", |m| m.version.as_str()),
                state.name()
            );
            Ok(ExitCode::SUCCESS)
        }
        UpdateCommand::Install { reboot } => {
            let (u, _) = updater(g)?;
            let state = u.install(false)?;
            match &state {
                UpdateState::Installed { manifest, slot, .. } => {
                    outln!(
                        "version {} installed in slot {}; reboot to try it (it rolls back by itself unless healthy)",
                        manifest.version,
                        slot.name()
                    );
                    if reboot {
                        let ok = std::process::Command::new("systemctl")
                            .arg("reboot")
                            .status()
                            .map(|s| s.success())
                            .unwrap_or(false);
                        if !ok {
                            anyhow::bail!(
                                "installed, but systemctl reboot failed; reboot the terminal to try the update"
                            );
                        }
                    }
                }
                other => outln!("nothing to install (update state: {})", other.name()),
            }
            Ok(ExitCode::SUCCESS)
        }
        UpdateCommand::Confirm { within } => {
            let (u, cfg) = updater(g)?;
            let state = u.on_boot()?;
            let UpdateState::OnTrial { manifest, .. } = &state else {
                outln!(
                    "not a trial boot (update state: {}); nothing to confirm",
                    state.name()
                );
                return Ok(ExitCode::SUCCESS);
            };
            let limit = Duration::from_secs(within.unwrap_or(cfg.update.health_within_secs));
            confirm(&manifest.version, limit, g)
        }
        UpdateCommand::Sign {
            version,
            files,
            key,
            out,
        } => {
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("cannot read the release key {}", key.display()))?;
            let signing = bundle::parse_signing_key(&text)
                .map_err(|e| anyhow!("release key {}: {e}", key.display()))?;
            let m = UpdateManifest {
                manifest_version: manifest::MANIFEST_VERSION,
                version,
                issued_at: Utc::now(),
                files: describe_slot_files(&files)?,
            };
            let bytes = manifest::sign(&m, &signing)?;
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            outln!(
                "signed update {} ({} bytes in {} files) with release key {}: {}",
                m.version,
                m.total_size(),
                m.files.len(),
                hex::encode(signing.verifying_key().to_bytes()),
                out.display()
            );
            if let Some(raw) = m.rootfs().and_then(|f| f.unpacked.as_ref()) {
                outln!(
                    "root filesystem {}: {} bytes, unpacks to {} bytes (SHA-256 {})",
                    manifest::ROOTFS_GZ,
                    m.rootfs().map(|f| f.size).unwrap_or(0),
                    raw.size,
                    raw.sha256
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The doctor checks whose failure fails a trial boot: what the software itself reads and writes.
pub const HEALTH_GATE_CHECKS: [&str; 4] = ["config", "store", "catalog", "outbox"];

/// The health gate of a trial boot: the app reached its first frame (its `Type=notify` unit
/// is active: READY=1 is sent after the first frame) and doctor does not fail, within `limit`.
fn confirm(version: &str, limit: Duration, g: &Globals) -> anyhow::Result<ExitCode> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let active = std::process::Command::new("systemctl")
            .args(["is-active", "--quiet", "village-kiosk.service"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if active {
            break;
        }
        if std::time::Instant::now() >= deadline {
            eprintln!(
                "update confirm: version {version}: the app did not reach its first frame within {} s; not blessed, the next boot falls back",
                limit.as_secs()
            );
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let report = crate::doctor::run(g.loaded_or_error());
    // Only what a new software version can break decides; a dead extranet link, a wrong clock, an
    // unplugged reader or an empty printer are not the update's fault and must not roll it back
    // (they are logged, and doctor reports them in the heartbeat as always).
    let (gate, other): (Vec<_>, Vec<_>) = report
        .checks
        .iter()
        .filter(|c| c.status == crate::doctor::Status::Fail)
        .partition(|c| HEALTH_GATE_CHECKS.contains(&c.id.as_str()));
    for c in &other {
        tracing::warn!(check = %c.id, finding = %c.finding, "failing, but not part of the update's health gate");
    }
    if !gate.is_empty() {
        let failing: Vec<String> = gate
            .iter()
            .map(|c| format!("{}: {}", c.id, c.finding))
            .collect();
        eprintln!(
            "update confirm: version {version}: doctor fails ({}); not blessed, the next boot falls back",
            failing.join("; ")
        );
        return Ok(ExitCode::FAILURE);
    }
    outln!("update confirm: version {version} reached its first frame and a healthy verdict");
    Ok(ExitCode::SUCCESS)
}
