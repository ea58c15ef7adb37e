//! Integration tests: one binary, one module per area.

mod catalog;
mod cli;
mod county;
mod idcard;
mod printer;
mod provision;
mod tidy;
#[cfg(feature = "gui")]
mod ui;
