//! The [`CountyLink`] port: applications through the store-and-forward outbox and its worker
//! (durable before the screen says 已受理), progress and evaluations through the county client.
//!
//! Cases come back typed ([`CaseRecord`]: progress, steps, instants); the UI words them. The
//! outbox is used only through `county::outbox`, never with SQL of our own.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ports::{
    ApplicationDraft, CaseProgress, CaseRecord, CaseStep, CasesReply, Catalogue, Collection,
    CountyLink, CountyText, DeviceError, StepKind, StepState, Submission,
};
use crate::config::Config;
use crate::county::outbox::Filing;
use crate::county::wire::{CaseStatus, CaseView, PersonCases};
use crate::county::{CountyClient, NewApplication, Outbox};
use crate::idcard::IdCard;
use crate::store::Store;

/// Applications through the outbox (durable before the screen says 已受理), progress and
/// evaluations through the county client.
pub struct OutboxCounty {
    store: Arc<Mutex<Store>>,
    worker: Mutex<Option<crate::county::outbox::WorkerHandle>>,
    client: Option<CountyClient>,
    rt: tokio::runtime::Handle,
    catalogue: Arc<dyn Catalogue>,
    /// How long `submit` waits for the county's confirmation before saying 待上传.
    confirm_wait: Duration,
    /// The county's public progress-page URL (`GET /v1/station`): its one owner is the
    /// learner task ([`learn_public_url`]); the submit path only reads what it learned.
    public_url: tokio::sync::watch::Receiver<Option<String>>,
    /// `station.time_zone`: the day of a receipt number and the time printed on it.
    time_zone: chrono_tz::Tz,
}

fn store_error(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        "本机存储出了问题",
        "The kiosk's storage has a problem",
        format!("outbox: {e}"),
    )
}

fn county_unreachable(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        "县里的系统暂时连不上",
        "The county's system cannot be reached right now",
        format!("county: {e}"),
    )
}

impl OutboxCounty {
    /// Opens the store at `store_path` and starts the outbox worker on `rt` (when a client is
    /// configured).
    pub fn start(
        store_path: &Path,
        client: Option<CountyClient>,
        rt: tokio::runtime::Handle,
        catalogue: Arc<dyn Catalogue>,
        config: &Config,
    ) -> Result<Self, DeviceError> {
        let store = Store::open(store_path).map_err(store_error)?;
        Self::start_with_store(store, store_path, client, rt, catalogue, config)
    }

    /// [`OutboxCounty::start`] with the store at `store_path` already open.
    pub fn start_with_store(
        store: Store,
        store_path: &Path,
        client: Option<CountyClient>,
        rt: tokio::runtime::Handle,
        catalogue: Arc<dyn Catalogue>,
        config: &Config,
    ) -> Result<Self, DeviceError> {
        let worker = crate::county::outbox::WorkerConfig::from_config(&config.outbox);
        Self::start_with_worker(store, store_path, client, rt, catalogue, config, worker)
    }

    /// [`OutboxCounty::start_with_store`] with the worker's settings given (demo mode's
    /// heartbeat interval).
    pub fn start_with_worker(
        store: Store,
        store_path: &Path,
        client: Option<CountyClient>,
        rt: tokio::runtime::Handle,
        catalogue: Arc<dyn Catalogue>,
        config: &Config,
        worker_config: crate::county::outbox::WorkerConfig,
    ) -> Result<Self, DeviceError> {
        let worker = match &client {
            Some(c) => {
                let _guard = rt.enter();
                Some(
                    crate::county::spawn_worker(store_path.to_path_buf(), c.clone(), worker_config)
                        .map_err(store_error)?,
                )
            }
            None => None,
        };
        let (learned, public_url) = tokio::sync::watch::channel(None);
        if let Some(c) = &client {
            let status = worker.as_ref().map(|w| w.status());
            rt.spawn(learn_public_url(c.clone(), status, learned));
        }
        Ok(Self {
            store: Arc::new(Mutex::new(store)),
            worker: Mutex::new(worker),
            client,
            rt,
            catalogue,
            confirm_wait: Duration::from_secs(5),
            public_url,
            time_zone: config.station.time_zone,
        })
    }

    /// Changes how long a submission waits for the county before it says 待上传.
    pub fn with_confirm_wait(mut self, wait: Duration) -> Self {
        self.confirm_wait = wait;
        self
    }

    /// Stops the outbox worker after its current step (a delivery in progress finishes and is
    /// recorded; what is queued stays queued on disk) and waits for it, at most `limit`.
    /// Returns whether the worker stopped in time. Call from outside the runtime, before the
    /// runtime is dropped (inside it, the worker is only told to stop).
    pub fn shutdown(&self, limit: Duration) -> bool {
        let worker = self.worker().take();
        let Some(w) = worker else {
            return true;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            self.rt
                .block_on(async { tokio::time::timeout(limit, w.shutdown()).await })
                .is_ok()
        } else {
            self.rt.spawn(w.shutdown());
            false
        }
    }

    fn worker(&self) -> std::sync::MutexGuard<'_, Option<crate::county::outbox::WorkerHandle>> {
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the app's device health goes for the heartbeat (`None` without a worker).
    pub(super) fn health(&self) -> Option<Arc<Mutex<crate::county::outbox::StationHealth>>> {
        self.worker().as_ref().map(|w| w.health())
    }

    /// What the outbox worker last saw (None without a county or after shutdown); tests wait
    /// on its changes.
    pub fn worker_status(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<crate::county::outbox::WorkerStatus>> {
        self.worker().as_ref().map(|w| w.status())
    }

    /// The county's public URL as learned (`None` while unknown, or when the county runs no
    /// public page). Never asks the county: the submit path does not wait on it.
    fn public_url(&self) -> Option<String> {
        self.public_url.borrow().clone()
    }

    /// The county's public progress-page URL as the learner task has it; it changes once, when
    /// `GET /v1/station` first answers (tests wait on it).
    pub fn public_url_watch(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.public_url.clone()
    }

    /// What the receipt's QR code carries: the case's public progress page
    /// (`<public-url>/p/<token>`) once the county confirmed it and runs the page; empty (no QR
    /// code) while the application waits for upload.
    fn progress_url(&self, receipt_number: &str) -> String {
        let token = Outbox::progress_token(&self.store(), receipt_number)
            .ok()
            .flatten();
        match token.and_then(|t| Some((self.public_url()?, t))) {
            Some((base, token)) => crate::county::wire::progress_url(&base, &token),
            None => String::new(),
        }
    }

    /// Waits until the worker delivered `receipt` (Some(case number)) or reported a failure
    /// after this call began (None), at most `confirm_wait`.
    fn wait_confirmed(&self, receipt: &str) -> Option<String> {
        let mut status = {
            let worker = self.worker();
            let worker = worker.as_ref()?;
            worker.nudge();
            worker.status()
        };
        let failures_before = status.borrow().consecutive_failures;
        let check = || -> Option<String> {
            Outbox::receipt(&self.store(), receipt)
                .ok()
                .flatten()
                .and_then(|c| c.case_number)
        };
        self.rt.block_on(async {
            let wait = async {
                loop {
                    if let Some(n) = check() {
                        return Some(n);
                    }
                    {
                        let s = status.borrow();
                        if !s.link_up && s.consecutive_failures > failures_before {
                            return None;
                        }
                    }
                    if status.changed().await.is_err() {
                        return None;
                    }
                }
            };
            tokio::time::timeout(self.confirm_wait, wait)
                .await
                .ok()
                .flatten()
                .or_else(check)
        })
    }
}

/// Learns the county's public progress-page URL once: asks `GET /v1/station` at start and,
/// while the county has not answered, again each time the outbox worker next reaches the
/// county (a heartbeat within `outbox.heartbeat_secs`), then stops. The one owner of the URL;
/// nobody else asks.
async fn learn_public_url(
    client: CountyClient,
    mut worker: Option<tokio::sync::watch::Receiver<crate::county::outbox::WorkerStatus>>,
    learned: tokio::sync::watch::Sender<Option<String>>,
) {
    loop {
        match client.hello().await {
            Ok(hello) => {
                tracing::info!(public_url = ?hello.public_url, "county's public progress page learned");
                learned.send_replace(hello.public_url);
                return;
            }
            Err(e) => tracing::debug!("public URL not learned yet: {e}"),
        }
        let Some(status) = worker.as_mut() else {
            return;
        };
        loop {
            if status.changed().await.is_err() {
                // The worker stopped: the station is shutting down.
                return;
            }
            if status.borrow_and_update().link_up {
                break;
            }
        }
    }
}

const STANDARD_PATH: [CaseStatus; 5] = [
    CaseStatus::Received,
    CaseStatus::Accepted,
    CaseStatus::InReview,
    CaseStatus::Approved,
    CaseStatus::ReadyForCollection,
];

/// A case's progress as timeline steps: done, the current one, those still to come.
pub fn steps_of(view: &CaseView) -> Vec<CaseStep> {
    let mut steps: Vec<CaseStep> = Vec::new();
    steps.push(CaseStep {
        kind: StepKind::AcceptedInVillage,
        note: None,
        at: None,
        state: StepState::Done,
    });
    let last = view.timeline.last().map(|e| e.status);
    for e in &view.timeline {
        steps.push(CaseStep {
            kind: StepKind::County(e.status),
            note: e
                .note
                .clone()
                .filter(|n| !n.is_empty())
                .map(|n| CountyText::new(n, e.note_en.clone())),
            at: Some(e.at),
            state: StepState::Done,
        });
    }
    let n = steps.len();
    if let Some(s) = steps.last_mut()
        && !view.status.is_final()
        && n > 1
    {
        s.state = StepState::Current;
    }
    if view.status != CaseStatus::Rejected {
        let reached = STANDARD_PATH
            .iter()
            .position(|s| Some(*s) == last)
            .map_or(0, |i| i + 1);
        for s in STANDARD_PATH.iter().skip(reached) {
            steps.push(CaseStep {
                kind: StepKind::County(*s),
                note: None,
                at: None,
                state: StepState::NotYet,
            });
        }
    }
    steps
}

/// The steps of a case only this kiosk knows: accepted here, uploaded (or waiting to be), the
/// county's standard path still to come.
fn local_steps(accepted_at: DateTime<Utc>, waiting: bool) -> Vec<CaseStep> {
    let mut steps = vec![
        CaseStep {
            kind: StepKind::AcceptedInVillage,
            note: None,
            at: Some(accepted_at),
            state: StepState::Done,
        },
        CaseStep {
            kind: StepKind::UploadToCounty,
            note: None,
            at: None,
            state: if waiting {
                StepState::Current
            } else {
                StepState::Done
            },
        },
    ];
    for s in STANDARD_PATH.iter().skip(1) {
        steps.push(CaseStep {
            kind: StepKind::County(*s),
            note: None,
            at: None,
            state: StepState::NotYet,
        });
    }
    steps
}

impl CountyLink for OutboxCounty {
    fn submit(&self, draft: &ApplicationDraft) -> Result<Submission, DeviceError> {
        let fields: BTreeMap<String, String> = draft
            .answers
            .iter()
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect();
        let phone = draft.contact_phone().map(str::to_owned);
        let app = NewApplication {
            item_code: draft.item_code.clone(),
            item_name: draft.item_name.clone(),
            applicant_name: draft.applicant_name.clone(),
            id_number: draft.id_number.clone(),
            phone,
            fields,
        };
        let now = Utc::now();
        let accepted = Outbox::accept_filed(
            &mut self.store(),
            app,
            Filing {
                card_key: Some(draft.card_key.clone()),
                agent: draft.agent.clone(),
                keep_phone: draft.keep_phone,
            },
            now,
            self.time_zone,
        )
        .map_err(store_error)?;
        let case_number = self.wait_confirmed(&accepted.receipt_number);
        let qr_payload = if case_number.is_some() {
            self.progress_url(&accepted.receipt_number)
        } else {
            String::new()
        };
        Ok(Submission {
            qr_payload,
            receipt_no: accepted.receipt_number,
            queued: case_number.is_none(),
            submitted_at: now.with_timezone(&self.time_zone).naive_local(),
            case_number,
        })
    }

    fn cases(&self, card: &IdCard) -> CasesReply {
        let local = match Outbox::cases_for_person(&self.store(), &card.id_number) {
            Ok(l) => l,
            Err(e) => {
                return CasesReply {
                    cases: Vec::new(),
                    county_error: Some(store_error(e)),
                    kept_phone: None,
                };
            }
        };
        let remote: Result<PersonCases, DeviceError> = match &self.client {
            Some(c) => self
                .rt
                .block_on(c.person_lookup_for_card(card))
                .map_err(county_unreachable),
            None => Err(county_unreachable("no county configured")),
        };
        let (remote, kept_phone, county_error) = match remote {
            Ok(r) => (r.cases, r.kept_phone, None),
            Err(e) => (Vec::new(), None, Some(e)),
        };
        // The item's first location; its English from the catalogue's translation.
        let location_of = |code: &str| {
            self.catalogue
                .item(code)
                .and_then(|i| {
                    let zh = i.locations.first()?.name.clone();
                    let en = i
                        .translated("en")
                        .locations
                        .first()
                        .map(|l| l.name.clone())
                        .filter(|en| *en != zh);
                    Some(CountyText::new(zh, en))
                })
                .unwrap_or_default()
        };
        let mut cases: Vec<CaseRecord> = Vec::new();
        for v in &remote {
            let collect = match &v.collection_window {
                Some(w) => {
                    Collection::Window(CountyText::new(w.clone(), v.collection_window_en.clone()))
                }
                None => Collection::NotifiedAt(location_of(&v.item_code)),
            };
            let submitted_at = local
                .iter()
                .find(|l| l.receipt_number == v.receipt_number)
                .map(|l| l.accepted_at)
                .or_else(|| v.timeline.first().map(|e| e.at));
            cases.push(CaseRecord {
                receipt_no: v.receipt_number.clone(),
                item_name: v.item_name.clone(),
                progress: CaseProgress::County(v.status),
                rejection_reason: v
                    .rejection_reason
                    .clone()
                    .map(|r| CountyText::new(r, v.rejection_reason_en.clone())),
                submitted_at,
                collect,
                steps: steps_of(v),
            });
        }
        for l in &local {
            if remote.iter().any(|v| v.receipt_number == l.receipt_number) {
                continue;
            }
            let waiting = l.case_number.is_none();
            let progress = match (waiting, l.status) {
                (true, _) => CaseProgress::WaitingForUpload,
                (false, Some(s)) => CaseProgress::County(s),
                (false, None) => CaseProgress::Uploaded,
            };
            cases.push(CaseRecord {
                receipt_no: l.receipt_number.clone(),
                item_name: l.item_name.clone(),
                progress,
                rejection_reason: None,
                submitted_at: Some(l.accepted_at),
                collect: Collection::NotifiedAt(location_of(&l.item_code)),
                steps: local_steps(l.accepted_at, waiting),
            });
        }
        CasesReply {
            cases,
            county_error,
            kept_phone,
        }
    }

    /// Queues the rating: for the case when the county has it, otherwise waiting in the store
    /// until the application is delivered (then sent after it, once).
    fn evaluate(&self, receipt_no: &str, level: u8) -> Result<(), DeviceError> {
        Outbox::evaluate_receipt(&mut self.store(), receipt_no, level, None, Utc::now())
            .map_err(store_error)?;
        if let Some(w) = self.worker().as_ref() {
            w.nudge();
        }
        Ok(())
    }
}
