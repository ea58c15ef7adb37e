//! `kiosk print|printer|receipt` and `kiosk sim printer`: the technician's printer commands.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum PrintCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

#[derive(Debug, clap::Subcommand)]
pub enum PrinterCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReceiptCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

#[derive(Debug, clap::Args)]
pub struct SimPrinterArgs {}

pub fn run_print(_cmd: PrintCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk print` is not built yet")
}

pub fn run_printer(_cmd: PrinterCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk printer` is not built yet")
}

pub fn run_receipt(_cmd: ReceiptCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk receipt` is not built yet")
}

pub fn run_sim(_args: SimPrinterArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk sim printer` is not built yet")
}
