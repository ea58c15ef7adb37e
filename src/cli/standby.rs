//! `kiosk standby not-provisioned|fault`: the standby screen (`ui::standby`) that systemd shows
//! instead of the app: on a terminal that is not provisioned yet
//! (`village-kiosk-not-provisioned.service`), and after the app failed repeatedly
//! (`village-kiosk-fault.service`, started by `OnFailure=`). `--png FILE` renders it without a
//! display instead (checks, documentation).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use slint::ComponentHandle;

use super::Globals;
use crate::provision;
use crate::ui::l10n::Lang;
use crate::ui::standby::{self, Standby, StationInfo};

#[derive(Debug, clap::Args)]
pub struct StandbyArgs {
    #[command(subcommand)]
    pub which: StandbyWhich,
    /// Render the screen to this PNG file (no display needed) instead of showing it.
    #[arg(long, global = true, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// UI language, zh-CN or en (default: ui.language, else zh-CN).
    #[arg(long, global = true)]
    pub lang: Option<String>,
    #[arg(long, global = true)]
    pub landscape: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum StandbyWhich {
    /// 「本终端尚未开通」 and how to provision.
    NotProvisioned,
    /// The fault screen after repeated failures: out of order, whom to call, what to run.
    Fault {
        /// One line for the technician about what failed.
        #[arg(
            long,
            default_value = "village-kiosk.service failed repeatedly; systemd stopped restarting it"
        )]
        detail: String,
    },
}

/// Runs `kiosk standby ...`.
pub fn run(args: StandbyArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let config = g.loaded_or_error().ok().map(|l| l.config.clone());
    let tag = args
        .lang
        .clone()
        .or_else(|| config.as_ref().map(|c| c.ui.language.tag().to_string()))
        .unwrap_or_else(|| "zh-CN".into());
    let lang =
        Lang::parse(&tag).ok_or_else(|| anyhow!("unknown UI language {tag:?}; use zh-CN or en"))?;
    let landscape = args.landscape
        || config
            .as_ref()
            .is_some_and(|c| c.ui.orientation == crate::config::Orientation::Landscape);
    let which = match args.which {
        StandbyWhich::NotProvisioned => Standby::NotProvisioned,
        StandbyWhich::Fault { detail } => Standby::Fault { detail },
    };
    let mut info = StationInfo::from_status(&provision::status());
    if info.station_name.is_empty()
        && let Some(c) = &config
        && c.county.url.is_some()
    {
        info.station_name = c.station.name.clone();
    }
    if let Some(png) = args.png {
        crate::ui::headless::init().map_err(|e| anyhow!(e))?;
        let w = standby::window(&which, &info, lang, landscape)?;
        let (width, height) = if landscape {
            (1920, 1080)
        } else {
            (1080, 1920)
        };
        w.window().set_size(slint::PhysicalSize::new(width, height));
        w.show()?;
        let buf = w
            .window()
            .take_snapshot()
            .map_err(|e| anyhow!("cannot render the standby screen: {e}"))?;
        let file = std::fs::File::create(&png)
            .with_context(|| format!("cannot create {}", png.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), buf.width(), buf.height());
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(buf.as_bytes())?;
        outln!("wrote {}", png.display());
        return Ok(ExitCode::SUCCESS);
    }
    tracing::info!(screen = ?which, "standby screen shown");
    standby::run(&which, &info, lang, landscape)?;
    Ok(ExitCode::SUCCESS)
}
