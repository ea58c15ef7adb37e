//! Issue 13 parts 1 and 2 from the command line and the calendar: working days across the
//! National Day holiday with its 调休 Saturday, a holiday file with a bad date named by line,
//! `case list --department` (an unknown one is an error), `case show` with due dates and the
//! audit log, `operator add/list/disable`, `report` as CSV and HTML.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::NaiveDate;
use village_kiosk::backoffice::EmbeddedBackoffice;
use village_kiosk::backoffice::staff::{HolidayCalendar, cases, operators};
use village_kiosk::workdays::CalendarError;

use crate::staff::{NATIONAL_DAY_2026, submit};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn backoffice(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_county-backoffice"))
        .args(args)
        .env_remove("COUNTY_BACKOFFICE_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn working_days_skip_holidays_and_count_working_weekends() {
    // The example calendar the README points at reads, and agrees with the test's excerpt.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/holidays-2026.txt"),
    )
    .unwrap();
    let shipped = HolidayCalendar::parse(&shipped).unwrap();
    assert_eq!(
        shipped.add_working_days(d("2026-09-28"), 5),
        d("2026-10-10")
    );
    let cal = HolidayCalendar::parse(NATIONAL_DAY_2026).unwrap();
    assert_eq!(cal.len(), 9);
    // The adjusted Sunday before and Saturday after are working days; the holiday is not.
    assert!(cal.is_working_day(d("2026-09-20")));
    assert!(cal.is_working_day(d("2026-10-10")));
    assert!(!cal.is_working_day(d("2026-10-05")));
    assert!(!cal.is_working_day(d("2026-10-11")));
    // Friday 18 September + 1 working day = Sunday 20 September (调休).
    assert_eq!(cal.add_working_days(d("2026-09-18"), 1), d("2026-09-20"));
    // Monday 28 September + 3 = 8 October (the holiday in between); + 5 = Saturday 10 October.
    assert_eq!(cal.add_working_days(d("2026-09-28"), 3), d("2026-10-08"));
    assert_eq!(cal.add_working_days(d("2026-09-28"), 5), d("2026-10-10"));
    // Without the calendar the same limit would end on 1 October.
    assert_eq!(
        HolidayCalendar::weekends_only().add_working_days(d("2026-09-28"), 3),
        d("2026-10-01")
    );
    // 即办件: the day of receipt.
    assert_eq!(cal.add_working_days(d("2026-09-28"), 0), d("2026-09-28"));
    let due = cases::deadline(&cal, d("2026-09-28"), 3, 5, None, d("2026-10-07"));
    assert_eq!(due.state, cases::DeadlineState::DueSoon);
    assert_eq!(
        cases::deadline(&cal, d("2026-09-28"), 3, 5, None, d("2026-10-09")).state,
        cases::DeadlineState::Overdue
    );
    assert_eq!(
        cases::deadline(
            &cal,
            d("2026-09-28"),
            3,
            5,
            Some(d("2026-10-09")),
            d("2026-10-20")
        )
        .state,
        cases::DeadlineState::FinishedLate
    );
    assert_eq!(
        cases::deadline(&cal, d("2026-09-28"), 3, 5, None, d("2026-09-28")).state,
        cases::DeadlineState::Open
    );
}

/// The shipped calendar is the State Council's 2026 arrangement (国办发明电〔2025〕7号, 2025-11-04):
/// every day of 2026 whose kind differs from the plain weekday rule is exactly one of these.
#[test]
fn the_shipped_2026_calendar_is_the_state_councils_notice() {
    const OFF: &[(&str, &str)] = &[
        ("元旦", "2026-01-01..2026-01-03"),
        ("春节", "2026-02-15..2026-02-23"),
        ("清明节", "2026-04-04..2026-04-06"),
        ("劳动节", "2026-05-01..2026-05-05"),
        ("端午节", "2026-06-19..2026-06-21"),
        ("中秋节", "2026-09-25..2026-09-27"),
        ("国庆节", "2026-10-01..2026-10-07"),
    ];
    // 调休上班: the weekends that are working days.
    const WORK: &[&str] = &[
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ];
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/holidays-2026.txt"),
    )
    .unwrap();
    assert!(
        text.contains("国办发明电〔2025〕7号"),
        "the file cites its source"
    );
    let cal = HolidayCalendar::parse(&text).unwrap();
    let mut off = std::collections::BTreeSet::new();
    for (_, range) in OFF {
        let (from, to) = range.split_once("..").unwrap();
        let mut day = d(from);
        while day <= d(to) {
            off.insert(day);
            day = day.succ_opt().unwrap();
        }
    }
    assert_eq!(off.len(), 33, "3 + 9 + 3 + 5 + 3 + 3 + 7 days off");
    let work: std::collections::BTreeSet<NaiveDate> = WORK.iter().map(|s| d(s)).collect();
    let (mut seen_off, mut seen_work) = (Vec::new(), Vec::new());
    let mut day = d("2026-01-01");
    while day <= d("2026-12-31") {
        let weekend = matches!(
            chrono::Datelike::weekday(&day),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let working = cal.is_working_day(day);
        assert_eq!(
            working,
            if off.contains(&day) {
                false
            } else if work.contains(&day) {
                true
            } else {
                !weekend
            },
            "{day}"
        );
        if off.contains(&day) {
            seen_off.push(day);
        }
        if work.contains(&day) {
            assert!(weekend, "{day}: an adjusted working day is a weekend");
            seen_work.push(day);
        }
        day = day.succ_opt().unwrap();
    }
    assert_eq!(seen_off.len(), 33);
    assert_eq!(seen_work.len(), 6);
    // Nothing else is listed: 33 + 6 lines, none for 2025 or 2027.
    assert_eq!(cal.len(), 39);
}

#[test]
fn a_holiday_file_with_a_bad_date_is_refused_with_its_line() {
    let bad = "# 2026\n2026-10-01 off\n2026-13-01 off 国庆\n";
    assert_eq!(
        HolidayCalendar::parse(bad),
        Err(CalendarError::BadDate {
            line: 3,
            value: "2026-13-01".into()
        })
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("holidays.txt");
    std::fs::write(&file, bad).unwrap();
    let db = dir.path().join("county.sqlite3");
    let out = backoffice(
        &[
            "report",
            "--db",
            db.to_str().unwrap(),
            "--holidays",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("holidays.txt"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("2026-13-01"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // `serve` refuses it before listening.
    let out = backoffice(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--demo-token",
            "t",
            "--holidays",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("line 3"));
}

fn db_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_routes_audits_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let bo = EmbeddedBackoffice::start(&db).unwrap();
    let pension = submit(&bo, "ST-A", "k1", "SB-001", "城乡居民基本养老保险参保登记").await;
    let dibao = submit(&bo, "ST-A", "k2", "MZ-001", "最低生活保障申请").await;
    drop(bo);
    let db = db_arg(&db);

    // Operators: a clerk needs a known department; the password comes from stdin.
    let out = backoffice(
        &[
            "operator",
            "add",
            "--db",
            db,
            "hr",
            "--role",
            "clerk",
            "--department",
            "示范县人力资源和社会保障局",
        ],
        Some("correct horse battery\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = backoffice(
        &[
            "operator",
            "add",
            "--db",
            db,
            "xx",
            "--role",
            "clerk",
            "--department",
            "示范县不存在局",
        ],
        Some("correct horse battery\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown department"));
    let out = backoffice(
        &[
            "operator",
            "add",
            "--db",
            db,
            "weak",
            "--role",
            "supervisor",
        ],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 10"));
    let out = backoffice(&["operator", "list", "--db", db], None);
    let list = text(&out.stdout);
    assert!(
        list.contains("hr") && list.contains("clerk") && list.contains("active"),
        "{list}"
    );
    // Only the hash is stored, salted.
    let conn = rusqlite::Connection::open(db).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM staff_operators WHERE username = 'hr'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    // case list --department.
    let out = backoffice(
        &["case", "list", "--db", db, "--department", "示范县民政局"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains(&dibao) && !listed.contains(&pension),
        "{listed}"
    );
    let out = backoffice(
        &["case", "list", "--db", db, "--department", "示范县不存在局"],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown department \"示范县不存在局\""),
        "{err}"
    );
    assert!(
        err.contains("示范县民政局"),
        "the known ones are named: {err}"
    );

    // A clerk of another department cannot advance this case from the command line either.
    let out = backoffice(
        &[
            "case",
            "advance",
            &dibao,
            "--to",
            "accepted",
            "--db",
            db,
            "--operator",
            "hr",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("may not act"));
    let out = backoffice(
        &[
            "case",
            "advance",
            &pension,
            "--to",
            "accepted",
            "--db",
            db,
            "--operator",
            "hr",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = backoffice(&["case", "show", &pension, "--db", db], None);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("department 示范县人力资源和社会保障局"),
        "{shown}"
    );
    assert!(shown.contains("(promised, 3 working days)"), "{shown}");
    assert!(
        shown.contains("hr") && shown.contains("received -> accepted"),
        "{shown}"
    );

    // Disabled operators cannot act.
    let out = backoffice(&["operator", "disable", "--db", db, "hr"], None);
    assert!(out.status.success());
    let out = backoffice(
        &[
            "case",
            "advance",
            &pension,
            "--to",
            "in_review",
            "--db",
            db,
            "--operator",
            "hr",
        ],
        None,
    );
    assert!(!out.status.success());
    let conn_db = village_kiosk::backoffice::Db::open(Path::new(db)).unwrap();
    assert!(operators::get(&conn_db, "hr").unwrap().unwrap().disabled);

    // The report, CSV and HTML.
    let out = backoffice(&["report", "--db", db, "--format", "csv"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv_text = text(&out.stdout);
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let station = rows.iter().find(|r| &r[0] == "station").unwrap();
    assert_eq!(&station[1], "ST-A");
    assert_eq!(&station[2], "2");
    assert_eq!(rows.iter().filter(|r| &r[0] == "department").count(), 2);
    let out = backoffice(&["report", "--db", db, "--format", "html"], None);
    assert!(text(&out.stdout).contains("<td>示范县民政局</td><td>1</td>"));
    let out = backoffice(&["report", "--db", db, "--from", "2026-02-30"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not a date"));
}

#[test]
fn plain_http_staff_pages_are_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let out = backoffice(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--staff-listen",
            "0.0.0.0:0",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--staff-tls-cert"), "{err}");
}
