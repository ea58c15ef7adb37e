//! Controller of `HomeAdapter`: category tiles, life events, the way into search and into
//! "my applications".

use std::rc::Rc;

use slint::{Color, ComponentHandle, ModelRc, SharedString, VecModel};

use super::l10n::{Lang, life_event_en};
use super::shell::{Kiosk, Next, NoticeText};
use super::visit::{CardPurpose, ListContext};
use super::{CategoryTile, HomeAdapter, LifeEventChip, NoticeKind, Page};
use crate::catalog::Category;
use crate::on;
use crate::session::WipeReason;

/// Badge colours: each carries white text at >= 4.5:1, and the tile always has a label.
fn accent(c: Category) -> Color {
    let rgb = match c {
        Category::SocialInsurance => 0x0b57a4,
        Category::MedicalInsurance => 0x1d6b2f,
        Category::CivilAffairs => 0xa61b1b,
        Category::Disability => 0x6b2fa0,
        Category::Health => 0x00707a,
        Category::Justice => 0x3d4a5c,
        Category::Agriculture => 0x5a6b00,
        Category::Veterans => 0x8a3b00,
        Category::Employment => 0x005f8f,
    };
    Color::from_rgb_u8((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8)
}

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, HomeAdapter, on_open_category, |k, key| {
        match Category::parse(&key) {
            Some(c) => {
                k.visit.borrow_mut().list = Some(ListContext::Category(c));
                Next::Show(Page::ItemList)
            }
            None => Next::Stay,
        }
    });
    on!(k, HomeAdapter, on_open_life_event, |k, key| {
        k.visit.borrow_mut().list = Some(ListContext::LifeEvent(key.to_string()));
        Next::Show(Page::ItemList)
    });
    on!(k, HomeAdapter, on_open_search, |k| {
        k.visit.borrow_mut().search.query.clear();
        Next::Show(Page::Search)
    });
    on!(k, HomeAdapter, on_coordinator_mode, |k| coordinator_mode(k));
    on!(k, HomeAdapter, on_my_applications, |k| {
        k.visit.borrow_mut().card.purpose = CardPurpose::Cases;
        Next::Show(Page::Card)
    });
}

/// 退出帮办员模式 / 村帮办员：连续代办 on the home page.
fn coordinator_mode(k: &Kiosk) -> Next {
    let was = k.shell.borrow_mut().coordinator.take();
    match was {
        Some(_) => {
            tracing::info!("coordinator mode left");
            Next::Fresh {
                reason: WipeReason::Home,
                page: Page::Home,
                notice: Some(NoticeText::new(
                    NoticeKind::Info,
                    "已退出帮办员模式。",
                    "Coordinator mode is off.",
                )),
            }
        }
        None if k.services.coordinator_pin.is_some() => Next::Show(Page::Coordinator),
        None => Next::Stay,
    }
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let cat = &k.services.catalogue;
    let tiles: Vec<CategoryTile> = Category::ALL
        .into_iter()
        .filter_map(|c| {
            let n = cat.count_in(c);
            (n > 0).then(|| CategoryTile {
                key: c.label_zh().into(),
                badge: c
                    .label_zh()
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default()
                    .into(),
                title: lang.pick(c.label_zh(), c.label_en()).into(),
                subtitle: lang.pick(format!("{n} 项"), format!("{n} items")).into(),
                accent: accent(c),
            })
        })
        .collect();
    let events: Vec<LifeEventChip> = cat
        .life_events()
        .into_iter()
        .map(|e| LifeEventChip {
            title: match lang {
                Lang::En => life_event_en(&e)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.clone()),
                Lang::Zh => e.clone(),
            }
            .into(),
            key: SharedString::from(e),
        })
        .collect();
    let a = k.window.global::<HomeAdapter>();
    a.set_categories(ModelRc::new(VecModel::from(tiles)));
    a.set_life_events(ModelRc::new(VecModel::from(events)));
    a.set_coordinator_available(k.services.coordinator_pin.is_some());
    a.set_coordinator(
        k.shell
            .borrow()
            .coordinator
            .as_ref()
            .map(|c| c.name_masked.clone())
            .unwrap_or_default()
            .into(),
    );
}
