//! The card as the rest of the kiosk sees it: a validated [`IdCard`] of one of three kinds.
//!
//! Personal data: an `IdCard` is zeroised on drop and its `Debug` masks every personal field.
//! Never log a field directly; use [`crate::pii::Masked`].

use chrono::NaiveDate;
use zeroize::{Zeroize, ZeroizeOnDrop};

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
