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
    "src/provision/bundle.rs",
    "src/provision/pin.rs",
];

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
