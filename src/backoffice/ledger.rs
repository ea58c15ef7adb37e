//! The county's station ledger (站点台账): every station the county has, whether it is heard
//! from, what it says about itself, and what county staff asked of it (remote requests,
//! 远程请求).
//!
//! - The station list (终端清单) is imported from a file (`county-backoffice stations import`),
//!   so a station silent since installation shows too; [`parse_station_list`] is pure and
//!   reports every bad row with its line.
//! - [`record_heartbeat`] keeps what a heartbeat says beyond the `stations` table (verdict,
//!   failing checks, oldest pending application, catalogue version), stores the answers to
//!   remote requests and returns the requests still open, for the heartbeat's answer.
//! - [`ledger`] joins the list and the heartbeats into [`LedgerRow`]s; [`coverage`] counts the
//!   villages with a working terminal today.
//! - [`ledger_body`] renders the ledger page; the staff listener serves it at `/staff/ledger`
//!   behind the operator login, to supervisors ([`crate::backoffice::staff`]'s pages), with
//!   each station's update state and offered version ([`super::update`]) beside its health.
//!   The stations' listener answers its old address with 410 Gone ([`gone_router`]).
//!
//! Nothing personal is kept here: stations report devices, versions and counts only, and a
//! screenshot is of the idle screen.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::sql::{OptionalExtension, params};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::db::{Db, DbError, StationRow};
use super::http::AppState;
use crate::county::wire::{self, RemoteRequestKind};

/// The ledger's tables, applied when the database opens. Portable SQL (SQLite and PostgreSQL).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS station_registry (
    station_id  TEXT PRIMARY KEY,
    township    TEXT NOT NULL,
    village     TEXT NOT NULL,
    name        TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS station_health (
    station_id        TEXT PRIMARY KEY,
    verdict           TEXT,
    failing_checks    TEXT NOT NULL,
    oldest_pending_at TEXT,
    catalog_version   BIGINT,
    at                TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_requests (
    id           BIGINT PRIMARY KEY,
    station_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    answered_at  TEXT,
    result       TEXT
);
CREATE INDEX IF NOT EXISTS remote_requests_station ON remote_requests (station_id, answered_at);
";

/// The file header naming the columns of a station list.
pub const LIST_HEADER: &str = "station_id,township,village,name";

/// Why a station list or a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the station list has {} bad row(s), nothing imported:\n{}", .0.len(), .0.join("\n"))]
    BadRows(Vec<String>),
    #[error("the station list is empty: give one line per station, {LIST_HEADER}")]
    EmptyList,
    #[error(
        "station {0:?} is not in the ledger: import it (stations import) or wait for its first heartbeat"
    )]
    UnknownStation(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<crate::backoffice::sql::Error> for LedgerError {
    fn from(e: crate::backoffice::sql::Error) -> Self {
        LedgerError::Db(DbError::Sql(e))
    }
}

/// One station of the county's list (终端清单).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedStation {
    pub station_id: String,
    /// 乡镇.
    pub township: String,
    /// 行政村/社区.
    pub village: String,
    /// 服务站名称.
    pub name: String,
}

/// Parses a station list: UTF-8, one station per line, `station_id,township,village,name`,
/// separated by commas (no quoting: a field holds no comma). A first line equal to
/// [`LIST_HEADER`], blank lines and lines starting with `#` are skipped. Every bad row is
/// reported with its line number; any bad row refuses the whole list.
pub fn parse_station_list(text: &str) -> Result<Vec<ListedStation>, LedgerError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') || (out.is_empty() && line == LIST_HEADER) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 4 {
            errors.push(format!(
                "line {n}: {} field(s), expected 4 ({LIST_HEADER})",
                fields.len()
            ));
            continue;
        }
        let id = fields[0];
        if !valid_station_id(id) {
            errors.push(format!(
                "line {n}: station id {id:?}: use letters, digits, '-' and '_' only (1 to 64)"
            ));
            continue;
        }
        if let Some((column, _)) = [("township", fields[1]), ("village", fields[2])]
            .into_iter()
            .find(|(_, v)| v.is_empty())
        {
            errors.push(format!("line {n}: station {id}: the {column} is empty"));
            continue;
        }
        if let Some(first) = seen.insert(id.to_string(), n) {
            errors.push(format!(
                "line {n}: station {id} is listed twice (first on line {first})"
            ));
            continue;
        }
        out.push(ListedStation {
            station_id: id.to_string(),
            township: fields[1].to_string(),
            village: fields[2].to_string(),
            name: fields[3].to_string(),
        });
    }
    if !errors.is_empty() {
        return Err(LedgerError::BadRows(errors));
    }
    if out.is_empty() {
        return Err(LedgerError::EmptyList);
    }
    Ok(out)
}

/// A station id as certificates and the API use it.
pub fn valid_station_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Imports a parsed list in one transaction: new stations are added, listed ones updated.
/// Returns (added, updated).
pub fn import(
    db: &Db,
    list: &[ListedStation],
    now: DateTime<Utc>,
) -> Result<(usize, usize), LedgerError> {
    let tx = write_transaction(db)?;
    let (mut added, mut updated) = (0, 0);
    for s in list {
        let existed: Option<String> = tx
            .query_row(
                "SELECT station_id FROM station_registry WHERE station_id = ?1",
                params![s.station_id],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO station_registry (station_id, township, village, name, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (station_id) DO UPDATE SET township = excluded.township,
                 village = excluded.village, name = excluded.name,
                 imported_at = excluded.imported_at",
            params![s.station_id, s.township, s.village, s.name, ts(now)],
        )?;
        if existed.is_some() {
            updated += 1;
        } else {
            added += 1;
        }
    }
    tx.commit()?;
    Ok((added, updated))
}

/// Queues a remote request for `station` (known from the list or a heartbeat); it goes out
/// with the answer to the station's next heartbeat. Returns its id.
pub fn request(
    db: &Db,
    station: &str,
    kind: RemoteRequestKind,
    now: DateTime<Utc>,
) -> Result<i64, LedgerError> {
    let tx = write_transaction(db)?;
    let known: Option<String> = tx
        .query_row(
            "SELECT station_id FROM station_registry WHERE station_id = ?1
             UNION SELECT station_id FROM stations WHERE station_id = ?1",
            params![station],
            |r| r.get(0),
        )
        .optional()?;
    if known.is_none() {
        return Err(LedgerError::UnknownStation(station.to_string()));
    }
    let id: i64 = tx.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM remote_requests",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO remote_requests (id, station_id, kind, requested_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, station, kind.as_str(), ts(now)],
    )?;
    tx.commit()?;
    Ok(id)
}

/// Records what `hb` says for the ledger and the answers it carries; returns the requests of
/// `station` still unanswered, oldest first, for the heartbeat's answer. An answer to a
/// request of another station, or of another kind, is ignored (and logged).
pub fn record_heartbeat(
    db: &Db,
    station: &str,
    hb: &wire::Heartbeat,
    now: DateTime<Utc>,
) -> Result<Vec<wire::RemoteRequest>, DbError> {
    let c = db.conn();
    c.execute(
        "INSERT INTO station_health (station_id, verdict, failing_checks, oldest_pending_at,
             catalog_version, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (station_id) DO UPDATE SET verdict = excluded.verdict,
             failing_checks = excluded.failing_checks,
             oldest_pending_at = excluded.oldest_pending_at,
             catalog_version = excluded.catalog_version, at = excluded.at",
        params![
            station,
            hb.verdict,
            serde_json::to_string(&hb.failing_checks).unwrap_or_else(|_| "[]".into()),
            hb.oldest_pending_at.map(ts),
            hb.catalog_version.and_then(|v| i64::try_from(v).ok()),
            ts(now)
        ],
    )?;
    if let Some(d) = &hb.doctor {
        let body = serde_json::to_string(d).unwrap_or_default();
        answer(
            db,
            station,
            d.request_id,
            RemoteRequestKind::Doctor,
            &body,
            now,
        )?;
    }
    if let Some(s) = &hb.screenshot {
        let body = serde_json::to_string(s).unwrap_or_default();
        answer(
            db,
            station,
            s.request_id,
            RemoteRequestKind::Screenshot,
            &body,
            now,
        )?;
    }
    let mut stmt = c.prepare(
        "SELECT id, kind FROM remote_requests WHERE station_id = ?1 AND answered_at IS NULL
         ORDER BY id",
    )?;
    let rows = stmt.query_map(params![station], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut open = Vec::new();
    for row in rows {
        let (id, kind) = row?;
        match parse_kind(&kind) {
            Some(kind) => open.push(wire::RemoteRequest { id, kind }),
            None => tracing::warn!(id, %kind, "remote request of an unknown kind skipped"),
        }
    }
    Ok(open)
}

/// Checks what a heartbeat's answers carry: a screenshot must be base64 of a PNG file.
pub fn check_answers(hb: &wire::Heartbeat) -> Result<(), String> {
    if let Some(s) = &hb.screenshot {
        let png = base64::engine::general_purpose::STANDARD
            .decode(&s.png_base64)
            .map_err(|e| format!("screenshot.png_base64 is not standard base64: {e}"))?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err("screenshot.png_base64 is not a PNG file".into());
        }
    }
    Ok(())
}

fn answer(
    db: &Db,
    station: &str,
    id: i64,
    kind: RemoteRequestKind,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let n = db.conn().execute(
        "UPDATE remote_requests SET answered_at = ?1, result = ?2
         WHERE id = ?3 AND station_id = ?4 AND kind = ?5 AND answered_at IS NULL",
        params![ts(now), body, id, station, kind.as_str()],
    )?;
    if n == 0 {
        tracing::info!(%station, id, kind = kind.as_str(), "an answer to no open request of this station: ignored");
    }
    Ok(())
}

/// Writers take the lock up front (`BEGIN IMMEDIATE`), so the busy timeout applies instead
/// of a read lock failing to upgrade while the server writes.
fn write_transaction(db: &Db) -> Result<super::sql::Transaction<'_>, super::sql::Error> {
    db.conn().transaction()
}

fn parse_kind(s: &str) -> Option<RemoteRequestKind> {
    match s {
        "doctor" => Some(RemoteRequestKind::Doctor),
        "screenshot" => Some(RemoteRequestKind::Screenshot),
        _ => None,
    }
}

/// Where a station stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Heard from within the configured time.
    Online,
    /// Silent longer than the configured time (离线).
    Offline,
    /// On the list, never heard from (安装后从未上线).
    NeverSeen,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Offline => "offline",
            Presence::NeverSeen => "never",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Presence::Online => "在线",
            Presence::Offline => "离线",
            Presence::NeverSeen => "从未上线",
        }
    }
}

/// The latest remote request of a station and its answer, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    pub id: i64,
    pub kind: RemoteRequestKind,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    /// A doctor request's result.
    pub doctor: Option<wire::RemoteDoctorResult>,
}

/// One line of the ledger: a listed station, a station heard from, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub station_id: String,
    pub listed: Option<ListedStation>,
    /// The newest heartbeat, if any.
    pub seen: Option<StationRow>,
    pub presence: Presence,
    pub verdict: Option<String>,
    pub failing_checks: Vec<String>,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub catalog_version: Option<i64>,
    /// The station's last doctor and screenshot requests.
    pub last_doctor: Option<RemoteEntry>,
    pub last_screenshot: Option<RemoteEntry>,
    /// The update state of its last heartbeat (what `county-backoffice update status` shows).
    pub update: Option<wire::UpdateReport>,
    /// The software version offered to it now, if any.
    pub offered_update: Option<String>,
}

impl LedgerRow {
    /// Whether the station works now: heard from in time, no failing verdict, reader and
    /// printer ok, paper not out.
    pub fn working(&self) -> bool {
        let Some(seen) = &self.seen else {
            return false;
        };
        self.presence == Presence::Online
            && self.verdict.as_deref() != Some("fail")
            && seen.reader_ok
            && seen.printer_ok
            && seen.paper != "out"
    }
}

/// The whole ledger, by station id: every listed station and every station heard from.
pub fn ledger(
    db: &Db,
    now: DateTime<Utc>,
    offline_after: Duration,
) -> Result<Vec<LedgerRow>, DbError> {
    let c = db.conn();
    let mut listed = BTreeMap::new();
    {
        let mut stmt =
            c.prepare("SELECT station_id, township, village, name FROM station_registry")?;
        for r in stmt.query_map([], |r| {
            Ok(ListedStation {
                station_id: r.get(0)?,
                township: r.get(1)?,
                village: r.get(2)?,
                name: r.get(3)?,
            })
        })? {
            let r = r?;
            listed.insert(r.station_id.clone(), r);
        }
    }
    let seen: BTreeMap<String, StationRow> = db
        .stations()?
        .into_iter()
        .map(|r| (r.station_id.clone(), r))
        .collect();
    let mut health = BTreeMap::new();
    {
        let mut stmt = c.prepare(
            "SELECT station_id, verdict, failing_checks, oldest_pending_at, catalog_version
             FROM station_health",
        )?;
        for r in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })? {
            let (id, verdict, failing, oldest, catalog) = r?;
            health.insert(id, (verdict, failing, oldest, catalog));
        }
    }
    let updates: BTreeMap<String, wire::UpdateReport> = super::update::stations(db)?
        .into_iter()
        .map(|u| (u.station_id, u.report))
        .collect();
    let ids: BTreeSet<&String> = listed.keys().chain(seen.keys()).collect();
    let mut rows = Vec::new();
    for id in ids {
        let seen_row = seen.get(id).cloned();
        let presence = match &seen_row {
            None => Presence::NeverSeen,
            Some(s) if s.online(now, offline_after) => Presence::Online,
            Some(_) => Presence::Offline,
        };
        let (verdict, failing, oldest, catalog) = health.get(id).cloned().unwrap_or_default();
        rows.push(LedgerRow {
            station_id: id.clone(),
            listed: listed.get(id).cloned(),
            seen: seen_row,
            presence,
            verdict,
            failing_checks: serde_json::from_str(&failing).unwrap_or_default(),
            oldest_pending_at: oldest.as_deref().and_then(parse_ts),
            catalog_version: catalog,
            last_doctor: last_request(db, id, RemoteRequestKind::Doctor)?,
            last_screenshot: last_request(db, id, RemoteRequestKind::Screenshot)?,
            update: updates.get(id).cloned(),
            offered_update: super::update::offered_version(db, id)?,
        });
    }
    Ok(rows)
}

fn last_request(
    db: &Db,
    station: &str,
    kind: RemoteRequestKind,
) -> Result<Option<RemoteEntry>, DbError> {
    let row = db
        .conn()
        .query_row(
            "SELECT id, requested_at, answered_at, result FROM remote_requests
             WHERE station_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1",
            params![station, kind.as_str()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(id, requested, answered, result)| RemoteEntry {
        id,
        kind,
        requested_at: parse_ts(&requested).unwrap_or_default(),
        answered_at: answered.as_deref().and_then(parse_ts),
        doctor: match kind {
            RemoteRequestKind::Doctor => result.and_then(|r| serde_json::from_str(&r).ok()),
            RemoteRequestKind::Screenshot => None,
        },
    }))
}

/// The PNG answered for screenshot request `id`, if it was answered.
pub fn screenshot(db: &Db, id: i64) -> Result<Option<Vec<u8>>, DbError> {
    let body: Option<Option<String>> = db
        .conn()
        .query_row(
            "SELECT result FROM remote_requests WHERE id = ?1 AND kind = 'screenshot'",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(body
        .flatten()
        .and_then(|b| serde_json::from_str::<wire::RemoteScreenshot>(&b).ok())
        .and_then(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.png_base64)
                .ok()
        }))
}

/// 覆盖率: villages on the list with at least one working terminal now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub villages: usize,
    pub covered: usize,
    /// Stations heard from that are not on the list.
    pub unlisted: usize,
}

pub fn coverage(rows: &[LedgerRow]) -> Coverage {
    let mut villages: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut unlisted = 0;
    for r in rows {
        match &r.listed {
            Some(l) => {
                *villages
                    .entry((l.township.clone(), l.village.clone()))
                    .or_default() |= r.working();
            }
            None => unlisted += 1,
        }
    }
    Coverage {
        villages: villages.len(),
        covered: villages.values().filter(|w| **w).count(),
        unlisted,
    }
}

/// Text for a remote entry: `doctor #3 fail 2026-12-02 05:10` or `doctor #3 waiting`.
pub fn remote_summary(e: &RemoteEntry) -> String {
    let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    match (&e.answered_at, &e.doctor) {
        (Some(_), Some(d)) => format!(
            "{} #{} {} {}",
            e.kind.as_str(),
            e.id,
            d.verdict,
            d.ran_at.map(when).unwrap_or_default()
        ),
        (Some(t), None) => format!("{} #{} taken {}", e.kind.as_str(), e.id, when(*t)),
        (None, _) => format!("{} #{} waiting", e.kind.as_str(), e.id),
    }
}

// ---------------------------------------------------------------------------------------------
// The page.

/// The stations' listener's answer at the ledger's old address (`/staff/ledger...`): 410 Gone,
/// saying where the page is now. Nested under `/staff` by `http::router`.
pub(crate) fn gone_router() -> Router<AppState> {
    async fn gone() -> Response {
        (
            StatusCode::GONE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The station ledger moved to the staff listener (serve --staff-listen): \
             /staff/ledger there, behind the operator login (county supervisors).\n\
             站点台账已移到工作人员页面（--staff-listen 端口的 /staff/ledger），请用督办人账号登录。\n",
        )
            .into_response()
    }
    Router::new()
        .route("/ledger", get(gone))
        .route("/ledger/{*rest}", get(gone))
}

/// The meta key of the former interim staff token (`county-backoffice stations token`).
pub const STAFF_TOKEN_KEY: &str = "staff_ledger_token";

/// The former interim staff token, created on first use. It opens nothing any more (the ledger
/// is behind the operator login); `stations token` still prints it so scripts keep working.
pub fn staff_token(db: &Db) -> Result<String, DbError> {
    db.secret(STAFF_TOKEN_KEY, || hex::encode(rand::random::<[u8; 32]>()))
}

/// The ledger page's update cell: `running 0.2.0; offered 0.3.0; downloading 0.3.0 (…)`.
pub fn update_summary(r: &LedgerRow) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &r.update {
        parts.push(format!("running {}", u.running_version));
    }
    parts.push(format!(
        "offered {}",
        r.offered_update.as_deref().unwrap_or("-")
    ));
    if let Some(u) = &r.update {
        let mut state = u.state.clone();
        if let Some(v) = &u.version {
            state.push_str(&format!(" {v}"));
        }
        if let Some(d) = &u.detail {
            state.push_str(&format!(" ({d})"));
        }
        parts.push(state);
    }
    parts.join("; ")
}

/// The ledger page (站点台账) as a whole plain HTML document, without forms.
pub fn ledger_html(rows: &[LedgerRow], now: DateTime<Utc>) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>站点台账 Station ledger</title></head><body><h1>站点台账 Station ledger</h1>{}\
         </body></html>\n",
        ledger_body(rows, now, None)
    )
}

/// The ledger's coverage line and table. With the session's CSRF token `csrf`, each station
/// gets the forms asking it for a doctor run or a screenshot (`POST
/// /staff/ledger/{station}/request`).
pub fn ledger_body(rows: &[LedgerRow], now: DateTime<Utc>, csrf: Option<&str>) -> String {
    let cov = coverage(rows);
    let mut html = format!(
        "<p id=\"coverage\">覆盖 Coverage: {} / {} villages with a working terminal ({} UTC); \
         {} station(s) not on the list</p>\
         <table border=\"1\" cellpadding=\"4\"><thead><tr><th>Station</th><th>Village</th>\
         <th>State</th><th>Last seen (UTC)</th><th>Verdict</th><th>Failing checks</th>\
         <th>Queue</th><th>Oldest pending (UTC)</th><th>Versions</th>\
         <th>更新 Update</th><th>Faults</th><th>Remote</th></tr></thead><tbody>",
        cov.covered,
        cov.villages,
        now.format("%Y-%m-%d %H:%M"),
        cov.unlisted
    );
    for r in rows {
        let village = r
            .listed
            .as_ref()
            .map(|l| format!("{} {} {}", l.township, l.village, l.name))
            .unwrap_or_else(|| "(not on the list)".into());
        let (last_seen, queue, versions, faults) = match &r.seen {
            Some(s) => (
                s.last_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
                s.queue_length.to_string(),
                format!(
                    "software {}; catalogue {}",
                    s.software_version,
                    r.catalog_version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
                s.faults(),
            ),
            None => ("-".into(), "-".into(), "-".into(), String::new()),
        };
        let mut remote = String::new();
        if let Some(d) = &r.last_doctor {
            remote.push_str(&html_escape(&remote_summary(d)));
            if let Some(res) = &d.doctor {
                remote.push_str("<ul>");
                for c in &res.checks {
                    remote.push_str(&format!(
                        "<li>{} {}: {}</li>",
                        html_escape(&c.id),
                        html_escape(&c.status),
                        html_escape(&c.finding)
                    ));
                }
                remote.push_str("</ul>");
            }
        }
        if let Some(s) = &r.last_screenshot {
            if !remote.is_empty() {
                remote.push_str("<br>");
            }
            if s.answered_at.is_some() {
                remote.push_str(&format!(
                    "<a href=\"/staff/ledger/screenshots/{}\">{}</a>",
                    s.id,
                    html_escape(&remote_summary(s))
                ));
            } else {
                remote.push_str(&html_escape(&remote_summary(s)));
            }
        }
        if let Some(csrf) = csrf {
            for (kind, label) in [
                ("doctor", "远程体检 Doctor"),
                ("screenshot", "截屏 Screenshot"),
            ] {
                remote.push_str(&format!(
                    "<form method=\"post\" action=\"/staff/ledger/{}/request\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
                     <button>{label}</button></form>",
                    pct(&r.station_id),
                    html_escape(csrf)
                ));
            }
        }
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"update\">{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&r.station_id),
            html_escape(&village),
            r.presence.as_str(),
            r.presence.zh(),
            last_seen,
            html_escape(r.verdict.as_deref().unwrap_or("-")),
            html_escape(&r.failing_checks.join("; ")),
            queue,
            r.oldest_pending_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
            html_escape(&versions),
            html_escape(&update_summary(r)),
            html_escape(&faults),
            remote,
        ));
    }
    html.push_str("</tbody></table>");
    html
}

use super::staff::pages::pct;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_and_counts_coverage() {
        let now = Utc::now();
        let seen = StationRow {
            station_id: "<script>".into(),
            last_seen: now,
            software_version: "0.1.0".into(),
            reader_ok: true,
            reader_detail: None,
            printer_ok: false,
            printer_detail: Some("cover open".into()),
            paper: "out".into(),
            queue_length: 3,
            last_errors: vec![],
            clock_skew_ms: 0,
        };
        let listed = |id: &str, village: &str| ListedStation {
            station_id: id.into(),
            township: "城关镇".into(),
            village: village.into(),
            name: String::new(),
        };
        let row = |id: &str, seen: Option<StationRow>, village: &str| LedgerRow {
            station_id: id.into(),
            listed: Some(listed(id, village)),
            presence: if seen.is_some() {
                Presence::Online
            } else {
                Presence::NeverSeen
            },
            seen,
            verdict: Some("ok".into()),
            failing_checks: vec!["printer: cover open & paper out".into()],
            oldest_pending_at: None,
            catalog_version: Some(7),
            last_doctor: None,
            last_screenshot: None,
            update: None,
            offered_update: Some("0.3.0".into()),
        };
        let mut healthy = seen.clone();
        (healthy.printer_ok, healthy.paper) = (true, "ok".into());
        let rows = vec![
            row("<script>", Some(seen), "东关村"),
            row("ST-2", Some(healthy), "东关村"),
            row("ST-3", None, "西关村"),
        ];
        let html = ledger_html(&rows, now);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(html.contains("printer: cover open; paper out"));
        assert!(html.contains("cover open &amp; paper out"));
        assert!(html.contains("never 从未上线"));
        assert!(html.contains("offered 0.3.0"));
        // 东关村 has one working terminal, 西关村 none.
        assert_eq!(
            coverage(&rows),
            Coverage {
                villages: 2,
                covered: 1,
                unlisted: 0
            }
        );
    }

    #[test]
    fn a_station_list_parses_and_bad_rows_are_named_by_line() {
        let good = format!(
            "{LIST_HEADER}\n# 城关镇\nST-1,城关镇,东关村,东关村便民服务站\n\nST-2, 城关镇 ,西关村,\n"
        );
        let list = parse_station_list(&good).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].township, "城关镇");
        assert_eq!(list[1].name, "");
        let bad =
            "ST-1,城关镇,东关村,a\nST 2,城关镇,西关村,b\nST-3,城关镇,,c\nST-1,x,y,z\nST-4,only\n";
        let LedgerError::BadRows(errors) = parse_station_list(bad).unwrap_err() else {
            panic!("not BadRows")
        };
        assert_eq!(errors.len(), 4, "{errors:?}");
        for (e, line) in errors
            .iter()
            .zip(["line 2:", "line 3:", "line 4:", "line 5:"])
        {
            assert!(e.starts_with(line), "{e}");
        }
        assert!(errors[2].contains("listed twice (first on line 1)"));
        assert!(matches!(
            parse_station_list(&format!("{LIST_HEADER}\n")),
            Err(LedgerError::EmptyList)
        ));
    }
}
