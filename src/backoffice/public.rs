//! 办理进度公开页: the read-only progress page a phone opens from a receipt's QR code, on its
//! own listener (`serve --public-listen ADDR --public-url URL`): plain HTTPS with an ordinary
//! server certificate, no client certificates, never the stations' mutual-TLS port.
//!
//! A case gets an unguessable token when it is created ([`issue_token`], in the submission's
//! transaction); the kiosk gets it in the submit answer and prints `<public-url>/p/<token>`
//! (`wire::progress_url`). The page shows the item, the status timeline and where to collect,
//! and never the applicant's name, ID number, phone or a staff note (free text could hold
//! them). Requests are rate-limited per client address ([`RateLimit`], sans-IO), and an
//! unknown token gets byte for byte the answer an expired one gets.
//!
//! The page must never read anything but the case's item, status, timeline times and
//! collection window, and must never be served on the stations' listener.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sql::{Conn, OptionalExtension, params};
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::db::{Db, DbError, DbPool};
use super::http::PeerInfo;
use super::{BackofficeError, http};
use crate::county::tls;
use crate::county::wire::CaseStatus;

/// The progress tokens, one per case (portable SQL; applied when the database opens).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS progress_tokens (
    token       TEXT PRIMARY KEY,
    case_number TEXT NOT NULL UNIQUE,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
";

/// A token is valid this long after it was issued.
pub const TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(365);
/// ...and at most this long after its case reached a final status (rejected, collected).
pub const FINAL_GRACE: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// At most [`RATE_LIMIT`] page requests per client address in [`RATE_WINDOW`].
pub const RATE_LIMIT: usize = 20;
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The public listener's settings.
#[derive(Debug, Clone)]
pub struct PublicOptions {
    /// The base URL phones are given (`--public-url`); receipts print pages under it.
    pub url: String,
    /// The server certificate chain and key (PEM). `None` only in demo mode: plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The public page of one case: nothing personal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicCase {
    pub item_name: String,
    pub status: CaseStatus,
    /// (status, when) oldest first; staff notes are left out.
    pub timeline: Vec<(CaseStatus, DateTime<Utc>)>,
    /// 领取窗口, once ready for collection.
    pub collection_window: Option<String>,
}

/// A new token for `case_number` (32 hex digits from `random`), stored in `tx`.
pub fn issue_token(
    tx: &Conn,
    case_number: &str,
    now: DateTime<Utc>,
    random: [u8; 16],
) -> Result<String, DbError> {
    let token = hex::encode(random);
    tx.execute(
        "INSERT INTO progress_tokens (token, case_number, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![token, case_number, ts(now), ts(now + TOKEN_TTL)],
    )?;
    Ok(token)
}

/// The case behind `token` if the token is known and not expired at `now`; `None` otherwise
/// (the caller cannot tell unknown from expired, and neither can the phone).
pub fn lookup(db: &Db, token: &str, now: DateTime<Utc>) -> Result<Option<PublicCase>, DbError> {
    if !is_token(token) {
        return Ok(None);
    }
    let conn = db.conn();
    let row: Option<(String, String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT t.case_number, t.expires_at, c.item_name, c.status, c.collection_window
             FROM progress_tokens t JOIN cases c ON c.case_number = t.case_number
             WHERE t.token = ?1",
            params![token],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((case_number, expires_at, item_name, status, window)) = row else {
        return Ok(None);
    };
    if parse_ts(&expires_at).is_none_or(|e| e <= now) {
        return Ok(None);
    }
    let Ok(status) = status.parse::<CaseStatus>() else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT status, at FROM case_events WHERE case_number = ?1 ORDER BY at, id")?;
    let timeline: Vec<(CaseStatus, DateTime<Utc>)> = stmt
        .query_map(params![case_number], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(s, at)| Some((s.parse().ok()?, parse_ts(&at)?)))
        .collect();
    if status.is_final()
        && let Some((_, at)) = timeline.iter().rev().find(|(s, _)| *s == status)
        && *at + FINAL_GRACE <= now
    {
        return Ok(None);
    }
    Ok(Some(PublicCase {
        item_name,
        collection_window: window.filter(|_| status == CaseStatus::ReadyForCollection),
        status,
        timeline,
    }))
}

/// Per-address rate limit of the public page. Sans-IO: `now` is passed in.
#[derive(Debug)]
pub struct RateLimit {
    limit: usize,
    window: chrono::TimeDelta,
    recent: HashMap<IpAddr, VecDeque<DateTime<Utc>>>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new(RATE_LIMIT, RATE_WINDOW)
    }
}

impl RateLimit {
    pub fn new(limit: usize, window: Duration) -> RateLimit {
        RateLimit {
            limit: limit.max(1),
            window: chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::minutes(1)),
            recent: HashMap::new(),
        }
    }

    /// Counts a request from `addr`: `Ok` when allowed, or how long to wait.
    pub fn check(&mut self, addr: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        let start = now - self.window;
        if self.recent.len() > 10_000 {
            self.recent
                .retain(|_, q| q.back().is_some_and(|t| *t > start));
        }
        let q = self.recent.entry(addr).or_default();
        while q.front().is_some_and(|t| *t <= start) {
            q.pop_front();
        }
        if q.len() >= self.limit {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + self.window - now)
                .to_std()
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1));
            return Err(wait);
        }
        q.push_back(now);
        Ok(())
    }
}

/// The page for `case` (HTML, Chinese, for a phone's browser).
pub fn case_page(case: &PublicCase) -> String {
    let mut html = page_head("办理进度");
    html.push_str(&format!(
        "<h1>办理进度</h1><p class=\"item\">{}</p><p class=\"status\">当前状态：<b>{}</b></p>",
        escape(&case.item_name),
        case.status.label_zh()
    ));
    match (case.status, &case.collection_window) {
        (CaseStatus::ReadyForCollection, Some(w)) => html.push_str(&format!(
            "<p class=\"collect\">请到 <b>{}</b> 领取办理结果，领取时请带身份证原件和受理回执。</p>",
            escape(w)
        )),
        (CaseStatus::Rejected, _) => html.push_str(
            "<p class=\"collect\">申请未通过，原因已短信告知；如有疑问请带身份证到受理的村便民服务站咨询。</p>",
        ),
        (CaseStatus::Collected, _) => html.push_str("<p class=\"collect\">结果已领取。</p>"),
        _ => html.push_str(
            "<p class=\"collect\">办好后会短信通知您领取地点。</p>",
        ),
    }
    html.push_str("<ol class=\"timeline\">");
    let tz = crate::county::outbox::DEFAULT_TIME_ZONE;
    for (status, at) in &case.timeline {
        html.push_str(&format!(
            "<li><span class=\"when\">{}</span> {}</li>",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            status.label_zh()
        ));
    }
    html.push_str("</ol>");
    html.push_str(PAGE_FOOT);
    html
}

/// The one answer for an unknown, malformed or expired token.
pub fn gone_page() -> String {
    let mut html = page_head("查询不到办理进度");
    html.push_str(
        "<h1>查询不到办理进度</h1><p>二维码无效或已过期。请带身份证到村便民服务站，在自助终端「查询我的办件」，或拨打回执上的电话咨询。</p>",
    );
    html.push_str(PAGE_FOOT);
    html
}

/// The public root: how to check progress.
pub fn index_page() -> String {
    let mut html = page_head("办理进度查询");
    html.push_str(
        "<h1>办理进度查询</h1><p>请用手机扫描受理回执上的二维码查看办理进度。回执上没有二维码的，请带身份证到村便民服务站，在自助终端「查询我的办件」。</p>",
    );
    html.push_str(PAGE_FOOT);
    html
}

/// The public router: `/` and `/p/{token}`, nothing else.
pub(crate) fn router(db: Arc<DbPool>, limit: Arc<Mutex<RateLimit>>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { html_response(StatusCode::OK, index_page()) }),
        )
        .route("/p/{token}", get(progress))
        .fallback(|| async { html_response(StatusCode::NOT_FOUND, gone_page()) })
        .with_state(PublicState { db, limit })
}

/// Runs the public listener on `listener` until `shutdown` resolves, reading through the
/// serve process's connections (`db`).
pub async fn serve_public(
    listener: tokio::net::TcpListener,
    options: &PublicOptions,
    db: Arc<DbPool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    let tls = match &options.tls {
        Some((cert, key)) => Some(Arc::new(public_tls_config(cert, key)?)),
        None => None,
    };
    let listener = http::listen(
        listener,
        tls,
        super::DEFAULT_MAX_TLS_HANDSHAKES,
        tokio::sync::watch::channel(0).0,
    )?;
    let app = router(db, Arc::new(Mutex::new(RateLimit::default())))
        .into_make_service_with_connect_info::<PeerInfo>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(BackofficeError::Io)
}

/// rustls for the public listener: an ordinary server certificate, no client certificates.
pub(crate) fn public_tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::ServerConfig, BackofficeError> {
    let chain = tls::load_certs(cert)?;
    let key = tls::load_key(key)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls::TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls::TlsError::Config(format!("public certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct PublicState {
    db: Arc<DbPool>,
    limit: Arc<Mutex<RateLimit>>,
}

async fn progress(
    State(state): State<PublicState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    Path(token): Path<String>,
) -> Response {
    let now = Utc::now();
    let allowed = state
        .limit
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(client_ip(peer.addr), now);
    if let Err(wait) = allowed {
        let mut r = html_response(
            StatusCode::TOO_MANY_REQUESTS,
            page_with(
                "请稍后再试",
                "<h1>请稍后再试</h1><p>查询太频繁了，请过一分钟再试。</p>",
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let db = state.db.clone();
    let found = tokio::task::spawn_blocking(move || {
        let guard = db.lock().unwrap_or_else(|p| p.into_inner());
        lookup(&guard, &token, now)
    })
    .await
    .unwrap_or_else(|e| Err(DbError::Worker(e.to_string())));
    match found {
        Ok(Some(case)) => html_response(StatusCode::OK, case_page(&case)),
        Ok(None) => html_response(StatusCode::NOT_FOUND, gone_page()),
        Err(e) => {
            tracing::error!(error = %e, "public progress page: database error");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                page_with("暂时无法查询", "<h1>暂时无法查询</h1><p>请稍后再试。</p>"),
            )
        }
    }
}

/// IPv4-mapped IPv6 addresses count as their IPv4 address.
fn client_ip(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    }
}

fn is_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::HeaderName::from_static("x-robots-tag"), "noindex"),
        ],
        body,
    )
        .into_response()
}

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;\
margin:0;padding:16px;font-size:18px;line-height:1.6;color:#222;background:#f6f7f9}\
h1{font-size:24px;color:#b3261e;margin:0 0 12px}.item{font-size:20px;font-weight:bold}\
.status b{color:#1a5fb4}.collect{background:#fff;border-left:4px solid #1a5fb4;padding:8px 12px}\
.timeline{background:#fff;padding:8px 8px 8px 32px}.when{color:#666;font-size:15px;margin-right:8px}\
footer{margin-top:24px;font-size:14px;color:#666}";

const PAGE_FOOT: &str =
    "<footer>本页只显示办理进度，不显示个人信息。县政务服务中心</footer></body></html>\n";

fn page_head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>{STYLE}</style></head><body>"
    )
}

fn page_with(title: &str, body: &str) -> String {
    format!("{}{body}{PAGE_FOOT}", page_head(title))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
    fn the_rate_limit_counts_per_address_and_forgets_after_the_window() {
        let mut rl = RateLimit::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(rl.check(a, t0).is_ok());
        }
        let wait = rl.check(a, t0).unwrap_err();
        assert!(wait >= Duration::from_secs(59), "{wait:?}");
        assert!(rl.check(b, t0).is_ok(), "another address has its own count");
        assert!(rl.check(a, t0 + chrono::TimeDelta::seconds(61)).is_ok());
    }

    #[test]
    fn pages_escape_and_leave_notes_out() {
        let case = PublicCase {
            item_name: "<b>高龄津贴</b>".into(),
            status: CaseStatus::ReadyForCollection,
            timeline: vec![(CaseStatus::Received, Utc::now())],
            collection_window: Some("城关镇便民服务中心3号窗口".into()),
        };
        let html = case_page(&case);
        assert!(html.contains("&lt;b&gt;高龄津贴") && !html.contains("<b>高龄津贴"));
        assert!(html.contains("城关镇便民服务中心3号窗口") && html.contains("待领取"));
        assert_ne!(gone_page(), index_page());
    }
}
