//! The county's catalogue of service items (事项目录) and their guides (办事指南).
//!
//! - [`model`]: the items, every element of a guide, and the application form.
//! - [`demo`]: the demo catalogue shipped in `data/demo-catalog.json`.
//! - [`validate`]: completeness checks run before a catalogue is signed or imported.
//! - [`eligibility`]: the machine-checkable conditions an item declares, checked against the
//!   card before the form.
//! - [`bundle`]: ed25519-signed bundles the county distributes (catalogue, announcements).
//! - [`keyring`]: the set of county keys trusted, verification with any, key rotation.
//! - [`repo`]: the installed catalogue in the store, replaced whole in one transaction.
//! - [`search`]: the in-memory index villagers search (Chinese, full pinyin, initials).
//! - [`translation`]: an item's guide in the kiosk's other UI languages.
//! - [`sample`]: generated catalogues for benchmarks and tests.
//!
//! The model is plain data with serde; it never does I/O. Only `repo` touches the store.

pub mod bundle;
pub mod demo;
pub mod eligibility;
pub mod keyring;
pub mod model;
pub mod repo;
pub mod sample;
pub mod search;
pub mod translation;
pub mod validate;

pub use model::*;
