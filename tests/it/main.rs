//! Integration tests: one binary, one module per area.

mod backoffice_hardening;
mod backoffice_lookup;
mod catalog;
mod cli;
mod county;
mod doctor;
mod fleet;
mod idcard;
mod image_build;
#[cfg(feature = "gui")]
mod maintenance_ui;
mod pg;
mod powerloss;
mod printer;
mod provision;
mod public;
mod salvage;
#[cfg(feature = "gui")]
mod soak;
mod sscard;
mod staff;
mod staff_cli;
#[cfg(feature = "gui")]
mod standby;
mod station;
mod support;
mod sync;
mod tidy;
#[cfg(feature = "gui")]
mod ui;
#[cfg(feature = "gui")]
mod ui_villager;
mod ui_voice;
mod update;
mod update_compressed;
mod voice;
