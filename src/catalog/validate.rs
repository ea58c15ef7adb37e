//! Completeness of a catalogue before it is signed or imported: every item carries every element
//! of its guide (办事指南) and a sound form, and item codes are unique.
//!
//! One rule set for the demo catalogue and for county bundles: [`check_complete`] per item,
//! [`check_catalog`] for what only a whole catalogue can get wrong (unique codes, the county,
//! translations). Problems are English sentences naming the item code and the element, e.g.
//! `SB-001: materials[2].source is empty`. Pure: never does I/O, never changes data.

use std::collections::HashSet;

use super::model::{CardField, CaseKind, Catalog, FieldKind, MaterialForm, ServiceItem};

/// Every problem in the catalogue; empty means it may be signed and imported.
pub fn catalog_problems(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    if catalog.items.is_empty() {
        problems.push("catalog: items is empty (a catalogue holds at least one item)".to_string());
    }
    problems.extend(check_catalog(catalog));
    problems.extend(super::eligibility::catalog_problems(catalog));
    problems
}

/// Every problem in one item.
pub fn item_problems(item: &ServiceItem) -> Vec<String> {
    check_complete(item)
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
