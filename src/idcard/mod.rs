//! The ID card reader (二代身份证阅读器).
//!
//! - [`protocol`]: the SAM serial protocol, sans-IO: request frames, incremental decoder.
//! - [`card`]: the card model (three card kinds), decoding of the text block, validation.
//! - [`profile`]: reader profiles (`hardware/profiles/readers`, `reader.profile`).
//! - [`reader`]: the serial driver and the polling thread that reports [`ReaderEvent`]s.
//!
//! Codec and card model are sans-IO; the serial driver is the only part that touches a port.

pub mod card;
pub mod profile;
pub mod protocol;
pub mod reader;

pub use card::*;
pub use reader::{CardDay, ReaderEvent, ReaderHandle, ReaderSettings, spawn_reader};
