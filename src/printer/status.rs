//! Real-time printer status (实时状态): `DLE EOT n` (n = 1..4) replies decoded into
//! [`PrinterStatus`], the faults that stop a job, and the replies a printer in a given
//! [`PaperState`] sends (for the simulator).
//!
//! Sans-IO: bytes in, facts out. Never talks to a port.

use std::fmt;

/// Which `DLE EOT n` request a reply answers.
pub const PRINTER_STATUS: u8 = 1;
pub const OFFLINE_CAUSE: u8 = 2;
pub const ERROR_CAUSE: u8 = 3;
pub const PAPER_SENSOR: u8 = 4;

/// Whether `byte` has the fixed bits of a DLE EOT reply (0xx1xx10).
pub fn is_status_reply(byte: u8) -> bool {
    byte & 0x93 == 0x12
}

/// XON and XOFF: a printer with software flow control may send them at any time, also between
/// a status request and its reply.
pub const XON: u8 = 0x11;
pub const XOFF: u8 = 0x13;

/// What one byte read after `DLE EOT n` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyByte {
    /// A status reply to `n`: fixed bits right, and for n = 4 each sensor's two bits agree.
    Reply(u8),
    /// XON/XOFF flow control: skip it and keep waiting for the reply.
    FlowControl,
    /// Anything else: the device on the port is not an ESC/POS printer at this baud rate.
    Unexpected(u8),
}

/// Classifies a byte read after `DLE EOT n`. A real reply has the fixed bits 0xx1xx10; the
/// paper sensor reply (n = 4) reports each sensor in two bits that are set together (near end
/// 0x0C, end 0x60). Noise (a wrong baud rate, a reader or a modem on the port) breaks one of
/// these for almost every byte, and is never taken for paper or cover trouble.
pub fn classify_reply(n: u8, byte: u8) -> ReplyByte {
    if byte == XON || byte == XOFF {
        return ReplyByte::FlowControl;
    }
    if !is_status_reply(byte) {
        return ReplyByte::Unexpected(byte);
    }
    if n == PAPER_SENSOR {
        let near = byte & 0x0C;
        let end = byte & 0x60;
        if (near != 0 && near != 0x0C) || (end != 0 && end != 0x60) {
            return ReplyByte::Unexpected(byte);
        }
    }
    ReplyByte::Reply(byte)
}

/// What to tell a technician when a port answers status requests with bytes no printer sends.
pub const UNEXPECTED_ANSWER: &str = "unexpected answer: wrong baud rate or not a printer";

/// The printer's state as its replies describe it. Fields a printer did not answer stay false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    /// n=1 bit 3.
    pub offline: bool,
    /// n=2 bit 2 (纸仓盖打开).
    pub cover_open: bool,
    /// n=2 bit 5 or n=4 bits 5+6 (缺纸).
    pub paper_end: bool,
    /// n=2 bit 6: an error occurred.
    pub error: bool,
    /// n=3 bit 3 (切刀错误).
    pub cutter_error: bool,
    /// n=3 bit 5.
    pub unrecoverable_error: bool,
    /// n=3 bit 6: head too hot and the like (打印头过热), clears by itself.
    pub auto_recoverable_error: bool,
    /// n=4 bits 2+3 (纸将尽).
    pub paper_near_end: bool,
    /// Which requests were answered (bit n-1 for n).
    pub answered: u8,
}

/// A reason the printer cannot print, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrinterFault {
    PaperEnd,
    CoverOpen,
    CutterError,
    HeadOverheated,
    UnrecoverableError,
    Offline,
}

impl PrinterFault {
    /// English, for logs and the CLI.
    pub fn describe(self) -> &'static str {
        match self {
            PrinterFault::PaperEnd => "out of paper",
            PrinterFault::CoverOpen => "cover open",
            PrinterFault::CutterError => "cutter error (paper jam at the cutter)",
            PrinterFault::HeadOverheated => "print head too hot (recovers by itself)",
            PrinterFault::UnrecoverableError => "unrecoverable error (power-cycle the printer)",
            PrinterFault::Offline => "offline",
        }
    }

    /// Plain Chinese for the screen.
    pub fn message_zh(self) -> &'static str {
        match self {
            PrinterFault::PaperEnd => "打印机缺纸，请联系工作人员",
            PrinterFault::CoverOpen => "打印机纸仓盖未关好，请联系工作人员",
            PrinterFault::CutterError => "打印机切纸故障，请联系工作人员",
            PrinterFault::HeadOverheated => "打印机过热，请稍等片刻后再试",
            PrinterFault::UnrecoverableError => "打印机故障，请联系工作人员",
            PrinterFault::Offline => "打印机暂停工作，请联系工作人员",
        }
    }

    /// The `kiosk printer status` / `kiosk print` exit code for this fault.
    pub fn exit_code(self) -> u8 {
        match self {
            PrinterFault::PaperEnd => 4,
            PrinterFault::CoverOpen => 5,
            PrinterFault::CutterError => 6,
            PrinterFault::HeadOverheated => 7,
            PrinterFault::UnrecoverableError => 8,
            PrinterFault::Offline => 9,
        }
    }
}

impl fmt::Display for PrinterFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl PrinterStatus {
    /// Folds the reply to `DLE EOT n` into the status. Returns false (and changes nothing) when
    /// `byte` is not a status reply or `n` is not 1..4.
    pub fn apply(&mut self, n: u8, byte: u8) -> bool {
        if !(1..=4).contains(&n) || !matches!(classify_reply(n, byte), ReplyByte::Reply(_)) {
            return false;
        }
        let bit = |b: u8| byte & (1 << b) != 0;
        match n {
            PRINTER_STATUS => self.offline = bit(3),
            OFFLINE_CAUSE => {
                self.cover_open = bit(2);
                self.paper_end |= bit(5);
                self.error = bit(6);
            }
            ERROR_CAUSE => {
                self.cutter_error = bit(3);
                self.unrecoverable_error = bit(5);
                self.auto_recoverable_error = bit(6);
            }
            _ => {
                self.paper_near_end = byte & 0x0C == 0x0C;
                self.paper_end |= byte & 0x60 == 0x60;
            }
        }
        self.answered |= 1 << (n - 1);
        true
    }

    /// Decodes replies to n = 1, 2, 3, 4 in that order.
    pub fn from_replies(replies: &[(u8, u8)]) -> Option<PrinterStatus> {
        let mut s = PrinterStatus::default();
        for &(n, b) in replies {
            if !s.apply(n, b) {
                return None;
            }
        }
        Some(s)
    }

    /// Every fault present, worst first.
    pub fn faults(&self) -> Vec<PrinterFault> {
        let mut out = Vec::new();
        if self.paper_end {
            out.push(PrinterFault::PaperEnd);
        }
        if self.cover_open {
            out.push(PrinterFault::CoverOpen);
        }
        if self.cutter_error {
            out.push(PrinterFault::CutterError);
        }
        if self.auto_recoverable_error {
            out.push(PrinterFault::HeadOverheated);
        }
        if self.unrecoverable_error {
            out.push(PrinterFault::UnrecoverableError);
        }
        if out.is_empty() && (self.offline || self.error) {
            out.push(PrinterFault::Offline);
        }
        out
    }

    /// The worst fault, if any: the job must not be sent or reported printed.
    pub fn fault(&self) -> Option<PrinterFault> {
        self.faults().first().copied()
    }

    /// Ready to print (paper near end is only a warning).
    pub fn is_ready(&self) -> bool {
        self.fault().is_none()
    }
}

impl fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let faults = self.faults();
        if faults.is_empty() {
            f.write_str("ready")?;
        } else {
            let list: Vec<&str> = faults.iter().map(|x| x.describe()).collect();
            f.write_str(&list.join(", "))?;
        }
        if self.paper_near_end {
            f.write_str("; paper near end")?;
        }
        Ok(())
    }
}

/// The paper and mechanism state of a (simulated) printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaperState {
    #[default]
    Ok,
    NearEnd,
    PaperEnd,
    CoverOpen,
    CutterError,
    HeadOverheated,
    Unrecoverable,
}

impl PaperState {
    pub const ALL: [PaperState; 7] = [
        PaperState::Ok,
        PaperState::NearEnd,
        PaperState::PaperEnd,
        PaperState::CoverOpen,
        PaperState::CutterError,
        PaperState::HeadOverheated,
        PaperState::Unrecoverable,
    ];

    /// The name on the command line (`ok`, `paper-end`, …).
    pub fn name(self) -> &'static str {
        match self {
            PaperState::Ok => "ok",
            PaperState::NearEnd => "near-end",
            PaperState::PaperEnd => "paper-end",
            PaperState::CoverOpen => "cover-open",
            PaperState::CutterError => "cutter-error",
            PaperState::HeadOverheated => "head-hot",
            PaperState::Unrecoverable => "unrecoverable",
        }
    }

    pub fn parse(s: &str) -> Option<PaperState> {
        PaperState::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The reply a printer in this state sends to `DLE EOT n` (n = 1..4).
    pub fn reply(self, n: u8) -> u8 {
        const BASE: u8 = 0x12;
        let offline = !matches!(self, PaperState::Ok | PaperState::NearEnd);
        match n {
            PRINTER_STATUS => BASE | if offline { 0x08 } else { 0 },
            OFFLINE_CAUSE => match self {
                PaperState::PaperEnd => BASE | 0x20,
                PaperState::CoverOpen => BASE | 0x04,
                PaperState::CutterError
                | PaperState::HeadOverheated
                | PaperState::Unrecoverable => BASE | 0x40,
                _ => BASE,
            },
            ERROR_CAUSE => match self {
                PaperState::CutterError => BASE | 0x08,
                PaperState::Unrecoverable => BASE | 0x20,
                PaperState::HeadOverheated => BASE | 0x40,
                _ => BASE,
            },
            _ => match self {
                PaperState::PaperEnd => BASE | 0x0C | 0x60,
                PaperState::NearEnd => BASE | 0x0C,
                _ => BASE,
            },
        }
    }

    /// Whether a printer in this state prints what it receives.
    pub fn prints(self) -> bool {
        matches!(self, PaperState::Ok | PaperState::NearEnd)
    }

    /// The fault a printer in this state reports.
    pub fn fault(self) -> Option<PrinterFault> {
        match self {
            PaperState::Ok | PaperState::NearEnd => None,
            PaperState::PaperEnd => Some(PrinterFault::PaperEnd),
            PaperState::CoverOpen => Some(PrinterFault::CoverOpen),
            PaperState::CutterError => Some(PrinterFault::CutterError),
            PaperState::HeadOverheated => Some(PrinterFault::HeadOverheated),
            PaperState::Unrecoverable => Some(PrinterFault::UnrecoverableError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_paper_answer_from_the_reference_decodes() {
        // n=1..4 answer 1A 32 12 7E when out of paper.
        let s = PrinterStatus::from_replies(&[(1, 0x1A), (2, 0x32), (3, 0x12), (4, 0x7E)]).unwrap();
        assert!(s.offline && s.paper_end && s.paper_near_end);
        assert_eq!(s.fault(), Some(PrinterFault::PaperEnd));
        assert_eq!(s.answered, 0x0F);
        assert_eq!(
            [1, 2, 3, 4].map(|n| PaperState::PaperEnd.reply(n)),
            [0x1A, 0x32, 0x12, 0x7E]
        );
    }

    #[test]
    fn every_bit_decodes() {
        let one = |n: u8, b: u8| {
            let mut s = PrinterStatus::default();
            assert!(s.apply(n, b));
            s
        };
        assert!(one(1, 0x1A).offline);
        assert!(!one(1, 0x12).offline);
        assert!(one(2, 0x16).cover_open);
        assert!(one(2, 0x32).paper_end);
        assert!(one(2, 0x52).error);
        assert!(one(3, 0x1A).cutter_error);
        assert!(one(3, 0x32).unrecoverable_error);
        assert!(one(3, 0x52).auto_recoverable_error);
        assert!(one(4, 0x1E).paper_near_end && !one(4, 0x1E).paper_end);
        assert!(one(4, 0x72).paper_end);
        assert!(PrinterStatus::default().is_ready());
        // Not a status byte: rejected.
        assert!(!PrinterStatus::default().apply(1, 0x00));
        assert!(!PrinterStatus::default().apply(5, 0x12));
    }

    #[test]
    fn noise_is_not_a_status() {
        // Fixed bits wrong, or the two bits of one paper sensor disagreeing: never a reply.
        for b in [0x00, 0xFF, 0xA5, 0x3F, 0x92, 0x10] {
            assert_eq!(classify_reply(1, b), ReplyByte::Unexpected(b), "{b:#04x}");
        }
        assert_eq!(classify_reply(4, 0x16), ReplyByte::Unexpected(0x16));
        assert_eq!(classify_reply(4, 0x32), ReplyByte::Unexpected(0x32));
        assert!(!PrinterStatus::default().apply(4, 0x32));
        assert_eq!(classify_reply(2, XON), ReplyByte::FlowControl);
        assert_eq!(classify_reply(2, XOFF), ReplyByte::FlowControl);
        // Every reply a printer in any state sends is accepted.
        for state in PaperState::ALL {
            for n in 1..=4 {
                let b = state.reply(n);
                assert_eq!(classify_reply(n, b), ReplyByte::Reply(b), "{state:?} n={n}");
            }
        }
        // Of all 256 bytes, at most 1 in 16 passes for n = 1..3, 1 in 64 for n = 4.
        let passing = |n| {
            (0..=255u8)
                .filter(|&b| matches!(classify_reply(n, b), ReplyByte::Reply(_)))
                .count()
        };
        assert_eq!(passing(1), 16);
        assert_eq!(passing(4), 4);
    }

    #[test]
    fn every_state_round_trips_to_its_fault() {
        for state in PaperState::ALL {
            let replies: Vec<(u8, u8)> = (1..=4).map(|n| (n, state.reply(n))).collect();
            let s = PrinterStatus::from_replies(&replies).unwrap();
            assert_eq!(s.fault(), state.fault(), "{state:?}");
            assert_eq!(
                s.paper_near_end,
                state == PaperState::NearEnd || state == PaperState::PaperEnd
            );
            assert_eq!(PaperState::parse(state.name()), Some(state));
        }
    }
}
