//! The command line as technicians' scripts use it.

use std::process::{Command, Stdio};

/// `kiosk … | head` closes the pipe early: the command ends quietly, no panic, exit 0.
#[test]
fn closed_output_pipe_ends_quietly() {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    // Nobody will read: every write the command makes fails with EPIPE.
    drop(read);
    for args in [&["printer", "profiles"][..], &["catalog", "list"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(args)
            .stdout(Stdio::from(write.try_clone().expect("dup")))
            .stderr(Stdio::piped())
            .output()
            .expect("kiosk runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// README's exit-code table is `cli::exit::TABLE`, row for row.
#[test]
fn readme_documents_every_exit_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (command, code, meaning) in village_kiosk::cli::exit::TABLE {
        let row = format!("| {command} | {code} | {meaning} |");
        assert!(readme.contains(&row), "README lacks the row {row}");
    }
}

/// Bad usage has its own code, which no command uses for anything else.
#[test]
fn bad_usage_exits_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["card", "read", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let help = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
}

fn insecure_config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\ndir = {:?}\n[county]\nurl = \"http://127.0.0.1:9\"\ntoken = \"secret\"\ncatalog_public_key = \"{}\"\n",
            dir.join("data"),
            hex::encode(village_kiosk::catalog::bundle::demo_verifying_key().to_bytes())
        ),
    )
    .unwrap();
    cfg
}

/// Issue 14 #3 (failed before: `config check` passed this config): outside demo mode plain
/// HTTP and a bearer token are refused with the field and the fix.
#[test]
fn config_check_refuses_plain_http_and_bearer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("--config")
        .arg(insecure_config(dir.path()))
        .args(["config", "check"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("county.url") && text.contains("plain HTTP"),
        "{text}"
    );
    assert!(text.contains("county.token"), "{text}");
}

/// Issue 14 #3 at run: the app does not start a link that would carry personal data in clear.
#[cfg(feature = "gui")]
#[test]
fn run_refuses_plain_http_and_bearer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("--config")
        .arg(insecure_config(dir.path()))
        .args(["run", "--headless", "--exit-after-first-frame"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plain HTTP") && stderr.contains("county.token"),
        "{stderr}"
    );
}
