//! The supervisor's report (督办通报): for the cases received in a period (county days, both
//! ends included), per department and per station: how many were received, how many are
//! finished, how many are late (open past the promised due date, or finished after it), and the
//! satisfaction from 好差评 (ratings, satisfied = 满意/非常满意, bad = 不满意/非常不满意).
//!
//! CSV columns (a contract, header line first):
//! `scope,name,received,finished,overdue,evaluations,satisfied,bad,satisfaction_percent`,
//! `scope` being `department` or `station`; `satisfaction_percent` is satisfied / evaluations
//! with one decimal, empty without evaluations.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::cases::{self, FINISHED};
use super::{HolidayCalendar, StaffError, county_day};
use crate::backoffice::Db;
use crate::backoffice::sql::params;

/// The CSV header.
pub const CSV_HEADER: [&str; 9] = [
    "scope",
    "name",
    "received",
    "finished",
    "overdue",
    "evaluations",
    "satisfied",
    "bad",
    "satisfaction_percent",
];

/// One line: a department or a station.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportLine {
    pub name: String,
    pub received: u64,
    pub finished: u64,
    pub overdue: u64,
    pub evaluations: u64,
    pub satisfied: u64,
    pub bad: u64,
}

impl ReportLine {
    /// Satisfied ratings in per mille of all ratings, `None` without ratings.
    pub fn satisfaction_permille(&self) -> Option<u64> {
        (self.evaluations > 0).then(|| self.satisfied * 1000 / self.evaluations)
    }

    fn satisfaction_text(&self) -> String {
        self.satisfaction_permille()
            .map(|p| format!("{}.{}", p / 10, p % 10))
            .unwrap_or_default()
    }
}

/// The report of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub generated_at: DateTime<Utc>,
    pub departments: Vec<ReportLine>,
    pub stations: Vec<ReportLine>,
}

/// Computes the report of cases received from `from` to `to` (county days), as of `now`.
pub fn build(
    db: &Db,
    cal: &HolidayCalendar,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Report, StaffError> {
    if from > to {
        return Err(StaffError::Period(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let mut by_dept: BTreeMap<String, ReportLine> = BTreeMap::new();
    let mut by_station: BTreeMap<String, ReportLine> = BTreeMap::new();
    let mut ratings = db
        .conn()
        .prepare("SELECT level FROM evaluations WHERE case_number = ?1")?;
    for row in cases::rows(db, None)? {
        let day = county_day(row.received_at);
        if day < from || day > to {
            continue;
        }
        let late = row.deadline(cal, now).state.is_late();
        let finished = FINISHED.contains(&row.status);
        let levels: Vec<i64> = ratings
            .query_map(params![row.case_number], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for line in [
            by_dept.entry(row.department.clone()).or_default(),
            by_station.entry(row.station_id.clone()).or_default(),
        ] {
            line.received += 1;
            line.finished += u64::from(finished);
            line.overdue += u64::from(late);
            line.evaluations += levels.len() as u64;
            line.satisfied += levels.iter().filter(|l| **l >= 4).count() as u64;
            line.bad += levels.iter().filter(|l| **l <= 2).count() as u64;
        }
    }
    let named = |m: BTreeMap<String, ReportLine>| {
        m.into_iter()
            .map(|(name, mut l)| {
                l.name = name;
                l
            })
            .collect()
    };
    Ok(Report {
        from,
        to,
        generated_at: now,
        departments: named(by_dept),
        stations: named(by_station),
    })
}

impl Report {
    /// The report as CSV (columns in the module doc).
    pub fn to_csv(&self) -> Result<String, StaffError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let err = |e: csv::Error| StaffError::Csv(e.to_string());
        w.write_record(CSV_HEADER).map_err(err)?;
        for (scope, lines) in [
            ("department", &self.departments),
            ("station", &self.stations),
        ] {
            for l in lines {
                w.write_record([
                    scope.to_string(),
                    l.name.clone(),
                    l.received.to_string(),
                    l.finished.to_string(),
                    l.overdue.to_string(),
                    l.evaluations.to_string(),
                    l.satisfied.to_string(),
                    l.bad.to_string(),
                    l.satisfaction_text(),
                ])
                .map_err(err)?;
            }
        }
        let bytes = w.into_inner().map_err(|e| StaffError::Csv(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| StaffError::Csv(e.to_string()))
    }

    /// The report as an HTML page (one table per scope, the same numbers as the CSV).
    pub fn to_html(&self) -> String {
        use super::pages::esc;
        let mut h = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>督办通报 Supervisor report</title></head><body>\
             <h1>督办通报 Supervisor report</h1><p>受理日期 Received {} — {}；统计时间 as of {} UTC</p>",
            self.from,
            self.to,
            self.generated_at.format("%Y-%m-%d %H:%M")
        );
        for (title, scope, lines) in [
            ("按部门 By department", "department", &self.departments),
            ("按站点 By station", "station", &self.stations),
        ] {
            h.push_str(&format!(
                "<h2>{title}</h2><table border=\"1\" cellpadding=\"4\" id=\"{scope}\"><thead><tr>\
                 <th>名称 Name</th><th>受理 Received</th><th>办结 Finished</th><th>超期 Overdue</th>\
                 <th>评价 Ratings</th><th>满意 Satisfied</th><th>差评 Bad</th><th>满意率 %</th>\
                 </tr></thead><tbody>"
            ));
            for l in lines {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&l.name),
                    l.received,
                    l.finished,
                    l.overdue,
                    l.evaluations,
                    l.satisfied,
                    l.bad,
                    l.satisfaction_text()
                ));
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</body></html>\n");
        h
    }
}
