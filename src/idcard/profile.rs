//! ID card reader profiles (阅读器型号配置): one model's line speed, timeouts and polling, read
//! from `hardware/profiles/readers/*.toml` and named by the config's `reader.profile`.
//!
//! The shipped profiles are embedded with `include_str!`; a profile can also be a `.toml` file.
//! Loading is the generic [`crate::profile`]; this module says what a reader profile holds and
//! what values are valid. No device I/O.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The profiles shipped in `hardware/profiles/readers/`, as (name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    (
        "sam-generic",
        include_str!("../../hardware/profiles/readers/sam-generic.toml"),
    ),
    (
        "sam-9600",
        include_str!("../../hardware/profiles/readers/sam-9600.toml"),
    ),
];

/// The profile used when the config names none.
pub const DEFAULT_READER_PROFILE: &str = "sam-generic";

/// One reader model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderProfile {
    pub name: String,
    /// One line for technicians.
    pub description: String,
    /// The only protocol so far: `sam` (GA 467 SAM frames).
    pub protocol: String,
    /// Line speed (8N1).
    pub baud: u32,
    /// Answer time of find/select/status.
    pub find_timeout_ms: u64,
    /// Answer time of a read.
    pub read_timeout_ms: u64,
    /// Time between polls.
    pub poll_interval_ms: u64,
    /// Ask for the fingerprint block (30 10); old SAMs know only 30 01.
    pub read_fingerprint_block: bool,
}

/// A reader profile could not be found or read (the loader is [`crate::profile`]).
pub type ReaderProfileError = crate::profile::ProfileError;

impl crate::profile::Profile for ReaderProfile {
    const KIND: &'static str = "reader";
    const CONFIG_KEY: &'static str = "reader.profile";
    const BUILTIN: &'static [(&'static str, &'static str)] = BUILTIN;

    fn check(&self) -> Result<(), String> {
        if self.protocol != "sam" {
            return Err(format!(
                "protocol {:?} is not supported (only \"sam\")",
                self.protocol
            ));
        }
        if self.baud == 0 || self.find_timeout_ms == 0 || self.read_timeout_ms == 0 {
            return Err("baud, find_timeout_ms and read_timeout_ms must not be 0".into());
        }
        Ok(())
    }
}

impl ReaderProfile {
    /// A shipped profile by name.
    pub fn builtin(name: &str) -> Result<ReaderProfile, ReaderProfileError> {
        crate::profile::builtin(name)
    }

    /// Names of the shipped profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        crate::profile::builtin_names::<ReaderProfile>()
    }

    /// A shipped profile by name, or a `.toml` file (see [`crate::profile::load`]).
    pub fn load(name_or_path: &str) -> Result<ReaderProfile, ReaderProfileError> {
        crate::profile::load(name_or_path)
    }

    /// Parses and checks a profile; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<ReaderProfile, ReaderProfileError> {
        crate::profile::from_toml(text, origin)
    }

    pub fn find_timeout(&self) -> Duration {
        Duration::from_millis(self.find_timeout_ms)
    }

    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse() {
        let g = ReaderProfile::builtin("sam-generic").unwrap();
        assert_eq!(g.baud, 115_200);
        assert!(g.read_fingerprint_block);
        let old = ReaderProfile::builtin("sam-9600").unwrap();
        assert_eq!(old.baud, 9600);
        assert!(!old.read_fingerprint_block);
        assert_eq!(ReaderProfile::builtin_names().len(), BUILTIN.len());
        assert!(ReaderProfile::builtin(DEFAULT_READER_PROFILE).is_ok());
    }

    #[test]
    fn the_config_names_the_profile_and_may_override_its_baud() {
        use crate::idcard::reader::ReaderSettings;
        let mut c = crate::config::ReaderConfig::default();
        assert_eq!(ReaderSettings::from_config(&c).unwrap(), None);
        c.port = Some("/dev/kiosk-idcard".into());
        c.profile = "sam-9600".into();
        let s = ReaderSettings::from_config(&c).unwrap().unwrap();
        assert_eq!(s.baud, 9600);
        assert_eq!(s.read_timeout, Duration::from_millis(3000));
        assert!(!s.fingerprint, "text and photo only (30 01)");
        c.baud = Some(19_200);
        assert_eq!(
            ReaderSettings::from_config(&c).unwrap().unwrap().baud,
            19_200
        );
        c.profile = "no-such-reader".into();
        assert!(ReaderSettings::from_config(&c).is_err());
    }

    #[test]
    fn unknown_and_invalid_profiles_are_errors() {
        assert!(matches!(
            ReaderProfile::load("nope"),
            Err(ReaderProfileError::Unknown { .. })
        ));
        let bad = include_str!("../../hardware/profiles/readers/sam-generic.toml")
            .replace("protocol = \"sam\"", "protocol = \"hid\"");
        assert!(matches!(
            ReaderProfile::from_toml(&bad, "x"),
            Err(ReaderProfileError::Invalid { .. })
        ));
        assert!(matches!(
            ReaderProfile::load("/nonexistent/reader.toml"),
            Err(ReaderProfileError::Read { .. })
        ));
    }
}
