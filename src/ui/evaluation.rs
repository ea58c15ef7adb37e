//! Controller of `EvaluationAdapter`: 好差评, five levels, skippable, never steered (the page
//! shows the levels alike and nothing is preselected; this controller sends what was chosen).

use std::rc::Rc;

use slint::ComponentHandle;

use super::EvaluationAdapter;
use super::shell::{Kiosk, Next, UiEvent};
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::DeviceError;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, EvaluationAdapter, on_rate, |k, level| {
        rate(k, level);
        Next::Stay
    });
    on!(k, EvaluationAdapter, on_skip, |k| Next::Wipe(
        WipeReason::Finished
    ));
}

fn rate(k: &Kiosk, level: i32) {
    let Ok(level) = u8::try_from(level) else {
        return;
    };
    if !(1..=5).contains(&level) {
        return;
    }
    let (visit, receipt) = {
        let v = k.visit.borrow();
        if v.evaluation.rated {
            return;
        }
        (
            v.number,
            v.submitted
                .submission
                .as_ref()
                .map(|(s, _)| s.receipt_no.clone()),
        )
    };
    let Some(receipt) = receipt else {
        return;
    };
    k.visit.borrow_mut().evaluation.rated = true;
    let county = k.services.county.clone();
    k.spawn_blocking(move || UiEvent::Evaluated {
        visit,
        result: county.evaluate(&receipt, level),
    });
    render(k);
}

pub fn on_evaluated(k: &Kiosk, result: Result<(), DeviceError>) -> Next {
    let msg = match result {
        Ok(()) => (
            true,
            "谢谢您的评价！".to_owned(),
            "Thank you for your rating!".to_owned(),
        ),
        Err(e) => {
            // Only a rating the store refused ends here: a queued application's rating waits
            // in the store and goes after it.
            tracing::error!("evaluation not stored: {}", e.detail);
            (
                false,
                format!("{}，评价没有保存成功。申请不受影响。", e.message_zh),
                format!(
                    "{}; your rating was not saved. Your application is not affected.",
                    e.message_en
                ),
            )
        }
    };
    k.visit.borrow_mut().evaluation.message = Some(msg);
    render(k);
    Next::Stay
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let a = k.window.global::<EvaluationAdapter>();
    a.set_item_name(
        v.submitted
            .submission
            .as_ref()
            .map(|(_, r)| r.item_name.clone())
            .unwrap_or_default()
            .into(),
    );
    a.set_done(v.evaluation.rated);
    a.set_message(
        match &v.evaluation.message {
            Some((_, zh, en)) => lang.pick(zh.clone(), en.clone()),
            None if v.evaluation.rated => lang.pick("正在发送评价…", "Sending your rating…"),
            None => String::new(),
        }
        .into(),
    );
}
