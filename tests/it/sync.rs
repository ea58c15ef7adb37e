//! Integration tests for catalogue sync (issue 12): a catalogue published at the reference back
//! office reaches a kiosk store through `kiosk county sync` over mutual TLS on loopback; the
//! running kiosk's loop holds a verified catalogue as pending until `install_pending()`; replayed
//! announcements, downgrades and another county's catalogue are refused with the reason kept for
//! the heartbeat (and seen in the county's rollout view); a key rotation works end to end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::SigningKey;
use village_kiosk::backoffice::{
    Bundles, EmbeddedBackoffice, ServeConfig, TlsFiles, certs, publish,
};
use village_kiosk::catalog::keyring::Keyring;
use village_kiosk::catalog::{Catalog, bundle, demo, repo};
use village_kiosk::county::outbox::{WorkerConfig, spawn_worker};
use village_kiosk::county::retry::BackoffPolicy;
use village_kiosk::county::sync::{
    self, CatalogOffer, NoticeOutcome, SyncSettings, SyncStatus, Syncer,
};
use village_kiosk::county::wire;
use village_kiosk::store::Store;

const WAIT: Duration = Duration::from_secs(60);

fn run(bin: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn kiosk(config: &Path, args: &[&str]) -> (bool, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(env!("CARGO_BIN_EXE_kiosk"), &all)
}

fn backoffice(args: &[&std::ffi::OsStr]) -> (bool, String) {
    run(env!("CARGO_BIN_EXE_county-backoffice"), args)
}

/// Signs `file` with `key_file` as `kind` through `kiosk catalog sign` (county staff).
fn sign(config: &Path, file: &Path, kind: &str, key_file: &Path) -> PathBuf {
    let out = file.with_extension("bundle");
    let (ok, text) = kiosk(
        config,
        &[
            "catalog",
            "sign",
            file.to_str().unwrap(),
            "--kind",
            kind,
            "--key",
            key_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    out
}

/// `county-backoffice publish BUNDLE --db DB`.
fn publish_cli(db: &Path, bundle: &Path) {
    let (ok, text) = backoffice(&[
        "publish".as_ref(),
        bundle.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("published"), "{text}");
}

fn write_key(dir: &Path, name: &str, key: &SigningKey) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bundle::format_signing_key(key, name).as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

fn announcements(version: u64, title: &str) -> wire::Announcements {
    wire::Announcements {
        version,
        issued_at: Some(Utc::now()),
        items: vec![wire::Announcement {
            id: format!("n{version}"),
            title: title.into(),
            body: "正文".into(),
            published_at: Utc::now() - chrono::Duration::days(1),
            expires_at: None,
        }],
    }
}

/// The demo catalogue as version `version`, with one item renamed, one removed and one added
/// when `version > 1`.
fn catalogue(county: &str, version: u64) -> Catalog {
    let mut c = demo::demo_catalog();
    c.county = county.into();
    c.version = version;
    if version > 1 {
        c.items[0].name.push_str("（新版）");
        c.items.pop();
        let mut extra = c.items[1].clone();
        extra.code = format!("NEW-{version:03}");
        extra.name = format!("新增事项{version}");
        c.items.push(extra);
    }
    c
}

struct Tls {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    station: (PathBuf, PathBuf),
}

fn tls(station: &str) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = certs::new_ca("Sync Test CA", 365).unwrap();
    let (ca_pem, _) = certs::write_pair(d, "ca", &ca, false).unwrap();
    let server = certs::new_server(&ca, &ca_pem, &["127.0.0.1".into()], 365).unwrap();
    let server = certs::write_pair(d, "server", &server, false).unwrap();
    let st = certs::new_station(&ca, &ca_pem, station, 365).unwrap();
    let st = certs::write_pair(d, &format!("station-{station}"), &st, false).unwrap();
    Tls {
        _dir: dir,
        ca: ca_pem,
        server,
        station: st,
    }
}

fn tls_backoffice(db: &Path, pki: &Tls, bundles: Bundles) -> EmbeddedBackoffice {
    EmbeddedBackoffice::start_with(
        ServeConfig {
            db_path: db.to_path_buf(),
            tls: Some(TlsFiles {
                ca_cert: pki.ca.clone(),
                cert: pki.server.0.clone(),
                key: pki.server.1.clone(),
                crl: None,
            }),
            demo_token: None,
            offline_after: Duration::from_secs(180),
            max_tls_handshakes: village_kiosk::backoffice::DEFAULT_MAX_TLS_HANDSHAKES,
            db_connections: village_kiosk::backoffice::DEFAULT_DB_CONNECTIONS,
        },
        bundles,
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap()
}

/// A production kiosk config (mutual TLS) trusting `key_hex`.
fn tls_config(dir: &Path, url: &str, pki: &Tls, station: &str, key_hex: &str) -> PathBuf {
    let cfg = dir.join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!(
            "[station]\nid = {station:?}\n[data]\ndir = {:?}\n[county]\nurl = {url:?}\nca_cert = {:?}\nclient_cert = {:?}\nclient_key = {:?}\ncatalog_public_key = {key_hex:?}\ntimeout_secs = 5\n",
            dir.join("kiosk-data"),
            pki.ca,
            pki.station.0,
            pki.station.1
        ),
    )
    .unwrap();
    cfg
}

fn installed(dir: &Path) -> Option<(repo::CatalogMeta, Catalog)> {
    let store = Store::open(dir.join("kiosk-data").join("kiosk.sqlite3")).unwrap();
    repo::load(&store).unwrap()
}

#[test]
fn a_catalogue_published_at_the_back_office_reaches_the_kiosk_store_via_kiosk_county_sync() {
    let pki = tls("ST-SYNC1");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let county_key = SigningKey::from_bytes(&[11; 32]);
    let key_file = write_key(d, "county.key", &county_key);
    let db = d.join("county.sqlite3");
    let bundles = Bundles::new(
        &catalogue("示范县", 1),
        &announcements(1, "第一版公告"),
        &county_key,
    )
    .unwrap();
    let bo = tls_backoffice(&db, &pki, bundles);
    let cfg = tls_config(d, &bo.url(), &pki, "ST-SYNC1", &public_hex(&county_key));

    // First sync: the catalogue the back office started with, and its announcements.
    let (ok, out) = kiosk(&cfg, &["county", "sync"]);
    assert!(ok, "{out}");
    assert!(out.contains("version none -> 1 installed"), "{out}");
    assert!(
        out.contains("announcements  version none -> 1 kept"),
        "{out}"
    );

    // County staff publish version 2: edit, sign offline, publish into the running back office.
    let v2 = catalogue("示范县", 2);
    let json = d.join("catalog-v2.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&v2).unwrap()).unwrap();
    publish_cli(&db, &sign(&cfg, &json, "catalog", &key_file));

    let (ok, out) = kiosk(&cfg, &["county", "sync"]);
    assert!(ok, "{out}");
    let v1 = catalogue("示范县", 1);
    let removed = &v1.items.last().unwrap().code;
    let changed = &v1.items[0].code;
    assert!(out.contains("示范县 version 1 -> 2 installed"), "{out}");
    assert!(out.contains("added      1  NEW-002"), "{out}");
    assert!(out.contains(&format!("changed    1  {changed}")), "{out}");
    assert!(out.contains(&format!("removed    1  {removed}")), "{out}");
    let (meta, catalog) = installed(d).expect("installed");
    assert_eq!(meta.version, 2);
    assert_eq!(catalog.items, v2.items);
    assert_eq!(meta.signer_key, public_hex(&county_key));

    // Nothing new: the ETag says so.
    let (ok, out) = kiosk(&cfg, &["county", "sync", "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["catalog"]["state"], "unchanged", "{out}");
    assert_eq!(v["catalog"]["version"], 2, "{out}");
    // What the kiosk shows is the new catalogue.
    let (ok, out) = kiosk(&cfg, &["catalog", "show", "NEW-002"]);
    assert!(ok && out.contains("新增事项2"), "{out}");
}

#[test]
fn a_key_rotation_works_end_to_end() {
    let pki = tls("ST-ROT");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = SigningKey::from_bytes(&[21; 32]);
    let old_file = write_key(d, "old.key", &old);
    let db = d.join("county.sqlite3");
    let bo = tls_backoffice(
        &db,
        &pki,
        Bundles::new(
            &catalogue("示范县", 1),
            &announcements(1, "旧钥匙公告"),
            &old,
        )
        .unwrap(),
    );
    let cfg = tls_config(d, &bo.url(), &pki, "ST-ROT", &public_hex(&old));
    let (ok, out) = kiosk(&cfg, &["county", "sync"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("the county publishes no key rotation"),
        "{out}"
    );

    // 1. The county makes a new key and announces it in a rotation signed by the current key.
    let new_file = d.join("new.key");
    let (ok, out) = kiosk(
        &cfg,
        &["catalog", "keygen", "--out", new_file.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    let new_pub = std::fs::read_to_string(d.join("new.key.pub"))
        .unwrap()
        .trim()
        .to_string();
    let rotation = |version: u64, keys: &[&str]| {
        let path = d.join(format!("rotation-{version}.json"));
        std::fs::write(
            &path,
            serde_json::json!({
                "county": "示范县",
                "version": version,
                "issued_at": Utc::now(),
                "keys": keys,
            })
            .to_string(),
        )
        .unwrap();
        path
    };
    let announce = sign(
        &cfg,
        &rotation(1, &[&public_hex(&old), &new_pub]),
        "keyring",
        &old_file,
    );
    publish_cli(&db, &announce);
    // 2. From now on the county signs with the new key.
    let v2 = d.join("catalog-v2.json");
    std::fs::write(&v2, serde_json::to_vec(&catalogue("示范县", 2)).unwrap()).unwrap();
    publish_cli(&db, &sign(&cfg, &v2, "catalog", &new_file));

    let (ok, out) = kiosk(&cfg, &["county", "sync"]);
    assert!(ok, "{out}");
    assert!(out.contains("rotation version 1 applied"), "{out}");
    assert!(out.contains("version 1 -> 2 installed"), "{out}");
    let (ok, out) = kiosk(&cfg, &["county", "keys"]);
    assert!(
        ok && out.contains(&new_pub) && out.contains(&public_hex(&old)),
        "{out}"
    );

    // 3. The old key is retired (rotation version 2 names only the new key).
    publish_cli(
        &db,
        &sign(&cfg, &rotation(2, &[&new_pub]), "keyring", &new_file),
    );
    let ann = d.join("notices-v2.json");
    std::fs::write(
        &ann,
        serde_json::to_vec(&announcements(2, "新钥匙公告")).unwrap(),
    )
    .unwrap();
    publish_cli(&db, &sign(&cfg, &ann, "announcements", &new_file));
    // Someone still holding the old key signs a catalogue version 3: refused after retirement.
    let v3 = d.join("catalog-v3.json");
    std::fs::write(&v3, serde_json::to_vec(&catalogue("示范县", 3)).unwrap()).unwrap();
    publish_cli(&db, &sign(&cfg, &v3, "catalog", &old_file));

    let (ok, out) = kiosk(&cfg, &["county", "sync"]);
    assert!(
        !ok,
        "a catalogue signed by the retired key must fail the sync: {out}"
    );
    assert!(out.contains("rotation version 2 applied"), "{out}");
    assert!(out.contains("catalogue      REFUSED (untrusted)"), "{out}");
    assert!(out.contains("announcements  version 1 -> 2 kept"), "{out}");
    assert_eq!(
        installed(d).unwrap().0.version,
        2,
        "the catalogue in use stays"
    );
    let (ok, out) = kiosk(&cfg, &["county", "keys"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("rotation version 2") && out.contains(&new_pub),
        "{out}"
    );
    assert!(!out.contains(&public_hex(&old)), "{out}");
    // The technician's import trusts the rotated key too, and refuses the retired one.
    let (ok, out) = kiosk(
        &cfg,
        &[
            "catalog",
            "verify",
            d.join("catalog-v2.bundle").to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = kiosk(
        &cfg,
        &[
            "catalog",
            "verify",
            d.join("catalog-v3.bundle").to_str().unwrap(),
        ],
    );
    assert!(!ok && out.contains("signed by key"), "{out}");
}

fn demo_syncer(bo: &EmbeddedBackoffice, station: &str, store: &Path) -> Syncer {
    Syncer::new(
        bo.demo_client(station).unwrap(),
        store.to_path_buf(),
        Keyring::demo(),
    )
}

fn demo_backoffice(
    dir: &Path,
    name: &str,
    catalog: &Catalog,
    notices: &wire::Announcements,
) -> EmbeddedBackoffice {
    EmbeddedBackoffice::start_with(
        ServeConfig::demo(dir.join(format!("{name}.sqlite3")), "t".into()),
        Bundles::new(catalog, notices, &bundle::demo_signing_key()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap()
}

async fn wait_status(
    rx: &mut tokio::sync::watch::Receiver<SyncStatus>,
    what: &str,
    mut cond: impl FnMut(&SyncStatus) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond(&rx.borrow()) {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("sync loop stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}: {:?}", *rx.borrow()),
        }
    }
}

/// The running kiosk: the loop verifies a new catalogue and holds it as pending; nothing changes
/// in the store until the app calls `install_pending()` when the visit ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_holds_a_new_catalogue_until_the_visit_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bo = demo_backoffice(
        d,
        "county",
        &catalogue("示范县", 1),
        &announcements(1, "公告一"),
    );
    let store_path = d.join("kiosk.sqlite3");
    let mut store = Store::open(&store_path).unwrap();
    // Installed already: version 1 (as by `kiosk catalog import`).
    repo::replace(
        &mut store,
        &catalogue("示范县", 1),
        &repo::ImportOptions {
            source: "test".into(),
            signer_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
            imported_at: Utc::now(),
            allow_downgrade: false,
        },
    )
    .unwrap();
    publish::publish(
        &bo.db().unwrap(),
        &bundle::sign_catalog(&catalogue("示范县", 2), &bundle::demo_signing_key()).unwrap(),
        None,
        Utc::now(),
    )
    .unwrap();
    let settings = SyncSettings {
        catalog_every: Duration::from_secs(3600),
        announcements_every: Duration::from_secs(3600),
        policy: BackoffPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
    };
    let handle = sync::spawn(demo_syncer(&bo, "ST-LOOP", &store_path), settings);
    let mut status = handle.status();
    wait_status(&mut status, "a pending catalogue", |s| s.pending.is_some()).await;
    wait_status(&mut status, "announcements", |s| s.announcements.is_some()).await;
    let synced = handle.synced();
    let diff = synced.pending().expect("pending");
    assert_eq!((diff.old_version, diff.new_version), (Some(1), 2));
    assert_eq!(diff.added, ["NEW-002"]);
    // A villager is at the screen: the store still holds version 1.
    assert_eq!(repo::meta(&store).unwrap().unwrap().version, 1);

    // The visit ends: the app installs it (one transaction), once.
    let installed = tokio::task::spawn_blocking({
        let synced = synced.clone();
        move || synced.install_pending()
    })
    .await
    .unwrap()
    .unwrap()
    .expect("installed");
    assert_eq!(installed.meta.version, 2);
    assert_eq!(
        installed.catalog.items.len(),
        catalogue("示范县", 2).items.len()
    );
    assert_eq!(repo::meta(&store).unwrap().unwrap().version, 2);
    assert!(synced.install_pending().unwrap().is_none());
    assert!(synced.pending().is_none());

    // Asked again (a technician's nudge): the installed ETag answers 304, nothing pending.
    let passes = status.borrow().passes;
    handle.nudge();
    wait_status(&mut status, "another pass", |s| s.passes > passes).await;
    assert!(synced.pending().is_none());
    handle.shutdown().await;
}

/// A downgrade and another county's catalogue are refused; the catalogue in use stays, and the
/// reason travels in the heartbeat to the county's rollout view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_and_another_countys_catalogue_are_refused_and_reported_in_the_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store_path = d.join("kiosk.sqlite3");
    Store::open(&store_path).unwrap();
    let good = demo_backoffice(
        d,
        "good",
        &catalogue("示范县", 3),
        &announcements(1, "公告"),
    );
    let s = demo_syncer(&good, "ST-REF", &store_path);
    let CatalogOffer::Pending(p) = s.fetch_catalog(None, Utc::now()).await.unwrap() else {
        panic!("version 3 is new");
    };
    s.install(p, Utc::now()).await.unwrap();

    // A back office (misconfigured, or replaying an old bundle) offers version 2: refused.
    let old = demo_backoffice(d, "old", &catalogue("示范县", 2), &announcements(1, "公告"));
    let s_old = demo_syncer(&old, "ST-REF", &store_path);
    match s_old.fetch_catalog(None, Utc::now()).await.unwrap() {
        CatalogOffer::Refused(r) => {
            assert_eq!(r.reason(), "downgrade");
            assert!(
                r.to_string().contains("older than the installed version 3"),
                "{r}"
            );
        }
        other => panic!("{other:?}"),
    }
    let store = Store::open(&store_path).unwrap();
    assert_eq!(repo::meta(&store).unwrap().unwrap().version, 3);
    let report = sync::report(&store).unwrap();
    assert_eq!(report.catalog_version, Some(3));
    assert_eq!(report.refusals[0].reason, "downgrade");
    // Fetched again with the refused bundle's ETag: 304, the refusal stays.
    let etag = s_old.catalog_etag().await.unwrap();
    assert!(etag.is_some());
    assert_eq!(
        s_old
            .fetch_catalog(etag.as_deref(), Utc::now())
            .await
            .unwrap(),
        CatalogOffer::Unchanged
    );

    // Another county's catalogue, signed with a key this kiosk trusts: refused.
    let other = demo_backoffice(d, "other", &catalogue("邻县", 9), &announcements(1, "公告"));
    let s_other = demo_syncer(&other, "ST-REF", &store_path);
    match s_other.fetch_catalog(None, Utc::now()).await.unwrap() {
        CatalogOffer::Refused(r) => assert_eq!(r.reason(), "other_county"),
        other => panic!("{other:?}"),
    }
    assert_eq!(repo::meta(&store).unwrap().unwrap().county, "示范县");

    // The heartbeat carries the refusal to the county: the rollout view shows it.
    let worker = spawn_worker(
        store_path.clone(),
        other.demo_client("ST-REF").unwrap(),
        WorkerConfig {
            policy: BackoffPolicy {
                base: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
            heartbeat_interval: Some(Duration::from_millis(100)),
            ..WorkerConfig::default()
        },
    )
    .unwrap();
    let mut st = worker.status();
    let county_db = other.db().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let row = loop {
        if let Some(r) = publish::rollout(&county_db)
            .unwrap()
            .into_iter()
            .find(|r| r.station_id == "ST-REF")
        {
            break r;
        }
        tokio::time::timeout_at(deadline, st.changed())
            .await
            .expect("a heartbeat within the timeout")
            .unwrap();
    };
    assert_eq!(row.report.catalog_version, Some(3));
    match &row.state {
        publish::RolloutState::Refused {
            kind,
            reason,
            detail,
        } => {
            assert_eq!(
                (kind.as_str(), reason.as_str()),
                ("catalog", "other_county")
            );
            assert!(detail.contains("邻县"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let (ok, out) = backoffice(&[
        "rollout".as_ref(),
        "--db".as_ref(),
        d.join("other.sqlite3").as_os_str(),
    ]);
    assert!(
        ok && out.contains("ST-REF") && out.contains("refused catalog (other_county)"),
        "{out}"
    );
    worker.shutdown().await;
}

/// An older, properly signed announcements bundle offered again (a replay) is refused; the kept
/// announcements stay and the refusal is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_old_announcement_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store_path = d.join("kiosk.sqlite3");
    Store::open(&store_path).unwrap();
    let v1 = announcements(1, "旧公告");
    let bo = demo_backoffice(d, "county", &catalogue("示范县", 1), &v1);
    let s = demo_syncer(&bo, "ST-ANN", &store_path);
    assert!(matches!(
        s.sync_announcements(Utc::now()).await.unwrap(),
        NoticeOutcome::Kept { ref announcements, .. } if announcements.version == 1
    ));
    // The county publishes version 2.
    let v2 = announcements(2, "新公告");
    let v2_bytes = bundle::sign(
        bundle::KIND_ANNOUNCEMENTS,
        &serde_json::to_vec(&v2).unwrap(),
        &bundle::demo_signing_key(),
    );
    publish::publish(&bo.db().unwrap(), &v2_bytes, None, Utc::now()).unwrap();
    match s.sync_announcements(Utc::now()).await.unwrap() {
        NoticeOutcome::Kept {
            announcements,
            previous,
            ..
        } => assert_eq!((previous, announcements.version), (Some(1), 2)),
        other => panic!("{other:?}"),
    }
    // Someone replays the genuine version 1 bundle (e.g. an old back office snapshot).
    let replay = demo_backoffice(d, "replay", &catalogue("示范县", 1), &v1);
    let s_replay = demo_syncer(&replay, "ST-ANN", &store_path);
    match s_replay.sync_announcements(Utc::now()).await.unwrap() {
        NoticeOutcome::Refused(r) => {
            assert_eq!(r.reason(), "replay");
            assert!(
                r.to_string().contains("older than the kept version 2"),
                "{r}"
            );
        }
        other => panic!("{other:?}"),
    }
    let kept = s.kept_announcements().await.unwrap().unwrap();
    assert_eq!(kept, v2);
    let report = sync::report(&Store::open(&store_path).unwrap()).unwrap();
    assert_eq!(report.announcements_version, Some(2));
    assert_eq!(
        (
            report.refusals[0].kind.as_str(),
            report.refusals[0].reason.as_str()
        ),
        ("announcements", "replay")
    );
    // The back office's staff tool refuses to publish an older version in the first place.
    let v1_bytes = bundle::sign(
        bundle::KIND_ANNOUNCEMENTS,
        &serde_json::to_vec(&v1).unwrap(),
        &bundle::demo_signing_key(),
    );
    assert!(matches!(
        publish::publish(&bo.db().unwrap(), &v1_bytes, None, Utc::now()),
        Err(publish::PublishError::Older { .. })
    ));
}

/// Staged rollout: a catalogue offered to one station first reaches only that station; published
/// again to every station, it reaches the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_catalogue_reaches_the_listed_stations_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bo = demo_backoffice(
        d,
        "county",
        &catalogue("示范县", 1),
        &announcements(1, "公告"),
    );
    let v2 = bundle::sign_catalog(&catalogue("示范县", 2), &bundle::demo_signing_key()).unwrap();
    let db = bo.db().unwrap();
    publish::publish(&db, &v2, Some(&["ST-PILOT".to_string()]), Utc::now()).unwrap();
    let offered = |station: &'static str| {
        let store = d.join(format!("{station}.sqlite3"));
        Store::open(&store).unwrap();
        let s = demo_syncer(&bo, station, &store);
        async move {
            match s.fetch_catalog(None, Utc::now()).await.unwrap() {
                CatalogOffer::Pending(p) => p.catalog.version,
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(offered("ST-PILOT").await, 2);
    assert_eq!(offered("ST-OTHER").await, 1);
    publish::publish(&db, &v2, None, Utc::now()).unwrap();
    assert_eq!(offered("ST-LATER").await, 2);
}
