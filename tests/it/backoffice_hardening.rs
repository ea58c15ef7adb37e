//! Back-office hardening (issue 14): replay before validation, file modes, authentication of
//! the ledger and `/healthz`, the cap on TLS handshakes, the revocation list, bounded answers on
//! the kiosk side, and SQLite work kept off the async workers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use village_kiosk::backoffice::{self, Bundles, EmbeddedBackoffice, ServeConfig, TlsFiles, certs};
use village_kiosk::catalog::bundle;
use village_kiosk::county::client::ClientError;
use village_kiosk::county::wire;
use village_kiosk::county::{CountyAuth, CountyClient};

const WAIT: Duration = Duration::from_secs(60);

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn submission(receipt: &str) -> String {
    serde_json::to_string(&crate::support::submission(receipt, "410329198001010019")).unwrap()
}

/// Issue 14 #4: a retry after the county's catalogue dropped the item is a replay, not a
/// validation error (which would mark an application the county already has as needing
/// attention).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_answered_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let config = ServeConfig::demo(db.clone(), "tok".into());
    let body = submission("CG-20261128-0001");
    let first = {
        let bo =
            EmbeddedBackoffice::start_with(config.clone(), Bundles::demo().unwrap(), any_port())
                .unwrap();
        let c = bo.demo_client("ST-R").unwrap();
        c.submit_raw("key-1", &body).await.unwrap()
    };
    assert_eq!(first.status, 201);
    // The county withdraws SB-001 from village terminals and restarts.
    let mut catalog = village_kiosk::catalog::demo::demo_catalog();
    catalog.items.retain(|i| i.code != "SB-001");
    let bundles = Bundles::new(
        &catalog,
        &backoffice::demo_announcements(),
        &bundle::demo_signing_key(),
    )
    .unwrap();
    let bo = EmbeddedBackoffice::start_with(config, bundles, any_port()).unwrap();
    let c = bo.demo_client("ST-R").unwrap();
    let again = c.submit_raw("key-1", &body).await.unwrap();
    assert_eq!(
        (again.status, &again.body),
        (201, &first.body),
        "the stored answer: {}",
        String::from_utf8_lossy(&again.body)
    );
    // A new application for the withdrawn item is refused.
    let new = c
        .submit_raw("key-2", &submission("CG-20261128-0002"))
        .await
        .unwrap();
    assert_eq!(new.status, 422);
    assert!(String::from_utf8_lossy(&new.body).contains("unknown service item"));
    assert_eq!(bo.db().unwrap().receipts().unwrap().len(), 1);
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Issue 14 #10: the database (and its WAL) readable by the back office's user only, whatever
/// the umask; the systemd unit keeps the state directory private.
#[cfg(unix)]
#[test]
fn the_database_is_created_private_and_the_unit_keeps_it_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("county.sqlite3");
    let db = backoffice::Db::open(&path).unwrap();
    db.person_key_salt().unwrap();
    assert_eq!(mode(&path), 0o600, "database file mode");
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600, "WAL file mode");
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/systemd/county-backoffice.service"),
    )
    .unwrap();
    for line in ["StateDirectoryMode=0700", "UMask=0077"] {
        assert!(unit.lines().any(|l| l.trim() == line), "unit lacks {line}");
    }
}

/// Issue 14 #10: the station ledger and `/healthz` answer only an authenticated caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_and_healthz_need_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let bo = EmbeddedBackoffice::start(&dir.path().join("county.sqlite3")).unwrap();
    let http = reqwest::Client::new();
    // The ledger is a staff page on the staff listener now (tests/it/fleet.rs): the stations'
    // listener answers its old address with 410 Gone, whatever the credentials.
    let staff = http
        .get(format!("{}/staff/ledger", bo.url()))
        .bearer_auth(bo.token())
        .header(wire::STATION_ID_HEADER, "ST-L")
        .send()
        .await
        .unwrap();
    assert_eq!(
        staff.status().as_u16(),
        410,
        "/staff/ledger with a station's token"
    );
    for path in ["/healthz"] {
        let anon = http
            .get(format!("{}{path}", bo.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status().as_u16(), 401, "{path} without credentials");
        let authed = http
            .get(format!("{}{path}", bo.url()))
            .bearer_auth(bo.token())
            .header(wire::STATION_ID_HEADER, "ST-L")
            .send()
            .await
            .unwrap();
        assert_eq!(authed.status().as_u16(), 200, "{path} with the token");
    }
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS: handshake cap and revocation list.

struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    server: (PathBuf, PathBuf),
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = certs::new_ca("Test County CA", 365).unwrap();
        let (ca_pem, _) = certs::write_pair(dir.path(), "ca", &ca, false).unwrap();
        let server = certs::new_server(&ca, &ca_pem, &["127.0.0.1".into()], 365).unwrap();
        let server = certs::write_pair(dir.path(), "server", &server, false).unwrap();
        Pki {
            dir,
            ca: ca_pem,
            server,
        }
    }

    fn ca_pair(&self) -> certs::PemPair {
        certs::read_pair(&self.ca, &self.dir.path().join("ca.key")).unwrap()
    }

    fn station(&self, id: &str) -> (PathBuf, PathBuf, certs::PemPair) {
        let pair = certs::new_station(&self.ca_pair(), &self.ca, id, 365).unwrap();
        let (c, k) =
            certs::write_pair(self.dir.path(), &format!("station-{id}"), &pair, false).unwrap();
        (c, k, pair)
    }

    fn files(&self, crl: Option<PathBuf>) -> TlsFiles {
        TlsFiles {
            ca_cert: self.ca.clone(),
            cert: self.server.0.clone(),
            key: self.server.1.clone(),
            crl,
        }
    }

    fn client(&self, url: &str, station: &(PathBuf, PathBuf, certs::PemPair)) -> CountyClient {
        CountyClient::new(
            url,
            CountyAuth::MutualTls {
                ca_cert: self.ca.clone(),
                client_cert: station.0.clone(),
                client_key: station.1.clone(),
            },
            Duration::from_secs(10),
        )
        .unwrap()
    }
}

/// Issue 14 #10: connections that never finish a handshake cannot pile up without bound; over
/// the cap a connection is closed, and a station gets through again once a slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tls_handshakes_are_capped() {
    let pki = Pki::new();
    let station = pki.station("ST-CAP");
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::tls(dir.path().join("county.sqlite3"), pki.files(None));
    config.max_tls_handshakes = 2;
    let bo = EmbeddedBackoffice::start_with(config, Bundles::demo().unwrap(), any_port()).unwrap();
    // Two connections that never send a ClientHello hold both slots.
    let idle1 = TcpStream::connect(bo.addr()).await.unwrap();
    let idle2 = TcpStream::connect(bo.addr()).await.unwrap();
    tokio::time::timeout(WAIT, bo.wait_for_handshakes(2))
        .await
        .expect("two handshakes in progress");
    let c = pki.client(&bo.url(), &station);
    let refused = c.hello().await;
    assert!(
        matches!(refused, Err(ClientError::Transport(_))),
        "over the cap: {refused:?}"
    );
    drop((idle1, idle2));
    tokio::time::timeout(WAIT, bo.wait_for_handshakes(0))
        .await
        .expect("slots freed");
    assert_eq!(c.hello().await.unwrap().station_id, "ST-CAP");
}

/// Issue 14 #10: a station certificate on the county CA's revocation list is refused in the
/// handshake; the others still connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_station_certificate_is_refused() {
    let pki = Pki::new();
    let good = pki.station("ST-GOOD");
    let stolen = pki.station("ST-STOLEN");
    let serial = certs::serial_of(&stolen.2.cert_pem).unwrap();
    let crl = certs::new_crl(&pki.ca_pair(), &pki.ca, &[serial], 1, 30).unwrap();
    let crl_path = pki.dir.path().join("crl.pem");
    std::fs::write(&crl_path, crl).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig::tls(dir.path().join("county.sqlite3"), pki.files(Some(crl_path)));
    let bo = EmbeddedBackoffice::start_with(config, Bundles::demo().unwrap(), any_port()).unwrap();
    assert_eq!(
        pki.client(&bo.url(), &good)
            .hello()
            .await
            .unwrap()
            .station_id,
        "ST-GOOD"
    );
    let err = pki.client(&bo.url(), &stolen).hello().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");

    // A CRL file that holds no CRL is a start-up error, not a silent "no revocation".
    let bad = pki.dir.path().join("not-a-crl.pem");
    std::fs::write(&bad, "nothing here").unwrap();
    let config = ServeConfig::tls(dir.path().join("c2.sqlite3"), pki.files(Some(bad)));
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let r = backoffice::serve(listener, config, Bundles::demo().unwrap(), async {}).await;
    let e = r.unwrap_err().to_string();
    assert!(e.contains("revocation list"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The kiosk side: bounded answers.

/// A server that answers every request with `head` and then streams bytes until the client
/// hangs up.
async fn endless_server(head: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                while sock.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    addr
}

/// Issue 14 #10: an answer larger than the kiosk will read is refused, whether it says so in
/// Content-Length or just keeps coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_reads_bounded_answers() {
    for head in [
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n",
    ] {
        let addr = endless_server(head).await;
        let c = CountyClient::new(
            &format!("http://{addr}"),
            CountyAuth::DemoToken {
                token: "t".into(),
                station_id: "S".into(),
            },
            Duration::from_secs(30),
        )
        .unwrap();
        let e = c.hello().await.unwrap_err();
        assert!(matches!(e, ClientError::TooLarge { .. }), "{head:?}: {e}");
        // Retried later like any garbled answer, never taken as delivered.
        assert!(matches!(
            e.outcome(),
            village_kiosk::county::retry::AttemptOutcome::Unavailable { .. }
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite off the async workers.

/// Issue 14 #14: while SQLite waits (here on a lock another connection holds), the runtime's
/// workers stay free: `/healthz` answers although two submissions wait for the database (before
/// the fix each blocked one of the two workers until the busy timeout made both fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_waits_do_not_block_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let bo = EmbeddedBackoffice::start(&dir.path().join("county.sqlite3")).unwrap();
    let c = bo.demo_client("ST-W").unwrap();
    // Warm up: the salt and the schema exist.
    c.hello().await.unwrap();
    let blocker = bo.db().unwrap();
    blocker.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = bo.claims();
    let subs: Vec<_> = (0..2)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.submit_raw(
                    &format!("key-{i}"),
                    &submission(&format!("CG-20261128-000{i}")),
                )
                .await
            })
        })
        .collect();
    // One holds the database (waiting for the lock), the other waits for it.
    bo.wait_for_claims(before + 1).await;
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", bo.url()))
        .bearer_auth(bo.token())
        .header(wire::STATION_ID_HEADER, "ST-W")
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    if let Some(done) = subs.iter().position(|s| s.is_finished()) {
        let r = subs.into_iter().nth(done).unwrap().await.unwrap().unwrap();
        panic!(
            "the submissions still wait for the lock, but one answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    blocker.conn().execute_batch("COMMIT").unwrap();
    for s in subs {
        assert_eq!(s.await.unwrap().unwrap().status, 201);
    }
}

/// Contract (found by the schemathesis run): a heartbeat's sync refusals name their bundle kind
/// and reason with the API document's words; any other word is refused with 422, the words the
/// kiosk sends are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_refusals_use_the_documented_words() {
    let dir = tempfile::tempdir().unwrap();
    let bo = EmbeddedBackoffice::start(&dir.path().join("county.sqlite3")).unwrap();
    let c = bo.demo_client("ST-HB").unwrap();
    let body = |kind: &str, reason: &str| {
        serde_json::json!({
            "software_version": "t",
            "reader": { "ok": true, "detail": null },
            "printer": { "ok": true, "detail": null },
            "paper": "ok",
            "queue_length": 0,
            "clock": "2026-12-01T08:00:00Z",
            "sync": { "refusals": [
                { "kind": kind, "reason": reason, "detail": "d", "at": "2026-12-01T07:00:00Z" }
            ] }
        })
        .to_string()
    };
    for reason in wire::SYNC_REFUSAL_REASONS {
        for kind in wire::SYNC_REFUSAL_KINDS {
            let r = c.heartbeat_raw(&body(kind, reason)).await.unwrap();
            assert_eq!(r.status, 200, "{kind} {reason}");
        }
    }
    assert_eq!(
        c.heartbeat_raw(&body("catalog", "AAA"))
            .await
            .unwrap()
            .status,
        422
    );
    assert_eq!(
        c.heartbeat_raw(&body("menu", "replay"))
            .await
            .unwrap()
            .status,
        422
    );
    // The kiosk's verdict words likewise.
    let mut hb: serde_json::Value = serde_json::from_str(&body("catalog", "replay")).unwrap();
    hb["verdict"] = "fine".into();
    assert_eq!(c.heartbeat_raw(&hb.to_string()).await.unwrap().status, 422);
    hb["verdict"] = "warn".into();
    assert_eq!(c.heartbeat_raw(&hb.to_string()).await.unwrap().status, 200);
    // An object given as an array (serde would read a struct from it) is refused.
    hb["sync"] = serde_json::json!([null, null]);
    assert_eq!(c.heartbeat_raw(&hb.to_string()).await.unwrap().status, 422);
}
