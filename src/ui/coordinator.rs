//! Controller of `CoordinatorAdapter` (帮办员模式): the village coordinator types the maintenance
//! PIN (checked by `maintenance::verify_maintenance_pin` on tokio's blocking pool, never on the
//! UI thread, with the maintenance screen's lockout: five wrong PINs on either door lock both
//! for 15 minutes), then places
//! their own card, masked at once into the [`Agent`] every following application carries
//! (relationship 村帮办员). The mode lives in the shell, beside the visits: each villager's visit
//! is wiped as usual, the masked coordinator stays until they leave the mode on the home page or
//! the kiosk is left alone until the inactivity wipe.
//!
//! The PIN is kept only while it is typed and checked (zeroised with the visit). This entry is
//! separate from the technician's maintenance screen; it shares the PIN and its lockout file
//! (the maintenance screen's paths when the app set one up, else the station's).

use std::rc::Rc;

use slint::ComponentHandle;

use super::shell::{Kiosk, Next, NoticeText, UiEvent};
use super::{CoordinatorAdapter, MainWindow, NoticeKind, Page};
use crate::county::wire::{Agent, AgentRelationship};
use crate::maintenance::{MaintenancePaths, PinVerdict};
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

/// Where the PIN and its lockout are: the maintenance screen's when the app set it up (so both
/// doors count the same tries), else the station's (demo mode, tests without the screen).
fn pin_paths(k: &Kiosk) -> Option<MaintenancePaths> {
    k.desk
        .borrow()
        .setup
        .as_ref()
        .map(|s| s.paths.clone())
        .or_else(|| k.services.coordinator_pin.clone())
}

fn submit_pin(k: &Kiosk) {
    let Some(paths) = pin_paths(k) else {
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
    let now = k.clock.utc_now();
    k.spawn_blocking(move || {
        let verdict = crate::maintenance::verify_maintenance_pin(&paths, &pin, now).map_err(|e| {
            tracing::warn!("coordinator PIN: {e}");
            e.message_zh().to_string()
        });
        UiEvent::CoordinatorPin { visit, verdict }
    });
}

/// The PIN check's verdict, on the UI thread.
pub fn on_pin(k: &Kiosk, verdict: Result<PinVerdict, String>) -> Next {
    let ok = verdict == Ok(PinVerdict::Accepted);
    {
        let mut v = k.visit.borrow_mut();
        v.coordinator.checking = false;
        v.coordinator.pin_ok = ok;
        v.coordinator.error = match verdict {
            Ok(PinVerdict::Accepted) => None,
            Ok(PinVerdict::Wrong { left }) => Some((
                format!("密码不对，还可以再试 {left} 次。"),
                format!("Wrong PIN. {left} more tries."),
            )),
            Ok(PinVerdict::Locked { until }) => {
                let at = until.with_timezone(&chrono::Local).format("%H:%M");
                Some((
                    format!("输错次数太多，已锁定，请在 {at} 以后再试。"),
                    format!("Too many wrong PINs: locked until {at}."),
                ))
            }
            Err(zh) => Some((
                zh,
                "The PIN cannot be checked on this terminal.".to_string(),
            )),
        };
    }
    if ok {
        tracing::info!("coordinator PIN accepted");
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
