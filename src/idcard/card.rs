//! The card as the rest of the kiosk sees it: a validated [`IdCard`] of one of three kinds.
//!
//! Decoding of the SAM's 256-byte UCS-2 text block ([`IdCard::decode`]), its inverse
//! ([`IdCard::encode_text_block`], used by the simulator and round-trip tests), validation
//! ([`IdCard::validate`]: GB 11643 check digit, birth date, sex parity, expiry on a `today` the
//! caller passes in) and the GB/T 3304 nation table ([`NATIONS`]).
//!
//! Sans-IO: no clock, no port. Personal data: an `IdCard` is zeroised on drop and its `Debug`
//! masks every personal field; a [`CardRejection`] never carries personal data. Never log a
//! field directly; use [`crate::pii::Masked`].

use chrono::{Datelike, NaiveDate};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::protocol::TEXT_BLOCK_LEN;

/// The three kinds of card a second-generation reader returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// 居民身份证.
    Resident,
    /// 港澳台居民居住证 (type J).
    HkMacaoTaiwanPermit,
    /// 外国人永久居留身份证 (type I, old format; or Y, 2023 format).
    ForeignPermanentResident,
}

/// 性别 code (GB/T 2261.1): 0 unknown, 1 male, 2 female, 9 not stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Unknown,
    Male,
    Female,
    NotStated,
}

impl Sex {
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Unknown => "未知",
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::NotStated => "未说明",
        }
    }

    /// The one-character code on the card.
    pub fn code(self) -> char {
        match self {
            Sex::Unknown => '0',
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::NotStated => '9',
        }
    }

    pub fn from_code(code: &str) -> Option<Sex> {
        match code {
            "0" => Some(Sex::Unknown),
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            "9" => Some(Sex::NotStated),
            _ => None,
        }
    }
}

/// A card read from the reader and validated. Only valid cards are used for applications.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct IdCard {
    #[zeroize(skip)]
    pub kind: CardKind,
    /// 姓名 (the Chinese name; for type I the Chinese name when present).
    pub name: String,
    /// English name (type I/Y only).
    pub english_name: Option<String>,
    #[zeroize(skip)]
    pub sex: Sex,
    /// 民族 code (GB/T 3304), e.g. "01"; None for permits.
    pub nation_code: Option<String>,
    /// 民族 name, e.g. 汉; None for permits.
    pub nation: Option<String>,
    /// Nationality, ISO 3166 alpha-3 (type I/Y only).
    pub nationality: Option<String>,
    #[zeroize(skip)]
    pub birth_date: NaiveDate,
    /// 住址; None for type I/Y.
    pub address: Option<String>,
    /// 公民身份号码 or permit number.
    pub id_number: String,
    /// 签发机关 (or issuing authority code for type I).
    pub issuer: String,
    #[zeroize(skip)]
    pub valid_from: NaiveDate,
    /// None means 长期 (no expiry).
    #[zeroize(skip)]
    pub valid_until: Option<NaiveDate>,
    /// 通行证号码 (type J).
    pub pass_number: Option<String>,
    /// 签发次数 (type J).
    pub issue_count: Option<u32>,
    /// WLT photo bytes, opaque (only vendor libraries decode them).
    pub photo: Vec<u8>,
}

impl std::fmt::Debug for IdCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::pii::Masked;
        f.debug_struct("IdCard")
            .field("kind", &self.kind)
            .field("name", &Masked::name(&self.name))
            .field("id_number", &Masked::id_number(&self.id_number))
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

/// 民族 (GB/T 3304-1991): code and name as printed on the card. 25 is 水 and 46 is 德昂: some
/// public tables omit 水 and shift the rest, or misspell 德昂.
pub const NATIONS: [(&str, &str); 58] = [
    ("01", "汉"),
    ("02", "蒙古"),
    ("03", "回"),
    ("04", "藏"),
    ("05", "维吾尔"),
    ("06", "苗"),
    ("07", "彝"),
    ("08", "壮"),
    ("09", "布依"),
    ("10", "朝鲜"),
    ("11", "满"),
    ("12", "侗"),
    ("13", "瑶"),
    ("14", "白"),
    ("15", "土家"),
    ("16", "哈尼"),
    ("17", "哈萨克"),
    ("18", "傣"),
    ("19", "黎"),
    ("20", "傈僳"),
    ("21", "佤"),
    ("22", "畲"),
    ("23", "高山"),
    ("24", "拉祜"),
    ("25", "水"),
    ("26", "东乡"),
    ("27", "纳西"),
    ("28", "景颇"),
    ("29", "柯尔克孜"),
    ("30", "土"),
    ("31", "达斡尔"),
    ("32", "仫佬"),
    ("33", "羌"),
    ("34", "布朗"),
    ("35", "撒拉"),
    ("36", "毛南"),
    ("37", "仡佬"),
    ("38", "锡伯"),
    ("39", "阿昌"),
    ("40", "普米"),
    ("41", "塔吉克"),
    ("42", "怒"),
    ("43", "乌孜别克"),
    ("44", "俄罗斯"),
    ("45", "鄂温克"),
    ("46", "德昂"),
    ("47", "保安"),
    ("48", "裕固"),
    ("49", "京"),
    ("50", "塔塔尔"),
    ("51", "独龙"),
    ("52", "鄂伦春"),
    ("53", "赫哲"),
    ("54", "门巴"),
    ("55", "珞巴"),
    ("56", "基诺"),
    ("97", "其他"),
    ("98", "外国血统中国籍人士"),
];

/// The name of a GB/T 3304 nation code ("01" -> 汉).
pub fn nation_name(code: &str) -> Option<&'static str> {
    NATIONS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// GB 11643-1999 check character for the first 17 digits of a citizen ID number, or `None` if
/// `first17` is not 17 ASCII digits.
pub fn gb11643_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// The two shapes an ID number on a card can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdNumberFormat {
    /// 18 characters, 17 digits and the GB 11643 check character: 公民身份号码, the numbers of
    /// Hong Kong/Macao/Taiwan residence permits and of 2023 permanent residence cards.
    Gb11643,
    /// 15 characters, the old 外国人永久居留身份证 number: the nationality (ISO 3166-1 alpha-3)
    /// and 12 digits. Public descriptions disagree on the digits' inner layout, so nothing
    /// more is checked (the SAM has authenticated the card).
    OldPermanentResident,
}

/// The one check of an ID number's form, used by the card, the outbox, the form validation and
/// the back office: 18 characters with a correct GB 11643 check character (upper-case `X`), or
/// an old permanent residence number (3 upper-case letters and 12 digits). Callers normalise
/// case first. Cross-checks against the card's other fields are in [`IdCard::validate`].
pub fn check_id_number(number: &str) -> Result<IdNumberFormat, CardRejection> {
    let b = number.as_bytes();
    match b.len() {
        18 => {
            if !number.is_ascii() {
                return Err(CardRejection::MalformedIdNumber("not 18 characters"));
            }
            let expected = gb11643_check_char(&number[..17]).ok_or(
                CardRejection::MalformedIdNumber("the first 17 characters are not all digits"),
            )?;
            let found = char::from(b[17]);
            if found != expected {
                return Err(CardRejection::CheckDigit { expected, found });
            }
            Ok(IdNumberFormat::Gb11643)
        }
        15 if b[..3].iter().all(u8::is_ascii_uppercase)
            && b[3..].iter().all(u8::is_ascii_digit) =>
        {
            Ok(IdNumberFormat::OldPermanentResident)
        }
        15 => Err(CardRejection::MalformedIdNumber(
            "an old permanent residence number is 3 letters and 12 digits",
        )),
        _ => Err(CardRejection::MalformedIdNumber(
            "not 18 characters (or 15 for an old permanent residence card)",
        )),
    }
}

/// Why a card read from the reader is not accepted (证件无效的原因). Carries no personal data,
/// so it may be logged as is. A rejected card is never used for an application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardRejection {
    #[error("the text block is {0} bytes, not 256")]
    TextBlockLength(usize),
    #[error("unknown card type mark {0:?} at offset 248 of the text block")]
    UnknownCardType(char),
    #[error(
        "card type mark {0:?}: the text block layout of this card type is not known well enough to decode it"
    )]
    UnsupportedLayout(char),
    #[error("field `{field}` is unreadable: {problem}")]
    UnreadableField {
        field: &'static str,
        problem: &'static str,
    },
    #[error("unknown nation code {0:?} (not in GB/T 3304)")]
    UnknownNation(String),
    #[error("the ID number is malformed: {0}")]
    MalformedIdNumber(&'static str),
    #[error("the ID number's check character is {found}, GB 11643 gives {expected}")]
    CheckDigit { expected: char, found: char },
    #[error("the birth date in the ID number differs from the card's birth date field")]
    BirthDateMismatch,
    #[error("the sex on the card contradicts the parity of the ID number's sequence code")]
    SexMismatch,
    #[error("the permit number does not match the card's nationality field")]
    NationalityMismatch,
    #[error("the validity period ends before it starts")]
    ValidityOrder,
    #[error("the card expired on {valid_until}")]
    Expired { valid_until: NaiveDate },
}

impl CardRejection {
    /// What the screen tells the villager, in plain Chinese.
    pub fn message_zh(&self) -> &'static str {
        match self {
            CardRejection::Expired { .. } => {
                "这张证件已经过了有效期，不能使用。请换用有效的证件，或请工作人员帮忙。"
            }
            CardRejection::UnknownCardType(_) | CardRejection::UnsupportedLayout(_) => {
                "这种证件暂时不能在这里使用。请换用居民身份证，或请工作人员帮忙。"
            }
            CardRejection::TextBlockLength(_) | CardRejection::UnreadableField { .. } => {
                "证件信息没有读好。请把证件拿起来，重新平放在感应区上。"
            }
            _ => "证件信息核对没有通过，不能使用。请请工作人员帮忙核对。",
        }
    }
}

/// The card data does not fit the text block layout (for the encoder).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` does not fit the text block ({chars} UTF-16 units, at most {max})")]
pub struct TextBlockError {
    pub field: &'static str,
    pub chars: usize,
    pub max: usize,
}

/// Offsets and sizes (bytes) of the text block's fields.
mod layout {
    pub type Field = (usize, usize);
    pub const KIND_MARK: Field = (248, 2);
    // Resident card and J permit.
    pub const NAME: Field = (0, 30);
    pub const SEX: Field = (30, 2);
    pub const NATION: Field = (32, 4);
    pub const BIRTH: Field = (36, 16);
    pub const ADDRESS: Field = (52, 70);
    pub const ID_NUMBER: Field = (122, 36);
    pub const ISSUER: Field = (158, 30);
    pub const VALID_FROM: Field = (188, 16);
    pub const VALID_UNTIL: Field = (204, 16);
    pub const PASS_NUMBER: Field = (220, 18);
    pub const ISSUE_COUNT: Field = (238, 4);
    // Foreigner's permanent residence card, old format (I). The 2023 format (Y) has an
    // 18-character number that cannot fit this layout; its layout is not documented well enough
    // to decode, so Y cards are rejected as `UnsupportedLayout` (their numbers validate, though).
    pub const F_ENGLISH_NAME: Field = (0, 120);
    pub const F_SEX: Field = (120, 2);
    pub const F_NUMBER: Field = (122, 30);
    pub const F_NATIONALITY: Field = (152, 6);
    pub const F_CHINESE_NAME: Field = (158, 30);
    pub const F_BIRTH: Field = (220, 16);
    pub const F_VERSION: Field = (236, 4);
    pub const F_AUTHORITY: Field = (240, 8);
}

/// Text of a field, UCS-2 LE, trimmed of padding (spaces, NULs).
fn field(
    text: &[u8],
    (offset, len): layout::Field,
    name: &'static str,
) -> Result<String, CardRejection> {
    let units: Vec<u16> = text[offset..offset + len]
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let s = String::from_utf16(&units).map_err(|_| CardRejection::UnreadableField {
        field: name,
        problem: "not valid UCS-2",
    })?;
    Ok(s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_string())
}

fn date_field(
    text: &[u8],
    f: layout::Field,
    name: &'static str,
) -> Result<NaiveDate, CardRejection> {
    let s = field(text, f, name)?;
    parse_yyyymmdd(&s).ok_or(CardRejection::UnreadableField {
        field: name,
        problem: "not a date YYYYMMDD",
    })
}

fn parse_yyyymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = s[0..4].parse().ok()?;
    let m = s[4..6].parse().ok()?;
    let d = s[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

fn sex_field(text: &[u8], f: layout::Field) -> Result<Sex, CardRejection> {
    Sex::from_code(&field(text, f, "sex")?).ok_or(CardRejection::UnreadableField {
        field: "sex",
        problem: "not a sex code 0, 1, 2 or 9",
    })
}

/// 长期 in the valid-until field means no expiry.
const NO_EXPIRY: &str = "长期";

fn set_field(
    out: &mut [u8],
    (offset, len): layout::Field,
    name: &'static str,
    value: &str,
) -> Result<(), TextBlockError> {
    let units: Vec<u16> = value.encode_utf16().collect();
    if units.len() * 2 > len {
        return Err(TextBlockError {
            field: name,
            chars: units.len(),
            max: len / 2,
        });
    }
    for (i, u) in units.iter().enumerate() {
        out[offset + 2 * i..offset + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    Ok(())
}

fn yyyymmdd(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

impl IdCard {
    /// Decodes the SAM's 256-byte text block (and keeps the WLT photo opaque). Checks structure
    /// only (fields readable, dates real dates, codes known); [`IdCard::validate`] checks the
    /// card's consistency and expiry.
    pub fn decode(text: &[u8], photo: Vec<u8>) -> Result<IdCard, CardRejection> {
        use layout::*;
        if text.len() != TEXT_BLOCK_LEN {
            return Err(CardRejection::TextBlockLength(text.len()));
        }
        let mark = field(text, KIND_MARK, "card type")?;
        let kind = match mark.as_str() {
            "" => CardKind::Resident,
            "J" => CardKind::HkMacaoTaiwanPermit,
            "I" => CardKind::ForeignPermanentResident,
            "Y" => return Err(CardRejection::UnsupportedLayout('Y')),
            other => {
                return Err(CardRejection::UnknownCardType(
                    other.chars().next().unwrap_or('?'),
                ));
            }
        };
        let valid_from = date_field(text, VALID_FROM, "valid from")?;
        let until = field(text, VALID_UNTIL, "valid until")?;
        let valid_until = if until == NO_EXPIRY {
            None
        } else {
            Some(
                parse_yyyymmdd(&until).ok_or(CardRejection::UnreadableField {
                    field: "valid until",
                    problem: "neither a date YYYYMMDD nor 长期",
                })?,
            )
        };
        let card = match kind {
            CardKind::Resident | CardKind::HkMacaoTaiwanPermit => {
                let nation_code = field(text, NATION, "nation")?;
                let (nation_code, nation) = if kind == CardKind::Resident {
                    let name = nation_name(&nation_code)
                        .ok_or_else(|| CardRejection::UnknownNation(nation_code.clone()))?;
                    (Some(nation_code), Some(name.to_string()))
                } else {
                    (None, None)
                };
                let (pass_number, issue_count) = if kind == CardKind::HkMacaoTaiwanPermit {
                    let count = field(text, ISSUE_COUNT, "issue count")?;
                    let count = count.parse().map_err(|_| CardRejection::UnreadableField {
                        field: "issue count",
                        problem: "not a number",
                    })?;
                    (Some(field(text, PASS_NUMBER, "pass number")?), Some(count))
                } else {
                    (None, None)
                };
                IdCard {
                    kind,
                    name: field(text, NAME, "name")?,
                    english_name: None,
                    sex: sex_field(text, SEX)?,
                    nation_code,
                    nation,
                    nationality: None,
                    birth_date: date_field(text, BIRTH, "birth date")?,
                    address: Some(field(text, ADDRESS, "address")?),
                    id_number: field(text, ID_NUMBER, "ID number")?.to_ascii_uppercase(),
                    issuer: field(text, ISSUER, "issuer")?,
                    valid_from,
                    valid_until,
                    pass_number,
                    issue_count,
                    photo,
                }
            }
            CardKind::ForeignPermanentResident => {
                let english = field(text, F_ENGLISH_NAME, "English name")?;
                let chinese = field(text, F_CHINESE_NAME, "Chinese name")?;
                IdCard {
                    kind,
                    name: if chinese.is_empty() {
                        english.clone()
                    } else {
                        chinese
                    },
                    english_name: Some(english),
                    sex: sex_field(text, F_SEX)?,
                    nation_code: None,
                    nation: None,
                    nationality: Some(field(text, F_NATIONALITY, "nationality")?),
                    birth_date: date_field(text, F_BIRTH, "birth date")?,
                    address: None,
                    id_number: field(text, F_NUMBER, "permit number")?.to_ascii_uppercase(),
                    issuer: field(text, F_AUTHORITY, "issuing authority")?,
                    valid_from,
                    valid_until,
                    pass_number: None,
                    issue_count: None,
                    photo,
                }
            }
        };
        Ok(card)
    }

    /// Decodes and validates: what the reader driver does with every read.
    pub fn from_sam(
        text: &[u8],
        photo: Vec<u8>,
        today: NaiveDate,
    ) -> Result<IdCard, CardRejection> {
        let card = IdCard::decode(text, photo)?;
        card.validate(today)?;
        Ok(card)
    }

    /// Checks the card's number against its other fields and its expiry on `today`:
    /// - resident cards and J permits: 18-character GB 11643 number with a correct check
    ///   character, birth date in the number = birth date field, parity of the sequence code
    ///   agrees with the sex (odd male, even female); J numbers start with 81, 82 or 83;
    /// - foreigner's permanent residence cards: the 2023 18-character number (starts with 9) is
    ///   checked like a citizen number (check character, birth date); the old 15-character
    ///   number must start with the nationality and carry the birth date as YYMMDD at 6-11;
    /// - every card: valid until is not before valid from, and today is not after valid until.
    pub fn validate(&self, today: NaiveDate) -> Result<(), CardRejection> {
        match self.kind {
            CardKind::Resident | CardKind::HkMacaoTaiwanPermit => {
                self.check_gb11643(true)?;
                if self.kind == CardKind::HkMacaoTaiwanPermit
                    && !["81", "82", "83"].contains(&&self.id_number[..2])
                {
                    return Err(CardRejection::MalformedIdNumber(
                        "a Hong Kong/Macao/Taiwan permit number starts with 81, 82 or 83",
                    ));
                }
            }
            CardKind::ForeignPermanentResident => {
                if self.id_number.len() == 18 {
                    if !self.id_number.starts_with('9') {
                        return Err(CardRejection::MalformedIdNumber(
                            "an 18-character permanent residence number starts with 9",
                        ));
                    }
                    self.check_gb11643(false)?;
                } else {
                    self.check_old_permit_number()?;
                }
            }
        }
        if let Some(until) = self.valid_until
            && until < self.valid_from
        {
            return Err(CardRejection::ValidityOrder);
        }
        self.check_expiry(today)
    }

    /// The expiry rule on its own: a card is usable through its last valid day, and one
    /// without an end date (长期) always. The caller passes `today` in the station's time zone.
    pub fn check_expiry(&self, today: NaiveDate) -> Result<(), CardRejection> {
        match self.valid_until {
            Some(until) if today > until => Err(CardRejection::Expired { valid_until: until }),
            _ => Ok(()),
        }
    }

    fn check_gb11643(&self, with_sex: bool) -> Result<(), CardRejection> {
        let n = &self.id_number;
        if check_id_number(n)? != IdNumberFormat::Gb11643 {
            return Err(CardRejection::MalformedIdNumber("not 18 characters"));
        }
        if parse_yyyymmdd(&n[6..14]) != Some(self.birth_date) {
            return Err(CardRejection::BirthDateMismatch);
        }
        if with_sex {
            let odd = n.as_bytes()[16] % 2 == 1;
            let expected = if odd { Sex::Male } else { Sex::Female };
            if self.sex != expected {
                return Err(CardRejection::SexMismatch);
            }
        }
        Ok(())
    }

    /// What the public sources agree on for an old 15-character number: 3 letters that are
    /// the card's nationality, then 12 digits. Where the birth date sits among the digits they
    /// do not agree on, so it is not checked.
    fn check_old_permit_number(&self) -> Result<(), CardRejection> {
        let n = &self.id_number;
        if check_id_number(n)? != IdNumberFormat::OldPermanentResident {
            return Err(CardRejection::MalformedIdNumber(
                "an old permanent residence number is 3 letters and 12 digits",
            ));
        }
        if self.nationality.as_deref() != Some(&n[..3]) {
            return Err(CardRejection::NationalityMismatch);
        }
        Ok(())
    }

    /// The 256-byte text block a SAM would send for this card (UCS-2 LE, space padded). A
    /// foreigner's card is written in the old `I` layout (the only one the reference documents),
    /// so a 2023 18-character number does not fit and is an error.
    pub fn encode_text_block(&self) -> Result<Zeroizing<Vec<u8>>, TextBlockError> {
        use layout::*;
        let mut out = Zeroizing::new(
            std::iter::repeat_n([0x20u8, 0x00], TEXT_BLOCK_LEN / 2)
                .flatten()
                .collect::<Vec<u8>>(),
        );
        let until = self
            .valid_until
            .map(yyyymmdd)
            .unwrap_or_else(|| NO_EXPIRY.to_string());
        let sex = self.sex.code().to_string();
        match self.kind {
            CardKind::Resident | CardKind::HkMacaoTaiwanPermit => {
                set_field(&mut out, NAME, "name", &self.name)?;
                set_field(&mut out, SEX, "sex", &sex)?;
                if self.kind == CardKind::Resident {
                    let code = self.nation_code.as_deref().unwrap_or("");
                    set_field(&mut out, NATION, "nation", code)?;
                }
                set_field(&mut out, BIRTH, "birth date", &yyyymmdd(self.birth_date))?;
                let address = self.address.as_deref().unwrap_or("");
                set_field(&mut out, ADDRESS, "address", address)?;
                set_field(&mut out, ID_NUMBER, "ID number", &self.id_number)?;
                set_field(&mut out, ISSUER, "issuer", &self.issuer)?;
                if self.kind == CardKind::HkMacaoTaiwanPermit {
                    let pass = self.pass_number.as_deref().unwrap_or("");
                    set_field(&mut out, PASS_NUMBER, "pass number", pass)?;
                    let count = format!("{:02}", self.issue_count.unwrap_or(1));
                    set_field(&mut out, ISSUE_COUNT, "issue count", &count)?;
                    set_field(&mut out, KIND_MARK, "card type", "J")?;
                }
            }
            CardKind::ForeignPermanentResident => {
                let english = self.english_name.as_deref().unwrap_or(&self.name);
                set_field(&mut out, F_ENGLISH_NAME, "English name", english)?;
                set_field(&mut out, F_SEX, "sex", &sex)?;
                set_field(&mut out, F_NUMBER, "permit number", &self.id_number)?;
                let nationality = self.nationality.as_deref().unwrap_or("");
                set_field(&mut out, F_NATIONALITY, "nationality", nationality)?;
                if self.english_name.is_some() && self.name != english {
                    set_field(&mut out, F_CHINESE_NAME, "Chinese name", &self.name)?;
                }
                set_field(&mut out, F_BIRTH, "birth date", &yyyymmdd(self.birth_date))?;
                set_field(&mut out, F_VERSION, "card version", "01")?;
                set_field(&mut out, F_AUTHORITY, "issuing authority", &self.issuer)?;
                set_field(&mut out, KIND_MARK, "card type", "I")?;
            }
        }
        set_field(
            &mut out,
            VALID_FROM,
            "valid from",
            &yyyymmdd(self.valid_from),
        )?;
        set_field(&mut out, VALID_UNTIL, "valid until", &until)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn resident() -> IdCard {
        IdCard {
            kind: CardKind::Resident,
            name: "王小明".into(),
            english_name: None,
            sex: Sex::Male,
            nation_code: Some("01".into()),
            nation: Some("汉".into()),
            nationality: None,
            birth_date: d(1980, 1, 1),
            address: Some("安徽省宣城市示范县城关镇东关村12号".into()),
            id_number: "34052419800101001X".into(),
            issuer: "示范县公安局".into(),
            valid_from: d(2015, 3, 1),
            valid_until: None,
            pass_number: None,
            issue_count: None,
            photo: vec![0x57, 0x4C, 0x54],
        }
    }

    fn today() -> NaiveDate {
        d(2026, 11, 28)
    }

    #[test]
    fn check_digits_of_the_reference_examples() {
        assert_eq!(gb11643_check_char("34052419800101001"), Some('X'));
        assert_eq!(gb11643_check_char("51320019990906019"), Some('0'));
        assert_eq!(gb11643_check_char("5132001999090601"), None);
        assert_eq!(gb11643_check_char("5132001999090601A"), None);
    }

    #[test]
    fn nation_table_has_the_right_codes() {
        assert_eq!(NATIONS.len(), 58);
        assert_eq!(nation_name("01"), Some("汉"));
        assert_eq!(nation_name("25"), Some("水"));
        assert_eq!(nation_name("26"), Some("东乡"));
        assert_eq!(nation_name("46"), Some("德昂"));
        assert_eq!(nation_name("56"), Some("基诺"));
        assert_eq!(nation_name("97"), Some("其他"));
        assert_eq!(nation_name("98"), Some("外国血统中国籍人士"));
        assert_eq!(nation_name("57"), None);
        for (i, (code, _)) in NATIONS[..56].iter().enumerate() {
            assert_eq!(code.parse::<usize>().unwrap(), i + 1);
        }
    }

    #[test]
    fn resident_card_round_trips_through_the_text_block() {
        let card = resident();
        let text = card.encode_text_block().unwrap();
        assert_eq!(text.len(), 256);
        // Name at 0 in UCS-2 LE: 王 = U+738B.
        assert_eq!(&text[0..2], &[0x8B, 0x73]);
        // 长期 at 204.
        assert_eq!(&text[204..208], &[0x7F, 0x95, 0x1F, 0x67]);
        assert_eq!(&text[248..250], &[0x20, 0x00]);
        let back = IdCard::from_sam(&text, card.photo.clone(), today()).unwrap();
        assert_eq!(back, card);
    }

    #[test]
    fn hand_built_block_decodes_every_field() {
        // Built field by field as a SAM sends it, independent of the encoder.
        let mut t: Vec<u8> = [0x20, 0x00].repeat(128);
        let put = |t: &mut Vec<u8>, off: usize, s: &str| {
            for (i, u) in s.encode_utf16().enumerate() {
                t[off + 2 * i..off + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
        };
        put(&mut t, 0, "李水英");
        put(&mut t, 30, "2");
        put(&mut t, 32, "25");
        put(&mut t, 36, "19990906");
        put(&mut t, 52, "四川省阿坝藏族羌族自治州示范县");
        put(&mut t, 122, "513200199909060182");
        put(&mut t, 158, "示范县公安局");
        put(&mut t, 188, "20190101");
        put(&mut t, 204, "20290101");
        let card = IdCard::decode(&t, vec![]).unwrap();
        assert_eq!(card.kind, CardKind::Resident);
        assert_eq!(card.name, "李水英");
        assert_eq!(card.sex, Sex::Female);
        assert_eq!(card.nation.as_deref(), Some("水"));
        assert_eq!(card.birth_date, d(1999, 9, 6));
        assert_eq!(card.valid_until, Some(d(2029, 1, 1)));
        // 51320019990906018 + check: sequence 018 is even, female.
        assert_eq!(gb11643_check_char("51320019990906018"), Some('2'));
        assert_eq!(card.validate(today()), Ok(()));
        assert_eq!(
            card.validate(d(2029, 1, 2)),
            Err(CardRejection::Expired {
                valid_until: d(2029, 1, 1)
            })
        );
        assert_eq!(
            card.validate(d(2029, 1, 1)),
            Ok(()),
            "valid on its last day"
        );
    }

    #[test]
    fn each_inconsistency_is_rejected_with_its_reason() {
        let mut c = resident();
        c.id_number = "340524198001010011".into();
        assert_eq!(
            c.validate(today()),
            Err(CardRejection::CheckDigit {
                expected: 'X',
                found: '1'
            })
        );
        let mut c = resident();
        c.birth_date = d(1980, 1, 2);
        assert_eq!(c.validate(today()), Err(CardRejection::BirthDateMismatch));
        let mut c = resident();
        c.sex = Sex::Female;
        assert_eq!(c.validate(today()), Err(CardRejection::SexMismatch));
        let mut c = resident();
        c.id_number = "3405241980010100".into();
        assert!(matches!(
            c.validate(today()),
            Err(CardRejection::MalformedIdNumber(_))
        ));
        let mut c = resident();
        c.valid_until = Some(d(2014, 1, 1));
        assert_eq!(c.validate(today()), Err(CardRejection::ValidityOrder));
        let mut c = resident();
        c.nation_code = Some("57".into());
        let text = c.encode_text_block().unwrap();
        assert_eq!(
            IdCard::decode(&text, vec![]),
            Err(CardRejection::UnknownNation("57".into()))
        );
        let mut text = resident().encode_text_block().unwrap();
        text[36..38].copy_from_slice(&[0x41, 0x00]);
        assert!(matches!(
            IdCard::decode(&text, vec![]),
            Err(CardRejection::UnreadableField {
                field: "birth date",
                ..
            })
        ));
        text[248..250].copy_from_slice(&[0x5A, 0x00]);
        assert_eq!(
            IdCard::decode(&text, vec![]),
            Err(CardRejection::UnknownCardType('Z'))
        );
        assert_eq!(
            IdCard::decode(&[0; 10], vec![]),
            Err(CardRejection::TextBlockLength(10))
        );
        for r in [
            CardRejection::SexMismatch,
            CardRejection::Expired {
                valid_until: d(2020, 1, 1),
            },
        ] {
            assert!(!r.message_zh().is_empty());
            assert!(!r.to_string().is_empty());
        }
    }

    #[test]
    fn hk_macao_taiwan_permit_round_trip_and_rules() {
        let first17 = "81000019900315002";
        let number = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        let mut card = resident();
        card.kind = CardKind::HkMacaoTaiwanPermit;
        card.name = "陈美玲".into();
        card.sex = Sex::Female;
        card.nation_code = None;
        card.nation = None;
        card.birth_date = d(1990, 3, 15);
        card.address = Some("广东省深圳市福田区示范路1号".into());
        card.id_number = number;
        card.issuer = "深圳市公安局".into();
        card.valid_from = d(2024, 5, 10);
        card.valid_until = Some(d(2029, 5, 10));
        card.pass_number = Some("H12345678".into());
        card.issue_count = Some(2);
        let text = card.encode_text_block().unwrap();
        assert_eq!(&text[248..250], b"J\0");
        let back = IdCard::from_sam(&text, card.photo.clone(), today()).unwrap();
        assert_eq!(back, card);

        let mut wrong_region = card.clone();
        let first17 = "44030019900315002";
        wrong_region.id_number = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert!(matches!(
            wrong_region.validate(today()),
            Err(CardRejection::MalformedIdNumber(_))
        ));
    }

    #[test]
    fn foreign_permanent_resident_cards_old_and_2023() {
        let old = IdCard {
            kind: CardKind::ForeignPermanentResident,
            name: "史密斯".into(),
            english_name: Some("SMITH, JOHN".into()),
            sex: Sex::Male,
            nation_code: None,
            nation: None,
            nationality: Some("CAN".into()),
            birth_date: d(1985, 5, 15),
            address: None,
            id_number: "CAN318505150012".into(),
            issuer: "1500".into(),
            valid_from: d(2020, 1, 1),
            valid_until: Some(d(2030, 1, 1)),
            pass_number: None,
            issue_count: None,
            photo: vec![],
        };
        let text = old.encode_text_block().unwrap();
        assert_eq!(&text[248..250], b"I\0");
        assert_eq!(IdCard::from_sam(&text, vec![], today()).unwrap(), old);

        let mut other_country = old.clone();
        other_country.nationality = Some("USA".into());
        assert_eq!(
            other_country.validate(today()),
            Err(CardRejection::NationalityMismatch)
        );
        // Issue 14 #12 (failed before: BirthDateMismatch): sources disagree on where the birth
        // date sits in an old number (after a 2- or a 4-digit place code), so a genuine card
        // with either layout is accepted.
        let mut four_digit_place = old.clone();
        four_digit_place.id_number = "CAN110085051501".into();
        assert_eq!(four_digit_place.validate(today()), Ok(()));
        let mut other_birth = old.clone();
        other_birth.birth_date = d(1985, 5, 16);
        assert_eq!(other_birth.validate(today()), Ok(()));
        let mut lower = old.clone();
        lower.id_number = "can318505150012".into();
        assert!(matches!(
            lower.validate(today()),
            Err(CardRejection::MalformedIdNumber(_))
        ));
        assert_eq!(
            check_id_number("USA110085051501"),
            Ok(IdNumberFormat::OldPermanentResident)
        );
        assert_eq!(
            check_id_number("34052419800101001X"),
            Ok(IdNumberFormat::Gb11643)
        );
        assert!(check_id_number("340524198001010010").is_err());
        assert!(check_id_number("US1110085051501").is_err());

        let first17 = "93112419850515001";
        let mut new = old.clone();
        new.id_number = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert_eq!(new.validate(today()), Ok(()));
        assert!(new.encode_text_block().is_err(), "the I layout has no room");
        let mut y_block = old.encode_text_block().unwrap();
        y_block[248..250].copy_from_slice(b"Y\0");
        assert_eq!(
            IdCard::decode(&y_block, vec![]),
            Err(CardRejection::UnsupportedLayout('Y'))
        );
        let mut bad = new.clone();
        let wrong = if new.id_number.ends_with('0') {
            "1"
        } else {
            "0"
        };
        bad.id_number.replace_range(17.., wrong);
        assert!(matches!(
            bad.validate(today()),
            Err(CardRejection::CheckDigit { .. })
        ));
    }

    #[test]
    fn too_long_fields_do_not_encode() {
        let mut c = resident();
        c.name = "一二三四五六七八九十一二三四五六".into();
        assert_eq!(
            c.encode_text_block().unwrap_err(),
            TextBlockError {
                field: "name",
                chars: 16,
                max: 15
            }
        );
    }

    #[test]
    fn debug_masks_personal_data() {
        let s = format!("{:?}", resident());
        assert!(!s.contains("小明"), "{s}");
        assert!(!s.contains("34052419800101001X"), "{s}");
        assert!(s.contains("340524********001X"), "{s}");
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn cjk(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(0x4E00u32..0x9FA5, 1..=max)
                .prop_map(|v| v.into_iter().filter_map(char::from_u32).collect())
        }

        fn date() -> impl Strategy<Value = NaiveDate> {
            (1900i32..2100, 1u32..=12, 1u32..=28)
                .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn resident_cards_round_trip_and_validate(
                name in cjk(15),
                address in cjk(35),
                issuer in cjk(15),
                nation in 0usize..NATIONS.len(),
                birth in date(),
                region in 110000u32..660000,
                seq in 0u32..1000,
                from in date(),
                years in prop::option::of(5i32..=20),
            ) {
                let first17 = format!("{region:06}{}{seq:03}", yyyymmdd(birth));
                let check = gb11643_check_char(&first17).unwrap();
                let (code, nation_name) = NATIONS[nation];
                let valid_until = years.map(|y| from.with_year(from.year() + y).unwrap());
                let card = IdCard {
                    kind: CardKind::Resident,
                    name,
                    english_name: None,
                    sex: if seq % 2 == 1 { Sex::Male } else { Sex::Female },
                    nation_code: Some(code.into()),
                    nation: Some(nation_name.into()),
                    nationality: None,
                    birth_date: birth,
                    address: Some(address),
                    id_number: format!("{first17}{check}"),
                    issuer,
                    valid_from: from,
                    valid_until,
                    pass_number: None,
                    issue_count: None,
                    photo: vec![1, 2, 3],
                };
                let text = card.encode_text_block().unwrap();
                let back = IdCard::decode(&text, card.photo.clone()).unwrap();
                prop_assert_eq!(&back, &card);
                prop_assert_eq!(back.validate(from), Ok(()));
            }

            #[test]
            fn any_text_block_never_panics(
                block in prop::collection::vec(any::<u8>(), 256),
                mark in prop::sample::select(vec![*b" \0", *b"J\0", *b"I\0", *b"Y\0"]),
            ) {
                let mut block = block;
                block[248..250].copy_from_slice(&mark);
                if let Ok(card) = IdCard::decode(&block, Vec::new()) {
                    let _ = card.validate(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
                }
            }
        }
    }
}
