//! What is spoken (语音播报的内容): the words for each page's 「听」 button and for each key
//! moment, in plain Mandarin (and English for the English UI).
//!
//! The UI describes the page on screen as a [`PageView`]; [`listen_text`] and [`moment_text`]
//! turn it into [`Utterance`]s. Personal data is typed: a page's personal values (name, ID
//! number, phone, answers) are [`Personal`], which has no way out as text except
//! [`Personal::reveal`], and that needs an [`OwnReading`], which only
//! [`super::queue::SpeechQueue::listen`] creates when the villager pressed 「听」 on their own
//! confirmation page. Key moments never carry personal data. Pure: no I/O, no clock.

use std::fmt;

use zeroize::Zeroizing;

use crate::catalog::{CaseKind, ServiceItem};

/// The language spoken: the UI's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Mandarin (普通话), espeak-ng voice `cmn`.
    #[default]
    Zh,
    /// English, espeak-ng voice `en`.
    En,
}

impl Lang {
    /// From the UI's language tag (`zh-CN`, `en`); anything else is Mandarin.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.eq_ignore_ascii_case("en") || tag.to_ascii_lowercase().starts_with("en-") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    fn pick(self, zh: impl Into<String>, en: impl Into<String>) -> String {
        match self {
            Lang::Zh => zh.into(),
            Lang::En => en.into(),
        }
    }
}

/// Text that may be heard by anyone near the kiosk: the kiosk's own wording, catalogue text,
/// and messages that carry no personal data (field problems, eligibility reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicText(String);

impl PublicText {
    /// Declares `text` public. Never wrap a card field or an answer in this: use [`Personal`].
    pub fn new(text: impl Into<String>) -> PublicText {
        PublicText(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PublicText {
    fn from(s: &str) -> Self {
        PublicText::new(s)
    }
}

/// A personal value on a page (姓名, 身份证号, 电话, an answer). Zeroised on drop; its
/// `Debug` shows nothing; spoken only through [`Personal::reveal`].
#[derive(Clone, PartialEq, Eq)]
pub struct Personal(Zeroizing<String>);

impl Personal {
    pub fn new(value: impl Into<String>) -> Personal {
        Personal(Zeroizing::new(value.into()))
    }

    /// The value, for reading the villager's own confirmation page to them.
    pub fn reveal(&self, _asked: &OwnReading) -> &str {
        &self.0
    }
}

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Personal(**)")
    }
}

/// Proof that the villager pressed 「听」 on their own confirmation page. Only this crate's
/// speech queue makes one; nothing else can, so nothing else can speak a [`Personal`].
#[derive(Debug)]
pub struct OwnReading {
    _private: (),
}

impl OwnReading {
    pub(super) fn granted() -> OwnReading {
        OwnReading { _private: () }
    }
}

/// The page on screen, with what its 「听」 reads. The UI builds one per page it shows.
#[derive(Debug, Clone, PartialEq)]
pub enum PageView {
    /// 待机页.
    Idle,
    /// 首页: browse by category or life event, search, check progress.
    Home,
    /// 搜索事项.
    Search,
    /// A list of items (a category, a life event, search results).
    ItemList { title: PublicText, count: usize },
    /// 办事指南 of one item.
    Guide(GuideSummary),
    /// The item's conditions are clearly not met (eligibility before the form): the reasons
    /// and the items offered instead. Reasons name the rule, never the villager's data.
    NotEligible {
        item_name: PublicText,
        reasons: Vec<PublicText>,
        advice: PublicText,
    },
    /// 请放身份证. `agent` is set while the helper (帮办人) places their own card first.
    Card { item_name: PublicText, agent: bool },
    /// 请放身份证 to see one's own cases (查询我的办件进度).
    CasesCard,
    /// 填写申请: the labels still to fill and the problems shown.
    Form {
        item_name: PublicText,
        to_fill: Vec<PublicText>,
        problems: Vec<PublicText>,
    },
    /// 请核对将要发送的信息: the answers, personal.
    Confirm {
        item_name: PublicText,
        answers: Vec<(PublicText, Personal)>,
    },
    /// 已提交: `receipt_printed` once the receipt is out.
    Submitted {
        item_name: PublicText,
        receipt_printed: bool,
    },
    /// 评价服务.
    Evaluation,
    /// 我的办件进度 (also 办件提醒 when a card is placed). Which cases and their states are
    /// personal: not spoken.
    Cases,
    /// 帮办员模式: the maintenance PIN, then the coordinator's own card.
    Coordinator,
    /// 维护界面 and its PIN page: for technicians.
    Maintenance,
}

/// What the 「听」 button of a guide reads: public catalogue text only.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideSummary {
    pub name: PublicText,
    pub applicants: PublicText,
    pub required_materials: Vec<PublicText>,
    pub immediate: bool,
    pub promised_days: u32,
    pub village_online: bool,
    pub where_to_go: Option<PublicText>,
}

impl GuideSummary {
    /// The summary of an item as shown (pass the translated item in the English UI).
    pub fn of(item: &ServiceItem) -> GuideSummary {
        GuideSummary {
            name: PublicText::new(&item.name),
            applicants: PublicText::new(&item.applicants),
            required_materials: item
                .materials
                .iter()
                .filter(|m| m.required)
                .map(|m| PublicText::new(&m.name))
                .collect(),
            immediate: item.case_kind == CaseKind::Immediate,
            promised_days: item.promised_time_limit_days,
            village_online: item.village_online,
            where_to_go: item.locations.first().map(|l| PublicText::new(&l.name)),
        }
    }
}

/// Key moments spoken by themselves when voice is on (关键提示).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moment {
    /// The card page opened: 请把身份证放在读卡区.
    PlaceCard,
    /// The helper's (帮办人) card was read; now the applicant's card.
    PlaceApplicantCard,
    /// The card was read and accepted.
    CardRead,
    /// The card could not be used; `reason` is `CardRejection::message_zh()` (no personal data).
    CardRejected { reason: PublicText },
    /// The application was accepted (已受理).
    Submitted,
    /// The receipt is printed: take it.
    TakeReceipt,
    /// The visit ends soon for inactivity.
    InactivityWarning { seconds_left: u32 },
}

/// One thing to say, as handed to the speech engine.
#[derive(Clone, PartialEq, Eq)]
pub struct Utterance {
    /// The words. May contain personal data only when `personal` is true.
    pub text: Zeroizing<String>,
    pub lang: Lang,
    /// True only for the villager's own confirmation page read at their request.
    pub personal: bool,
}

impl Utterance {
    fn public(lang: Lang, text: String) -> Utterance {
        Utterance {
            text: Zeroizing::new(text),
            lang,
            personal: false,
        }
    }
}

impl fmt::Debug for Utterance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.personal {
            write!(
                f,
                "Utterance(personal, {} chars)",
                self.text.chars().count()
            )
        } else {
            write!(f, "Utterance({:?})", self.text.as_str())
        }
    }
}

/// What 「听」 reads on `page`: its main text and what to do next. `own` is present only when
/// the villager asked for their own confirmation page (see [`OwnReading`]).
pub fn listen_text(page: &PageView, lang: Lang, own: Option<&OwnReading>) -> Utterance {
    let text = match page {
        PageView::Idle => lang.pick(
            "欢迎使用便民服务自助终端。请点屏幕开始办事；想查办件进度，请把身份证放在读卡区。",
            "Welcome to the self-service terminal. Touch the screen to start; to check your cases, place your ID card on the reader.",
        ),
        PageView::Home => lang.pick(
            "请选择要办的事。可以按类别找，按人生大事找，也可以搜索事项。想查办件进度，请点查询我的办件进度。",
            "Choose what you need: by category, by life event, or search. To check your cases, touch Check my cases.",
        ),
        PageView::Search => lang.pick(
            "请输入要办的事，可以输入拼音或首字母，例如输入 y l 找养老。",
            "Type what you need, in pinyin or initials, for example y l for pensions.",
        ),
        PageView::ItemList { title, count } => lang.pick(
            format!("{}，共有{count}项。请点您要办的事项。", title.as_str()),
            format!("{}: {count} services. Touch the one you need.", title.as_str()),
        ),
        PageView::Guide(g) => guide_text(g, lang),
        PageView::NotEligible {
            item_name,
            reasons,
            advice,
        } => {
            let reasons: Vec<&str> = reasons.iter().map(PublicText::as_str).collect();
            lang.pick(
                format!(
                    "{}：{}{}",
                    item_name.as_str(),
                    reasons.join(""),
                    advice.as_str()
                ),
                format!(
                    "{}: {} {}",
                    item_name.as_str(),
                    reasons.join(" "),
                    advice.as_str()
                ),
            )
        }
        PageView::Card { item_name, agent } => {
            if *agent {
                lang.pick(
                    format!(
                        "正在为别人代办{}。请帮办人先把自己的身份证放在读卡区。",
                        item_name.as_str()
                    ),
                    format!(
                        "Applying for someone else: {}. The helper first places their own ID card on the reader.",
                        item_name.as_str()
                    ),
                )
            } else {
                lang.pick(
                    format!(
                        "申请{}。请把身份证放在读卡区，办完之前请不要拿走。",
                        item_name.as_str()
                    ),
                    format!(
                        "Applying for {}. Place your ID card on the reader and leave it there until you finish.",
                        item_name.as_str()
                    ),
                )
            }
        }
        PageView::CasesCard => lang.pick(
            "查询我的办件进度。请把身份证放在读卡区。",
            "Check your cases: place your ID card on the reader.",
        ),
        PageView::Form {
            item_name,
            to_fill,
            problems,
        } => {
            let fill: Vec<&str> = to_fill.iter().map(PublicText::as_str).collect();
            let problems: Vec<&str> = problems.iter().map(PublicText::as_str).collect();
            let mut zh = format!("填写{}的申请。", item_name.as_str());
            let mut en = format!("Application for {}. ", item_name.as_str());
            if !problems.is_empty() {
                zh.push_str(&format!("请改正：{}。", problems.join("；")));
                en.push_str(&format!("Please correct: {}. ", problems.join("; ")));
            }
            if fill.is_empty() {
                zh.push_str("都填好了，请点下一步：核对信息。");
                en.push_str("All filled in: touch Next: check.");
            } else {
                zh.push_str(&format!("还要填写：{}。", fill.join("、")));
                en.push_str(&format!("Still to fill in: {}.", fill.join(", ")));
            }
            lang.pick(zh, en)
        }
        PageView::Confirm { item_name, answers } => match own {
            Some(own) => {
                let read: Vec<String> = answers
                    .iter()
                    .map(|(label, value)| format!("{}，{}", label.as_str(), value.reveal(own)))
                    .collect();
                let text = lang.pick(
                    format!(
                        "请核对{}的申请。{}。没有问题，请勾选同意后点确认提交；要改，请点返回修改。",
                        item_name.as_str(),
                        read.join("；")
                    ),
                    format!(
                        "Check your application for {}. {}. If it is right, tick the consent and touch Submit; to change it, touch Back.",
                        item_name.as_str(),
                        read.join("; ")
                    ),
                );
                return Utterance {
                    text: Zeroizing::new(text),
                    lang,
                    personal: true,
                };
            }
            None => lang.pick(
                format!(
                    "请核对{}的申请信息，信息显示在屏幕上。没有问题，请勾选同意后点确认提交；要改，请点返回修改。",
                    item_name.as_str()
                ),
                format!(
                    "Check your application for {} on the screen. If it is right, tick the consent and touch Submit; to change it, touch Back.",
                    item_name.as_str()
                ),
            ),
        },
        PageView::Submitted {
            item_name,
            receipt_printed,
        } => {
            let (zh, en) = if *receipt_printed {
                (
                    "回执已打印，请从出纸口取走并保管好。",
                    "Your receipt is printed: take it from the slot and keep it.",
                )
            } else {
                ("正在打印回执，请稍候。", "Printing your receipt, please wait.")
            };
            lang.pick(
                format!(
                    "{}的申请已提交。{zh}办完了，请拿走身份证。",
                    item_name.as_str()
                ),
                format!(
                    "Your application for {} is submitted. {en} When you are done, take your ID card.",
                    item_name.as_str()
                ),
            )
        }
        PageView::Evaluation => lang.pick(
            "您对这次办事满意吗？请点一个评价。评价是自愿的，不评价也可以。",
            "Were you satisfied with this service? Touch one rating. Rating is voluntary; you may skip it.",
        ),
        PageView::Cases => lang.pick(
            "您的办件进度显示在屏幕上。看完了，请拿走身份证。",
            "Your cases are shown on the screen. When you are done, take your ID card.",
        ),
        PageView::Maintenance => lang.pick(
            "这是维护界面，只供技术人员使用。",
            "This is the maintenance screen, for technicians only.",
        ),
        PageView::Coordinator => lang.pick(
            "村帮办员模式。请输入维护密码，然后把您自己的身份证放在读卡区。",
            "Village coordinator mode. Type the maintenance PIN, then place your own ID card on the reader.",
        ),
    };
    Utterance::public(lang, text)
}

fn guide_text(g: &GuideSummary, lang: Lang) -> String {
    let materials: Vec<&str> = g
        .required_materials
        .iter()
        .map(PublicText::as_str)
        .collect();
    let mut zh = format!("{}。办理对象：{}。", g.name.as_str(), g.applicants.as_str());
    let mut en = format!(
        "{}. Who may apply: {}. ",
        g.name.as_str(),
        g.applicants.as_str()
    );
    if !materials.is_empty() {
        zh.push_str(&format!("需要带：{}。", materials.join("、")));
        en.push_str(&format!("Bring: {}. ", materials.join(", ")));
    }
    if g.immediate {
        zh.push_str("当场办结。");
        en.push_str("Decided on the spot. ");
    } else {
        zh.push_str(&format!("{}个工作日内办结。", g.promised_days));
        en.push_str(&format!(
            "Decided within {} working days. ",
            g.promised_days
        ));
    }
    if g.village_online {
        zh.push_str("可以在这里申请，请点我要申请。");
        en.push_str("You can apply here: touch Apply.");
    } else {
        let place = g.where_to_go.as_ref().map(PublicText::as_str).unwrap_or("");
        zh.push_str(&format!("这件事不能在这里申请，请到{place}办理。"));
        en.push_str(&format!("You cannot apply here; go to {place}."));
    }
    lang.pick(zh, en)
}

/// What is said by itself at a key moment. Never personal.
pub fn moment_text(moment: &Moment, lang: Lang) -> Utterance {
    let text = match moment {
        Moment::PlaceCard => lang.pick(
            "请把身份证放在读卡区。",
            "Please place your ID card on the reader.",
        ),
        Moment::PlaceApplicantCard => lang.pick(
            "帮办人的身份证已读取。请拿走，再放申请人的身份证。",
            "The helper's card was read. Take it away and place the applicant's ID card.",
        ),
        Moment::CardRead => lang.pick(
            "身份证已读取，办完之前请不要拿走。",
            "Your card was read. Leave it on the reader until you finish.",
        ),
        Moment::CardRejected { reason } => lang.pick(
            format!("这张证件不能使用。{}", reason.as_str()),
            format!("This card cannot be used. {}", reason.as_str()),
        ),
        Moment::Submitted => lang.pick(
            "申请已提交，正在打印回执。",
            "Your application is submitted; printing your receipt.",
        ),
        Moment::TakeReceipt => lang.pick(
            "回执已打印，请从出纸口取走。",
            "Please take your receipt from the slot.",
        ),
        Moment::InactivityWarning { seconds_left } => lang.pick(
            format!("您还在吗？{seconds_left}秒后将返回首页，信息会被清除。请点屏幕继续。"),
            format!(
                "Are you still there? In {seconds_left} seconds the screen returns home and your details are cleared. Touch the screen to go on."
            ),
        ),
    };
    Utterance::public(lang, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::demo::demo_catalog_ref;

    fn item(code: &str) -> &'static ServiceItem {
        demo_catalog_ref()
            .items
            .iter()
            .find(|i| i.code == code)
            .expect("demo item")
    }

    #[test]
    fn every_page_says_what_to_do_next() {
        let pages = [
            (PageView::Idle, "请点屏幕开始办事"),
            (PageView::Home, "按类别找"),
            (PageView::Search, "拼音"),
            (
                PageView::ItemList {
                    title: "民政".into(),
                    count: 8,
                },
                "民政，共有8项。请点您要办的事项。",
            ),
            (
                PageView::Guide(GuideSummary::of(item("MZ-004"))),
                "请点我要申请",
            ),
            (
                PageView::Card {
                    item_name: "高龄津贴申领".into(),
                    agent: false,
                },
                "申请高龄津贴申领。请把身份证放在读卡区",
            ),
            (
                PageView::Card {
                    item_name: "高龄津贴申领".into(),
                    agent: true,
                },
                "请帮办人先把自己的身份证放在读卡区",
            ),
            (
                PageView::Form {
                    item_name: "高龄津贴申领".into(),
                    to_fill: vec!["联系电话".into(), "银行账号".into()],
                    problems: vec!["卡号有误，请逐位核对".into()],
                },
                "请改正：卡号有误，请逐位核对。还要填写：联系电话、银行账号。",
            ),
            (
                PageView::Submitted {
                    item_name: "高龄津贴申领".into(),
                    receipt_printed: true,
                },
                "回执已打印，请从出纸口取走并保管好。",
            ),
            (
                PageView::CasesCard,
                "查询我的办件进度。请把身份证放在读卡区。",
            ),
            (PageView::Evaluation, "不评价也可以"),
            (PageView::Cases, "您的办件进度显示在屏幕上"),
            (PageView::Coordinator, "请输入维护密码"),
        ];
        for (page, expected) in pages {
            let u = listen_text(&page, Lang::Zh, None);
            assert!(u.text.contains(expected), "{page:?}: {:?}", u.text.as_str());
            assert!(!u.personal);
            let en = listen_text(&page, Lang::En, None);
            assert_eq!(en.lang, Lang::En);
            assert_ne!(en.text, u.text, "{page:?}: no English");
        }
    }

    #[test]
    fn a_guide_reads_who_what_to_bring_and_how_long() {
        let u = listen_text(
            &PageView::Guide(GuideSummary::of(item("MZ-004"))),
            Lang::Zh,
            None,
        );
        let g = item("MZ-004");
        assert!(
            u.text
                .starts_with(&format!("{}。办理对象：{}。", g.name, g.applicants))
        );
        assert!(u.text.contains("需要带："), "{:?}", u.text.as_str());
        assert!(
            u.text
                .contains(&format!("{}个工作日内办结", g.promised_time_limit_days))
        );
        // Not online at the village: where to go instead of 我要申请.
        let marriage = item("MZ-008");
        let u = listen_text(&PageView::Guide(GuideSummary::of(marriage)), Lang::Zh, None);
        assert!(
            u.text.contains("这件事不能在这里申请，请到"),
            "{:?}",
            u.text.as_str()
        );
        assert!(!u.text.contains("我要申请"));
    }

    #[test]
    fn the_confirmation_page_is_read_with_answers_only_when_asked() {
        let page = PageView::Confirm {
            item_name: "高龄津贴申领".into(),
            answers: vec![
                ("姓名".into(), Personal::new("张三")),
                ("联系电话".into(), Personal::new("13800138000")),
            ],
        };
        let plain = listen_text(&page, Lang::Zh, None);
        assert!(!plain.personal);
        assert!(!plain.text.contains("张三") && !plain.text.contains("13800138000"));
        assert!(plain.text.contains("请勾选同意后点确认提交"));
        let own = listen_text(&page, Lang::Zh, Some(&OwnReading::granted()));
        assert!(own.personal);
        assert!(
            own.text.contains("姓名，张三；联系电话，13800138000"),
            "{:?}",
            own.text.as_str()
        );
        // Neither Debug shows the values.
        assert!(!format!("{page:?}{own:?}").contains("张三"));
    }

    #[test]
    fn moments() {
        assert_eq!(
            moment_text(&Moment::PlaceCard, Lang::Zh).text.as_str(),
            "请把身份证放在读卡区。"
        );
        assert_eq!(
            moment_text(&Moment::TakeReceipt, Lang::Zh).text.as_str(),
            "回执已打印，请从出纸口取走。"
        );
        assert!(
            moment_text(&Moment::InactivityWarning { seconds_left: 15 }, Lang::Zh)
                .text
                .contains("15秒后将返回首页")
        );
        assert_eq!(
            moment_text(&Moment::CardRead, Lang::En).text.as_str(),
            "Your card was read. Leave it on the reader until you finish."
        );
        assert_eq!(Lang::from_tag("en"), Lang::En);
        assert_eq!(Lang::from_tag("zh-CN"), Lang::Zh);
    }
}
