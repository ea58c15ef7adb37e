//! Eligibility before the form (受理条件预检): the machine-checkable conditions an item declares
//! ([`Condition`]: age, household region, card kind), checked against what the ID card says.
//!
//! [`check`] is pure (the card's facts and `today` are passed in) and returns a [`Verdict`]:
//! the villager fits, a condition is clearly not met (say why in plain Chinese and what to do
//! instead, before any typing), or the card cannot decide (let them go on; the staff check).
//! [`catalog_problems`] is the completeness rule for declared conditions, called from
//! [`super::validate`]. No I/O, no clock; a verdict carries no personal data (no birth date, no
//! ID number), so its messages may be shown on screen.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

use super::model::{Catalog, Condition, ServiceItem};
use crate::idcard::{CardKind, IdCard};

/// What the conditions need from the card: its kind, the birth date and the region code.
/// Personal: held only while checking; its `Debug` shows nothing personal.
#[derive(Clone, PartialEq, Eq)]
pub struct CardFacts {
    pub kind: CardKind,
    pub birth_date: NaiveDate,
    /// The first six digits of a resident's ID number (行政区划代码, GB/T 2260); `None` for
    /// permits, whose numbers carry no household region.
    pub region_code: Option<String>,
}

impl CardFacts {
    /// The facts of a validated card.
    pub fn from_card(card: &IdCard) -> CardFacts {
        let region_code = match card.kind {
            CardKind::Resident => card
                .id_number
                .get(..6)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned),
            CardKind::HkMacaoTaiwanPermit | CardKind::ForeignPermanentResident => None,
        };
        CardFacts {
            kind: card.kind,
            birth_date: card.birth_date,
            region_code,
        }
    }
}

impl std::fmt::Debug for CardFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardFacts")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every declared condition is met (or none is declared).
    Fits,
    /// No condition is clearly unmet, but the card cannot decide these (e.g. an ID number from
    /// another county: the household may have moved in since). Go on; the staff check.
    Unclear(Vec<Finding>),
    /// At least one condition is clearly not met: explain before the form. Only the unmet ones.
    NotMet(Vec<Finding>),
}

/// One condition that is not (or not clearly) met, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub condition: Condition,
    pub reason: Reason,
}

/// Why a condition is not met. Carries the rule, never the villager's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Younger than `min` full years.
    TooYoung { min: u32 },
    /// Older than `max` full years.
    TooOld { max: u32 },
    /// The ID number's region code is outside the region (clear only as "unclear": see
    /// [`Verdict::Unclear`]).
    OtherRegion { region: String },
    /// A permit: the card says nothing about the household region.
    RegionNotOnCard { region: String },
    /// The card is not one of the kinds the item accepts.
    CardKindNotAccepted { kinds: Vec<CardKind> },
}

impl Reason {
    /// The sentence on screen, plain Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Reason::TooYoung { min } => {
                format!("本事项要求年满{min}周岁，按身份证上的出生日期，您还没有满{min}周岁。")
            }
            Reason::TooOld { max } => {
                format!(
                    "本事项只受理{max}周岁及以下的人员，按身份证上的出生日期，您已超过{max}周岁。"
                )
            }
            Reason::OtherRegion { region } => format!(
                "本事项要求具有{region}户籍。您的身份证号码不是{region}的编码；如果户口已经迁入{region}，可以继续申请，工作人员会核实。"
            ),
            Reason::RegionNotOnCard { region } => {
                format!("本事项要求具有{region}户籍，您的证件上没有户籍信息，工作人员会另行核实。")
            }
            Reason::CardKindNotAccepted { kinds } => format!(
                "本事项只能用{}申请。",
                kinds
                    .iter()
                    .map(|k| card_kind_zh(*k))
                    .collect::<Vec<_>>()
                    .join("或")
            ),
        }
    }

    /// The same for the English UI.
    pub fn message_en(&self) -> String {
        match self {
            Reason::TooYoung { min } => format!(
                "This service is for people aged {min} and over; by the birth date on your card you are not yet {min}."
            ),
            Reason::TooOld { max } => format!(
                "This service is for people aged {max} and under; by the birth date on your card you are over {max}."
            ),
            Reason::OtherRegion { region } => format!(
                "This service needs a household registration in {region}. Your ID number is not from {region}; if your household has moved here, go on and the staff will check."
            ),
            Reason::RegionNotOnCard { region } => format!(
                "This service needs a household registration in {region}; your card does not show it, the staff will check."
            ),
            Reason::CardKindNotAccepted { kinds } => format!(
                "This service accepts only {}.",
                kinds
                    .iter()
                    .map(|k| card_kind_en(*k))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

/// 居民身份证, … as villagers call them.
pub fn card_kind_zh(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Resident => "居民身份证",
        CardKind::HkMacaoTaiwanPermit => "港澳台居民居住证",
        CardKind::ForeignPermanentResident => "外国人永久居留身份证",
    }
}

fn card_kind_en(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Resident => "a resident ID card",
        CardKind::HkMacaoTaiwanPermit => {
            "a residence permit for Hong Kong, Macao and Taiwan residents"
        }
        CardKind::ForeignPermanentResident => "a foreigner's permanent residence card",
    }
}

/// Age in full years (周岁) on `today`. Someone born on 29 February turns a year older on
/// 1 March in a common year.
pub fn age_on(birth_date: NaiveDate, today: NaiveDate) -> Option<u32> {
    if today < birth_date {
        return None;
    }
    let mut years = today.year() - birth_date.year();
    if (today.month(), today.day()) < (birth_date.month(), birth_date.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Checks every condition against the card's facts on `today`.
pub fn check(conditions: &[Condition], facts: &CardFacts, today: NaiveDate) -> Verdict {
    let mut not_met = Vec::new();
    let mut unclear = Vec::new();
    for condition in conditions {
        let finding = |reason| Finding {
            condition: condition.clone(),
            reason,
        };
        match condition {
            Condition::Age { min, max, .. } => {
                // A birth date after today cannot pass validation; treat it as undecidable.
                let Some(age) = age_on(facts.birth_date, today) else {
                    continue;
                };
                if let Some(min) = *min
                    && age < min
                {
                    not_met.push(finding(Reason::TooYoung { min }));
                } else if let Some(max) = *max
                    && age > max
                {
                    not_met.push(finding(Reason::TooOld { max }));
                }
            }
            Condition::Region { prefixes, name, .. } => match &facts.region_code {
                Some(code) if prefixes.iter().any(|p| code.starts_with(p.as_str())) => {}
                Some(_) => unclear.push(finding(Reason::OtherRegion {
                    region: name.clone(),
                })),
                None => unclear.push(finding(Reason::RegionNotOnCard {
                    region: name.clone(),
                })),
            },
            Condition::CardKind { kinds, .. } => {
                if !kinds.contains(&facts.kind) {
                    not_met.push(finding(Reason::CardKindNotAccepted {
                        kinds: kinds.clone(),
                    }));
                }
            }
        }
    }
    if !not_met.is_empty() {
        Verdict::NotMet(not_met)
    } else if !unclear.is_empty() {
        Verdict::Unclear(unclear)
    } else {
        Verdict::Fits
    }
}

/// What to do instead of an item whose conditions are not met: the items its unmet conditions
/// name (nearest first) that this card does not clearly fail, and where to ask otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice<'c> {
    /// Items to apply for instead, nearest first; empty: ask the coordinator.
    pub instead: Vec<&'c ServiceItem>,
    /// The item's 咨询电话.
    pub consult_phone: String,
}

impl<'c> Advice<'c> {
    /// The advice for `item` given its verdict.
    pub fn for_verdict(
        item: &ServiceItem,
        verdict: &Verdict,
        catalog: &'c [ServiceItem],
        facts: &CardFacts,
        today: NaiveDate,
    ) -> Advice<'c> {
        let mut seen = HashSet::new();
        let mut instead = Vec::new();
        if let Verdict::NotMet(findings) = verdict {
            for code in findings.iter().flat_map(|f| f.condition.instead()) {
                if !seen.insert(code.as_str()) {
                    continue;
                }
                if let Some(other) = catalog.iter().find(|i| &i.code == code)
                    && !matches!(check(&other.eligibility, facts, today), Verdict::NotMet(_))
                {
                    instead.push(other);
                }
            }
        }
        Advice {
            instead,
            consult_phone: item.consult_phone.clone(),
        }
    }

    /// What to do, plain Chinese.
    pub fn message_zh(&self) -> String {
        if self.instead.is_empty() {
            format!(
                "如有疑问，请找村里的帮办员，或拨打咨询电话{}。",
                self.consult_phone
            )
        } else {
            let names: Vec<&str> = self.instead.iter().map(|i| i.name.as_str()).collect();
            format!(
                "您可以改办：{}。如有疑问，请找村里的帮办员。",
                names.join("、")
            )
        }
    }

    /// What to do, English (item names from their English guide when there is one).
    pub fn message_en(&self) -> String {
        if self.instead.is_empty() {
            format!(
                "If in doubt, ask the village coordinator or call {}.",
                self.consult_phone
            )
        } else {
            let names: Vec<String> = self
                .instead
                .iter()
                .map(|i| i.translated("en").name.clone())
                .collect();
            format!(
                "You may apply for {} instead. If in doubt, ask the village coordinator.",
                names.join(", ")
            )
        }
    }
}

/// Every problem in the conditions the catalogue's items declare (English, naming the item
/// and the element, like the other completeness rules).
pub fn catalog_problems(catalog: &Catalog) -> Vec<String> {
    let codes: HashSet<&str> = catalog.items.iter().map(|i| i.code.as_str()).collect();
    let mut problems = Vec::new();
    for item in &catalog.items {
        for (n, condition) in item.eligibility.iter().enumerate() {
            let at = format!("{}: eligibility[{n}]", item.code);
            match condition {
                Condition::Age { min, max, .. } => match (min, max) {
                    (None, None) => {
                        problems.push(format!("{at}: an age condition sets neither min nor max"))
                    }
                    (Some(min), Some(max)) if min > max => {
                        problems.push(format!("{at}: min age {min} is above max age {max}"))
                    }
                    _ => {
                        if min.max(max).is_some_and(|a| a > 150) {
                            problems.push(format!("{at}: an age above 150 cannot be meant"));
                        }
                    }
                },
                Condition::Region { prefixes, name, .. } => {
                    if prefixes.is_empty() {
                        problems.push(format!("{at}: a region condition lists no prefixes"));
                    }
                    for p in prefixes {
                        if ![2, 4, 6].contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                            problems.push(format!(
                                "{at}: region prefix \"{p}\" is not 2, 4 or 6 digits of a GB/T 2260 code"
                            ));
                        }
                    }
                    if name.trim().is_empty() {
                        problems.push(format!(
                            "{at}: a region condition needs the region's name (e.g. 示范县)"
                        ));
                    }
                }
                Condition::CardKind { kinds, .. } => {
                    if kinds.is_empty() {
                        problems.push(format!("{at}: a card kind condition lists no kinds"));
                    }
                    if kinds
                        .iter()
                        .enumerate()
                        .any(|(i, k)| kinds[..i].contains(k))
                    {
                        problems.push(format!("{at}: a card kind is listed twice"));
                    }
                }
            }
            for code in condition.instead() {
                if code == &item.code {
                    problems.push(format!("{at}: instead names the item itself"));
                } else if !codes.contains(code.as_str()) {
                    problems.push(format!(
                        "{at}: instead names \"{code}\", which is not in the catalogue"
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::demo::demo_catalog_ref;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn resident(born: NaiveDate, region: &str) -> CardFacts {
        CardFacts {
            kind: CardKind::Resident,
            birth_date: born,
            region_code: Some(region.into()),
        }
    }

    fn demo(code: &str) -> &'static ServiceItem {
        demo_catalog_ref()
            .items
            .iter()
            .find(|i| i.code == code)
            .expect("demo item")
    }

    #[test]
    fn age_is_counted_in_full_years() {
        assert_eq!(age_on(ymd(1946, 12, 2), ymd(2026, 12, 2)), Some(80));
        assert_eq!(age_on(ymd(1946, 12, 3), ymd(2026, 12, 2)), Some(79));
        assert_eq!(age_on(ymd(1948, 2, 29), ymd(2027, 2, 28)), Some(78));
        assert_eq!(age_on(ymd(1948, 2, 29), ymd(2027, 3, 1)), Some(79));
        assert_eq!(age_on(ymd(2030, 1, 1), ymd(2026, 1, 1)), None);
    }

    #[test]
    fn the_old_age_allowance_turns_away_a_26_year_old_with_what_to_do() {
        let item = demo("MZ-004");
        let today = ymd(2026, 12, 2);
        let young = resident(ymd(2000, 5, 1), "340524");
        let verdict = check(&item.eligibility, &young, today);
        let Verdict::NotMet(findings) = &verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].reason, Reason::TooYoung { min: 80 });
        assert_eq!(
            findings[0].reason.message_zh(),
            "本事项要求年满80周岁，按身份证上的出生日期，您还没有满80周岁。"
        );
        let advice = Advice::for_verdict(item, &verdict, &demo_catalog_ref().items, &young, today);
        // 26: no old-age item fits, so the coordinator is named.
        assert!(advice.instead.is_empty(), "{:?}", advice.instead);
        assert!(
            advice.message_zh().contains("帮办员"),
            "{}",
            advice.message_zh()
        );

        // 66: the 60+ pension fits and is offered instead.
        let sixty_six = resident(ymd(1960, 1, 1), "340524");
        let verdict = check(&item.eligibility, &sixty_six, today);
        assert!(matches!(verdict, Verdict::NotMet(_)), "{verdict:?}");
        let advice =
            Advice::for_verdict(item, &verdict, &demo_catalog_ref().items, &sixty_six, today);
        let codes: Vec<&str> = advice.instead.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["MZ-005", "SB-002"]);
        assert!(
            advice.message_zh().starts_with(
                "您可以改办：经济困难的高龄、失能老年人补贴申请、城乡居民基本养老保险待遇申领。"
            ),
            "{}",
            advice.message_zh()
        );
        assert!(advice.message_en().contains("instead"));

        // 80 today: fits.
        let eighty = resident(ymd(1946, 12, 2), "340524");
        assert_eq!(check(&item.eligibility, &eighty, today), Verdict::Fits);
    }

    #[test]
    fn a_region_code_from_elsewhere_is_unclear_not_refused() {
        let conditions = vec![Condition::Region {
            prefixes: vec!["340524".into()],
            name: "示范县".into(),
            instead: vec![],
        }];
        let today = ymd(2026, 12, 2);
        assert_eq!(
            check(&conditions, &resident(ymd(1940, 1, 1), "340524"), today),
            Verdict::Fits
        );
        let moved_in = check(&conditions, &resident(ymd(1940, 1, 1), "410329"), today);
        let Verdict::Unclear(f) = &moved_in else {
            panic!("{moved_in:?}")
        };
        assert!(f[0].reason.message_zh().contains("如果户口已经迁入示范县"));
        let permit = CardFacts {
            kind: CardKind::HkMacaoTaiwanPermit,
            birth_date: ymd(1990, 3, 15),
            region_code: None,
        };
        assert!(matches!(
            check(&conditions, &permit, today),
            Verdict::Unclear(_)
        ));
    }

    #[test]
    fn card_kind_and_max_age() {
        let conditions = vec![
            Condition::CardKind {
                kinds: vec![CardKind::Resident],
                instead: vec![],
            },
            Condition::Age {
                min: None,
                max: Some(6),
                instead: vec![],
            },
        ];
        let today = ymd(2026, 12, 2);
        let permit = CardFacts {
            kind: CardKind::ForeignPermanentResident,
            birth_date: ymd(2022, 1, 1),
            region_code: None,
        };
        assert_eq!(
            check(&conditions, &permit, today),
            Verdict::NotMet(vec![Finding {
                condition: conditions[0].clone(),
                reason: Reason::CardKindNotAccepted {
                    kinds: vec![CardKind::Resident]
                }
            }])
        );
        let seven = resident(ymd(2019, 1, 1), "340524");
        let Verdict::NotMet(f) = check(&conditions, &seven, today) else {
            panic!()
        };
        assert_eq!(f[0].reason, Reason::TooOld { max: 6 });
        assert_eq!(
            Reason::CardKindNotAccepted {
                kinds: vec![CardKind::Resident]
            }
            .message_zh(),
            "本事项只能用居民身份证申请。"
        );
    }

    #[cfg(feature = "demo")]
    #[test]
    fn facts_come_from_the_card_without_showing_it() {
        let card = crate::sim::idcard::SimCard::demo_resident().to_id_card();
        let facts = CardFacts::from_card(&card);
        assert_eq!(facts.region_code.as_deref(), Some("340524"));
        assert_eq!(facts.birth_date, ymd(1960, 1, 1));
        assert!(!format!("{facts:?}").contains("1960"));
    }

    #[test]
    fn declared_conditions_are_validated() {
        let mut catalog = crate::catalog::demo::demo_catalog();
        assert_eq!(catalog_problems(&catalog), Vec::<String>::new());
        let item = &mut catalog.items[0];
        item.eligibility = vec![
            Condition::Age {
                min: Some(80),
                max: Some(60),
                instead: vec!["NO-SUCH".into()],
            },
            Condition::Age {
                min: None,
                max: None,
                instead: vec![],
            },
            Condition::Region {
                prefixes: vec!["34052".into()],
                name: " ".into(),
                instead: vec![item.code.clone()],
            },
            Condition::CardKind {
                kinds: vec![],
                instead: vec![],
            },
        ];
        let problems = catalog_problems(&catalog);
        for expected in [
            "eligibility[0]: min age 80 is above max age 60",
            "eligibility[0]: instead names \"NO-SUCH\"",
            "eligibility[1]: an age condition sets neither",
            "eligibility[2]: region prefix \"34052\"",
            "eligibility[2]: a region condition needs the region's name",
            "eligibility[2]: instead names the item itself",
            "eligibility[3]: a card kind condition lists no kinds",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:?}"
            );
        }
        // And the catalogue-wide check (signing, importing) reports them too.
        let all = crate::catalog::validate::catalog_problems(&catalog);
        assert!(all.iter().any(|p| p.contains("eligibility[3]")), "{all:?}");
    }

    #[test]
    fn older_catalogues_without_conditions_still_parse_and_round_trip() {
        let item = demo("SB-004");
        assert!(item.eligibility.is_empty());
        let json = serde_json::to_string(item).expect("serialise");
        assert!(!json.contains("eligibility"));
        let back: ServiceItem = serde_json::from_str(&json).expect("parse");
        assert_eq!(&back, item);
        let declared = serde_json::to_value(&demo("MZ-004").eligibility).expect("serialise");
        assert_eq!(declared[1]["kind"], "age");
        assert_eq!(declared[1]["min"], 80);
    }
}
