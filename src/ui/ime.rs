//! A small pinyin input method for text fields: the 3,755 most common characters (GB 2312
//! level 1), looked up by their toneless pinyin. Pure and in memory; built once.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pinyin::ToPinyin;

fn table() -> &'static BTreeMap<String, Vec<char>> {
    static TABLE: OnceLock<BTreeMap<String, Vec<char>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: BTreeMap<String, Vec<char>> = BTreeMap::new();
        for row in 0xB0u8..=0xD7 {
            for cell in 0xA1u8..=0xFE {
                let bytes = [row, cell];
                let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
                if bad {
                    continue;
                }
                let Some(c) = text.chars().next() else {
                    continue;
                };
                if let Some(p) = c.to_pinyin() {
                    map.entry(p.plain().to_owned()).or_default().push(c);
                }
            }
        }
        map
    })
}

/// Characters the typed pinyin may mean: exact syllables first, then syllables it begins.
pub fn candidates(pinyin: &str, limit: usize) -> Vec<char> {
    let p = pinyin.trim().to_ascii_lowercase();
    if p.is_empty() {
        return Vec::new();
    }
    let t = table();
    let mut out: Vec<char> = t.get(&p).cloned().unwrap_or_default();
    if out.len() < limit {
        for (_, chars) in t.range(p.clone()..).take_while(|(k, _)| k.starts_with(&p)) {
            for c in chars {
                if !out.contains(c) {
                    out.push(*c);
                }
            }
            if out.len() >= limit {
                break;
            }
        }
    }
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn common_characters_are_found() {
        assert!(super::candidates("wang", 40).contains(&'王'));
        assert!(super::candidates("zhang", 40).contains(&'张'));
        assert!(super::candidates("zh", 8).len() == 8);
        assert!(super::candidates("", 8).is_empty());
    }
}
