//! Generated catalogues for benchmarks and tests: complete, valid items built from a vocabulary
//! of real village-level service names, so a 10,000-item catalogue looks like a county's.
//!
//! Never used by the kiosk at run time (demo mode uses `demo`); deterministic, no I/O.

use super::model::*;

/// A complete, valid item with the given code, name and category.
pub fn sample_item(code: &str, name: &str, category: Category) -> ServiceItem {
    ServiceItem {
        code: code.to_string(),
        name: name.to_string(),
        short_name: None,
        aliases: Vec::new(),
        item_type: ItemType::PublicService,
        department: "示范县人力资源和社会保障局".into(),
        implementing_body: "示范县社会保险事业管理中心".into(),
        legal_basis: vec!["《中华人民共和国社会保险法》第二十条".into()],
        applicants: "本县户籍居民".into(),
        conditions: vec!["本县户籍".into(), "年满16周岁".into()],
        materials: vec![Material {
            name: "居民身份证".into(),
            required: true,
            copies: 1,
            form: MaterialForm::OriginalShown,
            source: "公安机关".into(),
            notes: String::new(),
        }],
        steps: vec![
            ProcessStep {
                name: "受理".into(),
                actor: "村便民服务站".into(),
                description: "核对身份，受理申请".into(),
                time_limit_days: 0,
            },
            ProcessStep {
                name: "办结".into(),
                actor: "县社会保险事业管理中心".into(),
                description: "审核通过后办结，短信告知结果".into(),
                time_limit_days: 3,
            },
        ],
        legal_time_limit_days: 5,
        promised_time_limit_days: 3,
        case_kind: CaseKind::Committed,
        fee: Fee {
            charged: false,
            description: "不收费".into(),
        },
        locations: vec![Location {
            name: "各村（社区）便民服务站".into(),
            address: "本村村委会一楼".into(),
            hours: "周一至周五 上午8:30-12:00 下午14:30-17:30（法定节假日除外）".into(),
        }],
        consult_phone: "12333".into(),
        complaint_phone: "12345".into(),
        trips_to_hall: 0,
        faq: vec![Faq {
            question: "可以请家人代办吗？".into(),
            answer: "可以，代办人需携带本人和申请人的身份证。".into(),
        }],
        category,
        life_events: vec!["退休养老".into()],
        village_online: true,
        result: "办理结果通知".into(),
        form: vec![
            FormField {
                key: "name".into(),
                label: "申请人姓名".into(),
                kind: FieldKind::Text { max_chars: 30 },
                required: true,
                hint: String::new(),
                card_fill: Some(CardField::Name),
            },
            FormField {
                key: "id_number".into(),
                label: "公民身份号码".into(),
                kind: FieldKind::IdNumber,
                required: true,
                hint: String::new(),
                card_fill: Some(CardField::IdNumber),
            },
            FormField {
                key: "phone".into(),
                label: "联系电话".into(),
                kind: FieldKind::Phone,
                required: true,
                hint: "请填写本人常用手机号码".into(),
                card_fill: None,
            },
        ],
        eligibility: Vec::new(),
        translations: Default::default(),
    }
}

const SUBJECTS: &[&str] = &[
    "城乡居民基本养老保险",
    "城乡居民基本医疗保险",
    "最低生活保障",
    "特困人员救助供养",
    "临时救助",
    "高龄津贴",
    "残疾人证",
    "困难残疾人生活补贴",
    "重度残疾人护理补贴",
    "生育登记",
    "再生育",
    "农村部分计划生育家庭奖励扶助金",
    "法律援助",
    "人民调解",
    "农村宅基地和建房",
    "耕地地力保护补贴",
    "退役军人优待证",
    "定期抚恤补助",
    "就业失业登记",
    "社会保障卡",
    "异地就医",
    "医疗救助",
    "失业保险金",
    "孤儿基本生活保障",
    "银行代发养老金",
    "重点优抚对象",
    "长期护理保险",
    "农机购置补贴",
];

const ACTIONS: &[&str] = &[
    "参保登记",
    "申请",
    "待遇申领",
    "资格认证",
    "变更登记",
    "暂停",
    "恢复",
    "注销",
    "补办",
    "挂失",
    "备案",
    "信息查询",
];

const PLACES: &[&str] = &[
    "",
    "",
    "",
    "（城关镇）",
    "（东关村）",
    "（第二批）",
    "（2026年度）",
    "（线上）",
];

const EVENTS: &[&str] = &[
    "退休养老",
    "生育",
    "残疾",
    "困难救助",
    "就业创业",
    "就医",
    "建房",
    "务农",
    "退役",
    "法律纠纷",
];

/// A catalogue of `n` complete items whose names combine real subjects and actions (with
/// polyphonic characters such as 银行, 重, 长), spread over every category.
pub fn generated_catalog(n: usize) -> Catalog {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let subject = SUBJECTS[i % SUBJECTS.len()];
        let action = ACTIONS[(i / SUBJECTS.len()) % ACTIONS.len()];
        let place = PLACES[(i / (SUBJECTS.len() * ACTIONS.len())) % PLACES.len()];
        let round = i / (SUBJECTS.len() * ACTIONS.len() * PLACES.len());
        let suffix = if round == 0 {
            String::new()
        } else {
            format!("（{}）", round + 1)
        };
        let category = Category::ALL[i % Category::ALL.len()];
        let mut item = sample_item(
            &format!("GEN-{i:05}"),
            &format!("{subject}{action}{place}{suffix}"),
            category,
        );
        item.short_name = Some(format!("{subject}{action}"));
        item.aliases = vec![format!(
            "{}{action}",
            subject.chars().take(2).collect::<String>()
        )];
        item.life_events = vec![EVENTS[i % EVENTS.len()].to_string()];
        item.conditions.push(format!(
            "申请{subject}{action}须本人或委托代理人到村便民服务站提出，材料齐全"
        ));
        items.push(item);
    }
    Catalog {
        county: "示范县".into(),
        version: 1,
        items,
    }
}
