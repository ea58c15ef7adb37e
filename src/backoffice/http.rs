//! The back office's HTTP API (docs/county-api.yaml) on axum: authentication (mutual TLS, or a
//! bearer token in demo mode), per-station visibility, idempotent submissions, evaluations,
//! heartbeats, signed bundles and the station ledger page.
//!
//! Handlers hold the database lock only for one short transaction and never log personal data.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::db::{Db, SubmitOutcome};
use super::{BackofficeError, Bundles};
use crate::county::tls;
use crate::county::wire::{self, ApiError, IDEMPOTENCY_KEY_HEADER, STATION_ID_HEADER};

/// How long a card read lets a station see that person's cases.
pub const GRANT_TTL: Duration = Duration::from_secs(15 * 60);

/// TLS files of the server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The county CA that issued the stations' certificates.
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub db_path: PathBuf,
    /// Production: HTTPS with client certificates from the county CA.
    pub tls: Option<TlsFiles>,
    /// Demo mode: plain HTTP with this bearer token. Refused together with `tls`.
    pub demo_token: Option<String>,
    /// A station is offline in the ledger when unseen this long.
    pub offline_after: Duration,
}

impl ServeConfig {
    pub fn demo(db_path: PathBuf, token: String) -> Self {
        ServeConfig {
            db_path,
            tls: None,
            demo_token: Some(token),
            offline_after: Duration::from_secs(180),
        }
    }
}

/// The peer of a connection: its address and, under mutual TLS, the station its certificate
/// names.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub station: Option<String>,
}

/// The station a request comes from, after authentication.
#[derive(Debug, Clone)]
pub struct Station(pub String);

/// A test hook: while held, submissions wait after claiming their key (to show 409).
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    pub hold: watch::Sender<bool>,
    pub claims: watch::Sender<u64>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub db: Arc<Mutex<Db>>,
    pub inflight: Arc<Mutex<HashSet<String>>>,
    pub config: Arc<ServeConfig>,
    pub gate: Gate,
    pub bundles: Arc<Bundles>,
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::to_string(&ApiError {
        code: code.into(),
        message: message.into(),
    })
    .unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The `Idempotency-Key` header, or the 400 answer for a request without a usable one.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Box<Response>> {
    headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_string)
        .ok_or_else(|| {
            Box::new(api_error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_missing",
                "send an Idempotency-Key header (1 to 128 characters)",
            ))
        })
}

/// A JSON request body as its wire type, or the 422 answer naming what is wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("body: {e}"),
        ))
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "back office internal error");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; retry later",
    )
}

fn lock_db(state: &AppState) -> std::sync::MutexGuard<'_, Db> {
    state.db.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds the router.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/station", get(station_hello))
        .route("/v1/applications", post(submit))
        .route("/v1/cases/{case_number}", get(get_case))
        .route("/v1/persons/cases", post(person_cases))
        .route("/v1/evaluations", post(evaluate))
        .route("/v1/heartbeats", post(heartbeat))
        .route("/v1/catalog", get(catalog_bundle))
        .route("/v1/announcements", get(announcements_bundle))
        .route("/v1/keyring", get(keyring_bundle))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(api)
        .route("/ledger", get(ledger_page))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerInfo>>()
        .map(|c| c.0.clone());
    let station = if let Some(st) = peer.as_ref().and_then(|p| p.station.clone()) {
        Some(st)
    } else if let Some(token) = state.config.demo_token.as_deref() {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let station = req
            .headers()
            .get(STATION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 64);
        match (bearer, station) {
            (Some(b), Some(s)) if constant_time_eq(b.as_bytes(), token.as_bytes()) => {
                Some(s.to_string())
            }
            _ => None,
        }
    } else {
        None
    };
    match station {
        Some(s) => {
            req.extensions_mut().insert(Station(s));
            next.run(req).await
        }
        None => api_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "present a station certificate from the county CA (or the demo token)",
        ),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn station_hello(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
) -> Response {
    let salt = match lock_db(&state).person_key_salt() {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let hello = wire::StationHello {
        station_id: station,
        server_time: Utc::now(),
        person_key_salt: hex::encode(salt),
        bundle_public_key: hex::encode(state.bundles.public_key()),
    };
    json_response(
        StatusCode::OK,
        serde_json::to_string(&hello).unwrap_or_default(),
    )
}

/// Removes a claimed key from the in-flight set however the handler ends.
struct Claim {
    set: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

fn validation_errors(sub: &wire::ApplicationSubmission) -> Vec<String> {
    let mut errs = Vec::new();
    if sub.receipt_number.trim().is_empty() {
        errs.push("receipt_number is empty".to_string());
    }
    if sub.item_code.trim().is_empty() {
        errs.push("item_code is empty".to_string());
    }
    if sub.applicant.name.trim().is_empty() {
        errs.push("applicant.name is empty".to_string());
    }
    if let Err(e) = crate::idcard::card::check_id_number(&sub.applicant.id_number) {
        errs.push(format!("applicant.id_number is not a valid ID number: {e}"));
    }
    errs
}

async fn submit(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(resp) => return *resp,
    };
    let sub: wire::ApplicationSubmission = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let errs = validation_errors(&sub);
    if !errs.is_empty() {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            errs.join("; "),
        );
    }
    if !state.bundles.knows_item(&sub.item_code)
        && !super::publish::knows_item(&lock_db(&state), &sub.item_code).unwrap_or(false)
    {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("unknown service item {}", sub.item_code),
        );
    }
    let scoped_key = format!("{station}\u{1f}{key}");
    let _claim = {
        let mut set = state.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(scoped_key.clone()) {
            let mut r = api_error(
                StatusCode::CONFLICT,
                "in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Claim {
            set: state.inflight.clone(),
            key: scoped_key,
        }
    };
    state.gate.claims.send_modify(|n| *n += 1);
    let mut hold = state.gate.hold.subscribe();
    let _ = hold.wait_for(|h| !*h).await;
    let hash = hex::encode(Sha256::digest(&body));
    let outcome = lock_db(&state).submit(&station, &key, &hash, &sub, Utc::now());
    match outcome {
        Ok(SubmitOutcome::Created { status, response }) => {
            tracing::info!(%station, receipt = %sub.receipt_number, "case created");
            json_response(
                StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                response,
            )
        }
        Ok(SubmitOutcome::Replayed { status, response }) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            response,
        ),
        Ok(SubmitOutcome::KeyReused) => api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ),
        Err(e) => internal(e),
    }
}

async fn get_case(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    Path(case_number): Path<String>,
) -> Response {
    let db = lock_db(&state);
    match db.case(&case_number) {
        Ok(Some((view, owner, person_key))) => {
            let visible = owner == station
                || db
                    .has_grant(&station, &person_key, Utc::now())
                    .unwrap_or(false);
            if visible {
                json_response(
                    StatusCode::OK,
                    serde_json::to_string(&view).unwrap_or_default(),
                )
            } else {
                not_found(&case_number)
            }
        }
        Ok(None) => not_found(&case_number),
        Err(e) => internal(e),
    }
}

fn not_found(case_number: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no case {case_number} visible to this station"),
    )
}

async fn person_cases(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    body: Bytes,
) -> Response {
    let q: wire::PersonCasesQuery = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    if q.person_key.len() != 64 || !q.person_key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "person_key is 64 hex digits (HMAC-SHA256)",
        );
    }
    let person_key = q.person_key.to_ascii_lowercase();
    let db = lock_db(&state);
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(GRANT_TTL).unwrap_or_default();
    let result = db.grant(&station, &person_key, until).and_then(|_| {
        let numbers = db.case_numbers(None, None, Some(&person_key))?;
        let mut cases = Vec::new();
        for n in numbers {
            if let Some((v, _, _)) = db.case(&n)? {
                cases.push(v);
            }
        }
        Ok(cases)
    });
    match result {
        Ok(cases) => json_response(
            StatusCode::OK,
            serde_json::to_string(&wire::PersonCases { cases }).unwrap_or_default(),
        ),
        Err(e) => internal(e),
    }
}

async fn evaluate(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(resp) => return *resp,
    };
    let e: wire::Evaluation = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    if !wire::EVALUATION_LEVELS.contains(&e.level) {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("level is 1 to 5, not {}", e.level),
        );
    }
    if e.comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "comment is at most 500 characters",
        );
    }
    let hash = hex::encode(Sha256::digest(&body));
    let mut db = lock_db(&state);
    let visible = match db.case(&e.case_number) {
        Ok(Some((_, owner, pk))) => {
            owner == station || db.has_grant(&station, &pk, Utc::now()).unwrap_or(false)
        }
        Ok(None) => false,
        Err(err) => return internal(err),
    };
    if !visible {
        return not_found(&e.case_number);
    }
    match db.evaluate(&station, &key, &hash, &e, Utc::now()) {
        Ok(Some(id)) => json_response(
            StatusCode::CREATED,
            serde_json::to_string(&wire::EvaluationReceipt {
                evaluation_id: id,
                case_number: e.case_number,
            })
            .unwrap_or_default(),
        ),
        Ok(None) => api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ),
        Err(err) => internal(err),
    }
}

async fn heartbeat(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    body: Bytes,
) -> Response {
    let hb: wire::Heartbeat = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let now = Utc::now();
    if let Err(e) = super::publish::record_heartbeat(&lock_db(&state), &station, &hb, now) {
        return internal(e);
    }
    match lock_db(&state).heartbeat(&station, &hb, now) {
        Ok(()) => json_response(
            StatusCode::OK,
            serde_json::to_string(&wire::HeartbeatAck { server_time: now }).unwrap_or_default(),
        ),
        Err(e) => internal(e),
    }
}

fn bundle_response(headers: &HeaderMap, bytes: &[u8], etag: &str) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
        ],
        bytes.to_vec(),
    )
        .into_response()
}

/// The newest bundle of `kind` published to `station` (`county-backoffice publish`), if any.
fn published_bundle(
    state: &AppState,
    kind: &str,
    station: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    match super::publish::served(&lock_db(state), kind, station) {
        Ok(Some((bytes, etag))) => Some(bundle_response(headers, &bytes, &etag)),
        Ok(None) => None,
        Err(e) => Some(internal(e)),
    }
}

async fn catalog_bundle(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = published_bundle(&state, "catalog", &station, &headers) {
        return r;
    }
    match state.bundles.catalog() {
        Ok((bytes, etag)) => bundle_response(&headers, bytes, etag),
        Err(e) => internal(e),
    }
}

async fn announcements_bundle(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = published_bundle(&state, "announcements", &station, &headers) {
        return r;
    }
    let (bytes, etag) = state.bundles.announcements();
    bundle_response(&headers, bytes, etag)
}

async fn keyring_bundle(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
) -> Response {
    published_bundle(&state, "keyring", &station, &headers).unwrap_or_else(|| {
        api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the county has published no key rotation",
        )
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn ledger_page(State(state): State<AppState>) -> Response {
    let rows = match lock_db(&state).stations() {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    Html(ledger_html(&rows, state.config.offline_after)).into_response()
}

/// The station ledger (站点台账) as a plain HTML page.
pub fn ledger_html(rows: &[super::db::StationRow], offline_after: Duration) -> String {
    let now = Utc::now();
    let mut html = String::from(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>站点台账 Station ledger</title></head><body><h1>站点台账 Station ledger</h1>\
         <table border=\"1\" cellpadding=\"4\"><thead><tr><th>Station</th><th>State</th>\
         <th>Last seen (UTC)</th><th>Version</th><th>Queue</th><th>Faults</th><th>Last errors</th>\
         </tr></thead><tbody>",
    );
    for r in rows {
        let online = r.online(now, offline_after);
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&r.station_id),
            if online { "online 在线" } else { "offline 离线" },
            r.last_seen.format("%Y-%m-%d %H:%M:%S"),
            html_escape(&r.software_version),
            r.queue_length,
            html_escape(&r.faults()),
            html_escape(&r.last_errors.join(" | ")),
        ));
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

// ---------------------------------------------------------------------------------------------
// Listener: plain TCP (demo) or TLS with client certificates, handshakes off the accept path.

/// A connection: plain or TLS.
pub enum CountyIo {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for CountyIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            CountyIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            CountyIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for CountyIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            CountyIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            CountyIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            CountyIo::Plain(s) => Pin::new(s).poll_flush(cx),
            CountyIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            CountyIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            CountyIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The listener axum serves from: connections arrive after their TLS handshake.
pub struct CountyListener {
    rx: mpsc::Receiver<(CountyIo, PeerInfo)>,
    local: SocketAddr,
}

impl axum::serve::Listener for CountyListener {
    type Io = CountyIo;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The acceptor ended (only at shutdown): never yield another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(PeerInfo {
            addr: self.local,
            station: None,
        })
    }
}

impl Connected<axum::serve::IncomingStream<'_, CountyListener>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, CountyListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub(crate) fn listen(
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<CountyListener, BackofficeError> {
    let local = tcp.local_addr().map_err(BackofficeError::Io)?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (sock, addr) = match tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let tx = tx.clone();
            match &tls {
                None => {
                    if tx
                        .send((
                            CountyIo::Plain(sock),
                            PeerInfo {
                                addr,
                                station: None,
                            },
                        ))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Some(cfg) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                    tokio::spawn(async move {
                        let hs =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock))
                                .await;
                        let stream = match hs {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::warn!(%addr, error = %e, "TLS handshake refused");
                                return;
                            }
                            Err(_) => {
                                tracing::warn!(%addr, "TLS handshake timed out");
                                return;
                            }
                        };
                        let station = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .and_then(|c| tls::summarize(c))
                            .and_then(|s| s.common_name);
                        let _ = tx
                            .send((CountyIo::Tls(Box::new(stream)), PeerInfo { addr, station }))
                            .await;
                    });
                }
            }
        }
    });
    Ok(CountyListener { rx, local })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_page_escapes_and_flags_faults() {
        let row = super::super::db::StationRow {
            station_id: "<script>".into(),
            last_seen: Utc::now(),
            software_version: "0.1.0".into(),
            reader_ok: true,
            reader_detail: None,
            printer_ok: false,
            printer_detail: Some("cover open".into()),
            paper: "out".into(),
            queue_length: 3,
            last_errors: vec!["a & b".into()],
            clock_skew_ms: 0,
        };
        let html = ledger_html(&[row], Duration::from_secs(180));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("printer: cover open; paper out"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("online"));
    }
}
