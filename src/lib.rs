//! village-kiosk: firmware for the self-service terminals at village service points
//! (村/社区便民服务站).
//!
//! # Layout
//! - [`catalog`]: the county's service items and their guides (办事指南), signed bundles, search.
//! - [`store`]: the one SQLite file, its migrations and integrity check.
//! - [`config`]: the kiosk's TOML configuration, defaulted for demo mode.
//! - [`idcard`]: the ID card reader: sans-IO SAM codec, card model and validation, serial driver.
//! - [`printer`]: the receipt printer: sans-IO ESC/POS encoder, status, receipt layouts, driver.
//! - [`county`]: the kiosk-county protocol, HTTP client and the store-and-forward outbox.
//! - [`doctor`]: `kiosk doctor`'s checks (pure findings, probes with time limits) and station health.
//! - [`maintenance`]: the way into the maintenance screen (hidden gesture, PIN lockout) and the
//!   settings it changes.
//! - [`station`]: the one place the parts are assembled (terminal or demo mode) and stopped,
//!   and the ports the UI sees.
//! - [`session`]: a villager's visit as a state machine, with the inactivity and card-lift wipes.
//! - `ui` (feature `gui`): Rust controllers, one per Slint adapter global.
//! - [`voice`]: spoken guidance (语音播报): what is said per page and moment, and the espeak-ng driver.
//! - [`sim`]: reader and printer simulators on pseudo-terminals.
//! - [`profile`]: the one loader of device profiles (reader and printer models).
//! - [`backoffice`]: the reference county back office.
//! - [`provision`]: a terminal becomes a station from a county-signed bundle (终端开通).
//! - [`watchdog`]: sd_notify READY and WATCHDOG pings for systemd's service watchdog.
//! - [`pii`]: the masking wrapper, the only way personal data reaches logs and screens.
//! - [`cli`]: the `kiosk` command line (anyhow lives only here).

#[cfg(feature = "backoffice")]
pub mod backoffice;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod county;
pub mod doctor;
pub mod idcard;
pub mod maintenance;
pub mod pii;
pub mod printer;
pub mod profile;
pub mod provision;
pub mod session;
#[cfg(feature = "demo")]
pub mod sim;
pub mod sscard;
pub mod station;
pub mod store;
#[cfg(feature = "gui")]
pub mod ui;
pub mod update;
pub mod voice;
pub mod watchdog;
pub mod workdays;
