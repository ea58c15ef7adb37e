//! Personal data (个人信息) masking: the only way personal data reaches logs, screens and receipts.
//!
//! Wrap a value in [`Masked`] before handing it to `tracing` or `format!`: its `Display` and
//! `Debug` never print the whole value. Nothing in this module does I/O.

use std::fmt;

/// What kind of personal data a value is, which decides how it is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    /// 姓名: keep the first and last character (张*国, 李*).
    Name,
    /// 公民身份号码 or permit number: keep the first 6 and last 4 (410329********0010).
    IdNumber,
    /// 住址: keep the first 6 characters (province/city/county), mask the rest.
    Address,
    /// 手机号: keep the first 3 and last 4 (138****0000).
    Phone,
    /// 银行账号: keep the last 4.
    BankAccount,
    /// Anything else personal: show nothing but its length.
    Other,
}

/// A personal value that prints only in masked form.
#[derive(Clone, PartialEq, Eq)]
pub struct Masked<'a> {
    value: &'a str,
    kind: PiiKind,
}

impl<'a> Masked<'a> {
    pub fn new(value: &'a str, kind: PiiKind) -> Self {
        Self { value, kind }
    }
    pub fn name(value: &'a str) -> Self {
        Self::new(value, PiiKind::Name)
    }
    pub fn id_number(value: &'a str) -> Self {
        Self::new(value, PiiKind::IdNumber)
    }
    pub fn address(value: &'a str) -> Self {
        Self::new(value, PiiKind::Address)
    }
    pub fn phone(value: &'a str) -> Self {
        Self::new(value, PiiKind::Phone)
    }
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(self.value, self.kind))
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masked({:?})", mask(self.value, self.kind))
    }
}

/// Masks `value` as `kind` says. Works on characters, never on bytes, so names with rare
/// characters (生僻字) and addresses mask correctly.
pub fn mask(value: &str, kind: PiiKind) -> String {
    let chars: Vec<char> = value.trim().chars().collect();
    let n = chars.len();
    let keep = |head: usize, tail: usize| -> String {
        if n <= head + tail {
            // Too short to keep anything safely: mask all but the first character.
            return chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i == 0 && n > 1 { *c } else { '*' })
                .collect();
        }
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
            .collect()
    };
    match kind {
        PiiKind::Name => match n {
            0 => String::new(),
            1 => "*".into(),
            2 => format!("{}*", chars[0]),
            _ => keep(1, 1),
        },
        PiiKind::IdNumber => keep(6, 4),
        PiiKind::Address => {
            if n <= 6 {
                "*".repeat(n)
            } else {
                let mut s: String = chars[..6].iter().collect();
                s.push_str("****");
                s
            }
        }
        PiiKind::Phone => keep(3, 4),
        PiiKind::BankAccount => keep(0, 4),
        PiiKind::Other => format!("<{n} chars>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_each_kind() {
        assert_eq!(mask("张三国", PiiKind::Name), "张*国");
        assert_eq!(mask("李四", PiiKind::Name), "李*");
        assert_eq!(mask("欧阳䶮龑", PiiKind::Name), "欧**龑");
        assert_eq!(
            mask("410329198001010010", PiiKind::IdNumber),
            "410329********0010"
        );
        assert_eq!(mask("13800138000", PiiKind::Phone), "138****8000");
        assert_eq!(
            mask("6222020200112233445", PiiKind::BankAccount),
            "***************3445"
        );
        assert_eq!(
            mask("河南省洛阳市伊川县城关镇", PiiKind::Address),
            "河南省洛阳市****"
        );
        assert_eq!(
            format!("{}", Masked::id_number("34052419800101001X")),
            "340524********001X"
        );
        assert!(!format!("{:?}", Masked::name("王小明")).contains("小"));
    }
}
