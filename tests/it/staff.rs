//! Issue 13 parts 1 and 2 through the staff pages: a case submitted by a station is routed to
//! its item's department, clerks log in and see only their department, every status change is
//! audited with who and when, due dates count working days with the county's calendar (调休
//! included), a test clock makes the case overdue, the supervisor's report (HTML and CSV) counts
//! it, and a bad rating opens a follow-up that closes only with a note.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use village_kiosk::backoffice::staff::{
    self, HolidayCalendar, ManualClock, StaffOptions, cases, followup, operators,
};
use village_kiosk::backoffice::{Bundles, EmbeddedBackoffice, ServeConfig};
use village_kiosk::county::wire;

const HR: &str = "示范县人力资源和社会保障局";
const MZ: &str = "示范县民政局";
const PASSWORD: &str = "correct horse battery";

/// The 2026 National Day and Mid-Autumn arrangement: 9-20 (Sunday) and 10-10 (Saturday) are
/// working days, 10-01 to 10-07 are off.
pub const NATIONAL_DAY_2026: &str = "\
# 2026 国庆节、中秋节
2026-09-20 work 调休上班（星期日）
2026-10-01 off 国庆节
2026-10-02 off
2026-10-03 off
2026-10-04 off
2026-10-05 off
2026-10-06 off
2026-10-07 off
2026-10-10 work 调休上班（星期六）
";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Staffed {
    pub bo: EmbeddedBackoffice,
    pub clock: Arc<ManualClock>,
    pub _dir: tempfile::TempDir,
}

/// A demo back office with staff pages on a manual clock starting `start`.
pub fn start(start: &str) -> Staffed {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at(start)));
    let options = StaffOptions::plain(
        clock.clone(),
        HolidayCalendar::parse(NATIONAL_DAY_2026).unwrap(),
    );
    let bo = EmbeddedBackoffice::start_with_staff(
        ServeConfig::demo(dir.path().join("county.sqlite3"), "tok".into()),
        Bundles::demo().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        options,
    )
    .unwrap();
    Staffed {
        bo,
        clock,
        _dir: dir,
    }
}

/// Submits an application for `item` from `station`; returns the case number.
pub async fn submit(
    bo: &EmbeddedBackoffice,
    station: &str,
    key: &str,
    item: &str,
    name: &str,
) -> String {
    let mut body = crate::support::submission(&format!("CG-{key}"), "410329198001010043");
    body.item_code = item.into();
    body.item_name = name.into();
    crate::support::submit_created(bo, station, key, &body)
        .await
        .case_number
}

pub fn add_operators(bo: &EmbeddedBackoffice) {
    let db = bo.db().unwrap();
    let departments = vec![HR.to_string(), MZ.to_string()];
    let now = Utc::now();
    for (user, role) in [
        (
            "hr",
            operators::Role::Clerk {
                department: HR.into(),
            },
        ),
        (
            "mz",
            operators::Role::Clerk {
                department: MZ.into(),
            },
        ),
        ("boss", operators::Role::Supervisor),
    ] {
        operators::add(&db, user, user, role, PASSWORD, &departments, now).unwrap();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A logged-in browser: its session cookie.
pub struct Browser {
    base: String,
    cookie: String,
    http: reqwest::Client,
}

/// What `GET /staff/login` gives a browser: the form's CSRF token and its cookie
/// (`name=value`).
pub async fn login_form(base: &str) -> (String, String) {
    let r = client()
        .get(format!("{base}/staff/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.starts_with("staff_login_csrf="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let html = r.text().await.unwrap();
    let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    (html[start..start + 64].to_string(), cookie)
}

/// Posts the login form as a browser does: after opening it (its CSRF token and cookie).
pub async fn try_login(base: &str, user: &str, password: &str) -> reqwest::Response {
    let (csrf, cookie) = login_form(base).await;
    post_login(base, Some(&cookie), &csrf, user, password).await
}

pub async fn post_login(
    base: &str,
    cookie: Option<&str>,
    csrf: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{base}/staff/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("csrf", csrf),
            ("username", user),
            ("password", password),
        ]));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

pub async fn login(bo: &EmbeddedBackoffice, user: &str) -> Browser {
    let base = bo.staff_url().unwrap();
    let r = try_login(&base, user, PASSWORD).await;
    assert_eq!(r.status(), 303);
    let set = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/staff"), "{set}");
    // Plain HTTP (loopback): no Secure, or the browser would never send it back.
    assert!(!set.contains("Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    Browser {
        base,
        cookie,
        http: client(),
    }
}

fn pct(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// An `application/x-www-form-urlencoded` body, as a browser posts a form.
fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// The CSRF token the page at `path` puts in its forms.
    pub async fn csrf(&self, path: &str) -> String {
        let (status, html) = self.get(path).await;
        assert_eq!(status, 200, "{html}");
        let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[start..start + 64].to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_are_routed_and_clerks_see_only_their_department() {
    let s = start("2026-09-28T02:00:00Z");
    let pension = submit(
        &s.bo,
        "ST-A",
        "k1",
        "SB-001",
        "城乡居民基本养老保险参保登记",
    )
    .await;
    let dibao = submit(&s.bo, "ST-B", "k2", "MZ-001", "最低生活保障申请").await;
    let db = s.bo.db().unwrap();
    assert_eq!(cases::row(&db, &pension).unwrap().unwrap().department, HR);
    assert_eq!(cases::row(&db, &dibao).unwrap().unwrap().department, MZ);
    add_operators(&s.bo);

    // Not logged in: every staff page sends to the login.
    let anon = Browser {
        base: s.bo.staff_url().unwrap(),
        cookie: "staff_session=forged".into(),
        http: client(),
    };
    for path in [
        "/staff/",
        &format!("/staff/cases/{pension}"),
        "/staff/report.csv",
    ] {
        assert_eq!(anon.get(path).await.0, 303, "{path}");
    }
    // The staff pages are not on the stations' port.
    let r = client()
        .get(format!("{}/staff/login", s.bo.url()))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);

    let hr = login(&s.bo, "hr").await;
    let (status, _) = hr.get("/staff/").await;
    assert_eq!(status, 303, "a clerk's home is their department");
    let (status, page) = hr.get(&format!("/staff/departments/{}", pct(HR))).await;
    assert_eq!(status, 200);
    assert!(page.contains(&pension), "{page}");
    assert!(!page.contains(&dibao), "{page}");
    // Another department's list and case: refused, in plain Chinese.
    let (status, page) = hr.get(&format!("/staff/departments/{}", pct(MZ))).await;
    assert_eq!(status, 403);
    assert!(page.contains("无权"), "{page}");
    let (status, page) = hr.get(&format!("/staff/cases/{dibao}")).await;
    assert_eq!(status, 403);
    assert!(!page.contains("最低生活保障"), "{page}");
    // The report is the supervisor's.
    assert_eq!(hr.get("/staff/report").await.0, 403);
    // An unknown department.
    let boss = login(&s.bo, "boss").await;
    assert_eq!(
        boss.get(&format!("/staff/departments/{}", pct("示范县不存在局")))
            .await
            .0,
        404
    );
    let (status, home) = boss.get("/staff/").await;
    assert_eq!(status, 200);
    assert!(home.contains(HR) && home.contains(MZ), "{home}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_are_audited_and_need_the_csrf_token() {
    let s = start("2026-09-28T02:00:00Z");
    let case = submit(
        &s.bo,
        "ST-A",
        "k1",
        "SB-001",
        "城乡居民基本养老保险参保登记",
    )
    .await;
    let dibao = submit(&s.bo, "ST-B", "k2", "MZ-001", "最低生活保障申请").await;
    add_operators(&s.bo);
    let hr = login(&s.bo, "hr").await;
    let page = format!("/staff/cases/{case}");
    let csrf = hr.csrf(&page).await;
    let advance = format!("/staff/cases/{case}/advance");

    // No token, a wrong token: refused, nothing changes.
    assert_eq!(hr.post(&advance, &[("to", "accepted")]).await.0, 422);
    assert_eq!(
        hr.post(&advance, &[("csrf", &"0".repeat(64)), ("to", "accepted")])
            .await
            .0,
        403
    );
    assert!(cases::audit(&s.bo.db().unwrap(), &case).unwrap().is_empty());

    assert_eq!(
        hr.post(&advance, &[("csrf", &csrf), ("to", "accepted")])
            .await
            .0,
        303
    );
    s.clock.advance(Duration::from_secs(3600));
    // A rejection without a reason: a clear refusal.
    let (status, body) = hr
        .post(
            &advance,
            &[("csrf", &csrf), ("to", "rejected"), ("note", " ")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("原因"), "{body}");
    assert_eq!(
        hr.post(&advance, &[("csrf", &csrf), ("to", "in_review")])
            .await
            .0,
        303
    );
    // A clerk cannot move another department's case, even with a valid token.
    assert_eq!(
        hr.post(
            &format!("/staff/cases/{dibao}/advance"),
            &[("csrf", &csrf), ("to", "accepted")]
        )
        .await
        .0,
        403
    );

    let audit = cases::audit(&s.bo.db().unwrap(), &case).unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].actor, "hr");
    assert_eq!(audit[0].from, wire::CaseStatus::Received);
    assert_eq!(audit[0].to, wire::CaseStatus::Accepted);
    assert_eq!(audit[0].at, at("2026-09-28T02:00:00Z"));
    assert_eq!(audit[1].to, wire::CaseStatus::InReview);
    assert_eq!(audit[1].at, at("2026-09-28T03:00:00Z"));
    // The page shows who and when.
    let (_, html) = hr.get(&page).await;
    let table = &html[html.find("id=\"audit\"").unwrap()..];
    assert!(table.contains("2026-09-28 03:00:00"), "{table}");
    assert!(table.contains("<td>hr</td>"), "{table}");
    // The command-line path is audited too.
    s.bo.advance(&dibao, wire::CaseStatus::Accepted, None)
        .unwrap();
    assert_eq!(
        cases::audit(&s.bo.db().unwrap(), &dibao).unwrap()[0].actor,
        "cli"
    );

    // After logout the cookie is dead.
    assert_eq!(hr.post("/staff/logout", &[("csrf", &csrf)]).await.0, 303);
    assert_eq!(hr.get(&page).await.0, 303);
}

/// A pension case (人社, SB-001) from station ST-A and the 人社 clerk logged in.
async fn hr_with_a_pension_case() -> (Staffed, String, Browser) {
    let s = start("2026-09-28T02:00:00Z");
    let item = "城乡居民基本养老保险参保登记";
    let case = submit(&s.bo, "ST-A", "k1", "SB-001", item).await;
    add_operators(&s.bo);
    let hr = login(&s.bo, "hr").await;
    (s, case, hr)
}

/// The advance form carries the note's English form (`note_en`, as `case advance --note-en`): the
/// kiosk's English UI shows it; an English note without the Chinese it translates is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advance_form_takes_the_note_in_english() {
    let (s, case, hr) = hr_with_a_pension_case().await;
    let page = format!("/staff/cases/{case}");
    let (_, html) = hr.get(&page).await;
    assert!(html.contains("name=\"note_en\""), "{html}");
    let csrf = hr.csrf(&page).await;
    let advance = format!("/staff/cases/{case}/advance");

    let (status, body) = hr
        .post(
            &advance,
            &[
                ("csrf", &csrf),
                ("to", "accepted"),
                ("note", " "),
                ("note_en", "Accepted"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("英文说明也要填中文说明"), "{body}");
    let (view, _, _) = s.bo.db().unwrap().case(&case).unwrap().unwrap();
    assert_eq!(view.status, wire::CaseStatus::Received);

    let (status, body) = hr
        .post(
            &advance,
            &[
                ("csrf", &csrf),
                ("to", "rejected"),
                ("note", "缺少户口簿"),
                ("note_en", " Missing the household register "),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (view, _, _) = s.bo.db().unwrap().case(&case).unwrap().unwrap();
    assert_eq!(view.status, wire::CaseStatus::Rejected);
    assert_eq!(view.rejection_reason.as_deref(), Some("缺少户口簿"));
    assert_eq!(
        view.rejection_reason_en.as_deref(),
        Some("Missing the household register")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_lock_the_account_until_the_clock_passes() {
    let s = start("2026-09-28T02:00:00Z");
    add_operators(&s.bo);
    let base = s.bo.staff_url().unwrap();
    for _ in 0..operators::MAX_FAILED_LOGINS - 1 {
        assert_eq!(
            try_login(&base, "hr", "wrong password!").await.status(),
            401
        );
    }
    let r = try_login(&base, "hr", "wrong password!").await;
    assert_eq!(r.status(), 423);
    assert!(r.text().await.unwrap().contains("锁定"));
    // Locked: even the right password is refused.
    assert_eq!(try_login(&base, "hr", PASSWORD).await.status(), 423);
    // An unknown user gets the wrong-password answer.
    assert_eq!(try_login(&base, "nobody", PASSWORD).await.status(), 401);
    s.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(try_login(&base, "hr", PASSWORD).await.status(), 303);
    // A disabled account cannot log in, and its sessions end.
    let hr = login(&s.bo, "hr").await;
    operators::set_disabled(&s.bo.db().unwrap(), "hr", true).unwrap();
    assert_eq!(hr.get("/staff/deadlines").await.0, 303);
    assert_eq!(try_login(&base, "hr", PASSWORD).await.status(), 403);
}

/// Issue 13 item 2 leftovers: the login form's own CSRF token (double submit) and a per-address
/// limit on login attempts, independent of the per-account lockout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_needs_its_csrf_token_and_attempts_are_limited_per_address() {
    let s = start("2026-09-28T02:00:00Z");
    add_operators(&s.bo);
    let base = s.bo.staff_url().unwrap();
    let (csrf, cookie) = login_form(&base).await;
    // A cross-site form post: no cookie, or a token that is not the cookie's.
    let r = post_login(&base, None, &csrf, "hr", PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("登录页已过期"));
    let other = "0".repeat(64);
    let r = post_login(&base, Some(&cookie), &other, "hr", PASSWORD).await;
    assert_eq!(r.status(), 403);
    let r = post_login(&base, Some(&cookie), "", "hr", PASSWORD).await;
    assert_eq!(r.status(), 403);
    // The form's own token and cookie: logged in.
    let r = post_login(&base, Some(&cookie), &csrf, "hr", PASSWORD).await;
    assert_eq!(r.status(), 303);

    // 4 attempts so far from 127.0.0.1; 6 more wrong passwords spread over accounts (never 5 in
    // a row on one: no lockout) fill the minute's 10.
    for user in ["mz", "mz", "boss", "boss", "mz", "boss"] {
        assert_eq!(
            try_login(&base, user, "wrong password!").await.status(),
            401
        );
    }
    let r = try_login(&base, "boss", PASSWORD).await;
    assert_eq!(r.status(), 429, "the 11th attempt within a minute");
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.text().await.unwrap().contains("登录尝试过于频繁"));
    // The limit is per address, not per account: the right password does not pass either, and
    // no account is locked by it.
    assert_eq!(try_login(&base, "hr", PASSWORD).await.status(), 429);
    s.clock.advance(Duration::from_secs(61));
    assert_eq!(try_login(&base, "boss", PASSWORD).await.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_overdue_on_the_test_clock_and_the_report_counts_it() {
    // Monday 28 September 2026, 10:00 in the county.
    let s = start("2026-09-28T02:00:00Z");
    let case = submit(
        &s.bo,
        "ST-A",
        "k1",
        "SB-001",
        "城乡居民基本养老保险参保登记",
    )
    .await;
    let quick = submit(
        &s.bo,
        "ST-B",
        "k2",
        "SB-001",
        "城乡居民基本养老保险参保登记",
    )
    .await;
    add_operators(&s.bo);
    let boss = login(&s.bo, "boss").await;
    // 3 working days: 9-29, 9-30, then the holiday, then 10-08. Legal 5: 10-09 and the working
    // Saturday 10-10.
    let (_, html) = boss.get(&format!("/staff/cases/{case}")).await;
    assert!(
        html.contains("<dd id=\"due\">2026-10-08 (3 个工作日)"),
        "{html}"
    );
    assert!(html.contains("2026-10-10 (5 个工作日)"), "{html}");
    let (_, html) = boss.get("/staff/deadlines").await;
    assert!(html.contains("已超期 Overdue (0)"), "{html}");

    // The other case is finished on time on 9-29.
    s.clock.advance(Duration::from_secs(24 * 3600));
    for to in [
        wire::CaseStatus::Accepted,
        wire::CaseStatus::InReview,
        wire::CaseStatus::Approved,
    ] {
        s.bo.advance(&quick, to, None).unwrap();
    }
    // 10-07, a holiday: one working day left, due soon. The session of 9-28 has expired.
    s.clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(boss.get("/staff/deadlines").await.0, 303);
    let boss = login(&s.bo, "boss").await;
    let (_, html) = boss.get("/staff/deadlines").await;
    let soon = &html[html.find("id=\"due-soon\"").unwrap()..];
    assert!(soon.contains(&case), "{soon}");
    assert!(!soon.contains(&quick), "{soon}");
    // 10-09: overdue.
    s.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let boss = login(&s.bo, "boss").await;
    let (_, html) = boss.get("/staff/deadlines").await;
    let overdue =
        &html[html.find("id=\"overdue\"").unwrap()..html.find("id=\"due-soon\"").unwrap()];
    assert!(overdue.contains(&case), "{overdue}");
    assert!(overdue.contains("已超期 Overdue (1)"), "{overdue}");
    let db = s.bo.db().unwrap();
    let cal = HolidayCalendar::parse(NATIONAL_DAY_2026).unwrap();
    let row = cases::row(&db, &case).unwrap().unwrap();
    assert_eq!(
        row.deadline(&cal, s.clock_now()).state,
        cases::DeadlineState::Overdue
    );

    // A bad rating of the finished case.
    let eval = serde_json::to_string(&wire::Evaluation {
        case_number: quick.clone(),
        level: 2,
        comment: Some("等了很久".into()),
        evaluated_at: Utc::now(),
    })
    .unwrap();
    let r =
        s.bo.demo_client("ST-B")
            .unwrap()
            .evaluate_raw("e1", &eval)
            .await
            .unwrap();
    assert_eq!(r.status, 201);

    let (status, csv_text) = boss
        .get("/staff/report.csv?from=2026-09-01&to=2026-09-30")
        .await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        staff::report::CSV_HEADER
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let line = |scope: &str, name: &str| {
        rows.iter()
            .find(|r| &r[0] == scope && &r[1] == name)
            .unwrap_or_else(|| panic!("no {scope} {name} in {csv_text}"))
            .iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("department", HR),
        ["department", HR, "2", "1", "1", "1", "0", "1", "0.0"]
    );
    assert_eq!(
        line("station", "ST-A"),
        ["station", "ST-A", "1", "0", "1", "0", "0", "0", ""]
    );
    assert_eq!(
        line("station", "ST-B"),
        ["station", "ST-B", "1", "1", "0", "1", "0", "1", "0.0"]
    );
    // The same numbers on the HTML page.
    let (status, html) = boss
        .get("/staff/report?from=2026-09-01&to=2026-09-30")
        .await;
    assert_eq!(status, 200);
    let dept = &html[html.find("id=\"department\"").unwrap()..html.find("id=\"station\"").unwrap()];
    assert!(
        dept.contains(&format!(
            "<td>{HR}</td><td>2</td><td>1</td><td>1</td><td>1</td><td>0</td><td>1</td>"
        )),
        "{dept}"
    );
    // Another period has none of them; a reversed period is a clear error.
    let (_, empty) = boss
        .get("/staff/report.csv?from=2026-10-01&to=2026-10-31")
        .await;
    assert_eq!(empty.lines().count(), 1, "{empty}");
    let (status, body) = boss
        .get("/staff/report?from=2026-10-31&to=2026-10-01")
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("统计期间"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rating_opens_a_follow_up_closed_only_with_a_note() {
    let s = start("2026-09-28T02:00:00Z");
    let case = submit(
        &s.bo,
        "ST-A",
        "k1",
        "SB-001",
        "城乡居民基本养老保险参保登记",
    )
    .await;
    add_operators(&s.bo);
    let rate = |key: &'static str, level: u8| {
        let body = serde_json::to_string(&wire::Evaluation {
            case_number: case.clone(),
            level,
            comment: Some("态度不好".into()),
            evaluated_at: at("2026-09-28T03:00:00Z"),
        })
        .unwrap();
        let client = s.bo.demo_client("ST-A").unwrap();
        async move { client.evaluate_raw(key, &body).await.unwrap().status }
    };
    assert_eq!(rate("e-good", 5).await, 201);
    assert_eq!(rate("e-bad", 1).await, 201);
    // The same evaluation again (a retry) opens no second task.
    assert_eq!(rate("e-bad", 1).await, 201);
    let db = s.bo.db().unwrap();
    let tasks = followup::list(&db, None, Utc::now()).unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert!(task.is_open());
    assert_eq!(task.level, 1);
    assert_eq!(task.department, HR);

    // The other department's clerk neither sees nor closes it.
    let mz = login(&s.bo, "mz").await;
    let (_, page) = mz.get("/staff/followups").await;
    assert!(!page.contains(&case), "{page}");
    let csrf_mz = mz.csrf("/staff/followups").await;
    let close = format!("/staff/followups/{}/close", task.id);
    assert_eq!(
        mz.post(&close, &[("csrf", &csrf_mz), ("note", "看过了")])
            .await
            .0,
        403
    );

    let hr = login(&s.bo, "hr").await;
    let (_, page) = hr.get("/staff/followups").await;
    assert!(page.contains(&case) && page.contains("待整改"), "{page}");
    let csrf = hr.csrf("/staff/followups").await;
    let (status, body) = hr.post(&close, &[("csrf", &csrf), ("note", "  ")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("整改说明"), "{body}");
    assert_eq!(
        hr.post(&close, &[("csrf", &csrf), ("note", "已电话回访并致歉")])
            .await
            .0,
        303
    );
    assert_eq!(
        hr.post(&close, &[("csrf", &csrf), ("note", "again")])
            .await
            .0,
        409
    );
    let closed = followup::get(&db, task.id).unwrap().unwrap();
    assert_eq!(closed.closed_by.as_deref(), Some("hr"));
    assert_eq!(closed.note.as_deref(), Some("已电话回访并致歉"));
    assert_eq!(closed.closed_at, Some(at("2026-09-28T02:00:00Z")));
}

impl Staffed {
    fn clock_now(&self) -> DateTime<Utc> {
        use village_kiosk::backoffice::staff::Clock;
        self.clock.now()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_session_cookie_is_secure() {
    use village_kiosk::backoffice::certs;
    use village_kiosk::county::tls;
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::new_ca("Test County CA", 30).unwrap();
    let (ca_path, _) = certs::write_pair(dir.path(), "ca", &ca, false).unwrap();
    let server = certs::new_server(&ca, &ca_path, &["127.0.0.1".to_string()], 30).unwrap();
    let (cert, key) = certs::write_pair(dir.path(), "staff", &server, false).unwrap();
    let options = StaffOptions {
        tls: Some(staff::StaffTls { cert, key }),
        ..StaffOptions::default()
    };
    let bo = EmbeddedBackoffice::start_with_staff(
        ServeConfig::demo(dir.path().join("county.sqlite3"), "tok".into()),
        Bundles::demo().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        options,
    )
    .unwrap();
    add_operators(&bo);
    let base = bo.staff_url().unwrap();
    assert!(base.starts_with("https://"), "{base}");
    let cfg = tls::client_config(&tls::load_certs(&ca_path).unwrap(), None).unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The login form's CSRF cookie is Secure too.
    let form = http
        .get(format!("{base}/staff/login"))
        .send()
        .await
        .unwrap();
    let set = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("; Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let html = form.text().await.unwrap();
    let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[start..start + 64];
    let r = http
        .post(format!("{base}/staff/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(form_body(&[
            ("csrf", csrf),
            ("username", "boss"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(set.contains("; Secure"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
}
