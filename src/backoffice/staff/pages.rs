//! The staff web pages (工作人员页面) under `/staff/...`, on the staff listener
//! (`serve --staff-listen`), never on the stations' mutual-TLS port.
//!
//! `/staff/login` is open; every other page is behind one guard ([`protected`]): a session
//! cookie (`HttpOnly`, `SameSite=Strict`, `Path=/staff`, `Secure` when the listener has TLS)
//! that names a live session of an enabled operator. Every POST carries the session's CSRF
//! token in a `csrf` field. A clerk sees only the cases of their department. To add a staff
//! page, add its route in [`protected`].
//!
//! The login form has its own CSRF token (no session exists yet): `GET /staff/login` sets it in
//! a cookie only that path receives and in the form (double submit); a POST whose field and
//! cookie differ is refused with 403. Login attempts are limited per client address
//! ([`LOGIN_ATTEMPTS_PER_WINDOW`] per [`LOGIN_WINDOW`], on the injected clock): the next one
//! gets 429 with `Retry-After`, whatever the account, beside the per-account lockout.
//!
//! The station ledger (`/staff/ledger`, [`crate::backoffice::ledger`]) is a supervisors' page
//! here, with each station's update state beside its health.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::operators::{self, Role, Session};
use super::{Clock, HolidayCalendar, Routes, StaffError, cases, county_day, followup, report};
use crate::backoffice::http::PeerInfo;
use crate::backoffice::{Db, DbError};
use crate::county::wire::CaseStatus;

/// The session cookie's name.
pub const COOKIE: &str = "staff_session";

/// What the staff pages need.
#[derive(Clone)]
pub(crate) struct StaffState {
    pub db: Arc<crate::backoffice::DbPool>,
    pub clock: Arc<dyn Clock>,
    pub holidays: Arc<HolidayCalendar>,
    pub routes: Arc<Routes>,
    /// Whether the listener has TLS (cookies get `Secure`).
    pub secure: bool,
    /// Login attempts per client address (the per-IP rate limit).
    pub login_limiter: Arc<Mutex<LoginLimiter>>,
    /// A station is offline in the ledger when unseen this long (`serve --offline-after-mins`).
    pub offline_after: std::time::Duration,
}

/// Login attempts allowed per client address per [`LOGIN_WINDOW`], whatever the account (the
/// per-account lockout is [`operators::MAX_FAILED_LOGINS`]).
pub const LOGIN_ATTEMPTS_PER_WINDOW: usize = 10;
/// The window of [`LOGIN_ATTEMPTS_PER_WINDOW`].
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// The login form's double-submit CSRF cookie (set on `GET /staff/login`).
pub const LOGIN_CSRF_COOKIE: &str = "staff_login_csrf";

/// A sliding-window count of login attempts per client address (in memory: a restart forgets
/// it, which only gives an attacker one more window).
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter {
    attempts:
        std::collections::HashMap<std::net::IpAddr, std::collections::VecDeque<DateTime<Utc>>>,
}

impl LoginLimiter {
    /// Records an attempt from `ip` at `now`: `Ok` when it is within the limit, else the
    /// seconds until the next attempt is allowed (the refused attempt is not counted).
    pub(crate) fn attempt(&mut self, ip: std::net::IpAddr, now: DateTime<Utc>) -> Result<(), u64> {
        let window = chrono::Duration::from_std(LOGIN_WINDOW).unwrap_or(chrono::Duration::MAX);
        if self.attempts.len() > 10_000 {
            self.attempts
                .retain(|_, q| q.back().is_some_and(|t| *t + window > now));
        }
        let q = self.attempts.entry(ip).or_default();
        while q.front().is_some_and(|t| *t + window <= now) {
            q.pop_front();
        }
        if q.len() >= LOGIN_ATTEMPTS_PER_WINDOW {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + window - now).num_milliseconds().max(0);
            return Err(u64::try_from(wait).unwrap_or(0).div_ceil(1000).max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

impl StaffState {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

async fn with_db<T: Send + 'static>(
    state: &StaffState,
    f: impl FnOnce(&mut Db) -> Result<T, StaffError> + Send + 'static,
) -> Result<T, StaffError> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = db.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .unwrap_or_else(|e| Err(StaffError::Db(DbError::Worker(e.to_string()))))
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percent-encodes a path segment.
pub(crate) fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn page(title: &str, session: Option<&Session>, body: &str) -> String {
    let who = session
        .map(|s| {
            format!(
                "<p>{} ({}{}) <form method=\"post\" action=\"/staff/logout\" style=\"display:inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>退出 Log out</button></form></p>",
                esc(&s.operator.display_name),
                match &s.operator.role {
                    Role::Clerk { .. } => "部门经办人 ",
                    Role::Supervisor => "县级督办人",
                },
                esc(s.operator.role.department().unwrap_or("")),
                esc(&s.csrf_token)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><nav><a href=\"/staff/\">首页</a> · <a href=\"/staff/deadlines\">督办 Deadlines</a> · \
         <a href=\"/staff/followups\">差评整改 Follow-ups</a> · <a href=\"/staff/report\">通报 Report</a> · \
         <a href=\"/staff/ledger\">站点台账 Ledger</a></nav>\
         {who}<h1>{}</h1>{body}</body></html>\n",
        esc(title),
        esc(title)
    )
}

fn error_page(status: StatusCode, session: Option<&Session>, zh: &str) -> Response {
    (
        status,
        Html(page(
            "出错了",
            session,
            &format!("<p class=\"error\">{}</p>", esc(zh)),
        )),
    )
        .into_response()
}

/// The plain-Chinese words for a staff error, and its HTTP status.
fn explain(e: &StaffError) -> (StatusCode, &'static str) {
    match e {
        StaffError::Forbidden { .. } => (StatusCode::FORBIDDEN, "无权查看或办理其他部门的办件。"),
        StaffError::Db(DbError::NoCase(_)) => (StatusCode::NOT_FOUND, "没有这个办件。"),
        StaffError::Db(DbError::BadTransition { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "办件当前的状态不能转到所选状态。",
        ),
        StaffError::Db(DbError::NoteRequired(..)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "请填写说明：不予受理/不予批准要写原因，待领取要写领取窗口；填了英文说明也要填中文说明。",
        ),
        StaffError::NoteRequired => (StatusCode::UNPROCESSABLE_ENTITY, "请填写整改说明后再关闭。"),
        StaffError::FollowUpClosed(_) => (StatusCode::CONFLICT, "这条整改任务已经关闭。"),
        StaffError::NoFollowUp(_) => (StatusCode::NOT_FOUND, "没有这条整改任务。"),
        StaffError::UnknownDepartment { .. } => (StatusCode::NOT_FOUND, "没有这个部门。"),
        StaffError::Period(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "统计期间不对：开始日期不能晚于结束日期，日期写成 2026-10-01。",
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "系统出错，请稍后再试。"),
    }
}

fn fail(e: StaffError, session: Option<&Session>) -> Response {
    let (status, zh) = explain(&e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "staff page failed");
    } else {
        tracing::info!(error = %e, "staff request refused");
    }
    error_page(status, session, zh)
}

/// The staff router: the login page, and every other page behind the session guard.
pub(crate) fn router(state: StaffState) -> Router {
    let open = Router::new()
        .route("/staff/login", get(login_form).post(login))
        .with_state(state.clone());
    open.merge(protected(state))
}

/// Every page behind the login guard. Add new staff pages here.
fn protected(state: StaffState) -> Router {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/", get(home))
        .route("/staff/logout", post(logout))
        .route("/staff/departments/{department}", get(department_page))
        .route("/staff/cases/{case_number}", get(case_page))
        .route("/staff/cases/{case_number}/advance", post(advance))
        .route("/staff/deadlines", get(deadlines_page))
        .route("/staff/followups", get(followups_page))
        .route("/staff/followups/{id}/close", post(close_followup))
        .route("/staff/report", get(report_page))
        .route("/staff/report.csv", get(report_csv))
        .route("/staff/ledger", get(ledger_page))
        .route("/staff/ledger/screenshots/{id}", get(ledger_screenshot))
        .route("/staff/ledger/{station}/request", post(ledger_request))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    named_cookie(headers, COOKIE)
}

async fn guard(State(state): State<StaffState>, mut req: Request, next: Next) -> Response {
    let Some(token) = cookie_token(req.headers()) else {
        return Redirect::to("/staff/login").into_response();
    };
    let now = state.now();
    match with_db(&state, move |db| operators::session(db, &token, now)).await {
        Ok(Some(session)) => {
            req.extensions_mut().insert(session);
            next.run(req).await
        }
        Ok(None) => Redirect::to("/staff/login").into_response(),
        Err(e) => fail(e, None),
    }
}

fn csrf_ok(session: &Session, given: &str) -> bool {
    same_secret(&session.csrf_token, given)
}

fn csrf_refused(session: &Session) -> Response {
    tracing::warn!(operator = %session.operator.username, "staff POST without a valid CSRF token");
    error_page(
        StatusCode::FORBIDDEN,
        Some(session),
        "页面已过期，请返回刷新后再提交。",
    )
}

fn login_html(message: Option<&str>, csrf: &str) -> String {
    let msg = message
        .map(|m| format!("<p class=\"error\">{}</p>", esc(m)))
        .unwrap_or_default();
    page(
        "工作人员登录 Staff login",
        None,
        &format!(
            "{msg}<form method=\"post\" action=\"/staff/login\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>用户名 <input name=\"username\" autocomplete=\"username\"></label><br>\
             <label>密码 <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label><br>\
             <button>登录 Log in</button></form>",
            esc(csrf)
        ),
    )
}

/// The login page with a fresh form token, set both in the form and in a cookie only this
/// path receives (double submit: a cross-site page can post the form but cannot read or set
/// the cookie).
fn login_page(state: &StaffState, status: StatusCode, message: Option<&str>) -> Response {
    let csrf = hex::encode(rand::random::<[u8; 32]>());
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={csrf}; Path=/staff/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if state.secure { "; Secure" } else { "" }
    );
    let mut r = (status, Html(login_html(message, &csrf))).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login_form(State(state): State<StaffState>) -> Response {
    login_page(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
}

fn named_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn login(
    State(state): State<StaffState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = state.now();
    let ip = peer.addr.ip();
    let limited = state
        .login_limiter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .attempt(ip, now);
    if let Err(retry_after) = limited {
        tracing::warn!(%ip, retry_after, "staff login attempts over the per-IP limit");
        let mut r = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!("登录尝试过于频繁，请 {retry_after} 秒后再试。")),
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let cookie = named_cookie(&headers, LOGIN_CSRF_COOKIE);
    if !cookie.is_some_and(|c| !form.csrf.is_empty() && same_secret(&c, &form.csrf)) {
        tracing::warn!(%ip, "staff login POST without the login form's CSRF token");
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("登录页已过期或不是从本系统打开的，请在这个页面重新输入用户名和密码。"),
        );
    }
    let username = form.username.trim().to_string();
    let result = with_db(&state, move |db| {
        operators::login(db, &username, &form.password, now)
    })
    .await;
    match result {
        Ok((token, _)) => {
            let cookie = format!(
                "{COOKIE}={token}; Path=/staff; HttpOnly; SameSite=Strict; Max-Age={}{}",
                operators::SESSION_TTL.num_seconds(),
                if state.secure { "; Secure" } else { "" }
            );
            let mut r = Redirect::to("/staff/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(StaffError::BadLogin) => {
            login_page(&state, StatusCode::UNAUTHORIZED, Some("用户名或密码不对。"))
        }
        Err(StaffError::Locked { .. }) => login_page(
            &state,
            StatusCode::LOCKED,
            Some("密码连续输错次数太多，账号已暂时锁定，请 15 分钟后再试。"),
        ),
        Err(StaffError::Disabled(_)) => login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("这个账号已停用，请联系管理员。"),
        ),
        Err(e) => fail(e, None),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&session, &form.csrf) {
        return csrf_refused(&session);
    }
    if let Some(token) = cookie_token(&headers) {
        let _ = with_db(&state, move |db| operators::logout(db, &token)).await;
    }
    let mut r = Redirect::to("/staff/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "staff_session=; Path=/staff; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

async fn home(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    if let Some(d) = session.operator.role.department() {
        return Redirect::to(&format!("/staff/departments/{}", pct(d))).into_response();
    }
    let routes = state.routes.clone();
    let now = state.now();
    let holidays = state.holidays.clone();
    let result = with_db(&state, move |db| {
        let mut lines = Vec::new();
        for d in cases::known_departments(db, &routes)? {
            let rows = cases::rows(db, Some(&d))?;
            let overdue = rows
                .iter()
                .filter(|r| r.deadline(&holidays, now).state == cases::DeadlineState::Overdue)
                .count();
            lines.push((d, rows.len(), overdue));
        }
        Ok(lines)
    })
    .await;
    match result {
        Ok(lines) => {
            let mut body = String::from(
                "<table border=\"1\" cellpadding=\"4\"><thead><tr><th>部门 Department</th>\
                 <th>办件 Cases</th><th>已超期 Overdue</th></tr></thead><tbody>",
            );
            for (d, n, o) in lines {
                body.push_str(&format!(
                    "<tr><td><a href=\"/staff/departments/{}\">{}</a></td><td>{n}</td><td>{o}</td></tr>",
                    pct(&d),
                    esc(&d)
                ));
            }
            body.push_str("</tbody></table>");
            Html(page("各部门办件 Departments", Some(&session), &body)).into_response()
        }
        Err(e) => fail(e, Some(&session)),
    }
}

fn case_table(rows: &[(cases::CaseRow, cases::Deadline)]) -> String {
    let mut t = String::from(
        "<table border=\"1\" cellpadding=\"4\"><thead><tr><th>办件编号 Case</th><th>事项 Item</th>\
         <th>站点 Station</th><th>状态 Status</th><th>受理日 Received</th><th>承诺办结日 Due</th>\
         <th>法定办结日 Legal due</th><th>时限 Deadline</th></tr></thead><tbody>",
    );
    for (r, d) in rows {
        t.push_str(&format!(
            "<tr class=\"{}\"><td><a href=\"/staff/cases/{}\">{}</a></td><td>{} {}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.state.as_str(),
            pct(&r.case_number),
            esc(&r.case_number),
            esc(&r.item_code),
            esc(&r.item_name),
            esc(&r.station_id),
            r.status.label_zh(),
            d.received_day,
            d.promised_due,
            d.legal_due,
            d.state.label_zh()
        ));
    }
    t.push_str("</tbody></table>");
    t
}

async fn department_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(department): Path<String>,
) -> Response {
    if !session.operator.role.may_see(&department) {
        return fail(
            StaffError::Forbidden {
                operator: session.operator.username.clone(),
                department,
            },
            Some(&session),
        );
    }
    let (routes, holidays, now) = (state.routes.clone(), state.holidays.clone(), state.now());
    let dept = department.clone();
    let result = with_db(&state, move |db| {
        cases::check_department(db, &routes, &dept)?;
        Ok(cases::rows(db, Some(&dept))?
            .into_iter()
            .map(|r| {
                let d = r.deadline(&holidays, now);
                (r, d)
            })
            .collect::<Vec<_>>())
    })
    .await;
    match result {
        Ok(rows) => Html(page(
            &format!("{department} 办件"),
            Some(&session),
            &case_table(&rows),
        ))
        .into_response(),
        Err(e) => fail(e, Some(&session)),
    }
}

async fn case_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(case_number): Path<String>,
) -> Response {
    let (holidays, now) = (state.holidays.clone(), state.now());
    let role = session.operator.role.clone();
    let who = session.operator.username.clone();
    let number = case_number.clone();
    let result = with_db(&state, move |db| {
        let row = cases::row(db, &number)?.ok_or_else(|| DbError::NoCase(number.clone()))?;
        if !role.may_see(&row.department) {
            return Err(StaffError::Forbidden {
                operator: who,
                department: row.department,
            });
        }
        let view = db
            .case(&number)?
            .map(|(v, _, _)| v)
            .ok_or_else(|| DbError::NoCase(number.clone()))?;
        let audit = cases::audit(db, &number)?;
        let deadline = row.deadline(&holidays, now);
        Ok((row, view, audit, deadline))
    })
    .await;
    let (row, view, audit, deadline) = match result {
        Ok(v) => v,
        Err(e) => return fail(e, Some(&session)),
    };
    let mut body = format!(
        "<dl><dt>事项 Item</dt><dd>{} {}</dd><dt>部门 Department</dt><dd>{}</dd>\
         <dt>申请人 Applicant</dt><dd>{}</dd><dt>站点 Station</dt><dd>{}</dd>\
         <dt>状态 Status</dt><dd id=\"status\">{} ({})</dd>\
         <dt>受理日 Received</dt><dd>{}</dd>\
         <dt>承诺办结日 Due</dt><dd id=\"due\">{} ({} 个工作日)</dd>\
         <dt>法定办结日 Legal due</dt><dd>{} ({} 个工作日)</dd>\
         <dt>时限 Deadline</dt><dd id=\"deadline\">{}</dd></dl>",
        esc(&view.item_code),
        esc(&view.item_name),
        esc(&row.department),
        esc(&view.applicant_name_masked),
        esc(&view.station_id),
        view.status.label_zh(),
        view.status.as_str(),
        deadline.received_day,
        deadline.promised_due,
        row.promised_days,
        deadline.legal_due,
        row.legal_days,
        deadline.state.label_zh()
    );
    body.push_str(
        "<h2>操作记录 Audit log</h2><table border=\"1\" cellpadding=\"4\" id=\"audit\"><thead><tr>\
         <th>时间 (UTC)</th><th>操作人 Operator</th><th>从 From</th><th>到 To</th><th>说明 Note</th>\
         </tr></thead><tbody>",
    );
    for a in &audit {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.at.format("%Y-%m-%d %H:%M:%S"),
            esc(&a.actor),
            a.from.as_str(),
            a.to.as_str(),
            esc(a.note.as_deref().unwrap_or(""))
        ));
    }
    body.push_str("</tbody></table>");
    let next: Vec<CaseStatus> = CaseStatus::ALL
        .into_iter()
        .filter(|s| view.status.may_advance_to(*s))
        .collect();
    if !next.is_empty() {
        body.push_str(&format!(
            "<h2>办理 Advance</h2><form method=\"post\" action=\"/staff/cases/{}/advance\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><select name=\"to\">",
            pct(&view.case_number),
            esc(&session.csrf_token)
        ));
        for s in next {
            body.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                s.as_str(),
                s.label_zh()
            ));
        }
        body.push_str(
            "</select> <label>说明 Note <input name=\"note\"></label> \
             <label>英文说明 Note in English <input name=\"note_en\" lang=\"en\"></label> \
             <button>提交</button></form>",
        );
    }
    Html(page(
        &format!("办件 {}", view.case_number),
        Some(&session),
        &body,
    ))
    .into_response()
}

#[derive(Deserialize)]
struct AdvanceForm {
    csrf: String,
    to: String,
    #[serde(default)]
    note: String,
    /// The note's English form, shown in the kiosk's English UI (`case advance --note-en`).
    #[serde(default)]
    note_en: String,
}

async fn advance(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(case_number): Path<String>,
    Form(form): Form<AdvanceForm>,
) -> Response {
    if !csrf_ok(&session, &form.csrf) {
        return csrf_refused(&session);
    }
    let Ok(to) = form.to.parse::<CaseStatus>() else {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&session),
            "请选择要转到的状态。",
        );
    };
    let now = state.now();
    let operator = session.operator.clone();
    let number = case_number.clone();
    let result = with_db(&state, move |db| {
        let given = |n: &str| Some(n.to_string()).filter(|n| !n.trim().is_empty());
        let (note, note_en) = (given(&form.note), given(&form.note_en));
        cases::change_status(
            db,
            &operator,
            &number,
            to,
            note.as_deref(),
            note_en.as_deref(),
            now,
        )
    })
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/staff/cases/{}", pct(&case_number))).into_response(),
        Err(e) => fail(e, Some(&session)),
    }
}

async fn deadlines_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    let (holidays, now) = (state.holidays.clone(), state.now());
    let department = session.operator.role.department().map(str::to_string);
    let result = with_db(&state, move |db| {
        cases::deadline_lists(db, &holidays, department.as_deref(), now)
    })
    .await;
    match result {
        Ok((overdue, soon)) => Html(page(
            "督办 Deadlines",
            Some(&session),
            &format!(
                "<h2 id=\"overdue\">已超期 Overdue ({})</h2>{}<h2 id=\"due-soon\">2 个工作日内到期 Due within 2 working days ({})</h2>{}",
                overdue.len(),
                case_table(&overdue),
                soon.len(),
                case_table(&soon)
            ),
        ))
        .into_response(),
        Err(e) => fail(e, Some(&session)),
    }
}

async fn followups_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    let now = state.now();
    let department = session.operator.role.department().map(str::to_string);
    let result = with_db(&state, move |db| {
        followup::list(db, department.as_deref(), now)
    })
    .await;
    let tasks = match result {
        Ok(t) => t,
        Err(e) => return fail(e, Some(&session)),
    };
    let mut body = String::from(
        "<table border=\"1\" cellpadding=\"4\"><thead><tr><th>编号 Id</th><th>办件 Case</th>\
         <th>部门 Department</th><th>评价 Rating</th><th>意见 Comment</th><th>状态 State</th>\
         <th>整改说明 Note</th></tr></thead><tbody>",
    );
    for t in &tasks {
        let state_cell = if t.is_open() {
            format!(
                "待整改 open<form method=\"post\" action=\"/staff/followups/{}/close\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input name=\"note\">\
                 <button>关闭 Close</button></form>",
                t.id,
                esc(&session.csrf_token)
            )
        } else {
            format!(
                "已整改 closed {} {}",
                esc(t.closed_by.as_deref().unwrap_or("")),
                t.closed_at
                    .map(|c| c.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            )
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.id,
            esc(&t.case_number),
            esc(&t.department),
            t.level,
            esc(t.comment.as_deref().unwrap_or("")),
            state_cell,
            esc(t.note.as_deref().unwrap_or(""))
        ));
    }
    body.push_str("</tbody></table>");
    Html(page("差评整改 Follow-ups", Some(&session), &body)).into_response()
}

#[derive(Deserialize)]
struct CloseForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn close_followup(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(id): Path<i64>,
    Form(form): Form<CloseForm>,
) -> Response {
    if !csrf_ok(&session, &form.csrf) {
        return csrf_refused(&session);
    }
    let now = state.now();
    let operator = session.operator.clone();
    match with_db(&state, move |db| {
        followup::close(db, &operator, id, &form.note, now)
    })
    .await
    {
        Ok(_) => Redirect::to("/staff/followups").into_response(),
        Err(e) => fail(e, Some(&session)),
    }
}

#[derive(Deserialize)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The report period: `from`/`to` as YYYY-MM-DD, default the current month up to today.
pub(crate) fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(NaiveDate, NaiveDate), StaffError> {
    let parse = |s: &str, name: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            StaffError::Period(format!("--{name} {s:?} is not a date; write YYYY-MM-DD"))
        })
    };
    let today = county_day(now);
    let to = to.map(|s| parse(s, "to")).transpose()?.unwrap_or(today);
    let from = match from {
        Some(s) => parse(s, "from")?,
        None => to.with_day0(0).unwrap_or(to),
    };
    Ok((from, to))
}

use chrono::Datelike;

async fn supervisor_report(
    state: &StaffState,
    session: &Session,
    q: PeriodQuery,
) -> Result<report::Report, Response> {
    if session.operator.role != Role::Supervisor {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            Some(session),
            "督办通报只对县级督办人开放。",
        ));
    }
    let now = state.now();
    let (from, to) =
        period(q.from.as_deref(), q.to.as_deref(), now).map_err(|e| fail(e, Some(session)))?;
    let holidays = state.holidays.clone();
    with_db(state, move |db| {
        followup::open_for_bad_ratings(db, now)?;
        report::build(db, &holidays, from, to, now)
    })
    .await
    .map_err(|e| fail(e, Some(session)))
}

async fn report_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Query(q): Query<PeriodQuery>,
) -> Response {
    match supervisor_report(&state, &session, q).await {
        Ok(r) => Html(r.to_html()).into_response(),
        Err(resp) => resp,
    }
}

async fn report_csv(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Query(q): Query<PeriodQuery>,
) -> Response {
    match supervisor_report(&state, &session, q).await {
        Ok(r) => match r.to_csv() {
            Ok(csv) => (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"report.csv\"",
                    ),
                ],
                csv,
            )
                .into_response(),
            Err(e) => fail(e, Some(&session)),
        },
        Err(resp) => resp,
    }
}

// ---------------------------------------------------------------------------------------------
// The station ledger (站点台账), for supervisors.

fn supervisors_only(session: &Session) -> Option<Response> {
    (session.operator.role != Role::Supervisor).then(|| {
        error_page(
            StatusCode::FORBIDDEN,
            Some(session),
            "站点台账只对县级督办人开放。",
        )
    })
}

async fn ledger_page(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    if let Some(refused) = supervisors_only(&session) {
        return refused;
    }
    let (now, offline_after) = (state.now(), state.offline_after);
    match with_db(&state, move |db| {
        Ok(crate::backoffice::ledger::ledger(db, now, offline_after)?)
    })
    .await
    {
        Ok(rows) => Html(page(
            "站点台账 Station ledger",
            Some(&session),
            &crate::backoffice::ledger::ledger_body(&rows, now, Some(&session.csrf_token)),
        ))
        .into_response(),
        Err(e) => fail(e, Some(&session)),
    }
}

async fn ledger_screenshot(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    if let Some(refused) = supervisors_only(&session) {
        return refused;
    }
    match with_db(&state, move |db| {
        Ok(crate::backoffice::ledger::screenshot(db, id)?)
    })
    .await
    {
        Ok(Some(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Ok(None) => error_page(StatusCode::NOT_FOUND, Some(&session), "没有这张截屏。"),
        Err(e) => fail(e, Some(&session)),
    }
}

#[derive(Deserialize)]
struct RequestForm {
    csrf: String,
    kind: String,
}

async fn ledger_request(
    State(state): State<StaffState>,
    axum::Extension(session): axum::Extension<Session>,
    Path(station): Path<String>,
    Form(form): Form<RequestForm>,
) -> Response {
    if let Some(refused) = supervisors_only(&session) {
        return refused;
    }
    if !csrf_ok(&session, &form.csrf) {
        return csrf_refused(&session);
    }
    use crate::county::wire::RemoteRequestKind;
    let kind = match form.kind.as_str() {
        "doctor" => RemoteRequestKind::Doctor,
        "screenshot" => RemoteRequestKind::Screenshot,
        _ => {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&session),
                "请选择远程体检或截屏。",
            );
        }
    };
    let now = state.now();
    let who = session.operator.username.clone();
    let result = with_db(&state, move |db| {
        Ok(crate::backoffice::ledger::request(db, &station, kind, now))
    })
    .await;
    match result {
        Ok(Ok(id)) => {
            tracing::info!(id, operator = %who, kind = kind.as_str(), "remote request queued from the ledger page");
            Redirect::to("/staff/ledger").into_response()
        }
        Ok(Err(crate::backoffice::ledger::LedgerError::UnknownStation(_))) => error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "台账里没有这个站点。",
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "remote request from the ledger page failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "系统出错，请稍后再试。",
            )
        }
        Err(e) => fail(e, Some(&session)),
    }
}
