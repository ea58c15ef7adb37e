//! `kiosk card read|watch` and `kiosk sim idcard`: the technician's ID card reader commands.
//!
//! `card read` exit codes: 0 card read and valid, 2 no card before the timeout, 3 reader not
//! answering (or not there), 4 card data invalid or unreadable. Personal data is masked unless
//! `--show-pii` is given; it is never logged.

#[cfg(feature = "demo")]
use std::io::BufRead;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[cfg(feature = "demo")]
use anyhow::Context;
use serde::Serialize;

use super::Globals;
use crate::idcard::card::{CardKind, IdCard};
use crate::idcard::reader::{
    CardDay, PollOutcome, Reader, ReaderError, ReaderEvent, ReaderSettings,
};
use crate::pii::{PiiKind, mask};
#[cfg(feature = "demo")]
use crate::sim::idcard::{DemoCard, IdcardSimulator, SimCard, SimOptions};

/// Exit code: no card was placed before the timeout ([`super::exit::card`]).
pub const EXIT_NO_CARD: u8 = super::exit::card::NO_CARD;
/// Exit code: the reader does not answer (wrong port, wrong baud, unplugged).
pub const EXIT_READER_NOT_ANSWERING: u8 = super::exit::card::READER_NOT_ANSWERING;
/// Exit code: a card was read but its data is invalid (or it could not be read).
pub const EXIT_CARD_INVALID: u8 = super::exit::card::CARD_INVALID;

#[derive(Debug, clap::Subcommand)]
pub enum CardCommand {
    /// Wait for a card and print its fields (exit 0 read, 2 no card before the timeout,
    /// 3 reader not answering, 4 card data invalid).
    Read(ReadArgs),
    /// Print reader events as they happen (card placed, rejected, lifted, reader fault, back)
    /// until interrupted.
    Watch(WatchArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Serial device of the reader, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "PATH")]
    pub port: PathBuf,
    /// Line speed (factory default 115200).
    #[arg(long, value_name = "N", default_value_t = 115_200)]
    pub baud: u32,
    /// How long to wait for a card, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print the ID number, name, address and birth date unmasked (only with the cardholder
    /// present).
    #[arg(long)]
    pub show_pii: bool,
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Serial device of the reader, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "PATH")]
    pub port: PathBuf,
    /// Line speed (factory default 115200).
    #[arg(long, value_name = "N", default_value_t = 115_200)]
    pub baud: u32,
    /// Print the ID number, name and address unmasked.
    #[arg(long)]
    pub show_pii: bool,
}

#[cfg(feature = "demo")]
/// Options of the simulated reader.
#[derive(Debug, clap::Args)]
pub struct SimIdcardArgs {
    /// The card on the reader at start (JSON with the fields of `kiosk card read --json`);
    /// default: a demo resident ID card.
    #[arg(long, value_name = "FILE.json", conflicts_with = "no_card")]
    pub card: Option<PathBuf>,
    /// Start with no card on the reader.
    #[arg(long)]
    pub no_card: bool,
    /// Put a demo card of this kind on the reader instead.
    #[arg(long, value_enum, conflicts_with_all = ["card", "no_card"])]
    pub demo: Option<DemoCard>,
    /// Also make the tty reachable through this stable symlink.
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// The simulated reader's line speed (writes are paced at it; requests at another speed
    /// are ignored, like a real reader).
    #[arg(long, value_name = "N", default_value_t = 115_200)]
    pub baud: u32,
    /// Write as fast as the pty takes bytes instead of at the line speed.
    #[arg(long)]
    pub no_pace: bool,
    /// Split every response into this many pieces.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub split: usize,
    /// Send noise bytes before every response.
    #[arg(long)]
    pub noise: bool,
    /// After a read, the card must be lifted and placed again before it is found.
    #[arg(long)]
    pub replace_after_read: bool,
    /// Behave like an old SAM: answer 30 10 with status 21.
    #[arg(long)]
    pub old_sam: bool,
    /// Answer nothing (a reader that went silent).
    #[arg(long)]
    pub silent: bool,
    /// Fail this many reads (status 41) after every placement.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub failing_reads: u32,
}

pub fn run(cmd: CardCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    // Cards are checked on the station's day: the config's zone, or Asia/Shanghai on a bench
    // without a usable config.
    let zone = g
        .loaded_or_error()
        .map_or(crate::county::outbox::DEFAULT_TIME_ZONE, |l| {
            l.config.station.time_zone
        });
    let day = crate::station::reader::station_day(zone);
    match cmd {
        CardCommand::Read(args) => read(args, &day),
        CardCommand::Watch(args) => watch(args, day),
    }
}

/// What a technician should check, per failure.
const CHECK_NO_CARD: &str = "no card was placed on the reader before the timeout; place the card flat on the reader's marked area (remove it from any wallet or metal case) and try again with a longer --timeout";

fn read(args: ReadArgs, day: &CardDay) -> anyhow::Result<ExitCode> {
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        anyhow::bail!("--timeout must be a number of seconds ≥ 0");
    }
    let settings = ReaderSettings {
        baud: args.baud,
        ..ReaderSettings::new(&args.port)
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout.min(86_400.0));
    let mut reader = match Reader::open(&settings) {
        Ok(r) => r,
        Err(e) => return Ok(not_answering(&e)),
    };
    // Is anybody there? A reader just powered up may miss the first request.
    let mut status = reader.sam_status();
    for _ in 0..2 {
        if matches!(status, Err(ReaderError::NoAnswer { .. })) {
            status = reader.sam_status();
        }
    }
    match status {
        Ok(s) if s.is_ok() => {}
        Ok(s) => eprintln!(
            "warning: the reader's SAM reports {s}; reading anyway (power-cycle the reader if reads fail)"
        ),
        Err(e) => return Ok(not_answering(&e)),
    }
    if !args.json {
        eprintln!(
            "waiting up to {}s for a card on {} …",
            args.timeout,
            args.port.display()
        );
    }
    let mut last_read_failure: Option<String> = None;
    let mut unanswered = 0;
    loop {
        let today = day.today();
        let result = reader.poll(today);
        if matches!(result, Err(ReaderError::NoAnswer { .. })) {
            // One lost frame is not a dead reader; three polls in a row are.
            unanswered += 1;
            if unanswered < 3 {
                continue;
            }
        } else {
            unanswered = 0;
        }
        match result {
            Ok(PollOutcome::Card(Ok(card))) => {
                print_card(&card, args.json, args.show_pii)?;
                return Ok(ExitCode::SUCCESS);
            }
            Ok(PollOutcome::Card(Err(rejection))) => {
                eprintln!(
                    "error: the card was read but its data is invalid: {rejection}. It cannot be used for applications. Check the card itself (damaged, expired or not a genuine card); if every card fails this way, check the kiosk's date ({today}) and the reader"
                );
                return Ok(ExitCode::from(EXIT_CARD_INVALID));
            }
            Ok(PollOutcome::ReadFailed(reason)) => last_read_failure = Some(reason),
            Ok(PollOutcome::NoCard) => {}
            Err(e) => return Ok(not_answering(&e)),
        }
        if Instant::now() + settings.poll_interval > deadline {
            break;
        }
        std::thread::sleep(settings.poll_interval);
    }
    if let Some(reason) = last_read_failure {
        eprintln!(
            "error: a card is on the reader but could not be read ({reason}); place it again, flat and still; if no card can be read, the reader's antenna or SAM is faulty"
        );
        return Ok(ExitCode::from(EXIT_CARD_INVALID));
    }
    eprintln!("error: {CHECK_NO_CARD}");
    Ok(ExitCode::from(EXIT_NO_CARD))
}

fn not_answering(e: &ReaderError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_READER_NOT_ANSWERING)
}

/// The JSON shape of `kiosk card read --json`: plain field names.
#[derive(Debug, Serialize)]
struct CardJson {
    card_kind: CardKind,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    english_name: Option<String>,
    sex: &'static str,
    sex_code: String,
    nation: Option<String>,
    nation_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nationality: Option<String>,
    /// `YYYY-MM-DD`, or `****-**-**` when masked: beside the masked number it would rebuild it.
    birth_date: String,
    address: Option<String>,
    id_number: String,
    issuer: String,
    valid_from: chrono::NaiveDate,
    /// null: 长期 (no expiry).
    valid_until: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issue_count: Option<u32>,
    photo_bytes: usize,
    masked: bool,
}

impl CardJson {
    fn new(card: &IdCard, show_pii: bool) -> CardJson {
        let m = |v: &str, kind| {
            if show_pii {
                v.to_string()
            } else {
                mask(v, kind)
            }
        };
        CardJson {
            card_kind: card.kind,
            name: m(&card.name, PiiKind::Name),
            english_name: card.english_name.as_deref().map(|n| m(n, PiiKind::Name)),
            sex: card.sex.label_zh(),
            sex_code: card.sex.code().to_string(),
            nation: card.nation.clone(),
            nation_code: card.nation_code.clone(),
            nationality: card.nationality.clone(),
            birth_date: if show_pii {
                card.birth_date.to_string()
            } else {
                MASKED_DATE.to_string()
            },
            address: card.address.as_deref().map(|a| m(a, PiiKind::Address)),
            id_number: if show_pii {
                card.id_number.clone()
            } else {
                mask_number(&card.id_number)
            },
            issuer: card.issuer.clone(),
            valid_from: card.valid_from,
            valid_until: card.valid_until,
            pass_number: card.pass_number.as_deref().map(|p| m(p, PiiKind::IdNumber)),
            issue_count: card.issue_count,
            photo_bytes: card.photo.len(),
            masked: !show_pii,
        }
    }
}

/// How a masked birth date prints.
const MASKED_DATE: &str = "****-**-**";

/// An ID number masked so that no digit of the birth date inside it shows. 18-character numbers
/// (resident cards, permits, 2023 foreigner's cards) carry it at 7-14, which the usual mask
/// (first 6, last 4) hides. In the old 15-character foreigner's number it follows 3 letters and a
/// 2- or 4-digit place code (the sources disagree), so characters 6-13 may hold it: only the
/// first 5 and the last 2 are kept.
fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    if chars.len() == 15 {
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| if (5..13).contains(&i) { '*' } else { *c })
            .collect()
    } else {
        mask(number, PiiKind::IdNumber)
    }
}

fn kind_label(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Resident => "resident ID card (居民身份证)",
        CardKind::HkMacaoTaiwanPermit => {
            "Hong Kong/Macao/Taiwan residents' residence permit (港澳台居民居住证)"
        }
        CardKind::ForeignPermanentResident => {
            "foreigner's permanent residence card (外国人永久居留身份证)"
        }
    }
}

fn print_card(card: &IdCard, json: bool, show_pii: bool) -> anyhow::Result<()> {
    let j = CardJson::new(card, show_pii);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &j)?;
        writeln!(out)?;
        return Ok(());
    }
    let line = |out: &mut std::io::StdoutLock, k: &str, v: &str| writeln!(out, "{k:<14}{v}");
    line(&mut out, "card kind:", kind_label(card.kind))?;
    line(&mut out, "name:", &j.name)?;
    if let Some(n) = &j.english_name {
        line(&mut out, "English name:", n)?;
    }
    line(&mut out, "sex:", &format!("{} ({})", j.sex, j.sex_code))?;
    if let (Some(n), Some(c)) = (&j.nation, &j.nation_code) {
        line(&mut out, "nation:", &format!("{n} ({c})"))?;
    }
    if let Some(n) = &j.nationality {
        line(&mut out, "nationality:", n)?;
    }
    line(&mut out, "birth date:", &j.birth_date)?;
    if let Some(a) = &j.address {
        line(&mut out, "address:", a)?;
    }
    line(&mut out, "ID number:", &j.id_number)?;
    if let Some(p) = &j.pass_number {
        line(&mut out, "pass number:", p)?;
    }
    if let Some(c) = j.issue_count {
        line(&mut out, "issue count:", &c.to_string())?;
    }
    line(&mut out, "issuer:", &j.issuer)?;
    line(&mut out, "valid from:", &j.valid_from.to_string())?;
    let until = j
        .valid_until
        .map_or_else(|| "长期 (no expiry)".to_string(), |d| d.to_string());
    line(&mut out, "valid until:", &until)?;
    line(
        &mut out,
        "photo:",
        &format!("{} bytes (WLT, not decoded)", j.photo_bytes),
    )?;
    line(&mut out, "check:", "valid")?;
    Ok(())
}

fn watch(args: WatchArgs, day: CardDay) -> anyhow::Result<ExitCode> {
    let settings = ReaderSettings {
        baud: args.baud,
        ..ReaderSettings::new(&args.port)
    };
    let (handle, mut events) = crate::idcard::reader::spawn_reader(settings, day);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "watching {} at {} baud (Ctrl-C to stop)",
        args.port.display(),
        args.baud
    )?;
    out.flush()?;
    while let Some(event) = events.blocking_recv() {
        let now = chrono::Local::now().format("%H:%M:%S%.3f");
        let text = match &event {
            ReaderEvent::CardPlaced(card) => {
                let id = if args.show_pii {
                    card.id_number.clone()
                } else {
                    mask_number(&card.id_number)
                };
                format!("card placed: {}, {id}, valid", kind_label(card.kind))
            }
            ReaderEvent::CardRejected(r) => format!("card rejected: {r}"),
            ReaderEvent::CardLifted => "card lifted".to_string(),
            ReaderEvent::ReaderFault(f) => format!("reader fault: {f}"),
            ReaderEvent::ReaderBack => "reader back".to_string(),
        };
        writeln!(out, "{now} {text}")?;
        out.flush()?;
    }
    handle.stop();
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "demo")]
pub fn run_sim(args: SimIdcardArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    let card = if args.no_card {
        None
    } else if let Some(path) = &args.card {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the card file {}", path.display()))?;
        let card: SimCard = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a card JSON", path.display()))?;
        card.text_block().with_context(|| {
            format!(
                "the card in {} does not fit a SAM text block",
                path.display()
            )
        })?;
        Some(card)
    } else {
        Some(args.demo.unwrap_or(DemoCard::Resident).card())
    };
    let options = SimOptions {
        link: args.link.clone(),
        card: card.clone(),
        baud: args.baud,
        pace: !args.no_pace,
        pieces: args.split.max(1),
        noise: args.noise,
        replace_after_read: args.replace_after_read,
        old_sam: args.old_sam,
        silent: args.silent,
        failing_reads: args.failing_reads,
        ..SimOptions::default()
    };
    let sim = IdcardSimulator::start(options).context("cannot open a pseudo-terminal")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sim.path().display())?;
        out.flush()?;
    }
    eprintln!(
        "simulated ID card reader at {} baud; commands on stdin: lift, place, silent, talk, quit",
        args.baud
    );
    // Commands on stdin, read on a plain thread (a blocked stdin read must not hold up exit).
    let (tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let placed = card.unwrap_or_else(SimCard::demo_resident);
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut stdin_open = true;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = sigterm.recv() => break,
                cmd = commands.recv(), if stdin_open => match cmd.as_deref().map(str::trim) {
                    // End of input: keep simulating until a signal.
                    None => stdin_open = false,
                    Some("lift") => sim.lift_card(),
                    Some("place") => sim.place_card(placed.clone()),
                    Some("silent") => sim.set_silent(true),
                    Some("talk") => sim.set_silent(false),
                    Some("quit") => break,
                    Some("") => {}
                    Some(other) => {
                        eprintln!("unknown command {other:?}: lift, place, silent, talk, quit")
                    }
                },
            }
        }
        anyhow::Ok(())
    })?;
    runtime.shutdown_background();
    drop(sim);
    Ok(ExitCode::SUCCESS)
}
