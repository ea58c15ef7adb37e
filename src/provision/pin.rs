//! The maintenance PIN (维护密码): stored only as a salted PBKDF2-HMAC-SHA256 hash, in the text
//! form `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`. The county hashes the PIN when it
//! makes the provisioning bundle; the terminal only ever verifies.
//!
//! Pure: no I/O; the salt comes from the caller.

use sha2::{Digest, Sha256};

const PREFIX: &str = "pbkdf2-sha256";
/// Iterations for new hashes: a 6-digit PIN is weak, each guess should cost something.
pub const ITERATIONS: u32 = 200_000;

/// Why a PIN hash string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error(
        "not a PIN hash: expected pbkdf2-sha256$<iterations>$<salt hex>$<hash hex> (make one with county-backoffice provision station --pin)"
    )]
    Format,
    #[error("the PIN must be 6 to 12 digits")]
    BadPin,
}

/// A parsed PIN hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: [u8; 32],
}

impl PinHash {
    pub fn parse(text: &str) -> Result<PinHash, PinError> {
        let mut parts = text.trim().split('$');
        if parts.next() != Some(PREFIX) {
            return Err(PinError::Format);
        }
        let iterations: u32 = parts
            .next()
            .and_then(|i| i.parse().ok())
            .filter(|i| *i >= 1)
            .ok_or(PinError::Format)?;
        let salt = parts
            .next()
            .and_then(|s| hex::decode(s).ok())
            .filter(|s| s.len() >= 8)
            .ok_or(PinError::Format)?;
        let hash: [u8; 32] = parts
            .next()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|h| h.try_into().ok())
            .ok_or(PinError::Format)?;
        if parts.next().is_some() {
            return Err(PinError::Format);
        }
        Ok(PinHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `pin` is the PIN this hash was made from (constant-time comparison).
    pub fn verify(&self, pin: &str) -> bool {
        let got = pbkdf2_sha256(pin.as_bytes(), &self.salt, self.iterations);
        got.iter()
            .zip(self.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Checks a PIN's shape: 6 to 12 digits.
pub fn check_pin(pin: &str) -> Result<(), PinError> {
    if (6..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::BadPin)
    }
}

/// Hashes `pin` with the given salt and iteration count, in the text form.
pub fn hash_with_salt(pin: &str, salt: &[u8], iterations: u32) -> String {
    let h = pbkdf2_sha256(pin.as_bytes(), salt, iterations);
    format!(
        "{PREFIX}${iterations}${}${}",
        hex::encode(salt),
        hex::encode(h)
    )
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// PBKDF2-HMAC-SHA256 with one 32-byte output block (RFC 8018).
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac_sha256(password, &[salt, &1u32.to_be_bytes()]);
    let mut t = u;
    for _ in 1..iterations {
        u = hmac_sha256(password, &[&u]);
        for (t, u) in t.iter_mut().zip(u.iter()) {
            *t ^= u;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_the_rfc_7914_vector() {
        // RFC 7914 §11: P="passwd", S="salt", c=1; the first 32 bytes of the 64-byte output.
        assert_eq!(
            hex::encode(pbkdf2_sha256(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn a_hash_verifies_its_pin_only() {
        let text = hash_with_salt("246810", b"0123456789abcdef", 1000);
        let h = PinHash::parse(&text).unwrap();
        assert!(h.verify("246810"));
        assert!(!h.verify("246811"));
        assert_eq!(PinHash::parse("246810"), Err(PinError::Format));
        assert_eq!(
            PinHash::parse(&format!("{text}$extra")),
            Err(PinError::Format)
        );
        assert!(check_pin("246810").is_ok());
        assert_eq!(check_pin("12ab56"), Err(PinError::BadPin));
        assert_eq!(check_pin("123"), Err(PinError::BadPin));
    }
}
