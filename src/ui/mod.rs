//! The villager's touchscreen app: Rust controllers, one per Slint adapter global.
//!
//! - [`app`]: the [`app::Kiosk`] shell: navigation, session clock, wipes, language, events
//!   from background tasks.
//! - one module per page controller (`idle`, `home`, `search`, `item_list`, `guide`, `card`,
//!   `form`, `confirm`, `submitted`, `evaluation`, `cases`), each with `setup` (callbacks)
//!   and `render` (state into its adapter); `clear` where the page can show personal data.
//! - the ports the app is built with (catalogue, reader, printer, county) are
//!   [`crate::station::ports`]; [`crate::station`] assembles them, for a terminal and demo mode.
//! - [`ime`]: pinyin to Chinese characters for text fields; [`l10n`]: the two UI languages.
//! - [`framebuffer`]: the software renderer into an in-memory XRGB8888 frame buffer, as on
//!   the kiosk's display (start-up and render measurements).
//! - [`headless`]: the testing backend with the software renderer, for tests and screenshots.
//!
//! Controllers never block the UI thread (devices and network run on tokio) and never touch
//! SQLite; personal data lives only in [`crate::session::Session`] and in the adapters of the
//! page on screen, and both are wiped together.

slint::include_modules!();

pub mod app;
pub mod card;
pub mod cases;
pub mod confirm;
pub mod evaluation;
pub mod form;
pub mod framebuffer;
pub mod guide;
pub mod headless;
pub mod home;
pub mod idle;
pub mod ime;
pub mod item_list;
pub mod l10n;
pub mod search;
pub mod submitted;

pub use app::{Clock, Kiosk, ManualClock, SystemClock};
pub use l10n::Lang;
