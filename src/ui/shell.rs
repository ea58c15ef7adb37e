//! The shell's vocabulary, below every page controller: [`Kiosk`] (window, ports, clock, the
//! shell's own state and the current [`Visit`]), the [`UiEvent`]s background work sends back,
//! [`Next`] (what a controller asks the shell to do next) and the [`Clock`].
//!
//! Page controllers import this module and [`super::visit`], never each other and never
//! [`super::app`]: a controller changes its own part of the visit, renders its own adapter and
//! returns a [`Next`]; the shell ([`Kiosk::act`], in `app`) navigates, wipes and runs the next
//! page's entry. So there is no import circle between the shell and the pages.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use slint::ComponentHandle;

use super::visit::Visit;
use super::{AppAdapter, MainWindow, NoticeKind, Page};
use crate::session::{Session, SessionRules, Stage, WipeReason};
use crate::station::ports::{
    Announcement, CardEvent, CasesReply, CatalogueChange, DeviceError, Services, Submission,
};
use crate::ui::l10n::Lang;

/// Where time comes from: the system clock in the app, a hand-driven one in tests.
pub trait Clock {
    /// For the session's inactivity rules.
    fn now(&self) -> Instant;
    /// The wall clock, for the days a person sees (card expiry), taken in the station's zone.
    fn utc_now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn utc_now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand, so the inactivity rules run without sleeping; both its
/// instants and its wall clock move together.
pub struct ManualClock {
    instant: std::cell::Cell<Instant>,
    wall: std::cell::Cell<DateTime<Utc>>,
}

impl ManualClock {
    /// Starts at the real time.
    pub fn new() -> Self {
        Self::at(Utc::now())
    }
    /// Starts with the wall clock at `wall`.
    pub fn at(wall: DateTime<Utc>) -> Self {
        Self {
            instant: std::cell::Cell::new(Instant::now()),
            wall: std::cell::Cell::new(wall),
        }
    }
    pub fn advance(&self, by: Duration) {
        self.instant.set(self.instant.get() + by);
        self.wall
            .set(self.wall.get() + chrono::Duration::from_std(by).unwrap_or_default());
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.instant.get()
    }
    fn utc_now(&self) -> DateTime<Utc> {
        self.wall.get()
    }
}

/// Results of background work, handled on the UI thread. Results of a visit's own work carry
/// its number ([`Visit::number`]); the shell drops them when that visit is over.
#[derive(Debug)]
pub enum UiEvent {
    Card(CardEvent),
    ChecklistPrinted {
        visit: u64,
        result: Result<(), DeviceError>,
    },
    Submitted {
        visit: u64,
        result: Result<Submission, DeviceError>,
    },
    ReceiptPrinted {
        visit: u64,
        result: Result<(), DeviceError>,
    },
    Cases {
        visit: u64,
        result: CasesReply,
    },
    Evaluated {
        visit: u64,
        result: Result<(), DeviceError>,
    },
    /// The phone the county kept for the card's holder (联系电话留存), for the form.
    KeptPhone {
        visit: u64,
        phone: Option<zeroize::Zeroizing<String>>,
    },
    /// The bank account read from the social security card (or why not), for the form.
    BankAccount {
        visit: u64,
        result: Result<crate::sscard::BankAccount, crate::sscard::SsCardError>,
    },
    /// The verdict on the typed coordinator PIN (帮办员模式), from the maintenance PIN's
    /// lockout gate; `Err`: the screen's Chinese for a gate that cannot be used.
    CoordinatorPin {
        visit: u64,
        verdict: Result<crate::maintenance::PinVerdict, String>,
    },
    /// The cases of a card placed on the idle or home screen (办件提醒).
    Results {
        visit: u64,
        result: CasesReply,
    },
    DemoHand(Result<(), DeviceError>),
    /// What the idle screen shows now (公告栏; see `county::noticeboard`).
    Announcements(Vec<Announcement>),
    /// Sync holds a newer verified catalogue (installed when nobody is at the kiosk).
    CataloguePending,
    /// A synchronised catalogue was installed in the store (or not), to be shown from the
    /// next idle screen.
    CatalogueInstalled(Result<Option<CatalogueChange>, DeviceError>),
    /// The update timer left a downloaded, verified software update (installed between visits).
    SoftwarePending,
    /// A software update was installed in the inactive slot (`Some(version)`), or none waited.
    SoftwareInstalled(Result<Option<String>, DeviceError>),
    /// The reboot into an installed update was asked for (or failed).
    SoftwareRebooting(Result<(), DeviceError>),
    /// The maintenance PIN was checked (off the UI thread); `Err` is plain Chinese.
    PinChecked(Result<crate::maintenance::PinVerdict, String>),
    /// A doctor run for the maintenance screen finished, with the details lines.
    DoctorDone(Box<crate::doctor::Report>, Vec<String>),
    /// The maintenance screen's test page.
    TestPagePrinted(Result<(), DeviceError>),
    /// The maintenance screen's volume was kept for the next start (`Err`: why not, English).
    VolumeSaved(Result<(), String>),
}

/// Sends [`UiEvent`]s from any thread to the UI thread.
#[derive(Clone)]
pub struct EventSink {
    pub(super) tx: mpsc::Sender<UiEvent>,
    pub(super) wake: Arc<dyn Fn() + Send + Sync>,
}

impl EventSink {
    pub fn send(&self, event: UiEvent) {
        if self.tx.send(event).is_ok() {
            (self.wake)();
        }
    }
}

/// A notice on top of the page, in both languages.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeText {
    pub kind: NoticeKind,
    pub zh: String,
    pub en: String,
    /// Shown only on this page: dropped when the villager moves on (e.g. 「材料清单已打印」
    /// belongs to the guide, not to the form after it). `None`: until dismissed or replaced.
    pub only_on: Option<Page>,
}

impl NoticeText {
    pub fn new(kind: NoticeKind, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            kind,
            zh: zh.into(),
            en: en.into(),
            only_on: None,
        }
    }

    /// The notice belongs to `page` only and goes when another page is shown.
    pub fn only_on(mut self, page: Page) -> Self {
        self.only_on = Some(page);
        self
    }
}

/// What a controller asks the shell to do after it changed its own state. Controllers never
/// call each other: they return one of these and [`Kiosk::act`] carries it out.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing more (the controller rendered its own page if it changed).
    Stay,
    /// Forward to a page, remembered for 返回; the page's entry runs (the form is prepared
    /// from the card, the cases are asked for, the receipt is printed).
    Show(Page),
    /// Forward to a page without remembering the current one; the page's entry runs.
    Replace(Page),
    /// 返回.
    Back,
    /// Starts a visit from the idle screen: home, then `then` (remembered) if given.
    Start(Option<Page>),
    /// Forgets everything personal and keeps the visit on the current page.
    Forget(WipeReason),
    /// Forgets everything personal and the 返回 history, then shows `page` (its entry runs)
    /// with `notice` (or none): 首页, a card lifted from a personal page, a submission.
    Fresh {
        reason: WipeReason,
        page: Page,
        notice: Option<NoticeText>,
    },
    /// Ends the visit: a new, empty [`Visit`], the session wiped, the idle screen.
    Wipe(WipeReason),
    /// Spoken guidance at this volume (0-100) from its next utterance (the maintenance
    /// screen's 音量); the page stays.
    Volume(u8),
}

/// What the shell keeps besides the visit: the session (the only place the card and the
/// answers live), language, page, 返回 history, notice, the idle screen's announcements.
pub struct Shell {
    pub session: Session,
    pub lang: Lang,
    pub page: Page,
    pub history: Vec<Page>,
    pub notice: Option<NoticeText>,
    /// The county's announcements on the idle screen (not personal; kept across visits).
    pub announcements: Vec<Announcement>,
    /// 帮办员模式: the coordinator (masked) every application carries as its agent, kept across
    /// visits until the coordinator leaves the mode or the inactivity wipe.
    pub coordinator: Option<crate::county::wire::Agent>,
    /// 软件更新: the version installed in the inactive slot, waiting for the reboot until nobody
    /// is at the kiosk; `installing` while the install runs on the blocking pool.
    pub software: SoftwareStep,
}

/// Where a software update is between visits (see `ui::updates`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SoftwareStep {
    #[default]
    Idle,
    /// Being written to the inactive slot (blocking pool).
    Installing,
    /// In the inactive slot; the terminal reboots into it when nobody is at the kiosk.
    Installed(String),
    /// The reboot was asked for; nothing more is started.
    Rebooting,
}

impl Shell {
    pub(super) fn new(rules: SessionRules, lang: Lang) -> Self {
        Self {
            session: Session::new(rules),
            lang,
            page: Page::Idle,
            history: Vec::new(),
            notice: None,
            announcements: Vec::new(),
            coordinator: None,
            software: SoftwareStep::Idle,
        }
    }
}

/// 语音播报 as the shell sees it: the speaker (none: voice off, no 「听」 button) and what it
/// was last told. Driven by `ui::speech`; the shell only calls its hooks.
#[derive(Default)]
pub struct SpeechLink {
    pub speaker: Option<Rc<dyn crate::voice::Speaker>>,
    /// The page the speaker was last told about; `None` after a wipe.
    pub told: Option<Page>,
    /// 0-100, as last set (config, then the maintenance screen).
    pub volume: u8,
}

/// Options the app starts with.
#[derive(Debug, Clone)]
pub struct KioskOptions {
    pub rules: SessionRules,
    pub lang: Lang,
    pub landscape: bool,
    pub large_text: bool,
    pub demo_mode: bool,
    /// `station.time_zone`: the zone of every day a person sees (card expiry).
    pub time_zone: chrono_tz::Tz,
}

impl Default for KioskOptions {
    fn default() -> Self {
        Self {
            rules: SessionRules::default(),
            lang: Lang::Zh,
            landscape: false,
            large_text: false,
            demo_mode: true,
            time_zone: crate::county::outbox::DEFAULT_TIME_ZONE,
        }
    }
}

/// The running app: window, ports, clock, the shell's state and the current visit. Built by
/// `Kiosk::new` (in `app`), which also defines the shell's actions ([`Kiosk::act`]).
pub struct Kiosk {
    pub window: MainWindow,
    pub services: Services,
    pub rt: tokio::runtime::Handle,
    pub clock: Rc<dyn Clock>,
    pub shell: RefCell<Shell>,
    /// Each page's own state for this visit; replaced whole when personal data is forgotten.
    pub visit: RefCell<Visit>,
    pub demo_mode: bool,
    /// `station.time_zone`.
    pub time_zone: chrono_tz::Tz,
    /// Spoken guidance (`ui::speech`); no speaker until one is attached.
    pub speech: RefCell<SpeechLink>,
    /// The maintenance screen (维护界面): its setup and the technician's visit.
    pub desk: RefCell<super::desk::Desk>,
    /// County staff's remote requests (远程请求), answered from [`Kiosk::tick`]; `None`: not
    /// answered (tests that drive `ui::remote` themselves).
    pub remote: RefCell<Option<super::remote::RemoteSetup>>,
    pub(super) sink: EventSink,
    pub(super) events: mpsc::Receiver<UiEvent>,
}

impl Kiosk {
    /// Gives the maintenance screen what it needs (without it the screen stays closed).
    pub fn set_maintenance(&self, setup: super::desk::DeskSetup) {
        self.desk.borrow_mut().setup = Some(setup);
    }

    /// Has the shell answer county staff's remote requests on every [`Kiosk::tick`].
    pub fn set_remote(&self, setup: super::remote::RemoteSetup) {
        *self.remote.borrow_mut() = Some(setup);
    }

    /// Where background tasks send their results.
    pub fn sink(&self) -> EventSink {
        self.sink.clone()
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Today in the station's time zone, from the shell's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock
            .utc_now()
            .with_timezone(&self.time_zone)
            .date_naive()
    }

    pub fn lang(&self) -> Lang {
        self.shell.borrow().lang
    }

    pub fn page(&self) -> Page {
        self.shell.borrow().page
    }

    /// The current visit's number, for background jobs.
    pub fn visit_number(&self) -> u64 {
        self.visit.borrow().number
    }

    pub fn stage(&self) -> Stage {
        self.shell.borrow().session.stage()
    }

    /// Any touch on a control.
    pub fn touched(&self) {
        let now = self.now();
        {
            let mut sh = self.shell.borrow_mut();
            if sh.session.stage() != Stage::Idle {
                sh.session.touch(now);
            }
        }
        self.window
            .global::<AppAdapter>()
            .set_warning_visible(false);
    }

    /// Runs `job` on tokio's blocking pool and sends what it returns to the UI thread.
    pub fn spawn_blocking<F>(&self, job: F)
    where
        F: FnOnce() -> UiEvent + Send + 'static,
    {
        let sink = self.sink();
        self.rt.spawn_blocking(move || sink.send(job()));
    }

    pub fn set_notice(&self, notice: NoticeText) {
        self.shell.borrow_mut().notice = Some(notice);
        self.render_notice();
    }

    pub fn clear_notice(&self) {
        self.shell.borrow_mut().notice = None;
        self.render_notice();
    }

    pub(super) fn render_notice(&self) {
        let a = self.window.global::<AppAdapter>();
        let mut sh = self.shell.borrow_mut();
        let page = sh.page;
        if sh
            .notice
            .as_ref()
            .is_some_and(|n| n.only_on.is_some_and(|p| p != page))
        {
            sh.notice = None;
        }
        match &sh.notice {
            Some(n) => {
                a.set_notice_kind(n.kind);
                a.set_notice(sh.lang.pick(n.zh.clone(), n.en.clone()).into());
            }
            None => {
                a.set_notice_kind(NoticeKind::None);
                a.set_notice("".into());
            }
        }
    }
}

/// Opens an item's guide (from search, a list, or a tile): the item becomes the visit's.
pub fn open_item(k: &Kiosk, code: &str) -> Next {
    match k.services.catalogue.item(code) {
        Some(item) => {
            k.visit.borrow_mut().item = Some(item);
            Next::Show(Page::Guide)
        }
        None => Next::Stay,
    }
}

/// Registers a callback on an adapter with a weak reference to the kiosk; the body returns
/// the [`Next`] the shell carries out.
#[macro_export]
#[doc(hidden)]
macro_rules! on {
    ($k:expr, $adapter:ty, $setter:ident, |$kk:ident $(, $arg:ident)*| $body:expr) => {{
        let weak = std::rc::Rc::downgrade($k);
        $k.window.global::<$adapter>().$setter(move |$($arg),*| {
            if let Some($kk) = weak.upgrade() {
                let $kk: &$crate::ui::Kiosk = &$kk;
                let next: $crate::ui::shell::Next = $body;
                $kk.act(next);
            }
        });
    }};
}
