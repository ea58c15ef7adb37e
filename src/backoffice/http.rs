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
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::db::{Db, DbError, SubmitOutcome};
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
    /// The county CA's certificate revocation list (PEM): revoked station certificates are
    /// refused in the handshake.
    pub crl: Option<PathBuf>,
}

/// How many TLS handshakes may be in progress at once; connections over the cap are closed
/// at once (the kiosks retry with backoff), so a flood of idle connections cannot exhaust the
/// server.
pub const DEFAULT_MAX_TLS_HANDSHAKES: usize = 64;

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
    /// At most this many TLS handshakes at once ([`DEFAULT_MAX_TLS_HANDSHAKES`]).
    pub max_tls_handshakes: usize,
    /// Connections to a PostgreSQL database ([`super::DEFAULT_DB_CONNECTIONS`]); SQLite has one.
    pub db_connections: usize,
}

impl ServeConfig {
    /// Production: mutual TLS with `tls`.
    pub fn tls(db_path: PathBuf, tls: TlsFiles) -> Self {
        ServeConfig {
            db_path,
            tls: Some(tls),
            demo_token: None,
            offline_after: Duration::from_secs(180),
            max_tls_handshakes: DEFAULT_MAX_TLS_HANDSHAKES,
            db_connections: super::DEFAULT_DB_CONNECTIONS,
        }
    }

    pub fn demo(db_path: PathBuf, token: String) -> Self {
        ServeConfig {
            db_path,
            tls: None,
            demo_token: Some(token),
            offline_after: Duration::from_secs(180),
            max_tls_handshakes: DEFAULT_MAX_TLS_HANDSHAKES,
            db_connections: super::DEFAULT_DB_CONNECTIONS,
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

/// Counters the server keeps: TLS handshakes in progress (the handshake cap); with the
/// `test-support` feature (tests only) also a hold on submissions after they claimed their key
/// (to show 409) and a count of claims.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    #[cfg(feature = "test-support")]
    pub hold: watch::Sender<bool>,
    #[cfg(feature = "test-support")]
    pub claims: watch::Sender<u64>,
    /// TLS handshakes in progress.
    pub handshakes: watch::Sender<usize>,
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            #[cfg(feature = "test-support")]
            hold: watch::channel(false).0,
            #[cfg(feature = "test-support")]
            claims: watch::channel(0).0,
            handshakes: watch::channel(0).0,
        }
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    /// The public progress page's base URL, told to stations in `GET /v1/station`.
    pub public_url: Option<String>,
    /// Where "now" comes from (a test clock in tests).
    pub clock: Arc<dyn super::staff::Clock>,
    pub db: Arc<super::DbPool>,
    pub inflight: Arc<Mutex<HashSet<String>>>,
    pub config: Arc<ServeConfig>,
    pub gate: Gate,
    pub bundles: Arc<Bundles>,
    pub lookups: Arc<Mutex<super::lookup::LookupGuard>>,
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
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            Box::new(api_error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_missing",
                "send an Idempotency-Key header (1 to 128 visible ASCII characters)",
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

/// A database failure's answer: 503 with `Retry-After` when the database is unreachable for
/// now (PostgreSQL restarting: the station's outbox retries with the same key), else 500.
fn db_failed(e: DbError) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "database unavailable; answered 503");
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the county database is unavailable; retry shortly",
            "2",
        );
    }
    internal(e)
}

/// An error answer with `Retry-After: seconds`.
fn retry_later(status: StatusCode, code: &str, message: &str, seconds: &'static str) -> Response {
    let mut r = api_error(status, code, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    r
}

/// Runs `f` on the database on a blocking thread: SQLite (WAL, `synchronous=FULL`, a busy
/// timeout) never runs on, nor holds a lock on, one of the runtime's workers.
async fn with_db<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = db.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .unwrap_or_else(|e| Err(DbError::Worker(e.to_string())))
}

/// Builds the router.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/station", get(station_hello))
        .route("/v1/applications", post(submit))
        .route("/v1/cases/{case_number}", get(get_case))
        .route("/v1/persons/challenge", post(person_challenge))
        .route("/v1/persons/cases", post(person_cases))
        .route("/v1/evaluations", post(evaluate))
        .route("/v1/heartbeats", post(heartbeat))
        .route("/v1/catalog", get(catalog_bundle))
        .route("/v1/announcements", get(announcements_bundle))
        .route("/v1/keyring", get(keyring_bundle))
        .route("/v1/update", get(super::update::manifest_route))
        .route("/v1/update/files/{name}", get(super::update::file_route))
        // Even `/healthz` tells a scanner a back office lives here: authenticated callers only.
        .route("/healthz", get(|| async { "ok" }))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    // County staff pages live on the staff listener, behind the operator login; the ledger's
    // old address here says so (410 Gone).
    let staff = super::ledger::gone_router();
    Router::new()
        .merge(api)
        .nest("/staff", staff)
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
    let salt = match with_db(&state, |db| db.person_key_salt()).await {
        Ok(s) => s,
        Err(e) => return db_failed(e),
    };
    let hello = wire::StationHello {
        station_id: station,
        server_time: Utc::now(),
        person_key_salt: hex::encode(salt),
        bundle_public_key: hex::encode(state.bundles.public_key()),
        public_url: state.public_url.clone(),
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
    let hash = hex::encode(Sha256::digest(&body));
    // Replay first: an application the county already has gets its stored answer even if the
    // rules changed since (an item withdrawn, a stricter check), so a retry never turns a
    // delivered application into one that needs attention.
    let replay = {
        let (station, key, hash) = (station.clone(), key.clone(), hash.clone());
        with_db(&state, move |db| db.replay(&station, &key, &hash)).await
    };
    match replay {
        Ok(Some(outcome)) => return submit_answer(outcome),
        Ok(None) => {}
        Err(e) => return db_failed(e),
    }
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
    let code = sub.item_code.clone();
    if !state.bundles.knows_item(&sub.item_code)
        && !with_db(&state, move |db| super::publish::knows_item(db, &code))
            .await
            .unwrap_or(false)
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
            return retry_later(
                StatusCode::CONFLICT,
                "in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
                "1",
            );
        }
        Claim {
            set: state.inflight.clone(),
            key: scoped_key,
        }
    };
    #[cfg(feature = "test-support")]
    {
        state.gate.claims.send_modify(|n| *n += 1);
        let mut hold = state.gate.hold.subscribe();
        let _ = hold.wait_for(|h| !*h).await;
    }
    let receipt = sub.receipt_number.clone();
    let outcome = {
        let station = station.clone();
        let now = state.clock.now();
        let bundles = state.bundles.clone();
        with_db(&state, move |db| {
            let outcome = db.submit(&station, &key, &hash, &sub, now)?;
            // Routed to the item's department at once (and at start for any case a crash left
            // unrouted).
            if let SubmitOutcome::Created { response, .. } = &outcome
                && let Ok(r) = serde_json::from_str::<wire::SubmissionReceipt>(response)
                && let Err(e) = super::staff::cases::route_case(
                    db,
                    &r.case_number,
                    &sub.item_code,
                    bundles.routes(),
                    now,
                )
            {
                tracing::error!(error = %e, "routing a new case failed; routed at next start");
            }
            Ok(outcome)
        })
        .await
    };
    match outcome {
        Ok(outcome) => {
            if matches!(outcome, SubmitOutcome::Created { .. }) {
                tracing::info!(%station, %receipt, "case created");
            }
            submit_answer(outcome)
        }
        Err(e) => db_failed(e),
    }
}

fn submit_answer(outcome: SubmitOutcome) -> Response {
    match outcome {
        SubmitOutcome::Created { status, response }
        | SubmitOutcome::Replayed { status, response } => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            response,
        ),
        SubmitOutcome::KeyReused => api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ),
    }
}

async fn get_case(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    Path(case_number): Path<String>,
) -> Response {
    let number = case_number.clone();
    let found = with_db(&state, move |db| visible_case(db, &station, &number)).await;
    match found {
        Ok(Some(view)) => json_response(
            StatusCode::OK,
            serde_json::to_string(&view).unwrap_or_default(),
        ),
        Ok(None) => not_found(&case_number),
        Err(e) => db_failed(e),
    }
}

/// The case if `station` may see it: its own, or one of the person whose card it just read.
fn visible_case(
    db: &Db,
    station: &str,
    case_number: &str,
) -> Result<Option<wire::CaseView>, DbError> {
    Ok(match db.case(case_number)? {
        Some((view, owner, person_key)) => {
            (owner == station || db.has_grant(station, &person_key, Utc::now())?).then_some(view)
        }
        None => None,
    })
}

fn not_found(case_number: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no case {case_number} visible to this station"),
    )
}

async fn person_challenge(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
) -> Response {
    let issued = state
        .lookups
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .issue(&station, Utc::now(), rand::random());
    match issued {
        Ok((challenge, expires_at)) => json_response(
            StatusCode::CREATED,
            serde_json::to_string(&wire::PersonChallenge {
                challenge,
                expires_at,
            })
            .unwrap_or_default(),
        ),
        Err(super::lookup::LookupRefusal::RateLimited(wait)) => {
            tracing::warn!(%station, "person lookups rate-limited");
            let mut r = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many person lookups from this station; retry later",
            );
            if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
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
    if !super::db::is_card_key(&q.card_key) {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "card_key is 64 hex digits (SHA-256)",
        );
    }
    let now = Utc::now();
    let fresh = state
        .lookups
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .consume(&station, &q.challenge, now);
    if !fresh {
        return api_error(
            StatusCode::FORBIDDEN,
            "challenge_invalid",
            "the challenge is unknown, used, expired or another station's: ask POST /v1/persons/challenge at the card read",
        );
    }
    let person_key = q.person_key.to_ascii_lowercase();
    let card_key = q.card_key.to_ascii_lowercase();
    let until = now + chrono::Duration::from_std(GRANT_TTL).unwrap_or_default();
    let result = with_db(&state, move |db| {
        if !db.check_card(&person_key, &card_key, now)? {
            // Not the card on record: nothing, and no grant. The same answer as a person with
            // no cases, so a probing station learns nothing.
            tracing::warn!(%station, "person lookup with a card key not on record");
            return Ok(wire::PersonCases {
                cases: Vec::new(),
                kept_phone: None,
            });
        }
        db.grant(&station, &person_key, until)?;
        let numbers = db.case_numbers(None, None, Some(&person_key))?;
        let mut cases = Vec::new();
        for n in numbers {
            if let Some((v, _, _)) = db.case(&n)? {
                cases.push(v);
            }
        }
        let kept_phone = super::contact::kept(db.conn(), &person_key)?;
        Ok(wire::PersonCases { cases, kept_phone })
    })
    .await;
    match result {
        Ok(found) => json_response(
            StatusCode::OK,
            serde_json::to_string(&found).unwrap_or_default(),
        ),
        Err(e) => db_failed(e),
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
    let case_number = e.case_number.clone();
    let now = state.clock.now();
    let recorded = with_db(&state, move |db| {
        if visible_case(db, &station, &e.case_number)?.is_none() {
            return Ok(None);
        }
        let recorded = db.evaluate(&station, &key, &hash, &e, now)?;
        // 差评整改: a bad rating opens its follow-up task now (idempotent).
        if let Err(err) = super::staff::followup::open_for_bad_ratings(db, now) {
            tracing::error!(error = %err, "opening follow-up tasks failed; opened when next listed");
        }
        Ok(Some(recorded))
    })
    .await;
    match recorded {
        Ok(None) => not_found(&case_number),
        Ok(Some(Some(id))) => json_response(
            StatusCode::CREATED,
            serde_json::to_string(&wire::EvaluationReceipt {
                evaluation_id: id,
                case_number,
            })
            .unwrap_or_default(),
        ),
        Ok(Some(None)) => api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ),
        Err(err) => db_failed(err),
    }
}

async fn heartbeat(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    body: Bytes,
) -> Response {
    if let Some(problem) = arrays_for_objects(&body) {
        return api_error(StatusCode::UNPROCESSABLE_ENTITY, "validation", problem);
    }
    let hb: wire::Heartbeat = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    if hb.last_errors.len() > 10 {
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!(
                "last_errors holds at most 10 entries, not {}",
                hb.last_errors.len()
            ),
        );
    }
    if let Some(problem) = hb.problem() {
        return api_error(StatusCode::UNPROCESSABLE_ENTITY, "validation", problem);
    }
    if let Err(why) = super::ledger::check_answers(&hb) {
        return api_error(StatusCode::UNPROCESSABLE_ENTITY, "validation", why);
    }
    let now = Utc::now();
    match with_db(&state, move |db| {
        super::publish::record_heartbeat(db, &station, &hb, now)?;
        super::update::record_heartbeat(db, &station, &hb, now)?;
        db.heartbeat(&station, &hb, now)?;
        super::ledger::record_heartbeat(db, &station, &hb, now)
    })
    .await
    {
        Ok(requests) => json_response(
            StatusCode::OK,
            serde_json::to_string(&wire::HeartbeatAck {
                server_time: now,
                requests,
            })
            .unwrap_or_default(),
        ),
        Err(e) => db_failed(e),
    }
}

/// serde also reads a struct from a JSON array (`"sync": [null, null]`); the API document says
/// objects. Names the first object field of a heartbeat given as something else (found by the
/// contract test).
fn arrays_for_objects(body: &[u8]) -> Option<String> {
    let serde_json::Value::Object(top) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let not_object = |v: &serde_json::Value| !(v.is_object() || v.is_null());
    for field in ["reader", "printer", "county_link", "doctor", "sync"] {
        if top.get(field).is_some_and(not_object) {
            return Some(format!("{field} is an object"));
        }
    }
    for (outer, inner) in [("doctor", "checks"), ("sync", "refusals")] {
        if let Some(items) = top
            .get(outer)
            .and_then(|o| o.get(inner))
            .and_then(|v| v.as_array())
            && items.iter().any(|i| !i.is_object())
        {
            return Some(format!("{outer}.{inner} holds objects"));
        }
    }
    None
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
async fn published_bundle(
    state: &AppState,
    kind: &'static str,
    station: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let station = station.to_owned();
    match with_db(state, move |db| super::publish::served(db, kind, &station)).await {
        Ok(Some((bytes, etag))) => Some(bundle_response(headers, &bytes, &etag)),
        Ok(None) => None,
        Err(e) => Some(db_failed(e)),
    }
}

async fn catalog_bundle(
    State(state): State<AppState>,
    axum::Extension(Station(station)): axum::Extension<Station>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = published_bundle(&state, "catalog", &station, &headers).await {
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
    if let Some(r) = published_bundle(&state, "announcements", &station, &headers).await {
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
    published_bundle(&state, "keyring", &station, &headers)
        .await
        .unwrap_or_else(|| {
            api_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "the county has published no key rotation",
            )
        })
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

/// The back office's rustls configuration: its certificate, client certificates required and
/// checked against the county CA and, when given, its revocation list.
pub(crate) fn server_tls_config(files: &TlsFiles) -> Result<rustls::ServerConfig, BackofficeError> {
    let ca = tls::load_certs(&files.ca_cert)?;
    let chain = tls::load_certs(&files.cert)?;
    let key = tls::load_key(&files.key)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots
            .add(c)
            .map_err(|e| tls::TlsError::Config(format!("county CA certificate: {e}")))?;
    }
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        tls::provider(),
    );
    if let Some(path) = &files.crl {
        let bytes = std::fs::read(path).map_err(|source| tls::TlsError::Read {
            path: path.clone(),
            source,
        })?;
        let crls: Vec<_> = rustls_pemfile::crls(&mut bytes.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| tls::TlsError::Config(format!("{}: {e}", path.display())))?;
        if crls.is_empty() {
            return Err(tls::TlsError::Config(format!(
                "{} holds no PEM certificate revocation list",
                path.display()
            ))
            .into());
        }
        verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
    }
    let verifier = verifier
        .build()
        .map_err(|e| tls::TlsError::Config(format!("client verifier: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls::TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls::TlsError::Config(format!("server certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Counts a handshake in progress for as long as it lives.
struct HandshakeSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    count: watch::Sender<usize>,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

pub(crate) fn listen(
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    max_handshakes: usize,
    handshakes: watch::Sender<usize>,
) -> Result<CountyListener, BackofficeError> {
    let local = tcp.local_addr().map_err(BackofficeError::Io)?;
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_handshakes.max(1)));
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
                    // Over the cap the connection is closed at once: a flood of connections
                    // that never finish their handshake cannot hold every task and socket.
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(%addr, max_handshakes, "too many TLS handshakes in progress; connection closed");
                        drop(sock);
                        continue;
                    };
                    handshakes.send_modify(|n| *n += 1);
                    let slot = HandshakeSlot {
                        _permit: permit,
                        count: handshakes.clone(),
                    };
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                    tokio::spawn(async move {
                        let hs =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock))
                                .await;
                        drop(slot);
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
