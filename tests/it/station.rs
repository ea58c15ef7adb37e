//! Integration tests for the assembled station (issue 16 part 4): the running kiosk's live
//! health reaches the county in its heartbeats. Real parts only: the reader and printer
//! simulators on pseudo-terminals, the embedded back office on loopback, the outbox worker
//! sending heartbeats. Waits are on the worker's status (it changes after every delivery),
//! never on a timer.

use std::time::Duration;

use village_kiosk::backoffice::StationRow;
use village_kiosk::printer::status::PaperState;
use village_kiosk::station::{DemoOptions, Station};

const WAIT: Duration = Duration::from_secs(60);

/// Waits until the back office's ledger row for the demo station satisfies `done`.
fn wait_for_heartbeat(
    rt: &tokio::runtime::Runtime,
    station: &Station,
    what: &str,
    done: impl Fn(&StationRow) -> bool,
) -> StationRow {
    let bo = station
        .demo_parts()
        .and_then(|d| d.backoffice.as_ref())
        .expect("the embedded back office");
    let mut status = station.county_status().expect("the outbox worker runs");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let row = bo
            .db()
            .expect("db")
            .stations()
            .expect("ledger")
            .into_iter()
            .find(|r| r.station_id == "DEMO-0001");
        if let Some(row) = row
            && done(&row)
        {
            return row;
        }
        rt.block_on(async { tokio::time::timeout_at(deadline, status.changed()).await })
            .unwrap_or_else(|_| panic!("no heartbeat showed {what} within {WAIT:?}"))
            .expect("the worker runs");
    }
}

/// A reader that stops answering (unplugged) and a printer out of paper each show in the next
/// heartbeat the back office receives, with the reason, and the live verdict fails.
#[test]
fn a_silent_reader_and_paper_out_show_in_the_next_heartbeat() {
    let rt = crate::support::runtime();
    let station = Station::demo(
        DemoOptions {
            heartbeat_every: Duration::from_millis(200),
            printer_health_every: Duration::from_millis(200),
            ..DemoOptions::default()
        },
        rt.handle().clone(),
    )
    .expect("demo station");
    let reader = station.start_reader(|_| {});
    let parts = station.demo_parts().expect("demo");

    let row = wait_for_heartbeat(&rt, &station, "a healthy station", |r| {
        r.reader_ok && r.printer_ok && r.paper == "ok"
    });
    assert_eq!(row.software_version, env!("CARGO_PKG_VERSION"));

    // The reader is unplugged: it answers nothing any more.
    parts.idcard_sim.set_silent(true);
    let row = wait_for_heartbeat(&rt, &station, "the reader fault", |r| !r.reader_ok);
    assert!(row.reader_detail.is_some(), "{row:?}");
    assert!(
        row.last_errors.iter().any(|e| e.starts_with("reader:")),
        "{row:?}"
    );
    let health = station.health().snapshot();
    assert_eq!(health.verdict.as_deref(), Some("fail"));
    assert!(
        health
            .failing_checks
            .iter()
            .any(|c| c.starts_with("reader:")),
        "{health:?}"
    );

    // Paper runs out between receipts.
    parts.printer_sim.set_state(PaperState::PaperEnd);
    let row = wait_for_heartbeat(&rt, &station, "paper out", |r| r.paper == "out");
    assert!(!row.printer_ok, "{row:?}");
    assert!(row.faults().contains("paper out"), "{}", row.faults());

    // Both come back: the next heartbeats say so.
    parts.idcard_sim.set_silent(false);
    parts.printer_sim.set_state(PaperState::Ok);
    wait_for_heartbeat(&rt, &station, "the devices back", |r| {
        r.reader_ok && r.printer_ok && r.paper == "ok"
    });
    reader.stop();
    drop(station);
}

/// Issue 16: the maintenance screen's details lines and its settings file (the volume) are the
/// assembled station's, in its own data directory (demo mode: its temporary one), not the
/// directory the config file names (`config::data_dir`), which here holds no store at all.
#[test]
fn the_maintenance_details_and_settings_follow_the_station_data_dir() {
    let rt = crate::support::runtime();
    let station = Station::demo(DemoOptions::default(), rt.handle().clone()).expect("demo");
    let elsewhere = tempfile::tempdir().unwrap();
    let mut config = village_kiosk::config::Config::default();
    config.data.dir = elsewhere.path().to_path_buf();
    assert_eq!(village_kiosk::config::data_dir(&config), elsewhere.path());

    let lines = station.maintenance_details(config.clone())();
    let outbox = lines
        .iter()
        .find(|l| l.starts_with("待上传："))
        .unwrap_or_else(|| panic!("no outbox line: {lines:?}"));
    assert_eq!(outbox, "待上传：0 件，需处理：0 件", "{lines:?}");

    let paths = station.maintenance_paths(&elsewhere.path().join("kiosk.toml"));
    assert!(paths.settings.starts_with(station.data_dir()), "{paths:?}");
    assert!(paths.lockout.starts_with(station.data_dir()), "{paths:?}");
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing written to the config's data directory"
    );
    drop(station);
}
