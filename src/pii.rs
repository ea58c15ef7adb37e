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
    /// 住址: keep the divisions down to the county (省, 市, 县: 安徽省宣城市示范县****), mask
    /// the rest; an address whose divisions cannot be told shows nothing ([`county_part`]).
    Address,
    /// 手机号: keep the first 3 and last 4 (138****0000).
    Phone,
    /// 银行账号: keep the last 4.
    BankAccount,
    /// 出生日期 (`YYYYMMDD` or `YYYY-MM-DD`): the year only (1960-**-**).
    BirthDate,
    /// 性别, 民族 and the like on a screen: withheld whole, not even the length (***).
    Withheld,
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
    pub fn birth_date(value: &'a str) -> Self {
        Self::new(value, PiiKind::BirthDate)
    }
    pub fn withheld(value: &'a str) -> Self {
        Self::new(value, PiiKind::Withheld)
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
            let value = value.trim();
            match county_part(value) {
                Some(county) if county.len() == value.len() => county.to_owned(),
                Some(county) => format!("{county}****"),
                None if n == 0 => String::new(),
                None => "****".into(),
            }
        }
        PiiKind::Phone => keep(3, 4),
        PiiKind::BankAccount => keep(0, 4),
        PiiKind::BirthDate => {
            let year: String = chars.iter().take(4).collect();
            if n >= 8 && year.chars().all(|c| c.is_ascii_digit()) {
                format!("{year}-**-**")
            } else {
                "****-**-**".into()
            }
        }
        PiiKind::Withheld => "***".into(),
        PiiKind::Other => format!("<{n} chars>"),
    }
}

/// The four municipalities (直辖市): their districts and counties follow the city directly.
const MUNICIPALITIES: [&str; 4] = ["北京市", "天津市", "上海市", "重庆市"];

/// Where the name of a division may not reach: a town, village or street has begun.
const BELOW_COUNTY: [char; 8] = ['镇', '乡', '村', '街', '路', '道', '号', '组'];

/// The longest a division's name is read for (内蒙古自治区, 甘孜藏族自治州 fit).
const LONGEST_DIVISION: usize = 12;

/// The part of `address` down to its county-level division (县, 区, 旗 or 县级市), as on the
/// card: 安徽省宣城市示范县 of 安徽省宣城市示范县城关镇东关村12号, 北京市海淀区 of
/// 北京市海淀区… . Without a county it stops at the city (广东省东莞市 of 广东省东莞市长安镇…);
/// `None` when not even the province can be told, so nothing below it is ever shown by mistake.
pub fn county_part(address: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = address.char_indices().collect();
    let text: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
    let byte_end = |end: usize| chars.get(end).map_or(address.len(), |&(b, _)| b);
    let starts = |at: usize, word: &str| {
        word.chars()
            .enumerate()
            .all(|(i, w)| text.get(at + i) == Some(&w))
    };
    // 省级: a municipality, a province, an autonomous region or an SAR.
    let (province, municipality) = if MUNICIPALITIES.iter().any(|m| starts(0, m)) {
        (3, true)
    } else {
        let window = text.len().min(LONGEST_DIVISION);
        let found = (2..window).find_map(|i| {
            if starts(i, "特别行政区") {
                Some(i + 5)
            } else if starts(i, "自治区") {
                Some(i + 3)
            } else if text[i] == '省' {
                Some(i + 1)
            } else {
                None
            }
        })?;
        (found, false)
    };
    // The next division ending in one of `suffixes`, at least two characters long, before a
    // town or street begins; 州 followed by 市 is one city (郑州市).
    let next = |from: usize, suffixes: &[char]| -> Option<(usize, char)> {
        let last = text.len().min(from + LONGEST_DIVISION);
        for i in from + 1..last {
            let c = text[i];
            if BELOW_COUNTY.contains(&c) {
                return None;
            }
            if suffixes.contains(&c) {
                if c == '州' && text.get(i + 1) == Some(&'市') {
                    return Some((i + 2, '市'));
                }
                return Some((i + 1, c));
            }
        }
        None
    };
    let county_level = ['县', '区', '旗', '市'];
    let end = if municipality {
        next(province, &county_level).map_or(province, |(e, _)| e)
    } else {
        match next(province, &['市', '州', '盟', '县', '区', '旗']) {
            None => province,
            Some((e, '县' | '区' | '旗')) => e,
            Some((city, _)) => next(city, &county_level).map_or(city, |(e, _)| e),
        }
    };
    Some(&address[..byte_end(end)])
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
            "河南省洛阳市伊川县****"
        );
        assert_eq!(mask("19600101", PiiKind::BirthDate), "1960-**-**");
        assert_eq!(mask("1960-01-01", PiiKind::BirthDate), "1960-**-**");
        assert_eq!(mask("6001", PiiKind::BirthDate), "****-**-**");
        assert_eq!(mask("男", PiiKind::Withheld), "***");
        assert_eq!(mask("蒙古族", PiiKind::Withheld), "***");
        assert_eq!(
            format!("{}", Masked::id_number("34052419800101001X")),
            "340524********001X"
        );
        assert!(!format!("{:?}", Masked::name("王小明")).contains("小"));
    }

    #[test]
    fn addresses_keep_only_the_divisions_down_to_the_county() {
        for (address, shown) in [
            (
                "安徽省宣城市示范县城关镇东关村12号",
                "安徽省宣城市示范县****",
            ),
            // No city on the card: the county follows the province.
            ("河南省伊川县城关镇南街1号", "河南省伊川县****"),
            ("河南省郑州市金水区文化路8号", "河南省郑州市金水区****"),
            ("山东省济南市市中区英雄山路1号", "山东省济南市市中区****"),
            ("江苏省苏州市昆山市玉山镇", "江苏省苏州市昆山市****"),
            ("北京市海淀区中关村大街1号", "北京市海淀区****"),
            ("重庆市巫山县龙门街道", "重庆市巫山县****"),
            (
                "内蒙古自治区锡林郭勒盟正蓝旗上都镇",
                "内蒙古自治区锡林郭勒盟正蓝旗****",
            ),
            (
                "四川省甘孜藏族自治州康定市炉城镇",
                "四川省甘孜藏族自治州康定市****",
            ),
            // A city without counties: down to the city, never the town.
            ("广东省东莞市长安镇振安路1号", "广东省东莞市****"),
            ("香港特别行政区九龙弥敦道1号", "香港特别行政区****"),
            // Nothing but the county itself: shown as it is.
            ("安徽省宣城市示范县", "安徽省宣城市示范县"),
            // No province to go by: nothing shown.
            ("城关镇东关村12号", "****"),
            ("", ""),
        ] {
            assert_eq!(mask(address, PiiKind::Address), shown, "{address}");
        }
        assert_eq!(
            format!("{}", Masked::address("安徽省宣城市示范县城关镇东关村12号")),
            "安徽省宣城市示范县****"
        );
    }
}
