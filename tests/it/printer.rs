//! Integration tests for the printer area: the serial driver against the simulator on real
//! pseudo-terminals, bytes decoded back (GB18030 text, native QR payloads, raster QR read with
//! rqrr), every status fault, substitution, unplug/replug, and the `kiosk` binary's commands.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use village_kiosk::printer::bitmap::Bitmap;
use village_kiosk::printer::paper::{PrintModes, TranscriptEntry};
use village_kiosk::printer::receipt::{self, sample_receipt};
use village_kiosk::printer::{
    PaperState, PrintError, PrintJob, Printer, PrinterFault, PrinterProfile, PrinterSettings,
};
use village_kiosk::sim::printer::{PrinterSimulator, SimPrinterOptions};
use village_kiosk::sim::pty::Pty;

const WAIT: Duration = Duration::from_secs(20);

fn profile(name: &str) -> PrinterProfile {
    let mut p = PrinterProfile::builtin(name).unwrap();
    // The pty has no baud; pace fast so tests stay quick (pacing is measured in the bench).
    p.baud = 1_000_000;
    // Generous: a loaded CI machine may schedule the simulator late.
    p.status_timeout_ms = 5_000;
    p
}

fn sim(name: &str, state: PaperState) -> PrinterSimulator {
    PrinterSimulator::start(SimPrinterOptions {
        profile: profile(name),
        state,
        ..SimPrinterOptions::default()
    })
    .unwrap()
}

fn printer_for(sim: &PrinterSimulator, name: &str) -> Printer {
    Printer::new(PrinterSettings {
        port: sim.path().to_path_buf(),
        profile: profile(name),
    })
}

fn garbage(t: &[TranscriptEntry]) -> Vec<String> {
    t.iter()
        .filter(|e| matches!(e, TranscriptEntry::Garbage { .. }))
        .map(|e| e.to_string())
        .collect()
}

/// Reads every QR code in a one-bit image, with a white quiet zone added around it.
fn read_qr(image: &Bitmap) -> Vec<String> {
    let margin = 32;
    let mut padded = Bitmap::new(image.width() + 2 * margin, image.height() + 2 * margin);
    padded.paste(image, margin, margin);
    let luma = padded.to_luma();
    let w = padded.width();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w, padded.height(), |x, y| luma[y * w + x]);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

/// Reads the QR codes on a printed paper. rqrr takes corners of Chinese glyphs for finder
/// patterns on a full page, so like a phone held over the code it looks at one stretch of paper
/// at a time; each distinct payload is reported once, top to bottom.
pub(crate) fn read_qr_on_paper(paper: &Bitmap) -> Vec<String> {
    let band = 480.min(paper.height());
    let mut found: Vec<String> = Vec::new();
    let mut y0 = 0;
    loop {
        let mut crop = Bitmap::new(paper.width(), band);
        for y in 0..band {
            for x in 0..paper.width() {
                crop.set(x, y, paper.get(x, y0 + y));
            }
        }
        for s in read_qr(&crop) {
            if !found.contains(&s) {
                found.push(s);
            }
        }
        if y0 + band >= paper.height() {
            return found;
        }
        y0 = (y0 + band / 4).min(paper.height() - band);
    }
}

pub(crate) fn png_to_bitmap(png_bytes: &[u8]) -> Bitmap {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut b = Bitmap::new(w, h);
    for y in 0..h {
        for x in 0..w {
            b.set(x, y, buf[y * w + x] < 128);
        }
    }
    b
}

#[tokio::test]
async fn receipt_on_80mm_round_trips_text_and_native_qr() {
    let sim = sim("generic-80mm", PaperState::Ok);
    let printer = printer_for(&sim, "generic-80mm");
    let r = sample_receipt();
    let report = printer
        .print(receipt::application_receipt(&r))
        .await
        .unwrap();
    assert!(report.bytes_sent > 300);
    assert!(report.status_before.unwrap().is_ready());
    let t = sim.transcript();
    assert_eq!(garbage(&t), Vec::<String>::new());
    let texts = sim.texts();
    assert!(texts.contains(&"受理回执".to_string()), "{texts:#?}");
    assert!(texts.iter().any(|l| l == "申请人：张*国"), "{texts:#?}");
    assert!(!texts.iter().any(|l| l.contains("张建国")));
    assert!(texts.iter().any(|l| l.contains("待上传")));
    assert!(
        texts
            .iter()
            .any(|l| l == "受理编号：DEMO-0001-20261128-0007")
    );
    assert_eq!(sim.qr_payloads(), vec![r.progress_url.clone()]);
    assert!(sim.images().is_empty(), "native QR, no raster");
    assert!(t.contains(&TranscriptEntry::Cut { partial: false }));
    assert_eq!(sim.modes(), PrintModes::KNOWN);
    // The simulator's paper shows a QR code that reads back.
    let paper = png_to_bitmap(&sim.paper_png());
    assert_eq!(paper.width(), 576);
    assert_eq!(read_qr_on_paper(&paper), vec![r.progress_url]);
}

#[tokio::test]
async fn receipt_on_58mm_prints_a_raster_qr_that_reads_back() {
    let sim = sim("generic-58mm", PaperState::Ok);
    let printer = printer_for(&sim, "generic-58mm");
    let r = sample_receipt();
    printer
        .print(receipt::application_receipt(&r))
        .await
        .unwrap();
    let t = sim.transcript();
    assert_eq!(garbage(&t), Vec::<String>::new());
    assert!(sim.qr_payloads().is_empty(), "no native QR on this profile");
    let decoded: Vec<String> = sim.images().iter().flat_map(read_qr).collect();
    assert_eq!(decoded, vec![r.progress_url.clone()]);
    // The simulator's transcript reads the raster QR back too.
    assert_eq!(sim.raster_qr_payloads(), vec![r.progress_url]);
    assert!(t.contains(&TranscriptEntry::Cut { partial: true }));
    // 32 columns: no line wider than the paper.
    for line in sim.texts() {
        let width: usize = line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        assert!(width <= 32, "{line} is {width} columns");
    }
    assert_eq!(sim.modes(), PrintModes::KNOWN);
}

#[tokio::test]
async fn text_needing_substitution_prints_without_garbage() {
    let sim = sim("generic-58mm", PaperState::Ok);
    let printer = printer_for(&sim, "generic-58mm");
    let mut job = PrintJob::new();
    job.text("工本费¥0.00，•免费");
    job.text("申请人：欧阳䶮");
    job.text("tab\there\u{1b}@");
    printer.print(job).await.unwrap();
    let t = sim.transcript();
    assert_eq!(garbage(&t), Vec::<String>::new());
    let texts = sim.texts();
    assert!(
        texts.contains(&"工本费￥0.00，·免费".to_string()),
        "{texts:?}"
    );
    assert!(texts.contains(&"tab    here@".to_string()), "{texts:?}");
    // The line with the rare character came as a one-line glyph image, not as text.
    assert!(!texts.iter().any(|l| l.contains("欧阳")));
    let images = sim.images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].height(), 24);
    assert_eq!(images[0].width(), 14 * 12);
}

#[tokio::test]
async fn every_fault_refuses_the_job_and_nothing_is_printed() {
    for state in PaperState::ALL {
        let Some(fault) = state.fault() else { continue };
        let sim = sim("generic-80mm", state);
        let printer = printer_for(&sim, "generic-80mm");
        let status = printer.status().await.unwrap();
        assert_eq!(status.fault(), Some(fault), "{state:?}");
        let err = printer
            .print(receipt::application_receipt(&sample_receipt()))
            .await;
        assert_eq!(err, Err(PrintError::NotReady(fault)), "{state:?}");
        let e = err.unwrap_err();
        assert!(e.message_zh().contains("打印机"), "{}", e.message_zh());
        assert_eq!(e.exit_code(), fault.exit_code());
        assert!(sim.texts().is_empty(), "{state:?}: nothing may be sent");
        // Only the status requests went over the wire.
        assert_eq!(sim.bytes_received(), 2 * 4 * 3, "{state:?}");
    }
}

#[tokio::test]
async fn out_of_paper_message_and_58mm_status_subset() {
    let sim = sim("generic-58mm", PaperState::PaperEnd);
    let printer = printer_for(&sim, "generic-58mm");
    let e = printer
        .print(receipt::test_page(
            &profile("generic-58mm"),
            Default::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(e, PrintError::NotReady(PrinterFault::PaperEnd));
    assert_eq!(e.message_zh(), "打印机缺纸，请联系工作人员");
    // This profile asks DLE EOT 1 and 4 only.
    let asked: Vec<u8> = sim
        .transcript()
        .iter()
        .filter_map(|e| match e {
            TranscriptEntry::Status { n, .. } => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![1, 4]);
}

#[tokio::test]
async fn paper_running_out_mid_job_is_never_reported_printed() {
    let sim = PrinterSimulator::start(SimPrinterOptions {
        profile: profile("generic-80mm"),
        paper_end_after_bytes: Some(200),
        ..SimPrinterOptions::default()
    })
    .unwrap();
    let printer = printer_for(&sim, "generic-80mm");
    let e = printer
        .print(receipt::application_receipt(&sample_receipt()))
        .await
        .unwrap_err();
    assert_eq!(e, PrintError::FailedDuringJob(PrinterFault::PaperEnd));
    assert!(e.message_zh().contains("缺纸"));
    assert!(
        !sim.transcript()
            .contains(&TranscriptEntry::Cut { partial: false })
    );
}

#[tokio::test]
async fn near_end_prints_with_a_warning_and_state_changes_are_seen() {
    let sim = sim("generic-80mm", PaperState::NearEnd);
    let printer = printer_for(&sim, "generic-80mm");
    let mut job = PrintJob::new();
    job.text("near end");
    let report = printer.print(job.clone()).await.unwrap();
    assert!(report.paper_near_end());
    sim.set_state(PaperState::CoverOpen);
    assert_eq!(
        printer.print(job.clone()).await,
        Err(PrintError::NotReady(PrinterFault::CoverOpen))
    );
    sim.set_state(PaperState::Ok);
    let report = printer.print(job).await.unwrap();
    assert!(!report.paper_near_end());
    assert_eq!(sim.texts(), vec!["near end", "near end"]);
}

#[tokio::test]
async fn recovers_after_the_printer_is_unplugged_and_plugged_in() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let options = SimPrinterOptions {
        profile: profile("generic-80mm"),
        link: Some(link.clone()),
        ..SimPrinterOptions::default()
    };
    let printer = Printer::new(PrinterSettings {
        port: link.clone(),
        profile: profile("generic-80mm"),
    });
    let mut job = PrintJob::new();
    job.text("第一张");
    let first = PrinterSimulator::start(options.clone()).unwrap();
    printer.print(job.clone()).await.unwrap();
    drop(first); // unplugged
    let e = printer.print(job.clone()).await.unwrap_err();
    assert!(
        matches!(
            e,
            PrintError::Disconnected { .. } | PrintError::NotConnected { .. }
        ),
        "{e:?}"
    );
    assert_eq!(e.message_zh(), "打印机未连接，请联系工作人员");
    let second = PrinterSimulator::start(options).unwrap(); // plugged in again
    job.blocks.clear();
    job.text("第二张");
    printer.print(job).await.unwrap();
    assert_eq!(second.texts(), vec!["第二张"]);
}

#[tokio::test]
async fn a_gb2312_tear_bar_printer_without_status_gets_images_for_gbk_only_characters() {
    let sim = sim("gb2312-58mm-tearbar", PaperState::Ok);
    let printer = printer_for(&sim, "gb2312-58mm-tearbar");
    let mut job = PrintJob::new();
    job.text("龑");
    job.text("结束");
    let report = printer.print(job).await.unwrap();
    assert_eq!(report.status_before, None, "no status support: sent blind");
    // Without a status round trip, wait for the last line to arrive.
    let (done, t) = sim.wait_for(WAIT, |t| {
        t.iter()
            .any(|e| matches!(e, TranscriptEntry::Text { text, .. } if text == "结束"))
    });
    assert!(done, "{t:?}");
    assert_eq!(garbage(&t), Vec::<String>::new());
    assert_eq!(
        sim.images().len(),
        1,
        "龑 is not in GB2312: printed as an image"
    );
    assert!(
        !t.iter().any(|e| matches!(e, TranscriptEntry::Cut { .. })),
        "tear bar"
    );
    assert!(
        !t.iter()
            .any(|e| matches!(e, TranscriptEntry::Status { .. }))
    );
}

#[tokio::test]
async fn a_printer_that_does_not_answer_is_reported() {
    let pty = Pty::open().unwrap();
    let mut p = profile("generic-80mm");
    p.status_timeout_ms = 100;
    let printer = Printer::new(PrinterSettings {
        port: pty.path().to_path_buf(),
        profile: p,
    });
    let e = printer.status().await.unwrap_err();
    assert!(matches!(e, PrintError::NoResponse { n: 1, .. }), "{e:?}");
    assert_eq!(e.exit_code(), 3);
    let missing = Printer::new(PrinterSettings {
        port: "/nonexistent/ttyUSB9".into(),
        profile: profile("generic-80mm"),
    });
    let e = missing.status().await.unwrap_err();
    assert!(matches!(e, PrintError::NotConnected { .. }), "{e:?}");
}

#[test]
fn the_ui_thread_is_not_blocked_while_a_job_prints() {
    // `print` returns a future at once; the work happens on the driver thread.
    let sim = sim("generic-80mm", PaperState::Ok);
    let printer = printer_for(&sim, "generic-80mm");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = rt.block_on(async {
        let job = receipt::checklist(
            &village_kiosk::catalog::demo::demo_catalog().items[0],
            "站",
            Default::default(),
        );
        tokio::join!(printer.print(job.clone()), printer.print(job))
    });
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert!(sim.wait_for_cuts(2, WAIT));
}

// ---- the `kiosk` binary ----

fn kiosk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiosk"));
    c.env_remove("KIOSK_CONFIG");
    c
}

/// A copy of a shipped profile at 1 Mbaud, so the CLI's paced writes do not slow the tests
/// (a pty has no baud; pacing is measured in the benchmark).
fn fast_profile_file(dir: &Path, name: &str) -> String {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hardware/profiles/printers")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(shipped).unwrap();
    let fast: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.starts_with("baud = ") {
                "baud = 1000000"
            } else {
                l
            }
        })
        .collect();
    let path = dir.join(format!("{name}-fast.toml"));
    std::fs::write(&path, fast.join("\n")).unwrap();
    path.to_str().unwrap().to_string()
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = kiosk()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_printer_status_explains_each_fault_with_its_exit_code() {
    for (state, code, words) in [
        (PaperState::Ok, 0, "status: ready"),
        (PaperState::NearEnd, 0, "paper near end"),
        (PaperState::PaperEnd, 4, "out of paper"),
        (PaperState::CoverOpen, 5, "cover open"),
        (PaperState::CutterError, 6, "cutter error"),
        (PaperState::HeadOverheated, 7, "too hot"),
        (PaperState::Unrecoverable, 8, "unrecoverable"),
    ] {
        let sim = sim("generic-80mm", state);
        let port = sim.path().to_str().unwrap().to_string();
        let (rc, out, err) = run(&["printer", "status", "--port", &port], "");
        assert_eq!(rc, code, "{state:?}: {out}{err}");
        assert!(
            out.contains(words) || err.contains(words),
            "{state:?}: {out}{err}"
        );
    }
    let (rc, _, err) = run(&["printer", "status", "--port", "/nonexistent/tty"], "");
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("cannot open printer port"), "{err}");
}

#[test]
fn cli_prints_test_page_checklist_and_text() {
    let sim = sim("generic-58mm", PaperState::Ok);
    let port = sim.path().to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let p58 = fast_profile_file(dir.path(), "generic-58mm");
    let (rc, out, err) = run(&["print", "test", "--port", &port, "--profile", &p58], "");
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.starts_with("printed: "), "{out}");
    assert!(sim.texts().contains(&"打印机测试页".to_string()));

    let (rc, out, err) = run(
        &[
            "print",
            "checklist",
            "SB-001",
            "--port",
            &port,
            "--profile",
            &p58,
        ],
        "",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(sim.texts().contains(&"一次性告知单".to_string()));
    assert!(sim.texts().iter().any(|l| l.starts_with("一、申请材料")));

    let (rc, out, err) = run(
        &[
            "print",
            "text",
            "--port",
            &port,
            "--profile",
            &p58,
            "--qr",
            "HELLO-QR",
        ],
        "你好，村民！\nprice ¥3\n",
    );
    assert_eq!(rc, 0, "{out}{err}");
    let texts = sim.texts();
    assert!(texts.contains(&"你好，村民！".to_string()), "{texts:?}");
    assert!(texts.contains(&"price ￥3".to_string()), "{texts:?}");
    let decoded: Vec<String> = sim.images().iter().flat_map(read_qr).collect();
    assert!(decoded.contains(&"HELLO-QR".to_string()), "{decoded:?}");
    assert_eq!(garbage(&sim.transcript()), Vec::<String>::new());
    assert!(sim.wait_for_cuts(3, WAIT));

    let (rc, _, err) = run(&["print", "checklist", "NOPE-9", "--port", &port], "");
    assert_eq!(rc, 1);
    assert!(err.contains("NOPE-9"), "{err}");
}

#[test]
fn cli_print_refuses_when_out_of_paper() {
    let sim = sim("generic-80mm", PaperState::PaperEnd);
    let port = sim.path().to_str().unwrap().to_string();
    let (rc, _, err) = run(&["print", "text", "--port", &port], "hello\n");
    assert_eq!(rc, 4, "{err}");
    assert!(err.contains("out of paper"), "{err}");
    assert!(sim.texts().is_empty());
}

#[test]
fn cli_receipt_preview_renders_the_paper() {
    let dir = tempfile::tempdir().unwrap();
    for profile in ["generic-58mm", "generic-80mm"] {
        let out = dir.path().join(format!("receipt-{profile}.png"));
        let (rc, stdout, err) = run(
            &[
                "receipt",
                "preview",
                "--sample",
                "--profile",
                profile,
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(rc, 0, "{stdout}{err}");
        let paper = png_to_bitmap(&std::fs::read(&out).unwrap());
        assert_eq!(
            read_qr_on_paper(&paper),
            vec![sample_receipt().progress_url]
        );
    }
    let out = dir.path().join("checklist.png");
    let (rc, stdout, err) = run(
        &[
            "receipt",
            "preview",
            "--checklist",
            "SB-001",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(rc, 0, "{stdout}{err}");
    assert!(png_to_bitmap(&std::fs::read(&out).unwrap()).height() > 500);
    let (rc, _, _) = run(&["receipt", "preview", "--out", "x.png"], "");
    assert_eq!(rc, 64, "--sample or --checklist is required (bad usage)");
}

#[test]
fn cli_sim_printer_prints_its_tty_then_a_transcript_and_paper() {
    let dir = tempfile::tempdir().unwrap();
    let p58 = fast_profile_file(dir.path(), "generic-58mm");
    let png_path = dir.path().join("paper.png");
    let mut child = kiosk()
        .args([
            "sim",
            "printer",
            "--state",
            "near-end",
            "--profile",
            "generic-58mm",
            "--png",
        ])
        .arg(&png_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let tty = lines.next().unwrap().unwrap();
    assert!(Path::new(&tty).exists(), "{tty}");
    let (rc, out, err) = run(
        &[
            "print",
            "text",
            "--port",
            &tty,
            "--profile",
            &p58,
            "--qr",
            "SIM-QR",
        ],
        "模拟打印机\n",
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("warning: paper near end"), "{out}");
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("cut:");
        seen.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains(&"status: DLE EOT 4 -> 1E".to_string()),
        "{seen:#?}"
    );
    assert!(seen.contains(&"text: 模拟打印机".to_string()), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.starts_with("image: ") && l.ends_with("(QR: SIM-QR)")),
        "{seen:#?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("cut: partial"));
    let paper = png_to_bitmap(&std::fs::read(&png_path).unwrap());
    assert_eq!(paper.width(), 384);
    assert_eq!(read_qr_on_paper(&paper), vec!["SIM-QR".to_string()]);
}

mod properties {
    use proptest::prelude::*;
    use village_kiosk::printer::bitmap::font_has;
    use village_kiosk::printer::escpos::{display_width, encode_job};
    use village_kiosk::printer::paper::{PaperInterpreter, PrintModes, TranscriptEntry};
    use village_kiosk::printer::{PrintJob, PrinterProfile};

    /// Characters from every class: ASCII, GB2312 and GBK-only Chinese, full-width punctuation,
    /// a character that must be substituted, and rare characters only an image can show.
    const ALPHABET: &[char] = &[
        'a', 'Z', '0', ' ', '-', '/', '国', '张', '龑', '镕', '，', '。', '（', '）', '¥', '䶮',
        '𠮷',
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn printed_text_reads_back_and_fits(
            picks in proptest::collection::vec(0..ALPHABET.len(), 0..120),
            wide in any::<bool>(),
        ) {
            let text: String = picks.iter().map(|&i| ALPHABET[i]).collect();
            let profile = PrinterProfile::builtin(if wide { "generic-80mm" } else { "generic-58mm" }).unwrap();
            let mut job = PrintJob::new();
            job.text(text.clone());
            let bytes = encode_job(&job, &profile).unwrap();
            let mut printer = PaperInterpreter::new(&profile);
            printer.feed(&bytes);
            let mut read = String::new();
            let mut images = 0;
            for e in printer.transcript() {
                match e {
                    TranscriptEntry::Text { text, .. } => {
                        prop_assert!(display_width(text) <= profile.columns(), "{text}");
                        read.push_str(text);
                    }
                    TranscriptEntry::Image { image, .. } => {
                        prop_assert!(image.width() <= profile.dots_per_line as usize);
                        images += 1;
                    }
                    TranscriptEntry::Garbage { .. } => prop_assert!(false, "garbage: {e}"),
                    _ => {}
                }
            }
            // What came back as text is the input minus spaces, with ¥ as ￥, unless lines with
            // rare characters went as images.
            // A character no font has (𠮷 is not in the embedded font either) prints as □.
            let expected: String = text
                .chars()
                .filter(|c| *c != ' ')
                .map(|c| match c {
                    '¥' => '￥',
                    c if !font_has(c) => '□',
                    c => c,
                })
                .collect();
            let got: String = read.chars().filter(|c| *c != ' ').collect();
            if images == 0 {
                prop_assert_eq!(got, expected);
            } else {
                prop_assert!(text.contains('䶮'));
            }
            prop_assert_eq!(printer.modes(), PrintModes::KNOWN);
        }
    }
}
