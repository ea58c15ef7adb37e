//! The county's catalogue of service items (事项目录) and their guides (办事指南).
//!
//! - [`model`]: the items, every element of a guide, and the application form.
//! - [`demo`]: the demo catalogue shipped in `data/demo-catalog.json`.
//!
//! The model is plain data with serde; it never does I/O. Persistence lives in `store`,
//! signed distribution in `bundle`, search in `search`.

pub mod demo;
pub mod model;

pub use model::*;
