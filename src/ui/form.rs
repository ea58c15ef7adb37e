//! Controller of `FormAdapter`: the item's form pre-filled from the card, typed with the
//! keypad, the pinyin keyboard or choice buttons, and checked with plain-Chinese messages.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::app::Kiosk;
use super::{FormAdapter, FormFieldView, MainWindow, Page};
use crate::catalog::{CardField, FieldKind, FormField};
use crate::idcard::IdCard;
use crate::on;
use crate::pii::{Masked, PiiKind};
use crate::session::Stage;
use crate::session::validate::{self, parse_date};

/// How the adapter types a field: 0 text, 1 digits, 2 ID number, 3 choice, 4 date.
fn input_kind(kind: &FieldKind) -> i32 {
    match kind {
        FieldKind::Text { .. } => 0,
        FieldKind::Phone | FieldKind::Number { .. } | FieldKind::BankAccount => 1,
        FieldKind::IdNumber => 2,
        FieldKind::Choice { .. } => 3,
        FieldKind::Date => 4,
    }
}

fn max_len(kind: &FieldKind) -> usize {
    match kind {
        FieldKind::Text { max_chars } => *max_chars as usize,
        FieldKind::Phone => 12,
        FieldKind::Number { min, max, .. } => min.abs().max(max.abs()).to_string().len().max(1),
        FieldKind::BankAccount => 19,
        FieldKind::IdNumber => 18,
        FieldKind::Date => 8,
        FieldKind::Choice { .. } => 64,
    }
}

/// The value a card puts in a field.
pub fn card_value(card: &IdCard, field: CardField) -> String {
    match field {
        CardField::Name => card.name.clone(),
        CardField::Sex => card.sex.label_zh().to_owned(),
        CardField::Nation => card.nation.clone().unwrap_or_default(),
        CardField::BirthDate => card.birth_date.format("%Y%m%d").to_string(),
        CardField::Address => card.address.clone().unwrap_or_default(),
        CardField::IdNumber => card.id_number.clone(),
    }
}

/// The value as sent and as shown for checking (dates as YYYY-MM-DD).
pub fn display_value(field: &FormField, value: &str) -> String {
    match field.kind {
        FieldKind::Date => parse_date(value)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| value.to_owned()),
        _ => value.to_owned(),
    }
}

/// Starts filling in the current item's form with the card on the reader.
pub fn begin(k: &Kiosk) {
    let now = k.now();
    {
        let mut st = k.state.borrow_mut();
        let Some(item) = st.item.clone() else {
            return;
        };
        let fills: Vec<(String, String)> = match st.session.card() {
            Some(card) => item
                .form
                .iter()
                .filter_map(|f| f.card_fill.map(|cf| (f.key.clone(), card_value(card, cf))))
                .collect(),
            None => return,
        };
        for (key, value) in fills {
            if st.session.answer(&key).is_none() {
                st.session.set_answer(&key, &value);
            }
        }
        st.session.advance(Stage::Filling, now);
        st.field_errors = vec![None; item.form.len()];
        st.form_summary_error = false;
        st.composing.clear();
        st.active_field = item
            .form
            .iter()
            .position(|f| f.card_fill.is_none())
            .map(|i| i as i32)
            .unwrap_or(-1);
    }
    k.show(Page::Form, true);
}

/// The buttons of form field `field` if it is a choice: its labels in `lang`, else its values.
fn shown_choices(
    item: &crate::catalog::ServiceItem,
    field: usize,
    lang: &str,
) -> Vec<SharedString> {
    match item.form.get(field).map(|f| &f.kind) {
        Some(FieldKind::Choice { options }) => item
            .choice_labels(field, lang)
            .unwrap_or_else(|| options.clone())
            .into_iter()
            .map(SharedString::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The value behind a choice button's label (labels are shown in the UI language, values are
/// what the county publishes); anything else (an IME candidate) as it is.
fn choice_value(k: &Kiosk, label: &str) -> String {
    let st = k.state.borrow();
    let tag = st.lang.tag();
    usize::try_from(st.active_field)
        .ok()
        .zip(st.item.as_ref())
        .and_then(|(i, item)| item.choice_value(i, label, tag))
        .unwrap_or_else(|| label.to_owned())
}

fn with_active(k: &Kiosk, f: impl FnOnce(&FormField, &mut String, &mut String)) {
    {
        let mut st = k.state.borrow_mut();
        let Some(item) = st.item.clone() else {
            return;
        };
        let Ok(i) = usize::try_from(st.active_field) else {
            return;
        };
        let Some(field) = item.form.get(i) else {
            return;
        };
        let mut value = st.session.answer(&field.key).unwrap_or_default().to_owned();
        let mut composing = std::mem::take(&mut st.composing);
        f(field, &mut value, &mut composing);
        if value.chars().count() > max_len(&field.kind) {
            value = value.chars().take(max_len(&field.kind)).collect();
        }
        st.session.set_answer(&field.key, &value);
        st.composing = composing;
        if let Some(e) = st.field_errors.get_mut(i) {
            *e = None;
        }
    }
    render(k);
}

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, FormAdapter, on_select_field, |k, i| {
        let from_card = {
            let st = k.state.borrow();
            st.item
                .as_ref()
                .and_then(|it| it.form.get(usize::try_from(i).unwrap_or(usize::MAX)))
                .map(|f| f.card_fill.is_some())
        };
        if from_card == Some(false) {
            let mut st = k.state.borrow_mut();
            st.active_field = i;
            st.composing.clear();
            drop(st);
            render(k);
        }
    });
    on!(k, FormAdapter, on_key, |k, d| with_active(
        k,
        |field, value, _| {
            let ok = match field.kind {
                FieldKind::IdNumber => d.chars().all(|c| c.is_ascii_digit() || c == 'X'),
                _ => d.chars().all(|c| c.is_ascii_digit()),
            };
            if ok {
                value.push_str(&d);
            }
        }
    ));
    on!(k, FormAdapter, on_letter, |k, l| with_active(
        k,
        |field, _, composing| {
            if matches!(field.kind, FieldKind::Text { .. }) && composing.len() < 12 {
                composing.push_str(&l);
            }
        }
    ));
    on!(k, FormAdapter, on_choose, |k, c| {
        let c = choice_value(k, &c);
        with_active(k, |field, value, composing| match field.kind {
            FieldKind::Choice { .. } => *value = c,
            FieldKind::Text { .. } => {
                value.push_str(&c);
                composing.clear();
            }
            _ => {}
        })
    });
    on!(k, FormAdapter, on_backspace, |k| with_active(
        k,
        |_, value, composing| {
            if composing.pop().is_none() {
                value.pop();
            }
        }
    ));
    on!(k, FormAdapter, on_clear, |k| with_active(
        k,
        |_, value, composing| {
            if composing.is_empty() {
                value.clear();
            } else {
                composing.clear();
            }
        }
    ));
    on!(k, FormAdapter, on_next, |k| next(k));
}

fn next(k: &Kiosk) {
    let now = k.now();
    let ok = {
        let mut st = k.state.borrow_mut();
        let Some(item) = st.item.clone() else {
            return;
        };
        let errors: Vec<_> = item
            .form
            .iter()
            .map(|f| validate::check(f, st.session.answer(&f.key).unwrap_or_default()).err())
            .collect();
        let first = errors.iter().position(Option::is_some);
        st.field_errors = errors;
        st.form_summary_error = first.is_some();
        st.composing.clear();
        if let Some(i) = first {
            if item.form[i].card_fill.is_none() {
                st.active_field = i as i32;
            }
            false
        } else {
            st.session.advance(Stage::Confirming, now);
            st.consent = false;
            true
        }
    };
    if ok {
        k.show(Page::Confirm, true);
    } else {
        render(k);
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let st = k.state.borrow();
    let a = k.window.global::<FormAdapter>();
    let (Some(item), Some(card)) = (st.item.as_ref(), st.session.card()) else {
        return;
    };
    let tag = lang.tag();
    let shown_item = item.translated(tag);
    let mut fields: Vec<FormFieldView> = item
        .form
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let raw = st.session.answer(&f.key).unwrap_or_default();
            let shown = match f.kind {
                FieldKind::IdNumber if f.card_fill.is_some() => {
                    Masked::new(raw, PiiKind::IdNumber).to_string()
                }
                FieldKind::Choice { .. } => item.choice_label(i, raw, tag),
                _ => display_value(f, raw),
            };
            let text = &shown_item.form[i];
            let error = st
                .field_errors
                .get(i)
                .and_then(|e| e.as_ref())
                .map(|e| match lang {
                    super::Lang::Zh => e.message_zh(&f.label),
                    super::Lang::En => e.message_en(&text.label),
                })
                .unwrap_or_default();
            let options = shown_choices(item, i, tag);
            let hint = match f.kind {
                FieldKind::Date if f.hint.is_empty() => lang.pick(
                    "按年月日输入8位数字，例如 19600501",
                    "8 digits: year month day",
                ),
                _ => text.hint.clone(),
            };
            FormFieldView {
                index: i as i32,
                key: f.key.clone().into(),
                label: text.label.clone().into(),
                value: shown.into(),
                hint: hint.into(),
                error: error.into(),
                kind: input_kind(&f.kind),
                required: f.required,
                from_card: f.card_fill.is_some(),
                options: ModelRc::new(VecModel::from(options)),
            }
        })
        .collect();
    // Fields to fill first, then what the card filled in.
    fields.sort_by_key(|f| f.from_card);
    let errors = st.field_errors.iter().filter(|e| e.is_some()).count();
    let active_index = usize::try_from(st.active_field).ok();
    let active = active_index.and_then(|i| item.form.get(i));
    a.set_active_kind(active.map_or(-1, |f| input_kind(&f.kind)));
    a.set_active_options(ModelRc::new(VecModel::from(
        active_index.map_or_else(Vec::new, |i| shown_choices(item, i, tag)),
    )));
    a.set_active_value(
        match (active_index, active) {
            (Some(i), Some(f)) => {
                item.choice_label(i, st.session.answer(&f.key).unwrap_or_default(), tag)
            }
            _ => String::new(),
        }
        .into(),
    );
    a.set_item_name(item.name.clone().into());
    a.set_applicant(
        format!(
            "{}  {}",
            Masked::name(&card.name),
            Masked::id_number(&card.id_number)
        )
        .into(),
    );
    a.set_fields(ModelRc::new(VecModel::from(fields)));
    a.set_active(st.active_field);
    a.set_composing(st.composing.clone().into());
    let candidates: Vec<SharedString> = super::ime::candidates(&st.composing, 8)
        .into_iter()
        .map(|c| SharedString::from(c.to_string()))
        .collect();
    a.set_candidates(ModelRc::new(VecModel::from(candidates)));
    a.set_summary_error(if st.form_summary_error && errors > 0 {
        lang.pick(
            format!("有 {errors} 处需要修改，请看红色的提示。"),
            format!("{errors} answers need changing; see the red messages."),
        )
        .into()
    } else {
        "".into()
    });
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<FormAdapter>();
    a.set_fields(ModelRc::new(VecModel::from(Vec::<FormFieldView>::new())));
    a.set_applicant("".into());
    a.set_item_name("".into());
    a.set_composing("".into());
    a.set_candidates(ModelRc::new(VecModel::from(Vec::<SharedString>::new())));
    a.set_summary_error("".into());
    a.set_active(-1);
    a.set_active_kind(-1);
    a.set_active_options(ModelRc::new(VecModel::from(Vec::<SharedString>::new())));
    a.set_active_value("".into());
}
