//! UI tests of issue 15's villager parts on the testing backend, driven by accessible label
//! against demo mode's real parts (reader simulator on a pty, embedded back office):
//! 办件提醒 when a card is placed on the idle or home screen.

use village_kiosk::county::wire::CaseStatus;
use village_kiosk::session::WipeReason;
use village_kiosk::station::DemoOptions;
use village_kiosk::station::ports::DemoCard;
use village_kiosk::ui::{Page, ResultsAdapter};

use slint::{ComponentHandle, Model};

use crate::ui::{Env, WAIT, env};

impl Env {
    /// Puts a demo card on the simulated reader as a villager's hand would (lifting the one
    /// there first).
    fn place_card(&self, card: DemoCard) {
        self.kiosk
            .services
            .demo_hand
            .as_ref()
            .expect("demo hand")
            .place(card)
            .expect("card placed");
    }

    /// The newest case the embedded back office holds.
    fn newest_case(&self) -> String {
        let bo = self.backoffice();
        let db = bo.db().expect("db");
        db.case_numbers(None, None, None)
            .expect("cases")
            .into_iter()
            .next()
            .expect("a case")
    }

    fn backoffice(&self) -> &village_kiosk::backoffice::EmbeddedBackoffice {
        self.station
            .demo_parts()
            .expect("demo")
            .backoffice
            .as_ref()
            .expect("back office")
    }

    fn wait_results_loaded(&self) {
        assert!(
            self.kiosk
                .wait_until(WAIT, |k| !k.visit.borrow().results.loading),
            "the lookup answers"
        );
    }
}

/// A case made ready for collection by the county: placing the card on the idle screen shows
/// it first, with the window, then 知道了 continues at home with the card identified.
#[test]
fn a_card_on_the_idle_screen_shows_a_case_ready_for_collection_first() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.fill_and_confirm();
    e.submit();
    let case = e.newest_case();
    let bo = e.backoffice();
    for to in [
        CaseStatus::Accepted,
        CaseStatus::InReview,
        CaseStatus::Approved,
    ] {
        bo.advance(&case, to, None).expect("advance");
    }
    bo.advance(
        &case,
        CaseStatus::ReadyForCollection,
        Some("城关镇便民服务中心2号窗口"),
    )
    .expect("ready");
    e.kiosk.end_visit(WipeReason::Inactivity);
    e.wait_page(Page::Idle);

    e.place_card(DemoCard::Resident);
    e.wait_page(Page::Results);
    e.wait_results_loaded();
    assert_eq!(
        e.kiosk.page(),
        Page::Results,
        "something to tell: the page stays"
    );
    let text = e.screen_text();
    assert!(text.contains("您的办件提醒"), "{text}");
    assert!(text.contains(crate::ui::ITEM), "{text}");
    assert!(text.contains("办好了，可以领取"), "{text}");
    assert!(text.contains("城关镇便民服务中心2号窗口"), "{text}");
    assert!(text.contains("王*明"), "the masked name: {text}");
    let shown = e.kiosk.window.global::<ResultsAdapter>().get_results();
    assert_eq!(shown.row_count(), 1);

    e.tap("知道了，继续办事");
    e.wait_page(Page::Home);
    assert!(
        e.kiosk.shell.borrow().session.card().is_some(),
        "the card stays identified for applying"
    );
    assert_eq!(
        e.kiosk
            .window
            .global::<ResultsAdapter>()
            .get_results()
            .row_count(),
        0,
        "the list is forgotten"
    );
    // Applying now goes straight to the form: the card was read.
    e.tap("社保");
    e.tap(crate::ui::ITEM);
    e.tap("我要申请");
    e.wait_page(Page::Form);
}

/// A rejected case with its reason is shown when the card is placed on the home screen; a
/// card lifted there wipes it.
#[test]
fn a_card_on_the_home_screen_shows_a_rejected_case_with_its_reason() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.fill_and_confirm();
    e.submit();
    let case = e.newest_case();
    e.backoffice()
        .advance(&case, CaseStatus::Rejected, Some("缺少户口簿复印件"))
        .expect("rejected");
    e.kiosk.end_visit(WipeReason::Inactivity);
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);

    e.place_card(DemoCard::Resident);
    e.wait_page(Page::Results);
    e.wait_results_loaded();
    let text = e.screen_text();
    assert!(text.contains("没有通过：缺少户口簿复印件"), "{text}");
    assert!(text.contains("重新申请"), "{text}");

    e.kiosk
        .services
        .demo_hand
        .as_ref()
        .expect("demo hand")
        .lift()
        .expect("lifted");
    e.wait_page(Page::Home);
    e.assert_nothing_personal();
    assert_eq!(
        e.kiosk
            .window
            .global::<ResultsAdapter>()
            .get_results()
            .row_count(),
        0
    );
}

/// Nothing needs the villager (no cases at all): the page steps aside by itself and the visit
/// goes on at home with the card identified.
#[test]
fn a_card_with_nothing_to_collect_goes_straight_on_to_home() {
    let e = env(DemoOptions::default());
    e.place_card(DemoCard::HkMacaoTaiwan);
    e.wait_page(Page::Results);
    e.wait_page(Page::Home);
    assert!(e.kiosk.shell.borrow().session.card().is_some());
    assert!(!e.kiosk.visit.borrow().results.loading);
}
