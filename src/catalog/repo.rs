//! The installed catalogue in the store (已导入的事项目录): replaced whole in one transaction,
//! loaded whole for the search index, looked up by code and listed by category.
//!
//! **Invariant:** [`replace`] either installs the complete new catalogue or leaves the one in use
//! exactly as it was; it never installs an incomplete catalogue or an older version unless told
//! to. Reading never changes anything.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::model::{Catalog, Category, ServiceItem};
use super::validate;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("the catalogue is incomplete ({} problem(s)): {}", problems.len(), problems.join("; "))]
    Incomplete { problems: Vec<String> },
    #[error(
        "catalogue version {offered} of {county} is older than the installed version {installed}; import a newer bundle, or pass --allow-downgrade to roll back on purpose"
    )]
    Downgrade {
        county: String,
        installed: u64,
        offered: u64,
    },
    #[error(
        "the installed catalogue is damaged (item {code}: {detail}); import the county's bundle again"
    )]
    Damaged { code: String, detail: String },
    #[error("store error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Facts about the installed catalogue (目录版本信息).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogMeta {
    pub county: String,
    pub version: u64,
    pub item_count: usize,
    /// RFC 3339, UTC.
    pub imported_at: String,
    /// The file or URL the bundle came from.
    pub source: String,
    /// Hex of the public key that verified the bundle.
    pub signer_key: String,
}

/// Where an import came from and how to treat it.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub source: String,
    pub signer_key: String,
    pub imported_at: DateTime<Utc>,
    /// Accept a version older than the installed one (a deliberate roll-back).
    pub allow_downgrade: bool,
}

/// Replaces the installed catalogue with `catalog` in one transaction. On any error the
/// catalogue in use is untouched.
pub fn replace(
    store: &mut Store,
    catalog: &Catalog,
    opts: &ImportOptions,
) -> Result<CatalogMeta, RepoError> {
    let problems = validate::catalog_problems(catalog);
    if !problems.is_empty() {
        return Err(RepoError::Incomplete { problems });
    }
    let tx = store.conn_mut().transaction()?;
    let installed: Option<(String, i64)> = tx
        .query_row(
            "SELECT county, version FROM catalog_meta WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((county, installed)) = installed {
        let installed = u64::try_from(installed).unwrap_or(0);
        if catalog.version < installed && !opts.allow_downgrade {
            return Err(RepoError::Downgrade {
                county,
                installed,
                offered: catalog.version,
            });
        }
    }
    tx.execute("DELETE FROM catalog_item", [])?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO catalog_item (code, position, category, name, item_json) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (pos, item) in catalog.items.iter().enumerate() {
            let json = serde_json::to_string(item).map_err(|e| RepoError::Damaged {
                code: item.code.clone(),
                detail: e.to_string(),
            })?;
            insert.execute(params![
                item.code,
                pos as i64,
                item.category.label_zh(),
                item.name,
                json
            ])?;
        }
    }
    let meta = CatalogMeta {
        county: catalog.county.clone(),
        version: catalog.version,
        item_count: catalog.items.len(),
        imported_at: opts.imported_at.to_rfc3339(),
        source: opts.source.clone(),
        signer_key: opts.signer_key.clone(),
    };
    tx.execute(
        "INSERT INTO catalog_meta (id, county, version, item_count, imported_at, source, signer_key)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET county = excluded.county, version = excluded.version,
           item_count = excluded.item_count, imported_at = excluded.imported_at,
           source = excluded.source, signer_key = excluded.signer_key",
        params![
            meta.county,
            i64::try_from(meta.version).unwrap_or(i64::MAX),
            meta.item_count as i64,
            meta.imported_at,
            meta.source,
            meta.signer_key
        ],
    )?;
    tx.commit()?;
    tracing::info!(
        county = %meta.county,
        version = meta.version,
        items = meta.item_count,
        source = %meta.source,
        "catalogue installed"
    );
    Ok(meta)
}

/// Where the catalogue in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    Installed(CatalogMeta),
    /// Nothing imported yet and the kiosk is in demo mode: the built-in demo catalogue.
    Demo,
}

/// Why there is no catalogue to use.
#[derive(Debug, thiserror::Error)]
pub enum InUseError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(
        "no catalogue installed in {}; import the county's signed bundle with `kiosk catalog import FILE`",
        path.display()
    )]
    NotInstalled { path: std::path::PathBuf },
}

/// The catalogue the kiosk uses under `config`: the installed one, or — when none was imported
/// and the kiosk is in demo mode — the demo catalogue. Does not create the store just to read.
pub fn in_use(config: &crate::config::Config) -> Result<(Catalog, CatalogSource), InUseError> {
    let path = crate::config::data_dir(config).join(crate::store::STORE_FILE);
    if path.exists() {
        let store = Store::open(&path)?;
        if let Some((meta, catalog)) = load(&store)? {
            return Ok((catalog, CatalogSource::Installed(meta)));
        }
    }
    if config.is_demo() {
        return Ok((super::demo::demo_catalog(), CatalogSource::Demo));
    }
    Err(InUseError::NotInstalled { path })
}

/// The installed catalogue's metadata, or `None` if none was imported yet.
pub fn meta(store: &Store) -> Result<Option<CatalogMeta>, RepoError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT county, version, item_count, imported_at, source, signer_key FROM catalog_meta WHERE id = 1",
            [],
            |r| {
                Ok(CatalogMeta {
                    county: r.get(0)?,
                    version: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    item_count: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    imported_at: r.get(3)?,
                    source: r.get(4)?,
                    signer_key: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// The installed catalogue, items in the county's order, or `None` if none was imported yet.
pub fn load(store: &Store) -> Result<Option<(CatalogMeta, Catalog)>, RepoError> {
    let Some(meta) = meta(store)? else {
        return Ok(None);
    };
    let items = query_items(
        store,
        "SELECT code, item_json FROM catalog_item ORDER BY position",
        [],
    )?;
    let catalog = Catalog {
        county: meta.county.clone(),
        version: meta.version,
        items,
    };
    Ok(Some((meta, catalog)))
}

/// One item by its code (事项编码), exact match.
pub fn item_by_code(store: &Store, code: &str) -> Result<Option<ServiceItem>, RepoError> {
    let mut items = query_items(
        store,
        "SELECT code, item_json FROM catalog_item WHERE code = ?1",
        [code],
    )?;
    Ok(items.pop())
}

/// Items of one category (or all), in the county's order.
pub fn list_by_category(
    store: &Store,
    category: Option<Category>,
) -> Result<Vec<ServiceItem>, RepoError> {
    match category {
        Some(c) => query_items(
            store,
            "SELECT code, item_json FROM catalog_item WHERE category = ?1 ORDER BY position",
            [c.label_zh()],
        ),
        None => query_items(
            store,
            "SELECT code, item_json FROM catalog_item ORDER BY position",
            [],
        ),
    }
}

fn query_items<P: rusqlite::Params>(
    store: &Store,
    sql: &str,
    params: P,
) -> Result<Vec<ServiceItem>, RepoError> {
    let mut stmt = store.conn().prepare(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut items = Vec::new();
    for row in rows {
        let (code, json) = row?;
        let item = serde_json::from_str(&json).map_err(|e| RepoError::Damaged {
            code,
            detail: e.to_string(),
        })?;
        items.push(item);
    }
    Ok(items)
}
