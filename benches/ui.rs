//! Benchmark: the touchscreen app. Start to first frame (demo catalogue and a 10,000-item
//! catalogue) and memory (PSS) of `kiosk run --headless --exit-after-first-frame`, and the time
//! to render whole 1080x1920 screens (idle, home, a guide) with the software renderer into an
//! XRGB8888 frame buffer, as on the kiosk's display. When a Chromium is
//! installed, the same start-up and memory figures for it loading an equivalent static home page.
//!
//! `cargo bench --bench ui` (figures in docs/PERFORMANCE.md).

use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use slint::ComponentHandle;
use village_kiosk::session::WipeReason;
use village_kiosk::station::{DemoOptions, Station};
use village_kiosk::ui::app::KioskOptions;
use village_kiosk::ui::framebuffer::{Framebuffer, FramebufferPlatform};
use village_kiosk::ui::{Kiosk, ManualClock, headless};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the kiosk to its first frame `n` times: (median ms from process start, median PSS kB).
fn kiosk_first_frame(extra: &[&str], n: usize) -> Option<(f64, f64)> {
    let mut ms = Vec::new();
    let mut pss = Vec::new();
    for _ in 0..n {
        let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["run", "--demo", "--headless", "--exit-after-first-frame"])
            .args(extra)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("first frame after ") {
                ms.push(rest.split_whitespace().next()?.parse().ok()?);
            }
            if let Some(rest) = line.strip_prefix("memory: PSS ") {
                pss.push(rest.split_whitespace().next()?.parse().ok()?);
            }
        }
    }
    (!ms.is_empty() && !pss.is_empty()).then(|| (median(ms), median(pss)))
}

/// PSS (kB) of a process tree rooted at `pid`, from /proc.
fn tree_pss_kb(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            total += s
                .lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in dir.flatten() {
                if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                    stack.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
                }
            }
        }
    }
    total
}

/// Headless Chromium loading a static page like the home screen: (ms to screenshot written,
/// peak PSS of the process tree in kB).
fn chromium(n: usize) -> Option<(f64, f64)> {
    let exe = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })?;
    let dir = std::env::temp_dir().join(format!("kiosk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let page = dir.join("home.html");
    let tiles: String = [
        "社保",
        "医保",
        "民政",
        "残联",
        "卫健",
        "司法",
        "农业农村",
        "退役军人",
        "就业",
    ]
    .iter()
    .map(|t| {
        format!(
            "<div class=tile><div class=badge>{}</div><b>{t}</b><small>5 项</small></div>",
            t.chars().next().unwrap_or('事')
        )
    })
    .collect();
    std::fs::write(
        &page,
        format!(
            "<!doctype html><meta charset=utf-8><style>body{{margin:0;font:28px sans-serif;background:#f4f6f9}}\
             header{{background:#0b57a4;color:#fff;height:124px;font-size:44px;display:flex;align-items:center;justify-content:center}}\
             .grid{{display:grid;grid-template-columns:repeat(3,1fr);gap:16px;padding:32px}}\
             .tile{{background:#fff;border:3px solid #5b6470;border-radius:14px;padding:18px;text-align:center;font-size:34px}}\
             .badge{{width:76px;height:76px;border-radius:38px;background:#0b57a4;color:#fff;margin:auto;line-height:76px}}\
             </style><header>便民服务</header><div class=grid>{tiles}</div>"
        ),
    )
    .ok()?;
    let mut ms = Vec::new();
    let mut pss = Vec::new();
    for i in 0..n {
        let profile = dir.join(format!("profile-{i}"));
        let shot = dir.join(format!("shot-{i}.png"));
        let start = Instant::now();
        let mut child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--window-size=1080,1920",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("file://{}", page.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut peak = 0;
        loop {
            peak = peak.max(tree_pss_kb(child.id()));
            if shot.exists() && ms.len() <= i {
                ms.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if ms.len() <= i && shot.exists() {
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        pss.push(peak as f64);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (!ms.is_empty()).then(|| (median(ms), median(pss)))
}

fn main() {
    let runs = 5;
    println!(
        "== start to first frame and memory (median of {runs}, kiosk run --headless --exit-after-first-frame)"
    );
    match kiosk_first_frame(&[], runs) {
        Some((ms, kb)) => {
            println!("kiosk, demo catalogue:        first frame {ms:.1} ms, PSS {kb:.0} kB")
        }
        None => println!("kiosk, demo catalogue:        could not run the kiosk binary"),
    }
    match kiosk_first_frame(&["--generated-catalog", "10000"], runs) {
        Some((ms, kb)) => {
            println!("kiosk, 10,000-item catalogue: first frame {ms:.1} ms, PSS {kb:.0} kB")
        }
        None => println!("kiosk, 10,000-item catalogue: could not run the kiosk binary"),
    }
    match chromium(runs) {
        Some((ms, kb)) => println!(
            "headless Chromium, static home page: screenshot written {ms:.1} ms, peak PSS {kb:.0} kB"
        ),
        None => println!("headless Chromium: not installed, no baseline"),
    }

    // Full-screen render with the software renderer, into an XRGB8888 frame buffer as the
    // kiosk image's linuxkms backend does, every pixel redrawn each time.
    let (platform, window) = FramebufferPlatform::new();
    if let Err(e) = slint::platform::set_platform(Box::new(platform)) {
        eprintln!("cannot install the frame-buffer platform: {e}");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime for the benchmark");
    let station = Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo station");
    let kiosk = Kiosk::new(
        station.services().clone(),
        rt.handle().clone(),
        Rc::new(ManualClock::new()),
        KioskOptions::default(),
        Arc::new(|| {}),
    )
    .expect("window");
    headless::set_orientation(&kiosk, false);
    let mut frame = Framebuffer::new(kiosk.window.window().size());
    let mut c = Criterion::default().configure_from_args().sample_size(50);
    let mut bench_page = |name: &str, frame: &mut Framebuffer| {
        assert!(frame.draw(&window), "{name}: nothing drawn");
        c.bench_function(
            &format!("render {name} 1080x1920 (software renderer, full frame)"),
            |b| b.iter(|| frame.draw(&window)),
        );
    };
    kiosk.end_visit(WipeReason::Home);
    bench_page("idle", &mut frame);
    kiosk.start_visit();
    bench_page("home", &mut frame);
    if let Some(item) = village_kiosk::ui::tour::first_online_item(&kiosk.services) {
        village_kiosk::ui::search::open_item(&kiosk, &item.code);
        bench_page("guide", &mut frame);
    }
    c.final_summary();
}
