//! Controller of `AgentAdapter` (帮办代办): a helper files for the applicant. The helper's card
//! is read first and masked at once (`wire::Agent::masked`; the card itself is dropped, never
//! put in the session), the helper says how they are related, then the card page takes the
//! applicant's own card and the confirmation page the applicant's consent. The application
//! carries both; the receipt and the confirmation say who applied for whom.
//!
//! Reader events reach this controller only while its page is on screen (the shell routes
//! them), so a helper's card never identifies anyone.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::shell::{Kiosk, Next, UiEvent};
use super::visit::CardPurpose;
use super::{AgentAdapter, MainWindow, Page};
use crate::county::wire::{Agent, AgentRelationship};
use crate::on;
use crate::station::ports::{CardEvent, DemoCard};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, AgentAdapter, on_choose_relationship, |k, index| {
        choose(k, index)
    });
    on!(k, AgentAdapter, on_place_demo_card, |k| {
        place_demo(k);
        Next::Stay
    });
}

/// Arriving from the card page: a helper starts from nothing.
pub fn enter(k: &Kiosk) -> Next {
    k.visit.borrow_mut().agent = Default::default();
    Next::Stay
}

fn place_demo(k: &Kiosk) {
    let Some(hand) = k.services.demo_hand.clone() else {
        return;
    };
    // The demo helper is another person than the demo applicant (居民身份证).
    k.spawn_blocking(move || UiEvent::DemoHand(hand.place(DemoCard::HkMacaoTaiwan)));
}

fn choose(k: &Kiosk, index: i32) -> Next {
    let Some(relationship) = usize::try_from(index)
        .ok()
        .and_then(|i| AgentRelationship::ALL.get(i).copied())
    else {
        return Next::Stay;
    };
    {
        let mut v = k.visit.borrow_mut();
        let Some(helper) = v.agent.helper.as_mut() else {
            return Next::Stay;
        };
        helper.relationship = relationship;
        v.agent.chosen = true;
        v.card.purpose = CardPurpose::Apply;
        v.card.error = None;
    }
    tracing::info!(
        ?relationship,
        "helper's relationship chosen; the applicant's card next"
    );
    Next::Replace(Page::Card)
}

/// The reader while the helper's page is on screen.
pub fn on_card_event(k: &Kiosk, event: CardEvent) -> Next {
    match event {
        CardEvent::Placed(card) => {
            let today = k.today();
            let mut v = k.visit.borrow_mut();
            match card.check_expiry(today) {
                Ok(()) => {
                    // Masked here: the helper's clear name and number go no further.
                    v.agent.helper = Some(Agent::masked(
                        &card.name,
                        &card.id_number,
                        AgentRelationship::OtherRelative,
                    ));
                    v.agent.chosen = false;
                    v.agent.error = None;
                    tracing::info!("helper's card read");
                }
                Err(_) => {
                    v.agent.error = Some((
                        "代办人的证件已过期，不能用来代办。请换一张有效证件。".into(),
                        "The helper's card has expired. Please use a valid card.".into(),
                    ));
                }
            }
        }
        CardEvent::Rejected {
            message_zh,
            message_en,
        } => k.visit.borrow_mut().agent.error = Some((message_zh, message_en)),
        CardEvent::Fault(detail) => {
            tracing::warn!("card reader fault: {detail}");
            k.visit.borrow_mut().agent.error = Some((
                "读卡器出了故障，请稍后再试或请工作人员帮忙。".into(),
                "The card reader has a fault. Try again later or ask the staff.".into(),
            ));
        }
        CardEvent::Back => k.visit.borrow_mut().agent.error = None,
        CardEvent::Lifted => {}
    }
    render(k);
    Next::Stay
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<AgentAdapter>();
    a.set_demo_mode(k.services.demo_hand.is_some());
    a.set_helper_read(v.agent.helper.is_some());
    a.set_helper(
        v.agent
            .helper
            .as_ref()
            .map(|h| h.name_masked.clone())
            .unwrap_or_default()
            .into(),
    );
    a.set_purpose(
        v.item
            .as_ref()
            .map(|i| {
                lang.pick(
                    format!("申请：{}", i.name),
                    format!("Apply for: {}", i.translated(lang.tag()).name),
                )
            })
            .unwrap_or_default()
            .into(),
    );
    a.set_error(
        v.agent
            .error
            .as_ref()
            .map(|(zh, en)| lang.pick(zh.as_str(), en.as_str()))
            .unwrap_or_default()
            .into(),
    );
    let labels: Vec<SharedString> = AgentRelationship::ALL
        .iter()
        .map(|r| lang.pick(r.label_zh(), r.label_en()).into())
        .collect();
    a.set_relationships(ModelRc::new(VecModel::from(labels)));
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<AgentAdapter>();
    a.set_helper_read(false);
    a.set_helper("".into());
    a.set_error("".into());
    a.set_purpose("".into());
}
