//! The shell's actions, above the page controllers: builds the window and every controller,
//! carries out the [`Next`] a controller returns (navigation with 返回 history and 首页, the
//! pages' entries, wipes), runs the session clock, switches language, and hands the results of
//! background work to the page they belong to.
//!
//! Background work (reader, printer, county) runs on tokio and reports [`UiEvent`]s through an
//! [`super::shell::EventSink`]; the event loop handles them on the UI thread. A result from an
//! earlier visit is dropped (each job carries its visit number), so nothing personal reappears
//! after a wipe. Must never block the UI thread; personal data lives only in the
//! [`crate::session::Session`] and the [`Visit`], and both are wiped together.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slint::ComponentHandle;

pub use super::shell::{Kiosk, KioskOptions, NoticeText, UiEvent};
pub use super::visit::{CardPurpose, ListContext, PrintState};

use super::shell::{EventSink, Next, Shell};
use super::visit::Visit;
use super::{AppAdapter, MainWindow, Page, Theme};
use super::{agent, coordinator, results};
use super::{
    card, cases, confirm, eligibility, evaluation, form, guide, home, idle, item_list, search,
    speech, submitted, updates,
};
use super::{maintenance, pin};
use crate::session::{Stage, Tick, WipeReason};
use crate::station::ports::Services;
use crate::ui::l10n::Lang;

impl Kiosk {
    /// Builds the window and every controller. `wake` is called (from any thread) after an
    /// event was queued; the app passes one that schedules [`Kiosk::drain_events`] on the
    /// event loop, tests pass a no-op and call [`Kiosk::wait_event`].
    pub fn new(
        services: Services,
        rt: tokio::runtime::Handle,
        clock: Rc<dyn super::Clock>,
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
            shell: std::cell::RefCell::new(Shell::new(options.rules, options.lang)),
            visit: std::cell::RefCell::new(Visit::new(0)),
            demo_mode: options.demo_mode,
            time_zone: options.time_zone,
            speech: std::cell::RefCell::new(Default::default()),
            desk: Default::default(),
            remote: Default::default(),
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
        results::setup(&kiosk);
        agent::setup(&kiosk);
        coordinator::setup(&kiosk);
        eligibility::setup(&kiosk);
        speech::setup(&kiosk);
        pin::setup(&kiosk);
        maintenance::setup(&kiosk);
        // The adapters' placeholder values (for the Slint preview) never reach the screen.
        kiosk.clear_personal_adapters();
        submitted::clear(&kiosk.window);
        kiosk.apply_language();
        kiosk.render_all();
        Ok(kiosk)
    }

    fn setup_shell(k: &Rc<Self>) {
        use crate::on;
        on!(k, AppAdapter, on_back, |k| Next::Back);
        on!(k, AppAdapter, on_home, |k| Next::Fresh {
            reason: WipeReason::Home,
            page: Page::Home,
            notice: None,
        });
        on!(k, AppAdapter, on_toggle_language, |k| {
            let next = match k.lang() {
                Lang::Zh => Lang::En,
                Lang::En => Lang::Zh,
            };
            k.set_language(next);
            Next::Stay
        });
        on!(k, AppAdapter, on_toggle_large_text, |k| {
            let t = k.window.global::<Theme>();
            t.set_large_text(!t.get_large_text());
            Next::Stay
        });
        on!(k, AppAdapter, on_keep_session, |k| {
            k.touched();
            Next::Stay
        });
        on!(k, AppAdapter, on_dismiss_notice, |k| {
            k.clear_notice();
            Next::Stay
        });
        on!(k, AppAdapter, on_user_activity, |k| {
            k.touched();
            Next::Stay
        });
        on!(k, super::Activity, on_touched, |k| {
            k.touched();
            Next::Stay
        });
    }

    /// Carries out what a controller asked for. While an application is being sent nothing
    /// leaves the confirmation page (返回, 首页, a wipe): the result, a receipt or an error,
    /// decides what comes next (issue 14 #1).
    pub fn act(&self, next: Next) {
        if next != Next::Stay && self.visit.borrow().confirm.sending {
            tracing::info!(?next, "not carried out while the application is being sent");
            return;
        }
        match next {
            Next::Stay => {}
            Next::Show(page) => self.show(page, true),
            Next::Replace(page) => self.show(page, false),
            Next::Back => self.back(),
            Next::Start(then) => {
                self.start_visit();
                if let Some(page) = then {
                    self.show(page, true);
                }
            }
            Next::Forget(reason) => self.forget_personal(reason),
            Next::Fresh {
                reason,
                page,
                notice,
            } => {
                self.forget_personal(reason);
                {
                    let mut sh = self.shell.borrow_mut();
                    sh.history.clear();
                    sh.notice = notice;
                }
                self.show(page, false);
            }
            Next::Wipe(reason) => self.end_visit(reason),
            Next::Volume(level) => {
                if !speech::set_volume(self, level) {
                    tracing::info!(level, "volume kept for when voice is on ([voice] enabled)");
                }
            }
        }
    }

    /// The session clock: call about once a second (the app uses a Slint timer). Also answers
    /// county staff's remote requests when the app set them up ([`Kiosk::set_remote`]).
    pub fn tick(&self) {
        self.tick_session();
        let remote = self.remote.borrow().clone();
        if let Some(setup) = remote {
            super::remote::answer_requests(self, &setup.reporter, &setup.doctor);
        }
    }

    fn tick_session(&self) {
        let now = self.now();
        if self.visit.borrow().confirm.sending {
            // Waiting for the result is not inactivity: the visit never ends under it.
            self.shell.borrow_mut().session.touch(now);
        }
        let outcome = self.shell.borrow_mut().session.tick(now);
        let a = self.window.global::<AppAdapter>();
        match outcome {
            Tick::Quiet => a.set_warning_visible(false),
            Tick::Warn { seconds_left } => {
                if !a.get_warning_visible() {
                    speech::moment(
                        self,
                        crate::voice::Moment::InactivityWarning {
                            seconds_left: u32::try_from(seconds_left).unwrap_or(u32::MAX),
                        },
                    );
                }
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
            let mut sh = self.shell.borrow_mut();
            sh.session.start(now);
            sh.history.clear();
            sh.notice = None;
        }
        self.show(Page::Home, false);
    }

    /// Shows `page` (its entry runs); `remember` puts the current page on the 返回 history.
    pub fn show(&self, page: Page, remember: bool) {
        {
            let mut sh = self.shell.borrow_mut();
            if remember && sh.page != page {
                let current = sh.page;
                sh.history.push(current);
            }
            sh.page = page;
        }
        let next = self.enter(page);
        self.render_page(page);
        self.render_notice();
        self.window.global::<AppAdapter>().set_page(page);
        self.act(next);
        speech::page_changed(self);
    }

    /// What a page does when it is navigated to (not when 返回 comes back to it).
    fn enter(&self, page: Page) -> Next {
        match page {
            // Eligibility before the form: a condition clearly not met is told before typing.
            Page::Form => eligibility::gate(self).unwrap_or_else(|| form::enter(self)),
            Page::Cases => cases::enter(self),
            Page::Submitted => submitted::enter(self),
            Page::Results => results::enter(self),
            Page::Agent => agent::enter(self),
            Page::Coordinator => coordinator::enter(self),
            Page::Maintenance => maintenance::enter(self),
            _ => Next::Stay,
        }
    }

    /// 返回: the previous page; leaving the personal pages backwards forgets what they showed.
    pub fn back(&self) {
        let (from, to) = {
            let mut sh = self.shell.borrow_mut();
            let to = sh.history.pop().unwrap_or(Page::Home);
            (sh.page, to)
        };
        if matches!(from, Page::Cases) {
            self.forget_personal(WipeReason::Home);
        }
        if from == Page::Results {
            // 办件提醒 is read once; the card stays identified for applying.
            drop(std::mem::take(&mut self.visit.borrow_mut().results));
            results::clear(&self.window);
        }
        if to == Page::Idle {
            self.end_visit(WipeReason::Home);
        } else {
            let mut sh = self.shell.borrow_mut();
            sh.page = to;
            drop(sh);
            self.render_page(to);
            self.render_notice();
            self.window.global::<AppAdapter>().set_page(to);
        }
        speech::page_changed(self);
    }

    /// 首页: wipes personal data from the screens and from memory, shows home.
    pub fn home(&self) {
        self.act(Next::Fresh {
            reason: WipeReason::Home,
            page: Page::Home,
            notice: None,
        });
    }

    /// Forgets personal data (session, visit, adapters) but keeps the visit going: the next
    /// [`Visit`] keeps only what [`Visit::forget_personal`] names.
    pub fn forget_personal(&self, reason: WipeReason) {
        {
            let mut sh = self.shell.borrow_mut();
            sh.session.forget_personal_data();
            if matches!(
                sh.session.stage(),
                Stage::Identified | Stage::Filling | Stage::Confirming
            ) {
                sh.session.advance(Stage::Browsing, self.clock.now());
            }
        }
        let next = self.visit.borrow_mut().forget_personal();
        // The old visit, with whatever it held, is dropped (and zeroised) here.
        drop(self.visit.replace(next));
        tracing::info!(?reason, "personal data wiped from screens and memory");
        self.clear_personal_adapters();
        speech::wiped(self);
    }

    /// Ends the visit: everything wiped, a new empty visit, idle screen.
    pub fn end_visit(&self, reason: WipeReason) {
        {
            let mut sh = self.shell.borrow_mut();
            sh.session.wipe(reason);
            if reason == WipeReason::Inactivity && sh.coordinator.take().is_some() {
                // A kiosk left alone does not stay in coordinator mode.
                tracing::info!("coordinator mode left after inactivity");
            }
            sh.history.clear();
            sh.notice = None;
        }
        let number = self.visit.borrow().number + 1;
        drop(self.visit.replace(Visit::new(number)));
        // The technician's visit to the maintenance screen ends like a villager's.
        drop(std::mem::take(&mut self.desk.borrow_mut().visit));
        pin::render(self);
        maintenance::render(self);
        self.clear_personal_adapters();
        submitted::clear(&self.window);
        speech::wiped(self);
        self.window
            .global::<AppAdapter>()
            .set_warning_visible(false);
        self.show(Page::Idle, false);
        // Nobody is at the kiosk now: a synchronised catalogue may be put in use.
        self.act(updates::between_visits(self));
    }

    fn clear_personal_adapters(&self) {
        card::clear(&self.window);
        form::clear(&self.window);
        confirm::clear(&self.window);
        cases::clear(&self.window);
        results::clear(&self.window);
        agent::clear(&self.window);
        coordinator::clear(&self.window);
    }

    /// Switches the language of every screen at run time.
    pub fn set_language(&self, lang: Lang) {
        self.shell.borrow_mut().lang = lang;
        self.apply_language();
        self.render_all();
        speech::language_changed(self);
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
            Page::Results => results::render(self),
            Page::Agent => agent::render(self),
            Page::Coordinator => coordinator::render(self),
            Page::Eligibility => eligibility::render(self),
            Page::Pin => pin::render(self),
            Page::Maintenance => maintenance::render(self),
        }
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

    /// Hands an event to the page it belongs to and carries out what that page returns. A
    /// visit's result arriving after that visit ended is dropped.
    fn handle(&self, event: UiEvent) {
        let current = self.visit_number();
        let next = match event {
            // The helper's card (帮办代办) never identifies anyone.
            UiEvent::Card(e) if matches!(self.page(), Page::Pin | Page::Maintenance) => {
                maintenance::on_card_event(self, e)
            }
            UiEvent::Card(e) if self.page() == Page::Agent => agent::on_card_event(self, e),
            UiEvent::Card(e) if self.page() == Page::Coordinator => {
                coordinator::on_card_event(self, e)
            }
            UiEvent::Card(e) => {
                let refused_before = self.visit.borrow().card.error.is_some();
                let next = card::on_card_event(self, e);
                if !refused_before && self.visit.borrow().card.error.is_some() {
                    speech::card_refused(self);
                }
                next
            }
            UiEvent::PinChecked(verdict) => pin::on_checked(self, verdict),
            UiEvent::DoctorDone(report, details) => {
                maintenance::on_doctor_done(self, *report, details)
            }
            UiEvent::TestPagePrinted(result) => maintenance::on_test_page(self, result),
            UiEvent::VolumeSaved(result) => maintenance::on_volume_saved(result),
            UiEvent::DemoHand(r) => card::on_demo_hand(self, r),
            UiEvent::Announcements(a) => {
                self.shell.borrow_mut().announcements = a;
                idle::render(self);
                Next::Stay
            }
            UiEvent::CataloguePending => updates::between_visits(self),
            UiEvent::CatalogueInstalled(result) => updates::on_installed(self, result),
            UiEvent::SoftwarePending => updates::between_visits(self),
            UiEvent::SoftwareInstalled(result) => updates::on_software_installed(self, result),
            UiEvent::SoftwareRebooting(result) => updates::on_software_rebooting(result),
            UiEvent::ChecklistPrinted { visit, result } if visit == current => {
                guide::on_checklist_printed(self, result)
            }
            UiEvent::Submitted { visit, result } if visit == current => {
                confirm::on_submitted(self, result)
            }
            UiEvent::ReceiptPrinted { visit, result } if visit == current => {
                let printed = result.is_ok();
                let next = submitted::on_printed(self, result);
                if printed {
                    speech::moment(self, crate::voice::Moment::TakeReceipt);
                }
                next
            }
            UiEvent::Cases { visit, result } if visit == current => cases::on_cases(self, result),
            UiEvent::Evaluated { visit, result } if visit == current => {
                evaluation::on_evaluated(self, result)
            }
            UiEvent::KeptPhone { visit, phone } if visit == current => {
                form::on_kept_phone(self, phone)
            }
            UiEvent::BankAccount { visit, result } if visit == current => {
                form::on_bank_account(self, result)
            }
            UiEvent::CoordinatorPin { visit, verdict } if visit == current => {
                coordinator::on_pin(self, verdict)
            }
            UiEvent::Results { visit, result } if visit == current => {
                results::on_results(self, result)
            }
            UiEvent::Submitted {
                result: Ok(sub), ..
            } => {
                // Cannot happen (a visit does not end while sending); the application is in
                // the outbox all the same.
                tracing::error!(receipt = %sub.receipt_no, "an accepted application's result arrived after its visit ended");
                Next::Stay
            }
            UiEvent::ChecklistPrinted { .. }
            | UiEvent::Results { .. }
            | UiEvent::CoordinatorPin { .. }
            | UiEvent::KeptPhone { .. }
            | UiEvent::BankAccount { .. }
            | UiEvent::Submitted { .. }
            | UiEvent::ReceiptPrinted { .. }
            | UiEvent::Cases { .. }
            | UiEvent::Evaluated { .. } => {
                tracing::debug!("dropped a result of an earlier visit");
                Next::Stay
            }
        };
        self.act(next);
    }
}
