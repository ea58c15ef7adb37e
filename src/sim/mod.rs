//! Simulators that speak the reader's and the printer's protocols byte for byte on
//! pseudo-terminals, so tests and demo mode open real ttys with serialport.
//!
//! - [`pty`]: a raw-mode pseudo-terminal, optionally reachable through a stable symlink.
//! - [`idcard`]: the ID card reader (SAM protocol).
//! - [`printer`]: an ESC/POS receipt printer with status, transcript and paper image.
//! - [`sscard`]: the social security card reader (`vk-sscard-1`) with a card behind it.

pub mod idcard;
pub mod printer;
pub mod pty;
pub mod sscard;
