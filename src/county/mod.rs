//! The link to the county back office (县级后台): the API's wire types, the HTTP client, the
//! store-and-forward outbox and its retry rules.
//!
//! - [`wire`]: the API's serialised shapes; the only place that derives `Serialize` for them.
//! - [`retry`]: backoff, Retry-After and classification of outcomes; sans-IO.
//! - [`outbox`]: applications, evaluations and heartbeats written to SQLite before the screen
//!   says accepted, and the tokio worker that forwards them exactly once.
//! - [`client`]: reqwest over rustls, mutual TLS (or a bearer token in demo mode).
//! - [`noticeboard`]: the county's signed announcements, kept and shown on the idle screen.
//! - [`sync`]: catalogue, announcements and key rotation kept current from the county (a sans-IO
//!   schedule and judge, a thin tokio loop); a new catalogue waits until the visit ends.
//! - [`tls`]: loading PEM files and building rustls configurations for both ends.
//!
//! Nothing here may log personal data except through `crate::pii::Masked`.

pub mod client;
pub mod noticeboard;
pub mod outbox;
pub mod retry;
pub mod sync;
pub mod tls;
pub mod wire;

pub use client::{CountyAuth, CountyClient};
pub use outbox::{Accepted, NewApplication, Outbox, OutboxError, spawn_worker};

use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer);
    out
}

/// The keyed hash a station sends instead of an ID number to ask for a person's cases:
/// `hex(HMAC-SHA256(salt, normalised ID number))`. Upper-cases a trailing `x`.
pub fn person_key(salt: &[u8], id_number: &str) -> String {
    let normalised = id_number.trim().to_ascii_uppercase();
    hex::encode(hmac_sha256(salt, normalised.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn person_key_normalises_and_depends_on_the_salt() {
        let a = person_key(b"salt", "41032919800101001x");
        assert_eq!(a, person_key(b"salt", " 41032919800101001X "));
        assert_ne!(a, person_key(b"other", "41032919800101001X"));
        assert!(!a.contains("410329"));
    }
}
