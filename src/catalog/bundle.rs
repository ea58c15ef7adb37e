//! Signed bundles (签名数据包): how the county distributes its catalogue (kind `catalog`) and
//! announcements (kind `announcements`) to the kiosks, signed with ed25519.
//!
//! A bundle is one UTF-8 JSON object, so a technician can look inside it:
//!
//! ```json
//! {
//!   "format": "village-kiosk/signed-bundle",
//!   "format_version": 1,
//!   "kind": "catalog",
//!   "key": "<hex of the signer's 32-byte ed25519 public key>",
//!   "payload": "<standard base64 of the payload bytes (JSON)>",
//!   "signature": "<hex of the 64-byte ed25519 signature>"
//! }
//! ```
//!
//! The signature covers `"village-kiosk/signed-bundle\n1\n" + kind + "\n" + payload`, so neither
//! the kind nor the format version can be swapped without breaking it. The `key` field is only a
//! hint for error messages: the signature is always checked against the key the kiosk trusts.
//!
//! Key files (see [`parse_signing_key`]): UTF-8 text, `#` comment lines, and one line of 64 hex
//! digits, the 32-byte ed25519 seed. The public key is 64 hex digits too (config
//! `county.catalog_public_key`).
//!
//! This module is pure: bytes in, bytes or typed errors out. It never reads files, never touches
//! the store, and never returns a payload whose signature did not verify.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::model::Catalog;
use super::validate;

/// The `format` every bundle carries.
pub const FORMAT_NAME: &str = "village-kiosk/signed-bundle";
/// The newest (and only) format version this kiosk reads and writes.
pub const FORMAT_VERSION: u64 = 1;
/// The payload kind of a service catalogue (事项目录).
pub const KIND_CATALOG: &str = "catalog";
/// The payload kind of announcements (通知公告), signed by the county back office.
pub const KIND_ANNOUNCEMENTS: &str = "announcements";

/// The seed of the DEMO signing key, public on purpose: demo mode and tests sign and verify with
/// it. A real county generates its own key with `kiosk catalog keygen` and never uses this one.
pub const DEMO_SIGNING_SEED_HEX: &str =
    "76696c6c6167652d6b696f736b2044454d4f206b65792c206e6f742073656321";
/// The public half of the DEMO key pair; demo mode (no `county.catalog_public_key`) trusts it.
pub const DEMO_PUBLIC_KEY_HEX: &str =
    "44713b46514c2a031943e8b92c811540211403992c4b83e92dfe9ddd18fb1115";

/// Why a bundle or a key was refused. Every variant says what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a signed bundle: {detail}")]
    Malformed { detail: String },
    #[error(
        "unknown bundle format {found:?} (expected {FORMAT_NAME:?}); ask the county for a village-kiosk signed bundle"
    )]
    UnknownFormat { found: String },
    #[error(
        "bundle format version {found} is not supported (this kiosk reads version {FORMAT_VERSION}); install a newer kiosk or ask the county for a version {FORMAT_VERSION} bundle"
    )]
    UnsupportedVersion { found: u64 },
    #[error("the bundle holds {found:?}, expected {expected:?}; pick the right file")]
    WrongKind { expected: String, found: String },
    #[error(
        "the bundle was signed by key {found}, but this kiosk trusts {expected}; check county.catalog_public_key in the config or ask the county for a bundle signed with its key"
    )]
    SignedByOtherKey { found: String, expected: String },
    #[error(
        "bad signature: the bundle was changed after it was signed or is damaged; get a fresh copy from the county"
    )]
    BadSignature,
    #[error("the {kind} inside the bundle is not valid: {detail}")]
    Payload { kind: String, detail: String },
    #[error("the catalogue is incomplete ({} problem(s)): {}", problems.len(), problems.join("; "))]
    Incomplete { problems: Vec<String> },
}

/// Why a key (file or hex string) was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "no key line found: expected one line of 64 hex digits (the 32-byte ed25519 seed); generate a key with `kiosk catalog keygen`"
    )]
    Empty,
    #[error(
        "line {line}: expected 64 hex digits (a 32-byte ed25519 key), found {found_len} characters{hint}"
    )]
    BadHex {
        line: usize,
        found_len: usize,
        hint: &'static str,
    },
    #[error("line {line}: more than one key line; a key file holds exactly one key")]
    Extra { line: usize },
    #[error("{0:?} is not a valid ed25519 public key (64 hex digits of a curve point)")]
    BadPublicKey(String),
}

/// The JSON envelope. Field order is the order written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    format_version: u64,
    kind: String,
    key: String,
    payload: String,
    signature: String,
}

/// What a signature covers.
fn signed_message(kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(FORMAT_NAME.len() + kind.len() + payload.len() + 8);
    msg.extend_from_slice(FORMAT_NAME.as_bytes());
    msg.extend_from_slice(format!("\n{FORMAT_VERSION}\n").as_bytes());
    msg.extend_from_slice(kind.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(payload);
    msg
}

/// Signs `payload` (JSON bytes) as a bundle of `kind`. The result is the bundle file's bytes.
pub fn sign(kind: &str, payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let signature = key.sign(&signed_message(kind, payload));
    let envelope = Envelope {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        kind: kind.to_string(),
        key: hex::encode(key.verifying_key().to_bytes()),
        payload: base64::engine::general_purpose::STANDARD.encode(payload),
        signature: hex::encode(signature.to_bytes()),
    };
    // Serialising a struct of strings and integers cannot fail.
    let mut out = serde_json::to_vec_pretty(&envelope).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Facts about a bundle that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub kind: String,
    /// Hex of the public key that verified it.
    pub key: String,
    pub payload: Vec<u8>,
}

/// Checks a bundle's format, version, kind and signature against `trusted`, and returns the
/// payload only if everything holds.
pub fn open(
    bytes: &[u8],
    expected_kind: &str,
    trusted: &VerifyingKey,
) -> Result<Vec<u8>, BundleError> {
    open_detailed(bytes, expected_kind, trusted).map(|o| o.payload)
}

/// Like [`open`], also returning which key verified the bundle.
pub fn open_detailed(
    bytes: &[u8],
    expected_kind: &str,
    trusted: &VerifyingKey,
) -> Result<Opened, BundleError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed {
            detail: format!(
                "line {} column {}: {}",
                e.line(),
                e.column(),
                json_error_text(&e)
            ),
        })?;
    // Check format and version first, so a newer bundle says "newer", not "malformed".
    let obj = value.as_object().ok_or_else(|| BundleError::Malformed {
        detail:
            "the file is JSON but not an object with `format`, `kind`, `payload` and `signature`"
                .into(),
    })?;
    match obj.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT_NAME) => {}
        Some(other) => {
            return Err(BundleError::UnknownFormat {
                found: other.to_string(),
            });
        }
        None if obj.contains_key("items") && obj.contains_key("county") => {
            return Err(BundleError::Malformed {
                detail: "this is a plain catalogue JSON, not a signed bundle; the county signs it with `kiosk catalog sign`".into(),
            });
        }
        None => {
            return Err(BundleError::Malformed {
                detail: "missing field `format`".into(),
            });
        }
    }
    match obj.get("format_version").map(|v| v.as_u64()) {
        Some(Some(FORMAT_VERSION)) => {}
        Some(Some(found)) => return Err(BundleError::UnsupportedVersion { found }),
        Some(None) => {
            return Err(BundleError::Malformed {
                detail: "field `format_version` is not a whole number".into(),
            });
        }
        None => {
            return Err(BundleError::Malformed {
                detail: "missing field `format_version`".into(),
            });
        }
    }
    let env: Envelope = serde_json::from_value(value).map_err(|e| BundleError::Malformed {
        detail: e.to_string(),
    })?;
    if env.kind != expected_kind {
        return Err(BundleError::WrongKind {
            expected: expected_kind.to_string(),
            found: env.kind,
        });
    }
    let trusted_hex = hex::encode(trusted.to_bytes());
    if !env.key.eq_ignore_ascii_case(&trusted_hex) {
        return Err(BundleError::SignedByOtherKey {
            found: env.key,
            expected: trusted_hex,
        });
    }
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env.payload.trim())
        .map_err(|e| BundleError::Malformed {
            detail: format!("field `payload` is not base64: {e}"),
        })?;
    let sig_bytes: [u8; 64] = hex::decode(env.signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BundleError::Malformed {
            detail: "field `signature` is not 128 hex digits (a 64-byte ed25519 signature)".into(),
        })?;
    let signature = Signature::from_bytes(&sig_bytes);
    trusted
        .verify_strict(&signed_message(&env.kind, &payload), &signature)
        .map_err(|_| BundleError::BadSignature)?;
    Ok(Opened {
        kind: env.kind,
        key: trusted_hex,
        payload,
    })
}

/// Signs a catalogue, refusing one that is incomplete: the county never ships a guide with a
/// missing element.
pub fn sign_catalog(catalog: &Catalog, key: &SigningKey) -> Result<Vec<u8>, BundleError> {
    let problems = validate::catalog_problems(catalog);
    if !problems.is_empty() {
        return Err(BundleError::Incomplete { problems });
    }
    let payload = serde_json::to_vec(catalog).map_err(|e| BundleError::Payload {
        kind: KIND_CATALOG.into(),
        detail: e.to_string(),
    })?;
    Ok(sign(KIND_CATALOG, &payload, key))
}

/// Verifies a catalogue bundle, parses the catalogue and checks that every item is complete.
pub fn open_catalog(bytes: &[u8], trusted: &VerifyingKey) -> Result<Catalog, BundleError> {
    let payload = open(bytes, KIND_CATALOG, trusted)?;
    let catalog = parse_catalog_json(&payload).map_err(|detail| BundleError::Payload {
        kind: KIND_CATALOG.into(),
        detail,
    })?;
    let problems = validate::catalog_problems(&catalog);
    if !problems.is_empty() {
        return Err(BundleError::Incomplete { problems });
    }
    Ok(catalog)
}

/// Parses catalogue JSON; the error names line, column and what is wrong (e.g. a missing field).
pub fn parse_catalog_json(bytes: &[u8]) -> Result<Catalog, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "line {} column {}: {}",
            e.line(),
            e.column(),
            json_error_text(&e)
        )
    })
}

/// serde_json's message without its trailing " at line L column C" (we say it first).
fn json_error_text(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The key a kiosk verifies county bundles against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedKey {
    /// `county.catalog_public_key` from the config.
    Configured(VerifyingKey),
    /// Demo mode without a configured key: the published DEMO key.
    Demo(VerifyingKey),
}

impl TrustedKey {
    pub fn key(&self) -> &VerifyingKey {
        match self {
            TrustedKey::Configured(k) | TrustedKey::Demo(k) => k,
        }
    }
}

/// Why no key can be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    #[error(
        "county.catalog_public_key: {0}; copy the county's public key as printed by `kiosk catalog keygen`"
    )]
    BadKey(KeyError),
    #[error(
        "county.catalog_public_key is not set, so no bundle can be verified; set it to the county's public key (64 hex digits)"
    )]
    NotSet,
}

/// Where the trusted key comes from: implemented by [`crate::config::Config`], whose
/// `trusted_key` holds the rule. Lets this module stay free of the config (no import circle).
pub trait TrustSource {
    fn trusted_key(&self) -> Result<TrustedKey, TrustError>;
}

/// The key county bundles must be signed with under `config` (the rule is
/// `Config::trusted_key`; this name is kept for callers).
pub fn trusted_key(config: &impl TrustSource) -> Result<TrustedKey, TrustError> {
    config.trusted_key()
}

/// The DEMO signing key. Only for demo mode, tests and examples.
pub fn demo_signing_key() -> SigningKey {
    // The constant is 64 valid hex digits (checked by a unit test).
    parse_signing_key(DEMO_SIGNING_SEED_HEX).unwrap_or_else(|_| SigningKey::from_bytes(&[0; 32]))
}

/// The DEMO public key that demo mode trusts.
pub fn demo_verifying_key() -> VerifyingKey {
    demo_signing_key().verifying_key()
}

/// Parses a key file's text (see the module doc).
pub fn parse_signing_key(text: &str) -> Result<SigningKey, KeyError> {
    let mut seed: Option<Zeroizing<[u8; 32]>> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if seed.is_some() {
            return Err(KeyError::Extra { line: i + 1 });
        }
        seed = Some(parse_hex32(line, i + 1)?);
    }
    let seed = seed.ok_or(KeyError::Empty)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn parse_hex32(line: &str, line_no: usize) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut out = Zeroizing::new([0u8; 32]);
    let bad = || KeyError::BadHex {
        line: line_no,
        found_len: line.chars().count(),
        hint: if line.chars().count() == 128 {
            " (that looks like a 64-byte keypair; keep only the first 64 digits, the seed)"
        } else {
            ""
        },
    };
    if line.len() != 64 {
        return Err(bad());
    }
    hex::decode_to_slice(line, &mut out[..]).map_err(|_| bad())?;
    Ok(out)
}

/// The text of a key file for `key`: comments naming the public key, then the seed.
pub fn format_signing_key(key: &SigningKey, label: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "# village-kiosk ed25519 signing key: {label}\n\
         # KEEP SECRET. Anyone holding this file can sign catalogues the kiosks accept.\n\
         # public key (config county.catalog_public_key): {}\n\
         {}\n",
        hex::encode(key.verifying_key().to_bytes()),
        hex::encode(key.to_bytes())
    ))
}

/// Parses a public key given as 64 hex digits (surrounding spaces ignored).
pub fn parse_verifying_key(hex_text: &str) -> Result<VerifyingKey, KeyError> {
    let t = hex_text.trim();
    let bytes = parse_hex32(t, 1)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn demo_constants_are_one_key_pair() {
        let k = demo_signing_key();
        assert_eq!(hex::encode(k.to_bytes()), DEMO_SIGNING_SEED_HEX);
        assert_eq!(
            hex::encode(k.verifying_key().to_bytes()),
            DEMO_PUBLIC_KEY_HEX
        );
        assert_eq!(
            parse_verifying_key(DEMO_PUBLIC_KEY_HEX),
            Ok(k.verifying_key())
        );
    }

    #[test]
    fn sign_then_open_round_trips_any_kind() {
        let k = key(7);
        let b = sign(KIND_ANNOUNCEMENTS, br#"{"a":1}"#, &k);
        assert_eq!(
            open(&b, KIND_ANNOUNCEMENTS, &k.verifying_key()).as_deref(),
            Ok(&br#"{"a":1}"#[..])
        );
    }

    #[test]
    fn wrong_kind_is_refused() {
        let k = key(7);
        let b = sign(KIND_ANNOUNCEMENTS, b"{}", &k);
        assert!(matches!(
            open(&b, KIND_CATALOG, &k.verifying_key()),
            Err(BundleError::WrongKind { .. })
        ));
    }

    #[test]
    fn other_key_is_named() {
        let b = sign(KIND_CATALOG, b"{}", &key(1));
        assert!(matches!(
            open(&b, KIND_CATALOG, &key(2).verifying_key()),
            Err(BundleError::SignedByOtherKey { .. })
        ));
    }

    #[test]
    fn tampered_payload_or_kind_breaks_the_signature() {
        let k = key(3);
        let b = sign(KIND_CATALOG, br#"{"n":1}"#, &k);
        let mut env: serde_json::Value = serde_json::from_slice(&b).unwrap();
        env["payload"] = base64::engine::general_purpose::STANDARD
            .encode(br#"{"n":2}"#)
            .into();
        let t = serde_json::to_vec(&env).unwrap();
        assert_eq!(
            open(&t, KIND_CATALOG, &k.verifying_key()),
            Err(BundleError::BadSignature)
        );

        // Re-labelling the kind is caught by the signature too.
        let mut env: serde_json::Value = serde_json::from_slice(&b).unwrap();
        env["kind"] = "announcements".into();
        let t = serde_json::to_vec(&env).unwrap();
        assert_eq!(
            open(&t, KIND_ANNOUNCEMENTS, &k.verifying_key()),
            Err(BundleError::BadSignature)
        );
    }

    #[test]
    fn newer_version_and_foreign_formats_are_named() {
        let k = key(3);
        let b = sign(KIND_CATALOG, b"{}", &k);
        let mut env: serde_json::Value = serde_json::from_slice(&b).unwrap();
        env["format_version"] = 2.into();
        let t = serde_json::to_vec(&env).unwrap();
        assert_eq!(
            open(&t, KIND_CATALOG, &k.verifying_key()),
            Err(BundleError::UnsupportedVersion { found: 2 })
        );
        env["format"] = "zip".into();
        let t = serde_json::to_vec(&env).unwrap();
        assert!(matches!(
            open(&t, KIND_CATALOG, &k.verifying_key()),
            Err(BundleError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn malformed_files_say_where() {
        let k = key(3);
        let e = open(b"{\n \"format\": }", KIND_CATALOG, &k.verifying_key()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = open(
            br#"{"county":"x","version":1,"items":[]}"#,
            KIND_CATALOG,
            &k.verifying_key(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("kiosk catalog sign"), "{e}");
        let b = sign(KIND_CATALOG, b"{}", &k);
        let mut env: serde_json::Value = serde_json::from_slice(&b).unwrap();
        env.as_object_mut().unwrap().remove("signature");
        let t = serde_json::to_vec(&env).unwrap();
        let e = open(&t, KIND_CATALOG, &k.verifying_key()).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }

    #[test]
    fn key_files_round_trip_and_errors_name_the_line() {
        let k = key(9);
        let text = format_signing_key(&k, "test");
        let back = parse_signing_key(&text).unwrap();
        assert_eq!(back.to_bytes(), k.to_bytes());
        assert_eq!(
            parse_signing_key("# only a comment\n").unwrap_err(),
            KeyError::Empty
        );
        assert!(matches!(
            parse_signing_key("# c\nabc\n").unwrap_err(),
            KeyError::BadHex { line: 2, .. }
        ));
        let two = format!("{}\n{}\n", "00".repeat(32), "11".repeat(32));
        assert_eq!(
            parse_signing_key(&two).unwrap_err(),
            KeyError::Extra { line: 2 }
        );
    }
}
