//! Controller of `FormAdapter`: the item's form pre-filled from the card, typed with the
//! keypad, the pinyin keyboard or choice buttons, and checked with plain-Chinese messages.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::answers::{card_value, display_value, shown_card_value};
use super::shell::{Kiosk, Next, UiEvent};
use super::{FieldInput, FormAdapter, FormFieldView, MainWindow, Page};
use crate::catalog::{FieldKind, FormField};
use crate::on;
use crate::pii::Masked;
use crate::session::Stage;
use crate::session::validate;

/// How the adapter types a field.
fn input_kind(kind: &FieldKind) -> FieldInput {
    match kind {
        FieldKind::Text { .. } => FieldInput::Text,
        FieldKind::Phone | FieldKind::Number { .. } | FieldKind::BankAccount => FieldInput::Digits,
        FieldKind::IdNumber => FieldInput::IdNumber,
        FieldKind::Choice { .. } => FieldInput::Choice,
        FieldKind::Date => FieldInput::Date,
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

/// Entering the form (from the guide with the card on the reader, or from the card page):
/// fills what the card knows into the current item's form and picks the first field to type.
pub fn enter(k: &Kiosk) -> Next {
    let now = k.now();
    let Some(item) = k.visit.borrow().item.clone() else {
        return Next::Stay;
    };
    {
        let mut sh = k.shell.borrow_mut();
        let fills: Vec<(String, String)> = match sh.session.card() {
            Some(card) => item
                .form
                .iter()
                .filter_map(|f| f.card_fill.map(|cf| (f.key.clone(), card_value(card, cf))))
                .collect(),
            None => return Next::Stay,
        };
        for (key, value) in fills {
            if sh.session.answer(&key).is_none() {
                sh.session.set_answer(&key, &value);
            }
        }
        sh.session.advance(Stage::Filling, now);
    }
    let visit = {
        let mut v = k.visit.borrow_mut();
        v.form.errors = vec![None; item.form.len()];
        v.form.summary_error = false;
        v.form.composing.clear();
        v.form.offered_phone.clear();
        v.form.active = item.form.iter().position(|f| f.card_fill.is_none());
        v.number
    };
    // 联系电话留存: ask (card-proof) for the phone the county kept, if the form has one to fill.
    let card = k.shell.borrow().session.card().cloned();
    if let (Some(card), true) = (card, phone_field(&item).is_some()) {
        let county = k.services.county.clone();
        k.spawn_blocking(move || UiEvent::KeptPhone {
            visit,
            phone: county.cases(&card).kept_phone.map(zeroize::Zeroizing::new),
        });
    }
    Next::Stay
}

/// The form's contact phone field (its first phone field), by index.
fn phone_field(item: &crate::catalog::ServiceItem) -> Option<usize> {
    item.form.iter().position(|f| f.kind == FieldKind::Phone)
}

/// The county's kept phone arrived: offer it (masked) while the phone field is still empty.
pub fn on_kept_phone(k: &Kiosk, phone: Option<zeroize::Zeroizing<String>>) -> Next {
    let Some(phone) = phone.filter(|p| validate::is_phone(p)) else {
        return Next::Stay;
    };
    {
        let Some(key) = k
            .visit
            .borrow()
            .item
            .as_ref()
            .and_then(|i| phone_field(i).map(|n| i.form[n].key.clone()))
        else {
            return Next::Stay;
        };
        if k.shell
            .borrow()
            .session
            .answer(&key)
            .is_some_and(|a| !a.is_empty())
        {
            return Next::Stay;
        }
        k.visit.borrow_mut().form.offered_phone = phone;
    }
    if k.page() == Page::Form {
        render(k);
    }
    Next::Stay
}

/// 用上次留的电话: one touch fills the phone field with the offered phone.
fn use_offered_phone(k: &Kiosk) -> Next {
    let phone = std::mem::take(&mut k.visit.borrow_mut().form.offered_phone);
    let index = k.visit.borrow().item.as_ref().and_then(phone_field);
    if let (Some(index), false) = (index, phone.is_empty()) {
        fill_field(k, index, &phone);
    }
    render(k);
    Next::Stay
}

/// Fills field `index` with `value` at one touch: its error goes, and if it was being typed the
/// next empty field to type becomes active.
fn fill_field(k: &Kiosk, index: usize, value: &str) {
    let mut v = k.visit.borrow_mut();
    let Some(key) = v
        .item
        .as_ref()
        .and_then(|i| i.form.get(index))
        .map(|f| f.key.clone())
    else {
        return;
    };
    k.shell.borrow_mut().session.set_answer(&key, value);
    if let Some(e) = v.form.errors.get_mut(index) {
        *e = None;
    }
    if v.form.active == Some(index) {
        let item = v.item.clone();
        let sh = k.shell.borrow();
        v.form.active = item.and_then(|i| {
            i.form.iter().enumerate().position(|(n, f)| {
                n != index
                    && f.card_fill.is_none()
                    && sh.session.answer(&f.key).is_none_or(str::is_empty)
            })
        });
    }
}

/// The form's bank account field (its first), by index.
fn bank_field(item: &crate::catalog::ServiceItem) -> Option<usize> {
    item.form
        .iter()
        .position(|f| f.kind == FieldKind::BankAccount && f.card_fill.is_none())
}

/// 在读卡器上插入社保卡: the reader waits for the card and reads its account, off the UI
/// thread; [`on_bank_account`] gets the answer.
fn read_sscard(k: &Kiosk) -> Next {
    let Some(reader) = k.services.bank_card.clone() else {
        return Next::Stay;
    };
    let visit = {
        let mut v = k.visit.borrow_mut();
        if v.form.sscard_reading || v.item.as_ref().and_then(bank_field).is_none() {
            return Next::Stay;
        }
        v.form.sscard_reading = true;
        v.form.sscard_note = Some((
            "请把社保卡芯片朝上插入读卡器。",
            "Insert the social security card into the reader, chip up.",
        ));
        v.number
    };
    k.spawn_blocking(move || UiEvent::BankAccount {
        visit,
        result: reader.read_account(),
    });
    render(k);
    Next::Stay
}

/// The social security card's account arrived (or why it did not): it fills the bank account
/// field, shown masked; a failure says so and the account can still be typed.
pub fn on_bank_account(
    k: &Kiosk,
    result: Result<crate::sscard::BankAccount, crate::sscard::SsCardError>,
) -> Next {
    k.visit.borrow_mut().form.sscard_reading = false;
    let index = k.visit.borrow().item.as_ref().and_then(bank_field);
    let note = match (result, index) {
        (Ok(account), Some(index)) => {
            fill_field(k, index, account.digits());
            k.visit.borrow_mut().form.account_from_card = Some(index);
            (
                "✓ 已从社保卡读出金融账号，可以拔出社保卡。",
                "✓ The account was read from the card. You can take the card out.",
            )
        }
        (Ok(_), None) => return Next::Stay,
        (Err(e), _) => (e.message_zh(), e.message_en()),
    };
    k.visit.borrow_mut().form.sscard_note = Some(note);
    if k.page() == Page::Form {
        render(k);
    }
    Next::Stay
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
    let tag = k.lang().tag();
    let v = k.visit.borrow();
    v.form
        .active
        .zip(v.item.as_ref())
        .and_then(|(i, item)| item.choice_value(i, label, tag))
        .unwrap_or_else(|| label.to_owned())
}

/// Edits the answer of the field being typed (and the pinyin being composed).
fn with_active(k: &Kiosk, f: impl FnOnce(&FormField, &mut String, &mut String)) -> Next {
    {
        let mut v = k.visit.borrow_mut();
        let Some(item) = v.item.clone() else {
            return Next::Stay;
        };
        let Some(i) = v.form.active else {
            return Next::Stay;
        };
        let Some(field) = item.form.get(i) else {
            return Next::Stay;
        };
        if v.form.account_from_card == Some(i) {
            v.form.account_from_card = None;
        }
        let mut sh = k.shell.borrow_mut();
        let mut value =
            zeroize::Zeroizing::new(sh.session.answer(&field.key).unwrap_or_default().to_owned());
        f(field, &mut value, &mut v.form.composing);
        if value.chars().count() > max_len(&field.kind) {
            *value = value.chars().take(max_len(&field.kind)).collect();
        }
        sh.session.set_answer(&field.key, &value);
        if let Some(e) = v.form.errors.get_mut(i) {
            *e = None;
        }
    }
    render(k);
    Next::Stay
}

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, FormAdapter, on_use_offered_phone, |k| use_offered_phone(
        k
    ));
    on!(k, FormAdapter, on_read_sscard, |k| read_sscard(k));
    on!(k, FormAdapter, on_select_field, |k, i| {
        let index = usize::try_from(i).ok();
        let from_card = {
            let v = k.visit.borrow();
            v.item
                .as_ref()
                .zip(index)
                .and_then(|(it, i)| it.form.get(i))
                .map(|f| f.card_fill.is_some())
        };
        if from_card == Some(false) {
            {
                let mut v = k.visit.borrow_mut();
                v.form.active = index;
                v.form.composing.clear();
            }
            render(k);
        }
        Next::Stay
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

/// 下一步: checks every field; on to the confirmation page when all are fine.
fn next(k: &Kiosk) -> Next {
    let now = k.now();
    let ok = {
        let mut v = k.visit.borrow_mut();
        let Some(item) = v.item.clone() else {
            return Next::Stay;
        };
        let mut sh = k.shell.borrow_mut();
        let errors: Vec<_> = item
            .form
            .iter()
            .map(|f| validate::check(f, sh.session.answer(&f.key).unwrap_or_default()).err())
            .collect();
        let first = errors.iter().position(Option::is_some);
        v.form.errors = errors;
        v.form.summary_error = first.is_some();
        v.form.composing.clear();
        if let Some(i) = first {
            if item.form[i].card_fill.is_none() {
                v.form.active = Some(i);
            }
            false
        } else {
            sh.session.advance(Stage::Confirming, now);
            v.confirm.consent = false;
            true
        }
    };
    if ok {
        Next::Show(Page::Confirm)
    } else {
        render(k);
        Next::Stay
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let sh = k.shell.borrow();
    let a = k.window.global::<FormAdapter>();
    let (Some(item), Some(card)) = (v.item.as_ref(), sh.session.card()) else {
        return;
    };
    let tag = lang.tag();
    let shown_item = item.translated(tag);
    let mut fields: Vec<FormFieldView> = item
        .form
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let raw = sh.session.answer(&f.key).unwrap_or_default();
            // What the card filled in shows only masked (`pii`); the villager's own answers
            // as typed, for checking.
            let shown = match (f.card_fill, &f.kind) {
                (Some(from_card), _) => shown_card_value(from_card, raw, lang),
                (None, FieldKind::BankAccount) if v.form.account_from_card == Some(i) => {
                    Masked::new(raw, crate::pii::PiiKind::BankAccount).to_string()
                }
                (None, FieldKind::Choice { .. }) => item.choice_label(i, raw, tag),
                _ => display_value(f, raw),
            };
            let text = &shown_item.form[i];
            let error = v
                .form
                .errors
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
    let errors = v.form.errors.iter().filter(|e| e.is_some()).count();
    let active_index = v.form.active;
    let active = active_index.and_then(|i| item.form.get(i));
    a.set_active_kind(active.map_or(FieldInput::None, |f| input_kind(&f.kind)));
    a.set_active_options(ModelRc::new(VecModel::from(
        active_index.map_or_else(Vec::new, |i| shown_choices(item, i, tag)),
    )));
    a.set_active_value(
        match (active_index, active) {
            (Some(i), Some(f)) => {
                item.choice_label(i, sh.session.answer(&f.key).unwrap_or_default(), tag)
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
    a.set_active(
        active_index
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(-1),
    );
    a.set_composing(v.form.composing.as_str().into());
    let candidates: Vec<SharedString> = super::ime::candidates(&v.form.composing, 8)
        .into_iter()
        .map(|c| SharedString::from(c.to_string()))
        .collect();
    a.set_candidates(ModelRc::new(VecModel::from(candidates)));
    a.set_summary_error(if v.form.summary_error && errors > 0 {
        lang.pick(
            format!("有 {errors} 处需要修改，请看红色的提示。"),
            format!("{errors} answers need changing; see the red messages."),
        )
        .into()
    } else {
        "".into()
    });
    a.set_offered_phone(if v.form.offered_phone.is_empty() {
        "".into()
    } else {
        Masked::phone(&v.form.offered_phone).to_string().into()
    });
    a.set_sscard_offered(k.services.bank_card.is_some() && bank_field(item).is_some());
    a.set_sscard_reading(v.form.sscard_reading);
    a.set_sscard_note(
        v.form
            .sscard_note
            .map_or_else(String::new, |(zh, en)| lang.pick(zh, en))
            .into(),
    );
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<FormAdapter>();
    a.set_offered_phone("".into());
    a.set_sscard_note("".into());
    a.set_sscard_reading(false);
    a.set_fields(ModelRc::new(VecModel::from(Vec::<FormFieldView>::new())));
    a.set_applicant("".into());
    a.set_item_name("".into());
    a.set_composing("".into());
    a.set_candidates(ModelRc::new(VecModel::from(Vec::<SharedString>::new())));
    a.set_summary_error("".into());
    a.set_active(-1);
    a.set_active_kind(FieldInput::None);
    a.set_active_options(ModelRc::new(VecModel::from(Vec::<SharedString>::new())));
    a.set_active_value("".into());
}
