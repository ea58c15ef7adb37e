//! Device profiles (设备型号配置): one loader for every kind of device profile, the reader's
//! (`idcard::profile`) and the printer's (`printer::profile`).
//!
//! A profile is a TOML file in `hardware/profiles/<kind>s/`; the shipped ones are embedded
//! with `include_str!` and named by the config (`reader.profile`, `printer.profile`), and a
//! technician may name a `.toml` file instead. A kind says only what differs: its shipped
//! profiles and its own value checks ([`Profile`]). Parsing is pure; the one file read is of a
//! profile given by path.

use std::path::Path;

use serde::de::DeserializeOwned;

/// One kind of device profile.
pub trait Profile: DeserializeOwned {
    /// `reader` or `printer`, in messages.
    const KIND: &'static str;
    /// The config key that names the profile, in messages (`reader.profile`).
    const CONFIG_KEY: &'static str;
    /// The shipped profiles, as (name, TOML text).
    const BUILTIN: &'static [(&'static str, &'static str)];

    /// Values that parse but cannot work, in one English line.
    fn check(&self) -> Result<(), String>;
}

/// A profile could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown {kind} profile {name:?} (known: {known}); set {key} to one of them")]
    Unknown {
        kind: &'static str,
        key: &'static str,
        name: String,
        known: String,
    },
    #[error("cannot read {kind} profile {path}: {source}")]
    Read {
        kind: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("invalid {kind} profile {origin}: {message}")]
    Invalid {
        kind: &'static str,
        origin: String,
        message: String,
    },
}

/// Names of the shipped profiles of kind `P`.
pub fn builtin_names<P: Profile>() -> Vec<&'static str> {
    P::BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A shipped profile by name.
pub fn builtin<P: Profile>(name: &str) -> Result<P, ProfileError> {
    let text = P::BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| ProfileError::Unknown {
            kind: P::KIND,
            key: P::CONFIG_KEY,
            name: name.to_string(),
            known: builtin_names::<P>().join(", "),
        })?;
    from_toml(text, name)
}

/// A shipped profile by name, or a `.toml` file when `name_or_path` ends in `.toml` or
/// contains a `/`.
pub fn load<P: Profile>(name_or_path: &str) -> Result<P, ProfileError> {
    if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            kind: P::KIND,
            path: path.display().to_string(),
            source,
        })?;
        from_toml(&text, &path.display().to_string())
    } else {
        builtin(name_or_path)
    }
}

/// Parses and checks a profile; `origin` names it in errors.
pub fn from_toml<P: Profile>(text: &str, origin: &str) -> Result<P, ProfileError> {
    let invalid = |message: String| ProfileError::Invalid {
        kind: P::KIND,
        origin: origin.to_string(),
        message,
    };
    let p: P = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    p.check().map_err(invalid)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idcard::profile::ReaderProfile;
    use crate::printer::profile::PrinterProfile;

    #[test]
    fn one_loader_names_the_kind_and_the_config_key() {
        for (e, expected) in [
            (
                builtin::<ReaderProfile>("nope").unwrap_err(),
                "unknown reader profile \"nope\" (known: sam-generic, sam-9600); set reader.profile",
            ),
            (
                builtin::<PrinterProfile>("nope").unwrap_err(),
                "unknown printer profile \"nope\" (known: generic-58mm, generic-80mm, gb2312-58mm-tearbar); set printer.profile",
            ),
        ] {
            assert!(e.to_string().starts_with(expected), "{e}");
        }
        assert!(matches!(
            load::<PrinterProfile>("/nonexistent/p.toml"),
            Err(ProfileError::Read {
                kind: "printer",
                ..
            })
        ));
        assert!(matches!(
            from_toml::<ReaderProfile>("name = 1", "test"),
            Err(ProfileError::Invalid { kind: "reader", .. })
        ));
    }
}
