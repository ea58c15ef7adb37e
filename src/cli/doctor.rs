//! `kiosk doctor [--json]`: every check of [`crate::doctor`] and one verdict. Exit 0 when
//! nothing fails, 1 when a check fails. Changes nothing on the terminal.

use std::process::ExitCode;

use super::Globals;
use crate::doctor::{self, Status};

/// Options of `kiosk doctor`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// `{"verdict": "ok|warn|fail", "checks": [{"id", "status", "finding", "fix"}]}`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DoctorArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let report = doctor::run(g.loaded_or_error());
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            let tag = match c.status {
                Status::Ok => "OK",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            outln!("{:<12} {:<5} {}", c.id, tag, c.finding);
            if c.status != Status::Ok && !c.fix.is_empty() {
                outln!("{:<12} {:<5} fix: {}", "", "", c.fix);
            }
        }
        let failing = report.failing();
        match report.verdict {
            Status::Ok => outln!("verdict: ok"),
            Status::Warn => outln!("verdict: warn (nothing fails)"),
            Status::Fail => outln!("verdict: fail ({})", failing.join(", ")),
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}
