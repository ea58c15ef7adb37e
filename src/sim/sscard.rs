//! A social security card reader on a pseudo-terminal, speaking `vk-sscard-1`
//! ([`crate::sscard::frame`]) byte for byte, with a simulated card behind it that answers the
//! ISO 7816-4 / PBOC APDUs of [`crate::sscard::emv`] as a 第三代社保卡 does: PPSE, the UnionPay
//! debit application's FCI (with a PDOL), GET PROCESSING OPTIONS (format 2, AFL SFI 1 record 1)
//! and the record with tags `57` and `5A`.
//!
//! Cases: a card with a bank account, no card, a card without a bank application, a card that
//! does not answer (mute), and a reader whose answers carry a bad check byte. Requests with a
//! bad check byte are answered `E0 03`, unknown ones `E0 04`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use super::idcard::{read_some, write_all};
use crate::sim::pty::{Pty, Serving};
use crate::sscard::emv::{PPSE, UNIONPAY_DEBIT};
use crate::sscard::frame::{Decoded, FrameDecoder, ReaderError, Reply, Request};

/// The card in the simulated reader's slot.
#[derive(Clone, PartialEq, Eq)]
pub enum SimSsCard {
    /// A social security card whose UnionPay debit application holds this account.
    Bank(Zeroizing<String>),
    /// A card without a financial application (an old 第二代 card not activated at a bank).
    NoBankApplication,
    /// A card that does not answer the power-on (inserted the wrong way round).
    Mute,
}

impl std::fmt::Debug for SimSsCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimSsCard::Bank(_) => f.write_str("Bank(..)"),
            SimSsCard::NoBankApplication => f.write_str("NoBankApplication"),
            SimSsCard::Mute => f.write_str("Mute"),
        }
    }
}

/// The demo card's account (Luhn-valid, 19 digits).
pub const DEMO_ACCOUNT: &str = "6217000010001234569";

impl SimSsCard {
    pub fn bank(account: &str) -> SimSsCard {
        SimSsCard::Bank(Zeroizing::new(account.to_owned()))
    }

    /// The demo villager's card, account [`DEMO_ACCOUNT`].
    pub fn demo() -> SimSsCard {
        SimSsCard::bank(DEMO_ACCOUNT)
    }
}

#[derive(Debug, Default)]
struct SimState {
    card: Option<SimSsCard>,
    powered: bool,
    /// Every answer goes out with its check byte flipped.
    bad_checksum: bool,
    /// Requests seen, by code (for tests).
    watchers: Vec<std::sync::mpsc::Sender<u8>>,
}

type Shared = Mutex<SimState>;

fn state(shared: &Shared) -> MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The simulator: a thread serving the pty until dropped.
pub struct SsCardSimulator {
    path: PathBuf,
    shared: Arc<Shared>,
    /// Stops the serving thread when the simulator is dropped (the device unplugged).
    _serving: Serving,
}

impl std::fmt::Debug for SsCardSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsCardSimulator")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SsCardSimulator {
    /// Starts on a new pty (reachable through `link` when given) with `card` in the slot.
    pub fn start(link: Option<&Path>, card: Option<SimSsCard>) -> io::Result<SsCardSimulator> {
        let pty = match link {
            Some(link) => Pty::open_linked(link)?,
            None => Pty::open()?,
        };
        let path = pty.path().to_path_buf();
        let master = pty.try_clone_master()?;
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        let shared = Arc::new(Shared::default());
        state(&shared).card = card;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("sscard-sim".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        // SAFETY: `master` is an owned, open File; the AsyncFd owns it for its
                        // whole life and a File always returns the same fd.
                        let result = match unsafe { AsyncFd::register(master) } {
                            Ok(fd) => serve(fd, &shared, stop_rx).await,
                            Err(e) => Err(io::Error::other(e.to_string())),
                        };
                        if let Err(e) = result {
                            tracing::warn!("social security card simulator stopped: {e}");
                        }
                    });
                    drop(pty);
                })?
        };
        Ok(SsCardSimulator {
            path,
            shared,
            _serving: Serving {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
        })
    }

    /// The path a driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn insert(&self, card: SimSsCard) {
        let mut st = state(&self.shared);
        st.card = Some(card);
        st.powered = false;
    }

    pub fn remove(&self) {
        let mut st = state(&self.shared);
        st.card = None;
        st.powered = false;
    }

    /// Answers with a bad check byte (a noisy line) or good ones again.
    pub fn set_bad_checksum(&self, bad: bool) {
        state(&self.shared).bad_checksum = bad;
    }

    /// Every request's code from now on (`0x10` status, `0x11` power on, `0x12` APDU, ...).
    pub fn watch_requests(&self) -> std::sync::mpsc::Receiver<u8> {
        let (tx, rx) = std::sync::mpsc::channel();
        state(&self.shared).watchers.push(tx);
        rx
    }
}

async fn serve(
    fd: AsyncFd<std::fs::File>,
    shared: &Shared,
    mut stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut decoder = FrameDecoder::new();
    let mut buf = Zeroizing::new([0u8; 512]);
    loop {
        let n = tokio::select! {
            _ = &mut stop => return Ok(()),
            r = read_some(&fd, &mut buf[..]) => r?,
        };
        decoder.push(&buf[..n]);
        while let Some(decoded) = decoder.next_frame() {
            let (reply, bad) = {
                let mut st = state(shared);
                let reply = match decoded {
                    Decoded::BadChecksum => Reply::Error(ReaderError::BadFrame),
                    Decoded::Frame { code, data } => {
                        st.watchers.retain(|w| w.send(code).is_ok());
                        match Request::from_frame(code, &data) {
                            Ok(request) => answer(&mut st, &request),
                            Err(_) => Reply::Error(ReaderError::UnknownRequest),
                        }
                    }
                };
                (reply, st.bad_checksum)
            };
            let mut out = reply.encode();
            if bad && let Some(last) = out.last_mut() {
                *last ^= 0xFF;
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                r = write_all(&fd, &out) => r?,
            }
        }
    }
}

fn answer(st: &mut SimState, request: &Request) -> Reply {
    match request {
        Request::Status => Reply::Status {
            card_present: st.card.is_some(),
        },
        Request::PowerOn => match &st.card {
            None => Reply::Error(ReaderError::NoCard),
            Some(SimSsCard::Mute) => Reply::Error(ReaderError::CardMute),
            Some(_) => {
                st.powered = true;
                // A T=1 ATR with historical bytes, as PBOC cards send.
                Reply::Atr(vec![
                    0x3B, 0x6C, 0x00, 0x00, 0x86, 0x38, 0x66, 0x53, 0x49, 0x43, 0x42, 0x43, 0x31,
                    0x2E, 0x30, 0x00,
                ])
            }
        },
        Request::PowerOff => {
            st.powered = false;
            Reply::PoweredOff
        }
        Request::Apdu(apdu) => match (&st.card, st.powered) {
            (None, _) => Reply::Error(ReaderError::NoCard),
            (Some(_), false) => Reply::Error(ReaderError::CardMute),
            (Some(card), true) => Reply::Response(card_answer(card, apdu)),
        },
    }
}

/// BER-TLV with a short or `81` length.
fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    if value.len() > 0x7F {
        v.push(0x81);
    }
    v.push(value.len() as u8);
    v.extend_from_slice(value);
    v
}

/// Digits as BCD, padded with `F`.
fn bcd(digits: &str) -> Vec<u8> {
    let mut nibbles: Vec<u8> = digits
        .bytes()
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'D' => 0x0D,
            _ => 0x0F,
        })
        .collect();
    if !nibbles.len().is_multiple_of(2) {
        nibbles.push(0x0F);
    }
    nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

fn ok(mut data: Vec<u8>) -> Zeroizing<Vec<u8>> {
    data.extend_from_slice(&[0x90, 0x00]);
    Zeroizing::new(data)
}

fn sw(sw1: u8, sw2: u8) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(vec![sw1, sw2])
}

/// The card's answer to one command APDU.
fn card_answer(card: &SimSsCard, apdu: &[u8]) -> Zeroizing<Vec<u8>> {
    let SimSsCard::Bank(account) = card else {
        // No financial application: nothing of it can be selected.
        return sw(0x6A, 0x82);
    };
    match apdu {
        [0x00, 0xA4, 0x04, 0x00, lc, rest @ ..] if rest.len() > usize::from(*lc) => {
            let name = &rest[..usize::from(*lc)];
            if name == PPSE {
                let entry = [tlv(&[0x4F], &UNIONPAY_DEBIT), tlv(&[0x87], &[0x01])].concat();
                let fci = [
                    tlv(&[0x84], PPSE),
                    tlv(&[0xA5], &tlv(&[0xBF, 0x0C], &tlv(&[0x61], &entry))),
                ]
                .concat();
                ok(tlv(&[0x6F], &fci))
            } else if name == UNIONPAY_DEBIT {
                let prop = [
                    tlv(&[0x50], b"PBOC DEBIT"),
                    tlv(&[0x9F, 0x38], &[0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06]),
                ]
                .concat();
                let fci = [tlv(&[0x84], &UNIONPAY_DEBIT), tlv(&[0xA5], &prop)].concat();
                ok(tlv(&[0x6F], &fci))
            } else {
                sw(0x6A, 0x82)
            }
        }
        [0x80, 0xA8, 0x00, 0x00, ..] => {
            let body = [
                tlv(&[0x82], &[0x7C, 0x00]),
                tlv(&[0x94], &[0x08, 0x01, 0x01, 0x00]),
            ]
            .concat();
            ok(tlv(&[0x77], &body))
        }
        [0x00, 0xB2, 0x01, 0x0C, ..] => {
            let track2 = Zeroizing::new(format!("{}D30122010000000000", account.as_str()));
            let record = Zeroizing::new(
                [
                    tlv(&[0x57], &bcd(&track2)),
                    tlv(&[0x5F, 0x24], &[0x30, 0x12, 0x31]),
                    tlv(&[0x5A], &bcd(account)),
                ]
                .concat(),
            );
            ok(tlv(&[0x70], &record))
        }
        [0x00, 0xB2, ..] => sw(0x6A, 0x83),
        _ => sw(0x6D, 0x00),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sscard::emv::{AccountRead, Step};

    /// The simulated card, driven by the kiosk's state machine without a line in between.
    #[test]
    fn the_simulated_card_gives_its_account_to_the_state_machine() {
        let card = SimSsCard::demo();
        let (mut m, mut apdu) = AccountRead::start();
        let account = loop {
            match m.on_response(&card_answer(&card, &apdu.0)).unwrap() {
                Step::Send(next) => apdu = next,
                Step::Done(a) => break a,
            }
        };
        assert_eq!(account.digits(), DEMO_ACCOUNT);
        let (mut m, apdu) = AccountRead::start();
        let first = card_answer(&SimSsCard::NoBankApplication, &apdu.0);
        let Ok(Step::Send(next)) = m.on_response(&first) else {
            panic!()
        };
        assert_eq!(
            m.on_response(&card_answer(&SimSsCard::NoBankApplication, &next.0)),
            Err(crate::sscard::emv::EmvError::NoBankApplication)
        );
    }
}
