//! The maintenance screen (维护界面, issue 16 part 2) on Slint's testing backend, driven by
//! accessible labels like a technician's finger: the hidden gesture on the idle screen, the PIN
//! with its lockout (the hand-driven clock moves, nothing sleeps), doctor results in Chinese,
//! the card read check that shows nothing personal, the test page on the demo printer, leave.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Local, Utc};
use slint::{ComponentHandle, Model};
use village_kiosk::county::outbox::StationHealth;
use village_kiosk::doctor::Report;
use village_kiosk::doctor::findings::{self, OutboxFacts};
use village_kiosk::doctor::health::HealthReporter;
use village_kiosk::idcard::reader::ReaderEvent;
use village_kiosk::maintenance::{MaintenancePaths, Volume};
use village_kiosk::provision::pin::hash_with_salt;
use village_kiosk::sim::idcard::SimCard;
use village_kiosk::station::ports::DemoCard;
use village_kiosk::station::{DemoOptions, Station};
use village_kiosk::ui::app::{KioskOptions, UiEvent};
use village_kiosk::ui::desk::DeskSetup;
use village_kiosk::ui::{
    AppAdapter, CardAdapter, CasesAdapter, ConfirmAdapter, FormAdapter, Kiosk, MaintenanceAdapter,
    ManualClock, Page, PinAdapter, headless,
};

const WAIT: Duration = Duration::from_secs(30);
const PIN: &str = "246810";

struct Env {
    kiosk: Rc<Kiosk>,
    clock: Rc<ManualClock>,
    station: Station,
    restarted: Arc<AtomicBool>,
    health: HealthReporter,
    _dir: tempfile::TempDir,
    _reader: village_kiosk::idcard::reader::ReaderHandle,
    _rt: tokio::runtime::Runtime,
}

/// What the doctor says in these tests: real findings from real facts.
fn report() -> Report {
    let now = Utc::now();
    Report::new(vec![
        findings::disk("/var/lib/village-kiosk", 50 << 30, 100 << 30),
        findings::outbox(
            &OutboxFacts::Read {
                pending: 2,
                needs_attention: 0,
                oldest_pending: Some(now - chrono::Duration::hours(30)),
                last_error: None,
            },
            now,
        ),
    ])
}

fn env() -> Env {
    let (rt, station, clock, kiosk) = crate::ui::demo_kiosk(
        DemoOptions::default(),
        KioskOptions::default(),
        ManualClock::new(),
    );
    let dir = tempfile::tempdir().unwrap();
    let paths = MaintenancePaths::new(&dir.path().join("kiosk.toml"), dir.path());
    std::fs::write(
        &paths.pin_hash,
        hash_with_salt(PIN, b"0123456789abcdef", 100),
    )
    .unwrap();
    let restarted = Arc::new(AtomicBool::new(false));
    let r = restarted.clone();
    let health = HealthReporter::new(Arc::new(Mutex::new(StationHealth::default())));
    kiosk.set_maintenance(DeskSetup {
        paths,
        doctor: Arc::new(report),
        health: Some(health.clone()),
        details: Some(Arc::new(|| {
            vec!["县平台地址：https://county.example/".into()]
        })),
        volume: Volume::new(70),
        orientation: "portrait".into(),
        restart: Rc::new(move || r.store(true, Ordering::SeqCst)),
    });
    let sink = kiosk.sink();
    let reader = station.start_reader(move |e| sink.send(UiEvent::Card(e)));
    Env {
        kiosk,
        clock,
        station,
        restarted,
        health,
        _dir: dir,
        _reader: reader,
        _rt: rt,
    }
}

impl Env {
    fn tap(&self, label: &str) {
        if let Err(e) = headless::tap(&self.kiosk, label) {
            panic!("{e} (page {:?})", self.kiosk.page());
        }
    }

    fn on_screen(&self, label: &str) -> bool {
        !headless::find(&self.kiosk, label).is_empty()
    }

    fn corner(&self, times: usize) {
        for _ in 0..times {
            self.tap("维护入口");
        }
    }

    fn pin_message(&self) -> String {
        self.kiosk
            .window
            .global::<PinAdapter>()
            .get_message()
            .to_string()
    }

    /// Types `pin`, taps 确定 and waits for the verdict from the blocking pool.
    fn enter_pin(&self, pin: &str) {
        for d in pin.chars() {
            self.tap(&d.to_string());
        }
        assert_eq!(
            self.kiosk.window.global::<PinAdapter>().get_dots(),
            "●".repeat(pin.len()).as_str()
        );
        self.tap("确定");
        assert!(
            self.kiosk
                .wait_until(WAIT, |k| !k.desk.borrow().visit.checking),
            "no PIN verdict"
        );
    }

    fn maintenance(&self) -> MaintenanceAdapter<'_> {
        self.kiosk.window.global::<MaintenanceAdapter>()
    }
}

/// Every string of every adapter the maintenance screen could leave something in.
fn adapter_strings(k: &Kiosk) -> String {
    let w = &k.window;
    let m = w.global::<MaintenanceAdapter>();
    let p = w.global::<PinAdapter>();
    let mut out = vec![
        m.get_doctor_state().to_string(),
        m.get_reader_status().to_string(),
        m.get_printer_status().to_string(),
        m.get_print_result().to_string(),
        m.get_card_result().to_string(),
        m.get_rotation().to_string(),
        m.get_touch_result().to_string(),
        p.get_dots().to_string(),
        p.get_message().to_string(),
        w.global::<AppAdapter>().get_notice().to_string(),
        w.global::<CardAdapter>().get_error().to_string(),
        w.global::<FormAdapter>().get_applicant().to_string(),
        w.global::<CasesAdapter>().get_applicant().to_string(),
    ];
    out.extend(m.get_checks().iter().map(|c| format!("{c:?}")));
    out.extend(m.get_details().iter().map(|d| d.to_string()));
    out.extend(
        w.global::<ConfirmAdapter>()
            .get_rows()
            .iter()
            .map(|r| format!("{r:?}")),
    );
    out.join("|")
}

#[test]
fn gesture_pin_lockout_and_the_maintenance_page() {
    let e = env();
    assert_eq!(e.kiosk.page(), Page::Idle);

    // Four taps, a pause longer than the gesture's window, four more: nothing opens.
    e.corner(4);
    assert_eq!(e.kiosk.page(), Page::Idle);
    e.clock.advance(Duration::from_secs(5));
    e.corner(4);
    assert_eq!(e.kiosk.page(), Page::Idle);
    // The fifth within four seconds opens the PIN entry.
    e.corner(1);
    assert_eq!(e.kiosk.page(), Page::Pin);
    assert!(e.on_screen("维护界面：请输入维护密码"));

    // Five wrong PINs: the tries left are counted down, then the lock says until when.
    for left in (1..5).rev() {
        e.enter_pin("111111");
        assert_eq!(e.pin_message(), format!("密码不对，还可以再试 {left} 次"));
        assert!(e.on_screen(&e.pin_message()));
    }
    let locked_at = e.kiosk.clock.utc_now();
    e.enter_pin("111111");
    let until = (locked_at + chrono::Duration::minutes(15))
        .with_timezone(&Local)
        .format("%H:%M")
        .to_string();
    assert_eq!(
        e.pin_message(),
        format!("输错次数太多，已锁定，请在 {until} 以后再试")
    );
    // Locked: even the right PIN is refused, ten minutes later too.
    e.clock.advance(Duration::from_secs(10 * 60));
    e.enter_pin(PIN);
    assert!(e.pin_message().contains("已锁定"), "{}", e.pin_message());
    assert_eq!(e.kiosk.page(), Page::Pin);

    // After fifteen minutes the right PIN opens the maintenance page.
    e.clock.advance(Duration::from_secs(5 * 60));
    e.enter_pin(PIN);
    assert_eq!(e.kiosk.page(), Page::Maintenance, "{}", e.pin_message());

    // The doctor ran off the UI thread; its results are on screen in Chinese.
    assert!(e.kiosk.wait_until(WAIT, |k| {
        k.window
            .global::<MaintenanceAdapter>()
            .get_checks()
            .row_count()
            == 2
    }));
    let expected = report();
    for c in &expected.checks {
        assert!(!c.finding_zh.is_empty(), "{c:?}");
        let line = format!("{} · {}：{}", c.status.label_zh(), c.id, c.finding_zh);
        assert!(e.on_screen(&line), "{line:?} is not on screen");
    }
    assert!(e.on_screen(&format!("自检结论：{}", expected.verdict.label_zh())));
    assert!(e.on_screen("县平台地址：https://county.example/"));
    // The drivers' live status (the app holds the ports), as the heartbeat reads it.
    e.health.reader_event(&ReaderEvent::ReaderFault(
        "no answer on /dev/kiosk-idcard".into(),
    ));
    e.tap("运行自检");
    assert!(
        e.kiosk
            .wait_until(WAIT, |k| !k.desk.borrow().visit.doctor_running)
    );
    assert!(e.on_screen("读卡器：故障（no answer on /dev/kiosk-idcard）"));

    // Read a card: only "read OK, kind, valid until"; nothing personal anywhere.
    e.tap("读卡测试");
    assert!(e.on_screen("请把身份证放在读卡器上"));
    e.station
        .services()
        .demo_hand
        .as_ref()
        .expect("demo hand")
        .place(DemoCard::Resident)
        .expect("card placed");
    assert!(
        e.kiosk.wait_until(WAIT, |k| k
            .window
            .global::<MaintenanceAdapter>()
            .get_card_result()
            .starts_with("读卡正常")),
        "{}",
        e.maintenance().get_card_result()
    );
    assert_eq!(
        e.maintenance().get_card_result(),
        "读卡正常：居民身份证，有效期至 长期"
    );
    let card = SimCard::demo_resident();
    let strings = adapter_strings(&e.kiosk);
    for secret in [card.name.as_str(), card.id_number.as_str()] {
        assert!(
            !strings.contains(secret),
            "{secret:?} in an adapter: {strings}"
        );
    }
    assert!(!e.kiosk.shell.borrow().session.has_personal_data());
    assert!(!e.kiosk.visit.borrow().holds_personal_data());

    // A test page through the app's printer port.
    e.tap("打印测试页");
    assert!(
        e.kiosk.wait_until(WAIT, |k| k
            .window
            .global::<MaintenanceAdapter>()
            .get_print_result()
            .starts_with("测试页已打印")),
        "{}",
        e.maintenance().get_print_result()
    );

    // The touch check reports where the corner target was hit; volume; restart.
    e.tap("触摸校准点左上");
    assert!(
        e.maintenance()
            .get_touch_result()
            .starts_with("左上：触点位置")
    );
    e.tap("音量增大");
    assert_eq!(e.maintenance().get_volume(), 80);
    e.tap("重启程序");
    assert!(e.restarted.load(Ordering::SeqCst));

    // Leave: the idle screen, and the technician's visit is gone.
    e.tap("退出维护");
    assert_eq!(e.kiosk.page(), Page::Idle);
    assert!(!e.kiosk.desk.borrow().visit.open);
    assert_eq!(e.maintenance().get_checks().row_count(), 0);
    assert_eq!(e.maintenance().get_card_result(), "");
}

#[test]
fn the_pin_page_is_wiped_on_inactivity_like_a_visit() {
    let e = env();
    e.corner(5);
    assert_eq!(e.kiosk.page(), Page::Pin);
    for d in "2468".chars() {
        e.tap(&d.to_string());
    }
    assert_eq!(e.kiosk.window.global::<PinAdapter>().get_dots(), "●●●●");
    e.clock.advance(Duration::from_secs(10 * 60));
    e.kiosk.tick();
    e.kiosk.tick();
    assert_eq!(e.kiosk.page(), Page::Idle);
    assert!(e.kiosk.desk.borrow().visit.pin.is_empty());
    assert_eq!(e.kiosk.window.global::<PinAdapter>().get_dots(), "");
    // The maintenance page cannot be reached without the PIN.
    e.kiosk
        .act(village_kiosk::ui::shell::Next::Show(Page::Maintenance));
    assert_eq!(e.kiosk.page(), Page::Idle);
}

/// 音量 on the maintenance page reaches spoken guidance: the next utterance handed to the
/// engine carries the new volume, and it is kept for the next start (issue 16 part 2).
#[test]
fn the_maintenance_volume_reaches_the_voice_engine_and_the_next_start() {
    use village_kiosk::voice::{Heard, Lang, Recorder};
    let e = env();
    let voice = Rc::new(Recorder::new(true, Lang::Zh, 70));
    village_kiosk::ui::speech::attach(&e.kiosk, voice.clone(), 70);
    let last_volume = || {
        voice.heard().into_iter().rev().find_map(|h| match h {
            Heard::Said { volume, .. } => Some(volume),
            Heard::Cut { .. } => None,
        })
    };
    e.tap("听");
    assert_eq!(last_volume(), Some(70));

    e.corner(5);
    e.enter_pin(PIN);
    assert_eq!(e.kiosk.page(), Page::Maintenance, "{}", e.pin_message());
    e.tap("音量增大");
    e.tap("音量增大");
    assert_eq!(e.maintenance().get_volume(), 90);
    e.tap("退出维护");
    assert_eq!(e.kiosk.page(), Page::Idle);
    e.tap("听");
    assert_eq!(last_volume(), Some(90), "the engine is told the new volume");

    // Kept for the next start; the config's value is only the default.
    let settings = e
        .kiosk
        .desk
        .borrow()
        .setup
        .as_ref()
        .unwrap()
        .paths
        .settings
        .clone();
    assert!(
        e.kiosk
            .wait_until(WAIT, |_| Volume::load(&settings, 70).get() == 90),
        "the volume was not kept in {}",
        settings.display()
    );
}

/// 帮办员模式 opens with the maintenance PIN, so it shares the maintenance screen's lockout:
/// five wrong PINs on the coordinator entry lock that entry (even the right PIN is refused) and
/// the maintenance screen's PIN page too; guesses cannot be spread over two doors.
#[test]
fn five_wrong_coordinator_pins_lock_both_doors() {
    use village_kiosk::session::WipeReason;
    use village_kiosk::ui::CoordinatorAdapter;
    let e = env();
    e.tap("点击屏幕开始办事");
    e.tap("村帮办员：连续代办");
    assert_eq!(e.kiosk.page(), Page::Coordinator);
    let error = || {
        e.kiosk
            .window
            .global::<CoordinatorAdapter>()
            .get_error()
            .to_string()
    };
    let coordinator_pin = |pin: &str| {
        for d in pin.chars() {
            e.tap(&d.to_string());
        }
        e.tap("确定");
        assert!(
            e.kiosk
                .wait_until(WAIT, |k| !k.visit.borrow().coordinator.checking),
            "no PIN verdict"
        );
    };
    for left in (1..5).rev() {
        coordinator_pin("111111");
        assert_eq!(error(), format!("密码不对，还可以再试 {left} 次。"));
        assert!(e.on_screen(&error()));
    }
    coordinator_pin("111111");
    assert!(error().contains("已锁定"), "{}", error());
    coordinator_pin(PIN);
    assert!(
        !e.kiosk.visit.borrow().coordinator.pin_ok,
        "locked: the right PIN is refused too"
    );
    assert!(error().contains("已锁定"), "{}", error());

    // The maintenance screen's door is locked by the same five tries.
    e.kiosk.end_visit(WipeReason::Home);
    assert_eq!(e.kiosk.page(), Page::Idle);
    e.corner(5);
    assert_eq!(e.kiosk.page(), Page::Pin);
    e.enter_pin(PIN);
    assert!(e.pin_message().contains("已锁定"), "{}", e.pin_message());
    assert_eq!(e.kiosk.page(), Page::Pin);

    // Fifteen minutes later the right PIN opens coordinator mode again.
    e.kiosk.end_visit(WipeReason::Home);
    e.clock.advance(Duration::from_secs(15 * 60));
    e.tap("点击屏幕开始办事");
    e.tap("村帮办员：连续代办");
    coordinator_pin(PIN);
    assert!(e.kiosk.visit.borrow().coordinator.pin_ok, "{}", error());
}
