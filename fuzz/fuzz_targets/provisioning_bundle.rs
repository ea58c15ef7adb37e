//! Fuzz target: provisioning bundles (开通数据包) as they arrive on a USB stick or from
//! `kiosk provision BUNDLE`. Raw bytes must be refused with a typed error or open, never panic.
//! A payload the trusted key signed must be refused or, once it opened, render its files
//! (`plan`) and a kiosk config that the kiosk's own config parser reads back with no unknown
//! key and the same station, county URL and ports: what the installer writes is what the
//! kiosk will run with. The first byte picks the mode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::catalog::bundle::{self, demo_signing_key, demo_verifying_key};
use village_kiosk::config;
use village_kiosk::provision::bundle::{self as provisioning, KIND_PROVISIONING};

fn use_opened(p: &provisioning::Provisioning, now: chrono::DateTime<chrono::Utc>) {
    let _ = provisioning::check_station(p, Some("410329-101-203"));
    let files = provisioning::plan(p, now);
    assert!(!files.is_empty());
    for f in &files {
        assert!(f.path.is_relative(), "{} is not relative", f.path.display());
        assert!(
            f.path.components().all(|c| matches!(c, std::path::Component::Normal(_))),
            "{} leaves the root",
            f.path.display()
        );
    }
    let toml = provisioning::kiosk_toml(p);
    match config::parse(&toml) {
        Ok((cfg, unknown)) => {
            assert!(unknown.is_empty(), "unknown keys in the written config: {unknown:?}");
            assert_eq!(cfg.station.id, p.station.id);
            assert_eq!(cfg.station.name, p.station.name);
        }
        Err(e) => panic!("the config a valid bundle writes does not parse: {e}\n{toml}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let trusted = demo_verifying_key();
    let now = chrono::DateTime::from_timestamp(1_796_112_000, 0).unwrap_or_default();
    let bytes = match mode % 2 {
        // Raw bundle bytes.
        0 => rest.to_vec(),
        // A payload the trusted key signed: the decoder and validation see every shape.
        _ => bundle::sign(KIND_PROVISIONING, rest, &demo_signing_key()),
    };
    match provisioning::open(&bytes, &trusted, now) {
        Ok(p) => use_opened(&p, now),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
