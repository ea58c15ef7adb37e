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

use slint::ComponentHandle;

use super::visit::Visit;
use super::{AppAdapter, MainWindow, NoticeKind, Page};
use crate::session::{Session, SessionRules, Stage, WipeReason};
use crate::station::ports::{
    Announcement, CardEvent, CasesReply, DeviceError, Services, Submission,
};
use crate::ui::l10n::Lang;

/// Where time comes from: the system clock in the app, a hand-driven one in tests.
pub trait Clock {
    fn now(&self) -> Instant;
    /// Wall-clock time for rules kept across restarts (the maintenance PIN lockout).
    fn utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand, so the inactivity rules run without sleeping. Its wall-clock
/// time moves with it.
pub struct ManualClock(
    std::cell::Cell<Instant>,
    Instant,
    chrono::DateTime<chrono::Utc>,
);

impl ManualClock {
    pub fn new() -> Self {
        let now = Instant::now();
        Self(std::cell::Cell::new(now), now, chrono::Utc::now())
    }
    pub fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.0.get()
    }
    fn utc(&self) -> chrono::DateTime<chrono::Utc> {
        let since = self.0.get().saturating_duration_since(self.1);
        self.2 + chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX)
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
    DemoHand(Result<(), DeviceError>),
    /// What the idle screen shows now (公告栏; see `county::noticeboard`).
    Announcements(Vec<Announcement>),
    /// The maintenance PIN was checked (off the UI thread); `Err` is plain Chinese.
    PinChecked(Result<crate::maintenance::PinVerdict, String>),
    /// A doctor run for the maintenance screen finished, with the details lines.
    DoctorDone(Box<crate::doctor::Report>, Vec<String>),
    /// The maintenance screen's test page.
    TestPagePrinted(Result<(), DeviceError>),
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
}

impl NoticeText {
    pub fn new(kind: NoticeKind, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            kind,
            zh: zh.into(),
            en: en.into(),
        }
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
        }
    }
}

/// Options the app starts with.
#[derive(Debug, Clone)]
pub struct KioskOptions {
    pub rules: SessionRules,
    pub lang: Lang,
    pub landscape: bool,
    pub large_text: bool,
    pub demo_mode: bool,
}

impl Default for KioskOptions {
    fn default() -> Self {
        Self {
            rules: SessionRules::default(),
            lang: Lang::Zh,
            landscape: false,
            large_text: false,
            demo_mode: true,
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
    /// The maintenance screen (维护界面): its setup and the technician's visit.
    pub desk: RefCell<super::desk::Desk>,
    pub(super) sink: EventSink,
    pub(super) events: mpsc::Receiver<UiEvent>,
}

impl Kiosk {
    /// Gives the maintenance screen what it needs (without it the screen stays closed).
    pub fn set_maintenance(&self, setup: super::desk::DeskSetup) {
        self.desk.borrow_mut().setup = Some(setup);
    }

    /// Where background tasks send their results.
    pub fn sink(&self) -> EventSink {
        self.sink.clone()
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
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
        let sh = self.shell.borrow();
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
