//! Printed layouts: the application receipt (受理回执), the one-time notice checklist of what to
//! bring (一次性告知单) for any catalogue item, and the technician's test page.
//!
//! Templates produce a [`PrintJob`]; the encoder fits it to 58 mm or 80 mm paper. The
//! applicant's name is printed only masked (张*国). Pure: no I/O, the time is passed in.

use chrono::NaiveDateTime;

use super::job::{Align, PrintJob, TextStyle};
use super::profile::{CutMode, PrinterProfile, QrMode};
use crate::catalog::{CaseKind, MaterialForm, ServiceItem};
use crate::county::wire::Agent;
use crate::pii::Masked;

/// What goes on a 受理回执.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationReceipt {
    /// 便民服务站名称.
    pub station_name: String,
    /// 事项名称.
    pub item_name: String,
    /// 申请人 (printed masked).
    pub applicant_name: String,
    /// Local receipt number (受理编号).
    pub receipt_no: String,
    /// 提交时间 (local time).
    pub submitted_at: NaiveDateTime,
    /// County case number (办件编号) once the county has it; `None` prints 待上传.
    pub case_number: Option<String>,
    /// 承诺办结时限, working days (0: decided on the spot).
    pub promised_days: u32,
    /// Where to collect the result (结果领取).
    pub collect_at: String,
    /// Materials still to bring (须携带材料).
    pub materials_to_bring: Vec<String>,
    /// Progress page, printed as a QR code; empty while the county has not issued one (the
    /// application waits for upload): then a line says where to check instead.
    pub progress_url: String,
    /// 监督投诉电话.
    pub complaint_phone: String,
}

fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn limit_text(days: u32) -> String {
    if days == 0 {
        "即办（当场办结）".into()
    } else {
        format!("{days}个工作日")
    }
}

/// The receipt a villager takes home after submitting.
pub fn application_receipt(r: &ApplicationReceipt) -> PrintJob {
    application_receipt_with_agent(r, None)
}

/// The receipt of an application a helper filed (帮办代办): under 申请人 it says
/// 「代办人 李*国（子女）为 王*明申请」, both names masked.
pub fn application_receipt_with_agent(r: &ApplicationReceipt, agent: Option<&Agent>) -> PrintJob {
    let mut job = PrintJob::new();
    job.title("受理回执");
    job.styled(r.station_name.as_str(), TextStyle::centered());
    job.double_rule();
    job.field("办理事项", r.item_name.as_str());
    job.field("申请人", Masked::name(&r.applicant_name).to_string());
    if let Some(agent) = agent {
        job.text(agent_line(agent, &r.applicant_name));
    }
    job.field("受理编号", r.receipt_no.as_str());
    job.field("提交时间", time(r.submitted_at));
    job.field(
        "办件编号",
        r.case_number
            .clone()
            .unwrap_or_else(|| "待上传（联网后自动上报县级）".into()),
    );
    job.field("承诺时限", limit_text(r.promised_days));
    job.field("结果领取", r.collect_at.as_str());
    if !r.materials_to_bring.is_empty() {
        job.rule();
        job.styled("请携带以下材料：", TextStyle::bold());
        for (i, m) in r.materials_to_bring.iter().enumerate() {
            job.item(&format!("{}.", i + 1), m);
        }
    }
    job.rule();
    if r.progress_url.is_empty() {
        job.text("上传到县里后，可在本站自助终端刷身份证「查询我的办件」查看办理进度。");
    } else {
        job.qr(r.progress_url.as_str());
        job.styled("手机扫码查询办理进度", TextStyle::centered());
    }
    job.rule();
    job.field("监督投诉电话", r.complaint_phone.as_str());
    job.text("请妥善保管本回执，凭回执查询和领取结果。");
    job
}

/// 「代办人 李*国（子女）为 王*明申请」: who applied for whom, both names masked (the agent's
/// name is masked again, so an unmasked value could not reach paper).
pub fn agent_line(agent: &Agent, applicant_name: &str) -> String {
    format!(
        "代办人 {}（{}）为 {}申请",
        Masked::name(&agent.name_masked),
        agent.relationship.label_zh(),
        Masked::name(applicant_name)
    )
}

/// A receipt with made-up data, for previews, tests and the test page.
pub fn sample_receipt() -> ApplicationReceipt {
    ApplicationReceipt {
        station_name: "示范县城关镇东关村便民服务站".into(),
        item_name: "城乡居民基本养老保险参保登记".into(),
        applicant_name: "张建国".into(),
        receipt_no: "DEMO-0001-20261128-0007".into(),
        submitted_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .unwrap_or_default(),
        case_number: None,
        promised_days: 15,
        collect_at: "东关村便民服务站（周一至周五 8:30-17:30）".into(),
        materials_to_bring: vec!["居民身份证原件".into(), "户口簿原件及复印件1份".into()],
        progress_url: "https://county.example.gov.cn/p/DEMO-0001-20261128-0007".into(),
        complaint_phone: "12345".into(),
    }
}

fn material_line(form: MaterialForm, copies: u32) -> String {
    match form {
        MaterialForm::Electronic => "电子证照，无需提交".into(),
        MaterialForm::OriginalShown => "原件（核验后退还）".into(),
        MaterialForm::Original => format!("原件{copies}份"),
        MaterialForm::Copy => format!("复印件{copies}份"),
        MaterialForm::OriginalAndCopy => format!("原件和复印件各{copies}份"),
    }
}

const NUMBERS: [&str; 8] = ["一", "二", "三", "四", "五", "六", "七", "八"];

/// 一次性告知单: everything to bring and know for `item`, printed from any guide.
pub fn checklist(item: &ServiceItem, station_name: &str, printed_at: NaiveDateTime) -> PrintJob {
    let mut job = PrintJob::new();
    let mut section = 0;
    let mut heading = |job: &mut PrintJob, title: &str| {
        let n = NUMBERS.get(section).copied().unwrap_or("");
        section += 1;
        job.styled(format!("{n}、{title}"), TextStyle::bold());
    };
    job.title("一次性告知单");
    job.styled(
        item.name.as_str(),
        TextStyle {
            align: Align::Center,
            bold: true,
            ..TextStyle::default()
        },
    );
    job.styled(format!("事项编码：{}", item.code), TextStyle::centered());
    job.double_rule();

    heading(&mut job, "申请材料");
    if item.materials.is_empty() {
        job.text("无需提交材料");
    }
    for (i, m) in item.materials.iter().enumerate() {
        let need = if m.required {
            ""
        } else {
            "（特定情形提供）"
        };
        job.item(&format!("{}.", i + 1), &format!("{}{need}", m.name));
        job.item(
            "  ",
            &format!("{}；来源：{}", material_line(m.form, m.copies), m.source),
        );
        if !m.notes.is_empty() {
            job.item("  ", &m.notes);
        }
    }
    job.rule();

    if !item.conditions.is_empty() {
        heading(&mut job, "受理条件");
        for (i, c) in item.conditions.iter().enumerate() {
            job.item(&format!("{}.", i + 1), c);
        }
        job.rule();
    }

    heading(&mut job, "办理时限");
    match item.case_kind {
        CaseKind::Immediate => job.text("即办件，材料齐全当场办结"),
        CaseKind::Committed => job.text(format!(
            "承诺件：承诺{}，法定{}",
            limit_text(item.promised_time_limit_days),
            limit_text(item.legal_time_limit_days)
        )),
    };
    job.field("收费", item.fee.description.as_str());
    job.field("到现场次数", format!("{}次", item.trips_to_hall));
    job.rule();

    heading(&mut job, "办理地点和时间");
    for loc in &item.locations {
        job.styled(loc.name.as_str(), TextStyle::bold());
        job.field("地址", loc.address.as_str());
        job.field("时间", loc.hours.as_str());
    }
    job.rule();

    heading(&mut job, "咨询和投诉");
    job.field("咨询电话", item.consult_phone.as_str());
    job.field("监督投诉电话", item.complaint_phone.as_str());
    job.double_rule();
    job.styled(station_name, TextStyle::centered());
    job.styled(
        format!("打印时间：{}", time(printed_at)),
        TextStyle::centered(),
    );
    job
}

/// The technician's test page: profile, ruler, styles, Chinese, substitutions, a glyph image
/// and a QR code, so one printout shows whether the printer and its profile match.
pub fn test_page(profile: &PrinterProfile, printed_at: NaiveDateTime) -> PrintJob {
    let mut job = PrintJob::new();
    job.title("打印机测试页");
    job.styled("PRINTER TEST PAGE", TextStyle::centered());
    job.double_rule();
    job.field("型号配置", profile.name.as_str());
    job.field(
        "纸宽",
        format!(
            "{} mm / {} dots / {} cols",
            profile.paper_width_mm,
            profile.dots_per_line,
            profile.columns()
        ),
    );
    job.field(
        "串口",
        format!("{} baud, {}", profile.baud, profile.flow_control.name()),
    );
    job.field(
        "二维码",
        match profile.qr {
            QrMode::Native => "原生 GS ( k",
            QrMode::Raster => "光栅图 GS v 0",
        },
    );
    job.field(
        "切纸",
        match profile.cut {
            CutMode::Full => "全切",
            CutMode::Partial => "半切",
            CutMode::None => "无切刀（撕纸）",
        },
    );
    job.field("时间", time(printed_at));
    job.rule();
    let ruler: String = (1..=profile.columns())
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    job.text(ruler);
    job.text("中".repeat(profile.columns() / 2));
    job.rule();
    job.styled("左对齐 Left", TextStyle::default());
    job.styled("居中 Center", TextStyle::centered());
    job.styled(
        "右对齐 Right",
        TextStyle {
            align: Align::Right,
            ..TextStyle::default()
        },
    );
    job.styled("加粗 Bold", TextStyle::bold());
    job.styled(
        "倍高 2H",
        TextStyle {
            height: 2,
            ..TextStyle::default()
        },
    );
    job.styled(
        "倍宽 2W",
        TextStyle {
            width: 2,
            ..TextStyle::default()
        },
    );
    job.rule();
    job.text("中文：一次告知，最多跑一次。");
    job.text("替换：¥12.50 印为 ￥12.50，€ 印为 EUR");
    job.text("生僻字（图像）：欧阳䶮");
    job.rule();
    job.qr("https://county.example.gov.cn/test");
    job.styled(
        "扫码应得 https://county.example.gov.cn/test",
        TextStyle::centered(),
    );
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_masks_the_name_and_marks_a_queued_case() {
        let job = application_receipt(&sample_receipt());
        let text = job.plain_text();
        assert!(text.contains("张*国"));
        assert!(!text.contains("张建国"));
        assert!(text.contains("待上传"));
        assert!(text.contains("15个工作日"));
        let mut r = sample_receipt();
        r.case_number = Some("410329-2026-000123".into());
        let text = application_receipt(&r).plain_text();
        assert!(text.contains("410329-2026-000123") && !text.contains("待上传"));
    }

    #[test]
    fn a_receipt_without_a_progress_page_prints_no_qr_code_but_says_where_to_check() {
        let mut r = sample_receipt();
        r.progress_url = String::new();
        let job = application_receipt(&r);
        let text = job.plain_text();
        assert!(text.contains("查询我的办件"), "{text}");
        assert!(!text.contains("扫码"));
        for profile in ["generic-58mm", "gb2312-58mm-tearbar", "generic-80mm"] {
            let profile = PrinterProfile::builtin(profile).expect("profile");
            super::super::escpos::encode_job(&job, &profile).expect("encodes");
        }
        let with_page = application_receipt(&sample_receipt()).plain_text();
        assert!(with_page.contains("手机扫码查询办理进度") && !with_page.contains("查询我的办件"));
    }

    #[test]
    fn a_helpers_receipt_says_who_applied_for_whom() {
        use crate::county::wire::AgentRelationship;
        let r = sample_receipt();
        let agent = Agent::masked("李秀英", "340524197508200021", AgentRelationship::Child);
        let job = application_receipt_with_agent(&r, Some(&agent));
        let text = job.plain_text();
        assert!(text.contains("代办人 李*英（子女）为 张*国申请"), "{text}");
        assert!(!text.contains("李秀英") && !text.contains("张建国"));
        // Right under the applicant.
        let applicant = text.find("张*国").expect("applicant line");
        let line = text.find("代办人").expect("agent line");
        assert!(line > applicant && !text[applicant..line].contains("受理编号"));
        // Without an agent, no such line.
        assert!(!application_receipt(&r).plain_text().contains("代办人"));
        // Even an agent built with a clear name prints masked; every character prints on
        // the narrowest paper.
        let clear = Agent {
            name_masked: "王大明".into(),
            ..agent
        };
        assert!(agent_line(&clear, "张建国").starts_with("代办人 王*明（子女）"));
        for profile in ["generic-58mm", "gb2312-58mm-tearbar", "generic-80mm"] {
            let profile = PrinterProfile::builtin(profile).expect("profile");
            super::super::escpos::encode_job(
                &application_receipt_with_agent(&r, Some(&clear)),
                &profile,
            )
            .expect("encodes");
        }
    }
}
