//! Controller of `EligibilityAdapter` (受理条件预检 in the UI): after the card is read and
//! before any typing, an item whose declared conditions the card clearly does not meet is
//! explained in plain Chinese, with the items to apply for instead (one touch to their guide;
//! the card stays on the reader, so 我要申请 leads straight to that form) or, when none fits,
//! the coordinator and the item's phone number.
//!
//! [`gate`] runs as the form page's entry (the shell calls it before `form::enter`); the
//! checking itself is [`crate::catalog::eligibility`]. Conditions the card cannot decide (an ID
//! number from elsewhere, a permit) do not stop the villager: the form opens with them as a
//! notice (the staff check them). Nothing
//! personal is kept or shown: the reasons name the rule, never the birth date.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::shell::{Kiosk, Next, NoticeText};
use super::{EligibilityAdapter, InsteadItem, NoticeKind, Page};
use crate::catalog::eligibility::{Advice, CardFacts, Verdict, check};
use crate::on;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, EligibilityAdapter, on_open_item, |k, code| {
        super::shell::open_item(k, &code)
    });
}

/// The form's entry, before anything is filled in: when the card clearly does not meet the
/// item's conditions, the eligibility page instead of the form (返回 leads back to the guide,
/// not to the card page). `None`: go on to the form.
pub fn gate(k: &Kiosk) -> Option<Next> {
    let item = k.visit.borrow().item.clone()?;
    if item.eligibility.is_empty() {
        return None;
    }
    let facts = CardFacts::from_card(k.shell.borrow().session.card()?);
    // Conditions are checked on the station's day (`station.time_zone`).
    let today = k.today();
    let verdict = check(&item.eligibility, &facts, today);
    let Verdict::NotMet(findings) = &verdict else {
        if let Verdict::Unclear(findings) = &verdict {
            tracing::info!(
                item = %item.code,
                conditions = findings.len(),
                "eligibility unclear from the card; the staff check"
            );
            let zh: Vec<String> = findings.iter().map(|f| f.reason.message_zh()).collect();
            let en: Vec<String> = findings.iter().map(|f| f.reason.message_en()).collect();
            k.set_notice(
                NoticeText::new(NoticeKind::Info, zh.join(""), en.join(" ")).only_on(Page::Form),
            );
        }
        return None;
    };
    let named: Vec<_> = findings
        .iter()
        .flat_map(|f| f.condition.instead())
        .filter_map(|code| k.services.catalogue.item(code))
        .collect();
    let advice = Advice::for_verdict(&item, &verdict, &named, &facts, today);
    tracing::info!(
        item = %item.code,
        unmet = findings.len(),
        offered = advice.instead.len(),
        "conditions not met: told before the form"
    );
    {
        let mut v = k.visit.borrow_mut();
        v.eligibility.reasons = findings
            .iter()
            .map(|f| (f.reason.message_zh(), f.reason.message_en()))
            .collect();
        v.eligibility.advice = (advice.message_zh(), advice.message_en());
        v.eligibility.instead = advice
            .instead
            .iter()
            .map(|i| {
                (
                    i.code.clone(),
                    i.name.clone(),
                    i.translated("en").name.clone(),
                )
            })
            .collect();
    }
    {
        let mut sh = k.shell.borrow_mut();
        if sh.history.last() == Some(&Page::Card) {
            sh.history.pop();
        }
    }
    Some(Next::Replace(Page::Eligibility))
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<EligibilityAdapter>();
    a.set_item_name(
        v.item
            .as_ref()
            .map(|i| i.translated(lang.tag()).name.clone())
            .unwrap_or_default()
            .into(),
    );
    let reasons: Vec<SharedString> = v
        .eligibility
        .reasons
        .iter()
        .map(|(zh, en)| lang.pick(zh.as_str(), en.as_str()).into())
        .collect();
    a.set_reasons(ModelRc::new(VecModel::from(reasons)));
    let (zh, en) = &v.eligibility.advice;
    a.set_advice(lang.pick(zh.as_str(), en.as_str()).into());
    let instead: Vec<InsteadItem> = v
        .eligibility
        .instead
        .iter()
        .map(|(code, zh, en)| InsteadItem {
            code: code.clone().into(),
            name: lang.pick(zh.as_str(), en.as_str()).into(),
        })
        .collect();
    a.set_instead(ModelRc::new(VecModel::from(instead)));
}
