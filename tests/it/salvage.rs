//! `kiosk outbox salvage` (issue 14 #6) on stores damaged on purpose: pages of the file are
//! overwritten, the kiosk refuses the store, salvage copies every readable undelivered row
//! byte for byte into a fresh store and names the rows it could not read; likewise the ratings
//! waiting for a case number.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use chrono::{TimeZone, Utc};
use village_kiosk::county::outbox::{NewApplication, Outbox};
use village_kiosk::store::{STORE_FILE, Store, StoreError};

const PAGE: u64 = 4096;

fn app(i: u32) -> NewApplication {
    NewApplication {
        // A marker only the body carries, and enough text that a page holds two or three rows.
        fields: BTreeMap::from([
            ("marker".into(), format!("ROW-MARKER-{i:04}")),
            ("remarks".into(), "备注".repeat(200)),
        ]),
        ..crate::support::application(i)
    }
}

/// A row as the county would see it: key and exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    id: i64,
    key: String,
    body: String,
    state: String,
    receipt: String,
}

/// A store in `dir` with `n` applications; every fourth is delivered, every seventh needs
/// attention. Returns the rows by id.
fn fill(dir: &Path, n: u32) -> BTreeMap<i64, Sent> {
    let mut store = Store::open_in(dir).unwrap();
    // Freed space zeroed, so each marker is in one page only (the live row's).
    store
        .conn()
        .pragma_update(None, "secure_delete", "ON")
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
    for i in 0..n {
        Outbox::accept(&mut store, app(i), now).unwrap();
    }
    let conn = store.conn();
    conn.execute(
        "UPDATE outbox SET state = 'delivered', delivered_at = created_at WHERE id % 4 = 0",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE outbox SET state = 'needs_attention', last_error = 'HTTP 422' WHERE id % 7 = 0 AND state = 'pending'",
        [],
    )
    .unwrap();
    let rows = sent_rows(conn);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    rows
}

/// The page (0-based) holding `needle`, which must occur in exactly one page.
fn page_of(file: &Path, needle: &str) -> u64 {
    let bytes = std::fs::read(file).unwrap();
    let hits: BTreeSet<u64> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_bytes())
        .map(|(i, _)| i as u64 / PAGE)
        .collect();
    assert_eq!(hits.len(), 1, "{needle} in pages {hits:?}");
    *hits.iter().next().unwrap()
}

/// The ids whose body marker lies in `page`.
fn ids_in_page(file: &Path, page: u64, rows: &BTreeMap<i64, Sent>) -> BTreeSet<i64> {
    rows.keys()
        .copied()
        .filter(|id| page_of(file, &format!("ROW-MARKER-{:04}", id - 1)) == page)
        .collect()
}

fn overwrite_page(file: &Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(page * PAGE)).unwrap();
    // Not zeros (a zeroed page can look like a free one): a pattern no page type starts with.
    f.write_all(&[0xA5; PAGE as usize]).unwrap();
    f.sync_all().unwrap();
}

fn salvage_cmd(data: &Path) -> std::process::Output {
    let cfg = data.parent().unwrap().join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!("[data]\ndir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    Process::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("--config")
        .arg(&cfg)
        .args(["outbox", "salvage"])
        .output()
        .unwrap()
}

fn salvaged_rows(data: &Path) -> BTreeMap<i64, Sent> {
    let store = Store::open_in(data).expect("the salvaged store opens");
    sent_rows(store.conn())
}

/// Every outbox row with its receipt number, by id.
fn sent_rows(conn: &rusqlite::Connection) -> BTreeMap<i64, Sent> {
    let mut st = conn
        .prepare(
            "SELECT o.id, o.idempotency_key, o.body, o.state, c.receipt_number
             FROM outbox o JOIN local_cases c ON c.outbox_id = o.id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Sent {
            id: r.get(0)?,
            key: r.get(1)?,
            body: r.get(2)?,
            state: r.get(3)?,
            receipt: r.get(4)?,
        })
    })
    .unwrap()
    .map(|r| r.unwrap())
    .map(|s| (s.id, s))
    .collect()
}

fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

#[test]
fn salvage_copies_every_readable_undelivered_row_and_names_the_rest() {
    let (_dir, data) = data_dir();
    let rows = fill(&data, 40);
    let file = data.join(STORE_FILE);
    // Damage the table leaf that holds row 20 (the middle of the outbox).
    let page = page_of(&file, "ROW-MARKER-0019");
    let lost = ids_in_page(&file, page, &rows);
    assert!(!lost.is_empty() && lost.len() < 5, "{lost:?}");
    overwrite_page(&file, page);
    assert!(
        matches!(Store::open_in(&data), Err(StoreError::Damaged { .. })),
        "the damaged store is refused at open"
    );

    let out = salvage_cmd(&data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let undelivered: BTreeMap<i64, Sent> = rows
        .iter()
        .filter(|(_, s)| s.state != "delivered")
        .map(|(id, s)| (*id, s.clone()))
        .collect();
    let expected: BTreeMap<i64, Sent> = undelivered
        .iter()
        .filter(|(id, _)| !lost.contains(id))
        .map(|(id, s)| (*id, s.clone()))
        .collect();
    let got = salvaged_rows(&data);
    assert_eq!(got, expected, "same ids, keys, bodies, states and receipts");
    assert!(got.values().any(|s| s.state == "needs_attention"));

    // Every undelivered row on the damaged page is named, with its receipt number.
    let lost_undelivered: Vec<&Sent> = lost.iter().filter_map(|id| undelivered.get(id)).collect();
    for s in &lost_undelivered {
        assert!(
            stdout.contains(&format!("could not read: outbox entry {} ", s.id)),
            "{stdout}"
        );
        assert!(stdout.contains(&s.receipt), "{stdout}");
    }
    assert!(stdout.contains(&format!(
        "salvaged {} of {} undelivered entries",
        expected.len(),
        undelivered.len()
    )));
    assert!(
        !stdout.contains("王小明") && !stdout.contains("410329"),
        "{stdout}"
    );
    // The damaged file is kept beside the fresh one.
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
        .collect();
    assert!(!kept.is_empty(), "{stdout}");

    // No receipt number is handed out twice: the next one follows the highest ever issued.
    let mut store = Store::open_in(&data).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap();
    let next = Outbox::accept(&mut store, app(99), now).unwrap();
    assert_eq!(next.receipt_number, "CG-20261201-0041");
}

#[test]
fn salvage_of_a_damaged_index_loses_nothing() {
    let (_dir, data) = data_dir();
    let rows = fill(&data, 12);
    let file = data.join(STORE_FILE);
    // The idempotency keys' unique index: damage its page (keys are also in the table's rows,
    // so find the page by a key that is in exactly one index page).
    let conn = rusqlite::Connection::open(&file).unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_outbox_1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    overwrite_page(&file, root as u64 - 1);
    assert!(matches!(
        Store::open_in(&data),
        Err(StoreError::Damaged { .. })
    ));
    let out = salvage_cmd(&data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let expected: BTreeMap<i64, Sent> = rows
        .into_iter()
        .filter(|(_, s)| s.state != "delivered")
        .collect();
    assert_eq!(salvaged_rows(&data), expected);
}

#[test]
fn salvage_leaves_a_healthy_store_alone() {
    let (_dir, data) = data_dir();
    fill(&data, 3);
    let before = std::fs::read(data.join(STORE_FILE)).unwrap();
    let out = salvage_cmd(&data);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to salvage"));
    assert_eq!(std::fs::read(data.join(STORE_FILE)).unwrap(), before);
}

/// A rating waiting for its case number, as `waiting_evaluations` holds it.
type Waiting = (String, String, i64, Option<String>, String);

fn waiting_rows(conn: &rusqlite::Connection) -> BTreeSet<Waiting> {
    let mut st = conn
        .prepare(
            "SELECT receipt_number, idempotency_key, level, comment, evaluated_at
             FROM waiting_evaluations",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// Rates (好差评) the first `n` undelivered applications of `rows` while they wait for their case
/// number; returns the ratings as stored.
fn rate_waiting(data: &Path, rows: &BTreeMap<i64, Sent>, n: usize) -> BTreeSet<Waiting> {
    use village_kiosk::county::outbox::QueuedEvaluation;
    let mut store = Store::open_in(data).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap();
    for (i, s) in rows
        .values()
        .filter(|s| s.state != "delivered")
        .take(n)
        .enumerate()
    {
        let level = u8::try_from(i % 5 + 1).unwrap();
        let queued =
            Outbox::evaluate_receipt(&mut store, &s.receipt, level, Some("很好".into()), now)
                .unwrap();
        assert!(matches!(queued, QueuedEvaluation::WaitingForCase { .. }));
    }
    let waiting = waiting_rows(store.conn());
    assert_eq!(waiting.len(), n);
    store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    waiting
}

fn root_page(file: &Path, name: &str) -> u64 {
    let conn = rusqlite::Connection::open(file).unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    u64::try_from(root).unwrap() - 1
}

/// One of the ratings tests: a store of 12 applications with 3 ratings waiting for their case
/// number, damaged in the root page of `damaged` (a table or index) so the kiosk refuses it,
/// then salvaged: the temporary directory (keep it bound), the data directory, the rows, the
/// ratings and what `kiosk outbox salvage` said.
struct RatingsSalvage {
    _dir: tempfile::TempDir,
    data: PathBuf,
    rows: BTreeMap<i64, Sent>,
    waiting: BTreeSet<Waiting>,
    out: std::process::Output,
}

fn salvage_with_ratings_damaged_at(damaged: &str) -> RatingsSalvage {
    let (dir, data) = data_dir();
    let rows = fill(&data, 12);
    let waiting = rate_waiting(&data, &rows, 3);
    let file = data.join(STORE_FILE);
    overwrite_page(&file, root_page(&file, damaged));
    assert!(matches!(
        Store::open_in(&data),
        Err(StoreError::Damaged { .. })
    ));
    let out = salvage_cmd(&data);
    RatingsSalvage {
        _dir: dir,
        data,
        rows,
        waiting,
        out,
    }
}

#[test]
fn salvage_copies_the_ratings_waiting_for_a_case_number() {
    // Damage the outbox's key index: every row is still readable, and so is every rating.
    let RatingsSalvage {
        _dir,
        data,
        waiting,
        out,
        ..
    } = salvage_with_ratings_damaged_at("sqlite_autoindex_outbox_1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("salvaged 3 of 3 ratings waiting for their case number"),
        "{stdout}"
    );
    let store = Store::open_in(&data).expect("the salvaged store opens");
    assert_eq!(
        waiting_rows(store.conn()),
        waiting,
        "same receipts, keys, levels, comments and times"
    );
    assert!(!stdout.contains("很好"), "{stdout}");
}

#[test]
fn salvage_names_the_waiting_ratings_it_cannot_read() {
    // Damage the ratings' table: the receipt index still names each one.
    let RatingsSalvage {
        _dir,
        data,
        rows,
        waiting,
        out,
    } = salvage_with_ratings_damaged_at("waiting_evaluations");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    for (receipt, ..) in &waiting {
        assert!(
            stdout.contains(&format!(
                "could not read: rating waiting for receipt {receipt} "
            )),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("salvaged 0 of 3 ratings waiting for their case number"),
        "{stdout}"
    );
    // The applications themselves are all there.
    let expected: BTreeMap<i64, Sent> = rows
        .into_iter()
        .filter(|(_, s)| s.state != "delivered")
        .collect();
    assert_eq!(salvaged_rows(&data), expected);
}
