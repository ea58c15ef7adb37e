//! The kiosk's configuration: one TOML file (default `/etc/village-kiosk/kiosk.toml`).
//!
//! Every setting has a default that suits demo mode, so a missing file means demo mode.
//! Each area reads only its own section. [`load`] reads the file, names the line and field of a
//! parse error, and collects unknown keys with their dotted path (`printer.prot`); [`Config::check`]
//! reports settings that parse but cannot work. No I/O beyond reading the file and, in
//! [`data_dir`], probing whether the default data directory is writable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::catalog::bundle::{TrustError, TrustedKey};

/// Where the config lives unless `--config PATH` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/village-kiosk/kiosk.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub station: StationConfig,
    pub data: DataConfig,
    pub reader: ReaderConfig,
    /// The social security card reader (社保卡), optional: the bank account read from the card.
    pub sscard: SsCardConfig,
    pub printer: PrinterConfig,
    pub county: CountyConfig,
    pub session: SessionConfig,
    pub outbox: OutboxConfig,
    pub ui: UiConfig,
    pub voice: VoiceConfig,
    /// Software updates (软件更新): release key, slots, ESP, download pace.
    pub update: crate::update::UpdateConfig,
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
    /// The station's time zone (IANA name): receipt numbers and the screen's dates are days
    /// in this zone. Default `Asia/Shanghai`.
    pub time_zone: chrono_tz::Tz,
}

impl Default for StationConfig {
    fn default() -> Self {
        Self {
            id: "DEMO-0001".into(),
            name: "示范县城关镇东关村便民服务站".into(),
            complaint_phone: "12345".into(),
            time_zone: crate::county::outbox::DEFAULT_TIME_ZONE,
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
    /// Line speed; `None` takes the profile's (115200 for `sam-generic`).
    pub baud: Option<u32>,
    /// A reader profile name from hardware/profiles/readers (e.g. "sam-9600") or a .toml path:
    /// baud, timeouts, poll interval, whether the fingerprint block is asked.
    pub profile: String,
}

/// `[sscard]`: the social security card reader (社保卡读卡器). Without a port the kiosk has
/// none and the bank account is typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SsCardConfig {
    /// Serial device, e.g. `/dev/serial/by-id/usb-…-if00`; `None`: no reader.
    pub port: Option<PathBuf>,
    /// A profile from hardware/profiles/readers (`sscard-vk1`) or a .toml path.
    pub profile: String,
}

impl Default for SsCardConfig {
    fn default() -> Self {
        Self {
            port: None,
            profile: crate::sscard::profile::DEFAULT_SSCARD_PROFILE.into(),
        }
    }
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            port: None,
            baud: None,
            profile: "sam-generic".into(),
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
    /// More county keys trusted beside `catalog_public_key` (hex each; a small set, at most 4
    /// in all): the keys a kiosk is provisioned with. A key rotation bundle signed by one of
    /// them replaces the set (see `catalog::keyring`).
    pub trusted_keys: Vec<String>,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
    /// How often the county's announcements (通知公告) are refreshed, in seconds.
    pub announcements_refresh_secs: u64,
    /// How often the running kiosk asks the county for a new catalogue (and key rotation), in
    /// seconds.
    pub catalog_refresh_secs: u64,
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
            trusted_keys: Vec::new(),
            timeout_secs: 15,
            announcements_refresh_secs: 900,
            catalog_refresh_secs: 3600,
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
    /// `"zh-CN"` or `"en"`; any other value is a config error naming the line.
    pub language: UiLanguage,
    /// `"portrait"` (1080x1920) or `"landscape"` (1920x1080); any other value is a config error.
    pub orientation: Orientation,
    pub large_text: bool,
}

/// The UI language the screen starts in (`ui.language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UiLanguage {
    /// 简体中文, `zh-CN`.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English, `en`.
    #[serde(rename = "en")]
    En,
}

impl UiLanguage {
    pub const ALL: [UiLanguage; 2] = [UiLanguage::ZhCn, UiLanguage::En];

    /// The tag in the config and on the command line.
    pub fn tag(self) -> &'static str {
        match self {
            UiLanguage::ZhCn => "zh-CN",
            UiLanguage::En => "en",
        }
    }

    pub fn parse(tag: &str) -> Option<UiLanguage> {
        UiLanguage::ALL.into_iter().find(|l| l.tag() == tag)
    }
}

/// How the screen is mounted (`ui.orientation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    /// 1080x1920.
    #[default]
    Portrait,
    /// 1920x1080.
    Landscape,
}

impl Orientation {
    pub const ALL: [Orientation; 2] = [Orientation::Portrait, Orientation::Landscape];

    pub fn name(self) -> &'static str {
        match self {
            Orientation::Portrait => "portrait",
            Orientation::Landscape => "landscape",
        }
    }

    pub fn parse(name: &str) -> Option<Orientation> {
        Orientation::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            language: UiLanguage::ZhCn,
            orientation: Orientation::Portrait,
            large_text: false,
        }
    }
}

/// 语音播报: spoken guidance through espeak-ng and ALSA (see `docs/voice.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceConfig {
    /// Key moments spoken by themselves, and the 「听」 button shown.
    pub enabled: bool,
    /// 0-100; the maintenance screen can change it until the next start.
    pub volume: u8,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            volume: 80,
        }
    }
}

/// Why the config could not be loaded. Each message names the file, the line and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file {} does not exist; create it (see `kiosk config check`) or leave out --config to run in demo mode",
        path.display()
    )]
    NotFound { path: PathBuf },
    #[error("cannot read config file {}: {source}; check its permissions", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: TOML syntax error: {message}; fix the line (TOML is `key = value` under `[section]` headers)",
        path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}:{line}:{column}: bad value for `{field}`: {message}; fix the value or remove the line to use the default",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
}

/// A key the config file sets that no setting has (a typo, or a setting of another version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownKey {
    /// Dotted path, e.g. `printer.prot`.
    pub key: String,
    /// 1-based line in the file, when found.
    pub line: Option<usize>,
    /// The known key it most resembles, e.g. `printer.port`.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown key `{}`", self.key)?;
        match &self.suggestion {
            Some(s) => write!(f, "; did you mean `{s}`? rename it or remove the line"),
            None => write!(f, "; no setting has this name, remove the line"),
        }
    }
}

/// A loaded config, with where it came from and what in it was not understood.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The path looked at (the default path when none was given).
    pub path: PathBuf,
    /// Whether that file exists; `false` means every setting is at its demo default.
    pub found: bool,
    pub unknown_keys: Vec<UnknownKey>,
}

impl LoadedConfig {
    /// Demo mode: see [`Config::is_demo`].
    pub fn is_demo(&self) -> bool {
        self.config.is_demo()
    }
}

/// Loads the config: `path` if given (it must exist), otherwise [`DEFAULT_CONFIG_PATH`], whose
/// absence means demo mode. Unknown keys do not fail the load; they are returned for the caller
/// to report (`kiosk config check` fails on them).
pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(LoadedConfig {
                config: Config::default(),
                path,
                found: false,
                unknown_keys: Vec::new(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::NotFound { path });
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let (config, unknown_keys) = parse(&text).map_err(|e| e.with_path(path.clone()))?;
    Ok(LoadedConfig {
        config,
        path,
        found: true,
        unknown_keys,
    })
}

/// Parses config text. The error's path is empty; [`load`] fills it in.
pub fn parse(text: &str) -> Result<(Config, Vec<UnknownKey>), ConfigError> {
    // Syntax first, so a syntax error is reported as one and not as a bad value.
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = position(text, e.span().map(|s| s.start).unwrap_or(0));
        ConfigError::Syntax {
            path: PathBuf::new(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let config: Config = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = position(text, offset);
        ConfigError::Invalid {
            path: PathBuf::new(),
            line,
            column,
            field: field_at_line(text, line).unwrap_or_else(|| "?".into()),
            message: e.message().trim().to_string(),
        }
    })?;
    let known = serde_json::to_value(Config::default()).unwrap_or(serde_json::Value::Null);
    let mut unknown = Vec::new();
    collect_unknown(&table, &known, "", text, &mut unknown);
    Ok((config, unknown))
}

impl ConfigError {
    fn with_path(self, p: PathBuf) -> ConfigError {
        match self {
            ConfigError::Syntax {
                line,
                column,
                message,
                ..
            } => ConfigError::Syntax {
                path: p,
                line,
                column,
                message,
            },
            ConfigError::Invalid {
                line,
                column,
                field,
                message,
                ..
            } => ConfigError::Invalid {
                path: p,
                line,
                column,
                field,
                message,
            },
            other => other,
        }
    }
}

/// 1-based line and column of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key set on (1-based) `line`: the nearest `[section]` header above plus the key.
fn field_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let header = |l: &str| -> Option<String> {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .map(|h| h.trim_matches(['[', ' ']).to_string())
    };
    if let Some(h) = header(this) {
        return Some(h);
    }
    let key = this.split('=').next()?.trim().trim_matches('"').to_string();
    let section = lines[..line - 1].iter().rev().find_map(|l| header(l));
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key,
    })
}

/// The 1-based line where dotted `key` is set (a `[key]` header or `last = ` under its section).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let (section, last) = match key.rsplit_once('.') {
        Some((s, l)) => (s, l),
        None => ("", key),
    };
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim().to_string();
            if current == key {
                return Some(i + 1);
            }
            continue;
        }
        if current == section
            && let Some(k) = t.split('=').next()
            && k.trim().trim_matches('"') == last
            && t.contains('=')
        {
            return Some(i + 1);
        }
    }
    None
}

fn collect_unknown(
    table: &toml::Table,
    known: &serde_json::Value,
    prefix: &str,
    text: &str,
    out: &mut Vec<UnknownKey>,
) {
    let Some(known_obj) = known.as_object() else {
        return;
    };
    for (k, v) in table {
        let dotted = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match known_obj.get(k) {
            Some(kv) => {
                if let (toml::Value::Table(t), serde_json::Value::Object(_)) = (v, kv) {
                    collect_unknown(t, kv, &dotted, text, out);
                }
            }
            None => {
                let suggestion = known_obj
                    .keys()
                    .map(|c| (edit_distance(k, c), c))
                    .filter(|(d, c)| *d <= 2.max(c.len() / 3))
                    .min()
                    .map(|(_, c)| {
                        if prefix.is_empty() {
                            c.clone()
                        } else {
                            format!("{prefix}.{c}")
                        }
                    });
                out.push(UnknownKey {
                    line: line_of_key(text, &dotted),
                    key: dotted,
                    suggestion,
                });
            }
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A setting that parses but cannot work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// Dotted path, e.g. `session.wipe_after_secs`.
    pub field: String,
    pub message: String,
    pub fix: String,
}

impl Config {
    /// Demo mode (演示模式): no county back office is configured, so the kiosk embeds the
    /// reference one on loopback, trusts the DEMO catalogue key and falls back to the demo
    /// catalogue until one is imported.
    pub fn is_demo(&self) -> bool {
        self.county.url.is_none()
    }

    /// The rule for the county link outside demo mode: HTTPS with the station's client
    /// certificate (mutual TLS), never plain HTTP and never a bearer token, because
    /// applications carry personal data. Demo mode (no `county.url`) has no such rule. Part of
    /// [`Config::check`]; `kiosk run` and `kiosk doctor` refuse to start the link on any of
    /// these.
    pub fn link_problems(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        let Some(url) = &self.county.url else {
            return p;
        };
        if url.starts_with("http://") {
            p.push(ConfigProblem {
                field: "county.url".into(),
                message: format!(
                    "{url:?} is plain HTTP; outside demo mode applications carry personal data and must be encrypted"
                ),
                fix: "use the back office's https:// URL (mutual TLS with the station certificate)"
                    .into(),
            });
        }
        if self.county.token.is_some() {
            p.push(ConfigProblem {
                field: "county.token".into(),
                message: "a bearer token is set; tokens are accepted in demo mode only".into(),
                fix: "remove the line and set county.client_cert and county.client_key to the station certificate the county issued".into(),
            });
        }
        if self.county.client_cert.is_none() && self.county.client_key.is_none() {
            p.push(ConfigProblem {
                field: "county.client_cert".into(),
                message: "no station certificate; outside demo mode the county only accepts mutual TLS".into(),
                fix: "set county.client_cert and county.client_key to the station certificate the county issued".into(),
            });
        }
        if self.county.ca_cert.is_none() {
            p.push(ConfigProblem {
                field: "county.ca_cert".into(),
                message: "no county CA certificate, so the server cannot be authenticated".into(),
                fix: "set county.ca_cert to the county CA certificate (PEM)".into(),
            });
        }
        p
    }

    /// [`Config::link_problems`] as one error, for commands that must not start otherwise.
    pub fn require_secure_link(&self) -> Result<(), InsecureLink> {
        let problems = self.link_problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InsecureLink(problems))
        }
    }

    /// The key county bundles (catalogue, announcements) must be signed with:
    /// `county.catalog_public_key`, or in demo mode without one the published DEMO key. The
    /// one place this rule lives; [`Config::check`] reports its error.
    pub fn trusted_key(&self) -> Result<TrustedKey, TrustError> {
        match &self.county.catalog_public_key {
            Some(hex) => crate::catalog::bundle::parse_verifying_key(hex)
                .map(TrustedKey::Configured)
                .map_err(TrustError::BadKey),
            None if self.is_demo() => Ok(TrustedKey::Demo(
                crate::catalog::bundle::demo_verifying_key(),
            )),
            None => Err(TrustError::NotSet),
        }
    }

    /// Every setting that parses but cannot work; empty means fine.
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut p = self.link_problems();
        let mut bad = |field: &str, message: String, fix: &str| {
            p.push(ConfigProblem {
                field: field.into(),
                message,
                fix: fix.into(),
            })
        };
        if self.station.id.trim().is_empty() {
            bad(
                "station.id",
                "is empty".into(),
                "set the station id the county issued",
            );
        }
        if !self.data.dir.is_absolute() {
            bad(
                "data.dir",
                format!("{} is not an absolute path", self.data.dir.display()),
                "use an absolute path such as /var/lib/village-kiosk",
            );
        }
        if self.reader.baud == Some(0) {
            bad(
                "reader.baud",
                "is 0".into(),
                "use the reader's baud rate, usually 115200, or remove the line to use the profile's",
            );
        }
        if self.reader.profile.trim().is_empty() {
            bad(
                "reader.profile",
                "is empty".into(),
                "name a profile from hardware/profiles/readers, e.g. sam-generic",
            );
        }
        if self.printer.profile.trim().is_empty() {
            bad(
                "printer.profile",
                "is empty".into(),
                "name a profile from hardware/profiles/printers, e.g. generic-80mm",
            );
        }
        if let Some(url) = &self.county.url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bad(
                "county.url",
                format!("{url:?} is not an http(s) URL"),
                "use the back office's base URL, e.g. https://zwfw.example.gov.cn/kiosk",
            );
        }
        if self.county.client_cert.is_some() != self.county.client_key.is_some() {
            bad(
                "county.client_cert",
                "client_cert and client_key must be set together".into(),
                "set both (mutual TLS) or neither",
            );
        }
        for (field, file) in [
            ("county.ca_cert", &self.county.ca_cert),
            ("county.client_cert", &self.county.client_cert),
            ("county.client_key", &self.county.client_key),
        ] {
            if let Some(f) = file
                && !f.exists()
            {
                bad(
                    field,
                    format!("file {} does not exist", f.display()),
                    "install the file the county issued or fix the path",
                );
            }
        }
        match self.trusted_key() {
            Ok(_) => {}
            Err(TrustError::BadKey(e)) => bad(
                "county.catalog_public_key",
                e.to_string(),
                "copy the county's public key (64 hex digits) as printed by `kiosk catalog keygen`",
            ),
            // Keys given as `county.trusted_keys` only: nothing missing.
            Err(TrustError::NotSet) if !self.county.trusted_keys.is_empty() => {}
            Err(TrustError::NotSet) => bad(
                "county.catalog_public_key",
                "is not set, so no catalogue bundle can be verified".into(),
                "set it to the county's public key (64 hex digits)",
            ),
        }
        for (i, k) in self.county.trusted_keys.iter().enumerate() {
            if let Err(e) = crate::catalog::bundle::parse_verifying_key(k) {
                bad(
                    &format!("county.trusted_keys[{i}]"),
                    e.to_string(),
                    "copy the county's public key (64 hex digits) as printed by `kiosk catalog keygen`",
                );
            }
        }
        if self.county.catalog_refresh_secs < 60 {
            bad(
                "county.catalog_refresh_secs",
                format!("is {} (under a minute)", self.county.catalog_refresh_secs),
                "the catalogue changes a few times a year; use e.g. 3600",
            );
        }
        if self.county.timeout_secs == 0 {
            bad(
                "county.timeout_secs",
                "is 0".into(),
                "use a timeout such as 15",
            );
        }
        if self.county.announcements_refresh_secs < 60 {
            bad(
                "county.announcements_refresh_secs",
                format!(
                    "is {} (under a minute)",
                    self.county.announcements_refresh_secs
                ),
                "announcements change a few times a month; use e.g. 900",
            );
        }
        if self.session.warn_after_secs == 0
            || self.session.warn_after_secs >= self.session.wipe_after_secs
        {
            bad(
                "session.warn_after_secs",
                format!(
                    "must be above 0 and below session.wipe_after_secs ({} vs {})",
                    self.session.warn_after_secs, self.session.wipe_after_secs
                ),
                "e.g. warn_after_secs = 45 and wipe_after_secs = 60",
            );
        }
        if self.outbox.backoff_base_secs == 0
            || self.outbox.backoff_base_secs > self.outbox.backoff_max_secs
        {
            bad(
                "outbox.backoff_base_secs",
                format!(
                    "must be above 0 and at most outbox.backoff_max_secs ({} vs {})",
                    self.outbox.backoff_base_secs, self.outbox.backoff_max_secs
                ),
                "e.g. backoff_base_secs = 2 and backoff_max_secs = 600",
            );
        }
        if self.voice.volume > 100 {
            bad(
                "voice.volume",
                format!("{} is above 100", self.voice.volume),
                "use 0 (silent) to 100 (loudest), e.g. volume = 80",
            );
        }
        p
    }
}

impl crate::catalog::bundle::TrustSource for Config {
    fn trusted_key(&self) -> Result<TrustedKey, TrustError> {
        Config::trusted_key(self)
    }
}

/// Settings that would send personal data over an unprotected link (see
/// [`Config::link_problems`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the county link is not secure: {}", .0.iter().map(|p| format!("{}: {}; {}", p.field, p.message, p.fix)).collect::<Vec<_>>().join("; "))]
pub struct InsecureLink(pub Vec<ConfigProblem>);

/// The data directory in use: `data.dir`, except in demo mode with the default
/// `/var/lib/village-kiosk` when that is not writable (a developer's machine), where it is the
/// user's `$XDG_DATA_HOME/village-kiosk` (or `~/.local/share/village-kiosk`).
pub fn data_dir(config: &Config) -> PathBuf {
    let default = DataConfig::default().dir;
    if config.data.dir != default || !config.is_demo() || writable_dir(&default) {
        return config.data.dir.clone();
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(b) => b.join("village-kiosk"),
        None => std::env::temp_dir().join("village-kiosk"),
    }
}

/// Whether `dir` exists (or can be created) and a file can be created in it.
fn writable_dir(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    let ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_the_demo_default() {
        let (c, unknown) = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert!(unknown.is_empty());
        assert!(c.is_demo());
        assert!(c.check().is_empty(), "{:?}", c.check());
    }

    #[test]
    fn unknown_keys_are_collected_with_path_line_and_suggestion() {
        let text =
            "[printer]\nprofile = \"generic-80mm\"\nprot = \"/dev/ttyUSB0\"\n\n[colour]\nx = 1\n";
        let (_, unknown) = parse(text).unwrap();
        assert_eq!(
            unknown,
            vec![
                UnknownKey {
                    key: "colour".into(),
                    line: Some(5),
                    suggestion: None
                },
                UnknownKey {
                    key: "printer.prot".into(),
                    line: Some(3),
                    suggestion: Some("printer.port".into())
                },
            ]
        );
    }

    #[test]
    fn bad_values_name_line_and_field() {
        let text = "[station]\nid = \"X\"\n\n[reader]\nbaud = \"fast\"\n";
        match parse(text).unwrap_err() {
            ConfigError::Invalid { line, field, .. } => {
                assert_eq!(line, 5);
                assert_eq!(field, "reader.baud");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ui_language_and_orientation_are_typed() {
        let (c, unknown) = parse("[ui]\nlanguage = \"en\"\norientation = \"landscape\"\n").unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(c.ui.language, UiLanguage::En);
        assert_eq!(c.ui.orientation, Orientation::Landscape);
        for (text, line, field, expected) in [
            ("[ui]\nlanguage = \"fr\"\n", 2, "ui.language", "`zh-CN`"),
            (
                "[ui]\n\norientation = \"sideways\"\n",
                3,
                "ui.orientation",
                "`landscape`",
            ),
        ] {
            match parse(text).unwrap_err() {
                ConfigError::Invalid {
                    line: l,
                    field: f,
                    message,
                    ..
                } => {
                    assert_eq!((l, f.as_str()), (line, field), "{text}");
                    assert!(message.contains(expected), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        // The values written back are the ones read.
        let written = toml::to_string(&c).unwrap();
        assert!(written.contains("language = \"en\""), "{written}");
        assert!(written.contains("orientation = \"landscape\""), "{written}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let text = "[station]\nid = \"X\n";
        assert!(matches!(
            parse(text).unwrap_err(),
            ConfigError::Syntax { line: 2, .. }
        ));
    }

    #[test]
    fn check_finds_settings_that_cannot_work() {
        let mut c = Config::default();
        c.session.warn_after_secs = 90;
        c.county.url = Some("https://county.example".into());
        let fields: Vec<String> = c.check().into_iter().map(|p| p.field).collect();
        assert!(fields.contains(&"session.warn_after_secs".to_string()));
        assert!(fields.contains(&"county.catalog_public_key".to_string()));
    }

    #[test]
    fn the_voice_section() {
        assert_eq!(
            Config::default().voice,
            VoiceConfig {
                enabled: true,
                volume: 80
            }
        );
        let (c, unknown) = parse("[voice]\nenabled = false\nvolume = 120\n").expect("parses");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert!(!c.voice.enabled);
        let problems = c.check();
        assert!(
            problems.iter().any(|p| p.field == "voice.volume"),
            "{problems:?}"
        );
        let (_, unknown) = parse("[voice]\nvolumn = 50\n").expect("parses");
        assert_eq!(unknown[0].suggestion.as_deref(), Some("voice.volume"));
    }
}
