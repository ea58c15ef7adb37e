//! The social security card reader port ([`BankCardReader`]) on the serial driver
//! (`sscard::reader`): one read at a time, the port opened only while a card is read.

use std::sync::Mutex;

use super::ports::BankCardReader;
use crate::sscard::{BankAccount, SsCardError, SsReaderSettings};

/// The reader on its serial port.
pub struct SerialBankCard {
    settings: SsReaderSettings,
    /// Held while a read runs: a second tap waits for the first read instead of opening the
    /// port twice.
    reading: Mutex<()>,
}

impl SerialBankCard {
    pub fn new(settings: SsReaderSettings) -> SerialBankCard {
        SerialBankCard {
            settings,
            reading: Mutex::new(()),
        }
    }
}

impl BankCardReader for SerialBankCard {
    fn read_account(&self) -> Result<BankAccount, SsCardError> {
        let _one = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        crate::sscard::read_account(&self.settings)
    }
}
