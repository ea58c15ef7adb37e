//! `kiosk county sync` and `kiosk county keys`: bring the catalogue, the announcements and the
//! trusted keys up to date from the county now, and show which keys are trusted.
//!
//! `sync` does what the running kiosk does on its schedule (`county::sync`), but installs a new
//! catalogue at once (a technician runs it with nobody at the screen), and prints what changed:
//! items added, changed, removed, old and new version. A refusal (downgrade, another county,
//! replay, untrusted key) is printed with its reason, kept for the heartbeat, and exits 1.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;
use serde_json::json;

use super::Globals;
use crate::catalog::keyring::{Keyring, KeyringSource};
use crate::config::{self, Config};
use crate::county::CountyClient;
use crate::county::sync::{
    CatalogDiff, CatalogOffer, KeyringOutcome, NoticeOutcome, Refusal, Syncer,
};
use crate::store::{STORE_FILE, Store};

/// `kiosk county sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The keys trusted under `config`: the configured ones, with the key rotations this kiosk's
/// store kept applied on top (the store is not created just to read).
pub fn trusted_keyring(config: &Config) -> anyhow::Result<Keyring> {
    let base = Keyring::from_config(config)?;
    let path = config::data_dir(config).join(STORE_FILE);
    if !path.exists() {
        return Ok(base);
    }
    let store = Store::open(&path)?;
    let ring = crate::county::sync::driver::keyring_in_store(&store, &base)?;
    Ok(ring)
}

fn syncer(cfg: &Config) -> anyhow::Result<Syncer> {
    let client = CountyClient::from_config(&cfg.county, &cfg.station)?.ok_or_else(|| {
        anyhow!(
            "no [county] url in the config: demo mode runs an embedded back office, there is no county to sync from"
        )
    })?;
    let base = Keyring::from_config(cfg)?;
    let dir = config::data_dir(cfg);
    // Create the store (and its directory) before the first step.
    let store = Store::open_in(&dir)
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    Ok(Syncer::new(client, store.path().to_path_buf(), base))
}

fn codes(list: &[String]) -> String {
    if list.is_empty() {
        "-".into()
    } else {
        list.join(", ")
    }
}

fn diff_json(d: &CatalogDiff) -> serde_json::Value {
    json!({
        "county": d.county,
        "old_version": d.old_version,
        "new_version": d.new_version,
        "added": d.added,
        "changed": d.changed,
        "removed": d.removed,
    })
}

fn refusal_json(r: &Refusal) -> serde_json::Value {
    json!({ "kind": r.kind().as_str(), "reason": r.reason(), "detail": r.to_string() })
}

/// Runs `kiosk county sync`.
pub fn run_sync(args: SyncArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let cfg = g.loaded()?.config.clone();
    let syncer = syncer(&cfg)?;
    let rt = tokio::runtime::Runtime::new()?;
    let now = Utc::now();
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut text: Vec<String> = Vec::new();

    // 1. Key rotation first, so a catalogue signed with a newly announced key verifies.
    let keyring = rt.block_on(syncer.sync_keyring(now))?;
    let keyring_json = match &keyring {
        KeyringOutcome::NotOffered => {
            text.push("keyring        the county publishes no key rotation".into());
            json!({ "state": "not_offered" })
        }
        KeyringOutcome::Unchanged(ring) => {
            text.push(format!(
                "keyring        unchanged: {} key(s) trusted",
                ring.keys().len()
            ));
            json!({ "state": "unchanged", "version": ring.version(), "keys": ring.describe() })
        }
        KeyringOutcome::Applied(ring) => {
            text.push(format!(
                "keyring        rotation version {} applied: trusted now {}",
                ring.version(),
                ring.describe()
            ));
            json!({ "state": "applied", "version": ring.version(), "keys": ring.describe() })
        }
        KeyringOutcome::Refused(r) => {
            text.push(format!("keyring        REFUSED ({}): {r}", r.reason()));
            refusals.push(r.clone());
            json!({ "state": "refused", "refusal": refusal_json(r) })
        }
    };

    // 2. The catalogue, installed at once in one transaction.
    let etag = rt.block_on(syncer.catalog_etag())?;
    let catalog_json = match rt.block_on(syncer.fetch_catalog(etag.as_deref(), now))? {
        CatalogOffer::Unchanged | CatalogOffer::UpToDate => {
            let store = Store::open(syncer.store_path())?;
            let meta = crate::catalog::repo::meta(&store)?;
            text.push(match &meta {
                Some(m) => format!(
                    "catalogue      unchanged: {} version {} ({} items)",
                    m.county, m.version, m.item_count
                ),
                None => "catalogue      unchanged".into(),
            });
            json!({ "state": "unchanged", "version": meta.map(|m| m.version) })
        }
        CatalogOffer::Pending(p) => match rt.block_on(syncer.install(p, now)) {
            Ok(installed) => {
                let d = &installed.diff;
                text.push(format!(
                    "catalogue      {} version {} -> {} installed ({} items)",
                    d.county,
                    d.old_version
                        .map_or_else(|| "none".to_string(), |v| v.to_string()),
                    d.new_version,
                    installed.meta.item_count
                ));
                text.push(format!(
                    "  added    {:>3}  {}",
                    d.added.len(),
                    codes(&d.added)
                ));
                text.push(format!(
                    "  changed  {:>3}  {}",
                    d.changed.len(),
                    codes(&d.changed)
                ));
                text.push(format!(
                    "  removed  {:>3}  {}",
                    d.removed.len(),
                    codes(&d.removed)
                ));
                json!({ "state": "installed", "diff": diff_json(d) })
            }
            Err(crate::county::sync::SyncError::Refused(r)) => {
                text.push(format!("catalogue      REFUSED ({}): {r}", r.reason()));
                refusals.push(r.clone());
                json!({ "state": "refused", "refusal": refusal_json(&r) })
            }
            Err(e) => return Err(e.into()),
        },
        CatalogOffer::Refused(r) => {
            text.push(format!(
                "catalogue      REFUSED ({}): {r}; the catalogue in use is unchanged",
                r.reason()
            ));
            refusals.push(r.clone());
            json!({ "state": "refused", "refusal": refusal_json(&r) })
        }
    };

    // 3. Announcements.
    let notice_json = match rt.block_on(syncer.sync_announcements(now))? {
        NoticeOutcome::Unchanged => {
            text.push("announcements  unchanged".into());
            json!({ "state": "unchanged" })
        }
        NoticeOutcome::Kept {
            announcements,
            previous,
            ..
        } => {
            text.push(format!(
                "announcements  version {} -> {} kept ({} items)",
                previous.map_or_else(|| "none".to_string(), |v| v.to_string()),
                announcements.version,
                announcements.items.len()
            ));
            json!({ "state": "kept", "old_version": previous, "new_version": announcements.version })
        }
        NoticeOutcome::Refused(r) => {
            text.push(format!(
                "announcements  REFUSED ({}): {r}; the kept announcements stay",
                r.reason()
            ));
            refusals.push(r.clone());
            json!({ "state": "refused", "refusal": refusal_json(&r) })
        }
    };

    if args.json {
        outln!(
            "{}",
            json!({
                "keyring": keyring_json,
                "catalog": catalog_json,
                "announcements": notice_json,
                "refusals": refusals.iter().map(refusal_json).collect::<Vec<_>>(),
            })
        );
    } else {
        for line in &text {
            outln!("{line}");
        }
        if !refusals.is_empty() {
            outln!(
                "verdict        REFUSED: kept for the heartbeat; the county sees it in `county-backoffice rollout`"
            );
        } else {
            outln!("verdict        OK");
        }
    }
    Ok(if refusals.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `kiosk county keys`: the keys trusted now and where they come from.
pub fn run_keys(g: &Globals) -> anyhow::Result<ExitCode> {
    let cfg = g.loaded()?.config.clone();
    let ring = trusted_keyring(&cfg)?;
    let source = match ring.source() {
        KeyringSource::Configured => "county.catalog_public_key / county.trusted_keys".to_string(),
        KeyringSource::Demo => "the public DEMO key (demo mode)".to_string(),
        KeyringSource::Rotation(v) => format!("the county's key rotation version {v}"),
    };
    outln!("trusted keys ({}, from {source}):", ring.keys().len());
    for k in ring.keys() {
        outln!("  {}", hex::encode(k.to_bytes()));
    }
    if ring.keys().is_empty() {
        bail!("no key is trusted");
    }
    Ok(ExitCode::SUCCESS)
}
