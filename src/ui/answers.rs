//! The villager's answers between the form and the confirmation page: what a card puts in a
//! field, how an answer is sent and shown for checking (what the card filled in only masked,
//! through `pii`), and the typed [`Answer`]s of the application. Shared by the form and confirm
//! controllers (which never import each other).

use crate::catalog::{CardField, FieldKind, FormField, ServiceItem};
use crate::idcard::IdCard;
use crate::pii::{PiiKind, mask};
use crate::session::Session;
use crate::session::validate::parse_date;
use crate::station::ports::Answer;

/// The value a card puts in a field.
pub fn card_value(card: &IdCard, field: CardField) -> String {
    match field {
        CardField::Name => card.name.clone(),
        CardField::Sex => card.sex.label_zh().to_owned(),
        CardField::Nation => card.nation.clone().unwrap_or_default(),
        CardField::BirthDate => card.birth_date.format("%Y%m%d").to_string(),
        CardField::Address => card.address.clone().unwrap_or_default(),
        CardField::IdNumber => card.id_number.clone(),
    }
}

/// How a value the card filled in is masked on a screen: the name and number as everywhere,
/// the address down to the county, the birth date as its year, sex and nation withheld.
pub fn card_pii_kind(field: CardField) -> PiiKind {
    match field {
        CardField::Name => PiiKind::Name,
        CardField::IdNumber => PiiKind::IdNumber,
        CardField::Address => PiiKind::Address,
        CardField::BirthDate => PiiKind::BirthDate,
        CardField::Sex | CardField::Nation => PiiKind::Withheld,
    }
}

/// A value the card filled in, as the form and the confirmation page show it (never raw):
/// masked by [`card_pii_kind`], and a withheld one worded in `lang`.
pub fn shown_card_value(field: CardField, value: &str, lang: super::Lang) -> String {
    match card_pii_kind(field) {
        PiiKind::Withheld => lang.pick("（不显示）", "(not shown)"),
        kind => mask(value, kind),
    }
}

/// The value as sent and as shown for checking (dates as YYYY-MM-DD).
pub fn display_value(field: &FormField, value: &str) -> String {
    match field.kind {
        FieldKind::Date => parse_date(value)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| value.to_owned()),
        _ => value.to_owned(),
    }
}

/// Every field of `item`'s form with the session's answer, as sent, in form order.
pub fn answers(item: &ServiceItem, session: &Session) -> Vec<Answer> {
    item.form
        .iter()
        .map(|f| Answer {
            key: f.key.clone(),
            label: f.label.clone(),
            kind: f.kind.clone(),
            value: display_value(f, session.answer(&f.key).unwrap_or_default()),
        })
        .collect()
}
