//! Fuzz target: signed bundles (catalogue, announcements) and key files. Raw bytes must be
//! refused with a typed error or open, never panic; a payload signed with the trusted key must
//! then parse, validate, index for search and translate without panicking (that is what the
//! kiosk does with a bundle the county signed). The first byte picks the mode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::catalog::bundle::{
    self, KIND_ANNOUNCEMENTS, KIND_CATALOG, demo_signing_key, demo_verifying_key,
};
use village_kiosk::catalog::search::SearchIndex;
use village_kiosk::county::noticeboard;

fn use_catalog(catalog: &village_kiosk::catalog::model::Catalog, query: &str) {
    let index = SearchIndex::build(&catalog.items);
    let _ = index.search(query, 20);
    for item in &catalog.items {
        let _ = item.translated("en");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let trusted = demo_verifying_key();
    match mode % 4 {
        // Raw bundle bytes as they arrive from the county or a USB stick.
        0 => {
            if let Ok(catalog) = bundle::open_catalog(rest, &trusted) {
                use_catalog(&catalog, "养老");
            }
            let _ = noticeboard::open(rest, &trusted);
            let _ = bundle::open_detailed(rest, KIND_CATALOG, &trusted);
        }
        // A catalogue payload the trusted key signed.
        1 => {
            let signed = bundle::sign(KIND_CATALOG, rest, &demo_signing_key());
            match bundle::open_catalog(&signed, &trusted) {
                Ok(catalog) => use_catalog(&catalog, &String::from_utf8_lossy(&rest[..rest.len().min(8)])),
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        // An announcements payload the trusted key signed.
        2 => {
            let signed = bundle::sign(KIND_ANNOUNCEMENTS, rest, &demo_signing_key());
            if let Ok(all) = noticeboard::open(&signed, &trusted) {
                let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
                let _ = noticeboard::on_show(&all, now);
            }
        }
        // Key files.
        _ => {
            let text = String::from_utf8_lossy(rest);
            let _ = bundle::parse_signing_key(&text);
            let _ = bundle::parse_verifying_key(&text);
        }
    }
});
