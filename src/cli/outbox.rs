//! `kiosk outbox …` and `kiosk county ping`: the technician's view of the county link.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

#[derive(Debug, clap::Subcommand)]
pub enum CountyCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

pub fn run_outbox(_cmd: OutboxCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk outbox` is not built yet")
}

pub fn run_county(_cmd: CountyCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk county` is not built yet")
}
