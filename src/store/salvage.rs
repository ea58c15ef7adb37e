//! Salvage (抢救) of a damaged store: copies every readable undelivered outbox row (pending and
//! needs attention) with its local case, and every readable rating waiting for its application's
//! case number (`waiting_evaluations`), into a fresh store, and lists what could not be read.
//!
//! A store that fails `PRAGMA quick_check` is refused at open ([`super::StoreError::Damaged`]),
//! which would strand the applications the screen already called accepted. Salvage reads a
//! *copy* of the damaged file (and its WAL), so the original stays untouched as evidence, and
//! reads it defensively: a table scan stops at the first damaged page, so row ids are gathered
//! from scans in both directions, from the indexes and from the local cases, then every id up
//! to the highest seen is looked up on its own (a lookup descends the b-tree and reaches the
//! intact leaves). Rows are copied byte for byte (same id, idempotency key and body), so the
//! county deduplicates a row it already has. Columns are matched by name, so a copy from an
//! older schema works as long as the fresh store's extra columns have defaults.
//!
//! Not copied: delivered rows (the county has them), the catalogue (import the bundle again)
//! and announcements (fetched again). Receipt counters are copied where readable and raised
//! above every receipt number read, so no receipt number is handed out twice.
//!
//! Ratings waiting for a case number (issue 14 #5) are undelivered too: the screen said the
//! rating was saved. They are found like outbox rows (scans both ways, the receipt and key
//! indexes, a lookup of every rowid and of every copied receipt) and copied byte for byte (same
//! receipt, key, level, comment, time) when their application's receipt lookup was copied, so
//! the fresh store releases them when the county confirms the application. A waiting rating
//! whose application did not make it is listed as unreadable with its receipt number.
//!
//! It must never write to the damaged file and never drop an undelivered row or waiting rating
//! silently: each is either in the fresh store or in [`Salvage::unreadable`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use super::{Store, StoreError};

/// What a salvage copied and what it could not read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvage {
    /// Undelivered rows now in the fresh store, by id.
    pub copied: Vec<SalvagedRow>,
    /// Rows (or parts of rows) that could not be read, with why.
    pub unreadable: Vec<Unreadable>,
    /// Ratings waiting for their case number now in the fresh store, by receipt number.
    pub waiting_ratings: Vec<String>,
    /// Delivered rows read and left behind (the county has them).
    pub delivered_left: u32,
    /// Whether the receipt counters could be read in full (else they were rebuilt from the
    /// receipt numbers read).
    pub counters_complete: bool,
}

/// One undelivered outbox row copied into the fresh store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvagedRow {
    pub id: i64,
    /// `application`, `evaluation` or `heartbeat`.
    pub kind: String,
    /// `pending` or `needs_attention`.
    pub state: String,
    /// The receipt number of an application (from its local case or its body).
    pub receipt_number: Option<String>,
    /// Whether its local case (receipt lookup) was copied too.
    pub local_case: bool,
}

/// Something the damaged store holds but salvage could not read. No personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The outbox row, when known.
    pub outbox_id: Option<i64>,
    /// What the indexes still tell about it.
    pub receipt_number: Option<String>,
    pub idempotency_key: Option<String>,
    /// `pending` or `needs_attention` as the state index says, if it still can.
    pub state: Option<String>,
    /// What was lost: the outbox entry, only its receipt lookup, or a waiting rating.
    pub part: LostPart,
    /// SQLite's words for what failed.
    pub detail: String,
}

/// Which part of an undelivered item could not be salvaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostPart {
    /// The outbox row itself.
    Entry,
    /// Only the application's local case (receipt lookup); the row itself was copied.
    ReceiptLookup,
    /// A rating waiting for its application's case number (`waiting_evaluations`).
    WaitingRating,
}

#[derive(Debug, thiserror::Error)]
pub enum SalvageError {
    #[error("cannot copy the damaged store {path} to work on: {source}")]
    Copy {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store {path} is too damaged to salvage ({detail}): its schema cannot be read; every confirmed case is at the county, undelivered applications in this file are lost"
    )]
    Schema { path: PathBuf, detail: String },
    #[error("{0} already exists; salvage writes only into a new file")]
    Exists(PathBuf),
    #[error("cannot create the fresh store: {0}")]
    Fresh(#[from] StoreError),
    #[error("writing the fresh store failed: {0}")]
    Write(#[from] rusqlite::Error),
}

/// Copies what can be read of the undelivered outbox of `damaged` into a new store at `fresh`
/// (which must not exist). `damaged` itself is not opened: a copy of it (and its `-wal`) in a
/// work directory next to `fresh` is.
pub fn salvage(damaged: &Path, fresh: &Path) -> Result<Salvage, SalvageError> {
    if fresh.exists() {
        return Err(SalvageError::Exists(fresh.to_path_buf()));
    }
    let work = WorkDir::copy_of(damaged, fresh)?;
    let src = open_source(&work.db).map_err(|detail| SalvageError::Schema {
        path: damaged.to_path_buf(),
        detail,
    })?;
    let mut dest = Store::open(fresh)?;
    let result = copy_undelivered(&src, &mut dest);
    drop(src);
    if result.is_err() {
        drop(dest);
        let _ = std::fs::remove_file(fresh);
    }
    result
}

/// Whether the store at `path` passes `PRAGMA quick_check` (read-only, on the file as it is).
pub fn passes_quick_check(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return false;
    };
    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
        .is_ok_and(|s| s == "ok")
}

/// A copy of the damaged file and its WAL, removed when dropped.
struct WorkDir {
    dir: PathBuf,
    db: PathBuf,
}

impl WorkDir {
    fn copy_of(damaged: &Path, fresh: &Path) -> Result<WorkDir, SalvageError> {
        let parent = fresh
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = parent.join(format!(".salvage-{}", std::process::id()));
        let copy = |from: &Path, to: &Path| {
            std::fs::copy(from, to).map_err(|source| SalvageError::Copy {
                path: from.to_path_buf(),
                source,
            })
        };
        std::fs::create_dir_all(&dir).map_err(|source| SalvageError::Copy {
            path: dir.clone(),
            source,
        })?;
        let work = WorkDir {
            db: dir.join("damaged.sqlite3"),
            dir,
        };
        copy(damaged, &work.db)?;
        let wal = sidecar(damaged, "-wal");
        if wal.exists() {
            copy(&wal, &sidecar(&work.db, "-wal"))?;
        }
        Ok(work)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `path` with `suffix` appended to its file name (`kiosk.sqlite3-wal`).
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn open_source(path: &Path) -> Result<Connection, String> {
    // Read-write on the copy: SQLite replays the WAL into its view of the file.
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(|e| e.to_string())?;
    let tables: Vec<String> = {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .map_err(|e| e.to_string())?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| e.to_string())?
    };
    if !tables.iter().any(|t| t == "outbox") {
        return Err("it has no outbox table".into());
    }
    Ok(conn)
}

/// Values read until the first error, and that error.
fn scan<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
) -> (Vec<(T, Option<String>)>, Option<String>) {
    let mut out = Vec::new();
    let mut st = match conn.prepare(sql) {
        Ok(st) => st,
        Err(e) => return (out, Some(e.to_string())),
    };
    let two = st.column_count() > 1;
    let mut rows = match st.query([]) {
        Ok(r) => r,
        Err(e) => return (out, Some(e.to_string())),
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let first = row.get::<_, T>(0);
                let second = if two {
                    row.get::<_, Option<String>>(1).ok().flatten()
                } else {
                    None
                };
                match first {
                    Ok(v) => out.push((v, second)),
                    Err(e) => return (out, Some(e.to_string())),
                }
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// One row as column name → value.
type Row = BTreeMap<String, Value>;

fn row_by(
    conn: &Connection,
    table: &str,
    column: &str,
    value: impl rusqlite::ToSql,
) -> Result<Option<Row>, String> {
    // A waiting rating is looked up with its rowid (its table's key is the receipt number).
    let sql = if table == "waiting_evaluations" {
        format!("SELECT rowid AS _rowid, * FROM {table} WHERE {column} = ?1")
    } else {
        format!("SELECT * FROM {table} WHERE {column} = ?1")
    };
    let mut st = conn.prepare(&sql).map_err(|e| e.to_string())?;
    let names: Vec<String> = st.column_names().map(str::to_string).collect();
    st.query_row([value], |r| {
        let mut row = Row::new();
        for (i, n) in names.iter().enumerate() {
            row.insert(n.clone(), r.get::<_, Value>(i)?);
        }
        Ok(row)
    })
    .optional()
    .map_err(|e| e.to_string())
}

fn text(row: &Row, column: &str) -> Option<String> {
    match row.get(column) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

fn columns(conn: &Connection, table: &str) -> Result<BTreeSet<String>, rusqlite::Error> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = st.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

/// Inserts the columns of `row` that `table` has in the destination.
fn insert(
    conn: &Connection,
    table: &str,
    dest_columns: &BTreeSet<String>,
    row: &Row,
    verb: &str,
) -> Result<(), rusqlite::Error> {
    let (names, values): (Vec<&String>, Vec<&Value>) = row
        .iter()
        .filter(|(k, _)| dest_columns.contains(*k))
        .unzip();
    let cols = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = (1..=names.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute(
        &format!("{verb} INTO {table} ({cols}) VALUES ({marks})"),
        params_from_iter(values),
    )?;
    Ok(())
}

/// `CG-20261128-0007` → (`20261128`, 7).
fn receipt_day_seq(receipt: &str) -> Option<(String, i64)> {
    let mut parts = receipt.rsplitn(3, '-');
    let seq = parts.next()?.parse().ok()?;
    let day = parts.next()?;
    (day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit())).then(|| (day.to_string(), seq))
}

/// Why a row that was read cannot be trusted, if it cannot.
fn implausible(row: &Row) -> Option<String> {
    let key = text(row, "idempotency_key").unwrap_or_default();
    if key.trim().is_empty() {
        return Some("the row was read but has no idempotency key".into());
    }
    match text(row, "body") {
        None => Some("the row was read but its body is missing".into()),
        Some(b) if serde_json::from_str::<serde_json::Value>(&b).is_err() => {
            Some("the row was read but its body is not valid JSON".into())
        }
        Some(_) => None,
    }
}

fn copy_undelivered(src: &Connection, dest: &mut Store) -> Result<Salvage, SalvageError> {
    let mut report = Salvage::default();
    // Every outbox id any structure still names, and what the indexes say about it.
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let mut listed: BTreeSet<i64> = BTreeSet::new();
    let mut key_of: BTreeMap<i64, String> = BTreeMap::new();
    let mut receipt_of: BTreeMap<i64, String> = BTreeMap::new();
    let mut state_of: BTreeMap<i64, String> = BTreeMap::new();
    for sql in [
        "SELECT id FROM outbox ORDER BY id",
        "SELECT id FROM outbox ORDER BY id DESC",
    ] {
        listed.extend(scan::<i64>(src, sql).0.into_iter().map(|(id, _)| id));
    }
    for sql in [
        "SELECT id, state FROM outbox INDEXED BY outbox_pending ORDER BY state, id",
        "SELECT id, state FROM outbox INDEXED BY outbox_pending ORDER BY state DESC, id DESC",
    ] {
        for (id, state) in scan::<i64>(src, sql).0 {
            listed.insert(id);
            if let Some(s) = state {
                state_of.insert(id, s);
            }
        }
    }
    for sql in [
        "SELECT id, idempotency_key FROM outbox INDEXED BY sqlite_autoindex_outbox_1 ORDER BY idempotency_key",
        "SELECT id, idempotency_key FROM outbox INDEXED BY sqlite_autoindex_outbox_1 ORDER BY idempotency_key DESC",
    ] {
        for (id, key) in scan::<i64>(src, sql).0 {
            listed.insert(id);
            if let Some(k) = key {
                key_of.insert(id, k);
            }
        }
    }
    for sql in [
        "SELECT outbox_id, receipt_number FROM local_cases ORDER BY receipt_number",
        "SELECT outbox_id, receipt_number FROM local_cases ORDER BY receipt_number DESC",
    ] {
        for (id, receipt) in scan::<i64>(src, sql).0 {
            listed.insert(id);
            if let Some(r) = receipt {
                receipt_of.insert(id, r);
            }
        }
    }
    ids.extend(listed.iter().copied());
    // Ids no structure names any more may still be in intact leaves: look each one up.
    let highest = ids.last().copied().unwrap_or(0);
    ids.extend(1..=highest.saturating_add(64));

    let outbox_cols = columns(dest.conn(), "outbox")?;
    let case_cols = columns(dest.conn(), "local_cases")?;
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    // Receipt numbers whose local case is in the fresh store (a waiting rating needs one).
    let mut cased: BTreeSet<String> = BTreeSet::new();
    let tx = dest.conn_mut().transaction()?;
    for id in ids {
        let row = match row_by(src, "outbox", "id", id) {
            Ok(Some(row)) => row,
            // The state index still says it was delivered: the county has it.
            Ok(None) | Err(_) if state_of.get(&id).is_some_and(|s| s == "delivered") => {
                report.delivered_left += 1;
                continue;
            }
            Ok(None) if !listed.contains(&id) => continue,
            Ok(None) => {
                report.unreadable.push(Unreadable {
                    outbox_id: Some(id),
                    receipt_number: receipt_of.get(&id).cloned(),
                    idempotency_key: key_of.get(&id).cloned(),
                    state: state_of.get(&id).cloned(),
                    part: LostPart::Entry,
                    detail: "an index names the row but the table has lost it".into(),
                });
                continue;
            }
            Err(detail) => {
                report.unreadable.push(Unreadable {
                    outbox_id: Some(id),
                    receipt_number: receipt_of.get(&id).cloned(),
                    idempotency_key: key_of.get(&id).cloned(),
                    state: state_of.get(&id).cloned(),
                    part: LostPart::Entry,
                    detail,
                });
                continue;
            }
        };
        let state = text(&row, "state").unwrap_or_default();
        if state == "delivered" {
            report.delivered_left += 1;
            continue;
        }
        if let Some(detail) = implausible(&row) {
            report.unreadable.push(Unreadable {
                outbox_id: Some(id),
                receipt_number: receipt_of.get(&id).cloned(),
                idempotency_key: key_of.get(&id).cloned(),
                state: Some(state.clone()),
                part: LostPart::Entry,
                detail,
            });
            continue;
        }
        let kind = text(&row, "kind").unwrap_or_default();
        insert(&tx, "outbox", &outbox_cols, &row, "INSERT")?;
        let mut receipt = text(&row, "body")
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("receipt_number")?.as_str().map(str::to_string));
        let mut local_case = false;
        if kind == "application" {
            match row_by(src, "local_cases", "outbox_id", id) {
                Ok(Some(case)) => {
                    insert(&tx, "local_cases", &case_cols, &case, "INSERT")?;
                    receipt = text(&case, "receipt_number").or(receipt);
                    local_case = true;
                    if let Some(r) = text(&case, "receipt_number") {
                        cased.insert(r);
                    }
                }
                Ok(None) => {}
                Err(detail) => report.unreadable.push(Unreadable {
                    outbox_id: Some(id),
                    receipt_number: receipt.clone(),
                    idempotency_key: text(&row, "idempotency_key"),
                    state: Some(state.clone()),
                    part: LostPart::ReceiptLookup,
                    detail,
                }),
            }
        }
        if let Some((day, seq)) = receipt.as_deref().and_then(receipt_day_seq) {
            let c = counters.entry(day).or_default();
            *c = (*c).max(seq);
        }
        report.copied.push(SalvagedRow {
            id,
            kind,
            state,
            receipt_number: receipt,
            local_case,
        });
    }
    copy_waiting_ratings(src, &tx, &cased, &mut report)?;
    // Receipt numbers: the counters where readable, raised above every receipt read (delivered
    // ones too), so a receipt number is never handed out twice.
    let (rows, failed) =
        scan::<String>(src, "SELECT day, CAST(last AS TEXT) FROM receipt_counters");
    report.counters_complete = failed.is_none();
    for (day, last) in rows {
        if let Some(last) = last.and_then(|l| l.parse::<i64>().ok()) {
            let c = counters.entry(day).or_default();
            *c = (*c).max(last);
        }
    }
    for receipt in receipt_of.values() {
        if let Some((day, seq)) = receipt_day_seq(receipt) {
            let c = counters.entry(day).or_default();
            *c = (*c).max(seq);
        }
    }
    for (day, last) in &counters {
        tx.execute(
            "INSERT INTO receipt_counters (day, last) VALUES (?1, ?2)
             ON CONFLICT (day) DO UPDATE SET last = max(last, excluded.last)",
            rusqlite::params![day, last],
        )?;
    }
    // The outbox's small settings (the person-tag salt), so tags of copied cases still match.
    if let Ok(meta_cols) = columns(&tx, "outbox_meta")
        && !meta_cols.is_empty()
    {
        for (key, _) in scan::<String>(src, "SELECT key FROM outbox_meta").0 {
            if let Ok(Some(row)) = row_by(src, "outbox_meta", "key", &key) {
                insert(&tx, "outbox_meta", &meta_cols, &row, "INSERT OR REPLACE")?;
            }
        }
    }
    tx.commit()?;
    Ok(report)
}

/// Why a waiting rating that was read cannot be trusted, if it cannot.
fn implausible_rating(row: &Row) -> Option<String> {
    if text(row, "idempotency_key").is_none_or(|k| k.trim().is_empty()) {
        return Some("the rating was read but has no idempotency key".into());
    }
    match row.get("level") {
        Some(Value::Integer(l)) if (1..=5).contains(l) => {}
        _ => return Some("the rating was read but its level is not 1 to 5".into()),
    }
    if text(row, "evaluated_at").is_none() {
        return Some("the rating was read but has no time".into());
    }
    None
}

/// One waiting rating by `column` with its rowid.
fn rating_by(
    conn: &Connection,
    column: &str,
    value: impl rusqlite::ToSql,
) -> Result<Option<(i64, Row)>, String> {
    match row_by(conn, "waiting_evaluations", column, value)? {
        None => Ok(None),
        Some(mut row) => match row.remove("_rowid") {
            Some(Value::Integer(rowid)) => Ok(Some((rowid, row))),
            _ => Err("the rating was read without its rowid".into()),
        },
    }
}

/// Copies the ratings waiting for a case number (`waiting_evaluations`) whose application's
/// local case is in the fresh store (receipt numbers in `cased`); lists every other one it
/// finds, read or only named by an index, as unreadable.
fn copy_waiting_ratings(
    src: &Connection,
    tx: &Connection,
    cased: &BTreeSet<String>,
    report: &mut Salvage,
) -> Result<(), SalvageError> {
    // Stores from before migration 5 have no such table: nothing waits.
    let has_table = src
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'waiting_evaluations'",
            [],
            |_| Ok(()),
        )
        .optional()
        .is_ok_and(|t| t.is_some());
    if !has_table {
        return Ok(());
    }
    // Every rowid any structure still names, with the receipt and key the indexes hold.
    let mut rowids: BTreeSet<i64> = BTreeSet::new();
    let mut receipt_at: BTreeMap<i64, String> = BTreeMap::new();
    let mut key_at: BTreeMap<i64, String> = BTreeMap::new();
    for sql in [
        "SELECT rowid, receipt_number FROM waiting_evaluations ORDER BY rowid",
        "SELECT rowid, receipt_number FROM waiting_evaluations ORDER BY rowid DESC",
        "SELECT rowid, receipt_number FROM waiting_evaluations INDEXED BY sqlite_autoindex_waiting_evaluations_1 ORDER BY receipt_number",
        "SELECT rowid, receipt_number FROM waiting_evaluations INDEXED BY sqlite_autoindex_waiting_evaluations_1 ORDER BY receipt_number DESC",
    ] {
        for (rowid, receipt) in scan::<i64>(src, sql).0 {
            rowids.insert(rowid);
            if let Some(r) = receipt {
                receipt_at.insert(rowid, r);
            }
        }
    }
    for sql in [
        "SELECT rowid, idempotency_key FROM waiting_evaluations INDEXED BY sqlite_autoindex_waiting_evaluations_2 ORDER BY idempotency_key",
        "SELECT rowid, idempotency_key FROM waiting_evaluations INDEXED BY sqlite_autoindex_waiting_evaluations_2 ORDER BY idempotency_key DESC",
    ] {
        for (rowid, key) in scan::<i64>(src, sql).0 {
            rowids.insert(rowid);
            if let Some(k) = key {
                key_at.insert(rowid, k);
            }
        }
    }
    // Read each rating by rowid (intact leaves past a damaged one), then by every receipt
    // copied or named (through the receipt index).
    let mut read: BTreeMap<i64, Row> = BTreeMap::new();
    let mut failed: BTreeMap<i64, String> = BTreeMap::new();
    let highest = rowids.last().copied().unwrap_or(0);
    for rowid in 1..=highest.saturating_add(64) {
        match rating_by(src, "rowid", rowid) {
            Ok(Some((rowid, row))) => {
                read.insert(rowid, row);
            }
            Ok(None) => {}
            Err(detail) => {
                failed.insert(rowid, detail);
            }
        }
    }
    let receipts: BTreeSet<&String> = cased.iter().chain(receipt_at.values()).collect();
    for receipt in receipts {
        if read
            .values()
            .any(|r| text(r, "receipt_number").as_ref() == Some(receipt))
        {
            continue;
        }
        if let Ok(Some((rowid, row))) = rating_by(src, "receipt_number", receipt) {
            read.insert(rowid, row);
        }
    }
    let cols = columns(tx, "waiting_evaluations")?;
    for row in read.values() {
        let lost = |detail: &str| Unreadable {
            outbox_id: None,
            receipt_number: text(row, "receipt_number"),
            idempotency_key: text(row, "idempotency_key"),
            state: None,
            part: LostPart::WaitingRating,
            detail: detail.to_string(),
        };
        match (implausible_rating(row), text(row, "receipt_number")) {
            (Some(detail), _) => report.unreadable.push(lost(&detail)),
            (None, Some(receipt)) if cased.contains(&receipt) => {
                insert(tx, "waiting_evaluations", &cols, row, "INSERT")?;
                report.waiting_ratings.push(receipt);
            }
            (None, _) => report.unreadable.push(lost(
                "the rating was read but its application (or its receipt lookup) was not salvaged",
            )),
        }
    }
    // Named by a scan or an index, or within their range and failing to read: never read.
    let missing: BTreeSet<i64> = rowids
        .iter()
        .copied()
        .chain(failed.keys().copied().filter(|r| *r <= highest))
        .filter(|r| !read.contains_key(r))
        .collect();
    for rowid in &missing {
        report.unreadable.push(Unreadable {
            outbox_id: None,
            receipt_number: receipt_at.get(rowid).cloned(),
            idempotency_key: key_at.get(rowid).cloned(),
            state: None,
            part: LostPart::WaitingRating,
            detail: failed
                .get(rowid)
                .cloned()
                .unwrap_or_else(|| "an index names the rating but the table has lost it".into()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_numbers_split_into_day_and_sequence() {
        assert_eq!(
            receipt_day_seq("CG-20261128-0007"),
            Some(("20261128".into(), 7))
        );
        assert_eq!(receipt_day_seq("CG-2026-0007"), None);
        assert_eq!(receipt_day_seq("nonsense"), None);
    }
}
