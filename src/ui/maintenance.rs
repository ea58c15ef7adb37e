//! Controller of `MaintenanceAdapter`: the maintenance screen (维护界面), after the PIN.
//!
//! - 自检: the doctor run goes to tokio's blocking pool (it may take up to 20 s) with the details
//!   lines (county URL, certificate subject and expiry, outbox counts and ages); the result comes
//!   back as [`UiEvent::DoctorDone`] and is shown in Chinese. Inside the running app the reader
//!   and printer ports are held by the app's drivers, so the doctor's own port probes cannot open
//!   them: the screen shows the drivers' live status (the [`HealthReporter`] the heartbeat reads)
//!   beside the doctor's findings.
//! - 打印测试页 through the app's printer port; 读卡测试 shows only "read OK, kind, valid until"
//!   (the card is dropped at once, nothing personal reaches the adapter or the session).
//! - screen rotation (applied at once, until the next start: `ui.orientation` stays as
//!   configured), touch targets at the corners reporting where they were hit, volume
//!   ([`crate::maintenance::Volume`]: handed to the speech engine at once and kept for the next
//!   start), restart (exit code
//!   [`crate::maintenance::RESTART_EXIT_CODE`]), leave. The visit is wiped like a villager's.
//!
//! [`HealthReporter`]: crate::doctor::health::HealthReporter

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::shell::{Kiosk, Next, UiEvent};
use super::{CheckRow, MaintenanceAdapter, Page, Theme};
use crate::county::wire::DeviceHealth;
use crate::doctor::Report;
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::{CardEvent, DeviceError};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, MaintenanceAdapter, on_run_doctor, |k| run_doctor(k));
    on!(k, MaintenanceAdapter, on_print_test, |k| {
        if opened(k) {
            k.desk.borrow_mut().visit.print_result = "正在打印测试页…".into();
            let printer = k.services.printer.clone();
            k.spawn_blocking(move || UiEvent::TestPagePrinted(printer.print_test_page()));
            render(k);
        }
        Next::Stay
    });
    on!(k, MaintenanceAdapter, on_read_card, |k| {
        k.desk.borrow_mut().visit.card_result = "请把身份证放在读卡器上".into();
        render(k);
        Next::Stay
    });
    on!(k, MaintenanceAdapter, on_rotate, |k| {
        let t = k.window.global::<Theme>();
        let landscape = !t.get_landscape();
        t.set_landscape(landscape);
        let (w, h) = if landscape {
            (1920, 1080)
        } else {
            (1080, 1920)
        };
        k.window.window().set_size(slint::PhysicalSize::new(w, h));
        tracing::info!(
            landscape,
            "maintenance: screen rotated until the next start"
        );
        render(k);
        Next::Stay
    });
    on!(k, MaintenanceAdapter, on_touch_target, |k, name, x, y| {
        k.desk.borrow_mut().visit.touch_result = format!("{name}：触点位置 x={x:.0}, y={y:.0}");
        render(k);
        Next::Stay
    });
    on!(k, MaintenanceAdapter, on_volume_down, |k| volume_step(
        k, -10
    ));
    on!(k, MaintenanceAdapter, on_volume_up, |k| volume_step(k, 10));
    on!(k, MaintenanceAdapter, on_restart, |k| {
        let restart = k.desk.borrow().setup.as_ref().map(|s| s.restart.clone());
        match restart {
            Some(restart) if opened(k) => {
                tracing::warn!("maintenance: app restart requested by the technician");
                restart();
            }
            _ => {}
        }
        Next::Stay
    });
    on!(k, MaintenanceAdapter, on_leave, |k| Next::Wipe(
        WipeReason::Home
    ));
}

/// Whether the PIN was accepted in this visit (every action checks it, not only the page).
fn opened(k: &Kiosk) -> bool {
    k.page() == Page::Maintenance && k.desk.borrow().visit.open
}

/// What the shell runs when the page is shown: a first doctor run.
pub fn enter(k: &Kiosk) -> Next {
    if !k.desk.borrow().visit.open {
        return Next::Wipe(WipeReason::Home);
    }
    run_doctor(k)
}

fn run_doctor(k: &Kiosk) -> Next {
    if !opened(k) {
        return Next::Stay;
    }
    let jobs = {
        let mut desk = k.desk.borrow_mut();
        if desk.visit.doctor_running {
            return Next::Stay;
        }
        let Some(setup) = desk.setup.as_ref() else {
            return Next::Stay;
        };
        let jobs = (setup.doctor.clone(), setup.details.clone());
        desk.visit.doctor_running = true;
        jobs
    };
    let (doctor, details) = jobs;
    k.spawn_blocking(move || {
        let report = doctor();
        let lines = details.map(|d| d()).unwrap_or_default();
        UiEvent::DoctorDone(Box::new(report), lines)
    });
    render(k);
    Next::Stay
}

/// A doctor run finished (dropped when the technician has left).
pub fn on_doctor_done(k: &Kiosk, report: Report, details: Vec<String>) -> Next {
    if !opened(k) {
        return Next::Stay;
    }
    {
        let mut desk = k.desk.borrow_mut();
        desk.visit.doctor_running = false;
        desk.visit.report = Some(report);
        desk.visit.details = details;
    }
    render(k);
    Next::Stay
}

pub fn on_test_page(k: &Kiosk, result: Result<(), DeviceError>) -> Next {
    if !opened(k) {
        return Next::Stay;
    }
    k.desk.borrow_mut().visit.print_result = match result {
        Ok(()) => "测试页已打印，请检查字迹是否清楚、切纸是否正常".into(),
        Err(e) => {
            tracing::warn!("maintenance test page: {}", e.detail);
            format!("测试页打印失败：{}", e.message_zh)
        }
    };
    render(k);
    Next::Stay
}

/// A reader event while the maintenance screen (or its PIN page) is on: the card is looked at
/// for its kind and expiry only, then dropped; it never reaches the session.
pub fn on_card_event(k: &Kiosk, event: CardEvent) -> Next {
    let line = match event {
        CardEvent::Placed(card) => {
            let until = card
                .valid_until
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "长期".into());
            let line = format!(
                "读卡正常：{}，有效期至 {until}",
                crate::catalog::eligibility::card_kind_zh(card.kind)
            );
            drop(card);
            line
        }
        CardEvent::Rejected { message_zh, .. } => format!("读到了卡，但不能使用：{message_zh}"),
        CardEvent::Fault(why) => {
            tracing::warn!("maintenance: reader fault: {why}");
            "读卡器故障，请检查连线和电源".into()
        }
        CardEvent::Back => "读卡器已恢复".into(),
        CardEvent::Lifted => return Next::Stay,
    };
    if opened(k) {
        k.desk.borrow_mut().visit.card_result = line;
        render(k);
    }
    Next::Stay
}

/// 音量: the new volume goes to the speech engine at once (from its next utterance: the shell
/// carries out [`Next::Volume`]) and is kept in the settings file (on the blocking pool) for
/// the next start.
fn volume_step(k: &Kiosk, step: i16) -> Next {
    let changed = match (opened(k), k.desk.borrow().setup.as_ref()) {
        (true, Some(setup)) => {
            let v = (i16::from(setup.volume.get()) + step).clamp(0, 100);
            setup.volume.set(u8::try_from(v).unwrap_or(100));
            Some((setup.volume.clone(), setup.paths.settings.clone()))
        }
        _ => None,
    };
    render(k);
    match changed {
        Some((volume, settings)) => {
            let level = volume.get();
            k.spawn_blocking(move || {
                UiEvent::VolumeSaved(volume.save(&settings).map_err(|e| e.to_string()))
            });
            // The shell hands it to spoken guidance (pages never talk to the speaker).
            Next::Volume(level)
        }
        None => Next::Stay,
    }
}

/// The volume was written for the next start (or not: logged; it applies until then).
pub fn on_volume_saved(result: Result<(), String>) -> Next {
    if let Err(e) = result {
        tracing::warn!("maintenance: volume not kept for the next start: {e}");
    }
    Next::Stay
}

fn device_line(name: &str, h: &DeviceHealth) -> String {
    match (h.ok, &h.detail) {
        (true, _) => format!("{name}：正常（程序正在使用）"),
        (false, Some(d)) => format!("{name}：故障（{d}）"),
        (false, None) => format!("{name}：故障"),
    }
}

pub fn render(k: &Kiosk) {
    let a = k.window.global::<MaintenanceAdapter>();
    let desk = k.desk.borrow();
    let v = &desk.visit;
    let rows: Vec<CheckRow> = v
        .report
        .iter()
        .flat_map(|r| r.checks.iter())
        .map(|c| CheckRow {
            id: c.id.clone().into(),
            status: c.status.label_zh().into(),
            finding: if c.finding_zh.is_empty() {
                &c.finding
            } else {
                &c.finding_zh
            }
            .clone()
            .into(),
            fix: if c.fix_zh.is_empty() {
                &c.fix
            } else {
                &c.fix_zh
            }
            .clone()
            .into(),
        })
        .collect();
    a.set_checks(ModelRc::new(VecModel::from(rows)));
    a.set_doctor_state(
        match (&v.report, v.doctor_running) {
            (_, true) => "正在自检，最多约 20 秒…".to_string(),
            (Some(r), false) => format!("自检结论：{}", r.verdict.label_zh()),
            (None, false) => String::new(),
        }
        .into(),
    );
    let (reader, printer) = match desk.setup.as_ref().and_then(|s| s.health.as_ref()) {
        Some(h) => {
            let snap = h.snapshot();
            (
                device_line("读卡器", &snap.reader),
                device_line("打印机", &snap.printer),
            )
        }
        None => (
            "读卡器：本程序未接入运行状态".into(),
            "打印机：本程序未接入运行状态".into(),
        ),
    };
    if v.open {
        a.set_reader_status(reader.into());
        a.set_printer_status(printer.into());
    } else {
        a.set_reader_status(SharedString::new());
        a.set_printer_status(SharedString::new());
    }
    let details: Vec<SharedString> = v.details.iter().map(|d| d.clone().into()).collect();
    a.set_details(ModelRc::new(VecModel::from(details)));
    a.set_print_result(v.print_result.clone().into());
    a.set_card_result(v.card_result.clone().into());
    a.set_touch_result(v.touch_result.clone().into());
    let landscape = k.window.global::<Theme>().get_landscape();
    let configured = desk
        .setup
        .as_ref()
        .map(|s| s.orientation.as_str())
        .unwrap_or("portrait");
    a.set_rotation(
        format!(
            "屏幕方向：现在{}（配置 ui.orientation = {configured}）",
            if landscape { "横屏" } else { "竖屏" }
        )
        .into(),
    );
    a.set_volume(desk.setup.as_ref().map_or(0, |s| i32::from(s.volume.get())));
}
