//! The SAM serial protocol of second-generation ID card readers (二代身份证阅读器), sans-IO.
//!
//! Request frames are built with [`Request`]; responses (and, for the simulator, requests) are
//! decoded by the incremental [`FrameDecoder`], which takes bytes in whatever pieces the serial
//! line delivers, skips noise before a preamble, and resynchronises after a bad checksum or an
//! impossible length. Status codes (SW3) are reported by meaning as [`Status`].
//!
//! This module must never do I/O or read a clock: no serialport, tokio or std::io in here.
//! Frames carry personal data (the text block), so buffers are zeroised when dropped.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// The five bytes that open every frame in both directions.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// Bytes before the length-counted part: preamble + 2 length bytes.
pub const HEADER_LEN: usize = PREAMBLE.len() + 2;

/// The largest length field any known SAM sends: the 30 10 answer with a 1024-byte fingerprint
/// block (3 status + 6 lengths + 256 text + 1024 photo + 1024 fingerprint + 1 CHK = 2314),
/// rounded up. A larger length is impossible and makes the decoder resynchronise.
pub const MAX_LENGTH: u16 = 2400;

/// Size of the text block in a read response (UCS-2 LE, 256 bytes).
pub const TEXT_BLOCK_LEN: usize = 256;

/// The checksum: XOR of every byte from the first length byte to the last data byte.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// A SAM command (CMD, Para).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// 复位 SAM (10 FF).
    ResetSam,
    /// SAM 状态检测 (11 FF).
    SamStatus,
    /// 读 SAM 管理信息 / SAM ID (12 FF).
    ReadSamId,
    /// 寻卡 (20 01).
    FindCard,
    /// 选卡 (20 02).
    SelectCard,
    /// 读文字和照片信息 (30 01).
    ReadTextPhoto,
    /// 读文字、照片和指纹信息 (30 10).
    ReadTextPhotoFingerprint,
    /// 读追加住址 (30 03).
    ReadAppendedAddress,
}

impl Command {
    pub const ALL: [Command; 8] = [
        Command::ResetSam,
        Command::SamStatus,
        Command::ReadSamId,
        Command::FindCard,
        Command::SelectCard,
        Command::ReadTextPhoto,
        Command::ReadTextPhotoFingerprint,
        Command::ReadAppendedAddress,
    ];

    /// The (CMD, Para) bytes.
    pub fn code(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::ReadSamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadTextPhoto => (0x30, 0x01),
            Command::ReadTextPhotoFingerprint => (0x30, 0x10),
            Command::ReadAppendedAddress => (0x30, 0x03),
        }
    }

    pub fn from_code(cmd: u8, para: u8) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.code() == (cmd, para))
    }

    /// The complete request frame.
    pub fn frame(self) -> Vec<u8> {
        Request {
            command: self.code().0,
            para: self.code().1,
            data: Vec::new(),
        }
        .encode()
    }
}

/// SW3, the status byte of a response, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 90: success (操作成功).
    Success,
    /// 9F: find card succeeded (寻找证/卡成功).
    FindCardOk,
    /// 91: the card has no content for this item (e.g. no appended address).
    NoContent,
    /// 10: the SAM received a frame with a bad checksum.
    ChecksumError,
    /// 11: the SAM received a frame with a bad length.
    LengthError,
    /// 21: the SAM does not know the command (old SAMs answer 30 10 so).
    CommandError,
    /// 23: unauthorised operation.
    Unauthorised,
    /// 24: unrecognised error.
    UnrecognisedError,
    /// 31: the card failed to authenticate the SAM.
    CardRejectedSam,
    /// 32: the SAM failed to authenticate the card.
    SamRejectedCard,
    /// 33: information validation error.
    ValidationError,
    /// 40: unrecognised card type.
    UnrecognisedCardType,
    /// 41: reading the card failed.
    ReadFailed,
    /// 47: getting a random number failed.
    RandomFailed,
    /// 60: SAM self-test failed.
    SamSelfTestFailed,
    /// 66: SAM not authorised.
    SamNotAuthorised,
    /// 80: find card failed: no card on the reader.
    NoCard,
    /// 81: select card failed.
    SelectFailed,
    /// Any other code.
    Other(u8),
}

impl Status {
    pub fn from_code(code: u8) -> Status {
        match code {
            0x90 => Status::Success,
            0x9F => Status::FindCardOk,
            0x91 => Status::NoContent,
            0x10 => Status::ChecksumError,
            0x11 => Status::LengthError,
            0x21 => Status::CommandError,
            0x23 => Status::Unauthorised,
            0x24 => Status::UnrecognisedError,
            0x31 => Status::CardRejectedSam,
            0x32 => Status::SamRejectedCard,
            0x33 => Status::ValidationError,
            0x40 => Status::UnrecognisedCardType,
            0x41 => Status::ReadFailed,
            0x47 => Status::RandomFailed,
            0x60 => Status::SamSelfTestFailed,
            0x66 => Status::SamNotAuthorised,
            0x80 => Status::NoCard,
            0x81 => Status::SelectFailed,
            other => Status::Other(other),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0x90,
            Status::FindCardOk => 0x9F,
            Status::NoContent => 0x91,
            Status::ChecksumError => 0x10,
            Status::LengthError => 0x11,
            Status::CommandError => 0x21,
            Status::Unauthorised => 0x23,
            Status::UnrecognisedError => 0x24,
            Status::CardRejectedSam => 0x31,
            Status::SamRejectedCard => 0x32,
            Status::ValidationError => 0x33,
            Status::UnrecognisedCardType => 0x40,
            Status::ReadFailed => 0x41,
            Status::RandomFailed => 0x47,
            Status::SamSelfTestFailed => 0x60,
            Status::SamNotAuthorised => 0x66,
            Status::NoCard => 0x80,
            Status::SelectFailed => 0x81,
            Status::Other(c) => c,
        }
    }

    /// True for 90 and 9F.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Success | Status::FindCardOk)
    }

    /// What the code means, in English, for logs and the CLI.
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::FindCardOk => "card found",
            Status::NoContent => "the card has no content for this item",
            Status::ChecksumError => "the SAM received a frame with a bad checksum",
            Status::LengthError => "the SAM received a frame with a bad length",
            Status::CommandError => "the SAM does not support this command",
            Status::Unauthorised => "unauthorised operation",
            Status::UnrecognisedError => "unrecognised error",
            Status::CardRejectedSam => "the card failed to authenticate the SAM",
            Status::SamRejectedCard => "the SAM failed to authenticate the card",
            Status::ValidationError => "information validation error",
            Status::UnrecognisedCardType => "unrecognised card type",
            Status::ReadFailed => "reading the card failed",
            Status::RandomFailed => "getting a random number failed",
            Status::SamSelfTestFailed => "SAM self-test failed",
            Status::SamNotAuthorised => "SAM not authorised",
            Status::NoCard => "no card on the reader",
            Status::SelectFailed => "select card failed",
            Status::Other(_) => "unknown status code",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02X} ({})", self.code(), self.meaning())
    }
}

/// A request frame: CMD, Para and optional data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: u8,
    pub para: u8,
    pub data: Vec<u8>,
}

impl Request {
    /// The command this request names, if it is a known one.
    pub fn known_command(&self) -> Option<Command> {
        Command::from_code(self.command, self.para)
    }

    /// The whole frame: preamble, length, CMD, Para, data, CHK.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(2 + self.data.len());
        body.push(self.command);
        body.push(self.para);
        body.extend_from_slice(&self.data);
        encode_frame(&body)
    }
}

/// A response frame: SW1, SW2, SW3 (the status) and data. The data may hold personal data and
/// is zeroised on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Response {
    pub sw1: u8,
    pub sw2: u8,
    #[zeroize(skip)]
    pub status: Status,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the data: it can be a card's text block.
        f.debug_struct("Response")
            .field("sw1", &self.sw1)
            .field("sw2", &self.sw2)
            .field("status", &self.status)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl Response {
    pub fn new(status: Status, data: Vec<u8>) -> Response {
        Response {
            sw1: 0,
            sw2: 0,
            status,
            data,
        }
    }

    /// The whole frame: preamble, length, SW1-3, data, CHK.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(3 + self.data.len());
        body.extend_from_slice(&[self.sw1, self.sw2, self.status.code()]);
        body.extend_from_slice(&self.data);
        let frame = encode_frame(&body);
        body.zeroize();
        frame
    }
}

/// Wraps a length-counted body (everything between the length and the CHK) into a frame.
/// Panics never; bodies longer than 65534 bytes are a programming error and are truncated by
/// the length field, so callers keep bodies small (every SAM body is below [`MAX_LENGTH`]).
fn encode_frame(body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(body.len() + 1).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len() + 1);
    frame.extend_from_slice(&PREAMBLE);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(body);
    let chk = checksum(&frame[PREAMBLE.len()..]);
    frame.push(chk);
    frame
}

/// What can go wrong while decoding a stream. The decoder has already resynchronised when it
/// reports one of these; the caller may log it and go on polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame checksum mismatch: computed {computed:02X}, frame says {received:02X}")]
    BadChecksum { computed: u8, received: u8 },
    #[error("impossible frame length {0}")]
    ImpossibleLength(u16),
}

/// Which side's frames a decoder parses.
pub trait FrameKind: Sized {
    /// Smallest possible length field (body + CHK).
    const MIN_LENGTH: u16;
    /// Builds the frame from its body (checksum already verified, length within bounds).
    fn from_body(body: &[u8]) -> Self;
}

impl FrameKind for Response {
    const MIN_LENGTH: u16 = 4;
    fn from_body(body: &[u8]) -> Self {
        Response {
            sw1: body[0],
            sw2: body[1],
            status: Status::from_code(body[2]),
            data: body[3..].to_vec(),
        }
    }
}

impl FrameKind for Request {
    const MIN_LENGTH: u16 = 3;
    fn from_body(body: &[u8]) -> Self {
        Request {
            command: body[0],
            para: body[1],
            data: body[2..].to_vec(),
        }
    }
}

/// Incremental frame decoder: [`push`](FrameDecoder::push) bytes as they arrive, then call
/// [`next_frame`](FrameDecoder::next_frame) until it returns `None`.
pub struct FrameDecoder<F: FrameKind> {
    buf: Vec<u8>,
    /// Index of the first unconsumed byte in `buf`.
    start: usize,
    noise: u64,
    _kind: std::marker::PhantomData<F>,
}

/// Decodes what a reader answers.
pub type ResponseDecoder = FrameDecoder<Response>;
/// Decodes what a host asks (the simulator's side).
pub type RequestDecoder = FrameDecoder<Request>;

impl<F: FrameKind> Default for FrameDecoder<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: FrameKind> FrameDecoder<F> {
    pub fn new() -> Self {
        FrameDecoder {
            buf: Vec::with_capacity(2 * (HEADER_LEN + MAX_LENGTH as usize)),
            start: 0,
            noise: 0,
            _kind: std::marker::PhantomData,
        }
    }

    /// Appends bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a returned frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many bytes were skipped as noise (outside any frame) since the decoder was made.
    pub fn noise_skipped(&self) -> u64 {
        self.noise
    }

    /// Forgets buffered bytes (after a timeout, before a new request).
    pub fn clear(&mut self) {
        self.noise += self.buffered() as u64;
        self.buf.zeroize();
        self.buf.clear();
        self.start = 0;
    }

    /// The next complete frame, an error (after which the decoder has skipped ahead to look for
    /// the next preamble), or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<F, FrameError>> {
        let pending = &self.buf[self.start..];
        // Find the preamble; keep a possible partial preamble at the end.
        let Some(pos) = find_preamble(pending) else {
            let keep = partial_preamble_suffix(pending);
            let skip = pending.len() - keep;
            self.noise += skip as u64;
            self.start += skip;
            return None;
        };
        if pos > 0 {
            self.noise += pos as u64;
            self.start += pos;
        }
        let pending = &self.buf[self.start..];
        if pending.len() < HEADER_LEN {
            return None;
        }
        let length = u16::from_be_bytes([pending[5], pending[6]]);
        if !(F::MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            // Skip this preamble's first byte and look again.
            self.start += 1;
            self.noise += 1;
            return Some(Err(FrameError::ImpossibleLength(length)));
        }
        let total = HEADER_LEN + length as usize;
        if pending.len() < total {
            return None;
        }
        let counted = &pending[PREAMBLE.len()..total - 1];
        let computed = checksum(counted);
        let received = pending[total - 1];
        if computed != received {
            // The preamble may have been noise: resume the search just after its first byte.
            self.start += 1;
            self.noise += 1;
            return Some(Err(FrameError::BadChecksum { computed, received }));
        }
        let frame = F::from_body(&pending[HEADER_LEN..total - 1]);
        self.start += total;
        Some(Ok(frame))
    }

    /// Drops consumed bytes, wiping them.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let len = self.buf.len();
        self.buf.copy_within(self.start.., 0);
        let rest = len - self.start;
        self.buf[rest..].zeroize();
        self.buf.truncate(rest);
        self.start = 0;
    }
}

impl<F: FrameKind> Drop for FrameDecoder<F> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

fn find_preamble(bytes: &[u8]) -> Option<usize> {
    bytes.windows(PREAMBLE.len()).position(|w| w == PREAMBLE)
}

/// How many trailing bytes of `bytes` could be the start of a preamble.
fn partial_preamble_suffix(bytes: &[u8]) -> usize {
    let max = (PREAMBLE.len() - 1).min(bytes.len());
    (1..=max)
        .rev()
        .find(|&n| bytes[bytes.len() - n..] == PREAMBLE[..n])
        .unwrap_or(0)
}

/// The data of a successful read (30 01 / 30 10): the 256-byte text block, the WLT photo and,
/// for 30 10, the fingerprint block. Zeroised on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ReadData {
    pub text: Vec<u8>,
    pub photo: Vec<u8>,
    pub fingerprint: Option<Vec<u8>>,
}

impl std::fmt::Debug for ReadData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadData")
            .field("text_len", &self.text.len())
            .field("photo_len", &self.photo.len())
            .field("fingerprint_len", &self.fingerprint.as_ref().map(Vec::len))
            .finish()
    }
}

/// The data of a read response does not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadDataError {
    #[error("read response data too short for its length fields ({0} bytes)")]
    TooShort(usize),
    #[error(
        "read response lengths (text {text}, photo {photo}, fingerprint {fingerprint}) do not add up to its {actual} data bytes"
    )]
    LengthMismatch {
        text: usize,
        photo: usize,
        fingerprint: usize,
        actual: usize,
    },
}

impl ReadData {
    /// Parses the data of a 30 01 (`with_fingerprint == false`) or 30 10 response.
    pub fn parse(data: &[u8], with_fingerprint: bool) -> Result<ReadData, ReadDataError> {
        let header = if with_fingerprint { 6 } else { 4 };
        if data.len() < header {
            return Err(ReadDataError::TooShort(data.len()));
        }
        let text = u16::from_be_bytes([data[0], data[1]]) as usize;
        let photo = u16::from_be_bytes([data[2], data[3]]) as usize;
        let fingerprint = if with_fingerprint {
            u16::from_be_bytes([data[4], data[5]]) as usize
        } else {
            0
        };
        if header + text + photo + fingerprint != data.len() {
            return Err(ReadDataError::LengthMismatch {
                text,
                photo,
                fingerprint,
                actual: data.len(),
            });
        }
        let body = &data[header..];
        Ok(ReadData {
            text: body[..text].to_vec(),
            photo: body[text..text + photo].to_vec(),
            fingerprint: with_fingerprint.then(|| body[text + photo..].to_vec()),
        })
    }

    /// The data of a read response, as a SAM sends it: 30 10 layout when `fingerprint` is
    /// `Some`, else 30 01.
    pub fn encode(&self) -> Vec<u8> {
        let len16 = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
        let mut out = Vec::new();
        out.extend_from_slice(&len16(self.text.len()));
        out.extend_from_slice(&len16(self.photo.len()));
        if let Some(fp) = &self.fingerprint {
            out.extend_from_slice(&len16(fp.len()));
        }
        out.extend_from_slice(&self.text);
        out.extend_from_slice(&self.photo);
        if let Some(fp) = &self.fingerprint {
            out.extend_from_slice(fp);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn decode_all(bytes: &[u8]) -> Vec<Result<Response, FrameError>> {
        let mut d = ResponseDecoder::new();
        d.push(bytes);
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn request_frames_match_the_reference() {
        let cases = [
            (Command::ResetSam, "AA AA AA 96 69 00 03 10 FF EC"),
            (Command::SamStatus, "AA AA AA 96 69 00 03 11 FF ED"),
            (Command::ReadSamId, "AA AA AA 96 69 00 03 12 FF EE"),
            (Command::FindCard, "AA AA AA 96 69 00 03 20 01 22"),
            (Command::SelectCard, "AA AA AA 96 69 00 03 20 02 21"),
            (Command::ReadTextPhoto, "AA AA AA 96 69 00 03 30 01 32"),
            (
                Command::ReadTextPhotoFingerprint,
                "AA AA AA 96 69 00 03 30 10 23",
            ),
            (
                Command::ReadAppendedAddress,
                "AA AA AA 96 69 00 03 30 03 30",
            ),
        ];
        for (cmd, hex) in cases {
            assert_eq!(cmd.frame(), unhex(hex), "{cmd:?}");
            let mut d = RequestDecoder::new();
            d.push(&unhex(hex));
            let req = d.next_frame().unwrap().unwrap();
            assert_eq!(req.known_command(), Some(cmd));
        }
    }

    #[test]
    fn the_wrong_public_find_frame_is_rejected() {
        let mut d = RequestDecoder::new();
        d.push(&unhex("AA AA AA 96 69 00 03 20 01 21"));
        assert_eq!(
            d.next_frame(),
            Some(Err(FrameError::BadChecksum {
                computed: 0x22,
                received: 0x21
            }))
        );
        assert_eq!(d.next_frame(), None);
    }

    #[test]
    fn real_response_dumps_decode_by_meaning() {
        let cases = [
            ("aaaaaa9669000800009f0000000097", Status::FindCardOk, 4),
            ("aaaaaa9669000400008084", Status::NoCard, 0),
            ("aaaaaa9669000c00009000000000000000009c", Status::Success, 8),
            ("aaaaaa9669000400004145", Status::ReadFailed, 0),
            ("aaaaaa9669000400009094", Status::Success, 0),
        ];
        for (hex, status, data_len) in cases {
            let frames = decode_all(&unhex(hex));
            assert_eq!(frames.len(), 1, "{hex}");
            let r = frames[0].as_ref().unwrap();
            assert_eq!(r.status, status, "{hex}");
            assert_eq!((r.sw1, r.sw2), (0, 0));
            assert_eq!(r.data.len(), data_len, "{hex}");
            assert_eq!(r.encode(), unhex(hex), "re-encodes byte for byte");
        }
        assert!(Status::FindCardOk.is_ok());
        assert!(!Status::NoCard.is_ok());
        assert_eq!(Status::from_code(0x21), Status::CommandError);
        assert_eq!(Status::from_code(0x5A), Status::Other(0x5A));
        for code in 0..=255u8 {
            assert_eq!(Status::from_code(code).code(), code);
        }
    }

    #[test]
    fn bytes_in_any_pieces() {
        let stream = unhex("aaaaaa9669000800009f0000000097aaaaaa9669000400008084");
        for piece in 1..stream.len() {
            let mut d = ResponseDecoder::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(piece) {
                d.push(chunk);
                while let Some(f) = d.next_frame() {
                    got.push(f.unwrap().status);
                }
            }
            assert_eq!(got, [Status::FindCardOk, Status::NoCard], "piece {piece}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn noise_before_a_preamble_is_skipped() {
        let mut stream = vec![0x00, 0xAA, 0xAA, 0x96, 0xFF, 0xAA, 0xAA, 0xAA, 0x96];
        stream.extend(unhex("aaaaaa9669000400009094"));
        let frames = decode_all(&stream);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].as_ref().unwrap().status, Status::Success);
    }

    #[test]
    fn resynchronises_after_a_bad_checksum_and_an_impossible_length() {
        let mut stream = unhex("aaaaaa9669000400008085"); // bad CHK
        stream.extend(unhex("aaaaaa9669ffff00")); // impossible length
        stream.extend(unhex("aaaaaa9669000400008084"));
        let frames = decode_all(&stream);
        assert_eq!(
            frames[0],
            Err(FrameError::BadChecksum {
                computed: 0x84,
                received: 0x85
            })
        );
        assert_eq!(frames[1], Err(FrameError::ImpossibleLength(0xFFFF)));
        assert_eq!(frames[2].as_ref().unwrap().status, Status::NoCard);
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn a_frame_hidden_inside_a_corrupt_one_is_found() {
        // A corrupt frame whose claimed length swallows a real frame: after the checksum
        // fails, the decoder must find the real one inside.
        let mut stream = unhex("aaaaaa9669000f0000");
        stream.extend(unhex("aaaaaa9669000400008084"));
        stream.extend([0x12, 0x34, 0x56, 0x78]);
        let frames = decode_all(&stream);
        assert!(matches!(frames[0], Err(FrameError::BadChecksum { .. })));
        assert_eq!(frames[1].as_ref().unwrap().status, Status::NoCard);
    }

    #[test]
    fn read_data_round_trip_and_lengths() {
        let rd = ReadData {
            text: vec![0x20; 256],
            photo: vec![7; 1024],
            fingerprint: None,
        };
        let resp = Response::new(Status::Success, rd.encode());
        let frame = resp.encode();
        assert_eq!(frame.len(), 1295);
        assert_eq!(
            &frame[..14],
            &unhex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")[..]
        );
        let back = &decode_all(&frame)[0];
        let back = back.as_ref().unwrap();
        assert_eq!(ReadData::parse(&back.data, false).unwrap(), rd);

        let mut rd = rd.clone();
        rd.fingerprint = Some(vec![1; 1024]);
        let frame = Response::new(Status::Success, rd.encode()).encode();
        assert_eq!(frame.len(), 1295 + 2 + 1024);
        let back = &decode_all(&frame)[0];
        assert_eq!(
            ReadData::parse(&back.as_ref().unwrap().data, true).unwrap(),
            rd
        );
        assert!(matches!(
            ReadData::parse(&[1, 0, 4, 0, 0], false),
            Err(ReadDataError::LengthMismatch { .. })
        ));
        assert_eq!(
            ReadData::parse(&[1, 0], false),
            Err(ReadDataError::TooShort(2))
        );
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn contains(hay: &[u8], needle: &[u8]) -> bool {
            hay.windows(needle.len()).any(|w| w == needle)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            #[test]
            fn responses_round_trip_in_any_pieces(
                frames in prop::collection::vec(
                    (any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)), 1..5),
                noise in prop::collection::vec(any::<u8>(), 0..40),
                piece in 1usize..64,
            ) {
                let sent: Vec<Response> = frames
                    .iter()
                    .map(|(sw3, data)| Response::new(Status::from_code(*sw3), data.clone()))
                    .collect();
                // Noise without a preamble byte pattern in front of every frame.
                let noise: Vec<u8> = noise.into_iter().filter(|b| *b != 0xAA).collect();
                let mut stream = Vec::new();
                for r in &sent {
                    stream.extend_from_slice(&noise);
                    stream.extend(r.encode());
                }
                let mut d = ResponseDecoder::new();
                let mut got = Vec::new();
                for chunk in stream.chunks(piece) {
                    d.push(chunk);
                    while let Some(f) = d.next_frame() {
                        got.push(f.unwrap());
                    }
                }
                prop_assert_eq!(got, sent);
            }

            #[test]
            fn requests_round_trip(cmd in any::<u8>(), para in any::<u8>(),
                                   data in prop::collection::vec(any::<u8>(), 0..64)) {
                let req = Request { command: cmd, para, data };
                let mut d = RequestDecoder::new();
                d.push(&req.encode());
                prop_assert_eq!(d.next_frame(), Some(Ok(req)));
            }

            #[test]
            fn any_stream_never_panics_nor_yields_a_bad_frame(
                bytes in prop::collection::vec(
                    prop_oneof![any::<u8>(), Just(0xAA), Just(0x96), Just(0x69), Just(0x00)],
                    0..2000),
                piece in 1usize..200,
            ) {
                let mut d = ResponseDecoder::new();
                for chunk in bytes.chunks(piece) {
                    d.push(chunk);
                    while let Some(f) = d.next_frame() {
                        if let Ok(frame) = f {
                            // Every frame it yields was in the stream, checksum and all.
                            let encoded = frame.encode();
                            let chk = checksum(&encoded[PREAMBLE.len()..encoded.len() - 1]);
                            prop_assert_eq!(chk, encoded[encoded.len() - 1]);
                            prop_assert!(contains(&bytes, &encoded));
                        }
                    }
                }
                prop_assert!(d.buffered() <= HEADER_LEN + MAX_LENGTH as usize);
            }

            #[test]
            fn a_valid_frame_after_garbage_is_found(
                garbage in prop::collection::vec(any::<u8>(), 0..600),
            ) {
                // Whatever came before (even a truncated frame), once the garbage is followed by
                // enough bytes the decoder finds a real frame that follows.
                let good = Response::new(Status::NoCard, vec![]).encode();
                let mut stream = garbage.clone();
                // Enough filler to complete any frame the garbage may have started.
                stream.extend(std::iter::repeat_n(0u8, HEADER_LEN + MAX_LENGTH as usize));
                stream.extend(&good);
                let mut d = ResponseDecoder::new();
                d.push(&stream);
                let mut found = false;
                while let Some(f) = d.next_frame() {
                    if let Ok(r) = f
                        && r.status == Status::NoCard
                        && r.data.is_empty()
                    {
                        found = true;
                    }
                }
                prop_assert!(found);
            }
        }
    }
}
