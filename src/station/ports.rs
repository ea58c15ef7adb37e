//! The ports the touchscreen app is built with: catalogue, card reader, printer, county link.
//!
//! The UI's controllers only see these traits; [`super::Station`] implements them with the real
//! drivers (demo mode: the simulators on pseudo-terminals and the embedded back office), and
//! tests use the same real parts configured for failure (printer out of paper, county
//! unreachable). Ports return typed data (statuses, steps, dates), never text formatted for one
//! UI language: the UI words it. Device and network calls are blocking and are always run on
//! tokio's blocking pool by the controllers, never on the UI thread. Nothing here touches SQLite.

use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop};

use chrono::{DateTime, Utc};

use crate::catalog::{Category, FieldKind, ServiceItem};
use crate::county::wire::CaseStatus;
use crate::idcard::{CardKind, IdCard};

/// The catalogue as the app needs it: items, search by pinyin, categories and life events.
pub trait Catalogue: Send + Sync {
    /// The publishing county, e.g. 示范县.
    fn county(&self) -> String;
    fn item(&self, code: &str) -> Option<ServiceItem>;
    /// Matches for what was typed (Chinese, full pinyin or pinyin initials), best first.
    fn search(&self, query: &str, limit: usize) -> Vec<ServiceItem>;
    fn by_category(&self, category: Category) -> Vec<ServiceItem>;
    /// How many items a category holds (the home tiles' "5 项"), without copying them.
    fn count_in(&self, category: Category) -> usize {
        self.by_category(category).len()
    }
    fn by_life_event(&self, event: &str) -> Vec<ServiceItem>;
    /// Life events (一件事), in display order.
    fn life_events(&self) -> Vec<String>;
}

/// An error from a device or the network, worded for the villager and for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct DeviceError {
    /// Plain Chinese for the screen, e.g. 打印机缺纸.
    pub message_zh: String,
    /// The same for the English UI.
    pub message_en: String,
    /// Precise English for logs.
    pub detail: String,
}

impl DeviceError {
    pub fn new(
        zh: impl Into<String>,
        en: impl Into<String>,
        detail: impl std::fmt::Display,
    ) -> Self {
        Self {
            message_zh: zh.into(),
            message_en: en.into(),
            detail: detail.to_string(),
        }
    }
}

/// What the receipt printer prints after a submission (受理回执). Nothing personal but the
/// masked name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptInfo {
    pub receipt_no: String,
    pub item_code: String,
    pub item_name: String,
    /// Masked (张*国).
    pub applicant_masked: String,
    pub submitted_at: chrono::NaiveDateTime,
    /// 待上传 when the county has not confirmed yet.
    pub queued: bool,
    /// What the QR code on the receipt encodes.
    pub qr_payload: String,
    pub promised_days: u32,
    /// 办件编号 once the county confirmed; `None` prints 待上传.
    pub case_number: Option<String>,
    /// Where to collect the result (结果领取).
    pub collect_at: String,
    /// Materials still to bring (须携带材料).
    pub materials_to_bring: Vec<String>,
    /// 帮办代办: who applied for the applicant (masked), printed under 申请人.
    pub agent: Option<crate::county::wire::Agent>,
}

/// The receipt printer.
pub trait ReceiptPrinter: Send + Sync {
    fn print_receipt(&self, receipt: &ReceiptInfo) -> Result<(), DeviceError>;
    /// 一次告知 checklist: what to bring for `item`.
    fn print_checklist(&self, item: &ServiceItem) -> Result<(), DeviceError>;
    /// The maintenance screen's test page (打印机测试页).
    fn print_test_page(&self) -> Result<(), DeviceError> {
        Err(DeviceError::new(
            "这台打印机不能打印测试页",
            "This printer cannot print a test page",
            "printer: no test page on this port",
        ))
    }
}

/// What the villager sends (exactly what the confirmation page shows).
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct ApplicationDraft {
    pub item_code: String,
    pub item_name: String,
    #[zeroize(skip)]
    pub card_kind: CardKind,
    pub applicant_name: String,
    pub id_number: String,
    /// In form order.
    pub answers: Vec<Answer>,
    /// 帮办代办: the helper who files for the applicant (masked already), or `None`.
    #[zeroize(skip)]
    pub agent: Option<crate::county::wire::Agent>,
    /// 同意保存联系电话: the applicant agreed on screen that the county keeps the contact phone
    /// to offer it next time.
    #[zeroize(skip)]
    pub keep_phone: bool,
    /// The card key (卡片密钥摘要, `county::client::card_key`) of the card read for this
    /// application: sent with it, so the county enrols the card for later lookups.
    pub card_key: String,
}

impl ApplicationDraft {
    /// The applicant's contact phone: the form's first phone field (every form has a required
    /// one; catalogue validation checks it).
    pub fn contact_phone(&self) -> Option<&str> {
        self.answers
            .iter()
            .find(|a| a.kind == FieldKind::Phone)
            .map(|a| a.value.as_str())
    }
}

/// One answer of an application form, as sent: dates as YYYY-MM-DD, choices as the county
/// publishes them, whatever the UI language.
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct Answer {
    /// The field's stable key, e.g. `bank_account`.
    pub key: String,
    /// The published (Chinese) label, e.g. 联系电话.
    pub label: String,
    /// The field's kind, as the catalogue defines it.
    #[zeroize(skip)]
    pub kind: FieldKind,
    pub value: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("key", &self.key)
            .field(
                "value",
                &format_args!("<{} chars>", self.value.chars().count()),
            )
            .finish()
    }
}

impl std::fmt::Debug for ApplicationDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::pii::Masked;
        f.debug_struct("ApplicationDraft")
            .field("item_code", &self.item_code)
            .field("applicant_name", &Masked::name(&self.applicant_name))
            .field("id_number", &Masked::id_number(&self.id_number))
            .field("answers", &self.answers.len())
            .finish()
    }
}

/// The application was accepted by the kiosk's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub receipt_no: String,
    /// Not yet confirmed by the county: 待上传 (it will be sent when the network is back).
    pub queued: bool,
    pub submitted_at: chrono::NaiveDateTime,
    pub qr_payload: String,
    /// 办件编号 when the county already confirmed.
    pub case_number: Option<String>,
}

/// A text the county wrote (a rejection reason, a collection window, a step's note) or the
/// catalogue names (a service location): the Chinese as published and its English form when
/// one was given. The English UI shows the English, else the Chinese: never an empty line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Zeroize)]
pub struct CountyText {
    pub zh: String,
    pub en: Option<String>,
}

impl CountyText {
    /// `zh` with its English `en` (an empty or blank English counts as none).
    pub fn new(zh: impl Into<String>, en: Option<String>) -> Self {
        CountyText {
            zh: zh.into(),
            en: en.filter(|e| !e.trim().is_empty()),
        }
    }

    /// Chinese only.
    pub fn zh(zh: impl Into<String>) -> Self {
        Self::new(zh, None)
    }

    /// In English when `english` and there is one, else the Chinese.
    pub fn text(&self, english: bool) -> &str {
        match (&self.en, english) {
            (Some(en), true) => en,
            _ => &self.zh,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.zh.is_empty()
    }
}

/// Which step of a case's progress (办件进度) a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// 村里已受理: the kiosk's outbox accepted it.
    AcceptedInVillage,
    /// 上传到县里: the outbox delivers it to the county.
    UploadToCounty,
    /// A status the county reported (or will report).
    County(CaseStatus),
}

/// One step of a case's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStep {
    pub kind: StepKind,
    /// The county's note on this step, as published (with its English when given).
    pub note: Option<CountyText>,
    /// When the step was reached (`None` for steps still to come).
    pub at: Option<DateTime<Utc>>,
    pub state: StepState,
}

/// Where a step stands on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    Current,
    NotYet,
}

/// Where a case stands, as far as this kiosk knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseProgress {
    /// 待上传: accepted here, not yet confirmed by the county.
    WaitingForUpload,
    /// 已上传: confirmed by the county, no status reported yet.
    Uploaded,
    /// The county's status.
    County(CaseStatus),
}

/// 结果领取: where the result is collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collection {
    /// The window the county named (待领取), with its English when staff gave one.
    Window(CountyText),
    /// The item's first service location (empty when unknown; its English from the
    /// catalogue's `translations.en`); the villager is told when the result is ready.
    NotifiedAt(CountyText),
}

impl Collection {
    /// The place, whichever kind.
    pub fn place(&self) -> &CountyText {
        match self {
            Collection::Window(p) | Collection::NotifiedAt(p) => p,
        }
    }
}

/// 办件: one of the villager's cases as the county (or, without it, the outbox) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub receipt_no: String,
    pub item_name: String,
    pub progress: CaseProgress,
    /// Why the county rejected it, as published (with its English when given).
    pub rejection_reason: Option<CountyText>,
    /// When the kiosk accepted it.
    pub submitted_at: Option<DateTime<Utc>>,
    pub collect: Collection,
    pub steps: Vec<CaseStep>,
}

/// What a cases query found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CasesReply {
    pub cases: Vec<CaseRecord>,
    pub county_error: Option<DeviceError>,
    /// The phone the county kept from the person's last application (they consented), to be
    /// offered masked on the form.
    pub kept_phone: Option<String>,
}

/// The county link: submit through the outbox, query cases, send evaluations.
pub trait CountyLink: Send + Sync {
    /// Stores the application durably and tries to send it; `queued` when the county did not
    /// confirm it yet. Errors only when the kiosk could not even store it.
    fn submit(&self, draft: &ApplicationDraft) -> Result<Submission, DeviceError>;
    /// The person's cases: those this kiosk accepted, with the county's progress when it can
    /// be reached (`county_error` says why not).
    /// `card`: the card on the reader now; the county lookup needs it (card-proof lookup).
    fn cases(&self, card: &IdCard) -> CasesReply;
    /// 好差评: level 1 (非常不满意) to 5 (非常满意).
    fn evaluate(&self, receipt_no: &str, level: u8) -> Result<(), DeviceError>;
}

/// The demo cards the simulator can place (居民身份证, 港澳台居民居住证, 外国人永久居留身份证, and an
/// expired card), to place on the simulated reader: one list for `kiosk sim idcard --demo` and the demo-mode card page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoCard {
    Resident,
    HkMacaoTaiwan,
    ForeignPermanent,
    Expired,
}

impl DemoCard {
    /// Parses the kebab-case name (`resident`, `hk-macao-taiwan`, `foreign-permanent`, `expired`).
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).ok()
    }
}

/// Demo mode only: the hand that puts the simulator's demo cards on the reader.
pub trait DemoCardHand: Send + Sync {
    fn place(&self, card: DemoCard) -> Result<(), DeviceError>;
    fn lift(&self) -> Result<(), DeviceError>;
}

/// What the card reader reports (mirrors the reader driver's events).
// A card is the big variant, and events are rare: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CardEvent {
    Placed(IdCard),
    /// The card was read but cannot be used (expired, unreadable, unknown kind).
    Rejected {
        message_zh: String,
        message_en: String,
    },
    Lifted,
    Fault(String),
    Back,
}

/// A county announcement (政策公告) on the idle screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub title: String,
    pub body: String,
    pub published_at: DateTime<Utc>,
}

/// What installing a synchronised catalogue changed (目录更新), for the log and the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueChange {
    /// The version in use before; `None` when none was installed.
    pub previous: Option<u64>,
    pub version: u64,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

/// Catalogue sync as the app sees it (`county::sync`): a verified newer catalogue waits until
/// a visit has ended. Installing it is two steps so the screen never changes in the middle of a
/// visit: [`CatalogueUpdates::install_pending`] (blocking: one SQLite transaction and the new
/// search index, run on the blocking pool) and [`CatalogueUpdates::put_in_use`] (a pointer
/// swap, on the UI thread, only while nobody is at the kiosk).
pub trait CatalogueUpdates: Send + Sync {
    /// Whether a verified catalogue waits to be installed.
    fn pending(&self) -> bool;
    /// Installs the waiting catalogue in the store and builds its search index; the screen
    /// keeps the old one until [`CatalogueUpdates::put_in_use`]. `Ok(None)`: nothing waits.
    fn install_pending(&self) -> Result<Option<CatalogueChange>, DeviceError>;
    /// Whether an installed catalogue waits to be shown.
    fn ready(&self) -> bool;
    /// Shows the installed catalogue from now on (search, lists, guides). Returns its version,
    /// `None` when nothing was ready.
    fn put_in_use(&self) -> Option<u64>;
}

/// 软件更新 between visits (issue 12 part 4): a software update that the update timer
/// downloaded and verified is installed into the inactive root slot only while nobody is at the
/// kiosk, then the terminal reboots into it (A/B slots with boot counting, ARCHITECTURE.md).
/// Both calls block (a root filesystem is written and read back; `systemctl reboot`): run them
/// on the blocking pool.
pub trait SoftwareUpdates: Send + Sync {
    /// Installs the downloaded and verified update, if one waits. `Ok(Some(version))`: it is
    /// in the inactive slot with its counted boot entry; `Ok(None)`: nothing waits.
    fn install_verified(&self) -> Result<Option<String>, DeviceError>;
    /// Boots into the installed update.
    fn reboot(&self) -> Result<(), DeviceError>;
}

/// The social security card reader (社保卡读卡器): the bank account read from the card the
/// villager inserts. Blocking (waits for the card up to the profile's `insert_wait_ms`): call it
/// on the blocking pool. The screen's words for a failure are the error's `message_zh`/`_en`.
pub trait BankCardReader: Send + Sync {
    fn read_account(&self) -> Result<crate::sscard::BankAccount, crate::sscard::SsCardError>;
}

/// Everything the app is built with.
#[derive(Clone)]
pub struct Services {
    pub catalogue: Arc<dyn Catalogue>,
    pub printer: Arc<dyn ReceiptPrinter>,
    pub county: Arc<dyn CountyLink>,
    /// Present in demo mode: shows the "place demo card" buttons.
    pub demo_hand: Option<Arc<dyn DemoCardHand>>,
    /// Where the maintenance PIN's hash and its lockout are: 帮办员模式 opens with that PIN
    /// through `maintenance::verify_maintenance_pin`, sharing the maintenance screen's
    /// lockout; `None`: no coordinator mode here.
    pub coordinator_pin: Option<crate::maintenance::MaintenancePaths>,
    pub station_name: String,
    /// Catalogue sync; `None` without a county link.
    pub updates: Option<Arc<dyn CatalogueUpdates>>,
    /// Software updates installed between visits; `None` without a release key.
    pub software: Option<Arc<dyn SoftwareUpdates>>,
    /// The social security card reader; `None` when none is configured (`sscard.port`): the
    /// bank account is typed.
    pub bank_card: Option<Arc<dyn BankCardReader>>,
}
