//! The receipt printer (小票打印机): an ESC/POS thermal printer, 58 mm or 80 mm, on a serial line.
//!
//! - [`profile`]: printer models from `hardware/profiles/printers/` (paper width, QR mode, cutter,
//!   baud, flow control, status support).
//! - [`job`]: a print job as blocks (text, fields, rules, QR), independent of the paper.
//! - [`escpos`]: the sans-IO encoder; lays a job out for a profile, checks every character
//!   against the printer's 2-byte font.
//! - [`status`]: `DLE EOT` replies decoded, faults, simulated replies.
//! - [`paper`]: a sans-IO model of the printer (transcript + paper image), shared by the
//!   simulator and `kiosk receipt preview`.
//! - [`bitmap`]: one-bit images, glyphs from the embedded font, PNG.
//! - [`receipt`]: the application receipt, the 一次告知 checklist and the test page.
//! - [`device`]: the serial driver the UI calls (async, never blocks the UI).
//!
//! Only `device` does I/O; everything else is pure.

pub mod bitmap;
pub mod device;
pub mod escpos;
pub mod job;
pub mod paper;
pub mod profile;
pub mod receipt;
pub mod status;

pub use device::{PrintError, PrintReport, Printer, PrinterSettings};
pub use job::{Align, Block, PrintJob, TextStyle};
pub use profile::PrinterProfile;
pub use status::{PaperState, PrinterFault, PrinterStatus};
