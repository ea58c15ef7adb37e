//! The kiosk–county API's serialised shapes (docs/county-api.yaml), shared by the kiosk's client
//! and the reference back office; also the back office's SMS gateway interface
//! (docs/sms-gateway-api.yaml), so every serialised shape lives here.
//!
//! **This is the only module that derives `Serialize` for the API.** Everything here is plain
//! data: no I/O, no clock. Field names are the JSON contract; renaming one is a protocol change
//! and must change docs/county-api.yaml in the same commit.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The API's path prefix.
pub const API_PREFIX: &str = "/v1";
/// Header carrying the kiosk-chosen idempotency key of a submission or evaluation.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Header naming the station in demo mode (with the bearer token); ignored under mutual TLS,
/// where the client certificate names the station.
pub const STATION_ID_HEADER: &str = "X-Station-Id";

/// 申请人: the applicant as the county needs them to open a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// 姓名
    pub name: String,
    /// 公民身份号码 (read from the card).
    pub id_number: String,
    /// 联系电话
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// 申请: one application as submitted to `POST /v1/applications`.
///
/// The body is fixed when the kiosk accepts the application and resent byte for byte on every
/// retry, so that the county can compare it under the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSubmission {
    /// The kiosk's local receipt number (回执号), e.g. `CG-20261128-0007`.
    pub receipt_number: String,
    /// 事项编码
    pub item_code: String,
    /// 事项名称
    pub item_name: String,
    pub applicant: Applicant,
    /// The form's fields, by field key.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// When the kiosk accepted it (the villager's time of application).
    pub accepted_at: DateTime<Utc>,
    /// The card key of the card read for this application (`client::CardEvidence`), so the
    /// county can later check lookups of this person's cases against it. Optional: absent in
    /// bodies stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_key: Option<String>,
    /// 帮办代办: who filed it for the applicant; absent when the applicant filed it themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// 同意保存联系电话: the applicant agreed on screen that the county keeps `applicant.phone`
    /// to offer it at their next application; false (absent) withdraws an earlier consent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_phone: bool,
}

/// 代办人: the village coordinator or relative who filed for the applicant, masked as on the
/// screen and the receipt (the county identifies the agent by the masked number and the
/// station; the applicant consented on screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// 姓名, masked (张*国).
    pub name_masked: String,
    /// 证件号码, masked (410329********0010).
    pub id_number_masked: String,
    /// 与申请人关系.
    pub relationship: AgentRelationship,
}

impl Agent {
    /// The agent from their card's name and number, masked here so the clear values never
    /// enter an application.
    pub fn masked(name: &str, id_number: &str, relationship: AgentRelationship) -> Agent {
        Agent {
            name_masked: crate::pii::mask(name, crate::pii::PiiKind::Name),
            id_number_masked: crate::pii::mask(id_number, crate::pii::PiiKind::IdNumber),
            relationship,
        }
    }
}

/// 代办人与申请人关系.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRelationship {
    /// 村帮办员 (the village coordinator in coordinator mode).
    Coordinator,
    /// 配偶
    Spouse,
    /// 子女
    Child,
    /// 父母
    Parent,
    /// 兄弟姐妹
    Sibling,
    /// 孙子女、外孙子女
    Grandchild,
    /// 监护人
    Guardian,
    /// 其他亲属
    OtherRelative,
}

impl AgentRelationship {
    pub const ALL: [AgentRelationship; 8] = [
        AgentRelationship::Coordinator,
        AgentRelationship::Spouse,
        AgentRelationship::Child,
        AgentRelationship::Parent,
        AgentRelationship::Sibling,
        AgentRelationship::Grandchild,
        AgentRelationship::Guardian,
        AgentRelationship::OtherRelative,
    ];

    /// As printed and shown: 村帮办员, 子女, …
    pub fn label_zh(self) -> &'static str {
        match self {
            AgentRelationship::Coordinator => "村帮办员",
            AgentRelationship::Spouse => "配偶",
            AgentRelationship::Child => "子女",
            AgentRelationship::Parent => "父母",
            AgentRelationship::Sibling => "兄弟姐妹",
            AgentRelationship::Grandchild => "孙子女",
            AgentRelationship::Guardian => "监护人",
            AgentRelationship::OtherRelative => "其他亲属",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            AgentRelationship::Coordinator => "village coordinator",
            AgentRelationship::Spouse => "spouse",
            AgentRelationship::Child => "son or daughter",
            AgentRelationship::Parent => "parent",
            AgentRelationship::Sibling => "brother or sister",
            AgentRelationship::Grandchild => "grandchild",
            AgentRelationship::Guardian => "guardian",
            AgentRelationship::OtherRelative => "other relative",
        }
    }
}

/// 办件状态: where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// 已接收: the county has the application.
    Received,
    /// 已受理
    Accepted,
    /// 审核中
    InReview,
    /// 已办结（准予）
    Approved,
    /// 不予受理/不予批准, with a reason.
    Rejected,
    /// 待领取: the result waits at a named window.
    ReadyForCollection,
    /// 已领取
    Collected,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        CaseStatus::Received,
        CaseStatus::Accepted,
        CaseStatus::InReview,
        CaseStatus::Approved,
        CaseStatus::Rejected,
        CaseStatus::ReadyForCollection,
        CaseStatus::Collected,
    ];

    /// The wire name (`in_review`).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Received => "received",
            CaseStatus::Accepted => "accepted",
            CaseStatus::InReview => "in_review",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
            CaseStatus::ReadyForCollection => "ready_for_collection",
            CaseStatus::Collected => "collected",
        }
    }

    /// The plain Chinese a villager reads.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseStatus::Received => "已接收",
            CaseStatus::Accepted => "已受理",
            CaseStatus::InReview => "审核中",
            CaseStatus::Approved => "已办结",
            CaseStatus::Rejected => "未通过",
            CaseStatus::ReadyForCollection => "待领取",
            CaseStatus::Collected => "已领取",
        }
    }

    /// A case in a final status is no longer polled.
    pub fn is_final(self) -> bool {
        matches!(self, CaseStatus::Rejected | CaseStatus::Collected)
    }

    /// Whether county staff may move a case from `self` to `to`.
    pub fn may_advance_to(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, to),
            (Received, Accepted)
                | (Received, Rejected)
                | (Accepted, InReview)
                | (Accepted, Rejected)
                | (InReview, Approved)
                | (InReview, Rejected)
                | (Approved, ReadyForCollection)
                | (Approved, Collected)
                | (ReadyForCollection, Collected)
        )
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CaseStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown case status {s:?}; expected one of: {}",
                    CaseStatus::ALL.map(|c| c.as_str()).join(", ")
                )
            })
    }
}

/// The county's answer to a submission: the same bytes for every replay of the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionReceipt {
    /// 办件编号 assigned by the county, e.g. `XQ-20261128-000042`.
    pub case_number: String,
    pub receipt_number: String,
    pub status: CaseStatus,
    pub received_at: DateTime<Utc>,
    /// 进度查询码: the unguessable token of the case's public progress page
    /// ([`progress_url`]); absent from back offices without a public listener and in answers
    /// stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_token: Option<String>,
}

/// The path of the public progress page under the county's public URL: `/p/<token>`.
pub const PROGRESS_PATH: &str = "/p/";

/// The address a receipt's QR code carries: `<public_url>/p/<token>` (one rule for the back
/// office that serves the page and the kiosk that prints it).
pub fn progress_url(public_url: &str, token: &str) -> String {
    format!("{}{PROGRESS_PATH}{token}", public_url.trim_end_matches('/'))
}

/// One step of a case's timeline (办理进度).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub status: CaseStatus,
    pub at: DateTime<Utc>,
    /// Staff note; for `rejected` the reason, for `ready_for_collection` the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The note's English form, when staff gave one (the English UI shows it; without it the
    /// Chinese `note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_en: Option<String>,
}

/// A case as a station may see it (`GET /v1/cases/{case_number}`). Carries no ID number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    pub case_number: String,
    pub receipt_number: String,
    pub station_id: String,
    pub item_code: String,
    pub item_name: String,
    /// The applicant's name, masked (张*国).
    pub applicant_name_masked: String,
    pub status: CaseStatus,
    /// Why it was rejected (when `status` is `rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// The reason in English, when staff gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason_en: Option<String>,
    /// 领取窗口: where to collect the result (when ready for collection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_window: Option<String>,
    /// The window in English, when staff gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_window_en: Option<String>,
    pub timeline: Vec<TimelineEntry>,
}

/// `POST /v1/persons/challenge`: a single-use challenge for one lookup by this station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonChallenge {
    /// 32 hex digits.
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/persons/cases`: the cases of the person whose card was just read, asked by a keyed
/// hash of the ID number rather than the number itself, with a fresh challenge and the key of
/// the card on the reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonCasesQuery {
    /// `hex(HMAC-SHA256(person_key_salt, id_number))`, salt from [`StationHello`].
    pub person_key: String,
    /// From [`PersonChallenge`], asked by this station, unused, unexpired.
    pub challenge: String,
    /// `client::card_key` of the card on the reader (64 hex digits).
    pub card_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonCases {
    pub cases: Vec<CaseView>,
    /// The phone of the person's last application, only when they consented to it being kept
    /// (`ApplicationSubmission::keep_phone`); the kiosk shows it masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_phone: Option<String>,
}

/// `GET /v1/station`: who the county thinks this station is, the county's clock, and the salt
/// for person keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationHello {
    pub station_id: String,
    pub server_time: DateTime<Utc>,
    /// Hex; the HMAC key of [`PersonCasesQuery::person_key`].
    pub person_key_salt: String,
    /// The county's ed25519 public key (hex) that signs catalogue and announcement bundles.
    pub bundle_public_key: String,
    /// The public base URL phones open (`county-backoffice serve --public-url`): receipts print
    /// [`progress_url`] under it. Absent when the county runs no public progress page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// 好差评: the five levels.
pub const EVALUATION_LEVELS: std::ops::RangeInclusive<u8> = 1..=5;

/// `POST /v1/evaluations` (with an idempotency key): a villager's rating of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub case_number: String,
    /// 1 非常不满意, 2 不满意, 3 基本满意, 4 满意, 5 非常满意.
    pub level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub evaluated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationReceipt {
    pub evaluation_id: i64,
    pub case_number: String,
}

/// A device's health in a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Default for DeviceHealth {
    fn default() -> Self {
        DeviceHealth {
            ok: true,
            detail: None,
        }
    }
}

/// 纸张状态 of the receipt printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperState {
    Ok,
    Low,
    Out,
    #[default]
    Unknown,
}

/// `POST /v1/heartbeats`: the station's health, for the county's station ledger (站点台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub software_version: String,
    pub reader: DeviceHealth,
    pub printer: DeviceHealth,
    pub paper: PaperState,
    /// Items waiting in the kiosk's outbox.
    pub queue_length: u32,
    /// The newest errors, newest first, at most ten.
    #[serde(default)]
    pub last_errors: Vec<String>,
    /// The kiosk's clock when it wrote the heartbeat.
    pub clock: DateTime<Utc>,
    /// What the station installed from the county and what it refused (catalogue sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncReport>,
    /// The kiosk's own verdict (`ok`, `warn`, `fail`), as `kiosk doctor` words it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Checks that are not ok, each `id: finding`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_checks: Vec<String>,
    /// Version of the installed catalogue (事项目录版本).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_version: Option<u64>,
    /// When the oldest unsent application was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// The county link as the kiosk saw it before this heartbeat got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county_link: Option<DeviceHealth>,
    /// The answer to a remote doctor request ([`HeartbeatAck::requests`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctor: Option<RemoteDoctorResult>,
    /// The answer to a remote screenshot request: the idle screen only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<RemoteScreenshot>,
    /// Where the station stands with software updates (软件更新), see `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateReport>,
}

/// A station's software-update state, as its heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpdateReport {
    /// The version running now.
    pub running_version: String,
    /// `idle`, `downloading`, `verified`, `installing`, `installed`, `on_trial`, `committed`,
    /// `rolled_back` or `failed`.
    pub state: String,
    /// The version the state is about (the offered, installed or failed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Bytes downloaded so far, and the update's total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloaded: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Why it failed or rolled back (English, for the technician).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// One check of a doctor run, as `kiosk doctor --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorCheck {
    pub id: String,
    /// `ok`, `warn` or `fail`.
    pub status: String,
    pub finding: String,
    pub fix: String,
}

/// 远程自检结果: a doctor run county staff asked for, sent with the next heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteDoctorResult {
    pub request_id: i64,
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_at: Option<DateTime<Utc>>,
    pub checks: Vec<DoctorCheck>,
}

/// 远程截图: the idle screen as PNG, taken for a request of county staff; never a villager's
/// visit (the kiosk takes it only while the idle screen is showing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteScreenshot {
    pub request_id: i64,
    pub taken_at: DateTime<Utc>,
    /// The PNG file, standard base64.
    pub png_base64: String,
}

/// What county staff can ask of one station through the heartbeat answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteRequestKind {
    /// Run `kiosk doctor` and send the result with the next heartbeat.
    Doctor,
    /// A screenshot of the idle screen (never of a villager's visit).
    Screenshot,
}

impl RemoteRequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteRequestKind::Doctor => "doctor",
            RemoteRequestKind::Screenshot => "screenshot",
        }
    }
}

/// 远程请求: one request in a heartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRequest {
    pub id: i64,
    pub kind: RemoteRequestKind,
}

/// 同步状态: the versions a station installed from the county and the bundles it refused, for
/// the station ledger. Carries nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncReport {
    /// The installed catalogue's county and version (none before the first import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_county: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_version: Option<u64>,
    /// The version of the announcements kept (0: an unversioned bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcements_version: Option<u64>,
    /// The version of the last key rotation applied (none: the configured keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_version: Option<u64>,
    /// The newest refusals, newest first, at most one per bundle kind.
    #[serde(default)]
    pub refusals: Vec<SyncRefusal>,
}

/// A bundle the station refused (downgrade, another county, replay, bad signature, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRefusal {
    /// `catalog`, `announcements` or `keyring`.
    pub kind: String,
    /// A stable machine word: `downgrade`, `other_county`, `replay`, `untrusted`, `invalid`.
    pub reason: String,
    /// The English sentence the technician reads.
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// The bundle kinds a [`SyncRefusal`] names (docs/county-api.yaml `SyncReport`).
pub const SYNC_REFUSAL_KINDS: [&str; 3] = ["catalog", "announcements", "keyring"];
/// The reasons a [`SyncRefusal`] gives (docs/county-api.yaml `SyncReport`).
pub const SYNC_REFUSAL_REASONS: [&str; 5] = [
    "downgrade",
    "other_county",
    "replay",
    "untrusted",
    "invalid",
];

/// The verdicts and check statuses of kiosk doctor (docs/county-api.yaml `Heartbeat`).
pub const HEALTH_WORDS: [&str; 3] = ["ok", "warn", "fail"];

impl Heartbeat {
    /// What is wrong with this heartbeat beyond its JSON shape, as the API document defines
    /// it: at most 10 `last_errors`, verdicts and statuses from [`HEALTH_WORDS`], sync refusals
    /// with the documented words.
    pub fn problem(&self) -> Option<String> {
        if self.last_errors.len() > 10 {
            return Some(format!(
                "last_errors holds at most 10 entries, not {}",
                self.last_errors.len()
            ));
        }
        let word = |field: &str, w: &str| {
            (!HEALTH_WORDS.contains(&w))
                .then(|| format!("{field}: {w:?} is not one of {HEALTH_WORDS:?}"))
        };
        if let Some(p) = self.verdict.as_deref().and_then(|v| word("verdict", v)) {
            return Some(p);
        }
        if let Some(d) = &self.doctor {
            if let Some(p) = word("doctor.verdict", &d.verdict) {
                return Some(p);
            }
            if let Some(p) = d
                .checks
                .iter()
                .find_map(|c| word("doctor.checks.status", &c.status))
            {
                return Some(p);
            }
        }
        self.sync
            .as_ref()
            .and_then(|s| s.refusals.iter().find_map(SyncRefusal::problem))
    }
}

impl SyncRefusal {
    /// What is wrong with this refusal as the API document defines it (kind and reason words).
    pub fn problem(&self) -> Option<String> {
        if !SYNC_REFUSAL_KINDS.contains(&self.kind.as_str()) {
            return Some(format!(
                "sync.refusals: kind {:?} is not one of {SYNC_REFUSAL_KINDS:?}",
                self.kind
            ));
        }
        if !SYNC_REFUSAL_REASONS.contains(&self.reason.as_str()) {
            return Some(format!(
                "sync.refusals: reason {:?} is not one of {SYNC_REFUSAL_REASONS:?}",
                self.reason
            ));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub server_time: DateTime<Utc>,
    /// Requests from county staff, answered in a later heartbeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RemoteRequest>,
}

/// Every error answer: a stable machine code and an English message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// e.g. `validation`, `idempotency_key_reused`, `in_progress`, `forbidden`, `not_found`.
    pub code: String,
    pub message: String,
}

/// `GET /v1/announcements` payload (inside a signed bundle): 通知公告 shown on the idle screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcements {
    /// Monotonic version chosen by the county; a kiosk refuses a bundle older than the one it
    /// keeps (a replay). 0 only in bundles made before versions existed.
    #[serde(default)]
    pub version: u64,
    /// When the county issued this set (签发时间).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    pub items: Vec<Announcement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub id: String,
    pub title: String,
    pub body: String,
    pub published_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The SMS gateway interface (docs/sms-gateway-api.yaml): the body the back office's notice
/// sender posts for one result notice (结果短信); the gateway also gets `id` as the
/// `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayMessage {
    /// The idempotency key: the same message always has the same id.
    pub id: String,
    /// The phone number as the applicant gave it.
    pub to: String,
    /// 短信签名.
    pub sign: String,
    pub text: String,
}

/// One line of the reference SMS gateway's output file (`county-backoffice sms-gateway --out`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    pub id: String,
    pub to: String,
    pub sign: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_is_additive_on_the_wire() {
        let json = r#"{"receipt_number":"CG-20261128-0001","item_code":"MZ-004","item_name":"高龄津贴申领",
            "applicant":{"name":"王小明","id_number":"340524194601010010"},"accepted_at":"2026-11-28T08:00:00Z"}"#;
        let old: ApplicationSubmission = serde_json::from_str(json).expect("an older body parses");
        assert_eq!(old.agent, None);
        assert!(!serde_json::to_string(&old).unwrap().contains("agent"));
        let mut filed = old.clone();
        filed.agent = Some(Agent::masked(
            "李建国",
            "340524197508200021",
            AgentRelationship::Coordinator,
        ));
        let text = serde_json::to_string(&filed).unwrap();
        assert!(
            text.contains(r#""agent":{"name_masked":"李*国","id_number_masked":"340524********0021","relationship":"coordinator"}"#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<ApplicationSubmission>(&text).unwrap(),
            filed
        );
        assert!(!text.contains("李建国") && !text.contains("197508200021"));
    }

    #[test]
    fn status_names_round_trip_through_json_and_from_str() {
        for s in CaseStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(s.as_str().parse::<CaseStatus>().unwrap(), s);
        }
        assert!("done".parse::<CaseStatus>().is_err());
    }

    #[test]
    fn only_forward_transitions_are_allowed() {
        assert!(CaseStatus::Received.may_advance_to(CaseStatus::Accepted));
        assert!(CaseStatus::InReview.may_advance_to(CaseStatus::Rejected));
        assert!(!CaseStatus::Collected.may_advance_to(CaseStatus::Received));
        assert!(!CaseStatus::Received.may_advance_to(CaseStatus::Collected));
    }

    #[test]
    fn submission_rejects_unknown_fields() {
        let bad = r#"{"receipt_number":"x","item_code":"a","item_name":"b","applicant":{"name":"n","id_number":"1"},"accepted_at":"2026-11-28T00:00:00Z","extra":1}"#;
        assert!(serde_json::from_str::<ApplicationSubmission>(bad).is_err());
    }
}
