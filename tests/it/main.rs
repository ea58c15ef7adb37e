//! Integration tests: one binary, one module per area.

mod backoffice_hardening;
mod backoffice_lookup;
mod catalog;
mod cli;
mod county;
mod doctor;
mod fleet;
mod idcard;
#[cfg(feature = "gui")]
mod maintenance_ui;
mod powerloss;
mod printer;
mod provision;
mod salvage;
mod sync;
mod tidy;
#[cfg(feature = "gui")]
mod ui;
mod voice;
