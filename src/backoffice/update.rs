//! 软件更新发布: county staff offer a software update (a manifest signed with the release key,
//! `kiosk update sign`, plus the directory holding its files) to every station or first to a
//! list of stations (staged rollout, 分批升级); the back office serves the manifest
//! (`GET /v1/update`) and the files with HTTP Range (`GET /v1/update/files/{name}`, at most
//! [`RANGE_CHUNK`] bytes per answer, so a kiosk resumes and paces as it likes), and keeps each
//! station's update report from its heartbeats (`county-backoffice update status`).
//!
//! Publishing checks the manifest's signature (against the key it names; the kiosk checks it
//! against its configured release key) and every file's size and SHA-256 before any station
//! sees it, and refuses a version older than one published.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::sql::{OptionalExtension, params};
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::db::{Db, DbError};
use super::http::{AppState, Station};
use crate::catalog::bundle;
use crate::county::wire::{self, UpdateReport};
use crate::update::manifest::{self, UpdateManifest};

/// At most this many bytes in one answer for an update file.
pub const RANGE_CHUNK: u64 = 1024 * 1024;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS published_update (
    id           BIGINT PRIMARY KEY,
    version      TEXT NOT NULL,
    manifest     BLOB NOT NULL,
    files_dir    TEXT NOT NULL,
    stations     TEXT,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS station_update (
    station_id TEXT PRIMARY KEY,
    report     TEXT NOT NULL,
    at         TEXT NOT NULL
);
";

/// Why an update was not published. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdatePublishError {
    #[error("update not published: {0}")]
    Manifest(String),
    #[error("update not published: {file}: {detail}")]
    File { file: String, detail: String },
    #[error(
        "update not published: version {offered} is older than version {published}, already published"
    )]
    Older { published: String, offered: String },
    #[error("update not published: {0}")]
    Stations(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<crate::backoffice::sql::Error> for UpdatePublishError {
    fn from(e: crate::backoffice::sql::Error) -> Self {
        UpdatePublishError::Db(DbError::Sql(e))
    }
}

/// Opens a manifest with the key it names (publishing's check; the kiosk uses its own key).
pub fn check_manifest(bytes: &[u8]) -> Result<(UpdateManifest, String), UpdatePublishError> {
    let env: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| UpdatePublishError::Manifest(format!("not a signed manifest: {e}")))?;
    let key_hex = env
        .get("key")
        .and_then(|k| k.as_str())
        .ok_or_else(|| UpdatePublishError::Manifest("no `key` field".into()))?;
    let key = bundle::parse_verifying_key(key_hex)
        .map_err(|e| UpdatePublishError::Manifest(format!("field `key`: {e}")))?;
    let m = manifest::open(bytes, &key, &[])
        .map_err(|e| UpdatePublishError::Manifest(e.to_string()))?;
    Ok((m, key_hex.to_string()))
}

fn sha256_of(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((n_total, hex::encode(h.finalize())))
}

/// One published update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedUpdate {
    pub id: i64,
    pub version: String,
    pub stations: Option<Vec<String>>,
    pub published_at: DateTime<Utc>,
}

/// Publishes a signed manifest whose files are in `files_dir`, to `stations` (`None`: every
/// station). Publishing the same version again to every station promotes a staged one.
pub fn publish(
    db: &Db,
    manifest_bytes: &[u8],
    files_dir: &Path,
    stations: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<PublishedUpdate, UpdatePublishError> {
    let (m, _) = check_manifest(manifest_bytes)?;
    if let Some(list) = stations
        && (list.is_empty() || list.iter().any(|s| s.trim().is_empty()))
    {
        return Err(UpdatePublishError::Stations(
            "--stations needs at least one station id (comma separated)".into(),
        ));
    }
    for f in &m.files {
        let path = files_dir.join(&f.name);
        let (len, hash) = sha256_of(&path).map_err(|e| UpdatePublishError::File {
            file: path.display().to_string(),
            detail: e.to_string(),
        })?;
        if len != f.size || hash != f.sha256 {
            return Err(UpdatePublishError::File {
                file: path.display().to_string(),
                detail: format!(
                    "{len} bytes with SHA-256 {hash}; the manifest lists {} bytes with {}",
                    f.size, f.sha256
                ),
            });
        }
    }
    let newest: Option<String> = db
        .conn()
        .query_row(
            "SELECT version FROM published_update ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(newest) = newest
        && manifest::parse_version(&m.version) < manifest::parse_version(&newest)
    {
        return Err(UpdatePublishError::Older {
            published: newest,
            offered: m.version,
        });
    }
    let stations_list: Option<Vec<String>> =
        stations.map(|s| s.iter().map(|x| x.trim().to_string()).collect());
    let stations_json = stations_list
        .as_ref()
        .map(|s| serde_json::to_string(s).unwrap_or_default());
    let id: i64 = db.conn().query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM published_update",
        [],
        |r| r.get(0),
    )?;
    let dir = std::path::absolute(files_dir).unwrap_or_else(|_| files_dir.to_path_buf());
    db.conn().execute(
        "INSERT INTO published_update (id, version, manifest, files_dir, stations, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            m.version,
            manifest_bytes,
            dir.display().to_string(),
            stations_json,
            now.to_rfc3339()
        ],
    )?;
    tracing::info!(version = %m.version, staged = stations.is_some(), "update published");
    Ok(PublishedUpdate {
        id,
        version: m.version,
        stations: stations_list,
        published_at: now,
    })
}

/// The newest update offered to `station`: the signed manifest and the files' directory.
pub fn served(db: &Db, station: &str) -> Result<Option<(Vec<u8>, PathBuf)>, DbError> {
    let candidates = db
        .conn()
        .prepare("SELECT id, stations FROM published_update ORDER BY id DESC")?
        .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(i64, Option<String>)>, _>>()?;
    let Some(id) = super::publish::newest_for(candidates, station) else {
        return Ok(None);
    };
    Ok(db
        .conn()
        .query_row(
            "SELECT manifest, files_dir FROM published_update WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, PathBuf::from(r.get::<_, String>(1)?))),
        )
        .optional()?)
}

/// The version of the update offered to `station` now, if any.
pub fn offered_version(db: &Db, station: &str) -> Result<Option<String>, DbError> {
    Ok(served(db, station)?
        .and_then(|(bytes, _)| check_manifest(&bytes).ok())
        .map(|(m, _)| m.version))
}

/// Keeps the update report of a station's heartbeat.
pub fn record_heartbeat(
    db: &Db,
    station: &str,
    hb: &wire::Heartbeat,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let Some(report) = &hb.update else {
        return Ok(());
    };
    db.conn().execute(
        "INSERT INTO station_update (station_id, report, at) VALUES (?1, ?2, ?3)
         ON CONFLICT (station_id) DO UPDATE SET report = excluded.report, at = excluded.at",
        params![
            station,
            serde_json::to_string(report).unwrap_or_else(|_| "{}".into()),
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

/// One station's update state in the staff view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationUpdate {
    pub station_id: String,
    pub report: UpdateReport,
    /// The version offered to it now, if any.
    pub offered: Option<String>,
    pub at: DateTime<Utc>,
}

/// Every station that reported an update state, with the version offered to it.
pub fn stations(db: &Db) -> Result<Vec<StationUpdate>, DbError> {
    let rows: Vec<(String, String, String)> = {
        let mut stmt = db
            .conn()
            .prepare("SELECT station_id, report, at FROM station_update ORDER BY station_id")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for (station_id, report, at) in rows {
        let offered = offered_version(db, &station_id)?;
        out.push(StationUpdate {
            report: serde_json::from_str(&report).unwrap_or_default(),
            offered,
            at: DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            station_id,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// HTTP (`GET /v1/update`, `GET /v1/update/files/{name}`).

fn not_found(message: &str) -> Response {
    let body = serde_json::to_string(&wire::ApiError {
        code: "not_found".into(),
        message: message.into(),
    })
    .unwrap_or_default();
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn internal(detail: String) -> Response {
    tracing::error!(%detail, "update route");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

async fn lookup(state: &AppState, station: String) -> Result<Option<(Vec<u8>, PathBuf)>, String> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let db = db.lock().unwrap_or_else(|p| p.into_inner());
        served(&db, &station).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `GET /v1/update`: the signed manifest offered to this station; 404 when none.
pub(crate) async fn manifest_route(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
) -> Response {
    match lookup(&state, station).await {
        Ok(Some((bytes, _))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found("the county offers no software update to this station"),
        Err(e) => internal(e),
    }
}

/// The first byte a `Range: bytes=N-` (or `bytes=N-M`) header asks for.
fn range_start(headers: &HeaderMap) -> Option<Result<(u64, Option<u64>), ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start = a.trim().parse::<u64>().map_err(|_| ());
    let end = if b.trim().is_empty() {
        Ok(None)
    } else {
        b.trim().parse::<u64>().map(Some).map_err(|_| ())
    };
    Some(start.and_then(|s| end.map(|e| (s, e))))
}

/// `GET /v1/update/files/{name}`: a file of the offered update, with `Range` support.
pub(crate) async fn file_route(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let (bytes, dir) = match lookup(&state, station).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found("the county offers no software update to this station"),
        Err(e) => return internal(e),
    };
    let Ok((m, _)) = check_manifest(&bytes) else {
        return internal("a published manifest no longer opens".into());
    };
    let Some(f) = m.file(&name) else {
        return not_found("no such file in the offered update");
    };
    let range = range_start(&headers);
    let path = dir.join(&f.name);
    let size = f.size;
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Option<(u64, Vec<u8>)>> {
        let (start, end_incl) = match range {
            None => (0, size.saturating_sub(1)),
            Some(Ok((s, e))) => (
                s,
                e.unwrap_or(u64::MAX)
                    .min(size.saturating_sub(1))
                    .min(s.saturating_add(RANGE_CHUNK - 1)),
            ),
            Some(Err(())) => return Ok(None),
        };
        if start >= size || end_incl < start {
            return Ok(None);
        }
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.take(end_incl - start + 1).read_to_end(&mut buf)?;
        Ok(Some((start, buf)))
    })
    .await;
    match read {
        Ok(Ok(Some((start, buf)))) => {
            let len = buf.len() as u64;
            let mut resp = Response::new(Body::from(buf));
            if range.is_some() {
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            let h = resp.headers_mut();
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if range.is_some()
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "bytes {start}-{}/{size}",
                    start + len.saturating_sub(1)
                ))
            {
                h.insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Ok(Ok(None)) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Ok(Err(e)) => internal(format!("update file {name}: {e}")),
        Err(e) => internal(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Staff commands (`county-backoffice update publish`, `county-backoffice update status`).

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Offer a software update: a manifest signed with the release key (kiosk update sign) and
    /// the directory with its files; to every station, or first to some (--stations).
    Publish {
        manifest: PathBuf,
        /// The directory holding the files the manifest lists: rootfs.img.gz (or rootfs.img),
        /// vmlinuz and initrd.img.
        #[arg(long, value_name = "DIR")]
        files: PathBuf,
        /// Offer it first to these stations only (comma separated ids); publish again without
        /// this to offer it to every station.
        #[arg(long, value_delimiter = ',', value_name = "IDS")]
        stations: Option<Vec<String>>,
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// Each station's running version and update state (from its heartbeats).
    Status {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
}

/// Runs `county-backoffice update ...`.
pub fn run(command: UpdateCommand) -> Result<ExitCode, UpdatePublishError> {
    match command {
        UpdateCommand::Publish {
            manifest,
            files,
            stations,
            db,
        } => {
            let bytes = std::fs::read(&manifest).map_err(|e| {
                UpdatePublishError::Manifest(format!("cannot read {}: {e}", manifest.display()))
            })?;
            let db = Db::open(&db)?;
            let p = publish(&db, &bytes, &files, stations.as_deref(), Utc::now())?;
            println!(
                "published update {} to {}",
                p.version,
                match &p.stations {
                    Some(s) => format!("stations {} first", s.join(", ")),
                    None => "every station".to_string(),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        UpdateCommand::Status { db } => {
            let db = Db::open(&db)?;
            println!(
                "{:<20} {:<10} {:<10} {:<12} {:<10} DETAIL",
                "STATION", "RUNNING", "OFFERED", "UPDATE", "VERSION"
            );
            let rows = stations(&db)?;
            for r in &rows {
                println!(
                    "{:<20} {:<10} {:<10} {:<12} {:<10} {}",
                    r.station_id,
                    r.report.running_version,
                    r.offered.as_deref().unwrap_or("-"),
                    r.report.state,
                    r.report.version.as_deref().unwrap_or("-"),
                    r.report.detail.as_deref().unwrap_or("-"),
                );
            }
            if rows.is_empty() {
                println!("(no station has reported an update state yet)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
