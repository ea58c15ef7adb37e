//! Integration tests for `kiosk doctor`, `kiosk devices` and the station health: faults set up
//! one at a time on the simulators (real ptys) and a reference back office on loopback, and a
//! port that answers noise instead of printer status.

use std::io::{Read, Write};
use std::process::Command;

use village_kiosk::printer::status::UNEXPECTED_ANSWER;
use village_kiosk::printer::{Printer, PrinterProfile, PrinterSettings};
use village_kiosk::sim::pty::Pty;

/// A device that answers every request with random bytes (a wrong baud rate, a modem, the
/// wrong device on the port). The noise happens to contain bytes with the fixed bits of a status
/// reply (0x7E looks like "out of paper"), as real noise does.
struct NoisyPort {
    pty: Pty,
}

impl NoisyPort {
    fn start() -> NoisyPort {
        let pty = Pty::open().expect("pty");
        let mut master = pty.try_clone_master().expect("master");
        std::thread::spawn(move || {
            let mut seed: u32 = 0x1234_5678;
            let mut buf = [0u8; 256];
            // Ends when the pty is closed (read fails with EIO).
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut noise = Vec::new();
                for _ in 0..8 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let b = (seed >> 16) as u8;
                    // Never a byte a printer could send first (so the old driver skipped it).
                    noise.push(if b & 0x93 == 0x12 || b == 0x11 || b == 0x13 {
                        b ^ 0x80
                    } else {
                        b
                    });
                }
                noise.push(0x7E);
                if master.write_all(&noise).is_err() {
                    break;
                }
            }
        });
        NoisyPort { pty }
    }
}

fn fast_profile(name: &str) -> PrinterProfile {
    let mut p = PrinterProfile::builtin(name).unwrap();
    p.baud = 1_000_000;
    p.status_timeout_ms = 5_000;
    p
}

/// Issue 16: a port answering random bytes was reported as out of paper or cover open.
#[test]
fn noise_on_the_printer_port_is_an_unexpected_answer_not_a_paper_fault() {
    for profile in ["generic-58mm", "generic-80mm"] {
        // A port of its own each: the previous driver may still hold its port exclusively.
        let noisy = NoisyPort::start();
        let printer = Printer::new(PrinterSettings {
            port: noisy.pty.path().to_path_buf(),
            profile: fast_profile(profile),
        });
        match printer.status_blocking() {
            Ok(s) => panic!("{profile}: noise decoded as a printer status: {s}"),
            Err(e) => {
                assert!(e.to_string().contains(UNEXPECTED_ANSWER), "{profile}: {e}");
                assert_eq!(e.fault(), None, "{profile}: {e}");
                assert_eq!(e.exit_code(), 3, "{profile}: {e}");
            }
        }
    }
}

#[test]
fn kiosk_printer_status_on_noise_says_wrong_baud_rate_or_not_a_printer() {
    let noisy = NoisyPort::start();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["printer", "status", "--profile", "generic-80mm", "--port"])
        .arg(noisy.pty.path())
        .env_remove("KIOSK_CONFIG")
        .output()
        .expect("kiosk runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(UNEXPECTED_ANSWER), "{stderr}");
}
