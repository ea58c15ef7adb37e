//! The [`Catalogue`] port over the installed catalogue and its pinyin search index
//! (`catalog::search`). No I/O: the catalogue is loaded by whoever builds the station, and a
//! catalogue installed by sync is handed in whole ([`IndexedCatalogue::replace`]).

use std::sync::{Arc, OnceLock, RwLock};

use super::ports::Catalogue;
use crate::catalog::search::SearchIndex;
use crate::catalog::{Catalog, Category, ServiceItem};

/// One catalogue with its index, built together; never changed after it is made.
struct Indexed {
    catalog: Arc<Catalog>,
    index: Arc<OnceLock<SearchIndex>>,
}

impl Indexed {
    fn index(&self) -> &SearchIndex {
        self.index
            .get_or_init(|| SearchIndex::build(&self.catalog.items))
    }

    fn items_at(&self, idx: &[usize]) -> Vec<ServiceItem> {
        idx.iter()
            .filter_map(|&i| self.catalog.items.get(i).cloned())
            .collect()
    }
}

/// A catalogue with its search index built, not yet in use.
pub struct PreparedCatalogue(Arc<Indexed>);

impl PreparedCatalogue {
    pub fn version(&self) -> u64 {
        self.0.catalog.version
    }
}

/// The catalogue and its search index. The index is built once, on a thread of its own, so
/// that start-up (the idle screen needs no catalogue) does not wait for it; the first call that
/// needs it before it is ready waits for it (or builds it, if the thread has not begun).
///
/// A newer catalogue replaces the whole pair at once, its index already built, so a reader
/// sees either the old catalogue with the old index or the new with the new, never a mix.
pub struct IndexedCatalogue {
    current: RwLock<Arc<Indexed>>,
}

impl IndexedCatalogue {
    pub fn new(catalog: Catalog) -> Self {
        Self::shared(Arc::new(catalog))
    }

    /// The same for a catalogue shared with others (demo mode's back office).
    pub fn shared(catalog: Arc<Catalog>) -> Self {
        let index = Arc::new(OnceLock::new());
        let (c, i) = (catalog.clone(), index.clone());
        let spawned = std::thread::Builder::new()
            .name("catalogue-index".into())
            .spawn(move || {
                i.get_or_init(|| SearchIndex::build(&c.items));
            });
        if let Err(e) = spawned {
            tracing::warn!("search index built on first use: no thread for it ({e})");
        }
        Self {
            current: RwLock::new(Arc::new(Indexed { catalog, index })),
        }
    }

    /// Builds `catalog`'s search index (seconds for a large catalogue: call it off the UI
    /// thread); [`IndexedCatalogue::put`] then puts it in use.
    pub fn prepare(catalog: Catalog) -> PreparedCatalogue {
        let index = OnceLock::new();
        index.get_or_init(|| SearchIndex::build(&catalog.items));
        PreparedCatalogue(Arc::new(Indexed {
            catalog: Arc::new(catalog),
            index: Arc::new(index),
        }))
    }

    /// Puts a prepared catalogue in use (a pointer swap). What a page already copied (the open
    /// guide's item) stays as it was.
    pub fn put(&self, prepared: PreparedCatalogue) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = prepared.0;
    }

    /// [`IndexedCatalogue::prepare`] and [`IndexedCatalogue::put`] in one.
    pub fn replace(&self, catalog: Catalog) {
        self.put(Self::prepare(catalog));
    }

    /// The catalogue's version in use now.
    pub fn version(&self) -> u64 {
        self.now().catalog.version
    }

    fn now(&self) -> Arc<Indexed> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Catalogue for IndexedCatalogue {
    fn county(&self) -> String {
        self.now().catalog.county.clone()
    }
    fn item(&self, code: &str) -> Option<ServiceItem> {
        self.now()
            .catalog
            .items
            .iter()
            .find(|i| i.code == code)
            .cloned()
    }
    fn search(&self, query: &str, limit: usize) -> Vec<ServiceItem> {
        let c = self.now();
        let idx: Vec<usize> = c
            .index()
            .search(query, limit)
            .into_iter()
            .map(|h| h.index)
            .collect();
        c.items_at(&idx)
    }
    fn by_category(&self, category: Category) -> Vec<ServiceItem> {
        let c = self.now();
        c.items_at(c.index().by_category(category))
    }
    fn count_in(&self, category: Category) -> usize {
        self.now().index().by_category(category).len()
    }
    fn by_life_event(&self, event: &str) -> Vec<ServiceItem> {
        let c = self.now();
        c.items_at(c.index().by_life_event(event))
    }
    fn life_events(&self) -> Vec<String> {
        self.now()
            .index()
            .life_events()
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_catalogue_is_searched_with_its_own_index() {
        let old = crate::catalog::demo::demo_catalog();
        let c = IndexedCatalogue::new(old.clone());
        let mut new = old;
        new.version += 1;
        let mut extra = new.items[0].clone();
        extra.code = "NEW-001".into();
        extra.name = "新增测试事项".into();
        new.items.push(extra);
        assert!(c.search("新增测试事项", 5).is_empty());
        c.replace(new);
        assert_eq!(c.search("新增测试事项", 5)[0].code, "NEW-001");
        assert!(c.item("NEW-001").is_some());
    }
}
