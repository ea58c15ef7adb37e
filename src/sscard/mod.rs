//! The social security card reader (社保卡读卡器): the bank account (金融账号) read from the
//! card's UnionPay debit application instead of typed (issue 15 part 4).
//!
//! - [`emv`]: BER-TLV, the ISO 7816-4 / PBOC APDUs and the state machine that reads the PAN,
//!   its Luhn check. Sans-IO.
//! - [`frame`]: the serial framing between kiosk and reader (`vk-sscard-1`, **ours**, not a
//!   vendor's; docs/sscard.md), with a resynchronising decoder. Sans-IO.
//! - [`profile`]: reader profiles (`hardware/profiles/readers/sscard-*.toml`, `sscard.profile`).
//! - [`reader`]: the serial driver; [`reader::read_account`] runs on the kiosk's blocking pool.
//!
//! Its simulator is `sim::sscard::SsCardSimulator`. Only `reader` touches a port.

pub mod emv;
pub mod frame;
pub mod profile;
pub mod reader;

pub use emv::BankAccount;
pub use reader::{SsCardError, SsReaderSettings, read_account};
