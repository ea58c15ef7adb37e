//! Controller of `ResultsAdapter` (办件提醒): a card placed on the idle or home screen shows,
//! before anything else, the holder's cases that need them (ready for collection, or rejected
//! with a reason) and where to go; the visit then continues at home with the card identified.
//!
//! The lookup is the cases port's card-proof lookup (`CountyLink::cases` with the card on the
//! reader), run on tokio's blocking pool. With nothing to tell (or the county unreachable) the
//! page steps aside by itself. It shows only the masked name, never the ID number.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::l10n::{self, Lang};
use super::shell::{Kiosk, Next, UiEvent};
use super::{MainWindow, Page, ResultView, ResultsAdapter};
use crate::county::wire::CaseStatus;
use crate::on;
use crate::pii::Masked;
use crate::station::ports::{CaseProgress, CaseRecord, CasesReply};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, ResultsAdapter, on_continue_visit, |k| continue_visit(k));
}

/// Whether a case needs its holder now: the result waits at a window, or the county refused it
/// (with the reason: materials missing or wrong, conditions not met).
pub fn needs_villager(c: &CaseRecord) -> bool {
    matches!(
        c.progress,
        CaseProgress::County(CaseStatus::ReadyForCollection | CaseStatus::Rejected)
    )
}

/// Arriving with the card identified: ask for the holder's cases.
pub fn enter(k: &Kiosk) -> Next {
    let card = k.shell.borrow().session.card().cloned();
    let Some(card) = card else {
        return Next::Back;
    };
    let visit = {
        let mut v = k.visit.borrow_mut();
        *v.results.applicant = Masked::name(&card.name).to_string();
        v.results.cases.clear();
        v.results.loading = true;
        v.number
    };
    let county = k.services.county.clone();
    k.spawn_blocking(move || UiEvent::Results {
        visit,
        result: county.cases(&card),
    });
    Next::Stay
}

/// The county's answer: keep only what needs the villager; nothing to tell → carry on.
pub fn on_results(k: &Kiosk, reply: CasesReply) -> Next {
    if let Some(e) = &reply.county_error {
        tracing::warn!("cases for the placed card not available: {}", e.detail);
    }
    let any = {
        let mut v = k.visit.borrow_mut();
        v.results.loading = false;
        v.results.cases = reply.cases.into_iter().filter(needs_villager).collect();
        !v.results.cases.is_empty()
    };
    if k.page() != Page::Results {
        return Next::Stay;
    }
    if any {
        tracing::info!("cases that need the villager shown after the card was placed");
        render(k);
        Next::Stay
    } else {
        continue_visit(k)
    }
}

/// 知道了，继续办事: the list is forgotten (the card stays identified for applying).
fn continue_visit(k: &Kiosk) -> Next {
    drop(std::mem::take(&mut k.visit.borrow_mut().results));
    clear(&k.window);
    Next::Back
}

/// What the villager is told to do for a case, in the UI language.
fn next_step(c: &CaseRecord, lang: Lang) -> String {
    let place = c.collect.place().text(lang == Lang::En);
    match (c.progress, place.is_empty()) {
        (CaseProgress::County(CaseStatus::ReadyForCollection), false) => lang.pick(
            format!("请带上身份证和回执，到 {place} 领取。"),
            format!("Bring your ID card and receipt to {place} to collect it."),
        ),
        (CaseProgress::County(CaseStatus::ReadyForCollection), true) => lang.pick(
            "请带上身份证和回执，到便民服务窗口领取。".to_string(),
            "Bring your ID card and receipt to the service window to collect it.".to_string(),
        ),
        (_, false) => lang.pick(
            format!("请按上面的原因准备好后重新申请，或到 {place} 咨询。"),
            format!("Please prepare what the reason says and apply again, or ask at {place}."),
        ),
        (_, true) => lang.pick(
            "请按上面的原因准备好后重新申请，或请工作人员帮忙。".to_string(),
            "Please prepare what the reason says and apply again, or ask the staff.".to_string(),
        ),
    }
}

fn status(c: &CaseRecord, lang: Lang) -> String {
    match (c.progress, &c.rejection_reason) {
        (CaseProgress::County(CaseStatus::ReadyForCollection), _) => {
            lang.pick("✓ 办好了，可以领取", "✓ Ready for collection")
        }
        (_, Some(r)) => {
            let r = r.text(lang == Lang::En);
            lang.pick(format!("！没有通过：{r}"), format!("! Not approved: {r}"))
        }
        (_, None) => lang.pick("！没有通过", "! Not approved"),
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let rows: Vec<ResultView> = v
        .results
        .cases
        .iter()
        .map(|c| ResultView {
            item_name: l10n::recorded_item_name(k.services.catalogue.as_ref(), &c.item_name, lang)
                .into(),
            receipt_no: c.receipt_no.clone().into(),
            status: status(c, lang).into(),
            next_step: next_step(c, lang).into(),
            ready: c.progress == CaseProgress::County(CaseStatus::ReadyForCollection),
        })
        .collect();
    let a = k.window.global::<ResultsAdapter>();
    a.set_applicant(v.results.applicant.as_str().into());
    a.set_loading(v.results.loading);
    a.set_results(ModelRc::new(VecModel::from(rows)));
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<ResultsAdapter>();
    a.set_applicant("".into());
    a.set_loading(false);
    a.set_results(ModelRc::new(VecModel::from(Vec::<ResultView>::new())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::ports::{Collection, CountyText};

    fn case(progress: CaseProgress) -> CaseRecord {
        CaseRecord {
            receipt_no: "CG-1".into(),
            item_name: "高龄津贴申请".into(),
            progress,
            rejection_reason: None,
            submitted_at: None,
            collect: Collection::Window(CountyText::zh("3号窗口")),
            steps: Vec::new(),
        }
    }

    #[test]
    fn only_ready_and_rejected_cases_need_the_villager() {
        use CaseStatus::*;
        for (progress, needs) in [
            (CaseProgress::WaitingForUpload, false),
            (CaseProgress::Uploaded, false),
            (CaseProgress::County(Received), false),
            (CaseProgress::County(Accepted), false),
            (CaseProgress::County(InReview), false),
            (CaseProgress::County(Approved), false),
            (CaseProgress::County(Collected), false),
            (CaseProgress::County(ReadyForCollection), true),
            (CaseProgress::County(Rejected), true),
        ] {
            assert_eq!(needs_villager(&case(progress)), needs, "{progress:?}");
        }
    }

    #[test]
    fn the_next_step_names_the_window() {
        let ready = case(CaseProgress::County(CaseStatus::ReadyForCollection));
        assert!(next_step(&ready, Lang::Zh).contains("3号窗口"));
        let mut refused = case(CaseProgress::County(CaseStatus::Rejected));
        refused.rejection_reason = Some(CountyText::zh("缺少户口簿复印件"));
        assert!(status(&refused, Lang::Zh).contains("缺少户口簿复印件"));
        assert!(next_step(&refused, Lang::Zh).contains("重新申请"));
        // Without an English form the English UI shows the Chinese, never an empty line.
        assert!(status(&refused, Lang::En).contains("缺少户口簿复印件"));
        refused.rejection_reason = Some(CountyText::new(
            "缺少户口簿复印件",
            Some("A copy of the household register is missing".into()),
        ));
        assert!(status(&refused, Lang::En).contains("household register"));
        assert!(status(&refused, Lang::Zh).contains("缺少户口簿复印件"));
    }
}
