//! Completeness of a catalogue before it is signed or imported: every item carries every element
//! of its guide (办事指南) and a sound form, and item codes are unique.
//!
//! Problems are English sentences that start with the item code and name the element by its JSON
//! path, e.g. `SB-001: materials[2].source is empty`. Pure: never does I/O, never changes data.

use std::collections::HashSet;

use super::model::{Catalog, FieldKind, MaterialForm, ServiceItem};

/// Every problem in the catalogue; empty means it may be signed and imported.
pub fn catalog_problems(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    if catalog.county.trim().is_empty() {
        problems.push("catalogue: county is empty".to_string());
    }
    if catalog.items.is_empty() {
        problems
            .push("catalogue: items is empty (a catalogue holds at least one item)".to_string());
    }
    let mut seen = HashSet::new();
    for (i, item) in catalog.items.iter().enumerate() {
        if !item.code.trim().is_empty() && !seen.insert(item.code.as_str()) {
            problems.push(format!("items[{i}]: code {} appears twice", item.code));
        }
        for p in item_problems(item) {
            problems.push(p);
        }
    }
    problems
}

/// Every problem in one item.
pub fn item_problems(item: &ServiceItem) -> Vec<String> {
    let code = if item.code.trim().is_empty() {
        "(no code)".to_string()
    } else {
        item.code.clone()
    };
    let mut p = Vec::new();
    let mut empty = |field: &str, value: &str| {
        if value.trim().is_empty() {
            p.push(format!("{code}: {field} is empty"));
        }
    };
    empty("code", &item.code);
    empty("name", &item.name);
    if let Some(s) = &item.short_name {
        empty("short_name", s);
    }
    for (i, a) in item.aliases.iter().enumerate() {
        empty(&format!("aliases[{i}]"), a);
    }
    empty("department", &item.department);
    empty("implementing_body", &item.implementing_body);
    for (i, s) in item.legal_basis.iter().enumerate() {
        empty(&format!("legal_basis[{i}]"), s);
    }
    empty("applicants", &item.applicants);
    for (i, s) in item.conditions.iter().enumerate() {
        empty(&format!("conditions[{i}]"), s);
    }
    for (i, m) in item.materials.iter().enumerate() {
        empty(&format!("materials[{i}].name"), &m.name);
        empty(&format!("materials[{i}].source"), &m.source);
    }
    for (i, s) in item.steps.iter().enumerate() {
        empty(&format!("steps[{i}].name"), &s.name);
        empty(&format!("steps[{i}].actor"), &s.actor);
        empty(&format!("steps[{i}].description"), &s.description);
    }
    empty("fee.description", &item.fee.description);
    for (i, l) in item.locations.iter().enumerate() {
        empty(&format!("locations[{i}].name"), &l.name);
        empty(&format!("locations[{i}].address"), &l.address);
        empty(&format!("locations[{i}].hours"), &l.hours);
    }
    empty("consult_phone", &item.consult_phone);
    empty("complaint_phone", &item.complaint_phone);
    for (i, f) in item.faq.iter().enumerate() {
        empty(&format!("faq[{i}].question"), &f.question);
        empty(&format!("faq[{i}].answer"), &f.answer);
    }
    for (i, e) in item.life_events.iter().enumerate() {
        empty(&format!("life_events[{i}]"), e);
    }
    empty("result", &item.result);
    for (i, f) in item.form.iter().enumerate() {
        empty(&format!("form[{i}].label"), &f.label);
    }

    let mut none = |field: &str, is_empty: bool| {
        if is_empty {
            p.push(format!("{code}: {field} is missing (at least one entry)"));
        }
    };
    none("legal_basis", item.legal_basis.is_empty());
    none("conditions", item.conditions.is_empty());
    none("materials", item.materials.is_empty());
    none("steps", item.steps.is_empty());
    none("locations", item.locations.is_empty());

    for (i, m) in item.materials.iter().enumerate() {
        if m.copies == 0 && m.form != MaterialForm::Electronic {
            p.push(format!(
                "{code}: materials[{i}].copies is 0 (at least 1 unless the form is 电子证照)"
            ));
        }
    }
    if item.promised_time_limit_days > item.legal_time_limit_days {
        p.push(format!(
            "{code}: promised_time_limit_days ({}) exceeds legal_time_limit_days ({})",
            item.promised_time_limit_days, item.legal_time_limit_days
        ));
    }
    if item.village_online && item.form.is_empty() {
        p.push(format!(
            "{code}: form is missing (village_online items need an application form)"
        ));
    }
    let mut keys = HashSet::new();
    for (i, f) in item.form.iter().enumerate() {
        let ok = !f.key.is_empty()
            && f.key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            p.push(format!(
                "{code}: form[{i}].key {:?} is not ASCII snake_case",
                f.key
            ));
        }
        if !keys.insert(f.key.as_str()) {
            p.push(format!("{code}: form[{i}].key {:?} appears twice", f.key));
        }
        match &f.kind {
            FieldKind::Text { max_chars: 0 } => {
                p.push(format!("{code}: form[{i}].kind.max_chars is 0"));
            }
            FieldKind::Number { min, max, .. } if min > max => {
                p.push(format!("{code}: form[{i}].kind has min {min} > max {max}"));
            }
            FieldKind::Choice { options } if options.len() < 2 => {
                p.push(format!(
                    "{code}: form[{i}].kind.options needs at least two choices"
                ));
            }
            _ => {}
        }
    }
    p
}
