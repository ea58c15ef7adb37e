//! The `kiosk` command line: clap options, then one function per subcommand that returns an
//! exit code. anyhow lives only here, at the edge; library errors are typed.
//!
//! Each area owns one module: `catalog` and `config_cmd` (catalogue, config), `card` (ID card
//! reader and its simulator), `print` (printer, receipts and the printer simulator), `outbox`
//! (county link), `county` (sync from the county, trusted keys), `doctor` (the whole terminal's
//! checks), `devices` (serial devices and udev rules), `run` (the touchscreen app and screenshots).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{self, ConfigError, LoadedConfig};

/// `println!` for command output that never panics: a closed pipe (`kiosk … | head`) or a full
/// disk ends the command with an error instead ([`main`] ends quietly on a closed pipe).
/// Use inside functions that return `anyhow::Result`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::cli::OutputClosed)?;
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout();
        write!(stdout, $($arg)*).and_then(|()| stdout.flush()).map_err($crate::cli::OutputClosed)?;
    }};
}

pub mod card;
pub mod catalog;
pub mod config_cmd;
pub mod county;
pub mod devices;
pub mod doctor;
pub mod exit;
pub mod outbox;
pub mod print;
pub mod provision;
#[cfg(feature = "gui")]
pub mod run;
#[cfg(feature = "gui")]
pub mod standby;
pub mod update;

/// village-kiosk: the self-service terminal of a village service point (村便民服务站).
///
/// Without a subcommand the kiosk app starts; with no config file it starts in demo mode.
#[derive(Debug, Parser)]
#[command(name = "kiosk", version, about, long_about = None)]
pub struct Cli {
    /// The kiosk's config file.
    #[arg(long, global = true, env = "KIOSK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The service catalogue (事项目录): import, list, show, search, export, sign.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Check the config file.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// The ID card reader: read a card, watch events.
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Simulators on pseudo-terminals for the reader and the printer.
    #[cfg(feature = "demo")]
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print on the receipt printer: a test page, a checklist, any text.
    #[command(subcommand)]
    Print(print::PrintCommand),
    /// The receipt printer's status.
    #[command(subcommand)]
    Printer(print::PrinterCommand),
    /// Render a receipt or checklist to PNG without a printer.
    #[command(subcommand)]
    Receipt(print::ReceiptCommand),
    /// The store-and-forward outbox of applications.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// The link to the county back office.
    #[command(subcommand)]
    County(outbox::CountyCommand),
    /// Check the whole terminal: config, store, disk, clock, catalogue, reader, printer,
    /// county link, certificate, outbox. Exit 1 when a check fails.
    Doctor(doctor::DoctorArgs),
    /// List the serial devices plugged in and write udev rule lines for the chosen ones.
    Devices(devices::DevicesArgs),
    /// Install this station's identity from the county's provisioning bundle (终端开通).
    Provision(provision::ProvisionArgs),
    /// Software updates (软件更新): status, check and download, install, the boot health gate,
    /// and signing a manifest with the release key.
    #[command(subcommand)]
    Update(update::UpdateCommand),
    /// Stand-in for the app's event loop that checks a unit's watchdog (src/watchdog.rs).
    #[command(hide = true)]
    WatchdogProbe {
        /// Stop pinging (hang) after this many seconds.
        #[arg(long, default_value_t = 10)]
        hang_after_secs: u64,
    },
    /// The standby screen instead of the app: not provisioned yet, or the fault screen after
    /// repeated failures (systemd units start it).
    #[cfg(feature = "gui")]
    Standby(standby::StandbyArgs),
    /// Run the touchscreen app.
    #[cfg(feature = "gui")]
    Run(run::RunArgs),
    /// Render every screen to PNG.
    #[cfg(all(feature = "gui", feature = "demo"))]
    Screenshot(run::ScreenshotArgs),
}

#[cfg(feature = "demo")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Simulate an ID card reader on a pseudo-terminal.
    Idcard(card::SimIdcardArgs),
    /// Simulate an ESC/POS receipt printer on a pseudo-terminal.
    Printer(print::SimPrinterArgs),
}

/// Standard output could not be written (closed pipe, full disk).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the output: {0}")]
pub struct OutputClosed(#[source] pub std::io::Error);

/// Options every subcommand sees, and the config, loaded once by [`main`].
#[derive(Debug, Clone)]
pub struct Globals {
    /// `--config PATH`, as given.
    pub config: Option<PathBuf>,
    loaded: Result<LoadedConfig, Arc<ConfigError>>,
}

impl Globals {
    /// Loads the config at `path` (the default path when `None`). A load error is kept and
    /// reported by the commands that need the config; the others run anyway.
    pub fn load(path: Option<PathBuf>) -> Globals {
        let loaded = config::load(path.as_deref()).map_err(Arc::new);
        Globals {
            config: path,
            loaded,
        }
    }

    /// The config, or why it could not be loaded (for `kiosk config check`).
    pub fn loaded_or_error(&self) -> Result<&LoadedConfig, &ConfigError> {
        self.loaded.as_ref().map_err(|e| &**e)
    }

    /// The config; its unknown keys are reported on stderr (only `kiosk config check` fails
    /// on them).
    pub fn loaded(&self) -> anyhow::Result<&LoadedConfig> {
        let loaded = self.loaded_or_error().map_err(|e| anyhow::anyhow!("{e}"))?;
        for k in &loaded.unknown_keys {
            let line = k.line.map(|l| format!(":{l}")).unwrap_or_default();
            eprintln!("warning: {}{line}: {k}", loaded.path.display());
        }
        Ok(loaded)
    }
}

/// Refuses to start the touchscreen app with a county link that would carry personal data
/// unprotected (issue 14 #3); demo mode has no link to protect.
#[cfg(feature = "gui")]
fn refuse_insecure_link(args: &run::RunArgs, g: &Globals) -> anyhow::Result<()> {
    if args.demo {
        return Ok(());
    }
    if let Ok(loaded) = g.loaded_or_error()
        && !loaded.is_demo()
    {
        loaded
            .config
            .require_secure_link()
            .map_err(|e| anyhow::anyhow!("{}: {e}", loaded.path.display()))?;
    }
    Ok(())
}

/// Entry point of the `kiosk` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                exit::code(exit::USAGE)
            } else {
                ExitCode::SUCCESS // --help, --version
            };
        }
    };
    let globals = Globals::load(cli.config.clone());
    let result = match cli.command {
        Some(Command::Catalog(c)) => catalog::run(c, &globals),
        Some(Command::Config(c)) => config_cmd::run(c, &globals),
        Some(Command::Card(c)) => card::run(c, &globals),
        #[cfg(feature = "demo")]
        Some(Command::Sim(SimCommand::Idcard(a))) => card::run_sim(a, &globals),
        #[cfg(feature = "demo")]
        Some(Command::Sim(SimCommand::Printer(a))) => print::run_sim(a, &globals),
        Some(Command::Print(c)) => print::run_print(c, &globals),
        Some(Command::Printer(c)) => print::run_printer(c, &globals),
        Some(Command::Receipt(c)) => print::run_receipt(c, &globals),
        Some(Command::Outbox(c)) => outbox::run_outbox(c, &globals),
        Some(Command::County(c)) => outbox::run_county(c, &globals),
        Some(Command::Doctor(a)) => doctor::run(a, &globals),
        Some(Command::Devices(a)) => devices::run(a, &globals),
        Some(Command::Provision(a)) => provision::run(a, &globals),
        Some(Command::Update(c)) => update::run(c, &globals),
        Some(Command::WatchdogProbe { hang_after_secs }) => {
            crate::watchdog::probe(std::time::Duration::from_secs(hang_after_secs))
        }
        #[cfg(feature = "gui")]
        Some(Command::Standby(a)) => standby::run(a, &globals),
        #[cfg(feature = "gui")]
        Some(Command::Run(a)) => {
            refuse_insecure_link(&a, &globals).and_then(|()| run::run(a, &globals))
        }
        #[cfg(all(feature = "gui", feature = "demo"))]
        Some(Command::Screenshot(a)) => run::screenshot(a, &globals),
        #[cfg(feature = "gui")]
        None => {
            let a = run::RunArgs::default();
            refuse_insecure_link(&a, &globals).and_then(|()| run::run(a, &globals))
        }
        #[cfg(not(feature = "gui"))]
        None => Err(anyhow::anyhow!(
            "this kiosk was built without the `gui` feature; name a subcommand (see --help)"
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Whoever read the output stopped reading (`| head`): nothing left to say.
            let closed_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if closed_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
