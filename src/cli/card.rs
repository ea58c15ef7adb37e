//! `kiosk card read|watch` and `kiosk sim idcard`: the technician's ID card reader commands.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum CardCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

#[derive(Debug, clap::Args)]
pub struct SimIdcardArgs {}

pub fn run(_cmd: CardCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk card` is not built yet")
}

pub fn run_sim(_args: SimIdcardArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk sim idcard` is not built yet")
}
