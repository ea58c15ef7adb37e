//! The kiosk's one SQLite file (`kiosk.sqlite3` under the data directory): connection settings,
//! versioned migrations and the integrity check at start.
//!
//! WAL with `synchronous=FULL`: a transaction that returned is on disk and survives power loss.
//! `secure_delete=ON`: what a purge deletes is zeroed on disk, not just unlinked.
//! `cache_size` of [`CACHE_KIB`] per connection: memory stays bounded however the store grows.
//! Each area keeps its tables in its own migration file under `migrations/`; this module owns
//! only the mechanism.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

mod migrations;
pub mod salvage;

pub use migrations::{MIGRATIONS, Migration};

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "kiosk.sqlite3";

/// The page cache of each connection to the store, in KiB (`PRAGMA cache_size`). SQLite's
/// default is 2,000 KiB per connection, and a cache keeps every page it read until it is full:
/// with the store growing by the cases page's summaries, the station's few connections would
/// each fill 2 MB over thousands of visits (the soak, issue 14). The store is small and the
/// operating system caches the file as well, so a kiosk with little RAM keeps this bound.
pub const CACHE_KIB: i64 = 512;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the store {path} is damaged ({detail}); run `kiosk outbox salvage` (copies its undelivered applications into a fresh store) or move it aside and restart; the county keeps every confirmed case"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the store {path} has schema version {found}, newer than this kiosk knows ({known}); install a newer kiosk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("migration to schema version {version} failed: {source}")]
    Migration {
        version: i64,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// An open store. One owner per connection; open another `Store` for another thread.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path`, checks its integrity and migrates it to the
    /// newest schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let mut store = Store { conn, path };
        store.configure()?;
        store.check_integrity()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store in the data directory, creating the directory if needed.
    pub fn open_in(data_dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        Store::open(dir.join(STORE_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn configure(&self) -> Result<(), StoreError> {
        let damaged = |e: rusqlite::Error| StoreError::Damaged {
            path: self.path.clone(),
            detail: e.to_string(),
        };
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(damaged)?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(damaged)?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(damaged)?;
        // Negative: a size in KiB, not in pages.
        self.conn
            .pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(damaged)?;
        // Deleted content is overwritten with zeros, so a purged ID number does not linger in
        // free pages (issue 14 #7).
        self.conn
            .pragma_update(None, "secure_delete", "ON")
            .map_err(damaged)?;
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(damaged)?;
        Ok(())
    }

    fn check_integrity(&self) -> Result<(), StoreError> {
        let result: Result<String, rusqlite::Error> =
            self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
        match result {
            Ok(s) if s == "ok" => Ok(()),
            Ok(s) => Err(StoreError::Damaged {
                path: self.path.clone(),
                detail: s,
            }),
            Err(e) => Err(StoreError::Damaged {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
        }
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.schema_version()?;
        let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
        if current > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                known,
            });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(m.sql)
                .map_err(|source| StoreError::Migration {
                    version: m.version,
                    source,
                })?;
            tx.pragma_update(None, "user_version", m.version)
                .map_err(|source| StoreError::Migration {
                    version: m.version,
                    source,
                })?;
            tx.commit()?;
        }
        Ok(())
    }
}
