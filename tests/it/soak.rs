//! Soak (issue 14, "Prove it holds"): many villager visits through the real app on Slint's
//! testing backend with the real drivers: the demo card placed on the reader simulator (a
//! pty), the form filled and submitted, the receipt printed on the printer simulator (a pty),
//! the application sent through the real outbox to the embedded back office on loopback and its
//! personal record purged on delivery. Memory (RSS), open file descriptors and the store's size
//! are measured at visit 1, at the warm-up visit (`SOAK_WARM`, default 1,000), every 1,000
//! (`SOAK_EVERY`) and at the last one, and compared from the warm-up on. Each sample also prints
//! the allocator's bytes in use and free (`mallinfo2`) and SQLite's own memory, to tell a leak
//! from a cache filling up or fragmentation.
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

/// What the allocator holds for the process (glibc's `mallinfo2`): bytes in use (arena and
/// mmapped blocks) and bytes free inside the arenas, in kB. RSS minus the first is code, stacks,
/// mapped files and the allocator's free space; a growing second is fragmentation.
fn heap_kb() -> (u64, u64) {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { nix::libc::mallinfo2() };
    (
        (m.uordblks + m.hblkhd) as u64 / 1024,
        m.fordblks as u64 / 1024,
    )
}

/// The memory SQLite holds for every connection of the process (page caches, schema,
/// statements), in kB.
fn sqlite_kb() -> u64 {
    // SAFETY: a read of SQLite's global counter.
    (unsafe { rusqlite::ffi::sqlite3_memory_used() }).max(0) as u64 / 1024
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

/// The page cache this connection holds now, in KiB (`SQLITE_DBSTATUS_CACHE_USED`).
fn cache_used_kib(conn: &rusqlite::Connection) -> i64 {
    let (mut now, mut peak) = (0, 0);
    // SAFETY: the handle is the live connection's; the call only reads its counters.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
            &mut now,
            &mut peak,
            0,
        )
    };
    assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
    i64::from(now) / 1024
}

/// Writes about 4 MB into a scratch table over `conn` and reads all of it back, then returns
/// the connection's page cache in KiB: a cache without an explicit bound keeps SQLite's
/// default 2,000 KiB of it.
fn cache_after_reading_4_mb(conn: &rusqlite::Connection) -> i64 {
    conn.execute_batch(
        "CREATE TABLE scratch (b BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
         INSERT INTO scratch SELECT randomblob(1000) FROM n;",
    )
    .unwrap();
    let total: i64 = conn
        .query_row("SELECT sum(length(b)) FROM scratch", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 4_000_000);
    cache_used_kib(conn)
}

/// The kiosk's store and the (embedded) back office's SQLite database grow with every visit;
/// each connection's page cache stays within its explicit bound however big the file gets
/// (before: SQLite's default 2,000 KiB per connection, which the soak's RSS kept filling).
#[test]
fn sqlite_page_caches_stay_within_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = village_kiosk::store::Store::open_in(dir.path()).unwrap();
    let kiosk = cache_after_reading_4_mb(store.conn());
    assert!(
        kiosk <= village_kiosk::store::CACHE_KIB + 64,
        "the store's connection caches {kiosk} KiB"
    );
    let db = village_kiosk::backoffice::Db::open(&dir.path().join("backoffice.sqlite3")).unwrap();
    let county = cache_after_reading_4_mb(db.conn().as_sqlite().expect("SQLite"));
    assert!(
        county <= village_kiosk::backoffice::db::SQLITE_CACHE_KIB + 64,
        "the back office's connection caches {county} KiB"
    );
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
    // Sampled every this many visits besides the first, the warm-up and the last one
    // (`SOAK_EVERY`, default 1,000): a shorter interval shows where memory levels off.
    let every: u64 = std::env::var("SOAK_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
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
        if visit == 1 || visit == warm || visit % every == 0 || visit == visits {
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
            let (heap_in_use, heap_free) = heap_kb();
            println!(
                "soak: visit {} rss_kb={} heap_kb={heap_in_use} heap_free_kb={heap_free} sqlite_kb={} fds={} store_bytes={} (wal {}) elapsed_s={:.1} visits_per_s={:.2}",
                s.visit,
                s.rss_kb,
                sqlite_kb(),
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
