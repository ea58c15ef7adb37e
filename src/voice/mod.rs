//! Spoken guidance (语音播报), offline: what is said on each page and at each key moment, and
//! the driver that says it through a Debian speech engine (espeak-ng, Mandarin voice `cmn`)
//! into ALSA.
//!
//! - [`script`]: the words per page (「听」) and per key moment; [`script::Personal`] values are
//!   spoken only for the villager's own confirmation page, at their request (typed).
//! - [`queue`]: [`SpeechQueue`], the sans-IO state machine: what next, cut off on a page change
//!   and on a wipe.
//! - [`engine`]: [`Voice`], the thread that runs the queue and the engine processes, killable
//!   mid-utterance; the UI only sends to it and never waits.
//! - [`speaker`]: [`Speaker`], the interface the UI holds ([`Voice`], or [`Recorder`], which
//!   runs the same queue and records what the engine would be told).
//!
//! `script` and `queue` do no I/O and read no clock. Nothing here logs what is spoken.
//! Details and the choice of engine: `docs/voice.md`.

pub mod engine;
pub mod queue;
pub mod script;
pub mod speaker;

pub use engine::{EngineSettings, Output, Voice, VoiceEvent};
pub use queue::{Command, SpeechQueue, UtteranceId};
pub use script::{GuideSummary, Lang, Moment, PageView, Personal, PublicText, Utterance};
pub use speaker::{Heard, Recorder, Speaker};
