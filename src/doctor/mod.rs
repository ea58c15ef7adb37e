//! `kiosk doctor` (终端自检): one verdict for the whole terminal, and the station health the
//! heartbeat reports.
//!
//! - [`findings`]: the pure core. Facts in, a [`Check`] out (stable id, `ok`/`warn`/`fail`, a
//!   one-line finding and a fix, in English and Chinese); [`Report`] is the JSON contract
//!   `{"verdict", "checks": [{"id", "status", "finding", "fix"}]}`.
//! - [`probe`]: thin I/O gathering the facts, each check on its own thread with its own time
//!   limit, so a dead device or a county that never answers TLS cannot hang the run.
//! - [`health`]: [`health::HealthReporter`], where the running app reports reader, printer,
//!   county link and doctor results for the heartbeat.
//!
//! Doctor never modifies the terminal: the store is opened read-only.

pub mod findings;
pub mod health;
pub mod probe;

pub use findings::{CHECK_IDS, Check, Report, Status};
pub use probe::run;
