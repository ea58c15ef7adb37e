//! Social security card reader profiles (社保卡读卡器型号配置): line speed, timeouts and how long
//! to wait for the card, read from `hardware/profiles/readers/sscard-*.toml` and named by the
//! config's `sscard.profile`. Loading is the generic [`crate::profile`]; no device I/O.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shipped profiles, as (name, TOML text).
const BUILTIN: &[(&str, &str)] = &[(
    "sscard-vk1",
    include_str!("../../hardware/profiles/readers/sscard-vk1.toml"),
)];

/// The profile used when the config names none.
pub const DEFAULT_SSCARD_PROFILE: &str = "sscard-vk1";

/// One social security card reader model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsReaderProfile {
    pub name: String,
    /// One line for technicians.
    pub description: String,
    /// The only framing so far: `vk-sscard-1` (ours, [`super::frame`]).
    pub protocol: String,
    /// Line speed (8N1).
    pub baud: u32,
    /// Answer time of one request (status, power on/off, one APDU).
    pub answer_timeout_ms: u64,
    /// How long to wait for the card to be inserted once the villager asked for it.
    pub insert_wait_ms: u64,
    /// Time between status polls while waiting for the card.
    pub poll_interval_ms: u64,
}

impl crate::profile::Profile for SsReaderProfile {
    const KIND: &'static str = "social security card reader";
    const CONFIG_KEY: &'static str = "sscard.profile";
    const BUILTIN: &'static [(&'static str, &'static str)] = BUILTIN;

    fn check(&self) -> Result<(), String> {
        if self.protocol != super::frame::PROTOCOL {
            return Err(format!(
                "protocol {:?} is not supported (only {:?})",
                self.protocol,
                super::frame::PROTOCOL
            ));
        }
        if self.baud == 0 || self.answer_timeout_ms == 0 || self.poll_interval_ms == 0 {
            return Err("baud, answer_timeout_ms and poll_interval_ms must not be 0".into());
        }
        Ok(())
    }
}

impl SsReaderProfile {
    /// A shipped profile by name, or a `.toml` file (see [`crate::profile::load`]).
    pub fn load(name_or_path: &str) -> Result<SsReaderProfile, crate::profile::ProfileError> {
        crate::profile::load(name_or_path)
    }

    pub fn answer_timeout(&self) -> Duration {
        Duration::from_millis(self.answer_timeout_ms)
    }

    pub fn insert_wait(&self) -> Duration {
        Duration::from_millis(self.insert_wait_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profile_parses_and_a_foreign_protocol_is_refused() {
        let p = SsReaderProfile::load(DEFAULT_SSCARD_PROFILE).unwrap();
        assert_eq!(p.baud, 115_200);
        assert_eq!(p.insert_wait(), Duration::from_secs(30));
        let other = BUILTIN[0].1.replace("vk-sscard-1", "vendor-x");
        let e = crate::profile::from_toml::<SsReaderProfile>(&other, "test").unwrap_err();
        assert!(e.to_string().contains("only \"vk-sscard-1\""), "{e}");
    }
}
