//! Integration tests for the touchscreen app: the real Slint UI on Slint's testing backend
//! with the software renderer, driven the way a villager drives it (find a control by its
//! accessible label, tap it), wired to the real parts of demo mode: the reader and printer
//! simulators on pseudo-terminals and the embedded county back office on loopback.
//!
//! Each test runs on its own thread with its own headless platform and its own demo station.
//! Time for the session rules comes from a hand-driven clock: no test sleeps.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use slint::{ComponentHandle, Model};
use village_kiosk::printer::status::PaperState;
use village_kiosk::sim::idcard::SimCard;
use village_kiosk::station::{DemoOptions, Station};
use village_kiosk::ui::app::KioskOptions;
use village_kiosk::ui::app::UiEvent;
use village_kiosk::ui::visit::PrintState;
use village_kiosk::ui::{
    AgentAdapter, AppAdapter, CardAdapter, CasesAdapter, ConfirmAdapter, EvaluationAdapter,
    FormAdapter, IdleAdapter, Kiosk, ManualClock, Page, ReceiptPrint, SearchAdapter,
    SubmittedAdapter, Theme, headless, tour,
};

pub(crate) const WAIT: Duration = Duration::from_secs(30);
pub(crate) const ITEM: &str = "城乡居民基本养老保险参保登记";

pub(crate) struct Env {
    pub(crate) kiosk: Rc<Kiosk>,
    pub(crate) clock: Rc<ManualClock>,
    _reader: village_kiosk::idcard::reader::ReaderHandle,
    pub(crate) station: Station,
    _rt: tokio::runtime::Runtime,
}

pub(crate) fn env(options: DemoOptions) -> Env {
    env_with(options, KioskOptions::default(), ManualClock::new())
}

/// A demo station and a kiosk on the testing backend (portrait unless `kiosk_options.landscape`),
/// nothing connected yet: the part every UI test environment shares (the runtime, the station,
/// the clock, the kiosk).
pub(crate) fn demo_kiosk(
    options: DemoOptions,
    kiosk_options: KioskOptions,
    clock: ManualClock,
) -> (tokio::runtime::Runtime, Station, Rc<ManualClock>, Rc<Kiosk>) {
    headless::init().expect("headless platform");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let station = Station::demo(options, rt.handle().clone()).expect("demo station starts");
    let clock = Rc::new(clock);
    let landscape = kiosk_options.landscape;
    let kiosk = Kiosk::new(
        station.services().clone(),
        rt.handle().clone(),
        clock.clone(),
        kiosk_options,
        Arc::new(|| {}),
    )
    .expect("window");
    headless::set_orientation(&kiosk, landscape);
    (rt, station, clock, kiosk)
}

/// [`env`] with the kiosk's options and clock of the test's choice.
pub(crate) fn env_with(
    options: DemoOptions,
    kiosk_options: KioskOptions,
    clock: ManualClock,
) -> Env {
    let (rt, station, clock, kiosk) = demo_kiosk(options, kiosk_options, clock);
    let sink = kiosk.sink();
    let reader = station.start_reader(move |e| sink.send(UiEvent::Card(e)));
    let sink = kiosk.sink();
    station.start_noticeboard(Some(Duration::from_secs(3600)), move |a| {
        sink.send(UiEvent::Announcements(a))
    });
    let sink = kiosk.sink();
    station.start_catalogue_watch(move || sink.send(UiEvent::CataloguePending));
    Env {
        kiosk,
        clock,
        _reader: reader,
        station,
        _rt: rt,
    }
}

impl Env {
    pub(crate) fn tap(&self, label: &str) {
        if let Err(e) = tour::tap(&self.kiosk, label) {
            panic!("{e}");
        }
    }

    pub(crate) fn wait_page(&self, page: Page) {
        if let Err(e) = tour::wait_page(&self.kiosk, page) {
            panic!("{e}");
        }
    }

    pub(crate) fn on_screen(&self, label: &str) -> bool {
        !headless::find(&self.kiosk, label).is_empty()
    }

    /// Every accessible label on screen, joined (what a screen reader could read).
    pub(crate) fn screen_text(&self) -> String {
        headless::all_elements(&self.kiosk)
            .iter()
            .filter_map(|e| e.accessible_label())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("|")
    }

    pub(crate) fn type_digits(&self, digits: &str) {
        for d in digits.chars() {
            self.tap(&d.to_string());
        }
    }

    /// idle → home → 社保 → the pension item's guide → 我要申请 → place the demo card → form.
    pub(crate) fn to_form(&self) {
        self.tap("点击屏幕开始办事");
        self.wait_page(Page::Home);
        self.tap("社保");
        self.wait_page(Page::ItemList);
        self.tap(ITEM);
        self.wait_page(Page::Guide);
        if let Err(e) = tour::apply_with_demo_card(&self.kiosk) {
            panic!("{e}");
        }
    }

    /// Fills the pension form by tapping, then goes to the confirmation page.
    pub(crate) fn fill_and_confirm(&self) {
        self.tap("联系电话");
        self.type_digits("13800138000");
        self.tap("缴费档次");
        self.tap("每年500元");
        self.tap("参保人身份");
        self.tap("普通参保人");
        self.tap("下一步：核对信息");
        self.wait_page(Page::Confirm);
    }

    /// Consent, 确认提交, and the receipt printed (the screenshot tour's own steps).
    pub(crate) fn submit(&self) {
        if let Err(e) = tour::submit(&self.kiosk) {
            panic!("{e}");
        }
    }

    /// Nothing personal in any adapter, the session, or anything on screen.
    pub(crate) fn assert_nothing_personal(&self) {
        let w = &self.kiosk.window;
        let card = SimCard::demo_resident();
        assert!(!self.kiosk.shell.borrow().session.has_personal_data());
        assert!(
            !self.kiosk.visit.borrow().holds_personal_data(),
            "{:?}",
            self.kiosk.visit.borrow()
        );
        assert_eq!(w.global::<FormAdapter>().get_fields().row_count(), 0);
        assert_eq!(w.global::<FormAdapter>().get_applicant(), "");
        assert_eq!(w.global::<ConfirmAdapter>().get_rows().row_count(), 0);
        assert!(!w.global::<ConfirmAdapter>().get_consent());
        assert_eq!(w.global::<CasesAdapter>().get_cases().row_count(), 0);
        assert_eq!(w.global::<CasesAdapter>().get_applicant(), "");
        assert_eq!(w.global::<CardAdapter>().get_error(), "");
        assert_eq!(w.global::<SubmittedAdapter>().get_receipt_no(), "");
        let text = self.screen_text();
        for secret in [card.name.as_str(), &card.id_number, "13800138000", "王*明"] {
            assert!(!text.contains(secret), "{secret:?} is still on screen");
        }
    }
}

/// Every string every adapter holds (nested models included), for checks that something is
/// nowhere in the UI's properties, on screen or not.
fn adapter_strings(k: &Kiosk) -> String {
    use std::fmt::Debug;
    use village_kiosk::ui::{GuideAdapter, HomeAdapter, ItemListAdapter};
    fn rows<T: Clone + Debug + 'static>(m: slint::ModelRc<T>) -> String {
        m.iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join("|")
    }
    let w = &k.window;
    let app = w.global::<AppAdapter>();
    let card = w.global::<CardAdapter>();
    let cases = w.global::<CasesAdapter>();
    let confirm = w.global::<ConfirmAdapter>();
    let eval = w.global::<EvaluationAdapter>();
    let form = w.global::<FormAdapter>();
    let guide = w.global::<GuideAdapter>();
    let home = w.global::<HomeAdapter>();
    let idle = w.global::<IdleAdapter>();
    let list = w.global::<ItemListAdapter>();
    let search = w.global::<SearchAdapter>();
    let sub = w.global::<SubmittedAdapter>();
    let mut out = vec![
        app.get_language().to_string(),
        app.get_station_name().to_string(),
        app.get_clock().to_string(),
        app.get_notice().to_string(),
        card.get_purpose().to_string(),
        card.get_error().to_string(),
        cases.get_applicant().to_string(),
        cases.get_message().to_string(),
        rows(cases.get_cases()),
        confirm.get_item_name().to_string(),
        confirm.get_destination().to_string(),
        rows(confirm.get_rows()),
        eval.get_item_name().to_string(),
        eval.get_message().to_string(),
        form.get_item_name().to_string(),
        form.get_applicant().to_string(),
        rows(form.get_fields()),
        rows(form.get_active_options()),
        form.get_active_value().to_string(),
        form.get_composing().to_string(),
        rows(form.get_candidates()),
        form.get_summary_error().to_string(),
        guide.get_code().to_string(),
        guide.get_name().to_string(),
        rows(guide.get_facts()),
        rows(guide.get_materials()),
        rows(guide.get_sections()),
        guide.get_apply_note().to_string(),
        rows(home.get_categories()),
        rows(home.get_life_events()),
        rows(idle.get_announcements()),
        list.get_title().to_string(),
        list.get_status().to_string(),
        rows(list.get_items()),
        search.get_query().to_string(),
        rows(search.get_results()),
        search.get_status().to_string(),
        sub.get_item_name().to_string(),
        sub.get_receipt_no().to_string(),
        sub.get_status_text().to_string(),
        sub.get_print_message().to_string(),
        sub.get_next_steps().to_string(),
    ];
    for c in cases.get_cases().iter() {
        out.push(rows(c.steps));
    }
    for f in form.get_fields().iter() {
        out.push(rows(f.options));
    }
    for s in guide.get_sections().iter() {
        out.push(rows(s.lines));
    }
    out.join("|")
}

/// Every page filled in one visit (search, guide, card, form, confirmation, submitted, rating,
/// cases), then the inactivity wipe: no adapter, no part of the `Visit` and no part of the
/// session holds anything of the villager, and a new visit starts empty.
#[test]
fn after_a_wipe_no_adapter_and_no_part_of_the_visit_holds_anything_personal() {
    use village_kiosk::pii::Masked;
    let e = env(DemoOptions::default());
    let card = SimCard::demo_resident();
    let address = card.address.clone().expect("the demo card has an address");
    let masked_name = Masked::name(&card.name).to_string();
    let masked_id = Masked::id_number(&card.id_number).to_string();

    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("搜索事项");
    e.tap("y");
    e.tap("l");
    e.tap(ITEM);
    e.wait_page(Page::Guide);
    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    e.fill_and_confirm();
    e.submit();
    let receipt = e
        .kiosk
        .window
        .global::<SubmittedAdapter>()
        .get_receipt_no()
        .to_string();
    assert!(receipt.starts_with("CG-"), "{receipt}");
    e.tap("评价服务");
    e.wait_page(Page::Evaluation);
    e.tap("满意");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.visit.borrow().evaluation.message.is_some())
    );
    // Still the same visit: 首页, then my applications with the card.
    e.tap("首页");
    e.wait_page(Page::Home);
    e.tap("查询我的办件进度");
    e.wait_page(Page::Card);
    e.tap("放演示身份证");
    e.wait_page(Page::Cases);
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().cases.loading)
    );
    // The test can fail: before the wipe the visit and the adapters do hold the villager.
    {
        let v = e.kiosk.visit.borrow();
        assert!(v.holds_personal_data());
        assert!(v.cases.cases.iter().any(|c| c.receipt_no == receipt));
    }
    let before = adapter_strings(&e.kiosk);
    assert!(before.contains(&masked_name), "{before}");
    assert!(before.contains(&receipt), "{before}");
    assert!(e.kiosk.shell.borrow().session.has_personal_data());
    let number = e.kiosk.visit_number();

    e.clock.advance(Duration::from_secs(60));
    e.kiosk.tick();
    e.wait_page(Page::Idle);

    let v = e.kiosk.visit.borrow();
    assert!(v.number > number, "a new visit number");
    assert!(!v.holds_personal_data(), "{v:?}");
    assert!(v.item.is_none() && v.list.is_none() && v.search.query.is_empty());
    assert!(v.submitted.submission.is_none() && !v.evaluation.rated);
    let visit = format!("{v:?}");
    drop(v);
    assert!(!e.kiosk.shell.borrow().session.has_personal_data());
    let after = adapter_strings(&e.kiosk);
    assert_eq!(
        e.kiosk
            .window
            .global::<SubmittedAdapter>()
            .get_qr()
            .size()
            .width,
        0,
        "the receipt's QR code is gone"
    );
    for secret in [
        card.name.as_str(),
        card.id_number.as_str(),
        address.as_str(),
        "13800138000",
        masked_name.as_str(),
        masked_id.as_str(),
        receipt.as_str(),
    ] {
        assert!(
            !after.contains(secret),
            "{secret:?} is in an adapter: {after}"
        );
        assert!(
            !visit.contains(secret),
            "{secret:?} is in the visit: {visit}"
        );
    }
    e.assert_nothing_personal();
}

/// The card's data shows masked wherever the form and the confirmation page show it (issue 10:
/// `pii`): the name and number as everywhere, the address only down to the county, the birth
/// date as its year, sex and nation not at all. What is sent stays the card's own data.
#[test]
fn the_form_and_the_confirmation_show_card_data_masked() {
    use village_kiosk::pii::Masked;
    let e = env(DemoOptions::default());
    let card = SimCard::demo_resident();
    let address = card.address.clone().expect("the demo card has an address");
    let birth = card.birth_date.format("%Y-%m-%d").to_string();
    let birth_digits = card.birth_date.format("%Y%m%d").to_string();
    let shown_as = [
        ("申请人姓名", Masked::name(&card.name).to_string()),
        (
            "公民身份号码",
            Masked::id_number(&card.id_number).to_string(),
        ),
        ("户籍地址", "安徽省宣城市示范县****".to_string()),
        ("出生日期", "1960-**-**".to_string()),
        ("性别", "（不显示）".to_string()),
        ("民族", "（不显示）".to_string()),
    ];
    e.to_form();
    let fields = e.kiosk.window.global::<FormAdapter>().get_fields();
    for (label, shown) in &shown_as {
        let field = fields
            .iter()
            .find(|f| f.label == *label)
            .unwrap_or_else(|| panic!("no field {label} on the form"));
        assert!(field.from_card, "{label}");
        assert_eq!(field.value, shown.as_str(), "{label} on the form");
    }
    let secrets = [
        card.name.as_str(),
        card.id_number.as_str(),
        address.as_str(),
        birth.as_str(),
        birth_digits.as_str(),
    ];
    let screen = e.screen_text();
    let adapters = adapter_strings(&e.kiosk);
    for secret in secrets {
        assert!(!screen.contains(secret), "{secret:?} on the form: {screen}");
        assert!(
            !adapters.contains(secret),
            "{secret:?} in an adapter: {adapters}"
        );
    }

    e.fill_and_confirm();
    let rows = e.kiosk.window.global::<ConfirmAdapter>().get_rows();
    let row = |label: &str| {
        rows.iter()
            .find(|r| r.label == label)
            .map(|r| r.value.to_string())
    };
    assert_eq!(row("申请人").as_deref(), Some(shown_as[0].1.as_str()));
    assert_eq!(row("证件号码").as_deref(), Some(shown_as[1].1.as_str()));
    for (label, shown) in &shown_as[2..] {
        assert_eq!(
            row(label).as_deref(),
            Some(shown.as_str()),
            "{label} on the confirmation"
        );
    }
    assert!(
        rows.iter().all(|r| r.value != "男" && r.value != "汉"),
        "sex and nation withheld"
    );
    let screen = e.screen_text();
    let adapters = adapter_strings(&e.kiosk);
    for secret in secrets {
        assert!(
            !screen.contains(secret),
            "{secret:?} on the confirmation: {screen}"
        );
        assert!(
            !adapters.contains(secret),
            "{secret:?} in an adapter: {adapters}"
        );
    }
    // What will be sent is the card's own data, unmasked.
    let draft = village_kiosk::ui::confirm::draft(&e.kiosk).expect("a draft");
    let sent = |key: &str| {
        draft
            .answers
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.clone())
    };
    assert_eq!(sent("household_address").as_deref(), Some(address.as_str()));
    assert_eq!(sent("birth_date").as_deref(), Some(birth.as_str()));
    assert_eq!(sent("sex").as_deref(), Some("男"));
    assert_eq!(sent("nation").as_deref(), Some("汉"));
}

#[test]
fn whole_journey_with_a_card() {
    let e = env(DemoOptions::default());
    let card = SimCard::demo_resident();
    assert!(e.on_screen("政策公告"));
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);

    // Search with pinyin initials, matches as you type.
    e.tap("搜索事项");
    e.wait_page(Page::Search);
    e.tap("y");
    e.tap("l");
    let results = e.kiosk.window.global::<SearchAdapter>().get_results();
    assert!(
        results.iter().any(|r| r.name == ITEM),
        "yl finds the pension item"
    );
    e.tap(ITEM);
    e.wait_page(Page::Guide);
    assert!(e.on_screen("需要带的材料（一次告知）"));

    // Print the checklist on the simulated printer.
    e.tap("打印材料清单");
    assert!(
        e.station
            .demo_parts()
            .expect("demo")
            .printer_sim
            .wait_for_cuts(1, WAIT),
        "checklist printed"
    );
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().guide.checklist_printing)
    );

    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    // Pre-filled from the card (shown masked).
    let fields = e.kiosk.window.global::<FormAdapter>().get_fields();
    let masked_name = village_kiosk::pii::Masked::name(&card.name).to_string();
    assert!(
        fields
            .iter()
            .any(|f| f.from_card && f.value == masked_name.as_str())
    );

    e.fill_and_confirm();
    let rows = e.kiosk.window.global::<ConfirmAdapter>().get_rows();
    assert!(rows.iter().any(|r| r.value == "13800138000"));
    assert!(rows.iter().any(|r| r.value == "每年500元"));
    // Not sent without consent.
    e.tap("请先勾选同意");
    assert_eq!(e.kiosk.page(), Page::Confirm);

    e.submit();
    let receipt = e
        .kiosk
        .window
        .global::<SubmittedAdapter>()
        .get_receipt_no()
        .to_string();
    assert!(receipt.starts_with("CG-"), "{receipt}");
    assert!(!e.kiosk.window.global::<SubmittedAdapter>().get_queued());
    assert_eq!(
        e.kiosk
            .window
            .global::<SubmittedAdapter>()
            .get_print_state(),
        ReceiptPrint::Printed
    );
    assert!(
        e.station
            .demo_parts()
            .expect("demo")
            .printer_sim
            .wait_for_cuts(2, WAIT),
        "receipt printed"
    );
    assert!(
        e.station
            .demo_parts()
            .expect("demo")
            .printer_sim
            .texts()
            .iter()
            .any(|t| t.contains(&receipt))
    );
    let county = e
        .station
        .demo_parts()
        .expect("demo")
        .backoffice
        .as_ref()
        .expect("back office")
        .db()
        .expect("db");
    assert!(
        county
            .receipts()
            .expect("receipts")
            .iter()
            .any(|(_, r, n)| *r == receipt && *n == 1)
    );
    // The card's data left memory with the submission.
    assert!(!e.kiosk.shell.borrow().session.has_personal_data());

    // Rate, never steered: five levels, nothing selected.
    e.tap("评价服务");
    e.wait_page(Page::Evaluation);
    for level in [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
        "跳过，不评价",
    ] {
        assert!(e.on_screen(level), "{level}");
    }
    e.tap("满意");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.visit.borrow().evaluation.message.is_some())
    );
    assert!(e.kiosk.window.global::<EvaluationAdapter>().get_done());
    e.tap("完成");
    e.wait_page(Page::Idle);

    // My applications.
    e.tap("查询我的办件进度");
    e.wait_page(Page::Card);
    e.tap("放演示身份证");
    e.wait_page(Page::Cases);
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().cases.loading)
    );
    let cases = e.kiosk.window.global::<CasesAdapter>().get_cases();
    let case = cases
        .iter()
        .find(|c| c.receipt_no == receipt.as_str())
        .expect("the case");
    assert!(case.steps.row_count() >= 3, "a status timeline");
    assert!(case.collect.contains("结果领取"));
    e.tap("首页");
    e.wait_page(Page::Home);
    e.assert_nothing_personal();
}

/// The idle screen shows the announcements the county back office published (signed bundle,
/// verified), newest first, and nothing personal.
#[test]
fn idle_screen_shows_the_county_announcements() {
    let e = env(DemoOptions::default());
    let published = village_kiosk::backoffice::demo_announcements();
    let first = &published.items[0].title;
    assert!(
        e.kiosk.wait_until(WAIT, |k| k
            .shell
            .borrow()
            .announcements
            .iter()
            .any(|a| &a.title == first)),
        "the back office's announcements reach the kiosk"
    );
    assert!(e.on_screen(first), "{}", e.screen_text());
    let shown = e.kiosk.window.global::<IdleAdapter>().get_announcements();
    let expected = village_kiosk::county::noticeboard::on_show(&published, chrono::Utc::now());
    assert_eq!(shown.row_count(), expected.len());
    let newest = shown.row_data(0).expect("one announcement");
    assert_eq!(newest.title, expected[0].title.as_str());
    assert_eq!(
        newest.date,
        expected[0]
            .published_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d")
            .to_string()
            .as_str()
    );
    e.assert_nothing_personal();
}

/// The confirmation page shows the applicant's name only through `pii::Masked` (王*明), like
/// the ID number; the full name is nowhere in its rows.
#[test]
fn the_confirmation_page_shows_the_applicant_masked() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.fill_and_confirm();
    let card = SimCard::demo_resident();
    let rows: Vec<(String, String)> = e
        .kiosk
        .window
        .global::<ConfirmAdapter>()
        .get_rows()
        .iter()
        .map(|r| (r.label.to_string(), r.value.to_string()))
        .collect();
    let applicant = rows
        .iter()
        .find(|(label, _)| label == "申请人")
        .map(|(_, v)| v.clone());
    assert_eq!(
        applicant.as_deref(),
        Some(
            village_kiosk::pii::Masked::name(&card.name)
                .to_string()
                .as_str()
        ),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|(_, v)| !v.contains(card.name.as_str())),
        "{rows:?}"
    );
    assert!(
        !e.screen_text().contains(card.name.as_str()),
        "{}",
        e.screen_text()
    );
}

/// Card expiry is checked by the one rule (`IdCard::check_expiry`) on today in the station's
/// time zone, from the shell's clock: a permit whose last day is today in Beijing is refused at
/// 00:30 the next day Beijing time (16:30 UTC, still the same UTC day) and accepted an hour
/// earlier.
#[test]
fn card_expiry_is_checked_on_the_station_day() {
    let until = SimCard::demo_hk_macao_taiwan()
        .valid_until
        .expect("the demo permit has an end date");
    let at = |h: u32, m: u32| {
        chrono::TimeZone::from_utc_datetime(
            &chrono::Utc,
            &until.and_hms_opt(h, m, 0).expect("time"),
        )
    };
    // One headless platform per thread: each case on its own.
    for (wall, refused) in [(at(15, 30), false), (at(16, 30), true)] {
        std::thread::spawn(move || {
            let e = env_with(
                DemoOptions::default(),
                KioskOptions::default(),
                ManualClock::at(wall),
            );
            e.tap("点击屏幕开始办事");
            e.tap("社保");
            e.tap(ITEM);
            e.tap("我要申请");
            e.wait_page(Page::Card);
            e.tap("港澳台居住证");
            if refused {
                assert!(e.kiosk.wait_until(WAIT, |k| {
                    !k.window.global::<CardAdapter>().get_error().is_empty()
                }));
                let error = e.kiosk.window.global::<CardAdapter>().get_error();
                assert!(error.contains("已过期"), "{wall}: {error}");
                assert_eq!(e.kiosk.page(), Page::Card);
                assert!(e.kiosk.shell.borrow().session.card().is_none());
            } else {
                e.wait_page(Page::Form);
            }
        })
        .join()
        .expect("the case passes");
    }
}

/// A catalogue published at the county reaches the running kiosk through the sync loop, but
/// the screen changes only after the visit: in the middle of a visit the new item is not there,
/// on the next visit it is.
#[test]
fn a_catalogue_published_at_the_county_shows_after_the_visit_not_during_it() {
    use village_kiosk::backoffice::publish;
    use village_kiosk::catalog::bundle;
    let e = env(DemoOptions::default());
    let updates = e.kiosk.services.updates.clone().expect("demo mode syncs");
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    // The county publishes version + 1 with one item more, in 社保.
    let mut next = village_kiosk::catalog::demo::demo_catalog();
    next.version += 1;
    let template = next
        .items
        .iter()
        .find(|i| i.name == ITEM)
        .expect("the pension item")
        .clone();
    let mut extra = template;
    extra.code = "SB-NEW-001".into();
    extra.name = "新增的社保测试事项".into();
    next.items.push(extra);
    let signed = bundle::sign_catalog(&next, &bundle::demo_signing_key()).expect("signs");
    let bo = e
        .station
        .demo_parts()
        .and_then(|d| d.backoffice.as_ref())
        .expect("the embedded back office");
    publish::publish(&bo.db().expect("db"), &signed, None, chrono::Utc::now()).expect("published");
    let sync = e.station.sync().expect("sync runs");
    sync.nudge();
    assert!(
        e.kiosk.wait_until(WAIT, |_| updates.pending()),
        "the new catalogue is verified and held: {:?}",
        *sync.status().borrow()
    );
    // In the middle of the visit: not installed, not shown.
    e.tap("社保");
    e.wait_page(Page::ItemList);
    assert!(e.on_screen(ITEM));
    assert!(!e.on_screen("新增的社保测试事项"));
    assert!(e.kiosk.services.catalogue.item("SB-NEW-001").is_none());
    assert!(updates.pending(), "nothing is installed during a visit");
    // The visit ends (inactivity): installed, and shown on the next visit.
    e.clock.advance(Duration::from_secs(61));
    e.kiosk.tick();
    e.wait_page(Page::Idle);
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| k.services.catalogue.item("SB-NEW-001").is_some()),
        "the new catalogue is put in use on the idle screen"
    );
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.wait_page(Page::ItemList);
    assert!(e.on_screen("新增的社保测试事项"), "{}", e.screen_text());
}

/// Announcements the county publishes later reach the idle screen through the sync loop.
#[test]
fn an_announcement_published_later_shows_on_the_idle_screen() {
    use village_kiosk::backoffice::publish;
    use village_kiosk::catalog::bundle;
    let e = env(DemoOptions::default());
    let mut published = village_kiosk::backoffice::demo_announcements();
    published.version += 1;
    published.items.insert(
        0,
        village_kiosk::county::wire::Announcement {
            id: "test-new".into(),
            title: "新发布的测试公告".into(),
            body: "本周六村便民服务站正常办公。".into(),
            published_at: chrono::Utc::now() - chrono::Duration::hours(1),
            expires_at: None,
        },
    );
    let signed = bundle::sign(
        bundle::KIND_ANNOUNCEMENTS,
        &serde_json::to_vec(&published).unwrap(),
        &bundle::demo_signing_key(),
    );
    let bo = e
        .station
        .demo_parts()
        .and_then(|d| d.backoffice.as_ref())
        .expect("the embedded back office");
    publish::publish(&bo.db().expect("db"), &signed, None, chrono::Utc::now()).expect("published");
    e.station.sync().expect("sync runs").nudge();
    assert!(
        e.kiosk.wait_until(WAIT, |k| k
            .shell
            .borrow()
            .announcements
            .iter()
            .any(|a| a.title == "新发布的测试公告")),
        "the new announcement reaches the kiosk"
    );
    assert_eq!(e.kiosk.page(), Page::Idle);
    assert!(e.on_screen("新发布的测试公告"), "{}", e.screen_text());
}

#[test]
fn no_card_no_form() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.tap(ITEM);
    e.tap("我要申请");
    e.wait_page(Page::Card);
    assert!(e.on_screen("请把身份证平放在下方读卡区"));
    e.clock.advance(Duration::from_secs(10));
    e.kiosk.tick();
    assert_eq!(e.kiosk.page(), Page::Card);
    assert_eq!(
        e.kiosk
            .window
            .global::<FormAdapter>()
            .get_fields()
            .row_count(),
        0
    );
    // 返回 goes back to the guide; 返回 and 首页 are on the page.
    assert!(e.on_screen("首页"));
    e.tap("返回");
    e.wait_page(Page::Guide);
}

#[test]
fn invalid_card_is_refused_in_plain_chinese() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.tap(ITEM);
    e.tap("我要申请");
    e.tap("过期身份证");
    assert!(e.kiosk.wait_until(WAIT, |k| {
        !k.window.global::<CardAdapter>().get_error().is_empty()
    }));
    let error = e.kiosk.window.global::<CardAdapter>().get_error();
    assert!(error.contains("有效期"), "{error}");
    assert_eq!(e.kiosk.page(), Page::Card);
    assert!(e.kiosk.shell.borrow().session.card().is_none());
    // A valid card afterwards works.
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
}

#[test]
fn the_other_card_kinds_are_accepted() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.tap("查询我的办件进度");
    e.wait_page(Page::Card);
    e.tap("港澳台居住证");
    e.wait_page(Page::Cases);
    e.tap("首页");
    e.tap("查询我的办件进度");
    e.wait_page(Page::Card);
    e.tap("外国人永居证");
    e.wait_page(Page::Cases);
}

/// Whether an on-screen element labelled `label` lies wholly inside the window, not just its
/// centre (what a villager needs to see and tap it).
pub(crate) fn wholly_on_screen(k: &Kiosk, label: &str) -> bool {
    let size = k.window.window().size();
    let scale = k.window.window().scale_factor();
    let (ww, wh) = (size.width as f32 / scale, size.height as f32 / scale);
    headless::find(k, label).iter().any(|el| {
        let (p, s) = (el.absolute_position(), el.size());
        p.x >= 0.0 && p.y >= 0.0 && p.x + s.width <= ww && p.y + s.height <= wh
    })
}

/// The demo kiosk in landscape (1920x1080).
fn landscape_env() -> Env {
    env_with(
        DemoOptions::default(),
        KioskOptions {
            landscape: true,
            ..KioskOptions::default()
        },
        ManualClock::new(),
    )
}

/// Landscape (1920x1080): the card page's reader graphic leaves room for the 帮办代办 button,
/// a card error and every demo card, all wholly on the screen and tappable.
#[test]
fn in_landscape_the_card_page_fits_its_buttons_and_error_on_screen() {
    let e = landscape_env();
    assert!(e.kiosk.window.global::<Theme>().get_landscape());
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.tap(ITEM);
    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.tap("过期身份证");
    assert!(e.kiosk.wait_until(WAIT, |k| {
        !k.window.global::<CardAdapter>().get_error().is_empty()
    }));
    let notice = format!(
        "✕ 出错了： {}",
        e.kiosk.window.global::<CardAdapter>().get_error()
    );
    let labels = [
        "请把身份证平放在下方读卡区",
        "我是帮别人办（帮办代办）",
        notice.as_str(),
        "放演示身份证",
        "港澳台居住证",
        "外国人永居证",
        "过期身份证",
        "拿走证件",
    ];
    // Standard text, then 长辈大字 (every text a quarter larger).
    all_wholly_on_screen_in_both_text_sizes(&e, "大字", &labels);
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    e.tap("返回");
    e.wait_page(Page::Card);
    e.tap("我是帮别人办（帮办代办）");
    e.wait_page(Page::Agent);
}

/// Every label wholly on the screen, in standard text and then in large text (switched on by
/// tapping `large_text`).
fn all_wholly_on_screen_in_both_text_sizes(e: &Env, large_text: &str, labels: &[impl AsRef<str>]) {
    for large in [false, true] {
        if large {
            e.tap(large_text);
            assert!(e.kiosk.window.global::<Theme>().get_large_text());
        }
        for label in labels.iter().map(AsRef::as_ref) {
            assert!(
                wholly_on_screen(&e.kiosk, label),
                "{label:?} is not wholly on the screen (large text {large}): {}",
                e.screen_text()
            );
        }
    }
}

/// In the English UI (portrait) the life events' longer names wrap inside their buttons: every
/// button is wholly on the screen, in standard and in large text.
#[test]
fn in_english_the_life_events_fit_on_the_home_screen() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    let events: Vec<String> = e
        .kiosk
        .window
        .global::<village_kiosk::ui::HomeAdapter>()
        .get_life_events()
        .iter()
        .map(|c| c.title.to_string())
        .collect();
    assert!(events.len() >= 6, "{events:?}");
    assert!(
        events.iter().any(|t| t == "Retirement and old age"),
        "in English: {events:?}"
    );
    all_wholly_on_screen_in_both_text_sizes(&e, "Large text", &events);
}

/// Landscape (1920x1080): after the helper's card is read, every relationship on the 帮办代办
/// page is wholly on the screen and tappable, in standard and in large text.
#[test]
fn in_landscape_the_agent_page_fits_every_relationship_on_screen() {
    let e = landscape_env();
    e.tap("点击屏幕开始办事");
    e.tap("社保");
    e.tap(ITEM);
    e.tap("我要申请");
    e.wait_page(Page::Card);
    e.tap("我是帮别人办（帮办代办）");
    e.wait_page(Page::Agent);
    e.tap("放演示证件（代办人）");
    assert!(e.kiosk.wait_until(WAIT, |k| {
        k.window.global::<AgentAdapter>().get_helper_read()
    }));
    let relationships: Vec<String> = e
        .kiosk
        .window
        .global::<AgentAdapter>()
        .get_relationships()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(relationships.len(), 8, "{relationships:?}");
    all_wholly_on_screen_in_both_text_sizes(&e, "大字", &relationships);
    e.tap("其他亲属");
    e.wait_page(Page::Card);
}

#[test]
fn printer_out_of_paper_shows_number_and_qr() {
    let e = env(DemoOptions {
        printer_state: PaperState::PaperEnd,
        ..DemoOptions::default()
    });
    e.to_form();
    e.fill_and_confirm();
    e.submit();
    let s = e.kiosk.window.global::<SubmittedAdapter>();
    assert_eq!(s.get_print_state(), ReceiptPrint::Failed);
    assert!(
        s.get_print_message().contains("缺纸"),
        "{}",
        s.get_print_message()
    );
    assert!(s.get_receipt_no().starts_with("CG-"));
    assert!(s.get_qr().size().width > 0, "QR on screen");
    assert!(e.on_screen("回执二维码"));
    assert!(e.on_screen("重新打印"));
}

#[test]
fn county_unreachable_is_queued_and_says_waiting_to_upload() {
    let e = env(DemoOptions {
        county_reachable: false,
        confirm_wait: Duration::from_secs(10),
        ..DemoOptions::default()
    });
    e.to_form();
    e.fill_and_confirm();
    e.submit();
    let s = e.kiosk.window.global::<SubmittedAdapter>();
    assert!(s.get_queued());
    assert!(s.get_status_text().contains("待上传"));
    assert!(e.screen_text().contains("待上传"));
    assert!(
        e.station
            .demo_parts()
            .expect("demo")
            .printer_sim
            .wait_for_cuts(1, WAIT)
    );
    assert!(
        e.station
            .demo_parts()
            .expect("demo")
            .printer_sim
            .texts()
            .iter()
            .any(|t| t.contains("待上传")),
        "the printed receipt says 待上传"
    );
}

#[test]
fn inactivity_warns_then_wipes_everything_personal() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.tap("联系电话");
    e.type_digits("13800138000");
    e.clock.advance(Duration::from_secs(44));
    e.kiosk.tick();
    assert!(!e.kiosk.window.global::<AppAdapter>().get_warning_visible());
    e.clock.advance(Duration::from_secs(2));
    e.kiosk.tick();
    assert!(e.kiosk.window.global::<AppAdapter>().get_warning_visible());
    assert_eq!(
        e.kiosk
            .window
            .global::<AppAdapter>()
            .get_warning_seconds_left(),
        14
    );
    // 继续办理 keeps everything.
    e.tap("继续办理");
    assert!(!e.kiosk.window.global::<AppAdapter>().get_warning_visible());
    e.clock.advance(Duration::from_secs(59));
    e.kiosk.tick();
    assert_eq!(e.kiosk.page(), Page::Form);
    assert!(e.kiosk.shell.borrow().session.has_personal_data());
    e.clock.advance(Duration::from_secs(1));
    e.kiosk.tick();
    assert_eq!(e.kiosk.page(), Page::Idle);
    e.assert_nothing_personal();
}

#[test]
fn card_lift_and_home_wipe_personal_data() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.tap("联系电话");
    e.type_digits("139");
    e.station.demo_parts().expect("demo").idcard_sim.lift_card();
    e.wait_page(Page::Home);
    e.assert_nothing_personal();

    e.tap("社保");
    e.tap(ITEM);
    e.tap("我要申请");
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    e.tap("首页");
    e.wait_page(Page::Home);
    e.assert_nothing_personal();
}

#[test]
fn validation_messages_are_plain_chinese() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.tap("联系电话");
    e.type_digits("1380");
    e.tap("下一步：核对信息");
    assert_eq!(e.kiosk.page(), Page::Form);
    let fields = e.kiosk.window.global::<FormAdapter>().get_fields();
    let phone = fields
        .iter()
        .find(|f| f.key == "phone")
        .expect("phone field");
    assert!(phone.error.contains("11位"), "{}", phone.error);
    let level = fields
        .iter()
        .find(|f| f.key == "contribution_level")
        .expect("level");
    assert_eq!(level.error, "请填写缴费档次");
}

#[test]
fn language_switches_at_run_time() {
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    assert_eq!(e.kiosk.window.global::<AppAdapter>().get_language(), "en");
    assert!(e.on_screen("Search services"), "{}", e.screen_text());
    assert!(e.on_screen("Social insurance"));
    assert!(e.on_screen("Home"));
    e.tap("Social insurance");
    e.wait_page(Page::ItemList);
    e.tap("中文");
    assert!(e.on_screen("首页"));
    assert!(e.on_screen("返回"));
    assert_eq!(
        e.kiosk.window.global::<AppAdapter>().get_language(),
        "zh-CN"
    );
}

/// In English the catalogue's own English guide is shown, choices are offered by their English
/// labels, and what is sent to the county is still the Chinese the county published.
#[test]
fn english_ui_shows_the_english_guide_and_sends_the_published_values() {
    const ITEM_EN: &str = "Enrolment in Basic Pension Insurance for Urban and Rural Residents";
    let e = env(DemoOptions::default());
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    assert!(e.on_screen("Retirement and old age"), "{}", e.screen_text());
    e.tap("Social insurance");
    e.wait_page(Page::ItemList);
    e.tap(ITEM_EN);
    e.wait_page(Page::Guide);
    let text = e.screen_text();
    assert!(text.contains("Who may apply"), "{text}");
    assert!(text.contains("Conditions"), "{text}");
    assert!(
        !text.contains(ITEM),
        "the Chinese name is not shown in English: {text}"
    );
    e.tap("Apply");
    e.wait_page(Page::Card);
    e.tap("Place demo ID card");
    e.wait_page(Page::Form);
    e.tap("Contact phone");
    e.type_digits("13800138000");
    e.tap("Contribution level");
    e.tap("500 yuan a year");
    e.tap("Category of insured person");
    e.tap("Ordinary insured person");
    e.tap("Next: check the details");
    e.wait_page(Page::Confirm);
    let rows = e.kiosk.window.global::<ConfirmAdapter>().get_rows();
    assert!(
        rows.iter()
            .any(|r| r.label == "Contribution level" && r.value == "500 yuan a year")
    );
    let draft = village_kiosk::ui::confirm::draft(&e.kiosk).expect("draft");
    assert_eq!(draft.item_name, ITEM);
    assert!(
        draft.answers.iter().any(|a| a.key == "contribution_level"
            && a.label == "缴费档次"
            && a.value == "每年500元"),
        "{:?}",
        draft.answers
    );
}

fn assert_targets_large_enough(e: &Env) {
    use i_slint_backend_testing::AccessibleRole;
    let mut checked = 0;
    for el in headless::all_elements(&e.kiosk) {
        if matches!(
            el.accessible_role(),
            Some(AccessibleRole::Button | AccessibleRole::Checkbox | AccessibleRole::TextInput)
        ) {
            let s = el.size();
            if s.width == 0.0 && s.height == 0.0 {
                continue;
            }
            assert!(
                s.width >= 60.0 && s.height >= 60.0,
                "{:?} on {:?} is {}x{}",
                el.accessible_label(),
                e.kiosk.page(),
                s.width,
                s.height
            );
            assert!(
                el.accessible_label().is_some_and(|l| !l.is_empty()),
                "a control without a label on {:?}",
                e.kiosk.page()
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn elements_meet_the_elderly_friendly_minimums() {
    let e = env(DemoOptions::default());
    let theme = e.kiosk.window.global::<Theme>();
    assert!(theme.get_font_main() >= 30.0);
    assert!(theme.get_font_title() >= 30.0);
    assert!(theme.get_font_body() >= 18.0);
    assert!(theme.get_font_small() >= 18.0);
    assert!(theme.get_touch_min() >= 60.0);
    assert_targets_large_enough(&e);
    e.tap("点击屏幕开始办事");
    assert_targets_large_enough(&e);
    e.tap("大字");
    assert!(theme.get_large_text());
    assert!(theme.get_font_body() > 28.0);
    e.tap("标准字");
    e.tap("搜索事项");
    assert_targets_large_enough(&e);
    e.tap("首页");
    e.tap("社保");
    assert_targets_large_enough(&e);
    e.tap(ITEM);
    assert_targets_large_enough(&e);
    e.tap("我要申请");
    assert_targets_large_enough(&e);
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    assert_targets_large_enough(&e);
    e.fill_and_confirm();
    assert_targets_large_enough(&e);
    // 返回 and 首页 are always visible (but on idle).
    assert!(e.on_screen("返回") && e.on_screen("首页"));
}

/// Renders the home screen on its own thread and platform; returns its pixels as RGB.
fn home_pixels(
    services: village_kiosk::station::ports::Services,
    rt: tokio::runtime::Handle,
    framebuffer: bool,
) -> Vec<(u8, u8, u8)> {
    std::thread::spawn(move || {
        use village_kiosk::ui::framebuffer::{Framebuffer, FramebufferPlatform};
        let window = if framebuffer {
            let (platform, window) = FramebufferPlatform::new();
            slint::platform::set_platform(Box::new(platform)).expect("frame-buffer platform");
            Some(window)
        } else {
            headless::init().expect("headless platform");
            None
        };
        let kiosk = Kiosk::new(
            services,
            rt,
            Rc::new(ManualClock::new()),
            KioskOptions::default(),
            Arc::new(|| {}),
        )
        .expect("window");
        headless::set_orientation(&kiosk, false);
        kiosk.start_visit();
        match window {
            Some(w) => {
                let mut frame = Framebuffer::new(kiosk.window.window().size());
                assert!(frame.draw(&w), "the frame buffer drew nothing");
                assert_eq!((frame.size.width, frame.size.height), (1080, 1920));
                frame.pixels.iter().map(|p| p.rgb()).collect()
            }
            None => {
                let shot = kiosk.window.window().take_snapshot().expect("snapshot");
                assert_eq!((shot.width(), shot.height()), (1080, 1920));
                shot.as_slice().iter().map(|p| (p.r, p.g, p.b)).collect()
            }
        }
    })
    .join()
    .expect("render thread")
}

/// `kiosk run --headless` and the render benchmark draw into an XRGB8888 frame buffer, as the
/// kiosk image does: that frame is the same picture the screenshots show.
#[test]
fn frame_buffer_draws_the_same_home_screen_as_the_screenshots() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let station = Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo station");
    let drawn = home_pixels(station.services().clone(), rt.handle().clone(), true);
    let shot = home_pixels(station.services().clone(), rt.handle().clone(), false);
    assert_eq!(drawn.len(), shot.len());
    let differing = drawn.iter().zip(&shot).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{differing} pixels differ");
    // Not a blank frame: the home screen has text and tiles in several colours.
    let distinct: std::collections::HashSet<_> = drawn.iter().collect();
    assert!(distinct.len() > 50, "only {} colours drawn", distinct.len());
}

/// The station's one shutdown path lets the job on the printer finish (the receipt is cut,
/// the caller hears it printed) and refuses new jobs afterwards.
#[test]
fn shutdown_waits_for_the_receipt_being_printed() {
    use village_kiosk::station::ports::ReceiptInfo;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut station =
        Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo station");
    let sim = station.demo_parts().expect("demo").printer_sim.clone();
    let printer = station.services().printer.clone();
    let receipt = ReceiptInfo {
        receipt_no: "R-20260301-0001".into(),
        item_code: "demo".into(),
        item_name: ITEM.into(),
        applicant_masked: "张*国".into(),
        submitted_at: chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .expect("date"),
        queued: true,
        qr_payload: "https://zwfw.example.gov.cn/r/R-20260301-0001".into(),
        promised_days: 15,
        case_number: None,
        collect_at: "村便民服务站".into(),
        materials_to_bring: vec!["户口簿".into(); 8],
        agent: None,
    };
    let job = {
        let receipt = receipt.clone();
        let printer = printer.clone();
        std::thread::spawn(move || printer.print_receipt(&receipt))
    };
    // The job is on the printer: its ESC @ has arrived (the station's idle status checks, DLE
    // EOT, come before it and are not the job).
    let (started, _) = sim.wait_for(WAIT, |t| {
        t.iter()
            .any(|e| matches!(e, village_kiosk::printer::paper::TranscriptEntry::Init))
    });
    assert!(started, "the receipt never reached the printer");
    let report = station.shutdown();
    assert!(report.clean(), "{report:?}");
    assert!(!station.printing());
    assert_eq!(job.join().expect("print thread"), Ok(()));
    assert!(
        sim.wait_for_cuts(1, Duration::ZERO),
        "shutdown returned before the receipt was cut"
    );
    let after = printer.print_receipt(&receipt);
    assert!(after.is_err(), "a job after shutdown was accepted");
}

/// SIGTERM (what systemd sends) ends `kiosk run` through the same shutdown path: exit 0, the
/// station stopped cleanly (printer idle, outbox worker stopped) and demo mode's data
/// directory removed.
#[test]
fn sigterm_stops_a_running_kiosk_cleanly() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let tmp = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["run", "--headless", "--demo"])
        .env("TMPDIR", tmp.path())
        .env_remove("KIOSK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiosk starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("first line");
    assert!(first.starts_with("first frame after"), "{first}");
    let demo_dirs = || {
        std::fs::read_dir(tmp.path())
            .expect("temp dir")
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("village-kiosk-demo-")
            })
            .count()
    };
    assert_eq!(demo_dirs(), 1, "demo mode runs in its own data directory");

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        rest.push(line);
    }
    let status = child.wait().expect("kiosk exits");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(status.success(), "{status:?}: {rest:?} {stderr}");
    assert!(
        rest.iter().any(|l| l == "SIGTERM: stopped cleanly"),
        "{rest:?} {stderr}"
    );
    assert_eq!(demo_dirs(), 0, "the demo data directory was left behind");
}

/// The page controllers sit between `ui::shell` (below) and `ui::app` (above): none imports
/// another page or `app`, and none navigates or wipes by itself (they return a `Next`).
#[test]
fn page_controllers_import_only_the_shell_and_return_what_happens_next() {
    const PAGES: [&str; 18] = [
        "results",
        "agent",
        "coordinator",
        "eligibility",
        "idle",
        "home",
        "search",
        "item_list",
        "guide",
        "card",
        "form",
        "confirm",
        "submitted",
        "evaluation",
        "cases",
        "updates",
        "pin",
        "maintenance",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut problems = Vec::new();
    for page in PAGES {
        let path = dir.join(format!("{page}.rs"));
        let code = std::fs::read_to_string(&path).expect("page controller source");
        let mut forbidden: Vec<String> = PAGES
            .iter()
            .filter(|p| **p != page)
            .flat_map(|p| {
                [
                    format!("super::{p}::"),
                    format!("super::{{{p}"),
                    format!("ui::{p}::"),
                ]
            })
            .collect();
        forbidden.extend(
            [
                "super::app",
                "ui::app",
                ".show(",
                ".back()",
                ".home()",
                ".start_visit(",
                ".end_visit(",
                ".forget_personal(",
                ".act(",
            ]
            .map(String::from),
        );
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for f in &forbidden {
                // `search::open_item` is the one entry for callers outside the UI.
                if line.contains(f.as_str())
                    && !(page == "search" && f == ".act(" && line.contains("shell::open_item"))
                {
                    problems.push(format!("src/ui/{page}.rs:{}: {f}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether the on-screen control labelled `label` is enabled (as a screen reader sees it).
fn enabled(e: &Env, label: &str) -> bool {
    headless::find(&e.kiosk, label)
        .first()
        .and_then(|el| el.accessible_enabled())
        .unwrap_or_else(|| panic!("nothing labelled {label:?} is on screen"))
}

/// Issue 14 #1: once the application is stored here, its receipt is shown and printed whatever
/// happens while it travels to the county. The embedded back office holds the submission (it
/// has claimed the key, so the application left the kiosk's store), and meanwhile the villager
/// taps 首页, 返回 and 返回修改, lifts the card and lets the session time out. None of it may
/// drop the result: exactly one case at the county, and its receipt on screen and on paper.
#[test]
fn an_accepted_application_shows_its_receipt_whatever_happens_while_it_is_sent() {
    let e = env(DemoOptions {
        // The submission waits for the county as long as the back office holds it.
        confirm_wait: Duration::from_secs(600),
        ..DemoOptions::default()
    });
    let parts = e.station.demo_parts().expect("demo");
    let bo = parts.backoffice.as_ref().expect("embedded back office");
    e.to_form();
    e.fill_and_confirm();
    bo.hold_submissions(true);
    e.tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e._rt.block_on(bo.wait_for_claims(1));
    assert!(e.kiosk.window.global::<ConfirmAdapter>().get_sending());

    // 返回修改, 返回 and 首页 are disabled while sending, and tapping them changes nothing.
    for label in ["返回修改", "返回", "首页"] {
        assert!(!enabled(&e, label), "{label} is enabled while sending");
        e.tap(label);
        assert_eq!(e.kiosk.page(), Page::Confirm, "after tapping {label}");
    }
    // The card is lifted: the kiosk notes it but keeps the visit until the result is in.
    parts.idcard_sim.lift_card();
    assert!(e.kiosk.wait_until(WAIT, |k| k.page() != Page::Confirm
        || k.visit.borrow().confirm.card_lifted));
    assert_eq!(
        e.kiosk.page(),
        Page::Confirm,
        "lifting the card left the page"
    );
    // The session's time runs out while sending: the visit is not ended under the result.
    e.clock.advance(Duration::from_secs(3600));
    e.kiosk.tick();
    assert_eq!(
        e.kiosk.page(),
        Page::Confirm,
        "the inactivity wipe ended the visit"
    );

    bo.hold_submissions(false);
    e.wait_page(Page::Submitted);
    assert!(e.kiosk.wait_until(WAIT, |k| !matches!(
        k.visit.borrow().submitted.print,
        PrintState::Printing
    )));
    let w = &e.kiosk.window;
    let receipt = w.global::<SubmittedAdapter>().get_receipt_no().to_string();
    assert!(!receipt.is_empty());
    assert!(!w.global::<SubmittedAdapter>().get_queued());
    assert!(matches!(
        e.kiosk.visit.borrow().submitted.print,
        PrintState::Printed
    ));
    assert_eq!(
        w.global::<SubmittedAdapter>().get_print_state(),
        ReceiptPrint::Printed
    );
    let cases = bo.db().unwrap().receipts().unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!((cases[0].1.as_str(), cases[0].2), (receipt.as_str(), 1));
    // Only the receipt is kept: the card's data left with the submission.
    assert!(!e.kiosk.shell.borrow().session.has_personal_data());
    // Navigation works again once the receipt is shown.
    assert!(enabled(&e, "首页"));
}

/// Issue 14 #1, the county down: the application is queued here, the card is lifted at once,
/// and the receipt (待上传) is shown and printed all the same, in whichever order the kiosk
/// hears of the lifted card and of the stored application.
#[test]
fn a_queued_application_shows_its_receipt_when_the_card_is_lifted_while_sending() {
    let e = env(DemoOptions {
        county_reachable: false,
        ..DemoOptions::default()
    });
    e.to_form();
    e.fill_and_confirm();
    e.tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e.station.demo_parts().expect("demo").idcard_sim.lift_card();
    e.wait_page(Page::Submitted);
    assert!(e.kiosk.wait_until(WAIT, |k| !matches!(
        k.visit.borrow().submitted.print,
        PrintState::Printing
    )));
    let w = &e.kiosk.window;
    assert!(!w.global::<SubmittedAdapter>().get_receipt_no().is_empty());
    assert!(w.global::<SubmittedAdapter>().get_queued());
    assert!(matches!(
        e.kiosk.visit.borrow().submitted.print,
        PrintState::Printed
    ));
    // The lifted card's event, if it came after the receipt, changes nothing.
    e.kiosk.drain_events();
    assert_eq!(e.kiosk.page(), Page::Submitted);
    assert!(!e.kiosk.shell.borrow().session.has_personal_data());
}

/// Issue 14 (card-proof lookup, #2): an application made at the kiosk carries the card key of
/// the card read, so the county has that card on record. Another station that knows only the
/// ID number (a made-up card with it) gets nothing, even as the first to look the person up;
/// the card itself still finds the case.
#[test]
fn an_application_enrols_its_card_so_an_id_number_alone_finds_nothing() {
    let e = env(DemoOptions::default());
    e.to_form();
    e.fill_and_confirm();
    e.submit();
    assert!(!e.kiosk.window.global::<SubmittedAdapter>().get_queued());
    let bo = e
        .station
        .demo_parts()
        .expect("demo")
        .backoffice
        .as_ref()
        .expect("embedded back office");
    let other = bo.demo_client("ST-ELSEWHERE").unwrap();
    let real = SimCard::demo_resident().to_id_card();
    let mut made_up = real.clone();
    made_up.issuer = "某县公安局".into();
    made_up.photo = Default::default();
    let seen = e
        ._rt
        .block_on(other.person_cases_for_card(&made_up))
        .unwrap();
    assert!(
        seen.is_empty(),
        "an ID number alone found {} cases",
        seen.len()
    );
    let seen = e._rt.block_on(other.person_cases_for_card(&real)).unwrap();
    assert_eq!(seen.len(), 1);
}
