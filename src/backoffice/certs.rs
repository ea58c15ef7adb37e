//! Test PKI for the county link (rcgen): a county CA, the back office's server certificate and
//! one client certificate per station (CN = station id). For test and demo networks; a real
//! county issues certificates from its own CA.
//!
//! Writes PEM files only where told and never overwrites a CA key silently.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} exists; refusing to overwrite it (remove it first)")]
    Exists { path: PathBuf },
    #[error("{0} is not a CA certificate this tool can issue from")]
    BadCa(PathBuf),
}

/// The organisation every generated certificate names.
pub const ORGANISATION: &str = "village-kiosk county test PKI";

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct PemPair {
    pub cert_pem: String,
    pub key_pem: String,
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = Utc::now() - chrono::Duration::days(1);
    let end = now + chrono::Duration::days(i64::from(days) + 1);
    params.not_before = rcgen::date_time_ymd(now.year(), now.month() as u8, now.day() as u8);
    params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
}

fn ca_params(common_name: &str) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANISATION);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A new county CA (self-signed), valid for `days`.
pub fn new_ca(common_name: &str, days: u32) -> Result<PemPair, CertError> {
    let key = KeyPair::generate()?;
    let mut params = ca_params(common_name)?;
    validity(&mut params, days);
    let cert = params.self_signed(&key)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The issuer for a CA made by [`new_ca`], from its PEM certificate and key.
fn issuer(ca: &PemPair, ca_path: &Path) -> Result<Issuer<'static, KeyPair>, CertError> {
    let key = KeyPair::from_pem(&ca.key_pem)?;
    let der = rustls_pemfile::certs(&mut ca.cert_pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| CertError::BadCa(ca_path.to_path_buf()))?;
    let summary = crate::county::tls::summarize(&der)
        .ok_or_else(|| CertError::BadCa(ca_path.to_path_buf()))?;
    let cn = summary
        .common_name
        .ok_or_else(|| CertError::BadCa(ca_path.to_path_buf()))?;
    Ok(Issuer::new(ca_params(&cn)?, key))
}

fn leaf(
    ca: &PemPair,
    ca_path: &Path,
    common_name: &str,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
    days: u32,
) -> Result<PemPair, CertError> {
    let issuer = issuer(ca, ca_path)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANISATION);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, days);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The back office's server certificate for `hosts` (DNS names or IP addresses).
pub fn new_server(
    ca: &PemPair,
    ca_path: &Path,
    hosts: &[String],
    days: u32,
) -> Result<PemPair, CertError> {
    let cn = hosts.first().cloned().unwrap_or_else(|| "localhost".into());
    leaf(
        ca,
        ca_path,
        &cn,
        hosts.to_vec(),
        ExtendedKeyUsagePurpose::ServerAuth,
        days,
    )
}

/// A station's client certificate; its CN is the station id the county sees.
pub fn new_station(
    ca: &PemPair,
    ca_path: &Path,
    station_id: &str,
    days: u32,
) -> Result<PemPair, CertError> {
    leaf(
        ca,
        ca_path,
        station_id,
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        days,
    )
}

/// The serial number of the first certificate in `cert_pem` (big-endian bytes).
pub fn serial_of(cert_pem: &str) -> Option<Vec<u8>> {
    let der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .next()
        .and_then(Result::ok)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(cert.raw_serial().to_vec())
}

/// A certificate revocation list (PEM) signed by the county CA, naming `revoked` serial
/// numbers, valid for `days` (the back office refuses those station certificates).
pub fn new_crl(
    ca: &PemPair,
    ca_path: &Path,
    revoked: &[Vec<u8>],
    crl_number: u64,
    days: u32,
) -> Result<String, CertError> {
    let issuer = issuer(ca, ca_path)?;
    let now = Utc::now() - chrono::Duration::days(1);
    let end = now + chrono::Duration::days(i64::from(days.max(1)) + 1);
    let at =
        |t: chrono::DateTime<Utc>| rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8);
    let params = rcgen::CertificateRevocationListParams {
        this_update: at(now),
        next_update: at(end),
        crl_number: rcgen::SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(serial),
                revocation_time: at(now),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(&issuer)?.pem()?)
}

/// Reads a CA written by [`write_pair`] (`<dir>/<name>.pem`, `<dir>/<name>.key`).
pub fn read_pair(cert: &Path, key: &Path) -> Result<PemPair, CertError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| CertError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    Ok(PemPair {
        cert_pem: read(cert)?,
        key_pem: read(key)?,
    })
}

/// Writes `<dir>/<stem>.pem` and `<dir>/<stem>.key` (key mode 0600). Refuses to overwrite
/// unless `force`.
pub fn write_pair(
    dir: &Path,
    stem: &str,
    pair: &PemPair,
    force: bool,
) -> Result<(PathBuf, PathBuf), CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    for p in [&cert, &key] {
        if p.exists() && !force {
            return Err(CertError::Exists { path: p.clone() });
        }
    }
    let write = |p: &Path, s: &str| {
        std::fs::write(p, s).map_err(|source| CertError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    write(&cert, &pair.cert_pem)?;
    write(&key, &pair.key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600));
    }
    Ok((cert, key))
}
