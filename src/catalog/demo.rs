//! The demo catalogue (演示事项目录) shipped in `data/demo-catalog.json`, used by demo mode,
//! tests and screenshots. Content only: the rules every guide must pass are in
//! [`super::validate`].
//!
//! The JSON file is embedded at compile time, so this module never does I/O. Its unit tests
//! hold the demo catalogue to [`check_catalog`], the same check county bundles pass.
//! This module must never hold personal data or print anything.

use std::sync::{Arc, LazyLock};

use super::model::Catalog;

/// The life events (生命周期/主题) the demo catalogue tags its items with, in display order.
pub const DEMO_LIFE_EVENTS: [&str; 10] = [
    "退休养老",
    "生育收养",
    "婚姻家庭",
    "就医看病",
    "困难救助",
    "残疾人服务",
    "就业创业",
    "农业生产",
    "法律服务",
    "军人退役",
];

/// The raw text of `data/demo-catalog.json`, as embedded in the binary.
pub const DEMO_CATALOG_JSON: &str = include_str!("../../data/demo-catalog.json");

/// Parsed once on first use. The file is part of the source tree and the unit tests below parse
/// it, so a parse failure here is a build defect, not bad input.
static DEMO_CATALOG: LazyLock<Arc<Catalog>> =
    LazyLock::new(|| {
        Arc::new(serde_json::from_str(DEMO_CATALOG_JSON).expect(
            "data/demo-catalog.json is embedded at build time and checked by the unit tests",
        ))
    });

/// The demo catalogue of the fictional county 示范县 (a copy the caller may change).
pub fn demo_catalog() -> Catalog {
    Catalog::clone(&DEMO_CATALOG)
}

/// The demo catalogue without copying it.
pub fn demo_catalog_ref() -> &'static Catalog {
    DEMO_CATALOG.as_ref()
}

/// The demo catalogue shared, without copying it (demo mode's kiosk and back office hold one).
pub fn demo_catalog_shared() -> Arc<Catalog> {
    Arc::clone(&DEMO_CATALOG)
}

// The completeness rules moved to `super::validate`; these names stay for callers.
pub use super::validate::{check_catalog, check_complete};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{CardField, CaseKind, Category, FieldKind, ServiceItem};
    use std::collections::{BTreeMap, HashSet};

    fn item(code: &str) -> ServiceItem {
        demo_catalog_ref()
            .items
            .iter()
            .find(|i| i.code == code)
            .cloned()
            .unwrap_or_else(|| panic!("demo item {code} is missing"))
    }

    #[test]
    fn the_embedded_file_parses_and_round_trips() {
        let parsed: Catalog =
            serde_json::from_str(DEMO_CATALOG_JSON).expect("demo catalogue parses");
        assert_eq!(parsed, demo_catalog());
        let again: Catalog =
            serde_json::from_str(&serde_json::to_string(&parsed).expect("serializes"))
                .expect("re-parses");
        assert_eq!(again, parsed);
        assert_eq!(parsed.county, "示范县");
        assert!(parsed.version >= 1);
    }

    #[test]
    fn every_demo_item_is_complete() {
        let problems = check_catalog(demo_catalog_ref());
        assert!(
            problems.is_empty(),
            "incomplete demo items:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn the_demo_catalogue_is_large_and_covers_every_category() {
        let catalog = demo_catalog_ref();
        assert!(
            catalog.items.len() >= 40,
            "only {} items",
            catalog.items.len()
        );
        let mut per_category: BTreeMap<Category, usize> = BTreeMap::new();
        for item in &catalog.items {
            *per_category.entry(item.category).or_default() += 1;
        }
        for category in Category::ALL {
            assert!(
                per_category.contains_key(&category),
                "no demo item in category {}",
                category.label_zh()
            );
        }
        let online = catalog.items.iter().filter(|i| i.village_online).count();
        assert!(
            online * 4 >= catalog.items.len() * 3,
            "most items are accepted online"
        );
        assert!(
            catalog.items.iter().any(|i| !i.village_online),
            "a few items need the hall"
        );
        assert!(
            catalog
                .items
                .iter()
                .any(|i| i.case_kind == CaseKind::Immediate),
            "some items are decided on the spot"
        );
    }

    #[test]
    fn demo_life_events_are_a_small_consistent_set() {
        let mut used = HashSet::new();
        for item in &demo_catalog_ref().items {
            for event in &item.life_events {
                assert!(
                    DEMO_LIFE_EVENTS.contains(&event.as_str()),
                    "{}: unknown life event {event}",
                    item.code
                );
                used.insert(event.as_str());
            }
        }
        assert_eq!(
            used.len(),
            DEMO_LIFE_EVENTS.len(),
            "every life event has an item"
        );
    }

    /// Stricter than [`check_complete`] for the demo: every optional text a villager reads is
    /// written, and each guide answers at least two common questions.
    #[test]
    fn demo_guides_fill_every_optional_text() {
        for item in &demo_catalog_ref().items {
            let code = &item.code;
            assert!(
                item.short_name
                    .as_deref()
                    .is_some_and(|s| !s.trim().is_empty()),
                "{code}: short_name"
            );
            assert!(!item.life_events.is_empty(), "{code}: life_events");
            assert!(
                (2..=4).contains(&item.faq.len()),
                "{code}: {} FAQ entries",
                item.faq.len()
            );
            for m in &item.materials {
                assert!(!m.notes.trim().is_empty(), "{code}: notes of {}", m.name);
            }
            for f in &item.form {
                assert!(!f.hint.trim().is_empty(), "{code}: hint of {}", f.key);
            }
            assert!(
                item.locations.iter().any(|l| l.name.contains("便民服务站")),
                "{code}: the village station is among the locations"
            );
        }
    }

    #[test]
    fn the_worked_pension_guide_matches_the_reference() {
        let pension = item("SB-001");
        assert_eq!(pension.name, "城乡居民基本养老保险参保登记");
        assert_eq!(pension.category, Category::SocialInsurance);
        assert_eq!(pension.promised_time_limit_days, 3);
        assert!(!pension.fee.charged);
        assert_eq!(pension.consult_phone, "12333");
        assert!(pension.aliases.iter().any(|a| a.contains("养老")));
        let materials: Vec<&str> = pension.materials.iter().map(|m| m.name.as_str()).collect();
        assert!(
            materials.iter().any(|m| m.contains("登记表")),
            "{materials:?}"
        );
        assert!(
            materials.iter().any(|m| m.contains("户口簿")),
            "{materials:?}"
        );
        assert!(
            materials.iter().any(|m| m.contains("身份证")),
            "{materials:?}"
        );
        assert!(pension.conditions.iter().any(|c| c.contains("16周岁")));
        assert!(pension.conditions.iter().any(|c| c.contains("在校学生")));
        assert!(
            pension
                .conditions
                .iter()
                .any(|c| c.contains("职工基本养老保险"))
        );
        assert!(pension.village_online);
    }

    /// Full pinyin and initials of a text, the way a villager types it (`yanglao`, `ylbx`).
    fn pinyin_forms(text: &str) -> (String, String) {
        use pinyin::ToPinyin;
        let (mut full, mut initials) = (String::new(), String::new());
        for (c, p) in text.chars().zip(text.to_pinyin()) {
            match p {
                Some(p) => {
                    full.push_str(p.plain());
                    initials.push_str(p.first_letter());
                }
                None => {
                    full.push(c);
                    initials.push(c);
                }
            }
        }
        (full, initials)
    }

    #[test]
    fn the_pension_guide_is_found_by_chinese_pinyin_and_initials() {
        let pension = item("SB-001");
        let mut texts = vec![pension.name.clone()];
        texts.extend(pension.short_name.clone());
        texts.extend(pension.aliases.clone());
        let forms: Vec<(String, String)> = texts.iter().map(|t| pinyin_forms(t)).collect();
        assert!(pension.name.contains("养老"), "{texts:?}");
        assert!(
            forms.iter().any(|(full, _)| full.contains("yanglao")),
            "{forms:?}"
        );
        assert!(
            forms.iter().any(|(_, initials)| initials.contains("ylbx")),
            "{forms:?}"
        );
    }

    #[test]
    fn the_worked_subsistence_guide_matches_the_reference() {
        let dibao = item("MZ-001");
        assert_eq!(dibao.name, "最低生活保障申请");
        assert_eq!(dibao.category, Category::CivilAffairs);
        assert_eq!(dibao.case_kind, CaseKind::Committed);
        assert_eq!(dibao.promised_time_limit_days, 25);
        assert!(dibao.legal_time_limit_days >= 25);
        let steps: Vec<&str> = dibao.steps.iter().map(|s| s.name.as_str()).collect();
        for expected in [
            "受理",
            "家庭经济状况调查",
            "民主评议",
            "公示",
            "审核",
            "审批",
        ] {
            assert!(
                steps.iter().any(|s| s.contains(expected)),
                "step {expected} missing in {steps:?}"
            );
        }
        let materials: Vec<&str> = dibao.materials.iter().map(|m| m.name.as_str()).collect();
        assert!(
            materials.iter().any(|m| m.contains("授权")),
            "{materials:?}"
        );
        assert!(dibao.form.iter().any(|f| f.kind == FieldKind::BankAccount));
    }

    #[test]
    fn the_checker_finds_each_kind_of_problem() {
        let good = item("SB-001");
        assert!(check_complete(&good).is_empty());

        let mut bad = good.clone();
        bad.promised_time_limit_days = bad.legal_time_limit_days + 1;
        assert!(
            check_complete(&bad)
                .iter()
                .any(|p| p.contains("exceeds the legal"))
        );

        let mut bad = good.clone();
        bad.steps[0].time_limit_days = bad.promised_time_limit_days + 1;
        assert!(check_complete(&bad).iter().any(|p| p.contains("add up to")));

        let mut bad = good.clone();
        bad.case_kind = CaseKind::Immediate;
        assert!(check_complete(&bad).iter().any(|p| p.contains("即办件")));

        let mut bad = good.clone();
        bad.materials[0].source = " ".into();
        assert!(
            check_complete(&bad)
                .iter()
                .any(|p| p.contains("materials[0].source"))
        );

        let mut bad = good.clone();
        bad.materials[0].required = false;
        bad.materials[0].notes.clear();
        assert!(check_complete(&bad).iter().any(|p| p.contains("optional")));

        let mut bad = good.clone();
        bad.form
            .retain(|f| f.card_fill != Some(CardField::IdNumber));
        assert!(
            check_complete(&bad)
                .iter()
                .any(|p| p.contains("card_fill: id_number"))
        );

        let mut bad = good.clone();
        bad.form.retain(|f| f.kind != FieldKind::Phone);
        assert!(
            check_complete(&bad)
                .iter()
                .any(|p| p.contains("phone field"))
        );

        let mut bad = good.clone();
        let first = bad.form[0].clone();
        bad.form.push(first);
        assert!(check_complete(&bad).iter().any(|p| p.contains("repeats")));

        let mut bad = good.clone();
        bad.form.clear();
        assert!(check_complete(&bad).iter().any(|p| p.contains("no field")));

        let mut bad = good.clone();
        bad.village_online = false;
        assert!(
            check_complete(&bad)
                .iter()
                .any(|p| p.contains("form must be empty"))
        );

        let mut bad = good.clone();
        bad.fee.description = "按标准收取".into();
        assert!(check_complete(&bad).iter().any(|p| p.contains("不收费")));

        let mut catalog = demo_catalog();
        let copy = catalog.items[0].clone();
        catalog.items.push(copy);
        assert!(
            check_catalog(&catalog)
                .iter()
                .any(|p| p.contains("earlier item"))
        );
    }
}
