//! The update manifest (软件更新清单): what the county publishes for a software update, signed
//! with the county's **release key** (发布密钥), a key distinct from the catalogue key.
//!
//! A manifest is a [signed bundle](crate::catalog::bundle) of kind [`KIND_UPDATE`]; its payload
//! is the JSON of [`UpdateManifest`]: the new version, when it was issued, and the files of the
//! new root slot (the root filesystem image, the kernel and the initrd), each with its size and
//! SHA-256. A file's bytes are trusted only when their length and hash match the manifest that
//! verified against the release key. The root filesystem is either the raw image `rootfs.img`
//! or, what `hardware/image/build` writes, the gzip-compressed `rootfs.img.gz`, which also
//! lists the size and SHA-256 of the raw image it unpacks to ([`Unpacked`], checked by
//! [`super::unpack`] before and after the slot is written). Kiosks older than the compressed
//! form refuse such a manifest (`unknown field`) before downloading anything.
//!
//! Pure: bytes in, a checked manifest or a typed error out. [`judge`] compares a manifest with
//! the running version (only a newer version is offered).

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::catalog::bundle::{self as signed, BundleError};

/// The signed-bundle kind of an update manifest.
pub const KIND_UPDATE: &str = "update";
/// The payload shape this kiosk reads and writes.
pub const MANIFEST_VERSION: u32 = 1;
/// The files a root-slot update consists of, in install order (the boot entry comes last), with
/// the raw root filesystem image; [`ROOTFS_GZ`] may stand in for [`ROOTFS`].
pub const SLOT_FILES: [&str; 3] = [ROOTFS, "vmlinuz", "initrd.img"];
/// The raw root filesystem image (ext4), written to the slot's partition as it is.
pub const ROOTFS: &str = "rootfs.img";
/// The root filesystem image compressed with gzip, unpacked into the slot's partition.
pub const ROOTFS_GZ: &str = "rootfs.img.gz";
/// The slot's kernel and initrd, copied to the ESP.
pub const BOOT_FILES: [&str; 2] = ["vmlinuz", "initrd.img"];
/// At most this many bytes per file (a root filesystem image of a few GB).
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024 * 1024;

/// 更新清单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateManifest {
    pub manifest_version: u32,
    /// The new software version, `MAJOR.MINOR.PATCH` (the kiosk package's version).
    pub version: String,
    pub issued_at: DateTime<Utc>,
    /// The files of the new root slot, each once, named from [`SLOT_FILES`].
    pub files: Vec<UpdateFile>,
}

/// One file of an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFile {
    pub name: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Only for [`ROOTFS_GZ`]: the raw image it unpacks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked: Option<Unpacked>,
}

/// The raw image a compressed file unpacks to: what ends up in the slot's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unpacked {
    pub size: u64,
    /// Lower-case hex SHA-256 of the raw image.
    pub sha256: String,
}

impl UpdateManifest {
    /// The file named `name`.
    pub fn file(&self, name: &str) -> Option<&UpdateFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// The root filesystem: [`ROOTFS`] or [`ROOTFS_GZ`] (a checked manifest has exactly one).
    pub fn rootfs(&self) -> Option<&UpdateFile> {
        self.file(ROOTFS_GZ).or_else(|| self.file(ROOTFS))
    }

    /// All bytes to download.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Why a manifest was refused. Nothing was downloaded or installed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("update manifest refused: {0}")]
    Bundle(#[from] BundleError),
    #[error("update manifest refused: the payload is not a valid manifest: {0}")]
    Payload(String),
    #[error(
        "update manifest refused: the release key is also a catalogue key; the county signs updates with a release key of its own"
    )]
    ReleaseKeyIsCatalogueKey,
}

/// Parses `MAJOR.MINOR.PATCH` (a pre-release or build suffix is not accepted: releases only).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 9 {
            return None;
        }
        p.parse().ok()
    };
    let v = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(v)
}

fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check(m: &UpdateManifest) -> Result<(), String> {
    if m.manifest_version != MANIFEST_VERSION {
        return Err(format!(
            "manifest_version {} (this kiosk reads {MANIFEST_VERSION})",
            m.manifest_version
        ));
    }
    if parse_version(&m.version).is_none() {
        return Err(format!("version {:?} is not MAJOR.MINOR.PATCH", m.version));
    }
    let count = |name: &str| m.files.iter().filter(|f| f.name == name).count();
    match (count(ROOTFS), count(ROOTFS_GZ)) {
        (0, 0) => return Err(format!("file {ROOTFS} (or {ROOTFS_GZ}) is missing")),
        (1, 0) | (0, 1) => {}
        (1, 1) => return Err(format!("both {ROOTFS} and {ROOTFS_GZ} are listed")),
        _ => return Err("the root filesystem is listed twice".into()),
    }
    for name in BOOT_FILES {
        match count(name) {
            1 => {}
            0 => return Err(format!("file {name} is missing")),
            _ => return Err(format!("file {name} is listed twice")),
        }
    }
    for f in &m.files {
        if !SLOT_FILES.contains(&f.name.as_str()) && f.name != ROOTFS_GZ {
            return Err(format!(
                "unknown file {:?} (expected {}, {ROOTFS_GZ} instead of {ROOTFS})",
                f.name,
                SLOT_FILES.join(", ")
            ));
        }
        if f.size == 0 || f.size > MAX_FILE_SIZE {
            return Err(format!("file {} has size {} bytes", f.name, f.size));
        }
        if !is_sha256_hex(&f.sha256) {
            return Err(format!(
                "file {}: sha256 is not 64 lower-case hex digits",
                f.name
            ));
        }
        match (&f.unpacked, f.name == ROOTFS_GZ) {
            (None, true) => {
                return Err(format!(
                    "file {ROOTFS_GZ} lists no unpacked size and SHA-256"
                ));
            }
            (Some(_), false) => {
                return Err(format!(
                    "file {} is not compressed but lists an unpacked image",
                    f.name
                ));
            }
            (Some(u), true) if u.size == 0 || u.size > MAX_FILE_SIZE => {
                return Err(format!("file {ROOTFS_GZ} unpacks to {} bytes", u.size));
            }
            (Some(u), true) if !is_sha256_hex(&u.sha256) => {
                return Err(format!(
                    "file {ROOTFS_GZ}: the unpacked sha256 is not 64 lower-case hex digits"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Signs a manifest with the release key (the county's staff do this offline:
/// `kiosk update sign`). Refuses a manifest that would not open.
pub fn sign(m: &UpdateManifest, release_key: &SigningKey) -> Result<Vec<u8>, ManifestError> {
    check(m).map_err(ManifestError::Payload)?;
    let payload = serde_json::to_vec(m).map_err(|e| ManifestError::Payload(e.to_string()))?;
    Ok(signed::sign(KIND_UPDATE, &payload, release_key))
}

/// Verifies a manifest against the release key and checks its contents. `catalogue_keys` are
/// the county keys trusted for catalogues: a release key among them is refused (one stolen key
/// must not be able to push both content and software).
pub fn open(
    bytes: &[u8],
    release_key: &VerifyingKey,
    catalogue_keys: &[VerifyingKey],
) -> Result<UpdateManifest, ManifestError> {
    if catalogue_keys.contains(release_key) {
        return Err(ManifestError::ReleaseKeyIsCatalogueKey);
    }
    let payload = signed::open(bytes, KIND_UPDATE, release_key)?;
    let m: UpdateManifest =
        serde_json::from_slice(&payload).map_err(|e| ManifestError::Payload(e.to_string()))?;
    check(&m).map_err(ManifestError::Payload)?;
    Ok(m)
}

/// What a verified manifest means for a kiosk running `running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// A newer version: download it.
    Newer,
    /// The running version or an older one: nothing to do (an older one is never installed).
    NotNewer,
}

/// Compares the manifest's version with the running one.
pub fn judge(m: &UpdateManifest, running: &str) -> Offer {
    match (parse_version(&m.version), parse_version(running)) {
        (Some(new), Some(old)) if new > old => Offer::Newer,
        (Some(_), None) => Offer::Newer,
        _ => Offer::NotNewer,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample(version: &str) -> UpdateManifest {
        UpdateManifest {
            manifest_version: MANIFEST_VERSION,
            version: version.into(),
            issued_at: "2026-12-01T08:00:00Z".parse().unwrap(),
            files: SLOT_FILES
                .iter()
                .map(|n| UpdateFile {
                    name: n.to_string(),
                    size: 10,
                    sha256: "ab".repeat(32),
                    unpacked: None,
                })
                .collect(),
        }
    }

    /// `sample` with the root filesystem compressed.
    pub fn sample_gz(version: &str) -> UpdateManifest {
        let mut m = sample(version);
        m.files[0] = UpdateFile {
            name: ROOTFS_GZ.into(),
            size: 4,
            sha256: "cd".repeat(32),
            unpacked: Some(Unpacked {
                size: 10,
                sha256: "ab".repeat(32),
            }),
        };
        m
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn signed_manifest_opens_with_the_release_key_only() {
        let release = key(7);
        let bytes = sign(&sample("0.5.0"), &release).unwrap();
        let m = open(&bytes, &release.verifying_key(), &[key(1).verifying_key()]).unwrap();
        assert_eq!(m, sample("0.5.0"));
        // The catalogue key does not open it.
        assert!(matches!(
            open(&bytes, &key(1).verifying_key(), &[]),
            Err(ManifestError::Bundle(BundleError::SignedByOtherKey { .. }))
        ));
        // A release key that is also a catalogue key is refused.
        assert_eq!(
            open(&bytes, &release.verifying_key(), &[release.verifying_key()]),
            Err(ManifestError::ReleaseKeyIsCatalogueKey)
        );
    }

    #[test]
    fn tampered_or_truncated_manifest_is_refused() {
        let release = key(7);
        let bytes = sign(&sample("0.5.0"), &release).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let payload = v["payload"].as_str().unwrap();
        let mut chars: Vec<char> = payload.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let tampered = text.replace(payload, &chars.into_iter().collect::<String>());
        assert!(open(tampered.as_bytes(), &release.verifying_key(), &[]).is_err());
        assert!(open(&bytes[..bytes.len() / 2], &release.verifying_key(), &[]).is_err());
        // A bundle of another kind (a catalogue) is not a manifest.
        let other = signed::sign("catalog", b"{}", &release);
        assert!(matches!(
            open(&other, &release.verifying_key(), &[]),
            Err(ManifestError::Bundle(BundleError::WrongKind { .. }))
        ));
    }

    #[test]
    fn bad_contents_are_refused_at_signing_and_opening() {
        let release = key(7);
        let mut m = sample("0.5");
        assert!(matches!(sign(&m, &release), Err(ManifestError::Payload(_))));
        m = sample("0.5.0");
        m.files.pop();
        assert!(
            matches!(sign(&m, &release), Err(ManifestError::Payload(e)) if e.contains("initrd.img is missing"))
        );
        m = sample("0.5.0");
        m.files[0].sha256 = "AB".repeat(32);
        assert!(sign(&m, &release).is_err());
        m = sample("0.5.0");
        m.files[1].size = 0;
        assert!(sign(&m, &release).is_err());
        // Unsigned-checked payload (signed with the generic signer) is still checked on open.
        let mut bad = sample("0.5.0");
        bad.files.push(bad.files[0].clone());
        let bytes = signed::sign(KIND_UPDATE, &serde_json::to_vec(&bad).unwrap(), &release);
        assert!(matches!(
            open(&bytes, &release.verifying_key(), &[]),
            Err(ManifestError::Payload(e)) if e.contains("twice")
        ));
    }

    #[test]
    fn a_compressed_root_filesystem_lists_its_unpacked_image() {
        let release = key(7);
        let m = sample_gz("0.5.0");
        let bytes = sign(&m, &release).unwrap();
        let opened = open(&bytes, &release.verifying_key(), &[]).unwrap();
        assert_eq!(opened.rootfs().unwrap().name, ROOTFS_GZ);
        assert_eq!(opened, m);
        // A raw manifest's JSON has no `unpacked` (what kiosks before it read).
        let raw = serde_json::to_string(&sample("0.5.0")).unwrap();
        assert!(!raw.contains("unpacked"), "{raw}");
        assert_eq!(sample("0.5.0").rootfs().unwrap().name, ROOTFS);

        let refused = |m: &UpdateManifest, what: &str| match sign(m, &release) {
            Err(ManifestError::Payload(e)) => assert!(e.contains(what), "{e}"),
            other => panic!("{what}: {other:?}"),
        };
        let mut no_unpacked = sample_gz("0.5.0");
        no_unpacked.files[0].unpacked = None;
        refused(&no_unpacked, "lists no unpacked");
        let mut both = sample_gz("0.5.0");
        both.files.push(sample("0.5.0").files[0].clone());
        refused(&both, "both rootfs.img and rootfs.img.gz");
        let mut raw_with_unpacked = sample("0.5.0");
        raw_with_unpacked.files[1].unpacked = sample_gz("0.5.0").files[0].unpacked.clone();
        refused(&raw_with_unpacked, "vmlinuz is not compressed");
        let mut empty = sample_gz("0.5.0");
        empty.files[0].unpacked.as_mut().unwrap().size = 0;
        refused(&empty, "unpacks to 0 bytes");
        let mut bad_hash = sample_gz("0.5.0");
        bad_hash.files[0].unpacked.as_mut().unwrap().sha256 = "AB".repeat(32);
        refused(&bad_hash, "unpacked sha256");
        let mut none = sample_gz("0.5.0");
        none.files.remove(0);
        refused(&none, "rootfs.img (or rootfs.img.gz) is missing");
        let mut other = sample_gz("0.5.0");
        let mut zst = other.files[0].clone();
        zst.name = "rootfs.img.zst".into();
        other.files.push(zst);
        refused(&other, "unknown file");
    }

    #[test]
    fn only_newer_versions_are_offered() {
        assert_eq!(judge(&sample("0.5.0"), "0.4.9"), Offer::Newer);
        assert_eq!(judge(&sample("0.10.0"), "0.9.0"), Offer::Newer);
        assert_eq!(judge(&sample("0.5.0"), "0.5.0"), Offer::NotNewer);
        assert_eq!(judge(&sample("0.4.0"), "0.5.0"), Offer::NotNewer);
        assert_eq!(parse_version("1.2.3-rc1"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
        assert_eq!(parse_version(" 1.2.3 "), Some((1, 2, 3)));
    }
}
