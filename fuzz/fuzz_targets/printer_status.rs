//! Fuzz target: real-time status replies (DLE EOT n) from a printer, in any order and with any
//! bytes, must fold into a status or be refused, never panic; a status is ready exactly when it
//! names no fault.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::printer::status::{PaperState, PrinterStatus, is_status_reply};

fuzz_target!(|data: &[u8]| {
    let replies: Vec<(u8, u8)> = data.chunks_exact(2).map(|c| (c[0] % 6, c[1])).collect();
    if let Some(status) = PrinterStatus::from_replies(&replies) {
        let faults = status.faults();
        assert_eq!(status.fault(), faults.first().copied());
        if status.is_ready() {
            assert!(faults.is_empty());
        }
        for f in faults {
            let _ = (f.describe(), f.message_zh(), f.exit_code());
        }
    }
    let mut s = PrinterStatus::default();
    for &(n, b) in &replies {
        let applied = s.apply(n, b);
        // Only a reply with the fixed bits to a request 1-4 is taken; some of those are still
        // refused (paper sensors that disagree: noise, not a status).
        if applied {
            assert!(is_status_reply(b) && (1..=4).contains(&n));
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(paper) = PaperState::parse(text)
    {
        for n in 1..=4 {
            assert!(is_status_reply(paper.reply(n)));
        }
    }
});
