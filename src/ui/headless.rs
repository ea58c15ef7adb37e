//! The app without a display: Slint's testing backend with the software renderer. Used by
//! `kiosk screenshot`, `kiosk run --headless`, the benchmark and the integration tests, which
//! all drive the app the way a villager does: find a control by its accessible label, tap it.

use i_slint_backend_testing::{ElementHandle, TestingBackend, TestingBackendOptions};
use slint::ComponentHandle;
use slint::platform::PointerEventButton;

use super::{Kiosk, Theme};

/// Installs the headless platform on this thread. Call once per thread, before any window.
pub fn init() -> Result<(), String> {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .map_err(|e| format!("cannot install the headless Slint platform: {e}"))
}

/// Sizes the window for portrait (1080x1920) or landscape (1920x1080).
pub fn set_orientation(k: &Kiosk, landscape: bool) {
    k.window.global::<Theme>().set_landscape(landscape);
    let (w, h) = if landscape {
        (1920, 1080)
    } else {
        (1080, 1920)
    };
    k.window.window().set_size(slint::PhysicalSize::new(w, h));
}

/// Elements with this accessible label that are on screen (inside the window).
pub fn find(k: &Kiosk, label: &str) -> Vec<ElementHandle> {
    let size = k.window.window().size();
    let scale = k.window.window().scale_factor();
    let (ww, wh) = (size.width as f32 / scale, size.height as f32 / scale);
    ElementHandle::find_by_accessible_label(&k.window, label)
        .filter(|e| {
            let p = e.absolute_position();
            let s = e.size();
            let (cx, cy) = (p.x + s.width / 2.0, p.y + s.height / 2.0);
            s.width > 0.0 && s.height > 0.0 && cx >= 0.0 && cy >= 0.0 && cx < ww && cy < wh
        })
        .collect()
}

/// Taps the first on-screen element with this accessible label.
pub fn tap(k: &Kiosk, label: &str) -> Result<(), String> {
    let e = find(k, label)
        .into_iter()
        .next()
        .ok_or_else(|| format!("nothing labelled {label:?} is on screen"))?;
    e.mock_single_click(PointerEventButton::Left);
    Ok(())
}

/// Every element on screen, for checks over the whole page.
pub fn all_elements(k: &Kiosk) -> Vec<ElementHandle> {
    use i_slint_backend_testing::ElementRoot;
    k.window.root_element().query_descendants().find_all()
}

/// Renders the window with the software renderer and encodes it as PNG.
pub fn snapshot_png(k: &Kiosk) -> Result<Vec<u8>, String> {
    let buf = k
        .window
        .window()
        .take_snapshot()
        .map_err(|e| format!("cannot render the window: {e}"))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, buf.width(), buf.height());
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| format!("PNG header: {e}"))?;
        w.write_image_data(buf.as_bytes())
            .map_err(|e| format!("PNG data: {e}"))?;
    }
    Ok(out)
}
