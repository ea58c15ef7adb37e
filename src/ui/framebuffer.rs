//! The app drawn into memory the way the kiosk image draws it on the display: Slint's software
//! renderer into an XRGB8888 frame buffer (the pixel format of the DRM dumb buffer the linuxkms
//! backend scans out), one full frame per draw.
//!
//! Used by `kiosk run --headless` (start-up measurement without a display) and by the render
//! benchmark, so both measure the renderer itself and not a screenshot's conversions. Tests
//! and screenshots use [`super::headless`] (Slint's testing backend), which can find elements.

use std::rc::Rc;

use slint::PhysicalSize;
use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType, TargetPixel,
};
use slint::platform::{Platform, WindowAdapter};

/// One pixel of an XRGB8888 frame buffer: `0xXXRRGGBB` in a native-endian `u32`.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Xrgb8888(pub u32);

impl Xrgb8888 {
    /// The pixel's red, green and blue.
    pub fn rgb(self) -> (u8, u8, u8) {
        ((self.0 >> 16) as u8, (self.0 >> 8) as u8, self.0 as u8)
    }
}

impl TargetPixel for Xrgb8888 {
    /// Source over with a premultiplied colour: `d * (255 - a) / 255 + s` per channel,
    /// truncating exactly like Slint's own pixel types (screenshots and frames match to the
    /// bit). Red and blue are scaled together in one multiply: text is drawn glyph pixel by
    /// glyph pixel through here.
    #[inline]
    fn blend(&mut self, c: PremultipliedRgbaColor) {
        let a = (u8::MAX - c.alpha) as u32;
        // Per 16-bit field v = d * a <= 65025: floor(v / 255) == (v + 1 + (v >> 8)) >> 8.
        let div255 =
            |v: u32, mask: u32| ((v + (0x0001_0001 & mask) + ((v >> 8) & mask)) >> 8) & mask;
        let rb = div255((self.0 & 0x00ff_00ff) * a, 0x00ff_00ff);
        let g = div255(((self.0 >> 8) & 0xff) * a, 0xff);
        let src = ((c.red as u32) << 16) | ((c.green as u32) << 8) | c.blue as u32;
        self.0 = (rb | (g << 8)) + src;
    }

    #[inline]
    fn from_rgb(r: u8, g: u8, b: u8) -> Self {
        Self(((r as u32) << 16) | ((g as u32) << 8) | b as u32)
    }
}

/// A Slint platform whose only window draws into a [`Framebuffer`]. Install it with
/// `slint::platform::set_platform` before creating the app's window.
pub struct FramebufferPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl FramebufferPlatform {
    /// A platform and a handle to its window, for drawing.
    pub fn new() -> (Self, Rc<MinimalSoftwareWindow>) {
        // Every draw repaints the whole frame: what a fresh dumb buffer needs, and the worst
        // case the renderer can be asked for.
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        (
            Self {
                window: window.clone(),
            },
            window,
        )
    }
}

impl Platform for FramebufferPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
}

/// A frame buffer the size of the screen.
pub struct Framebuffer {
    pub size: PhysicalSize,
    pub pixels: Vec<Xrgb8888>,
}

impl Framebuffer {
    pub fn new(size: PhysicalSize) -> Self {
        Self {
            size,
            pixels: vec![Xrgb8888::default(); size.width as usize * size.height as usize],
        }
    }

    /// Draws the whole window into the buffer (resizing the window to the buffer first).
    /// Returns false when the window had nothing to draw (not shown, or zero-sized).
    pub fn draw(&mut self, window: &MinimalSoftwareWindow) -> bool {
        if window.window().size() != self.size {
            window.window().set_size(self.size);
        }
        window.request_redraw();
        let stride = self.size.width as usize;
        let pixels = &mut self.pixels;
        window.draw_if_needed(|renderer| {
            renderer.render(pixels, stride);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blending_matches_premultiplied_source_over() {
        let mut p = Xrgb8888::from_rgb(200, 100, 0);
        // 50% white, premultiplied.
        p.blend(PremultipliedRgbaColor {
            red: 128,
            green: 128,
            blue: 128,
            alpha: 128,
        });
        let (r, g, b) = p.rgb();
        assert_eq!((r, g, b), (227, 177, 128));
        let mut q = Xrgb8888::from_rgb(1, 2, 3);
        q.blend(PremultipliedRgbaColor {
            red: 9,
            green: 8,
            blue: 7,
            alpha: 255,
        });
        assert_eq!(q.rgb(), (9, 8, 7));
    }

    #[test]
    fn packed_blend_is_exactly_the_per_channel_formula() {
        for d in 0..=255u32 {
            for alpha in 0..=255u8 {
                // Premultiplied sources never exceed their alpha.
                let s = (d * alpha as u32 / 255) as u8;
                let mut p = Xrgb8888::from_rgb(d as u8, (255 - d) as u8, (d / 2) as u8);
                p.blend(PremultipliedRgbaColor {
                    red: s,
                    green: alpha / 3,
                    blue: alpha,
                    alpha,
                });
                let inv = 255 - alpha as u32;
                let mix = |dst: u32, src: u8| (dst * inv / 255 + src as u32) as u8;
                assert_eq!(
                    p.rgb(),
                    (mix(d, s), mix(255 - d, alpha / 3), mix(d / 2, alpha)),
                    "d={d} alpha={alpha}"
                );
            }
        }
    }
}
