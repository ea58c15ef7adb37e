//! Controller of `SearchAdapter`: letters from the on-screen keyboard, matches as you type.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::app::Kiosk;
use super::{ItemSummary, Page, SearchAdapter};
use crate::catalog::ServiceItem;
use crate::on;

/// The most a query box holds (pinyin of a long item name fits).
const MAX_QUERY: usize = 24;
const LIMIT: usize = 30;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, SearchAdapter, on_letter, |k, l| {
        {
            let mut st = k.state.borrow_mut();
            if st.query.len() < MAX_QUERY {
                st.query.push_str(&l);
            }
        }
        render(k);
    });
    on!(k, SearchAdapter, on_backspace, |k| {
        k.state.borrow_mut().query.pop();
        render(k);
    });
    on!(k, SearchAdapter, on_clear, |k| {
        k.state.borrow_mut().query.clear();
        render(k);
    });
    on!(k, SearchAdapter, on_open_item, |k, code| open_item(
        k, &code
    ));
}

/// Opens an item's guide (from search, a list, or a tile).
pub fn open_item(k: &Kiosk, code: &str) {
    if let Some(item) = k.services.catalogue.item(code) {
        k.state.borrow_mut().item = Some(item);
        k.show(Page::Guide, true);
    }
}

/// One row of a result list.
pub fn summary(k: &Kiosk, item: &ServiceItem) -> ItemSummary {
    let lang = k.lang();
    let days = if item.promised_time_limit_days == 0 {
        lang.pick("即办", "same day")
    } else {
        super::l10n::working_days(item.promised_time_limit_days, lang)
    };
    let shown = item.translated(lang.tag());
    ItemSummary {
        code: item.code.clone().into(),
        name: shown.name.as_str().into(),
        detail: format!("{} · {}", shown.department, days).into(),
        online: item.village_online && !item.form.is_empty(),
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let query = k.state.borrow().query.clone();
    let hits = if query.is_empty() {
        Vec::new()
    } else {
        k.services.catalogue.search(&query, LIMIT)
    };
    let rows: Vec<ItemSummary> = hits.iter().map(|i| summary(k, i)).collect();
    let status = if query.is_empty() {
        lang.pick(
            "请输入拼音或首字母，例如 yl 找养老，db 找低保",
            "Type pinyin or its initials, e.g. yl for pensions (养老)",
        )
    } else if rows.is_empty() {
        lang.pick(
            "没有找到，请换个说法，或回首页按类别找",
            "Nothing found. Try other letters, or browse by category on the home page",
        )
    } else {
        lang.pick(
            format!("找到 {} 个事项", rows.len()),
            format!("{} items found", rows.len()),
        )
    };
    let a = k.window.global::<SearchAdapter>();
    a.set_query(query.into());
    a.set_results(ModelRc::new(VecModel::from(rows)));
    a.set_status(status.into());
}
