//! Controller of `SearchAdapter`: letters from the on-screen keyboard, matches as you type.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{self, Kiosk, Next};
use super::{ItemSummary, SearchAdapter};
use crate::on;

/// The most a query box holds (pinyin of a long item name fits).
const MAX_QUERY: usize = 24;
const LIMIT: usize = 30;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, SearchAdapter, on_letter, |k, l| {
        {
            let mut v = k.visit.borrow_mut();
            if v.search.query.len() < MAX_QUERY {
                v.search.query.push_str(&l);
            }
        }
        render(k);
        Next::Stay
    });
    on!(k, SearchAdapter, on_backspace, |k| {
        k.visit.borrow_mut().search.query.pop();
        render(k);
        Next::Stay
    });
    on!(k, SearchAdapter, on_clear, |k| {
        k.visit.borrow_mut().search.query.clear();
        render(k);
        Next::Stay
    });
    on!(k, SearchAdapter, on_open_item, |k, code| shell::open_item(
        k, &code
    ));
}

/// Opens an item's guide, for callers outside the UI (the screenshot tour, the benchmark).
pub fn open_item(k: &Kiosk, code: &str) {
    k.act(shell::open_item(k, code));
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let query = k.visit.borrow().search.query.clone();
    let hits = if query.is_empty() {
        Vec::new()
    } else {
        k.services.catalogue.search(&query, LIMIT)
    };
    let rows: Vec<ItemSummary> = hits
        .iter()
        .map(|i| super::l10n::item_summary(i, lang))
        .collect();
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
