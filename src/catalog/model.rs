//! The catalogue model: a service item (政务服务事项) with every element of its guide
//! (办事指南) and the form an application needs.
//!
//! Field names here are the JSON shape of catalogue bundles and of `data/demo-catalog.json`.
//! Pure data: no I/O, no clock.

use serde::{Deserialize, Serialize};

/// 政务服务事项: one service item of the county's catalogue, with its complete guide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceItem {
    /// 事项编码 (GB/T 39554.1 style), unique in the catalogue, e.g. "SB-001".
    pub code: String,
    /// 事项名称, e.g. 城乡居民基本养老保险参保登记.
    pub name: String,
    /// 简称: the short name villagers say (e.g. 居民养老保险参保).
    #[serde(default)]
    pub short_name: Option<String>,
    /// 别名: other names people search by (e.g. 农村养老保险, 新农保).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// 事项类型.
    pub item_type: ItemType,
    /// 主管部门: the responsible department, e.g. 县人力资源和社会保障局.
    pub department: String,
    /// 实施机关: the body that decides, e.g. 县社会保险事业管理中心.
    pub implementing_body: String,
    /// 设定依据: laws and rules, one entry each, with article numbers.
    pub legal_basis: Vec<String>,
    /// 服务对象: who may apply.
    pub applicants: String,
    /// 受理条件 (and prohibitions): one condition each.
    pub conditions: Vec<String>,
    /// 申请材料.
    pub materials: Vec<Material>,
    /// 办理流程: steps in order.
    pub steps: Vec<ProcessStep>,
    /// 法定办结时限, working days (0 for immediate items).
    pub legal_time_limit_days: u32,
    /// 承诺办结时限, working days (0 for immediate items); never more than the legal limit.
    pub promised_time_limit_days: u32,
    /// 即办件 or 承诺件.
    pub case_kind: CaseKind,
    /// 收费标准.
    pub fee: Fee,
    /// 办理地点 and 办理时间: where to go and when, including where results are collected.
    pub locations: Vec<Location>,
    /// 咨询电话.
    pub consult_phone: String,
    /// 监督投诉电话.
    pub complaint_phone: String,
    /// 到现场次数: trips to a hall the applicant still has to make (0 for fully online).
    pub trips_to_hall: u8,
    /// 常见问题.
    #[serde(default)]
    pub faq: Vec<Faq>,
    /// 事项分类 (by department theme).
    pub category: Category,
    /// 生命周期/主题: life events the item belongs to, e.g. 退休养老, 生育, 残疾, 困难救助.
    #[serde(default)]
    pub life_events: Vec<String>,
    /// 村级可网上受理: whether the village point may accept an application on the terminal.
    pub village_online: bool,
    /// 结果物: what the applicant receives (e.g. 参保登记信息, 残疾人证).
    pub result: String,
    /// 申请表: the fields an application needs; empty when `village_online` is false.
    #[serde(default)]
    pub form: Vec<FormField>,
    /// 可机读的受理条件: the conditions the kiosk can check from the card before the form (age,
    /// household region, card kind); checked by [`super::eligibility::check`]. Absent in older
    /// catalogues: nothing is checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligibility: Vec<Condition>,
    /// 多语言: the guide in the kiosk's other UI languages, by language tag (`en`); see
    /// [`super::translation`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub translations: std::collections::BTreeMap<String, super::translation::ItemText>,
}

/// 事项类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemType {
    /// 行政许可
    #[serde(rename = "行政许可")]
    Licence,
    /// 行政确认
    #[serde(rename = "行政确认")]
    Confirmation,
    /// 行政裁决
    #[serde(rename = "行政裁决")]
    Adjudication,
    /// 行政给付
    #[serde(rename = "行政给付")]
    Benefit,
    /// 行政奖励
    #[serde(rename = "行政奖励")]
    Reward,
    /// 行政备案
    #[serde(rename = "行政备案")]
    Filing,
    /// 其他行政权力
    #[serde(rename = "其他行政权力")]
    OtherPower,
    /// 公共服务
    #[serde(rename = "公共服务")]
    PublicService,
}

/// 事项分类: the themes villagers browse by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    #[serde(rename = "社保")]
    SocialInsurance,
    #[serde(rename = "医保")]
    MedicalInsurance,
    #[serde(rename = "民政")]
    CivilAffairs,
    #[serde(rename = "残联")]
    Disability,
    #[serde(rename = "卫健")]
    Health,
    #[serde(rename = "司法")]
    Justice,
    #[serde(rename = "农业农村")]
    Agriculture,
    #[serde(rename = "退役军人")]
    Veterans,
    #[serde(rename = "就业")]
    Employment,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::SocialInsurance,
        Category::MedicalInsurance,
        Category::CivilAffairs,
        Category::Disability,
        Category::Health,
        Category::Justice,
        Category::Agriculture,
        Category::Veterans,
        Category::Employment,
    ];

    /// The Chinese label, as in the catalogue file.
    pub fn label_zh(self) -> &'static str {
        match self {
            Category::SocialInsurance => "社保",
            Category::MedicalInsurance => "医保",
            Category::CivilAffairs => "民政",
            Category::Disability => "残联",
            Category::Health => "卫健",
            Category::Justice => "司法",
            Category::Agriculture => "农业农村",
            Category::Veterans => "退役军人",
            Category::Employment => "就业",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Category::SocialInsurance => "Social insurance",
            Category::MedicalInsurance => "Medical insurance",
            Category::CivilAffairs => "Civil affairs",
            Category::Disability => "Disability",
            Category::Health => "Health",
            Category::Justice => "Legal aid",
            Category::Agriculture => "Agriculture",
            Category::Veterans => "Veterans",
            Category::Employment => "Employment",
        }
    }

    /// Parses the Chinese label or the English variant name (case-insensitive).
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        Category::ALL.into_iter().find(|c| {
            c.label_zh() == s
                || format!("{c:?}").eq_ignore_ascii_case(s)
                || c.label_en().eq_ignore_ascii_case(s)
        })
    }
}

/// 即办件 (decided on the spot) or 承诺件 (decided within the promised time limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaseKind {
    #[serde(rename = "即办件")]
    Immediate,
    #[serde(rename = "承诺件")]
    Committed,
}

/// 申请材料: one row of the materials list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// 材料名称.
    pub name: String,
    /// 必要性: required, or only in the cases `notes` names.
    pub required: bool,
    /// 份数.
    pub copies: u32,
    /// 原件/复印件.
    pub form: MaterialForm,
    /// 材料来源, e.g. 申请人自备, 公安机关, 县残联.
    pub source: String,
    /// 填报须知/审查要点; empty when there is nothing to add.
    #[serde(default)]
    pub notes: String,
}

/// Whether the original, a copy, or both are handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaterialForm {
    #[serde(rename = "原件")]
    Original,
    #[serde(rename = "复印件")]
    Copy,
    #[serde(rename = "原件和复印件")]
    OriginalAndCopy,
    /// 原件核验: shown at the window and handed back.
    #[serde(rename = "原件核验")]
    OriginalShown,
    /// 电子证照: fetched by the county; nothing to bring.
    #[serde(rename = "电子证照")]
    Electronic,
}

impl MaterialForm {
    pub fn label_zh(self) -> &'static str {
        match self {
            MaterialForm::Original => "原件",
            MaterialForm::Copy => "复印件",
            MaterialForm::OriginalAndCopy => "原件和复印件",
            MaterialForm::OriginalShown => "原件核验",
            MaterialForm::Electronic => "电子证照",
        }
    }
}

/// 办理流程: one step, with its own time limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessStep {
    /// 环节名称, e.g. 受理, 审核, 公示, 审批, 办结.
    pub name: String,
    /// Who does it, e.g. 村便民服务站, 乡镇便民服务中心, 县民政局.
    pub actor: String,
    /// What happens.
    pub description: String,
    /// 环节时限 in working days; 0 for on the spot.
    pub time_limit_days: u32,
}

/// 收费标准.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// 是否收费.
    pub charged: bool,
    /// 收费说明: "不收费" or the standard and its basis.
    pub description: String,
}

/// 办理地点/办理时间.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// e.g. 各村（社区）便民服务站, 县政务服务中心二楼社保窗口.
    pub name: String,
    pub address: String,
    /// e.g. 周一至周五 上午8:30-12:00 下午14:30-17:30（法定节假日除外）.
    pub hours: String,
}

/// 常见问题.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

/// One field of an application form (申请表).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// Stable key, ASCII snake_case, e.g. `phone`, `bank_account`.
    pub key: String,
    /// The label shown to the villager, e.g. 联系电话.
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    /// A plain-Chinese hint under the field, e.g. 请填写本人常用手机号码.
    #[serde(default)]
    pub hint: String,
    /// Which ID card field fills this one, if any.
    #[serde(default)]
    pub card_fill: Option<CardField>,
}

/// The type of a form field and its validation rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// Free text up to `max_chars` characters.
    Text { max_chars: u32 },
    /// 中国大陆手机号 (11 digits starting with 1) or a fixed line with area code.
    Phone,
    /// A whole number in `min..=max`, with an optional unit (人, 亩, 元).
    Number {
        min: i64,
        max: i64,
        #[serde(default)]
        unit: String,
    },
    /// A date (YYYY-MM-DD).
    Date,
    /// One of the options.
    Choice { options: Vec<String> },
    /// 公民身份号码 checked by GB 11643.
    IdNumber,
    /// 银行卡号/社保卡金融账号: 12-19 digits, Luhn-checked.
    BankAccount,
}

/// ID card fields that can pre-fill a form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardField {
    Name,
    Sex,
    Nation,
    BirthDate,
    Address,
    IdNumber,
}

/// 受理条件 (machine-checkable): one condition of an item that the card alone decides.
///
/// `instead` names the items (by code, nearest first) a villager who does not meet the
/// condition may apply for instead; empty means "ask the coordinator".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// 年龄: age in full years (周岁) on the day of application, from the card's birth date.
    /// `min` and `max` are inclusive; at least one is set.
    Age {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        instead: Vec<String>,
    },
    /// 户籍地: the ID number's administrative division code (GB/T 2260) starts with one of
    /// `prefixes` (2, 4 or 6 digits); `name` is the region as villagers say it (示范县).
    Region {
        prefixes: Vec<String>,
        name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        instead: Vec<String>,
    },
    /// 证件类型: the card must be one of `kinds`.
    CardKind {
        kinds: Vec<crate::idcard::CardKind>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        instead: Vec<String>,
    },
}

impl Condition {
    /// The items suggested instead, nearest first.
    pub fn instead(&self) -> &[String] {
        match self {
            Condition::Age { instead, .. }
            | Condition::Region { instead, .. }
            | Condition::CardKind { instead, .. } => instead,
        }
    }
}

/// The whole catalogue as the county publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The publishing county, e.g. 示范县.
    pub county: String,
    /// Monotonic catalogue version chosen by the county.
    pub version: u64,
    pub items: Vec<ServiceItem>,
}
