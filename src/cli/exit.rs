//! Every exit code of the `kiosk` command line, in one place; README's "Exit codes" section
//! lists [`TABLE`] and a test keeps the two in step.
//!
//! 0 and 1 mean the same for every command (success, failure with a message that names the
//! fix). A command's own codes are 2-9 and mean one thing within that command; bad usage is 64
//! (`EX_USAGE`), so it can never be mistaken for one of them. Codes shipped in a release are
//! never renumbered.

use std::process::ExitCode;

use crate::printer::{PrintError, PrinterFault};

/// Success.
pub const OK: u8 = 0;
/// Failure; the message says what to fix.
pub const FAILURE: u8 = 1;
/// Bad usage (unknown flag, missing argument): clap's message and the command's `--help`.
pub const USAGE: u8 = 64;

/// `kiosk card read`.
pub mod card {
    /// No card was placed before the timeout.
    pub const NO_CARD: u8 = 2;
    /// The reader does not answer (wrong port, wrong baud, unplugged).
    pub const READER_NOT_ANSWERING: u8 = 3;
    /// A card was read but its data is invalid (or it could not be read).
    pub const CARD_INVALID: u8 = 4;
}

/// `kiosk print …` and `kiosk printer status`.
pub mod printer {
    pub const NOT_CONNECTED: u8 = 2;
    pub const NO_RESPONSE: u8 = 3;
    pub const PAPER_END: u8 = 4;
    pub const COVER_OPEN: u8 = 5;
    pub const CUTTER_ERROR: u8 = 6;
    pub const HEAD_OVERHEATED: u8 = 7;
    pub const UNRECOVERABLE_ERROR: u8 = 8;
    pub const OFFLINE: u8 = 9;
}

/// The exit code of a printer fault.
pub fn printer_fault(f: PrinterFault) -> u8 {
    match f {
        PrinterFault::PaperEnd => printer::PAPER_END,
        PrinterFault::CoverOpen => printer::COVER_OPEN,
        PrinterFault::CutterError => printer::CUTTER_ERROR,
        PrinterFault::HeadOverheated => printer::HEAD_OVERHEATED,
        PrinterFault::UnrecoverableError => printer::UNRECOVERABLE_ERROR,
        PrinterFault::Offline => printer::OFFLINE,
    }
}

/// The exit code of a failed print or status request.
pub fn printer_error(e: &PrintError) -> u8 {
    match e {
        PrintError::NotReady(f) | PrintError::FailedDuringJob(f) => printer_fault(*f),
        PrintError::NotConnected { .. } | PrintError::Disconnected { .. } => printer::NOT_CONNECTED,
        PrintError::NoResponse { .. } | PrintError::UnexpectedAnswer { .. } => printer::NO_RESPONSE,
        _ => FAILURE,
    }
}

/// `code` as the process's exit status.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// Every code: command (`*` for all), code, meaning. README's table is this one.
pub const TABLE: &[(&str, u8, &str)] = &[
    ("*", OK, "success"),
    (
        "*",
        FAILURE,
        "failure: the message names the file, line, field or device and the fix (`outbox status`: something needs attention; `config check`: a problem was found; `county ping`: a check failed)",
    ),
    ("*", USAGE, "bad usage: unknown subcommand, flag or value"),
    ("card read", card::NO_CARD, "no card before `--timeout`"),
    (
        "card read",
        card::READER_NOT_ANSWERING,
        "reader not answering (cannot open, no valid frame, unplugged, wrong baud)",
    ),
    (
        "card read",
        card::CARD_INVALID,
        "card data invalid (and why), or a card that cannot be read",
    ),
    (
        "print, printer status",
        printer::NOT_CONNECTED,
        "port cannot be opened / printer unplugged",
    ),
    (
        "print, printer status",
        printer::NO_RESPONSE,
        "no answer to a status request",
    ),
    ("print, printer status", printer::PAPER_END, "out of paper"),
    ("print, printer status", printer::COVER_OPEN, "cover open"),
    (
        "print, printer status",
        printer::CUTTER_ERROR,
        "cutter error",
    ),
    (
        "print, printer status",
        printer::HEAD_OVERHEATED,
        "print head too hot (recovers by itself)",
    ),
    (
        "print, printer status",
        printer::UNRECOVERABLE_ERROR,
        "unrecoverable error",
    ),
    (
        "print, printer status",
        printer::OFFLINE,
        "offline for another reason",
    ),
    (
        "run",
        crate::maintenance::RESTART_EXIT_CODE,
        "restart asked on the maintenance screen (`EX_TEMPFAIL`; the unit's `Restart=always` starts the app again)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_code_means_two_things() {
        let generic: Vec<u8> = TABLE
            .iter()
            .filter(|(c, _, _)| *c == "*")
            .map(|r| r.1)
            .collect();
        for (i, (cmd, code, _)) in TABLE.iter().enumerate() {
            if *cmd != "*" {
                assert!(!generic.contains(code), "{cmd}: {code} is a generic code");
            }
            for (other, other_code, _) in &TABLE[i + 1..] {
                assert!(!(cmd == other && code == other_code), "{cmd}: {code} twice");
            }
        }
    }

    #[test]
    fn printer_codes_agree_with_the_printer_module() {
        for f in [
            PrinterFault::PaperEnd,
            PrinterFault::CoverOpen,
            PrinterFault::CutterError,
            PrinterFault::HeadOverheated,
            PrinterFault::UnrecoverableError,
            PrinterFault::Offline,
        ] {
            assert_eq!(printer_fault(f), f.exit_code(), "{f:?}");
        }
    }
}
