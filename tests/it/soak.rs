//! Soak (issue 14, "Prove it holds"): many villager visits through the real app on Slint's
//! testing backend with the real drivers: the demo card placed on the reader simulator (a
//! pty), the form filled and submitted, the receipt printed on the printer simulator (a pty),
//! the application sent through the real outbox to the embedded back office on loopback and its
//! personal record purged on delivery. Memory (RSS), open file descriptors and the store's size
//! are measured at visit 1, at the warm-up visit (`SOAK_WARM`, default 1,000), every 1,000 and at
//! the last one, and compared from the warm-up on.
//!
//! Ignored in the normal suite (it takes long). Run:
//! `cargo test --release --locked --test it soak -- --ignored --nocapture` (`SOAK_VISITS`,
//! default 10,000; `SOAK_WARM`, default 1,000). Figures in docs/PERFORMANCE.md. The receipts are torn off the simulated printer after
//! each visit (a real printer keeps nothing), so only the kiosk's own memory is measured.

use std::path::Path;
use std::time::Instant;

use village_kiosk::station::DemoOptions;
use village_kiosk::ui::tour;

use crate::ui::{WAIT, env};

/// One measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    visit: u64,
    rss_kb: u64,
    fds: usize,
    store_bytes: u64,
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The size of a file in the data directory (0 when absent).
fn file_bytes(data: &Path, name: &str) -> u64 {
    std::fs::metadata(data.join(name)).map_or(0, |m| m.len())
}

/// The store's file and its WAL.
fn store_bytes(data: &Path) -> u64 {
    file_bytes(data, "kiosk.sqlite3") + file_bytes(data, "kiosk.sqlite3-wal")
}

/// (undelivered applications, delivered rows still holding a personal body). A delivered
/// heartbeat keeps its body (device health, nothing personal) until the retention's
/// housekeeping deletes it (`Outbox::purge_expired`), so it is not counted.
fn outbox_counts(conn: &rusqlite::Connection) -> (i64, i64) {
    conn.query_row(
        "SELECT
             (SELECT COUNT(*) FROM outbox WHERE kind = 'application' AND state != 'delivered'),
             (SELECT COUNT(*) FROM outbox
              WHERE state = 'delivered' AND body IS NOT NULL AND kind != 'heartbeat')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
#[ignore = "soak: cargo test --release --test it soak -- --ignored --nocapture"]
fn soak_visits_keep_memory_descriptors_and_store_bounded() {
    let visits: u64 = std::env::var("SOAK_VISITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // Caches, the first catalogue sync and the county connections settle by this visit: the
    // figures are compared from here (`SOAK_WARM`, default 1,000).
    let warm: u64 = std::env::var("SOAK_WARM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let e = env(DemoOptions::default());
    let parts = e.station.demo_parts().expect("demo mode");
    let data = parts.data_dir.clone();
    let printer = parts.printer_sim.clone();
    // One reader connection for the whole run, opened before the first count of descriptors.
    let db = rusqlite::Connection::open_with_flags(
        data.join("kiosk.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let k = &e.kiosk;
    let mut samples: Vec<Sample> = Vec::new();
    let start = Instant::now();
    for visit in 1..=visits {
        if let Err(err) = tour::to_confirmation(k).and_then(|()| tour::submit(k)) {
            panic!("visit {visit}: {err}");
        }
        printer.tear_off();
        if visit == 1 || visit == warm || visit % 1000 == 0 || visit == visits {
            // Every application delivered and purged before measuring.
            assert!(
                k.wait_until(WAIT, |_| outbox_counts(&db).0 == 0),
                "visit {visit}: applications still undelivered: {:?}",
                outbox_counts(&db)
            );
            assert_eq!(outbox_counts(&db).1, 0, "a delivered body was not purged");
            let s = Sample {
                visit,
                rss_kb: rss_kb(),
                fds: open_fds(),
                store_bytes: store_bytes(&data),
            };
            println!(
                "soak: visit {} rss_kb={} fds={} store_bytes={} (wal {}) elapsed_s={:.1} visits_per_s={:.2}",
                s.visit,
                s.rss_kb,
                s.fds,
                s.store_bytes,
                file_bytes(&data, "kiosk.sqlite3-wal"),
                start.elapsed().as_secs_f64(),
                visit as f64 / start.elapsed().as_secs_f64()
            );
            samples.push(s);
        }
    }
    let last = *samples.last().unwrap();
    let Some(warm) = samples.iter().find(|s| s.visit == warm).copied() else {
        println!("soak: {visits} visits do not reach the warm-up visit {warm}: nothing compared");
        return;
    };
    let runs = last.visit.saturating_sub(warm.visit).max(1);
    // Descriptors: none more after the last visit than after the warm-up. Visit 1 is not the
    // baseline: the first catalogue sync and the county link open and close connections then.
    // A connection of the outbox worker or the sync loop may be open at either sample (2).
    assert!(
        last.fds <= warm.fds + 2,
        "descriptors grew from {} to {}: {samples:?}",
        warm.fds,
        last.fds
    );
    // Memory: under 2 MB of growth from the warm-up to the last visit.
    assert!(
        last.rss_kb.saturating_sub(warm.rss_kb) < 2048,
        "RSS grew by {} kB from visit {} to {}: {samples:?}",
        last.rss_kb.saturating_sub(warm.rss_kb),
        warm.visit,
        last.visit
    );
    // Store: personal records purged (checked above); what stays per visit is the masked
    // summary of the cases page, well under 2 kB.
    let per_visit = last.store_bytes.saturating_sub(warm.store_bytes) / runs;
    println!(
        "soak: from visit {} to {}: rss +{} kB, fds {} -> {}, store grows {per_visit} bytes per visit (masked summaries)",
        warm.visit,
        last.visit,
        last.rss_kb.saturating_sub(warm.rss_kb),
        warm.fds,
        last.fds
    );
    assert!(per_visit < 2048, "{samples:?}");
}
