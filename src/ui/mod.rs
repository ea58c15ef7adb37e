//! The villager's touchscreen app: Rust controllers, one per Slint adapter global.
//!
//! - [`shell`] (below the pages): [`Kiosk`], [`shell::UiEvent`], [`shell::Next`] (what a
//!   controller asks for next), the clock; [`visit`]: the [`visit::Visit`], one part per page,
//!   replaced whole when personal data is forgotten.
//! - one module per page controller (`idle`, `home`, `search`, `item_list`, `guide`, `card`,
//!   `form`, `confirm`, `submitted`, `evaluation`, `cases`, `results`, `agent`, `coordinator`), each with `setup` (callbacks)
//!   and `render` (its part of the visit into its adapter); `enter` where navigating to the
//!   page starts something; `clear` where the page can show personal data. Controllers import
//!   `shell` and `visit` only, never each other or `app`, and return a [`shell::Next`].
//! - [`app`] (above the pages): builds the window and carries out each [`shell::Next`]
//!   (navigation, 返回 history, wipes), the session clock, language, dispatch of events.
//! - [`updates`]: a synchronised catalogue put in use between visits (no adapter of its own).
//! - [`eligibility`]: eligibility before the form (受理条件预检), the page that says why an
//!   item's conditions are not met and what to apply for instead.
//! - [`speech`]: the 「听」 button and the key moments (语音播报) through [`crate::voice`].
//! - [`answers`]: what a card puts in a field and how an answer is sent and shown.
//! - the ports the app is built with (catalogue, reader, printer, county) are
//!   [`crate::station::ports`]; [`crate::station`] assembles them, for a terminal and demo mode.
//! - [`ime`]: pinyin to Chinese characters for text fields; [`l10n`]: the two UI languages.
//! - [`framebuffer`]: the software renderer into an in-memory XRGB8888 frame buffer, as on
//!   the kiosk's display (start-up and render measurements).
//! - [`pin`], [`maintenance`]: the technicians' maintenance screen (维护界面) behind the idle
//!   screen's hidden gesture and the PIN; [`desk`]: its state, wiped with the visit.
//! - [`remote`]: answers county staff's remote doctor and idle-screen screenshot requests.
//! - [`standby`]: the standby window (not provisioned, fault after repeated failures), its own
//!   window without devices.
//! - [`headless`]: the testing backend with the software renderer, for tests and screenshots;
//!   `tour` (demo mode): driving the app by label, shared by `kiosk screenshot`, the benchmark
//!   and the UI tests.
//!
//! Controllers never block the UI thread (devices and network run on tokio) and never touch
//! SQLite; personal data lives only in [`crate::session::Session`], the [`visit::Visit`] and the
//! adapters of the page on screen, and all three are wiped together.

slint::include_modules!();

pub mod agent;
pub mod answers;
pub mod app;
pub mod card;
pub mod cases;
pub mod confirm;
pub mod coordinator;
pub mod desk;
pub mod eligibility;
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
pub mod maintenance;
pub mod pin;
pub mod remote;
pub mod results;
pub mod search;
pub mod shell;
pub mod speech;
pub mod standby;
pub mod submitted;
#[cfg(feature = "demo")]
pub mod tour;
pub mod updates;
pub mod visit;

pub use l10n::Lang;
pub use shell::{Clock, Kiosk, ManualClock, SystemClock};
