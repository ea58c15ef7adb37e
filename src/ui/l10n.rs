//! The two UI languages. Texts in `.slint` files use `@tr` with bundled translations
//! (`translations/en/LC_MESSAGES/village-kiosk.po`); texts the Rust controllers compose pick
//! their language here. Catalogue content is shown in the item's published translation
//! ([`crate::catalog::translation`]) when it has one, else in Chinese.

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    En,
}

impl From<crate::config::UiLanguage> for Lang {
    fn from(l: crate::config::UiLanguage) -> Lang {
        match l {
            crate::config::UiLanguage::ZhCn => Lang::Zh,
            crate::config::UiLanguage::En => Lang::En,
        }
    }
}

impl Lang {
    /// From the config's `ui.language` ("zh-CN" or "en").
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "zh-CN" | "zh" | "zh_CN" => Some(Lang::Zh),
            "en" | "en-US" | "en_US" => Some(Lang::En),
            _ => None,
        }
    }

    /// The tag the adapters and the config use.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The bundled translation to select (the source strings are Chinese).
    pub fn bundle(self) -> &'static str {
        match self {
            Lang::Zh => "",
            Lang::En => "en",
        }
    }

    pub fn pick(self, zh: impl Into<String>, en: impl Into<String>) -> String {
        match self {
            Lang::Zh => zh.into(),
            Lang::En => en.into(),
        }
    }
}

/// English for the life events (一件事) the home screen lists; the same names as the demo
/// catalogue's English guides. Others stay Chinese.
pub fn life_event_en(zh: &str) -> Option<&'static str> {
    Some(match zh {
        "退休养老" => "Retirement and old age",
        "生育收养" | "生育" | "生育服务" => "Having or adopting a child",
        "就医看病" | "医疗" | "看病就医" => "Seeing a doctor",
        "残疾人服务" | "残疾" => "Living with a disability",
        "困难救助" | "社会救助" => "Hardship and assistance",
        "就业创业" | "就业" => "Work and starting a business",
        "农业生产" | "农业" => "Farming",
        "婚姻家庭" | "婚姻" | "结婚" => "Marriage and family",
        "法律服务" | "法律援助" => "Legal help and disputes",
        "军人退役" | "退役" | "退役军人" => "Leaving the military",
        "身后事" | "殡葬" => "After a death",
        "教育" | "上学" => "Going to school",
        "户籍" => "Household registration",
        "住房" | "建房" => "Building a house",
        _ => return None,
    })
}

/// "N 个工作日" / "N working days": the one place a time limit in working days is worded
/// (callers word zero, "on the spot", as fits their sentence).
pub fn working_days(n: u32, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{n} 个工作日"),
        Lang::En => format!("{n} working days"),
    }
}

/// An instant as the kiosk's local date and time (2026-03-01 09:30).
pub fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// An instant as the kiosk's local date (2026-03-01).
pub fn local_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d")
        .to_string()
}

/// 帮办代办: who applied for whom, in the UI language, both names masked (the Chinese is the
/// receipt's line, `printer::receipt::agent_line`). The one wording of the confirmation page,
/// the submitted page and the receipt.
pub fn agent_line(agent: &crate::county::wire::Agent, applicant_name: &str, lang: Lang) -> String {
    use crate::pii::Masked;
    match lang {
        Lang::Zh => crate::printer::receipt::agent_line(agent, applicant_name),
        Lang::En => format!(
            "{} ({}) applies for {}",
            Masked::name(&agent.name_masked),
            agent.relationship.label_en(),
            Masked::name(applicant_name)
        ),
    }
}

/// A county case status (办件状态) in the UI language.
pub fn case_status(s: crate::county::wire::CaseStatus, lang: Lang) -> String {
    use crate::county::wire::CaseStatus;
    match lang {
        Lang::Zh => s.label_zh().to_owned(),
        Lang::En => match s {
            CaseStatus::Received => "Received",
            CaseStatus::Accepted => "Accepted",
            CaseStatus::InReview => "Under review",
            CaseStatus::Approved => "Approved",
            CaseStatus::Rejected => "Not approved",
            CaseStatus::ReadyForCollection => "Ready for collection",
            CaseStatus::Collected => "Collected",
        }
        .to_owned(),
    }
}

/// One row of a result list (search, a category, a life event) in the UI language.
/// An item's name in the UI language, from the Chinese name the county recorded: the
/// catalogue knows its translation (an item no longer in the catalogue keeps the recorded name).
pub fn recorded_item_name(
    catalogue: &dyn crate::station::ports::Catalogue,
    recorded: &str,
    lang: Lang,
) -> String {
    if lang == Lang::Zh {
        return recorded.to_owned();
    }
    catalogue
        .search(recorded, 5)
        .into_iter()
        .find(|i| i.name == recorded)
        .map(|i| i.translated(lang.tag()).name.clone())
        .unwrap_or_else(|| recorded.to_owned())
}

pub fn item_summary(item: &crate::catalog::ServiceItem, lang: Lang) -> super::ItemSummary {
    let days = if item.promised_time_limit_days == 0 {
        lang.pick("即办", "same day")
    } else {
        working_days(item.promised_time_limit_days, lang)
    };
    let shown = item.translated(lang.tag());
    super::ItemSummary {
        code: item.code.clone().into(),
        name: shown.name.as_str().into(),
        detail: format!("{} · {}", shown.department, days).into(),
        online: item.village_online && !item.form.is_empty(),
    }
}
