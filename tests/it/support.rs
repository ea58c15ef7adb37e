//! Helpers several test modules share: the two-worker runtime the station tests run on, waiting
//! on the outbox worker's passes (its status changes after every one, so the wait is on the
//! worker, never on a timer), a heartbeat that reports nothing but a version and a clock, and
//! the numbered pension application the store tests fill their outboxes with.

use std::time::Duration;
#[cfg(feature = "gui")]
use std::time::Instant;

use chrono::{DateTime, Utc};
#[cfg(feature = "gui")]
use tokio::sync::watch;
use village_kiosk::county::{NewApplication, wire};

/// A multi-threaded tokio runtime with two workers (the machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How long [`WorkerPasses::until`] goes on before it fails: a number of worker passes (each
/// after a step of a virtual clock, say), or a time (a failure limit only, never a pace).
#[cfg(feature = "gui")]
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Passes(usize),
    Time(Duration),
}

/// The outbox worker's passes, seen through its status (it changes after every pass). Only the
/// app tests (feature `gui`) run the worker this way.
#[cfg(feature = "gui")]
pub struct WorkerPasses<'a, T> {
    rt: &'a tokio::runtime::Runtime,
    status: watch::Receiver<T>,
    /// How long one pass may take before the test fails.
    wait: Duration,
}

#[cfg(feature = "gui")]
impl<'a, T> WorkerPasses<'a, T> {
    pub fn new(
        rt: &'a tokio::runtime::Runtime,
        status: watch::Receiver<T>,
        wait: Duration,
    ) -> Self {
        WorkerPasses { rt, status, wait }
    }

    /// The loop of the tests that run the worker until something holds: `before_check`, then
    /// `done` (returns when it holds), then `before_pass` and the next worker pass, until
    /// `limit`; then `done` must hold or the test fails with `what`.
    pub fn until(
        &mut self,
        what: &str,
        limit: Limit,
        mut before_check: impl FnMut(),
        mut before_pass: impl FnMut(),
        done: &dyn Fn() -> bool,
    ) {
        let start = Instant::now();
        let mut passes = 0;
        while match limit {
            Limit::Passes(n) => passes < n,
            Limit::Time(t) => start.elapsed() < t,
        } {
            before_check();
            if done() {
                return;
            }
            before_pass();
            let (status, wait) = (&mut self.status, self.wait);
            self.rt.block_on(async {
                tokio::time::timeout(wait, status.changed())
                    .await
                    .unwrap_or_else(|_| panic!("no worker pass while waiting for {what}"))
                    .expect("the worker runs");
            });
            passes += 1;
        }
        assert!(done(), "{what}");
    }
}

/// A heartbeat with `version` and `clock` and nothing else to report.
pub fn heartbeat(version: &str, clock: DateTime<Utc>) -> wire::Heartbeat {
    wire::Heartbeat {
        software_version: version.into(),
        reader: wire::DeviceHealth::default(),
        printer: wire::DeviceHealth::default(),
        paper: wire::PaperState::Ok,
        queue_length: 0,
        last_errors: vec![],
        clock,
        sync: None,
        verdict: None,
        failing_checks: vec![],
        catalog_version: None,
        oldest_pending_at: None,
        county_link: None,
        doctor: None,
        update: None,
        screenshot: None,
    }
}

/// Application `i` for 城乡居民基本养老保险参保登记 (SB-001) by 王小明, with an ID number of its
/// own (a valid GB 11643 check character), no phone and no fields.
pub fn application(i: u32) -> NewApplication {
    NewApplication {
        item_code: "SB-001".into(),
        item_name: "城乡居民基本养老保险参保登记".into(),
        applicant_name: "王小明".into(),
        id_number: {
            let first17 = format!("41032919800101{:03}", i % 1000);
            let check = village_kiosk::idcard::card::gb11643_check_char(&first17).unwrap();
            format!("{first17}{check}")
        },
        phone: None,
        fields: std::collections::BTreeMap::new(),
    }
}

/// The body a station sends for application `receipt` (SB-001 by 王小明 with `id_number`, no
/// phone, no fields, accepted now), as JSON.
pub fn submission(receipt: &str, id_number: &str) -> wire::ApplicationSubmission {
    wire::ApplicationSubmission {
        receipt_number: receipt.into(),
        item_code: "SB-001".into(),
        item_name: "城乡居民基本养老保险参保登记".into(),
        applicant: wire::Applicant {
            name: "王小明".into(),
            id_number: id_number.into(),
            phone: None,
        },
        fields: std::collections::BTreeMap::new(),
        accepted_at: Utc::now(),
        card_key: None,
        agent: None,
        keep_phone: false,
    }
}

/// Sends `body` under `key` as station `station` (demo token) and returns the county's
/// receipt; the answer must be 201.
pub async fn submit_created(
    bo: &village_kiosk::backoffice::EmbeddedBackoffice,
    station: &str,
    key: &str,
    body: &wire::ApplicationSubmission,
) -> wire::SubmissionReceipt {
    let reply = bo
        .demo_client(station)
        .unwrap()
        .submit_raw(key, &serde_json::to_string(body).unwrap())
        .await
        .unwrap();
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    serde_json::from_slice(&reply.body).unwrap()
}
