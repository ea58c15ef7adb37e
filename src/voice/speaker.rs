//! The speech interface the UI talks to (播报接口): [`Speaker`], implemented by the engine
//! driver [`super::Voice`] and by [`Recorder`], which runs the same [`SpeechQueue`] and keeps
//! every command it would hand to the engine instead of starting espeak-ng.
//!
//! The UI holds an `Rc<dyn Speaker>`: on a terminal a [`super::Voice`] built from `[voice]` in
//! the config, in tests and in the screenshot tour a [`Recorder`], so a test can read the
//! exact text the engine would be given and see where speech is cut off. Nothing here logs
//! what is spoken.

use std::cell::{Cell, RefCell};

use super::engine::Voice;
use super::queue::{Command, SpeechQueue, UtteranceId};
use super::script::{Lang, Moment, PageView, Utterance};

/// What the UI asks of spoken guidance. Every call returns at once (never waits on speech).
pub trait Speaker {
    /// A page is on screen: cut off what the last page said, remember this one for 「听」.
    fn page_shown(&self, page: PageView);
    /// 「听」: read the page's main text and what to do next.
    fn listen(&self);
    /// 「读出我填的信息」 on the confirmation page (the one way personal data is spoken).
    fn read_my_answers(&self);
    /// A key moment, spoken when key moments are on.
    fn moment(&self, moment: Moment);
    /// The visit was wiped: cut off, forget the page.
    fn wipe(&self);
    /// Key moments on or off (maintenance screen).
    fn set_auto(&self, auto: bool);
    /// 0-100, from the next utterance on.
    fn set_volume(&self, volume: u8);
    fn set_lang(&self, lang: Lang);
}

impl Speaker for Voice {
    fn page_shown(&self, page: PageView) {
        Voice::page_shown(self, page);
    }
    fn listen(&self) {
        Voice::listen(self);
    }
    fn read_my_answers(&self) {
        Voice::read_my_answers(self);
    }
    fn moment(&self, moment: Moment) {
        Voice::moment(self, moment);
    }
    fn wipe(&self) {
        Voice::wipe(self);
    }
    fn set_auto(&self, auto: bool) {
        Voice::set_auto(self, auto);
    }
    fn set_volume(&self, volume: u8) {
        Voice::set_volume(self, volume);
    }
    fn set_lang(&self, lang: Lang) {
        Voice::set_lang(self, lang);
    }
}

/// One thing the engine was told, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Started speaking this, at this volume (0-100).
    Said {
        id: UtteranceId,
        utterance: Utterance,
        volume: u8,
    },
    /// Cut off mid-utterance (page change, wipe, key moments off).
    Cut { id: UtteranceId },
}

/// A [`Speaker`] that runs the real [`SpeechQueue`] and records the engine's commands instead
/// of speaking them. An utterance counts as being spoken until [`Recorder::finish`] says the
/// engine reached its end, as espeak-ng would.
#[derive(Debug)]
pub struct Recorder {
    queue: RefCell<SpeechQueue>,
    heard: RefCell<Vec<Heard>>,
    volume: Cell<u8>,
}

impl Recorder {
    /// A recorder with key moments on or off, at `volume`.
    pub fn new(auto: bool, lang: Lang, volume: u8) -> Recorder {
        Recorder {
            queue: RefCell::new(SpeechQueue::new(auto, lang)),
            heard: RefCell::new(Vec::new()),
            volume: Cell::new(volume.min(100)),
        }
    }

    /// Everything the engine was told so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.heard.borrow().clone()
    }

    /// The utterances started so far, in order.
    pub fn said(&self) -> Vec<Utterance> {
        self.heard
            .borrow()
            .iter()
            .filter_map(|h| match h {
                Heard::Said { utterance, .. } => Some(utterance.clone()),
                Heard::Cut { .. } => None,
            })
            .collect()
    }

    /// The text of the last utterance started, if any.
    pub fn last_said(&self) -> Option<String> {
        self.said().last().map(|u| u.text.to_string())
    }

    /// The utterance being spoken now.
    pub fn speaking(&self) -> Option<UtteranceId> {
        self.queue.borrow().speaking()
    }

    /// Whether `id` was cut off.
    pub fn was_cut(&self, id: UtteranceId) -> bool {
        self.heard
            .borrow()
            .iter()
            .any(|h| matches!(h, Heard::Cut { id: c } if *c == id))
    }

    /// The engine reached the end of what it is saying; the next queued utterance starts.
    pub fn finish(&self) {
        let speaking = self.queue.borrow().speaking();
        if let Some(id) = speaking {
            self.queue.borrow_mut().finished(id);
            self.drain();
        }
    }

    /// Forgets what was recorded (not the queue's state).
    pub fn clear(&self) {
        self.heard.borrow_mut().clear();
    }

    /// The volume the engine would use.
    pub fn volume(&self) -> u8 {
        self.volume.get()
    }

    fn with(&self, f: impl FnOnce(&mut SpeechQueue)) {
        f(&mut self.queue.borrow_mut());
        self.drain();
    }

    fn drain(&self) {
        let mut queue = self.queue.borrow_mut();
        let mut heard = self.heard.borrow_mut();
        let volume = self.volume.get();
        while let Some(command) = queue.poll_command() {
            heard.push(match command {
                Command::Speak { id, utterance } => Heard::Said {
                    id,
                    utterance,
                    volume,
                },
                Command::Stop { id } => Heard::Cut { id },
            });
        }
    }
}

impl Speaker for Recorder {
    fn page_shown(&self, page: PageView) {
        self.with(|q| q.page_shown(page));
    }
    fn listen(&self) {
        self.with(SpeechQueue::listen);
    }
    fn read_my_answers(&self) {
        self.with(|q| {
            q.read_my_answers();
        });
    }
    fn moment(&self, moment: Moment) {
        self.with(|q| q.moment(&moment));
    }
    fn wipe(&self) {
        self.with(SpeechQueue::wipe);
    }
    fn set_auto(&self, auto: bool) {
        self.with(|q| q.set_auto(auto));
    }
    fn set_volume(&self, volume: u8) {
        self.volume.set(volume.min(100));
    }
    fn set_lang(&self, lang: Lang) {
        self.with(|q| q.set_lang(lang));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorder_runs_the_real_queue() {
        let r = Recorder::new(true, Lang::Zh, 120);
        assert_eq!(r.volume(), 100);
        r.page_shown(PageView::Home);
        r.listen();
        r.moment(Moment::PlaceCard);
        let first = r.speaking().expect("speaking");
        assert_eq!(r.said().len(), 1, "the moment waits behind 「听」");
        r.finish();
        assert_eq!(r.last_said().as_deref(), Some("请把身份证放在读卡区。"));
        let second = r.speaking().expect("speaking");
        r.wipe();
        assert!(r.was_cut(second) && !r.was_cut(first));
        r.listen();
        assert_eq!(r.said().len(), 2, "nothing to read after a wipe");
    }
}
