//! The reference SMS gateway (`county-backoffice sms-gateway --listen ADDR --out FILE`): it
//! speaks the gateway interface the back office's notice sender uses (docs/county.md, "Result
//! notices") and, instead of sending, appends each message as one JSON line (`wire::ReceivedMessage`) to a file.
//!
//! It keeps the interface's promise that matters: a message is taken at most once per
//! idempotency key (the keys already in the file are loaded at start), and a repeat is answered
//! 200 without writing again. `--fail-after-receive N` makes it answer 503 to the first N new
//! messages *after* writing them, as a gateway whose answer got lost would: the sender's retry
//! must not produce a second message. Never a real operator's gateway.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use tokio::sync::watch;

use super::BackofficeError;
use crate::county::wire::{GatewayMessage, IDEMPOTENCY_KEY_HEADER, ReceivedMessage};

/// The path messages are posted to.
pub const SEND_PATH: &str = "/send";

/// How the reference gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Messages go here, one JSON line each (`wire::ReceivedMessage`).
    pub out: PathBuf,
    /// When set, requests must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Answer 503 to this many new messages after recording them.
    pub fail_after_receive: u32,
}

/// Reads the messages in `path` (an absent file holds none).
pub fn read_messages(path: &std::path::Path) -> Result<Vec<ReceivedMessage>, BackofficeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackofficeError::Io(e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                BackofficeError::Bundle(format!("{}: a line is not a message: {e}", path.display()))
            })
        })
        .collect()
}

#[derive(Clone)]
struct GatewayState {
    options: Arc<GatewayOptions>,
    inner: Arc<Mutex<Inner>>,
    requests: watch::Sender<u64>,
}

struct Inner {
    seen: HashSet<String>,
    fail_left: u32,
}

/// Serves the gateway on `listener` until `shutdown` resolves.
pub async fn serve_gateway(
    listener: tokio::net::TcpListener,
    options: GatewayOptions,
    requests: watch::Sender<u64>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BackofficeError> {
    let seen = read_messages(&options.out)?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let state = GatewayState {
        inner: Arc::new(Mutex::new(Inner {
            seen,
            fail_left: options.fail_after_receive,
        })),
        options: Arc::new(options),
        requests,
    };
    let app = Router::new().route(SEND_PATH, post(send)).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(BackofficeError::Io)
}

/// A reference gateway on its own thread (tests): stops when dropped.
pub struct RunningGateway {
    addr: SocketAddr,
    requests: watch::Receiver<u64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningGateway {
    /// Starts on `addr` (port 0 picks one).
    pub fn start(addr: SocketAddr, options: GatewayOptions) -> Result<Self, BackofficeError> {
        let std_listener = std::net::TcpListener::bind(addr).map_err(BackofficeError::Io)?;
        std_listener
            .set_nonblocking(true)
            .map_err(BackofficeError::Io)?;
        let addr = std_listener.local_addr().map_err(BackofficeError::Io)?;
        let (tx, requests) = watch::channel(0);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sms-gateway".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let shutdown = async move {
                        let _ = stop_rx.await;
                    };
                    if let Err(e) = serve_gateway(listener, options, tx, shutdown).await {
                        tracing::error!(error = %e, "reference SMS gateway stopped");
                    }
                });
            })
            .map_err(|e| BackofficeError::Thread(e.to_string()))?;
        Ok(RunningGateway {
            addr,
            requests,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://ADDR/send`.
    pub fn url(&self) -> String {
        format!("http://{}{SEND_PATH}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> watch::Receiver<u64> {
        self.requests.clone()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn answer(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn send(State(state): State<GatewayState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = handle(&state, &headers, &body);
    state.requests.send_modify(|n| *n += 1);
    r
}

fn handle(state: &GatewayState, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(token) = &state.options.token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|b| b == token);
        if !ok {
            return answer(StatusCode::UNAUTHORIZED, r#"{"error":"bad credentials"}"#);
        }
    }
    let msg: GatewayMessage = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(_) => {
            return answer(
                StatusCode::BAD_REQUEST,
                r#"{"error":"body must be {\"id\",\"to\",\"sign\",\"text\"}"}"#,
            );
        }
    };
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok());
    if key.is_some_and(|k| k != msg.id) || msg.id.is_empty() || msg.to.trim().is_empty() {
        return answer(
            StatusCode::BAD_REQUEST,
            r#"{"error":"id must be set and equal the Idempotency-Key header; to must be set"}"#,
        );
    }
    let mut inner = state.inner.lock().unwrap_or_else(|p| p.into_inner());
    if inner.seen.contains(&msg.id) {
        return answer(StatusCode::OK, r#"{"status":"duplicate"}"#);
    }
    let line = ReceivedMessage {
        id: msg.id.clone(),
        to: msg.to,
        sign: msg.sign,
        text: msg.text,
        received_at: Utc::now(),
    };
    let written = serde_json::to_string(&line)
        .map_err(std::io::Error::other)
        .and_then(|json| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&state.options.out)?;
            writeln!(f, "{json}")?;
            f.sync_data()
        });
    if let Err(e) = written {
        tracing::error!(error = %e, out = %state.options.out.display(), "reference SMS gateway cannot write");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"cannot record"}"#,
        );
    }
    inner.seen.insert(msg.id);
    if inner.fail_left > 0 {
        inner.fail_left -= 1;
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"failing after receiving (--fail-after-receive)"}"#,
        );
    }
    answer(StatusCode::OK, r#"{"status":"queued"}"#)
}
