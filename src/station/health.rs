//! 站点运行状态 from the running kiosk into the heartbeat: what the reader thread, the printer and
//! the county link report goes into the outbox worker's `StationHealth` (through
//! `doctor::health::HealthReporter`), so the next heartbeat tells the county the truth: a reader
//! unplugged or paper out shows on the ledger within one heartbeat.
//!
//! - reader: every driver event (`idcard::reader::ReaderEvent`) as it happens;
//! - printer: its real-time status after every job and every `every` while it is idle (paper
//!   runs out between receipts);
//! - county link, queue, software version and the sync report: the outbox worker adds them;
//! - catalogue version: at start and when sync puts a new one in use;
//! - verdict: [`live_report`], the doctor's `reader`, `printer` and `county` checks worded from
//!   what the app sees now (the full `kiosk doctor` opens the devices itself and cannot run
//!   beside the app's own drivers).
//!
//! Nothing personal passes through here: card events are looked at only for "the reader works".

use std::sync::Arc;
use std::time::Duration;

use crate::county::outbox::StationHealth;
use crate::doctor::health::HealthReporter;
use crate::doctor::{Check, Report};
use crate::printer::device::Printer;

/// The doctor's live checks from what the app's drivers last reported.
pub fn live_report(h: &StationHealth) -> Report {
    let reader = crate::doctor::health::live_reader(h);
    let printer = crate::doctor::health::live_printer(h);
    let mut checks = vec![reader, printer];
    if let Some(link) = &h.county_link {
        checks.push(if link.ok {
            Check::ok("county", "the county answers")
        } else {
            Check::warn(
                "county",
                format!(
                    "the county cannot be reached: {}; applications wait in the outbox",
                    link.detail.as_deref().unwrap_or("no answer")
                ),
                "check the extranet link; run kiosk county ping",
            )
            .zh("连不上县里的系统，申请在本机排队", "请检查政务外网连接")
        });
    }
    Report::new(checks)
}

/// Recomputes the verdict after a device report.
pub fn refresh_verdict(health: &HealthReporter) {
    health.doctor_report(&live_report(&health.snapshot()));
}

/// Asks the printer's status every `every` while no job is on it (`busy`), into `health`.
pub fn watch_printer(
    rt: &tokio::runtime::Handle,
    printer: Printer,
    busy: Arc<dyn Fn() -> bool + Send + Sync>,
    health: HealthReporter,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        loop {
            if !busy() {
                let status = printer.status().await;
                health.printer_status(&status);
                refresh_verdict(&health);
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::county::wire::{DeviceHealth, PaperState};
    use crate::doctor::Status;

    #[test]
    fn the_live_verdict_names_the_failing_device() {
        let mut h = StationHealth::default();
        assert_eq!(live_report(&h).verdict, Status::Ok);
        h.paper = PaperState::Low;
        assert_eq!(live_report(&h).verdict, Status::Warn);
        h.paper = PaperState::Out;
        h.printer = DeviceHealth {
            ok: false,
            detail: Some("paper end".into()),
        };
        let r = live_report(&h);
        assert_eq!((r.verdict, r.failing()), (Status::Fail, vec!["printer"]));
        h.reader = DeviceHealth {
            ok: false,
            detail: Some("no answer".into()),
        };
        assert_eq!(live_report(&h).failing(), vec!["reader", "printer"]);
    }
}
