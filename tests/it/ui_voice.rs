//! The villager beyond the anchors (issue 15) in the real UI on Slint's testing backend,
//! driven by accessible label and wired to demo mode's simulators and back office:
//! - spoken guidance: what 「听」 hands the speech engine on each page, the key moments, cut-off
//!   on a page change and on a wipe, personal data only on the villager's own request. The
//!   speaker is `voice::Recorder` (the real speech queue, recording what the engine is told)
//!   and, once, the real espeak-ng writing a WAV file;
//! - eligibility before the form, with the reader simulator's cards of a 26- and a 66-year-old;
//! - the small things: the checklist notice only on the guide, the bank number's check digit,
//!   the cases page in English.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use slint::{ComponentHandle, Model};
use village_kiosk::sim::idcard::SimCard;
use village_kiosk::station::{DemoOptions, Station};
use village_kiosk::ui::app::{KioskOptions, PrintState, UiEvent};
use village_kiosk::ui::{
    AppAdapter, CasesAdapter, EligibilityAdapter, Kiosk, ManualClock, Page, headless, speech,
};
use village_kiosk::voice::{Heard, Recorder};

const WAIT: Duration = Duration::from_secs(30);
const PENSION: &str = "城乡居民基本养老保险参保登记";

struct Env {
    kiosk: Rc<Kiosk>,
    clock: Rc<ManualClock>,
    voice: Rc<Recorder>,
    _reader: village_kiosk::idcard::reader::ReaderHandle,
    station: Station,
    _rt: tokio::runtime::Runtime,
}

fn env() -> Env {
    let (rt, station, clock, kiosk) = crate::ui::demo_kiosk(
        DemoOptions::default(),
        KioskOptions::default(),
        ManualClock::new(),
    );
    let voice = Rc::new(Recorder::new(
        true,
        village_kiosk::voice::Lang::Zh,
        village_kiosk::config::VoiceConfig::default().volume,
    ));
    speech::attach(&kiosk, voice.clone(), 80);
    let sink = kiosk.sink();
    let reader = station.start_reader(move |e| sink.send(UiEvent::Card(e)));
    Env {
        kiosk,
        clock,
        voice,
        _reader: reader,
        station,
        _rt: rt,
    }
}

impl Env {
    fn tap(&self, label: &str) {
        if let Err(e) = headless::tap(&self.kiosk, label) {
            panic!("{e} (page {:?})", self.kiosk.page());
        }
    }

    fn wait_page(&self, page: Page) {
        assert!(
            self.kiosk.wait_until(WAIT, |k| k.page() == page),
            "expected {page:?}, the app shows {:?} (card page says {:?})",
            self.kiosk.page(),
            self.kiosk
                .window
                .global::<village_kiosk::ui::CardAdapter>()
                .get_error()
        );
    }

    fn on_screen(&self, label: &str) -> bool {
        !headless::find(&self.kiosk, label).is_empty()
    }

    fn screen_text(&self) -> String {
        headless::all_elements(&self.kiosk)
            .iter()
            .filter_map(|e| e.accessible_label())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("|")
    }

    fn type_digits(&self, digits: &str) {
        for d in digits.chars() {
            self.tap(&d.to_string());
        }
    }

    /// 「听」, and what it handed the engine.
    fn listen(&self) -> String {
        self.tap("听");
        self.voice.last_said().expect("「听」 said something")
    }

    /// home → category → item's guide.
    fn to_guide(&self, category: &str, item: &str) {
        if self.kiosk.page() == Page::Idle {
            self.tap("点击屏幕开始办事");
            self.wait_page(Page::Home);
        }
        self.tap(category);
        self.wait_page(Page::ItemList);
        self.tap(item);
        self.wait_page(Page::Guide);
    }

    /// Takes whatever card is on the reader simulator away and waits until the reader has
    /// polled the empty field (two requests), so the next card is read as a new one.
    fn lift(&self) {
        let sim = &self.station.demo_parts().expect("demo").idcard_sim;
        let requests = sim.watch_requests();
        sim.lift_card();
        for _ in 0..2 {
            requests.recv_timeout(WAIT).expect("the reader polls");
        }
    }

    /// 我要申请 on the guide, then `card` on the reader simulator.
    fn apply_with(&self, card: SimCard) {
        self.tap("我要申请");
        self.wait_page(Page::Card);
        self.lift();
        self.station
            .demo_parts()
            .expect("demo")
            .idcard_sim
            .place_card(card);
    }
}

/// What could identify the demo villager, in any utterance not asked for.
fn secrets(card: &SimCard) -> Vec<String> {
    vec![
        card.name.clone(),
        card.id_number.clone(),
        card.id_number[card.id_number.len() - 4..].to_owned(),
        "13800138000".to_owned(),
        "王*明".to_owned(),
        card.birth_date.format("%Y").to_string(),
    ]
}

#[test]
fn listen_reads_every_page_and_the_key_moments_speak_by_themselves() {
    let e = env();
    let card = SimCard::demo_resident();
    assert!(e.on_screen("听"), "「听」 on the idle screen");
    assert!(e.listen().contains("请点屏幕开始办事"));
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    assert!(e.listen().contains("按类别找"));
    e.tap("社保");
    e.wait_page(Page::ItemList);
    assert!(e.listen().starts_with("社保，共有"));
    e.tap(PENSION);
    e.wait_page(Page::Guide);
    let guide = e.listen();
    assert!(
        guide.starts_with(&format!("{PENSION}。办理对象：")),
        "{guide}"
    );
    assert!(guide.ends_with("可以在这里申请，请点我要申请。"), "{guide}");

    // The card page says by itself where the card goes; reading it says so too.
    e.tap("我要申请");
    e.wait_page(Page::Card);
    assert_eq!(
        e.voice.last_said().as_deref(),
        Some("请把身份证放在读卡区。")
    );
    assert!(
        e.listen()
            .starts_with(&format!("申请{PENSION}。请把身份证放在读卡区"))
    );
    e.tap("放演示身份证");
    e.wait_page(Page::Form);
    assert_eq!(
        e.voice.last_said().as_deref(),
        Some("身份证已读取，办完之前请不要拿走。")
    );
    let form = e.listen();
    assert!(
        form.contains("还要填写：联系电话、缴费档次、参保人身份。"),
        "{form}"
    );
    e.tap("联系电话");
    e.type_digits("1380");
    e.tap("下一步：核对信息");
    let form = e.listen();
    assert!(form.contains("请改正："), "{form}");
    assert!(!form.contains("1380"), "what was typed is not read: {form}");
    e.tap("删除");
    e.tap("删除");
    e.tap("删除");
    e.tap("删除");
    e.type_digits("13800138000");
    e.tap("缴费档次");
    e.tap("每年500元");
    e.tap("参保人身份");
    e.tap("普通参保人");
    assert!(e.listen().contains("都填好了，请点下一步：核对信息。"));
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    let plain = e.listen();
    assert!(plain.contains("请勾选同意后点确认提交"), "{plain}");
    // Asked for: the villager's own answers, marked personal.
    e.tap("读出我填的信息");
    let own = e.voice.said().last().cloned().expect("read");
    assert!(own.personal);
    assert!(own.text.contains("联系电话，13800138000"), "answers read");
    // The applicant row is read as the screen shows it: masked (the confirmation page masks the
    // name since the station assembly issue).
    let masked = village_kiosk::pii::Masked::name(&card.name).to_string();
    assert!(
        own.text.contains(&format!("申请人，{masked}")),
        "the applicant row is not read as shown"
    );

    e.tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e.wait_page(Page::Submitted);
    assert!(e.kiosk.wait_until(WAIT, |k| matches!(
        k.visit.borrow().submitted.print,
        PrintState::Printed
    )));
    assert_eq!(
        e.voice.last_said().as_deref(),
        Some("申请已提交，正在打印回执。")
    );
    // Take your receipt waits behind what is being said.
    e.voice.finish();
    assert_eq!(
        e.voice.last_said().as_deref(),
        Some("回执已打印，请从出纸口取走。")
    );
    assert!(e.listen().contains("回执已打印，请从出纸口取走并保管好。"));

    // Nothing personal was spoken except what the villager asked for.
    let said = e.voice.said();
    assert_eq!(said.iter().filter(|u| u.personal).count(), 1);
    for u in said.iter().filter(|u| !u.personal) {
        for s in secrets(&card) {
            assert!(!u.text.contains(s.as_str()), "{s:?} spoken in {u:?}");
        }
    }
}

#[test]
fn speech_is_cut_off_on_a_page_change_and_on_every_wipe() {
    let e = env();
    e.to_guide("社保", PENSION);
    e.listen();
    let guide = e.voice.speaking().expect("reading the guide");
    e.tap("返回");
    e.wait_page(Page::ItemList);
    assert!(e.voice.was_cut(guide), "返回 cuts the guide off");
    assert_eq!(e.voice.speaking(), None);

    // 首页 on the confirmation page, mid-way through the villager's own answers.
    e.tap(PENSION);
    e.apply_with(SimCard::demo_resident());
    e.wait_page(Page::Form);
    e.tap("联系电话");
    e.type_digits("13800138000");
    e.tap("缴费档次");
    e.tap("每年500元");
    e.tap("参保人身份");
    e.tap("普通参保人");
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    e.tap("读出我填的信息");
    let own = e.voice.speaking().expect("reading the answers");
    e.tap("首页");
    e.wait_page(Page::Home);
    assert!(e.voice.was_cut(own), "首页 cuts the answers off");
    // Nothing of the wiped visit is read again.
    assert!(!e.listen().contains("13800138000"));
    assert!(
        e.voice
            .heard()
            .iter()
            .filter(|h| matches!(h, Heard::Said { utterance, .. } if utterance.personal))
            .count()
            == 1
    );

    // A lifted card.
    e.to_guide("社保", PENSION);
    e.apply_with(SimCard::demo_resident());
    e.wait_page(Page::Form);
    e.listen();
    let form = e.voice.speaking().expect("reading the form");
    e.station.demo_parts().expect("demo").idcard_sim.lift_card();
    e.wait_page(Page::Home);
    assert!(e.voice.was_cut(form), "a lifted card cuts the form off");

    // Inactivity: the warning is spoken by itself, the wipe cuts it off.
    e.to_guide("社保", PENSION);
    e.listen();
    e.voice.finish();
    e.clock.advance(Duration::from_secs(46));
    e.kiosk.tick();
    assert!(e.kiosk.window.global::<AppAdapter>().get_warning_visible());
    let warning = e.voice.speaking().expect("the warning is spoken");
    assert!(
        e.voice
            .last_said()
            .expect("warning")
            .contains("秒后将返回首页")
    );
    e.kiosk.tick();
    assert_eq!(
        e.voice.speaking(),
        Some(warning),
        "said once, not every tick"
    );
    e.clock.advance(Duration::from_secs(60));
    e.kiosk.tick();
    assert_eq!(e.kiosk.page(), Page::Idle);
    assert!(e.voice.was_cut(warning), "the wipe cuts the warning off");
}

#[test]
fn voice_follows_the_language_and_the_maintenance_volume() {
    let e = env();
    assert_eq!(speech::volume(&e.kiosk), Some(80));
    assert!(speech::set_volume(&e.kiosk, 35));
    assert_eq!(e.voice.volume(), 35);
    assert_eq!(speech::volume(&e.kiosk), Some(35));
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    let u = {
        e.tap("Listen");
        e.voice.said().last().cloned().expect("said")
    };
    assert_eq!(u.lang, village_kiosk::voice::Lang::En);
    assert!(u.text.starts_with("Choose what you need"), "{:?}", u);
    // Key moments off: the card page says nothing by itself, 「听」 still reads.
    speech::set_key_moments(&e.kiosk, false);
    e.tap("中文");
    e.tap("社保");
    e.tap(PENSION);
    let before = e.voice.said().len();
    e.tap("我要申请");
    e.wait_page(Page::Card);
    assert_eq!(e.voice.said().len(), before);
    assert!(e.listen().contains("请把身份证放在读卡区"));
}

#[test]
fn without_voice_there_is_no_listen_button() {
    headless::init().expect("headless platform");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let station =
        Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo station starts");
    let kiosk = Kiosk::new(
        station.services().clone(),
        rt.handle().clone(),
        Rc::new(ManualClock::new()),
        KioskOptions::default(),
        Arc::new(|| {}),
    )
    .expect("window");
    headless::set_orientation(&kiosk, false);
    assert!(headless::find(&kiosk, "听").is_empty());
    assert!(!speech::set_volume(&kiosk, 50));
    assert_eq!(speech::volume(&kiosk), None);
}

/// The real engine behind the UI: 「听」 on the idle screen makes espeak-ng write Mandarin audio.
#[test]
fn listen_through_espeak_ng_writes_audio() {
    let e = env();
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = village_kiosk::voice::EngineSettings {
        output: village_kiosk::voice::Output::WavDir(dir.path().to_path_buf()),
        ..village_kiosk::voice::EngineSettings::alsa(80)
    };
    let (voice, events) =
        village_kiosk::voice::Voice::spawn(settings, true, village_kiosk::voice::Lang::Zh);
    speech::attach(&e.kiosk, Rc::new(voice), 80);
    e.tap("听");
    let id = match events
        .recv_timeout(Duration::from_secs(60))
        .expect("started")
    {
        village_kiosk::voice::VoiceEvent::Started { id, personal, .. } => {
            assert!(!personal);
            id
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        events.recv_timeout(Duration::from_secs(60)).expect("done"),
        village_kiosk::voice::VoiceEvent::Finished { id }
    );
    let wav = std::fs::read(village_kiosk::voice::engine::wav_path(dir.path(), id)).expect("wav");
    assert_eq!(&wav[..4], b"RIFF");
    assert!(
        wav.len() > 20_000,
        "audio for a sentence: {} bytes",
        wav.len()
    );
}

#[test]
fn a_26_year_old_is_told_before_the_form_that_the_old_age_allowance_is_not_for_them() {
    let e = env();
    let young = SimCard::demo_resident_aged(26);
    e.to_guide("民政", "高龄津贴申领");
    e.apply_with(young.clone());
    e.wait_page(Page::Eligibility);
    let text = e.screen_text();
    assert!(
        text.contains("本事项要求年满80周岁，按身份证上的出生日期，您还没有满80周岁。"),
        "{text}"
    );
    assert!(text.contains("请找村里的帮办员"), "{text}");
    assert!(
        text.contains("高龄津贴申领：您暂时不符合申请条件"),
        "{text}"
    );
    // Before any typing: no form, no answers, no keypad.
    assert!(!e.on_screen("下一步：核对信息"));
    assert!(e.kiosk.shell.borrow().session.answer("phone").is_none());
    assert_ne!(e.kiosk.stage(), village_kiosk::session::Stage::Filling);
    assert_eq!(
        e.kiosk
            .window
            .global::<EligibilityAdapter>()
            .get_instead()
            .row_count(),
        0,
        "nothing old-age fits a 26-year-old"
    );
    // The card was read, and 「听」 reads the rule, never the birth date.
    let said = e.listen();
    assert!(
        said.starts_with("高龄津贴申领：本事项要求年满80周岁"),
        "{said}"
    );
    assert!(said.contains("帮办员"));
    for s in secrets(&young) {
        assert!(!said.contains(s.as_str()), "{s:?} in {said}");
    }
    assert!(
        e.voice
            .said()
            .iter()
            .any(|u| u.text.as_str() == "身份证已读取，办完之前请不要拿走。")
    );
    // 返回 goes to the guide, not back to the card page.
    e.tap("返回");
    e.wait_page(Page::Guide);
}

/// In the English UI the long names of the items offered instead wrap inside their buttons:
/// every button is wholly on the portrait screen and tappable.
#[test]
fn in_english_the_items_offered_instead_fit_on_screen() {
    let e = env();
    e.tap("点击屏幕开始办事");
    e.wait_page(Page::Home);
    e.tap("English");
    e.tap("Civil affairs");
    e.wait_page(Page::ItemList);
    e.tap("Application for the Advanced-Age Allowance");
    e.wait_page(Page::Guide);
    e.tap("Apply");
    e.wait_page(Page::Card);
    e.lift();
    e.station
        .demo_parts()
        .expect("demo")
        .idcard_sim
        .place_card(SimCard::demo_resident_aged(66));
    e.wait_page(Page::Eligibility);
    let instead = e.kiosk.window.global::<EligibilityAdapter>().get_instead();
    assert!(instead.row_count() >= 2, "items offered instead");
    for i in 0..instead.row_count() {
        let label = format!("Apply instead: {}", instead.row_data(i).expect("row").name);
        assert!(
            crate::ui::wholly_on_screen(&e.kiosk, &label),
            "{label:?} is not wholly on the portrait screen: {}",
            e.screen_text()
        );
    }
}

#[test]
fn a_66_year_old_goes_from_the_old_age_allowance_to_the_item_that_fits() {
    let e = env();
    e.to_guide("民政", "高龄津贴申领");
    e.apply_with(SimCard::demo_resident_aged(66));
    e.wait_page(Page::Eligibility);
    assert!(e.on_screen("改办：经济困难的高龄、失能老年人补贴申请"));
    e.tap("改办：城乡居民基本养老保险待遇申领");
    e.wait_page(Page::Guide);
    assert!(e.on_screen("城乡居民基本养老保险待遇申领"));
    // The card is still on the reader: straight to the form that fits.
    e.tap("我要申请");
    e.wait_page(Page::Form);
    assert!(e.on_screen("社会保障卡金融账号"));
}

/// The Luhn check digit of `digits`.
fn luhn_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[test]
fn a_19_digit_bank_number_with_a_wrong_check_digit_is_told_to_check_digit_by_digit() {
    let e = env();
    e.to_guide("社保", "城乡居民基本养老保险待遇申领");
    e.apply_with(SimCard::demo_resident());
    e.wait_page(Page::Form);
    let first18 = "622848123456789012";
    let wrong = (luhn_digit(first18) + 1) % 10;
    e.tap("社会保障卡金融账号");
    e.type_digits(&format!("{first18}{wrong}"));
    e.tap("下一步：核对信息");
    assert_eq!(e.kiosk.page(), Page::Form);
    let text = e.screen_text();
    assert!(text.contains("卡号有误，请逐位核对"), "{text}");
    assert!(!text.contains("12到19位"), "{text}");
}

#[test]
fn the_checklist_notice_stays_on_the_guide() {
    let e = env();
    e.to_guide("社保", PENSION);
    e.tap("打印材料清单");
    assert!(e.kiosk.wait_until(WAIT, |k| {
        k.window
            .global::<AppAdapter>()
            .get_notice()
            .contains("材料清单已打印")
    }));
    assert!(e.screen_text().contains("材料清单已打印"));
    let notice_shown = |e: &Env| e.screen_text().contains("材料清单已打印");
    e.apply_with(SimCard::demo_resident());
    e.wait_page(Page::Form);
    assert!(!notice_shown(&e), "not on the form");
    e.tap("联系电话");
    e.type_digits("13800138000");
    e.tap("缴费档次");
    e.tap("每年500元");
    e.tap("参保人身份");
    e.tap("普通参保人");
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    assert!(!notice_shown(&e), "not on the confirmation page");
    e.tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e.wait_page(Page::Submitted);
    assert!(!notice_shown(&e), "not on the submitted page");
}

#[test]
fn the_cases_page_is_english_in_the_english_ui() {
    let e = env();
    e.to_guide("社保", PENSION);
    e.apply_with(SimCard::demo_resident());
    e.wait_page(Page::Form);
    e.tap("联系电话");
    e.type_digits("13800138000");
    e.tap("缴费档次");
    e.tap("每年500元");
    e.tap("参保人身份");
    e.tap("普通参保人");
    e.tap("下一步：核对信息");
    e.wait_page(Page::Confirm);
    e.tap("我同意把以上信息发送给县政务服务部门，只用于办理这件事。");
    e.tap("确认提交");
    e.wait_page(Page::Submitted);
    e.tap("首页");
    e.wait_page(Page::Home);
    e.tap("English");
    e.tap("Check my applications");
    e.wait_page(Page::Card);
    e.lift();
    e.tap("Place demo ID card");
    e.wait_page(Page::Cases);
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.visit.borrow().cases.loading)
    );
    let english = e
        .kiosk
        .services
        .catalogue
        .item("SB-001")
        .expect("item")
        .translated("en")
        .name
        .clone();
    let cases = e.kiosk.window.global::<CasesAdapter>().get_cases();
    assert!(cases.row_count() >= 1);
    for c in cases.iter() {
        assert_eq!(c.item_name.as_str(), english);
        assert!(c.status.is_ascii(), "{}", c.status);
    }
    let text = e.screen_text();
    assert!(!text.contains(PENSION), "{text}");
    assert!(
        text.contains("My applications") || text.contains(&english),
        "{text}"
    );
}
