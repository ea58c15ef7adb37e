//! `kiosk run` and `kiosk screenshot`: the touchscreen app and its screens rendered to PNG.
//!
//! Without a config file (or with `--demo`) the app runs in demo mode: simulated reader and
//! printer on pseudo-terminals, the reference back office embedded on loopback, the demo
//! catalogue. With a config it opens the configured devices and county link.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use slint::ComponentHandle;

use super::Globals;
use crate::config::{self, Config};
use crate::session::SessionRules;
#[cfg(feature = "demo")]
use crate::station::DemoOptions;
use crate::station::Station;
use crate::station::ports::Services;
use crate::ui::app::KioskOptions;
use crate::ui::{Kiosk, Lang, ManualClock, Page, SystemClock, headless};

#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Print the time from process start to the first rendered frame, then exit.
    #[arg(long)]
    pub exit_after_first_frame: bool,
    /// Demo mode even when a config file exists.
    #[arg(long)]
    pub demo: bool,
    /// Render without a display (Slint's testing backend with the software renderer).
    #[arg(long)]
    pub headless: bool,
    /// 1920x1080 instead of 1080x1920 (overrides `ui.orientation`).
    #[arg(long)]
    pub landscape: bool,
    /// UI language, `zh-CN` or `en` (overrides `ui.language`).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
    /// Use a generated catalogue of this many items (start-up measurements).
    #[arg(long, value_name = "N", hide = true)]
    pub generated_catalog: Option<usize>,
}

#[cfg(feature = "demo")]
#[derive(Debug, clap::Args)]
pub struct ScreenshotArgs {
    /// Directory the PNG files are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this language (`zh-CN` or `en`); default both.
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
    /// Only this orientation (`portrait` or `landscape`); default both.
    #[arg(long, value_name = "ORIENTATION")]
    pub orientation: Option<String>,
}

/// Seconds since this process started, from /proc (Linux), when available.
fn since_process_start() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // USER_HZ: 100 on every Linux architecture the kiosk runs on.
    let hz = 100.0;
    let secs = uptime - start_ticks / hz;
    (secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Proportional set size of this process (kB), from /proc/self/smaps_rollup.
pub fn pss_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    text.lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn first_frame_line(entered: Instant) -> String {
    let in_run = entered.elapsed();
    match since_process_start() {
        // /proc has 10 ms resolution; never report less than what we measured ourselves.
        Some(p) => format!(
            "first frame after {:.1} ms (since process start; {:.1} ms since `kiosk run` began)",
            p.max(in_run).as_secs_f64() * 1000.0,
            in_run.as_secs_f64() * 1000.0
        ),
        None => format!("first frame after {:.1} ms", in_run.as_secs_f64() * 1000.0),
    }
}

/// The first-frame line from inside the event loop, where there is no caller to return an error
/// to: a closed stdout just loses the line.
fn print_first_frame(entered: Instant) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{}", first_frame_line(entered));
}

fn kiosk_options(config: &Config, args: &RunArgs, demo: bool) -> anyhow::Result<KioskOptions> {
    let lang_tag = args
        .lang
        .clone()
        .unwrap_or_else(|| config.ui.language.clone());
    let lang = Lang::parse(&lang_tag)
        .ok_or_else(|| anyhow!("unknown UI language {lang_tag:?}; use zh-CN or en"))?;
    let landscape = args.landscape
        || match config.ui.orientation.as_str() {
            "portrait" => false,
            "landscape" => true,
            other => bail!("unknown ui.orientation {other:?}; use portrait or landscape"),
        };
    Ok(KioskOptions {
        rules: SessionRules::from(&config.session),
        lang,
        landscape,
        large_text: config.ui.large_text,
        demo_mode: demo,
    })
}

thread_local! {
    static APP: RefCell<Option<Rc<Kiosk>>> = const { RefCell::new(None) };
}

/// Logs to stderr, `RUST_LOG` or warnings and up.
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
}

/// Demo mode's station: simulators, the embedded back office, the demo catalogue.
#[cfg(feature = "demo")]
fn demo_station(args: &RunArgs, handle: tokio::runtime::Handle) -> anyhow::Result<Station> {
    let mut opts = DemoOptions::default();
    if let Some(n) = args.generated_catalog {
        opts.catalog = Some(crate::catalog::sample::generated_catalog(n));
    }
    Ok(Station::demo(opts, handle)?)
}

/// Firmware built without demo mode: a kiosk with no county configured cannot run.
#[cfg(not(feature = "demo"))]
fn demo_station(_args: &RunArgs, _handle: tokio::runtime::Handle) -> anyhow::Result<Station> {
    anyhow::bail!(
        "no [county] url in the config, and this kiosk was built without demo mode: provision the station (`kiosk provision BUNDLE`) or set county.url in the config"
    )
}

pub fn run(args: RunArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let entered = Instant::now();
    init_logging();
    let loaded = config::load(g.config.as_deref()).map_err(|e| anyhow!("{e}"))?;
    for k in &loaded.unknown_keys {
        tracing::warn!("unknown config key {k:?} (see `kiosk config check`)");
    }
    let demo = args.demo || loaded.is_demo();
    let config = loaded.config.clone();
    let options = kiosk_options(&config, &args, demo)?;
    let rt = runtime()?;
    let handle = rt.handle().clone();

    // Headless: the software renderer into an in-memory frame buffer, as on the kiosk image.
    let headless_window = if args.headless {
        let (platform, window) = crate::ui::framebuffer::FramebufferPlatform::new();
        slint::platform::set_platform(Box::new(platform))
            .map_err(|e| anyhow!("cannot install the headless Slint platform: {e}"))?;
        Some(window)
    } else {
        None
    };

    let station = if demo {
        demo_station(&args, handle.clone())?
    } else {
        Station::production(&config, handle.clone())?
    };

    let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {
        let _ = slint::invoke_from_event_loop(|| {
            APP.with(|a| {
                if let Some(k) = a.borrow().as_ref() {
                    k.drain_events();
                }
            })
        });
    });
    let wake = if args.headless {
        Arc::new(|| {}) as Arc<dyn Fn() + Send + Sync>
    } else {
        wake
    };
    let kiosk = Kiosk::new(
        station.services().clone(),
        handle.clone(),
        Rc::new(SystemClock),
        options.clone(),
        wake,
    )
    .map_err(|e| {
            anyhow!(
                "cannot create the window: {e} (no display here? `--headless --exit-after-first-frame` measures start-up without one)"
            )
        })?;
    let restart = Rc::new(std::cell::Cell::new(false));
    kiosk.set_maintenance(maintenance_setup(&loaded, restart.clone()));
    let reader = connect(&station, &kiosk, None);

    // SIGTERM and SIGINT end the event loop; then the one shutdown path below runs.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<&'static str>();
    station.on_signal(move |name| {
        let _ = stop_tx.send(name);
        let _ = slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        });
    });

    if let Some(window) = headless_window {
        headless::set_orientation(&kiosk, options.landscape);
        let mut frame = crate::ui::framebuffer::Framebuffer::new(kiosk.window.window().size());
        if !frame.draw(&window) {
            bail!("the headless window drew nothing");
        }
        outln!("{}", first_frame_line(entered));
        if let Some(kb) = pss_kb() {
            outln!("memory: PSS {kb} kB after the first frame");
        }
        let watchdog = crate::watchdog::Notifier::from_env();
        watchdog.ready();
        if !args.exit_after_first_frame {
            // No event loop without a display: the kiosk's own clock and events, until a
            // signal.
            loop {
                match stop_rx.recv_timeout(Duration::from_millis(500)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        watchdog.ping();
                        kiosk.drain_events();
                        kiosk.tick();
                        if frame.draw(&window) {
                            tracing::trace!("frame drawn");
                        }
                    }
                    Ok(name) => return stop(station, reader, rt, Some(name)),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        return stop(station, reader, rt, None);
    }

    APP.with(|a| *a.borrow_mut() = Some(kiosk.clone()));
    let ticker = slint::Timer::default();
    {
        let weak = Rc::downgrade(&kiosk);
        ticker.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(500),
            move || {
                if let Some(k) = weak.upgrade() {
                    k.tick();
                }
            },
        );
    }
    // systemd (Type=notify, WatchdogSec=): READY once the event loop has drawn the first frame
    // (the first timer tick runs after it), then WATCHDOG from the event loop itself, so a hung
    // UI thread, not only a dead process, gets the app restarted.
    let watchdog = Rc::new(crate::watchdog::Notifier::from_env());
    {
        let n = watchdog.clone();
        slint::Timer::single_shot(Duration::ZERO, move || n.ready());
    }
    let watchdog_timer = slint::Timer::default();
    if let Some(every) = watchdog.ping_interval() {
        let n = watchdog.clone();
        watchdog_timer.start(slint::TimerMode::Repeated, every, move || n.ping());
    }
    if args.exit_after_first_frame {
        let printed = Rc::new(std::cell::Cell::new(false));
        let p = printed.clone();
        let notifier = kiosk
            .window
            .window()
            .set_rendering_notifier(move |state, _| {
                if matches!(state, slint::RenderingState::AfterRendering) && !p.replace(true) {
                    print_first_frame(entered);
                    let _ = slint::quit_event_loop();
                }
            });
        if notifier.is_err() {
            // The software renderer has no notifier: the first timer tick after showing runs
            // once the event loop has drawn the window's first frame.
            slint::Timer::single_shot(Duration::ZERO, move || {
                if !printed.replace(true) {
                    print_first_frame(entered);
                    let _ = slint::quit_event_loop();
                }
            });
        }
    }
    let result = kiosk.window.run();
    APP.with(|a| a.borrow_mut().take());
    let stopped = stop(station, reader, rt, stop_rx.try_recv().ok());
    result.map_err(|e| anyhow!("the window failed: {e}"))?;
    if restart.get() {
        stopped?;
        outln!(
            "restart asked on the maintenance screen: exit {}",
            crate::maintenance::RESTART_EXIT_CODE
        );
        return Ok(ExitCode::from(crate::maintenance::RESTART_EXIT_CODE));
    }
    stopped
}

/// The maintenance screen's setup: the PIN hash beside the config file, the lockout in the data
/// directory, the doctor with this config, the details lines, and a restart that ends the event
/// loop so `run` exits with [`crate::maintenance::RESTART_EXIT_CODE`] after a clean stop.
fn maintenance_setup(
    loaded: &config::LoadedConfig,
    restart: Rc<std::cell::Cell<bool>>,
) -> crate::ui::desk::DeskSetup {
    let data_dir = config::data_dir(&loaded.config);
    let for_doctor = Arc::new(loaded.clone());
    let for_details = Arc::new(loaded.config.clone());
    crate::ui::desk::DeskSetup {
        paths: crate::maintenance::MaintenancePaths::new(&loaded.path, &data_dir),
        doctor: Arc::new(move || crate::doctor::run(Ok(&for_doctor))),
        health: None,
        details: Some(Arc::new(move || {
            crate::doctor::probe::details_zh(&for_details, chrono::Utc::now())
        })),
        volume: crate::maintenance::Volume::new(loaded.config.voice.volume),
        orientation: loaded.config.ui.orientation.clone(),
        restart: Rc::new(move || {
            restart.set(true);
            let _ = slint::quit_event_loop();
        }),
    }
}

/// The reader and the noticeboard into `kiosk`'s events (`refresh` overrides the config's
/// announcement refresh).
fn connect(
    station: &Station,
    kiosk: &Kiosk,
    refresh: Option<Duration>,
) -> crate::idcard::reader::ReaderHandle {
    let sink = kiosk.sink();
    let reader = station.start_reader(move |e| sink.send(crate::ui::app::UiEvent::Card(e)));
    let sink = kiosk.sink();
    station.start_noticeboard(refresh, move |a| {
        sink.send(crate::ui::app::UiEvent::Announcements(a))
    });
    reader
}

/// The one way the app ends: the reader stops, then the station (printer job and outbox step
/// finish), then the runtime. After a signal, says so: `SIGTERM: stopped cleanly`.
fn stop(
    mut station: Station,
    reader: crate::idcard::reader::ReaderHandle,
    rt: tokio::runtime::Runtime,
    signal: Option<&'static str>,
) -> anyhow::Result<ExitCode> {
    reader.stop();
    let report = station.shutdown();
    drop(station);
    drop(rt);
    if !report.clean() {
        bail!("stopped with work unfinished: {report:?}");
    }
    if let Some(name) = signal {
        outln!("{name}: stopped cleanly");
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// Screenshots.

#[cfg(feature = "demo")]
fn save(k: &Kiosk, dir: &Path, name: &str) -> anyhow::Result<()> {
    let png = headless::snapshot_png(k).map_err(|e| anyhow!(e))?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(feature = "demo")]
const WAIT: Duration = Duration::from_secs(20);

#[cfg(feature = "demo")]
fn wait_page(k: &Kiosk, page: Page) -> anyhow::Result<()> {
    if k.wait_until(WAIT, |k| k.page() == page) {
        Ok(())
    } else {
        bail!("the app did not reach {page:?} (it shows {:?})", k.page())
    }
}

#[cfg(feature = "demo")]
fn tap(k: &Kiosk, label: &str) -> anyhow::Result<()> {
    headless::tap(k, label).map_err(|e| anyhow!(e))
}

#[cfg(feature = "demo")]
/// Fills the current form with valid answers by tapping keys, the way a villager would.
pub fn fill_form_validly(k: &Kiosk) -> anyhow::Result<()> {
    use crate::catalog::FieldKind;
    let item = k
        .visit
        .borrow()
        .item
        .clone()
        .ok_or_else(|| anyhow!("no item"))?;
    let fa = k.window.global::<crate::ui::FormAdapter>();
    for (i, f) in item.form.iter().enumerate() {
        if f.card_fill.is_some() {
            continue;
        }
        fa.invoke_select_field(i as i32);
        fa.invoke_clear();
        let keys: Vec<String> = match &f.kind {
            FieldKind::Phone => "13800138000".chars().map(String::from).collect(),
            FieldKind::Number { min, max, .. } => {
                let v = (*min).max(1).min(*max);
                v.to_string().chars().map(String::from).collect()
            }
            FieldKind::BankAccount => "6217000010001234569".chars().map(String::from).collect(),
            FieldKind::Date => "19600501".chars().map(String::from).collect(),
            FieldKind::IdNumber => "11010519491231002X".chars().map(String::from).collect(),
            FieldKind::Choice { options } => {
                if let Some(o) = options.first() {
                    fa.invoke_choose(o.into());
                }
                Vec::new()
            }
            FieldKind::Text { .. } => {
                for l in ["n", "o", "n", "g"] {
                    fa.invoke_letter(l.into());
                }
                let c = crate::ui::ime::candidates("nong", 1);
                if let Some(c) = c.first() {
                    fa.invoke_choose(c.to_string().into());
                }
                Vec::new()
            }
        };
        for key in keys {
            fa.invoke_key(key.into());
        }
    }
    Ok(())
}

#[cfg(feature = "demo")]
/// The first item the village point can accept online.
pub fn first_online_item(services: &Services) -> Option<crate::catalog::ServiceItem> {
    crate::catalog::Category::ALL
        .into_iter()
        .flat_map(|c| services.catalogue.by_category(c))
        .find(|i| i.village_online && !i.form.is_empty())
}

#[cfg(feature = "demo")]
fn tour(k: &Kiosk, clock: &ManualClock, dir: &Path, prefix: &str) -> anyhow::Result<()> {
    let shot = |n: &str| save(k, dir, &format!("{prefix}-{n}"));
    k.end_visit(crate::session::WipeReason::Home);
    shot("01-idle")?;
    k.start_visit();
    shot("02-home")?;
    k.show(Page::Search, true);
    let sa = k.window.global::<crate::ui::SearchAdapter>();
    sa.invoke_clear();
    sa.invoke_letter("y".into());
    sa.invoke_letter("l".into());
    shot("03-search")?;
    k.home();
    let item = first_online_item(&k.services).ok_or_else(|| anyhow!("no online item"))?;
    k.visit.borrow_mut().list = Some(crate::ui::app::ListContext::Category(item.category));
    k.show(Page::ItemList, true);
    shot("04-category")?;
    crate::ui::search::open_item(k, &item.code);
    shot("05-guide")?;
    tap(
        k,
        if k.lang() == Lang::Zh {
            "我要申请"
        } else {
            "Apply"
        },
    )?;
    wait_page(k, Page::Card)?;
    shot("06-card")?;
    k.window
        .global::<crate::ui::CardAdapter>()
        .invoke_place_demo_card("resident".into());
    wait_page(k, Page::Form)?;
    shot("07-form")?;
    let fa = k.window.global::<crate::ui::FormAdapter>();
    fa.invoke_next();
    shot("08-form-errors")?;
    fill_form_validly(k)?;
    fa.invoke_next();
    wait_page(k, Page::Confirm)?;
    k.window
        .global::<crate::ui::ConfirmAdapter>()
        .set_consent(true);
    shot("09-confirm")?;
    k.window
        .global::<crate::ui::ConfirmAdapter>()
        .invoke_submit();
    wait_page(k, Page::Submitted)?;
    k.wait_until(WAIT, |k| {
        !matches!(
            k.visit.borrow().submitted.print,
            crate::ui::app::PrintState::Printing
        )
    });
    shot("10-submitted")?;
    k.window
        .global::<crate::ui::SubmittedAdapter>()
        .invoke_rate();
    shot("11-evaluation")?;
    k.end_visit(crate::session::WipeReason::Finished);
    k.window
        .global::<crate::ui::IdleAdapter>()
        .invoke_my_applications();
    k.window
        .global::<crate::ui::CardAdapter>()
        .invoke_place_demo_card("resident".into());
    wait_page(k, Page::Cases)?;
    k.wait_until(WAIT, |k| !k.visit.borrow().cases.loading);
    shot("12-cases")?;
    k.home();
    clock.advance(Duration::from_secs(50));
    k.tick();
    shot("13-inactivity-warning")?;
    k.touched();
    Ok(())
}

#[cfg(feature = "demo")]
/// The printer-failure and county-unreachable screens.
fn failure_shots(
    k: &Kiosk,
    station: &Station,
    dir: &Path,
    prefix: &str,
    name: &str,
) -> anyhow::Result<()> {
    let _ = station;
    k.end_visit(crate::session::WipeReason::Home);
    k.start_visit();
    let item = first_online_item(&k.services).ok_or_else(|| anyhow!("no online item"))?;
    crate::ui::search::open_item(k, &item.code);
    k.window.global::<crate::ui::GuideAdapter>().invoke_apply();
    wait_page(k, Page::Card)?;
    k.window
        .global::<crate::ui::CardAdapter>()
        .invoke_place_demo_card("resident".into());
    wait_page(k, Page::Form)?;
    fill_form_validly(k)?;
    k.window.global::<crate::ui::FormAdapter>().invoke_next();
    wait_page(k, Page::Confirm)?;
    k.window
        .global::<crate::ui::ConfirmAdapter>()
        .set_consent(true);
    k.window
        .global::<crate::ui::ConfirmAdapter>()
        .invoke_submit();
    wait_page(k, Page::Submitted)?;
    k.wait_until(WAIT, |k| {
        !matches!(
            k.visit.borrow().submitted.print,
            crate::ui::app::PrintState::Printing
        )
    });
    save(k, dir, &format!("{prefix}-{name}"))
}

/// The tokio runtime the app's device and network work runs on (two workers: the kiosk has two
/// cores and the UI thread is separate).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(feature = "demo")]
pub fn screenshot(args: ScreenshotArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    init_logging();
    let langs: Vec<Lang> = match args.lang.as_deref() {
        None => vec![Lang::Zh, Lang::En],
        Some(l) => {
            vec![Lang::parse(l).ok_or_else(|| anyhow!("unknown language {l:?}; use zh-CN or en"))?]
        }
    };
    let orientations: Vec<bool> = match args.orientation.as_deref() {
        None => vec![false, true],
        Some("portrait") => vec![false],
        Some("landscape") => vec![true],
        Some(o) => bail!("unknown orientation {o:?}; use portrait or landscape"),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    headless::init().map_err(|e| anyhow!(e))?;
    let rt = runtime()?;
    let handle = rt.handle().clone();
    let station = Station::demo(DemoOptions::default(), handle.clone())?;
    let dead = Station::demo(
        DemoOptions {
            county_reachable: false,
            printer_state: crate::printer::status::PaperState::PaperEnd,
            ..DemoOptions::default()
        },
        handle.clone(),
    )?;
    let mut count = 0;
    for &lang in &langs {
        for &landscape in &orientations {
            let prefix = format!(
                "{}-{}",
                lang.tag(),
                if landscape { "landscape" } else { "portrait" }
            );
            let clock = Rc::new(ManualClock::new());
            let options = KioskOptions {
                lang,
                landscape,
                ..KioskOptions::default()
            };
            let k = Kiosk::new(
                station.services().clone(),
                handle.clone(),
                clock.clone(),
                options.clone(),
                Arc::new(|| {}),
            )
            .map_err(|e| anyhow!("{e}"))?;
            headless::set_orientation(&k, landscape);
            let reader = connect(&station, &k, Some(Duration::from_secs(3600)));
            if !k.wait_until(WAIT, |k| !k.shell.borrow().announcements.is_empty()) {
                bail!("the demo back office's announcements did not arrive");
            }
            let toured = tour(&k, &clock, &args.out, &prefix);
            // The next tour's reader starts with an empty field, as a kiosk nobody is at.
            if let Some(hand) = &station.services().demo_hand {
                let _ = hand.lift();
            }
            // One reader thread at a time on the simulator's tty.
            reader.stop();
            toured?;
            let kd = Kiosk::new(
                dead.services().clone(),
                handle.clone(),
                clock.clone(),
                options,
                Arc::new(|| {}),
            )
            .map_err(|e| anyhow!("{e}"))?;
            headless::set_orientation(&kd, landscape);
            let sink = kd.sink();
            let dead_reader =
                dead.start_reader(move |e| sink.send(crate::ui::app::UiEvent::Card(e)));
            failure_shots(
                &kd,
                &dead,
                &args.out,
                &prefix,
                "14-printer-failed-and-queued",
            )?;
            if let Some(hand) = &dead.services().demo_hand {
                let _ = hand.lift();
            }
            dead_reader.stop();
            count += 14;
        }
    }
    outln!("wrote {count} screenshots to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
