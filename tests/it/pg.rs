//! The back office on PostgreSQL (issue 13 part 5): a real server from Debian's `postgresql`
//! package per test ([`PgServer`]: data in a temporary directory, a free port on 127.0.0.1).
//! The core behaviour runs over both backends; two `county-backoffice serve` processes on one
//! database create one case per idempotency key; a server restart mid-load loses and
//! duplicates nothing and is answered 503; a bad URL or a server that is down is a clear error
//! and a non-zero exit.
//!
//! The server's binaries are required: a machine without them fails these tests with the
//! package to install (`apt-get install postgresql`; dev.sh and CI install it).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use village_kiosk::backoffice::db::SubmitOutcome;
use village_kiosk::backoffice::notices::SmsGatewayConfig;
use village_kiosk::backoffice::pg_server::{PgServer, any_free_port as free_port, spawn_serve};
use village_kiosk::backoffice::sql::params;
use village_kiosk::backoffice::staff::{Routes, cases};
use village_kiosk::backoffice::{
    Bundles, Db, DbPool, EmbeddedBackoffice, ServeConfig, ServeExtras,
};
use village_kiosk::county::wire::{self, CaseStatus};
use village_kiosk::county::{CountyAuth, CountyClient};

const BIN: &str = env!("CARGO_BIN_EXE_county-backoffice");
const TOKEN: &str = "pg-token";

fn server() -> PgServer {
    PgServer::start().unwrap_or_else(|e| panic!("cannot start a PostgreSQL server: {e}"))
}

fn application(receipt: &str) -> wire::ApplicationSubmission {
    serde_json::from_value(serde_json::json!({
        "receipt_number": receipt,
        "item_code": "SB-001",
        "item_name": "城乡居民基本养老保险参保登记",
        "applicant": { "name": "王小明", "id_number": "410329198001010019", "phone": "13800138000" },
        "fields": {},
        "accepted_at": Utc::now(),
        "keep_phone": true,
    }))
    .unwrap()
}

fn body(receipt: &str) -> String {
    serde_json::to_string(&application(receipt)).unwrap()
}

fn heartbeat(queue: u32) -> wire::Heartbeat {
    serde_json::from_value(serde_json::json!({
        "software_version": "1.2.3",
        "reader": { "ok": true },
        "printer": { "ok": false, "detail": "cover open" },
        "paper": "low",
        "queue_length": queue,
        "last_errors": ["printer: cover open"],
        "clock": Utc::now(),
    }))
    .unwrap()
}

/// `Db::receipts` after CG-1 and CG-2 from S1, once each.
fn two_receipts() -> Vec<(String, String, i64)> {
    vec![
        ("S1".into(), "CG-1".into(), 1),
        ("S1".into(), "CG-2".into(), 1),
    ]
}

fn created_case(outcome: &SubmitOutcome) -> String {
    let (SubmitOutcome::Created { response, .. } | SubmitOutcome::Replayed { response, .. }) =
        outcome
    else {
        panic!("not a case: {outcome:?}")
    };
    serde_json::from_str::<wire::SubmissionReceipt>(response)
        .unwrap()
        .case_number
}

/// The back office's core, as the unit tests and the HTTP handlers use it, over `db` (an
/// SQLite path or a PostgreSQL URL): submit, replay, a reused key, case numbers, routing and
/// the department list, advancing with notes and the audit, evaluations, heartbeats and the
/// station ledger.
fn core_scenario(db: &Path) {
    let mut db = Db::open(db).unwrap();
    let now = Utc::now();
    let first = db
        .submit("S1", "k1", "h1", &application("CG-1"), now)
        .unwrap();
    assert!(matches!(first, SubmitOutcome::Created { status: 201, .. }));
    let again = db
        .submit("S1", "k1", "h1", &application("CG-1"), now)
        .unwrap();
    assert!(matches!(again, SubmitOutcome::Replayed { status: 201, .. }));
    assert_eq!(created_case(&first), created_case(&again));
    assert_eq!(
        db.replay("S1", "k1", "h1")
            .unwrap()
            .map(|o| created_case(&o)),
        Some(created_case(&first))
    );
    assert_eq!(
        db.submit("S1", "k1", "h2", &application("CG-1"), now)
            .unwrap(),
        SubmitOutcome::KeyReused
    );
    assert_eq!(
        db.replay("S2", "k1", "h1").unwrap(),
        Some(SubmitOutcome::KeyReused)
    );
    assert_eq!(db.replay("S1", "k-new", "h1").unwrap(), None);
    let second = db
        .submit("S1", "k2", "h3", &application("CG-2"), now)
        .unwrap();
    let day = now.format("%Y%m%d");
    assert_eq!(
        db.case_numbers(None, Some("S1"), None).unwrap(),
        vec![format!("XQ-{day}-000002"), format!("XQ-{day}-000001")]
    );
    let case = created_case(&second);

    let routes = Routes::from_catalog(&village_kiosk::catalog::demo::demo_catalog());
    cases::route_case(&db, &case, "SB-001", &routes, now).unwrap();
    let department = routes.get("SB-001").unwrap().department.clone();
    let routed = cases::rows(&db, Some(&department)).unwrap();
    assert_eq!(
        routed
            .iter()
            .map(|r| r.case_number.as_str())
            .collect::<Vec<_>>(),
        vec![case.as_str()]
    );
    assert!(
        cases::rows(&db, Some("no such department"))
            .unwrap()
            .is_empty()
    );

    assert!(matches!(
        db.advance(&case, CaseStatus::Rejected, Some(" "), now),
        Err(village_kiosk::backoffice::DbError::NoteRequired(..))
    ));
    db.advance_as(&case, CaseStatus::Accepted, None, None, "clerk1", now)
        .unwrap();
    let view = db
        .advance_as(
            &case,
            CaseStatus::Rejected,
            Some("材料不全：缺少户口簿"),
            Some("Household register missing"),
            "clerk1",
            now,
        )
        .unwrap();
    assert_eq!(view.status, CaseStatus::Rejected);
    assert_eq!(
        view.rejection_reason_en.as_deref(),
        Some("Household register missing")
    );
    assert_eq!(view.timeline.len(), 3);
    assert!(matches!(
        db.advance(&case, CaseStatus::Collected, None, now),
        Err(village_kiosk::backoffice::DbError::BadTransition { .. })
    ));
    let audit = cases::audit(&db, &case).unwrap();
    assert_eq!(
        audit
            .iter()
            .map(|a| (a.to, a.actor.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (CaseStatus::Accepted, "clerk1"),
            (CaseStatus::Rejected, "clerk1")
        ]
    );

    let evaluation = wire::Evaluation {
        case_number: case.clone(),
        level: 2,
        comment: Some("等太久".into()),
        evaluated_at: now,
    };
    let id = db.evaluate("S1", "e1", "eh", &evaluation, now).unwrap();
    assert!(id.is_some());
    assert_eq!(db.evaluate("S1", "e1", "eh", &evaluation, now).unwrap(), id);
    assert_eq!(
        db.evaluate("S1", "e1", "other", &evaluation, now).unwrap(),
        None
    );
    assert_eq!(
        db.evaluations(&case).unwrap(),
        vec![(2, Some("等太久".into()))]
    );

    db.heartbeat("S1", &heartbeat(3), now).unwrap();
    db.heartbeat("S1", &heartbeat(4), now).unwrap();
    db.heartbeat("S0", &heartbeat(0), now).unwrap();
    let stations = db.stations().unwrap();
    assert_eq!(
        stations
            .iter()
            .map(|s| (
                s.station_id.as_str(),
                s.queue_length,
                s.reader_ok,
                s.printer_ok
            ))
            .collect::<Vec<_>>(),
        vec![("S0", 0, true, false), ("S1", 4, true, false)]
    );
    assert_eq!(stations[1].faults(), "printer: cover open; paper low");
    let ledger =
        village_kiosk::backoffice::ledger::ledger(&db, now, Duration::from_secs(180)).unwrap();
    assert_eq!(ledger.len(), 2);

    db.grant("S2", "pk", now + chrono::Duration::minutes(15))
        .unwrap();
    assert!(db.has_grant("S2", "pk", now).unwrap());
    assert!(!db.has_grant("S3", "pk", now).unwrap());
    assert_eq!(db.receipts().unwrap(), two_receipts());
}

#[test]
fn core_behaviour_on_sqlite_and_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    core_scenario(&dir.path().join("county.sqlite3"));
    let pg = server();
    let url = pg.create_database("county").unwrap();
    core_scenario(Path::new(&url));
    // Opening it again (a second process, a restart) finds the schema and the data.
    let db = Db::open(Path::new(&url)).unwrap();
    assert_eq!(db.receipts().unwrap().len(), 2);
}

fn client(url: &str, station: &str) -> CountyClient {
    CountyClient::new(
        url,
        CountyAuth::DemoToken {
            token: TOKEN.into(),
            station_id: station.into(),
        },
        Duration::from_secs(30),
    )
    .unwrap()
}

/// The HTTP handlers on PostgreSQL, in-process: every database call runs off the async
/// workers (the sync client would panic on one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_from_postgres() {
    let pg = server();
    let url = pg.create_database("county").unwrap();
    let bo = EmbeddedBackoffice::start(Path::new(&url)).unwrap();
    let c = bo.demo_client("ST-API").unwrap();
    let sent = body("CG-API-1");
    let first = c.submit_raw("key-1", &sent).await.unwrap();
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = c.submit_raw("key-1", &sent).await.unwrap();
    assert_eq!(again.status, 201);
    assert_eq!(first.body, again.body);
    let receipt: wire::SubmissionReceipt = serde_json::from_slice(&first.body).unwrap();
    let view = c.case(&receipt.case_number).await.unwrap();
    assert_eq!(view.status, CaseStatus::Received);
    let hb = serde_json::to_string(&heartbeat(1)).unwrap();
    assert_eq!(c.heartbeat_raw(&hb).await.unwrap().status, 200);
    let stations = tokio::task::spawn_blocking({
        let url = url.clone();
        move || Db::open(Path::new(&url)).unwrap().stations().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(stations.len(), 1);
    assert_eq!(stations[0].station_id, "ST-API");
    bo.stop();
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends one application until the county answers it (as the station's outbox does: the same
/// key again after a 409, a 503 or a broken connection, after the server's `Retry-After`);
/// returns the case number and how many answers were 503.
async fn deliver(c: &CountyClient, key: &str, body: &str) -> (String, usize) {
    let mut unavailable = 0;
    for _ in 0..600 {
        match c.submit_raw(key, body).await {
            Ok(r) if r.status == 201 => {
                let receipt: wire::SubmissionReceipt = serde_json::from_slice(&r.body).unwrap();
                return (receipt.case_number, unavailable);
            }
            Ok(r) if r.status == 409 || r.status == 503 => {
                if r.status == 503 {
                    unavailable += 1;
                    let text = String::from_utf8_lossy(&r.body);
                    assert!(text.contains("database_unavailable"), "{text}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(r) => panic!(
                "{key}: HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("{key}: not delivered after 600 attempts");
}

/// Two back-office processes on one database: the same application sent to both at once,
/// twice to each, for 30 applications: one case each, and every answer names it.
#[test]
fn two_back_offices_on_one_database_create_one_case_per_key() {
    let pg = server();
    let url = pg.create_database("county").unwrap();
    let ports = [free_port(), free_port()];
    let a = spawn_serve(BIN, &url, ports[0], TOKEN);
    let b = spawn_serve(BIN, &url, ports[1], TOKEN);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clients: Vec<Arc<CountyClient>> = ports
        .iter()
        .map(|p| Arc::new(client(&format!("http://127.0.0.1:{p}"), "ST-TWO")))
        .collect();
    rt.block_on(async {
        for i in 0..30 {
            let key = format!("two-{i}");
            let body = body(&format!("CG-TWO-{i:03}"));
            let mut sends = Vec::new();
            for n in 0..4 {
                let c = clients[n % 2].clone();
                let (key, body) = (key.clone(), body.clone());
                sends.push(tokio::spawn(
                    async move { deliver(&c, &key, &body).await.0 },
                ));
            }
            let mut numbers = BTreeSet::new();
            for s in sends {
                numbers.insert(s.await.unwrap());
            }
            assert_eq!(numbers.len(), 1, "{key}: answers named {numbers:?}");
        }
    });
    stop(a);
    stop(b);
    let receipts = Db::open(Path::new(&url)).unwrap().receipts().unwrap();
    assert_eq!(receipts.len(), 30);
    assert!(
        receipts.iter().all(|(_, _, n)| *n == 1),
        "duplicates: {receipts:?}"
    );
}

/// `serve`'s pool: several PostgreSQL connections in use at once (each its own server
/// backend), and the one claim per key still holds across them; SQLite keeps one connection.
#[test]
fn a_pool_holds_several_postgres_connections_and_one_sqlite_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = DbPool::open(&dir.path().join("county.sqlite3"), 4).unwrap();
    assert_eq!(sqlite.len(), 1);

    let pg = server();
    let url = pg.create_database("county").unwrap();
    let pool = DbPool::open(Path::new(&url), 4).unwrap();
    assert_eq!(pool.len(), 4);
    let mut held: Vec<_> = (0..4).map(|_| pool.lock().unwrap()).collect();
    let backends: BTreeSet<i64> = held
        .iter()
        .map(|db| {
            db.conn()
                .query_row("SELECT pg_backend_pid()::bigint", params![], |r| r.get(0))
                .unwrap()
        })
        .collect();
    assert_eq!(backends.len(), 4, "{backends:?}");

    let now = Utc::now();
    let first = held[0]
        .submit("S1", "k1", "h1", &application("CG-1"), now)
        .unwrap();
    let again = held[3]
        .submit("S1", "k1", "h1", &application("CG-1"), now)
        .unwrap();
    match (&first, &again) {
        (
            SubmitOutcome::Created { response: a, .. },
            SubmitOutcome::Replayed { response: b, .. },
        ) => assert_eq!(a, b),
        other => panic!("{other:?}"),
    }
    drop(held);
    assert_eq!(pool.lock().unwrap().receipts().unwrap().len(), 1);
}

/// The public progress page and the SMS sender work through the serve process's pool, not
/// connections of their own: a process with `--db-connections 2`, both of them on, holds
/// exactly 2 connections, and the page reads a case through them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_and_the_sms_sender_share_the_pool() {
    let pg = server();
    let url = pg.create_database("county").unwrap();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let public = EmbeddedBackoffice::public_listener(loopback, None, None).unwrap();
    // A gateway nothing listens on: the sender starts and has nothing to send.
    let gateway = std::net::TcpListener::bind(loopback)
        .unwrap()
        .local_addr()
        .unwrap();
    let sms = SmsGatewayConfig::new(&format!("http://{gateway}/send"), None, "示范县").unwrap();
    let config = ServeConfig {
        db_connections: 2,
        ..ServeConfig::demo(url.clone().into(), "secret".into())
    };
    let extras = ServeExtras {
        public: Some(public),
        sms: Some(sms),
        ..ServeExtras::default()
    };
    let bo =
        EmbeddedBackoffice::start_with_extras(config, Bundles::demo().unwrap(), loopback, extras)
            .unwrap();
    let receipt = crate::support::submit_created(&bo, "ST-1", "key-1", &application("CG-1")).await;
    let token = receipt.progress_token.expect("a progress token");
    let page = reqwest::get(wire::progress_url(bo.public_url().unwrap(), &token))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("已接收"), "{page}");
    // A connection closed at start-up can stay listed until its backend has exited: ask again
    // (a bounded number of times) while more than 2 are listed; a pool that holds more never
    // gets down to 2.
    let held: i64 = tokio::task::spawn_blocking(move || {
        let db = Db::open(Path::new(&url)).unwrap();
        let count = || -> i64 {
            db.conn()
                .query_row(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    params![],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let mut held = count();
        for _ in 0..1000 {
            if held <= 2 {
                break;
            }
            held = count();
        }
        held
    })
    .await
    .unwrap();
    assert_eq!(held, 2, "connections the back office holds");
    bo.stop();
}

/// A connection that lost its server says so (an error naming the database, retryable), and
/// the next statement connects again; a server that is down is the same clear error.
#[test]
fn a_lost_connection_is_a_clear_error_and_the_next_call_reconnects() {
    let pg = server();
    let url = pg.create_database("county").unwrap();
    let mut db = Db::open(Path::new(&url)).unwrap();
    let now = Utc::now();
    db.submit("S1", "k1", "h1", &application("CG-1"), now)
        .unwrap();
    pg.restart().unwrap();
    let err = db
        .submit("S1", "k2", "h2", &application("CG-2"), now)
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let created = db
        .submit("S1", "k2", "h2", &application("CG-2"), now)
        .unwrap();
    assert!(matches!(created, SubmitOutcome::Created { .. }));

    pg.stop().unwrap();
    let err = db.case_numbers(None, None, None).unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}", pg.port())) && text.contains("unavailable"),
        "{text}"
    );
    pg.start_again().unwrap();
    assert_eq!(db.case_numbers(None, None, None).unwrap().len(), 2);
    assert_eq!(db.receipts().unwrap(), two_receipts());
}

/// PostgreSQL restarted (`pg_ctl restart -m fast`) while 8 stations deliver 80 applications
/// to a `county-backoffice serve` process: requests in flight get 503 and are retried with
/// their key; every application has exactly one case afterwards.
#[test]
fn postgres_restarted_mid_load_loses_and_duplicates_no_case() {
    let pg = server();
    let url = pg.create_database("county").unwrap();
    let port = free_port();
    let bo = spawn_serve(BIN, &url, port, TOKEN);
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let delivered = Arc::new(AtomicUsize::new(0));
    let (half_tx, half_rx) = std::sync::mpsc::channel::<()>();
    let (restarted_tx, restarted_rx) = tokio::sync::watch::channel(false);
    let stations = 8;
    let per_station = 10;
    let restarter = {
        let pg = &pg;
        move || {
            // Bounded: a load that panicked never sends.
            if half_rx.recv_timeout(Duration::from_secs(300)).is_err() {
                return;
            }
            pg.restart().unwrap();
            restarted_tx.send(true).unwrap();
        }
    };
    let unavailable = std::thread::scope(|s| {
        s.spawn(restarter);
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for st in 0..stations {
                let c = client(&base, &format!("ST-R{st}"));
                let delivered = delivered.clone();
                let half_tx = half_tx.clone();
                let mut restarted = restarted_rx.clone();
                tasks.push(tokio::spawn(async move {
                    let mut unavailable = 0;
                    for i in 0..per_station {
                        // The second half waits for the restart, so some requests surely
                        // meet the broken connection.
                        if i == per_station / 2 {
                            let _ = restarted.wait_for(|r| *r).await;
                        }
                        let key = format!("r-{st}-{i}");
                        let (_, u) = deliver(&c, &key, &body(&format!("CG-R{st}-{i:03}"))).await;
                        unavailable += u;
                        if delivered.fetch_add(1, Ordering::SeqCst) + 1
                            == stations * per_station / 2
                        {
                            let _ = half_tx.send(());
                        }
                    }
                    unavailable
                }));
            }
            drop(half_tx);
            let mut unavailable = 0;
            for t in tasks {
                unavailable += t.await.unwrap();
            }
            unavailable
        })
    });
    stop(bo);
    assert!(unavailable >= 1, "no request met the restart");
    let receipts = Db::open(Path::new(&url)).unwrap().receipts().unwrap();
    assert_eq!(receipts.len(), stations * per_station, "lost cases");
    assert!(
        receipts.iter().all(|(_, _, n)| *n == 1),
        "duplicates: {receipts:?}"
    );
}

fn backoffice(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_county-backoffice"))
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A server that is down and a URL that is not one: a clear English error naming the
/// database without its password, and a non-zero exit.
#[test]
fn a_bad_url_or_a_server_that_is_down_is_a_clear_error() {
    let closed = free_port();
    let down = format!("postgres://county:s3cret@127.0.0.1:{closed}/county");
    let shown = format!("postgres://county:***@127.0.0.1:{closed}/county");
    let out = backoffice(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        &down,
        "--demo-token",
        TOKEN,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot open the back office database")
            && err.contains(&format!("PostgreSQL at {shown} is unavailable")),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = backoffice(&["case", "list", "--db", &down]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&shown) && !err.contains("s3cret"), "{err}");

    let out = backoffice(&[
        "case",
        "list",
        "--db",
        "postgres://county@127.0.0.1:notaport/x",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("postgres://county@127.0.0.1:notaport/x is not a PostgreSQL URL"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
