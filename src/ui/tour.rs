//! Driving the app the way a villager does, on the testing backend: the one implementation
//! `kiosk screenshot`, the UI benchmark and the integration tests share (tap by accessible
//! label, wait for a page, fill a form validly, submit and wait for the receipt), and the
//! screenshot tour built from it.
//!
//! Demo mode only (the demo card is placed on the simulated reader). Waits hand events to the
//! app until the condition holds or a generous deadline passes; nothing here sleeps.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use slint::ComponentHandle;

use super::app::{KioskOptions, UiEvent};
use super::visit::{ListContext, PrintState};
use super::{
    CardAdapter, ConfirmAdapter, FormAdapter, IdleAdapter, Kiosk, Lang, ManualClock, Page,
    SearchAdapter, SubmittedAdapter, headless,
};
use crate::catalog::{Category, FieldKind, ServiceItem};
use crate::session::WipeReason;
use crate::station::ports::Services;
use crate::station::{DemoOptions, Station};

/// How long a step may take before the tour gives up (the simulators and the embedded back
/// office answer in milliseconds; this is for a loaded machine).
pub const WAIT: Duration = Duration::from_secs(30);

/// Why a step of a tour could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TourError {
    #[error("{what} (the app shows {page:?})")]
    Step { what: String, page: Page },
    #[error("the demo catalogue has no item the village point accepts online")]
    NoOnlineItem,
    #[error("cannot render or write {path}: {detail}")]
    Shot { path: PathBuf, detail: String },
    #[error("demo mode: {0}")]
    Station(#[from] crate::station::StationError),
    #[error("cannot create the window: {0}")]
    Window(String),
}

fn step(k: &Kiosk, what: impl Into<String>) -> TourError {
    TourError::Step {
        what: what.into(),
        page: k.page(),
    }
}

/// Taps the first on-screen element with this accessible label.
pub fn tap(k: &Kiosk, label: &str) -> Result<(), TourError> {
    headless::tap(k, label).map_err(|e| step(k, e))
}

/// The label in the kiosk's language (`zh` is the source string, `en` its translation).
pub fn label(k: &Kiosk, zh: &'static str, en: &'static str) -> &'static str {
    match k.lang() {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// Handles the app's events until it shows `page`.
pub fn wait_page(k: &Kiosk, page: Page) -> Result<(), TourError> {
    if k.wait_until(WAIT, |k| k.page() == page) {
        Ok(())
    } else {
        Err(step(k, format!("the app did not reach {page:?}")))
    }
}

/// Handles the app's events until the receipt is no longer being printed.
pub fn wait_printed(k: &Kiosk) -> Result<(), TourError> {
    if k.wait_until(WAIT, |k| {
        !matches!(k.visit.borrow().submitted.print, PrintState::Printing)
    }) {
        Ok(())
    } else {
        Err(step(k, "the receipt did not finish printing"))
    }
}

/// The first item the village point can accept online.
pub fn first_online_item(services: &Services) -> Option<ServiceItem> {
    Category::ALL
        .into_iter()
        .flat_map(|c| services.catalogue.by_category(c))
        .find(|i| i.village_online && !i.form.is_empty())
}

/// From the item's guide: 我要申请, the demo card on the reader, the form.
pub fn apply_with_demo_card(k: &Kiosk) -> Result<(), TourError> {
    tap(k, label(k, "我要申请", "Apply"))?;
    wait_page(k, Page::Card)?;
    tap(k, label(k, "放演示身份证", "Place demo ID card"))?;
    wait_page(k, Page::Form)
}

/// Fills the current form with valid answers by its keys, the way a villager would.
pub fn fill_form_validly(k: &Kiosk) -> Result<(), TourError> {
    let item = k
        .visit
        .borrow()
        .item
        .clone()
        .ok_or_else(|| step(k, "no item is open"))?;
    let fa = k.window.global::<FormAdapter>();
    for (i, f) in item.form.iter().enumerate() {
        if f.card_fill.is_some() {
            continue;
        }
        fa.invoke_select_field(i32::try_from(i).unwrap_or(i32::MAX));
        fa.invoke_clear();
        let keys: Vec<String> = match &f.kind {
            FieldKind::Phone => "13800138000".chars().map(String::from).collect(),
            FieldKind::Number { min, max, .. } => {
                let v = (*min).max(1).min(*max);
                v.to_string().chars().map(String::from).collect()
            }
            FieldKind::BankAccount => "6217000010001234569".chars().map(String::from).collect(),
            FieldKind::Date => "19600501".chars().map(String::from).collect(),
            FieldKind::IdNumber => "11010519491231002X".chars().map(String::from).collect(),
            FieldKind::Choice { options } => {
                if let Some(o) = options.first() {
                    fa.invoke_choose(o.into());
                }
                Vec::new()
            }
            FieldKind::Text { .. } => {
                for l in ["n", "o", "n", "g"] {
                    fa.invoke_letter(l.into());
                }
                if let Some(c) = super::ime::candidates("nong", 1).first() {
                    fa.invoke_choose(c.to_string().into());
                }
                Vec::new()
            }
        };
        for key in keys {
            fa.invoke_key(key.into());
        }
    }
    Ok(())
}

/// On the confirmation page: consent, 确认提交, the submitted page, the receipt printed.
pub fn submit(k: &Kiosk) -> Result<(), TourError> {
    tap(
        k,
        label(
            k,
            "我同意把以上信息发送给县政务服务部门，只用于办理这件事。",
            "I agree to send the details above to the county government service, to be used for this application only.",
        ),
    )?;
    tap(k, label(k, "确认提交", "Submit"))?;
    wait_page(k, Page::Submitted)?;
    wait_printed(k)
}

/// An application from a fresh visit: the first online item's guide, the demo card, a valid
/// form, the confirmation page (not submitted).
pub fn to_confirmation(k: &Kiosk) -> Result<(), TourError> {
    k.end_visit(WipeReason::Home);
    k.start_visit();
    let item = first_online_item(&k.services).ok_or(TourError::NoOnlineItem)?;
    super::search::open_item(k, &item.code);
    apply_with_demo_card(k)?;
    fill_form_validly(k)?;
    k.window.global::<FormAdapter>().invoke_next();
    wait_page(k, Page::Confirm)
}

fn save(k: &Kiosk, dir: &Path, name: &str) -> Result<(), TourError> {
    let path = dir.join(format!("{name}.png"));
    let shot = |detail: String| TourError::Shot {
        path: path.clone(),
        detail,
    };
    let png = headless::snapshot_png(k).map_err(shot)?;
    std::fs::write(&path, png).map_err(|e| shot(e.to_string()))
}

/// Every screen of a visit, named `{prefix}-NN-page.png` in `dir`.
fn tour(k: &Kiosk, clock: &ManualClock, dir: &Path, prefix: &str) -> Result<(), TourError> {
    let shot = |n: &str| save(k, dir, &format!("{prefix}-{n}"));
    k.end_visit(WipeReason::Home);
    shot("01-idle")?;
    k.start_visit();
    shot("02-home")?;
    k.show(Page::Search, true);
    let sa = k.window.global::<SearchAdapter>();
    sa.invoke_clear();
    sa.invoke_letter("y".into());
    sa.invoke_letter("l".into());
    shot("03-search")?;
    k.home();
    let item = first_online_item(&k.services).ok_or(TourError::NoOnlineItem)?;
    k.visit.borrow_mut().list = Some(ListContext::Category(item.category));
    k.show(Page::ItemList, true);
    shot("04-category")?;
    super::search::open_item(k, &item.code);
    shot("05-guide")?;
    tap(k, label(k, "我要申请", "Apply"))?;
    wait_page(k, Page::Card)?;
    shot("06-card")?;
    tap(k, label(k, "放演示身份证", "Place demo ID card"))?;
    wait_page(k, Page::Form)?;
    shot("07-form")?;
    let fa = k.window.global::<FormAdapter>();
    fa.invoke_next();
    shot("08-form-errors")?;
    fill_form_validly(k)?;
    fa.invoke_next();
    wait_page(k, Page::Confirm)?;
    k.window.global::<ConfirmAdapter>().set_consent(true);
    shot("09-confirm")?;
    k.window.global::<ConfirmAdapter>().invoke_submit();
    wait_page(k, Page::Submitted)?;
    wait_printed(k)?;
    shot("10-submitted")?;
    k.window.global::<SubmittedAdapter>().invoke_rate();
    shot("11-evaluation")?;
    k.end_visit(WipeReason::Finished);
    k.window.global::<IdleAdapter>().invoke_my_applications();
    k.window
        .global::<CardAdapter>()
        .invoke_place_demo_card("resident".into());
    wait_page(k, Page::Cases)?;
    k.wait_until(WAIT, |k| !k.visit.borrow().cases.loading);
    shot("12-cases")?;
    k.home();
    clock.advance(Duration::from_secs(50));
    k.tick();
    shot("13-inactivity-warning")?;
    k.touched();
    Ok(())
}

/// Eligibility before the form (受理条件预检): 高龄津贴 with the reader simulator's cards of a
/// 26-year-old (ask the coordinator) and a 66-year-old (the items offered instead).
fn eligibility_shots(
    k: &Kiosk,
    station: &Station,
    dir: &Path,
    prefix: &str,
) -> Result<(), TourError> {
    use crate::sim::idcard::SimCard;
    let sim = &station
        .demo_parts()
        .ok_or_else(|| step(k, "no demo parts"))?
        .idcard_sim;
    for (age, name) in [(26, "15-not-eligible"), (66, "16-not-eligible-instead")] {
        k.home();
        super::search::open_item(k, "MZ-004");
        wait_page(k, Page::Guide)?;
        tap(k, label(k, "我要申请", "Apply"))?;
        wait_page(k, Page::Card)?;
        // The card from the tour goes first, and the reader must see the empty field.
        lift_demo_card(k, sim)?;
        sim.place_card(SimCard::demo_resident_aged(age));
        wait_page(k, Page::Eligibility)?;
        save(k, dir, &format!("{prefix}-{name}"))?;
    }
    k.home();
    Ok(())
}

/// Lifts the card on the simulated reader and waits until the reader has polled the empty
/// field twice, so it sees the next card as new.
fn lift_demo_card(k: &Kiosk, sim: &crate::sim::idcard::IdcardSimulator) -> Result<(), TourError> {
    let requests = sim.watch_requests();
    sim.lift_card();
    for _ in 0..2 {
        requests
            .recv_timeout(WAIT)
            .map_err(|_| step(k, "the reader simulator is not polled"))?;
    }
    Ok(())
}

/// Issue 15's other screens: 办件提醒 (the tour's application made ready for collection by the
/// county, then the card placed on the idle screen), 帮办代办 (the helper's card read, the
/// relationship asked) and 帮办员模式 (the PIN asked).
fn villager_shots(k: &Kiosk, station: &Station, dir: &Path, prefix: &str) -> Result<(), TourError> {
    use crate::county::wire::CaseStatus;
    let parts = station
        .demo_parts()
        .ok_or_else(|| step(k, "no demo parts"))?;
    let bo = parts
        .backoffice
        .as_ref()
        .ok_or_else(|| step(k, "no demo back office"))?;
    let county = |e: crate::backoffice::BackofficeError| step(k, format!("back office: {e}"));
    let case = bo
        .db()
        .map_err(county)?
        .case_numbers(None, None, None)
        .map_err(|e| step(k, format!("back office: {e}")))?
        .into_iter()
        .next()
        .ok_or_else(|| step(k, "the tour's application is not at the county"))?;
    for to in [
        CaseStatus::Accepted,
        CaseStatus::InReview,
        CaseStatus::Approved,
    ] {
        bo.advance(&case, to, None).map_err(county)?;
    }
    bo.advance_with_english(
        &case,
        CaseStatus::ReadyForCollection,
        "城关镇便民服务中心2号窗口，工作日9:00-17:00",
        "Window 2, Chengguan town service centre, working days 9:00-17:00",
    )
    .map_err(county)?;
    let sim = &parts.idcard_sim;
    k.end_visit(WipeReason::Home);
    lift_demo_card(k, sim)?;
    sim.place_card(crate::sim::idcard::SimCard::demo_resident());
    wait_page(k, Page::Results)?;
    if !k.wait_until(WAIT, |k| !k.visit.borrow().results.loading) {
        return Err(step(k, "the county's cases did not arrive"));
    }
    save(k, dir, &format!("{prefix}-17-results"))?;

    k.end_visit(WipeReason::Home);
    lift_demo_card(k, sim)?;
    k.start_visit();
    let item = first_online_item(&k.services).ok_or(TourError::NoOnlineItem)?;
    super::search::open_item(k, &item.code);
    tap(k, label(k, "我要申请", "Apply"))?;
    wait_page(k, Page::Card)?;
    tap(
        k,
        label(
            k,
            "我是帮别人办（帮办代办）",
            "I am applying for someone else",
        ),
    )?;
    wait_page(k, Page::Agent)?;
    tap(
        k,
        label(k, "放演示证件（代办人）", "Place the demo card (helper)"),
    )?;
    if !k.wait_until(WAIT, |k| k.visit.borrow().agent.helper.is_some()) {
        return Err(step(k, "the helper's card was not read"));
    }
    save(k, dir, &format!("{prefix}-18-helper"))?;

    k.end_visit(WipeReason::Home);
    lift_demo_card(k, sim)?;
    k.start_visit();
    tap(
        k,
        label(
            k,
            "村帮办员：连续代办",
            "Village coordinator: apply for villagers",
        ),
    )?;
    wait_page(k, Page::Coordinator)?;
    save(k, dir, &format!("{prefix}-19-coordinator"))?;
    k.end_visit(WipeReason::Home);
    Ok(())
}

/// The screenshot tour (`kiosk screenshot`): every screen of a visit, then the
/// printer-failed-and-queued screen, for each language and orientation (`landscape`), into
/// `dir`. Needs the headless platform on this thread. Returns how many files it wrote.
pub fn screenshots(
    dir: &Path,
    langs: &[Lang],
    orientations: &[bool],
    rt: &tokio::runtime::Handle,
) -> Result<usize, TourError> {
    let station = Station::demo(DemoOptions::default(), rt.clone())?;
    let dead = Station::demo(
        DemoOptions {
            county_reachable: false,
            printer_state: crate::printer::status::PaperState::PaperEnd,
            ..DemoOptions::default()
        },
        rt.clone(),
    )?;
    let mut count = 0;
    for &lang in langs {
        for &landscape in orientations {
            let prefix = format!(
                "{}-{}",
                lang.tag(),
                if landscape { "landscape" } else { "portrait" }
            );
            let clock = Rc::new(ManualClock::new());
            let options = KioskOptions {
                lang,
                landscape,
                ..KioskOptions::default()
            };
            let new_kiosk = |station: &Station, options: KioskOptions| {
                let k = Kiosk::new(
                    station.services().clone(),
                    rt.clone(),
                    clock.clone(),
                    options,
                    Arc::new(|| {}),
                )
                .map_err(|e| TourError::Window(e.to_string()))?;
                headless::set_orientation(&k, landscape);
                let sink = k.sink();
                let reader = station.start_reader(move |e| sink.send(UiEvent::Card(e)));
                Ok::<_, TourError>((k, reader))
            };
            let (k, reader) = new_kiosk(&station, options.clone())?;
            let sink = k.sink();
            station.start_noticeboard(Some(Duration::from_secs(3600)), move |a| {
                sink.send(UiEvent::Announcements(a))
            });
            if !k.wait_until(WAIT, |k| !k.shell.borrow().announcements.is_empty()) {
                return Err(step(
                    &k,
                    "the demo back office's announcements did not arrive",
                ));
            }
            // The screens as a kiosk with voice on shows them (「听」 on every page).
            super::speech::attach(
                &k,
                Rc::new(crate::voice::Recorder::new(
                    true,
                    crate::voice::Lang::from_tag(lang.tag()),
                    80,
                )),
                80,
            );
            let toured = tour(&k, &clock, dir, &prefix)
                .and_then(|()| eligibility_shots(&k, &station, dir, &prefix))
                .and_then(|()| villager_shots(&k, &station, dir, &prefix));
            // The next tour's reader starts with an empty field, as a kiosk nobody is at.
            if let Some(hand) = &station.services().demo_hand {
                let _ = hand.lift();
            }
            // One reader thread at a time on the simulator's tty.
            reader.stop();
            toured?;
            let (kd, dead_reader) = new_kiosk(&dead, options)?;
            let shot = to_confirmation(&kd).and_then(|()| {
                kd.window.global::<ConfirmAdapter>().set_consent(true);
                kd.window.global::<ConfirmAdapter>().invoke_submit();
                wait_page(&kd, Page::Submitted)?;
                wait_printed(&kd)?;
                save(&kd, dir, &format!("{prefix}-14-printer-failed-and-queued"))
            });
            if let Some(hand) = &dead.services().demo_hand {
                let _ = hand.lift();
            }
            dead_reader.stop();
            shot?;
            count += 19;
        }
    }
    Ok(count)
}
