//! Tidy checks: the invariants ARCHITECTURE.md states, checked on the source tree.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let missing: Vec<_> = src_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "modules without a //! doc: {missing:?}");
}

#[test]
fn no_stubs_left_in_src() {
    let stubs: Vec<_> = src_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.contains(concat!("todo", "!(")) || text.contains(concat!("unimplemented", "!("))
        })
        .collect();
    assert!(stubs.is_empty(), "stubs in: {stubs:?}");
}

/// Sans-IO modules: protocols, codecs and state machines that must stay free of devices, sockets,
/// files, the database and the clock, so they are tested with bytes and a virtual clock.
const SANS_IO: &[&str] = &[
    "src/pii.rs",
    "src/catalog/model.rs",
    "src/catalog/search.rs",
    "src/catalog/translation.rs",
    "src/idcard/protocol.rs",
    "src/idcard/card.rs",
    "src/printer/escpos.rs",
    "src/printer/status.rs",
    "src/printer/paper.rs",
    "src/printer/receipt.rs",
    "src/printer/job.rs",
    "src/printer/bitmap.rs",
    "src/county/retry.rs",
    "src/catalog/validate.rs",
    "src/catalog/bundle.rs",
    "src/session/mod.rs",
    "src/session/validate.rs",
    "src/catalog/eligibility.rs",
    "src/voice/script.rs",
    "src/voice/queue.rs",
    "src/county/sync.rs",
    "src/catalog/keyring.rs",
    "src/maintenance/gate.rs",
    "src/provision/bundle.rs",
    "src/provision/pin.rs",
];

/// Every module ARCHITECTURE.md calls pure (sans-IO, no clock) must be in [`SANS_IO`]: the
/// lists in the two places cannot drift apart.
#[test]
fn the_sans_io_list_covers_what_architecture_md_calls_pure() {
    for module in [
        "src/catalog/model.rs",
        "src/catalog/translation.rs",
        "src/catalog/validate.rs",
        "src/catalog/bundle.rs",
        "src/catalog/search.rs",
        "src/idcard/protocol.rs",
        "src/idcard/card.rs",
        "src/printer/escpos.rs",
        "src/printer/status.rs",
        "src/printer/paper.rs",
        "src/printer/receipt.rs",
        "src/printer/job.rs",
        "src/printer/bitmap.rs",
        "src/county/retry.rs",
        "src/session/mod.rs",
        "src/session/validate.rs",
        "src/pii.rs",
    ] {
        assert!(
            SANS_IO.contains(&module),
            "{module} is missing from SANS_IO"
        );
    }
    let arch =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    for file in SANS_IO {
        let name = Path::new(file).file_stem().unwrap().to_str().unwrap();
        let name = if name == "mod" {
            Path::new(file)
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        } else {
            name
        };
        assert!(
            arch.contains(&format!("`{name}`")) || arch.contains(&format!("`{name}.rs`")),
            "ARCHITECTURE.md does not name the sans-IO module {file}"
        );
    }
}

/// Source files under `src/`, relative, with their text.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    src_files()
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            (rel, text)
        })
        .collect()
}

/// anyhow only at the edges: the kiosk's command line and the binaries. Library errors are
/// typed (thiserror).
#[test]
fn anyhow_only_in_the_cli_and_the_binaries() {
    for (file, text) in sources() {
        if file.starts_with("src/cli/") || file.starts_with("src/bin/") {
            continue;
        }
        assert!(
            !code_of(&text).contains("anyhow"),
            "{file} uses anyhow: library errors are typed (thiserror)"
        );
    }
}

/// Modules that drive I/O but take time as an input (`now` parameters or a `Clock`): they never
/// read the clock themselves, except the one `SystemClock` implementation.
const TIME_AS_INPUT: &[&str] = &[
    "src/county/outbox.rs",
    "src/county/noticeboard.rs",
    "src/catalog/repo.rs",
    "src/store/mod.rs",
    "src/backoffice/db.rs",
    "src/maintenance/mod.rs",
];

#[test]
fn modules_that_take_time_as_input_do_not_read_the_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in TIME_AS_INPUT.iter().chain(SANS_IO) {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut code = code_of(&text);
        // The wall clock's own implementation is where `Utc::now` belongs.
        if let Some(start) = code.find("impl Clock for SystemClock {") {
            let end = code[start..]
                .find("\n}\n")
                .map_or(code.len(), |e| start + e);
            code.replace_range(start..end, "");
        }
        for word in ["Utc::now", "Local::now", "SystemTime::now", "Instant::now"] {
            assert!(
                !code.contains(word),
                "{file} reads the clock (`{word}`); take `now` or a Clock as input"
            );
        }
    }
}

/// Personal fields reach logs only through `pii::Masked`: a `tracing` event that names one
/// must mask it.
#[test]
fn logs_see_personal_data_only_through_masked() {
    let personal = [
        "id_number",
        "applicant_name",
        "address",
        ".phone",
        "birth_date",
    ];
    let macros = ["trace!(", "debug!(", "info!(", "warn!(", "error!("];
    for (file, text) in sources() {
        let code = code_of(&text);
        for m in macros {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(m) {
                let call = &rest[i..];
                // The macro's arguments: up to the parenthesis that closes the first one.
                let mut depth = 0i32;
                let end = call
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0 && c == ')'
                    })
                    .map_or(call.len(), |(e, _)| e);
                let call = &call[..end];
                for field in personal {
                    if let Some(at) = call.find(field) {
                        let before = &call[..at];
                        assert!(
                            before.contains("Masked::") || before.contains("mask("),
                            "{file}: a log event names `{field}` without pii::Masked: {call}"
                        );
                    }
                }
                rest = &rest[i + m.len()..];
            }
        }
    }
}

/// `config` does not import `catalog::bundle` back (the trusted-key rule lives in config; the
/// bundle module sees it through the `TrustSource` trait).
#[test]
fn no_import_circle_between_config_and_bundle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = code_of(&std::fs::read_to_string(root.join("src/catalog/bundle.rs")).unwrap());
    assert!(
        !bundle.contains("crate::config"),
        "catalog::bundle imports config: the import circle is back"
    );
}

/// The config is loaded in one place, `cli::main` (run.rs keeps its own call until the station
/// assembly takes it over).
#[test]
fn the_config_is_loaded_in_one_place() {
    for (file, text) in sources() {
        if matches!(
            file.as_str(),
            "src/cli/mod.rs" | "src/cli/run.rs" | "src/config.rs"
        ) || file.starts_with("src/ui/")
            || file.starts_with("src/station/")
        {
            continue;
        }
        let code = code_of(&text);
        assert!(
            !code.contains("config::load(") && !code.contains("toml::from_str::<Config>"),
            "{file} loads the config itself; use Globals::loaded()"
        );
    }
}

/// The code of a module without its comments and its `#[cfg(test)]` part.
fn code_of(text: &str) -> String {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn codecs_do_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forbidden = [
        "tokio",
        "serialport",
        "rusqlite",
        "reqwest",
        "std::fs",
        "std::net",
        "std::io::Read",
        "std::thread",
        "Utc::now",
        "Local::now",
        "Instant::now",
        "SystemTime",
        "rand::",
    ];
    for file in SANS_IO {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            panic!("sans-IO module {file} is missing: update the list in tests/it/tidy.rs");
        };
        let code = code_of(&text);
        for word in forbidden {
            assert!(
                !code.contains(word),
                "{file} uses `{word}`: codecs do no I/O"
            );
        }
    }
}

/// The firmware built for the kiosk image (`--no-default-features --features kms`) links neither
/// the back office's web framework nor its test PKI: demo mode and the back office are features.
#[test]
fn the_firmware_links_neither_axum_nor_rcgen() {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--no-default-features",
            "--features",
            "kms",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("slint "), "not the firmware's tree: {tree}");
    for forbidden in ["axum ", "rcgen "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "the firmware links {forbidden}"
        );
    }
    // And the default build does (so the check above can fail).
    let all = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .output()
        .expect("cargo tree runs");
    assert!(
        String::from_utf8_lossy(&all.stdout)
            .lines()
            .any(|l| l.starts_with("axum "))
    );
}
