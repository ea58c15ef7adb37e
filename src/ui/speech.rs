//! Controller of `VoiceAdapter` (语音播报 in the UI): the 「听」 button on every page, 「读出我填的
//! 信息」 on the confirmation page, and the key moments spoken by themselves (place your card,
//! the card was read or refused, submitted, take your receipt, the inactivity warning).
//!
//! The shell calls the hooks here: [`page_changed`] after every navigation, [`wiped`] when
//! personal data is forgotten or the visit ends, [`moment`] at a key moment. Each describes the
//! page on screen as a [`PageView`] (read from the page's adapter and the visit: what the
//! villager sees) and hands it to the [`Speaker`]: the speech thread of [`crate::voice::Voice`]
//! on a terminal, [`crate::voice::Recorder`] in tests. Every call only sends: the UI thread
//! never waits on speech. Personal values go in as [`Personal`] and only the confirmation
//! page has any; they are spoken only after 「读出我填的信息」.
//!
//! The maintenance screen calls [`set_volume`] and [`set_key_moments`]; `kiosk run` calls
//! [`attach`] with the speaker built from `[voice]` in the config.

use std::rc::Rc;

use slint::{ComponentHandle, Model};

use super::shell::{Kiosk, Next};
use super::visit::{CardPurpose, PrintState};
use super::{ConfirmAdapter, FormAdapter, ItemListAdapter, Page, VoiceAdapter};
use crate::on;
use crate::voice::{GuideSummary, Lang, Moment, PageView, Personal, PublicText, Speaker};

pub fn setup(k: &Rc<Kiosk>) {
    k.window.global::<VoiceAdapter>().set_enabled(false);
    on!(k, VoiceAdapter, on_listen, |k| {
        listen(k);
        Next::Stay
    });
    on!(k, VoiceAdapter, on_read_my_answers, |k| {
        read_my_answers(k);
        Next::Stay
    });
}

/// Turns spoken guidance on with `speaker` at `volume` (0-100): the 「听」 button appears and
/// the page on screen is told. Key moments are spoken if the speaker was built with them on.
pub fn attach(k: &Kiosk, speaker: Rc<dyn Speaker>, volume: u8) {
    speaker.set_lang(lang(k));
    speaker.set_volume(volume.min(100));
    {
        let mut link = k.speech.borrow_mut();
        link.speaker = Some(speaker);
        link.told = None;
        link.volume = volume.min(100);
    }
    k.window.global::<VoiceAdapter>().set_enabled(true);
    page_changed(k);
}

/// The maintenance screen's volume (0-100), from the next utterance on. Returns false when
/// voice is off (no speaker).
pub fn set_volume(k: &Kiosk, volume: u8) -> bool {
    let mut link = k.speech.borrow_mut();
    link.volume = volume.min(100);
    match &link.speaker {
        Some(s) => {
            s.set_volume(volume.min(100));
            true
        }
        None => false,
    }
}

/// The volume in use (0-100), or `None` when voice is off.
pub fn volume(k: &Kiosk) -> Option<u8> {
    let link = k.speech.borrow();
    link.speaker.as_ref().map(|_| link.volume)
}

/// The maintenance screen's switch for key moments spoken by themselves (「听」 stays).
pub fn set_key_moments(k: &Kiosk, on: bool) {
    if let Some(s) = speaker(k) {
        s.set_auto(on);
    }
}

fn speaker(k: &Kiosk) -> Option<Rc<dyn Speaker>> {
    k.speech.borrow().speaker.clone()
}

fn lang(k: &Kiosk) -> Lang {
    Lang::from_tag(k.lang().tag())
}

/// 「听」: the page as it is now (a form half filled in, a receipt printed since).
pub fn listen(k: &Kiosk) {
    let Some(s) = speaker(k) else { return };
    s.page_shown(page_view(k));
    k.speech.borrow_mut().told = Some(k.page());
    s.listen();
}

/// 「读出我填的信息」: the villager's own confirmation page, with their answers.
pub fn read_my_answers(k: &Kiosk) {
    let Some(s) = speaker(k) else { return };
    s.page_shown(page_view(k));
    k.speech.borrow_mut().told = Some(k.page());
    s.read_my_answers();
}

/// After a navigation: a new page cuts off what the last one said, and the key moments of
/// arriving there are queued (place your card; the card was read; submitted).
pub fn page_changed(k: &Kiosk) {
    let Some(s) = speaker(k) else { return };
    let page = k.page();
    let before = k.speech.borrow().told;
    if before == Some(page) {
        return;
    }
    k.speech.borrow_mut().told = Some(page);
    s.page_shown(page_view(k));
    for m in arrival_moments(before, page) {
        s.moment(m);
    }
}

/// The key moments of arriving on `page` from `before` (`None` after a wipe).
fn arrival_moments(before: Option<Page>, page: Page) -> Vec<Moment> {
    let mut moments = Vec::new();
    if before == Some(Page::Card) && matches!(page, Page::Form | Page::Cases | Page::Eligibility) {
        moments.push(Moment::CardRead);
    }
    match page {
        Page::Card => moments.push(Moment::PlaceCard),
        Page::Submitted => moments.push(Moment::Submitted),
        _ => {}
    }
    moments
}

/// Personal data was forgotten or the visit ended: speech stops, nothing of it is read again.
pub fn wiped(k: &Kiosk) {
    let Some(s) = speaker(k) else { return };
    k.speech.borrow_mut().told = None;
    s.wipe();
}

/// A key moment (spoken when key moments are on).
pub fn moment(k: &Kiosk, moment: Moment) {
    if let Some(s) = speaker(k) {
        s.moment(moment);
    }
}

/// The card on the reader cannot be used. The reason on screen may name the card's expiry
/// date, so what is spoken is the rule only.
pub fn card_refused(k: &Kiosk) {
    let reason = k.lang().pick(
        "请看屏幕上的说明，换一张有效证件，或请工作人员帮忙。",
        "See the screen; use a valid card or ask the staff.",
    );
    moment(
        k,
        Moment::CardRejected {
            reason: PublicText::new(reason),
        },
    );
}

/// The language changed: the page is told again in the new language (cuts off).
pub fn language_changed(k: &Kiosk) {
    let Some(s) = speaker(k) else { return };
    s.set_lang(lang(k));
    if k.speech.borrow().told.is_some() {
        k.speech.borrow_mut().told = None;
        page_changed(k);
    }
}

/// The page on screen as the speech script reads it: what the villager sees, in the UI
/// language. Only the confirmation page carries personal values.
pub fn page_view(k: &Kiosk) -> PageView {
    let tag = k.lang().tag();
    let v = k.visit.borrow();
    let item_name = || {
        PublicText::new(
            v.item
                .as_ref()
                .map(|i| i.translated(tag).name.clone())
                .unwrap_or_default(),
        )
    };
    match k.page() {
        Page::Idle => PageView::Idle,
        Page::Home => PageView::Home,
        Page::Search => PageView::Search,
        Page::ItemList => {
            let a = k.window.global::<ItemListAdapter>();
            PageView::ItemList {
                title: PublicText::new(a.get_title().as_str()),
                count: a.get_items().row_count(),
            }
        }
        Page::Guide => match &v.item {
            Some(item) => PageView::Guide(GuideSummary::of(&item.translated(tag))),
            None => PageView::Home,
        },
        Page::Eligibility => {
            let pick = |(zh, en): &(String, String)| {
                PublicText::new(k.lang().pick(zh.as_str(), en.as_str()))
            };
            PageView::NotEligible {
                item_name: item_name(),
                reasons: v.eligibility.reasons.iter().map(pick).collect(),
                advice: pick(&v.eligibility.advice),
            }
        }
        Page::Card => match v.card.purpose {
            CardPurpose::Apply => PageView::Card {
                item_name: item_name(),
                agent: false,
            },
            CardPurpose::Cases => PageView::CasesCard,
        },
        Page::Form => {
            let fields = k.window.global::<FormAdapter>().get_fields();
            let mut to_fill = Vec::new();
            let mut problems = Vec::new();
            for f in fields.iter() {
                if f.required && !f.from_card && f.value.is_empty() {
                    to_fill.push(PublicText::new(f.label.as_str()));
                }
                if !f.error.is_empty() {
                    // Field problems name the field and the rule, never the value typed.
                    problems.push(PublicText::new(f.error.as_str()));
                }
            }
            PageView::Form {
                item_name: item_name(),
                to_fill,
                problems,
            }
        }
        Page::Confirm => {
            let a = k.window.global::<ConfirmAdapter>();
            PageView::Confirm {
                item_name: PublicText::new(a.get_item_name().as_str()),
                answers: a
                    .get_rows()
                    .iter()
                    .map(|r| {
                        (
                            PublicText::new(r.label.as_str()),
                            Personal::new(r.value.as_str()),
                        )
                    })
                    .collect(),
            }
        }
        Page::Submitted => PageView::Submitted {
            item_name: item_name(),
            receipt_printed: matches!(v.submitted.print, PrintState::Printed),
        },
        Page::Evaluation => PageView::Evaluation,
        // 办件提醒: which cases need the villager is personal, as on the cases page.
        Page::Cases | Page::Results => PageView::Cases,
        Page::Agent => PageView::Card {
            item_name: item_name(),
            agent: true,
        },
        Page::Coordinator => PageView::Coordinator,
        Page::Pin | Page::Maintenance => PageView::Maintenance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arriving_says_the_key_moments() {
        assert_eq!(
            arrival_moments(Some(Page::Guide), Page::Card),
            [Moment::PlaceCard]
        );
        assert_eq!(
            arrival_moments(Some(Page::Card), Page::Form),
            [Moment::CardRead]
        );
        assert_eq!(
            arrival_moments(Some(Page::Card), Page::Eligibility),
            [Moment::CardRead]
        );
        assert_eq!(arrival_moments(None, Page::Submitted), [Moment::Submitted]);
        assert_eq!(arrival_moments(Some(Page::Guide), Page::Form), []);
        assert_eq!(arrival_moments(None, Page::Idle), []);
    }
}
