//! `county-backoffice provision station ...`: the county makes a station's provisioning bundle
//! (开通数据包), signed with the county key, for `kiosk provision` on the terminal.
//!
//! The station's client certificate comes from the county's PKI directory (`--pki`, as made by
//! `county-backoffice certs`; issued now if the station has none yet) or from explicit PEM files.
//! The maintenance PIN is hashed here and never leaves the county in clear.

use std::path::PathBuf;
use std::process::ExitCode;

use super::certs;
use crate::catalog::bundle as signed;
use crate::provision::bundle::{
    self, County, Devices, Network, PAYLOAD_VERSION, Provisioning, Screen, Station, Technician,
};
use crate::provision::pin;

#[derive(Debug, clap::Subcommand)]
pub enum ProvisionCommand {
    /// Make the provisioning bundle of one station.
    Station(Box<StationArgs>),
}

#[derive(Debug, clap::Args)]
pub struct StationArgs {
    /// The station id the county issued (also the CN of its client certificate).
    #[arg(long, value_name = "ID")]
    station_id: String,
    /// The station's name as shown on receipts.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The county API's base URL as the station reaches it on the extranet (https://...).
    #[arg(long, value_name = "URL")]
    county_url: String,
    /// The county's ed25519 key file (kiosk catalog keygen); signs the bundle.
    #[arg(long, value_name = "FILE")]
    signing_key: PathBuf,
    /// The key that signs catalogues and announcements (64 hex digits); default: the public half
    /// of --signing-key.
    #[arg(long, value_name = "HEX")]
    catalog_key: Option<String>,
    /// PKI directory (county-backoffice certs): ca.pem, ca.key, station-<ID>.pem/.key (issued now
    /// when missing).
    #[arg(long, value_name = "DIR", required_unless_present_all = ["ca_cert", "client_cert", "client_key"])]
    pki: Option<PathBuf>,
    /// The county CA certificate (PEM), instead of <pki>/ca.pem.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// The station's client certificate (PEM), instead of the one in --pki.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The station's private key (PEM), instead of the one in --pki.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// NTP server on the extranet; repeat for several.
    #[arg(long = "ntp", value_name = "HOST", required = true)]
    ntp: Vec<String>,
    /// Static address with prefix (10.20.30.40/24); without it the station uses DHCP.
    #[arg(long, value_name = "CIDR", requires_all = ["gateway", "dns"])]
    address: Option<String>,
    #[arg(long, value_name = "IP")]
    gateway: Option<String>,
    /// DNS server (static addressing); repeat for several.
    #[arg(long = "dns", value_name = "IP")]
    dns: Vec<String>,
    /// networkd interface name patterns; default "en* eth*".
    #[arg(long, value_name = "PATTERNS")]
    interface: Option<String>,
    /// A technician's SSH public key file (one key per line); repeat for several.
    #[arg(long = "ssh-key", value_name = "FILE", required = true)]
    ssh_keys: Vec<PathBuf>,
    /// The maintenance PIN (6 to 12 digits); hashed here. Or set it with --pin-hash.
    #[arg(
        long,
        value_name = "DIGITS",
        env = "KIOSK_MAINTENANCE_PIN",
        required_unless_present = "pin_hash"
    )]
    pin: Option<String>,
    /// An existing PIN hash (pbkdf2-sha256$...).
    #[arg(long, value_name = "HASH", conflicts_with = "pin")]
    pin_hash: Option<String>,
    /// The station's technician phone (shown on fault screens).
    #[arg(long, value_name = "PHONE", default_value = "")]
    technician_phone: String,
    /// The complaint phone printed on receipts.
    #[arg(long, value_name = "PHONE", default_value = "")]
    complaint_phone: String,
    /// Days the bundle can be installed for.
    #[arg(long, value_name = "N", default_value_t = 14)]
    valid_days: u32,
    /// A signed catalogue bundle to install with it (kiosk catalog sign).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    reader_port: Option<String>,
    #[arg(long, value_name = "PATH")]
    printer_port: Option<String>,
    #[arg(long, value_name = "PROFILE")]
    printer_profile: Option<String>,
    /// Screen rotation in degrees clockwise: 0, 90, 180 or 270.
    #[arg(long, value_name = "DEG", default_value_t = 0)]
    rotation: u16,
    /// portrait or landscape.
    #[arg(long, value_name = "ORIENTATION")]
    orientation: Option<String>,
    /// libinput calibration matrix: six numbers separated by spaces or commas.
    #[arg(long, value_name = "MATRIX")]
    touch_calibration: Option<String>,
    /// Where to write the bundle; default village-kiosk-provision.bundle (the USB stick name).
    #[arg(long, value_name = "FILE", default_value = bundle::USB_FILE_NAME)]
    out: PathBuf,
}

/// Why `county-backoffice provision` failed: the message names the file or flag and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProvisionCliError(pub String);

impl From<super::certs::CertError> for ProvisionCliError {
    fn from(e: super::certs::CertError) -> Self {
        ProvisionCliError(e.to_string())
    }
}

impl From<crate::provision::pin::PinError> for ProvisionCliError {
    fn from(e: crate::provision::pin::PinError) -> Self {
        ProvisionCliError(e.to_string())
    }
}

pub fn run(c: ProvisionCommand) -> Result<ExitCode, ProvisionCliError> {
    match c {
        ProvisionCommand::Station(a) => station(*a),
    }
}

fn read(p: &PathBuf) -> Result<String, ProvisionCliError> {
    std::fs::read_to_string(p)
        .map_err(|e| ProvisionCliError(format!("cannot read {}: {e}", p.display())))
}

fn station(a: StationArgs) -> Result<ExitCode, ProvisionCliError> {
    let key = signed::parse_signing_key(&read(&a.signing_key)?)
        .map_err(|e| ProvisionCliError(format!("{}: {e}", a.signing_key.display())))?;
    let catalog_key = a
        .catalog_key
        .clone()
        .unwrap_or_else(|| hex::encode(key.verifying_key().to_bytes()));
    let ca_pem = match (&a.ca_cert, &a.pki) {
        (Some(p), _) => read(p)?,
        (None, Some(dir)) => read(&dir.join("ca.pem"))?,
        (None, None) => {
            return Err(ProvisionCliError(
                "name the county CA with --ca-cert or --pki".to_string(),
            ));
        }
    };
    let (client_cert_pem, client_key_pem) = match (&a.client_cert, &a.client_key, &a.pki) {
        (Some(c), Some(k), _) => (read(c)?, read(k)?),
        (_, _, Some(dir)) => {
            let stem = format!("station-{}", a.station_id);
            let (cert, key) = (
                dir.join(format!("{stem}.pem")),
                dir.join(format!("{stem}.key")),
            );
            if !cert.exists() {
                let ca_path = dir.join("ca.pem");
                let ca = certs::read_pair(&ca_path, &dir.join("ca.key"))?;
                let pair = certs::new_station(&ca, &ca_path, &a.station_id, 825)?;
                certs::write_pair(dir, &stem, &pair, false)?;
                eprintln!("issued the station's client certificate {}", cert.display());
            }
            (read(&cert)?, read(&key)?)
        }
        _ => {
            return Err(ProvisionCliError(
                "name the station's certificate with --client-cert/--client-key or --pki"
                    .to_string(),
            ));
        }
    };
    let pin_hash = match (&a.pin, &a.pin_hash) {
        (Some(p), _) => {
            pin::check_pin(p)?;
            pin::hash_with_salt(p, &rand::random::<[u8; 16]>(), pin::ITERATIONS)
        }
        (None, Some(h)) => h.clone(),
        (None, None) => {
            return Err(ProvisionCliError(
                "set the maintenance PIN with --pin or --pin-hash".to_string(),
            ));
        }
    };
    let mut ssh_keys = Vec::new();
    for f in &a.ssh_keys {
        for l in read(f)?.lines() {
            let l = l.trim();
            if !l.is_empty() && !l.starts_with('#') {
                ssh_keys.push(l.to_string());
            }
        }
    }
    let network = match a.address {
        Some(address) => Network::Static {
            interface: a.interface,
            address,
            gateway: a.gateway.unwrap_or_default(),
            dns: a.dns,
        },
        None => Network::Dhcp {
            interface: a.interface,
        },
    };
    let touch_calibration = match &a.touch_calibration {
        Some(text) => {
            let v: Vec<f64> = text
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ProvisionCliError(format!(
                        "--touch-calibration {text:?}: expected six numbers"
                    ))
                })?;
            Some(<[f64; 6]>::try_from(v).map_err(|_| {
                ProvisionCliError(format!(
                    "--touch-calibration {text:?}: expected six numbers"
                ))
            })?)
        }
        None => None,
    };
    let defaults = Devices::default();
    let now = chrono::Utc::now();
    let p = Provisioning {
        version: PAYLOAD_VERSION,
        station: Station {
            id: a.station_id,
            name: a.name,
            complaint_phone: a.complaint_phone,
            technician_phone: a.technician_phone,
        },
        issued_at: now,
        expires_at: now + chrono::Duration::days(i64::from(a.valid_days.max(1))),
        county: County {
            url: a.county_url,
            ca_pem,
            client_cert_pem,
            client_key_pem,
            catalog_public_key: catalog_key,
        },
        ntp: a.ntp,
        network,
        technician: Technician { ssh_keys, pin_hash },
        devices: Devices {
            reader_port: a.reader_port.unwrap_or(defaults.reader_port),
            printer_port: a.printer_port.unwrap_or(defaults.printer_port),
            printer_profile: a.printer_profile.unwrap_or(defaults.printer_profile),
        },
        screen: Screen {
            rotation: a.rotation,
            orientation: a.orientation,
            touch_calibration,
        },
        catalog_bundle: a.catalog.as_ref().map(read).transpose()?,
    };
    let bytes =
        bundle::sign(&p, &key).map_err(|e| ProvisionCliError(format!("not signed: {e}")))?;
    // The bundle holds the station's private key: 0600 from the start.
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&a.out)
            .map_err(|e| ProvisionCliError(format!("cannot write {}: {e}", a.out.display())))?;
        f.write_all(&bytes)
            .map_err(|e| ProvisionCliError(format!("cannot write {}: {e}", a.out.display())))?;
    }
    println!(
        "provisioning bundle for station {} written to {} (expires {}); it holds the station's private key: keep it like one",
        p.station.id,
        a.out.display(),
        p.expires_at.to_rfc3339()
    );
    Ok(ExitCode::SUCCESS)
}
