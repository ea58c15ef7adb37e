//! The store-and-forward outbox (待发队列): every application, evaluation and heartbeat is
//! written to SQLite before anyone is told it was accepted, and a tokio worker forwards it to the
//! county exactly once (idempotency keys make resending safe), polls open cases for status, and
//! purges the personal part of a confirmed application after `outbox.retention_days`.
//!
//! The retry rules live in [`super::retry`] (sans-IO); this module is their thin driver. It must
//! never drop an undelivered row, never rewrite a body after it was accepted (the county compares
//! bodies under a key), and never log personal data except through [`crate::pii::Masked`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tokio::sync::{Notify, watch};

use super::client::CountyClient;
use super::retry::{AttemptOutcome, BackoffPolicy, ItemDecision, LinkState, poll_due};
use super::wire;
use crate::config::OutboxConfig;
use crate::pii::{Masked, PiiKind, mask};
use crate::store::{Store, StoreError};

/// An application as the form produced it (申请), before the kiosk accepts it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApplication {
    /// 事项编码
    pub item_code: String,
    /// 事项名称
    pub item_name: String,
    /// 申请人姓名 (from the card)
    pub applicant_name: String,
    /// 公民身份号码 (from the card)
    pub id_number: String,
    pub phone: Option<String>,
    /// The form's fields by key.
    pub fields: BTreeMap<String, String>,
}

impl fmt::Debug for NewApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApplication")
            .field("item_code", &self.item_code)
            .field("applicant_name", &Masked::name(&self.applicant_name))
            .field("id_number", &Masked::id_number(&self.id_number))
            .field("fields", &self.fields.len())
            .finish()
    }
}

/// What the screen may tell the villager once `accept` returned: the application is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// 回执号, printed on the receipt, e.g. `CG-20261128-0007`.
    pub receipt_number: String,
    /// The idempotency key the county will see on every attempt.
    pub idempotency_key: String,
    /// The outbox row.
    pub outbox_id: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the application is incomplete: {0}")]
    Invalid(String),
    #[error("no outbox entry {0}")]
    NotFound(String),
    #[error("outbox entry {id} is {state}; only entries needing attention can be retried")]
    NotRetryable { id: i64, state: OutboxState },
    #[error("outbox store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("outbox encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the person-tag salt {}: {detail}; restore it from the kiosk's backup or move it aside (cases looked up by card will start afresh)", path.display())]
    Salt { path: PathBuf, detail: String },
}

/// The prefix of local receipt numbers (村级受理回执).
pub const RECEIPT_PREFIX: &str = "CG";

/// The file beside the store that holds the local person-tag salt (see [`person_salt_path`]).
pub const PERSON_TAG_SALT_EXTENSION: &str = "person-tag-salt";

/// Where a rating went (see [`Outbox::evaluate_receipt`]); `key` is its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedEvaluation {
    /// In the outbox: the case exists.
    Queued { key: String },
    /// Waiting for the county to confirm the application; sent after it.
    WaitingForCase { key: String },
}

/// What an outbox row carries (the `outbox.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// 申请: goes to `POST /v1/applications`.
    Application,
    /// 好差评: goes to `POST /v1/evaluations`.
    Evaluation,
    /// 心跳: goes to `POST /v1/heartbeats`; only the newest matters.
    Heartbeat,
}

/// Where an outbox row is (the `outbox.state` column; a local case's delivery state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// 待发送: waiting for the county.
    Pending,
    /// 已送达: the county confirmed it.
    Delivered,
    /// 需处理: the county refused it; kept for a technician, never retried by itself.
    NeedsAttention,
}

/// A value in the store that no variant has: a damaged or foreign file, never guessed at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbox column `{column}` holds {value:?}, which this kiosk does not know")]
pub struct UnknownValue {
    pub column: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($ty:ident, $column:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// Every value, in the order of the schema's CHECK constraint.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The text stored in SQLite and shown to technicians.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    other => Err(UnknownValue { column: $column, value: other.to_string() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = v.as_str()?;
                text.parse()
                    .map_err(|e: UnknownValue| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

text_enum!(OutboxKind, "kind",
    Application => "application",
    Evaluation => "evaluation",
    Heartbeat => "heartbeat",
);
text_enum!(OutboxState, "state",
    Pending => "pending",
    Delivered => "delivered",
    NeedsAttention => "needs_attention",
);

/// A local case: what lookup needs, kept after the personal record is purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCase {
    pub receipt_number: String,
    pub outbox_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub applicant_name_masked: String,
    /// 办件编号, once the county has confirmed.
    pub case_number: Option<String>,
    pub status: Option<wire::CaseStatus>,
    /// Rejection reason or collection window.
    pub status_note: Option<String>,
    /// Delivery state of the outbox row.
    pub delivery: OutboxState,
    pub last_error: Option<String>,
    pub accepted_at: DateTime<Utc>,
}

/// One outbox row as technicians see it (`kiosk outbox list`). Carries no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: OutboxKind,
    pub state: OutboxState,
    pub attempts: i64,
    pub receipt_number: Option<String>,
    pub case_number: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// Counts for `kiosk outbox status` and heartbeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: u32,
    pub needs_attention: u32,
    pub delivered: u32,
    pub oldest_pending_at: Option<String>,
    pub last_error: Option<String>,
    pub open_cases: u32,
}

/// An item the worker must send.
#[derive(Debug, Clone)]
pub struct DueItem {
    pub id: i64,
    pub kind: OutboxKind,
    pub idempotency_key: String,
    pub body: String,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The time zone receipt numbers are dated in unless the config names another
/// (`station.time_zone`).
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// What travels with an application besides its answers.
#[derive(Debug, Clone, Default)]
pub struct Filing {
    /// The card key (`client::card_key`, 64 hex digits) of the card read for it: the county
    /// enrols the card for the card-proof lookup (docs/county.md).
    pub card_key: Option<String>,
    /// 帮办代办: the helper who filed it, masked, with their relationship.
    pub agent: Option<wire::Agent>,
    /// 同意保存联系电话: the applicant agreed on screen that the county keeps the phone.
    pub keep_phone: bool,
}

/// The outbox's operations on the store. Each is one SQLite transaction.
pub struct Outbox;

impl Outbox {
    /// [`Outbox::accept_filed`] with nothing beside the answers, dated in [`DEFAULT_TIME_ZONE`].
    pub fn accept(
        store: &mut Store,
        app: NewApplication,
        now: DateTime<Utc>,
    ) -> Result<Accepted, OutboxError> {
        Outbox::accept_filed(store, app, Filing::default(), now, DEFAULT_TIME_ZONE)
    }

    /// Accepts an application: writes its exact submission body and idempotency key, and the
    /// local case for lookup, in one transaction. Only after this returns may the screen say
    /// 已受理 and print the receipt. The receipt number carries the day of `now` in the
    /// station's time zone `tz` (an application at 07:30 Beijing time is dated today, not by
    /// the UTC day). `filing`: what travels with the answers (card key, helper, consent).
    pub fn accept_filed(
        store: &mut Store,
        app: NewApplication,
        filing: Filing,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<Accepted, OutboxError> {
        let Filing {
            card_key,
            agent,
            keep_phone,
        } = filing;
        let card_key = card_key.map(|k| k.trim().to_ascii_lowercase());
        if let Some(k) = &card_key
            && !(k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(OutboxError::Invalid(
                "the card key is not 64 hex digits (SHA-256)".into(),
            ));
        }
        let item_code = app.item_code.trim().to_string();
        let name = app.applicant_name.trim().to_string();
        let id_number = app.id_number.trim().to_ascii_uppercase();
        if item_code.is_empty() {
            return Err(OutboxError::Invalid(
                "the service item code is empty".into(),
            ));
        }
        if name.is_empty() {
            return Err(OutboxError::Invalid("the applicant's name is empty".into()));
        }
        if let Err(e) = crate::idcard::card::check_id_number(&id_number) {
            return Err(OutboxError::Invalid(format!(
                "the ID number {} is not valid: {e}",
                Masked::id_number(&id_number)
            )));
        }
        let key = uuid::Uuid::new_v4().to_string();
        let salt = person_salt(store)?;
        let tx = store.conn_mut().transaction()?;
        let day = now.with_timezone(&tz).format("%Y%m%d").to_string();
        let seq: i64 = tx.query_row(
            "INSERT INTO receipt_counters (day, last) VALUES (?1, 1)
             ON CONFLICT (day) DO UPDATE SET last = last + 1 RETURNING last",
            params![day],
            |r| r.get(0),
        )?;
        let receipt_number = format!("{RECEIPT_PREFIX}-{day}-{seq:04}");
        let body = wire::ApplicationSubmission {
            receipt_number: receipt_number.clone(),
            item_code: item_code.clone(),
            item_name: app.item_name.trim().to_string(),
            applicant: wire::Applicant {
                name: name.clone(),
                id_number: id_number.clone(),
                phone: app
                    .phone
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
            },
            fields: app.fields,
            accepted_at: now,
            card_key,
            agent,
            keep_phone,
        };
        let body_json = serde_json::to_string(&body)?;
        tx.execute(
            "INSERT INTO outbox (kind, idempotency_key, body, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![OutboxKind::Application, key, body_json, ts(now)],
        )?;
        let outbox_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO local_cases (receipt_number, outbox_id, item_code, item_name,
                 applicant_name_masked, person_tag, accepted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                receipt_number,
                outbox_id,
                item_code,
                body.item_name,
                mask(&name, PiiKind::Name),
                super::person_key(&salt, &id_number),
                ts(now)
            ],
        )?;
        tx.commit()?;
        tracing::info!(receipt = %receipt_number, item = %item_code, applicant = %Masked::name(&name), "application accepted into the outbox");
        Ok(Accepted {
            receipt_number,
            idempotency_key: key,
            outbox_id,
        })
    }

    /// Queues an evaluation (好差评) of a case: level 1 to 5, optional comment.
    pub fn evaluate(
        store: &mut Store,
        case_number: &str,
        level: u8,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<String, OutboxError> {
        if !wire::EVALUATION_LEVELS.contains(&level) {
            return Err(OutboxError::Invalid(format!(
                "an evaluation level is 1 to 5, not {level}"
            )));
        }
        if case_number.trim().is_empty() {
            return Err(OutboxError::Invalid("the case number is empty".into()));
        }
        let body = serde_json::to_string(&wire::Evaluation {
            case_number: case_number.trim().to_string(),
            level,
            comment: comment
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty()),
            evaluated_at: now,
        })?;
        let key = uuid::Uuid::new_v4().to_string();
        store.conn().execute(
            "INSERT INTO outbox (kind, idempotency_key, body, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![OutboxKind::Evaluation, key, body, ts(now)],
        )?;
        Ok(key)
    }

    /// Queues the rating (好差评) of the application with receipt `receipt_number`: at once as
    /// an evaluation of its case when the county has confirmed it, otherwise it waits (in
    /// `waiting_evaluations`) until [`Outbox::record`] records the application's delivery, and
    /// then goes with the case number the county gave, after the application, once. One rating
    /// per receipt while it waits: a second is refused. Returns when it is queued.
    pub fn evaluate_receipt(
        store: &mut Store,
        receipt_number: &str,
        level: u8,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<QueuedEvaluation, OutboxError> {
        if !wire::EVALUATION_LEVELS.contains(&level) {
            return Err(OutboxError::Invalid(format!(
                "an evaluation level is 1 to 5, not {level}"
            )));
        }
        let case = Outbox::receipt(store, receipt_number)?.ok_or_else(|| {
            OutboxError::Invalid(format!("no application with receipt {receipt_number} here"))
        })?;
        if let Some(case_number) = case.case_number {
            let key = Outbox::evaluate(store, &case_number, level, comment, now)?;
            return Ok(QueuedEvaluation::Queued { key });
        }
        let key = uuid::Uuid::new_v4().to_string();
        let comment = comment
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let inserted = store.conn().execute(
            "INSERT INTO waiting_evaluations
                 (receipt_number, idempotency_key, level, comment, evaluated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (receipt_number) DO NOTHING",
            params![case.receipt_number, key, level, comment, ts(now)],
        )?;
        if inserted == 0 {
            return Err(OutboxError::Invalid(format!(
                "receipt {receipt_number} already has a rating waiting for its case"
            )));
        }
        tracing::info!(receipt = %receipt_number, "rating waits until the county confirms the application");
        Ok(QueuedEvaluation::WaitingForCase { key })
    }

    /// Ratings waiting for their application's case number (see [`Outbox::evaluate_receipt`]).
    pub fn waiting_evaluations(store: &Store) -> Result<u64, OutboxError> {
        let n: i64 =
            store
                .conn()
                .query_row("SELECT COUNT(*) FROM waiting_evaluations", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Queues a heartbeat; an older undelivered heartbeat is replaced (only the newest matters).
    pub fn enqueue_heartbeat(
        store: &mut Store,
        heartbeat: &wire::Heartbeat,
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        let body = serde_json::to_string(heartbeat)?;
        let tx = store.conn_mut().transaction()?;
        tx.execute(
            "DELETE FROM outbox WHERE kind = ?1 AND state = ?2",
            params![OutboxKind::Heartbeat, OutboxState::Pending],
        )?;
        tx.execute(
            "INSERT INTO outbox (kind, idempotency_key, body, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                OutboxKind::Heartbeat,
                uuid::Uuid::new_v4().to_string(),
                body,
                ts(now)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The progress-page token (进度查询码) the county issued with the case of `receipt_number`,
    /// read from its kept answer; `None` until delivered, or from a county that issues none.
    pub fn progress_token(
        store: &Store,
        receipt_number: &str,
    ) -> Result<Option<String>, OutboxError> {
        let response: Option<Option<String>> = store
            .conn()
            .query_row(
                "SELECT o.response FROM local_cases c JOIN outbox o ON o.id = c.outbox_id
                 WHERE c.receipt_number = ?1",
                params![receipt_number],
                |r| r.get(0),
            )
            .optional()?;
        Ok(response
            .flatten()
            .and_then(|r| serde_json::from_str::<wire::SubmissionReceipt>(&r).ok())
            .and_then(|r| r.progress_token))
    }

    /// A receipt's local case: its case number once the county has confirmed, its status.
    pub fn receipt(store: &Store, receipt_number: &str) -> Result<Option<LocalCase>, OutboxError> {
        Ok(store
            .conn()
            .query_row(
                &format!("{LOCAL_CASE_SELECT} WHERE c.receipt_number = ?1"),
                params![receipt_number],
                local_case_row,
            )
            .optional()?)
    }

    /// The cases applied for at this kiosk by the person with this ID number, newest first
    /// (including those still waiting in the outbox or needing attention).
    pub fn cases_for_person(store: &Store, id_number: &str) -> Result<Vec<LocalCase>, OutboxError> {
        let salt = person_salt(store)?;
        let tag = super::person_key(&salt, id_number);
        let mut stmt = store.conn().prepare(&format!(
            "{LOCAL_CASE_SELECT} WHERE c.person_tag = ?1 ORDER BY c.accepted_at DESC, c.outbox_id DESC"
        ))?;
        let rows = stmt.query_map(params![tag], local_case_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts by state.
    pub fn stats(store: &Store) -> Result<OutboxStats, OutboxError> {
        let c = store.conn();
        let count = |state: OutboxState| -> Result<u32, rusqlite::Error> {
            c.query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = ?1",
                params![state],
                |r| r.get(0),
            )
        };
        Ok(OutboxStats {
            pending: count(OutboxState::Pending)?,
            needs_attention: count(OutboxState::NeedsAttention)?,
            delivered: count(OutboxState::Delivered)?,
            oldest_pending_at: c
                .query_row(
                    "SELECT MIN(created_at) FROM outbox WHERE state = 'pending'",
                    [],
                    |r| r.get(0),
                )
                .optional()?
                .flatten(),
            last_error: c
                .query_row(
                    "SELECT last_error FROM outbox WHERE last_error IS NOT NULL AND state != 'delivered'
                     ORDER BY last_attempt_at DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
            open_cases: c.query_row(
                "SELECT COUNT(*) FROM local_cases WHERE case_number IS NOT NULL
                   AND (status IS NULL OR status NOT IN ('rejected', 'collected'))",
                [],
                |r| r.get(0),
            )?,
        })
    }

    /// Outbox rows, newest first; `state` filters when given.
    pub fn list(
        store: &Store,
        state: Option<OutboxState>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut stmt = store.conn().prepare(
            "SELECT o.id, o.kind, o.state, o.attempts, c.receipt_number, c.case_number,
                    o.last_error, o.created_at, o.delivered_at
             FROM outbox o LEFT JOIN local_cases c ON c.outbox_id = o.id
             WHERE (?1 IS NULL OR o.state = ?1)
             ORDER BY o.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![state, limit], |r| {
            Ok(OutboxEntry {
                id: r.get(0)?,
                kind: r.get(1)?,
                state: r.get(2)?,
                attempts: r.get(3)?,
                receipt_number: r.get(4)?,
                case_number: r.get(5)?,
                last_error: r.get(6)?,
                created_at: r.get(7)?,
                delivered_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts an entry that needs attention back in the queue (after a technician fixed the cause,
    /// e.g. the county added the item). The body is unchanged: same key, same bytes.
    pub fn retry(store: &mut Store, id: i64) -> Result<(), OutboxError> {
        let state: Option<OutboxState> = store
            .conn()
            .query_row("SELECT state FROM outbox WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        match state {
            None => Err(OutboxError::NotFound(id.to_string())),
            Some(OutboxState::NeedsAttention) => {
                store.conn().execute(
                    "UPDATE outbox SET state = ?2, attempts = 0 WHERE id = ?1",
                    params![id, OutboxState::Pending],
                )?;
                Ok(())
            }
            Some(state @ (OutboxState::Pending | OutboxState::Delivered)) => {
                Err(OutboxError::NotRetryable { id, state })
            }
        }
    }

    /// The oldest pending items, at most `limit`.
    pub fn due(store: &Store, limit: usize) -> Result<Vec<DueItem>, OutboxError> {
        let mut stmt = store.conn().prepare_cached(
            "SELECT id, kind, idempotency_key, body FROM outbox
             WHERE state = 'pending' AND body IS NOT NULL ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(DueItem {
                id: r.get(0)?,
                kind: r.get(1)?,
                idempotency_key: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the decisions about attempted items, in one transaction with a savepoint per
    /// item: an item whose update the store refuses (a constraint, a damaged answer) is rolled
    /// back alone and marked as needing attention, and the rest of the batch is kept, so one bad
    /// row cannot stall the queue. `response` is the county's answer body for delivered items.
    ///
    /// A delivered application or evaluation loses its body (name, ID number, phone, form,
    /// comment) in the same transaction: only the masked local case stays. A refused heartbeat
    /// replaces the previously refused one, so refusals do not pile up. When anything personal
    /// was purged the WAL is checkpointed, so (with `secure_delete`) the bytes leave the disk.
    pub fn record(
        store: &mut Store,
        results: &[(i64, ItemDecision, Option<String>)],
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        let mut purged = 0usize;
        let mut tx = store.conn_mut().transaction()?;
        for (id, decision, response) in results {
            let mut sp = tx.savepoint()?;
            match record_one(&sp, *id, decision, response.as_deref(), now) {
                Ok(p) => {
                    sp.commit()?;
                    purged += usize::from(p);
                }
                Err(e) => {
                    sp.rollback()?;
                    drop(sp);
                    tracing::error!(outbox_id = id, error = %e, "cannot record the outcome of an outbox item; it needs attention");
                    tx.execute(
                        "UPDATE outbox SET state = ?2, attempts = attempts + 1,
                             last_attempt_at = ?3, last_error = ?4
                         WHERE id = ?1",
                        params![
                            id,
                            OutboxState::NeedsAttention,
                            ts(now),
                            format!("the kiosk could not record the county's answer: {e}")
                        ],
                    )?;
                }
            }
        }
        tx.commit()?;
        if purged > 0 {
            checkpoint(store);
        }
        Ok(())
    }

    /// Open cases (confirmed, not final) whose status is due for a poll.
    pub fn cases_due_for_poll(
        store: &Store,
        now: DateTime<Utc>,
        interval: Duration,
        limit: usize,
    ) -> Result<Vec<String>, OutboxError> {
        let mut stmt = store.conn().prepare_cached(
            "SELECT case_number, status_checked_at FROM local_cases
             WHERE case_number IS NOT NULL AND (status IS NULL OR status NOT IN ('rejected', 'collected'))
             ORDER BY status_checked_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut due = Vec::new();
        for row in rows {
            let (case, checked) = row?;
            if poll_due(checked.as_deref().and_then(parse_ts), now, interval) {
                due.push(case);
                if due.len() >= limit {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Records a case's status as the county reported it.
    pub fn record_case(
        store: &mut Store,
        case: &wire::CaseView,
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        let note = case
            .rejection_reason
            .clone()
            .or_else(|| case.collection_window.clone());
        store.conn().execute(
            "UPDATE local_cases SET status = ?2, status_note = ?3, status_checked_at = ?4
             WHERE case_number = ?1",
            params![case.case_number, case.status.as_str(), note, ts(now)],
        )?;
        Ok(())
    }

    /// Marks a case as checked without news (e.g. the poll failed), so polling moves on.
    pub fn touch_case(
        store: &mut Store,
        case_number: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        store.conn().execute(
            "UPDATE local_cases SET status_checked_at = ?2 WHERE case_number = ?1",
            params![case_number, ts(now)],
        )?;
        Ok(())
    }

    /// Housekeeping after `retention_days`: delivered heartbeats are deleted, and a body that
    /// is still there although the county confirmed it (a store written by an older kiosk that
    /// kept bodies for the retention) is purged. Bodies of deliveries recorded by
    /// [`Outbox::record`] are already gone. Returns how many bodies were purged.
    pub fn purge_expired(
        store: &mut Store,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<usize, OutboxError> {
        let cutoff = ts(now - chrono::Duration::days(i64::from(retention_days)));
        let tx = store.conn_mut().transaction()?;
        let n = tx.execute(
            "UPDATE outbox SET body = NULL, purged_at = ?1
             WHERE state = ?2 AND body IS NOT NULL AND kind != ?3",
            params![ts(now), OutboxState::Delivered, OutboxKind::Heartbeat],
        )?;
        tx.execute(
            "DELETE FROM outbox WHERE kind = ?2 AND state = ?3 AND delivered_at <= ?1",
            params![cutoff, OutboxKind::Heartbeat, OutboxState::Delivered],
        )?;
        tx.commit()?;
        if n > 0 {
            tracing::info!(
                purged = n,
                "purged personal records of confirmed applications"
            );
            checkpoint(store);
        }
        Ok(n)
    }

    /// The stored body of an outbox row (`None` once purged).
    pub fn body(store: &Store, id: i64) -> Result<Option<String>, OutboxError> {
        store
            .conn()
            .query_row("SELECT body FROM outbox WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| OutboxError::NotFound(id.to_string()))
    }
}

/// One item's decision, inside the caller's savepoint. Returns whether a personal body was
/// purged.
fn record_one(
    tx: &rusqlite::Connection,
    id: i64,
    decision: &ItemDecision,
    response: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, OutboxError> {
    let kind: OutboxKind =
        tx.query_row("SELECT kind FROM outbox WHERE id = ?1", params![id], |r| {
            r.get(0)
        })?;
    match decision {
        ItemDecision::Delivered => {
            tx.execute(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1,
                     last_attempt_at = ?3, delivered_at = ?3, response = ?4, last_error = NULL
                 WHERE id = ?1",
                params![id, OutboxState::Delivered, ts(now), response],
            )?;
            if kind == OutboxKind::Application
                && let Some(receipt) =
                    response.and_then(|r| serde_json::from_str::<wire::SubmissionReceipt>(r).ok())
            {
                tx.execute(
                    "UPDATE local_cases SET case_number = ?2,
                         status = COALESCE(status, ?3), status_checked_at = ?4
                     WHERE outbox_id = ?1",
                    params![id, receipt.case_number, receipt.status.as_str(), ts(now)],
                )?;
                release_waiting_evaluation(tx, id, &receipt.case_number, now)?;
            }
            match kind {
                OutboxKind::Application | OutboxKind::Evaluation => {
                    tx.execute(
                        "UPDATE outbox SET body = NULL, purged_at = ?2 WHERE id = ?1",
                        params![id, ts(now)],
                    )?;
                    Ok(true)
                }
                OutboxKind::Heartbeat => Ok(false),
            }
        }
        ItemDecision::Pending { last_error } => {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3
                 WHERE id = ?1",
                params![id, ts(now), last_error],
            )?;
            Ok(false)
        }
        ItemDecision::NeedsAttention { reason } => {
            if kind == OutboxKind::Heartbeat {
                // Only the newest refusal says anything the older ones did not.
                tx.execute(
                    "DELETE FROM outbox WHERE kind = ?1 AND state = ?2 AND id != ?3",
                    params![OutboxKind::Heartbeat, OutboxState::NeedsAttention, id],
                )?;
            }
            tx.execute(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1,
                     last_attempt_at = ?3, last_error = ?4
                 WHERE id = ?1",
                params![id, OutboxState::NeedsAttention, ts(now), reason],
            )?;
            Ok(false)
        }
    }
}

/// The rating that waited for the application in outbox row `application_id` (if any) joins the
/// outbox as an evaluation of `case_number`, with the key it got when the villager rated.
fn release_waiting_evaluation(
    tx: &rusqlite::Connection,
    application_id: i64,
    case_number: &str,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let waiting = tx
        .query_row(
            "SELECT w.receipt_number, w.idempotency_key, w.level, w.comment, w.evaluated_at
             FROM waiting_evaluations w JOIN local_cases c ON c.receipt_number = w.receipt_number
             WHERE c.outbox_id = ?1",
            params![application_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((receipt, key, level, comment, at)) = waiting else {
        return Ok(());
    };
    let evaluated_at = parse_ts(&at).unwrap_or(now);
    let body = serde_json::to_string(&wire::Evaluation {
        case_number: case_number.to_string(),
        level,
        comment,
        evaluated_at,
    })?;
    tx.execute(
        "INSERT INTO outbox (kind, idempotency_key, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![OutboxKind::Evaluation, key, body, ts(now)],
    )?;
    tx.execute(
        "DELETE FROM waiting_evaluations WHERE receipt_number = ?1",
        params![receipt],
    )?;
    tracing::info!(receipt = %receipt, "the waiting rating is queued for its case");
    Ok(())
}

/// Moves the WAL into the main file and truncates it, so purged pages (zeroed by
/// `secure_delete`) replace the old ones on disk. Best effort: a reader on another connection
/// can keep frames alive until the next checkpoint, which SQLite runs by itself.
fn checkpoint(store: &Store) {
    match store
        .conn()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        }) {
        Ok(0) => {}
        Ok(_) => tracing::debug!("WAL checkpoint after a purge was partial (a reader is active)"),
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint after a purge failed"),
    }
}

const LOCAL_CASE_SELECT: &str = "SELECT c.receipt_number, c.outbox_id, c.item_code, c.item_name,
        c.applicant_name_masked, c.case_number, c.status, c.status_note, o.state, o.last_error,
        c.accepted_at
    FROM local_cases c JOIN outbox o ON o.id = c.outbox_id";

fn local_case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalCase> {
    let status: Option<String> = r.get(6)?;
    let accepted: String = r.get(10)?;
    Ok(LocalCase {
        receipt_number: r.get(0)?,
        outbox_id: r.get(1)?,
        item_code: r.get(2)?,
        item_name: r.get(3)?,
        applicant_name_masked: r.get(4)?,
        case_number: r.get(5)?,
        status: status.and_then(|s| s.parse().ok()),
        status_note: r.get(7)?,
        delivery: r.get(8)?,
        last_error: r.get(9)?,
        accepted_at: parse_ts(&accepted).unwrap_or_default(),
    })
}

/// Where the local person-tag salt of the store at `store_path` lives: a file of its own beside
/// the store (`kiosk.person-tag-salt`, mode 0600), so a copy of the database alone does not let
/// anyone test ID numbers against its tags.
pub fn person_salt_path(store_path: &Path) -> PathBuf {
    store_path.with_extension(PERSON_TAG_SALT_EXTENSION)
}

/// The kiosk's own salt for person tags, created on first use. A salt left in the store's
/// `outbox_meta` table by an older kiosk is moved into the file and deleted from the table.
fn person_salt(store: &Store) -> Result<Vec<u8>, OutboxError> {
    let path = person_salt_path(store.path());
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return hex::decode(text.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| OutboxError::Salt {
                    path: path.clone(),
                    detail: "it is not 64 hex digits".into(),
                });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(OutboxError::Salt {
                path,
                detail: e.to_string(),
            });
        }
    }
    let legacy: Option<String> = store
        .conn()
        .query_row(
            "SELECT value FROM outbox_meta WHERE key = 'person_tag_salt'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let salt: Vec<u8> = match legacy.and_then(|h| hex::decode(h).ok()) {
        Some(b) if b.len() == 32 => b,
        _ => rand::random::<[u8; 32]>().to_vec(),
    };
    write_salt(&path, &salt).map_err(|e| OutboxError::Salt {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    store
        .conn()
        .execute("DELETE FROM outbox_meta WHERE key = 'person_tag_salt'", [])?;
    Ok(salt)
}

/// Writes the salt file atomically (temporary file, fsync, rename), readable by the owner only.
fn write_salt(path: &Path, salt: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension(format!("{PERSON_TAG_SALT_EXTENSION}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(hex::encode(salt).as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The worker.

/// The worker's clock: what time it is, and a way to wait until a time. The worker reads the
/// time only through this, so a test can run it on a [`ManualClock`] through hours of outage
/// without waiting for them.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Completes once [`Clock::now`] is at or after `at`.
    fn sleep_until(
        &self,
        at: DateTime<Utc>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// The wall clock, with tokio's timer for waiting.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(
        &self,
        at: DateTime<Utc>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A virtual clock that moves only when told to ([`ManualClock::advance`]); whoever sleeps on
/// it wakes when it passes their time.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::channel(start).0,
        }
    }

    /// Moves the clock forward by `by` and wakes the sleepers whose time has come.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.now
            .send_modify(|t| *t = t.checked_add_signed(by).unwrap_or(*t));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(
        &self,
        at: DateTime<Utc>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so `wait_for` ends only when the time comes.
            let _ = rx.wait_for(|t| *t >= at).await;
        })
    }
}

/// The worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub policy: BackoffPolicy,
    /// How often an open case's status is asked.
    pub poll_interval: Duration,
    /// How often a heartbeat is queued; `None` for none.
    pub heartbeat_interval: Option<Duration>,
    pub retention_days: u32,
    /// Items taken from the queue per pass, and how many are in flight at once.
    pub batch: usize,
    pub concurrency: usize,
    /// Reported in heartbeats.
    pub software_version: String,
}

impl WorkerConfig {
    pub fn from_config(c: &OutboxConfig) -> Self {
        WorkerConfig {
            policy: BackoffPolicy {
                base: Duration::from_secs(c.backoff_base_secs.max(1)),
                max: Duration::from_secs(c.backoff_max_secs.max(c.backoff_base_secs.max(1))),
            },
            retention_days: c.retention_days,
            ..WorkerConfig::default()
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            policy: BackoffPolicy::default(),
            poll_interval: Duration::from_secs(300),
            heartbeat_interval: Some(Duration::from_secs(60)),
            retention_days: 7,
            batch: 64,
            concurrency: 8,
            software_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Device health the rest of the kiosk reports into, for heartbeats (fed by
/// `doctor::health::HealthReporter`).
#[derive(Debug, Clone, Default)]
pub struct StationHealth {
    pub reader: wire::DeviceHealth,
    pub printer: wire::DeviceHealth,
    pub paper: wire::PaperState,
    /// Newest first, at most ten kept.
    pub last_errors: Vec<String>,
    /// The last doctor verdict and the checks that were not ok (`id: finding`).
    pub verdict: Option<String>,
    pub failing_checks: Vec<String>,
    pub catalog_version: Option<u64>,
    /// The county link as the worker last saw it (set by the worker).
    pub county_link: Option<wire::DeviceHealth>,
    /// A remote doctor result, sent with every heartbeat until one carrying it is delivered.
    pub doctor: Option<wire::RemoteDoctorResult>,
    /// A remote screenshot of the idle screen, sent like `doctor`.
    pub screenshot: Option<wire::RemoteScreenshot>,
    /// Requests from county staff that arrived in heartbeat answers, oldest first, for the
    /// app to act on (taken with `std::mem::take`).
    pub requests: Vec<wire::RemoteRequest>,
    /// Ids of requests the app already took: the county repeats a request in every answer
    /// until a heartbeat carries its result, and it is acted on once.
    pub taken_requests: Vec<i64>,
}

impl StationHealth {
    pub fn push_error(&mut self, e: impl Into<String>) {
        self.last_errors.insert(0, e.into());
        self.last_errors.truncate(10);
    }
}

/// What the worker last saw, for the screen and the technician.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStatus {
    /// Whether the last attempt reached the county.
    pub link_up: bool,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub delivered_total: u64,
    pub needs_attention_total: u64,
    /// Items pending after the last pass.
    pub pending: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Case status polls made (answered or not).
    pub case_polls_total: u64,
}

/// The running worker. Dropping it does not stop it; call [`WorkerHandle::shutdown`].
#[derive(Debug)]
pub struct WorkerHandle {
    nudge: Arc<Notify>,
    stop: watch::Sender<bool>,
    status: watch::Receiver<WorkerStatus>,
    health: Arc<Mutex<StationHealth>>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Wakes the worker now (call after `Outbox::accept`).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// The worker's status as it changes.
    pub fn status(&self) -> watch::Receiver<WorkerStatus> {
        self.status.clone()
    }

    /// Where device drivers report health for heartbeats.
    pub fn health(&self) -> Arc<Mutex<StationHealth>> {
        self.health.clone()
    }

    /// Stops the worker after its current step and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

/// Starts the outbox worker on the current tokio runtime, on the wall clock. It opens its own
/// connection to the store at `store_path`.
pub fn spawn_worker(
    store_path: PathBuf,
    client: CountyClient,
    config: WorkerConfig,
) -> Result<WorkerHandle, OutboxError> {
    spawn_worker_with_clock(store_path, client, config, Arc::new(SystemClock))
}

/// [`spawn_worker`] on a clock of the caller's choice (a [`ManualClock`] in tests).
pub fn spawn_worker_with_clock(
    store_path: PathBuf,
    client: CountyClient,
    config: WorkerConfig,
    clock: Arc<dyn Clock>,
) -> Result<WorkerHandle, OutboxError> {
    let store = Store::open(&store_path)?;
    let start = clock.now();
    let nudge = Arc::new(Notify::new());
    let (stop, stop_rx) = watch::channel(false);
    let (status_tx, status) = watch::channel(WorkerStatus::default());
    let health = Arc::new(Mutex::new(StationHealth::default()));
    let worker = Worker {
        store: Arc::new(Mutex::new(store)),
        client,
        config,
        link: LinkState::default(),
        nudge: nudge.clone(),
        stop: stop_rx,
        status: status_tx,
        health: health.clone(),
        next_heartbeat: start,
        next_purge: start,
        clock,
    };
    let join = tokio::spawn(worker.run());
    Ok(WorkerHandle {
        nudge,
        stop,
        status,
        health,
        join,
    })
}

struct Worker {
    store: Arc<Mutex<Store>>,
    client: CountyClient,
    config: WorkerConfig,
    link: LinkState,
    nudge: Arc<Notify>,
    stop: watch::Receiver<bool>,
    status: watch::Sender<WorkerStatus>,
    health: Arc<Mutex<StationHealth>>,
    next_heartbeat: DateTime<Utc>,
    next_purge: DateTime<Utc>,
    clock: Arc<dyn Clock>,
}

/// When a worker with nothing to send wakes next: for the next case poll (at most a minute
/// away), the next heartbeat, or the link's reopening if a poll just blocked it; never at once
/// only because the link is open (that spun the loop, scanning the store every 5 ms).
fn idle_wake(
    now: DateTime<Utc>,
    poll_interval: Duration,
    next_heartbeat: Option<DateTime<Utc>>,
    link: &LinkState,
) -> DateTime<Utc> {
    let mut next = now
        + chrono::Duration::from_std(poll_interval.min(Duration::from_secs(60)))
            .unwrap_or_default();
    if let Some(hb) = next_heartbeat {
        next = next.min(hb);
    }
    if !link.is_open(now) {
        next = next.min(link.next_attempt(now));
    }
    next
}

/// Runs `f` on the store off the async threads.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, OutboxError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => Err(OutboxError::Invalid(format!("store task failed: {e}"))),
    }
}

impl Worker {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                break;
            }
            let wake_at = match self.step().await {
                Ok(Some(at)) => at,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker step failed; retrying in 5 s");
                    self.clock.now() + chrono::Duration::seconds(5)
                }
            };
            let clock = self.clock.clone();
            tokio::select! {
                _ = clock.sleep_until(wake_at) => {}
                _ = self.nudge.notified() => {}
                _ = self.stop.changed() => {}
            }
        }
    }

    fn publish(&self, f: impl FnOnce(&mut WorkerStatus)) {
        self.status.send_modify(f);
    }

    /// One step. `Ok(None)`: made progress, go again at once; `Ok(Some(t))`: wait until `t`
    /// (or a nudge).
    async fn step(&mut self) -> Result<Option<DateTime<Utc>>, OutboxError> {
        let now = self.clock.now();
        if now >= self.next_purge {
            let days = self.config.retention_days;
            with_store(&self.store, move |s| Outbox::purge_expired(s, now, days)).await?;
            self.next_purge = now + chrono::Duration::hours(1);
        }
        if let Some(every) = self.config.heartbeat_interval
            && now >= self.next_heartbeat
        {
            self.queue_heartbeat(now).await?;
            self.next_heartbeat =
                now + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1));
        }
        if !self.link.is_open(now) {
            return Ok(Some(self.wake_at(self.link.next_attempt(now), now)));
        }
        let batch = self.config.batch.max(1);
        let due = with_store(&self.store, move |s| Outbox::due(s, batch)).await?;
        if !due.is_empty() {
            self.send_batch(due).await?;
            let now = self.clock.now();
            return Ok(if self.link.is_open(now) {
                None
            } else {
                Some(self.wake_at(self.link.next_attempt(now), now))
            });
        }
        let pending = with_store(&self.store, |s| Outbox::stats(s).map(|st| st.pending)).await?;
        self.publish(|st| st.pending = pending);
        // Nothing to send: poll open cases.
        let interval = self.config.poll_interval;
        let cases = with_store(&self.store, move |s| {
            Outbox::cases_due_for_poll(s, now, interval, 16)
        })
        .await?;
        let polled = cases.len() as u64;
        for case_number in cases {
            match self.client.case(&case_number).await {
                Ok(view) => {
                    let now = self.clock.now();
                    with_store(&self.store, move |s| Outbox::record_case(s, &view, now)).await?;
                }
                Err(e) => {
                    let outcome = e.outcome();
                    tracing::warn!(case = %case_number, error = %e, "case status poll failed");
                    let now = self.clock.now();
                    with_store(&self.store, move |s| {
                        Outbox::touch_case(s, &case_number, now)
                    })
                    .await?;
                    if matches!(outcome, AttemptOutcome::Unavailable { .. }) {
                        let jitter = rand::random::<f64>();
                        self.link.record(&outcome, now, &self.config.policy, jitter);
                        break;
                    }
                }
            }
        }
        if polled > 0 {
            self.publish(|st| st.case_polls_total += polled);
        }
        let now = self.clock.now();
        let heartbeat = self.config.heartbeat_interval.map(|_| self.next_heartbeat);
        let next = idle_wake(now, self.config.poll_interval, heartbeat, &self.link);
        Ok(Some(self.wake_at(next, now)))
    }

    /// When to wake for something due at `at`: never sooner than 5 ms from `now`, so a
    /// deadline that just passed cannot spin the loop.
    fn wake_at(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        at.max(now + chrono::Duration::milliseconds(5))
    }

    async fn queue_heartbeat(&mut self, now: DateTime<Utc>) -> Result<(), OutboxError> {
        let health = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let version = self.config.software_version.clone();
        let link = self.status.borrow().clone();
        let county_link = Some(wire::DeviceHealth {
            ok: link.link_up || link.consecutive_failures == 0,
            detail: link.last_error.filter(|_| !link.link_up),
        });
        with_store(&self.store, move |s| {
            let stats = Outbox::stats(s)?;
            let hb = wire::Heartbeat {
                software_version: version,
                reader: health.reader,
                printer: health.printer,
                paper: health.paper,
                queue_length: stats.pending + stats.needs_attention,
                last_errors: health.last_errors,
                clock: now,
                verdict: health.verdict,
                failing_checks: health.failing_checks,
                catalog_version: health.catalog_version,
                oldest_pending_at: stats.oldest_pending_at.as_deref().and_then(parse_ts),
                county_link: health.county_link.or(county_link),
                doctor: health.doctor,
                screenshot: health.screenshot,
                sync: crate::county::sync::report(s).ok(),
                update: s.path().parent().and_then(crate::update::heartbeat_report),
            };
            Outbox::enqueue_heartbeat(s, &hb, now)
        })
        .await
    }

    /// Delivered heartbeats: hand the county's requests to the app, and stop resending a
    /// doctor result the county now has.
    fn note_heartbeat_answers(
        &self,
        due: &[DueItem],
        results: &[(i64, ItemDecision, Option<String>)],
    ) {
        for (id, decision, response) in results {
            let Some(item) = due.iter().find(|d| d.id == *id && d.kind == "heartbeat") else {
                continue;
            };
            if !matches!(decision, ItemDecision::Delivered) {
                continue;
            }
            let sent: Option<wire::Heartbeat> = serde_json::from_str(&item.body).ok();
            let ack: Option<wire::HeartbeatAck> = response
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok());
            let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
            let delivered = sent
                .as_ref()
                .and_then(|h| h.doctor.as_ref())
                .map(|d| d.request_id);
            if delivered.is_some() && health.doctor.as_ref().map(|d| d.request_id) == delivered {
                health.doctor = None;
            }
            let shot = sent.and_then(|h| h.screenshot).map(|s| s.request_id);
            if shot.is_some() && health.screenshot.as_ref().map(|s| s.request_id) == shot {
                health.screenshot = None;
            }
            for r in ack.map(|a| a.requests).unwrap_or_default() {
                if !health.requests.contains(&r) && !health.taken_requests.contains(&r.id) {
                    health.requests.push(r);
                }
            }
        }
    }

    async fn send_batch(&mut self, due: Vec<DueItem>) -> Result<(), OutboxError> {
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        for (idx, item) in due.iter().cloned().enumerate() {
            let client = self.client.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let (outcome, response) = attempt(&client, &item).await;
                (idx, outcome, response)
            });
        }
        let mut outcomes: Vec<Option<(AttemptOutcome, Option<String>)>> = vec![None; due.len()];
        while let Some(joined) = set.join_next().await {
            if let Ok((idx, outcome, response)) = joined {
                outcomes[idx] = Some((outcome, response));
            }
        }
        let now = self.clock.now();
        let outcomes: Vec<(AttemptOutcome, Option<String>)> = outcomes
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    (
                        AttemptOutcome::Unavailable {
                            retry_after: None,
                            detail: "the send task failed".into(),
                        },
                        None,
                    )
                })
            })
            .collect();
        // Answers first, failures last: one failure in a batch leaves the link backing off (and
        // a Retry-After honoured) even if other requests of the batch got through.
        let mut order: Vec<usize> = (0..due.len()).collect();
        order.sort_by_key(|&i| matches!(outcomes[i].0, AttemptOutcome::Unavailable { .. }));
        let mut results = Vec::with_capacity(due.len());
        let (mut delivered, mut attention) = (0u64, 0u64);
        let mut last_error = None;
        for i in order {
            let item = &due[i];
            let (outcome, response) = &outcomes[i];
            let decision =
                self.link
                    .record(outcome, now, &self.config.policy, rand::random::<f64>());
            match &decision {
                ItemDecision::Delivered => delivered += 1,
                ItemDecision::NeedsAttention { reason } => {
                    attention += 1;
                    tracing::warn!(outbox_id = item.id, kind = %item.kind, %reason, "outbox item needs attention");
                    last_error = Some(reason.clone());
                }
                ItemDecision::Pending { last_error: e } => {
                    last_error = Some(e.clone());
                }
            }
            results.push((item.id, decision, response.clone()));
        }
        if let Some(e) = &last_error {
            tracing::warn!(error = %e, failures = self.link.consecutive_failures, "county link: attempt failed");
        }
        self.note_heartbeat_answers(&due, &results);
        with_store(&self.store, move |s| Outbox::record(s, &results, now)).await?;
        let link = self.link;
        self.publish(|st| {
            st.link_up = link.consecutive_failures == 0;
            st.consecutive_failures = link.consecutive_failures;
            st.delivered_total += delivered;
            st.needs_attention_total += attention;
            if last_error.is_some() {
                st.last_error = last_error;
            }
            st.next_attempt_at = link.blocked_until;
        });
        Ok(())
    }
}

/// One attempt at one item: the outcome and, when delivered, the county's answer.
async fn attempt(client: &CountyClient, item: &DueItem) -> (AttemptOutcome, Option<String>) {
    let reply = match item.kind {
        OutboxKind::Application => client.submit_raw(&item.idempotency_key, &item.body).await,
        OutboxKind::Evaluation => client.evaluate_raw(&item.idempotency_key, &item.body).await,
        OutboxKind::Heartbeat => client.heartbeat_raw(&item.body).await,
    };
    match reply {
        Err(e) => (e.outcome(), None),
        Ok(raw) => {
            let (outcome, text) = match item.kind {
                OutboxKind::Application => {
                    let (o, v) = raw.outcome_as::<wire::SubmissionReceipt>();
                    (o, v.and_then(|v| serde_json::to_string(&v).ok()))
                }
                OutboxKind::Evaluation => {
                    let (o, v) = raw.outcome_as::<wire::EvaluationReceipt>();
                    (o, v.and_then(|v| serde_json::to_string(&v).ok()))
                }
                OutboxKind::Heartbeat => {
                    let (o, v) = raw.outcome_as::<wire::HeartbeatAck>();
                    (o, v.and_then(|v| serde_json::to_string(&v).ok()))
                }
            };
            (outcome, text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, id: &str) -> NewApplication {
        NewApplication {
            item_code: "SB-001".into(),
            item_name: "城乡居民基本养老保险参保登记".into(),
            applicant_name: name.into(),
            id_number: id.into(),
            phone: Some("13800138000".into()),
            fields: BTreeMap::from([("bank".into(), "农商银行".into())]),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_idle_worker_on_an_open_link_sleeps_until_its_next_poll_or_heartbeat() {
        let open = LinkState::default();
        assert!(open.is_open(now()));
        let poll = Duration::from_secs(30);
        assert_eq!(
            idle_wake(now(), poll, None, &open),
            now() + chrono::Duration::seconds(30),
            "an open link is no reason to wake at once"
        );
        let hb = now() + chrono::Duration::seconds(10);
        assert_eq!(idle_wake(now(), poll, Some(hb), &open), hb);
        // A poll that found the county unavailable blocks the link: wake when it reopens, if
        // that comes first.
        let blocked = LinkState {
            blocked_until: Some(now() + chrono::Duration::seconds(3)),
            ..LinkState::default()
        };
        assert_eq!(
            idle_wake(now(), poll, Some(hb), &blocked),
            now() + chrono::Duration::seconds(3)
        );
    }

    #[test]
    fn accept_numbers_receipts_per_day_and_stores_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        let a = Outbox::accept(&mut store, app("张三国", "410329198001010019"), now()).unwrap();
        let b = Outbox::accept(&mut store, app("李四", "41032919800101006x"), now()).unwrap();
        assert_eq!(a.receipt_number, "CG-20261128-0001");
        assert_eq!(b.receipt_number, "CG-20261128-0002");
        assert_ne!(a.idempotency_key, b.idempotency_key);
        let body = Outbox::body(&store, a.outbox_id).unwrap().unwrap();
        let sub: wire::ApplicationSubmission = serde_json::from_str(&body).unwrap();
        assert_eq!(sub.receipt_number, a.receipt_number);
        let mine = Outbox::cases_for_person(&store, "41032919800101006X").unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].applicant_name_masked, "李*");
        assert_eq!(mine[0].delivery, "pending");
        assert!(
            format!("{:?}", app("张三国", "410329198001010019")).contains("410329********0019")
        );
    }

    #[test]
    fn accept_refuses_incomplete_applications() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        assert!(matches!(
            Outbox::accept(&mut store, app("", "410329198001010019"), now()),
            Err(OutboxError::Invalid(_))
        ));
        assert!(matches!(
            Outbox::accept(&mut store, app("张三", "4103291980"), now()),
            Err(OutboxError::Invalid(_))
        ));
        assert_eq!(Outbox::stats(&store).unwrap().pending, 0);
    }

    #[test]
    fn confirmed_records_are_purged_on_delivery_but_lookup_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        let a = Outbox::accept(&mut store, app("张三国", "410329198001010019"), now()).unwrap();
        let receipt = wire::SubmissionReceipt {
            case_number: "XQ-20261128-000001".into(),
            receipt_number: a.receipt_number.clone(),
            status: wire::CaseStatus::Received,
            received_at: now(),
            progress_token: None,
        };
        Outbox::record(
            &mut store,
            &[(
                a.outbox_id,
                ItemDecision::Delivered,
                Some(serde_json::to_string(&receipt).unwrap()),
            )],
            now(),
        )
        .unwrap();
        assert_eq!(Outbox::body(&store, a.outbox_id).unwrap(), None);
        let case = Outbox::receipt(&store, &a.receipt_number).unwrap().unwrap();
        assert_eq!(case.case_number.as_deref(), Some("XQ-20261128-000001"));
        assert_eq!(case.applicant_name_masked, "张*国");
        assert_eq!(case.status, Some(wire::CaseStatus::Received));
        assert_eq!(case.delivery, OutboxState::Delivered);
        // A body an older kiosk kept until the retention is purged by the housekeeping.
        store
            .conn()
            .execute(
                "UPDATE outbox SET body = '{}' WHERE id = ?1",
                params![a.outbox_id],
            )
            .unwrap();
        assert_eq!(Outbox::purge_expired(&mut store, now(), 7).unwrap(), 1);
        assert_eq!(Outbox::body(&store, a.outbox_id).unwrap(), None);
    }

    #[test]
    fn kinds_and_states_round_trip_through_their_text() {
        for k in OutboxKind::ALL {
            assert_eq!(k.as_str().parse::<OutboxKind>(), Ok(*k));
        }
        for s in OutboxState::ALL {
            assert_eq!(s.as_str().parse::<OutboxState>(), Ok(*s));
        }
        assert_eq!(
            "telegram".parse::<OutboxKind>(),
            Err(UnknownValue {
                column: "kind",
                value: "telegram".into()
            })
        );
        assert_eq!(format!("{:<11}|", OutboxKind::Heartbeat), "heartbeat  |");
    }

    #[test]
    fn the_manual_clock_wakes_sleepers_when_it_passes_their_time() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let clock = ManualClock::new(now());
        rt.block_on(async {
            let at = now() + chrono::Duration::seconds(600);
            let mut sleep = clock.sleep_until(at);
            assert!(futures_poll(&mut sleep).is_pending());
            clock.advance(Duration::from_secs(599));
            assert!(futures_poll(&mut sleep).is_pending());
            clock.advance(Duration::from_secs(1));
            sleep.await;
            assert_eq!(clock.now(), at);
        });
    }

    /// Polls a future once without a runtime's help.
    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        std::pin::Pin::new(f).poll(&mut cx)
    }

    #[test]
    fn needs_attention_is_kept_and_retry_requeues_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        let a = Outbox::accept(&mut store, app("张三国", "410329198001010019"), now()).unwrap();
        assert!(matches!(
            Outbox::retry(&mut store, a.outbox_id),
            Err(OutboxError::NotRetryable { .. })
        ));
        Outbox::record(
            &mut store,
            &[(
                a.outbox_id,
                ItemDecision::NeedsAttention {
                    reason: "422 unknown item".into(),
                },
                None,
            )],
            now(),
        )
        .unwrap();
        assert!(Outbox::due(&store, 10).unwrap().is_empty());
        assert_eq!(Outbox::stats(&store).unwrap().needs_attention, 1);
        Outbox::retry(&mut store, a.outbox_id).unwrap();
        assert_eq!(Outbox::due(&store, 10).unwrap().len(), 1);
        assert!(matches!(
            Outbox::retry(&mut store, 999),
            Err(OutboxError::NotFound(_))
        ));
    }

    #[test]
    fn evaluation_levels_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        assert!(Outbox::evaluate(&mut store, "XQ-1", 0, None, now()).is_err());
        assert!(Outbox::evaluate(&mut store, "XQ-1", 6, None, now()).is_err());
        Outbox::evaluate(&mut store, "XQ-1", 5, Some("很好".into()), now()).unwrap();
        assert_eq!(Outbox::due(&store, 10).unwrap()[0].kind, "evaluation");
    }
}
