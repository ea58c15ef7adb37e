//! The speech queue (播报队列): a sans-IO state machine deciding what the speech engine says
//! next and when it must stop.
//!
//! Inputs are the visit's events ([`SpeechQueue::page_shown`], [`SpeechQueue::listen`],
//! [`SpeechQueue::read_my_answers`], [`SpeechQueue::moment`], [`SpeechQueue::wipe`]) and the
//! engine's report that an utterance ended ([`SpeechQueue::finished`]); outputs are
//! [`Command`]s taken with [`SpeechQueue::poll_command`]. A page change or a wipe cuts off what
//! is being said and drops what is queued, so nothing of a page (or a visit) is heard after it
//! is gone. No I/O, no clock, no threads: the driver in [`super::engine`] does the speaking.

use std::collections::VecDeque;

use super::script::{self, Lang, Moment, OwnReading, PageView, Utterance};

/// Identifies one utterance handed to the engine, so a late report of a cut-off one is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtteranceId(pub u64);

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start speaking this (nothing else is being spoken).
    Speak {
        id: UtteranceId,
        utterance: Utterance,
    },
    /// Stop this utterance now (kill the engine mid-word).
    Stop { id: UtteranceId },
}

/// The queue. One per kiosk; the visit's events go in, commands come out.
#[derive(Debug)]
pub struct SpeechQueue {
    /// Key moments are spoken by themselves only when on (「听」 always speaks).
    auto: bool,
    lang: Lang,
    page: Option<PageView>,
    speaking: Option<UtteranceId>,
    queued: VecDeque<(UtteranceId, Utterance)>,
    next_id: u64,
    commands: VecDeque<Command>,
}

impl SpeechQueue {
    /// A queue that speaks key moments by itself when `auto` is on.
    pub fn new(auto: bool, lang: Lang) -> SpeechQueue {
        SpeechQueue {
            auto,
            lang,
            page: None,
            speaking: None,
            queued: VecDeque::new(),
            next_id: 1,
            commands: VecDeque::new(),
        }
    }

    /// Key moments on or off (maintenance screen). Off also cuts off what is being said.
    pub fn set_auto(&mut self, auto: bool) {
        self.auto = auto;
        if !auto {
            self.cut_off();
        }
    }

    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// A new page is on screen: cut off, drop the queue, remember the page for 「听」.
    pub fn page_shown(&mut self, page: PageView) {
        self.cut_off();
        self.page = Some(page);
    }

    /// The visit was wiped (inactivity, card lifted, 首页, finished): cut off and forget the page.
    pub fn wipe(&mut self) {
        self.cut_off();
        self.page = None;
    }

    /// 「听」: read the page's main text and what to do next, instead of anything else. Never
    /// personal data. Does nothing before a page is shown.
    pub fn listen(&mut self) {
        let Some(page) = &self.page else { return };
        let utterance = script::listen_text(page, self.lang, None);
        self.cut_off();
        self.push(utterance);
    }

    /// 「读出我填的信息」 on the confirmation page: the villager asked for their own answers to be
    /// read. The only way personal data is spoken. On any other page it does nothing and
    /// returns false.
    pub fn read_my_answers(&mut self) -> bool {
        let Some(page @ PageView::Confirm { .. }) = &self.page else {
            return false;
        };
        let utterance = script::listen_text(page, self.lang, Some(&OwnReading::granted()));
        self.cut_off();
        self.push(utterance);
        true
    }

    /// A key moment: queued after what is being said, when key moments are on.
    pub fn moment(&mut self, moment: &Moment) {
        if self.auto {
            let utterance = script::moment_text(moment, self.lang);
            self.push(utterance);
        }
    }

    /// The engine finished (or failed) `id`. A report of a cut-off utterance is ignored.
    pub fn finished(&mut self, id: UtteranceId) {
        if self.speaking == Some(id) {
            self.speaking = None;
            self.start_next();
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// What is being spoken now.
    pub fn speaking(&self) -> Option<UtteranceId> {
        self.speaking
    }

    /// How many utterances wait behind the one being spoken.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    fn push(&mut self, utterance: Utterance) {
        let id = UtteranceId(self.next_id);
        self.next_id += 1;
        self.queued.push_back((id, utterance));
        if self.speaking.is_none() {
            self.start_next();
        }
    }

    fn start_next(&mut self) {
        if let Some((id, utterance)) = self.queued.pop_front() {
            self.speaking = Some(id);
            self.commands.push_back(Command::Speak { id, utterance });
        }
    }

    fn cut_off(&mut self) {
        self.queued.clear();
        // A Speak not yet taken by the driver is dropped with the queue: never started.
        self.commands
            .retain(|c| !matches!(c, Command::Speak { .. }));
        if let Some(id) = self.speaking.take() {
            self.commands.push_back(Command::Stop { id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::script::{Personal, PublicText};

    fn drain(q: &mut SpeechQueue) -> Vec<Command> {
        std::iter::from_fn(|| q.poll_command()).collect()
    }

    fn spoken(commands: &[Command]) -> Vec<String> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Speak { utterance, .. } => Some(utterance.text.to_string()),
                Command::Stop { .. } => None,
            })
            .collect()
    }

    fn confirm() -> PageView {
        PageView::Confirm {
            item_name: PublicText::new("高龄津贴申领"),
            answers: vec![(PublicText::new("联系电话"), Personal::new("13800138000"))],
        }
    }

    #[test]
    fn moments_are_spoken_in_order_one_at_a_time() {
        let mut q = SpeechQueue::new(true, Lang::Zh);
        q.page_shown(PageView::Card {
            item_name: "高龄津贴申领".into(),
            agent: false,
        });
        q.moment(&Moment::PlaceCard);
        q.moment(&Moment::CardRead);
        let first = drain(&mut q);
        assert_eq!(spoken(&first), ["请把身份证放在读卡区。"]);
        assert_eq!(q.queued(), 1);
        let Command::Speak { id, .. } = first[0].clone() else {
            panic!()
        };
        q.finished(id);
        assert_eq!(
            spoken(&drain(&mut q)),
            ["身份证已读取，办完之前请不要拿走。"]
        );
    }

    #[test]
    fn a_page_change_cuts_off_and_drops_the_queue() {
        let mut q = SpeechQueue::new(true, Lang::Zh);
        q.page_shown(PageView::Home);
        q.listen();
        q.moment(&Moment::PlaceCard);
        let speaking = q.speaking().expect("speaking");
        drain(&mut q);
        q.page_shown(PageView::Search);
        assert_eq!(drain(&mut q), [Command::Stop { id: speaking }]);
        assert_eq!(q.queued(), 0);
        // The engine's late report of the cut-off utterance starts nothing.
        q.finished(speaking);
        assert_eq!(drain(&mut q), []);
        // 「听」 on the new page reads the new page.
        q.listen();
        assert!(spoken(&drain(&mut q))[0].contains("拼音"));
    }

    #[test]
    fn a_wipe_cuts_off_and_forgets_the_page() {
        let mut q = SpeechQueue::new(true, Lang::Zh);
        q.page_shown(confirm());
        assert!(q.read_my_answers());
        let id = q.speaking().expect("speaking");
        let cmds = drain(&mut q);
        assert!(spoken(&cmds)[0].contains("13800138000"));
        q.wipe();
        assert_eq!(drain(&mut q), [Command::Stop { id }]);
        // Nothing of the wiped visit can be read again.
        q.listen();
        assert!(!q.read_my_answers());
        assert_eq!(drain(&mut q), []);
    }

    #[test]
    fn a_wipe_before_the_driver_took_the_command_never_starts_it() {
        let mut q = SpeechQueue::new(true, Lang::Zh);
        q.page_shown(confirm());
        q.read_my_answers();
        let id = q.speaking().expect("speaking");
        q.wipe();
        // The Speak is gone; the Stop is harmless to a driver that never started it.
        assert_eq!(drain(&mut q), [Command::Stop { id }]);
    }

    #[test]
    fn personal_data_only_on_request_on_the_confirmation_page() {
        let mut q = SpeechQueue::new(true, Lang::Zh);
        q.page_shown(confirm());
        q.listen();
        let plain = drain(&mut q);
        assert!(!spoken(&plain)[0].contains("13800138000"));
        assert!(matches!(&plain[0], Command::Speak { utterance, .. } if !utterance.personal));
        q.page_shown(PageView::Home);
        assert!(!q.read_my_answers());
        q.page_shown(confirm());
        assert!(q.read_my_answers());
        let asked = drain(&mut q);
        assert!(
            matches!(asked.as_slice(), [Command::Stop { .. }, Command::Speak { utterance, .. }] if utterance.personal),
            "{asked:?}"
        );
    }

    #[test]
    fn key_moments_off_still_lets_listen_speak() {
        let mut q = SpeechQueue::new(false, Lang::Zh);
        q.page_shown(PageView::Idle);
        q.moment(&Moment::PlaceCard);
        assert_eq!(drain(&mut q), []);
        q.listen();
        assert_eq!(spoken(&drain(&mut q)).len(), 1);
        let id = q.speaking().expect("speaking");
        q.set_auto(false);
        assert_eq!(drain(&mut q), [Command::Stop { id }]);
    }
}
