//! Issue 13 parts 3 and 4: result notices by text message through the SMS gateway interface
//! (the reference gateway writes them to a file; gateway down then up, gateway failing after
//! receiving), and the public progress page on its own listener (token issued with the case,
//! no personal data, unknown == expired, rate limit, the receipt's QR code decoding to the page,
//! the page in headless Chromium).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use village_kiosk::backoffice::notices::{self, NoticeState, SmsGatewayConfig};
use village_kiosk::backoffice::sms_gateway::{GatewayOptions, RunningGateway, read_messages};
use village_kiosk::backoffice::{
    Bundles, Db, EmbeddedBackoffice, ServeConfig, ServeExtras, certs, public,
};
use village_kiosk::county::retry::BackoffPolicy;
use village_kiosk::county::wire::{self, CaseStatus};

const ITEM: &str = "城乡居民基本养老保险参保登记";
const NAME: &str = "王小明";
const ID: &str = "410329198001010043";
const PHONE: &str = "13800138000";
const WINDOW: &str = "城关镇便民服务中心3号窗口";
const WAIT: Duration = Duration::from_secs(30);

fn submission(receipt: &str, phone: Option<&str>) -> wire::ApplicationSubmission {
    let mut s = crate::support::submission(receipt, ID);
    s.item_name = ITEM.into();
    s.applicant.name = NAME.into();
    s.applicant.phone = phone.map(str::to_owned);
    s
}

/// The demo villager's application for [`ITEM`] with [`PHONE`], as the form hands it over.
fn demo_draft(
    card: &village_kiosk::sim::idcard::SimCard,
) -> village_kiosk::station::ports::ApplicationDraft {
    use village_kiosk::station::ports::{Answer, ApplicationDraft};
    ApplicationDraft {
        item_code: "SB-001".into(),
        item_name: ITEM.into(),
        card_kind: village_kiosk::idcard::CardKind::Resident,
        applicant_name: card.name.clone(),
        id_number: card.id_number.clone(),
        answers: vec![Answer {
            key: "phone".into(),
            label: "联系电话".into(),
            kind: village_kiosk::catalog::FieldKind::Phone,
            value: PHONE.into(),
        }],
        agent: None,
        keep_phone: false,
        card_key: village_kiosk::county::client::card_key(&card.to_id_card()),
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A demo back office (plain HTTP, bearer token) with the given extras.
fn backoffice(dir: &std::path::Path, extras: ServeExtras) -> EmbeddedBackoffice {
    let config = ServeConfig::demo(dir.join("county.sqlite3"), "secret".into());
    EmbeddedBackoffice::start_with_extras(config, Bundles::demo().unwrap(), loopback(), extras)
        .unwrap()
}

/// Submits one application as station ST-1; returns (case number, progress token).
async fn submit(bo: &EmbeddedBackoffice, receipt: &str, phone: Option<&str>) -> (String, String) {
    let key = format!("key-{receipt}");
    let r = crate::support::submit_created(bo, "ST-1", &key, &submission(receipt, phone)).await;
    (r.case_number, r.progress_token.expect("a progress token"))
}

fn advance_to_ready(bo: &EmbeddedBackoffice, case: &str) {
    for (to, note) in [
        (CaseStatus::Accepted, None),
        (CaseStatus::InReview, None),
        (CaseStatus::Approved, None),
        (CaseStatus::ReadyForCollection, Some(WINDOW)),
    ] {
        bo.advance(case, to, note).unwrap();
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Personal data that must never be on the page or in a message.
fn assert_nothing_personal(text: &str) {
    for p in [NAME, "王*明", ID, &ID[ID.len() - 4..], PHONE] {
        assert!(!text.contains(p), "{p:?} in {text}");
    }
}

#[test]
fn tokens_are_issued_with_the_case_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
    let now = Utc::now();
    let sub = submission("CG-1", Some(PHONE));
    let village_kiosk::backoffice::db::SubmitOutcome::Created { response, .. } =
        db.submit("ST-1", "k1", "h1", &sub, now).unwrap()
    else {
        panic!("not created")
    };
    let receipt: wire::SubmissionReceipt = serde_json::from_str(&response).unwrap();
    let token = receipt.progress_token.clone().expect("token in the answer");
    assert_eq!(token.len(), 32);
    assert!(!token.contains(&receipt.case_number) && !receipt.case_number.contains(&token));
    // A replay answers the same token.
    let village_kiosk::backoffice::db::SubmitOutcome::Replayed {
        response: again, ..
    } = db.submit("ST-1", "k1", "h1", &sub, now).unwrap()
    else {
        panic!("not replayed")
    };
    assert_eq!(again, response);
    let case = public::lookup(&db, &token, now).unwrap().expect("found");
    assert_eq!(case.item_name, ITEM);
    assert_eq!(case.status, CaseStatus::Received);
    assert!(public::lookup(&db, &"0".repeat(32), now).unwrap().is_none());
    assert!(public::lookup(&db, "../etc", now).unwrap().is_none());
    assert!(
        public::lookup(&db, &token, now + public::TOKEN_TTL)
            .unwrap()
            .is_none(),
        "a year on, the token has expired"
    );
    // A final status: the page stays for the grace period, then goes.
    db.advance(
        &receipt.case_number,
        CaseStatus::Rejected,
        Some("年龄不符"),
        now,
    )
    .unwrap();
    let seen = public::lookup(&db, &token, now + chrono::TimeDelta::days(1))
        .unwrap()
        .expect("still shown after rejection");
    assert_eq!(seen.status, CaseStatus::Rejected);
    assert!(
        public::lookup(
            &db,
            &token,
            now + public::FINAL_GRACE + chrono::TimeDelta::days(1)
        )
        .unwrap()
        .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_shows_no_personal_data_unknown_equals_expired_and_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let public = EmbeddedBackoffice::public_listener(loopback(), None, None).unwrap();
    let bo = backoffice(
        dir.path(),
        ServeExtras {
            public: Some(public),
            ..Default::default()
        },
    );
    let base = bo.public_url().unwrap().to_string();
    // The station learns the public URL from GET /v1/station.
    let hello = bo.demo_client("ST-1").unwrap().hello().await.unwrap();
    assert_eq!(hello.public_url.as_deref(), Some(base.as_str()));
    let (case, token) = submit(&bo, "CG-1", Some(PHONE)).await;
    advance_to_ready(&bo, &case);
    let mut requests = 0;
    let url = wire::progress_url(&base, &token);
    let (status, page) = get(&url).await;
    requests += 1;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(ITEM) && page.contains("待领取") && page.contains(WINDOW),
        "{page}"
    );
    for step in ["已接收", "已受理", "审核中", "已办结"] {
        assert!(page.contains(step), "{step} missing from the timeline");
    }
    assert_nothing_personal(&page);
    // Unknown and expired tokens get the same answer, byte for byte.
    let (case2, token2) = submit(&bo, "CG-2", None).await;
    bo.db()
        .unwrap()
        .conn()
        .execute(
            "UPDATE progress_tokens SET expires_at = '2000-01-01T00:00:00.000Z' WHERE case_number = ?1",
            village_kiosk::backoffice::sql::params![case2],
        )
        .unwrap();
    let expired = get(&wire::progress_url(&base, &token2)).await;
    let unknown = get(&wire::progress_url(&base, &"ab".repeat(16))).await;
    let malformed = get(&wire::progress_url(&base, "CG-1")).await;
    requests += 3;
    assert_eq!(expired.0, 404);
    assert_eq!(expired, unknown);
    assert_eq!(expired, malformed);
    // The public listener serves no station API; the stations' listener no public page.
    assert_eq!(get(&format!("{base}/v1/station")).await.0, 404);
    assert_ne!(get(&format!("{}/p/{token}", bo.url())).await.0, 200);
    // Rate limit: the 21st page request within a minute from one address is refused.
    while requests < public::RATE_LIMIT {
        assert_eq!(get(&url).await.0, 200);
        requests += 1;
    }
    let (status, body) = get(&url).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("请稍后再试"));
}

/// The receipt the demo kiosk prints for an application the county confirmed carries the
/// case's public page in its QR code, read back from the paper with rqrr.
#[test]
fn the_receipt_qr_decodes_to_the_public_page() {
    use village_kiosk::station::ports::ReceiptInfo;
    use village_kiosk::station::{DemoOptions, Station};
    let rt = crate::support::runtime();
    let station = Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo");
    let parts = station.demo_parts().expect("demo parts");
    let base = parts
        .backoffice
        .as_ref()
        .and_then(|b| b.public_url())
        .expect("demo mode runs the public listener")
        .to_string();
    let card = village_kiosk::sim::idcard::SimCard::demo_resident();
    let draft = demo_draft(&card);
    let services = station.services().clone();
    let sub = services.county.submit(&draft).expect("accepted");
    assert!(!sub.queued, "the embedded county confirms at once");
    let prefix = format!("{base}/p/");
    assert!(sub.qr_payload.starts_with(&prefix), "{}", sub.qr_payload);
    let token = &sub.qr_payload[prefix.len()..];
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!sub.qr_payload.contains(&sub.receipt_no));
    services
        .printer
        .print_receipt(&ReceiptInfo {
            receipt_no: sub.receipt_no.clone(),
            item_code: "SB-001".into(),
            item_name: ITEM.into(),
            applicant_masked: "王*明".into(),
            agent: None,
            submitted_at: sub.submitted_at,
            queued: sub.queued,
            qr_payload: sub.qr_payload.clone(),
            promised_days: 15,
            case_number: sub.case_number.clone(),
            collect_at: "村便民服务站".into(),
            materials_to_bring: Vec::new(),
        })
        .expect("printed");
    let paper = crate::printer::png_to_bitmap(&parts.printer_sim.paper_png());
    assert_eq!(
        crate::printer::read_qr_on_paper(&paper),
        vec![sub.qr_payload.clone()]
    );
    let (status, page) = rt.block_on(get(&sub.qr_payload));
    assert_eq!(status, 200);
    assert!(page.contains(ITEM) && page.contains("已接收"));
    assert!(!page.contains(&card.name) && !page.contains(&card.id_number) && !page.contains(PHONE));
}

/// The receipt's public progress-page URL is learned once, by the station's own task, never on
/// the submit path: with the county down at start an application is queued and its receipt has
/// no QR code; once the county answers the outbox worker, the URL is learned without any
/// receipt asking for it, and the next receipt carries it. (Before, only a submission asked
/// again, up to 3 s on the submit path: this waited for ever.)
#[test]
fn the_public_url_is_learned_when_the_county_answers_not_on_the_submit_path() {
    use std::sync::Arc;
    use village_kiosk::county::outbox::WorkerConfig;
    use village_kiosk::county::retry::BackoffPolicy;
    use village_kiosk::county::{CountyAuth, CountyClient};
    use village_kiosk::station::catalogue::IndexedCatalogue;
    use village_kiosk::station::county::OutboxCounty;
    use village_kiosk::station::ports::CountyLink;

    let rt = crate::support::runtime();
    let dir = tempfile::tempdir().unwrap();
    // The county's address, with nobody listening on it yet.
    let addr = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let client = CountyClient::new(
        &format!("http://{addr}"),
        CountyAuth::DemoToken {
            token: "secret".into(),
            station_id: "ST-1".into(),
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let config = village_kiosk::config::Config::default();
    let store_path = dir.path().join("kiosk.sqlite3");
    let county = OutboxCounty::start_with_worker(
        village_kiosk::store::Store::open(&store_path).unwrap(),
        &store_path,
        Some(client),
        rt.handle().clone(),
        Arc::new(IndexedCatalogue::shared(
            village_kiosk::catalog::demo::demo_catalog_shared(),
        )),
        &config,
        WorkerConfig {
            policy: BackoffPolicy {
                base: Duration::from_secs(1),
                max: Duration::from_secs(1),
            },
            heartbeat_interval: Some(Duration::from_secs(1)),
            ..WorkerConfig::default()
        },
    )
    .unwrap()
    .with_confirm_wait(WAIT);
    let card = village_kiosk::sim::idcard::SimCard::demo_resident();
    let draft = demo_draft(&card);

    let mut learned = county.public_url_watch();
    let queued = county
        .submit(&draft)
        .expect("accepted while the county is down");
    assert!(queued.queued, "{queued:?}");
    assert_eq!(
        queued.qr_payload, "",
        "no QR code while the county is unknown"
    );
    assert_eq!(*learned.borrow(), None);

    // The county comes up on its address, with its public page.
    let config = ServeConfig::demo(dir.path().join("county.sqlite3"), "secret".into());
    let bo = EmbeddedBackoffice::start_with_extras(
        config,
        Bundles::demo().unwrap(),
        addr,
        ServeExtras {
            public: Some(EmbeddedBackoffice::public_listener(loopback(), None, None).unwrap()),
            ..ServeExtras::default()
        },
    )
    .unwrap();
    let base = bo.public_url().unwrap().to_string();
    let url = rt.block_on(async {
        tokio::time::timeout(WAIT, learned.wait_for(|u| u.is_some()))
            .await
            .expect("the public URL was learned once the county answered")
            .expect("the learner is running")
            .clone()
    });
    assert_eq!(url.as_deref(), Some(base.as_str()));
    let confirmed = county.submit(&draft).expect("accepted");
    assert!(!confirmed.queued, "{confirmed:?}");
    assert!(
        confirmed.qr_payload.starts_with(&format!("{base}/p/")),
        "{}",
        confirmed.qr_payload
    );
    assert!(county.shutdown(WAIT));
    drop(bo);
}

/// The QR code's URL opened in a real browser (headless Chromium) over HTTPS with a server
/// certificate; the screenshot is kept in target/tmp, and in docs/screens/public-progress-page.png
/// with `UPDATE_SCREENS=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_page_opens_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "this test needs Chromium (the Debian package chromium): ./dev.sh test installs it, or apt-get install chromium"
            )
        });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = certs::new_ca("Test County CA", 365).unwrap();
    let (ca_pem, _) = certs::write_pair(d, "ca", &ca, false).unwrap();
    let server = certs::new_server(&ca, &ca_pem, &["127.0.0.1".into()], 365).unwrap();
    let (cert, key) = certs::write_pair(d, "public", &server, false).unwrap();
    let public = EmbeddedBackoffice::public_listener(loopback(), None, Some((cert, key))).unwrap();
    let bo = backoffice(
        d,
        ServeExtras {
            public: Some(public),
            ..Default::default()
        },
    );
    let base = bo.public_url().unwrap().to_string();
    assert!(base.starts_with("https://"), "{base}");
    let (case, token) = submit(&bo, "CG-1", Some(PHONE)).await;
    advance_to_ready(&bo, &case);
    let url = wire::progress_url(&base, &token);
    let shot = d.join("page.png");
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--hide-scrollbars",
            "--window-size=412,860",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .await
        .expect("chromium runs");
    assert!(
        out.status.success() && shot.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&shot).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (412, 860));
    let distinct: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()]
        .chunks(info.color_type.samples())
        .collect();
    assert!(
        distinct.len() > 20,
        "a blank page: {} colours",
        distinct.len()
    );
    // The page the browser was given is the one with the case on it.
    let (status, page) = get(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains(WINDOW));
    // Kept under target/ on every run; `UPDATE_SCREENS=1` refreshes the copy in docs/screens.
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("public-progress-page.png");
    std::fs::write(&kept, &bytes).unwrap();
    if std::env::var_os("UPDATE_SCREENS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
        std::fs::write(docs.join("public-progress-page.png"), &bytes).unwrap();
    }
}

fn sms(url: &str) -> SmsGatewayConfig {
    let mut c = SmsGatewayConfig::new(url, Some("gw-token".into()), "示范县政务服务").unwrap();
    c.backoff = BackoffPolicy {
        base: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    c
}

/// Waits (on the sender's attempt counter) until `cond` holds for the queue.
async fn wait_for_notices(
    bo: &EmbeddedBackoffice,
    what: &str,
    cond: impl Fn(&[notices::Notice]) -> bool,
) -> Vec<notices::Notice> {
    let mut attempts = bo.notices().attempts();
    let check = || notices::notices(&bo.db().unwrap()).unwrap();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let n = check();
            if cond(&n) {
                return n;
            }
            attempts.changed().await.unwrap();
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", check()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_notice_waits_out_a_dead_gateway_and_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on yet: the gateway is down.
    let addr = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/send");
    let bo = backoffice(
        dir.path(),
        ServeExtras {
            sms: Some(sms(&url)),
            ..Default::default()
        },
    );
    let (case, _) = submit(&bo, "CG-1", Some(PHONE)).await;
    let (quiet, _) = submit(&bo, "CG-2", None).await;
    bo.advance(&case, CaseStatus::Accepted, None).unwrap();
    bo.advance(&quiet, CaseStatus::Rejected, Some("年龄不符"))
        .unwrap();
    assert!(
        notices::notices(&bo.db().unwrap()).unwrap().is_empty(),
        "no notice for accepted, none without a phone"
    );
    bo.advance(&case, CaseStatus::InReview, None).unwrap();
    bo.advance(&case, CaseStatus::Approved, None).unwrap();
    bo.advance(&case, CaseStatus::ReadyForCollection, Some(WINDOW))
        .unwrap();
    let failed = wait_for_notices(&bo, "a failed attempt", |n| {
        n.len() == 1 && n[0].attempts >= 1
    })
    .await;
    assert_eq!(failed[0].state, NoticeState::Pending);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("unreachable")),
        "{failed:?}"
    );
    // The gateway comes up on that port.
    let out = dir.path().join("sms.jsonl");
    let gw = RunningGateway::start(
        addr,
        GatewayOptions {
            out: out.clone(),
            token: Some("gw-token".into()),
            fail_after_receive: 0,
        },
    )
    .unwrap();
    bo.notices().wake();
    let sent = wait_for_notices(&bo, "the notice sent", |n| {
        n.iter().all(|x| x.state == NoticeState::Sent)
    })
    .await;
    assert_eq!(sent[0].phone_masked, "138****8000");
    let raw_phone: String = bo
        .db()
        .unwrap()
        .conn()
        .query_row("SELECT phone FROM sms_notices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(raw_phone, "138****8000", "the number is masked once sent");
    // Collected: no further message.
    bo.advance(&case, CaseStatus::Collected, None).unwrap();
    let messages = read_messages(&out).unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m.to, PHONE);
    assert_eq!(m.sign, "示范县政务服务");
    assert_eq!(m.id, sent[0].idempotency_key);
    assert!(m.text.contains(ITEM) && m.text.contains("已办结") && m.text.contains(WINDOW));
    assert!(!m.text.contains(ID) && !m.text.contains(NAME), "{}", m.text);
    assert_eq!(notices::notices(&bo.db().unwrap()).unwrap().len(), 1);
    drop(gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_fails_after_receiving_gets_no_second_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sms.jsonl");
    let gw = RunningGateway::start(
        loopback(),
        GatewayOptions {
            out: out.clone(),
            token: Some("gw-token".into()),
            fail_after_receive: 1,
        },
    )
    .unwrap();
    let bo = backoffice(
        dir.path(),
        ServeExtras {
            sms: Some(sms(&gw.url())),
            ..Default::default()
        },
    );
    let (case, _) = submit(&bo, "CG-1", Some(PHONE)).await;
    // A reason that quotes the ID number: the message masks it.
    let reason = format!("户籍信息与身份证号{ID}不符");
    bo.advance(&case, CaseStatus::Rejected, Some(&reason))
        .unwrap();
    let sent = wait_for_notices(&bo, "the notice sent", |n| {
        n.len() == 1 && n[0].state == NoticeState::Sent
    })
    .await;
    assert_eq!(
        sent[0].attempts, 2,
        "the first answer was lost, the retry got 200"
    );
    assert_eq!(*gw.requests().borrow(), 2);
    let messages = read_messages(&out).unwrap();
    assert_eq!(messages.len(), 1, "sent twice: {messages:?}");
    assert!(messages[0].text.contains("未通过") && messages[0].text.contains(ITEM));
    assert!(!messages[0].text.contains(ID), "{}", messages[0].text);
    // A refused notice (bad credentials) is kept as refused, not retried, not lost.
    let dir2 = tempfile::tempdir().unwrap();
    let mut wrong = sms(&gw.url());
    wrong.token = Some("wrong".into());
    let bo2 = backoffice(
        dir2.path(),
        ServeExtras {
            sms: Some(wrong),
            ..Default::default()
        },
    );
    let (case2, _) = submit(&bo2, "CG-9", Some(PHONE)).await;
    bo2.advance(&case2, CaseStatus::Rejected, Some("材料不全"))
        .unwrap();
    let refused = wait_for_notices(&bo2, "the refusal", |n| {
        n.len() == 1 && n[0].state == NoticeState::Refused
    })
    .await;
    assert!(
        refused[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("401")
    );
    assert_eq!(read_messages(&out).unwrap().len(), 1);
}

/// Bad input on the command line: a clear message and a non-zero exit, nothing served.
#[test]
fn serve_refuses_a_bad_public_url_and_a_plain_http_sms_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let db = db.to_str().unwrap();
    for (extra, expected) in [
        (
            vec![
                "--public-listen",
                "127.0.0.1:0",
                "--public-url",
                "ftp://jd.example.gov.cn",
            ],
            "--public-url \"ftp://jd.example.gov.cn\": use an https:// URL",
        ),
        (
            vec![
                "--public-listen",
                "127.0.0.1:0",
                "--public-url",
                "https://jd.example.gov.cn/?a=1",
            ],
            "no query or fragment",
        ),
        (
            vec!["--sms-gateway", "http://sms.example.gov.cn/send"],
            "plain http is allowed only on a loopback address; use https",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_county-backoffice"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--db",
                db,
                "--demo-token",
                "t",
            ])
            .args(&extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
}
