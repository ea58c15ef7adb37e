//! A print job (打印任务) as the screens and templates describe it: blocks of text, fields, rules
//! and QR codes, independent of paper width and printer model.
//!
//! [`crate::printer::escpos::encode_job`] lays a job out for one printer profile. Pure data: no
//! I/O, no encoding here.

use super::bitmap::Bitmap;

/// Horizontal alignment (ESC a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// How a run of text is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStyle {
    pub align: Align,
    pub bold: bool,
    /// Character width multiplier, 1-8.
    pub width: u8,
    /// Character height multiplier, 1-8.
    pub height: u8,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            align: Align::Left,
            bold: false,
            width: 1,
            height: 1,
        }
    }
}

impl TextStyle {
    /// A centred, bold, double-size title.
    pub fn title() -> TextStyle {
        TextStyle {
            align: Align::Center,
            bold: true,
            width: 2,
            height: 2,
        }
    }

    pub fn centered() -> TextStyle {
        TextStyle {
            align: Align::Center,
            ..TextStyle::default()
        }
    }

    pub fn bold() -> TextStyle {
        TextStyle {
            bold: true,
            ..TextStyle::default()
        }
    }
}

/// One block of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph, wrapped to the paper; continuation lines are indented by `hang` columns.
    Text {
        text: String,
        style: TextStyle,
        hang: usize,
    },
    /// `label：value`, the value wrapped under itself (hanging indent).
    Field { label: String, value: String },
    /// `left` on the left and `right` flush right on the same line (or the next if too long).
    Row { left: String, right: String },
    /// A full-width line of `-` (or `=` when `double`).
    Rule { double: bool },
    /// A QR code, centred; native or raster as the profile says.
    Qr { data: String },
    /// A raster image, aligned as given.
    Image { image: Bitmap, align: Align },
    /// Blank lines.
    Feed { lines: u8 },
}

/// A print job: blocks, then the printer is reset to a known state and the paper cut.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrintJob {
    pub blocks: Vec<Block>,
}

impl PrintJob {
    pub fn new() -> PrintJob {
        PrintJob::default()
    }

    pub fn push(&mut self, block: Block) -> &mut PrintJob {
        self.blocks.push(block);
        self
    }

    /// A centred bold double-size heading.
    pub fn title(&mut self, text: impl Into<String>) -> &mut PrintJob {
        self.styled(text, TextStyle::title())
    }

    /// A plain left-aligned paragraph.
    pub fn text(&mut self, text: impl Into<String>) -> &mut PrintJob {
        self.styled(text, TextStyle::default())
    }

    pub fn styled(&mut self, text: impl Into<String>, style: TextStyle) -> &mut PrintJob {
        self.push(Block::Text {
            text: text.into(),
            style,
            hang: 0,
        })
    }

    /// A list entry such as `1. 身份证`, continuation lines under the text.
    pub fn item(&mut self, marker: &str, text: &str) -> &mut PrintJob {
        let hang = super::escpos::display_width(marker) + 1;
        self.push(Block::Text {
            text: format!("{marker} {text}"),
            style: TextStyle::default(),
            hang,
        })
    }

    pub fn field(&mut self, label: impl Into<String>, value: impl Into<String>) -> &mut PrintJob {
        self.push(Block::Field {
            label: label.into(),
            value: value.into(),
        })
    }

    pub fn row(&mut self, left: impl Into<String>, right: impl Into<String>) -> &mut PrintJob {
        self.push(Block::Row {
            left: left.into(),
            right: right.into(),
        })
    }

    pub fn rule(&mut self) -> &mut PrintJob {
        self.push(Block::Rule { double: false })
    }

    pub fn double_rule(&mut self) -> &mut PrintJob {
        self.push(Block::Rule { double: true })
    }

    pub fn qr(&mut self, data: impl Into<String>) -> &mut PrintJob {
        self.push(Block::Qr { data: data.into() })
    }

    pub fn feed(&mut self, lines: u8) -> &mut PrintJob {
        self.push(Block::Feed { lines })
    }

    /// Every piece of text in the job, for checks and logs (QR data included).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::Text { text, .. } => out.push_str(text),
                Block::Field { label, value } => {
                    out.push_str(label);
                    out.push('：');
                    out.push_str(value);
                }
                Block::Row { left, right } => {
                    out.push_str(left);
                    out.push(' ');
                    out.push_str(right);
                }
                Block::Qr { data } => out.push_str(data),
                Block::Rule { .. } | Block::Image { .. } | Block::Feed { .. } => continue,
            }
            out.push('\n');
        }
        out
    }
}
