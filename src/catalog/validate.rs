//! Completeness of a catalogue before it is signed or imported: every item carries every element
//! of its guide (办事指南) and a sound form, and item codes are unique.
//!
//! One rule set for the demo catalogue and for county bundles: the per-item rules live with the
//! demo catalogue ([`super::demo::check_complete`]), this adds what only a whole catalogue can
//! get wrong. Problems are English sentences naming the item code and the element, e.g.
//! `SB-001: materials[2].source is empty`. Pure: never does I/O, never changes data.

use super::demo;
use super::model::{Catalog, ServiceItem};

/// Every problem in the catalogue; empty means it may be signed and imported.
pub fn catalog_problems(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    if catalog.items.is_empty() {
        problems.push("catalog: items is empty (a catalogue holds at least one item)".to_string());
    }
    problems.extend(demo::check_catalog(catalog));
    problems.extend(super::eligibility::catalog_problems(catalog));
    problems
}

/// Every problem in one item.
pub fn item_problems(item: &ServiceItem) -> Vec<String> {
    demo::check_complete(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Category;
    use crate::catalog::sample::{generated_catalog, sample_item};

    #[test]
    fn generated_items_are_complete() {
        assert_eq!(
            catalog_problems(&generated_catalog(300)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn missing_elements_and_duplicate_codes_are_named() {
        let mut a = sample_item(
            "SB-001",
            "城乡居民基本养老保险参保登记",
            Category::SocialInsurance,
        );
        a.materials[0].source.clear();
        let b = sample_item("SB-001", "养老保险待遇申领", Category::SocialInsurance);
        let problems = catalog_problems(&Catalog {
            county: "示范县".into(),
            version: 1,
            items: vec![a, b],
        });
        assert!(
            problems
                .iter()
                .any(|p| p.contains("SB-001") && p.contains("materials[0].source")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("items[1]")),
            "{problems:?}"
        );
        let empty = Catalog {
            county: "示范县".into(),
            version: 1,
            items: vec![],
        };
        assert_eq!(catalog_problems(&empty).len(), 1);
    }
}
