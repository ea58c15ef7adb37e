//! The [`Catalogue`] port over the installed catalogue and its pinyin search index
//! (`catalog::search`). No I/O: the catalogue is loaded by whoever builds the station.

use std::sync::{Arc, OnceLock};

use super::ports::Catalogue;
use crate::catalog::search::SearchIndex;
use crate::catalog::{Catalog, Category, ServiceItem};

/// The catalogue and its search index. The index is built once, on a thread of its own, so
/// that start-up (the idle screen needs no catalogue) does not wait for it; the first call that
/// needs it before it is ready waits for it (or builds it, if the thread has not begun).
pub struct IndexedCatalogue {
    catalog: Arc<Catalog>,
    index: Arc<OnceLock<SearchIndex>>,
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
        Self { catalog, index }
    }

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

impl Catalogue for IndexedCatalogue {
    fn county(&self) -> String {
        self.catalog.county.clone()
    }
    fn item(&self, code: &str) -> Option<ServiceItem> {
        self.catalog.items.iter().find(|i| i.code == code).cloned()
    }
    fn search(&self, query: &str, limit: usize) -> Vec<ServiceItem> {
        let idx: Vec<usize> = self
            .index()
            .search(query, limit)
            .into_iter()
            .map(|h| h.index)
            .collect();
        self.items_at(&idx)
    }
    fn by_category(&self, category: Category) -> Vec<ServiceItem> {
        self.items_at(self.index().by_category(category))
    }
    fn count_in(&self, category: Category) -> usize {
        self.index().by_category(category).len()
    }
    fn by_life_event(&self, event: &str) -> Vec<ServiceItem> {
        self.items_at(self.index().by_life_event(event))
    }
    fn life_events(&self) -> Vec<String> {
        self.index()
            .life_events()
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }
}
