//! The kiosk shell: builds the window and every page controller, owns the visit's state,
//! navigates (with 返回 history and 首页), runs the session clock, wipes, switches language and
//! large text, and receives the results of background work.
//!
//! Background work (reader, printer, county) runs on tokio and reports [`UiEvent`]s through an
//! [`EventSink`]; the event loop handles them on the UI thread. A result from an earlier visit
//! is dropped (each job carries its visit number), so nothing personal reappears after a wipe.
//! Must never block the UI thread and never hold personal data outside the [`Session`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slint::ComponentHandle;

use super::{AppAdapter, MainWindow, NoticeKind, Page, Theme};
use super::{
    card, cases, confirm, evaluation, form, guide, home, idle, item_list, search, submitted,
};
use crate::catalog::{Category, ServiceItem};
use crate::session::validate::FieldProblem;
use crate::session::{Session, SessionRules, Stage, Tick, WipeReason};
use crate::station::ports::{
    CardEvent, CaseRecord, CasesReply, DeviceError, ReceiptInfo, Services, Submission,
};
use crate::ui::l10n::Lang;

/// Where time comes from: the system clock in the app, a hand-driven one in tests.
pub trait Clock {
    fn now(&self) -> Instant;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand, so the inactivity rules run without sleeping.
pub struct ManualClock(std::cell::Cell<Instant>);

impl ManualClock {
    pub fn new() -> Self {
        Self(std::cell::Cell::new(Instant::now()))
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
}

/// Results of background work, handled on the UI thread.
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
    Announcements(Vec<crate::station::ports::Announcement>),
}

/// Sends [`UiEvent`]s from any thread to the UI thread.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<UiEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl EventSink {
    pub fn send(&self, event: UiEvent) {
        if self.tx.send(event).is_ok() {
            (self.wake)();
        }
    }
}

/// Why the card page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardPurpose {
    Apply,
    Cases,
}

/// What an item list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListContext {
    Category(Category),
    LifeEvent(String),
}

/// The receipt's printing on the submitted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintState {
    Printing,
    Printed,
    Failed(DeviceError),
}

/// A notice on top of the page, in both languages.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeText {
    pub kind: NoticeKind,
    pub zh: String,
    pub en: String,
}

/// Everything about the current visit besides the personal data in [`Session`].
pub struct State {
    pub session: Session,
    pub visit: u64,
    pub lang: Lang,
    pub page: Page,
    pub history: Vec<Page>,
    pub notice: Option<NoticeText>,
    pub list: Option<ListContext>,
    pub query: String,
    pub item: Option<ServiceItem>,
    pub checklist_printing: bool,
    pub card_purpose: CardPurpose,
    pub card_error: Option<(String, String)>,
    pub card_reading: bool,
    pub active_field: i32,
    pub composing: String,
    pub field_errors: Vec<Option<FieldProblem>>,
    pub form_summary_error: bool,
    pub consent: bool,
    pub sending: bool,
    pub submit_error: Option<DeviceError>,
    pub submission: Option<(Submission, ReceiptInfo)>,
    pub print: PrintState,
    pub rated: bool,
    pub rating_message: Option<(bool, String, String)>,
    pub cases_loading: bool,
    pub cases: Vec<CaseRecord>,
    pub cases_error: Option<DeviceError>,
    pub cases_applicant: String,
    /// The county's announcements on the idle screen (not personal; kept across visits).
    pub announcements: Vec<crate::station::ports::Announcement>,
}

impl State {
    fn new(rules: SessionRules, lang: Lang) -> Self {
        Self {
            session: Session::new(rules),
            visit: 0,
            lang,
            page: Page::Idle,
            history: Vec::new(),
            notice: None,
            list: None,
            query: String::new(),
            item: None,
            checklist_printing: false,
            card_purpose: CardPurpose::Apply,
            card_error: None,
            card_reading: false,
            active_field: -1,
            composing: String::new(),
            field_errors: Vec::new(),
            form_summary_error: false,
            consent: false,
            sending: false,
            submit_error: None,
            submission: None,
            print: PrintState::Printing,
            rated: false,
            rating_message: None,
            cases_loading: false,
            cases: Vec::new(),
            cases_error: None,
            cases_applicant: String::new(),
            announcements: Vec::new(),
        }
    }

    /// Forgets everything of the visit that could be personal (the session wipes itself).
    fn forget_visit(&mut self) {
        self.visit += 1;
        self.card_error = None;
        self.card_reading = false;
        self.active_field = -1;
        self.composing.clear();
        self.field_errors.clear();
        self.form_summary_error = false;
        self.consent = false;
        self.sending = false;
        self.submit_error = None;
        self.cases_loading = false;
        self.cases.clear();
        self.cases_error = None;
        self.cases_applicant.clear();
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

/// The running app: window, services, state.
pub struct Kiosk {
    pub window: MainWindow,
    pub services: Services,
    pub rt: tokio::runtime::Handle,
    pub clock: Rc<dyn Clock>,
    pub state: RefCell<State>,
    pub demo_mode: bool,
    sink: EventSink,
    events: mpsc::Receiver<UiEvent>,
}

impl Kiosk {
    /// Builds the window and every controller. `wake` is called (from any thread) after an
    /// event was queued; the app passes one that schedules [`Kiosk::drain_events`] on the
    /// event loop, tests pass a no-op and call [`Kiosk::wait_event`].
    pub fn new(
        services: Services,
        rt: tokio::runtime::Handle,
        clock: Rc<dyn Clock>,
        options: KioskOptions,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Rc<Self>, slint::PlatformError> {
        let window = MainWindow::new()?;
        let (tx, rx) = mpsc::channel();
        let kiosk = Rc::new(Self {
            window,
            services,
            rt,
            clock,
            state: RefCell::new(State::new(options.rules, options.lang)),
            demo_mode: options.demo_mode,
            sink: EventSink { tx, wake },
            events: rx,
        });
        let w = &kiosk.window;
        w.global::<Theme>().set_landscape(options.landscape);
        w.global::<Theme>().set_large_text(options.large_text);
        w.global::<AppAdapter>().set_demo_mode(options.demo_mode);
        w.global::<AppAdapter>()
            .set_station_name(kiosk.services.station_name.clone().into());
        Self::setup_shell(&kiosk);
        idle::setup(&kiosk);
        home::setup(&kiosk);
        search::setup(&kiosk);
        item_list::setup(&kiosk);
        guide::setup(&kiosk);
        card::setup(&kiosk);
        form::setup(&kiosk);
        confirm::setup(&kiosk);
        submitted::setup(&kiosk);
        evaluation::setup(&kiosk);
        cases::setup(&kiosk);
        // The adapters' placeholder values (for the Slint preview) never reach the screen.
        kiosk.clear_personal_adapters();
        submitted::clear(&kiosk.window);
        kiosk.apply_language();
        kiosk.render_all();
        Ok(kiosk)
    }

    /// Where background tasks send their results.
    pub fn sink(&self) -> EventSink {
        self.sink.clone()
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn lang(&self) -> Lang {
        self.state.borrow().lang
    }

    pub fn page(&self) -> Page {
        self.state.borrow().page
    }

    fn setup_shell(k: &Rc<Self>) {
        let a = k.window.global::<AppAdapter>();
        let weak = Rc::downgrade(k);
        a.on_back(move || {
            if let Some(k) = weak.upgrade() {
                k.back();
            }
        });
        let weak = Rc::downgrade(k);
        a.on_home(move || {
            if let Some(k) = weak.upgrade() {
                k.home();
            }
        });
        let weak = Rc::downgrade(k);
        a.on_toggle_language(move || {
            if let Some(k) = weak.upgrade() {
                let next = match k.lang() {
                    Lang::Zh => Lang::En,
                    Lang::En => Lang::Zh,
                };
                k.set_language(next);
            }
        });
        let weak = Rc::downgrade(k);
        a.on_toggle_large_text(move || {
            if let Some(k) = weak.upgrade() {
                let t = k.window.global::<Theme>();
                t.set_large_text(!t.get_large_text());
            }
        });
        let weak = Rc::downgrade(k);
        a.on_keep_session(move || {
            if let Some(k) = weak.upgrade() {
                k.touched();
            }
        });
        let weak = Rc::downgrade(k);
        a.on_dismiss_notice(move || {
            if let Some(k) = weak.upgrade() {
                k.state.borrow_mut().notice = None;
                k.render_notice();
            }
        });
        let weak = Rc::downgrade(k);
        a.on_user_activity(move || {
            if let Some(k) = weak.upgrade() {
                k.touched();
            }
        });
        let weak = Rc::downgrade(k);
        k.window.global::<super::Activity>().on_touched(move || {
            if let Some(k) = weak.upgrade() {
                k.touched();
            }
        });
    }

    /// Any touch on a control.
    pub fn touched(&self) {
        let now = self.now();
        let mut st = self.state.borrow_mut();
        if st.session.stage() != Stage::Idle {
            st.session.touch(now);
        }
        drop(st);
        self.window
            .global::<AppAdapter>()
            .set_warning_visible(false);
    }

    /// The session clock: call about once a second (the app uses a Slint timer).
    pub fn tick(&self) {
        let now = self.now();
        let outcome = self.state.borrow_mut().session.tick(now);
        let a = self.window.global::<AppAdapter>();
        match outcome {
            Tick::Quiet => a.set_warning_visible(false),
            Tick::Warn { seconds_left } => {
                a.set_warning_seconds_left(i32::try_from(seconds_left).unwrap_or(i32::MAX));
                a.set_warning_visible(true);
            }
            Tick::Wiped => self.end_visit(WipeReason::Inactivity),
        }
    }

    /// Starts a visit from the idle screen.
    pub fn start_visit(&self) {
        // What the devices reported while the kiosk was idle belongs to nobody's visit.
        self.drain_events();
        let now = self.now();
        {
            let mut st = self.state.borrow_mut();
            st.session.start(now);
            st.history.clear();
            st.notice = None;
        }
        self.show(Page::Home, false);
    }

    /// Shows `page`; `remember` puts the current page on the 返回 history.
    pub fn show(&self, page: Page, remember: bool) {
        {
            let mut st = self.state.borrow_mut();
            if remember && st.page != page {
                let current = st.page;
                st.history.push(current);
            }
            st.page = page;
        }
        self.render_page(page);
        self.render_notice();
        self.window.global::<AppAdapter>().set_page(page);
    }

    /// 返回: the previous page; leaving the personal pages backwards forgets what they showed.
    pub fn back(&self) {
        let (from, to) = {
            let mut st = self.state.borrow_mut();
            let to = st.history.pop().unwrap_or(Page::Home);
            (st.page, to)
        };
        if matches!(from, Page::Cases) {
            self.forget_personal(WipeReason::Home);
        }
        if to == Page::Idle {
            self.end_visit(WipeReason::Home);
        } else {
            self.show(to, false);
        }
    }

    /// 首页: wipes personal data from the screens and from memory, shows home.
    pub fn home(&self) {
        self.forget_personal(WipeReason::Home);
        {
            let mut st = self.state.borrow_mut();
            st.history.clear();
            st.notice = None;
        }
        self.show(Page::Home, false);
    }

    /// Forgets personal data (session and adapters) but keeps the visit going.
    pub fn forget_personal(&self, reason: WipeReason) {
        {
            let mut st = self.state.borrow_mut();
            st.session.forget_personal_data();
            if matches!(
                st.session.stage(),
                Stage::Identified | Stage::Filling | Stage::Confirming
            ) {
                st.session.advance(Stage::Browsing, self.clock.now());
            }
            st.forget_visit();
        }
        tracing::info!(?reason, "personal data wiped from screens and memory");
        self.clear_personal_adapters();
    }

    /// Ends the visit: everything wiped, idle screen.
    pub fn end_visit(&self, reason: WipeReason) {
        {
            let mut st = self.state.borrow_mut();
            st.session.wipe(reason);
            st.forget_visit();
            st.history.clear();
            st.notice = None;
            st.list = None;
            st.query.clear();
            st.item = None;
            st.submission = None;
            st.print = PrintState::Printing;
            st.rated = false;
            st.rating_message = None;
            st.checklist_printing = false;
        }
        self.clear_personal_adapters();
        submitted::clear(&self.window);
        self.window
            .global::<AppAdapter>()
            .set_warning_visible(false);
        self.show(Page::Idle, false);
    }

    fn clear_personal_adapters(&self) {
        card::clear(&self.window);
        form::clear(&self.window);
        confirm::clear(&self.window);
        cases::clear(&self.window);
    }

    pub fn set_notice(&self, kind: NoticeKind, zh: impl Into<String>, en: impl Into<String>) {
        self.state.borrow_mut().notice = Some(NoticeText {
            kind,
            zh: zh.into(),
            en: en.into(),
        });
        self.render_notice();
    }

    pub fn clear_notice(&self) {
        self.state.borrow_mut().notice = None;
        self.render_notice();
    }

    fn render_notice(&self) {
        let a = self.window.global::<AppAdapter>();
        let st = self.state.borrow();
        match &st.notice {
            Some(n) => {
                a.set_notice_kind(n.kind);
                a.set_notice(st.lang.pick(n.zh.clone(), n.en.clone()).into());
            }
            None => {
                a.set_notice_kind(NoticeKind::None);
                a.set_notice("".into());
            }
        }
    }

    /// Switches the language of every screen at run time.
    pub fn set_language(&self, lang: Lang) {
        self.state.borrow_mut().lang = lang;
        self.apply_language();
        self.render_all();
    }

    fn apply_language(&self) {
        let lang = self.lang();
        if let Err(e) = slint::select_bundled_translation(lang.bundle()) {
            tracing::warn!("cannot select the bundled translation {}: {e}", lang.tag());
        }
        self.window
            .global::<AppAdapter>()
            .set_language(lang.tag().into());
    }

    /// Re-renders the current page (and what every page shows that is not personal).
    pub fn render_all(&self) {
        idle::render(self);
        // Home is rendered when shown (it needs the catalogue's index, which start-up does not
        // wait for).
        let page = self.page();
        self.render_page(page);
        self.render_notice();
    }

    fn render_page(&self, page: Page) {
        match page {
            Page::Idle => idle::render(self),
            Page::Home => home::render(self),
            Page::Search => search::render(self),
            Page::ItemList => item_list::render(self),
            Page::Guide => guide::render(self),
            Page::Card => card::render(self),
            Page::Form => form::render(self),
            Page::Confirm => confirm::render(self),
            Page::Submitted => submitted::render(self),
            Page::Evaluation => evaluation::render(self),
            Page::Cases => cases::render(self),
        }
    }

    /// Runs `job` on tokio's blocking pool and sends what it returns to the UI thread.
    pub fn spawn_blocking<F>(&self, job: F)
    where
        F: FnOnce() -> UiEvent + Send + 'static,
    {
        let sink = self.sink();
        self.rt.spawn_blocking(move || sink.send(job()));
    }

    /// Handles every queued event (the app schedules this on the event loop).
    pub fn drain_events(&self) {
        while let Ok(event) = self.events.try_recv() {
            self.handle(event);
        }
    }

    /// Tests: waits up to `timeout` for one event and handles it. Returns false on timeout.
    pub fn wait_event(&self, timeout: Duration) -> bool {
        match self.events.recv_timeout(timeout) {
            Ok(event) => {
                self.handle(event);
                true
            }
            Err(_) => false,
        }
    }

    /// Tests: handles events until `done` holds or `timeout` passes. Returns whether it held.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&Kiosk) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.wait_event(left) {
                return done(self);
            }
        }
        true
    }

    fn current_visit(&self, visit: u64) -> bool {
        self.state.borrow().visit == visit
    }

    fn handle(&self, event: UiEvent) {
        match event {
            UiEvent::Card(e) => card::on_card_event(self, e),
            UiEvent::DemoHand(r) => card::on_demo_hand(self, r),
            UiEvent::Announcements(a) => {
                self.state.borrow_mut().announcements = a;
                idle::render(self);
            }
            UiEvent::ChecklistPrinted { visit, result } => {
                if self.current_visit(visit) {
                    guide::on_checklist_printed(self, result);
                }
            }
            UiEvent::Submitted { visit, result } => {
                if self.current_visit(visit) {
                    confirm::on_submitted(self, result);
                }
            }
            UiEvent::ReceiptPrinted { visit, result } => {
                if self.current_visit(visit) {
                    submitted::on_printed(self, result);
                }
            }
            UiEvent::Cases { visit, result } => {
                if self.current_visit(visit) {
                    cases::on_cases(self, result);
                }
            }
            UiEvent::Evaluated { visit, result } => {
                if self.current_visit(visit) {
                    evaluation::on_evaluated(self, result);
                }
            }
        }
    }
}

/// Registers a callback on an adapter with a weak reference to the kiosk.
#[macro_export]
#[doc(hidden)]
macro_rules! on {
    ($k:expr, $adapter:ty, $setter:ident, |$kk:ident $(, $arg:ident)*| $body:expr) => {{
        let weak = std::rc::Rc::downgrade($k);
        $k.window.global::<$adapter>().$setter(move |$($arg),*| {
            if let Some($kk) = weak.upgrade() {
                let $kk: &$crate::ui::Kiosk = &$kk;
                $body
            }
        });
    }};
}
