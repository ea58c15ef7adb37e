//! `CountyClient`: the kiosk's HTTP client for the county API (reqwest over rustls).
//!
//! Production: HTTPS with mutual TLS, the county CA as the only root and the station's own
//! certificate. Demo mode: a bearer token plus the station id header, and only then may the URL
//! be plain `http://`. This module moves bytes and classifies answers; retry decisions belong to
//! [`super::retry`], persistence to [`super::outbox`]. It never logs personal data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use tokio::sync::Mutex;

use super::retry::{AttemptOutcome, classify_status, parse_retry_after};
use super::tls::{self, TlsError};
use super::wire::{self, API_PREFIX, IDEMPOTENCY_KEY_HEADER, STATION_ID_HEADER};
use crate::config::{CountyConfig, StationConfig};

/// How the station proves who it is.
#[derive(Debug, Clone)]
pub enum CountyAuth {
    /// Mutual TLS: county CA, the station's certificate and key (PEM files).
    MutualTls {
        ca_cert: PathBuf,
        client_cert: PathBuf,
        client_key: PathBuf,
    },
    /// Demo mode only: a bearer token and the station id in a header.
    DemoToken { token: String, station_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("county link configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot reach the county: {0}")]
    Transport(String),
    #[error("the county did not answer within the timeout")]
    Timeout,
    #[error("the county answered HTTP {status}: {message}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("the county's answer could not be read: {0}")]
    Decode(String),
    #[error("the county's answer is larger than {limit} bytes; not read")]
    TooLarge { limit: usize },
}

impl ClientError {
    /// The outcome the retry rules see.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            ClientError::Status {
                status,
                retry_after,
                message,
            } => classify_status(*status, *retry_after, message),
            other => AttemptOutcome::Unavailable {
                retry_after: None,
                detail: other.to_string(),
            },
        }
    }
}

/// The most the kiosk reads of a JSON answer (a person's cases are the largest).
pub const MAX_JSON_ANSWER: usize = 4 << 20;
/// The most the kiosk reads of a signed bundle (the catalogue).
pub const MAX_BUNDLE_ANSWER: usize = 64 << 20;

/// A raw answer: status, Retry-After and the whole body (read completely or an error).
#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

impl RawReply {
    /// The outcome for the retry rules; a 2xx must also decode as `T`, else it counts as a
    /// garbled answer and is retried (the idempotency key makes that safe).
    pub fn outcome_as<T: serde::de::DeserializeOwned>(&self) -> (AttemptOutcome, Option<T>) {
        let detail = error_message(&self.body);
        let outcome = classify_status(self.status, self.retry_after, &detail);
        if outcome == AttemptOutcome::Delivered {
            match serde_json::from_slice::<T>(&self.body) {
                Ok(v) => (outcome, Some(v)),
                Err(e) => (
                    AttemptOutcome::Unavailable {
                        retry_after: None,
                        detail: format!("undecodable answer: {e}"),
                    },
                    None,
                ),
            }
        } else {
            (outcome, None)
        }
    }
}

fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<wire::ApiError>(body) {
        Ok(e) => format!("{}: {}", e.code, e.message),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// The kiosk's client for the county API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CountyClient {
    http: reqwest::Client,
    base: String,
    auth: CountyAuth,
    salt: Arc<Mutex<Option<Vec<u8>>>>,
}

impl CountyClient {
    /// Builds a client for `base_url` (e.g. `https://county.example:8443`).
    pub fn new(base_url: &str, auth: CountyAuth, timeout: Duration) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_string();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(16)
            .no_proxy();
        match &auth {
            CountyAuth::MutualTls {
                ca_cert,
                client_cert,
                client_key,
            } => {
                if !base.starts_with("https://") {
                    return Err(ClientError::Config(format!(
                        "the county URL {base} is not https://; plain HTTP is refused outside demo mode"
                    )));
                }
                let ca = tls::load_certs(ca_cert)?;
                let chain = tls::load_certs(client_cert)?;
                let key = tls::load_key(client_key)?;
                let cfg = tls::client_config(&ca, Some((chain, key)))?;
                builder = builder.tls_backend_preconfigured(cfg).https_only(true);
            }
            CountyAuth::DemoToken { token, station_id } => {
                if token.is_empty() || station_id.is_empty() {
                    return Err(ClientError::Config(
                        "demo mode needs a token and a station id".into(),
                    ));
                }
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Config(format!("HTTP client: {e}")))?;
        Ok(CountyClient {
            http,
            base,
            auth,
            salt: Arc::new(Mutex::new(None)),
        })
    }

    /// Builds the client the config describes: mutual TLS when certificates are configured,
    /// otherwise the demo token. `None` when no county URL is configured.
    pub fn from_config(
        county: &CountyConfig,
        station: &StationConfig,
    ) -> Result<Option<Self>, ClientError> {
        let Some(url) = county.url.as_deref() else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(county.timeout_secs.max(1));
        let auth = match (&county.ca_cert, &county.client_cert, &county.client_key) {
            (Some(ca), Some(cert), Some(key)) => CountyAuth::MutualTls {
                ca_cert: ca.clone(),
                client_cert: cert.clone(),
                client_key: key.clone(),
            },
            _ => match &county.token {
                Some(t) => CountyAuth::DemoToken {
                    token: t.clone(),
                    station_id: station.id.clone(),
                },
                None => {
                    return Err(ClientError::Config(
                        "[county] needs ca_cert, client_cert and client_key (mutual TLS), or a demo token"
                            .into(),
                    ));
                }
            },
        };
        CountyClient::new(url, auth, timeout).map(Some)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn auth(&self) -> &CountyAuth {
        &self.auth
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{}{}", self.base, API_PREFIX, path);
        let rb = self.http.request(method, url);
        match &self.auth {
            CountyAuth::DemoToken { token, station_id } => rb
                .bearer_auth(token)
                .header(STATION_ID_HEADER, station_id.as_str()),
            CountyAuth::MutualTls { .. } => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<RawReply, ClientError> {
        self.send_bounded(rb, MAX_JSON_ANSWER).await
    }

    /// Sends and reads the answer, at most `limit` bytes of body: a longer answer (announced
    /// or not) is an error, so a broken or hostile server cannot fill the kiosk's memory.
    async fn send_bounded(
        &self,
        rb: reqwest::RequestBuilder,
        limit: usize,
    ) -> Result<RawReply, ClientError> {
        let mut resp = rb.send().await.map_err(map_reqwest)?;
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after =
            header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Utc::now()));
        let etag = header(reqwest::header::ETAG);
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ClientError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
            if body.len() + chunk.len() > limit {
                return Err(ClientError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawReply {
            status,
            retry_after,
            etag,
            body,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let reply = self.send(rb).await?;
        if !(200..300).contains(&reply.status) {
            return Err(ClientError::Status {
                status: reply.status,
                retry_after: reply.retry_after,
                message: error_message(&reply.body),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `POST /v1/applications` with the stored body, byte for byte.
    pub async fn submit_raw(
        &self,
        idempotency_key: &str,
        body: &str,
    ) -> Result<RawReply, ClientError> {
        self.send(
            self.request(reqwest::Method::POST, "/applications")
                .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `POST /v1/evaluations` with the stored body.
    pub async fn evaluate_raw(
        &self,
        idempotency_key: &str,
        body: &str,
    ) -> Result<RawReply, ClientError> {
        self.send(
            self.request(reqwest::Method::POST, "/evaluations")
                .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `POST /v1/heartbeats` with the stored body.
    pub async fn heartbeat_raw(&self, body: &str) -> Result<RawReply, ClientError> {
        self.send(
            self.request(reqwest::Method::POST, "/heartbeats")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `GET /v1/station`: identity, county clock, person-key salt, bundle key.
    pub async fn hello(&self) -> Result<wire::StationHello, ClientError> {
        let hello: wire::StationHello = self
            .json(self.request(reqwest::Method::GET, "/station"))
            .await?;
        if let Ok(salt) = hex::decode(&hello.person_key_salt) {
            *self.salt.lock().await = Some(salt);
        }
        Ok(hello)
    }

    /// `GET /v1/cases/{case_number}`.
    pub async fn case(&self, case_number: &str) -> Result<wire::CaseView, ClientError> {
        let path = format!("/cases/{}", urlencode(case_number));
        self.json(self.request(reqwest::Method::GET, &path)).await
    }

    /// Superseded: a lookup needs the card on the reader ([`Self::person_cases_for_card`]); the
    /// county refuses one by ID number alone. Kept so callers get a clear error until they pass
    /// the card.
    pub async fn person_cases(&self, _id_number: &str) -> Result<Vec<wire::CaseView>, ClientError> {
        Err(ClientError::Config(
            "a lookup of a person's cases needs the card read now: call person_cases_for_card"
                .into(),
        ))
    }

    /// `POST /v1/persons/challenge` then `POST /v1/persons/cases`: the cases of the person
    /// whose card is on the reader now. Sends the keyed hash of the ID number, the fresh
    /// single-use challenge and the card's key ([`card_key`]); never the ID number. Call it
    /// once per card read (the county rate-limits challenges per station: 429 + Retry-After).
    pub async fn person_cases_for_card(
        &self,
        card: &crate::idcard::IdCard,
    ) -> Result<Vec<wire::CaseView>, ClientError> {
        Ok(self.person_lookup_for_card(card).await?.cases)
    }

    /// The card-proof person lookup's whole answer: the cases and, when the person consented
    /// to it being kept, the phone of their last application (联系电话留存).
    pub async fn person_lookup_for_card(
        &self,
        card: &crate::idcard::IdCard,
    ) -> Result<wire::PersonCases, ClientError> {
        let id_number = card.id_number.as_str();
        let salt = {
            let cached = self.salt.lock().await.clone();
            match cached {
                Some(s) => s,
                None => {
                    let hello = self.hello().await?;
                    hex::decode(&hello.person_key_salt)
                        .map_err(|e| ClientError::Decode(format!("person key salt: {e}")))?
                }
            }
        };
        let challenge: wire::PersonChallenge = self
            .json(self.request(reqwest::Method::POST, "/persons/challenge"))
            .await?;
        let q = wire::PersonCasesQuery {
            person_key: super::person_key(&salt, id_number),
            challenge: challenge.challenge,
            card_key: card_key(card),
        };
        let r: wire::PersonCases = self
            .json(
                self.request(reqwest::Method::POST, "/persons/cases")
                    .json(&q),
            )
            .await?;
        Ok(r)
    }

    /// `GET /v1/catalog` (or `/v1/announcements`) with `If-None-Match`: `None` when unchanged,
    /// else the signed bundle's bytes and its ETag. The caller verifies the signature.
    pub async fn bundle(
        &self,
        which: BundleKind,
        if_none_match: Option<&str>,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, ClientError> {
        let mut rb = self.request(reqwest::Method::GET, which.path());
        if let Some(etag) = if_none_match {
            rb = rb.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let reply = self.send_bounded(rb, MAX_BUNDLE_ANSWER).await?;
        if reply.status == StatusCode::NOT_MODIFIED.as_u16() {
            return Ok(None);
        }
        if !(200..300).contains(&reply.status) {
            return Err(ClientError::Status {
                status: reply.status,
                retry_after: reply.retry_after,
                message: error_message(&reply.body),
            });
        }
        Ok(Some((reply.body, reply.etag)))
    }
}

impl CountyClient {
    /// `GET /v1/update/files/{name}` from byte `from` on (`Range: bytes=from-`), for the
    /// update driver to stream: the caller checks 200/206 and reads the body in chunks. The
    /// whole transfer may take long, so only the connection and each chunk are timed
    /// (by the caller), not the request.
    pub async fn update_file(
        &self,
        name: &str,
        from: u64,
    ) -> Result<reqwest::Response, ClientError> {
        self.request(reqwest::Method::GET, &format!("/update/files/{name}"))
            .timeout(Duration::from_secs(24 * 3600))
            .header(reqwest::header::RANGE, format!("bytes={from}-"))
            .send()
            .await
            .map_err(map_reqwest)
    }
}

/// The card key (卡片密钥摘要) a station sends with a lookup and with an application:
/// `hex(SHA-256("village-kiosk/card-key/v1" ‖ id number ‖ issuer ‖ valid from ‖ valid until ‖
/// photo))`, each part length-prefixed. The issuing authority, the validity dates and above all
/// the chip's photo block come only from reading the card itself; an ID number alone (or a list
/// of them) does not give it.
pub fn card_key(card: &crate::idcard::IdCard) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"village-kiosk/card-key/v1");
    let until = card
        .valid_until
        .map(|d| d.to_string())
        .unwrap_or_else(|| "long-term".into());
    let from = card.valid_from.to_string();
    let id = card.id_number.trim().to_ascii_uppercase();
    for part in [
        id.as_bytes(),
        card.issuer.as_bytes(),
        from.as_bytes(),
        until.as_bytes(),
        card.photo.as_slice(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The signed bundles the county serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    Catalog,
    Announcements,
    /// The county's latest key rotation (`catalog::keyring`); 404 when it never rotated.
    Keyring,
    /// The software update offered to this station (`update::manifest`); 404 when none.
    Update,
}

impl BundleKind {
    fn path(self) -> &'static str {
        match self {
            BundleKind::Catalog => "/catalog",
            BundleKind::Announcements => "/announcements",
            BundleKind::Keyring => "/keyring",
            BundleKind::Update => "/update",
        }
    }
}

fn map_reqwest(e: reqwest::Error) -> ClientError {
    if e.is_timeout() {
        return ClientError::Timeout;
    }
    // The whole source chain: "error sending request" alone says nothing to a technician.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ClientError::Transport(msg)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
