//! 差评整改: every 不满意 (2) or 非常不满意 (1) rating opens a follow-up task for the case's
//! department, which stays open until an operator closes it with a note saying what was done.
//!
//! Tasks are opened from the evaluations table by [`open_for_bad_ratings`] (idempotent: one task
//! per evaluation, whenever it runs), called after each evaluation is recorded and before the
//! tasks are listed, so no bad rating is missed even across a crash.

use crate::backoffice::sql::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::operators::Operator;
use super::{StaffError, parse_ts, ts};
use crate::backoffice::Db;

/// Ratings at or below this open a follow-up (2 不满意, 1 非常不满意).
pub const BAD_RATING_MAX: u8 = 2;

/// A follow-up task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// The evaluation it answers (its id is the task's id).
    pub id: i64,
    pub case_number: String,
    pub department: String,
    pub level: u8,
    pub comment: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub note: Option<String>,
}

impl FollowUp {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// Opens a task for every bad rating that has none yet; returns how many were opened.
pub fn open_for_bad_ratings(db: &Db, now: DateTime<Utc>) -> Result<usize, StaffError> {
    Ok(db.conn().execute(
        "INSERT INTO follow_ups (evaluation_id, case_number, level, comment, opened_at)
         SELECT e.id, e.case_number, e.level, e.comment, ?1 FROM evaluations e
         WHERE e.level <= ?2
           AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.evaluation_id = e.id)
         ON CONFLICT (evaluation_id) DO NOTHING",
        params![ts(now), i64::from(BAD_RATING_MAX)],
    )?)
}

const SELECT: &str = "SELECT f.evaluation_id, f.case_number, COALESCE(r.department, ''), f.level,
        f.comment, f.opened_at, f.closed_at, f.closed_by, f.note
     FROM follow_ups f LEFT JOIN case_routing r ON r.case_number = f.case_number";

type Raw = (
    i64,
    String,
    String,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn raw(r: &crate::backoffice::sql::Row) -> crate::backoffice::sql::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn cook(
    (id, case_number, department, level, comment, opened, closed, closed_by, note): Raw,
) -> Result<FollowUp, StaffError> {
    Ok(FollowUp {
        id,
        case_number,
        department,
        level: u8::try_from(level).unwrap_or(0),
        comment,
        opened_at: parse_ts(&opened)?,
        closed_at: closed.as_deref().map(parse_ts).transpose()?,
        closed_by,
        note,
    })
}

/// Tasks, open ones first, then newest; only `department`'s when given.
pub fn list(
    db: &Db,
    department: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<FollowUp>, StaffError> {
    open_for_bad_ratings(db, now)?;
    let sql = format!(
        "{SELECT} WHERE (?1 IS NULL OR r.department = ?1)
         ORDER BY CASE WHEN f.closed_at IS NULL THEN 0 ELSE 1 END, f.opened_at DESC,
                  f.evaluation_id DESC"
    );
    let mut stmt = db.conn().prepare(&sql)?;
    let raws = stmt
        .query_map(params![department], raw)?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(cook).collect()
}

/// One task.
pub fn get(db: &Db, id: i64) -> Result<Option<FollowUp>, StaffError> {
    let sql = format!("{SELECT} WHERE f.evaluation_id = ?1");
    let found = db.conn().query_row(&sql, params![id], raw).optional()?;
    found.map(cook).transpose()
}

/// Closes a task with the note of what was done: refused without a note, twice, or for a
/// clerk of another department.
pub fn close(
    db: &Db,
    operator: &Operator,
    id: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<FollowUp, StaffError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(StaffError::NoteRequired);
    }
    let task = get(db, id)?.ok_or(StaffError::NoFollowUp(id))?;
    if !operator.role.may_see(&task.department) {
        return Err(StaffError::Forbidden {
            operator: operator.username.clone(),
            department: task.department,
        });
    }
    let n = db.conn().execute(
        "UPDATE follow_ups SET closed_at = ?2, closed_by = ?3, note = ?4
         WHERE evaluation_id = ?1 AND closed_at IS NULL",
        params![id, ts(now), operator.username, note],
    )?;
    if n == 0 {
        return Err(StaffError::FollowUpClosed(id));
    }
    tracing::info!(id, operator = %operator.username, "follow-up closed");
    get(db, id)?.ok_or(StaffError::NoFollowUp(id))
}
