//! Controller of `CardAdapter` and of the reader's events: identify with the ID card, or, in
//! demo mode, have the simulator's demo card placed. A lifted card wipes personal data.

use std::rc::Rc;

use slint::ComponentHandle;

use super::app::{CardPurpose, Kiosk, UiEvent};
use super::{CardAdapter, MainWindow, NoticeKind, Page};
use crate::idcard::IdCard;
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::{CardEvent, DemoCard, DeviceError};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, CardAdapter, on_place_demo_card, |k, kind| place_demo(
        k, &kind
    ));
}

fn place_demo(k: &Kiosk, kind: &str) {
    let Some(hand) = k.services.demo_hand.clone() else {
        return;
    };
    let card = DemoCard::parse(kind);
    if card.is_some() {
        let mut st = k.state.borrow_mut();
        st.card_error = None;
        st.card_reading = true;
    }
    render(k);
    k.spawn_blocking(move || {
        UiEvent::DemoHand(match card {
            Some(c) => hand.place(c),
            None => hand.lift(),
        })
    });
}

pub fn on_demo_hand(k: &Kiosk, result: Result<(), DeviceError>) {
    if let Err(e) = result {
        tracing::warn!("demo card hand failed: {}", e.detail);
        let mut st = k.state.borrow_mut();
        st.card_reading = false;
        st.card_error = Some((e.message_zh, e.message_en));
        drop(st);
        if k.page() == Page::Card {
            render(k);
        }
    }
}

/// A card that cannot be used even though the reader read it.
fn unusable(card: &IdCard, today: chrono::NaiveDate) -> Option<(String, String)> {
    match card.valid_until {
        Some(until) if until < today => Some((
            format!(
                "这张证件已过期（有效期至 {until}），不能用来办理。请使用有效证件，或请工作人员帮忙。"
            ),
            format!(
                "This card expired on {until} and cannot be used. Please use a valid card or ask the staff."
            ),
        )),
        _ => None,
    }
}

pub fn on_card_event(k: &Kiosk, event: CardEvent) {
    let page = k.page();
    match event {
        CardEvent::Placed(card) => {
            if k.state.borrow().session.stage() == crate::session::Stage::Idle {
                // A card on the reader does not start a visit by itself; the villager touches
                // the screen first. Drop it (zeroised).
                return;
            }
            let today = chrono::Local::now().date_naive();
            if let Some(msg) = unusable(&card, today) {
                reject(k, msg);
                return;
            }
            let now = k.now();
            let purpose = {
                let mut st = k.state.borrow_mut();
                st.session.identify(card, now);
                st.card_error = None;
                st.card_reading = false;
                st.card_purpose
            };
            tracing::info!("card placed and identified");
            if page == Page::Card {
                match purpose {
                    CardPurpose::Apply => super::form::begin(k),
                    CardPurpose::Cases => super::cases::begin(k),
                }
            }
        }
        CardEvent::Rejected {
            message_zh,
            message_en,
        } => reject(k, (message_zh, message_en)),
        CardEvent::Lifted => {
            let had = k.state.borrow_mut().session.card_lifted();
            {
                let mut st = k.state.borrow_mut();
                st.card_reading = false;
            }
            if had && matches!(page, Page::Form | Page::Confirm | Page::Cases | Page::Card) {
                k.forget_personal(WipeReason::CardLifted);
                {
                    let mut st = k.state.borrow_mut();
                    st.history.clear();
                }
                k.show(Page::Home, false);
                k.set_notice(
                    NoticeKind::Info,
                    "证件已拿走，您的信息已从屏幕和本机清除。",
                    "The card was lifted; your details were cleared from the screen and this kiosk.",
                );
            } else if had {
                k.forget_personal(WipeReason::CardLifted);
            }
        }
        CardEvent::Fault(detail) => {
            tracing::warn!("card reader fault: {detail}");
            let mut st = k.state.borrow_mut();
            st.card_reading = false;
            st.card_error = Some((
                "读卡器出了故障，请稍后再试或请工作人员帮忙。".into(),
                "The card reader has a fault. Try again later or ask the staff.".into(),
            ));
            drop(st);
            if page == Page::Card {
                render(k);
            }
        }
        CardEvent::Back => {
            tracing::info!("card reader is back");
            let mut st = k.state.borrow_mut();
            st.card_error = None;
            drop(st);
            if page == Page::Card {
                render(k);
            }
        }
    }
}

fn reject(k: &Kiosk, (zh, en): (String, String)) {
    {
        let mut st = k.state.borrow_mut();
        st.card_reading = false;
        st.card_error = Some((zh, en));
    }
    if k.page() == Page::Card {
        render(k);
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let st = k.state.borrow();
    let a = k.window.global::<CardAdapter>();
    a.set_demo_mode(k.services.demo_hand.is_some());
    a.set_reading(st.card_reading);
    a.set_error(
        st.card_error
            .as_ref()
            .map(|(zh, en)| lang.pick(zh.clone(), en.clone()))
            .unwrap_or_default()
            .into(),
    );
    a.set_purpose(
        match (st.card_purpose, &st.item) {
            (CardPurpose::Apply, Some(item)) => lang.pick(
                format!("申请：{}", item.name),
                format!("Apply for: {}", item.translated(lang.tag()).name),
            ),
            _ => lang.pick("查询我的办件进度", "Check my applications"),
        }
        .into(),
    );
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<CardAdapter>();
    a.set_error("".into());
    a.set_reading(false);
}
