//! Rust controllers for the Slint UI, one per adapter global.

slint::include_modules!();
