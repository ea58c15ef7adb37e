//! Cases on the county side: routing to the item's department (分类办理), due dates in working
//! days (承诺时限 and 法定时限 from the day after receipt), and the audit log (操作留痕) of every
//! status change with who and when.
//!
//! Every status change goes through [`crate::backoffice::Db::advance_as`], which writes the
//! audit row ([`record_audit`]) in the same transaction as the change; staff actions reach it
//! through [`change_status`], which first checks the operator's department.

use crate::backoffice::sql::{OptionalExtension, params};
use chrono::{DateTime, NaiveDate, Utc};

use super::operators::Operator;
use super::{HolidayCalendar, ItemRoute, Routes, StaffError, county_day, parse_ts, ts};
use crate::backoffice::{Db, DbError};
use crate::county::wire::{CaseStatus, CaseView};

/// The department of cases whose item the serving catalogue does not know (for the supervisor
/// to route by hand).
pub const UNROUTED: &str = "未分派";

/// Statuses that end the county's work on a case (办结): the time limit stops there.
pub const FINISHED: [CaseStatus; 4] = [
    CaseStatus::Approved,
    CaseStatus::Rejected,
    CaseStatus::ReadyForCollection,
    CaseStatus::Collected,
];

/// Routes a new case to its item's department; a case already routed stays as it is.
pub fn route_case(
    db: &Db,
    case_number: &str,
    item_code: &str,
    routes: &Routes,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let route = routes.get(item_code).cloned().unwrap_or_else(|| {
        tracing::warn!(%case_number, %item_code, "item not in the serving catalogue; case left for the supervisor to route");
        ItemRoute {
            department: UNROUTED.to_string(),
            promised_days: 0,
            legal_days: 0,
        }
    });
    db.conn().execute(
        "INSERT INTO case_routing (case_number, department, promised_days, legal_days, routed_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (case_number) DO NOTHING",
        params![
            case_number,
            route.department,
            i64::from(route.promised_days),
            i64::from(route.legal_days),
            ts(now)
        ],
    )?;
    Ok(())
}

/// Routes every case that has no route yet (a case created just before a crash, or before this
/// version): run when the server starts. Returns how many were routed.
pub fn route_unrouted(db: &Db, routes: &Routes, now: DateTime<Utc>) -> Result<usize, StaffError> {
    let pending: Vec<(String, String)> = {
        let mut stmt = db.conn().prepare(
            "SELECT c.case_number, c.item_code FROM cases c
             WHERE NOT EXISTS (SELECT 1 FROM case_routing r WHERE r.case_number = c.case_number)",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (case, item) in &pending {
        route_case(db, case, item, routes, now)?;
    }
    Ok(pending.len())
}

/// Every department a case may be listed under: the catalogue's and those cases were routed to.
pub fn known_departments(db: &Db, routes: &Routes) -> Result<Vec<String>, StaffError> {
    let mut all = routes.departments();
    let mut stmt = db
        .conn()
        .prepare("SELECT DISTINCT department FROM case_routing")?;
    for d in stmt.query_map([], |r| r.get::<_, String>(0))? {
        all.push(d?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// `department` if it is known, else [`StaffError::UnknownDepartment`] naming the known ones.
pub fn check_department(db: &Db, routes: &Routes, department: &str) -> Result<(), StaffError> {
    let known = known_departments(db, routes)?;
    if known.iter().any(|d| d == department) {
        Ok(())
    } else {
        Err(StaffError::UnknownDepartment {
            given: department.to_string(),
            known: known.join(", "),
        })
    }
}

/// Where a case stands against its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineState {
    /// Open, more than two working days left.
    Open,
    /// Open, due within two working days (today included): 即将到期.
    DueSoon,
    /// Open past its promised due date: 已超期.
    Overdue,
    /// Finished on or before its promised due date.
    FinishedOnTime,
    /// Finished after its promised due date: 超期办结.
    FinishedLate,
}

impl DeadlineState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineState::Open => "open",
            DeadlineState::DueSoon => "due_soon",
            DeadlineState::Overdue => "overdue",
            DeadlineState::FinishedOnTime => "finished_on_time",
            DeadlineState::FinishedLate => "finished_late",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineState::Open => "办理中",
            DeadlineState::DueSoon => "即将到期",
            DeadlineState::Overdue => "已超期",
            DeadlineState::FinishedOnTime => "按时办结",
            DeadlineState::FinishedLate => "超期办结",
        }
    }

    /// Late, finished or not: what the report counts as overdue.
    pub fn is_late(self) -> bool {
        matches!(self, DeadlineState::Overdue | DeadlineState::FinishedLate)
    }
}

/// A case's due dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub received_day: NaiveDate,
    /// The last day of the promised time limit (承诺办结日).
    pub promised_due: NaiveDate,
    /// The last day of the legal time limit (法定办结日).
    pub legal_due: NaiveDate,
    pub state: DeadlineState,
}

/// A routed case as the staff pages, the CLI and the report see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub case_number: String,
    pub status: CaseStatus,
    pub station_id: String,
    pub item_code: String,
    pub item_name: String,
    pub department: String,
    pub promised_days: u32,
    pub legal_days: u32,
    pub received_at: DateTime<Utc>,
    /// When it first reached a finished status.
    pub finished_at: Option<DateTime<Utc>>,
}

impl CaseRow {
    /// Its due dates and where it stands on `now`'s county day.
    pub fn deadline(&self, cal: &HolidayCalendar, now: DateTime<Utc>) -> Deadline {
        deadline(
            cal,
            county_day(self.received_at),
            self.promised_days,
            self.legal_days,
            self.finished_at.map(county_day),
            county_day(now),
        )
    }
}

/// Due dates of a case received on `received_day`, and its state on `today` (finished on
/// `finished_day` if it is).
pub fn deadline(
    cal: &HolidayCalendar,
    received_day: NaiveDate,
    promised_days: u32,
    legal_days: u32,
    finished_day: Option<NaiveDate>,
    today: NaiveDate,
) -> Deadline {
    let promised_due = cal.add_working_days(received_day, promised_days);
    let legal_due = cal.add_working_days(received_day, legal_days);
    let state = match finished_day {
        Some(f) if f > promised_due => DeadlineState::FinishedLate,
        Some(_) => DeadlineState::FinishedOnTime,
        None if today > promised_due => DeadlineState::Overdue,
        None if cal.working_days_between(today, promised_due) < 2 => DeadlineState::DueSoon,
        None => DeadlineState::Open,
    };
    Deadline {
        received_day,
        promised_due,
        legal_due,
        state,
    }
}

const ROW_SQL: &str = "SELECT c.case_number, c.status, c.station_id, c.item_code, c.item_name,
        r.department, r.promised_days, r.legal_days, c.received_at,
        (SELECT MIN(e.at) FROM case_events e WHERE e.case_number = c.case_number
             AND e.status IN ('approved', 'rejected', 'ready_for_collection', 'collected'))
     FROM cases c JOIN case_routing r ON r.case_number = c.case_number";

type RawRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
);

fn raw(r: &crate::backoffice::sql::Row) -> crate::backoffice::sql::Result<RawRow> {
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
        r.get(9)?,
    ))
}

fn cook(row: RawRow) -> Result<CaseRow, StaffError> {
    let (case_number, status, station_id, item_code, item_name, department, p, l, recv, fin) = row;
    let status = status.parse().map_err(|_| StaffError::Corrupt {
        what: "case status",
        value: status.clone(),
    })?;
    Ok(CaseRow {
        case_number,
        status,
        station_id,
        item_code,
        item_name,
        department,
        promised_days: u32::try_from(p).unwrap_or(0),
        legal_days: u32::try_from(l).unwrap_or(0),
        received_at: parse_ts(&recv)?,
        finished_at: fin.as_deref().map(parse_ts).transpose()?,
    })
}

/// Routed cases, newest first; only `department`'s when given.
pub fn rows(db: &Db, department: Option<&str>) -> Result<Vec<CaseRow>, StaffError> {
    let sql = format!(
        "{ROW_SQL} WHERE (?1 IS NULL OR r.department = ?1)
         ORDER BY c.received_at DESC, c.case_number DESC"
    );
    let mut stmt = db.conn().prepare(&sql)?;
    let raws = stmt
        .query_map(params![department], raw)?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(cook).collect()
}

/// One routed case.
pub fn row(db: &Db, case_number: &str) -> Result<Option<CaseRow>, StaffError> {
    let sql = format!("{ROW_SQL} WHERE c.case_number = ?1");
    let found = db
        .conn()
        .query_row(&sql, params![case_number], raw)
        .optional()?;
    found.map(cook).transpose()
}

/// A case with its due dates.
pub type DatedCase = (CaseRow, Deadline);

/// Open cases past their promised due date, and open cases due within two working days (the
/// 督办 lists), each soonest due first; only `department`'s when given.
pub fn deadline_lists(
    db: &Db,
    cal: &HolidayCalendar,
    department: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Vec<DatedCase>, Vec<DatedCase>), StaffError> {
    let mut overdue = Vec::new();
    let mut soon = Vec::new();
    for r in rows(db, department)? {
        let d = r.deadline(cal, now);
        match d.state {
            DeadlineState::Overdue => overdue.push((r, d)),
            DeadlineState::DueSoon => soon.push((r, d)),
            _ => {}
        }
    }
    overdue.sort_by_key(|a| a.1.promised_due);
    soon.sort_by_key(|a| a.1.promised_due);
    Ok((overdue, soon))
}

/// One line of the audit log (操作记录).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub from: CaseStatus,
    pub to: CaseStatus,
    pub note: Option<String>,
    /// The operator's username, or `cli` for the command line without `--operator`.
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// Writes the audit row of a status change inside the transaction that makes it (called by
/// [`Db::advance_as`] only).
pub(crate) fn record_audit(
    tx: &crate::backoffice::sql::Conn,
    case_number: &str,
    from: CaseStatus,
    to: CaseStatus,
    note: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> crate::backoffice::sql::Result<()> {
    tx.execute(
        "INSERT INTO case_audit (case_number, seq, from_status, to_status, note, actor, at)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM case_audit WHERE case_number = ?1),
                 ?2, ?3, ?4, ?5, ?6)",
        params![
            case_number,
            from.as_str(),
            to.as_str(),
            note,
            actor,
            ts(now)
        ],
    )?;
    Ok(())
}

/// The audit log of a case, oldest first.
pub fn audit(db: &Db, case_number: &str) -> Result<Vec<AuditEntry>, StaffError> {
    let mut stmt = db.conn().prepare(
        "SELECT seq, from_status, to_status, note, actor, at FROM case_audit
         WHERE case_number = ?1 ORDER BY seq",
    )?;
    let raws = stmt
        .query_map(params![case_number], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter()
        .map(|(seq, from, to, note, actor, at)| {
            let status = |s: String| {
                s.parse::<CaseStatus>().map_err(|_| StaffError::Corrupt {
                    what: "audit status",
                    value: s,
                })
            };
            Ok(AuditEntry {
                seq,
                from: status(from)?,
                to: status(to)?,
                note,
                actor,
                at: parse_ts(&at)?,
            })
        })
        .collect()
}

/// An operator moves a case on: refused for a clerk of another department, else through
/// [`Db::advance_as`] (transition rules, notes, audit row). The single entry point of staff
/// status changes.
pub fn change_status(
    db: &mut Db,
    operator: &Operator,
    case_number: &str,
    to: CaseStatus,
    note: Option<&str>,
    note_en: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CaseView, StaffError> {
    let department = row(db, case_number)?
        .map(|r| r.department)
        .ok_or_else(|| DbError::NoCase(case_number.to_string()))?;
    if operator.disabled || !operator.role.may_see(&department) {
        return Err(StaffError::Forbidden {
            operator: operator.username.clone(),
            department,
        });
    }
    let view = db.advance_as(case_number, to, note, note_en, &operator.username, now)?;
    tracing::info!(%case_number, to = to.as_str(), operator = %operator.username, "case advanced by staff");
    Ok(view)
}
