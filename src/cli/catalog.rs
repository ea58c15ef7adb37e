//! `kiosk catalog …`: import, list, show, search, export and sign the service catalogue.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// (not built yet)
    #[command(hide = true)]
    Pending,
}

pub fn run(_cmd: CatalogCommand, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk catalog` is not built yet")
}
