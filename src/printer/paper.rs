//! A model of an ESC/POS printer (sans-IO): feed it the bytes a printer would receive and it
//! answers status requests, keeps a readable transcript (text, QR payloads, images, cuts) and
//! draws the paper as the printer would burn it.
//!
//! Shared by the printer simulator (`sim::printer`) and `kiosk receipt preview`, so a preview
//! shows exactly what the encoder's bytes print. It decodes Chinese text with encoding_rs
//! from the 2-byte font only: anything a real printer would print as garbage is recorded as
//! [`TranscriptEntry::Garbage`]. No I/O here.

use std::fmt;

use super::bitmap::{self, Bitmap, CELL_HEIGHT, CELL_WIDTH};
use super::escpos::{self, DLE, EOT, ESC, FS, GS, LF, QrEcLevel};
use super::job::Align;
use super::profile::{PrinterProfile, QrMode};
use super::status::PaperState;

/// Default line pitch in dots (ESC 2: 24-dot characters + 6 dots spacing).
const LINE_PITCH: usize = 30;

/// Wider rasters than this (2048 dots) fit no receipt printer; the header is garbage.
const MAX_RASTER_BYTES_PER_ROW: usize = 256;

/// One thing the printer did, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptEntry {
    /// `ESC @`.
    Init,
    /// One printed line of text (trailing spaces removed).
    Text {
        text: String,
        align: Align,
        bold: bool,
        width: u8,
        height: u8,
    },
    /// A native QR code printed from `GS ( k`.
    Qr {
        data: String,
        module_dots: u8,
        ec: QrEcLevel,
    },
    /// A raster image (`GS v 0`), as printed, with the payload if it is a readable QR code.
    Image { image: Bitmap, qr: Option<String> },
    /// The paper was cut.
    Cut { partial: bool },
    /// A `DLE EOT n` request and the reply sent.
    Status { n: u8, reply: u8 },
    /// Bytes a real printer would print as garbage or misread.
    Garbage { bytes: Vec<u8>, reason: String },
}

impl fmt::Display for TranscriptEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranscriptEntry::Init => f.write_str("init"),
            TranscriptEntry::Text {
                text,
                align,
                bold,
                width,
                height,
            } => {
                let mut attrs = Vec::new();
                match align {
                    Align::Left => {}
                    Align::Center => attrs.push("center".to_string()),
                    Align::Right => attrs.push("right".to_string()),
                }
                if *bold {
                    attrs.push("bold".into());
                }
                if (*width, *height) != (1, 1) {
                    attrs.push(format!("{width}x{height}"));
                }
                if attrs.is_empty() {
                    write!(f, "text: {text}")
                } else {
                    write!(f, "text[{}]: {text}", attrs.join(","))
                }
            }
            TranscriptEntry::Qr {
                data,
                module_dots,
                ec,
            } => write!(f, "qr: {data} (module {module_dots} dots, EC {ec:?})"),
            TranscriptEntry::Image { image, qr } => {
                write!(f, "image: {}x{} dots", image.width(), image.height())?;
                match qr {
                    Some(data) => write!(f, " (QR: {data})"),
                    None => Ok(()),
                }
            }
            TranscriptEntry::Cut { partial } => f.write_str(if *partial {
                "cut: partial"
            } else {
                "cut: full"
            }),
            TranscriptEntry::Status { n, reply } => {
                write!(f, "status: DLE EOT {n} -> {reply:02X}")
            }
            TranscriptEntry::Garbage { bytes, reason } => {
                write!(f, "garbage: {} ({reason})", hex::encode_upper(bytes))
            }
        }
    }
}

/// The print modes a job can leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintModes {
    pub chinese: bool,
    pub align: Align,
    pub bold: bool,
    pub width: u8,
    pub height: u8,
}

impl PrintModes {
    /// The state after power-on / `ESC @` with Chinese mode off: what every job must leave.
    pub const KNOWN: PrintModes = PrintModes {
        chinese: false,
        align: Align::Left,
        bold: false,
        width: 1,
        height: 1,
    };
}

#[derive(Debug, Clone, Copy)]
struct Cell {
    c: char,
    cols: usize,
    bold: bool,
    width: u8,
    height: u8,
}

enum Step {
    /// Need more bytes.
    Incomplete,
    /// Consumed this many bytes.
    Done(usize),
}

/// The printer model. See the module doc.
pub struct PaperInterpreter {
    dots: usize,
    native_qr: bool,
    state: PaperState,
    paper_end_after: Option<usize>,
    bytes_seen: usize,
    pending: Vec<u8>,
    modes: PrintModes,
    line: Vec<Cell>,
    line_align: Align,
    qr_data: Vec<u8>,
    qr_module: u8,
    qr_ec: QrEcLevel,
    paper: Bitmap,
    y: usize,
    transcript: Vec<TranscriptEntry>,
}

impl PaperInterpreter {
    /// A printer with `profile`'s paper width and QR support, powered on in Chinese mode (as
    /// most Chinese printers start).
    pub fn new(profile: &PrinterProfile) -> PaperInterpreter {
        let dots = profile.dots_per_line as usize;
        PaperInterpreter {
            dots,
            native_qr: profile.qr == QrMode::Native,
            state: PaperState::Ok,
            paper_end_after: None,
            bytes_seen: 0,
            pending: Vec::new(),
            modes: PrintModes {
                chinese: true,
                ..PrintModes::KNOWN
            },
            line: Vec::new(),
            line_align: Align::Left,
            qr_data: Vec::new(),
            qr_module: 3,
            qr_ec: QrEcLevel::L,
            paper: Bitmap::new(dots, 0),
            y: 0,
            transcript: Vec::new(),
        }
    }

    pub fn state(&self) -> PaperState {
        self.state
    }

    pub fn set_state(&mut self, state: PaperState) {
        self.state = state;
    }

    /// The paper runs out once this many more bytes have been received.
    pub fn set_paper_end_after(&mut self, bytes: Option<usize>) {
        self.paper_end_after = bytes.map(|b| self.bytes_seen + b);
    }

    pub fn modes(&self) -> PrintModes {
        self.modes
    }

    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// The receipt is torn off: the paper printed so far and its transcript are dropped (a
    /// real printer keeps nothing of what it printed); state, modes and the byte count stay.
    /// Between jobs only.
    pub fn tear_off(&mut self) {
        self.paper = Bitmap::new(self.dots, 0);
        self.y = 0;
        self.transcript.clear();
    }

    /// The paper printed so far, with a little blank paper below.
    pub fn paper(&self) -> Bitmap {
        let mut p = self.paper.clone();
        p.grow_to(self.y + 16);
        p
    }

    pub fn paper_png(&self) -> Vec<u8> {
        self.paper().to_png()
    }

    /// Processes received bytes; returns the bytes to send back (status replies).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let mut replies = Vec::new();
        let mut pos = 0;
        while pos < self.pending.len() {
            if let Some(limit) = self.paper_end_after
                && self.bytes_seen >= limit
            {
                self.state = PaperState::PaperEnd;
                self.paper_end_after = None;
            }
            let buf = std::mem::take(&mut self.pending);
            let step = self.step(&buf[pos..], &mut replies);
            self.pending = buf;
            match step {
                Step::Incomplete => break,
                Step::Done(n) => {
                    pos += n;
                    self.bytes_seen += n;
                }
            }
        }
        self.pending.drain(..pos);
        replies
    }

    fn garbage(&mut self, bytes: &[u8], reason: &str) {
        self.transcript.push(TranscriptEntry::Garbage {
            bytes: bytes.to_vec(),
            reason: reason.to_string(),
        });
    }

    fn step(&mut self, b: &[u8], replies: &mut Vec<u8>) -> Step {
        let need = |n: usize| b.len() < n;
        match b[0] {
            LF => {
                self.print_line(None);
                Step::Done(1)
            }
            b'\r' => Step::Done(1),
            b'\t' => {
                for _ in 0..4 {
                    self.push_char(' ', 1);
                }
                Step::Done(1)
            }
            DLE => {
                if need(3) {
                    return Step::Incomplete;
                }
                if b[1] == EOT && (1..=4).contains(&b[2]) {
                    let reply = self.state.reply(b[2]);
                    replies.push(reply);
                    self.transcript
                        .push(TranscriptEntry::Status { n: b[2], reply });
                    Step::Done(3)
                } else {
                    self.garbage(&b[..1], "unknown DLE command");
                    Step::Done(1)
                }
            }
            ESC => self.esc(b),
            GS => self.gs(b),
            FS => {
                if need(2) {
                    return Step::Incomplete;
                }
                match b[1] {
                    b'&' => {
                        self.modes.chinese = true;
                        Step::Done(2)
                    }
                    b'.' => {
                        self.modes.chinese = false;
                        Step::Done(2)
                    }
                    b'!' | b'C' | b'-' => {
                        if need(3) {
                            return Step::Incomplete;
                        }
                        Step::Done(3)
                    }
                    _ => {
                        self.garbage(&b[..2], "unknown FS command");
                        Step::Done(2)
                    }
                }
            }
            0x20..=0x7E => {
                self.push_char(b[0] as char, 1);
                Step::Done(1)
            }
            0x80..=0xFF => self.high_byte(b),
            _ => {
                self.garbage(&b[..1], "unknown control byte");
                Step::Done(1)
            }
        }
    }

    fn high_byte(&mut self, b: &[u8]) -> Step {
        if !self.modes.chinese {
            self.garbage(
                &b[..1],
                "non-ASCII byte outside Chinese mode prints a code-page symbol",
            );
            return Step::Done(1);
        }
        if b.len() < 2 {
            return Step::Incomplete;
        }
        let (lead, trail) = (b[0], b[1]);
        if (0x81..=0xFE).contains(&lead) && (0x30..=0x39).contains(&trail) {
            let len = 4.min(b.len());
            if len < 4 {
                return Step::Incomplete;
            }
            self.garbage(
                &b[..4],
                "4-byte GB18030 sequence: not in the printer's font",
            );
            return Step::Done(4);
        }
        if (0x81..=0xFE).contains(&lead) && (0x40..=0xFE).contains(&trail) && trail != 0x7F {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&b[..2]);
            match text.chars().next() {
                Some(c) if !had_errors => self.push_char(c, 2),
                _ => self.garbage(&b[..2], "not a GBK character"),
            }
            return Step::Done(2);
        }
        self.garbage(&b[..1], "invalid GBK lead/trail byte");
        Step::Done(1)
    }

    fn esc(&mut self, b: &[u8]) -> Step {
        if b.len() < 2 {
            return Step::Incomplete;
        }
        match b[1] {
            b'@' => {
                self.line.clear();
                self.modes = PrintModes {
                    chinese: self.modes.chinese,
                    ..PrintModes::KNOWN
                };
                self.transcript.push(TranscriptEntry::Init);
                Step::Done(2)
            }
            b'2' => Step::Done(2),
            b'a' | b'E' | b'!' | b'd' | b'J' | b'3' | b't' | b'-' | b'M' | b'G' | b'R' => {
                let Some(&n) = b.get(2) else {
                    return Step::Incomplete;
                };
                match b[1] {
                    b'a' => {
                        self.modes.align = match n % 48 {
                            1 => Align::Center,
                            2 => Align::Right,
                            _ => Align::Left,
                        };
                        if self.line.is_empty() {
                            self.line_align = self.modes.align;
                        }
                    }
                    b'E' => self.modes.bold = n & 1 == 1,
                    b'd' => {
                        self.print_line(None);
                        self.advance(LINE_PITCH * n.saturating_sub(1) as usize);
                    }
                    b'J' => self.print_line(Some(n as usize)),
                    _ => {}
                }
                Step::Done(3)
            }
            _ => {
                self.garbage(&b[..2], "unknown ESC command");
                Step::Done(2)
            }
        }
    }

    fn gs(&mut self, b: &[u8]) -> Step {
        if b.len() < 2 {
            return Step::Incomplete;
        }
        match b[1] {
            b'!' => {
                let Some(&n) = b.get(2) else {
                    return Step::Incomplete;
                };
                self.modes.width = ((n >> 4) & 7) + 1;
                self.modes.height = (n & 7) + 1;
                Step::Done(3)
            }
            b'a' | b'H' | b'f' | b'h' | b'w' => {
                if b.len() < 3 {
                    return Step::Incomplete;
                }
                Step::Done(3)
            }
            b'V' => {
                let Some(&m) = b.get(2) else {
                    return Step::Incomplete;
                };
                let (len, feed, partial) = match m {
                    0 | 48 => (3, 0, false),
                    1 | 49 => (3, 0, true),
                    65 | 66 => match b.get(3) {
                        Some(&n) => (4, n as usize, m == 66),
                        None => return Step::Incomplete,
                    },
                    _ => {
                        self.garbage(&b[..3], "unknown cut mode");
                        return Step::Done(3);
                    }
                };
                self.print_line(Some(0));
                self.advance(feed);
                if self.state.prints() {
                    let y = self.y + 2;
                    self.paper.grow_to(y + 3);
                    for x in (0..self.dots).filter(|x| x % 8 < 4) {
                        self.paper.set(x, y, true);
                    }
                    self.y += 6;
                    self.transcript.push(TranscriptEntry::Cut { partial });
                }
                Step::Done(len)
            }
            b'v' => {
                if b.len() < 8 {
                    return Step::Incomplete;
                }
                if b[2] != b'0' {
                    self.garbage(&b[..3], "unknown GS v command");
                    return Step::Done(3);
                }
                let m = b[3];
                let x = b[4] as usize | (b[5] as usize) << 8;
                let y = b[6] as usize | (b[7] as usize) << 8;
                if x == 0 || y == 0 || x > MAX_RASTER_BYTES_PER_ROW {
                    self.garbage(&b[..8], "GS v 0 with an impossible size");
                    return Step::Done(8);
                }
                let total = 8 + x * y;
                if b.len() < total {
                    return Step::Incomplete;
                }
                let image = Bitmap::from_raster(x, y, &b[8..total]);
                let image = image.scaled(
                    if m & 1 == 1 { 2 } else { 1 },
                    if m & 2 == 2 { 2 } else { 1 },
                );
                self.print_image(image);
                Step::Done(total)
            }
            b'(' => {
                if b.len() < 5 {
                    return Step::Incomplete;
                }
                let len = b[3] as usize | (b[4] as usize) << 8;
                let total = 5 + len;
                if b.len() < total {
                    return Step::Incomplete;
                }
                if b[2] != b'k' {
                    return Step::Done(total);
                }
                if !self.native_qr {
                    self.garbage(
                        &b[..total],
                        "GS ( k: this printer has no native QR and prints the bytes as text",
                    );
                    return Step::Done(total);
                }
                self.qr_command(&b[5..total]);
                Step::Done(total)
            }
            _ => {
                self.garbage(&b[..2], "unknown GS command");
                Step::Done(2)
            }
        }
    }

    fn qr_command(&mut self, p: &[u8]) {
        if p.len() < 2 || p[0] != 0x31 {
            return;
        }
        match (p[1], p.get(2)) {
            (0x43, Some(&n)) => self.qr_module = n.clamp(1, 16),
            (0x45, Some(&n)) => {
                if let Some(ec) = QrEcLevel::from_code(n) {
                    self.qr_ec = ec;
                }
            }
            (0x50, Some(_)) => self.qr_data = p[3..].to_vec(),
            (0x51, _) => {
                let data = std::mem::take(&mut self.qr_data);
                match escpos::qr_bitmap(&data, self.qr_module, self.qr_ec) {
                    Ok(image) => {
                        if self.state.prints() {
                            self.transcript.push(TranscriptEntry::Qr {
                                data: String::from_utf8_lossy(&data).into_owned(),
                                module_dots: self.qr_module,
                                ec: self.qr_ec,
                            });
                        }
                        self.place(&image);
                    }
                    Err(e) => self.garbage(&data, &format!("QR not printable: {e}")),
                }
            }
            _ => {}
        }
    }

    fn push_char(&mut self, c: char, cols: usize) {
        let cell = Cell {
            c,
            cols,
            bold: self.modes.bold,
            width: self.modes.width,
            height: self.modes.height,
        };
        let used: usize = self
            .line
            .iter()
            .map(|c| c.cols * CELL_WIDTH * c.width as usize)
            .sum();
        if used + cols * CELL_WIDTH * cell.width as usize > self.dots {
            // The printer wraps a full line by itself.
            self.print_line(None);
        }
        if self.line.is_empty() {
            self.line_align = self.modes.align;
        }
        self.line.push(cell);
    }

    fn advance(&mut self, dots: usize) {
        self.y += dots;
    }

    /// Prints the line buffer; `feed` = dots to feed after it (None: the line pitch).
    fn print_line(&mut self, feed: Option<usize>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.advance(feed.unwrap_or(LINE_PITCH));
            return;
        }
        let height = line
            .iter()
            .map(|c| CELL_HEIGHT * c.height as usize)
            .max()
            .unwrap_or(CELL_HEIGHT);
        let width: usize = line
            .iter()
            .map(|c| c.cols * CELL_WIDTH * c.width as usize)
            .sum();
        if self.state.prints() {
            let first = line[0];
            let text: String = line.iter().map(|c| c.c).collect();
            self.transcript.push(TranscriptEntry::Text {
                text: text.trim_end().to_string(),
                align: self.line_align,
                bold: line.iter().any(|c| c.bold),
                width: first.width,
                height: first.height,
            });
            let mut x = self.x_for(width);
            self.paper.grow_to(self.y + height);
            for c in &line {
                let glyph = bitmap::render_char(c.c, c.cols, c.bold)
                    .scaled(c.width as usize, c.height as usize);
                let top = self.y + height - glyph.height();
                self.paper.paste(&glyph, x, top);
                x += glyph.width();
            }
        }
        self.advance(match feed {
            Some(f) => height + f,
            None => (height + LINE_PITCH - CELL_HEIGHT).max(LINE_PITCH),
        });
    }

    fn x_for(&self, width: usize) -> usize {
        match self.line_align {
            Align::Left => 0,
            Align::Center => self.dots.saturating_sub(width) / 2,
            Align::Right => self.dots.saturating_sub(width),
        }
    }

    fn print_image(&mut self, image: Bitmap) {
        if self.state.prints() {
            let qr = read_qr(&image);
            self.transcript.push(TranscriptEntry::Image {
                image: image.clone(),
                qr,
            });
        }
        self.place(&image);
    }

    /// Draws an image at the current alignment and feeds past it.
    fn place(&mut self, image: &Bitmap) {
        if !self.line.is_empty() {
            self.print_line(None);
        }
        if !self.state.prints() {
            return;
        }
        self.line_align = self.modes.align;
        let x = self.x_for(image.width());
        self.paper.grow_to(self.y + image.height());
        self.paper.paste(image, x, self.y);
        self.y += image.height();
    }
}

/// Reads a QR code in a printed image the way a phone would (with a white quiet zone around
/// it), so the transcript shows raster QR payloads too. Text-line images (24 dots high) are
/// skipped: no QR code is that small.
fn read_qr(image: &Bitmap) -> Option<String> {
    if image.height() < 40 || image.width() < 40 {
        return None;
    }
    let margin = 16;
    let (w, h) = (image.width() + 2 * margin, image.height() + 2 * margin);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let inside = x >= margin && y >= margin;
        if inside && image.get(x - margin, y - margin) {
            0
        } else {
            255
        }
    });
    prepared
        .detect_grids()
        .into_iter()
        .find_map(|g| g.decode().ok().map(|(_, s)| s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::escpos::{Encoder, encode_job};
    use crate::printer::job::PrintJob;

    fn p80() -> PrinterProfile {
        PrinterProfile::builtin("generic-80mm").unwrap()
    }

    #[test]
    fn decodes_text_qr_and_cut_from_encoded_jobs() {
        let mut job = PrintJob::new();
        job.title("受理回执")
            .field("金额", "¥5")
            .qr("https://e.org/q?id=1");
        let bytes = encode_job(&job, &p80()).unwrap();
        let mut printer = PaperInterpreter::new(&p80());
        assert!(printer.feed(&bytes).is_empty());
        let t = printer.transcript();
        assert!(t.contains(&TranscriptEntry::Text {
            text: "受理回执".into(),
            align: Align::Center,
            bold: true,
            width: 2,
            height: 2
        }));
        assert!(
            t.iter()
                .any(|e| matches!(e, TranscriptEntry::Text { text, .. } if text == "金额：￥5"))
        );
        assert!(t.iter().any(
            |e| matches!(e, TranscriptEntry::Qr { data, .. } if data == "https://e.org/q?id=1")
        ));
        assert_eq!(t.last(), Some(&TranscriptEntry::Cut { partial: false }));
        assert!(
            !t.iter()
                .any(|e| matches!(e, TranscriptEntry::Garbage { .. }))
        );
        assert_eq!(printer.modes(), PrintModes::KNOWN);
        assert!(printer.paper().height() > 200);
    }

    #[test]
    fn bytes_split_anywhere_decode_the_same() {
        let mut job = PrintJob::new();
        job.text("中文 and ASCII").qr("x");
        let bytes = encode_job(&job, &p80()).unwrap();
        let mut whole = PaperInterpreter::new(&p80());
        whole.feed(&bytes);
        let mut split = PaperInterpreter::new(&p80());
        for b in &bytes {
            split.feed(std::slice::from_ref(b));
        }
        assert_eq!(whole.transcript(), split.transcript());
    }

    #[test]
    fn garbage_is_recognised() {
        let mut printer = PaperInterpreter::new(&p80());
        let (four, _, _) = encoding_rs::GB18030.encode("¥");
        printer.feed(&four);
        printer.feed(&[0x1C, 0x2E, 0xCA, 0xDC]);
        let garbage = printer
            .transcript()
            .iter()
            .filter(|e| matches!(e, TranscriptEntry::Garbage { .. }))
            .count();
        assert_eq!(garbage, 3);
    }

    #[test]
    fn a_58mm_clone_prints_native_qr_as_garbage() {
        let mut job = PrintJob::new();
        job.qr("https://e.org");
        let native = encode_job(&job, &p80()).unwrap();
        let p58 = PrinterProfile::builtin("generic-58mm").unwrap();
        let mut clone = PaperInterpreter::new(&p58);
        clone.feed(&native);
        assert!(clone.transcript().iter().any(
            |e| matches!(e, TranscriptEntry::Garbage { reason, .. } if reason.contains("GS ( k"))
        ));
        let mut right = PaperInterpreter::new(&p58);
        right.feed(&encode_job(&job, &p58).unwrap());
        assert!(
            !right
                .transcript()
                .iter()
                .any(|e| matches!(e, TranscriptEntry::Garbage { .. }))
        );
    }

    #[test]
    fn dle_eot_inside_raster_data_is_data() {
        // One row of 3 bytes that happens to read 10 04 01.
        let mut printer = PaperInterpreter::new(&p80());
        let replies = printer.feed(&[0x1D, 0x76, 0x30, 0, 3, 0, 1, 0, 0x10, 0x04, 0x01]);
        assert!(replies.is_empty());
        let t = printer.transcript();
        assert_eq!(t.len(), 1);
        let TranscriptEntry::Image { image, qr: None } = &t[0] else {
            panic!("{t:?}")
        };
        assert_eq!(image.to_raster(), vec![0x10, 0x04, 0x01]);
        // An impossible header is garbage, not a huge allocation.
        printer.feed(&[0x1D, 0x76, 0x30, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            printer.transcript().last(),
            Some(TranscriptEntry::Garbage { .. })
        ));
    }

    #[test]
    fn answers_status_in_its_state() {
        let mut printer = PaperInterpreter::new(&p80());
        printer.set_state(PaperState::PaperEnd);
        let mut e = Encoder::new();
        for n in 1..=4 {
            e.status_request(n);
        }
        assert_eq!(printer.feed(e.bytes()), vec![0x1A, 0x32, 0x12, 0x7E]);
    }
}
