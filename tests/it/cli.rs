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
