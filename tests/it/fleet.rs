//! The county's station ledger and remote requests (issue 16 parts 5 and 6), end to end: the
//! `county-backoffice stations` commands on the reference back office's database, the
//! `/staff/ledger` page over HTTP, and requests that travel in the heartbeat answer of a real
//! outbox worker (on a virtual clock) and are answered by the kiosk's screen side.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use village_kiosk::backoffice::staff::StaffOptions;
use village_kiosk::backoffice::{Bundles, EmbeddedBackoffice, ServeConfig, update as bo_update};
use village_kiosk::county::wire;
use village_kiosk::update::driver::describe_file;
use village_kiosk::update::manifest::{self, SLOT_FILES, UpdateManifest};

const WAIT: Duration = Duration::from_secs(60);

fn bo_cli(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_county-backoffice"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const LIST: &str = "station_id,township,village,name\n\
                    ST-A,城关镇,东关村,东关村便民服务站\n\
                    ST-B,城关镇,西关村,西关村便民服务站\n";

/// A station list with bad rows is refused whole, each row named by its line; a good one makes
/// never-seen stations show in the ledger; a request for a station nobody knows is refused.
#[test]
fn the_station_list_imports_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "ST-A,城关镇,东关村,a\nST B,城关镇,西关村,b\nST-C,城关镇,,c\n",
    )
    .unwrap();
    let out = bo_cli(&["stations", "import", bad.to_str().unwrap()], &db);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("2 bad row(s), nothing imported"), "{err}");
    assert!(err.contains("line 2: station id \"ST B\""), "{err}");
    assert!(
        err.contains("line 3: station ST-C: the village is empty"),
        "{err}"
    );
    let out = bo_cli(&["stations"], &db);
    assert!(out.status.success());
    assert!(!stdout(&out).contains("ST-A"), "{}", stdout(&out));

    let good = dir.path().join("stations.csv");
    std::fs::write(&good, LIST).unwrap();
    let out = bo_cli(&["stations", "import", good.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("imported 2 station(s): 2 new, 0 updated"));
    let out = bo_cli(&["stations"], &db);
    let table = stdout(&out);
    for id in ["ST-A", "ST-B"] {
        let line = table.lines().find(|l| l.starts_with(id)).expect(id);
        assert!(line.contains("never"), "{line}");
    }
    assert!(
        table.contains("coverage: 0/2 villages have a working terminal"),
        "{table}"
    );

    let out = bo_cli(&["stations", "request", "ST-Z", "doctor"], &db);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("station \"ST-Z\" is not in the ledger"));
    let out = bo_cli(&["stations", "request", "ST-B", "reboot"], &db);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown kind");
}

/// A demo back office (database `db`) with the staff pages on their own listener and the
/// demo operators (`hr`, `mz` clerks, `boss` supervisor).
fn staffed(db: &Path) -> EmbeddedBackoffice {
    let bo = EmbeddedBackoffice::start_with_staff(
        ServeConfig::demo(db.to_path_buf(), "fleet-token".into()),
        Bundles::demo().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        StaffOptions::default(),
    )
    .unwrap();
    crate::staff::add_operators(&bo);
    bo
}

/// Issue 16 part 5 + issue 12 part 5: the ledger is on the staff listener behind the operator
/// login, for supervisors, with each station's offered update; the stations' listener answers
/// its old address with 410 and a station's credentials open nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_is_behind_the_operator_login_with_the_update_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.sqlite3");
    let bo = staffed(&db);
    let list = dir.path().join("stations.csv");
    std::fs::write(&list, LIST).unwrap();
    assert!(
        bo_cli(&["stations", "import", list.to_str().unwrap()], &db)
            .status
            .success()
    );
    // Version 0.9.0 offered to ST-A first (a staged rollout).
    let files = dir.path().join("release");
    std::fs::create_dir_all(&files).unwrap();
    for (n, len) in [("rootfs.img", 4096), ("vmlinuz", 100), ("initrd.img", 200)] {
        std::fs::write(files.join(n), vec![1u8; len]).unwrap();
    }
    let m = UpdateManifest {
        manifest_version: manifest::MANIFEST_VERSION,
        version: "0.9.0".into(),
        issued_at: chrono::Utc::now(),
        files: SLOT_FILES
            .iter()
            .map(|n| describe_file(n, &files.join(n)).unwrap())
            .collect(),
    };
    let signed = manifest::sign(&m, &SigningKey::from_bytes(&[42; 32])).unwrap();
    bo_update::publish(
        &bo.db().unwrap(),
        &signed,
        &files,
        Some(&["ST-A".to_string()]),
        chrono::Utc::now(),
    )
    .unwrap();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let staff = bo.staff_url().unwrap();
    // Not logged in: to the login page.
    let anon = http
        .get(format!("{staff}/staff/ledger"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status().as_u16(), 303);
    assert_eq!(anon.headers()["location"], "/staff/login");
    // The stations' listener: gone from there, for stations and everyone else.
    for station in [None, Some("ST-A")] {
        let mut req = http.get(format!("{}/staff/ledger", bo.url()));
        if let Some(id) = station {
            req = req
                .bearer_auth(bo.token())
                .header(wire::STATION_ID_HEADER, id);
        }
        let old = req.send().await.unwrap();
        assert_eq!(old.status().as_u16(), 410);
        assert!(old.text().await.unwrap().contains("--staff-listen"));
    }
    // Nor does the former interim token open anything there.
    let token = stdout(&bo_cli(&["stations", "token"], &db))
        .trim()
        .to_string();
    let old = http
        .get(format!("{}/staff/ledger", bo.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 410);

    // A clerk: refused.
    let clerk = crate::staff::login(&bo, "hr").await;
    let (status, html) = clerk.get("/staff/ledger").await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("督办人"));
    let (status, _) = clerk
        .post(
            "/staff/ledger/ST-A/request",
            &[("csrf", "x"), ("kind", "doctor")],
        )
        .await;
    assert_eq!(status, 403);

    // The supervisor: every listed station, the update column with ST-A's offered version.
    let boss = crate::staff::login(&bo, "boss").await;
    let (status, html) = boss.get("/staff/ledger").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("站点台账"));
    let row = |id: &str| {
        let at = html.find(&format!("<tr><td>{id}</td>")).expect(id);
        html[at..at + html[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(row("ST-A").contains("offered 0.9.0"), "{}", row("ST-A"));
    assert!(row("ST-B").contains("offered -"), "{}", row("ST-B"));
    // Its forms carry the session's CSRF token; without it nothing is queued.
    let csrf = boss.csrf("/staff/ledger").await;
    let (status, _) = boss
        .post(
            "/staff/ledger/ST-B/request",
            &[("csrf", "nope"), ("kind", "doctor")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = boss
        .post(
            "/staff/ledger/ST-B/request",
            &[("csrf", &csrf), ("kind", "doctor")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _) = boss
        .post(
            "/staff/ledger/ST-Z/request",
            &[("csrf", &csrf), ("kind", "doctor")],
        )
        .await;
    assert_eq!(status, 404);
    let (_, html) = boss.get("/staff/ledger").await;
    assert!(html.contains("doctor #1 waiting"), "{html}");
}

#[cfg(feature = "gui")]
mod remote {
    use std::rc::Rc;
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use village_kiosk::county::outbox::{ManualClock, WorkerConfig, spawn_worker_with_clock};
    use village_kiosk::doctor::health::HealthReporter;
    use village_kiosk::doctor::{Check, Report};
    use village_kiosk::station::{DemoOptions, Station};
    use village_kiosk::store::Store;
    use village_kiosk::ui::app::KioskOptions;
    use village_kiosk::ui::remote::{DoctorRun, answer_requests};
    use village_kiosk::ui::{Kiosk, Page, headless};

    use super::*;
    use crate::support::{Limit, WorkerPasses, runtime};

    /// A doctor run and an idle-screen screenshot asked by county staff: the requests arrive in
    /// a heartbeat answer of the real worker, the doctor runs at once, the screenshot waits
    /// while a villager is at the kiosk and is taken once the idle screen is back; both
    /// results reach the ledger with later heartbeats, and each request is acted on once.
    #[test]
    fn remote_doctor_and_screenshot_travel_through_the_heartbeat() {
        headless::init().expect("headless platform");
        let rt = runtime();
        let station = Station::demo(DemoOptions::default(), rt.handle().clone()).unwrap();
        let clock = Rc::new(village_kiosk::ui::ManualClock::new());
        let kiosk = Kiosk::new(
            station.services().clone(),
            rt.handle().clone(),
            clock,
            KioskOptions::default(),
            Arc::new(|| {}),
        )
        .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("county.sqlite3");
        let bo = super::staffed(&db);
        let list = dir.path().join("stations.csv");
        std::fs::write(&list, LIST).unwrap();
        let out = bo_cli(&["stations", "import", list.to_str().unwrap()], &db);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = bo_cli(&["stations", "request", "ST-A", "doctor"], &db);
        assert!(
            stdout(&out).starts_with("request #1 (doctor) queued for ST-A"),
            "{}",
            stdout(&out)
        );
        let out = bo_cli(&["stations", "request", "ST-A", "screenshot"], &db);
        assert!(
            stdout(&out).starts_with("request #2 (screenshot)"),
            "{}",
            stdout(&out)
        );

        let store = Store::open_in(dir.path().join("kiosk")).unwrap();
        let start: DateTime<Utc> = "2026-12-02T05:00:00Z".parse().unwrap();
        let vclock = Arc::new(ManualClock::new(start));
        let worker = {
            let _g = rt.enter();
            spawn_worker_with_clock(
                store.path().to_path_buf(),
                bo.demo_client("ST-A").unwrap(),
                WorkerConfig {
                    heartbeat_interval: Some(Duration::from_secs(60)),
                    poll_interval: Duration::from_secs(3600),
                    ..WorkerConfig::default()
                },
                vclock.clone(),
            )
            .unwrap()
        };
        let reporter = HealthReporter::new(worker.health());
        // One heartbeat per step of the virtual clock; waits on the worker's status, never
        // on a timer.
        let mut passes = WorkerPasses::new(&rt, worker.status(), WAIT);
        let mut beat = |what: &str, done: &dyn Fn() -> bool| {
            let step = || vclock.advance(Duration::from_secs(60));
            passes.until(what, Limit::Passes(20), || {}, step, done);
        };
        beat("both requests at the kiosk", &|| {
            reporter.snapshot().requests.len() == 2
        });

        // A villager is at the kiosk: the doctor runs, the screenshot waits.
        headless::tap(&kiosk, "点击屏幕开始办事").unwrap();
        assert!(kiosk.wait_until(WAIT, |k| k.page() == Page::Home));
        let (ran_tx, ran_rx) = std::sync::mpsc::channel();
        let doctor: DoctorRun = Arc::new(move || {
            let _ = ran_tx.send(());
            Report::new(vec![
                Check::ok("config", "the config is valid"),
                Check::fail("printer", "out of paper", "load a paper roll"),
            ])
        });
        let done = answer_requests(&kiosk, &reporter, &doctor);
        assert_eq!(
            (
                done.doctor_runs_started,
                done.screenshots_taken,
                done.deferred
            ),
            (1, 0, 1)
        );
        ran_rx.recv_timeout(WAIT).expect("the doctor ran");
        beat("the doctor result in the ledger", &|| {
            let table = stdout(&bo_cli(&["stations"], &db));
            table
                .lines()
                .any(|l| l.starts_with("ST-A") && l.contains("doctor #1 fail"))
        });
        assert!(
            bo.db()
                .unwrap()
                .conn()
                .query_row(
                    "SELECT answered_at IS NULL FROM remote_requests WHERE id = 2",
                    [],
                    |r| r.get::<_, bool>(0)
                )
                .unwrap(),
            "no screenshot during a visit"
        );

        // Back on the idle screen, the waiting request is answered.
        kiosk.act(village_kiosk::ui::shell::Next::Wipe(
            village_kiosk::session::WipeReason::Finished,
        ));
        assert!(kiosk.wait_until(WAIT, |k| k.page() == Page::Idle));
        let done = answer_requests(&kiosk, &reporter, &doctor);
        assert_eq!((done.doctor_runs_started, done.screenshots_taken), (0, 1));
        beat("the screenshot in the ledger", &|| {
            village_kiosk::backoffice::ledger::screenshot(&bo.db().unwrap(), 2)
                .unwrap()
                .is_some()
        });
        let png = village_kiosk::backoffice::ledger::screenshot(&bo.db().unwrap(), 2)
            .unwrap()
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));

        // Answered requests are not sent again, and nothing is run twice.
        let once = std::cell::Cell::new(false);
        beat("one more heartbeat", &|| once.replace(true));
        assert!(reporter.snapshot().requests.is_empty());
        assert_eq!(
            answer_requests(&kiosk, &reporter, &doctor),
            Default::default()
        );
        assert!(ran_rx.try_recv().is_err(), "the doctor ran once");

        // The page shows the result to a supervisor.
        let page = rt.block_on(async {
            let boss = crate::staff::login(&bo, "boss").await;
            let (status, page) = boss.get("/staff/ledger").await;
            assert_eq!(status, 200);
            page
        });
        assert!(page.contains("printer fail: out of paper"), "{page}");
        assert!(page.contains("ledger/screenshots/2"), "{page}");
        assert!(page.contains("ST-B") && page.contains("never"), "{page}");
        rt.block_on(worker.shutdown());
        drop(station);
    }

    /// The running app answers by itself (issue 16 part 6 with part 2's in-app doctor): county
    /// staff queue a doctor run and a screenshot with `county-backoffice stations request`,
    /// the demo station's heartbeats bring them, the kiosk's session tick answers them (the
    /// doctor in-app: the printer simulator's paper-out comes from the printer driver's live
    /// health, the port is not opened again), and both results reach the ledger.
    #[test]
    fn a_running_app_answers_remote_requests_with_the_in_app_doctor() {
        use village_kiosk::printer::status::PaperState;
        use village_kiosk::ui::remote::RemoteSetup;

        headless::init().expect("headless platform");
        let rt = runtime();
        let station = Station::demo(
            DemoOptions {
                printer_state: PaperState::PaperEnd,
                heartbeat_every: Duration::from_secs(1),
                ..DemoOptions::default()
            },
            rt.handle().clone(),
        )
        .unwrap();
        let kiosk = Kiosk::new(
            station.services().clone(),
            rt.handle().clone(),
            Rc::new(village_kiosk::ui::ManualClock::new()),
            KioskOptions::default(),
            Arc::new(|| {}),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let loaded = village_kiosk::config::LoadedConfig {
            config: village_kiosk::config::Config::default(),
            path: dir.path().join("kiosk.toml"),
            found: false,
            unknown_keys: Vec::new(),
        };
        let station_id = loaded.config.station.id.clone();
        let doctor: DoctorRun = Arc::new(station.in_app_doctor(loaded));
        kiosk.set_remote(RemoteSetup {
            reporter: station.health().clone(),
            doctor,
        });
        let db = station.data_dir().join("backoffice.sqlite3");
        let status = station.county_status().expect("a county link");
        // Each step: the app's tick, then the next delivery of the worker (a heartbeat a
        // second); waits on the worker's status, never on a timer. The doctor runs on the
        // blocking pool and may need more worker passes than a count would allow on a fast
        // machine, so the bound is WAIT, a failure limit only.
        let mut passes = WorkerPasses::new(&rt, status, WAIT);
        let mut run_until = |what: &str, done: &dyn Fn() -> bool| {
            passes.until(what, Limit::Time(WAIT), || kiosk.tick(), || {}, done);
        };
        run_until("the station in the ledger", &|| {
            stdout(&bo_cli(&["stations"], &db))
                .lines()
                .any(|l| l.starts_with(&station_id))
        });
        for kind in ["doctor", "screenshot"] {
            let out = bo_cli(&["stations", "request", &station_id, kind], &db);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        run_until("both answers in the ledger", &|| {
            let answered: i64 = village_kiosk::backoffice::Db::open(&db)
                .unwrap()
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM remote_requests WHERE answered_at IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            answered == 2
        });
        let result: String = village_kiosk::backoffice::Db::open(&db)
            .unwrap()
            .conn()
            .query_row(
                "SELECT result FROM remote_requests WHERE kind = 'doctor'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let result: wire::RemoteDoctorResult = serde_json::from_str(&result).unwrap();
        assert_eq!(result.verdict, "fail", "{result:?}");
        let printer = result
            .checks
            .iter()
            .find(|c| c.id == "printer")
            .expect("a printer check");
        // Demo mode configures no printer.port: a doctor that probed the port itself would
        // have said "demo mode uses the simulated printer"; the driver's live status says this.
        assert_eq!(
            (printer.status.as_str(), printer.finding.as_str()),
            ("fail", "paper out"),
            "{printer:?}"
        );
        let ids: Vec<&str> = result.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            village_kiosk::doctor::CHECK_IDS,
            "same ids as kiosk doctor"
        );
        let table = stdout(&bo_cli(&["stations"], &db));
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&station_id) && l.contains("doctor #1 fail")),
            "{table}"
        );
        let png = village_kiosk::backoffice::ledger::screenshot(
            &village_kiosk::backoffice::Db::open(&db).unwrap(),
            2,
        )
        .unwrap()
        .expect("the idle screen's screenshot");
        assert!(png.starts_with(b"\x89PNG"));
        drop(kiosk);
        drop(station);
    }
}
