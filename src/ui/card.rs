//! Controller of `CardAdapter` and of the reader's events: identify with the ID card, or, in
//! demo mode, have the simulator's demo card placed. A lifted card wipes personal data.

use std::rc::Rc;

use slint::ComponentHandle;
use zeroize::Zeroizing;

use super::shell::{Kiosk, Next, NoticeText, UiEvent};
use super::visit::CardPurpose;
use super::{CardAdapter, MainWindow, NoticeKind, Page};
use crate::idcard::IdCard;
use crate::idcard::card::CardRejection;
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::{CardEvent, DemoCard, DeviceError};

type Message = (Zeroizing<String>, Zeroizing<String>);

fn message(zh: impl Into<String>, en: impl Into<String>) -> Message {
    (Zeroizing::new(zh.into()), Zeroizing::new(en.into()))
}

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, CardAdapter, on_apply_for_someone, |k| Next::Show(
        Page::Agent
    ));
    on!(k, CardAdapter, on_place_demo_card, |k, kind| {
        place_demo(k, &kind);
        Next::Stay
    });
}

fn place_demo(k: &Kiosk, kind: &str) {
    let Some(hand) = k.services.demo_hand.clone() else {
        return;
    };
    let card = DemoCard::parse(kind);
    if card.is_some() {
        let mut v = k.visit.borrow_mut();
        v.card.error = None;
        v.card.reading = true;
    }
    render(k);
    k.spawn_blocking(move || {
        UiEvent::DemoHand(match card {
            Some(c) => hand.place(c),
            None => hand.lift(),
        })
    });
}

pub fn on_demo_hand(k: &Kiosk, result: Result<(), DeviceError>) -> Next {
    if let Err(e) = result {
        tracing::warn!("demo card hand failed: {}", e.detail);
        {
            let mut v = k.visit.borrow_mut();
            v.card.reading = false;
            v.card.error = Some(message(e.message_zh, e.message_en));
        }
        if k.page() == Page::Card {
            render(k);
        }
    }
    Next::Stay
}

/// A card that cannot be used even though the reader read it: the one expiry rule
/// (`IdCard::check_expiry`) on today in the station's time zone.
fn unusable(card: &IdCard, today: chrono::NaiveDate) -> Option<Message> {
    match card.check_expiry(today) {
        Err(CardRejection::Expired { valid_until: until }) => Some(message(
            format!(
                "这张证件已过期（有效期至 {until}），不能用来办理。请使用有效证件，或请工作人员帮忙。"
            ),
            format!(
                "This card expired on {until} and cannot be used. Please use a valid card or ask the staff."
            ),
        )),
        Err(other) => Some(message(
            other.message_zh(),
            format!(
                "This card cannot be used ({other}). Please use a valid card or ask the staff."
            ),
        )),
        Ok(()) => None,
    }
}

pub fn on_card_event(k: &Kiosk, event: CardEvent) -> Next {
    let page = k.page();
    match event {
        CardEvent::Placed(card) => {
            let today = k.today();
            let idle = k.stage() == crate::session::Stage::Idle;
            if idle && (page != Page::Idle || unusable(&card, today).is_some()) {
                // Only a usable card on the idle screen starts a visit by itself (办件提醒);
                // anything else is dropped (zeroised).
                return Next::Stay;
            }
            if let Some(msg) = unusable(&card, k.today()) {
                return reject(k, msg);
            }
            let now = k.now();
            {
                let mut sh = k.shell.borrow_mut();
                sh.session.start(now);
                sh.session.identify(card, now);
            }
            if idle {
                tracing::info!("card placed on the idle screen: its cases first");
                return Next::Start(Some(Page::Results));
            }
            let purpose = {
                let mut v = k.visit.borrow_mut();
                v.card.error = None;
                v.card.reading = false;
                v.card.purpose
            };
            tracing::info!("card placed and identified");
            match (page, purpose) {
                (Page::Card, CardPurpose::Apply) => Next::Show(Page::Form),
                (Page::Card, CardPurpose::Cases) => Next::Replace(Page::Cases),
                (Page::Home, _) => Next::Show(Page::Results),
                _ => Next::Stay,
            }
        }
        CardEvent::Rejected {
            message_zh,
            message_en,
        } => reject(k, message(message_zh, message_en)),
        CardEvent::Lifted if k.visit.borrow().confirm.sending => {
            // The application is being stored and sent: its receipt (masked name included)
            // comes first; the card's data goes with the result (see `confirm::on_submitted`).
            tracing::info!("card lifted while the application is being sent");
            k.visit.borrow_mut().confirm.card_lifted = true;
            Next::Stay
        }
        CardEvent::Lifted => {
            let had = k.shell.borrow_mut().session.card_lifted();
            k.visit.borrow_mut().card.reading = false;
            if had
                && matches!(
                    page,
                    Page::Form | Page::Confirm | Page::Cases | Page::Card | Page::Results
                )
            {
                Next::Fresh {
                    reason: WipeReason::CardLifted,
                    page: Page::Home,
                    notice: Some(NoticeText::new(
                        NoticeKind::Info,
                        "证件已拿走，您的信息已从屏幕和本机清除。",
                        "The card was lifted; your details were cleared from the screen and this kiosk.",
                    )),
                }
            } else if had {
                Next::Forget(WipeReason::CardLifted)
            } else {
                Next::Stay
            }
        }
        CardEvent::Fault(detail) => {
            tracing::warn!("card reader fault: {detail}");
            {
                let mut v = k.visit.borrow_mut();
                v.card.reading = false;
                v.card.error = Some(message(
                    "读卡器出了故障，请稍后再试或请工作人员帮忙。",
                    "The card reader has a fault. Try again later or ask the staff.",
                ));
            }
            if page == Page::Card {
                render(k);
            }
            Next::Stay
        }
        CardEvent::Back => {
            tracing::info!("card reader is back");
            k.visit.borrow_mut().card.error = None;
            if page == Page::Card {
                render(k);
            }
            Next::Stay
        }
    }
}

fn reject(k: &Kiosk, msg: Message) -> Next {
    {
        let mut v = k.visit.borrow_mut();
        v.card.reading = false;
        v.card.error = Some(msg);
    }
    if k.page() == Page::Card {
        render(k);
    }
    Next::Stay
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<CardAdapter>();
    a.set_demo_mode(k.services.demo_hand.is_some());
    a.set_reading(v.card.reading);
    a.set_error(
        v.card
            .error
            .as_ref()
            .map(|(zh, en)| lang.pick(zh.as_str(), en.as_str()))
            .unwrap_or_default()
            .into(),
    );
    let coordinator = k.shell.borrow().coordinator.clone();
    let agent = v.agent.agent().or(coordinator.as_ref());
    a.set_helper_offered(
        v.card.purpose == CardPurpose::Apply && v.item.is_some() && agent.is_none(),
    );
    a.set_purpose(
        match (v.card.purpose, &v.item, agent) {
            (CardPurpose::Apply, Some(item), Some(agent)) => lang.pick(
                format!(
                    "代办人 {} 为他人申请：{}。请拿走代办人的证件，放申请人本人的身份证。",
                    agent.name_masked, item.name
                ),
                format!(
                    "{} applies for someone: {}. Take the helper's card away and place the applicant's own card.",
                    agent.name_masked,
                    item.translated(lang.tag()).name
                ),
            ),
            (CardPurpose::Apply, Some(item), None) => lang.pick(
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
