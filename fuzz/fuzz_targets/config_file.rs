//! Fuzz target: the kiosk's TOML config file. Any text must parse to a config (with unknown
//! keys collected) or a typed error naming where it is wrong, never panic; a parsed config must
//! check without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text) {
        Ok((cfg, unknown)) => {
            for problem in cfg.check() {
                let _ = format!("{problem:?}");
            }
            let _ = cfg.is_demo();
            let _ = unknown.len();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
