//! Provisioning (终端开通): the county's `county-backoffice provision station` makes a bundle,
//! the terminal's `kiosk provision BUNDLE` installs it under a temporary system root. Real
//! binaries, real files, real SQLite; a refused bundle must leave every file as it was.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use village_kiosk::catalog::bundle as signed;
use village_kiosk::provision::bundle::{self as pbundle, Provisioning, paths};
use village_kiosk::provision::{self, Status, pin::PinHash};

const STATION: &str = "410329-101-203";

/// A county (key, PKI, a technician's SSH key, a signed catalogue) and a terminal's root.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.ok_backoffice(&["certs", "ca", "--dir", &env.s("pki")]);
        env.ok_kiosk(&["catalog", "keygen", "--out", &env.s("county.key")]);
        env.ok_kiosk(&[
            "catalog",
            "sign",
            concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo-catalog.json"),
            "--key",
            &env.s("county.key"),
            "--out",
            &env.s("catalog.bundle"),
        ]);
        // A technician's ed25519 public key in OpenSSH form.
        let k = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        let mut blob = Vec::new();
        for part in [b"ssh-ed25519".as_slice(), k.as_bytes().as_slice()] {
            blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
            blob.extend_from_slice(part);
        }
        let line = format!(
            "ssh-ed25519 {} tech@county\n",
            base64::engine::general_purpose::STANDARD.encode(blob)
        );
        std::fs::write(env.path("tech.pub"), line).unwrap();
        // The terminal: a root whose passwd maps the kiosk user to whoever runs the test.
        let uid = std::fs::metadata(env.dir.path()).unwrap().uid();
        let gid = std::fs::metadata(env.dir.path()).unwrap().gid();
        std::fs::create_dir_all(env.path("root/etc")).unwrap();
        std::fs::write(
            env.path("root/etc/passwd"),
            format!("root:x:0:0::/root:/bin/sh\nkiosk:x:{uid}:{gid}::/var/lib/village-kiosk:/usr/sbin/nologin\n"),
        )
        .unwrap();
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn root(&self) -> PathBuf {
        self.path("root")
    }

    fn run(bin: &str, args: &[&str]) -> Output {
        Command::new(bin)
            .args(args)
            .env_remove("KIOSK_CONFIG")
            .env_remove("KIOSK_MAINTENANCE_PIN")
            .output()
            .unwrap()
    }

    fn ok_kiosk(&self, args: &[&str]) -> String {
        let out = Env::run(env!("CARGO_BIN_EXE_kiosk"), args);
        assert!(
            out.status.success(),
            "kiosk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ok_backoffice(&self, args: &[&str]) -> String {
        let out = Env::run(env!("CARGO_BIN_EXE_county-backoffice"), args);
        assert!(
            out.status.success(),
            "county-backoffice {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `county-backoffice provision station` for `station` with `extra` flags; the bundle's path.
    fn make_bundle(&self, station: &str, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.path(name);
        let mut args = vec![
            "provision",
            "station",
            "--station-id",
            station,
            "--name",
            "示范县城关镇东关村便民服务站",
            "--county-url",
            "https://zwfw.county.example:8443",
        ];
        let (key, pki, tech, cat, o) = (
            self.s("county.key"),
            self.s("pki"),
            self.s("tech.pub"),
            self.s("catalog.bundle"),
            out.display().to_string(),
        );
        args.extend([
            "--signing-key",
            &key,
            "--pki",
            &pki,
            "--ntp",
            "10.20.0.1",
            "--ssh-key",
            &tech,
            "--technician-phone",
            "13800000000",
            "--catalog",
            &cat,
            "--out",
            &o,
        ]);
        // PBKDF2 at full strength is slow in a debug build: one test hashes the PIN itself
        // (`--pin`), the others hand in a hash of few iterations.
        let hash = village_kiosk::provision::pin::hash_with_salt("246810", &[3; 16], 1000);
        if !extra.contains(&"--pin") {
            args.extend(["--pin-hash", &hash]);
        }
        args.extend(extra);
        self.ok_backoffice(&args);
        out
    }

    /// `kiosk provision BUNDLE` into the test root, trusting the county key.
    fn provision(&self, bundle: &Path, extra: &[&str]) -> Output {
        let (b, root, key) = (
            bundle.display().to_string(),
            self.root().display().to_string(),
            self.s("county.key.pub"),
        );
        let mut args = vec!["provision", &b, "--root", &root, "--county-key", &key];
        args.extend(extra);
        Env::run(env!("CARGO_BIN_EXE_kiosk"), &args)
    }

    /// Every file under the root: path -> (mode, contents).
    fn snapshot(&self) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (u32, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(p.clone(), (m.mode(), std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root(), &mut out);
        out
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_bundle_provisions_the_station_in_one_step() {
    let env = Env::new();
    assert_eq!(provision::status_in(&env.root()), Status::NotProvisioned);
    let bundle = env.make_bundle(
        STATION,
        "p.bundle",
        &[
            "--address",
            "10.20.30.40/24",
            "--gateway",
            "10.20.30.1",
            "--dns",
            "10.20.0.53",
            "--rotation",
            "90",
            "--pin",
            "246810",
        ],
    );
    let out = env.provision(&bundle, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("provisioned station 410329-101-203"),
        "{stdout}"
    );
    assert!(stdout.contains("已开通"), "{stdout}");

    let root = env.root();
    let text = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();
    // The config is the kiosk's own format, for this station, in production mode.
    let (config, unknown) = village_kiosk::config::parse(&text(paths::CONFIG)).unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(config.station.id, STATION);
    assert!(!config.is_demo());
    assert_eq!(
        config.county.client_key.as_deref(),
        Some(Path::new("/etc/village-kiosk/station.key"))
    );
    // Secrets: 0600, owned by the kiosk user.
    let kiosk_uid = std::fs::metadata(env.dir.path()).unwrap().uid();
    for rel in [
        paths::CA,
        paths::CLIENT_CERT,
        paths::CLIENT_KEY,
        paths::PIN_HASH,
    ] {
        let m = std::fs::metadata(root.join(rel)).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{rel}");
        assert_eq!(m.uid(), kiosk_uid, "{rel}");
    }
    assert!(text(paths::CLIENT_KEY).contains("PRIVATE KEY"));
    // The certificate is the station's (CN = station id), issued from the county CA.
    let pem = text(paths::CLIENT_CERT);
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(
        cert.subject().to_string().contains(STATION),
        "{}",
        cert.subject()
    );
    // The PIN is stored as a hash that verifies the PIN and nothing else.
    let h = PinHash::parse(&text(paths::PIN_HASH)).unwrap();
    assert!(h.verify("246810") && !h.verify("246811"));
    assert!(!text(paths::PIN_HASH).contains("246810"));
    // Network, time, SSH, screen.
    let net = text(paths::NETWORK);
    assert!(
        net.contains("Address=10.20.30.40/24")
            && net.contains("Gateway=10.20.30.1")
            && net.contains("DNS=10.20.0.53"),
        "{net}"
    );
    assert!(text(paths::TIMESYNCD).contains("NTP=10.20.0.1\nFallbackNTP=\n"));
    assert_eq!(
        text(paths::AUTHORIZED_KEYS)
            .lines()
            .filter(|l| l.starts_with("ssh-ed25519 "))
            .count(),
        1
    );
    assert!(text(paths::SCREEN_ENV).contains("SLINT_KMS_ROTATION=90\n"));
    // The bundled catalogue is in the store the app opens.
    let store = village_kiosk::store::Store::open(root.join("var/lib/village-kiosk/kiosk.sqlite3"))
        .unwrap();
    let meta = village_kiosk::catalog::repo::meta(&store).unwrap().unwrap();
    assert_eq!(meta.item_count, 46);
    // Nothing staged is left behind.
    assert!(
        env.snapshot()
            .keys()
            .all(|p| !p.to_string_lossy().ends_with(".provision-tmp"))
    );
    assert_eq!(
        provision::status_in(&root),
        Status::Provisioned {
            station_id: STATION.into(),
            station_name: "示范县城关镇东关村便民服务站".into(),
            technician_phone: "13800000000".into(),
        }
    );
}

#[test]
fn bad_bundles_are_refused_and_change_nothing() {
    let env = Env::new();
    let good = env.make_bundle(STATION, "good.bundle", &[]);
    // Refused on a fresh terminal: nothing at all is written.
    let fresh = env.snapshot();
    let mut corrupt = std::fs::read(&good).unwrap();
    let at = String::from_utf8_lossy(&corrupt)
        .find("\"payload\": \"")
        .unwrap()
        + 20;
    corrupt[at] = if corrupt[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(env.path("corrupt.bundle"), &corrupt).unwrap();
    let out = env.provision(&env.path("corrupt.bundle"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refused") && stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), fresh);

    // Provisioned once; then every bad bundle leaves every file as it is.
    assert!(env.provision(&good, &[]).status.success());
    let before = env.snapshot();

    let other = env.make_bundle("410329-101-999", "other.bundle", &[]);
    let out = env.provision(&other, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("for station 410329-101-999, but this terminal is station 410329-101-203"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), before);

    // Signed by another county's key.
    env.ok_kiosk(&["catalog", "keygen", "--out", &env.s("other.key")]);
    let text = std::fs::read_to_string(&good).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    let other_key =
        signed::parse_signing_key(&std::fs::read_to_string(env.path("other.key")).unwrap())
            .unwrap();
    std::fs::write(
        env.path("foreign.bundle"),
        signed::sign("provisioning", &payload, &other_key),
    )
    .unwrap();
    let out = env.provision(&env.path("foreign.bundle"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("signed by key"), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before);

    // Expired: the county's own key, a bundle whose time is up.
    let county_key =
        signed::parse_signing_key(&std::fs::read_to_string(env.path("county.key")).unwrap())
            .unwrap();
    let mut p: Provisioning = serde_json::from_slice(&payload).unwrap();
    p.issued_at = chrono::Utc::now() - chrono::Duration::days(20);
    p.expires_at = chrono::Utc::now() - chrono::Duration::days(6);
    std::fs::write(
        env.path("expired.bundle"),
        pbundle::sign(&p, &county_key).unwrap(),
    )
    .unwrap();
    let out = env.provision(&env.path("expired.bundle"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before);

    // A catalogue inside that the bundle's catalogue key does not verify: refused before any
    // file is staged.
    let mut p: Provisioning = serde_json::from_slice(&payload).unwrap();
    p.catalog_bundle = Some(String::from_utf8(signed::sign("catalog", b"{}", &other_key)).unwrap());
    std::fs::write(
        env.path("badcat.bundle"),
        pbundle::sign(&p, &county_key).unwrap(),
    )
    .unwrap();
    let out = env.provision(&env.path("badcat.bundle"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("catalogue in the bundle was refused"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), before);

    // Not a bundle at all.
    std::fs::write(env.path("junk.bundle"), b"\x00\x01 not json").unwrap();
    let out = env.provision(&env.path("junk.bundle"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a signed bundle"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), before);

    // The same station's fresh bundle is accepted again (renewal), --check installs nothing.
    let renewed = env.make_bundle(STATION, "renewed.bundle", &[]);
    let out = env.provision(&renewed, &["--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before);
    assert!(env.provision(&renewed, &[]).status.success());
}

#[test]
fn a_terminal_without_the_kiosk_user_is_refused() {
    let env = Env::new();
    let bundle = env.make_bundle(STATION, "p.bundle", &[]);
    std::fs::write(env.path("root/etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let before = env.snapshot();
    let out = env.provision(&bundle, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no user \"kiosk\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), before);
}
