//! The pure core of `kiosk doctor` (自检): facts a probe gathered in, one [`Check`] out, with a
//! finding and a fix in English (CLI, logs) and Chinese (maintenance screen).
//!
//! Sans-IO: no files, ports, sockets or clock here (`now` is passed in), so every threshold and
//! every wording is tested without a device. The probes in [`super::probe`] gather the facts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::printer::device::PrintError;
use crate::printer::status::{PrinterFault, PrinterStatus};

/// A check's verdict. Ordered: the worst check is the terminal's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// 正常 / 注意 / 故障, for the maintenance screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Ok => "正常",
            Status::Warn => "注意",
            Status::Fail => "故障",
        }
    }
}

/// The check ids, in the order `kiosk doctor` reports them (a contract: issue 16).
pub const CHECK_IDS: [&str; 10] = [
    "config",
    "store",
    "disk",
    "clock",
    "catalog",
    "reader",
    "printer",
    "county",
    "certificate",
    "outbox",
];

/// One check's result. The JSON shape (`id`, `status`, `finding`, `fix`) is a contract; the
/// Chinese texts are for the maintenance screen and not serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    /// One line: what was found.
    pub finding: String,
    /// What to do about it; empty when nothing needs doing.
    pub fix: String,
    #[serde(skip)]
    pub finding_zh: String,
    #[serde(skip)]
    pub fix_zh: String,
}

impl Check {
    pub fn new(
        id: &str,
        status: Status,
        finding: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            status,
            finding: finding.into(),
            fix: fix.into(),
            finding_zh: String::new(),
            fix_zh: String::new(),
        }
    }

    pub fn ok(id: &str, finding: impl Into<String>) -> Check {
        Check::new(id, Status::Ok, finding, "")
    }

    pub fn warn(id: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Warn, finding, fix)
    }

    pub fn fail(id: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, finding, fix)
    }

    /// The Chinese finding and fix for the maintenance screen.
    pub fn zh(mut self, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        self.finding_zh = finding.into();
        self.fix_zh = fix.into();
        self
    }

    /// A check that did not finish within its time limit.
    pub fn timed_out(id: &str, limit_secs: u64) -> Check {
        Check::fail(
            id,
            format!("the check did not finish within its time limit of {limit_secs} s"),
            "a device or the network hangs; check cables and power, then run kiosk doctor again",
        )
        .zh(
            format!("检查超过 {limit_secs} 秒未完成"),
            "设备或网络无响应，请检查线缆和电源后重试",
        )
    }

    /// A check not run because an earlier one failed.
    pub fn skipped(id: &str, why: &str) -> Check {
        Check::warn(
            id,
            format!("not checked: {why}"),
            "fix the failing check first",
        )
        .zh("未检查", "请先排除其他故障")
    }
}

/// The whole terminal's verdict: `{"verdict": "ok|warn|fail", "checks": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Status,
    pub checks: Vec<Check>,
}

impl Report {
    /// Orders the checks as [`CHECK_IDS`] (others after) and takes the worst status.
    pub fn new(mut checks: Vec<Check>) -> Report {
        checks.sort_by_key(|c| {
            CHECK_IDS
                .iter()
                .position(|id| *id == c.id)
                .unwrap_or(CHECK_IDS.len())
        });
        let verdict = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
        Report { verdict, checks }
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The ids of the checks that failed.
    pub fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.id.as_str())
            .collect()
    }

    /// `kiosk doctor`'s exit code: 0 when nothing fails, 1 when a check fails.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict == Status::Fail)
    }
}

// ---------------------------------------------------------------------------------------------
// config

/// What loading and checking the config found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFacts {
    /// The file could not be loaded (syntax, bad value, unreadable): the error names the line.
    Unloadable(String),
    Loaded {
        path: String,
        found: bool,
        /// Unknown keys and values that cannot work, each "key: problem; fix".
        problems: Vec<String>,
    },
}

pub fn config(facts: &ConfigFacts) -> Check {
    const ID: &str = "config";
    match facts {
        ConfigFacts::Unloadable(e) => Check::fail(
            ID,
            e.clone(),
            "fix the line named (kiosk config check lists every problem)",
        )
        .zh("配置文件有误", "请按提示修改配置文件（kiosk config check）"),
        ConfigFacts::Loaded {
            path, found: false, ..
        } => Check::warn(
            ID,
            format!("no config file at {path}: demo mode, every setting at its demo default"),
            "install the county's kiosk.toml (see hardware/image/kiosk.toml.example)",
        )
        .zh("未找到配置文件，处于演示模式", "请安装县里下发的配置文件"),
        ConfigFacts::Loaded { path, problems, .. } if !problems.is_empty() => Check::fail(
            ID,
            format!(
                "{path}: {} problem(s): {}",
                problems.len(),
                problems.join("; ")
            ),
            "fix or remove the keys named (kiosk config check shows the lines)",
        )
        .zh(
            format!("配置文件有 {} 处问题", problems.len()),
            "请按提示修改配置文件（kiosk config check）",
        ),
        ConfigFacts::Loaded { path, .. } => {
            Check::ok(ID, format!("{path} parses, no unknown keys, values valid"))
                .zh("配置文件正常", "")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// store

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFacts {
    /// No store file yet (the app creates it at first start).
    Missing { path: String },
    /// Could not be opened at all (permissions, locked).
    Unopenable { path: String, error: String },
    /// `PRAGMA quick_check` did not say ok, or reading failed as on a damaged file.
    Damaged { path: String, detail: String },
    Opened {
        path: String,
        schema_version: i64,
        known_version: i64,
    },
}

pub fn store(facts: &StoreFacts) -> Check {
    const ID: &str = "store";
    match facts {
        StoreFacts::Missing { path } => Check::warn(
            ID,
            format!("no store at {path} yet"),
            "start the kiosk app once (it creates the store); check data.dir if it has run before",
        )
        .zh("数据库尚未创建", "请先启动一次自助终端程序"),
        StoreFacts::Unopenable { path, error } => Check::fail(
            ID,
            format!("cannot open the store {path}: {error}"),
            "check the data directory's permissions and free space",
        )
        .zh("数据库无法打开", "请检查数据目录的权限和剩余空间"),
        StoreFacts::Damaged { path, detail } => Check::fail(
            ID,
            format!("the store {path} is damaged: {detail}"),
            format!(
                "stop the kiosk app, move {path} aside (keep it for recovery of unsent applications), then restart; the county keeps every confirmed case"
            ),
        )
        .zh(
            "数据库已损坏",
            "请停止程序，将数据库文件移到别处保存后重启，并联系技术人员恢复未上传的申请",
        ),
        StoreFacts::Opened {
            path,
            schema_version,
            known_version,
        } if schema_version > known_version => Check::fail(
            ID,
            format!(
                "the store {path} has schema version {schema_version}, newer than this kiosk ({known_version})"
            ),
            "install the newer kiosk software this store was written by",
        )
        .zh("数据库版本高于本程序", "请安装新版本程序"),
        StoreFacts::Opened {
            path,
            schema_version,
            known_version,
        } if schema_version < known_version => Check::warn(
            ID,
            format!(
                "{path}: integrity ok, schema version {schema_version} (the app migrates it to {known_version} at its next start)"
            ),
            "restart the kiosk app to migrate the store",
        )
        .zh("数据库需要升级", "请重启自助终端程序"),
        StoreFacts::Opened {
            path,
            schema_version,
            ..
        } => Check::ok(
            ID,
            format!("{path}: integrity ok, schema version {schema_version}"),
        )
        .zh("数据库正常", ""),
    }
}

// ---------------------------------------------------------------------------------------------
// disk

/// Below this free share the disk check warns (percent).
pub const DISK_WARN_PERCENT: f64 = 10.0;
/// Below this free share, or [`DISK_FAIL_BYTES`], it fails.
pub const DISK_FAIL_PERCENT: f64 = 2.0;
pub const DISK_FAIL_BYTES: u64 = 100 * 1000 * 1000;

pub fn disk(path: &str, free_bytes: u64, total_bytes: u64) -> Check {
    const ID: &str = "disk";
    let percent = if total_bytes == 0 {
        0.0
    } else {
        free_bytes as f64 * 100.0 / total_bytes as f64
    };
    let mb = free_bytes / 1_000_000;
    let finding = format!(
        "{mb} MB free of {} MB ({percent:.1} %) in {path}",
        total_bytes / 1_000_000
    );
    if percent < DISK_FAIL_PERCENT || free_bytes < DISK_FAIL_BYTES {
        Check::fail(
            ID,
            finding,
            "free space: journalctl --vacuum-size=50M, remove old files under the data directory; new applications may not be stored",
        )
        .zh(format!("存储空间不足（剩余 {mb} MB）"), "请清理存储空间，否则新申请可能无法保存")
    } else if percent < DISK_WARN_PERCENT {
        Check::warn(
            ID,
            finding,
            "free some space soon (journalctl --vacuum-size=50M)",
        )
        .zh(
            format!("存储空间偏少（剩余 {mb} MB）"),
            "请尽快清理存储空间",
        )
    } else {
        Check::ok(ID, finding).zh(format!("存储空间充足（剩余 {mb} MB）"), "")
    }
}

// ---------------------------------------------------------------------------------------------
// clock

/// Offsets from the county's clock above these warn and fail (certificates and receipts
/// depend on the time).
pub const CLOCK_WARN_SECS: i64 = 60;
pub const CLOCK_FAIL_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockFacts {
    /// Kiosk clock minus county clock, in milliseconds; `Err` says why it is unknown.
    pub offset_ms: Result<i64, String>,
    /// Whether the system says its time is synchronised (NTP); `None`: cannot tell.
    pub synchronized: Option<bool>,
}

pub fn clock(facts: &ClockFacts) -> Check {
    const ID: &str = "clock";
    let sync = match facts.synchronized {
        Some(true) => "time synchronised (NTP)",
        Some(false) => "time NOT synchronised (NTP)",
        None => "NTP state unknown",
    };
    match &facts.offset_ms {
        Err(why) => {
            let c = Check::warn(
                ID,
                format!("cannot compare with the county's clock ({why}); {sync}"),
                "fix the county link first; the clock is checked against the county's",
            )
            .zh("无法与县级平台对时", "请先排除网络故障");
            if facts.synchronized == Some(false) {
                Check {
                    fix: "enable time synchronisation: timedatectl set-ntp true".into(),
                    ..c
                }
            } else {
                c
            }
        }
        Ok(ms) => {
            let secs = ms / 1000;
            let dir = if *ms >= 0 { "ahead of" } else { "behind" };
            let finding = format!("{} s {dir} the county's clock; {sync}", secs.abs());
            let fix = "set the time: timedatectl set-ntp true (NTP from the county's time server), or date -s; then restart the kiosk app";
            let zh = format!("时钟与县级平台相差 {} 秒", secs.abs());
            if secs.abs() > CLOCK_FAIL_SECS {
                Check::fail(ID, finding, fix).zh(zh, "请校准时间（开启网络对时）")
            } else if secs.abs() > CLOCK_WARN_SECS || facts.synchronized == Some(false) {
                Check::warn(ID, finding, fix).zh(zh, "请校准时间（开启网络对时）")
            } else {
                Check::ok(ID, finding).zh("时钟准确", "")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// catalog

/// An installed catalogue older than this warns.
pub const CATALOG_WARN_DAYS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogFacts {
    /// No store, or no catalogue imported into it.
    NotInstalled,
    Unreadable(String),
    Installed {
        county: String,
        version: u64,
        item_count: usize,
        imported_at: Option<DateTime<Utc>>,
        /// Hex key that verified the bundle at import.
        signer_key: String,
    },
}

/// `trusted_key`: hex of the key the kiosk trusts (`county.catalog_public_key`, the DEMO key in
/// demo mode); `None` when none is configured.
pub fn catalog(
    facts: &CatalogFacts,
    trusted_key: Option<&str>,
    demo: bool,
    now: DateTime<Utc>,
) -> Check {
    const ID: &str = "catalog";
    let import = "import the county's signed bundle: kiosk catalog import catalog.bundle (from the county or the provisioning USB stick)";
    match facts {
        CatalogFacts::NotInstalled if demo => Check::warn(
            ID,
            "no catalogue installed: demo mode shows the built-in demo catalogue",
            import,
        )
        .zh("未导入事项目录（演示目录）", "请导入县里签发的事项目录"),
        CatalogFacts::NotInstalled => Check::fail(
            ID,
            "no catalogue installed: villagers see no service items",
            import,
        )
        .zh("未导入事项目录", "请导入县里签发的事项目录"),
        CatalogFacts::Unreadable(e) => Check::fail(
            ID,
            format!("the installed catalogue cannot be read: {e}"),
            import,
        )
        .zh("事项目录已损坏", "请重新导入事项目录"),
        CatalogFacts::Installed {
            county,
            version,
            item_count,
            imported_at,
            signer_key,
        } => {
            let Some(trusted) = trusted_key else {
                return Check::fail(
                    ID,
                    format!(
                        "catalogue {county} v{version} installed, but no trusted key is configured"
                    ),
                    "set county.catalog_public_key to the county's public key (64 hex digits)",
                )
                .zh("未配置目录验签公钥", "请配置县级平台公钥");
            };
            if !signer_key.eq_ignore_ascii_case(trusted) {
                return Check::fail(
                    ID,
                    format!(
                        "catalogue {county} v{version} was verified with key {}…, not the trusted key {}…",
                        short(signer_key),
                        short(trusted)
                    ),
                    format!("import a bundle signed with the trusted key: {import}"),
                )
                .zh("事项目录签名与公钥不符", "请重新导入县里签发的事项目录");
            }
            let age = imported_at.map(|t| (now - t).num_days());
            let finding = format!(
                "{county} v{version}, {item_count} items, signature verified with the trusted key {}…{}",
                short(trusted),
                age.map(|d| format!(", imported {d} days ago"))
                    .unwrap_or_default()
            );
            match age {
                Some(d) if d > CATALOG_WARN_DAYS => Check::warn(
                    ID,
                    finding,
                    "check that the kiosk gets catalogue updates from the county",
                )
                .zh(
                    format!("事项目录已 {d} 天未更新"),
                    "请确认能从县级平台更新目录",
                ),
                _ => Check::ok(ID, finding).zh(format!("事项目录正常（第 {version} 版）"), ""),
            }
        }
    }
}

fn short(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}

// ---------------------------------------------------------------------------------------------
// reader

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardFacts {
    NoCard,
    /// A card read and validated; the kind only, nothing personal.
    Valid {
        kind: String,
    },
    Rejected {
        reason: String,
        reason_zh: String,
    },
    ReadFailed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderFacts {
    /// No `reader.port` (demo mode starts a simulator).
    NotConfigured {
        demo: bool,
    },
    Profile(String),
    PortMissing {
        port: String,
    },
    /// The port exists but someone else has it (the running kiosk app).
    Busy {
        port: String,
    },
    OpenFailed {
        port: String,
        error: String,
    },
    NoAnswer {
        port: String,
        baud: u32,
    },
    Failed {
        port: String,
        error: String,
    },
    Answered {
        port: String,
        baud: u32,
        card: CardFacts,
    },
}

pub fn reader(facts: &ReaderFacts) -> Check {
    const ID: &str = "reader";
    let which = "check with kiosk devices which port is the reader, set reader.port (udev name /dev/kiosk-idcard)";
    match facts {
        ReaderFacts::NotConfigured { demo: true } => Check::ok(
            ID,
            "no reader.port: demo mode uses the simulated reader",
        )
        .zh("演示模式：模拟阅读器", ""),
        ReaderFacts::NotConfigured { demo: false } => Check::fail(ID, "reader.port is not set", which)
            .zh("未配置身份证阅读器端口", "请配置阅读器端口"),
        ReaderFacts::Profile(e) => Check::fail(ID, e.clone(), "set reader.profile to a shipped profile (sam-generic, sam-9600) or a .toml file")
            .zh("阅读器型号配置有误", "请修改阅读器型号配置"),
        ReaderFacts::PortMissing { port } => Check::fail(
            ID,
            format!("port {port} does not exist: the reader is unplugged or has another name"),
            format!("plug the reader in (USB); {which}"),
        )
        .zh("找不到身份证阅读器", "请检查阅读器USB线是否插好"),
        ReaderFacts::Busy { port } => Check::warn(
            ID,
            format!("port {port} is in use (the kiosk app has it open)"),
            "the running app reports the reader's health itself; stop it (systemctl stop village-kiosk) to test the reader here",
        )
        .zh("阅读器正被程序使用", ""),
        ReaderFacts::OpenFailed { port, error } => Check::fail(
            ID,
            format!("cannot open {port}: {error}"),
            "check that the kiosk user may open it (dialout group) and the cable",
        )
        .zh("无法打开身份证阅读器", "请检查阅读器连接"),
        ReaderFacts::NoAnswer { port, baud } => Check::fail(
            ID,
            format!("the reader on {port} does not answer at {baud} baud"),
            format!("check that this port is the reader, its baud rate (reader.profile / reader.baud), the cable and the reader's power; {which}"),
        )
        .zh("身份证阅读器无响应", "请检查阅读器电源和连线"),
        ReaderFacts::Failed { port, error } => Check::fail(ID, format!("{port}: {error}"), "power-cycle the reader; replace it if this persists")
            .zh("身份证阅读器故障", "请重新插拔阅读器，仍不行请更换"),
        ReaderFacts::Answered { port, baud, card } => {
            let base = format!("the reader on {port} answers at {baud} baud");
            match card {
                CardFacts::NoCard => Check::ok(ID, format!("{base}; no card on it"))
                    .zh("身份证阅读器正常", ""),
                CardFacts::Valid { kind } => Check::ok(
                    ID,
                    format!("{base}; the card on it ({kind}) reads and validates"),
                )
                .zh("身份证阅读器正常，读卡成功", ""),
                CardFacts::Rejected { reason, reason_zh } => Check::warn(
                    ID,
                    format!("{base}; the card on it reads but fails validation: {reason}"),
                    "try another card: if every card fails, the reader's SAM is faulty",
                )
                .zh(format!("读卡成功但证件无效：{reason_zh}"), "请换一张证件再试"),
                CardFacts::ReadFailed(e) => Check::warn(
                    ID,
                    format!("{base}; a card is on it but cannot be read: {e}"),
                    "place the card flat on the marked area; if every card fails, replace the reader",
                )
                .zh("读卡失败", "请将证件平放在感应区后重试"),
            }
        }
    }
}

/// What probing the social security card reader (`sscard.port`, only when configured) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsCardFacts {
    Profile(String),
    PortMissing { port: String },
    Failed { port: String, error: String },
    Answered { port: String, card_present: bool },
}

/// The `sscard` check (social security card reader): run only when `sscard.port` is set.
pub fn sscard(facts: &SsCardFacts) -> Check {
    const ID: &str = "sscard";
    match facts {
        SsCardFacts::Profile(e) => Check::fail(ID, e.clone(), "set sscard.profile to sscard-vk1 or a .toml file")
            .zh("社保卡读卡器型号配置有误", "请修改社保卡读卡器型号配置"),
        SsCardFacts::PortMissing { port } => Check::fail(
            ID,
            format!("port {port} does not exist: the social security card reader is unplugged or has another name"),
            "plug the reader in (USB); check with kiosk devices which port it is and set sscard.port",
        )
        .zh("找不到社保卡读卡器", "请检查读卡器USB线是否插好"),
        SsCardFacts::Failed { port, error } => Check::fail(
            ID,
            format!("{port}: {error}"),
            "check the cable, the port (sscard.port) and that the reader speaks sscard.profile's framing",
        )
        .zh("社保卡读卡器无响应或故障", "请检查读卡器连线，仍不行请更换"),
        SsCardFacts::Answered { port, card_present } => Check::ok(
            ID,
            format!(
                "the social security card reader on {port} answers; {}",
                if *card_present { "a card is inserted" } else { "no card inserted" }
            ),
        )
        .zh("社保卡读卡器正常", ""),
    }
}

// ---------------------------------------------------------------------------------------------
// printer

#[derive(Debug, Clone, PartialEq)]
pub enum PrinterFacts {
    NotConfigured { demo: bool },
    Profile(String),
    PortMissing { port: String },
    Busy { port: String },
    NoStatusSupport { port: String, profile: String },
    Status { port: String, status: PrinterStatus },
    Error { port: String, error: PrintError },
}

pub fn printer(facts: &PrinterFacts) -> Check {
    const ID: &str = "printer";
    let which = "check with kiosk devices which port is the printer, set printer.port (udev name /dev/kiosk-printer)";
    match facts {
        PrinterFacts::NotConfigured { demo: true } => {
            Check::ok(ID, "no printer.port: demo mode uses the simulated printer")
                .zh("演示模式：模拟打印机", "")
        }
        PrinterFacts::NotConfigured { demo: false } => {
            Check::fail(ID, "printer.port is not set", which)
                .zh("未配置打印机端口", "请配置打印机端口")
        }
        PrinterFacts::Profile(e) => Check::fail(
            ID,
            e.clone(),
            "set printer.profile to a shipped profile (kiosk printer profiles) or a .toml file",
        )
        .zh("打印机型号配置有误", "请修改打印机型号配置"),
        PrinterFacts::PortMissing { port } => Check::fail(
            ID,
            format!("port {port} does not exist: the printer is unplugged or has another name"),
            format!("plug the printer in and switch it on; {which}"),
        )
        .zh("找不到打印机", "请检查打印机电源和USB线"),
        PrinterFacts::Busy { port } => Check::warn(
            ID,
            format!("port {port} is in use (the kiosk app has it open)"),
            "the running app reports the printer's health itself; stop it to test the printer here",
        )
        .zh("打印机正被程序使用", ""),
        PrinterFacts::NoStatusSupport { port, profile } => Check::warn(
            ID,
            format!(
                "{port}: profile {profile} has no status support, paper and cover cannot be checked"
            ),
            "print a test page (kiosk print test) and look at it",
        )
        .zh("打印机不支持状态查询", "请打印测试页检查"),
        PrinterFacts::Error { port, error } => {
            let fix = match error {
                PrintError::UnexpectedAnswer { .. } => format!(
                    "set printer.profile to this printer's model (its baud rate) and check that {port} is the printer, not the reader; {which}"
                ),
                PrintError::NoResponse { .. } => {
                    "switch the printer on, check the cable, the baud rate in printer.profile"
                        .to_string()
                }
                _ => format!("check the printer's power and USB cable; {which}"),
            };
            Check::fail(ID, error.to_string(), fix)
                .zh(error.message_zh(), "请检查打印机电源、连线和型号配置")
        }
        PrinterFacts::Status { port, status } => match status.fault() {
            Some(f) => {
                let fix = match f {
                    PrinterFault::PaperEnd => {
                        "load a new paper roll (thermal side out) and close the cover"
                    }
                    PrinterFault::CoverOpen => "close the paper cover until it clicks",
                    PrinterFault::CutterError => {
                        "open the cover, clear the paper jam at the cutter, close the cover"
                    }
                    PrinterFault::HeadOverheated => "wait a few minutes for the head to cool down",
                    PrinterFault::UnrecoverableError => {
                        "power-cycle the printer; replace it if this persists"
                    }
                    PrinterFault::Offline => {
                        "check the printer's panel (paper, cover, error light); power-cycle it"
                    }
                };
                Check::fail(ID, format!("{port}: {status}"), fix).zh(f.message_zh(), fix_zh(f))
            }
            None if status.paper_near_end => Check::warn(
                ID,
                format!("{port}: ready, paper near end"),
                "replace the paper roll soon",
            )
            .zh("打印纸将用完", "请尽快更换打印纸"),
            None => {
                Check::ok(ID, format!("{port}: ready, paper ok, cover closed")).zh("打印机正常", "")
            }
        },
    }
}

fn fix_zh(f: PrinterFault) -> &'static str {
    match f {
        PrinterFault::PaperEnd => "请装入新的打印纸卷并关好纸仓盖",
        PrinterFault::CoverOpen => "请关好纸仓盖",
        PrinterFault::CutterError => "请打开纸仓盖清除卡纸",
        PrinterFault::HeadOverheated => "请等待几分钟",
        PrinterFault::UnrecoverableError | PrinterFault::Offline => "请重启打印机",
    }
}

// ---------------------------------------------------------------------------------------------
// county

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountyFacts {
    /// No county URL: demo mode embeds the reference back office.
    NotConfigured,
    Misconfigured(String),
    Dns {
        host: String,
        error: String,
    },
    TcpRefused {
        addr: String,
        error: String,
    },
    TcpTimeout {
        addr: String,
        secs: u64,
    },
    /// TCP connected, the TLS handshake got no answer.
    TlsTimeout {
        addr: String,
        secs: u64,
    },
    /// The handshake failed; `untrusted_server` when the server's certificate is not from the
    /// county CA.
    Tls {
        addr: String,
        error: String,
        untrusted_server: bool,
    },
    /// TLS fine, the HTTP request failed (e.g. the county refused our certificate).
    Http {
        error: String,
    },
    HttpStatus {
        status: u16,
        message: String,
    },
    Answered {
        url: String,
        latency_ms: u64,
    },
}

/// Above this the county check warns.
pub const COUNTY_SLOW_MS: u64 = 3000;

pub fn county(facts: &CountyFacts) -> Check {
    const ID: &str = "county";
    match facts {
        CountyFacts::NotConfigured => Check::ok(
            ID,
            "no county.url: demo mode embeds the reference back office",
        )
        .zh("演示模式：内置县级平台", ""),
        CountyFacts::Misconfigured(e) => Check::fail(ID, e.clone(), "fix [county] in the config (url, ca_cert, client_cert, client_key)")
            .zh("县级平台连接配置有误", "请修改配置文件的 [county] 部分"),
        CountyFacts::Dns { host, error } => Check::fail(
            ID,
            format!("DNS: cannot resolve {host}: {error}"),
            "check the network cable/4G and the DNS server (resolvectl status); check county.url",
        )
        .zh("无法解析县级平台地址", "请检查网络和DNS设置"),
        CountyFacts::TcpRefused { addr, error } => Check::fail(
            ID,
            format!("TCP: {addr} refused or unreachable: {error}"),
            "the county back office is down or the port is wrong: check county.url, then call the county's help desk",
        )
        .zh("县级平台无法连接", "请检查网络，或联系县级平台"),
        CountyFacts::TcpTimeout { addr, secs } => Check::fail(
            ID,
            format!("TCP: no answer from {addr} within {secs} s"),
            "check the e-government extranet link (cable, VPN, firewall) and county.url",
        )
        .zh("连接县级平台超时", "请检查政务外网连接"),
        CountyFacts::TlsTimeout { addr, secs } => Check::fail(
            ID,
            format!("TLS: {addr} accepts TCP but does not answer the TLS handshake within {secs} s"),
            "a wrong port (not the county's HTTPS port) or a proxy/firewall swallowing TLS: check county.url and the network",
        )
        .zh("县级平台加密连接无响应", "请检查地址端口或防火墙"),
        CountyFacts::Tls { addr, error, untrusted_server: true } => Check::fail(
            ID,
            format!("TLS: {addr}'s certificate is not issued by the county CA in county.ca_cert: {error}"),
            "install the county's CA certificate (ca.pem from the county) as county.ca_cert; if it is right, the link is being intercepted",
        )
        .zh("县级平台证书不受信任", "请安装县里下发的根证书"),
        CountyFacts::Tls { addr, error, .. } => Check::fail(
            ID,
            format!("TLS handshake with {addr} failed: {error}"),
            "check county.ca_cert, the station certificate and the clock",
        )
        .zh("加密连接失败", "请检查证书和时钟"),
        CountyFacts::Http { error } => Check::fail(
            ID,
            format!("HTTP: {error}"),
            "if the county refused the station certificate, see the certificate check; otherwise call the county's help desk",
        )
        .zh("县级平台拒绝连接", "请检查终端证书"),
        CountyFacts::HttpStatus { status, message } => Check::fail(
            ID,
            format!("HTTP {status}: {message}"),
            "the county does not know this station or is failing: call the county's help desk with the station id",
        )
        .zh("县级平台返回错误", "请联系县级平台"),
        CountyFacts::Answered { url, latency_ms } if *latency_ms > COUNTY_SLOW_MS => Check::warn(
            ID,
            format!("{url}: DNS, TCP, TLS and HTTP ok, but slow ({latency_ms} ms)"),
            "check the extranet link's quality",
        )
        .zh("县级平台连接缓慢", "请检查网络质量"),
        CountyFacts::Answered { url, latency_ms } => Check::ok(
            ID,
            format!("{url}: DNS, TCP, TLS and HTTP ok in {latency_ms} ms"),
        )
        .zh("县级平台连接正常", ""),
    }
}

// ---------------------------------------------------------------------------------------------
// certificate

/// A station certificate expiring within this many days warns.
pub const CERT_WARN_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateFacts {
    /// No client certificate configured; `needed` when the county URL is https.
    NotConfigured {
        needed: bool,
    },
    Unreadable {
        path: String,
        error: String,
    },
    Parsed {
        path: String,
        common_name: Option<String>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
}

pub fn certificate(facts: &CertificateFacts, station_id: &str, now: DateTime<Utc>) -> Check {
    const ID: &str = "certificate";
    let renew = format!(
        "have the county issue a new station certificate for {station_id} (county-backoffice certs station --station-id {station_id}) and install it as county.client_cert and county.client_key"
    );
    match facts {
        CertificateFacts::NotConfigured { needed: false } => {
            Check::ok(ID, "no station certificate: demo mode (bearer token)")
                .zh("演示模式：无需终端证书", "")
        }
        CertificateFacts::NotConfigured { needed: true } => Check::fail(
            ID,
            "county.url is https but no station certificate is configured",
            renew,
        )
        .zh("未配置终端证书", "请安装县里签发的终端证书"),
        CertificateFacts::Unreadable { path, error } => Check::fail(
            ID,
            format!("cannot read the station certificate {path}: {error}"),
            renew,
        )
        .zh("终端证书无法读取", "请重新安装终端证书"),
        CertificateFacts::Parsed {
            path,
            common_name,
            not_before,
            not_after,
        } => {
            let cn = common_name.as_deref().unwrap_or("");
            if *not_after <= now {
                return Check::fail(
                    ID,
                    format!(
                        "the station certificate {path} expired on {}",
                        not_after.format("%Y-%m-%d")
                    ),
                    renew,
                )
                .zh("终端证书已过期", "请联系县里更换终端证书");
            }
            if *not_before > now {
                return Check::fail(
                    ID,
                    format!(
                        "the station certificate {path} is not valid before {} (is the clock right?)",
                        not_before.format("%Y-%m-%d %H:%M")
                    ),
                    "check the clock (see the clock check)",
                )
                .zh("终端证书尚未生效", "请检查时钟");
            }
            if cn != station_id {
                return Check::fail(
                    ID,
                    format!("the station certificate names station {cn:?}, but station.id is {station_id:?}"),
                    "install this station's own certificate, or correct station.id",
                )
                .zh("终端证书与站点编号不符", "请安装本站点的终端证书");
            }
            let days = (*not_after - now).num_days();
            let finding = format!(
                "station certificate for {cn} valid until {} ({days} days)",
                not_after.format("%Y-%m-%d")
            );
            if days < CERT_WARN_DAYS {
                Check::warn(ID, finding, renew).zh(
                    format!("终端证书 {days} 天后过期"),
                    "请尽快联系县里更换终端证书",
                )
            } else {
                Check::ok(ID, finding).zh("终端证书有效", "")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// outbox

/// An application pending longer than these warns, then fails: the outbox is stuck.
pub const OUTBOX_WARN_HOURS: i64 = 1;
pub const OUTBOX_FAIL_HOURS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxFacts {
    NoStore,
    Unreadable(String),
    Read {
        pending: u32,
        needs_attention: u32,
        oldest_pending: Option<DateTime<Utc>>,
        last_error: Option<String>,
    },
}

pub fn outbox(facts: &OutboxFacts, now: DateTime<Utc>) -> Check {
    const ID: &str = "outbox";
    match facts {
        OutboxFacts::NoStore => {
            Check::ok(ID, "no store yet: nothing queued").zh("无待上传数据", "")
        }
        OutboxFacts::Unreadable(e) => Check::fail(
            ID,
            format!("cannot read the outbox: {e}"),
            "see the store check",
        )
        .zh("待上传队列无法读取", "请检查数据库"),
        OutboxFacts::Read {
            pending,
            needs_attention,
            oldest_pending,
            last_error,
        } => {
            let err = last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default();
            if *needs_attention > 0 {
                return Check::fail(
                    ID,
                    format!("{needs_attention} item(s) refused by the county need attention{err}"),
                    "kiosk outbox list --state needs_attention; fix the cause, then kiosk outbox retry ID",
                )
                .zh(format!("{needs_attention} 件申请被县级平台退回"), "请技术人员处理（kiosk outbox list）");
            }
            let age_h = oldest_pending.map(|t| (now - t).num_hours()).unwrap_or(0);
            let age_min = oldest_pending.map(|t| (now - t).num_minutes()).unwrap_or(0);
            let finding = format!("{pending} pending, oldest waiting {age_min} min{err}");
            let fix = "check the county link (county check) and that the kiosk app runs (systemctl status village-kiosk); kiosk outbox status";
            if *pending > 0 && age_h >= OUTBOX_FAIL_HOURS {
                Check::fail(ID, format!("stuck: {finding}"), fix).zh(
                    format!("{pending} 件申请超过 {age_h} 小时未上传"),
                    "请检查网络和程序运行状态",
                )
            } else if *pending > 0 && age_h >= OUTBOX_WARN_HOURS {
                Check::warn(ID, finding, fix).zh(format!("{pending} 件申请等待上传"), "请检查网络")
            } else {
                Check::ok(ID, finding).zh("待上传队列正常", "")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn report_takes_the_worst_status_orders_ids_and_serialises_the_contract() {
        let r = Report::new(vec![
            Check::warn("printer", "near end", "replace"),
            Check::ok("config", "fine"),
        ]);
        assert_eq!(r.verdict, Status::Warn);
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.checks[0].id, "config");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["verdict"], "warn");
        let mut keys: Vec<&String> = json["checks"][0].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["finding", "fix", "id", "status"]);
        let r = Report::new(vec![Check::fail("disk", "full", "free")]);
        assert_eq!((r.exit_code(), r.failing()), (1, vec!["disk"]));
    }

    #[test]
    fn disk_thresholds() {
        let gb = 1_000_000_000;
        assert_eq!(disk("/d", 50 * gb, 100 * gb).status, Status::Ok);
        assert_eq!(disk("/d", 9 * gb, 100 * gb).status, Status::Warn);
        assert_eq!(disk("/d", gb, 100 * gb).status, Status::Fail);
        // 5 % free but under 100 MB: fail.
        assert_eq!(disk("/d", 50_000_000, 1_000_000_000).status, Status::Fail);
    }

    #[test]
    fn clock_thresholds() {
        let c = |ms, sync| {
            clock(&ClockFacts {
                offset_ms: Ok(ms),
                synchronized: sync,
            })
            .status
        };
        assert_eq!(c(2_000, Some(true)), Status::Ok);
        assert_eq!(c(-61_000, Some(true)), Status::Warn);
        assert_eq!(c(600_000, Some(true)), Status::Fail);
        assert_eq!(c(-600_000, None), Status::Fail);
        assert_eq!(c(1_000, Some(false)), Status::Warn);
        let unknown = clock(&ClockFacts {
            offset_ms: Err("county down".into()),
            synchronized: None,
        });
        assert_eq!(unknown.status, Status::Warn);
    }

    #[test]
    fn certificate_expiry_and_station_id() {
        let now = t("2026-12-01T00:00:00Z");
        let cert = |cn: &str, nb: &str, na: &str| CertificateFacts::Parsed {
            path: "s.pem".into(),
            common_name: Some(cn.into()),
            not_before: t(nb),
            not_after: t(na),
        };
        let st = |f| certificate(&f, "ST-1", now).status;
        assert_eq!(
            st(cert("ST-1", "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z")),
            Status::Ok
        );
        assert_eq!(
            st(cert("ST-1", "2026-01-01T00:00:00Z", "2026-12-20T00:00:00Z")),
            Status::Warn
        );
        assert_eq!(
            st(cert("ST-1", "2026-01-01T00:00:00Z", "2026-11-30T00:00:00Z")),
            Status::Fail
        );
        assert_eq!(
            st(cert("ST-2", "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z")),
            Status::Fail
        );
        assert_eq!(
            st(cert("ST-1", "2026-12-02T00:00:00Z", "2027-06-01T00:00:00Z")),
            Status::Fail
        );
        assert_eq!(
            st(CertificateFacts::NotConfigured { needed: true }),
            Status::Fail
        );
        assert_eq!(
            st(CertificateFacts::NotConfigured { needed: false }),
            Status::Ok
        );
    }

    #[test]
    fn outbox_stuck_and_needs_attention() {
        let now = t("2026-12-01T12:00:00Z");
        let read = |pending, attention, oldest: Option<&str>| {
            outbox(
                &OutboxFacts::Read {
                    pending,
                    needs_attention: attention,
                    oldest_pending: oldest.map(t),
                    last_error: None,
                },
                now,
            )
            .status
        };
        assert_eq!(read(0, 0, None), Status::Ok);
        assert_eq!(read(2, 0, Some("2026-12-01T11:50:00Z")), Status::Ok);
        assert_eq!(read(2, 0, Some("2026-12-01T10:00:00Z")), Status::Warn);
        assert_eq!(read(2, 0, Some("2026-11-29T10:00:00Z")), Status::Fail);
        assert_eq!(read(0, 1, None), Status::Fail);
    }

    #[test]
    fn catalog_key_and_presence() {
        let now = t("2026-12-01T12:00:00Z");
        let installed = |key: &str, at: &str| CatalogFacts::Installed {
            county: "示范县".into(),
            version: 3,
            item_count: 46,
            imported_at: Some(t(at)),
            signer_key: key.into(),
        };
        let k = "ab".repeat(32);
        assert_eq!(
            catalog(&installed(&k, "2026-11-30T00:00:00Z"), Some(&k), false, now).status,
            Status::Ok
        );
        assert_eq!(
            catalog(&installed(&k, "2026-01-01T00:00:00Z"), Some(&k), false, now).status,
            Status::Warn
        );
        assert_eq!(
            catalog(
                &installed(&k, "2026-11-30T00:00:00Z"),
                Some(&"cd".repeat(32)),
                false,
                now
            )
            .status,
            Status::Fail
        );
        assert_eq!(
            catalog(&CatalogFacts::NotInstalled, Some(&k), false, now).status,
            Status::Fail
        );
        assert_eq!(
            catalog(&CatalogFacts::NotInstalled, Some(&k), true, now).status,
            Status::Warn
        );
    }

    #[test]
    fn printer_faults_and_noise_are_failures_with_their_own_fix() {
        use crate::printer::status::PaperState;
        let status = |state: PaperState| {
            let replies: Vec<(u8, u8)> = (1..=4).map(|n| (n, state.reply(n))).collect();
            PrinterFacts::Status {
                port: "/dev/p".into(),
                status: PrinterStatus::from_replies(&replies).unwrap(),
            }
        };
        let paper = printer(&status(PaperState::PaperEnd));
        assert_eq!(paper.status, Status::Fail);
        assert!(paper.fix.contains("paper roll"), "{paper:?}");
        let cover = printer(&status(PaperState::CoverOpen));
        assert!(cover.fix.contains("close the paper cover"), "{cover:?}");
        assert_eq!(printer(&status(PaperState::NearEnd)).status, Status::Warn);
        assert_eq!(printer(&status(PaperState::Ok)).status, Status::Ok);
        let noise = printer(&PrinterFacts::Error {
            port: "/dev/p".into(),
            error: PrintError::UnexpectedAnswer {
                port: "/dev/p".into(),
                n: 1,
                byte: 0xA5,
            },
        });
        assert_eq!(noise.status, Status::Fail);
        assert!(
            noise
                .finding
                .contains(crate::printer::status::UNEXPECTED_ANSWER)
        );
        assert!(!noise.fix.contains("paper"));
    }

    #[test]
    fn every_finding_has_chinese_and_failures_have_a_fix() {
        let now = t("2026-12-01T12:00:00Z");
        let checks = [
            config(&ConfigFacts::Unloadable("x".into())),
            store(&StoreFacts::Damaged {
                path: "p".into(),
                detail: "d".into(),
            }),
            disk("/d", 1, 100),
            reader(&ReaderFacts::NoAnswer {
                port: "/dev/r".into(),
                baud: 115_200,
            }),
            reader(&ReaderFacts::PortMissing {
                port: "/dev/r".into(),
            }),
            county(&CountyFacts::TlsTimeout {
                addr: "a".into(),
                secs: 3,
            }),
            county(&CountyFacts::Tls {
                addr: "a".into(),
                error: "e".into(),
                untrusted_server: true,
            }),
            outbox(&OutboxFacts::Unreadable("x".into()), now),
            Check::timed_out("reader", 6),
        ];
        for c in checks {
            assert_eq!(c.status, Status::Fail, "{c:?}");
            assert!(
                !c.fix.is_empty() && !c.fix_zh.is_empty() && !c.finding_zh.is_empty(),
                "{c:?}"
            );
            assert!(!c.finding_zh.is_ascii(), "{c:?}");
        }
    }
}
