//! The ESC/POS encoder (sans-IO): commands as bytes, Chinese text as the printer's 2-byte
//! GB18030/GBK font, QR codes (native `GS ( k` or `GS v 0` raster), and [`encode_job`], which
//! lays a [`PrintJob`] out for one printer profile.
//!
//! Every character is checked against the printer's font before it is sent: a character whose
//! GB18030 form is not 1 or 2 bytes (¥ U+00A5, rare characters in names) is replaced by a safe
//! equivalent or printed as a glyph image drawn with the embedded font, never sent as garbage.
//! This module must never do I/O: bytes out, nothing else.

use super::bitmap::{self, Bitmap, CELL_HEIGHT};
use super::job::{Align, Block, PrintJob, TextStyle};
use super::profile::{CutMode, FontCoverage, PrinterProfile, QrMode};

pub const ESC: u8 = 0x1B;
pub const GS: u8 = 0x1D;
pub const FS: u8 = 0x1C;
pub const DLE: u8 = 0x10;
pub const EOT: u8 = 0x04;
pub const LF: u8 = 0x0A;

/// Longest QR payload we accept (bytes): the QR version 40-L byte-mode capacity is 2953.
pub const MAX_QR_BYTES: usize = 2953;

/// Rows per `GS v 0` band: long images are sent as several commands.
pub const RASTER_BAND_ROWS: usize = 240;

/// A job that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("QR data is {len} bytes; at most {MAX_QR_BYTES} fit in a QR code")]
    QrTooLong { len: usize },
    #[error("QR data is empty")]
    QrEmpty,
    #[error("image is {width} dots wide; the paper has {max} dots")]
    ImageTooWide { width: usize, max: usize },
}

/// QR error correction level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrEcLevel {
    L,
    M,
    Q,
    H,
}

impl QrEcLevel {
    /// The `n` of `GS ( k … 31 45 n`.
    pub fn code(self) -> u8 {
        match self {
            QrEcLevel::L => 0x30,
            QrEcLevel::M => 0x31,
            QrEcLevel::Q => 0x32,
            QrEcLevel::H => 0x33,
        }
    }

    pub fn from_code(n: u8) -> Option<QrEcLevel> {
        Some(match n {
            0x30 => QrEcLevel::L,
            0x31 => QrEcLevel::M,
            0x32 => QrEcLevel::Q,
            0x33 => QrEcLevel::H,
            _ => return None,
        })
    }

    pub fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            QrEcLevel::L => qrcode::EcLevel::L,
            QrEcLevel::M => qrcode::EcLevel::M,
            QrEcLevel::Q => qrcode::EcLevel::Q,
            QrEcLevel::H => qrcode::EcLevel::H,
        }
    }
}

/// The error correction every receipt QR uses: M survives a smudge and stays small.
pub const RECEIPT_QR_EC: QrEcLevel = QrEcLevel::M;

/// The cut command to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutKind {
    Full,
    Partial,
}

/// How one character goes to the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharClass {
    /// Printable ASCII: one byte, one column.
    Ascii(u8),
    /// In the printer's 2-byte font: two bytes, two columns.
    Double([u8; 2]),
    /// Not in the font: print this instead (itself made only of ASCII/2-byte characters).
    Substitute(&'static str),
    /// Not in the font, no safe equivalent, but the embedded font can draw it: print as an image.
    Glyph,
}

/// Safe equivalents for characters outside printer fonts (or inside them but unreliable).
const SUBSTITUTIONS: &[(char, &str)] = &[
    ('\u{00A5}', "￥"), // YEN SIGN: GB18030 4-byte 81 30 84 36; full-width ￥ is A3 A4
    ('\u{20AC}', "EUR"),
    ('\u{00A2}', "￠"),
    ('\u{00A3}', "￡"),
    ('\u{00AC}', "￢"),
    ('\u{00A6}', "￤"),
    ('\u{00A0}', " "),
    ('\u{2002}', " "),
    ('\u{2003}', " "),
    ('\u{2009}', " "),
    ('\u{200A}', " "),
    ('\u{202F}', " "),
    ('\u{200B}', ""),
    ('\u{200D}', ""),
    ('\u{FEFF}', ""),
    ('\u{00AD}', ""),
    ('\u{2010}', "-"),
    ('\u{2011}', "-"),
    ('\u{2012}', "-"),
    ('\u{2013}', "-"),
    ('\u{2212}', "-"),
    ('\u{2022}', "·"),
    ('\u{2027}', "·"),
    ('\u{30FB}', "·"),
    ('\u{2122}', "TM"),
    ('\u{00A9}', "(C)"),
    ('\u{00AE}', "(R)"),
    ('\u{2713}', "√"),
    ('\u{2714}', "√"),
    ('\u{2717}', "×"),
    ('\u{00B5}', "u"),
];

/// What the printer prints for a character nothing can represent (□ is in every GB2312 font).
pub const REPLACEMENT: &str = "□";

/// Whether a 2-byte GB18030 code is in the printer's font.
fn in_font(bytes: [u8; 2], font: FontCoverage) -> bool {
    let [lead, trail] = bytes;
    let gbk = (0x81..=0xFE).contains(&lead) && (0x40..=0xFE).contains(&trail) && trail != 0x7F;
    // User-defined areas (AAA1-AFFE, F8A1-FEFE, A140-A7A0) have no glyphs in printer fonts.
    let user_defined = if trail >= 0xA1 {
        (0xAA..=0xAF).contains(&lead) || (0xF8..=0xFE).contains(&lead)
    } else {
        (0xA1..=0xA7).contains(&lead)
    };
    // Codes GBK left to private use that GB18030-2005 gave to CJK Ext A, radicals, vertical
    // forms and description characters: printer fonts disagree on them, so never trust them.
    let reassigned = (lead == 0xFE && (0x50..=0xA0).contains(&trail))
        || (lead == 0xA6 && (0xD9..=0xFE).contains(&trail))
        || (lead == 0xA8 && (trail == 0xBC || trail == 0xBF))
        || (lead == 0xA9 && (0x89..=0x95).contains(&trail));
    let user_defined = user_defined || reassigned;
    match font {
        FontCoverage::Gbk => gbk && !user_defined,
        FontCoverage::Gb2312 => {
            (0xA1..=0xF7).contains(&lead) && (0xA1..=0xFE).contains(&trail) && !user_defined
        }
    }
}

/// Decides how `c` is printed with `font`. Control characters are not classified here: the
/// text normaliser turns tabs into spaces and drops the rest before this is asked.
pub fn classify(c: char, font: FontCoverage) -> CharClass {
    if (' '..='~').contains(&c) {
        return CharClass::Ascii(c as u8);
    }
    // Characters that encode to 2 bytes but print unreliably are substituted first.
    if c == '\u{20AC}' {
        return CharClass::Substitute("EUR");
    }
    let mut buf = [0u8; 4];
    let s = c.encode_utf8(&mut buf);
    let (bytes, _, _) = encoding_rs::GB18030.encode(s);
    let private_use = ('\u{E000}'..='\u{F8FF}').contains(&c);
    if bytes.len() == 2 && !private_use && in_font([bytes[0], bytes[1]], font) {
        return CharClass::Double([bytes[0], bytes[1]]);
    }
    if let Some((_, sub)) = SUBSTITUTIONS.iter().find(|(k, _)| *k == c) {
        // A substitute outside a GB2312 font (e.g. ￤) falls through to the glyph image.
        if sub.chars().all(|s| {
            matches!(
                classify(s, font),
                CharClass::Ascii(_) | CharClass::Double(_)
            )
        }) {
            return CharClass::Substitute(sub);
        }
    }
    if bitmap::font_has(c) {
        CharClass::Glyph
    } else {
        CharClass::Substitute(REPLACEMENT)
    }
}

/// Columns `s` takes in the printer's font: 1 for ASCII, 2 for everything else (Chinese,
/// full-width, glyph images).
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { 1 } else { 2 })
        .sum()
}

/// Tabs become spaces, other control characters (including ESC from untrusted text) vanish,
/// and substitutions are applied, so what is left prints as it reads.
pub fn normalise(text: &str, font: FontCoverage) -> Vec<PrintChar> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' {
            out.extend(std::iter::repeat_n(PrintChar::Ascii(b' '), 4));
            continue;
        }
        if c.is_control() {
            continue;
        }
        match classify(c, font) {
            CharClass::Ascii(b) => out.push(PrintChar::Ascii(b)),
            CharClass::Double(b) => out.push(PrintChar::Double(b, c)),
            CharClass::Glyph => out.push(PrintChar::Glyph(c)),
            CharClass::Substitute(sub) => {
                for s in sub.chars() {
                    match classify(s, font) {
                        CharClass::Ascii(b) => out.push(PrintChar::Ascii(b)),
                        CharClass::Double(b) => out.push(PrintChar::Double(b, s)),
                        // Substitutes are chosen from GB2312; anything else would be a table bug.
                        _ => out.push(PrintChar::Glyph(s)),
                    }
                }
            }
        }
    }
    out
}

/// One character after checking: what goes on the wire for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintChar {
    Ascii(u8),
    Double([u8; 2], char),
    Glyph(char),
}

impl PrintChar {
    pub fn columns(self) -> usize {
        match self {
            PrintChar::Ascii(_) => 1,
            PrintChar::Double(..) | PrintChar::Glyph(_) => 2,
        }
    }

    pub fn char(self) -> char {
        match self {
            PrintChar::Ascii(b) => b as char,
            PrintChar::Double(_, c) | PrintChar::Glyph(c) => c,
        }
    }

    fn is_space(self) -> bool {
        matches!(self, PrintChar::Ascii(b' '))
    }

    fn is_word_char(self) -> bool {
        matches!(self, PrintChar::Ascii(b) if b != b' ')
    }

    /// Closing punctuation that must not start a line (避头点).
    fn no_line_start(self) -> bool {
        matches!(
            self.char(),
            '，' | '。'
                | '、'
                | '；'
                | '：'
                | '？'
                | '！'
                | '）'
                | '」'
                | '』'
                | '》'
                | '】'
                | '”'
                | '’'
                | ','
                | '.'
                | ';'
                | ':'
                | '?'
                | '!'
                | ')'
        )
    }
}

/// Wraps checked characters into lines of at most `width` columns. Words of ASCII stay whole
/// unless longer than a line; Chinese breaks between any two characters except before closing
/// punctuation; continuation lines start with `hang` spaces.
pub fn wrap(chars: &[PrintChar], width: usize, hang: usize) -> Vec<Vec<PrintChar>> {
    let width = width.max(2);
    let hang = if hang * 2 > width { 0 } else { hang };
    // Tokens: an ASCII word, a single space, or a single wide character.
    let mut tokens: Vec<&[PrintChar]> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i + 1;
        if chars[i].is_word_char() {
            while j < chars.len() && chars[j].is_word_char() {
                j += 1;
            }
        }
        tokens.push(&chars[i..j]);
        i = j;
    }
    let cols = |t: &[PrintChar]| t.iter().map(|c| c.columns()).sum::<usize>();
    let mut lines: Vec<Vec<PrintChar>> = Vec::new();
    let mut line: Vec<PrintChar> = Vec::new();
    let mut used = 0;
    let new_line = |lines: &mut Vec<Vec<PrintChar>>, line: &mut Vec<PrintChar>| {
        while line.last().is_some_and(|c| c.is_space()) {
            line.pop();
        }
        lines.push(std::mem::take(line));
        line.extend(std::iter::repeat_n(PrintChar::Ascii(b' '), hang));
        hang
    };
    for tok in tokens {
        let w = cols(tok);
        if used + w <= width {
            line.extend_from_slice(tok);
            used += w;
            continue;
        }
        if tok.len() == 1 && tok[0].is_space() {
            used = new_line(&mut lines, &mut line);
            continue;
        }
        if tok.len() == 1 && tok[0].no_line_start() && line.len() > hang + 1 {
            // Carry the last character down with the punctuation, and the one before it while
            // what would start the line is itself closing punctuation (外）， moves as a whole).
            let mut carried = Vec::new();
            while let Some(c) = line.pop() {
                carried.push(c);
                if !c.no_line_start() || line.len() <= hang + 1 {
                    break;
                }
            }
            used = new_line(&mut lines, &mut line);
            for c in carried.into_iter().rev() {
                line.push(c);
                used += c.columns();
            }
            line.push(tok[0]);
            used += tok[0].columns();
            continue;
        }
        if w <= width - hang {
            used = new_line(&mut lines, &mut line);
            line.extend_from_slice(tok);
            used += w;
            continue;
        }
        // A word longer than a line: break it where it must.
        for &c in tok {
            if used + c.columns() > width {
                used = new_line(&mut lines, &mut line);
            }
            line.push(c);
            used += c.columns();
        }
    }
    while line.last().is_some_and(|c| c.is_space()) {
        line.pop();
    }
    if !line.is_empty() && line.iter().any(|c| !c.is_space()) || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The low-level ESC/POS command writer. Each method appends one command.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// `ESC @`: initialise (clears styles, not Chinese mode on most Chinese printers).
    pub fn init(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'@']);
        self
    }

    /// `ESC a n`.
    pub fn align(&mut self, align: Align) -> &mut Self {
        let n = match align {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        };
        self.buf.extend_from_slice(&[ESC, b'a', n]);
        self
    }

    /// `ESC E n`.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'E', u8::from(on)]);
        self
    }

    /// `GS ! n`: width and height multipliers (1-8) for Chinese and ASCII alike.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.buf.extend_from_slice(&[GS, b'!', (w << 4) | h]);
        self
    }

    /// `ESC ! n`: double width/height for ASCII characters only.
    pub fn ascii_size(&mut self, double_width: bool, double_height: bool) -> &mut Self {
        let n = (u8::from(double_height) << 4) | (u8::from(double_width) << 5);
        self.buf.extend_from_slice(&[ESC, b'!', n]);
        self
    }

    /// `FS ! n`: double width/height for Chinese characters only.
    pub fn chinese_size(&mut self, double_width: bool, double_height: bool) -> &mut Self {
        let n = (u8::from(double_width) << 2) | (u8::from(double_height) << 3);
        self.buf.extend_from_slice(&[FS, b'!', n]);
        self
    }

    /// `FS &` (on) / `FS .` (off): the 2-byte Chinese font.
    pub fn chinese_mode(&mut self, on: bool) -> &mut Self {
        self.buf
            .extend_from_slice(&[FS, if on { b'&' } else { b'.' }]);
        self
    }

    /// Checked characters as bytes; glyph-image characters become [`REPLACEMENT`] (a line
    /// with glyphs is sent as an image by [`encode_job`] instead).
    pub fn chars(&mut self, chars: &[PrintChar]) -> &mut Self {
        for c in chars {
            match *c {
                PrintChar::Ascii(b) => self.buf.push(b),
                PrintChar::Double(b, _) => self.buf.extend_from_slice(&b),
                PrintChar::Glyph(_) => self.buf.extend_from_slice(&[0xA1, 0xF5]),
            }
        }
        self
    }

    /// Text checked for a GBK font (needs Chinese mode on for anything beyond ASCII).
    pub fn text(&mut self, text: &str) -> &mut Self {
        let chars = normalise(text, FontCoverage::Gbk);
        self.chars(&chars)
    }

    /// `LF`: print the line buffer and feed one line.
    pub fn line_feed(&mut self) -> &mut Self {
        self.buf.push(LF);
        self
    }

    /// `ESC d n`: print and feed `n` lines.
    pub fn feed_lines(&mut self, n: u8) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'd', n]);
        self
    }

    /// `ESC J n`: print and feed `n` dots.
    pub fn feed_dots(&mut self, n: u8) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'J', n]);
        self
    }

    /// `GS V 65/66 n`: feed `feed` dots, then cut fully or partially.
    pub fn cut(&mut self, kind: CutKind, feed: u8) -> &mut Self {
        let m = match kind {
            CutKind::Full => 65,
            CutKind::Partial => 66,
        };
        self.buf.extend_from_slice(&[GS, b'V', m, feed]);
        self
    }

    /// The five `GS ( k` commands of a model 2 QR code: model, module size, error correction,
    /// store data, print.
    pub fn qr_native(
        &mut self,
        data: &[u8],
        module_dots: u8,
        ec: QrEcLevel,
    ) -> Result<&mut Self, EncodeError> {
        if data.is_empty() {
            return Err(EncodeError::QrEmpty);
        }
        if data.len() > MAX_QR_BYTES {
            return Err(EncodeError::QrTooLong { len: data.len() });
        }
        let b = &mut self.buf;
        b.extend_from_slice(&[GS, b'(', b'k', 4, 0, 0x31, 0x41, 0x32, 0x00]);
        b.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x43, module_dots.clamp(1, 16)]);
        b.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x45, ec.code()]);
        let len = data.len() + 3;
        b.extend_from_slice(&[GS, b'(', b'k', (len & 0xFF) as u8, (len >> 8) as u8]);
        b.extend_from_slice(&[0x31, 0x50, 0x30]);
        b.extend_from_slice(data);
        b.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]);
        Ok(self)
    }

    /// `GS v 0`: a raster image, in bands of at most [`RASTER_BAND_ROWS`] rows.
    pub fn raster(&mut self, image: &Bitmap) -> &mut Self {
        let bpr = image.raster_bytes_per_row();
        if bpr == 0 || image.height() == 0 {
            return self;
        }
        let data = image.to_raster();
        for rows in data.chunks(bpr * RASTER_BAND_ROWS) {
            let y = rows.len() / bpr;
            self.buf.extend_from_slice(&[
                GS,
                b'v',
                b'0',
                0,
                (bpr & 0xFF) as u8,
                (bpr >> 8) as u8,
                (y & 0xFF) as u8,
                (y >> 8) as u8,
            ]);
            self.buf.extend_from_slice(rows);
        }
        self
    }

    /// `DLE EOT n`: real-time status request (n = 1..4).
    pub fn status_request(&mut self, n: u8) -> &mut Self {
        self.buf.extend_from_slice(&[DLE, EOT, n]);
        self
    }
}

/// How many zero bytes complete the command that `job[..sent]` leaves unfinished: the rest of
/// a `GS v 0` image or `GS ( k` block (header bytes then data, with zeros standing in for the
/// missing header bytes). 0 when the cut falls between commands. Text bytes never contain GS,
/// so walking the encoder's own output from command to command is exact.
pub fn bytes_owed(job: &[u8], sent: usize) -> usize {
    let sent = sent.min(job.len());
    let mut i = 0;
    while i < sent {
        let rest = &job[i..];
        let header = if rest.starts_with(&[GS, b'v', b'0']) {
            8
        } else if rest.starts_with(&[GS, b'(', b'k']) {
            5
        } else {
            i += 1;
            continue;
        };
        // The header as the printer has it: sent bytes, then zeros for the missing ones.
        let mut h = [0u8; 8];
        for (k, slot) in h.iter_mut().enumerate().take(header) {
            if i + k < sent {
                *slot = job.get(i + k).copied().unwrap_or(0);
            }
        }
        let data = if header == 8 {
            (h[4] as usize | (h[5] as usize) << 8) * (h[6] as usize | (h[7] as usize) << 8)
        } else {
            h[3] as usize | (h[4] as usize) << 8
        };
        let end = i + header + data;
        if sent < end {
            return end - sent;
        }
        i = end;
    }
    0
}

/// A QR code as a bitmap of `module_dots`-sized modules, without quiet zone (the paper around
/// it is white; [`encode_job`] feeds blank dots above and below).
pub fn qr_bitmap(data: &[u8], module_dots: u8, ec: QrEcLevel) -> Result<Bitmap, EncodeError> {
    if data.is_empty() {
        return Err(EncodeError::QrEmpty);
    }
    let code = qrcode::QrCode::with_error_correction_level(data, ec.to_qrcode())
        .map_err(|_| EncodeError::QrTooLong { len: data.len() })?;
    let n = code.width();
    let m = module_dots.max(1) as usize;
    let colors = code.to_colors();
    let mut b = Bitmap::new(n * m, n * m);
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % n, i / n);
            for dy in 0..m {
                for dx in 0..m {
                    b.set(mx * m + dx, my * m + dy, true);
                }
            }
        }
    }
    Ok(b)
}

/// Tracks the style last sent so each command is sent only when it changes.
struct Styler {
    enc: Encoder,
    align: Align,
    bold: bool,
    size: (u8, u8),
}

impl Styler {
    fn set(&mut self, style: TextStyle) {
        if style.align != self.align {
            self.enc.align(style.align);
            self.align = style.align;
        }
        if style.bold != self.bold {
            self.enc.bold(style.bold);
            self.bold = style.bold;
        }
        let size = (style.width.clamp(1, 8), style.height.clamp(1, 8));
        if size != self.size {
            self.enc.size(size.0, size.1);
            self.size = size;
        }
    }

    /// One laid-out line: as text when every character is in the font, else as an image.
    fn line(&mut self, line: &[PrintChar], style: TextStyle) {
        if line.iter().any(|c| matches!(c, PrintChar::Glyph(_))) {
            let run: Vec<(char, usize)> = line.iter().map(|c| (c.char(), c.columns())).collect();
            let image = bitmap::render_run(&run, style.bold)
                .scaled(style.width.into(), style.height.into());
            self.set(TextStyle {
                bold: false,
                width: 1,
                height: 1,
                ..style
            });
            self.enc.raster(&image);
            // Text lines are 24 dots plus the default 6-dot spacing; keep the rhythm.
            self.enc.feed_dots(6);
        } else {
            self.set(style);
            self.enc.chars(line);
            self.enc.line_feed();
        }
    }
}

/// Lays `job` out for `profile` and encodes it: initialise, Chinese mode on, the blocks, then
/// styles reset, Chinese mode off, feed and cut as the profile allows.
pub fn encode_job(job: &PrintJob, profile: &PrinterProfile) -> Result<Vec<u8>, EncodeError> {
    let mut s = Styler {
        enc: Encoder::new(),
        align: Align::Left,
        bold: false,
        size: (1, 1),
    };
    let columns = profile.columns();
    let font = profile.font;
    s.enc.init().chinese_mode(true);
    for block in &job.blocks {
        match block {
            Block::Text { text, style, hang } => {
                let width = columns / style.width.clamp(1, 8) as usize;
                for para in text.split('\n') {
                    let chars = normalise(para, font);
                    for line in wrap(&chars, width, *hang) {
                        s.line(&line, *style);
                    }
                }
            }
            Block::Field { label, value } => {
                let mut chars = normalise(label, font);
                chars.extend(normalise("：", font));
                let mut hang: usize = chars.iter().map(|c| c.columns()).sum();
                let value = normalise(value, font);
                // A word (number, URL) that cannot fit beside the label goes under it instead.
                let longest_word = value
                    .split(|c| !c.is_word_char())
                    .map(|w| w.len())
                    .max()
                    .unwrap_or(0);
                if longest_word > columns.saturating_sub(hang) {
                    hang = 0;
                }
                chars.extend(value);
                for line in wrap(&chars, columns, hang) {
                    s.line(&line, TextStyle::default());
                }
            }
            Block::Row { left, right } => {
                let l = normalise(left, font);
                let r = normalise(right, font);
                let lw: usize = l.iter().map(|c| c.columns()).sum();
                let rw: usize = r.iter().map(|c| c.columns()).sum();
                if lw + 1 + rw <= columns {
                    let mut line = l;
                    line.extend(std::iter::repeat_n(
                        PrintChar::Ascii(b' '),
                        columns - lw - rw,
                    ));
                    line.extend(r);
                    s.line(&line, TextStyle::default());
                } else {
                    for line in wrap(&l, columns, 0) {
                        s.line(&line, TextStyle::default());
                    }
                    let right_style = TextStyle {
                        align: Align::Right,
                        ..TextStyle::default()
                    };
                    for line in wrap(&r, columns, 0) {
                        s.line(&line, right_style);
                    }
                }
            }
            Block::Rule { double } => {
                let c = if *double { b'=' } else { b'-' };
                s.set(TextStyle::default());
                s.enc.chars(&vec![PrintChar::Ascii(c); columns]);
                s.enc.line_feed();
            }
            Block::Qr { data } => {
                s.set(TextStyle::centered());
                let quiet = profile.qr_module_dots.saturating_mul(2);
                match profile.qr {
                    QrMode::Native => {
                        s.enc.feed_dots(quiet);
                        s.enc
                            .qr_native(data.as_bytes(), profile.qr_module_dots, RECEIPT_QR_EC)?;
                        s.enc.feed_dots(quiet);
                    }
                    QrMode::Raster => {
                        let mut module = profile.qr_module_dots;
                        let mut image = qr_bitmap(data.as_bytes(), module, RECEIPT_QR_EC)?;
                        while image.width() > profile.dots_per_line as usize && module > 1 {
                            module -= 1;
                            image = qr_bitmap(data.as_bytes(), module, RECEIPT_QR_EC)?;
                        }
                        if image.width() > profile.dots_per_line as usize {
                            return Err(EncodeError::QrTooLong { len: data.len() });
                        }
                        s.enc.feed_dots(quiet);
                        s.enc.raster(&image);
                        s.enc.feed_dots(quiet);
                    }
                }
            }
            Block::Image { image, align } => {
                if image.width() > profile.dots_per_line as usize {
                    return Err(EncodeError::ImageTooWide {
                        width: image.width(),
                        max: profile.dots_per_line as usize,
                    });
                }
                s.set(TextStyle {
                    align: *align,
                    ..TextStyle::default()
                });
                s.enc.raster(image);
            }
            Block::Feed { lines } => {
                s.set(TextStyle::default());
                s.enc.feed_lines(*lines);
            }
        }
    }
    finish(&mut s.enc, profile);
    Ok(s.enc.into_bytes())
}

/// The end of every job: a known state (left, not bold, normal size, Chinese mode off), then
/// the paper fed past the cutter or tear bar and cut as the profile allows.
fn finish(enc: &mut Encoder, profile: &PrinterProfile) {
    enc.align(Align::Left)
        .bold(false)
        .size(1, 1)
        .chinese_mode(false);
    match profile.cut {
        CutMode::Full => enc.cut(CutKind::Full, profile.cut_feed_dots),
        CutMode::Partial => enc.cut(CutKind::Partial, profile.cut_feed_dots),
        CutMode::None => enc.feed_dots(profile.cut_feed_dots),
    };
}

/// Line height of the standard font including the default line spacing, in dots.
pub const LINE_DOTS: usize = CELL_HEIGHT + 6;

#[cfg(test)]
mod tests {
    use super::*;

    fn p80() -> PrinterProfile {
        PrinterProfile::builtin("generic-80mm").unwrap()
    }
    fn p58() -> PrinterProfile {
        PrinterProfile::builtin("generic-58mm").unwrap()
    }

    #[test]
    fn commands_are_byte_exact() {
        let mut e = Encoder::new();
        e.init()
            .align(Align::Center)
            .bold(true)
            .size(2, 2)
            .ascii_size(true, true)
            .chinese_size(true, true)
            .chinese_mode(true)
            .feed_lines(3)
            .feed_dots(24)
            .cut(CutKind::Full, 80)
            .cut(CutKind::Partial, 0)
            .chinese_mode(false)
            .status_request(4);
        assert_eq!(
            e.bytes(),
            [
                0x1B, 0x40, 0x1B, 0x61, 1, 0x1B, 0x45, 1, 0x1D, 0x21, 0x11, 0x1B, 0x21, 0x30, 0x1C,
                0x21, 0x0C, 0x1C, 0x26, 0x1B, 0x64, 3, 0x1B, 0x4A, 24, 0x1D, 0x56, 65, 80, 0x1D,
                0x56, 66, 0, 0x1C, 0x2E, 0x10, 0x04, 4
            ]
        );
        let mut e = Encoder::new();
        e.size(8, 1);
        assert_eq!(e.bytes(), [0x1D, 0x21, 0x70]);
    }

    #[test]
    fn native_qr_is_byte_exact() {
        let mut e = Encoder::new();
        e.qr_native(b"AB", 6, QrEcLevel::M).unwrap();
        assert_eq!(
            e.bytes(),
            [
                0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // model 2
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, // module size
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // EC M
                0x1D, 0x28, 0x6B, 0x05, 0x00, 0x31, 0x50, 0x30, b'A', b'B', // store
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // print
            ]
        );
        let long = vec![b'x'; 300];
        let mut e = Encoder::new();
        e.qr_native(&long, 4, QrEcLevel::L).unwrap();
        // pL pH = 303 = 0x012F
        assert_eq!(&e.bytes()[25..30], &[0x1D, 0x28, 0x6B, 0x2F, 0x01]);
        assert_eq!(
            Encoder::new().qr_native(&[], 4, QrEcLevel::L).err(),
            Some(EncodeError::QrEmpty)
        );
        assert_eq!(
            Encoder::new().qr_native(&[0; 3000], 4, QrEcLevel::L).err(),
            Some(EncodeError::QrTooLong { len: 3000 })
        );
    }

    #[test]
    fn raster_header_and_length_are_exact() {
        let mut b = Bitmap::new(10, 2);
        b.set(0, 0, true);
        b.set(9, 1, true);
        let mut e = Encoder::new();
        e.raster(&b);
        assert_eq!(
            e.bytes(),
            [0x1D, 0x76, 0x30, 0, 2, 0, 2, 0, 0x80, 0x00, 0x00, 0x40]
        );
        // Tall images go in bands, each with its own exact length.
        let tall = Bitmap::new(16, RASTER_BAND_ROWS + 1);
        let mut e = Encoder::new();
        e.raster(&tall);
        let first = 8 + 2 * RASTER_BAND_ROWS;
        assert_eq!(e.bytes().len(), first + 8 + 2);
        assert_eq!(
            &e.bytes()[first..first + 8],
            &[0x1D, 0x76, 0x30, 0, 2, 0, 1, 0]
        );
    }

    #[test]
    fn an_interrupted_image_or_qr_is_owed_its_remaining_bytes() {
        let mut e = Encoder::new();
        e.text("AB");
        let mut b = Bitmap::new(16, 3); // 2 bytes x 3 rows
        b.set(0, 0, true);
        e.raster(&b);
        e.qr_native(b"xyz", 4, QrEcLevel::M).unwrap();
        let job = e.into_bytes();
        assert_eq!(bytes_owed(&job, 0), 0);
        assert_eq!(bytes_owed(&job, 2), 0, "between commands");
        // Inside the raster data: the rest of its 6 data bytes.
        assert_eq!(bytes_owed(&job, 2 + 8 + 1), 5);
        // Inside its header after xL xH yL: yH as zero, then 2 x 3 data bytes.
        assert_eq!(bytes_owed(&job, 2 + 7), 1 + 6);
        // Cut after GS v 0 m xL: xH yL yH become 0 -> nothing more.
        assert_eq!(bytes_owed(&job, 2 + 5), 3);
        // Inside the QR store command's data.
        let store = job
            .windows(5)
            .position(|w| w == [GS, b'(', b'k', 6, 0])
            .unwrap();
        assert_eq!(bytes_owed(&job, store + 5 + 4), 2);
        assert_eq!(bytes_owed(&job, job.len()), 0);
    }

    #[test]
    fn chinese_text_is_gb18030_two_byte() {
        let mut e = Encoder::new();
        e.text("受理A");
        assert_eq!(e.bytes(), [0xCA, 0xDC, 0xC0, 0xED, b'A']);
    }

    #[test]
    fn characters_outside_the_font_are_substituted_or_drawn() {
        assert_eq!(
            classify('¥', FontCoverage::Gbk),
            CharClass::Substitute("￥")
        );
        assert_eq!(
            classify('￥', FontCoverage::Gbk),
            CharClass::Double([0xA3, 0xA4])
        );
        // 䶮 (CJK Ext A) is 4 bytes in GB18030: no printer font has it.
        assert_eq!(classify('䶮', FontCoverage::Gbk), CharClass::Glyph);
        // 龑 is in GBK but not in GB2312.
        assert!(matches!(
            classify('龑', FontCoverage::Gbk),
            CharClass::Double(_)
        ));
        assert_eq!(classify('龑', FontCoverage::Gb2312), CharClass::Glyph);
        assert_eq!(
            classify('€', FontCoverage::Gbk),
            CharClass::Substitute("EUR")
        );
        assert_eq!(
            classify('\u{E000}', FontCoverage::Gbk),
            CharClass::Substitute(REPLACEMENT)
        );
        let mut e = Encoder::new();
        e.text("¥5\u{1b}@\t–");
        // – is in GBK (A8 43) but not in GB2312, where it becomes an ASCII hyphen.
        assert_eq!(
            e.bytes(),
            [0xA3, 0xA4, b'5', b'@', b' ', b' ', b' ', b' ', 0xA8, 0x43]
        );
        assert_eq!(
            classify('–', FontCoverage::Gb2312),
            CharClass::Substitute("-")
        );
    }

    #[test]
    fn wrapping_counts_chinese_as_two_columns() {
        let chars = normalise(&"国".repeat(20), FontCoverage::Gbk);
        let lines = wrap(&chars, 32, 0);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 16);
        let chars = normalise("hello wonderful world of printers", FontCoverage::Gbk);
        let lines = wrap(&chars, 16, 0);
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|c| c.char()).collect())
            .collect();
        assert_eq!(text, ["hello wonderful", "world of", "printers"]);
        // Closing punctuation never starts a line.
        let chars = normalise("一二三四五六七，八", FontCoverage::Gbk);
        let lines = wrap(&chars, 14, 0);
        let first: String = lines[1].iter().map(|c| c.char()).collect();
        assert_eq!(first, "七，八");
        let chars = normalise("一二三四五六（七），八", FontCoverage::Gbk);
        let lines = wrap(&chars, 18, 0);
        let second: String = lines[1].iter().map(|c| c.char()).collect();
        assert_eq!(second, "七），八");
        // Hanging indent.
        let chars = normalise("1. 居民身份证原件及复印件一份", FontCoverage::Gbk);
        let lines = wrap(&chars, 16, 3);
        assert!(lines[1].starts_with(&[PrintChar::Ascii(b' '); 3]));
        for l in &lines {
            assert!(l.iter().map(|c| c.columns()).sum::<usize>() <= 16);
        }
    }

    #[test]
    fn every_job_starts_known_and_ends_known() {
        let mut job = PrintJob::new();
        job.title("受理回执").text("hello");
        for (p, cut) in [(p80(), [0x1D, 0x56, 65, 96]), (p58(), [0x1D, 0x56, 66, 80])] {
            let bytes = encode_job(&job, &p).unwrap();
            assert_eq!(&bytes[..4], &[0x1B, 0x40, 0x1C, 0x26]);
            let end = &bytes[bytes.len() - 15..];
            assert_eq!(
                end,
                [
                    0x1B, 0x61, 0, 0x1B, 0x45, 0, 0x1D, 0x21, 0, 0x1C, 0x2E, cut[0], cut[1],
                    cut[2], cut[3]
                ]
            );
        }
    }

    #[test]
    fn qr_mode_follows_the_profile() {
        let mut job = PrintJob::new();
        job.qr("https://example.org/p/1");
        let native = encode_job(&job, &p80()).unwrap();
        let raster = encode_job(&job, &p58()).unwrap();
        let has = |b: &[u8], pat: &[u8]| b.windows(pat.len()).any(|w| w == pat);
        assert!(has(&native, &[0x1D, 0x28, 0x6B]));
        assert!(!has(&native, &[0x1D, 0x76, 0x30]));
        assert!(has(&raster, &[0x1D, 0x76, 0x30]));
        assert!(!has(&raster, &[0x1D, 0x28, 0x6B]));
    }

    #[test]
    fn a_line_with_a_rare_character_is_sent_as_an_image() {
        let mut job = PrintJob::new();
        job.field("申请人", "欧阳䶮");
        let bytes = encode_job(&job, &p58()).unwrap();
        assert!(bytes.windows(3).any(|w| w == [0x1D, 0x76, 0x30]));
        // No 4-byte GB18030 sequence anywhere.
        let (four, _, _) = encoding_rs::GB18030.encode("䶮");
        assert!(!bytes.windows(4).any(|w| w == &four[..]));
    }
}
