//! 密钥环: the small set of county keys a kiosk trusts, verification with any of them, and key
//! rotation.
//!
//! A kiosk is provisioned with one or more county public keys (`county.catalog_public_key` and
//! `county.trusted_keys`; the DEMO key in demo mode). The county rotates its key with a signed
//! bundle of kind `keyring` whose payload ([`KeyRotation`]) is the *whole* new set of trusted
//! keys, signed by a key the kiosk trusts now:
//!
//! 1. announce: `{version: 1, keys: [old, new]}` signed by `old`: the kiosk trusts both;
//! 2. the county signs catalogue and announcements with `new` from then on;
//! 3. retire: `{version: 2, keys: [new]}` signed by `new` (or `old`): `old` is no longer trusted.
//!
//! A rotation must be newer than the last one applied (a replayed older rotation is refused),
//! name the county whose catalogue is installed, and hold one to [`MAX_KEYS`] valid keys. The
//! kiosk keeps every rotation it applied, in order, and [`Keyring::replay`] rebuilds the set from
//! the configured keys at start, verifying each link again.
//!
//! Pure: bytes in, keys or typed errors out; no files, no store, no clock (`issued_at` is data).
//! A payload is never looked at unless its signature verified against a trusted key.

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::bundle::{self, BundleError, KeyError, Opened};
use super::model::Catalog;

/// The payload kind of a key rotation.
pub const KIND_KEYRING: &str = "keyring";
/// At most this many keys are trusted at once.
pub const MAX_KEYS: usize = 4;

/// 密钥轮换: the payload of a `keyring` bundle. `keys` replaces the trusted set whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The county whose kiosks this is for (as in its catalogue, e.g. 示范县).
    pub county: String,
    /// Monotonic; a kiosk applies only a version newer than the last one applied.
    pub version: u64,
    /// When the county issued it (签发时间).
    pub issued_at: DateTime<Utc>,
    /// The new set of trusted public keys, 64 hex digits each.
    pub keys: Vec<String>,
}

/// Where the trusted set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringSource {
    /// `county.catalog_public_key` / `county.trusted_keys`.
    Configured,
    /// Demo mode without configured keys: the published DEMO key.
    Demo,
    /// A key rotation bundle of this version.
    Rotation(u64),
}

/// The keys a kiosk trusts now: at least one, at most [`MAX_KEYS`], no duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<VerifyingKey>,
    source: KeyringSource,
}

/// Why a set of keys cannot be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error(
        "no county key is configured, so no bundle can be verified; set county.catalog_public_key (or county.trusted_keys) to the county's public key (64 hex digits)"
    )]
    NotSet,
    #[error("{field}: {source}; copy the county's public key as printed by `kiosk catalog keygen`")]
    BadKey { field: String, source: KeyError },
    #[error("{found} keys, but a kiosk trusts at most {MAX_KEYS}; retire old keys first")]
    TooMany { found: usize },
    #[error("an empty set of keys would trust nothing")]
    Empty,
}

/// Why a key rotation bundle was refused. The trusted set is unchanged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotationError {
    #[error("key rotation refused: {0}")]
    Bundle(BundleError),
    #[error("key rotation refused: the payload is not a key rotation: {0}")]
    Payload(String),
    #[error(
        "key rotation refused: version {offered} is not newer than the rotation already applied (version {applied}); a replayed old rotation is ignored"
    )]
    Replay { applied: u64, offered: u64 },
    #[error(
        "key rotation refused: it is for {found}, but this kiosk's catalogue is {expected}'s; ask your own county"
    )]
    OtherCounty { expected: String, found: String },
    #[error("key rotation refused: {0}")]
    Keys(KeyringError),
}

impl RotationError {
    /// The stable word the heartbeat reports (`replay`, `other_county`, `untrusted`, `invalid`).
    pub fn reason(&self) -> &'static str {
        match self {
            RotationError::Replay { .. } => "replay",
            RotationError::OtherCounty { .. } => "other_county",
            RotationError::Bundle(BundleError::SignedByOtherKey { .. })
            | RotationError::Bundle(BundleError::BadSignature) => "untrusted",
            _ => "invalid",
        }
    }
}

impl Keyring {
    /// A set of keys (duplicates dropped). Fails when empty or larger than [`MAX_KEYS`].
    pub fn new(keys: Vec<VerifyingKey>, source: KeyringSource) -> Result<Keyring, KeyringError> {
        let mut unique: Vec<VerifyingKey> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        if unique.is_empty() {
            return Err(KeyringError::Empty);
        }
        if unique.len() > MAX_KEYS {
            return Err(KeyringError::TooMany {
                found: unique.len(),
            });
        }
        Ok(Keyring {
            keys: unique,
            source,
        })
    }

    /// One key.
    pub fn single(key: VerifyingKey) -> Keyring {
        Keyring {
            keys: vec![key],
            source: KeyringSource::Configured,
        }
    }

    /// The DEMO key only.
    pub fn demo() -> Keyring {
        Keyring {
            keys: vec![bundle::demo_verifying_key()],
            source: KeyringSource::Demo,
        }
    }

    /// The keys configured under `config`: `county.catalog_public_key` and
    /// `county.trusted_keys`; in demo mode without either, the DEMO key.
    pub fn from_config(config: &crate::config::Config) -> Result<Keyring, KeyringError> {
        let c = &config.county;
        let mut keys = Vec::new();
        let fields = c
            .catalog_public_key
            .iter()
            .map(|k| ("county.catalog_public_key".to_string(), k))
            .chain(
                c.trusted_keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (format!("county.trusted_keys[{i}]"), k)),
            );
        for (field, hex) in fields {
            keys.push(
                bundle::parse_verifying_key(hex)
                    .map_err(|source| KeyringError::BadKey { field, source })?,
            );
        }
        if keys.is_empty() {
            return if config.is_demo() {
                Ok(Keyring::demo())
            } else {
                Err(KeyringError::NotSet)
            };
        }
        Keyring::new(keys, KeyringSource::Configured)
    }

    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    pub fn source(&self) -> KeyringSource {
        self.source
    }

    /// The version of the last rotation applied; 0 for the configured (or demo) keys.
    pub fn version(&self) -> u64 {
        match self.source {
            KeyringSource::Rotation(v) => v,
            _ => 0,
        }
    }

    pub fn contains(&self, key: &VerifyingKey) -> bool {
        self.keys.contains(key)
    }

    /// The trusted keys as hex, comma separated (for messages).
    pub fn describe(&self) -> String {
        self.keys
            .iter()
            .map(|k| hex::encode(k.to_bytes()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Verifies a bundle of `kind` against whichever trusted key signed it.
    pub fn open(&self, bytes: &[u8], kind: &str) -> Result<Opened, BundleError> {
        let mut other_key = None;
        for key in &self.keys {
            match bundle::open_detailed(bytes, kind, key) {
                Ok(opened) => return Ok(opened),
                // The bundle names another signer: try the next key.
                Err(BundleError::SignedByOtherKey { found, .. }) => other_key = Some(found),
                // Format, kind, or a signature that does not hold for the key it names.
                Err(e) => return Err(e),
            }
        }
        Err(BundleError::SignedByOtherKey {
            found: other_key.unwrap_or_default(),
            expected: self.describe(),
        })
    }

    /// Verifies a catalogue bundle with any trusted key, parses it and checks completeness.
    /// Returns the catalogue and the hex of the key that verified it.
    pub fn open_catalog(&self, bytes: &[u8]) -> Result<(Catalog, String), BundleError> {
        let opened = self.open(bytes, bundle::KIND_CATALOG)?;
        let key = bundle::parse_verifying_key(&opened.key).map_err(|e| BundleError::Malformed {
            detail: e.to_string(),
        })?;
        // `open_catalog` verifies again with the key that matched, then parses and validates.
        let catalog = bundle::open_catalog(bytes, &key)?;
        Ok((catalog, opened.key))
    }

    /// Applies a key rotation bundle: verified with a key trusted now, newer than the last one
    /// applied, for `county` (the installed catalogue's, when there is one). Returns the new
    /// set; `self` is unchanged either way.
    pub fn rotate(
        &self,
        bytes: &[u8],
        county: Option<&str>,
    ) -> Result<(Keyring, KeyRotation), RotationError> {
        let opened = self
            .open(bytes, KIND_KEYRING)
            .map_err(RotationError::Bundle)?;
        let rotation: KeyRotation = serde_json::from_slice(&opened.payload)
            .map_err(|e| RotationError::Payload(e.to_string()))?;
        if rotation.version <= self.version() {
            return Err(RotationError::Replay {
                applied: self.version(),
                offered: rotation.version,
            });
        }
        if let Some(expected) = county
            && expected != rotation.county
        {
            return Err(RotationError::OtherCounty {
                expected: expected.to_string(),
                found: rotation.county,
            });
        }
        let ring = rotation_keys(&rotation)
            .and_then(|keys| Keyring::new(keys, KeyringSource::Rotation(rotation.version)))
            .map_err(RotationError::Keys)?;
        Ok((ring, rotation))
    }

    /// Rebuilds the trusted set from the configured keys and the rotations applied so far
    /// (oldest first), verifying each again. A link that no longer verifies (say, the
    /// technician already configured the new key) is skipped and reported with its index.
    pub fn replay(base: Keyring, chain: &[Vec<u8>]) -> (Keyring, Vec<(usize, RotationError)>) {
        let mut ring = base;
        let mut skipped = Vec::new();
        for (i, link) in chain.iter().enumerate() {
            match ring.rotate(link, None) {
                Ok((next, _)) => ring = next,
                Err(e) => skipped.push((i, e)),
            }
        }
        (ring, skipped)
    }
}

/// The verifying keys a rotation names.
pub fn rotation_keys(rotation: &KeyRotation) -> Result<Vec<VerifyingKey>, KeyringError> {
    rotation
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            bundle::parse_verifying_key(k).map_err(|source| KeyringError::BadKey {
                field: format!("keys[{i}]"),
                source,
            })
        })
        .collect()
}

/// Signs a key rotation, refusing one that would leave the kiosks without a usable key.
pub fn sign_rotation(rotation: &KeyRotation, key: &SigningKey) -> Result<Vec<u8>, RotationError> {
    rotation_keys(rotation)
        .and_then(|keys| Keyring::new(keys, KeyringSource::Rotation(rotation.version)))
        .map_err(RotationError::Keys)?;
    let payload =
        serde_json::to_vec(rotation).map_err(|e| RotationError::Payload(e.to_string()))?;
    Ok(bundle::sign(KIND_KEYRING, &payload, key))
}

/// Parses a key rotation JSON file (as county staff write it).
pub fn parse_rotation_json(bytes: &[u8]) -> Result<KeyRotation, String> {
    serde_json::from_slice(bytes)
        .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn hexkey(k: &SigningKey) -> String {
        hex::encode(k.verifying_key().to_bytes())
    }

    fn rotation(version: u64, keys: &[&SigningKey]) -> KeyRotation {
        KeyRotation {
            county: "示范县".into(),
            version,
            issued_at: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            keys: keys.iter().map(|k| hexkey(k)).collect(),
        }
    }

    #[test]
    fn any_trusted_key_verifies_and_others_are_named() {
        let ring = Keyring::new(
            vec![key(1).verifying_key(), key(2).verifying_key()],
            KeyringSource::Configured,
        )
        .unwrap();
        for k in [key(1), key(2)] {
            let b = bundle::sign(bundle::KIND_ANNOUNCEMENTS, b"{}", &k);
            assert_eq!(
                ring.open(&b, bundle::KIND_ANNOUNCEMENTS).unwrap().key,
                hexkey(&k)
            );
        }
        let b = bundle::sign(bundle::KIND_ANNOUNCEMENTS, b"{}", &key(3));
        match ring.open(&b, bundle::KIND_ANNOUNCEMENTS) {
            Err(BundleError::SignedByOtherKey { found, expected }) => {
                assert_eq!(found, hexkey(&key(3)));
                assert!(expected.contains(&hexkey(&key(1))) && expected.contains(&hexkey(&key(2))));
            }
            other => panic!("{other:?}"),
        }
        // A bundle naming a trusted key but with a broken signature is a bad signature.
        let mut env: serde_json::Value =
            serde_json::from_slice(&bundle::sign(bundle::KIND_ANNOUNCEMENTS, b"{}", &key(1)))
                .unwrap();
        env["signature"] = "00".repeat(64).into();
        assert_eq!(
            ring.open(
                &serde_json::to_vec(&env).unwrap(),
                bundle::KIND_ANNOUNCEMENTS
            ),
            Err(BundleError::BadSignature)
        );
    }

    #[test]
    fn announce_then_retire() {
        let (old, new) = (key(1), key(2));
        let ring = Keyring::single(old.verifying_key());
        let announce = sign_rotation(&rotation(1, &[&old, &new]), &old).unwrap();
        let (ring1, _) = ring.rotate(&announce, Some("示范县")).unwrap();
        assert!(ring1.contains(&old.verifying_key()) && ring1.contains(&new.verifying_key()));
        assert_eq!(ring1.version(), 1);
        let retire = sign_rotation(&rotation(2, &[&new]), &new).unwrap();
        let (ring2, _) = ring1.rotate(&retire, Some("示范县")).unwrap();
        assert_eq!(ring2.keys(), &[new.verifying_key()]);
        // The retired key signs nothing the kiosk accepts any more.
        let b = bundle::sign(bundle::KIND_CATALOG, b"{}", &old);
        assert!(matches!(
            ring2.open(&b, bundle::KIND_CATALOG),
            Err(BundleError::SignedByOtherKey { .. })
        ));
        // Replaying the announcement afterwards: refused (signed by a retired key).
        assert_eq!(
            ring2.rotate(&announce, None).unwrap_err().reason(),
            "untrusted"
        );
        // A replay signed by a trusted key but older: refused as a replay.
        let old_again = sign_rotation(&rotation(1, &[&new, &key(5)]), &new).unwrap();
        assert_eq!(
            ring2.rotate(&old_again, None).unwrap_err(),
            RotationError::Replay {
                applied: 2,
                offered: 1
            }
        );
        // Rebuilt at start from the configured key and the two links.
        let (rebuilt, skipped) = Keyring::replay(
            Keyring::single(old.verifying_key()),
            &[announce.clone(), retire.clone()],
        );
        assert_eq!(rebuilt, ring2);
        assert!(skipped.is_empty());
        // A technician already configured the new key: the first link is skipped.
        let (rebuilt, skipped) =
            Keyring::replay(Keyring::single(new.verifying_key()), &[announce, retire]);
        assert_eq!(rebuilt.keys(), &[new.verifying_key()]);
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn rotations_from_strangers_other_counties_or_without_keys_are_refused() {
        let (old, stranger) = (key(1), key(9));
        let ring = Keyring::single(old.verifying_key());
        let forged = sign_rotation(&rotation(1, &[&stranger]), &stranger).unwrap();
        assert_eq!(
            ring.rotate(&forged, None).unwrap_err().reason(),
            "untrusted"
        );
        let mut other = rotation(1, &[&old, &stranger]);
        other.county = "邻县".into();
        let b = sign_rotation(&other, &old).unwrap();
        assert_eq!(
            ring.rotate(&b, Some("示范县")).unwrap_err().reason(),
            "other_county"
        );
        assert!(matches!(
            sign_rotation(&rotation(1, &[]), &old),
            Err(RotationError::Keys(KeyringError::Empty))
        ));
        let five: Vec<SigningKey> = (10..15).map(key).collect();
        let refs: Vec<&SigningKey> = five.iter().collect();
        assert!(matches!(
            sign_rotation(&rotation(1, &refs), &old),
            Err(RotationError::Keys(KeyringError::TooMany { found: 5 }))
        ));
        // Hand-made payload with a bad key: refused, set unchanged.
        let mut bad = rotation(1, &[&old]);
        bad.keys.push("zz".into());
        let b = bundle::sign(KIND_KEYRING, &serde_json::to_vec(&bad).unwrap(), &old);
        assert!(matches!(
            ring.rotate(&b, None),
            Err(RotationError::Keys(KeyringError::BadKey { .. }))
        ));
    }

    #[test]
    fn configured_keys_and_demo() {
        let mut c = crate::config::Config::default();
        assert_eq!(Keyring::from_config(&c).unwrap(), Keyring::demo());
        c.county.url = Some("https://county.example".into());
        assert_eq!(Keyring::from_config(&c), Err(KeyringError::NotSet));
        c.county.trusted_keys = vec![hexkey(&key(1)), hexkey(&key(2)), hexkey(&key(1))];
        assert_eq!(Keyring::from_config(&c).unwrap().keys().len(), 2);
        c.county.trusted_keys.push("abc".into());
        assert!(matches!(
            Keyring::from_config(&c),
            Err(KeyringError::BadKey { field, .. }) if field == "county.trusted_keys[3]"
        ));
    }
}
