//! 一次办事: the state of one villager's visit, one part per page controller
//! (`visit.form`, `visit.confirm`, ...), besides the card and answers in the
//! [`crate::session::Session`].
//!
//! A visit is never cleaned field by field. Ending it replaces it whole with
//! [`Visit::new`]; forgetting personal data while the visit goes on (首页, a lifted card, a
//! submission) builds the next visit with [`Visit::forget_personal`], which carries over only
//! the parts listed there as not personal: a part added later starts empty unless someone
//! decides it is safe to keep. Parts that can hold personal data zeroise it on drop.

use zeroize::{Zeroize, Zeroizing};

use crate::catalog::{Category, ServiceItem};
use crate::county::wire::Agent;
use crate::session::validate::FieldProblem;
use crate::station::ports::{CaseRecord, DeviceError, ReceiptInfo, Submission};

/// What an item list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListContext {
    Category(Category),
    LifeEvent(String),
}

/// Why the card page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardPurpose {
    #[default]
    Apply,
    Cases,
}

/// The receipt's printing on the submitted page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PrintState {
    #[default]
    Printing,
    Printed,
    Failed(DeviceError),
}

/// The search page: what was typed.
#[derive(Debug, Default)]
pub struct SearchState {
    pub query: String,
}

/// The guide page: the checklist on the printer.
#[derive(Debug, Default)]
pub struct GuideState {
    pub checklist_printing: bool,
}

/// The card page.
#[derive(Debug, Default)]
pub struct CardState {
    pub purpose: CardPurpose,
    /// Why the card cannot be used (Chinese, English); may name the card's expiry date.
    pub error: Option<(Zeroizing<String>, Zeroizing<String>)>,
    pub reading: bool,
}

/// The eligibility page (暂不符合条件): why the item's conditions are not met and what to do
/// instead. Names the rules, never the card's data; starts empty after a wipe all the same.
#[derive(Debug, Default)]
pub struct EligibilityState {
    /// One sentence per unmet condition: (Chinese, English).
    pub reasons: Vec<(String, String)>,
    /// What to do instead: (Chinese, English).
    pub advice: (String, String),
    /// The items offered instead, nearest first: (code, Chinese name, English name).
    pub instead: Vec<(String, String, String)>,
}

/// The form page (the answers themselves are in the session).
#[derive(Debug, Default)]
pub struct FormState {
    /// The field being typed (its index in the item's form).
    pub active: Option<usize>,
    /// Pinyin being typed for a text field.
    pub composing: Zeroizing<String>,
    pub errors: Vec<Option<FieldProblem>>,
    pub summary_error: bool,
    /// 联系电话留存: the phone the county kept from the person's last application.
    pub offered_phone: Zeroizing<String>,
    /// The bank account field (by index) whose answer was read from the social security card
    /// (shown masked); typing in it makes it the villager's own answer again.
    pub account_from_card: Option<usize>,
    /// A social security card read is under way.
    pub sscard_reading: bool,
    /// What the last read said (Chinese, English): the card was read, or why not.
    pub sscard_note: Option<(&'static str, &'static str)>,
}

/// The confirmation page.
#[derive(Debug, Default)]
pub struct ConfirmState {
    pub consent: bool,
    /// 同意保存联系电话.
    pub keep_phone: bool,
    pub sending: bool,
    /// The card was lifted while the application was being sent: the visit ends (or goes on
    /// without personal data) once the result is in, never under it.
    pub card_lifted: bool,
    pub error: Option<DeviceError>,
}

/// The submitted page: the accepted application and its receipt (only the masked name).
#[derive(Debug, Default)]
pub struct SubmittedState {
    pub submission: Option<(Submission, ReceiptInfo)>,
    pub print: PrintState,
}

/// The rating page.
#[derive(Debug, Default)]
pub struct EvaluationState {
    pub rated: bool,
    /// (sent, Chinese, English).
    pub message: Option<(bool, String, String)>,
}

/// "My applications": the cases of the card on the reader.
#[derive(Debug, Default)]
pub struct CasesState {
    pub loading: bool,
    pub cases: Vec<CaseRecord>,
    pub error: Option<DeviceError>,
    /// The masked name of the card's holder.
    pub applicant: Zeroizing<String>,
}

impl Drop for CasesState {
    fn drop(&mut self) {
        for c in &mut self.cases {
            c.receipt_no.zeroize();
            c.item_name.zeroize();
            c.rejection_reason.zeroize();
            zeroize_place(&mut c.collect);
            for s in &mut c.steps {
                s.note.zeroize();
            }
        }
    }
}

/// 帮办代办: the helper's card was read (masked at once; the card itself is not kept) and the
/// relationship chosen.
#[derive(Debug, Default)]
pub struct AgentState {
    /// The helper, masked; `relationship` is meaningful once `chosen`.
    pub helper: Option<Agent>,
    pub chosen: bool,
    /// Why the helper's card cannot be used (Chinese, English).
    pub error: Option<(String, String)>,
}

impl AgentState {
    /// The agent the application carries, once the relationship was chosen.
    pub fn agent(&self) -> Option<&Agent> {
        self.helper.as_ref().filter(|_| self.chosen)
    }
}

/// 帮办员模式's entry: the PIN being typed (zeroised on drop) and whether it matched.
#[derive(Debug, Default)]
pub struct CoordinatorState {
    pub pin: Zeroizing<String>,
    pub checking: bool,
    pub pin_ok: bool,
    /// (Chinese, English).
    pub error: Option<(String, String)>,
}

/// 办件提醒: the cases of the card placed on the idle or home screen that need its holder.
#[derive(Debug, Default)]
pub struct ResultsState {
    pub loading: bool,
    /// Only those ready for collection or rejected.
    pub cases: Vec<CaseRecord>,
    /// The masked name of the card's holder.
    pub applicant: Zeroizing<String>,
}

impl Drop for ResultsState {
    fn drop(&mut self) {
        for c in &mut self.cases {
            c.receipt_no.zeroize();
            c.item_name.zeroize();
            c.rejection_reason.zeroize();
            zeroize_place(&mut c.collect);
        }
    }
}

fn zeroize_place(c: &mut crate::station::ports::Collection) {
    use crate::station::ports::Collection;
    match c {
        Collection::Window(p) | Collection::NotifiedAt(p) => p.zeroize(),
    }
}

/// One villager's visit: each page's own state.
#[derive(Debug, Default)]
pub struct Visit {
    /// Which visit this is: background jobs carry it, and a result for another number (a
    /// visit wiped or forgotten since) is dropped.
    pub number: u64,
    /// The service item chosen (not personal).
    pub item: Option<ServiceItem>,
    pub list: Option<ListContext>,
    pub search: SearchState,
    pub guide: GuideState,
    pub card: CardState,
    pub eligibility: EligibilityState,
    pub form: FormState,
    pub confirm: ConfirmState,
    pub submitted: SubmittedState,
    pub evaluation: EvaluationState,
    pub cases: CasesState,
    pub results: ResultsState,
    pub agent: AgentState,
    pub coordinator: CoordinatorState,
}

impl Visit {
    /// An empty visit.
    pub fn new(number: u64) -> Self {
        Self {
            number,
            ..Self::default()
        }
    }

    /// The next visit after forgetting personal data while the villager stays: only the
    /// parts named here (none of them personal) carry over; everything else starts empty,
    /// and the old visit (with what it held) is dropped by the caller.
    pub fn forget_personal(&mut self) -> Self {
        Self {
            item: self.item.take(),
            list: self.list.take(),
            search: std::mem::take(&mut self.search),
            guide: std::mem::take(&mut self.guide),
            submitted: std::mem::take(&mut self.submitted),
            evaluation: std::mem::take(&mut self.evaluation),
            ..Self::new(self.number + 1)
        }
    }

    /// Whether any part holds something of the villager: pinyin being typed, a card error,
    /// the cases of a card, a submission's receipt (masked name). False after a wipe.
    pub fn holds_personal_data(&self) -> bool {
        !self.form.composing.is_empty()
            || !self.form.offered_phone.is_empty()
            || self.card.error.is_some()
            || !self.cases.cases.is_empty()
            || !self.cases.applicant.is_empty()
            || !self.results.cases.is_empty()
            || !self.results.applicant.is_empty()
            || self.agent.helper.is_some()
            || !self.coordinator.pin.is_empty()
            || self.submitted.submission.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(number: u64) -> Visit {
        let mut v = Visit::new(number);
        v.list = Some(ListContext::LifeEvent("退休养老".into()));
        v.search.query = "yl".into();
        v.guide.checklist_printing = true;
        v.card.purpose = CardPurpose::Cases;
        v.card.error = Some((
            Zeroizing::new("过期".into()),
            Zeroizing::new("expired".into()),
        ));
        v.form.composing = Zeroizing::new("wang".into());
        v.form.active = Some(2);
        v.confirm.consent = true;
        v.cases.applicant = Zeroizing::new("王*明".into());
        v.evaluation.rated = true;
        v
    }

    #[test]
    fn forgetting_keeps_only_the_named_parts_and_moves_to_the_next_number() {
        let mut old = filled(7);
        assert!(old.holds_personal_data());
        let next = old.forget_personal();
        assert_eq!(next.number, 8);
        assert!(!next.holds_personal_data());
        assert_eq!(next.search.query, "yl");
        assert!(next.list.is_some() && next.guide.checklist_printing && next.evaluation.rated);
        assert_eq!(next.card.purpose, CardPurpose::Apply);
        assert!(next.form.active.is_none() && !next.confirm.consent);
        assert!(next.cases.applicant.is_empty());
    }

    #[test]
    fn a_new_visit_is_empty() {
        let v = Visit::new(3);
        assert_eq!(v.number, 3);
        assert!(!v.holds_personal_data());
        assert!(v.item.is_none() && v.search.query.is_empty());
    }
}
