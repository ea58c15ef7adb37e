//! The real implementations of the app's ports, and demo mode.
//!
//! - [`IndexedCatalogue`]: the catalogue with its pinyin search index (`catalog::search`).
//! - [`SerialReceiptPrinter`]: receipts and checklists on the ESC/POS printer (`printer`).
//! - [`OutboxCounty`]: applications through the store-and-forward outbox and its worker,
//!   progress and evaluations through the county client (`county`).
//! - [`forward_reader_events`]: the reader driver's events into the app (`idcard::reader`).
//! - [`DemoStation`]: demo mode: reader and printer simulators on pseudo-terminals, the
//!   reference back office embedded on loopback, the demo catalogue, a temporary data dir.
//!
//! Blocking calls here run on tokio's blocking pool (the controllers see to it). The outbox
//! is used only through `county::outbox`, never with SQL of our own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{Local, Utc};

use super::app::{EventSink, UiEvent};
use super::services::{
    Announcement, ApplicationDraft, CardEvent, CaseRecord, CaseStep, CasesReply, Catalogue,
    CountyLink, DemoCard, DemoCardHand, DeviceError, ReceiptInfo, ReceiptPrinter, Services,
    StepState, Submission,
};
use crate::backoffice::EmbeddedBackoffice;
use crate::catalog::search::SearchIndex;
use crate::catalog::{Catalog, Category, ServiceItem};
use crate::config::Config;
use crate::county::wire::{CaseStatus, CaseView};
use crate::county::{CountyAuth, CountyClient, NewApplication, Outbox};
use crate::idcard::CardKind;
use crate::idcard::reader::{ReaderEvent, ReaderHandle, ReaderSettings, spawn_reader};
use crate::printer::device::{PrintError, Printer, PrinterSettings};
use crate::printer::profile::{DEFAULT_PROFILE, PrinterProfile};
use crate::printer::receipt::{ApplicationReceipt, application_receipt, checklist};
use crate::printer::status::PaperState;
use crate::sim::idcard::{IdcardSimulator, SimOptions};
use crate::sim::printer::{PrinterSimulator, SimPrinterOptions};
use crate::store::Store;

// ---------------------------------------------------------------------------------------------
// Catalogue.

/// The catalogue and its search index. The index is built once, on a thread of its own, so
/// that start-up (the idle screen needs no catalogue) does not wait for it; the first call that
/// needs it before it is ready waits for it (or builds it, if the thread has not begun).
pub struct IndexedCatalogue {
    catalog: Arc<Catalog>,
    index: Arc<OnceLock<SearchIndex>>,
}

impl IndexedCatalogue {
    pub fn new(catalog: Catalog) -> Self {
        Self::shared(Arc::new(catalog))
    }

    /// The same for a catalogue shared with others (demo mode's back office).
    pub fn shared(catalog: Arc<Catalog>) -> Self {
        let index = Arc::new(OnceLock::new());
        let (c, i) = (catalog.clone(), index.clone());
        let spawned = std::thread::Builder::new()
            .name("catalogue-index".into())
            .spawn(move || {
                i.get_or_init(|| SearchIndex::build(&c.items));
            });
        if let Err(e) = spawned {
            tracing::warn!("search index built on first use: no thread for it ({e})");
        }
        Self { catalog, index }
    }

    fn index(&self) -> &SearchIndex {
        self.index
            .get_or_init(|| SearchIndex::build(&self.catalog.items))
    }

    fn items_at(&self, idx: &[usize]) -> Vec<ServiceItem> {
        idx.iter()
            .filter_map(|&i| self.catalog.items.get(i).cloned())
            .collect()
    }
}

impl Catalogue for IndexedCatalogue {
    fn county(&self) -> String {
        self.catalog.county.clone()
    }
    fn item(&self, code: &str) -> Option<ServiceItem> {
        self.catalog.items.iter().find(|i| i.code == code).cloned()
    }
    fn search(&self, query: &str, limit: usize) -> Vec<ServiceItem> {
        let idx: Vec<usize> = self
            .index()
            .search(query, limit)
            .into_iter()
            .map(|h| h.index)
            .collect();
        self.items_at(&idx)
    }
    fn by_category(&self, category: Category) -> Vec<ServiceItem> {
        self.items_at(self.index().by_category(category))
    }
    fn count_in(&self, category: Category) -> usize {
        self.index().by_category(category).len()
    }
    fn by_life_event(&self, event: &str) -> Vec<ServiceItem> {
        self.items_at(self.index().by_life_event(event))
    }
    fn life_events(&self) -> Vec<String> {
        self.index()
            .life_events()
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Printer.

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

/// Receipts and checklists on the ESC/POS receipt printer.
pub struct SerialReceiptPrinter {
    printer: Printer,
    station_name: String,
    complaint_phone: String,
}

impl SerialReceiptPrinter {
    pub fn new(printer: Printer, station_name: String, complaint_phone: String) -> Self {
        Self {
            printer,
            station_name,
            complaint_phone,
        }
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
        self.printer
            .print_blocking(application_receipt(&receipt))
            .map(|_| ())
            .map_err(|e| print_error(&e))
    }

    fn print_checklist(&self, item: &ServiceItem) -> Result<(), DeviceError> {
        self.printer
            .print_blocking(checklist(
                item,
                &self.station_name,
                Local::now().naive_local(),
            ))
            .map(|_| ())
            .map_err(|e| print_error(&e))
    }
}

// ---------------------------------------------------------------------------------------------
// County.

/// Applications through the outbox (durable before the screen says 已受理), progress and
/// evaluations through the county client.
pub struct OutboxCounty {
    store: Mutex<Store>,
    worker: Mutex<Option<crate::county::outbox::WorkerHandle>>,
    client: Option<CountyClient>,
    rt: tokio::runtime::Handle,
    catalogue: Arc<dyn Catalogue>,
    /// How long `submit` waits for the county's confirmation before saying 待上传.
    confirm_wait: Duration,
    progress_base: String,
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
        let worker = match &client {
            Some(c) => {
                let _guard = rt.enter();
                Some(
                    crate::county::spawn_worker(
                        store_path.to_path_buf(),
                        c.clone(),
                        crate::county::outbox::WorkerConfig::from_config(&config.outbox),
                    )
                    .map_err(store_error)?,
                )
            }
            None => None,
        };
        let progress_base = client
            .as_ref()
            .map(|c| format!("{}/v1/receipts/", c.base_url()))
            .unwrap_or_else(|| "https://zwfw.example.gov.cn/r/".to_owned());
        Ok(Self {
            store: Mutex::new(store),
            worker: Mutex::new(worker),
            client,
            rt,
            catalogue,
            confirm_wait: Duration::from_secs(5),
            progress_base,
        })
    }

    /// Changes how long a submission waits for the county before it says 待上传.
    pub fn with_confirm_wait(mut self, wait: Duration) -> Self {
        self.confirm_wait = wait;
        self
    }

    /// Stops the outbox worker after its current step (what is queued stays queued on disk).
    /// Call from outside the runtime, before the runtime is dropped.
    pub fn shutdown(&self) {
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = self.rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(5), w.shutdown()).await
                });
            } else {
                self.rt.spawn(w.shutdown());
            }
        }
    }

    fn worker(&self) -> std::sync::MutexGuard<'_, Option<crate::county::outbox::WorkerHandle>> {
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
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

impl OutboxCounty {
    /// Keeps the idle screen's announcements (公告栏) up to date on the runtime: first what the
    /// store kept (shown even with the extranet down), then every `every` whatever new the
    /// county published (verified against `trusted`, then kept), filtered for the wall clock
    /// each time so expired ones leave the screen. Runs until the runtime stops.
    pub fn start_noticeboard(
        self: &Arc<Self>,
        trusted: ed25519_dalek::VerifyingKey,
        every: Duration,
        sink: EventSink,
    ) {
        use crate::county::noticeboard;
        let this = self.clone();
        self.rt.spawn(async move {
            let (mut current, mut etag) = {
                let kept = noticeboard::stored(&this.store(), &trusted);
                match kept {
                    Ok(Some((a, e))) => (Some(a), e),
                    Ok(None) => (None, None),
                    Err(e) => {
                        tracing::warn!("kept announcements not shown: {e}");
                        (None, None)
                    }
                }
            };
            let mut last: Option<Vec<Announcement>> = None;
            let mut publish = |current: &Option<crate::county::wire::Announcements>| {
                let shown: Vec<Announcement> = current
                    .as_ref()
                    .map(|a| noticeboard::on_show(a, Utc::now()))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| Announcement {
                        title: a.title,
                        body: a.body,
                        date: a
                            .published_at
                            .with_timezone(&Local)
                            .format("%Y-%m-%d")
                            .to_string(),
                    })
                    .collect();
                if last.as_ref() != Some(&shown) {
                    sink.send(UiEvent::Announcements(shown.clone()));
                    last = Some(shown);
                }
            };
            publish(&current);
            loop {
                if let Some(client) = &this.client {
                    match noticeboard::fetch(client, &trusted, etag.as_deref()).await {
                        Ok(Some((fresh, bytes, new_etag))) => {
                            let kept = noticeboard::keep(
                                &this.store(),
                                &bytes,
                                new_etag.as_deref(),
                                Utc::now(),
                            );
                            if let Err(e) = kept {
                                tracing::warn!("announcements shown but not kept: {e}");
                            }
                            current = Some(fresh);
                            etag = new_etag;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("announcements not refreshed: {e}"),
                    }
                }
                publish(&current);
                tokio::time::sleep(every).await;
            }
        });
    }
}

const STANDARD_PATH: [CaseStatus; 5] = [
    CaseStatus::Received,
    CaseStatus::Accepted,
    CaseStatus::InReview,
    CaseStatus::Approved,
    CaseStatus::ReadyForCollection,
];

fn local_time(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

/// A case's progress as timeline steps: done, the current one, those still to come.
pub fn steps_of(view: &CaseView) -> Vec<CaseStep> {
    let mut steps: Vec<CaseStep> = Vec::new();
    steps.push(CaseStep {
        title: "村里已受理".into(),
        detail: String::new(),
        time: String::new(),
        state: StepState::Done,
    });
    let last = view.timeline.last().map(|e| e.status);
    for e in &view.timeline {
        steps.push(CaseStep {
            title: e.status.label_zh().into(),
            detail: e.note.clone().unwrap_or_default(),
            time: local_time(e.at),
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
                title: s.label_zh().into(),
                detail: String::new(),
                time: String::new(),
                state: StepState::NotYet,
            });
        }
    }
    steps
}

impl CountyLink for OutboxCounty {
    fn submit(&self, draft: &ApplicationDraft) -> Result<Submission, DeviceError> {
        let fields: BTreeMap<String, String> = draft
            .answers
            .iter()
            .map(|(k, _, v)| (k.clone(), v.clone()))
            .collect();
        let phone = fields.get("phone").cloned();
        let app = NewApplication {
            item_code: draft.item_code.clone(),
            item_name: draft.item_name.clone(),
            applicant_name: draft.applicant_name.clone(),
            id_number: draft.id_number.clone(),
            phone,
            fields,
        };
        let now = Utc::now();
        let accepted = Outbox::accept(&mut self.store(), app, now).map_err(store_error)?;
        let case_number = self.wait_confirmed(&accepted.receipt_number);
        Ok(Submission {
            qr_payload: format!("{}{}", self.progress_base, accepted.receipt_number),
            receipt_no: accepted.receipt_number,
            queued: case_number.is_none(),
            submitted_at: now.with_timezone(&Local).naive_local(),
            case_number,
        })
    }

    fn cases(&self, _kind: CardKind, id_number: &str) -> CasesReply {
        let local = match Outbox::cases_for_person(&self.store(), id_number) {
            Ok(l) => l,
            Err(e) => {
                return CasesReply {
                    cases: Vec::new(),
                    county_error: Some(store_error(e)),
                };
            }
        };
        let remote: Result<Vec<CaseView>, DeviceError> = match &self.client {
            Some(c) => self
                .rt
                .block_on(c.person_cases(id_number))
                .map_err(county_unreachable),
            None => Err(county_unreachable("no county configured")),
        };
        let (remote, county_error) = match remote {
            Ok(r) => (r, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let collect_of = |code: &str| {
            self.catalogue
                .item(code)
                .and_then(|i| i.locations.first().map(|l| l.name.clone()))
                .unwrap_or_default()
        };
        let mut cases: Vec<CaseRecord> = Vec::new();
        for v in &remote {
            let collect = match &v.collection_window {
                Some(w) => format!("结果领取：{w}"),
                None => format!("结果领取：{}（办好后会通知您）", collect_of(&v.item_code)),
            };
            let accepted_at = local
                .iter()
                .find(|l| l.receipt_number == v.receipt_number)
                .map(|l| local_time(l.accepted_at))
                .or_else(|| v.timeline.first().map(|e| local_time(e.at)))
                .unwrap_or_default();
            let mut status = v.status.label_zh().to_owned();
            if let Some(r) = &v.rejection_reason {
                status = format!("{status}（{r}）");
            }
            cases.push(CaseRecord {
                receipt_no: v.receipt_number.clone(),
                item_name: v.item_name.clone(),
                status,
                submitted_at: accepted_at,
                collect,
                steps: steps_of(v),
            });
        }
        for l in &local {
            if remote.iter().any(|v| v.receipt_number == l.receipt_number) {
                continue;
            }
            let waiting = l.case_number.is_none();
            let status = match (waiting, l.status) {
                (true, _) => "待上传".to_owned(),
                (false, Some(s)) => s.label_zh().to_owned(),
                (false, None) => "已上传".to_owned(),
            };
            let mut steps = vec![CaseStep {
                title: "村里已受理".into(),
                detail: String::new(),
                time: local_time(l.accepted_at),
                state: StepState::Done,
            }];
            steps.push(CaseStep {
                title: "上传到县里".into(),
                detail: if waiting {
                    "网络恢复后自动上传".into()
                } else {
                    String::new()
                },
                time: String::new(),
                state: if waiting {
                    StepState::Current
                } else {
                    StepState::Done
                },
            });
            for s in STANDARD_PATH.iter().skip(1) {
                steps.push(CaseStep {
                    title: s.label_zh().into(),
                    detail: String::new(),
                    time: String::new(),
                    state: StepState::NotYet,
                });
            }
            cases.push(CaseRecord {
                receipt_no: l.receipt_number.clone(),
                item_name: l.item_name.clone(),
                status,
                submitted_at: local_time(l.accepted_at),
                collect: format!("结果领取：{}（办好后会通知您）", collect_of(&l.item_code)),
                steps,
            });
        }
        CasesReply {
            cases,
            county_error,
        }
    }

    fn evaluate(&self, receipt_no: &str, level: u8) -> Result<(), DeviceError> {
        let case = Outbox::receipt(&self.store(), receipt_no)
            .map_err(store_error)?
            .and_then(|c| c.case_number)
            .ok_or_else(|| {
                DeviceError::new(
                    "申请还没有上传到县里，暂时不能评价；上传后可以在“查询我的办件”里再评价",
                    "The application has not reached the county yet; rate it later from \"my applications\"",
                    format!("receipt {receipt_no} has no case number yet"),
                )
            })?;
        Outbox::evaluate(&mut self.store(), &case, level, None, Utc::now()).map_err(store_error)?;
        if let Some(w) = self.worker().as_ref() {
            w.nudge();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Card reader.

fn card_event(e: ReaderEvent) -> CardEvent {
    match e {
        ReaderEvent::CardPlaced(card) => CardEvent::Placed(card),
        ReaderEvent::CardRejected(r) => CardEvent::Rejected {
            message_zh: r.message_zh().to_owned(),
            message_en: format!(
                "This card cannot be used ({r}). Please use a valid card or ask the staff."
            ),
        },
        ReaderEvent::CardLifted => CardEvent::Lifted,
        ReaderEvent::ReaderFault(s) => CardEvent::Fault(s),
        ReaderEvent::ReaderBack => CardEvent::Back,
    }
}

/// Starts the reader driver on `port` and forwards its events to the app.
pub fn forward_reader_events(
    port: &Path,
    rt: &tokio::runtime::Handle,
    sink: EventSink,
) -> ReaderHandle {
    let (handle, mut rx) = spawn_reader(ReaderSettings::new(port));
    rt.spawn(async move {
        while let Some(e) = rx.recv().await {
            sink.send(UiEvent::Card(card_event(e)));
        }
    });
    handle
}

/// Demo mode: puts the simulator's demo cards on the simulated reader.
pub struct SimCardHand {
    sim: Arc<IdcardSimulator>,
    placed: Mutex<bool>,
}

impl SimCardHand {
    pub fn new(sim: Arc<IdcardSimulator>) -> Self {
        Self {
            sim,
            placed: Mutex::new(false),
        }
    }

    /// Lifts the card and waits until the reader has polled the empty field, so it sees the
    /// next card as a new one.
    fn lift_and_wait(&self) {
        let requests = self.sim.watch_requests();
        self.sim.lift_card();
        // Two requests: the one in flight may have been answered with the card still there.
        for _ in 0..2 {
            if requests.recv_timeout(Duration::from_secs(3)).is_err() {
                break;
            }
        }
    }
}

impl DemoCardHand for SimCardHand {
    fn place(&self, card: DemoCard) -> Result<(), DeviceError> {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        if *placed {
            self.lift_and_wait();
        }
        self.sim.place_card(card.card());
        *placed = true;
        Ok(())
    }

    fn lift(&self) -> Result<(), DeviceError> {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        self.sim.lift_card();
        *placed = false;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Demo mode.

/// How demo mode starts; tests change the failure knobs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The simulated printer's paper state at start (e.g. `PaperEnd`).
    pub printer_state: PaperState,
    /// Start the embedded back office; when false the county link points at a closed port.
    pub county_reachable: bool,
    /// The catalogue (default: the demo catalogue).
    pub catalog: Option<Catalog>,
    /// How long a submission waits for the county before it says 待上传.
    pub confirm_wait: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            printer_state: PaperState::Ok,
            county_reachable: true,
            catalog: None,
            confirm_wait: Duration::from_secs(5),
        }
    }
}

/// Everything demo mode runs: simulators, back office, data directory. Dropping it stops them
/// and removes the data directory.
pub struct DemoStation {
    pub services: Services,
    pub county: Arc<OutboxCounty>,
    pub idcard_sim: Arc<IdcardSimulator>,
    pub printer_sim: Arc<PrinterSimulator>,
    pub backoffice: Option<EmbeddedBackoffice>,
    pub reader_port: PathBuf,
    pub data_dir: PathBuf,
}

impl Drop for DemoStation {
    fn drop(&mut self) {
        self.county.shutdown();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn demo_error(what: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        "演示模式启动失败",
        "Demo mode could not start",
        format!("{what}: {e}"),
    )
}

impl DemoStation {
    /// Starts the simulators, the back office and the outbox worker on `rt`.
    pub fn start(rt: &tokio::runtime::Handle, options: DemoOptions) -> Result<Self, DeviceError> {
        let config = Config::default();
        let data_dir = std::env::temp_dir().join(format!(
            "village-kiosk-demo-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&data_dir).map_err(|e| demo_error("data dir", e))?;
        let catalogue: Arc<dyn Catalogue> = Arc::new(IndexedCatalogue::shared(
            options
                .catalog
                .map(Arc::new)
                .unwrap_or_else(crate::catalog::demo::demo_catalog_shared),
        ));

        let idcard_sim = Arc::new(
            IdcardSimulator::start(SimOptions::default())
                .map_err(|e| demo_error("reader simulator", e))?,
        );
        let printer_sim = Arc::new(
            PrinterSimulator::start(SimPrinterOptions {
                state: options.printer_state,
                ..SimPrinterOptions::default()
            })
            .map_err(|e| demo_error("printer simulator", e))?,
        );
        let profile = PrinterProfile::builtin(DEFAULT_PROFILE)
            .map_err(|e| demo_error("printer profile", e))?;
        let printer = Printer::new(PrinterSettings {
            port: printer_sim.path().to_path_buf(),
            profile,
        });

        // The back office and the kiosk's store each create a database: side by side.
        let store_path = data_dir.join("kiosk.sqlite3");
        let backoffice_path = data_dir.join("backoffice.sqlite3");
        let (backoffice, store) = std::thread::scope(|s| {
            let backoffice = options
                .county_reachable
                .then(|| s.spawn(|| EmbeddedBackoffice::start(&backoffice_path)));
            let store = Store::open(&store_path).map_err(store_error);
            let backoffice = backoffice.map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::backoffice::BackofficeError::Thread(
                        "the back office start-up panicked".into(),
                    ))
                })
            });
            (backoffice, store)
        });
        let store = store?;
        let (backoffice, url, token) = if let Some(b) = backoffice {
            let b = b.map_err(|e| demo_error("back office", e))?;
            let url = b.url();
            let token = b.token().to_owned();
            (Some(b), url, token)
        } else {
            // A port nobody listens on: every request is refused, like a dead county link.
            let l =
                std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| demo_error("port", e))?;
            let addr = l.local_addr().map_err(|e| demo_error("port", e))?;
            drop(l);
            (
                None,
                format!("http://{addr}"),
                "demo-token-unreachable".to_owned(),
            )
        };
        let client = CountyClient::new(
            &url,
            CountyAuth::DemoToken {
                token,
                station_id: config.station.id.clone(),
            },
            Duration::from_secs(config.county.timeout_secs.max(1)),
        )
        .map_err(|e| demo_error("county client", e))?;
        let county = OutboxCounty::start_with_store(
            store,
            &store_path,
            Some(client),
            rt.clone(),
            catalogue.clone(),
            &config,
        )?
        .with_confirm_wait(options.confirm_wait);
        let county = Arc::new(county);

        let services = Services {
            catalogue,
            printer: Arc::new(SerialReceiptPrinter::new(
                printer,
                config.station.name.clone(),
                config.station.complaint_phone.clone(),
            )),
            county: county.clone(),
            demo_hand: Some(Arc::new(SimCardHand::new(idcard_sim.clone()))),
            station_name: config.station.name.clone(),
        };
        Ok(Self {
            services,
            county,
            reader_port: idcard_sim.path().to_path_buf(),
            idcard_sim,
            printer_sim,
            backoffice,
            data_dir,
        })
    }
}
