//! Integration tests for the idcard area: the real driver on real ptys against the SAM
//! simulator, and the real `kiosk` binary's exit codes.
//!
//! No sleeps: every wait is on a reader event, a simulator request or a process, with a
//! generous timeout.

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use village_kiosk::idcard::card::{CardKind, CardRejection, Sex};
use village_kiosk::idcard::protocol::Command;
use village_kiosk::idcard::reader::{CardDay, ReaderEvent, ReaderSettings, spawn_reader};
use village_kiosk::sim::idcard::{IdcardSimulator, SimCard, SimOptions};

const WAIT: Duration = Duration::from_secs(15);

/// Fast polling so tests stay quick; timeouts still generous for a loaded machine.
fn settings(path: &std::path::Path) -> ReaderSettings {
    ReaderSettings {
        poll_interval: Duration::from_millis(20),
        // Generous, so a loaded machine does not look like a silent reader.
        command_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(5),
        reopen_interval: Duration::from_millis(30),
        ..ReaderSettings::new(path)
    }
}

/// The station's day on the wall clock (the demo cards are valid today).
fn today() -> CardDay {
    CardDay::new(chrono_tz::Asia::Shanghai, chrono::Utc::now)
}

fn fast() -> SimOptions {
    SimOptions {
        pace: false,
        ..SimOptions::default()
    }
}

fn next_event(rx: &mut Receiver<ReaderEvent>) -> ReaderEvent {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, rx.recv()).await })
        .expect("no reader event within the timeout")
        .expect("reader thread ended")
}

fn expect_placed(rx: &mut Receiver<ReaderEvent>) -> village_kiosk::idcard::IdCard {
    match next_event(rx) {
        ReaderEvent::CardPlaced(card) => card,
        other => panic!("expected CardPlaced, got {other:?}"),
    }
}

/// Waits until the simulator has received `n` more requests of `command`.
fn wait_requests(rx: &std_mpsc::Receiver<Option<Command>>, command: Command, n: usize) {
    let mut seen = 0;
    while seen < n {
        let got = rx
            .recv_timeout(WAIT)
            .expect("the driver stopped sending requests");
        if got == Some(command) {
            seen += 1;
        }
    }
}

#[test]
fn reads_a_resident_card_through_a_pty() {
    let sim = IdcardSimulator::start(SimOptions {
        card: Some(SimCard::demo_resident()),
        ..fast()
    })
    .unwrap();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    let card = expect_placed(&mut rx);
    let demo = SimCard::demo_resident();
    assert_eq!(card.kind, CardKind::Resident);
    assert_eq!(card.name, demo.name);
    assert_eq!(card.id_number, demo.id_number);
    assert_eq!(card.sex, Sex::Male);
    assert_eq!(card.nation.as_deref(), Some("汉"));
    assert_eq!(card.valid_until, None, "长期");
    assert_eq!(card.photo, demo.photo);
}

#[test]
fn split_noisy_paced_responses_of_every_card_kind() {
    for demo in [
        SimCard::demo_hk_macao_taiwan(),
        SimCard::demo_foreign_permanent(),
    ] {
        let sim = IdcardSimulator::start(SimOptions {
            card: Some(demo.clone()),
            pieces: 7,
            noise: true,
            pace: true,
            ..SimOptions::default()
        })
        .unwrap();
        let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
        let card = expect_placed(&mut rx);
        assert_eq!(card.kind, demo.card_kind);
        assert_eq!(card.id_number, demo.id_number);
        assert_eq!(card.pass_number, demo.pass_number);
        assert_eq!(card.english_name, demo.english_name);
        assert_eq!(card.nationality, demo.nationality);
    }
}

#[test]
fn no_card_then_lift_and_replace() {
    let sim = IdcardSimulator::start(SimOptions {
        replace_after_read: true,
        ..fast()
    })
    .unwrap();
    let requests = sim.watch_requests();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    // Several polls find no card, and nothing is reported.
    wait_requests(&requests, Command::FindCard, 3);
    assert!(rx.try_recv().is_err(), "no event without a card");

    sim.place_card(SimCard::demo_resident());
    expect_placed(&mut rx);
    // The card stays: find now fails (it must be placed again), select still succeeds, and
    // the driver must not report a lift.
    wait_requests(&requests, Command::SelectCard, 3);
    assert!(rx.try_recv().is_err(), "card still on the reader");

    sim.lift_card();
    assert!(matches!(next_event(&mut rx), ReaderEvent::CardLifted));
    sim.place_card(SimCard::demo_hk_macao_taiwan());
    assert_eq!(expect_placed(&mut rx).kind, CardKind::HkMacaoTaiwanPermit);
}

#[test]
fn expired_card_is_rejected_not_placed() {
    let sim = IdcardSimulator::start(SimOptions {
        card: Some(SimCard::demo_expired()),
        ..fast()
    })
    .unwrap();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    match next_event(&mut rx) {
        ReaderEvent::CardRejected(r @ CardRejection::Expired { .. }) => {
            assert!(r.message_zh().contains("有效期"));
        }
        other => panic!("expected an expiry rejection, got {other:?}"),
    }
    sim.lift_card();
    assert!(matches!(next_event(&mut rx), ReaderEvent::CardLifted));
}

/// Issue 10: the reader thread validates cards on the station's day (`station.time_zone`), from
/// the clock it is given, not on the machine's. At 2024-06-30 17:00 UTC it is already 1 July in
/// Beijing: a card valid until 30 June has expired there (though not in UTC), one valid until
/// 1 July is still good. (Failed first: the thread read the machine's clock, on which both
/// cards had long expired.)
#[test]
fn cards_are_checked_on_the_station_day_from_the_given_clock() {
    use chrono::TimeZone as _;
    let instant = chrono::Utc.with_ymd_and_hms(2024, 6, 30, 17, 0, 0).unwrap();
    let beijing = CardDay::new(chrono_tz::Asia::Shanghai, move || instant);
    let utc = CardDay::new(chrono_tz::UTC, move || instant);
    assert_eq!(
        beijing.today(),
        chrono::NaiveDate::from_ymd_opt(2024, 7, 1).unwrap()
    );
    let june_30 = chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
    let july_1 = chrono::NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
    for (day, until, placed) in [
        (beijing.clone(), june_30, false),
        (beijing, july_1, true),
        (utc, june_30, true),
    ] {
        let mut card = SimCard::demo_resident();
        card.valid_until = Some(until);
        let sim = IdcardSimulator::start(SimOptions {
            card: Some(card),
            ..fast()
        })
        .unwrap();
        let (_handle, mut rx) = spawn_reader(settings(sim.path()), day.clone());
        match next_event(&mut rx) {
            ReaderEvent::CardPlaced(_) if placed => {}
            ReaderEvent::CardRejected(CardRejection::Expired { valid_until }) if !placed => {
                assert_eq!(valid_until, until)
            }
            other => panic!("{day:?}, valid until {until}: got {other:?}"),
        }
    }
}

#[test]
fn reads_text_and_photo_only_no_fingerprints() {
    // Issue 14 #9: the kiosk has no use for fingerprints, so it must not ask the card for them.
    let sim = IdcardSimulator::start(fast()).unwrap();
    let requests = sim.watch_requests();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    wait_requests(&requests, Command::FindCard, 1);
    sim.place_card(SimCard::demo_resident());
    expect_placed(&mut rx);
    let seen: Vec<Command> = std::iter::from_fn(|| requests.try_recv().ok())
        .flatten()
        .collect();
    assert!(seen.contains(&Command::ReadTextPhoto), "{seen:?}");
    assert!(
        !seen.contains(&Command::ReadTextPhotoFingerprint),
        "asked for fingerprints: {seen:?}"
    );
}

#[test]
fn old_sam_falls_back_to_30_01() {
    let sim = IdcardSimulator::start(SimOptions {
        old_sam: true,
        ..fast()
    })
    .unwrap();
    let requests = sim.watch_requests();
    let (_handle, mut rx) = spawn_reader(
        ReaderSettings {
            fingerprint: true,
            ..settings(sim.path())
        },
        today(),
    );
    wait_requests(&requests, Command::FindCard, 1);
    sim.place_card(SimCard::demo_resident());
    expect_placed(&mut rx);
    let mut seen = Vec::new();
    while let Ok(Some(c)) = requests.try_recv() {
        seen.push(c);
    }
    let fp = seen
        .iter()
        .position(|c| *c == Command::ReadTextPhotoFingerprint)
        .expect("tried 30 10 first");
    assert_eq!(seen[fp + 1], Command::ReadTextPhoto, "{seen:?}");
}

#[test]
fn failed_reads_are_retried() {
    let sim = IdcardSimulator::start(SimOptions {
        failing_reads: 2,
        ..fast()
    })
    .unwrap();
    let requests = sim.watch_requests();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    wait_requests(&requests, Command::FindCard, 1);
    sim.place_card(SimCard::demo_resident());
    expect_placed(&mut rx);
    let reads = std::iter::from_fn(|| requests.try_recv().ok())
        .filter(|c| *c == Some(Command::ReadTextPhoto))
        .count();
    assert_eq!(reads, 3, "two failures and the read that worked");
}

#[test]
fn silent_reader_is_reported_and_comes_back() {
    let sim = IdcardSimulator::start(SimOptions {
        card: Some(SimCard::demo_resident()),
        ..fast()
    })
    .unwrap();
    let (_handle, mut rx) = spawn_reader(settings(sim.path()), today());
    expect_placed(&mut rx);
    sim.set_silent(true);
    match next_event(&mut rx) {
        ReaderEvent::ReaderFault(text) => assert!(text.contains("does not answer"), "{text}"),
        other => panic!("expected a fault, got {other:?}"),
    }
    // The card cannot be vouched for while the reader is silent.
    assert!(matches!(next_event(&mut rx), ReaderEvent::CardLifted));
    sim.set_silent(false);
    assert!(matches!(next_event(&mut rx), ReaderEvent::ReaderBack));
    expect_placed(&mut rx);
}

#[test]
fn wrong_baud_is_reported_as_not_answering() {
    let sim = IdcardSimulator::start(fast()).unwrap();
    let (_handle, mut rx) = spawn_reader(
        ReaderSettings {
            baud: 9600,
            ..settings(sim.path())
        },
        today(),
    );
    match next_event(&mut rx) {
        ReaderEvent::ReaderFault(text) => {
            assert!(text.contains("does not answer at 9600 baud"), "{text}")
        }
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[test]
fn survives_unplug_and_replug_at_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyIDCARD");
    let options = || SimOptions {
        link: Some(link.clone()),
        card: Some(SimCard::demo_resident()),
        ..fast()
    };
    let first = IdcardSimulator::start(options()).unwrap();
    let (_handle, mut rx) = spawn_reader(settings(&link), today());
    expect_placed(&mut rx);

    drop(first); // the USB reader is unplugged
    let mut faulted = false;
    let mut lifted = false;
    while !(faulted && lifted) {
        match next_event(&mut rx) {
            ReaderEvent::ReaderFault(_) => faulted = true,
            ReaderEvent::CardLifted => lifted = true,
            other => panic!("unexpected {other:?} after unplugging"),
        }
    }

    let second = IdcardSimulator::start(options()).unwrap(); // plugged in again
    assert_eq!(second.path(), link.as_path());
    loop {
        match next_event(&mut rx) {
            // Reopen attempts before the link came back may report again.
            ReaderEvent::ReaderFault(_) => {}
            ReaderEvent::ReaderBack => break,
            other => panic!("expected ReaderBack, got {other:?}"),
        }
    }
    expect_placed(&mut rx);
}

#[test]
fn dropping_the_handle_stops_the_reader() {
    let sim = IdcardSimulator::start(fast()).unwrap();
    let (handle, mut rx) = spawn_reader(settings(sim.path()), today());
    let requests = sim.watch_requests();
    wait_requests(&requests, Command::FindCard, 1);
    handle.stop();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let end = rt
        .block_on(async { tokio::time::timeout(WAIT, rx.recv()).await })
        .unwrap();
    assert!(end.is_none(), "the channel closes when the thread ends");
}

// ---- the `kiosk` binary ----

fn kiosk() -> Process {
    Process::new(env!("CARGO_BIN_EXE_kiosk"))
}

fn card_read(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    kiosk()
        .args(["card", "read", "--port"])
        .arg(path)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn cli_read_prints_masked_fields_and_exits_0() {
    let sim = IdcardSimulator::start(SimOptions {
        card: Some(SimCard::demo_resident()),
        ..SimOptions::default()
    })
    .unwrap();
    let out = card_read(sim.path(), &["--timeout", "10"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let id = SimCard::demo_resident().id_number.clone();
    assert!(stdout.contains(&format!("{}********{}", &id[..6], &id[14..])));
    assert!(!stdout.contains(&id), "{stdout}");
    assert!(!stdout.contains("王小明"));
    assert!(stdout.contains("长期"));
    // Issue 14 #8: the birth date beside the masked number would rebuild it.
    assert!(!stdout.contains("1960"), "birth date printed: {stdout}");
    assert!(stdout.contains("birth date:   ****-**-**"), "{stdout}");
    let out = card_read(sim.path(), &["--timeout", "10", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["birth_date"], "****-**-**");
    assert_eq!(json["masked"], true);

    let out = card_read(sim.path(), &["--timeout", "10", "--json", "--show-pii"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["id_number"], id.as_str());
    assert_eq!(json["name"], "王小明");
    assert_eq!(json["card_kind"], "resident");
    assert_eq!(json["sex"], "男");
    assert_eq!(json["nation"], "汉");
    assert_eq!(json["birth_date"], "1960-01-01");
    assert_eq!(json["valid_until"], serde_json::Value::Null);
    for field in ["address", "issuer", "valid_from"] {
        assert!(json[field].is_string(), "{field}");
    }
}

#[test]
fn cli_read_masks_the_birth_date_in_an_old_foreigners_number() {
    // Issue 14 #8: sources disagree where the birth date sits in the 15-character number
    // (after a 2- or 4-digit place code), so every character it might occupy is masked.
    let demo = SimCard::demo_foreign_permanent();
    let sim = IdcardSimulator::start(SimOptions {
        card: Some(demo.clone()),
        ..fast()
    })
    .unwrap();
    let out = card_read(sim.path(), &["--timeout", "10", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let masked = json["id_number"].as_str().unwrap();
    let id = &demo.id_number;
    assert_eq!(masked, format!("{}********{}", &id[..5], &id[13..]));
    assert_eq!(json["birth_date"], "****-**-**");
    let text =
        String::from_utf8_lossy(&card_read(sim.path(), &["--timeout", "10"]).stdout).into_owned();
    for leak in ["1985", "850515", "8505"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}

#[test]
fn cli_read_exit_codes_for_each_failure() {
    let sim = IdcardSimulator::start(fast()).unwrap();
    let out = card_read(sim.path(), &["--timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(2), "no card");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no card"));

    sim.set_silent(true);
    let out = card_read(sim.path(), &["--timeout", "5"]);
    assert_eq!(out.status.code(), Some(3), "silent reader");
    assert!(String::from_utf8_lossy(&out.stderr).contains("baud rate"));

    let out = card_read(std::path::Path::new("/dev/no-such-reader"), &[]);
    assert_eq!(out.status.code(), Some(3), "no such port");
    assert!(String::from_utf8_lossy(&out.stderr).contains("plugged in"));

    sim.set_silent(false);
    sim.place_card(SimCard::demo_expired());
    let out = card_read(sim.path(), &["--timeout", "10"]);
    assert_eq!(out.status.code(), Some(4), "expired card");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expired"), "{stderr}");
    assert!(!stderr.contains(&SimCard::demo_expired().id_number));

    let unreadable = IdcardSimulator::start(SimOptions {
        card: Some(SimCard::demo_resident()),
        failing_reads: u32::MAX,
        ..fast()
    })
    .unwrap();
    let out = card_read(unreadable.path(), &["--timeout", "1"]);
    assert_eq!(out.status.code(), Some(4), "card that cannot be read");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be read"));

    let mut bad = SimCard::demo_resident();
    bad.id_number.replace_range(
        17..,
        if bad.id_number.ends_with('0') {
            "1"
        } else {
            "0"
        },
    );
    sim.place_card(bad);
    let out = card_read(sim.path(), &["--timeout", "10", "--json"]);
    assert_eq!(out.status.code(), Some(4), "bad check digit");
    assert!(String::from_utf8_lossy(&out.stderr).contains("check character"));
}

#[test]
fn cli_simulator_prints_its_path_first_and_serves_a_card_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("card.json");
    std::fs::write(
        &file,
        serde_json::to_string(&SimCard::demo_hk_macao_taiwan()).unwrap(),
    )
    .unwrap();
    let mut sim = kiosk()
        .args([
            "sim",
            "idcard",
            "--no-pace",
            "--split",
            "3",
            "--noise",
            "--card",
        ])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let path = first.trim().to_string();
    assert!(path.starts_with("/dev/"), "{path:?}");
    let out = card_read(std::path::Path::new(&path), &["--timeout", "10", "--json"]);
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["card_kind"], "hk_macao_taiwan_permit");
    assert_eq!(json["issue_count"], 1);
    assert!(json["pass_number"].as_str().unwrap().contains('*'));
}

/// Lines of a child's stdout, on a channel, so the test can wait with a timeout.
fn lines_of(stdout: std::process::ChildStdout) -> std_mpsc::Receiver<String> {
    let (tx, rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &std_mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no line containing {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn cli_watch_follows_a_simulator_steered_on_stdin() {
    use std::io::Write;
    let mut sim = kiosk()
        .args(["sim", "idcard", "--no-pace", "--replace-after-read"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sim_lines = lines_of(sim.stdout.take().unwrap());
    let path = sim_lines.recv_timeout(WAIT).unwrap();
    let mut watch = kiosk()
        .args(["card", "watch", "--port", &path])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = lines_of(watch.stdout.take().unwrap());
    let placed = wait_line(&events, "card placed");
    assert!(placed.contains("340524********"), "{placed}");
    assert!(!placed.contains(&SimCard::demo_resident().id_number));

    let mut stdin = sim.stdin.take().unwrap();
    writeln!(stdin, "lift").unwrap();
    wait_line(&events, "card lifted");
    writeln!(stdin, "place").unwrap();
    wait_line(&events, "card placed");
    writeln!(stdin, "silent").unwrap();
    assert!(wait_line(&events, "reader fault").contains("does not answer"));
    writeln!(stdin, "talk").unwrap();
    wait_line(&events, "reader back");

    for child in [&mut watch, &mut sim] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Demo mode's card hand (放演示身份证) replaces the card so that the reader sees a new one,
/// however slowly the reader polls: it waits until the reader has polled the empty field.
/// Before, it waited at most 3 s per request and then placed the card anyway. A reader that
/// had not polled by then still found "a card present", never reported the new one, and the
/// visit stayed on the card page (the soak on a loaded machine, visit 115 of a debug run). Here
/// the reader polls every 5 s.
#[test]
fn the_demo_card_hand_replaces_the_card_for_a_slowly_polling_reader() {
    use std::sync::Arc;
    use village_kiosk::station::card_hand::SimCardHand;
    use village_kiosk::station::ports::{DemoCard, DemoCardHand};

    let sim = Arc::new(IdcardSimulator::start(fast()).unwrap());
    let slow = ReaderSettings {
        poll_interval: Duration::from_secs(5),
        ..settings(sim.path())
    };
    let (_reader, mut rx) = spawn_reader(slow, today());
    let hand = SimCardHand::new(sim.clone());
    hand.place(DemoCard::Resident).expect("first card placed");
    expect_placed(&mut rx);
    hand.place(DemoCard::Resident).expect("card replaced");
    match next_event(&mut rx) {
        ReaderEvent::CardLifted => {}
        other => panic!("expected the old card lifted, got {other:?}"),
    }
    expect_placed(&mut rx);
}
