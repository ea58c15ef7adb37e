//! Fuzz target: the county API's JSON bodies (`county::wire`), as the back office decodes
//! requests from stations and the kiosk decodes the county's answers. Any bytes must decode or
//! be refused, never panic; whatever decodes must encode and decode again to the same value
//! (the back office compares replays by their bytes, so a lossy round trip would matter). The
//! first byte picks the type.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use village_kiosk::county::wire;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(bytes) {
        let text = serde_json::to_vec(&v).expect("a decoded value encodes");
        let back: T = serde_json::from_slice(&text).expect("an encoded value decodes");
        assert_eq!(back, v);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 13 {
        // Requests the back office decodes.
        0 => round_trip::<wire::ApplicationSubmission>(body),
        1 => round_trip::<wire::Evaluation>(body),
        2 => round_trip::<wire::Heartbeat>(body),
        3 => round_trip::<wire::PersonCasesQuery>(body),
        // Answers the kiosk decodes.
        4 => round_trip::<wire::SubmissionReceipt>(body),
        5 => round_trip::<wire::CaseView>(body),
        6 => round_trip::<wire::PersonCases>(body),
        7 => round_trip::<wire::StationHello>(body),
        8 => round_trip::<wire::EvaluationReceipt>(body),
        9 => round_trip::<wire::HeartbeatAck>(body),
        10 => round_trip::<wire::ApiError>(body),
        11 => round_trip::<wire::Announcements>(body),
        _ => round_trip::<wire::CaseStatus>(body),
    }
});
