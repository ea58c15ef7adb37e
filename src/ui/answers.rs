//! The villager's answers between the form and the confirmation page: what a card puts in a
//! field, how an answer is sent and shown for checking, and the typed [`Answer`]s of the
//! application. Shared by the form and confirm controllers (which never import each other).

use crate::catalog::{CardField, FieldKind, FormField, ServiceItem};
use crate::idcard::IdCard;
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
