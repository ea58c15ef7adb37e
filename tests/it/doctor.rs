//! Integration tests for `kiosk doctor`, `kiosk devices` and the station health: faults set up
//! one at a time on the simulators (real ptys) and a reference back office on loopback, and a
//! port that answers noise instead of printer status.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use village_kiosk::printer::status::UNEXPECTED_ANSWER;
use village_kiosk::printer::{Printer, PrinterProfile, PrinterSettings};
use village_kiosk::sim::pty::Pty;

/// A device that answers every request with random bytes (a wrong baud rate, a modem, the
/// wrong device on the port). The noise happens to contain bytes with the fixed bits of a status
/// reply (0x7E looks like "out of paper"), as real noise does.
struct NoisyPort {
    pty: Pty,
}

impl NoisyPort {
    fn start() -> NoisyPort {
        let pty = Pty::open().expect("pty");
        let mut master = pty.try_clone_master().expect("master");
        std::thread::spawn(move || {
            let mut seed: u32 = 0x1234_5678;
            let mut buf = [0u8; 256];
            // Ends when the pty is closed (read fails with EIO).
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut noise = Vec::new();
                for _ in 0..8 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let b = (seed >> 16) as u8;
                    // Never a byte a printer could send first (so the old driver skipped it).
                    noise.push(if b & 0x93 == 0x12 || b == 0x11 || b == 0x13 {
                        b ^ 0x80
                    } else {
                        b
                    });
                }
                noise.push(0x7E);
                if master.write_all(&noise).is_err() {
                    break;
                }
            }
        });
        NoisyPort { pty }
    }
}

fn fast_profile(name: &str) -> PrinterProfile {
    let mut p = PrinterProfile::builtin(name).unwrap();
    p.baud = 1_000_000;
    p.status_timeout_ms = 5_000;
    p
}

/// Issue 16: a port answering random bytes was reported as out of paper or cover open.
#[test]
fn noise_on_the_printer_port_is_an_unexpected_answer_not_a_paper_fault() {
    for profile in ["generic-58mm", "generic-80mm"] {
        // A port of its own each: the previous driver may still hold its port exclusively.
        let noisy = NoisyPort::start();
        let printer = Printer::new(PrinterSettings {
            port: noisy.pty.path().to_path_buf(),
            profile: fast_profile(profile),
        });
        match printer.status_blocking() {
            Ok(s) => panic!("{profile}: noise decoded as a printer status: {s}"),
            Err(e) => {
                assert!(e.to_string().contains(UNEXPECTED_ANSWER), "{profile}: {e}");
                assert_eq!(e.fault(), None, "{profile}: {e}");
                assert_eq!(e.exit_code(), 3, "{profile}: {e}");
            }
        }
    }
}

#[test]
fn kiosk_printer_status_on_noise_says_wrong_baud_rate_or_not_a_printer() {
    let noisy = NoisyPort::start();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["printer", "status", "--profile", "generic-80mm", "--port"])
        .arg(noisy.pty.path())
        .env_remove("KIOSK_CONFIG")
        .output()
        .expect("kiosk runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(UNEXPECTED_ANSWER), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// `kiosk doctor --json` with faults set up one at a time.

use std::path::{Path, PathBuf};

use chrono::Utc;
use village_kiosk::backoffice::{Bundles, EmbeddedBackoffice, ServeConfig, TlsFiles, certs};
use village_kiosk::catalog::{bundle, demo, repo};
use village_kiosk::county::Outbox;
use village_kiosk::printer::PaperState;
use village_kiosk::sim::idcard::{IdcardSimulator, SimOptions};
use village_kiosk::sim::printer::{PrinterSimulator, SimPrinterOptions};
use village_kiosk::store::Store;

const STATION: &str = "ST-DOC";

/// A county CA, the back office's certificate, this station's, and a rogue CA.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    station: (PathBuf, PathBuf),
    rogue_ca: PathBuf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = certs::new_ca("Doctor County CA", 365).unwrap();
    let (ca_pem, _) = certs::write_pair(d, "ca", &ca, false).unwrap();
    let server =
        certs::new_server(&ca, &ca_pem, &["localhost".into(), "127.0.0.1".into()], 365).unwrap();
    let server = certs::write_pair(d, "server", &server, false).unwrap();
    let station = certs::new_station(&ca, &ca_pem, STATION, 365).unwrap();
    let station = certs::write_pair(d, "station", &station, false).unwrap();
    let rogue = certs::new_ca("Rogue CA", 365).unwrap();
    let (rogue_ca, _) = certs::write_pair(&d.join("rogue"), "ca", &rogue, false).unwrap();
    Pki {
        ca: ca_pem,
        server,
        station,
        rogue_ca,
        dir,
    }
}

/// A station certificate from the county CA that expired yesterday.
fn expired_station_cert(p: &Pki) -> (PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca = certs::read_pair(&p.ca, &p.dir.path().join("ca.key")).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Doctor County CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, certs::ORGANISATION);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca_params, KeyPair::from_pem(&ca.key_pem).unwrap());
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, STATION);
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2025, 1, 1);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let pair = certs::PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    certs::write_pair(&p.dir.path().join("expired"), "station", &pair, false).unwrap()
}

fn tls_backoffice(dir: &Path, p: &Pki) -> EmbeddedBackoffice {
    EmbeddedBackoffice::start_with(
        ServeConfig {
            db_path: dir.join("county.sqlite3"),
            tls: Some(TlsFiles {
                ca_cert: p.ca.clone(),
                cert: p.server.0.clone(),
                key: p.server.1.clone(),
                crl: None,
            }),
            demo_token: None,
            offline_after: Duration::from_secs(180),
            max_tls_handshakes: village_kiosk::backoffice::DEFAULT_MAX_TLS_HANDSHAKES,
            db_connections: village_kiosk::backoffice::DEFAULT_DB_CONNECTIONS,
        },
        Bundles::demo().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap()
}

/// One terminal: a data directory with a store holding the demo catalogue (signed with the
/// DEMO key, which the config trusts), a reader and a printer simulator, a county.
struct Terminal {
    dir: tempfile::TempDir,
    reader_port: String,
    printer_port: String,
    county_url: String,
    ca: PathBuf,
    cert: (PathBuf, PathBuf),
    catalog: bool,
    extra: String,
}

impl Terminal {
    fn new(
        reader: &IdcardSimulator,
        printer: &PrinterSimulator,
        bo: &EmbeddedBackoffice,
        p: &Pki,
    ) -> Terminal {
        let dir = tempfile::tempdir().unwrap();
        Terminal {
            reader_port: reader.path().display().to_string(),
            printer_port: printer.path().display().to_string(),
            county_url: bo.url(),
            ca: p.ca.clone(),
            cert: p.station.clone(),
            catalog: true,
            extra: String::new(),
            dir,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn store(&self) -> Store {
        let mut store = Store::open_in(self.data()).unwrap();
        if self.catalog {
            repo::replace(
                &mut store,
                &demo::demo_catalog(),
                &repo::ImportOptions {
                    source: "test".into(),
                    signer_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
                    imported_at: Utc::now(),
                    allow_downgrade: false,
                },
            )
            .unwrap();
        }
        store
    }

    fn config(&self) -> PathBuf {
        let path = self.dir.path().join("kiosk.toml");
        let text = format!(
            "[station]\nid = \"{STATION}\"\n\n[data]\ndir = \"{}\"\n\n[reader]\nport = \"{}\"\n\n\
             [printer]\nport = \"{}\"\nprofile = \"generic-80mm\"\n\n[county]\nurl = \"{}\"\n\
             ca_cert = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\ncatalog_public_key = \"{}\"\n{}",
            self.data().display(),
            self.reader_port,
            self.printer_port,
            self.county_url,
            self.ca.display(),
            self.cert.0.display(),
            self.cert.1.display(),
            bundle::DEMO_PUBLIC_KEY_HEX,
            self.extra,
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Sets up the store, runs `kiosk doctor --json`, returns the exit code and the report.
    fn doctor(&self) -> (i32, serde_json::Value) {
        drop(self.store());
        doctor_json(&self.config())
    }
}

fn doctor_json(config: &Path) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["doctor", "--json", "--config"])
        .arg(config)
        .output()
        .expect("kiosk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn failing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Asserts that exactly `id` fails (exit 1, verdict fail) with a fix, and returns that check.
fn only_failing<'a>(code: i32, report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    assert_eq!(failing(report), vec![id.to_string()], "{report:#}");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["verdict"], "fail");
    let c = check(report, id);
    assert!(!c["fix"].as_str().unwrap().is_empty(), "{c:#}");
    c
}

fn reader_sim(options: SimOptions) -> IdcardSimulator {
    IdcardSimulator::start(SimOptions {
        pace: false,
        ..options
    })
    .unwrap()
}

fn printer_sim(state: PaperState) -> PrinterSimulator {
    PrinterSimulator::start(SimPrinterOptions {
        state,
        ..SimPrinterOptions::default()
    })
    .unwrap()
}

#[test]
fn a_healthy_terminal_passes_every_check_and_doctor_never_changes_the_store() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let bo = tls_backoffice(dir.path(), &p);
    let reader = reader_sim(SimOptions::default());
    let printer = printer_sim(PaperState::Ok);
    let t = Terminal::new(&reader, &printer, &bo, &p);
    drop(t.store());
    let store_file = t.data().join(village_kiosk::store::STORE_FILE);
    let before = std::fs::read(&store_file).unwrap();
    let (code, report) = doctor_json(&t.config());
    assert_eq!(code, 0, "{report:#}");
    assert!(failing(&report).is_empty(), "{report:#}");
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, village_kiosk::doctor::CHECK_IDS);
    for c in report["checks"].as_array().unwrap() {
        let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["finding", "fix", "id", "status"], "{c:#}");
    }
    assert_eq!(check(&report, "county")["status"], "ok", "{report:#}");
    assert_eq!(check(&report, "reader")["status"], "ok", "{report:#}");
    assert_eq!(check(&report, "printer")["status"], "ok", "{report:#}");
    assert_eq!(
        std::fs::read(&store_file).unwrap(),
        before,
        "doctor changed the store"
    );
}

#[test]
fn device_faults_name_the_reader_or_the_printer() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let bo = tls_backoffice(dir.path(), &p);
    let reader = reader_sim(SimOptions::default());
    let printer = printer_sim(PaperState::Ok);

    // Wrong reader port.
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.reader_port = "/dev/kiosk-idcard-absent".into();
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "reader");
    assert!(
        c["finding"].as_str().unwrap().contains("does not exist"),
        "{c:#}"
    );

    // Silent reader.
    let silent = reader_sim(SimOptions {
        silent: true,
        ..SimOptions::default()
    });
    let t = Terminal::new(&silent, &printer, &bo, &p);
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "reader");
    assert!(
        c["finding"].as_str().unwrap().contains("does not answer"),
        "{c:#}"
    );

    // Paper out, cover open.
    for (state, fix) in [
        (PaperState::PaperEnd, "paper roll"),
        (PaperState::CoverOpen, "close the paper cover"),
    ] {
        let faulty = printer_sim(state);
        let t = Terminal::new(&reader, &faulty, &bo, &p);
        let (code, report) = t.doctor();
        let c = only_failing(code, &report, "printer");
        assert!(c["fix"].as_str().unwrap().contains(fix), "{state:?}: {c:#}");
    }

    // Noise on the printer port.
    let noisy = NoisyPort::start();
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.printer_port = noisy.pty.path().display().to_string();
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "printer");
    assert!(
        c["finding"].as_str().unwrap().contains(UNEXPECTED_ANSWER),
        "{c:#}"
    );
}

#[test]
fn county_faults_name_the_county_the_certificate_or_the_clock() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let bo = tls_backoffice(dir.path(), &p);
    let reader = reader_sim(SimOptions::default());
    let printer = printer_sim(PaperState::Ok);

    // County down: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.county_url = format!("https://127.0.0.1:{port}");
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "county");
    assert!(c["finding"].as_str().unwrap().contains("TCP"), "{c:#}");
    assert_eq!(check(&report, "clock")["status"], "warn");

    // A county that accepts TCP and never answers TLS: its own finding, no hang.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        while let Ok((s, _)) = mute.accept() {
            conns.push(s);
            if conns.len() >= 4 {
                break;
            }
        }
        conns
    });
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.county_url = format!("https://127.0.0.1:{mute_port}");
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "county");
    assert!(
        c["finding"].as_str().unwrap().contains("TLS handshake"),
        "{c:#}"
    );
    drop(held);

    // Wrong county CA.
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.ca = p.rogue_ca.clone();
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "county");
    assert!(
        c["finding"].as_str().unwrap().contains("county CA"),
        "{c:#}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("county.ca_cert"),
        "{c:#}"
    );

    // Expired station certificate: the certificate check says so (the county refuses it too).
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.cert = expired_station_cert(&p);
    let (code, report) = t.doctor();
    assert_eq!(code, 1);
    let c = check(&report, "certificate");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(c["finding"].as_str().unwrap().contains("expired"), "{c:#}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("new station certificate"),
        "{c:#}"
    );
}

/// A county whose clock is ten minutes ahead (a test server answering `GET /v1/station`).
#[test]
fn a_clock_ten_minutes_off_fails_the_clock_check() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let app = axum::Router::new().route(
            "/v1/station",
            axum::routing::get(|| async {
                axum::Json(village_kiosk::county::wire::StationHello {
                    station_id: STATION.into(),
                    server_time: Utc::now() + chrono::Duration::minutes(10),
                    person_key_salt: "00".repeat(32),
                    bundle_public_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
                    public_url: None,
                })
            }),
        );
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(Store::open_in(&data).map(|mut s| {
        repo::replace(
            &mut s,
            &demo::demo_catalog(),
            &repo::ImportOptions {
                source: "test".into(),
                signer_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
                imported_at: Utc::now(),
                allow_downgrade: false,
            },
        )
        .unwrap();
    }));
    let reader = reader_sim(SimOptions::default());
    let printer = printer_sim(PaperState::Ok);
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nid = \"{STATION}\"\n[data]\ndir = \"{}\"\n[reader]\nport = \"{}\"\n\
             [printer]\nport = \"{}\"\n[county]\nurl = \"http://{addr}\"\ntoken = \"t\"\n\
             catalog_public_key = \"{}\"\n",
            data.display(),
            reader.path().display(),
            printer.path().display(),
            bundle::DEMO_PUBLIC_KEY_HEX
        ),
    )
    .unwrap();
    let (code, report) = doctor_json(&config);
    // The stand-in county with the wrong clock speaks plain HTTP with a token, which the config
    // check refuses outside demo mode (issue 14 #3): `config` fails beside `clock`, for that only.
    let mut failed = failing(&report);
    failed.sort();
    assert_eq!(
        failed,
        vec!["clock".to_string(), "config".to_string()],
        "{report:#}"
    );
    assert_eq!(code, 1);
    assert!(
        check(&report, "config")["finding"]
            .as_str()
            .unwrap()
            .contains("plain HTTP"),
        "{report:#}"
    );
    let c = check(&report, "clock");
    assert!(
        c["finding"].as_str().unwrap().contains("behind the county"),
        "{c:#}"
    );
    assert_eq!(check(&report, "county")["status"], "ok", "{report:#}");
}

#[test]
fn store_faults_name_the_catalogue_or_the_outbox() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let bo = tls_backoffice(dir.path(), &p);
    let reader = reader_sim(SimOptions::default());
    let printer = printer_sim(PaperState::Ok);

    // No catalogue installed.
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.catalog = false;
    let (code, report) = t.doctor();
    let c = only_failing(code, &report, "catalog");
    assert!(
        c["fix"].as_str().unwrap().contains("kiosk catalog import"),
        "{c:#}"
    );

    // Outbox stuck: an application accepted two days ago is still pending.
    let t = Terminal::new(&reader, &printer, &bo, &p);
    let mut store = t.store();
    Outbox::accept(
        &mut store,
        crate::support::application(1),
        Utc::now() - chrono::Duration::days(2),
    )
    .unwrap();
    drop(store);
    let (code, report) = doctor_json(&t.config());
    let c = only_failing(code, &report, "outbox");
    assert!(c["finding"].as_str().unwrap().contains("stuck"), "{c:#}");

    // A config with an unknown key.
    let mut t = Terminal::new(&reader, &printer, &bo, &p);
    t.extra = "\n[printer_typo]\nx = 1\n".into();
    let (code, report) = t.doctor();
    only_failing(code, &report, "config");

    // A damaged store is reported with what to do, and left as it is.
    let t = Terminal::new(&reader, &printer, &bo, &p);
    drop(t.store());
    let file = t.data().join(village_kiosk::store::STORE_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0xEE;
    }
    std::fs::write(&file, &bytes).unwrap();
    let (code, report) = doctor_json(&t.config());
    assert_eq!(code, 1);
    let c = check(&report, "store");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(c["fix"].as_str().unwrap().contains("move"), "{c:#}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "doctor changed the damaged store"
    );
}
