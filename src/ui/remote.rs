//! 远程请求 on the screen's side: answers what county staff asked through the heartbeat
//! answer (`HeartbeatAck::requests`, taken from the [`HealthReporter`]).
//!
//! - `doctor`: the run is handed to tokio's blocking pool (it may take up to 20 s) and its
//!   report goes into the next heartbeat; the UI thread never waits for it.
//! - `screenshot`: only of the idle screen, only while nobody is at the kiosk (page `Idle`,
//!   session `Idle`). During a visit the request is put back and answered once the kiosk is
//!   idle again; a villager's visit is never captured.
//!
//! The running app hands the shell a [`RemoteSetup`] (`Kiosk::set_remote`: the station's
//! [`HealthReporter`] and the in-app doctor) and [`Kiosk::tick`](super::Kiosk::tick) calls
//! [`answer_requests`] from the UI event loop about twice a second, so a request is answered
//! within a tick of the heartbeat answer that brought it and its result rides with the next
//! heartbeat. It never navigates and touches no adapter.

use std::sync::Arc;

use super::Page;
use super::shell::Kiosk;
use crate::county::wire::RemoteRequestKind;
use crate::doctor::Report;
use crate::doctor::health::HealthReporter;
use crate::session::Stage;

/// How a doctor run is made (the app runs `doctor::run` with its config; tests may pass a
/// report of their own making).
pub type DoctorRun = Arc<dyn Fn() -> Report + Send + Sync>;

/// What the shell needs to answer remote requests by itself.
#[derive(Clone)]
pub struct RemoteSetup {
    /// Where the requests arrive and the answers go (the station's, fed by the outbox worker).
    pub reporter: HealthReporter,
    /// The doctor run a `doctor` request gets (the app's in-app doctor).
    pub doctor: DoctorRun,
}

/// What [`answer_requests`] did with the requests it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answered {
    pub doctor_runs_started: usize,
    pub screenshots_taken: usize,
    /// Screenshot requests put back because a visit is on.
    pub deferred: usize,
}

/// Takes the requests that arrived and answers them (see the module doc).
pub fn answer_requests(k: &Kiosk, reporter: &HealthReporter, doctor: &DoctorRun) -> Answered {
    let mut done = Answered::default();
    let mut later = Vec::new();
    for request in reporter.take_requests() {
        match request.kind {
            RemoteRequestKind::Doctor => {
                let (reporter, doctor) = (reporter.clone(), doctor.clone());
                // The run is dated when it was asked for here, on the shell's clock.
                let asked = k.clock.utc_now();
                k.rt.spawn_blocking(move || {
                    let report = doctor();
                    reporter.doctor_result(request.id, &report, asked);
                    tracing::info!(
                        id = request.id,
                        verdict = report.verdict.as_str(),
                        "remote doctor run answered"
                    );
                });
                done.doctor_runs_started += 1;
            }
            RemoteRequestKind::Screenshot => {
                if k.page() != Page::Idle || k.stage() != Stage::Idle {
                    later.push(request);
                    continue;
                }
                match super::headless::snapshot_png(k) {
                    Ok(png) => {
                        reporter.screenshot_result(request.id, &png, k.clock.utc_now());
                        done.screenshots_taken += 1;
                    }
                    Err(e) => {
                        reporter.error(format!("screenshot #{}: {e}", request.id));
                    }
                }
            }
        }
    }
    done.deferred = later.len();
    if !later.is_empty() {
        reporter.defer_requests(later);
    }
    done
}
