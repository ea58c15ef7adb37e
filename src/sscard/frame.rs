//! The serial framing between the kiosk and a social security card reader, sans-IO.
//!
//! **This framing is ours (`vk-sscard-1`), not a vendor's.** Contact card readers with a
//! serial or USB-serial line (社保卡读卡器) each speak their vendor's protocol, and none is
//! published in a form that could be verified here. What every one of them offers is the same
//! four operations, which this framing names; a real vendor profile has to map them (see
//! docs/sscard.md):
//!
//! | request (code) | answer (code) | meaning |
//! |---|---|---|
//! | `10` status | `90` + `00` no card / `01` card inserted | is a card in the slot |
//! | `11` power on | `91` + ATR | reset the card (ISO 7816-3) |
//! | `12` + C-APDU | `92` + R-APDU (data, SW1 SW2) | one APDU exchange (T=0/T=1 is the reader's business) |
//! | `13` power off | `93` | deactivate the card |
//! | any | `E0` + error code | `01` no card, `02` card mute, `03` bad frame, `04` unknown request |
//!
//! A frame in both directions: `5A A5`, length (2 bytes, big-endian: code + data), code, data,
//! and a check byte, the XOR of every byte from the first length byte to the last data byte.
//! The [`FrameDecoder`] takes bytes in any pieces, skips noise before `5A A5`, and
//! resynchronises after a bad check byte or an impossible length.
//!
//! No I/O in here. APDU responses carry the account number: buffers are zeroised on drop.

use zeroize::Zeroizing;

/// The framing's name in reader profiles (`protocol = "vk-sscard-1"`).
pub const PROTOCOL: &str = "vk-sscard-1";

/// The two bytes that open every frame.
pub const MAGIC: [u8; 2] = [0x5A, 0xA5];

/// The largest length field (code + data): a short APDU (5 + 255 + 1) with room to spare.
pub const MAX_LENGTH: u16 = 300;

/// The check byte: XOR of the length bytes, the code and the data.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// A request from the kiosk to the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    PowerOn,
    Apdu(Zeroizing<Vec<u8>>),
    PowerOff,
}

impl Request {
    pub fn code(&self) -> u8 {
        match self {
            Request::Status => 0x10,
            Request::PowerOn => 0x11,
            Request::Apdu(_) => 0x12,
            Request::PowerOff => 0x13,
        }
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let data: &[u8] = match self {
            Request::Apdu(apdu) => apdu,
            _ => &[],
        };
        encode_frame(self.code(), data)
    }

    /// A request frame's code and data (what the simulator decodes).
    pub fn from_frame(code: u8, data: &[u8]) -> Result<Request, FrameError> {
        match (code, data.is_empty()) {
            (0x10, true) => Ok(Request::Status),
            (0x11, true) => Ok(Request::PowerOn),
            (0x12, false) => Ok(Request::Apdu(Zeroizing::new(data.to_vec()))),
            (0x13, true) => Ok(Request::PowerOff),
            _ => Err(FrameError::Unexpected(code)),
        }
    }
}

/// The reader's error codes (`E0` answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderError {
    NoCard,
    CardMute,
    BadFrame,
    UnknownRequest,
    Other(u8),
}

impl ReaderError {
    pub fn code(self) -> u8 {
        match self {
            ReaderError::NoCard => 0x01,
            ReaderError::CardMute => 0x02,
            ReaderError::BadFrame => 0x03,
            ReaderError::UnknownRequest => 0x04,
            ReaderError::Other(c) => c,
        }
    }

    pub fn from_code(c: u8) -> ReaderError {
        match c {
            0x01 => ReaderError::NoCard,
            0x02 => ReaderError::CardMute,
            0x03 => ReaderError::BadFrame,
            0x04 => ReaderError::UnknownRequest,
            c => ReaderError::Other(c),
        }
    }
}

/// An answer from the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status { card_present: bool },
    Atr(Vec<u8>),
    Response(Zeroizing<Vec<u8>>),
    PoweredOff,
    Error(ReaderError),
}

impl Reply {
    pub fn code(&self) -> u8 {
        match self {
            Reply::Status { .. } => 0x90,
            Reply::Atr(_) => 0x91,
            Reply::Response(_) => 0x92,
            Reply::PoweredOff => 0x93,
            Reply::Error(_) => 0xE0,
        }
    }

    /// The frame's bytes (what the simulator sends).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let data: Vec<u8> = match self {
            Reply::Status { card_present } => vec![u8::from(*card_present)],
            Reply::Atr(atr) => atr.clone(),
            Reply::Response(r) => r.to_vec(),
            Reply::PoweredOff => Vec::new(),
            Reply::Error(e) => vec![e.code()],
        };
        let data = Zeroizing::new(data);
        encode_frame(self.code(), &data)
    }

    /// An answer frame's code and data.
    pub fn from_frame(code: u8, data: &[u8]) -> Result<Reply, FrameError> {
        match (code, data) {
            (0x90, [0]) => Ok(Reply::Status {
                card_present: false,
            }),
            (0x90, [1]) => Ok(Reply::Status { card_present: true }),
            (0x91, atr) if !atr.is_empty() => Ok(Reply::Atr(atr.to_vec())),
            (0x92, r) if r.len() >= 2 => Ok(Reply::Response(Zeroizing::new(r.to_vec()))),
            (0x93, []) => Ok(Reply::PoweredOff),
            (0xE0, [c]) => Ok(Reply::Error(ReaderError::from_code(*c))),
            _ => Err(FrameError::Unexpected(code)),
        }
    }
}

/// A frame that is well formed but means nothing in its direction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame with code {0:#04x} and data of the wrong size or meaning")]
    Unexpected(u8),
}

fn encode_frame(code: u8, data: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = u16::try_from(data.len() + 1).unwrap_or(u16::MAX);
    let mut v = Zeroizing::new(Vec::with_capacity(data.len() + 6));
    v.extend_from_slice(&MAGIC);
    v.extend_from_slice(&len.to_be_bytes());
    v.push(code);
    v.extend_from_slice(data);
    let chk = checksum(&v[2..]);
    v.push(chk);
    v
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame with a good check byte.
    Frame { code: u8, data: Zeroizing<Vec<u8>> },
    /// A frame whose check byte was wrong (dropped; the decoder resynchronised).
    BadChecksum,
}

/// The incremental decoder: [`FrameDecoder::push`] bytes, then take frames with
/// [`FrameDecoder::next_frame`] until it returns `None`.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Zeroizing<Vec<u8>>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, if a whole one has arrived.
    pub fn next_frame(&mut self) -> Option<Decoded> {
        loop {
            // Skip to the magic.
            let start = self.buf.windows(2).position(|w| w == MAGIC);
            match start {
                Some(0) => {}
                Some(n) => {
                    self.buf.drain(..n);
                }
                None => {
                    // Keep a trailing first magic byte: the second may follow.
                    let keep = usize::from(self.buf.last() == Some(&MAGIC[0]));
                    let n = self.buf.len() - keep;
                    self.buf.drain(..n);
                    return None;
                }
            }
            if self.buf.len() < 4 {
                return None;
            }
            let len = u16::from_be_bytes([self.buf[2], self.buf[3]]);
            if len == 0 || len > MAX_LENGTH {
                // Not a frame: look for the next magic after this one.
                self.buf.drain(..1);
                continue;
            }
            let total = 4 + usize::from(len) + 1;
            if self.buf.len() < total {
                return None;
            }
            let chk = self.buf[total - 1];
            if checksum(&self.buf[2..total - 1]) != chk {
                self.buf.drain(..1);
                return Some(Decoded::BadChecksum);
            }
            let code = self.buf[4];
            let data = Zeroizing::new(self.buf[5..total - 1].to_vec());
            self.buf.drain(..total);
            return Some(Decoded::Frame { code, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_encode_byte_for_byte() {
        assert_eq!(
            &Request::Status.encode()[..],
            &[0x5A, 0xA5, 0x00, 0x01, 0x10, 0x11]
        );
        let apdu = Request::Apdu(Zeroizing::new(vec![0x00, 0xB2, 0x01, 0x0C, 0x00]));
        assert_eq!(
            &apdu.encode()[..],
            &[
                0x5A, 0xA5, 0x00, 0x06, 0x12, 0x00, 0xB2, 0x01, 0x0C, 0x00, 0xAB
            ]
        );
        assert_eq!(
            &Reply::Status { card_present: true }.encode()[..],
            &[0x5A, 0xA5, 0x00, 0x02, 0x90, 0x01, 0x93]
        );
        assert_eq!(
            &Reply::Error(ReaderError::NoCard).encode()[..],
            &[0x5A, 0xA5, 0x00, 0x02, 0xE0, 0x01, 0xE3]
        );
    }

    #[test]
    fn the_decoder_takes_pieces_skips_noise_and_resynchronises() {
        let mut d = FrameDecoder::new();
        let reply = Reply::Response(Zeroizing::new(vec![0x6A, 0x82])).encode();
        let mut bad = Reply::Status { card_present: true }.encode().to_vec();
        *bad.last_mut().unwrap() ^= 0xFF;
        let mut line = vec![0x00, 0x5A, 0x13];
        line.extend_from_slice(&bad);
        line.extend_from_slice(&reply);
        for b in &line[..line.len() - 1] {
            d.push(&[*b]);
            if let Some(f) = d.next_frame() {
                assert_eq!(f, Decoded::BadChecksum);
            }
        }
        assert_eq!(d.next_frame(), None);
        d.push(&line[line.len() - 1..]);
        let Some(Decoded::Frame { code, data }) = d.next_frame() else {
            panic!("a frame")
        };
        assert_eq!(
            Reply::from_frame(code, &data),
            Ok(Reply::Response(Zeroizing::new(vec![0x6A, 0x82])))
        );
        assert_eq!(d.next_frame(), None);
    }

    #[test]
    fn an_impossible_length_is_skipped() {
        let mut d = FrameDecoder::new();
        d.push(&[0x5A, 0xA5, 0xFF, 0xFF]);
        d.push(&Request::PowerOff.encode());
        let Some(Decoded::Frame { code, data }) = d.next_frame() else {
            panic!("a frame")
        };
        assert_eq!(Request::from_frame(code, &data), Ok(Request::PowerOff));
    }

    #[test]
    fn frames_of_the_wrong_shape_are_errors() {
        assert_eq!(
            Reply::from_frame(0x90, &[7]),
            Err(FrameError::Unexpected(0x90))
        );
        assert_eq!(
            Reply::from_frame(0x92, &[0x90]),
            Err(FrameError::Unexpected(0x92))
        );
        assert_eq!(
            Request::from_frame(0x12, &[]),
            Err(FrameError::Unexpected(0x12))
        );
        assert_eq!(
            Request::from_frame(0x77, &[]),
            Err(FrameError::Unexpected(0x77))
        );
    }
}
