//! `kiosk provision BUNDLE`: installs a station's identity from a provisioning bundle the county
//! signed (see [`crate::provision`]). A bundle that does not verify, is for another station or has
//! expired is refused with the reason and exit 1, and nothing on the terminal changes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use super::Globals;
use crate::provision::bundle::{self, paths};
use crate::provision::install::{self, Target};

#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// The provisioning bundle (village-kiosk-provision.bundle from the county).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// The station this terminal must become; refuses a bundle for any other. Default: the
    /// station already configured here, if any.
    #[arg(long, value_name = "ID")]
    pub station: Option<String>,
    /// The county key that signs provisioning bundles (64 hex digits, or a file holding them).
    /// Default: /etc/village-kiosk/provisioning-key.pub, baked into the image.
    #[arg(long, value_name = "HEX|FILE")]
    pub county_key: Option<String>,
    /// Install under this directory instead of / (image builds and tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The user the app runs as; secrets are made its own (0600).
    #[arg(long, value_name = "USER", default_value = install::KIOSK_USER)]
    pub user: String,
    /// Verify and check only; install nothing.
    #[arg(long)]
    pub check: bool,
}

fn read_key(arg: Option<&str>, root: &Path) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let (text, from) = match arg {
        Some(a) if a.len() == 64 && a.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (a.to_string(), "--county-key".to_string())
        }
        Some(a) => (
            std::fs::read_to_string(a).with_context(|| format!("cannot read --county-key {a}"))?,
            a.to_string(),
        ),
        None => {
            let p = root.join(paths::PROVISIONING_KEY);
            let t = std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "cannot read the county's provisioning key {}; pass --county-key HEX (from the county's county.key.pub)",
                    p.display()
                )
            })?;
            (t, p.display().to_string())
        }
    };
    let hex: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    crate::catalog::bundle::parse_verifying_key(&hex).map_err(|e| anyhow!("{from}: {e}"))
}

/// The station this terminal already is, from its config (if provisioned).
fn configured_station(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(paths::CONFIG)).ok()?;
    let (config, _) = crate::config::parse(&text).ok()?;
    (!config.is_demo() && !config.station.id.is_empty()).then_some(config.station.id)
}

pub fn run(args: ProvisionArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read the bundle {}", args.bundle.display()))?;
    let key = read_key(args.county_key.as_deref(), &args.root)?;
    let now = chrono::Utc::now();
    let refused = |e: &dyn std::fmt::Display| {
        anyhow!(
            "{}: refused: {e}; nothing was changed",
            args.bundle.display()
        )
    };
    let p = bundle::open(&bytes, &key, now).map_err(|e| refused(&e))?;
    let expected = args
        .station
        .clone()
        .or_else(|| configured_station(&args.root));
    bundle::check_station(&p, expected.as_deref()).map_err(|e| refused(&e))?;
    if args.check {
        outln!(
            "{}: verified: station {} ({}), expires {}",
            args.bundle.display(),
            p.station.id,
            p.station.name,
            p.expires_at.to_rfc3339()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let target = Target::at(&args.root, &args.user).map_err(|e| anyhow!("{e}"))?;
    // Not root: handing the secrets to the kiosk user fails (EPERM) and nothing is changed.
    let done = install::install(&p, &target, now)
        .map_err(|e| anyhow!("{e} (kiosk provision runs as root: sudo kiosk provision ...)"))?;
    outln!(
        "provisioned station {} ({}) from {}",
        p.station.id,
        p.station.name,
        args.bundle.display()
    );
    for f in &done.files {
        outln!("  wrote {}", f.display());
    }
    if let Some((county, version, items)) = &done.catalog {
        outln!("  catalogue of {county} version {version} ({items} items)");
    }
    outln!("已开通：{}（{}）。", p.station.name, p.station.id);
    if args.root == Path::new("/") {
        outln!(
            "restart the network and the app to use it: systemctl restart systemd-networkd systemd-timesyncd village-kiosk"
        );
    }
    Ok(ExitCode::SUCCESS)
}
