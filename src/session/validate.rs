//! Checks a villager's answers against the form's field kinds and says what is wrong in plain
//! words (Chinese first, English for the switched UI). Pure functions: no I/O.

use chrono::NaiveDate;

use crate::catalog::{FieldKind, FormField};

/// What is wrong with one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Missing,
    TooLong {
        max_chars: u32,
    },
    BadPhone,
    NotANumber,
    OutOfRange {
        min: i64,
        max: i64,
        unit: String,
    },
    BadDate,
    NotAnOption,
    BadIdNumber,
    /// Not 12-19 digits.
    BadBankAccount,
    /// 12-19 digits whose Luhn check digit does not match: a digit was mistyped.
    BankAccountCheckDigit,
}

impl FieldProblem {
    /// The message under the field, in plain Chinese.
    pub fn message_zh(&self, label: &str) -> String {
        match self {
            FieldProblem::Missing => format!("请填写{label}"),
            FieldProblem::TooLong { max_chars } => {
                format!("{label}最多{max_chars}个字，请删去一些")
            }
            FieldProblem::BadPhone => {
                "手机号码应为11位数字、以1开头；固定电话请连区号一起填写".to_owned()
            }
            FieldProblem::NotANumber => format!("{label}只能填数字"),
            FieldProblem::OutOfRange { min, max, unit } => {
                format!("{label}应在{min}到{max}{unit}之间")
            }
            FieldProblem::BadDate => "请按“年月日”填写8位数字，例如 19600501".to_owned(),
            FieldProblem::NotAnOption => format!("请从下面的选项中选择{label}"),
            FieldProblem::BadIdNumber => {
                "身份证号码不对，请核对（18位，最后一位可能是X）".to_owned()
            }
            FieldProblem::BadBankAccount => "银行卡号不对，请核对卡上的数字（12到19位）".to_owned(),
            FieldProblem::BankAccountCheckDigit => "卡号有误，请逐位核对".to_owned(),
        }
    }

    /// The same message for the English UI.
    pub fn message_en(&self, label: &str) -> String {
        match self {
            FieldProblem::Missing => format!("Please fill in {label}"),
            FieldProblem::TooLong { max_chars } => {
                format!("{label} can have at most {max_chars} characters")
            }
            FieldProblem::BadPhone => {
                "A mobile number has 11 digits starting with 1; give a landline with its area code"
                    .to_owned()
            }
            FieldProblem::NotANumber => format!("{label} takes digits only"),
            FieldProblem::OutOfRange { min, max, unit } => {
                format!("{label} must be between {min} and {max} {unit}")
            }
            FieldProblem::BadDate => "Enter the date as 8 digits, e.g. 19600501".to_owned(),
            FieldProblem::NotAnOption => format!("Please choose {label} from the options"),
            FieldProblem::BadIdNumber => {
                "This ID number is not valid (18 characters, the last may be X)".to_owned()
            }
            FieldProblem::BadBankAccount => {
                "This account number is not valid (12 to 19 digits)".to_owned()
            }
            FieldProblem::BankAccountCheckDigit => {
                "The account number's check digit does not match: please check it digit by digit"
                    .to_owned()
            }
        }
    }
}

/// Checks one answer. An empty optional field is fine.
pub fn check(field: &FormField, value: &str) -> Result<(), FieldProblem> {
    let value = value.trim();
    if value.is_empty() {
        return if field.required {
            Err(FieldProblem::Missing)
        } else {
            Ok(())
        };
    }
    match &field.kind {
        FieldKind::Text { max_chars } => {
            if value.chars().count() > *max_chars as usize {
                Err(FieldProblem::TooLong {
                    max_chars: *max_chars,
                })
            } else {
                Ok(())
            }
        }
        FieldKind::Phone => {
            if is_phone(value) {
                Ok(())
            } else {
                Err(FieldProblem::BadPhone)
            }
        }
        FieldKind::Number { min, max, unit } => {
            let n: i64 = value.parse().map_err(|_| FieldProblem::NotANumber)?;
            if (*min..=*max).contains(&n) {
                Ok(())
            } else {
                Err(FieldProblem::OutOfRange {
                    min: *min,
                    max: *max,
                    unit: unit.clone(),
                })
            }
        }
        FieldKind::Date => parse_date(value).map(|_| ()).ok_or(FieldProblem::BadDate),
        FieldKind::Choice { options } => {
            if options.iter().any(|o| o == value) {
                Ok(())
            } else {
                Err(FieldProblem::NotAnOption)
            }
        }
        FieldKind::IdNumber => {
            if is_resident_id_number(value) {
                Ok(())
            } else {
                Err(FieldProblem::BadIdNumber)
            }
        }
        FieldKind::BankAccount => {
            if is_bank_account(value) {
                Ok(())
            } else if value.chars().all(|c| c.is_ascii_digit()) && (12..=19).contains(&value.len())
            {
                Err(FieldProblem::BankAccountCheckDigit)
            } else {
                Err(FieldProblem::BadBankAccount)
            }
        }
    }
}

/// 8 digits (as typed on the keypad) or YYYY-MM-DD.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let digits: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() != 8 || value.chars().any(|c| !c.is_ascii_digit() && c != '-') {
        return None;
    }
    NaiveDate::parse_from_str(&digits, "%Y%m%d").ok()
}

/// Mainland mobile (11 digits, leading 1) or a fixed line with its area code (0 + 9-11 digits).
pub fn is_phone(value: &str) -> bool {
    let digits: String = value.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    (digits.len() == 11 && digits.starts_with('1'))
        || (digits.starts_with('0') && (10..=12).contains(&digits.len()))
}

/// 公民身份号码 (GB 11643): 17 digits and an ISO 7064 MOD 11-2 check character (a lower-case
/// `x` is accepted as typed). The rule itself is [`crate::idcard::card::check_id_number`].
pub fn is_resident_id_number(value: &str) -> bool {
    crate::idcard::card::check_id_number(&value.to_ascii_uppercase())
        == Ok(crate::idcard::card::IdNumberFormat::Gb11643)
}

/// 12-19 digits passing the Luhn check.
pub fn is_bank_account(value: &str) -> bool {
    let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != value.chars().count() || !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, required: bool) -> FormField {
        FormField {
            key: "k".into(),
            label: "联系电话".into(),
            kind,
            required,
            hint: String::new(),
            card_fill: None,
        }
    }

    #[test]
    fn phone_rules() {
        let f = field(FieldKind::Phone, true);
        assert_eq!(check(&f, ""), Err(FieldProblem::Missing));
        assert_eq!(check(&f, "1380013800"), Err(FieldProblem::BadPhone));
        assert_eq!(check(&f, "13800138000"), Ok(()));
        assert_eq!(check(&f, "03798123456"), Ok(()));
        assert!(
            FieldProblem::BadPhone
                .message_zh("联系电话")
                .contains("11位")
        );
    }

    #[test]
    fn numbers_dates_ids_accounts() {
        let n = field(
            FieldKind::Number {
                min: 1,
                max: 20,
                unit: "人".into(),
            },
            true,
        );
        assert_eq!(check(&n, "3"), Ok(()));
        assert!(matches!(
            check(&n, "30"),
            Err(FieldProblem::OutOfRange { .. })
        ));
        assert_eq!(
            FieldProblem::OutOfRange {
                min: 1,
                max: 20,
                unit: "人".into()
            }
            .message_zh("家庭人口"),
            "家庭人口应在1到20人之间"
        );
        let d = field(FieldKind::Date, true);
        assert_eq!(check(&d, "19600501"), Ok(()));
        assert_eq!(check(&d, "19601301"), Err(FieldProblem::BadDate));
        let id = field(FieldKind::IdNumber, true);
        assert_eq!(check(&id, "11010519491231002X"), Ok(()));
        assert_eq!(
            check(&id, "110105194912310021"),
            Err(FieldProblem::BadIdNumber)
        );
        let b = field(FieldKind::BankAccount, false);
        assert_eq!(check(&b, ""), Ok(()));
        assert_eq!(
            check(&b, "6222020200112233445"),
            Err(FieldProblem::BankAccountCheckDigit)
        );
        assert_eq!(check(&b, "4111111111111111"), Ok(()));
    }

    /// Issue 15: 19 digits with a wrong check digit is a typing slip, not a wrong length.
    #[test]
    fn a_wrong_check_digit_is_told_apart_from_a_wrong_length() {
        let b = field(FieldKind::BankAccount, true);
        let problem = check(&b, "6222020200112233445").unwrap_err();
        assert_eq!(problem.message_zh("银行账号"), "卡号有误，请逐位核对");
        assert!(
            problem.message_en("Bank account").contains("check digit"),
            "{}",
            problem.message_en("Bank account")
        );
        // Too short or not digits: still the length rule.
        for wrong in ["62220202", "6222 0202 0011 2233 44", "62220202001122334455"] {
            let problem = check(&b, wrong).unwrap_err();
            assert!(
                problem.message_zh("银行账号").contains("12到19位"),
                "{wrong}: {problem:?}"
            );
        }
    }
}
