//! The station's health as the running app sees it (站点运行状态), for the heartbeat.
//!
//! [`HealthReporter`] wraps the outbox worker's shared [`StationHealth`]: the app hands it what
//! its drivers report (reader events, printer status and errors, the worker's link status, the
//! installed catalogue's version, a doctor report) and the next heartbeat carries it, so a
//! reader unplugged or paper out shows on the county's ledger within one heartbeat. Requests
//! from county staff that arrived in heartbeat answers are taken with
//! [`HealthReporter::take_requests`]; a doctor run's result goes back with
//! [`HealthReporter::doctor_result`]. Nothing personal passes through here.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::findings::{Check, Report, Status};
use crate::county::outbox::{StationHealth, WorkerStatus};
use crate::county::wire::{self, DeviceHealth, PaperState};
use crate::idcard::reader::ReaderEvent;
use crate::printer::device::PrintError;
use crate::printer::status::PrinterStatus;

/// Where the app reports health. Cheap to clone; every clone feeds the same heartbeat.
#[derive(Debug, Clone)]
pub struct HealthReporter {
    shared: Arc<Mutex<StationHealth>>,
}

impl HealthReporter {
    /// Feeds `shared`, the outbox worker's `WorkerHandle::health()`.
    pub fn new(shared: Arc<Mutex<StationHealth>>) -> HealthReporter {
        HealthReporter { shared }
    }

    fn lock(&self) -> MutexGuard<'_, StationHealth> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of what the next heartbeat will say.
    pub fn snapshot(&self) -> StationHealth {
        self.lock().clone()
    }

    /// What the reader thread reported. A card event means the reader works; the card itself
    /// is not looked at.
    pub fn reader_event(&self, event: &ReaderEvent) {
        let mut h = self.lock();
        match event {
            ReaderEvent::ReaderFault(why) => {
                let first = h.reader.ok;
                h.reader = DeviceHealth {
                    ok: false,
                    detail: Some(why.clone()),
                };
                if first {
                    h.push_error(format!("reader: {why}"));
                }
            }
            ReaderEvent::ReaderBack
            | ReaderEvent::CardPlaced(_)
            | ReaderEvent::CardRejected(_)
            | ReaderEvent::CardLifted => h.reader = DeviceHealth::default(),
        }
    }

    /// The printer's status (asked before and after a job, or by a periodic check).
    pub fn printer_status(&self, result: &Result<PrinterStatus, PrintError>) {
        let mut h = self.lock();
        match result {
            Ok(s) => {
                h.paper = if s.paper_end {
                    PaperState::Out
                } else if s.paper_near_end {
                    PaperState::Low
                } else {
                    PaperState::Ok
                };
                h.printer = match s.fault() {
                    None => DeviceHealth::default(),
                    Some(f) => DeviceHealth {
                        ok: false,
                        detail: Some(f.describe().to_string()),
                    },
                };
            }
            Err(e) => {
                if let Some(f) = e.fault() {
                    h.paper = if f == crate::printer::PrinterFault::PaperEnd {
                        PaperState::Out
                    } else {
                        h.paper
                    };
                } else {
                    h.paper = PaperState::Unknown;
                }
                let first = h.printer.ok;
                h.printer = DeviceHealth {
                    ok: false,
                    detail: Some(e.to_string()),
                };
                if first {
                    h.push_error(format!("printer: {e}"));
                }
            }
        }
    }

    /// The outbox worker's status: the county link as the kiosk sees it.
    pub fn county_link(&self, status: &WorkerStatus) {
        let mut h = self.lock();
        let up = status.link_up || status.consecutive_failures == 0;
        let was_up = h.county_link.as_ref().is_none_or(|l| l.ok);
        h.county_link = Some(DeviceHealth {
            ok: up,
            detail: if up { None } else { status.last_error.clone() },
        });
        if was_up
            && !up
            && let Some(e) = &status.last_error
        {
            h.push_error(format!("county: {e}"));
        }
    }

    /// The installed catalogue's version.
    pub fn catalog_version(&self, version: Option<u64>) {
        self.lock().catalog_version = version;
    }

    /// An error worth showing in the ledger (newest first, ten kept).
    pub fn error(&self, what: impl Into<String>) {
        self.lock().push_error(what);
    }

    /// A doctor run's verdict and the checks that are not ok.
    pub fn doctor_report(&self, report: &Report) {
        let mut h = self.lock();
        h.verdict = Some(report.verdict.as_str().to_string());
        h.failing_checks = not_ok(report);
    }

    /// Answers remote request `request_id` with `report`: the verdict is updated and the whole
    /// result rides with every heartbeat until one carrying it is delivered.
    pub fn doctor_result(&self, request_id: i64, report: &Report, ran_at: DateTime<Utc>) {
        self.doctor_report(report);
        self.lock().doctor = Some(to_wire(request_id, report, ran_at));
    }

    /// Answers remote screenshot request `request_id` with `png` (the idle screen): it rides
    /// with every heartbeat until one carrying it is delivered.
    pub fn screenshot_result(&self, request_id: i64, png: &[u8], taken_at: DateTime<Utc>) {
        use base64::Engine as _;
        self.lock().screenshot = Some(wire::RemoteScreenshot {
            request_id,
            taken_at,
            png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        });
    }

    /// Puts back requests that cannot be answered yet (a screenshot while a visit is on), so
    /// they are tried again later; a request that came again meanwhile is not doubled.
    pub fn defer_requests(&self, requests: Vec<wire::RemoteRequest>) {
        let mut h = self.lock();
        for r in requests.into_iter().rev() {
            if !h.requests.contains(&r) {
                h.requests.insert(0, r);
            }
        }
    }

    /// Requests from county staff that arrived since the last call, oldest first.
    pub fn take_requests(&self) -> Vec<wire::RemoteRequest> {
        let mut h = self.lock();
        let taken = std::mem::take(&mut h.requests);
        for r in &taken {
            if !h.taken_requests.contains(&r.id) {
                h.taken_requests.push(r.id);
            }
        }
        let excess = h.taken_requests.len().saturating_sub(64);
        h.taken_requests.drain(..excess);
        taken
    }
}

/// The `reader` check from what the app's reader driver last reported (the in-app doctor and
/// the heartbeat's live verdict: the driver holds the port, so nothing opens it again).
pub fn live_reader(h: &StationHealth) -> Check {
    if h.reader.ok {
        Check::ok("reader", "the reader answers (the running app's driver)")
            .zh("身份证阅读器正常（程序正在使用）", "")
    } else {
        Check::fail(
            "reader",
            format!(
                "the reader does not answer: {}",
                h.reader.detail.as_deref().unwrap_or("fault")
            ),
            "check the reader's USB cable and power, then run kiosk doctor",
        )
        .zh("读卡器没有响应", "请检查读卡器的 USB 线和电源")
    }
}

/// The `printer` check from the app's printer driver: its status after the last job and the
/// periodic idle check.
pub fn live_printer(h: &StationHealth) -> Check {
    match (h.printer.ok, h.paper) {
        (true, PaperState::Low) => {
            Check::warn("printer", "paper near end", "load a new paper roll soon")
                .zh("打印纸快用完了", "请尽快换新纸卷")
        }
        (true, _) => Check::ok("printer", "the printer answers (the running app's driver)")
            .zh("打印机正常（程序正在使用）", ""),
        (false, PaperState::Out) => Check::fail(
            "printer",
            "paper out",
            "load a new paper roll and close the cover",
        )
        .zh("打印机缺纸", "请装入新纸卷并合上盖子"),
        (false, _) => Check::fail(
            "printer",
            format!(
                "the printer reports a fault: {}",
                h.printer.detail.as_deref().unwrap_or("fault")
            ),
            "check the printer's cable, power and cover, then run kiosk doctor",
        )
        .zh("打印机有故障", "请检查打印机的线缆、电源和盖子"),
    }
}

fn not_ok(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.status != Status::Ok)
        .map(|c| format!("{}: {}", c.id, c.finding))
        .collect()
}

/// A report in the heartbeat's shape.
pub fn to_wire(
    request_id: i64,
    report: &Report,
    ran_at: DateTime<Utc>,
) -> wire::RemoteDoctorResult {
    wire::RemoteDoctorResult {
        request_id,
        verdict: report.verdict.as_str().to_string(),
        ran_at: Some(ran_at),
        checks: report
            .checks
            .iter()
            .map(|c| wire::DoctorCheck {
                id: c.id.clone(),
                status: c.status.as_str().to_string(),
                finding: c.finding.clone(),
                fix: c.fix.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Check;
    use crate::printer::status::PaperState as Sim;

    fn status(state: Sim) -> PrinterStatus {
        let replies: Vec<(u8, u8)> = (1..=4).map(|n| (n, state.reply(n))).collect();
        PrinterStatus::from_replies(&replies).unwrap()
    }

    #[test]
    fn device_reports_become_heartbeat_health() {
        let r = HealthReporter::new(Arc::default());
        r.reader_event(&ReaderEvent::ReaderFault("unplugged".into()));
        r.reader_event(&ReaderEvent::ReaderFault("unplugged".into()));
        r.printer_status(&Ok(status(Sim::PaperEnd)));
        let h = r.snapshot();
        assert!(!h.reader.ok);
        assert_eq!(h.paper, PaperState::Out);
        assert!(!h.printer.ok);
        assert_eq!(h.last_errors, vec!["reader: unplugged".to_string()]);
        r.reader_event(&ReaderEvent::ReaderBack);
        r.printer_status(&Ok(status(Sim::NearEnd)));
        let h = r.snapshot();
        assert!(h.reader.ok && h.printer.ok);
        assert_eq!(h.paper, PaperState::Low);
        r.county_link(&WorkerStatus {
            consecutive_failures: 3,
            last_error: Some("connection refused".into()),
            ..WorkerStatus::default()
        });
        assert!(!r.snapshot().county_link.unwrap().ok);
    }

    #[test]
    fn a_doctor_result_carries_every_check() {
        let r = HealthReporter::new(Arc::default());
        let report = Report::new(vec![
            Check::ok("config", "fine"),
            Check::fail("printer", "out of paper", "load paper"),
        ]);
        r.doctor_result(7, &report, Utc::now());
        let h = r.snapshot();
        assert_eq!(h.verdict.as_deref(), Some("fail"));
        assert_eq!(h.failing_checks, vec!["printer: out of paper".to_string()]);
        let d = h.doctor.unwrap();
        assert_eq!((d.request_id, d.checks.len()), (7, 2));
        assert!(r.take_requests().is_empty());
    }
}
