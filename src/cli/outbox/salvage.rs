//! `kiosk outbox salvage`: rescue the undelivered outbox of a damaged store into a fresh one.
//!
//! By default it works in the data directory: the fresh store is built beside the damaged one,
//! the damaged file (with its `-wal` and `-shm`) is moved aside as
//! `kiosk.sqlite3.damaged-<UTC time>` and the fresh one takes its place. Ratings waiting for a
//! case number are salvaged with their application. With `--out PATH` it
//! only writes the fresh store there. Exit codes: 0 every undelivered row was copied (or the
//! store is not damaged), 3 copied what could be read and listed the rest, 1 nothing could be
//! done (the message says why). Prints no personal data: ids, receipt numbers and keys only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::load_config;
use crate::cli::Globals;
use crate::config;
use crate::store::STORE_FILE;
use crate::store::salvage::{LostPart, Salvage, passes_quick_check, salvage, sidecar};

/// Exit code: some rows could not be read (they are listed).
pub const EXIT_SALVAGED_WITH_LOSSES: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct SalvageArgs {
    /// The damaged store (default: kiosk.sqlite3 in the configured data directory).
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Write the fresh store here and leave the damaged one where it is (default: replace the
    /// damaged store, keeping it as kiosk.sqlite3.damaged-<time>).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Salvage even if the store passes its integrity check.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: SalvageArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let from = match &args.from {
        Some(p) => p.clone(),
        None => config::data_dir(&load_config(g)?).join(STORE_FILE),
    };
    if !from.is_file() {
        anyhow::bail!(
            "there is no store at {}; give the damaged file with --from PATH",
            from.display()
        );
    }
    if !args.force && passes_quick_check(&from) {
        outln!(
            "the store {} passes its integrity check: nothing to salvage (--force copies it anyway)",
            from.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let (fresh, replace) = match &args.out {
        Some(out) => (out.clone(), false),
        None => (sidecar(&from, &format!(".salvaged-{stamp}")), true),
    };
    let report = salvage(&from, &fresh)?;
    let mut kept_as = None;
    if replace {
        kept_as = Some(swap(&from, &fresh, &stamp)?);
    }
    print_report(&report, &from, if replace { &from } else { &fresh })?;
    if let Some(kept) = kept_as {
        outln!("the damaged store is kept as {}", kept.display());
    }
    outln!(
        "not copied: the catalogue (import its bundle again: kiosk catalog import FILE) and the announcements (fetched again)"
    );
    Ok(if report.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SALVAGED_WITH_LOSSES)
    })
}

/// Moves the damaged store (and its WAL and shared memory) aside and the fresh one into place.
fn swap(store: &Path, fresh: &Path, stamp: &str) -> anyhow::Result<PathBuf> {
    let kept = sidecar(store, &format!(".damaged-{stamp}"));
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(store, suffix);
        if side.exists() {
            std::fs::rename(&side, sidecar(&kept, suffix))
                .with_context(|| format!("cannot move {} aside", side.display()))?;
        }
    }
    std::fs::rename(store, &kept)
        .with_context(|| format!("cannot move {} aside", store.display()))?;
    std::fs::rename(fresh, store).with_context(|| {
        format!(
            "cannot move the fresh store {} to {}",
            fresh.display(),
            store.display()
        )
    })?;
    Ok(kept)
}

fn print_report(r: &Salvage, from: &Path, into: &Path) -> anyhow::Result<()> {
    let undelivered = r.copied.len()
        + r.unreadable
            .iter()
            .filter(|u| u.part == LostPart::Entry)
            .count();
    let ratings_lost = r
        .unreadable
        .iter()
        .filter(|u| u.part == LostPart::WaitingRating)
        .count();
    let count = |kind: &str| r.copied.iter().filter(|c| c.kind == kind).count();
    outln!(
        "salvaged {} of {} undelivered entries from {} into {} ({} applications, {} evaluations, {} heartbeats)",
        r.copied.len(),
        undelivered,
        from.display(),
        into.display(),
        count("application"),
        count("evaluation"),
        count("heartbeat")
    );
    outln!(
        "salvaged {} of {} ratings waiting for their case number",
        r.waiting_ratings.len(),
        r.waiting_ratings.len() + ratings_lost
    );
    for u in &r.unreadable {
        if u.part == LostPart::WaitingRating {
            outln!(
                "could not read: rating waiting for receipt {} (key {}): {}",
                u.receipt_number.as_deref().unwrap_or("unknown"),
                u.idempotency_key.as_deref().unwrap_or("unknown"),
                u.detail
            );
            continue;
        }
        let what = match u.part {
            LostPart::ReceiptLookup => "receipt lookup of outbox entry",
            _ => "outbox entry",
        };
        outln!(
            "could not read: {what} {} (state {}, receipt {}, key {}): {}",
            u.outbox_id
                .map_or_else(|| "?".to_string(), |i| i.to_string()),
            u.state.as_deref().unwrap_or("unknown"),
            u.receipt_number.as_deref().unwrap_or("unknown"),
            u.idempotency_key.as_deref().unwrap_or("unknown"),
            u.detail
        );
    }
    if r.unreadable.iter().any(|u| u.part == LostPart::Entry) {
        outln!(
            "what to do: ask the county (county-backoffice case list) whether the receipts above arrived; those that did not must be applied for again"
        );
    }
    if ratings_lost > 0 {
        outln!(
            "note: the ratings listed above are not in the fresh store and will not reach the county"
        );
    }
    if !r.counters_complete {
        outln!(
            "receipt counters: partly unreadable, rebuilt from the receipt numbers read (numbers above every one read)"
        );
    }
    outln!(
        "left behind: {} delivered entries (the county has them)",
        r.delivered_left
    );
    Ok(())
}
