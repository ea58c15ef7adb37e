//! Translations of a service item's guide (办事指南) for the kiosk's other UI languages.
//!
//! The county publishes each item in Chinese; an item may carry, per language tag (`en`), the
//! same guide in that language: every text element, entry for entry, in the same order. The
//! kiosk shows [`ServiceItem::translated`] in that language and falls back to the Chinese for
//! an item without one. What is *sent* never changes: form choices keep their Chinese values
//! (the county's back office knows those), only their labels are translated.
//!
//! Pure data: no I/O.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::model::{FieldKind, Location, ServiceItem};

/// An item's guide in one other language. Lists match the Chinese entry for entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemText {
    pub name: String,
    #[serde(default)]
    pub short_name: Option<String>,
    pub department: String,
    pub implementing_body: String,
    pub legal_basis: Vec<String>,
    pub applicants: String,
    pub conditions: Vec<String>,
    pub materials: Vec<MaterialText>,
    pub steps: Vec<StepText>,
    /// 收费说明.
    pub fee: String,
    pub locations: Vec<Location>,
    pub faq: Vec<super::model::Faq>,
    pub result: String,
    pub form: Vec<FieldText>,
    pub life_events: Vec<String>,
}

/// A material's texts (name, where it comes from, notes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialText {
    pub name: String,
    pub source: String,
    pub notes: String,
}

/// A process step's texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepText {
    pub name: String,
    pub actor: String,
    pub description: String,
}

/// A form field's texts: label, hint, and the labels of a choice's options or a number's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldText {
    pub label: String,
    pub hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn count(problems: &mut Vec<String>, at: &str, what: &str, zh: usize, other: usize) {
    if zh != other {
        problems.push(format!(
            "{at}.{what} has {other} entries, the Chinese has {zh}"
        ));
    }
}

impl ItemText {
    /// Where this translation does not match `item` entry for entry (`at` names it in
    /// messages, e.g. `SB-001: translations.en`).
    pub fn problems(&self, item: &ServiceItem, at: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.name.trim().is_empty() {
            p.push(format!("{at}.name is empty"));
        }
        count(
            &mut p,
            at,
            "legal_basis",
            item.legal_basis.len(),
            self.legal_basis.len(),
        );
        count(
            &mut p,
            at,
            "conditions",
            item.conditions.len(),
            self.conditions.len(),
        );
        count(
            &mut p,
            at,
            "materials",
            item.materials.len(),
            self.materials.len(),
        );
        count(&mut p, at, "steps", item.steps.len(), self.steps.len());
        count(
            &mut p,
            at,
            "locations",
            item.locations.len(),
            self.locations.len(),
        );
        count(&mut p, at, "faq", item.faq.len(), self.faq.len());
        count(
            &mut p,
            at,
            "life_events",
            item.life_events.len(),
            self.life_events.len(),
        );
        count(&mut p, at, "form", item.form.len(), self.form.len());
        for (i, (f, t)) in item.form.iter().zip(&self.form).enumerate() {
            match (&f.kind, &t.options) {
                (FieldKind::Choice { options }, Some(labels)) => count(
                    &mut p,
                    at,
                    &format!("form[{i}].options"),
                    options.len(),
                    labels.len(),
                ),
                (FieldKind::Choice { .. }, None) => p.push(format!(
                    "{at}.form[{i}].options is missing (field {})",
                    f.key
                )),
                (_, Some(_)) => p.push(format!(
                    "{at}.form[{i}].options is given, but field {} is not a choice",
                    f.key
                )),
                _ => {}
            }
        }
        p
    }
}

/// Picks `t` when the translation gave one, else keeps the Chinese.
fn pick(zh: &mut String, t: &str) {
    if !t.trim().is_empty() {
        *zh = t.to_owned();
    }
}

impl ServiceItem {
    /// The item as shown in `lang` (a language tag such as `en`): every text the translation
    /// has replaces the Chinese, entry for entry; without a translation the item unchanged.
    /// Codes, numbers, phones and form keys never change; neither do choice *values* (see
    /// [`ServiceItem::choice_label`]). Borrowed when there is nothing to translate (lists of
    /// items are rendered through here).
    pub fn translated(&self, lang: &str) -> Cow<'_, ServiceItem> {
        let Some(t) = self.translations.get(lang) else {
            return Cow::Borrowed(self);
        };
        if !t.problems(self, "").is_empty() {
            // A translation that does not line up would pair texts wrongly: show the Chinese.
            return Cow::Borrowed(self);
        }
        let mut item = self.clone();
        pick(&mut item.name, &t.name);
        if let (Some(s), Some(ts)) = (item.short_name.as_mut(), t.short_name.as_deref()) {
            pick(s, ts);
        }
        pick(&mut item.department, &t.department);
        pick(&mut item.implementing_body, &t.implementing_body);
        pick(&mut item.applicants, &t.applicants);
        pick(&mut item.fee.description, &t.fee);
        pick(&mut item.result, &t.result);
        for (zh, en) in item.legal_basis.iter_mut().zip(&t.legal_basis) {
            pick(zh, en);
        }
        for (zh, en) in item.conditions.iter_mut().zip(&t.conditions) {
            pick(zh, en);
        }
        for (zh, en) in item.life_events.iter_mut().zip(&t.life_events) {
            pick(zh, en);
        }
        for (m, en) in item.materials.iter_mut().zip(&t.materials) {
            pick(&mut m.name, &en.name);
            pick(&mut m.source, &en.source);
            pick(&mut m.notes, &en.notes);
        }
        for (s, en) in item.steps.iter_mut().zip(&t.steps) {
            pick(&mut s.name, &en.name);
            pick(&mut s.actor, &en.actor);
            pick(&mut s.description, &en.description);
        }
        for (l, en) in item.locations.iter_mut().zip(&t.locations) {
            pick(&mut l.name, &en.name);
            pick(&mut l.address, &en.address);
            pick(&mut l.hours, &en.hours);
        }
        for (f, en) in item.faq.iter_mut().zip(&t.faq) {
            pick(&mut f.question, &en.question);
            pick(&mut f.answer, &en.answer);
        }
        for (f, en) in item.form.iter_mut().zip(&t.form) {
            pick(&mut f.label, &en.label);
            pick(&mut f.hint, &en.hint);
            if let (FieldKind::Number { unit, .. }, Some(u)) = (&mut f.kind, &en.unit) {
                pick(unit, u);
            }
            // Choice options stay the Chinese values: labels come from `choice_label`.
        }
        Cow::Owned(item)
    }

    /// The label of choice `value` of form field `field` in `lang` (the value itself when
    /// there is no translation for it).
    pub fn choice_label(&self, field: usize, value: &str, lang: &str) -> String {
        self.choice_labels(field, lang)
            .and_then(|labels| {
                let FieldKind::Choice { options } = &self.form.get(field)?.kind else {
                    return None;
                };
                let i = options.iter().position(|o| o == value)?;
                labels.get(i).cloned()
            })
            .unwrap_or_else(|| value.to_owned())
    }

    /// The labels of form field `field`'s choices in `lang`, in the order of the values; `None`
    /// when the field is no choice or has no (matching) translation.
    pub fn choice_labels(&self, field: usize, lang: &str) -> Option<Vec<String>> {
        let FieldKind::Choice { options } = &self.form.get(field)?.kind else {
            return None;
        };
        let labels = self
            .translations
            .get(lang)?
            .form
            .get(field)?
            .options
            .clone()?;
        (labels.len() == options.len()).then_some(labels)
    }

    /// The value behind `label` of form field `field` (a label shown in `lang`, or the value
    /// itself).
    pub fn choice_value(&self, field: usize, label: &str, lang: &str) -> Option<String> {
        let FieldKind::Choice { options } = &self.form.get(field)?.kind else {
            return None;
        };
        if options.iter().any(|o| o == label) {
            return Some(label.to_owned());
        }
        let labels = self.choice_labels(field, lang)?;
        let i = labels.iter().position(|l| l == label)?;
        options.get(i).cloned()
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::demo::demo_catalog;

    #[test]
    fn every_demo_item_has_a_matching_english_guide() {
        for item in demo_catalog().items {
            let t = item
                .translations
                .get("en")
                .unwrap_or_else(|| panic!("{}: no English", item.code));
            assert_eq!(t.problems(&item, &item.code), Vec::<String>::new());
            let en = item.translated("en");
            assert_eq!(en.code, item.code);
            assert_ne!(en.name, item.name, "{}", item.code);
            assert!(
                !en.name
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}: {}",
                item.code,
                en.name
            );
            assert_eq!(en.materials.len(), item.materials.len());
            assert_eq!(en.form.len(), item.form.len());
            // Numbers, phones and values never change.
            assert_eq!(en.consult_phone, item.consult_phone);
            assert_eq!(en.promised_time_limit_days, item.promised_time_limit_days);
            for (a, b) in en.form.iter().zip(&item.form) {
                assert_eq!(a.key, b.key);
                if let crate::catalog::FieldKind::Choice { .. } = b.kind {
                    assert_eq!(a.kind, b.kind, "choice values stay Chinese");
                }
            }
        }
    }

    #[test]
    fn choice_labels_map_back_to_the_chinese_values() {
        let item = demo_catalog()
            .items
            .into_iter()
            .find(|i| i.code == "SB-001")
            .expect("SB-001");
        let sex = item.form.iter().position(|f| f.key == "sex").expect("sex");
        assert_eq!(item.choice_label(sex, "男", "en"), "Male");
        assert_eq!(
            item.choice_value(sex, "Female", "en").as_deref(),
            Some("女")
        );
        assert_eq!(item.choice_value(sex, "女", "en").as_deref(), Some("女"));
        assert_eq!(item.choice_value(sex, "nonsense", "en"), None);
        assert_eq!(item.choice_label(sex, "男", "zh-CN"), "男");
    }

    #[test]
    fn a_translation_that_does_not_line_up_is_not_shown() {
        let mut item = demo_catalog().items.remove(0);
        let name = item.name.clone();
        let mut t = item.translations.remove("en").expect("English");
        t.materials.pop();
        let problems = t.problems(&item, "SB-001: translations.en");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("translations.en.materials")),
            "{problems:?}"
        );
        item.translations.insert("en".into(), t);
        assert_eq!(item.translated("en").name, name);
    }
}
