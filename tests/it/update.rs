//! Integration tests for software updates (issue 12 part 4 and 5) against the reference back
//! office on loopback: a staged update reaches the listed station only; a download cut halfway
//! (a TCP relay that closes the connection after a byte budget) resumes with HTTP Range where it
//! stopped; the verified update installs into the inactive slot with a counted boot entry; an
//! update whose tries run out is seen as rolled back at the next start and reported in the
//! heartbeat, which the county's `update status` shows; a file changed on the server is refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use village_kiosk::backoffice::{Bundles, EmbeddedBackoffice, ServeConfig, update as bo_update};
use village_kiosk::catalog::{bundle, demo};
use village_kiosk::county::wire;
use village_kiosk::county::{CountyAuth, CountyClient};
use village_kiosk::update::driver::{CheckOutcome, describe_file};
use village_kiosk::update::manifest::{self, SLOT_FILES, UpdateManifest};
use village_kiosk::update::{UpdateConfig, UpdateError, Updater};

pub(crate) fn release_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

pub(crate) fn backoffice(dir: &Path) -> EmbeddedBackoffice {
    EmbeddedBackoffice::start_with(
        ServeConfig::demo(dir.join("county.sqlite3"), "t".into()),
        Bundles::new(
            &demo::demo_catalog(),
            &wire::Announcements {
                version: 1,
                issued_at: None,
                items: vec![],
            },
            &bundle::demo_signing_key(),
        )
        .unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap()
}

/// `len` bytes that do not compress (xorshift from `seed`).
pub(crate) fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 4);
    let mut x = seed;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The files of version 0.9.0 and its manifest signed with the release key.
fn release(dir: &Path) -> (PathBuf, Vec<u8>, UpdateManifest) {
    let files = dir.join("release-0.9.0");
    std::fs::create_dir_all(&files).unwrap();
    // 3 MiB of root filesystem: several answers of the back office's 1 MiB range chunks.
    let rootfs = noise(3 << 20, 1);
    std::fs::write(files.join("rootfs.img"), &rootfs).unwrap();
    std::fs::write(files.join("vmlinuz"), vec![7u8; 1000]).unwrap();
    std::fs::write(files.join("initrd.img"), vec![9u8; 2000]).unwrap();
    let m = UpdateManifest {
        manifest_version: manifest::MANIFEST_VERSION,
        version: "0.9.0".into(),
        issued_at: Utc::now(),
        files: SLOT_FILES
            .iter()
            .map(|n| describe_file(n, &files.join(n)).unwrap())
            .collect(),
    };
    let bytes = manifest::sign(&m, &release_key()).unwrap();
    (files, bytes, m)
}

/// The back office in `dir` with version 0.9.0 published (to `stations`, or to all), and the
/// release: (back office, release files, signed manifest, manifest).
fn published(
    dir: &Path,
    stations: Option<&[String]>,
) -> (EmbeddedBackoffice, PathBuf, Vec<u8>, UpdateManifest) {
    let bo = backoffice(dir);
    let (files, manifest_bytes, m) = release(dir);
    bo_update::publish(
        &bo.db().unwrap(),
        &manifest_bytes,
        &files,
        stations,
        Utc::now(),
    )
    .unwrap();
    (bo, files, manifest_bytes, m)
}

/// A terminal on slot a with its data directory, ESP and slot files under `dir`.
pub(crate) fn terminal(dir: &Path) -> Updater {
    let esp = dir.join("esp");
    std::fs::create_dir_all(esp.join("loader/entries")).unwrap();
    std::fs::write(esp.join("loader/entries/village-kiosk-a.conf"), "slot a").unwrap();
    std::fs::write(
        dir.join("cmdline"),
        "root=PARTLABEL=root-a rw kiosk.slot=a quiet",
    )
    .unwrap();
    let config = UpdateConfig {
        release_key: Some(hex::encode(release_key().verifying_key().to_bytes())),
        esp_dir: esp,
        slot_device: dir.join("slot-{slot}.img").display().to_string(),
        cmdline: dir.join("cmdline"),
        max_bytes_per_sec: 0,
        ..UpdateConfig::default()
    };
    Updater::new(config, dir.join("data/update"), "0.4.0")
}

/// A TCP relay to `backend` that passes at most `budget` bytes from the server in all (then
/// closes every connection), and counts what it passed.
pub(crate) async fn relay(backend: std::net::SocketAddr, budget: u64) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let passed = Arc::new(AtomicU64::new(0));
    let counter = passed.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let passed = counter.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(backend).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let before = passed.fetch_add(n as u64, Ordering::SeqCst);
                    let allowed = budget.saturating_sub(before).min(n as u64) as usize;
                    if allowed > 0 && cw.write_all(&buf[..allowed]).await.is_err() {
                        break;
                    }
                    if allowed < n {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
                up.abort();
            });
        }
    });
    (url, passed)
}

/// Downloads on `t` through a relay that passes `budget` bytes, then cuts: the error.
pub(crate) async fn cut_download(
    t: &Updater,
    bo: &EmbeddedBackoffice,
    station: &str,
    budget: u64,
) -> UpdateError {
    let backend = bo.url().trim_start_matches("http://").parse().unwrap();
    let (cut_url, _) = relay(backend, budget).await;
    t.download(&client_via(&cut_url, bo, station))
        .await
        .unwrap_err()
}

pub(crate) fn client_via(url: &str, bo: &EmbeddedBackoffice, station: &str) -> CountyClient {
    CountyClient::new(
        url,
        CountyAuth::DemoToken {
            token: bo.token().to_string(),
            station_id: station.to_string(),
        },
        Duration::from_secs(20),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_update_downloads_resumably_installs_and_its_rollback_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bo, files, _manifest, m) = published(d, Some(&["ST-PILOT".to_string()]));
    let db = bo.db().unwrap();

    // Staged: another station is offered nothing.
    let other = terminal(&d.join("other"));
    let offer = other
        .check(&bo.demo_client("ST-OTHER").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(offer, CheckOutcome::NothingNew);

    // The pilot takes it up; the catalogue key (the DEMO key) is not the release key.
    let t = terminal(&d.join("pilot"));
    let direct = bo.demo_client("ST-PILOT").unwrap();
    let offer = t
        .check(&direct, &[bundle::demo_verifying_key()])
        .await
        .unwrap();
    assert_eq!(offer, CheckOutcome::Offered(m.clone()));

    // The link drops after 1.5 MiB: the download stops with what arrived kept.
    let backend = bo.url().trim_start_matches("http://").parse().unwrap();
    let err = cut_download(&t, &bo, "ST-PILOT", 3 << 19).await;
    assert!(
        matches!(err, UpdateError::Cut { ref file, .. } if file == "rootfs.img"),
        "{err}"
    );
    let partial = t.downloaded(&m);
    assert!(
        partial > 1 << 20 && partial < 3 << 19,
        "kept {partial} bytes"
    );
    assert_eq!(t.state().unwrap().name(), "downloading");
    assert_eq!(t.report().unwrap().downloaded, Some(partial));

    // Resumed over a link that counts: only the rest travels (Range from where it stopped).
    let (count_url, passed) = relay(backend, u64::MAX).await;
    let state = t
        .download(&client_via(&count_url, &bo, "ST-PILOT"))
        .await
        .unwrap();
    assert_eq!(state.name(), "verified");
    let rest = m.total_size() - partial;
    let through = passed.load(Ordering::SeqCst);
    assert!(
        through >= rest && through < rest + 64 * 1024,
        "{through} bytes passed for the {rest} missing"
    );

    // Installed into slot b, the inactive one, with a counted entry.
    assert!(matches!(t.install(true), Err(UpdateError::NotNow(_))));
    assert_eq!(t.install(false).unwrap().name(), "installed");
    let pilot = d.join("pilot");
    assert_eq!(
        std::fs::read(pilot.join("slot-b.img")).unwrap(),
        std::fs::read(files.join("rootfs.img")).unwrap()
    );
    let entries = pilot.join("esp/loader/entries");
    assert!(entries.join("village-kiosk-b+2.conf").exists());

    // The new version never became healthy: systemd-boot used up its tries and slot a runs.
    std::fs::rename(
        entries.join("village-kiosk-b+2.conf"),
        entries.join("village-kiosk-b+0-2.conf"),
    )
    .unwrap();
    assert_eq!(t.on_boot().unwrap().name(), "rolled_back");
    assert!(!entries.join("village-kiosk-b+0-2.conf").exists());
    // The same version is not taken again.
    let again = t.check(&direct, &[]).await.unwrap();
    assert!(matches!(again, CheckOutcome::Declined { .. }), "{again:?}");

    // The heartbeat carries it to the county.
    let hb = wire::Heartbeat {
        update: Some(t.report().unwrap()),
        ..crate::support::heartbeat("0.4.0", Utc::now())
    };
    // What the outbox worker puts in its heartbeats, from the data directory.
    let from_data = village_kiosk::update::heartbeat_report(&pilot.join("data")).unwrap();
    assert_eq!(from_data.state, "rolled_back");
    assert_eq!(from_data.running_version, env!("CARGO_PKG_VERSION"));
    let reply = direct
        .heartbeat_raw(&serde_json::to_string(&hb).unwrap())
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let rows = bo_update::stations(&db).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].station_id, "ST-PILOT");
    assert_eq!(rows[0].report.state, "rolled_back");
    assert_eq!(rows[0].offered.as_deref(), Some("0.9.0"));
    let out = Command::new(env!("CARGO_BIN_EXE_county-backoffice"))
        .args(["update", "status", "--db"])
        .arg(d.join("county.sqlite3"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = text.lines().find(|l| l.starts_with("ST-PILOT")).unwrap();
    assert!(
        line.contains("0.4.0") && line.contains("0.9.0") && line.contains("rolled_back"),
        "{line}"
    );
    assert!(line.contains("did not reach its first frame"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_on_the_server_or_a_foreign_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bo, files, manifest_bytes, _) = published(d, None);
    let db = bo.db().unwrap();
    // Staff cannot publish an older version after it.
    let mut older = manifest::open(&manifest_bytes, &release_key().verifying_key(), &[]).unwrap();
    older.version = "0.8.0".into();
    let older = manifest::sign(&older, &release_key()).unwrap();
    assert!(matches!(
        bo_update::publish(&db, &older, &files, None, Utc::now()),
        Err(bo_update::UpdatePublishError::Older { .. })
    ));
    // A file changed on the server after publishing: same length, one byte different.
    let mut rootfs = std::fs::read(files.join("rootfs.img")).unwrap();
    rootfs[1 << 20] ^= 0xff;
    std::fs::write(files.join("rootfs.img"), &rootfs).unwrap();
    let t = terminal(&d.join("t"));
    let client = bo.demo_client("ST-1").unwrap();
    assert!(matches!(
        t.check(&client, &[]).await.unwrap(),
        CheckOutcome::Offered(_)
    ));
    let err = t.download(&client).await.unwrap_err();
    assert!(
        matches!(err, UpdateError::Mismatch { ref file, .. } if file == "rootfs.img"),
        "{err}"
    );
    let r = t.report().unwrap();
    assert_eq!(r.state, "failed");
    assert!(r.detail.unwrap().contains("SHA-256"));
    assert!(!d.join("t/slot-b.img").exists());

    // A terminal that trusts another release key refuses the manifest: nothing downloads.
    let mut other = terminal(&d.join("u"));
    let mut cfg: UpdateConfig = other.config().clone();
    cfg.release_key = Some(hex::encode(
        SigningKey::from_bytes(&[5; 32]).verifying_key().to_bytes(),
    ));
    other = Updater::new(cfg, d.join("u/data/update"), "0.4.0");
    let err = other.check(&client, &[]).await.unwrap_err();
    assert!(matches!(err, UpdateError::Manifest(_)), "{err}");
    assert_eq!(other.state().unwrap().name(), "idle");
}

pub(crate) fn run(bin: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let o = Command::new(bin).args(args).output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The commands as county staff and a technician type them: `kiosk update sign`,
/// `county-backoffice update publish --stations`, `kiosk update check`, `kiosk update install`,
/// `kiosk update status --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_update_commands_sign_publish_download_and_install() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bo = backoffice(d);
    let (files, _, m) = release(d);
    let key_file = d.join("release.key");
    std::fs::write(
        &key_file,
        bundle::format_signing_key(&release_key(), "release").as_bytes(),
    )
    .unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    let kiosk = env!("CARGO_BIN_EXE_kiosk");
    let county = env!("CARGO_BIN_EXE_county-backoffice");
    let signed = d.join("update.bundle");
    let (ok, out) = run(
        kiosk,
        &[
            &os("update"),
            &os("sign"),
            &os("--version"),
            &os("0.9.0"),
            &os("--files"),
            files.as_os_str(),
            &os("--key"),
            key_file.as_os_str(),
            &os("--out"),
            signed.as_os_str(),
        ],
    );
    assert!(ok && out.contains("signed update 0.9.0"), "{out}");
    drop(bo.db().unwrap());
    let (ok, out) = run(
        county,
        &[
            &os("update"),
            &os("publish"),
            signed.as_os_str(),
            &os("--files"),
            files.as_os_str(),
            &os("--stations"),
            &os("ST-CLI"),
            &os("--db"),
            d.join("county.sqlite3").as_os_str(),
        ],
    );
    assert!(
        ok && out.contains("published update 0.9.0 to stations ST-CLI first"),
        "{out}"
    );

    // The terminal: slot a running, its ESP and slots as files.
    let t = d.join("terminal");
    let u = terminal(&t);
    let config = t.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nid = \"ST-CLI\"\n[data]\ndir = \"{data}\"\n[county]\nurl = \"{url}\"\ntoken = \"{token}\"\ncatalog_public_key = \"{catalogue}\"\n[update]\nrelease_key = \"{key}\"\nesp_dir = \"{esp}\"\nslot_device = \"{slot}\"\ncmdline = \"{cmdline}\"\nmax_bytes_per_sec = 0\n",
            data = t.join("data").display(),
            url = bo.url(),
            token = bo.token(),
            catalogue = hex::encode(bundle::demo_verifying_key().to_bytes()),
            key = hex::encode(release_key().verifying_key().to_bytes()),
            esp = u.config().esp_dir.display(),
            slot = u.config().slot_device,
            cmdline = u.config().cmdline.display(),
        ),
    )
    .unwrap();
    let cfg = |args: &[&str]| {
        let mut v = vec![os("--config"), config.clone().into_os_string()];
        v.extend(args.iter().map(|a| os(a)));
        v
    };
    let call = |args: &[&str]| {
        let v = cfg(args);
        let refs: Vec<&std::ffi::OsStr> = v.iter().map(|s| s.as_os_str()).collect();
        run(kiosk, &refs)
    };
    let (ok, out) = call(&["update", "check"]);
    assert!(ok, "{out}");
    assert!(out.contains("version 0.9.0 offered"), "{out}");
    assert!(out.contains("update 0.9.0: verified"), "{out}");
    let (ok, out) = call(&["update", "install"]);
    assert!(ok && out.contains("installed in slot b"), "{out}");
    let (ok, out) = call(&["update", "status", "--json"]);
    assert!(ok, "{out}");
    let r: wire::UpdateReport = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r.state.as_str(), r.version.as_deref(), r.total),
        ("installed", Some("0.9.0"), Some(m.total_size()))
    );
    // Not a trial boot yet (slot a runs): confirm has nothing to do and succeeds.
    let (ok, out) = call(&["update", "confirm"]);
    assert!(ok && out.contains("not a trial boot"), "{out}");
}

/// 软件更新 between visits (issue 12 part 4) in the running app on Slint's testing backend: the
/// update timer verifies an update while a villager is at the kiosk; the app installs nothing
/// and does not reboot during the visit, and once the visit ends it writes the inactive slot
/// with its counted boot entry and reboots into it.
#[cfg(feature = "gui")]
#[test]
fn an_update_verified_during_a_visit_is_installed_after_the_visit() {
    use std::rc::Rc;
    use std::sync::atomic::AtomicUsize;
    use village_kiosk::session::WipeReason;
    use village_kiosk::station::software::{self, UpdaterInstall};
    use village_kiosk::station::{DemoOptions, Station};
    use village_kiosk::ui::app::{KioskOptions, UiEvent};
    use village_kiosk::ui::shell::Next;
    use village_kiosk::ui::{Kiosk, ManualClock, Page, headless};

    const WAIT: Duration = Duration::from_secs(60);
    headless::init().expect("headless platform");
    let rt = crate::support::runtime();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bo, files, _manifest, m) = published(d, None);
    let u = terminal(d);

    let station = Station::demo(DemoOptions::default(), rt.handle().clone()).unwrap();
    let reboots = Arc::new(AtomicUsize::new(0));
    let r = reboots.clone();
    let install = Arc::new(UpdaterInstall::new(
        u.clone(),
        Arc::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }),
    ));
    let mut services = station.services().clone();
    services.software = Some(install.clone());
    let kiosk = Kiosk::new(
        services,
        rt.handle().clone(),
        Rc::new(ManualClock::new()),
        KioskOptions::default(),
        Arc::new(|| {}),
    )
    .unwrap();

    // A villager is at the kiosk.
    headless::tap(&kiosk, "点击屏幕开始办事").unwrap();
    assert!(kiosk.wait_until(WAIT, |k| k.page() == Page::Home));

    // Meanwhile the update timer downloads and verifies an update, and the app hears of it.
    let client = bo.demo_client("ST-1").unwrap();
    let offer = rt.block_on(u.check(&client, &[])).unwrap();
    assert_eq!(offer, CheckOutcome::Offered(m.clone()));
    assert_eq!(rt.block_on(u.download(&client)).unwrap().name(), "verified");
    let sink = kiosk.sink();
    let watch = software::watch(rt.handle(), install, Duration::from_secs(3600), move || {
        sink.send(UiEvent::SoftwarePending)
    });
    assert!(kiosk.wait_event(WAIT), "the watch told the app");
    assert_eq!(
        u.state().unwrap().name(),
        "verified",
        "nothing installed during the visit"
    );
    assert!(!d.join("slot-b.img").exists());
    assert_eq!(reboots.load(Ordering::SeqCst), 0);

    // The visit ends: the update goes into slot b, then the terminal reboots into it.
    kiosk.act(Next::Wipe(WipeReason::Finished));
    assert!(
        kiosk.wait_until(WAIT, |_| reboots.load(Ordering::SeqCst) == 1),
        "no reboot after the visit (update state {})",
        u.state().unwrap().name()
    );
    assert_eq!(u.state().unwrap().name(), "installed");
    let rootfs = std::fs::read(files.join("rootfs.img")).unwrap();
    let slot = std::fs::read(d.join("slot-b.img")).unwrap();
    assert_eq!(&slot[..rootfs.len()], &rootfs[..]);
    assert!(
        d.join("esp/loader/entries/village-kiosk-b+2.conf").exists(),
        "the counted entry of slot b"
    );
    assert_eq!(reboots.load(Ordering::SeqCst), 1, "rebooted once");
    watch.abort();
    drop(kiosk);
    drop(station);
}
