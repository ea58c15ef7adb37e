//! The provisioning bundle (开通数据包): what the county signs for one station, and the files it
//! becomes on the terminal.
//!
//! A provisioning bundle is a [signed bundle](crate::catalog::bundle) of kind
//! [`KIND_PROVISIONING`], signed with the county's ed25519 key; its payload is the JSON of
//! [`Provisioning`]. [`open`] checks the signature against the key the terminal trusts, the
//! payload's shape and every value, and the expiry; [`check_station`] checks it is for this
//! terminal; [`plan`] renders the files to install ([`PlannedFile`]: path, bytes, mode, owner).
//!
//! This module is pure: bytes and `now` in, a validated value or a typed error out. It never
//! reads or writes files (the installer, [`super::install`], does), so a refused bundle cannot
//! have changed anything.

use core::net::IpAddr;
use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::catalog::bundle::{self as signed, BundleError};

/// The signed-bundle kind of a provisioning bundle.
pub const KIND_PROVISIONING: &str = "provisioning";
/// The file name a bundle has on a USB stick for first-boot provisioning.
pub const USB_FILE_NAME: &str = "village-kiosk-provision.bundle";
/// The version of the payload's shape this kiosk reads and writes.
pub const PAYLOAD_VERSION: u32 = 1;

/// 开通数据: everything a terminal needs to become a station of the county.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    pub version: u32,
    pub station: Station,
    pub issued_at: DateTime<Utc>,
    /// After this instant the bundle is refused (a lost stick is useless after a while).
    pub expires_at: DateTime<Utc>,
    pub county: County,
    /// NTP servers on the extranet (the extranet has no internet pools).
    pub ntp: Vec<String>,
    pub network: Network,
    pub technician: Technician,
    #[serde(default)]
    pub devices: Devices,
    #[serde(default)]
    pub screen: Screen,
    /// A signed catalogue bundle (the file `kiosk catalog sign` writes), installed with the rest
    /// so the station can serve villagers before its first catalogue download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_bundle: Option<String>,
}

/// 服务站: the station's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Station {
    pub id: String,
    pub name: String,
    /// 投诉电话 printed on receipts.
    #[serde(default)]
    pub complaint_phone: String,
    /// The station's technician (运维电话), shown on fault screens.
    #[serde(default)]
    pub technician_phone: String,
}

/// The county link: URL, trust anchors and the station's client identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct County {
    pub url: String,
    /// The county CA (PEM) that the back office's server certificate chains to.
    pub ca_pem: String,
    /// The station's client certificate (PEM).
    pub client_cert_pem: String,
    /// The station's private key (PEM). A secret: installed 0600, owned by the kiosk user.
    pub client_key_pem: String,
    /// The county key that signs catalogue and announcement bundles (64 hex digits).
    pub catalog_public_key: String,
}

/// 网络设置 on the extranet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Network {
    Dhcp {
        /// networkd `[Match] Name=` patterns; default `en* eth*`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
    },
    Static {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
        /// Address with prefix length, e.g. `10.20.30.40/24`.
        address: String,
        gateway: String,
        dns: Vec<String>,
    },
}

/// 运维人员 access: SSH keys (the only way in) and the maintenance PIN's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technician {
    pub ssh_keys: Vec<String>,
    /// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>` (see [`super::pin`]).
    pub pin_hash: String,
}

/// Where the station's reader and printer are (the image's udev names by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    pub reader_port: String,
    pub printer_port: String,
    pub printer_profile: String,
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            reader_port: "/dev/kiosk-idcard".into(),
            printer_port: "/dev/kiosk-printer".into(),
            printer_profile: "generic-80mm".into(),
        }
    }
}

/// The screen as mounted in the terminal's case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Screen {
    /// Clockwise rotation of the picture: 0, 90, 180 or 270 (`SLINT_KMS_ROTATION`).
    #[serde(default)]
    pub rotation: u16,
    /// `portrait` (1080x1920) or `landscape`; default portrait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<String>,
    /// libinput calibration matrix (6 numbers, row-major, the first two rows of a 3x3 affine
    /// matrix), for a touch panel that is rotated or offset against the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_calibration: Option<[f64; 6]>,
}

/// Why a bundle was refused. Every message says what to do; nothing was changed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProvisionError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error(
        "the provisioning data is not valid JSON of version {PAYLOAD_VERSION}: {0}; ask the county for a new bundle"
    )]
    Payload(String),
    #[error(
        "provisioning data version {0} is not supported (this kiosk reads version {PAYLOAD_VERSION}); update the kiosk or ask the county for a version {PAYLOAD_VERSION} bundle"
    )]
    UnsupportedVersion(u32),
    #[error(
        "the bundle expired at {expires_at} (now {now}); ask the county for a fresh bundle with `county-backoffice provision station`"
    )]
    Expired {
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "the bundle is for station {found}, but this terminal is station {expected}; use the bundle made for {expected}"
    )]
    OtherStation { expected: String, found: String },
    #[error("{field}: {problem}; ask the county for a corrected bundle")]
    Invalid { field: String, problem: String },
}

fn invalid(field: &str, problem: impl Into<String>) -> ProvisionError {
    ProvisionError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Signs `p` with the county's key: the bytes of the bundle file. Refuses data that a terminal
/// would refuse, so the county never hands out a bundle that cannot be installed.
pub fn sign(p: &Provisioning, key: &SigningKey) -> Result<Vec<u8>, ProvisionError> {
    validate(p)?;
    let payload = serde_json::to_vec(p).map_err(|e| ProvisionError::Payload(e.to_string()))?;
    Ok(signed::sign(KIND_PROVISIONING, &payload, key))
}

/// Verifies a bundle against the county key this terminal trusts, decodes and validates it, and
/// refuses it once expired.
pub fn open(
    bytes: &[u8],
    trusted: &VerifyingKey,
    now: DateTime<Utc>,
) -> Result<Provisioning, ProvisionError> {
    let payload = signed::open(bytes, KIND_PROVISIONING, trusted)?;
    let value: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|e| ProvisionError::Payload(e.to_string()))?;
    if let Some(v) = value.get("version").and_then(|v| v.as_u64())
        && v != u64::from(PAYLOAD_VERSION)
    {
        return Err(ProvisionError::UnsupportedVersion(
            u32::try_from(v).unwrap_or(u32::MAX),
        ));
    }
    let p: Provisioning =
        serde_json::from_value(value).map_err(|e| ProvisionError::Payload(e.to_string()))?;
    validate(&p)?;
    if now >= p.expires_at {
        return Err(ProvisionError::Expired {
            expires_at: p.expires_at,
            now,
        });
    }
    Ok(p)
}

/// Refuses a bundle made for another station. `expected`: the station this terminal is (from
/// its current config or the technician's `--station`); `None` on a terminal never provisioned.
pub fn check_station(p: &Provisioning, expected: Option<&str>) -> Result<(), ProvisionError> {
    match expected {
        Some(e) if e != p.station.id => Err(ProvisionError::OtherStation {
            expected: e.to_string(),
            found: p.station.id.clone(),
        }),
        _ => Ok(()),
    }
}

/// Every value checked, so what [`plan`] renders is well-formed.
pub fn validate(p: &Provisioning) -> Result<(), ProvisionError> {
    if p.version != PAYLOAD_VERSION {
        return Err(ProvisionError::UnsupportedVersion(p.version));
    }
    let id = &p.station.id;
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "station.id",
            format!("{id:?} is not a station id (letters, digits, - and _, at most 64)"),
        ));
    }
    if p.station.name.trim().is_empty() {
        return Err(invalid("station.name", "is empty"));
    }
    if p.expires_at <= p.issued_at {
        return Err(invalid("expires_at", "is not after issued_at"));
    }
    let url = &p.county.url;
    if !url.starts_with("https://") || url.contains(char::is_whitespace) {
        return Err(invalid(
            "county.url",
            format!("{url:?} is not an https:// URL"),
        ));
    }
    for (field, pem, label) in [
        ("county.ca_pem", &p.county.ca_pem, "CERTIFICATE"),
        (
            "county.client_cert_pem",
            &p.county.client_cert_pem,
            "CERTIFICATE",
        ),
        (
            "county.client_key_pem",
            &p.county.client_key_pem,
            "PRIVATE KEY",
        ),
    ] {
        if !(pem.contains("-----BEGIN ") && pem.contains(label) && pem.contains("-----END ")) {
            return Err(invalid(field, format!("is not a PEM {label}")));
        }
    }
    signed::parse_verifying_key(&p.county.catalog_public_key)
        .map_err(|e| invalid("county.catalog_public_key", e.to_string()))?;
    if p.ntp.is_empty() {
        return Err(invalid(
            "ntp",
            "names no NTP server (the extranet has no internet pools)",
        ));
    }
    for s in &p.ntp {
        if !is_host(s) {
            return Err(invalid(
                "ntp",
                format!("{s:?} is not a host name or address"),
            ));
        }
    }
    match &p.network {
        Network::Dhcp { interface } => check_interface(interface)?,
        Network::Static {
            interface,
            address,
            gateway,
            dns,
        } => {
            check_interface(interface)?;
            let (ip, prefix) = address
                .split_once('/')
                .ok_or_else(|| invalid("network.address", format!("{address:?} has no /prefix")))?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| invalid("network.address", format!("{ip:?} is not an IP address")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            match prefix.parse::<u8>() {
                Ok(n) if (1..=max).contains(&n) => {}
                _ => {
                    return Err(invalid(
                        "network.address",
                        format!("/{prefix} is not a prefix length (1..={max})"),
                    ));
                }
            }
            gateway.parse::<IpAddr>().map_err(|_| {
                invalid(
                    "network.gateway",
                    format!("{gateway:?} is not an IP address"),
                )
            })?;
            if dns.is_empty() {
                return Err(invalid("network.dns", "names no DNS server"));
            }
            for d in dns {
                d.parse::<IpAddr>()
                    .map_err(|_| invalid("network.dns", format!("{d:?} is not an IP address")))?;
            }
        }
    }
    if p.technician.ssh_keys.is_empty() {
        return Err(invalid(
            "technician.ssh_keys",
            "is empty (SSH with these keys is the only way a technician gets in)",
        ));
    }
    for (i, k) in p.technician.ssh_keys.iter().enumerate() {
        check_ssh_key(k).map_err(|m| invalid(&format!("technician.ssh_keys[{i}]"), m))?;
    }
    super::pin::PinHash::parse(&p.technician.pin_hash)
        .map_err(|e| invalid("technician.pin_hash", e.to_string()))?;
    for (field, v) in [
        ("devices.reader_port", &p.devices.reader_port),
        ("devices.printer_port", &p.devices.printer_port),
    ] {
        if !v.starts_with("/dev/") || v.contains(char::is_whitespace) {
            return Err(invalid(field, format!("{v:?} is not a /dev path")));
        }
    }
    crate::printer::profile::PrinterProfile::builtin(&p.devices.printer_profile)
        .map_err(|e| invalid("devices.printer_profile", e.to_string()))?;
    if ![0, 90, 180, 270].contains(&p.screen.rotation) {
        return Err(invalid(
            "screen.rotation",
            format!("{} is not 0, 90, 180 or 270", p.screen.rotation),
        ));
    }
    if let Some(o) = &p.screen.orientation
        && crate::config::Orientation::parse(o).is_none()
    {
        return Err(invalid(
            "screen.orientation",
            format!("{o:?} is not portrait or landscape"),
        ));
    }
    if let Some(m) = &p.screen.touch_calibration
        && m.iter().any(|v| !v.is_finite())
    {
        return Err(invalid(
            "screen.touch_calibration",
            "holds a number that is not finite",
        ));
    }
    Ok(())
}

fn is_host(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
        || (!s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

fn check_interface(i: &Option<String>) -> Result<(), ProvisionError> {
    match i {
        Some(s)
            if s.trim().is_empty()
                || !s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_' | '.' | ' ')
                }) =>
        {
            Err(invalid(
                "network.interface",
                format!("{s:?} is not a list of interface name patterns"),
            ))
        }
        _ => Ok(()),
    }
}

/// One `authorized_keys` line: a key type, its base64 blob and an optional comment; no options.
fn check_ssh_key(line: &str) -> Result<(), String> {
    if line.contains(['\n', '\r']) {
        return Err("holds a line break (one key per entry)".into());
    }
    let mut parts = line.split_whitespace();
    let kind = parts.next().ok_or("is empty")?;
    const KINDS: [&str; 7] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    if !KINDS.contains(&kind) {
        return Err(format!(
            "starts with {kind:?}, not an SSH public key type such as ssh-ed25519 (no options allowed)"
        ));
    }
    let blob = parts.next().ok_or("has no key after its type")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| "the key is not base64".to_string())?;
    // The blob starts with its own type as an SSH string: u32 length, then the name.
    let named = bytes
        .get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        .and_then(|n| bytes.get(4..4 + n));
    if named != Some(kind.as_bytes()) {
        return Err(format!("the key blob is not a {kind} key"));
    }
    Ok(())
}

/// Who owns an installed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Root,
    /// The user the app runs as (`kiosk` on the image).
    Kiosk,
}

/// One file the installer writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the system root (`etc/village-kiosk/kiosk.toml`).
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
    pub owner: Owner,
}

/// Where things go on the terminal, relative to the root.
pub mod paths {
    pub const CONFIG: &str = "etc/village-kiosk/kiosk.toml";
    pub const CA: &str = "etc/village-kiosk/county-ca.pem";
    pub const CLIENT_CERT: &str = "etc/village-kiosk/station.pem";
    pub const CLIENT_KEY: &str = "etc/village-kiosk/station.key";
    pub const PIN_HASH: &str = "etc/village-kiosk/maintenance-pin.hash";
    pub const AUTHORIZED_KEYS: &str = "etc/village-kiosk/ssh/authorized_keys";
    pub const SCREEN_ENV: &str = "etc/village-kiosk/screen.env";
    pub const TOUCH_ENV: &str = "etc/village-kiosk/touch.env";
    pub const RECORD: &str = "etc/village-kiosk/provisioning.json";
    pub const NETWORK: &str = "etc/systemd/network/50-village-kiosk.network";
    pub const TIMESYNCD: &str = "etc/systemd/timesyncd.conf.d/50-village-kiosk.conf";
    /// The county key that signs provisioning bundles, baked into the image.
    pub const PROVISIONING_KEY: &str = "etc/village-kiosk/provisioning-key.pub";
    /// The data directory the config names.
    pub const DATA_DIR: &str = "/var/lib/village-kiosk";
}

/// The files a validated bundle becomes, in install order; the config comes last, since its
/// presence is what marks the terminal provisioned.
pub fn plan(p: &Provisioning, installed_at: DateTime<Utc>) -> Vec<PlannedFile> {
    let file = |path: &str, contents: Vec<u8>, mode: u32, owner: Owner| PlannedFile {
        path: PathBuf::from(path),
        contents,
        mode,
        owner,
    };
    let mut files = vec![
        file(paths::CA, p.county.ca_pem.clone().into_bytes(), 0o600, Owner::Kiosk),
        file(
            paths::CLIENT_CERT,
            p.county.client_cert_pem.clone().into_bytes(),
            0o600,
            Owner::Kiosk,
        ),
        file(
            paths::CLIENT_KEY,
            p.county.client_key_pem.clone().into_bytes(),
            0o600,
            Owner::Kiosk,
        ),
        file(
            paths::PIN_HASH,
            format!("{}\n", p.technician.pin_hash).into_bytes(),
            0o600,
            Owner::Kiosk,
        ),
        file(
            paths::AUTHORIZED_KEYS,
            authorized_keys(p).into_bytes(),
            0o644,
            Owner::Root,
        ),
        file(paths::NETWORK, networkd(p).into_bytes(), 0o644, Owner::Root),
        file(paths::TIMESYNCD, timesyncd(p).into_bytes(), 0o644, Owner::Root),
        file(
            paths::SCREEN_ENV,
            format!(
                "# Written by kiosk provision: the screen as mounted in the case.\nSLINT_KMS_ROTATION={}\n",
                p.screen.rotation
            )
            .into_bytes(),
            0o644,
            Owner::Root,
        ),
        file(paths::TOUCH_ENV, touch_env(p).into_bytes(), 0o644, Owner::Root),
        file(paths::RECORD, record(p, installed_at).into_bytes(), 0o644, Owner::Root),
    ];
    files.push(file(
        paths::CONFIG,
        kiosk_toml(p).into_bytes(),
        0o644,
        Owner::Root,
    ));
    files
}

fn authorized_keys(p: &Provisioning) -> String {
    let mut s = format!(
        "# Written by kiosk provision for station {}: the technicians' keys (the only way in).\n",
        p.station.id
    );
    for k in &p.technician.ssh_keys {
        s.push_str(k.trim());
        s.push('\n');
    }
    s
}

fn networkd(p: &Provisioning) -> String {
    let (interface, body) = match &p.network {
        Network::Dhcp { interface } => (interface.as_deref(), "DHCP=yes\n".to_string()),
        Network::Static {
            interface,
            address,
            gateway,
            dns,
        } => {
            let mut b = format!("Address={address}\nGateway={gateway}\n");
            for d in dns {
                b.push_str(&format!("DNS={d}\n"));
            }
            (interface.as_deref(), b)
        }
    };
    format!(
        "# Written by kiosk provision: the extranet link of station {}.\n[Match]\nName={}\n\n[Network]\n{body}NTP={}\n",
        p.station.id,
        interface.unwrap_or("en* eth*"),
        p.ntp.join(" ")
    )
}

fn timesyncd(p: &Provisioning) -> String {
    format!(
        "# Written by kiosk provision: time from the county's NTP servers only.\n[Time]\nNTP={}\nFallbackNTP=\n",
        p.ntp.join(" ")
    )
}

fn touch_env(p: &Provisioning) -> String {
    let mut s = "# Written by kiosk provision; imported by 98-village-kiosk-touch.rules for touch screens.\n".to_string();
    if let Some(m) = &p.screen.touch_calibration {
        let m: Vec<String> = m.iter().map(|v| format!("{v}")).collect();
        s.push_str(&format!("LIBINPUT_CALIBRATION_MATRIX={}\n", m.join(" ")));
    }
    s
}

fn record(p: &Provisioning, installed_at: DateTime<Utc>) -> String {
    let v = serde_json::json!({
        "station_id": p.station.id,
        "station_name": p.station.name,
        "technician_phone": p.station.technician_phone,
        "issued_at": p.issued_at,
        "expires_at": p.expires_at,
        "installed_at": installed_at,
    });
    format!("{v:#}\n")
}

/// The kiosk's config for this station, as TOML (strings escaped by the TOML encoder).
pub fn kiosk_toml(p: &Provisioning) -> String {
    use toml::{Table, Value};
    let s = |v: &str| Value::String(v.to_string());
    let mut station = Table::new();
    station.insert("id".into(), s(&p.station.id));
    station.insert("name".into(), s(&p.station.name));
    if !p.station.complaint_phone.is_empty() {
        station.insert("complaint_phone".into(), s(&p.station.complaint_phone));
    }
    let mut data = Table::new();
    data.insert("dir".into(), s(paths::DATA_DIR));
    let mut reader = Table::new();
    reader.insert("port".into(), s(&p.devices.reader_port));
    let mut printer = Table::new();
    printer.insert("port".into(), s(&p.devices.printer_port));
    printer.insert("profile".into(), s(&p.devices.printer_profile));
    let abs = |rel: &str| format!("/{rel}");
    let mut county = Table::new();
    county.insert("url".into(), s(&p.county.url));
    county.insert("ca_cert".into(), s(&abs(paths::CA)));
    county.insert("client_cert".into(), s(&abs(paths::CLIENT_CERT)));
    county.insert("client_key".into(), s(&abs(paths::CLIENT_KEY)));
    county.insert(
        "catalog_public_key".into(),
        s(&p.county.catalog_public_key.to_ascii_lowercase()),
    );
    let mut ui = Table::new();
    ui.insert(
        "orientation".into(),
        s(p.screen.orientation.as_deref().unwrap_or("portrait")),
    );
    let mut root = Table::new();
    root.insert("station".into(), Value::Table(station));
    root.insert("data".into(), Value::Table(data));
    root.insert("reader".into(), Value::Table(reader));
    root.insert("printer".into(), Value::Table(printer));
    root.insert("county".into(), Value::Table(county));
    root.insert("ui".into(), Value::Table(ui));
    format!(
        "# Written by kiosk provision for station {} (bundle issued {}). Re-provision rather than edit.\n{}",
        p.station.id,
        p.issued_at.to_rfc3339(),
        toml::to_string(&root).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    pub(crate) fn sample(now: DateTime<Utc>) -> Provisioning {
        Provisioning {
            version: PAYLOAD_VERSION,
            station: Station {
                id: "410329-101-203".into(),
                name: "示范县城关镇东关村便民服务站".into(),
                complaint_phone: "0379-65512345".into(),
                technician_phone: "13800000000".into(),
            },
            issued_at: now,
            expires_at: now + chrono::Duration::days(14),
            county: County {
                url: "https://zwfw.example:8443".into(),
                ca_pem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
                client_cert_pem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
                    .into(),
                client_key_pem: "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"
                    .into(),
                catalog_public_key: crate::catalog::bundle::DEMO_PUBLIC_KEY_HEX.into(),
            },
            ntp: vec!["10.20.0.1".into()],
            network: Network::Static {
                interface: None,
                address: "10.20.30.40/24".into(),
                gateway: "10.20.30.1".into(),
                dns: vec!["10.20.0.53".into()],
            },
            technician: Technician {
                ssh_keys: vec![
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDp6hBw+U1fAPJ55ELF8QPAFqdaa5PSpMqq46xRHv397 tech@county".into(),
                ],
                pin_hash: crate::provision::pin::hash_with_salt("246810", &[7; 16], 1000),
            },
            devices: Devices::default(),
            screen: Screen::default(),
            catalog_bundle: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_signed_bundle_opens_to_what_was_signed() {
        let key = crate::catalog::bundle::demo_signing_key();
        let p = sample(now());
        let bytes = sign(&p, &key).unwrap();
        assert_eq!(open(&bytes, &key.verifying_key(), now()).unwrap(), p);
    }

    #[test]
    fn expired_other_key_and_changed_bundles_are_refused() {
        let key = crate::catalog::bundle::demo_signing_key();
        let p = sample(now());
        let bytes = sign(&p, &key).unwrap();
        let later = p.expires_at;
        assert!(matches!(
            open(&bytes, &key.verifying_key(), later),
            Err(ProvisionError::Expired { .. })
        ));
        let other = SigningKey::from_bytes(&[9; 32]);
        assert!(matches!(
            open(&bytes, &other.verifying_key(), now()),
            Err(ProvisionError::Bundle(BundleError::SignedByOtherKey { .. }))
        ));
        let text = String::from_utf8(bytes).unwrap();
        let sig_at = text.find("\"signature\": \"").unwrap() + 14;
        let mut changed = text.into_bytes();
        changed[sig_at] = if changed[sig_at] == b'0' { b'1' } else { b'0' };
        assert!(matches!(
            open(&changed, &key.verifying_key(), now()),
            Err(ProvisionError::Bundle(BundleError::BadSignature))
        ));
        // A catalogue bundle is not a provisioning bundle, even when the key is right.
        let cat = crate::catalog::bundle::sign("catalog", b"{}", &key);
        assert!(matches!(
            open(&cat, &key.verifying_key(), now()),
            Err(ProvisionError::Bundle(BundleError::WrongKind { .. }))
        ));
    }

    #[test]
    fn a_bundle_for_another_station_is_refused() {
        let p = sample(now());
        assert!(check_station(&p, None).is_ok());
        assert!(check_station(&p, Some("410329-101-203")).is_ok());
        assert_eq!(
            check_station(&p, Some("410329-101-999")),
            Err(ProvisionError::OtherStation {
                expected: "410329-101-999".into(),
                found: "410329-101-203".into()
            })
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        let field_of = |p: &Provisioning| match validate(p) {
            Err(ProvisionError::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let mut p = sample(now());
        p.station.id = "410329/../x".into();
        assert_eq!(field_of(&p), "station.id");
        let mut p = sample(now());
        p.county.url = "http://plain".into();
        assert_eq!(field_of(&p), "county.url");
        let mut p = sample(now());
        p.ntp.clear();
        assert_eq!(field_of(&p), "ntp");
        let mut p = sample(now());
        p.network = Network::Static {
            interface: None,
            address: "10.20.30.40".into(),
            gateway: "10.20.30.1".into(),
            dns: vec!["10.20.0.53".into()],
        };
        assert_eq!(field_of(&p), "network.address");
        let mut p = sample(now());
        p.technician.ssh_keys = vec!["command=\"sh\" ssh-ed25519 AAAA".into()];
        assert_eq!(field_of(&p), "technician.ssh_keys[0]");
        let mut p = sample(now());
        p.technician.ssh_keys = vec!["ssh-ed25519 AAAA\nssh-rsa AAAA".into()];
        assert_eq!(field_of(&p), "technician.ssh_keys[0]");
        let mut p = sample(now());
        p.screen.rotation = 45;
        assert_eq!(field_of(&p), "screen.rotation");
        let mut p = sample(now());
        p.technician.pin_hash = "123456".into();
        assert_eq!(field_of(&p), "technician.pin_hash");
        let mut p = sample(now());
        p.devices.printer_profile = "no-such-printer".into();
        assert_eq!(field_of(&p), "devices.printer_profile");
    }

    #[test]
    fn the_planned_config_parses_as_the_kiosk_reads_it() {
        let mut p = sample(now());
        p.station.name = "名字 \"带引号\"\n第二行".into();
        p.screen.orientation = Some("landscape".into());
        let files = plan(&p, now());
        let config = files.last().unwrap();
        assert_eq!(config.path, PathBuf::from(paths::CONFIG));
        let (c, unknown) =
            crate::config::parse(std::str::from_utf8(&config.contents).unwrap()).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(c.station.id, p.station.id);
        assert_eq!(c.station.name, p.station.name);
        assert_eq!(c.county.url.as_deref(), Some("https://zwfw.example:8443"));
        assert_eq!(c.ui.orientation, crate::config::Orientation::Landscape);
        assert!(!c.is_demo());
        let secrets: Vec<_> = files
            .iter()
            .filter(|f| f.owner == Owner::Kiosk)
            .map(|f| (f.path.to_str().unwrap(), f.mode))
            .collect();
        assert_eq!(
            secrets,
            [
                (paths::CA, 0o600),
                (paths::CLIENT_CERT, 0o600),
                (paths::CLIENT_KEY, 0o600),
                (paths::PIN_HASH, 0o600)
            ]
        );
    }

    #[test]
    fn networkd_and_timesyncd_name_only_the_county_servers() {
        let mut p = sample(now());
        let files = plan(&p, now());
        let text = |path: &str| {
            String::from_utf8(
                files
                    .iter()
                    .find(|f| f.path == Path::new(path))
                    .unwrap()
                    .contents
                    .clone(),
            )
            .unwrap()
        };
        let net = text(paths::NETWORK);
        assert!(net.contains("Address=10.20.30.40/24\nGateway=10.20.30.1\nDNS=10.20.0.53\n"));
        assert!(!net.contains("DHCP"));
        assert!(text(paths::TIMESYNCD).contains("NTP=10.20.0.1\nFallbackNTP=\n"));
        p.network = Network::Dhcp { interface: None };
        p.screen.touch_calibration = Some([0.0, 1.0, 0.0, -1.0, 0.0, 1.0]);
        let files = plan(&p, now());
        let find = |path: &str| {
            String::from_utf8(
                files
                    .iter()
                    .find(|f| f.path == Path::new(path))
                    .unwrap()
                    .contents
                    .clone(),
            )
            .unwrap()
        };
        assert!(find(paths::NETWORK).contains("Name=en* eth*\n\n[Network]\nDHCP=yes\n"));
        assert!(find(paths::TOUCH_ENV).contains("LIBINPUT_CALIBRATION_MATRIX=0 1 0 -1 0 1\n"));
    }
}
