//! Controller of `PinAdapter`: the maintenance PIN entry (维护密码), opened by the hidden gesture
//! on the idle screen. The check (a PBKDF2 run and the lockout file) goes to tokio's blocking
//! pool; its verdict comes back as [`UiEvent::PinChecked`]. The digits live in the
//! [`super::desk::DeskVisit`] (zeroised), the adapter shows dots only.

use std::rc::Rc;

use chrono::Local;
use slint::ComponentHandle;

use super::shell::{Kiosk, Next, UiEvent};
use super::{Page, PinAdapter};
use crate::maintenance::{MaintenanceGate, PinVerdict};
use crate::on;
use crate::session::WipeReason;

/// The longest PIN the pad takes.
const MAX_DIGITS: usize = 12;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, PinAdapter, on_digit, |k, d| {
        {
            let mut desk = k.desk.borrow_mut();
            if !desk.visit.checking && desk.visit.pin.len() < MAX_DIGITS {
                desk.visit.pin.push_str(d.as_str());
            }
        }
        render(k);
        Next::Stay
    });
    on!(k, PinAdapter, on_backspace, |k| {
        k.desk.borrow_mut().visit.pin.pop();
        render(k);
        Next::Stay
    });
    on!(k, PinAdapter, on_clear, |k| {
        k.desk.borrow_mut().visit.pin.clear();
        render(k);
        Next::Stay
    });
    on!(k, PinAdapter, on_submit, |k| submit(k));
    on!(k, PinAdapter, on_leave, |k| Next::Wipe(WipeReason::Home));
}

fn submit(k: &Kiosk) -> Next {
    let (pin, paths) = {
        let mut desk = k.desk.borrow_mut();
        if desk.visit.checking || desk.visit.pin.is_empty() {
            return Next::Stay;
        }
        let Some(setup) = desk.setup.as_ref() else {
            desk.visit.pin.clear();
            desk.visit.pin_message = "本终端未设置维护界面，请联系县里".into();
            drop(desk);
            render(k);
            return Next::Stay;
        };
        let paths = setup.paths.clone();
        desk.visit.checking = true;
        let pin = std::mem::take(&mut desk.visit.pin);
        (pin, paths)
    };
    let now = k.clock.utc_now();
    k.spawn_blocking(move || {
        let verdict = MaintenanceGate::open(paths)
            .and_then(|mut gate| gate.verify(&pin, now))
            .map_err(|e| {
                tracing::warn!("maintenance PIN: {e}");
                e.message_zh().to_string()
            });
        UiEvent::PinChecked(verdict)
    });
    render(k);
    Next::Stay
}

/// The PIN check's verdict, on the UI thread. Dropped unless the PIN page is still on screen.
pub fn on_checked(k: &Kiosk, verdict: Result<PinVerdict, String>) -> Next {
    if k.page() != Page::Pin {
        return Next::Stay;
    }
    let next = {
        let mut desk = k.desk.borrow_mut();
        desk.visit.checking = false;
        match verdict {
            Ok(PinVerdict::Accepted) => {
                desk.visit.open = true;
                desk.visit.pin_message.clear();
                Next::Replace(Page::Maintenance)
            }
            Ok(PinVerdict::Wrong { left }) => {
                desk.visit.pin_message = format!("密码不对，还可以再试 {left} 次");
                Next::Stay
            }
            Ok(PinVerdict::Locked { until }) => {
                desk.visit.pin_message = format!(
                    "输错次数太多，已锁定，请在 {} 以后再试",
                    until.with_timezone(&Local).format("%H:%M")
                );
                Next::Stay
            }
            Err(zh) => {
                desk.visit.pin_message = zh;
                Next::Stay
            }
        }
    };
    render(k);
    next
}

pub fn render(k: &Kiosk) {
    let desk = k.desk.borrow();
    let a = k.window.global::<PinAdapter>();
    a.set_dots("●".repeat(desk.visit.pin.chars().count()).into());
    a.set_message(desk.visit.pin_message.clone().into());
    a.set_checking(desk.visit.checking);
}
