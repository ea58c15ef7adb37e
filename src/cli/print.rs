//! `kiosk print|printer|receipt` and `kiosk sim printer`: the technician's printer commands.
//!
//! Exit codes (also in docs/printer.md): 0 printed / ready, 1 other error, 2 printer not
//! connected, 3 no answer to status requests, 4 out of paper, 5 cover open, 6 cutter error,
//! 7 head too hot, 8 unrecoverable error, 9 offline. Paper near end is a warning (exit 0).

use std::io::Read;
#[cfg(feature = "demo")]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "demo")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "demo")]
use std::time::Duration;

use anyhow::Context;

use super::Globals;
use crate::catalog::ServiceItem;
use crate::config::Config;
#[cfg(feature = "demo")]
use crate::printer::PaperState;
use crate::printer::paper::{PaperInterpreter, TranscriptEntry};
#[cfg(feature = "demo")]
use crate::printer::profile::DEFAULT_PROFILE;
use crate::printer::{
    PrintError, PrintJob, PrintReport, Printer, PrinterProfile, PrinterSettings, PrinterStatus,
    escpos, receipt,
};
#[cfg(feature = "demo")]
use crate::sim::printer::{PrinterSimulator, SimPrinterOptions};

#[derive(Debug, clap::Subcommand)]
pub enum PrintCommand {
    /// Print the technician's test page (profile, ruler, styles, Chinese, QR).
    Test(PortArgs),
    /// Print the one-time notice checklist (一次性告知单) of a catalogue item.
    Checklist {
        /// The item's code (事项编码), e.g. SB-001.
        code: String,
        #[command(flatten)]
        port: PortArgs,
        /// A catalogue JSON file (a list of items, or {"items": [...]}); default: the demo catalogue.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
    /// Print UTF-8 text read from stdin, optionally followed by a QR code.
    Text {
        #[command(flatten)]
        port: PortArgs,
        /// Print a QR code with this content after the text.
        #[arg(long, value_name = "DATA")]
        qr: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PrinterCommand {
    /// Ask the printer's real-time status (DLE EOT 1..4) and explain it.
    Status(PortArgs),
    /// List the known printer profiles.
    Profiles,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReceiptCommand {
    /// Render what would be printed to a PNG, without a printer.
    Preview(PreviewArgs),
}

/// Where the printer is.
#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// The printer's serial device, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "PATH")]
    pub port: PathBuf,
    /// Printer profile name (see `kiosk printer profiles`) or a profile .toml file;
    /// default: the config's printer.profile, else generic-80mm.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["sample", "checklist"])))]
pub struct PreviewArgs {
    /// A sample application receipt (受理回执).
    #[arg(long)]
    pub sample: bool,
    /// The checklist of the catalogue item with this code.
    #[arg(long, value_name = "CODE")]
    pub checklist: Option<String>,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    /// Printer profile (paper width, QR mode).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// A catalogue JSON file; default: the demo catalogue.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

#[cfg(feature = "demo")]
#[derive(Debug, clap::Args)]
pub struct SimPrinterArgs {
    /// Paper and mechanism state: ok, near-end, paper-end, cover-open, cutter-error, head-hot,
    /// unrecoverable.
    #[arg(long, default_value = "ok", value_parser = parse_state)]
    pub state: PaperState,
    /// The printer model simulated.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// Also make this stable symlink to the tty.
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Write the paper as PNG here after every cut and on exit.
    #[arg(long, value_name = "FILE.png")]
    pub png: Option<PathBuf>,
    /// Also append the transcript to this file.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// The paper runs out after this many received bytes.
    #[arg(long, value_name = "BYTES")]
    pub paper_end_after: Option<usize>,
}

#[cfg(feature = "demo")]
fn parse_state(s: &str) -> Result<PaperState, String> {
    PaperState::parse(s).ok_or_else(|| {
        let names: Vec<&str> = PaperState::ALL.iter().map(|p| p.name()).collect();
        format!("unknown state {s:?} (one of: {})", names.join(", "))
    })
}

fn load_config(g: &Globals) -> anyhow::Result<Config> {
    Ok(g.loaded()?.config.clone())
}

fn resolve_profile(arg: Option<&str>, config: &Config) -> anyhow::Result<PrinterProfile> {
    let name = arg.unwrap_or(config.printer.profile.as_str());
    Ok(PrinterProfile::load(name)?)
}

fn printer(port: &PortArgs, config: &Config) -> anyhow::Result<Printer> {
    Ok(Printer::new(PrinterSettings {
        port: port.port.clone(),
        profile: resolve_profile(port.profile.as_deref(), config)?,
    }))
}

/// Loads the items of a catalogue JSON file, or the demo catalogue.
fn catalog_items(file: Option<&Path>) -> anyhow::Result<Vec<ServiceItem>> {
    let Some(file) = file else {
        return Ok(crate::catalog::demo::demo_catalog().items);
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read catalogue {}", file.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("catalogue {} is not JSON", file.display()))?;
    let items = match value {
        serde_json::Value::Object(mut o) => o.remove("items").unwrap_or_default(),
        v => v,
    };
    serde_json::from_value(items)
        .with_context(|| format!("catalogue {} has invalid items", file.display()))
}

fn find_item(code: &str, file: Option<&Path>) -> anyhow::Result<ServiceItem> {
    let items = catalog_items(file)?;
    let wanted = code.trim();
    items
        .into_iter()
        .find(|i| i.code.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| anyhow::anyhow!("no service item with code {wanted:?} in the catalogue"))
}

fn now() -> chrono::NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// Prints the outcome of a job and returns its exit code.
fn report(result: Result<PrintReport, PrintError>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(r) => {
            outln!(
                "printed: {} bytes in {:.2} s (wire time {:.2} s)",
                r.bytes_sent,
                r.stream_time.as_secs_f64(),
                r.wire_time.as_secs_f64()
            );
            if r.paper_near_end() {
                outln!("warning: paper near end: replace the roll soon");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(super::exit::code(super::exit::printer_error(&e)))
        }
    }
}

pub fn run_print(cmd: PrintCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    let config = load_config(g)?;
    match cmd {
        PrintCommand::Test(port) => {
            let printer = printer(&port, &config)?;
            let job = receipt::test_page(printer.profile(), now());
            report(printer.print_blocking(job))
        }
        PrintCommand::Checklist {
            code,
            port,
            catalog,
        } => {
            let item = find_item(&code, catalog.as_deref())?;
            let printer = printer(&port, &config)?;
            let job = receipt::checklist(&item, &config.station.name, now());
            report(printer.print_blocking(job))
        }
        PrintCommand::Text { port, qr } => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("cannot read stdin")?;
            let text = String::from_utf8(input).map_err(|e| {
                anyhow::anyhow!(
                    "stdin is not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                )
            })?;
            let mut job = PrintJob::new();
            let text = text.strip_suffix('\n').unwrap_or(&text);
            if !text.is_empty() {
                job.text(text);
            }
            if let Some(data) = qr {
                job.qr(data);
            }
            if job.blocks.is_empty() {
                anyhow::bail!("nothing to print: stdin is empty and no --qr given");
            }
            let printer = printer(&port, &config)?;
            report(printer.print_blocking(job))
        }
    }
}

fn yes_no(b: bool, yes: &str, no: &str) -> String {
    if b { yes.into() } else { no.into() }
}

fn describe_status(s: &PrinterStatus, profile: &PrinterProfile) -> anyhow::Result<()> {
    let asked = |n: u8| s.answered & (1 << (n - 1)) != 0;
    outln!("online: {}", yes_no(!s.offline, "yes", "no (offline)"));
    if asked(2) {
        outln!("cover: {}", yes_no(s.cover_open, "open", "closed"));
    }
    let paper = if s.paper_end {
        "out"
    } else if s.paper_near_end {
        "near end"
    } else {
        "ok"
    };
    outln!("paper: {paper}");
    if asked(3) {
        outln!("cutter: {}", yes_no(s.cutter_error, "error", "ok"));
        outln!(
            "head: {}",
            yes_no(s.auto_recoverable_error, "too hot", "ok")
        );
        outln!(
            "unrecoverable error: {}",
            yes_no(s.unrecoverable_error, "yes", "no")
        );
    } else {
        outln!(
            "(profile {} answers DLE EOT {:?} only)",
            profile.name,
            profile.status.requests()
        );
    }
    Ok(())
}

pub fn run_printer(cmd: PrinterCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        PrinterCommand::Profiles => {
            for p in PrinterProfile::all_builtin() {
                outln!("{:<22} {}", p.name, p.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        PrinterCommand::Status(port) => {
            let config = load_config(g)?;
            let printer = printer(&port, &config)?;
            let profile = printer.profile().clone();
            if profile.status.requests().is_empty() {
                eprintln!(
                    "error: profile {} has no status support; nothing to ask",
                    profile.name
                );
                return Ok(ExitCode::FAILURE);
            }
            outln!("port: {} (profile {})", port.port.display(), profile.name);
            match printer.status_blocking() {
                Ok(s) => {
                    describe_status(&s, &profile)?;
                    match s.fault() {
                        None => {
                            if s.paper_near_end {
                                outln!(
                                    "status: ready (warning: paper near end, replace the roll soon)"
                                );
                            } else {
                                outln!("status: ready");
                            }
                            Ok(ExitCode::SUCCESS)
                        }
                        Some(f) => {
                            let all: Vec<&str> = s.faults().iter().map(|f| f.describe()).collect();
                            outln!("status: not ready: {}", all.join(", "));
                            eprintln!("error: printer {}", f.describe());
                            Ok(super::exit::code(super::exit::printer_fault(f)))
                        }
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(super::exit::code(super::exit::printer_error(&e)))
                }
            }
        }
    }
}

pub fn run_receipt(cmd: ReceiptCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    let ReceiptCommand::Preview(args) = cmd;
    let config = load_config(g)?;
    let profile = resolve_profile(args.profile.as_deref(), &config)?;
    let job = match &args.checklist {
        Some(code) => {
            let item = find_item(code, args.catalog.as_deref())?;
            receipt::checklist(&item, &config.station.name, now())
        }
        None => receipt::application_receipt(&receipt::sample_receipt()),
    };
    let bytes = escpos::encode_job(&job, &profile)?;
    let mut paper = PaperInterpreter::new(&profile);
    paper.feed(&bytes);
    let garbage = paper
        .transcript()
        .iter()
        .filter(|e| matches!(e, TranscriptEntry::Garbage { .. }))
        .count();
    let png = paper.paper_png();
    std::fs::write(&args.out, &png)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let image = paper.paper();
    outln!(
        "wrote {} ({}x{} dots, profile {}, {} bytes of ESC/POS)",
        args.out.display(),
        image.width(),
        image.height(),
        profile.name,
        bytes.len()
    );
    if garbage > 0 {
        anyhow::bail!("{garbage} stretches of the job would print as garbage");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "demo")]
static STOP: AtomicBool = AtomicBool::new(false);

#[cfg(feature = "demo")]
extern "C" fn on_stop_signal(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

#[cfg(feature = "demo")]
fn install_stop_handlers() -> anyhow::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }.context("cannot install signal handler")?;
    }
    Ok(())
}

#[cfg(feature = "demo")]
pub fn run_sim(args: SimPrinterArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    let profile = PrinterProfile::load(&args.profile)?;
    let sim = PrinterSimulator::start(SimPrinterOptions {
        profile,
        state: args.state,
        link: args.link.clone(),
        paper_end_after_bytes: args.paper_end_after,
    })
    .context("cannot open a pseudo-terminal for the printer simulator")?;
    install_stop_handlers()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", sim.path().display())?;
    stdout.flush()?;
    let mut transcript_file = match &args.transcript {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
        ),
        None => None,
    };
    let write_png = |sim: &PrinterSimulator| -> anyhow::Result<()> {
        if let Some(p) = &args.png {
            std::fs::write(p, sim.paper_png())
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(())
    };
    let mut seen = 0;
    while !STOP.load(Ordering::SeqCst) {
        let (_, entries) = sim.wait_for(Duration::from_millis(200), |t| t.len() > seen);
        for e in entries.iter().skip(seen) {
            // The paper is on disk before the cut is announced.
            if matches!(e, TranscriptEntry::Cut { .. }) {
                write_png(&sim)?;
            }
            writeln!(stdout, "{e}")?;
            if let Some(f) = transcript_file.as_mut() {
                writeln!(f, "{e}")?;
            }
        }
        stdout.flush()?;
        seen = entries.len().max(seen);
    }
    write_png(&sim)?;
    Ok(ExitCode::SUCCESS)
}
