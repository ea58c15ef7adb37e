//! Issue 14 #2: a person's cases only for a station that has the card on its reader now: a
//! fresh single-use challenge from the county, the card's key checked against the cards on
//! record, rate-limited per station.

use village_kiosk::backoffice::{EmbeddedBackoffice, lookup};
use village_kiosk::county::client::{ClientError, card_key};
use village_kiosk::county::{person_key, wire};

use crate::county::card;

fn submission(id_number: &str, card_key: Option<String>) -> String {
    let mut body = crate::support::submission("CG-20261128-0001", id_number);
    body.card_key = card_key;
    serde_json::to_string(&body).unwrap()
}

/// A raw `POST /v1/persons/cases` as a station that computed everything it can without a card.
async fn raw_lookup(bo: &EmbeddedBackoffice, station: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/persons/cases", bo.url()))
        .bearer_auth(bo.token())
        .header(wire::STATION_ID_HEADER, station)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_without_the_card_gets_nothing() {
    const ID: &str = "410329198001010043";
    let dir = tempfile::tempdir().unwrap();
    let bo = EmbeddedBackoffice::start(&dir.path().join("county.sqlite3")).unwrap();
    let owner = bo.demo_client("ST-HOME").unwrap();
    let the_card = card(ID);
    let reply = owner
        .submit_raw("k1", &submission(ID, Some(card_key(&the_card))))
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    let receipt: wire::SubmissionReceipt = serde_json::from_slice(&reply.body).unwrap();

    // Another station knows the ID number and the salt (GET /v1/station hands it out).
    let prying = bo.demo_client("ST-PRY").unwrap();
    let salt = hex::decode(prying.hello().await.unwrap().person_key_salt).unwrap();
    let pk = person_key(&salt, ID);
    // 1. The old request, person_key alone: refused.
    let (status, _) = raw_lookup(&bo, "ST-PRY", format!(r#"{{"person_key":"{pk}"}}"#)).await;
    assert_eq!(status, 422);
    // 2. A made-up challenge: refused.
    let forged = format!(
        r#"{{"person_key":"{pk}","challenge":"{}","card_key":"{}"}}"#,
        "00".repeat(16),
        "11".repeat(32)
    );
    assert_eq!(raw_lookup(&bo, "ST-PRY", forged).await.0, 403);
    // 3. A real challenge but a guessed card key (the card on record is another): nothing, no
    //    grant, and the answer looks like that of a person without cases.
    let other_card = {
        let mut c = card(ID);
        c.photo = vec![9; 1024];
        c
    };
    assert!(
        prying
            .person_cases_for_card(&other_card)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        prying.case(&receipt.case_number).await,
        Err(ClientError::Status { status: 404, .. })
    ));
    // 4. The ID number alone through the client: a clear error, nothing sent.
    assert!(matches!(
        prying.person_cases(ID).await,
        Err(ClientError::Config(_))
    ));
    // With the card on its reader, the same station sees them (and may open the case).
    let seen = prying.person_cases_for_card(&the_card).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert!(prying.case(&receipt.case_number).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_are_single_use_and_bound_to_the_station() {
    let dir = tempfile::tempdir().unwrap();
    let bo = EmbeddedBackoffice::start(&dir.path().join("county.sqlite3")).unwrap();
    let http = reqwest::Client::new();
    let challenge = |station: &'static str| {
        let http = http.clone();
        let url = format!("{}/v1/persons/challenge", bo.url());
        let token = bo.token().to_string();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header(wire::STATION_ID_HEADER, station)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("retry-after").cloned(),
                r.text().await.unwrap(),
            )
        }
    };
    let (status, _, body) = challenge("ST-A").await;
    assert_eq!(status, 201);
    let c: wire::PersonChallenge = serde_json::from_str(&body).unwrap();
    let query = format!(
        r#"{{"person_key":"{}","challenge":"{}","card_key":"{}"}}"#,
        "ab".repeat(32),
        c.challenge,
        "cd".repeat(32)
    );
    // Another station cannot use it; its owner can, once.
    assert_eq!(raw_lookup(&bo, "ST-B", query.clone()).await.0, 403);
    assert_eq!(raw_lookup(&bo, "ST-A", query.clone()).await.0, 200);
    assert_eq!(raw_lookup(&bo, "ST-A", query).await.0, 403);
    // Rate limit per station: ST-A has used one of its challenges.
    for _ in 1..lookup::RATE_LIMIT {
        assert_eq!(challenge("ST-A").await.0, 201);
    }
    let (status, retry_after, body) = challenge("ST-A").await;
    assert_eq!(status, 429, "{body}");
    assert!(retry_after.is_some());
    assert_eq!(challenge("ST-B").await.0, 201, "other stations unaffected");
}
