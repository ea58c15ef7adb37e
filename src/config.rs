//! The kiosk's configuration: one TOML file (default `/etc/village-kiosk/kiosk.toml`).
//!
//! Every setting has a default that suits demo mode, so a missing file means demo mode.
//! Each area reads only its own section. No I/O beyond reading the file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the config lives unless `--config PATH` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/village-kiosk/kiosk.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub station: StationConfig,
    pub data: DataConfig,
    pub reader: ReaderConfig,
    pub printer: PrinterConfig,
    pub county: CountyConfig,
    pub session: SessionConfig,
    pub outbox: OutboxConfig,
    pub ui: UiConfig,
}

/// 便民服务站: who this terminal is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StationConfig {
    /// Station id issued by the county, e.g. "410329-101-203".
    pub id: String,
    /// Shown on screens and receipts, e.g. 示范县城关镇东关村便民服务站.
    pub name: String,
    /// Complaint phone printed on receipts (监督投诉电话).
    pub complaint_phone: String,
}

impl Default for StationConfig {
    fn default() -> Self {
        Self {
            id: "DEMO-0001".into(),
            name: "示范县城关镇东关村便民服务站".into(),
            complaint_phone: "12345".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// The data directory; holds `kiosk.sqlite3`.
    pub dir: PathBuf,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/var/lib/village-kiosk"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReaderConfig {
    /// Serial device; `None` in demo mode (a simulator is started).
    pub port: Option<PathBuf>,
    pub baud: u32,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            port: None,
            baud: 115_200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrinterConfig {
    /// Serial device; `None` in demo mode (a simulator is started).
    pub port: Option<PathBuf>,
    /// A profile name from hardware/profiles/printers (e.g. "generic-80mm").
    pub profile: String,
}

impl Default for PrinterConfig {
    fn default() -> Self {
        Self {
            port: None,
            profile: "generic-80mm".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CountyConfig {
    /// Base URL of the county back office; `None` in demo mode (an embedded one is started).
    pub url: Option<String>,
    /// County CA certificate (PEM) that signs the server's certificate.
    pub ca_cert: Option<PathBuf>,
    /// This station's client certificate and key (PEM), for mutual TLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Bearer token: demo mode only.
    pub token: Option<String>,
    /// The county's ed25519 public key (hex) that signs catalogue and announcement bundles.
    pub catalog_public_key: Option<String>,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
}

impl Default for CountyConfig {
    fn default() -> Self {
        Self {
            url: None,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            token: None,
            catalog_public_key: None,
            timeout_secs: 15,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionConfig {
    /// Seconds without a touch before the "are you still there" warning.
    pub warn_after_secs: u64,
    /// Seconds without a touch before the session is wiped.
    pub wipe_after_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            warn_after_secs: 45,
            wipe_after_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxConfig {
    /// Days a confirmed application's full record is kept before it is purged.
    pub retention_days: u32,
    /// First retry delay and the ceiling of the exponential backoff, in seconds.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            retention_days: 7,
            backoff_base_secs: 2,
            backoff_max_secs: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiConfig {
    /// "zh-CN" or "en".
    pub language: String,
    /// "portrait" (1080x1920) or "landscape" (1920x1080).
    pub orientation: String,
    pub large_text: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            language: "zh-CN".into(),
            orientation: "portrait".into(),
            large_text: false,
        }
    }
}
