//! Controller of `ItemListAdapter`: the items of one category or life event.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::l10n::{Lang, life_event_en};
use super::shell::{self, Kiosk};
use super::visit::ListContext;
use super::{ItemListAdapter, ItemSummary};
use crate::on;

pub fn setup(k: &Rc<Kiosk>) {
    on!(
        k,
        ItemListAdapter,
        on_open_item,
        |k, code| shell::open_item(k, &code)
    );
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let list = k.visit.borrow().list.clone();
    let (title, items) = match &list {
        Some(ListContext::Category(c)) => (
            lang.pick(c.label_zh(), c.label_en()),
            k.services.catalogue.by_category(*c),
        ),
        Some(ListContext::LifeEvent(e)) => (
            match lang {
                Lang::En => life_event_en(e)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.clone()),
                Lang::Zh => e.clone(),
            },
            k.services.catalogue.by_life_event(e),
        ),
        None => (String::new(), Vec::new()),
    };
    let rows: Vec<ItemSummary> = items
        .iter()
        .map(|i| super::l10n::item_summary(i, lang))
        .collect();
    let a = k.window.global::<ItemListAdapter>();
    a.set_status(
        lang.pick(
            format!("共 {} 个事项，点一项查看办事指南", rows.len()),
            format!("{} items; touch one to read its guide", rows.len()),
        )
        .into(),
    );
    a.set_title(title.into());
    a.set_items(ModelRc::new(VecModel::from(rows)));
}
