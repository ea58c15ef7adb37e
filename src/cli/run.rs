//! `kiosk run` and `kiosk screenshot`: the touchscreen app and its screens rendered to PNG.

use std::process::ExitCode;

use super::Globals;

#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {}

#[derive(Debug, clap::Args)]
pub struct ScreenshotArgs {}

pub fn run(_args: RunArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk run` is not built yet")
}

pub fn screenshot(_args: ScreenshotArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiosk screenshot` is not built yet")
}
