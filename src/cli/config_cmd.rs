//! `kiosk config check`: load the config file and report every problem in it.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

pub fn run(_cmd: ConfigCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk config` is not built yet")
}
