//! 发布: county staff publish signed bundles (catalogue, announcements, key rotation) to the
//! stations: to every station, or first to a list of stations (staged rollout, 分批推送); and the
//! rollout view of what each station installed, from the sync report in its heartbeats.
//!
//! Bundles are signed offline (`kiosk catalog sign`, the county key never on the server).
//! Publishing checks a bundle before any station sees it: the signature holds for the key it
//! names, the payload parses and is complete (a catalogue passes the same completeness check the
//! kiosk runs), and its version is not older than one already published (nor the same version
//! with other content). The back office then serves, to each station, the newest bundle of a kind
//! published to it, else the one it was started with. Staff commands open the database while the
//! server runs, like `case advance`. No HTTP here.

use std::path::PathBuf;
use std::process::ExitCode;

use super::sql::{OptionalExtension, params};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::db::{Db, DbError};
use crate::catalog::{bundle, keyring};
use crate::county::noticeboard;
use crate::county::wire::{self, SyncReport};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS published_bundle (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    etag         TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    signer       TEXT NOT NULL,
    stations     TEXT,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS published_item (
    bundle_id INTEGER NOT NULL REFERENCES published_bundle (id),
    code      TEXT NOT NULL,
    PRIMARY KEY (bundle_id, code)
);
CREATE TABLE IF NOT EXISTS station_sync (
    station_id       TEXT PRIMARY KEY,
    software_version TEXT NOT NULL,
    report           TEXT NOT NULL,
    at               TEXT NOT NULL
);
";

/// Why a bundle was not published. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not published: {0}")]
    Bundle(String),
    #[error(
        "not published: {kind} version {offered} is older than version {published}, already published; publish a newer version"
    )]
    Older {
        kind: String,
        published: u64,
        offered: u64,
    },
    #[error(
        "not published: {kind} version {version} is already published with other content; give the new content a new version"
    )]
    SameVersionChanged { kind: String, version: u64 },
    #[error("not published: {0}")]
    Stations(String),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<crate::backoffice::sql::Error> for PublishError {
    fn from(e: crate::backoffice::sql::Error) -> Self {
        PublishError::Db(DbError::Sql(e))
    }
}

/// One published bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: i64,
    pub kind: String,
    pub version: u64,
    pub etag: String,
    /// Hex of the key that signed it.
    pub signer: String,
    /// The stations it is offered to; `None`: every station.
    pub stations: Option<Vec<String>>,
    pub published_at: DateTime<Utc>,
}

/// What a checked bundle is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub kind: String,
    pub version: u64,
    pub signer: String,
    pub payload_sha256: String,
    /// For a catalogue: the item codes villages may apply for.
    pub items: Vec<String>,
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..32])
}

/// Checks a signed bundle as it would be published. Pure apart from parsing.
pub fn check(bytes: &[u8]) -> Result<Checked, PublishError> {
    let bad = |e: String| PublishError::Bundle(e);
    let env: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a signed bundle: {e}")))?;
    let field = |name: &str| {
        env.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| bad(format!("not a signed bundle: no `{name}` field")))
    };
    let kind = field("kind")?;
    let signer_hex = field("key")?;
    let signer =
        bundle::parse_verifying_key(&signer_hex).map_err(|e| bad(format!("field `key`: {e}")))?;
    let opened = bundle::open_detailed(bytes, &kind, &signer).map_err(|e| bad(e.to_string()))?;
    let (version, items) = match kind.as_str() {
        bundle::KIND_CATALOG => {
            let catalog = bundle::open_catalog(bytes, &signer).map_err(|e| bad(e.to_string()))?;
            let items = catalog
                .items
                .iter()
                .filter(|i| i.village_online)
                .map(|i| i.code.clone())
                .collect();
            (catalog.version, items)
        }
        bundle::KIND_ANNOUNCEMENTS => {
            let a = noticeboard::check_for_signing(&opened.payload)
                .map_err(|e| bad(format!("announcements: {e}")))?;
            (a.version, Vec::new())
        }
        keyring::KIND_KEYRING => {
            let r = keyring::parse_rotation_json(&opened.payload)
                .map_err(|e| bad(format!("key rotation: {e}")))?;
            keyring::rotation_keys(&r)
                .and_then(|k| keyring::Keyring::new(k, keyring::KeyringSource::Rotation(r.version)))
                .map_err(|e| bad(format!("key rotation: {e}")))?;
            (r.version, Vec::new())
        }
        other => return Err(bad(format!("unknown bundle kind {other:?}"))),
    };
    Ok(Checked {
        kind,
        version,
        signer: opened.key,
        payload_sha256: hex::encode(Sha256::digest(&opened.payload)),
        items,
    })
}

/// Publishes a signed bundle to `stations` (`None`: every station). Publishing the same bundle
/// again to every station promotes a staged one.
pub fn publish(
    db: &Db,
    bytes: &[u8],
    stations: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<Published, PublishError> {
    let checked = check(bytes)?;
    if let Some(list) = stations
        && (list.is_empty() || list.iter().any(|s| s.trim().is_empty()))
    {
        return Err(PublishError::Stations(
            "--stations needs at least one station id (comma separated)".into(),
        ));
    }
    let tx = db.conn().transaction()?;
    let newest: Option<i64> = tx.query_row(
        "SELECT MAX(version) FROM published_bundle WHERE kind = ?1",
        params![checked.kind],
        |r| r.get(0),
    )?;
    if let Some(newest) = newest.map(|v| v.max(0) as u64)
        && checked.version < newest
    {
        return Err(PublishError::Older {
            kind: checked.kind,
            published: newest,
            offered: checked.version,
        });
    }
    let same_version_other_payload: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM published_bundle
                        WHERE kind = ?1 AND version = ?2 AND payload_sha256 != ?3)",
        params![checked.kind, checked.version as i64, checked.payload_sha256],
        |r| r.get(0),
    )?;
    if same_version_other_payload {
        return Err(PublishError::SameVersionChanged {
            kind: checked.kind,
            version: checked.version,
        });
    }
    let stations_json = stations.map(|s| {
        serde_json::to_string(&s.iter().map(|x| x.trim()).collect::<Vec<_>>()).unwrap_or_default()
    });
    let etag = etag_of(bytes);
    tx.execute(
        "INSERT INTO published_bundle (kind, version, bytes, etag, payload_sha256, signer, stations, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            checked.kind,
            checked.version as i64,
            bytes,
            etag,
            checked.payload_sha256,
            checked.signer,
            stations_json,
            now.to_rfc3339()
        ],
    )?;
    let id = tx.last_insert_rowid()?;
    for code in &checked.items {
        tx.execute(
            "INSERT INTO published_item (bundle_id, code) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, code],
        )?;
    }
    tx.commit()?;
    tracing::info!(kind = %checked.kind, version = checked.version, staged = stations.is_some(), "bundle published");
    Ok(Published {
        id,
        kind: checked.kind,
        version: checked.version,
        etag,
        signer: checked.signer,
        stations: stations.map(|s| s.iter().map(|x| x.trim().to_string()).collect()),
        published_at: now,
    })
}

/// The newest bundle of `kind` published to `station`, with its ETag; `None`: serve the one the
/// back office started with (or 404 for a key rotation).
pub fn served(db: &Db, kind: &str, station: &str) -> Result<Option<(Vec<u8>, String)>, DbError> {
    let candidates = db.conn().prepare(
        "SELECT id, stations FROM published_bundle WHERE kind = ?1 ORDER BY version DESC, id DESC",
    )?
    .query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<Result<Vec<(i64, Option<String>)>, _>>()?;
    let Some(id) = newest_for(candidates, station) else {
        return Ok(None);
    };
    Ok(db
        .conn()
        .query_row(
            "SELECT bytes, etag FROM published_bundle WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The first of `candidates` (id, stations as a JSON list or `None` for every station), newest
/// first, offered to `station` (portable SQL: the list is read here, not by the database).
pub(crate) fn newest_for(candidates: Vec<(i64, Option<String>)>, station: &str) -> Option<i64> {
    candidates
        .into_iter()
        .find_map(|(id, stations)| match stations {
            None => Some(id),
            Some(list) => serde_json::from_str::<Vec<String>>(&list)
                .ok()?
                .iter()
                .any(|s| s == station)
                .then_some(id),
        })
}

/// Whether any published catalogue lets villages apply for `code`.
pub fn knows_item(db: &Db, code: &str) -> Result<bool, DbError> {
    Ok(db.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM published_item WHERE code = ?1)",
        params![code],
        |r| r.get(0),
    )?)
}

/// Every published bundle, newest first.
pub fn published(db: &Db) -> Result<Vec<Published>, DbError> {
    let mut stmt = db.conn().prepare(
        "SELECT id, kind, version, etag, signer, stations, published_at FROM published_bundle
         ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Published {
            id: r.get(0)?,
            kind: r.get(1)?,
            version: r.get::<_, i64>(2)?.max(0) as u64,
            etag: r.get(3)?,
            signer: r.get(4)?,
            stations: r
                .get::<_, Option<String>>(5)?
                .and_then(|s| serde_json::from_str(&s).ok()),
            published_at: parse_ts(&r.get::<_, String>(6)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Keeps the sync report of a station's heartbeat (its versions and refusals).
pub fn record_heartbeat(
    db: &Db,
    station: &str,
    hb: &wire::Heartbeat,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let Some(report) = &hb.sync else {
        return Ok(());
    };
    db.conn().execute(
        "INSERT INTO station_sync (station_id, software_version, report, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (station_id) DO UPDATE SET software_version = excluded.software_version,
             report = excluded.report, at = excluded.at",
        params![
            station,
            hb.software_version,
            serde_json::to_string(report).unwrap_or_else(|_| "{}".into()),
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

/// Where a station stands with the catalogue offered to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    /// It runs the catalogue offered to it.
    Current,
    /// A newer catalogue is offered; it has not installed it yet (waiting for the visit to end,
    /// or for its next check).
    Pending { offered: u64 },
    /// It refused what it was offered (the newest refusal's kind, reason and detail).
    Refused {
        kind: String,
        reason: String,
        detail: String,
    },
    /// Nothing published to it, or no heartbeat with a sync report yet.
    Unknown,
}

/// One station in the rollout view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationRollout {
    pub station_id: String,
    pub software_version: String,
    pub report: SyncReport,
    pub at: DateTime<Utc>,
    /// The catalogue version published to this station, if any.
    pub offered_catalog: Option<u64>,
    pub state: RolloutState,
}

/// Every station that reported a sync state: software and bundle versions, and where it stands.
pub fn rollout(db: &Db) -> Result<Vec<StationRollout>, DbError> {
    let mut stmt = db.conn().prepare(
        "SELECT station_id, software_version, report, at FROM station_sync ORDER BY station_id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (station_id, software_version, report, at) in rows {
        let report: SyncReport = serde_json::from_str(&report).unwrap_or_default();
        let offered_catalog = match served(db, bundle::KIND_CATALOG, &station_id)? {
            Some((bytes, _)) => check(&bytes).ok().map(|c| c.version),
            None => None,
        };
        let state = if let Some(r) = report.refusals.first() {
            RolloutState::Refused {
                kind: r.kind.clone(),
                reason: r.reason.clone(),
                detail: r.detail.clone(),
            }
        } else {
            match (offered_catalog, report.catalog_version) {
                (Some(o), Some(i)) if i >= o => RolloutState::Current,
                (Some(o), _) => RolloutState::Pending { offered: o },
                (None, _) => RolloutState::Unknown,
            }
        };
        out.push(StationRollout {
            station_id,
            software_version,
            report,
            at: parse_ts(&at),
            offered_catalog,
            state,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Staff commands (`county-backoffice publish`, `county-backoffice rollout`).

/// `county-backoffice publish BUNDLE`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The signed bundle (catalogue, announcements or key rotation; `kiosk catalog sign`).
    pub bundle: PathBuf,
    /// Offer it first to these stations only (comma separated ids); publish again without
    /// this to offer it to every station.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub stations: Option<Vec<String>>,
    #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
    pub db: PathBuf,
}

/// Runs `county-backoffice publish`.
pub fn run_publish(args: PublishArgs) -> Result<ExitCode, PublishError> {
    let bytes = std::fs::read(&args.bundle).map_err(|source| PublishError::Read {
        path: args.bundle.clone(),
        source,
    })?;
    let db = Db::open(&args.db)?;
    let p = publish(&db, &bytes, args.stations.as_deref(), Utc::now())?;
    println!(
        "published {} version {} (signed by {}) to {}",
        p.kind,
        p.version,
        p.signer,
        match &p.stations {
            Some(s) => format!("stations {} first", s.join(", ")),
            None => "every station".to_string(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `county-backoffice rollout`: each station's versions and where it stands.
pub fn run_rollout(db: PathBuf) -> Result<ExitCode, PublishError> {
    let db = Db::open(&db)?;
    for p in published(&db)?.iter().take(10) {
        println!(
            "published #{:<4} {:<13} version {:<6} {} {}",
            p.id,
            p.kind,
            p.version,
            p.published_at.format("%Y-%m-%d %H:%M"),
            p.stations.as_ref().map_or_else(
                || "to every station".to_string(),
                |s| format!("to {}", s.join(","))
            )
        );
    }
    println!(
        "{:<20} {:<10} {:<9} {:<9} {:<8} STATE",
        "STATION", "SOFTWARE", "CATALOG", "NOTICES", "KEYRING"
    );
    let rows = rollout(&db)?;
    for r in &rows {
        let v = |x: Option<u64>| x.map_or_else(|| "-".to_string(), |v| v.to_string());
        let state = match &r.state {
            RolloutState::Current => "current".to_string(),
            RolloutState::Pending { offered } => format!("pending (version {offered} offered)"),
            RolloutState::Refused {
                kind,
                reason,
                detail,
            } => format!("refused {kind} ({reason}): {detail}"),
            RolloutState::Unknown => "-".to_string(),
        };
        println!(
            "{:<20} {:<10} {:<9} {:<9} {:<8} {}",
            r.station_id,
            r.software_version,
            v(r.report.catalog_version),
            v(r.report.announcements_version),
            v(r.report.keyring_version),
            state
        );
    }
    if rows.is_empty() {
        println!("(no station has reported its sync state yet)");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::demo::demo_catalog;

    #[test]
    fn staged_then_everyone_and_no_older_versions() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        let key = bundle::demo_signing_key();
        let mut c = demo_catalog();
        c.version = 2;
        let v2 = bundle::sign_catalog(&c, &key).unwrap();
        assert!(served(&db, "catalog", "S1").unwrap().is_none());
        publish(&db, &v2, Some(&["S1".to_string()]), Utc::now()).unwrap();
        assert!(served(&db, "catalog", "S1").unwrap().is_some());
        assert!(served(&db, "catalog", "S2").unwrap().is_none());
        publish(&db, &v2, None, Utc::now()).unwrap();
        assert!(served(&db, "catalog", "S2").unwrap().is_some());
        c.version = 1;
        let v1 = bundle::sign_catalog(&c, &key).unwrap();
        assert!(matches!(
            publish(&db, &v1, None, Utc::now()),
            Err(PublishError::Older {
                published: 2,
                offered: 1,
                ..
            })
        ));
        c.version = 2;
        c.items.pop();
        let other = bundle::sign_catalog(&c, &key).unwrap();
        assert!(matches!(
            publish(&db, &other, None, Utc::now()),
            Err(PublishError::SameVersionChanged { version: 2, .. })
        ));
        // Tampered: refused before any station sees it.
        let mut bad = v2.clone();
        let n = bad.len();
        bad[n / 2] ^= 1;
        assert!(matches!(
            publish(&db, &bad, None, Utc::now()),
            Err(PublishError::Bundle(_))
        ));
        assert_eq!(published(&db).unwrap().len(), 2);
        assert!(knows_item(&db, "SB-001").unwrap());
    }
}
