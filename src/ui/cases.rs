//! Controller of `CasesAdapter`: "my applications" for the card on the reader, each case with
//! its status timeline and where to collect the result.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::l10n::{self, Lang};
use super::shell::{Kiosk, Next, UiEvent};
use super::{CaseView, CasesAdapter, MainWindow, Page, TimelineState, TimelineStep};
use crate::on;
use crate::pii::Masked;
use crate::station::ports::{
    CaseProgress, CaseRecord, CaseStep, CasesReply, Collection, StepKind, StepState,
};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, CasesAdapter, on_refresh, |k| {
        fetch(k);
        Next::Stay
    });
}

/// Arriving with the card on the reader: ask the county for its holder's cases.
pub fn enter(k: &Kiosk) -> Next {
    let applicant = k
        .shell
        .borrow()
        .session
        .card()
        .map(|c| Masked::name(&c.name).to_string())
        .unwrap_or_default();
    {
        let mut v = k.visit.borrow_mut();
        *v.cases.applicant = applicant;
        v.cases.cases.clear();
        v.cases.error = None;
    }
    fetch(k);
    Next::Stay
}

fn fetch(k: &Kiosk) {
    let who = k.shell.borrow().session.card().cloned();
    let visit = {
        let mut v = k.visit.borrow_mut();
        v.cases.loading = who.is_some();
        v.number
    };
    let Some(card) = who else {
        return;
    };
    render(k);
    let county = k.services.county.clone();
    k.spawn_blocking(move || UiEvent::Cases {
        visit,
        result: county.cases(&card),
    });
}

pub fn on_cases(k: &Kiosk, reply: CasesReply) -> Next {
    {
        let mut v = k.visit.borrow_mut();
        v.cases.loading = false;
        if let Some(e) = &reply.county_error {
            tracing::warn!("county progress not available: {}", e.detail);
        }
        v.cases.cases = reply.cases;
        v.cases.error = reply.county_error;
    }
    if k.page() == Page::Cases {
        render(k);
    }
    Next::Stay
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<CasesAdapter>();
    let views: Vec<CaseView> = v
        .cases
        .cases
        .iter()
        .map(|c| {
            let mut view = case_view(c, lang);
            view.item_name =
                l10n::recorded_item_name(k.services.catalogue.as_ref(), &c.item_name, lang).into();
            view
        })
        .collect();
    let message = match (&v.cases.error, v.cases.loading, views.is_empty()) {
        (Some(e), _, _) => lang.pick(
            format!("{}，暂时查不到县里的最新进度。下面是本机记录的办件。", e.message_zh),
            format!("{}; the county's latest progress is not available. Below are the cases this kiosk knows.", e.message_en),
        ),
        (None, false, true) => lang.pick("没有查到您的办件。", "No applications found for you."),
        _ => String::new(),
    };
    a.set_applicant(v.cases.applicant.as_str().into());
    a.set_loading(v.cases.loading);
    a.set_message(message.into());
    a.set_cases(ModelRc::new(VecModel::from(views)));
}

/// A case's progress in the UI language.
fn status_text(c: &CaseRecord, lang: Lang) -> String {
    let status = match c.progress {
        CaseProgress::WaitingForUpload => lang.pick("待上传", "Waiting to be sent"),
        CaseProgress::Uploaded => lang.pick("已上传", "Sent to the county"),
        CaseProgress::County(s) => l10n::case_status(s, lang),
    };
    match &c.rejection_reason {
        Some(r) => {
            let r = r.text(lang == Lang::En);
            lang.pick(format!("{status}（{r}）"), format!("{status} ({r})"))
        }
        None => status,
    }
}

fn collect_text(c: &Collection, lang: Lang) -> String {
    let english = lang == Lang::En;
    match c {
        Collection::Window(w) => {
            let w = w.text(english);
            lang.pick(format!("结果领取：{w}"), format!("Collect at: {w}"))
        }
        Collection::NotifiedAt(at) => {
            let at = at.text(english);
            lang.pick(
                format!("结果领取：{at}（办好后会通知您）"),
                format!("Collect at: {at} (you will be told when it is ready)"),
            )
        }
    }
}

fn step_view(s: &CaseStep, lang: Lang) -> TimelineStep {
    let title = match s.kind {
        StepKind::AcceptedInVillage => lang.pick("村里已受理", "Accepted at the village"),
        StepKind::UploadToCounty => lang.pick("上传到县里", "Sent to the county"),
        StepKind::County(status) => l10n::case_status(status, lang),
    };
    let detail = match (&s.note, s.kind, s.state) {
        (Some(n), _, _) => n.text(lang == Lang::En).to_string(),
        (None, StepKind::UploadToCounty, StepState::Current) => lang.pick(
            "网络恢复后自动上传",
            "Sent automatically when the network is back",
        ),
        _ => String::new(),
    };
    TimelineStep {
        title: title.into(),
        detail: detail.into(),
        time: s.at.map(l10n::local_time).unwrap_or_default().into(),
        state: match s.state {
            StepState::Done => TimelineState::Done,
            StepState::Current => TimelineState::Current,
            StepState::NotYet => TimelineState::NotYet,
        },
    }
}

fn case_view(c: &CaseRecord, lang: Lang) -> CaseView {
    CaseView {
        receipt_no: c.receipt_no.clone().into(),
        item_name: c.item_name.clone().into(),
        status: status_text(c, lang).into(),
        submitted_at: c
            .submitted_at
            .map(l10n::local_time)
            .unwrap_or_default()
            .into(),
        collect: collect_text(&c.collect, lang).into(),
        steps: ModelRc::new(VecModel::from(
            c.steps
                .iter()
                .map(|s| step_view(s, lang))
                .collect::<Vec<_>>(),
        )),
    }
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<CasesAdapter>();
    a.set_applicant("".into());
    a.set_loading(false);
    a.set_message("".into());
    a.set_cases(ModelRc::new(VecModel::from(Vec::<CaseView>::new())));
}
