//! `kiosk config check`: load the config file and report every problem in it (syntax errors
//! with their line, unknown keys with their dotted path and a suggestion, settings that cannot
//! work with the fix), exiting non-zero if there is any. `kiosk config show` prints the settings
//! in effect. Never writes the config.

use std::process::ExitCode;

use serde_json::json;

use super::Globals;
use crate::config::{self, ConfigError};

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check the config file: syntax, unknown keys, values that cannot work.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Print the settings in effect (the file merged over the demo defaults) as TOML.
    Show,
}

pub fn run(cmd: ConfigCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { json } => check(g, json),
        ConfigCommand::Show => show(g),
    }
}

fn check(g: &Globals, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = match g.loaded_or_error() {
        Ok(l) => l,
        Err(e) => {
            if json {
                let (file, line, field) = match &e {
                    ConfigError::NotFound { path } | ConfigError::Read { path, .. } => {
                        (path.clone(), None, None)
                    }
                    ConfigError::Syntax { path, line, .. } => (path.clone(), Some(*line), None),
                    ConfigError::Invalid {
                        path, line, field, ..
                    } => (path.clone(), Some(*line), Some(field.clone())),
                };
                outln!(
                    "{}",
                    json!({
                        "ok": false,
                        "file": file,
                        "problems": [{ "kind": "error", "line": line, "field": field, "message": e.to_string() }],
                    })
                );
            } else {
                eprintln!("error: {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let path = loaded.path.display().to_string();
    let problems = loaded.config.check();
    let ok = loaded.unknown_keys.is_empty() && problems.is_empty();
    let data_dir = config::data_dir(&loaded.config);
    if json {
        let mut list: Vec<serde_json::Value> = loaded
            .unknown_keys
            .iter()
            .map(|k| {
                json!({
                    "kind": "unknown_key",
                    "line": k.line,
                    "field": k.key,
                    "message": k.to_string(),
                    "suggestion": k.suggestion,
                })
            })
            .collect();
        list.extend(problems.iter().map(|p| {
            json!({
                "kind": "invalid_value",
                "line": null,
                "field": p.field,
                "message": p.message,
                "fix": p.fix,
            })
        }));
        outln!(
            "{}",
            json!({
                "ok": ok,
                "file": loaded.path,
                "found": loaded.found,
                "demo": loaded.is_demo(),
                "data_dir": data_dir,
                "problems": list,
            })
        );
    } else {
        if loaded.found {
            outln!("config: {path}");
        } else {
            outln!("config: {path} does not exist: every setting is at its demo default");
        }
        outln!(
            "mode: {}",
            if loaded.is_demo() {
                "demo (no county.url: the reference back office runs embedded on loopback)"
            } else {
                "county"
            }
        );
        outln!("data directory: {}", data_dir.display());
        for k in &loaded.unknown_keys {
            let line = k.line.map(|l| format!(":{l}")).unwrap_or_default();
            eprintln!("error: {path}{line}: {k}");
        }
        for p in &problems {
            eprintln!("error: {path}: `{}` {}; fix: {}", p.field, p.message, p.fix);
        }
        if ok {
            outln!("ok: no problems found");
        } else {
            eprintln!(
                "{} problem(s) found in {path}",
                loaded.unknown_keys.len() + problems.len()
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn show(g: &Globals) -> anyhow::Result<ExitCode> {
    let loaded = super::catalog::load_config(g)?;
    if !loaded.found {
        outln!("# {} does not exist: demo defaults", loaded.path.display());
    }
    out!("{}", toml::to_string_pretty(&loaded.config)?);
    Ok(ExitCode::SUCCESS)
}
