//! `kiosk run` and `kiosk screenshot`: the touchscreen app and its screens rendered to PNG (the
//! tour itself is `ui::tour`, shared with the UI tests).
//!
//! Without a config file (or with `--demo`) the app runs in demo mode: simulated reader and
//! printer on pseudo-terminals, the reference back office embedded on loopback, the demo
//! catalogue. With a config it opens the configured devices and county link.

use std::cell::RefCell;
#[cfg(feature = "demo")]
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use slint::ComponentHandle;

use super::Globals;
use crate::config::{Config, Orientation};
use crate::session::SessionRules;
#[cfg(feature = "demo")]
use crate::station::DemoOptions;
use crate::station::Station;
use crate::ui::app::KioskOptions;
use crate::ui::{Kiosk, Lang, SystemClock, headless};

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
    let lang = match args.lang.as_deref() {
        Some(tag) => Lang::parse(tag)
            .ok_or_else(|| anyhow!("unknown UI language {tag:?} for --lang; use zh-CN or en"))?,
        None => Lang::from(config.ui.language),
    };
    let landscape = args.landscape || config.ui.orientation == Orientation::Landscape;
    Ok(KioskOptions {
        rules: SessionRules::from(&config.session),
        lang,
        landscape,
        large_text: config.ui.large_text,
        demo_mode: demo,
        time_zone: config.station.time_zone,
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
    let loaded = g.loaded()?;
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
    // One PIN and one lockout for both doors (the maintenance screen and 帮办员模式): the
    // station's (the provisioned hash, the demo PIN), else the hash beside the config.
    // 音量: what the maintenance screen last set, else `voice.volume`.
    let paths = station.maintenance_paths(&loaded.path);
    let volume = crate::maintenance::Volume::load(&paths.settings, config.voice.volume);
    // 语音播报: the speech thread (espeak-ng into ALSA) when `[voice] enabled`.
    if let Some(mut settings) = crate::voice::EngineSettings::from_config(&config.voice) {
        settings.volume = volume.get();
        let (voice, _events) = crate::voice::Voice::spawn(
            settings,
            true,
            crate::voice::Lang::from_tag(options.lang.tag()),
        );
        crate::ui::speech::attach(&kiosk, Rc::new(voice), volume.get());
    }
    let restart = Rc::new(std::cell::Cell::new(false));
    // The in-app doctor: the drivers hold the reader and printer ports, so those two checks
    // come from their live health; the maintenance screen and remote requests both use it.
    let doctor: crate::ui::remote::DoctorRun = Arc::new(station.in_app_doctor(loaded.clone()));
    kiosk.set_maintenance(maintenance_setup(
        loaded,
        Arc::new(station.maintenance_details(loaded.config.clone())),
        paths,
        volume,
        doctor.clone(),
        Some(station.health().clone()),
        restart.clone(),
    ));
    // 远程请求: county staff's doctor and idle-screen screenshot requests, answered from the
    // session clock's tick; results ride with the next heartbeat.
    kiosk.set_remote(crate::ui::remote::RemoteSetup {
        reporter: station.health().clone(),
        doctor,
    });
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

/// The maintenance screen's setup: the PIN hash and lockout (shared with 帮办员模式), the
/// volume in the station's data directory, the in-app doctor, the details lines (of the
/// station's store), and a restart that ends the event
/// loop so `run` exits with [`crate::maintenance::RESTART_EXIT_CODE`] after a clean stop.
fn maintenance_setup(
    loaded: &crate::config::LoadedConfig,
    details: crate::ui::desk::DetailsRun,
    paths: crate::maintenance::MaintenancePaths,
    volume: crate::maintenance::Volume,
    doctor: crate::ui::remote::DoctorRun,
    health: Option<crate::doctor::health::HealthReporter>,
    restart: Rc<std::cell::Cell<bool>>,
) -> crate::ui::desk::DeskSetup {
    crate::ui::desk::DeskSetup {
        paths,
        doctor,
        health,
        details: Some(details),
        volume,
        orientation: loaded.config.ui.orientation.name().to_string(),
        restart: Rc::new(move || {
            restart.set(true);
            let _ = slint::quit_event_loop();
        }),
    }
}

/// The reader, the announcements, catalogue sync and software updates into `kiosk`'s events (`refresh`
/// overrides the config's announcement refresh).
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
    let sink = kiosk.sink();
    station.start_catalogue_watch(move || sink.send(crate::ui::app::UiEvent::CataloguePending));
    let sink = kiosk.sink();
    station.start_update_watch(move || sink.send(crate::ui::app::UiEvent::SoftwarePending));
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
        Some(o) => match Orientation::parse(o) {
            Some(o) => vec![o == Orientation::Landscape],
            None => bail!("unknown orientation {o:?}; use portrait or landscape"),
        },
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    headless::init().map_err(|e| anyhow!(e))?;
    let rt = runtime()?;
    let count = crate::ui::tour::screenshots(&args.out, &langs, &orientations, rt.handle())?;
    outln!("wrote {count} screenshots to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
