//! Controller of `GuideAdapter`: every element of the guide (办事指南), the materials list,
//! printing the checklist (一次告知), and the way into the application.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::shell::{Kiosk, Next, NoticeText, UiEvent};
use super::visit::CardPurpose;
use super::{GuideAdapter, GuideSection, MaterialRow, NoticeKind, Page};
use crate::catalog::{CaseKind, ItemType, MaterialForm, ServiceItem};
use crate::on;
use crate::station::ports::DeviceError;

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, GuideAdapter, on_print_checklist, |k| {
        print_checklist(k);
        Next::Stay
    });
    on!(k, GuideAdapter, on_apply, |k| {
        let has_card = k.shell.borrow().session.card().is_some();
        k.visit.borrow_mut().card.purpose = CardPurpose::Apply;
        // With the card already on the reader, straight to the form.
        Next::Show(if has_card { Page::Form } else { Page::Card })
    });
}

fn print_checklist(k: &Kiosk) {
    let Some(item) = k.visit.borrow().item.clone() else {
        return;
    };
    let visit = {
        let mut v = k.visit.borrow_mut();
        v.guide.checklist_printing = true;
        v.number
    };
    render(k);
    let printer = k.services.printer.clone();
    k.spawn_blocking(move || UiEvent::ChecklistPrinted {
        visit,
        result: printer.print_checklist(&item),
    });
}

pub fn on_checklist_printed(k: &Kiosk, result: Result<(), DeviceError>) -> Next {
    k.visit.borrow_mut().guide.checklist_printing = false;
    match result {
        Ok(()) => k.set_notice(
            NoticeText::new(
                NoticeKind::Success,
                "材料清单已打印，请从出纸口取走。",
                "The checklist is printed; take it from the slot.",
            )
            .only_on(Page::Guide),
        ),
        Err(e) => {
            tracing::warn!("checklist printing failed: {}", e.detail);
            k.set_notice(NoticeText::new(
                NoticeKind::Error,
                format!("{}。清单没有打印出来，可以拍照记下本页的材料，或请工作人员帮忙。", e.message_zh),
                format!("{}. The checklist was not printed; take a photo of this page or ask the staff.", e.message_en),
            ));
        }
    }
    if k.page() == Page::Guide {
        render(k);
    }
    Next::Stay
}

fn item_type_zh(t: ItemType) -> &'static str {
    match t {
        ItemType::Licence => "行政许可",
        ItemType::Confirmation => "行政确认",
        ItemType::Adjudication => "行政裁决",
        ItemType::Benefit => "行政给付",
        ItemType::Reward => "行政奖励",
        ItemType::Filing => "行政备案",
        ItemType::OtherPower => "其他行政权力",
        ItemType::PublicService => "公共服务",
    }
}

fn item_type_en(t: ItemType) -> &'static str {
    match t {
        ItemType::Licence => "Administrative licence",
        ItemType::Confirmation => "Administrative confirmation",
        ItemType::Adjudication => "Administrative ruling",
        ItemType::Benefit => "Benefit payment",
        ItemType::Reward => "Administrative award",
        ItemType::Filing => "Filing",
        ItemType::OtherPower => "Other administrative power",
        ItemType::PublicService => "Public service",
    }
}

fn material_form_en(f: MaterialForm) -> &'static str {
    match f {
        MaterialForm::Original => "original",
        MaterialForm::Copy => "copy",
        MaterialForm::OriginalAndCopy => "original and copy",
        MaterialForm::OriginalShown => "original, shown and returned",
        MaterialForm::Electronic => "electronic licence",
    }
}

fn material_detail(m: &crate::catalog::Material, lang: super::Lang) -> String {
    let (form, from, sep) = match (lang, m.form) {
        (super::Lang::Zh, MaterialForm::Electronic) => {
            ("电子证照，无需携带".to_owned(), "来源：", "；")
        }
        (super::Lang::Zh, f) => (format!("{}{} 份", f.label_zh(), m.copies), "来源：", "；"),
        (super::Lang::En, MaterialForm::Electronic) => (
            "Electronic licence: nothing to bring".to_owned(),
            "from: ",
            "; ",
        ),
        (super::Lang::En, f) => (
            format!("{} {}", m.copies, material_form_en(f)),
            "from: ",
            "; ",
        ),
    };
    let mut s = format!("{form}{sep}{from}{}", m.source);
    if !m.notes.is_empty() {
        s.push_str(sep);
        s.push_str(&m.notes);
    }
    s
}

fn days(n: u32, lang: super::Lang) -> String {
    match (n, lang) {
        (0, super::Lang::Zh) => "当场办结".to_owned(),
        (0, super::Lang::En) => "decided on the spot".to_owned(),
        (n, lang) => super::l10n::working_days(n, lang),
    }
}

/// The guide's sections in the order of the published guide (办事指南要素).
pub fn sections(item: &ServiceItem, lang: super::Lang) -> Vec<(String, Vec<String>)> {
    let h = |zh: &str, en: &str| lang.pick(zh, en);
    let mut out = Vec::new();
    out.push((
        h("服务对象", "Who may apply"),
        vec![item.applicants.clone()],
    ));
    out.push((h("受理条件", "Conditions"), item.conditions.clone()));
    out.push((
        h("办理流程", "Steps"),
        item.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let limit = match (s.time_limit_days, lang) {
                    (0, super::Lang::Zh) => "当场".to_owned(),
                    (0, super::Lang::En) => "on the spot".to_owned(),
                    (n, lang) => super::l10n::working_days(n, lang),
                };
                match lang {
                    super::Lang::Zh => format!(
                        "{}. {}（{}，{}）：{}",
                        i + 1,
                        s.name,
                        s.actor,
                        limit,
                        s.description
                    ),
                    super::Lang::En => format!(
                        "{}. {} ({}, {}): {}",
                        i + 1,
                        s.name,
                        s.actor,
                        limit,
                        s.description
                    ),
                }
            })
            .collect(),
    ));
    out.push((
        h("办理时限", "Time limits"),
        vec![
            h(
                &format!("承诺时限：{}", days(item.promised_time_limit_days, lang)),
                &format!("Promised: {}", days(item.promised_time_limit_days, lang)),
            ),
            h(
                &format!("法定时限：{}", days(item.legal_time_limit_days, lang)),
                &format!("By law: {}", days(item.legal_time_limit_days, lang)),
            ),
            match item.case_kind {
                CaseKind::Immediate => h("办件类型：即办件", "Decided on the spot"),
                CaseKind::Committed => h("办件类型：承诺件", "Decided within the promised time"),
            },
        ],
    ));
    out.push((h("收费标准", "Fees"), vec![item.fee.description.clone()]));
    out.push((
        h("办理地点和时间", "Where and when"),
        item.locations
            .iter()
            .map(|l| match lang {
                super::Lang::Zh => format!("{}：{}；{}", l.name, l.address, l.hours),
                super::Lang::En => format!("{}: {}; {}", l.name, l.address, l.hours),
            })
            .collect(),
    ));
    out.push((h("办理结果", "What you receive"), vec![item.result.clone()]));
    out.push((
        h("实施机关", "Deciding body"),
        vec![h(
            &format!(
                "{}（主管部门：{}）",
                item.implementing_body, item.department
            ),
            &format!(
                "{} (department: {})",
                item.implementing_body, item.department
            ),
        )],
    ));
    out.push((h("设定依据", "Legal basis"), item.legal_basis.clone()));
    out.push((
        h("咨询和投诉电话", "Phone numbers"),
        vec![
            h(
                &format!("咨询电话：{}", item.consult_phone),
                &format!("Questions: {}", item.consult_phone),
            ),
            h(
                &format!("监督投诉电话：{}", item.complaint_phone),
                &format!("Complaints: {}", item.complaint_phone),
            ),
        ],
    ));
    if !item.faq.is_empty() {
        out.push((
            h("常见问题", "Questions often asked"),
            item.faq
                .iter()
                .map(|f| {
                    h(
                        &format!("问：{}\n答：{}", f.question, f.answer),
                        &format!("Q: {}\nA: {}", f.question, f.answer),
                    )
                })
                .collect(),
        ));
    }
    out.retain(|(_, lines)| lines.iter().any(|l| !l.trim().is_empty()));
    out
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let (item, printing) = {
        let v = k.visit.borrow();
        (v.item.clone(), v.guide.checklist_printing)
    };
    let a = k.window.global::<GuideAdapter>();
    a.set_printing(printing);
    let Some(item) = item else {
        return;
    };
    let item = item.translated(lang.tag()).into_owned();
    let facts = vec![
        lang.pick(
            format!("承诺时限：{}", days(item.promised_time_limit_days, lang)),
            format!("Promised: {} working days", item.promised_time_limit_days),
        ),
        if item.fee.charged {
            lang.pick("收费", "Fee charged")
        } else {
            lang.pick("不收费", "Free of charge")
        },
        lang.pick(
            format!("跑窗口 {} 次", item.trips_to_hall),
            format!("{} trips to a hall", item.trips_to_hall),
        ),
        lang.pick(item_type_zh(item.item_type), item_type_en(item.item_type)),
    ];
    let materials: Vec<MaterialRow> = item
        .materials
        .iter()
        .map(|m| MaterialRow {
            name: m.name.clone().into(),
            detail: material_detail(m, lang).into(),
            required: m.required,
        })
        .collect();
    let secs: Vec<GuideSection> = sections(&item, lang)
        .into_iter()
        .map(|(heading, lines)| GuideSection {
            heading: heading.into(),
            lines: ModelRc::new(VecModel::from(
                lines
                    .into_iter()
                    .map(SharedString::from)
                    .collect::<Vec<_>>(),
            )),
        })
        .collect();
    let can_apply = item.village_online && !item.form.is_empty();
    a.set_code(item.code.clone().into());
    a.set_name(item.name.clone().into());
    a.set_facts(ModelRc::new(VecModel::from(
        facts
            .into_iter()
            .map(SharedString::from)
            .collect::<Vec<_>>(),
    )));
    a.set_materials(ModelRc::new(VecModel::from(materials)));
    a.set_sections(ModelRc::new(VecModel::from(secs)));
    a.set_can_apply(can_apply);
    a.set_apply_note(if can_apply {
        "".into()
    } else {
        lang.pick(
            "这件事不能在村里网上申请，请带齐上面的材料到办理地点办理。可以先打印材料清单。",
            "This cannot be applied for here; bring the materials above to the office. Print the checklist first.",
        )
        .into()
    });
}
