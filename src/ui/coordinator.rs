//! Controller of `CoordinatorAdapter` (帮办员模式): the village coordinator types the maintenance
//! PIN (verified against its hash on tokio's blocking pool, never on the UI thread), then places
//! their own card, masked at once into the [`Agent`] every following application carries
//! (relationship 村帮办员). The mode lives in the shell, beside the visits: each villager's visit
//! is wiped as usual, the masked coordinator stays until they leave the mode on the home page or
//! the kiosk is left alone until the inactivity wipe.
//!
//! The PIN is kept only while it is typed and checked (zeroised with the visit). This entry is
//! separate from the technician's maintenance screen; it shares only the PIN hash.

use std::rc::Rc;

use slint::ComponentHandle;

use super::shell::{Kiosk, Next, NoticeText, UiEvent};
use super::{CoordinatorAdapter, MainWindow, NoticeKind, Page};
use crate::county::wire::{Agent, AgentRelationship};
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::{CardEvent, DemoCard};

/// The maintenance PIN's length limit (`provision::pin::check_pin`: 6 to 12 digits).
const MAX_PIN: usize = 12;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, CoordinatorAdapter, on_digit, |k, d| {
        {
            let mut v = k.visit.borrow_mut();
            let pin = &mut v.coordinator.pin;
            if d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()) && pin.len() < MAX_PIN {
                pin.push_str(&d);
            }
        }
        render(k);
        Next::Stay
    });
    on!(k, CoordinatorAdapter, on_backspace, |k| {
        k.visit.borrow_mut().coordinator.pin.pop();
        render(k);
        Next::Stay
    });
    on!(k, CoordinatorAdapter, on_clear, |k| {
        k.visit.borrow_mut().coordinator.pin.clear();
        render(k);
        Next::Stay
    });
    on!(k, CoordinatorAdapter, on_submit_pin, |k| {
        submit_pin(k);
        Next::Stay
    });
    on!(k, CoordinatorAdapter, on_place_demo_card, |k| {
        if let Some(hand) = k.services.demo_hand.clone() {
            // The demo coordinator is another person than the demo applicant.
            k.spawn_blocking(move || UiEvent::DemoHand(hand.place(DemoCard::ForeignPermanent)));
        }
        Next::Stay
    });
}

/// Arriving from home: the PIN first.
pub fn enter(k: &Kiosk) -> Next {
    k.visit.borrow_mut().coordinator = Default::default();
    Next::Stay
}

fn submit_pin(k: &Kiosk) {
    let Some(hash) = k.services.coordinator_pin.clone() else {
        return;
    };
    let (pin, visit) = {
        let mut v = k.visit.borrow_mut();
        if v.coordinator.checking || v.coordinator.pin.is_empty() {
            return;
        }
        v.coordinator.checking = true;
        v.coordinator.error = None;
        // The attempt takes the PIN with it; the screen starts empty again.
        (std::mem::take(&mut v.coordinator.pin), v.number)
    };
    render(k);
    k.spawn_blocking(move || UiEvent::CoordinatorPin {
        visit,
        ok: crate::provision::pin::check_pin(&pin).is_ok() && hash.verify(&pin),
    });
}

pub fn on_pin(k: &Kiosk, ok: bool) -> Next {
    {
        let mut v = k.visit.borrow_mut();
        v.coordinator.checking = false;
        v.coordinator.pin_ok = ok;
        v.coordinator.error = (!ok).then(|| {
            (
                "密码不对，请重新输入。".to_string(),
                "Wrong PIN. Please type it again.".to_string(),
            )
        });
    }
    if ok {
        tracing::info!("coordinator PIN accepted");
    } else {
        tracing::warn!("coordinator PIN refused");
    }
    if k.page() == Page::Coordinator {
        render(k);
    }
    Next::Stay
}

/// The reader while the coordinator page is on screen: after the PIN, the coordinator's card.
pub fn on_card_event(k: &Kiosk, event: CardEvent) -> Next {
    let pin_ok = k.visit.borrow().coordinator.pin_ok;
    match event {
        CardEvent::Placed(card) if pin_ok => {
            let today = k.today();
            if card.check_expiry(today).is_err() {
                k.visit.borrow_mut().coordinator.error = Some((
                    "这张证件已过期，请换一张有效证件。".into(),
                    "This card has expired. Please use a valid card.".into(),
                ));
                render(k);
                return Next::Stay;
            }
            let agent = Agent::masked(&card.name, &card.id_number, AgentRelationship::Coordinator);
            let name = agent.name_masked.clone();
            k.shell.borrow_mut().coordinator = Some(agent);
            tracing::info!("coordinator mode on");
            Next::Fresh {
                reason: WipeReason::Home,
                page: Page::Home,
                notice: Some(NoticeText::new(
                    NoticeKind::Success,
                    format!("帮办员模式已开启（{name}）。请拿走您的证件，村民放自己的证件办理。"),
                    format!(
                        "Coordinator mode is on ({name}). Take your card away; each villager places their own card."
                    ),
                )),
            }
        }
        CardEvent::Rejected {
            message_zh,
            message_en,
        } if pin_ok => {
            k.visit.borrow_mut().coordinator.error = Some((message_zh, message_en));
            render(k);
            Next::Stay
        }
        // Before the PIN a card is nobody's business here; it is dropped (zeroised).
        _ => Next::Stay,
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<CoordinatorAdapter>();
    a.set_demo_mode(k.services.demo_hand.is_some());
    a.set_pin_ok(v.coordinator.pin_ok);
    a.set_typed(i32::try_from(v.coordinator.pin.len()).unwrap_or(0));
    a.set_checking(v.coordinator.checking);
    a.set_error(
        v.coordinator
            .error
            .as_ref()
            .map(|(zh, en)| lang.pick(zh.as_str(), en.as_str()))
            .unwrap_or_default()
            .into(),
    );
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<CoordinatorAdapter>();
    a.set_pin_ok(false);
    a.set_typed(0);
    a.set_checking(false);
    a.set_error("".into());
}
