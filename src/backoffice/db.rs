//! The back office's database: cases and their timelines, idempotency records, evaluations,
//! heartbeats (the station ledger), person-lookup grants and the county's secrets (person-key
//! salt, bundle signing key).
//!
//! An SQLite file by default (synchronous rusqlite, WAL + `synchronous=FULL`: an answer the
//! county gave is on disk; the staff commands open the same file while the server runs), or a
//! PostgreSQL database when the `--db` argument is a `postgres://` URL (through [`super::sql`];
//! several back-office processes may share it). Idempotency is the database's: a submission's
//! key is claimed by inserting it, first thing in the transaction that creates the case, so
//! two processes racing on one key create one case. No HTTP here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sql::{self, Conn, OptionalExtension, params};
use chrono::{DateTime, Utc};

use crate::county::wire::{self, CaseStatus, CaseView, TimelineEntry};
use crate::pii::{PiiKind, mask};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the back office database {path}: {source}")]
    Open { path: PathBuf, source: sql::Error },
    /// `--db postgres://...`: the server cannot be reached, or the URL is not one.
    #[error("cannot open the back office database: {source}")]
    Connect { url: String, source: sql::Error },
    #[error("no case {0}")]
    NoCase(String),
    #[error("case {case} is {from}; it cannot move to {to}")]
    BadTransition {
        case: String,
        from: CaseStatus,
        to: CaseStatus,
    },
    #[error("moving a case to {0} needs --note ({1})")]
    NoteRequired(CaseStatus, &'static str),
    #[error("database: {0}")]
    Sql(#[from] sql::Error),
    #[error("the database thread failed: {0}")]
    Worker(String),
    #[error("cannot create the back office database {path} (mode 0600): {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    case_number     TEXT PRIMARY KEY,
    station_id      TEXT NOT NULL,
    receipt_number  TEXT NOT NULL,
    item_code       TEXT NOT NULL,
    item_name       TEXT NOT NULL,
    applicant_name  TEXT NOT NULL,
    id_number       TEXT NOT NULL,
    phone           TEXT,
    person_key      TEXT NOT NULL,
    fields          TEXT NOT NULL,
    status          TEXT NOT NULL,
    rejection_reason TEXT,
    collection_window TEXT,
    applied_at      TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_person ON cases (person_key);
CREATE INDEX IF NOT EXISTS cases_station ON cases (station_id);
CREATE TABLE IF NOT EXISTS case_events (
    id          INTEGER PRIMARY KEY,
    case_number TEXT NOT NULL REFERENCES cases (case_number),
    status      TEXT NOT NULL,
    note        TEXT,
    at          TEXT NOT NULL
);
-- The English form of a step's note (a rejection reason, a collection window) when staff gave
-- one; a table of its own so databases made before it need no column added.
CREATE TABLE IF NOT EXISTS case_event_en (
    event_id INTEGER PRIMARY KEY REFERENCES case_events (id),
    note_en  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    idempotency_key TEXT PRIMARY KEY,
    station_id      TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    status_code     INTEGER NOT NULL,
    response        TEXT NOT NULL,
    case_number     TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    station_id      TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    case_number     TEXT NOT NULL,
    level           INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    comment         TEXT,
    evaluated_at    TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stations (
    station_id       TEXT PRIMARY KEY,
    last_seen        TEXT NOT NULL,
    software_version TEXT NOT NULL,
    reader_ok        INTEGER NOT NULL,
    reader_detail    TEXT,
    printer_ok       INTEGER NOT NULL,
    printer_detail   TEXT,
    paper            TEXT NOT NULL,
    queue_length     INTEGER NOT NULL,
    last_errors      TEXT NOT NULL,
    clock_skew_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS person_cards (
    person_key  TEXT NOT NULL,
    card_key    TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    PRIMARY KEY (person_key, card_key)
);

-- 帮办代办: the masked agent of a case filed by a helper (one row per such case).
CREATE TABLE IF NOT EXISTS case_agents (
    case_number      TEXT PRIMARY KEY REFERENCES cases (case_number),
    name_masked      TEXT NOT NULL,
    id_number_masked TEXT NOT NULL,
    relationship     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    station_id  TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (station_id, person_key)
);
";

impl DbError {
    /// True when the database is unreachable for now (PostgreSQL down or restarting): worth
    /// a retry, not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sql(e) | DbError::Connect { source: e, .. } => e.is_unavailable(),
            _ => false,
        }
    }
}

/// The JSON name of a relationship (`coordinator`, `child`, …), as stored.
fn relationship_key(r: wire::AgentRelationship) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// 64 lower- or upper-case hex digits.
pub fn is_card_key(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// A new case: the answer to send (and to replay).
    Created { status: u16, response: String },
    /// The same key and body again: the stored answer.
    Replayed { status: u16, response: String },
    /// The same key with a different body (or from another station).
    KeyReused,
}

/// One line of the station ledger (站点台账).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationRow {
    pub station_id: String,
    pub last_seen: DateTime<Utc>,
    pub software_version: String,
    pub reader_ok: bool,
    pub reader_detail: Option<String>,
    pub printer_ok: bool,
    pub printer_detail: Option<String>,
    pub paper: String,
    pub queue_length: i64,
    pub last_errors: Vec<String>,
    pub clock_skew_ms: i64,
}

impl StationRow {
    pub fn online(&self, now: DateTime<Utc>, offline_after: Duration) -> bool {
        (now - self.last_seen).to_std().unwrap_or(Duration::ZERO) <= offline_after
    }

    /// Faults in one line, empty when none.
    pub fn faults(&self) -> String {
        let mut f = Vec::new();
        if !self.reader_ok {
            f.push(format!(
                "reader: {}",
                self.reader_detail.as_deref().unwrap_or("fault")
            ));
        }
        if !self.printer_ok {
            f.push(format!(
                "printer: {}",
                self.printer_detail.as_deref().unwrap_or("fault")
            ));
        }
        if self.paper == "out" || self.paper == "low" {
            f.push(format!("paper {}", self.paper));
        }
        if self.clock_skew_ms.abs() > 120_000 {
            f.push(format!("clock off by {} s", self.clock_skew_ms / 1000));
        }
        f.join("; ")
    }
}

/// Creates the database file readable and writable by its owner only (0600) when it does not
/// exist yet, whatever the umask; SQLite gives the WAL and shared-memory files the same mode.
fn create_private(path: &Path) -> Result<(), DbError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(DbError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The back office's database.
#[derive(Debug)]
pub struct Db {
    conn: Conn,
}

/// The advisory lock the schema is created under (PostgreSQL): "VKBO" in ASCII.
const SCHEMA_LOCK: i64 = 0x564B_424F;

/// Every table of the back office, created when the database opens (under the schema lock).
fn ensure_schema(conn: &Conn) -> Result<(), sql::Error> {
    conn.with_global_lock(SCHEMA_LOCK, |c| {
        c.execute_batch(SCHEMA)?;
        c.execute_batch(super::public::SCHEMA)?;
        c.execute_batch(super::notices::SCHEMA)?;
        c.execute_batch(super::contact::SCHEMA)?;
        super::staff::ensure_schema(c)?;
        c.execute_batch(super::ledger::SCHEMA)?;
        c.execute_batch(super::publish::SCHEMA)?;
        c.execute_batch(super::update::SCHEMA)
    })
}

/// The page cache of each connection to an SQLite database, in KiB (`PRAGMA cache_size`;
/// SQLite's default is 2,000 KiB). The database grows with every application, and a cache
/// keeps every page it read until it is full: the bound keeps a demo kiosk's embedded back
/// office (in the kiosk's own memory) from taking 2 MB per connection over a long day
/// (the soak, issue 14). The operating system caches the file as well.
pub const SQLITE_CACHE_KIB: i64 = 1024;

/// How many connections `serve` keeps to a PostgreSQL database unless `--db-connections`
/// says otherwise. SQLite always has one (it has a single writer anyway).
pub const DEFAULT_DB_CONNECTIONS: usize = 4;

/// The connections one `serve` process works through: several to PostgreSQL, so requests
/// don't queue behind one connection's lock, or the one to SQLite. Each connection is behind
/// its own lock; correctness across connections (and processes) is the database's: the
/// idempotency claim, the locked counter and case rows.
#[derive(Debug)]
pub struct DbPool {
    slots: Vec<std::sync::Mutex<Db>>,
    next: std::sync::atomic::AtomicUsize,
}

impl DbPool {
    /// Opens [`Db::open`]'s database with up to `connections` connections (at least one;
    /// exactly one for SQLite).
    pub fn open(path: &Path, connections: usize) -> Result<DbPool, DbError> {
        let first = Db::open(path)?;
        let mut slots = vec![first];
        if let Some(url) = path.to_str().filter(|p| sql::is_postgres_url(p)) {
            for _ in 1..connections {
                let conn = Conn::postgres(url).map_err(|source| DbError::Connect {
                    url: sql::redact_url(url),
                    source,
                })?;
                slots.push(Db { conn });
            }
        }
        Ok(DbPool {
            slots: slots.into_iter().map(std::sync::Mutex::new).collect(),
            next: Default::default(),
        })
    }

    /// How many connections the pool has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Never: a pool has at least one connection.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A free connection, or (all busy) waits for one, taking them in turn.
    pub fn lock(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, Db>> {
        use std::sync::TryLockError;
        let n = self.slots.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n;
        for i in 0..n {
            match self.slots[(start + i) % n].try_lock() {
                Ok(guard) => return Ok(guard),
                Err(TryLockError::Poisoned(p)) => return Err(p),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.slots[start].lock()
    }
}

impl Db {
    /// Opens the database `--db` names: a `postgres://` (or `postgresql://`) URL, or the path
    /// of an SQLite file (created, mode 0600, when missing).
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if let Some(url) = path.to_str().filter(|p| sql::is_postgres_url(p)) {
            let connect_err = |source| DbError::Connect {
                url: sql::redact_url(url),
                source,
            };
            let conn = Conn::postgres(url).map_err(connect_err)?;
            ensure_schema(&conn).map_err(connect_err)?;
            return Ok(Db { conn });
        }
        let open_err = |source: sql::Error| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        create_private(path)?;
        let conn = rusqlite::Connection::open(path).map_err(|e| open_err(e.into()))?;
        // The busy timeout first: switching to WAL takes a lock, and a second process (a
        // staff command beside a starting server) must wait for it, not fail.
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_err(e.into()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_err(e.into()))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_err(e.into()))?;
        // Negative: a size in KiB, not in pages.
        conn.pragma_update(None, "cache_size", -SQLITE_CACHE_KIB)
            .map_err(|e| open_err(e.into()))?;
        let conn = Conn::sqlite(conn);
        ensure_schema(&conn).map_err(open_err)?;
        Ok(Db { conn })
    }

    /// Runs `f` (database work at start-up) where the PostgreSQL client may block: on a
    /// thread of its own when called on a tokio runtime's thread, which must not block on
    /// another runtime.
    pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        if tokio::runtime::Handle::try_current().is_err() {
            return f();
        }
        std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    /// [`Db::open`] from async code (see [`Db::off_runtime`]).
    pub fn open_off_runtime(path: &Path) -> Result<Db, DbError> {
        Db::off_runtime(|| Db::open(path))
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// A secret in `meta`, created with `generate` on first use.
    pub fn secret(&self, key: &str, generate: impl FnOnce() -> String) -> Result<String, DbError> {
        if let Some(v) = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?
        {
            return Ok(v);
        }
        let v = generate();
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![key, v],
        )?;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })?)
    }

    /// The salt of person keys (hex), created on first use.
    pub fn person_key_salt(&self) -> Result<Vec<u8>, DbError> {
        let hexed = self.secret(
            "person_key_salt",
            || hex::encode(rand::random::<[u8; 32]>()),
        )?;
        Ok(hex::decode(hexed).unwrap_or_default())
    }

    /// The stored answer for (station, key, body hash), or `KeyReused`, or `None` when the key is
    /// new. The handler asks this before validating, so a retry is always a replay.
    pub fn replay(
        &self,
        station_id: &str,
        idempotency_key: &str,
        body_sha256: &str,
    ) -> Result<Option<SubmitOutcome>, DbError> {
        let existing: Option<(String, String, u16, String)> = self
            .conn
            .query_row(
                "SELECT station_id, body_sha256, status_code, response FROM submissions
                 WHERE idempotency_key = ?1",
                params![idempotency_key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(existing.map(|(station, hash, status, response)| {
            if station == station_id && hash == body_sha256 {
                SubmitOutcome::Replayed { status, response }
            } else {
                SubmitOutcome::KeyReused
            }
        }))
    }

    /// Records a submission under its idempotency key, creating the case, in one transaction;
    /// or replays the stored answer; or reports a reused key.
    pub fn submit(
        &mut self,
        station_id: &str,
        idempotency_key: &str,
        body_sha256: &str,
        sub: &wire::ApplicationSubmission,
        now: DateTime<Utc>,
    ) -> Result<SubmitOutcome, DbError> {
        let salt = self.person_key_salt()?;
        let tx = self.conn.transaction()?;
        // The claim: the key's row, inserted first. A second process racing on the same key
        // waits on it (PostgreSQL) or on the write lock (SQLite) and then finds it taken.
        let claimed = tx.execute(
            "INSERT INTO submissions (idempotency_key, station_id, body_sha256, status_code, response, case_number, at)
             VALUES (?1, ?2, ?3, 0, '', '', ?4) ON CONFLICT (idempotency_key) DO NOTHING",
            params![idempotency_key, station_id, body_sha256, ts(now)],
        )?;
        if claimed == 0 {
            let (station, hash, status, response): (String, String, u16, String) = tx.query_row(
                "SELECT station_id, body_sha256, status_code, response FROM submissions
                 WHERE idempotency_key = ?1",
                params![idempotency_key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            return Ok(if station == station_id && hash == body_sha256 {
                SubmitOutcome::Replayed { status, response }
            } else {
                SubmitOutcome::KeyReused
            });
        }
        let day = now.format("%Y%m%d").to_string();
        let seq: i64 = tx.query_row(
            "INSERT INTO counters (name, last) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET last = counters.last + 1 RETURNING last",
            params![format!("case-{day}")],
            |r| r.get(0),
        )?;
        let case_number = format!("XQ-{day}-{seq:06}");
        tx.execute(
            "INSERT INTO cases (case_number, station_id, receipt_number, item_code, item_name,
                applicant_name, id_number, phone, person_key, fields, status, applied_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'received', ?11, ?12)",
            params![
                case_number,
                station_id,
                sub.receipt_number,
                sub.item_code,
                sub.item_name,
                sub.applicant.name,
                sub.applicant.id_number,
                sub.applicant.phone,
                crate::county::person_key(&salt, &sub.applicant.id_number),
                serde_json::to_string(&sub.fields).unwrap_or_else(|_| "{}".into()),
                ts(sub.accepted_at),
                ts(now)
            ],
        )?;
        if let Some(agent) = &sub.agent {
            tx.execute(
                "INSERT INTO case_agents (case_number, name_masked, id_number_masked, relationship)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    case_number,
                    agent.name_masked,
                    agent.id_number_masked,
                    relationship_key(agent.relationship)
                ],
            )?;
        }
        super::contact::record(
            &tx,
            &crate::county::person_key(&salt, &sub.applicant.id_number),
            sub.applicant.phone.as_deref(),
            sub.keep_phone,
            now,
        )?;
        tx.execute(
            "INSERT INTO case_events (case_number, status, note, at) VALUES (?1, 'received', NULL, ?2)",
            params![case_number, ts(now)],
        )?;
        if let Some(card_key) = sub.card_key.as_deref().filter(|k| is_card_key(k)) {
            tx.execute(
                "INSERT INTO person_cards (person_key, card_key, enrolled_at)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![
                    crate::county::person_key(&salt, &sub.applicant.id_number),
                    card_key.to_ascii_lowercase(),
                    ts(now)
                ],
            )?;
        }
        let progress_token = super::public::issue_token(&tx, &case_number, now, rand::random())?;
        let receipt = wire::SubmissionReceipt {
            case_number: case_number.clone(),
            receipt_number: sub.receipt_number.clone(),
            status: CaseStatus::Received,
            received_at: now,
            progress_token: Some(progress_token),
        };
        let response = serde_json::to_string(&receipt).unwrap_or_default();
        tx.execute(
            "UPDATE submissions SET status_code = 201, response = ?2, case_number = ?3
             WHERE idempotency_key = ?1",
            params![idempotency_key, response, case_number],
        )?;
        tx.commit()?;
        Ok(SubmitOutcome::Created {
            status: 201,
            response,
        })
    }

    /// A case with its timeline, and who may see it: (view, station id, person key).
    /// The agent (代办人) who filed `case_number`, if a helper filed it.
    pub fn agent_of(&self, case_number: &str) -> Result<Option<wire::Agent>, DbError> {
        let row = self
            .conn
            .query_row(
                "SELECT name_masked, id_number_masked, relationship FROM case_agents
                 WHERE case_number = ?1",
                params![case_number],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(name_masked, id_number_masked, rel)| {
            let relationship = wire::AgentRelationship::ALL
                .into_iter()
                .find(|r| relationship_key(*r) == rel)?;
            Some(wire::Agent {
                name_masked,
                id_number_masked,
                relationship,
            })
        }))
    }

    pub fn case(&self, case_number: &str) -> Result<Option<(CaseView, String, String)>, DbError> {
        let row = self
            .conn
            .query_row(
                "SELECT case_number, receipt_number, station_id, item_code, item_name,
                        applicant_name, status, rejection_reason, collection_window, person_key
                 FROM cases WHERE case_number = ?1",
                params![case_number],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, String>(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((case_number, receipt, station, code, item, name, status, reason, window, pk)) =
            row
        else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.status, e.note, e.at, en.note_en FROM case_events e
             LEFT JOIN case_event_en en ON en.event_id = e.id
             WHERE e.case_number = ?1 ORDER BY e.id",
        )?;
        let timeline = stmt
            .query_map(params![case_number], |r| {
                Ok(TimelineEntry {
                    status: r
                        .get::<_, String>(0)?
                        .parse()
                        .unwrap_or(CaseStatus::Received),
                    note: r.get(1)?,
                    at: parse_ts(&r.get::<_, String>(2)?),
                    note_en: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // The English of the reason and the window: that of the step which set them.
        let english_of = |status: CaseStatus| {
            timeline
                .iter()
                .rev()
                .find(|e| e.status == status)
                .and_then(|e| e.note_en.clone())
        };
        let rejection_reason_en = reason.as_ref().and(english_of(CaseStatus::Rejected));
        let collection_window_en = window
            .as_ref()
            .and(english_of(CaseStatus::ReadyForCollection));
        Ok(Some((
            CaseView {
                case_number,
                receipt_number: receipt,
                station_id: station.clone(),
                item_code: code,
                item_name: item,
                applicant_name_masked: mask(&name, PiiKind::Name),
                status: status.parse().unwrap_or(CaseStatus::Received),
                rejection_reason: reason,
                rejection_reason_en,
                collection_window: window,
                collection_window_en,
                timeline,
            },
            station,
            pk,
        )))
    }

    /// Case numbers, newest first; filtered by status or station when given.
    pub fn case_numbers(
        &self,
        status: Option<CaseStatus>,
        station: Option<&str>,
        person_key: Option<&str>,
    ) -> Result<Vec<String>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT case_number FROM cases
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR station_id = ?2)
               AND (?3 IS NULL OR person_key = ?3)
             ORDER BY received_at DESC, case_number DESC",
        )?;
        let rows = stmt.query_map(
            params![status.map(|s| s.as_str()), station, person_key],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// County staff move a case on, recorded as done by `cli` (the command line without
    /// `--operator`); see [`Db::advance_as`].
    pub fn advance(
        &mut self,
        case_number: &str,
        to: CaseStatus,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CaseView, DbError> {
        self.advance_as(case_number, to, note, None, "cli", now)
    }

    /// The one place a case's status changes. `note` is the reason for `rejected` and the
    /// window for `ready_for_collection` (both required); `note_en` its English form for the
    /// kiosk's English UI (optional, only with a note). The audit row (who: `actor`, when:
    /// `now`) is written in the same transaction; whatever else must happen on a status change
    /// (a result notice, …) hooks in beside it.
    pub fn advance_as(
        &mut self,
        case_number: &str,
        to: CaseStatus,
        note: Option<&str>,
        note_en: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CaseView, DbError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let note_en = note_en.map(str::trim).filter(|n| !n.is_empty());
        if note_en.is_some() && note.is_none() {
            return Err(DbError::NoteRequired(
                to,
                "the Chinese the English note translates",
            ));
        }
        let tx = self.conn.transaction()?;
        // PostgreSQL: the case's row locked, so two processes cannot both move it from the
        // same status (SQLite's write lock does that already).
        let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
        let from: String = tx
            .query_row(
                &format!("SELECT status FROM cases WHERE case_number = ?1{lock}"),
                params![case_number],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DbError::NoCase(case_number.to_string()))?;
        let from: CaseStatus = from.parse().unwrap_or(CaseStatus::Received);
        if !from.may_advance_to(to) {
            return Err(DbError::BadTransition {
                case: case_number.to_string(),
                from,
                to,
            });
        }
        match (to, note) {
            (CaseStatus::Rejected, None) => {
                return Err(DbError::NoteRequired(
                    to,
                    "the reason the applicant is told",
                ));
            }
            (CaseStatus::ReadyForCollection, None) => {
                return Err(DbError::NoteRequired(
                    to,
                    "the window where the result waits",
                ));
            }
            _ => {}
        }
        tx.execute(
            "UPDATE cases SET status = ?2,
                 rejection_reason = CASE WHEN ?2 = 'rejected' THEN ?3 ELSE rejection_reason END,
                 collection_window = CASE WHEN ?2 = 'ready_for_collection' THEN ?3 ELSE collection_window END
             WHERE case_number = ?1",
            params![case_number, to.as_str(), note],
        )?;
        tx.execute(
            "INSERT INTO case_events (case_number, status, note, at) VALUES (?1, ?2, ?3, ?4)",
            params![case_number, to.as_str(), note, ts(now)],
        )?;
        if let Some(en) = note_en {
            tx.execute(
                "INSERT INTO case_event_en (event_id, note_en) VALUES (?1, ?2)",
                params![tx.last_insert_rowid()?, en],
            )?;
        }
        super::staff::cases::record_audit(&tx, case_number, from, to, note, actor, now)?;
        super::notices::enqueue(&tx, case_number, to, note, now)?;
        tx.commit()?;
        self.case(case_number)?
            .map(|(v, _, _)| v)
            .ok_or_else(|| DbError::NoCase(case_number.to_string()))
    }

    /// Checks `card_key` against the cards on record for `person_key`: true when it is one of
    /// them, or when none is on record yet (then it is enrolled: trust on first use).
    pub fn check_card(
        &mut self,
        person_key: &str,
        card_key: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let tx = self.conn.transaction()?;
        let known: Vec<String> = {
            let mut stmt = tx.prepare("SELECT card_key FROM person_cards WHERE person_key = ?1")?;
            stmt.query_map(params![person_key], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let ok = if known.is_empty() {
            tx.execute(
                "INSERT INTO person_cards (person_key, card_key, enrolled_at) VALUES (?1, ?2, ?3)",
                params![person_key, card_key, ts(now)],
            )?;
            true
        } else {
            known.iter().any(|k| k == card_key)
        };
        tx.commit()?;
        Ok(ok)
    }

    /// Lets `station` see the cases of `person_key` until `until` (after a card read there).
    pub fn grant(
        &self,
        station: &str,
        person_key: &str,
        until: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.conn.execute(
            "INSERT INTO grants (station_id, person_key, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (station_id, person_key) DO UPDATE SET expires_at = excluded.expires_at",
            params![station, person_key, ts(until)],
        )?;
        Ok(())
    }

    pub fn has_grant(
        &self,
        station: &str,
        person_key: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let until: Option<String> = self
            .conn
            .query_row(
                "SELECT expires_at FROM grants WHERE station_id = ?1 AND person_key = ?2",
                params![station, person_key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(until.is_some_and(|u| parse_ts(&u) > now))
    }

    /// Records an evaluation under its key: `Ok(Some(id))` new or replayed, `Ok(None)` when the
    /// key was used for a different body.
    pub fn evaluate(
        &mut self,
        station: &str,
        idempotency_key: &str,
        body_sha256: &str,
        e: &wire::Evaluation,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, DbError> {
        // The key claimed by the insert: a second process racing on it inserts nothing.
        let inserted: Option<i64> = self
            .conn
            .query_row(
                "INSERT INTO evaluations (idempotency_key, station_id, body_sha256, case_number,
                     level, comment, evaluated_at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                params![
                    idempotency_key,
                    station,
                    body_sha256,
                    e.case_number,
                    e.level,
                    e.comment,
                    ts(e.evaluated_at),
                    ts(now)
                ],
                |r| r.get(0),
            )
            .optional()?;
        if inserted.is_some() {
            return Ok(inserted);
        }
        let (id, st, hash): (i64, String, String) = self.conn.query_row(
            "SELECT id, station_id, body_sha256 FROM evaluations WHERE idempotency_key = ?1",
            params![idempotency_key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok((st == station && hash == body_sha256).then_some(id))
    }

    /// Evaluations of a case: (level, comment).
    pub fn evaluations(&self, case_number: &str) -> Result<Vec<(u8, Option<String>)>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT level, comment FROM evaluations WHERE case_number = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![case_number], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a heartbeat in the station ledger.
    pub fn heartbeat(
        &self,
        station: &str,
        hb: &wire::Heartbeat,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let paper = match hb.paper {
            wire::PaperState::Ok => "ok",
            wire::PaperState::Low => "low",
            wire::PaperState::Out => "out",
            wire::PaperState::Unknown => "unknown",
        };
        self.conn.execute(
            "INSERT INTO stations (station_id, last_seen, software_version, reader_ok, reader_detail,
                 printer_ok, printer_detail, paper, queue_length, last_errors, clock_skew_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (station_id) DO UPDATE SET last_seen = excluded.last_seen,
                 software_version = excluded.software_version, reader_ok = excluded.reader_ok,
                 reader_detail = excluded.reader_detail, printer_ok = excluded.printer_ok,
                 printer_detail = excluded.printer_detail, paper = excluded.paper,
                 queue_length = excluded.queue_length, last_errors = excluded.last_errors,
                 clock_skew_ms = excluded.clock_skew_ms",
            params![
                station,
                ts(now),
                hb.software_version,
                hb.reader.ok,
                hb.reader.detail,
                hb.printer.ok,
                hb.printer.detail,
                paper,
                hb.queue_length,
                serde_json::to_string(&hb.last_errors).unwrap_or_else(|_| "[]".into()),
                (hb.clock - now).num_milliseconds()
            ],
        )?;
        Ok(())
    }

    /// The station ledger, by station id.
    pub fn stations(&self) -> Result<Vec<StationRow>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT station_id, last_seen, software_version, reader_ok, reader_detail, printer_ok,
                    printer_detail, paper, queue_length, last_errors, clock_skew_ms
             FROM stations ORDER BY station_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StationRow {
                station_id: r.get(0)?,
                last_seen: parse_ts(&r.get::<_, String>(1)?),
                software_version: r.get(2)?,
                reader_ok: r.get(3)?,
                reader_detail: r.get(4)?,
                printer_ok: r.get(5)?,
                printer_detail: r.get(6)?,
                paper: r.get(7)?,
                queue_length: r.get(8)?,
                last_errors: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
                clock_skew_ms: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many cases each (station, receipt number) has: the crash test's duplicate check.
    pub fn receipts(&self) -> Result<Vec<(String, String, i64)>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT station_id, receipt_number, COUNT(*) FROM cases GROUP BY station_id, receipt_number
             ORDER BY station_id, receipt_number",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(receipt: &str) -> wire::ApplicationSubmission {
        wire::ApplicationSubmission {
            receipt_number: receipt.into(),
            item_code: "SB-001".into(),
            item_name: "城乡居民基本养老保险参保登记".into(),
            applicant: wire::Applicant {
                name: "张三国".into(),
                id_number: "410329198001010010".into(),
                phone: None,
            },
            fields: Default::default(),
            accepted_at: Utc::now(),
            card_key: None,
            agent: None,
            keep_phone: false,
        }
    }

    #[test]
    fn replay_reuse_and_case_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        let now = Utc::now();
        let first = db.submit("S1", "k1", "h1", &sub("CG-1"), now).unwrap();
        let SubmitOutcome::Created { response, .. } = &first else {
            panic!("{first:?}")
        };
        assert_eq!(
            db.submit("S1", "k1", "h1", &sub("CG-1"), now).unwrap(),
            SubmitOutcome::Replayed {
                status: 201,
                response: response.clone()
            }
        );
        assert_eq!(
            db.submit("S1", "k1", "h2", &sub("CG-1"), now).unwrap(),
            SubmitOutcome::KeyReused
        );
        assert_eq!(
            db.submit("S2", "k1", "h1", &sub("CG-1"), now).unwrap(),
            SubmitOutcome::KeyReused
        );
        db.submit("S1", "k2", "h3", &sub("CG-2"), now).unwrap();
        let day = now.format("%Y%m%d");
        let numbers = db.case_numbers(None, Some("S1"), None).unwrap();
        assert_eq!(
            numbers,
            vec![format!("XQ-{day}-000002"), format!("XQ-{day}-000001")]
        );
        let (view, station, _) = db.case(&numbers[1]).unwrap().unwrap();
        assert_eq!(station, "S1");
        assert_eq!(view.applicant_name_masked, "张*国");
        assert!(!format!("{view:?}").contains("410329"));
    }

    #[test]
    fn advance_checks_transitions_and_notes() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        let now = Utc::now();
        db.submit("S1", "k1", "h1", &sub("CG-1"), now).unwrap();
        let case = db.case_numbers(None, None, None).unwrap().remove(0);
        assert!(matches!(
            db.advance(&case, CaseStatus::Collected, None, now),
            Err(DbError::BadTransition { .. })
        ));
        assert!(matches!(
            db.advance(&case, CaseStatus::Rejected, Some("  "), now),
            Err(DbError::NoteRequired(..))
        ));
        let v = db
            .advance(
                &case,
                CaseStatus::Rejected,
                Some("材料不全：缺少户口簿"),
                now,
            )
            .unwrap();
        assert_eq!(v.status, CaseStatus::Rejected);
        assert_eq!(v.rejection_reason.as_deref(), Some("材料不全：缺少户口簿"));
        assert_eq!(v.timeline.len(), 2);
        assert!(matches!(
            db.advance("XQ-none", CaseStatus::Accepted, None, now),
            Err(DbError::NoCase(_))
        ));
    }

    #[test]
    fn grants_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        let now = Utc::now();
        db.grant("S2", "pk", now + chrono::Duration::minutes(15))
            .unwrap();
        assert!(db.has_grant("S2", "pk", now).unwrap());
        assert!(!db.has_grant("S3", "pk", now).unwrap());
        assert!(
            !db.has_grant("S2", "pk", now + chrono::Duration::minutes(16))
                .unwrap()
        );
    }
}
