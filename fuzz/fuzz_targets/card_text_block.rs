//! Fuzz target: the 256-byte UCS-2 text block a card sends (every layout: resident card, J
//! permit, I foreigner's card, unknown marks) must decode to a card or a typed rejection, never
//! a panic; a decoded card must validate without panicking on any date, and a card that
//! encodes again must decode to the same card.

#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use village_kiosk::idcard::card::IdCard;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick `today` (any day from 2000 on), the rest is the block: short
    // inputs are padded with spaces (UCS-2 0x0020), as a SAM pads unused fields.
    let (day, block) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let mut text = block.to_vec();
    if text.len() < 256 {
        text.extend(std::iter::repeat_n([0x20, 0x00], (256 - text.len()) / 2).flatten());
        text.resize(256, 0);
    }
    let today = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Days::new(u64::from(day));
    for t in [&text[..256], &text[..]] {
        if let Ok(card) = IdCard::decode(t, Vec::new()) {
            let _ = card.validate(today);
            if let Ok(again) = card.encode_text_block()
                && let Ok(back) = IdCard::decode(&again, Vec::new())
            {
                assert_eq!(back.id_number, card.id_number);
                assert_eq!(back.kind, card.kind);
                assert_eq!(back.birth_date, card.birth_date);
            }
        }
        let _ = IdCard::from_sam(t, Vec::new(), today);
    }
});
