//! UI tests of issue 15's villager parts on the testing backend, driven by accessible label
//! against demo mode's real parts (reader simulator on a pty, embedded back office):
//! 办件提醒 when a card is placed on the idle or home screen; 帮办代办.

use village_kiosk::county::wire::{AgentRelationship, CaseStatus};
use village_kiosk::session::WipeReason;
use village_kiosk::sim::idcard::SimCard;
use village_kiosk::station::DemoOptions;
use village_kiosk::station::ports::DemoCard;
use village_kiosk::ui::{Page, ResultsAdapter, SubmittedAdapter};

use slint::{ComponentHandle, Model};

use crate::ui::{Env, WAIT, env};

impl Env {
    /// Puts a demo card on the simulated reader as a villager's hand would: lifts the one
    /// there first and waits until the reader has polled the empty field three times (so it
    /// sees the next card as new, however slowly it polls), then places it.
    fn place_card(&self, card: DemoCard) {
        self.place_sim_card(card.card());
    }

    /// [`Env::place_card`] with any simulated card.
    fn place_sim_card(&self, card: SimCard) {
        let sim = &self.station.demo_parts().expect("demo").idcard_sim;
        let requests = sim.watch_requests();
        sim.lift_card();
        for _ in 0..3 {
            requests.recv_timeout(WAIT).expect("the reader polls");
        }
        sim.place_card(card);
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

/// 帮办代办: the helper places their own card, says they are the applicant's child, then the
/// applicant's card follows; the applicant consents on screen; the confirmation, the printed
/// receipt and the county's case all say who applied for whom.
#[test]
fn a_helper_files_for_the_applicant_and_both_are_on_the_application() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.tap(crate::ui::ITEM);
    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.tap("我是帮别人办（帮办代办）");
    e.wait_page(Page::Agent);
    assert!(e.on_screen("请代办人先把自己的身份证放在读卡区"));
    e.tap("放演示证件（代办人）");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.visit.borrow().agent.helper.is_some()),
        "the helper's card is read"
    );
    assert!(
        e.kiosk.shell.borrow().session.card().is_none(),
        "the helper's card identifies nobody"
    );
    let helper = SimCard::demo_hk_macao_taiwan();
    let text = e.screen_text();
    assert!(!text.contains(helper.name.as_str()), "masked: {text}");
    e.tap("子女");
    e.wait_page(Page::Card);
    assert!(e.screen_text().contains("放申请人本人的身份证"));
    assert!(!e.on_screen("我是帮别人办（帮办代办）"));
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    e.fill_and_confirm();
    let text = e.screen_text();
    let agent_line = format!("代办人 {}（子女）为 王*明申请", mask_name(&helper.name));
    assert!(text.contains(&agent_line), "{agent_line} in {text}");
    // The applicant consents, not the helper.
    assert!(!e.on_screen("我同意把以上信息发送给县政务服务部门，只用于办理这件事。"));
    e.tap("申请人本人确认：我同意由代办人替我申请，并把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e.wait_page(Page::Submitted);
    // The submitted page repeats the confirmation page's and the receipt's line.
    assert!(
        e.on_screen(&agent_line),
        "the submitted page says who applied for whom: {}",
        e.screen_text()
    );
    assert!(!e.screen_text().contains(&helper.name), "masked on screen");
    let sim = e.station.demo_parts().expect("demo").printer_sim.clone();
    assert!(sim.wait_for_cuts(1, WAIT), "receipt printed");
    assert!(
        sim.texts().iter().any(|t| t.contains(&agent_line)),
        "the receipt says who applied for whom: {:?}",
        sim.texts()
    );
    let case = e.newest_case();
    let agent = e
        .backoffice()
        .db()
        .expect("db")
        .agent_of(&case)
        .expect("agent")
        .expect("the case carries its agent");
    assert_eq!(agent.relationship, AgentRelationship::Child);
    assert_eq!(agent.name_masked, mask_name(&helper.name));
    e.tap("首页");
    e.wait_page(Page::Home);
    assert!(
        e.kiosk.visit.borrow().agent.helper.is_none(),
        "the helper is forgotten"
    );
}

fn mask_name(name: &str) -> String {
    village_kiosk::pii::Masked::name(name).to_string()
}

/// 帮办员模式: the maintenance PIN (a wrong one is refused), the coordinator's own card, then two
/// villagers in a row, each visit wiped as usual, both applications carrying the coordinator;
/// leaving the mode ends it.
#[test]
fn a_coordinator_files_for_two_villagers_in_a_row() {
    use village_kiosk::station::coordinator_pin::DEMO_PIN;
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("村帮办员：连续代办");
    e.wait_page(Page::Coordinator);
    e.type_digits("111111");
    e.tap("确定");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().coordinator.checking)
    );
    assert!(
        e.on_screen("密码不对，还可以再试 4 次。"),
        "{}",
        e.screen_text()
    );
    assert!(
        !e.screen_text().contains("111111"),
        "the PIN is never shown"
    );
    e.type_digits(DEMO_PIN);
    e.tap("确定");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.visit.borrow().coordinator.pin_ok)
    );
    e.tap("放演示证件（村帮办员）");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.shell.borrow().coordinator.is_some()),
        "coordinator mode on"
    );
    e.wait_page(Page::Home);
    assert!(e.kiosk.shell.borrow().session.card().is_none());
    let coordinator = mask_name(&SimCard::demo_foreign_permanent().name);

    let mut cases = Vec::new();
    for villager in 0..2 {
        e.tap("社保");
        e.tap(crate::ui::ITEM);
        e.tap("我要申请");
        e.wait_page(Page::Card);
        assert!(
            !e.on_screen("我是帮别人办（帮办代办）"),
            "the coordinator is the helper"
        );
        e.tap("放演示身份证");
        e.wait_page(Page::Form);
        e.fill_and_confirm();
        let line = format!("代办人 {coordinator}（村帮办员）为 王*明申请");
        assert!(
            e.screen_text().contains(&line),
            "villager {villager}: {}",
            e.screen_text()
        );
        e.tap("申请人本人确认：我同意由代办人替我申请，并把以上信息发送给县政务服务部门，只用于办理这件事。");
        e.tap("确认提交");
        e.wait_page(Page::Submitted);
        assert!(
            e.on_screen(&line),
            "villager {villager}: {}",
            e.screen_text()
        );
        cases.push(e.newest_case());
        // The visit ends as today; the mode stays.
        e.kiosk.end_visit(WipeReason::Finished);
        assert!(!e.kiosk.shell.borrow().session.has_personal_data());
        assert!(e.kiosk.shell.borrow().coordinator.is_some());
        e.tap("点击屏幕开始办事");
        e.wait_page(Page::Home);
    }
    assert_ne!(cases[0], cases[1]);
    let db = e.backoffice().db().expect("db");
    for case in &cases {
        let agent = db
            .agent_of(case)
            .expect("agent")
            .expect("filed by the coordinator");
        assert_eq!(agent.relationship, AgentRelationship::Coordinator);
        assert_eq!(agent.name_masked, coordinator);
    }

    e.tap(&format!("退出帮办员模式（{coordinator}）"));
    e.wait_page(Page::Home);
    assert!(e.kiosk.shell.borrow().coordinator.is_none());
    assert!(e.on_screen("村帮办员：连续代办"));
}

/// A kiosk left alone in coordinator mode leaves it at the inactivity wipe.
#[test]
fn the_inactivity_wipe_ends_coordinator_mode() {
    use village_kiosk::station::coordinator_pin::DEMO_PIN;
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.tap("村帮办员：连续代办");
    e.wait_page(Page::Coordinator);
    e.type_digits(DEMO_PIN);
    e.tap("确定");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.visit.borrow().coordinator.pin_ok)
    );
    e.tap("放演示证件（村帮办员）");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.shell.borrow().coordinator.is_some())
    );
    e.clock.advance(std::time::Duration::from_secs(61));
    e.kiosk.tick();
    e.wait_page(Page::Idle);
    assert!(e.kiosk.shell.borrow().coordinator.is_none());
}

/// How the 高龄津贴 journey enters the phone and the bank account.
#[derive(Clone, Copy)]
struct Journey {
    /// 用上次留的电话 (one touch) instead of the 11 digits.
    kept_phone: bool,
    /// Ticks 「（可不选）请县里保存我的联系电话…」 on the confirmation page.
    keep_phone: bool,
    /// 在读卡器上插入社保卡 (one touch, the card in the reader) instead of the 19 digits.
    sscard: bool,
}

/// An 80-year-old of the county, so 高龄津贴's conditions are met.
fn elder() -> SimCard {
    let mut elder = SimCard::demo_resident();
    elder.birth_date = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date");
    let first17 = "34052419400101001";
    elder.id_number = format!(
        "{first17}{}",
        village_kiosk::idcard::card::gb11643_check_char(first17).expect("check")
    );
    elder
}

/// Taps the 高龄津贴 journey from the idle screen to the submitted page (民政 → 高龄津贴申领 →
/// 我要申请 → the card on the reader, which is not a touch → phone → bank account → 下一步 →
/// consent → 确认提交) and returns the touches it took.
fn old_age_allowance_journey(e: &Env, elder: &SimCard, how: Journey) -> usize {
    use std::cell::Cell;
    let touches = Cell::new(0usize);
    let tap = |label: &str| {
        touches.set(touches.get() + 1);
        e.tap(label);
    };
    tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    tap("民政");
    e.wait_page(Page::ItemList);
    tap("高龄津贴申领");
    e.wait_page(Page::Guide);
    tap("我要申请");
    e.wait_page(Page::Card);
    e.place_sim_card(elder.clone());
    e.wait_page(Page::Form);
    if how.kept_phone {
        let offer = "用上次留的电话：138****8000";
        assert!(
            e.kiosk
                .wait_until(WAIT, |k| !k.visit.borrow().form.offered_phone.is_empty()),
            "the kept phone is offered"
        );
        tap(offer);
    } else {
        tap("联系电话（老人或子女）");
        for d in "13800138000".chars() {
            tap(&d.to_string());
        }
    }
    if how.sscard {
        tap("在读卡器上插入社保卡");
        assert!(
            e.kiosk
                .wait_until(WAIT, |k| !k.visit.borrow().form.sscard_reading),
            "the card is read"
        );
    } else {
        tap("老人社会保障卡金融账号");
        for d in luhn_account("622848001234567890").chars() {
            tap(&d.to_string());
        }
    }
    tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    if how.keep_phone {
        tap("（可不选）请县里保存我的联系电话，下次办事不用再输入。");
    }
    tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    tap("确认提交");
    e.wait_page(Page::Submitted);
    assert!(!e.kiosk.window.global::<SubmittedAdapter>().get_queued());
    touches.get()
}

fn ui_docs() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ui.md"))
        .expect("docs/ui.md")
}

/// The touches of the 高龄津贴 journey (issue 15 part 4), counted as the test taps (a card
/// placed on the reader is not a touch), from the idle screen to the submitted page, three
/// times for the same 80-year-old: as before (no keep-phone tick), ticking it, and returning
/// with the phone offered. Each figure must be the one docs/ui.md records.
#[test]
fn the_old_age_allowance_journey_touches_are_counted_and_documented() {
    let e = env(DemoOptions::default());
    let docs = ui_docs();
    let typed = Journey {
        kept_phone: false,
        keep_phone: false,
        sscard: false,
    };
    for (how, what) in [
        (typed, "高龄津贴 journey"),
        (
            Journey {
                keep_phone: true,
                ..typed
            },
            "高龄津贴 journey, keeping the phone",
        ),
        (
            Journey {
                kept_phone: true,
                ..typed
            },
            "高龄津贴 journey, returning",
        ),
    ] {
        let documented = format!(
            "{what}: {} touches",
            old_age_allowance_journey(&e, &elder(), how)
        );
        assert!(
            docs.contains(&documented),
            "docs/ui.md must record \"{documented}\" (the count this test made)"
        );
        e.kiosk.end_visit(WipeReason::Finished);
    }
}

/// 社保卡读卡器 (issue 15 part 4): with the reader simulator (`vk-sscard-1` on a pty, a card
/// with a UnionPay debit application behind it), 在读卡器上插入社保卡 fills the bank account
/// from the card, shown masked; a card without a bank account says so and the account can
/// still be typed. The 高龄津贴 journey's touches with the card, first visit (keeping the
/// phone) and returning, must be the ones docs/ui.md records.
#[test]
fn the_bank_account_is_read_from_the_social_security_card() {
    use village_kiosk::sim::sscard::{DEMO_ACCOUNT, SimSsCard};
    let e = env(DemoOptions {
        sscard_reader: true,
        ..DemoOptions::default()
    });
    let sim = e
        .station
        .demo_parts()
        .expect("demo")
        .sscard_sim
        .clone()
        .expect("the social security card reader simulator");

    let docs = ui_docs();
    let mut counts = Vec::new();
    for (how, what) in [
        (
            Journey {
                kept_phone: false,
                keep_phone: true,
                sscard: true,
            },
            "高龄津贴 journey, keeping the phone, with the social security card",
        ),
        (
            Journey {
                kept_phone: true,
                keep_phone: false,
                sscard: true,
            },
            "高龄津贴 journey, returning, with the social security card",
        ),
    ] {
        sim.insert(SimSsCard::demo());
        let n = old_age_allowance_journey(&e, &elder(), how);
        counts.push(n);
        let documented = format!("{what}: {n} touches");
        assert!(
            docs.contains(&documented),
            "docs/ui.md must record \"{documented}\" (the count this test made)"
        );
        e.kiosk.end_visit(WipeReason::Finished);
    }
    assert!(counts.iter().all(|n| *n > 0));

    // The form, up close: masked on screen, the whole account in the answers.
    e.tap("点击屏幕开始办事");
    e.tap("民政");
    e.tap("高龄津贴申领");
    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.place_sim_card(elder());
    e.wait_page(Page::Form);
    sim.insert(SimSsCard::NoBankApplication);
    e.tap("在读卡器上插入社保卡");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().form.sscard_reading)
    );
    assert!(
        e.on_screen("这张社保卡没有开通金融账户，请手动输入银行卡号。"),
        "{}",
        e.screen_text()
    );
    sim.insert(SimSsCard::demo());
    e.tap("在读卡器上插入社保卡");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().form.sscard_reading)
    );
    let text = e.screen_text();
    assert!(text.contains("已从社保卡读出金融账号"), "{text}");
    assert!(!text.contains(DEMO_ACCOUNT), "masked on screen: {text}");
    assert!(text.contains("4569"), "the last four digits shown: {text}");
    let key = {
        let v = e.kiosk.visit.borrow();
        let item = v.item.as_ref().expect("item");
        item.form
            .iter()
            .find(|f| f.kind == village_kiosk::catalog::FieldKind::BankAccount)
            .expect("a bank field")
            .key
            .clone()
    };
    assert_eq!(
        e.kiosk.shell.borrow().session.answer(&key),
        Some(DEMO_ACCOUNT)
    );
    // The confirmation page shows it masked too.
    e.tap("联系电话（老人或子女）");
    e.type_digits("13800138000");
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    let text = e.screen_text();
    assert!(!text.contains(DEMO_ACCOUNT), "masked on confirm: {text}");
    assert!(text.contains("4569"), "{text}");
    e.tap("返回");
    e.wait_page(Page::Form);
    // Typing in the field makes the answer the villager's own again, shown as typed.
    e.tap("老人社会保障卡金融账号");
    e.tap("清空");
    e.type_digits("6228480012345678903");
    assert!(e.screen_text().contains("6228480012345678903"));
    assert_eq!(
        e.kiosk.shell.borrow().session.answer(&key),
        Some("6228480012345678903")
    );
}

/// `first18` digits plus the Luhn check digit.
fn luhn_account(first18: &str) -> String {
    let sum: u32 = first18
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).expect("digit");
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{first18}{}", (10 - sum % 10) % 10)
}

/// 联系电话留存: with the consent ticked, the county keeps the phone; at the next application
/// the form offers it masked and one touch fills it; an application without the consent
/// withdraws it, and nothing is offered afterwards.
#[test]
fn a_returning_applicant_is_offered_the_phone_they_agreed_to_leave() {
    let e = env(DemoOptions::default());
    e.to_form();
    assert!(
        !e.screen_text().contains("用上次留的电话"),
        "nothing kept yet"
    );
    e.fill_and_confirm();
    e.tap("（可不选）请县里保存我的联系电话，下次办事不用再输入。");
    e.submit();
    assert!(
        !e.kiosk.window.global::<SubmittedAdapter>().get_queued(),
        "the county has it"
    );
    e.kiosk.end_visit(WipeReason::Finished);

    // The next visit: the phone is offered, masked, and one touch fills it.
    e.to_form();
    let offer = "用上次留的电话：138****8000";
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().form.offered_phone.is_empty()),
        "the county's kept phone arrives"
    );
    assert!(e.on_screen(offer), "{}", e.screen_text());
    assert!(
        !e.screen_text().contains("13800138000"),
        "masked until used"
    );
    e.tap(offer);
    assert_eq!(
        e.kiosk.shell.borrow().session.answer("phone"),
        Some("13800138000")
    );
    assert!(!e.on_screen(offer));
    e.tap("缴费档次");
    e.tap("每年500元");
    e.tap("参保人身份");
    e.tap("普通参保人");
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    // Submitted without the consent: the county forgets it (it confirmed delivery).
    e.submit();
    assert!(!e.kiosk.window.global::<SubmittedAdapter>().get_queued());
    let bo = e.backoffice();
    let db = bo.db().expect("db");
    let kept: Option<String> = db
        .conn()
        .query_row("SELECT phone FROM kept_phones", [], |r| r.get(0))
        .ok();
    assert_eq!(kept, None, "withdrawn");
}

/// In the English UI the county's own words are in English where staff gave an English form
/// (`note_en`: the collection window here) and stay Chinese where they did not (this rejection
/// reason), never an empty line: on the 办件提醒 page and on the cases page's timeline.
#[test]
fn the_english_ui_shows_the_countys_english_notes_and_chinese_without_one() {
    const WINDOW: &str = "城关镇便民服务中心2号窗口";
    const WINDOW_EN: &str = "Window 2, Chengguan town service centre";
    const REASON: &str = "缺少户口簿复印件";
    let e = env(DemoOptions::default());
    let mut cases = Vec::new();
    for _ in 0..2 {
        e.to_form();
        e.fill_and_confirm();
        e.submit();
        cases.push(e.newest_case());
        e.kiosk.end_visit(WipeReason::Inactivity);
        e.wait_page(Page::Idle);
    }
    let bo = e.backoffice();
    for to in [
        CaseStatus::Accepted,
        CaseStatus::InReview,
        CaseStatus::Approved,
    ] {
        bo.advance(&cases[0], to, None).expect("advance");
    }
    let view = bo
        .advance_with_english(&cases[0], CaseStatus::ReadyForCollection, WINDOW, WINDOW_EN)
        .expect("ready");
    assert_eq!(view.collection_window_en.as_deref(), Some(WINDOW_EN));
    bo.advance(&cases[1], CaseStatus::Rejected, Some(REASON))
        .expect("rejected");

    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    // The cases page: the timeline's notes and where to collect.
    e.tap("Check my applications");
    e.wait_page(Page::Card);
    e.tap("Place demo ID card");
    e.wait_page(Page::Cases);
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().cases.loading)
    );
    // What the page's cards show (status with the reason, where to collect), from its adapter:
    // the second card lies below the fold, where the testing backend builds no elements.
    let text = {
        use slint::Model;
        let m = e
            .kiosk
            .window
            .global::<village_kiosk::ui::CasesAdapter>()
            .get_cases();
        (0..m.row_count())
            .filter_map(|i| m.row_data(i))
            .map(|c| format!("{}|{}", c.status, c.collect))
            .collect::<Vec<_>>()
            .join("|")
    };
    assert!(text.contains(&format!("Collect at: {WINDOW_EN}")), "{text}");
    assert!(!text.contains(WINDOW), "the window is in English: {text}");
    assert!(
        text.contains(REASON),
        "no English reason: the Chinese: {text}"
    );

    // 办件提醒 when the card is placed on the home screen.
    e.kiosk
        .services
        .demo_hand
        .as_ref()
        .expect("demo hand")
        .lift()
        .expect("lifted");
    e.wait_page(Page::Home);
    if e.on_screen("English") {
        e.tap("English");
    }
    e.place_card(DemoCard::Resident);
    e.wait_page(Page::Results);
    e.wait_results_loaded();
    let text = e.screen_text();
    assert!(text.contains("Your applications"), "{text}");
    // The item by its English name, as on the cases page (the county records the Chinese one).
    assert!(
        !text.contains(crate::ui::ITEM),
        "the item is named in Chinese: {text}"
    );
    let item_en = e
        .kiosk
        .services
        .catalogue
        .search(crate::ui::ITEM, 5)
        .into_iter()
        .find(|i| i.name == crate::ui::ITEM)
        .map(|i| i.translated("en").name.clone())
        .expect("the item is in the catalogue");
    assert!(text.contains(&item_en), "{item_en:?} not on screen: {text}");
    assert!(text.contains(WINDOW_EN), "{text}");
    assert!(!text.contains(WINDOW), "the window is in English: {text}");
    assert!(
        text.contains(&format!("! Not approved: {REASON}")),
        "no English reason: the Chinese, not an empty line: {text}"
    );
}
