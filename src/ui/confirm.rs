//! Controller of `ConfirmAdapter`: exactly what will be sent, consent, and the submission
//! through the county link (on tokio, never on the UI thread).

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::app::{Kiosk, PrintState, UiEvent};
use super::{ConfirmAdapter, ConfirmRow, MainWindow, NoticeKind, Page};
use crate::idcard::CardKind;
use crate::on;
use crate::pii::Masked;
use crate::session::Stage;
use crate::station::ports::{ApplicationDraft, DeviceError, ReceiptInfo, Submission};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, ConfirmAdapter, on_edit, |k| k.back());
    on!(k, ConfirmAdapter, on_submit, |k| submit(k));
}

fn card_kind_label(kind: CardKind) -> (&'static str, &'static str) {
    match kind {
        CardKind::Resident => ("居民身份证", "Resident ID card"),
        CardKind::HkMacaoTaiwanPermit => ("港澳台居民居住证", "Residence permit (HK/Macao/Taiwan)"),
        CardKind::ForeignPermanentResident => {
            ("外国人永久居留身份证", "Foreign permanent resident ID card")
        }
    }
}

/// The application exactly as it will be sent.
pub fn draft(k: &Kiosk) -> Option<ApplicationDraft> {
    let st = k.state.borrow();
    let item = st.item.as_ref()?;
    let card = st.session.card()?;
    Some(ApplicationDraft {
        item_code: item.code.clone(),
        item_name: item.name.clone(),
        card_kind: card.kind,
        applicant_name: card.name.clone(),
        id_number: card.id_number.clone(),
        answers: item
            .form
            .iter()
            .map(|f| {
                let v = st.session.answer(&f.key).unwrap_or_default();
                (
                    f.key.clone(),
                    f.label.clone(),
                    super::form::display_value(f, v),
                )
            })
            .collect(),
    })
}

fn submit(k: &Kiosk) {
    let consent = k.window.global::<ConfirmAdapter>().get_consent();
    {
        let mut st = k.state.borrow_mut();
        st.consent = consent;
        if !consent || st.sending {
            return;
        }
    }
    let Some(draft) = draft(k) else {
        return;
    };
    let visit = {
        let mut st = k.state.borrow_mut();
        st.sending = true;
        st.submit_error = None;
        st.visit
    };
    render(k);
    let county = k.services.county.clone();
    k.spawn_blocking(move || UiEvent::Submitted {
        visit,
        result: county.submit(&draft),
    });
}

pub fn on_submitted(k: &Kiosk, result: Result<Submission, DeviceError>) {
    match result {
        Ok(sub) => {
            let now = k.now();
            let receipt = {
                let mut st = k.state.borrow_mut();
                st.sending = false;
                let item = st.item.clone();
                let name = st
                    .session
                    .card()
                    .map(|c| Masked::name(&c.name).to_string())
                    .unwrap_or_default();
                let receipt = ReceiptInfo {
                    receipt_no: sub.receipt_no.clone(),
                    item_code: item.as_ref().map(|i| i.code.clone()).unwrap_or_default(),
                    item_name: item.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
                    applicant_masked: name,
                    submitted_at: sub.submitted_at,
                    queued: sub.queued,
                    qr_payload: sub.qr_payload.clone(),
                    promised_days: item
                        .as_ref()
                        .map(|i| i.promised_time_limit_days)
                        .unwrap_or(0),
                    case_number: sub.case_number.clone(),
                    collect_at: item
                        .as_ref()
                        .and_then(|i| i.locations.first())
                        .map(|l| format!("{}（{}）", l.name, l.address))
                        .unwrap_or_default(),
                    materials_to_bring: item
                        .as_ref()
                        .map(|i| {
                            i.materials
                                .iter()
                                .filter(|m| {
                                    m.required && m.form != crate::catalog::MaterialForm::Electronic
                                })
                                .map(|m| m.name.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                st.submission = Some((sub, receipt.clone()));
                st.print = PrintState::Printing;
                // Only the receipt number is needed from here on.
                st.session.forget_personal_data();
                st.session.advance(Stage::Submitted, now);
                st.history.clear();
                receipt
            };
            tracing::info!(receipt = %receipt.receipt_no, queued = receipt.queued, "application accepted");
            k.forget_personal(crate::session::WipeReason::Finished);
            k.show(Page::Submitted, false);
            super::submitted::print_receipt(k, receipt);
        }
        Err(e) => {
            tracing::error!("application could not be stored: {}", e.detail);
            {
                let mut st = k.state.borrow_mut();
                st.sending = false;
                st.submit_error = Some(e.clone());
            }
            k.set_notice(
                NoticeKind::Error,
                format!(
                    "{}。申请没有提交成功，请稍后再试或请工作人员帮忙。",
                    e.message_zh
                ),
                format!(
                    "{}. The application was not submitted; try again or ask the staff.",
                    e.message_en
                ),
            );
            render(k);
        }
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let Some(draft) = draft(k) else {
        return;
    };
    let st = k.state.borrow();
    let (kind_zh, kind_en) = card_kind_label(draft.card_kind);
    let mut rows = vec![
        ConfirmRow {
            label: lang.pick("证件类型", "Card").into(),
            value: lang.pick(kind_zh, kind_en).into(),
        },
        ConfirmRow {
            label: lang.pick("申请人", "Applicant").into(),
            value: draft.applicant_name.clone().into(),
        },
        ConfirmRow {
            label: lang.pick("证件号码", "Card number").into(),
            value: Masked::id_number(&draft.id_number).to_string().into(),
        },
    ];
    let from_card_identity = |key: &str| {
        st.item.as_ref().is_some_and(|i| {
            i.form.iter().any(|f| {
                f.key == key
                    && matches!(
                        f.card_fill,
                        Some(crate::catalog::CardField::Name | crate::catalog::CardField::IdNumber)
                    )
            })
        })
    };
    // What is sent stays as the county publishes it (Chinese); the screen shows it in `lang`.
    let shown_item = st.item.as_ref().map(|i| i.translated(lang.tag()));
    for (key, label, value) in &draft.answers {
        if from_card_identity(key) {
            continue;
        }
        let field = st
            .item
            .as_ref()
            .and_then(|i| i.form.iter().position(|f| &f.key == key));
        let label = match (field, &shown_item) {
            (Some(i), Some(s)) => s.form[i].label.clone(),
            _ => label.clone(),
        };
        let shown = if value.is_empty() {
            lang.pick("（未填）", "(left empty)")
        } else {
            match (field, &st.item) {
                (Some(i), Some(item)) => item.choice_label(i, value, lang.tag()),
                _ => value.clone(),
            }
        };
        rows.push(ConfirmRow {
            label: label.into(),
            value: shown.into(),
        });
    }
    let destination = shown_item
        .as_ref()
        .map(|i| i.implementing_body.clone())
        .unwrap_or_default();
    let a = k.window.global::<ConfirmAdapter>();
    a.set_item_name(
        shown_item
            .as_ref()
            .map_or_else(|| draft.item_name.clone(), |i| i.name.clone())
            .into(),
    );
    a.set_destination(destination.into());
    a.set_rows(ModelRc::new(VecModel::from(rows)));
    a.set_sending(st.sending);
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<ConfirmAdapter>();
    a.set_rows(ModelRc::new(VecModel::from(Vec::<ConfirmRow>::new())));
    a.set_item_name("".into());
    a.set_destination("".into());
    a.set_consent(false);
    a.set_sending(false);
}
