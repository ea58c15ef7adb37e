//! The serial driver of the social security card reader: the thin I/O layer around
//! [`super::frame`] and [`super::emv`].
//!
//! [`SsReader`] is synchronous (serialport is blocking): open a port, one request at a time with
//! explicit timeouts, a frame with a bad check byte asked again up to twice. [`read_account`]
//! is what the kiosk calls on its blocking pool when the villager asks for the card to be read:
//! wait (polling the status) until a card is inserted, power it on, run [`AccountRead`] over
//! APDU exchanges, power it off. The UI never waits on it: its answer comes back as an event.
//! The account is never logged unmasked.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, SerialPort, TTYPort};
use zeroize::Zeroizing;

use super::emv::{AccountRead, BankAccount, EmvError, Step};
use super::frame::{Decoded, FrameDecoder, Reply, Request};
use super::profile::SsReaderProfile;

/// How many times a request is sent again after an answer with a bad check byte.
const RESENDS: u32 = 2;

/// How the driver talks to the reader (from its profile, [`SsReaderSettings::from_profile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsReaderSettings {
    pub port: PathBuf,
    pub baud: u32,
    pub answer_timeout: Duration,
    pub insert_wait: Duration,
    pub poll_interval: Duration,
}

impl SsReaderSettings {
    pub fn from_profile(port: impl Into<PathBuf>, profile: &SsReaderProfile) -> SsReaderSettings {
        SsReaderSettings {
            port: port.into(),
            baud: profile.baud,
            answer_timeout: profile.answer_timeout(),
            insert_wait: profile.insert_wait(),
            poll_interval: profile.poll_interval(),
        }
    }

    /// The settings for the reader in the config, or `None` when no `sscard.port` is set (the
    /// kiosk then has no social security card reader).
    pub fn from_config(
        config: &crate::config::SsCardConfig,
    ) -> Result<Option<SsReaderSettings>, crate::profile::ProfileError> {
        let Some(port) = config.port.clone() else {
            return Ok(None);
        };
        let profile = SsReaderProfile::load(&config.profile)?;
        Ok(Some(SsReaderSettings::from_profile(port, &profile)))
    }
}

/// Why the account could not be read. English for logs; [`SsCardError::message_zh`] for the
/// screen. Carries no card data.
#[derive(Debug, thiserror::Error)]
pub enum SsCardError {
    #[error("cannot open the social security card reader {path} at {baud} baud: {source}")]
    Open {
        path: String,
        baud: u32,
        source: serialport::Error,
    },
    #[error("the social security card reader {path} did not answer within {waited:?}")]
    NoAnswer { path: String, waited: Duration },
    #[error("i/o error on the social security card reader {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the social security card reader {path} answered three times with a bad check byte")]
    Garbled { path: String },
    #[error("the social security card reader {path} sent an answer that does not fit the request")]
    Protocol { path: String },
    #[error("no card was inserted within {0:?}")]
    NoCard(Duration),
    #[error("the card in the reader does not answer (inserted the wrong way round?)")]
    CardMute,
    #[error("{0}")]
    Card(#[from] EmvError),
}

impl SsCardError {
    /// Plain Chinese for the villager, with what to do.
    pub fn message_zh(&self) -> &'static str {
        match self {
            SsCardError::NoCard(_) => {
                "没有读到社保卡。请把社保卡芯片朝上插入读卡器，或者手动输入卡号。"
            }
            SsCardError::CardMute => {
                "社保卡读不出来。请把卡拔出，芯片朝上重新插入，或者手动输入卡号。"
            }
            SsCardError::Card(EmvError::NoBankApplication | EmvError::NoAccount) => {
                "这张社保卡没有开通金融账户，请手动输入银行卡号。"
            }
            SsCardError::Card(_) => "社保卡上的账号读不出来，请手动输入卡号。",
            _ => "社保卡读卡器暂时不能用，请手动输入卡号，或请工作人员帮忙。",
        }
    }

    /// English for the screen.
    pub fn message_en(&self) -> &'static str {
        match self {
            SsCardError::NoCard(_) => {
                "No social security card was read. Insert it chip up, or type the account number."
            }
            SsCardError::CardMute => {
                "The card cannot be read. Take it out and insert it chip up again, or type the number."
            }
            SsCardError::Card(EmvError::NoBankApplication | EmvError::NoAccount) => {
                "This card has no bank account. Please type the account number."
            }
            SsCardError::Card(_) => {
                "The account on this card cannot be read. Please type the number."
            }
            _ => "The card reader is not working. Please type the number or ask the staff.",
        }
    }
}

/// The synchronous driver: one open port.
pub struct SsReader {
    port: TTYPort,
    decoder: FrameDecoder,
    settings: SsReaderSettings,
}

impl SsReader {
    pub fn open(settings: &SsReaderSettings) -> Result<SsReader, SsCardError> {
        let path = settings.port.to_string_lossy().into_owned();
        let port = crate::idcard::reader::open_8n1(&path, settings.baud, settings.answer_timeout)
            .map_err(|source| SsCardError::Open {
            path,
            baud: settings.baud,
            source,
        })?;
        Ok(SsReader {
            port,
            decoder: FrameDecoder::new(),
            settings: settings.clone(),
        })
    }

    fn path(&self) -> String {
        self.settings.port.to_string_lossy().into_owned()
    }

    /// Sends one request and waits for its answer; an answer with a bad check byte makes the
    /// request go again (up to [`RESENDS`] times).
    pub fn transact(&mut self, request: &Request) -> Result<Reply, SsCardError> {
        for _ in 0..=RESENDS {
            if let Some(reply) = self.send_once(request)? {
                return Ok(reply);
            }
        }
        Err(SsCardError::Garbled { path: self.path() })
    }

    /// One request: `Some(answer)`, or `None` when the answer's check byte was bad.
    fn send_once(&mut self, request: &Request) -> Result<Option<Reply>, SsCardError> {
        let io = |source| SsCardError::Io {
            path: self.settings.port.to_string_lossy().into_owned(),
            source,
        };
        // A late answer to an earlier request must not be taken for this one.
        let _ = self.port.clear(ClearBuffer::Input);
        self.decoder = FrameDecoder::new();
        self.port
            .write_all(&request.encode())
            .and_then(|()| self.port.flush())
            .map_err(io)?;
        let deadline = Instant::now() + self.settings.answer_timeout;
        let mut buf = Zeroizing::new([0u8; 512]);
        loop {
            match self.decoder.next_frame() {
                Some(Decoded::BadChecksum) => return Ok(None),
                Some(Decoded::Frame { code, data }) => {
                    return Reply::from_frame(code, &data)
                        .map(Some)
                        .map_err(|_| SsCardError::Protocol { path: self.path() });
                }
                None => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SsCardError::NoAnswer {
                    path: self.path(),
                    waited: self.settings.answer_timeout,
                });
            }
            self.port
                .set_timeout(deadline - now)
                .map_err(|e| SsCardError::Io {
                    path: self.path(),
                    source: e.into(),
                })?;
            match self.port.read(&mut buf[..]) {
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SsCardError::Io {
                        path: self.path(),
                        source,
                    });
                }
            }
        }
    }

    /// Whether a card is in the slot.
    pub fn card_present(&mut self) -> Result<bool, SsCardError> {
        match self.transact(&Request::Status)? {
            Reply::Status { card_present } => Ok(card_present),
            _ => Err(SsCardError::Protocol { path: self.path() }),
        }
    }

    /// Reads the account of the card in the slot (powered on, read, powered off).
    pub fn read_inserted(&mut self) -> Result<BankAccount, SsCardError> {
        match self.transact(&Request::PowerOn)? {
            Reply::Atr(_) => {}
            Reply::Error(super::frame::ReaderError::NoCard) => {
                return Err(SsCardError::NoCard(Duration::ZERO));
            }
            Reply::Error(_) => return Err(SsCardError::CardMute),
            _ => return Err(SsCardError::Protocol { path: self.path() }),
        }
        let result = self.run_emv();
        // Best effort: the card is pulled out anyway.
        let _ = self.transact(&Request::PowerOff);
        result
    }

    fn run_emv(&mut self) -> Result<BankAccount, SsCardError> {
        let (mut machine, mut apdu) = AccountRead::start();
        loop {
            let answer = match self.transact(&Request::Apdu(Zeroizing::new(apdu.0.clone())))? {
                Reply::Response(r) => r,
                Reply::Error(super::frame::ReaderError::NoCard) => {
                    return Err(SsCardError::NoCard(Duration::ZERO));
                }
                Reply::Error(_) => return Err(SsCardError::CardMute),
                _ => return Err(SsCardError::Protocol { path: self.path() }),
            };
            match machine.on_response(&answer)? {
                Step::Send(next) => apdu = next,
                Step::Done(account) => return Ok(account),
            }
        }
    }
}

/// What the kiosk calls (blocking; on its blocking pool): opens the reader, waits up to
/// `insert_wait` for a card, reads its account. The port is closed again afterwards.
pub fn read_account(settings: &SsReaderSettings) -> Result<BankAccount, SsCardError> {
    let mut reader = SsReader::open(settings)?;
    let start = Instant::now();
    while !reader.card_present()? {
        if start.elapsed() >= settings.insert_wait {
            return Err(SsCardError::NoCard(settings.insert_wait));
        }
        // Pacing the reader's polls, as the ID reader's thread does.
        std::thread::sleep(settings.poll_interval);
    }
    let result = reader.read_inserted();
    match &result {
        Ok(account) => {
            tracing::info!(account = ?account, "bank account read from the social security card")
        }
        Err(e) => tracing::warn!("social security card not read: {e}"),
    }
    result
}
