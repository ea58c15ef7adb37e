//! Controller of `ConfirmAdapter`: exactly what will be sent, consent, and the submission
//! through the county link (on tokio, never on the UI thread).

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{Kiosk, Next, NoticeText, UiEvent};
use super::visit::PrintState;
use super::{ConfirmAdapter, ConfirmRow, MainWindow, NoticeKind, Page};
use crate::catalog::CardField;
use crate::idcard::CardKind;
use crate::on;
use crate::pii::Masked;
use crate::session::{Stage, WipeReason};
use crate::station::ports::{ApplicationDraft, DeviceError, ReceiptInfo, Submission};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, ConfirmAdapter, on_edit, |k| Next::Back);
    on!(k, ConfirmAdapter, on_submit, |k| {
        submit(k);
        Next::Stay
    });
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
    let v = k.visit.borrow();
    let sh = k.shell.borrow();
    let item = v.item.as_ref()?;
    let card = sh.session.card()?;
    Some(ApplicationDraft {
        item_code: item.code.clone(),
        item_name: item.name.clone(),
        card_kind: card.kind,
        applicant_name: card.name.clone(),
        id_number: card.id_number.clone(),
        answers: super::answers::answers(item, &sh.session),
        agent: v.agent.agent().or(sh.coordinator.as_ref()).cloned(),
        keep_phone: v.confirm.keep_phone,
        card_key: crate::county::client::card_key(card),
    })
}

fn submit(k: &Kiosk) {
    let consent = k.window.global::<ConfirmAdapter>().get_consent();
    let keep_phone = k.window.global::<ConfirmAdapter>().get_keep_phone();
    {
        let mut v = k.visit.borrow_mut();
        v.confirm.consent = consent;
        v.confirm.keep_phone = keep_phone;
        if !consent || v.confirm.sending {
            return;
        }
    }
    let Some(draft) = draft(k) else {
        return;
    };
    let visit = {
        let mut v = k.visit.borrow_mut();
        v.confirm.sending = true;
        v.confirm.error = None;
        v.number
    };
    render(k);
    let county = k.services.county.clone();
    k.spawn_blocking(move || UiEvent::Submitted {
        visit,
        result: county.submit(&draft),
    });
}

/// The receipt of an accepted application (nothing personal but the masked name).
fn receipt(k: &Kiosk, sub: &Submission) -> ReceiptInfo {
    let v = k.visit.borrow();
    let item = v.item.as_ref();
    let name = k
        .shell
        .borrow()
        .session
        .card()
        .map(|c| Masked::name(&c.name).to_string())
        .unwrap_or_default();
    ReceiptInfo {
        receipt_no: sub.receipt_no.clone(),
        item_code: item.map(|i| i.code.clone()).unwrap_or_default(),
        item_name: item.map(|i| i.name.clone()).unwrap_or_default(),
        applicant_masked: name,
        submitted_at: sub.submitted_at,
        queued: sub.queued,
        qr_payload: sub.qr_payload.clone(),
        promised_days: item.map(|i| i.promised_time_limit_days).unwrap_or(0),
        case_number: sub.case_number.clone(),
        collect_at: item
            .and_then(|i| i.locations.first())
            .map(|l| format!("{}（{}）", l.name, l.address))
            .unwrap_or_default(),
        materials_to_bring: item
            .map(|i| {
                i.materials
                    .iter()
                    .filter(|m| m.required && m.form != crate::catalog::MaterialForm::Electronic)
                    .map(|m| m.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        agent: v
            .agent
            .agent()
            .or(k.shell.borrow().coordinator.as_ref())
            .cloned(),
    }
}

pub fn on_submitted(k: &Kiosk, result: Result<Submission, DeviceError>) -> Next {
    match result {
        Ok(sub) => {
            let now = k.now();
            let receipt = receipt(k, &sub);
            tracing::info!(receipt = %receipt.receipt_no, queued = receipt.queued, "application accepted");
            {
                let mut v = k.visit.borrow_mut();
                v.confirm.sending = false;
                v.submitted.submission = Some((sub, receipt));
                v.submitted.print = PrintState::Printing;
            }
            {
                // Only the receipt number is needed from here on.
                let mut sh = k.shell.borrow_mut();
                sh.session.forget_personal_data();
                sh.session.advance(Stage::Submitted, now);
            }
            Next::Fresh {
                reason: WipeReason::Finished,
                page: Page::Submitted,
                notice: None,
            }
        }
        Err(e) => {
            tracing::error!("application could not be stored: {}", e.detail);
            let card_lifted = {
                let mut v = k.visit.borrow_mut();
                v.confirm.sending = false;
                v.confirm.error = Some(e.clone());
                v.confirm.card_lifted
            };
            if card_lifted {
                // The villager left with the card while it was being sent: nothing personal
                // stays, and home says why.
                k.shell.borrow_mut().session.card_lifted();
                return Next::Fresh {
                    reason: WipeReason::CardLifted,
                    page: Page::Home,
                    notice: Some(NoticeText::new(
                        NoticeKind::Error,
                        format!(
                            "{}。申请没有提交成功；证件已拿走，您的信息已从屏幕和本机清除。",
                            e.message_zh
                        ),
                        format!(
                            "{}. The application was not submitted; the card was lifted and your details were cleared.",
                            e.message_en
                        ),
                    )),
                };
            }
            k.set_notice(NoticeText::new(
                NoticeKind::Error,
                format!(
                    "{}。申请没有提交成功，请稍后再试或请工作人员帮忙。",
                    e.message_zh
                ),
                format!(
                    "{}. The application was not submitted; try again or ask the staff.",
                    e.message_en
                ),
            ));
            render(k);
            Next::Stay
        }
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let Some(draft) = draft(k) else {
        return;
    };
    let v = k.visit.borrow();
    let (kind_zh, kind_en) = card_kind_label(draft.card_kind);
    let mut rows = vec![
        ConfirmRow {
            label: lang.pick("证件类型", "Card").into(),
            value: lang.pick(kind_zh, kind_en).into(),
        },
        ConfirmRow {
            label: lang.pick("申请人", "Applicant").into(),
            value: Masked::name(&draft.applicant_name).to_string().into(),
        },
        ConfirmRow {
            label: lang.pick("证件号码", "Card number").into(),
            value: Masked::id_number(&draft.id_number).to_string().into(),
        },
    ];
    let card_fill = |key: &str| {
        v.item
            .as_ref()
            .and_then(|i| i.form.iter().find(|f| f.key == key))
            .and_then(|f| f.card_fill)
    };
    // What is sent stays as the county publishes it (Chinese); the screen shows it in `lang`.
    let shown_item = v.item.as_ref().map(|i| i.translated(lang.tag()));
    for answer in &draft.answers {
        let from_card = card_fill(&answer.key);
        // The name and number are the rows above.
        if matches!(from_card, Some(CardField::Name | CardField::IdNumber)) {
            continue;
        }
        let field = v
            .item
            .as_ref()
            .and_then(|i| i.form.iter().position(|f| f.key == answer.key));
        let label = match (field, &shown_item) {
            (Some(i), Some(s)) => s.form[i].label.clone(),
            _ => answer.label.clone(),
        };
        // What the card filled in shows only masked (`pii`), as on the form.
        let shown = if let Some(from_card) = from_card {
            super::answers::shown_card_value(from_card, &answer.value, lang)
        } else if field.is_some() && field == v.form.account_from_card {
            // The bank account read from the social security card: masked, as on the form.
            crate::pii::mask(&answer.value, crate::pii::PiiKind::BankAccount)
        } else if answer.value.is_empty() {
            lang.pick("（未填）", "(left empty)")
        } else {
            match (field, &v.item) {
                (Some(i), Some(item)) => item.choice_label(i, &answer.value, lang.tag()),
                _ => answer.value.clone(),
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
    a.set_sending(v.confirm.sending);
    a.set_agent_line(
        draft
            .agent
            .as_ref()
            .map(|agent| super::l10n::agent_line(agent, &draft.applicant_name, lang))
            .unwrap_or_default()
            .into(),
    );
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<ConfirmAdapter>();
    a.set_rows(ModelRc::new(VecModel::from(Vec::<ConfirmRow>::new())));
    a.set_item_name("".into());
    a.set_destination("".into());
    a.set_consent(false);
    a.set_sending(false);
    a.set_agent_line("".into());
    a.set_keep_phone(false);
}
