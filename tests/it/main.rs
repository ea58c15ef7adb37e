//! Integration tests: one binary, one module per area.

mod backoffice_hardening;
mod backoffice_lookup;
mod catalog;
mod cli;
mod county;
mod idcard;
mod printer;
mod tidy;
#[cfg(feature = "gui")]
mod ui;
