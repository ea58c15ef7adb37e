//! The demo catalogue (演示事项目录) shipped in `data/demo-catalog.json`, used by demo mode,
//! tests and screenshots, and the completeness check every guide must pass.
//!
//! The JSON file is embedded at compile time, so this module never does I/O. Its unit tests
//! hold the demo catalogue to [`check_catalog`], which the import path reuses for county bundles.
//! This module must never hold personal data or print anything.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use super::model::{CardField, CaseKind, Catalog, FieldKind, MaterialForm, ServiceItem};

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

/// Checks that one service item carries a complete, internally consistent guide and form.
///
/// Returns the problems found, in English, each starting with the item code and naming the
/// element (e.g. `SB-001: materials[2].source is empty`); an empty list means complete.
///
/// What it checks:
/// - every text element is non-empty (code, name, short name and aliases when present,
///   department, implementing body, each legal basis, applicants, each condition, result,
///   phones, each life event); the code is ASCII without spaces;
/// - at least one legal basis, condition, material, process step and location;
/// - materials: name and source non-empty, at least one copy unless it is an electronic licence,
///   and an optional material's notes say when it is needed;
/// - steps: name, actor and description non-empty;
/// - time limits: promised ≤ legal; the steps' limits add up to at most the promised limit;
///   即办件 ⇔ both limits are 0; a 承诺件 promises at least one working day;
/// - fee: a description, which says 不收费 when nothing is charged;
/// - locations: name, address and hours non-empty; phones are digits and hyphens;
/// - FAQ: question and answer non-empty; no duplicate life events or aliases;
/// - not accepted online at the village ⇒ empty form and at least one trip to a hall;
/// - accepted online ⇒ a form with unique ASCII snake_case keys, labels, sound validation rules
///   (text length > 0, number min ≤ max, at least two distinct choices), each card field filling
///   at most one form field of a matching kind, and the fields every application needs: the
///   applicant's name and ID number filled from the ID card, and a required phone number.
pub fn check_complete(item: &ServiceItem) -> Vec<String> {
    let mut problems = Vec::new();
    let code = if item.code.trim().is_empty() {
        "(no code)"
    } else {
        item.code.as_str()
    };
    let mut problem = |what: String| problems.push(format!("{code}: {what}"));

    if item.code.trim().is_empty() {
        problem("code is empty".into());
    } else if !item.code.chars().all(|c| c.is_ascii_graphic()) {
        problem("code must be ASCII letters, digits and punctuation without spaces".into());
    }
    let texts: [(&str, &str); 7] = [
        ("name", &item.name),
        ("department", &item.department),
        ("implementing_body", &item.implementing_body),
        ("applicants", &item.applicants),
        ("result", &item.result),
        ("consult_phone", &item.consult_phone),
        ("complaint_phone", &item.complaint_phone),
    ];
    for (field, value) in texts {
        if value.trim().is_empty() {
            problem(format!("{field} is empty"));
        }
    }
    if let Some(short) = &item.short_name
        && short.trim().is_empty()
    {
        problem("short_name is present but empty".into());
    }
    for (list, values) in [
        ("aliases", &item.aliases),
        ("legal_basis", &item.legal_basis),
        ("conditions", &item.conditions),
        ("life_events", &item.life_events),
    ] {
        let mut seen = HashSet::new();
        for (i, value) in values.iter().enumerate() {
            if value.trim().is_empty() {
                problem(format!("{list}[{i}] is empty"));
            } else if !seen.insert(value.trim()) {
                problem(format!("{list}[{i}] repeats \"{value}\""));
            }
        }
    }
    for (list, len) in [
        ("legal_basis", item.legal_basis.len()),
        ("conditions", item.conditions.len()),
        ("materials", item.materials.len()),
        ("steps", item.steps.len()),
        ("locations", item.locations.len()),
    ] {
        if len == 0 {
            problem(format!("{list} has no entry"));
        }
    }
    for (field, phone) in [
        ("consult_phone", &item.consult_phone),
        ("complaint_phone", &item.complaint_phone),
    ] {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !phone.trim().is_empty()
            && (digits < 5 || !phone.chars().all(|c| c.is_ascii_digit() || c == '-'))
        {
            problem(format!(
                "{field} \"{phone}\" is not a phone number (digits and hyphens, at least 5 digits)"
            ));
        }
    }

    for (i, m) in item.materials.iter().enumerate() {
        if m.name.trim().is_empty() {
            problem(format!("materials[{i}].name is empty"));
        }
        if m.source.trim().is_empty() {
            problem(format!("materials[{i}].source is empty"));
        }
        if !m.required && m.notes.trim().is_empty() {
            problem(format!(
                "materials[{i}] \"{}\" is optional but its notes do not say when it is needed",
                m.name
            ));
        }
        if m.copies == 0 && m.form != MaterialForm::Electronic {
            problem(format!(
                "materials[{i}] \"{}\" has 0 copies; only an electronic licence may have none",
                m.name
            ));
        }
    }
    for (i, s) in item.steps.iter().enumerate() {
        for (field, value) in [
            ("name", &s.name),
            ("actor", &s.actor),
            ("description", &s.description),
        ] {
            if value.trim().is_empty() {
                problem(format!("steps[{i}].{field} is empty"));
            }
        }
    }

    let legal = item.legal_time_limit_days;
    let promised = item.promised_time_limit_days;
    if promised > legal {
        problem(format!(
            "promised time limit {promised} days exceeds the legal limit {legal} days"
        ));
    }
    let step_sum: u64 = item
        .steps
        .iter()
        .map(|s| u64::from(s.time_limit_days))
        .sum();
    if step_sum > u64::from(promised) {
        problem(format!(
            "the steps' time limits add up to {step_sum} days, more than the promised {promised} days"
        ));
    }
    match item.case_kind {
        CaseKind::Immediate if legal != 0 || promised != 0 => problem(format!(
            "an immediate case (即办件) must have time limits 0, found legal {legal} and promised {promised}"
        )),
        CaseKind::Committed if promised == 0 => problem(
            "a committed case (承诺件) must promise at least 1 working day; use 即办件 for 0"
                .into(),
        ),
        _ => {}
    }

    if item.fee.description.trim().is_empty() {
        problem("fee.description is empty".into());
    } else if !item.fee.charged && !item.fee.description.contains("不收费") {
        problem("fee.description must say 不收费 when fee.charged is false".into());
    }
    for (i, l) in item.locations.iter().enumerate() {
        for (field, value) in [
            ("name", &l.name),
            ("address", &l.address),
            ("hours", &l.hours),
        ] {
            if value.trim().is_empty() {
                problem(format!("locations[{i}].{field} is empty"));
            }
        }
    }
    for (i, f) in item.faq.iter().enumerate() {
        if f.question.trim().is_empty() {
            problem(format!("faq[{i}].question is empty"));
        }
        if f.answer.trim().is_empty() {
            problem(format!("faq[{i}].answer is empty"));
        }
    }

    if !item.village_online {
        if !item.form.is_empty() {
            problem("form must be empty when village_online is false".into());
        }
        if item.trips_to_hall == 0 {
            problem(
                "trips_to_hall is 0 but the village point cannot accept the item online".into(),
            );
        }
        return problems;
    }
    if item.form.is_empty() {
        problem("village_online is true but the form has no field".into());
        return problems;
    }
    let mut keys = HashSet::new();
    let mut filled: Vec<CardField> = Vec::new();
    for (i, f) in item.form.iter().enumerate() {
        let key_ok = f.key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && f.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            problem(format!(
                "form[{i}].key \"{}\" is not ASCII snake_case",
                f.key
            ));
        }
        if !keys.insert(f.key.as_str()) {
            problem(format!("form[{i}].key \"{}\" repeats", f.key));
        }
        if f.label.trim().is_empty() {
            problem(format!("form[{i}] \"{}\" has an empty label", f.key));
        }
        match &f.kind {
            FieldKind::Text { max_chars: 0 } => {
                problem(format!("form[{i}] \"{}\" allows 0 characters", f.key))
            }
            FieldKind::Number { min, max, .. } if min > max => problem(format!(
                "form[{i}] \"{}\" has min {min} above max {max}",
                f.key
            )),
            FieldKind::Choice { options } => {
                let distinct: HashSet<&str> = options.iter().map(|o| o.trim()).collect();
                if options.len() < 2
                    || distinct.len() != options.len()
                    || options.iter().any(|o| o.trim().is_empty())
                {
                    problem(format!(
                        "form[{i}] \"{}\" needs at least two distinct, non-empty options",
                        f.key
                    ));
                }
            }
            _ => {}
        }
        if let Some(card) = f.card_fill {
            if filled.contains(&card) {
                problem(format!(
                    "form[{i}] \"{}\": card field {card:?} already fills another field",
                    f.key
                ));
            } else {
                filled.push(card);
            }
            if !card_fill_fits(card, &f.kind) {
                problem(format!(
                    "form[{i}] \"{}\": card field {card:?} cannot fill a field of kind {:?}",
                    f.key, f.kind
                ));
            }
        }
    }
    let has_card_field = |card: CardField| {
        item.form
            .iter()
            .any(|f| f.card_fill == Some(card) && f.required)
    };
    if !has_card_field(CardField::Name) {
        problem("form has no required name field filled from the ID card (card_fill: name)".into());
    }
    if !has_card_field(CardField::IdNumber) {
        problem(
            "form has no required ID number field filled from the ID card (card_fill: id_number)"
                .into(),
        );
    }
    if !item
        .form
        .iter()
        .any(|f| f.kind == FieldKind::Phone && f.required)
    {
        problem("form has no required phone field".into());
    }
    problems
}

/// Whether an ID card field can fill a form field of this kind.
fn card_fill_fits(card: CardField, kind: &FieldKind) -> bool {
    match (card, kind) {
        (CardField::IdNumber, FieldKind::IdNumber) => true,
        (CardField::BirthDate, FieldKind::Date) => true,
        (CardField::Sex, FieldKind::Choice { options }) => {
            options.iter().any(|o| o == "男") && options.iter().any(|o| o == "女")
        }
        (CardField::Name | CardField::Sex | CardField::Nation, FieldKind::Text { max_chars }) => {
            *max_chars >= 15
        }
        (CardField::Address, FieldKind::Text { max_chars }) => *max_chars >= 35,
        _ => false,
    }
}

/// Checks a whole catalogue: the county is named, item codes are unique, and every item passes
/// [`check_complete`]. Returns the problems found, in English; empty means complete.
pub fn check_catalog(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    if catalog.county.trim().is_empty() {
        problems.push("catalog: county is empty".to_string());
    }
    let mut codes = HashSet::new();
    for (i, item) in catalog.items.iter().enumerate() {
        if !codes.insert(item.code.as_str()) {
            problems.push(format!(
                "items[{i}]: code \"{}\" is used by an earlier item",
                item.code
            ));
        }
        problems.extend(check_complete(item));
        for (lang, text) in &item.translations {
            problems.extend(text.problems(item, &format!("{}: translations.{lang}", item.code)));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Category, FieldKind};
    use std::collections::BTreeMap;

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
