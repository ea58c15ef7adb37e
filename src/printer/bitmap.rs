//! One-bit dot images (点阵): raster images sent with `GS v 0`, characters drawn with the embedded
//! CJK font in the printer's 12x24 / 24x24 cells, and the simulated paper encoded as PNG.
//!
//! Pure computation: no device I/O, no clock. The font is compiled into the binary.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// The CJK font (Droid Sans Fallback, Apache-2.0) used for glyph images and paper previews.
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf");

/// Height of the printer's standard font cell in dots (12x24 ASCII, 24x24 Chinese).
pub const CELL_HEIGHT: usize = 24;
/// Width of a half-width (1-column) cell in dots.
pub const CELL_WIDTH: usize = 12;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Whether the embedded font has a glyph for `c`.
pub fn font_has(c: char) -> bool {
    let full = char::from_u32(c as u32 + 0xFEE0).filter(|_| ('!'..='~').contains(&c));
    font().is_some_and(|f| f.glyph_id(c).0 != 0 || full.is_some_and(|w| f.glyph_id(w).0 != 0))
}

/// A one-bit image: `true` dots are black (burnt), rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: usize,
    height: usize,
    dots: Vec<bool>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitmap({}x{})", self.width, self.height)
    }
}

impl Bitmap {
    /// A white image.
    pub fn new(width: usize, height: usize) -> Bitmap {
        Bitmap {
            width,
            height,
            dots: vec![false; width * height],
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// Whether the dot at (x, y) is black; outside the image is white.
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }

    /// Sets one dot; outside the image is ignored.
    pub fn set(&mut self, x: usize, y: usize, black: bool) {
        if x < self.width && y < self.height {
            self.dots[y * self.width + x] = black;
        }
    }

    /// ORs `other` onto this image with its top-left corner at (x, y), clipping.
    pub fn paste(&mut self, other: &Bitmap, x: usize, y: usize) {
        for oy in 0..other.height {
            for ox in 0..other.width {
                if other.get(ox, oy) {
                    self.set(x + ox, y + oy, true);
                }
            }
        }
    }

    /// Adds white rows at the bottom so the image is at least `height` tall.
    pub fn grow_to(&mut self, height: usize) {
        if height > self.height {
            self.dots.resize(self.width * height, false);
            self.height = height;
        }
    }

    /// Nearest-neighbour enlargement, as the printer does for double width/height.
    pub fn scaled(&self, sx: usize, sy: usize) -> Bitmap {
        let (sx, sy) = (sx.max(1), sy.max(1));
        let mut out = Bitmap::new(self.width * sx, self.height * sy);
        for y in 0..out.height {
            for x in 0..out.width {
                out.dots[y * out.width + x] = self.get(x / sx, y / sy);
            }
        }
        out
    }

    /// Bytes per row of the `GS v 0` form (width rounded up to whole bytes).
    pub fn raster_bytes_per_row(&self) -> usize {
        self.width.div_ceil(8)
    }

    /// The `GS v 0` data: rows of bytes, MSB = leftmost dot, 1 = black.
    pub fn to_raster(&self) -> Vec<u8> {
        let bpr = self.raster_bytes_per_row();
        let mut out = vec![0u8; bpr * self.height];
        for y in 0..self.height {
            for x in 0..self.width {
                if self.dots[y * self.width + x] {
                    out[y * bpr + x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        out
    }

    /// The inverse of [`Bitmap::to_raster`]; missing bytes are white.
    pub fn from_raster(bytes_per_row: usize, rows: usize, data: &[u8]) -> Bitmap {
        let mut b = Bitmap::new(bytes_per_row * 8, rows);
        for y in 0..rows {
            for x in 0..bytes_per_row * 8 {
                let byte = data.get(y * bytes_per_row + x / 8).copied().unwrap_or(0);
                b.dots[y * b.width + x] = byte & (0x80 >> (x % 8)) != 0;
            }
        }
        b
    }

    /// 8-bit greyscale pixels (0 black, 255 white), e.g. for a QR decoder.
    pub fn to_luma(&self) -> Vec<u8> {
        self.dots.iter().map(|&d| if d { 0 } else { 255 }).collect()
    }

    /// The image as a greyscale PNG.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(
                &mut out,
                self.width.max(1) as u32,
                self.height.max(1) as u32,
            );
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            let mut luma = self.to_luma();
            if luma.is_empty() {
                luma = vec![255];
            }
            // Writing to a Vec cannot fail; an error here would be a bug in the sizes above.
            if let Ok(mut w) = enc.write_header() {
                let _ = w.write_image_data(&luma);
            }
        }
        out
    }
}

/// Draws `c` into a cell of `columns` (1 or 2) x 24 dots with the embedded font, the way the
/// printer's own font would place it. Missing glyphs come out as an empty box.
pub fn render_char(c: char, columns: usize, bold: bool) -> Bitmap {
    let cell_w = CELL_WIDTH * columns.clamp(1, 2);
    let mut cell = Bitmap::new(cell_w, CELL_HEIGHT);
    if c == ' ' || c == '\u{3000}' {
        return cell;
    }
    let Some(font) = font() else {
        draw_box(&mut cell);
        return cell;
    };
    if font.glyph_id(c).0 == 0 {
        // The CJK font has no Latin letters, only their full-width forms (！ to ～), drawn
        // centred in a square: draw the full-width form and keep its middle half.
        let full = char::from_u32(c as u32 + 0xFEE0).filter(|_| ('!'..='~').contains(&c));
        match full {
            Some(f) if font.glyph_id(f).0 != 0 => {
                let wide = render_char(f, 2, bold);
                if columns >= 2 {
                    return wide;
                }
                let left = (wide.width() - cell_w) / 2;
                for y in 0..wide.height() {
                    for x in 0..cell_w {
                        cell.set(x, y, wide.get(left + x, y));
                    }
                }
            }
            _ => draw_box(&mut cell),
        }
        return cell;
    }
    let scale = PxScale::from(CELL_HEIGHT as f32);
    let scaled = font.as_scaled(scale);
    let glyph_id = font.glyph_id(c);
    let advance = scaled.h_advance(glyph_id);
    let x0 = ((cell_w as f32 - advance) / 2.0).max(0.0);
    let glyph = glyph_id.with_scale_and_position(scale, point(x0, scaled.ascent()));
    if let Some(outline) = font.outline_glyph(glyph) {
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            if coverage > 0.42 {
                let x = bounds.min.x as i32 + gx as i32;
                let y = bounds.min.y as i32 + gy as i32;
                if x >= 0 && y >= 0 {
                    cell.set(x as usize, y as usize, true);
                    if bold {
                        cell.set(x as usize + 1, y as usize, true);
                    }
                }
            }
        });
    }
    cell
}

fn draw_box(cell: &mut Bitmap) {
    let (w, h) = (cell.width(), cell.height());
    for x in 2..w.saturating_sub(2) {
        cell.set(x, 3, true);
        cell.set(x, h - 4, true);
    }
    for y in 3..h - 3 {
        cell.set(2, y, true);
        cell.set(w - 3, y, true);
    }
}

/// Draws a run of characters, each in a cell of its column count, as one image.
pub fn render_run(chars: &[(char, usize)], bold: bool) -> Bitmap {
    let width: usize = chars.iter().map(|(_, cols)| cols * CELL_WIDTH).sum();
    let mut out = Bitmap::new(width, CELL_HEIGHT);
    let mut x = 0;
    for &(c, cols) in chars {
        out.paste(&render_char(c, cols, bold), x, 0);
        x += cols * CELL_WIDTH;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raster_round_trip_keeps_every_dot() {
        let mut b = Bitmap::new(13, 3);
        b.set(0, 0, true);
        b.set(12, 2, true);
        b.set(7, 1, true);
        let raster = b.to_raster();
        assert_eq!(raster, vec![0x80, 0x00, 0x01, 0x00, 0x00, 0x08]);
        let back = Bitmap::from_raster(2, 3, &raster);
        for y in 0..3 {
            for x in 0..13 {
                assert_eq!(back.get(x, y), b.get(x, y), "dot {x},{y}");
            }
        }
    }

    #[test]
    fn the_font_draws_chinese_and_rare_characters() {
        for c in ['国', '䶮', 'A'] {
            assert!(font_has(c), "{c}");
            let cell = render_char(c, if c.is_ascii() { 1 } else { 2 }, false);
            let black = (0..cell.height())
                .flat_map(|y| (0..cell.width()).map(move |x| (x, y)))
                .filter(|&(x, y)| cell.get(x, y))
                .count();
            assert!(black > 10, "{c} drew {black} dots");
        }
    }
}
