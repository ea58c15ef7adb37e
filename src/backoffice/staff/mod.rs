//! County staff (县级部门工作人员) in the back office: routing of cases to departments (分类办理),
//! operator accounts and their logins, the audit log of status changes, due dates in working
//! days (承诺时限/法定时限), the supervisor's report (督办通报) and follow-ups of bad ratings
//! (差评整改).
//!
//! - [`operators`]: accounts with roles (department clerk, county supervisor), argon2 password
//!   hashes, lockout, sessions with their CSRF token.
//! - [`cases`]: routing (`case_routing`), due dates, the audit log (`case_audit`) and
//!   [`cases::change_status`], the one function every status change goes through.
//! - [`report`]: received / finished / overdue / satisfaction per department and per station,
//!   as HTML and CSV.
//! - [`followup`]: a follow-up task for every 不满意/非常不满意 rating, closed with a note.
//! - `pages`: the staff web pages under `/staff/...` on their own listener (`--staff-listen`),
//!   every page but the login behind one guard.
//! - `cli`: `county-backoffice operator ...` and `county-backoffice report ...`.
//!
//! "Now" comes from an injectable [`Clock`] (the outbox's trait): tests advance a
//! [`ManualClock`] to make a case overdue without sleeping.

use std::sync::Arc;

use super::sql::Conn;
use chrono::{DateTime, NaiveDate, Utc};

pub use crate::county::outbox::{Clock, ManualClock, SystemClock};
pub use crate::workdays::{CalendarError, HolidayCalendar};

pub mod cases;
pub(crate) mod cli;
pub mod followup;
pub mod operators;
pub(crate) mod pages;
pub mod report;

use super::DbError;

/// The county's time zone: due dates and report periods are days there.
pub const COUNTY_TIME_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Why a staff action failed. Messages are English for logs and the CLI; pages word their own
/// Chinese.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("unknown department {given:?}; known departments: {known}")]
    UnknownDepartment { given: String, known: String },
    #[error("no operator {0:?}")]
    NoOperator(String),
    #[error("operator {0:?} exists already")]
    OperatorExists(String),
    #[error("a department clerk needs --department; a supervisor has none")]
    DepartmentForRole,
    #[error("the password is too short: use at least {0} characters")]
    WeakPassword(usize),
    #[error("username {0:?}: use 2 to 32 letters, digits, '.', '-' or '_'")]
    BadUsername(String),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("wrong username or password")]
    BadLogin,
    #[error("operator {0:?} is disabled")]
    Disabled(String),
    #[error("operator {username:?} is locked after repeated failed logins until {until} (UTC)")]
    Locked {
        username: String,
        until: DateTime<Utc>,
    },
    #[error("operator {operator:?} may not act on cases of {department}")]
    Forbidden {
        operator: String,
        department: String,
    },
    #[error("no follow-up task {0}")]
    NoFollowUp(i64),
    #[error("follow-up task {0} is closed already")]
    FollowUpClosed(i64),
    #[error("closing a follow-up task needs a note saying what was done")]
    NoteRequired,
    #[error("report period: {0}")]
    Period(String),
    #[error("writing the report: {0}")]
    Csv(String),
    #[error("a stored {what} {value:?} is not valid")]
    Corrupt { what: &'static str, value: String },
}

impl From<crate::backoffice::sql::Error> for StaffError {
    fn from(e: crate::backoffice::sql::Error) -> Self {
        StaffError::Db(DbError::Sql(e))
    }
}

/// The staff tables; applied when the database opens ([`super::Db::open`]). Portable SQL.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS staff_operators (
    username       TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('clerk', 'supervisor')),
    department     TEXT,
    password_hash  TEXT NOT NULL,
    disabled       BIGINT NOT NULL DEFAULT 0,
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   TEXT,
    created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS staff_sessions (
    token_sha256 TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES staff_operators (username),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_routing (
    case_number   TEXT PRIMARY KEY REFERENCES cases (case_number),
    department    TEXT NOT NULL,
    promised_days BIGINT NOT NULL,
    legal_days    BIGINT NOT NULL,
    routed_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_routing_department ON case_routing (department);
CREATE TABLE IF NOT EXISTS case_audit (
    case_number TEXT NOT NULL REFERENCES cases (case_number),
    seq         BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note        TEXT,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (case_number, seq)
);
CREATE TABLE IF NOT EXISTS follow_ups (
    evaluation_id BIGINT PRIMARY KEY,
    case_number   TEXT NOT NULL,
    level         BIGINT NOT NULL,
    comment       TEXT,
    opened_at     TEXT NOT NULL,
    closed_at     TEXT,
    closed_by     TEXT,
    note          TEXT
);
";

/// Creates the staff tables (called by [`super::Db::open`]).
pub(crate) fn ensure_schema(conn: &Conn) -> crate::backoffice::sql::Result<()> {
    conn.execute_batch(SCHEMA)
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, StaffError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StaffError::Corrupt {
            what: "timestamp",
            value: s.to_string(),
        })
}

/// The county day of an instant.
pub fn county_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&COUNTY_TIME_ZONE).date_naive()
}

/// Where a catalogue item's cases go and how long they may take (from the catalogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRoute {
    /// 主管部门
    pub department: String,
    /// 承诺办结时限, working days.
    pub promised_days: u32,
    /// 法定办结时限, working days.
    pub legal_days: u32,
}

/// Item code → route, for every item of a catalogue.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    items: std::collections::HashMap<String, ItemRoute>,
}

impl Routes {
    pub fn from_catalog(catalog: &crate::catalog::Catalog) -> Self {
        Routes {
            items: catalog
                .items
                .iter()
                .map(|i| {
                    (
                        i.code.clone(),
                        ItemRoute {
                            department: i.department.clone(),
                            promised_days: i.promised_time_limit_days,
                            legal_days: i.legal_time_limit_days,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn get(&self, item_code: &str) -> Option<&ItemRoute> {
        self.items.get(item_code)
    }

    /// The catalogue's departments, sorted.
    pub fn departments(&self) -> Vec<String> {
        let mut d: Vec<String> = self.items.values().map(|r| r.department.clone()).collect();
        d.sort();
        d.dedup();
        d
    }
}

/// How the staff side runs (beside [`super::ServeConfig`]).
#[derive(Debug, Clone)]
pub struct StaffOptions {
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// The county's holidays and working weekends.
    pub holidays: Arc<HolidayCalendar>,
    /// The staff listener's certificate and key (plain HTTPS, no client certificates). `None`:
    /// plain HTTP, for loopback behind a TLS proxy or a demo; cookies then lack `Secure`.
    pub tls: Option<StaffTls>,
}

impl StaffOptions {
    /// The wall clock, weekends only, plain HTTP.
    pub fn plain(clock: Arc<dyn Clock>, holidays: HolidayCalendar) -> Self {
        StaffOptions {
            clock,
            holidays: Arc::new(holidays),
            tls: None,
        }
    }
}

impl Default for StaffOptions {
    fn default() -> Self {
        StaffOptions::plain(Arc::new(SystemClock), HolidayCalendar::weekends_only())
    }
}

/// The staff listener's certificate chain and key (PEM).
#[derive(Debug, Clone)]
pub struct StaffTls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The staff listener's rustls configuration: server certificate only.
pub(crate) fn staff_tls_config(
    files: &StaffTls,
) -> Result<rustls::ServerConfig, crate::county::tls::TlsError> {
    use crate::county::tls;
    let chain = tls::load_certs(&files.cert)?;
    let key = tls::load_key(&files.key)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls::TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls::TlsError::Config(format!("staff certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
