//! The social security card reader (issue 15 part 4): the serial driver against the pty
//! simulator speaking `vk-sscard-1` byte for byte, with a card behind it answering the PBOC
//! APDUs: the account read, no card, no bank application, a mute card, a garbled line, a card
//! inserted while the kiosk waits; and the doctor's `sscard` check.

use std::time::Duration;

use village_kiosk::config::SsCardConfig;
use village_kiosk::doctor::findings::Status;
use village_kiosk::sim::sscard::{DEMO_ACCOUNT, SimSsCard, SsCardSimulator};
use village_kiosk::sscard::emv::EmvError;
use village_kiosk::sscard::profile::{DEFAULT_SSCARD_PROFILE, SsReaderProfile};
use village_kiosk::sscard::{SsCardError, SsReaderSettings, read_account};

fn settings(sim: &SsCardSimulator, insert_wait: Duration) -> SsReaderSettings {
    let profile = SsReaderProfile::load(DEFAULT_SSCARD_PROFILE).expect("profile");
    SsReaderSettings {
        insert_wait,
        ..SsReaderSettings::from_profile(sim.path(), &profile)
    }
}

#[test]
fn the_account_is_read_from_the_inserted_card() {
    let sim = SsCardSimulator::start(None, Some(SimSsCard::demo())).expect("sim");
    let account = read_account(&settings(&sim, Duration::ZERO)).expect("read");
    assert_eq!(account.digits(), DEMO_ACCOUNT);
    assert!(
        !format!("{account:?}").contains(DEMO_ACCOUNT),
        "masked in logs"
    );
}

#[test]
fn without_a_card_the_read_says_so() {
    let sim = SsCardSimulator::start(None, None).expect("sim");
    let e = read_account(&settings(&sim, Duration::ZERO)).unwrap_err();
    assert!(matches!(e, SsCardError::NoCard(_)), "{e}");
    assert!(e.message_zh().contains("手动输入"), "{}", e.message_zh());
}

#[test]
fn a_card_without_a_bank_application_is_told_apart() {
    let sim = SsCardSimulator::start(None, Some(SimSsCard::NoBankApplication)).expect("sim");
    let e = read_account(&settings(&sim, Duration::ZERO)).unwrap_err();
    assert!(
        matches!(e, SsCardError::Card(EmvError::NoBankApplication)),
        "{e}"
    );
    assert_eq!(
        e.message_zh(),
        "这张社保卡没有开通金融账户，请手动输入银行卡号。"
    );
}

#[test]
fn a_mute_card_and_a_garbled_line_are_errors_not_accounts() {
    let sim = SsCardSimulator::start(None, Some(SimSsCard::Mute)).expect("sim");
    let e = read_account(&settings(&sim, Duration::ZERO)).unwrap_err();
    assert!(matches!(e, SsCardError::CardMute), "{e}");

    sim.insert(SimSsCard::demo());
    sim.set_bad_checksum(true);
    let requests = sim.watch_requests();
    let e = read_account(&settings(&sim, Duration::ZERO)).unwrap_err();
    assert!(matches!(e, SsCardError::Garbled { .. }), "{e}");
    // The status request went three times: once and two resends.
    assert_eq!(requests.try_iter().filter(|c| *c == 0x10).count(), 3);
    sim.set_bad_checksum(false);
    assert_eq!(
        read_account(&settings(&sim, Duration::ZERO))
            .expect("a clean line again")
            .digits(),
        DEMO_ACCOUNT
    );
}

#[test]
fn a_card_inserted_while_the_kiosk_waits_is_read() {
    let sim = SsCardSimulator::start(None, None).expect("sim");
    let requests = sim.watch_requests();
    let s = settings(&sim, Duration::from_secs(60));
    let reading = std::thread::spawn(move || read_account(&s));
    // The driver is polling the empty slot.
    assert_eq!(
        requests.recv_timeout(Duration::from_secs(30)),
        Ok(0x10),
        "status polled"
    );
    sim.insert(SimSsCard::bank("6228480012345678903"));
    let account = reading.join().expect("thread").expect("read");
    assert_eq!(account.digits(), "6228480012345678903");
}

#[test]
fn the_doctor_probes_the_configured_reader() {
    let sim = SsCardSimulator::start(None, Some(SimSsCard::demo())).expect("sim");
    let config = SsCardConfig {
        port: Some(sim.path().to_path_buf()),
        ..SsCardConfig::default()
    };
    let check = village_kiosk::doctor::probe::sscard_check(&config);
    assert_eq!(check.id, "sscard");
    assert_eq!(check.status, Status::Ok, "{check:?}");
    assert!(check.finding.contains("a card is inserted"), "{check:?}");

    let missing = SsCardConfig {
        port: Some("/dev/nonexistent-sscard".into()),
        ..SsCardConfig::default()
    };
    let check = village_kiosk::doctor::probe::sscard_check(&missing);
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.finding.contains("does not exist"), "{check:?}");

    let bad_profile = SsCardConfig {
        port: Some(sim.path().to_path_buf()),
        profile: "nope".into(),
    };
    let check = village_kiosk::doctor::probe::sscard_check(&bad_profile);
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.finding.contains("sscard.profile"), "{check:?}");
}
