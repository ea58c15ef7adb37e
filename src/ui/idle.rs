//! Controller of `IdleAdapter`: announcements and "touch to start". Nothing personal, ever.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{Kiosk, Next};
use super::visit::CardPurpose;
use super::{Announcement, IdleAdapter, Page};
use crate::on;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, IdleAdapter, on_start, |k| Next::Start(None));
    on!(k, IdleAdapter, on_my_applications, |k| {
        k.visit.borrow_mut().card.purpose = CardPurpose::Cases;
        Next::Start(Some(Page::Card))
    });
    on!(k, IdleAdapter, on_corner_tap, |k| corner_tap(k));
}

/// A tap on the hidden corner (隐藏手势): the fifth within four seconds, on the shell's clock,
/// opens the maintenance PIN entry as a visit (so inactivity ends it).
fn corner_tap(k: &Kiosk) -> Next {
    let now = k.now();
    if k.desk.borrow_mut().taps.tap(now) {
        tracing::info!("maintenance gesture: PIN entry opened");
        Next::Start(Some(Page::Pin))
    } else {
        Next::Stay
    }
}

pub fn render(k: &Kiosk) {
    let rows: Vec<Announcement> = k
        .shell
        .borrow()
        .announcements
        .iter()
        .map(|a| Announcement {
            title: a.title.clone().into(),
            body: a.body.clone().into(),
            date: super::l10n::local_date(a.published_at).into(),
        })
        .collect();
    k.window
        .global::<IdleAdapter>()
        .set_announcements(ModelRc::new(VecModel::from(rows)));
}
