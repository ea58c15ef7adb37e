//! The [`ReceiptPrinter`] port on the ESC/POS receipt printer (`printer::device`): receipts
//! (受理回执) and checklists (一次告知单).
//!
//! Shutting down waits for the job on the printer to finish (a receipt cut in half is worse
//! than a late exit) and refuses new jobs from then on.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::ports::{DeviceError, ReceiptInfo, ReceiptPrinter};
use crate::catalog::ServiceItem;
use crate::printer::device::{PrintError, Printer};
use crate::printer::job::PrintJob;
use crate::printer::receipt::{
    ApplicationReceipt, application_receipt_with_agent, checklist, test_page,
};

fn print_error(e: &PrintError) -> DeviceError {
    DeviceError::new(
        e.message_zh(),
        match e.fault() {
            Some(f) => format!("Printer problem: {f}. Please tell the staff"),
            None => "The printer is not available. Please tell the staff".to_owned(),
        },
        e,
    )
}

/// Jobs on the printer now, and whether the station is shutting down.
#[derive(Debug, Default)]
struct Jobs {
    in_flight: usize,
    closed: bool,
}

/// Receipts and checklists on the ESC/POS receipt printer.
pub struct SerialReceiptPrinter {
    printer: Printer,
    station_name: String,
    complaint_phone: String,
    /// `station.time_zone`: the date printed on a checklist.
    time_zone: chrono_tz::Tz,
    /// Where each job's outcome goes for the heartbeat.
    health: Option<crate::doctor::health::HealthReporter>,
    jobs: Mutex<Jobs>,
    idle: Condvar,
}

impl SerialReceiptPrinter {
    pub fn new(
        printer: Printer,
        station_name: String,
        complaint_phone: String,
        time_zone: chrono_tz::Tz,
    ) -> Self {
        Self {
            printer,
            station_name,
            complaint_phone,
            time_zone,
            health: None,
            jobs: Mutex::new(Jobs::default()),
            idle: Condvar::new(),
        }
    }

    /// Reports each job's printer status (or error) to `health`.
    pub fn with_health(mut self, health: crate::doctor::health::HealthReporter) -> Self {
        self.health = Some(health);
        self
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints `job` unless the station is shutting down; counted while it runs.
    fn print(&self, job: PrintJob) -> Result<(), DeviceError> {
        {
            let mut jobs = self.jobs();
            if jobs.closed {
                return Err(DeviceError::new(
                    "打印机暂时不能用",
                    "The printer is not available. Please tell the staff",
                    "printer: the station is shutting down",
                ));
            }
            jobs.in_flight += 1;
        }
        let result = self.printer.print_blocking(job);
        if let Some(h) = &self.health {
            match &result {
                Ok(report) => {
                    if let Some(after) = report.status_after {
                        h.printer_status(&Ok(after));
                    }
                }
                Err(e) => h.printer_status(&Err(e.clone())),
            }
            super::health::refresh_verdict(h);
        }
        let mut jobs = self.jobs();
        jobs.in_flight -= 1;
        if jobs.in_flight == 0 {
            self.idle.notify_all();
        }
        drop(jobs);
        result.map(|_| ()).map_err(|e| print_error(&e))
    }

    /// Whether a job is on the printer now.
    pub fn busy(&self) -> bool {
        self.jobs().in_flight > 0
    }

    /// Refuses new jobs and waits (at most `limit`) until the job being printed is done.
    /// Returns whether the printer is idle.
    pub fn finish(&self, limit: Duration) -> bool {
        let mut jobs = self.jobs();
        jobs.closed = true;
        let (jobs, _) = self
            .idle
            .wait_timeout_while(jobs, limit, |j| j.in_flight > 0)
            .unwrap_or_else(|p| p.into_inner());
        jobs.in_flight == 0
    }
}

impl ReceiptPrinter for SerialReceiptPrinter {
    fn print_receipt(&self, r: &ReceiptInfo) -> Result<(), DeviceError> {
        let receipt = ApplicationReceipt {
            station_name: self.station_name.clone(),
            item_name: r.item_name.clone(),
            applicant_name: r.applicant_masked.clone(),
            receipt_no: r.receipt_no.clone(),
            submitted_at: r.submitted_at,
            case_number: if r.queued {
                None
            } else {
                r.case_number.clone()
            },
            promised_days: r.promised_days,
            collect_at: r.collect_at.clone(),
            materials_to_bring: r.materials_to_bring.clone(),
            progress_url: r.qr_payload.clone(),
            complaint_phone: self.complaint_phone.clone(),
        };
        self.print(application_receipt_with_agent(&receipt, r.agent.as_ref()))
    }

    fn print_checklist(&self, item: &ServiceItem) -> Result<(), DeviceError> {
        self.print(checklist(
            item,
            &self.station_name,
            Utc::now().with_timezone(&self.time_zone).naive_local(),
        ))
    }

    fn print_test_page(&self) -> Result<(), DeviceError> {
        self.print(test_page(
            self.printer.profile(),
            Utc::now().with_timezone(&self.time_zone).naive_local(),
        ))
    }
}
