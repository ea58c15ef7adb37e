//! 结果短信通知: when a case becomes `ready_for_collection` or `rejected`, a text message to the
//! phone the applicant gave, through the SMS gateway the county configures (`serve
//! --sms-gateway URL`; the request shape is in docs/county.md, "Result notices").
//!
//! A notice is queued in the database in the same transaction as the status change
//! ([`enqueue`], called from `Db::advance`), so it cannot be lost; the sender
//! ([`spawn_sender`]) delivers the queue with full-jitter backoff (`county::retry`) and one
//! idempotency key per message, which the gateway uses to send a message at most once however
//! often it is asked. A message names the item, the result and where to collect; it never holds
//! the ID number (masked if a staff note quoted it) nor the applicant's name, and a phone number
//! is masked in the database once its message is sent.
//!
//! The queue's SQL is portable (numbered placeholders, `ON CONFLICT`, no rowid).

use std::sync::Arc;
use std::time::Duration;

use super::sql::{Conn, OptionalExtension, params};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use super::db::{Db, DbError, DbPool};
use crate::county::retry::BackoffPolicy;
use crate::county::wire::{CaseStatus, GatewayMessage};
use crate::pii::{PiiKind, mask};

/// The notice queue (applied when the database opens).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sms_notices (
    idempotency_key TEXT PRIMARY KEY,
    case_number     TEXT NOT NULL,
    case_status     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    text            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (case_number, case_status)
);
CREATE INDEX IF NOT EXISTS sms_notices_due ON sms_notices (state, next_attempt_at);
";

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// Waiting for (another) attempt.
    Pending,
    /// The gateway took it.
    Sent,
    /// The gateway refused it for good (4xx: a bad number, bad credentials); kept, not retried.
    Refused,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Sent => "sent",
            NoticeState::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Result<NoticeState, DbError> {
        [
            NoticeState::Pending,
            NoticeState::Sent,
            NoticeState::Refused,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
        .ok_or_else(|| DbError::Worker(format!("sms_notices.state: unknown value {s:?}")))
    }
}

/// One queued message as staff see it (`county-backoffice notices`): the phone masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub idempotency_key: String,
    pub case_number: String,
    pub case_status: CaseStatus,
    pub phone_masked: String,
    pub text: String,
    pub state: NoticeState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The county's SMS gateway.
#[derive(Debug, Clone)]
pub struct SmsGatewayConfig {
    /// `POST` goes here. `https://`, or `http://` on a loopback address only.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// The message signature (短信签名) the gateway puts in front, e.g. 示范县政务服务.
    pub sign: String,
    pub backoff: BackoffPolicy,
    /// How often the queue is looked at when nothing wakes the sender (a status changed by
    /// `county-backoffice case advance` in another process).
    pub poll: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsConfigError {
    #[error("SMS gateway URL {0:?} is not a URL: give e.g. https://sms.example.gov.cn/send")]
    BadUrl(String),
    #[error("SMS gateway URL {0:?}: plain http is allowed only on a loopback address; use https")]
    PlainHttp(String),
}

impl SmsGatewayConfig {
    /// The gateway at `url`, default backoff (2 s doubling to 10 min) and a 5 s poll.
    pub fn new(url: &str, token: Option<String>, sign: &str) -> Result<Self, SmsConfigError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|_| SmsConfigError::BadUrl(url.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            "http" => {
                let host = parsed.host_str().unwrap_or("");
                let loopback = host == "localhost"
                    || host
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(SmsConfigError::PlainHttp(url.to_string()));
                }
            }
            _ => return Err(SmsConfigError::BadUrl(url.to_string())),
        }
        Ok(SmsGatewayConfig {
            url: url.to_string(),
            token,
            sign: sign.to_string(),
            backoff: BackoffPolicy {
                base: Duration::from_secs(2),
                max: Duration::from_secs(600),
            },
            poll: Duration::from_secs(5),
        })
    }
}

/// The message for a case that became `to`, or `None` for statuses that send none.
pub fn message_text(
    item_name: &str,
    case_number: &str,
    to: CaseStatus,
    note: Option<&str>,
) -> Option<String> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    match to {
        CaseStatus::ReadyForCollection => Some(format!(
            "您申请的“{item_name}”（办件编号{case_number}）已办结，请带身份证原件和受理回执到{}领取结果。",
            note.unwrap_or("受理的村便民服务站")
        )),
        CaseStatus::Rejected => Some(format!(
            "您申请的“{item_name}”（办件编号{case_number}）未通过{}。如有疑问请带身份证到受理的村便民服务站咨询，交来的材料也在那里领回。",
            note.map(|n| format!("，原因：{n}")).unwrap_or_default()
        )),
        _ => None,
    }
}

/// Queues the notice for `case_number` becoming `to`, inside the caller's transaction (the
/// status change's). Returns whether a message was queued: none for other statuses, for a case
/// without a phone number, or when this result was announced already.
pub fn enqueue(
    tx: &Conn,
    case_number: &str,
    to: CaseStatus,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if !matches!(to, CaseStatus::ReadyForCollection | CaseStatus::Rejected) {
        return Ok(false);
    }
    let row: Option<(String, String, Option<String>)> = tx
        .query_row(
            "SELECT item_name, id_number, phone FROM cases WHERE case_number = ?1",
            params![case_number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((item_name, id_number, phone)) = row else {
        return Ok(false);
    };
    let Some(phone) = phone
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
    else {
        tracing::info!(case = %case_number, "no phone number on the case: no result notice");
        return Ok(false);
    };
    let Some(mut text) = message_text(&item_name, case_number, to, note) else {
        return Ok(false);
    };
    if !id_number.is_empty() && text.contains(&id_number) {
        text = text.replace(&id_number, &mask(&id_number, PiiKind::IdNumber));
    }
    let key = uuid::Uuid::new_v4().to_string();
    let n = tx.execute(
        "INSERT INTO sms_notices (idempotency_key, case_number, case_status, phone, text, state,
             attempts, next_attempt_at, last_error, created_at, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, NULL, ?6, NULL)
         ON CONFLICT (case_number, case_status) DO NOTHING",
        params![key, case_number, to.as_str(), phone, text, ts(now)],
    )?;
    Ok(n == 1)
}

/// Every notice, oldest first (for staff and tests).
pub fn notices(db: &Db) -> Result<Vec<Notice>, DbError> {
    let mut stmt = db.conn().prepare(
        "SELECT idempotency_key, case_number, case_status, phone, text, state, attempts, last_error
         FROM sms_notices ORDER BY created_at, idempotency_key",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(
            |(key, case, status, phone, text, state, attempts, last_error)| {
                Ok(Notice {
                    idempotency_key: key,
                    case_number: case,
                    case_status: status.parse().map_err(DbError::Worker)?,
                    phone_masked: mask_phone(&phone),
                    text,
                    state: NoticeState::parse(&state)?,
                    attempts,
                    last_error,
                })
            },
        )
        .collect()
}

/// Notices due at `now`, oldest first: (key, phone, text).
fn due(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<(String, String, String)>, DbError> {
    let mut stmt = db.conn().prepare(
        "SELECT idempotency_key, phone, text FROM sms_notices
         WHERE state = 'pending' AND next_attempt_at <= ?1
         ORDER BY created_at, idempotency_key LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![ts(now), limit], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the next pending notice falls due.
fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, DbError> {
    let t: Option<String> = db.conn().query_row(
        "SELECT MIN(next_attempt_at) FROM sms_notices WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    Ok(t.and_then(|t| parse_ts(&t)))
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// Try again later (down, timeout, 5xx, 408, 429).
    Retry(String),
    /// Refused for good (other 4xx).
    Refused(String),
}

fn record(
    db: &Db,
    key: &str,
    outcome: &Outcome,
    next: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    match outcome {
        Outcome::Sent => {
            let phone: String = db.conn().query_row(
                "SELECT phone FROM sms_notices WHERE idempotency_key = ?1",
                params![key],
                |r| r.get(0),
            )?;
            db.conn().execute(
                "UPDATE sms_notices SET state = 'sent', attempts = attempts + 1, sent_at = ?2,
                     last_error = NULL, phone = ?3
                 WHERE idempotency_key = ?1",
                params![key, ts(now), mask_phone(&phone)],
            )?;
        }
        Outcome::Retry(e) => {
            db.conn().execute(
                "UPDATE sms_notices SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE idempotency_key = ?1",
                params![key, e, ts(next)],
            )?;
        }
        Outcome::Refused(e) => {
            db.conn().execute(
                "UPDATE sms_notices SET state = 'refused', attempts = attempts + 1, last_error = ?2
                 WHERE idempotency_key = ?1",
                params![key, e],
            )?;
        }
    }
    Ok(())
}

/// A handle on the sender: wake it after a status change, watch its attempts.
#[derive(Debug, Clone)]
pub struct SenderHandle {
    wake: Arc<Notify>,
    attempts: watch::Sender<u64>,
}

impl Default for SenderHandle {
    fn default() -> Self {
        SenderHandle {
            wake: Arc::new(Notify::new()),
            attempts: watch::channel(0).0,
        }
    }
}

impl SenderHandle {
    /// Look at the queue now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Attempts made so far (sent, failed or refused), for tests to wait on.
    pub fn attempts(&self) -> watch::Receiver<u64> {
        self.attempts.subscribe()
    }
}

/// Starts the sender on the current runtime: it delivers the queue to the gateway until `stop`
/// turns true, through the serve process's connections (`db`), on the blocking pool only.
pub fn spawn_sender(
    db: Arc<DbPool>,
    config: SmsGatewayConfig,
    handle: SenderHandle,
    mut stop: watch::Receiver<bool>,
) -> Result<(), DbError> {
    let wake = handle.wake.clone();
    let attempts_tx = handle.attempts.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| DbError::Worker(format!("SMS gateway client: {e}")))?;
    tokio::spawn(async move {
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            let now = Utc::now();
            let batch = with_db(&db, move |db| due(db, now, 20)).await;
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "SMS notices: cannot read the queue");
                    Vec::new()
                }
            };
            for (key, phone, text) in batch {
                let msg = GatewayMessage {
                    id: key.clone(),
                    to: phone,
                    sign: config.sign.clone(),
                    text,
                };
                let outcome = attempt(&client, &config, &msg).await;
                let now = Utc::now();
                let down = matches!(outcome, Outcome::Retry(_));
                failures = if down { failures.saturating_add(1) } else { 0 };
                let delay = config.backoff.delay(failures.max(1), rand::random::<f64>());
                let next = now + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                match &outcome {
                    Outcome::Sent => tracing::info!(notice = %key, "SMS notice sent"),
                    Outcome::Retry(e) => {
                        tracing::warn!(notice = %key, error = %e, retry_in_ms = delay.as_millis() as u64, "SMS gateway failed; notice kept for retry")
                    }
                    Outcome::Refused(e) => {
                        tracing::error!(notice = %key, error = %e, "SMS gateway refused the notice; kept as refused")
                    }
                }
                let k = key.clone();
                let o = outcome.clone();
                if let Err(e) = with_db(&db, move |db| record(db, &k, &o, next, now)).await {
                    tracing::error!(error = %e, notice = %key, "SMS notices: cannot record an attempt");
                }
                attempts_tx.send_modify(|n| *n += 1);
                if down {
                    // The gateway as a whole is failing: the rest wait for the backoff too.
                    let n2 = next;
                    let _ = with_db(&db, move |db| {
                        db.conn().execute(
                            "UPDATE sms_notices SET next_attempt_at = ?1
                             WHERE state = 'pending' AND next_attempt_at < ?1",
                            params![ts(n2)],
                        )?;
                        Ok(())
                    })
                    .await;
                    break;
                }
            }
            let next = with_db(&db, next_due).await.ok().flatten();
            let wait = next
                .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(config.poll)
                .min(config.poll);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
    });
    Ok(())
}

async fn attempt(
    client: &reqwest::Client,
    config: &SmsGatewayConfig,
    msg: &GatewayMessage,
) -> Outcome {
    let mut req = client
        .post(&config.url)
        .header(crate::county::wire::IDEMPOTENCY_KEY_HEADER, &msg.id)
        .json(msg);
    if let Some(t) = &config.token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200..=299 => Outcome::Sent,
                408 | 429 | 500..=599 => Outcome::Retry(format!("gateway answered HTTP {status}")),
                _ => {
                    let body: String = resp
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect();
                    Outcome::Refused(format!("gateway refused with HTTP {status}: {body}"))
                }
            }
        }
        Err(e) => Outcome::Retry(format!("gateway unreachable: {e}")),
    }
}

async fn with_db<T: Send + 'static>(
    db: &Arc<DbPool>,
    f: impl FnOnce(&Db) -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let guard = db.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    })
    .await
    .unwrap_or_else(|e| Err(DbError::Worker(e.to_string())))
}

/// 138****0000: the first three and last four digits.
pub fn mask_phone(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    chars[..3]
        .iter()
        .chain(std::iter::repeat_n(&'*', n - 7))
        .chain(chars[n - 4..].iter())
        .collect()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_item_result_and_place() {
        let ready = message_text(
            "高龄津贴申领",
            "XQ-20261128-000001",
            CaseStatus::ReadyForCollection,
            Some("城关镇便民服务中心3号窗口"),
        )
        .unwrap();
        assert!(ready.contains("高龄津贴申领") && ready.contains("已办结"));
        assert!(ready.contains("城关镇便民服务中心3号窗口"));
        let rejected = message_text(
            "高龄津贴申领",
            "XQ-1",
            CaseStatus::Rejected,
            Some("年龄不符"),
        )
        .unwrap();
        assert!(rejected.contains("未通过") && rejected.contains("年龄不符"));
        for s in [
            CaseStatus::Accepted,
            CaseStatus::InReview,
            CaseStatus::Approved,
            CaseStatus::Collected,
        ] {
            assert_eq!(message_text("x", "XQ-1", s, None), None);
        }
        assert_eq!(mask_phone("13800138000"), "138****8000");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(SmsGatewayConfig::new("http://127.0.0.1:9/send", None, "县").is_ok());
        assert!(SmsGatewayConfig::new("https://sms.example.gov.cn/send", None, "县").is_ok());
        assert!(matches!(
            SmsGatewayConfig::new("http://sms.example.gov.cn/send", None, "县"),
            Err(SmsConfigError::PlainHttp(_))
        ));
        assert!(matches!(
            SmsGatewayConfig::new("sms gateway", None, "县"),
            Err(SmsConfigError::BadUrl(_))
        ));
    }
}
