//! The ID card reader (二代身份证阅读器).
//!
//! - [`card`]: the card model (three card kinds), decoding of the text block, validation.
//!
//! Codec and card model are sans-IO; the serial driver is the only part that touches a port.

pub mod card;

pub use card::*;
