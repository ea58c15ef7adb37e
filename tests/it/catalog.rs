//! Integration tests for the catalogue, the store and the config: the real `kiosk` binary with a
//! temporary data directory and config, and the library against real SQLite files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use village_kiosk::catalog::bundle::{self, BundleError};
use village_kiosk::catalog::repo::{self, ImportOptions, RepoError};
use village_kiosk::catalog::sample::{generated_catalog, sample_item};
use village_kiosk::catalog::search::{MatchVia, MatchedField, SearchIndex};
use village_kiosk::catalog::{Catalog, Category, demo, validate};
use village_kiosk::store::{MIGRATIONS, STORE_FILE, Store, StoreError};

/// A temporary kiosk: its own config file and data directory.
struct TestEnv {
    dir: tempfile::TempDir,
}

impl TestEnv {
    /// Demo mode (no county URL), data in the temp dir.
    fn demo() -> TestEnv {
        TestEnv::with_config("")
    }

    /// `extra` is appended to a config that sets the data directory.
    fn with_config(extra: &str) -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let text = format!("[data]\ndir = {:?}\n{extra}", data.display().to_string());
        std::fs::write(dir.path().join("kiosk.toml"), text).unwrap();
        TestEnv { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store_path(&self) -> PathBuf {
        self.path("data").join(STORE_FILE)
    }

    fn kiosk(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .arg("--config")
            .arg(self.path("kiosk.toml"))
            .args(args)
            .env_remove("KIOSK_CONFIG")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kiosk(args);
        assert!(
            out.status.success(),
            "kiosk {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.kiosk(args);
        assert!(
            !out.status.success(),
            "kiosk {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn write_json(&self, name: &str, catalog: &Catalog) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, serde_json::to_vec_pretty(catalog).unwrap()).unwrap();
        p
    }

    fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn small_catalog(version: u64) -> Catalog {
    let mut a = sample_item(
        "SB-001",
        "城乡居民基本养老保险参保登记",
        Category::SocialInsurance,
    );
    a.aliases = vec!["新农保".into()];
    let b = sample_item("CL-001", "残疾人证申领", Category::Disability);
    Catalog {
        county: "测试县".into(),
        version,
        items: vec![a, b],
    }
}

fn installed(env: &TestEnv) -> (u64, usize) {
    let v = env.json(&["catalog", "list", "--json"]);
    (
        v["catalog"]["version"].as_u64().unwrap(),
        v["items"].as_array().unwrap().len(),
    )
}

#[test]
fn demo_mode_uses_the_demo_catalogue_until_one_is_imported() {
    let env = TestEnv::demo();
    let out = env.kiosk(&["catalog", "list", "--json"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("demo catalogue"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["catalog"]["demo"], true);
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        demo::demo_catalog().items.len()
    );
    // Reading does not create the store.
    assert!(!env.store_path().exists());
}

#[test]
fn import_a_signed_bundle_then_list_show_search_and_export_it() {
    let env = TestEnv::demo();
    let json = env.write_json("cat.json", &small_catalog(3));
    let bundle = env.path("cat.bundle");
    env.ok(&[
        "catalog",
        "sign",
        s(&json),
        "--out",
        s(&bundle),
        "--demo-key",
    ]);
    let out = env.ok(&["catalog", "import", s(&bundle)]);
    assert!(out.contains("version 3"), "{out}");
    assert!(env.store_path().exists());

    assert_eq!(installed(&env), (3, 2));
    let list = env.json(&["catalog", "list", "--category", "残联", "--json"]);
    let codes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["CL-001"]);

    let by_event = env.json(&["catalog", "list", "--life-event", "退休养老", "--json"]);
    assert_eq!(by_event["items"].as_array().unwrap().len(), 2);
    let err = env.fails(&["catalog", "list", "--life-event", "出国"]);
    assert!(err.contains("出国") && err.contains("退休养老"), "{err}");

    let show = env.json(&["catalog", "show", "SB-001", "--json"]);
    assert_eq!(show["name"], "城乡居民基本养老保险参保登记");
    let human = env.ok(&["catalog", "show", "SB-001"]);
    for label in ["申请材料", "办理流程", "受理条件", "咨询电话", "申请表"] {
        assert!(human.contains(label), "missing {label} in {human}");
    }
    let err = env.fails(&["catalog", "show", "XX-999"]);
    assert!(
        err.contains("XX-999") && err.contains("kiosk catalog"),
        "{err}"
    );

    for q in ["ylbx", "yanglao", "养老", "xnb"] {
        let hits = env.json(&["catalog", "search", q, "--json"]);
        assert_eq!(hits["hits"][0]["code"], "SB-001", "{q}: {hits}");
    }

    let exported = env.ok(&["catalog", "export"]);
    let back: Catalog = serde_json::from_str(&exported).unwrap();
    assert_eq!(back, small_catalog(3));
}

#[test]
fn rejected_bundles_leave_the_catalogue_in_use_untouched() {
    let env = TestEnv::demo();
    let key = bundle::demo_signing_key();
    let good = bundle::sign_catalog(&small_catalog(2), &key).unwrap();
    let good_path = env.write_bytes("good.bundle", &good);
    env.ok(&["catalog", "import", s(&good_path)]);
    assert_eq!(installed(&env), (2, 2));

    let mut env_json: serde_json::Value = serde_json::from_slice(&good).unwrap();

    // Bad signature: one item's name changed after signing.
    let mut tampered = env_json.clone();
    let mut cat = small_catalog(5);
    cat.items[0].name = "城乡居民基本养老保险参保登记（已篡改）".into();
    tampered["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&cat).unwrap())
        .into();
    let p = env.write_bytes("tampered.bundle", &serde_json::to_vec(&tampered).unwrap());
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(
        err.contains("tampered.bundle") && err.contains("bad signature"),
        "{err}"
    );

    // Unknown format version.
    env_json["format_version"] = 9.into();
    let p = env.write_bytes("v9.bundle", &serde_json::to_vec(&env_json).unwrap());
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(err.contains("format version 9"), "{err}");

    // Malformed file: truncated.
    let p = env.write_bytes("cut.bundle", &good[..good.len() / 2]);
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(err.contains("cut.bundle") && err.contains("line"), "{err}");

    // A plain catalogue JSON is not a bundle.
    let p = env.write_json("plain.json", &small_catalog(6));
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(err.contains("kiosk catalog sign"), "{err}");

    // Missing element, signed anyway (bypassing `kiosk catalog sign`'s check).
    let mut incomplete = small_catalog(7);
    incomplete.items[1].materials[0].source.clear();
    let p = env.write_bytes(
        "incomplete.bundle",
        &bundle::sign(
            bundle::KIND_CATALOG,
            &serde_json::to_vec(&incomplete).unwrap(),
            &key,
        ),
    );
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(
        err.contains("CL-001") && err.contains("materials[0].source"),
        "{err}"
    );

    // Missing field in the JSON: named with its line.
    let mut v = serde_json::to_value(small_catalog(8)).unwrap();
    v["items"][0]
        .as_object_mut()
        .unwrap()
        .remove("consult_phone");
    let p = env.write_bytes(
        "nofield.bundle",
        &bundle::sign(
            bundle::KIND_CATALOG,
            &serde_json::to_vec_pretty(&v).unwrap(),
            &key,
        ),
    );
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(
        err.contains("consult_phone") && err.contains("line"),
        "{err}"
    );

    // Signed by another key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let p = env.write_bytes(
        "other.bundle",
        &bundle::sign_catalog(&small_catalog(9), &other).unwrap(),
    );
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(err.contains("signed by key"), "{err}");

    // Older version.
    let p = env.write_bytes(
        "old.bundle",
        &bundle::sign_catalog(&small_catalog(1), &key).unwrap(),
    );
    let err = env.fails(&["catalog", "import", s(&p)]);
    assert!(err.contains("--allow-downgrade"), "{err}");

    assert_eq!(installed(&env), (2, 2));
    let show = env.json(&["catalog", "show", "SB-001", "--json"]);
    assert_eq!(show["name"], "城乡居民基本养老保险参保登记");

    // The roll-back works when asked for.
    env.ok(&["catalog", "import", s(&p), "--allow-downgrade"]);
    assert_eq!(installed(&env), (1, 2));
}

#[test]
fn a_county_key_from_keygen_signs_bundles_the_configured_kiosk_accepts() {
    let env = TestEnv::demo();
    let key = env.path("county.key");
    let out = env.ok(&["catalog", "keygen", "--out", s(&key)]);
    let public = std::fs::read_to_string(env.path("county.key.pub")).unwrap();
    let public = public.trim();
    assert!(out.contains(public));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "secret key must not be readable by others");
    }
    let err = env.fails(&["catalog", "keygen", "--out", s(&key)]);
    assert!(err.contains("--force"), "{err}");

    let county = TestEnv::with_config(&format!(
        "[county]\nurl = \"https://county.example\"\ncatalog_public_key = \"{public}\"\n"
    ));
    // Not demo mode: no demo catalogue fallback.
    let err = county.fails(&["catalog", "list"]);
    assert!(err.contains("kiosk catalog import"), "{err}");

    let json = env.write_json("cat.json", &small_catalog(4));
    let signed = env.path("county.bundle");
    env.ok(&[
        "catalog",
        "sign",
        s(&json),
        "--out",
        s(&signed),
        "--key",
        s(&key),
    ]);
    county.ok(&["catalog", "verify", s(&signed)]);
    county.ok(&["catalog", "import", s(&signed)]);
    assert_eq!(installed(&county), (4, 2));

    // A demo-signed bundle is refused by a county kiosk.
    let demo_signed = env.path("demo.bundle");
    env.ok(&[
        "catalog",
        "sign",
        s(&json),
        "--out",
        s(&demo_signed),
        "--demo-key",
    ]);
    let err = county.fails(&["catalog", "import", s(&demo_signed)]);
    assert!(err.contains("signed by key"), "{err}");

    // Signing refuses an incomplete catalogue and a bad key file, naming them.
    let mut bad = small_catalog(5);
    bad.items[0].locations.clear();
    let bad_json = env.write_json("bad.json", &bad);
    let err = env.fails(&[
        "catalog",
        "sign",
        s(&bad_json),
        "--out",
        s(&env.path("x")),
        "--key",
        s(&key),
    ]);
    assert!(err.contains("bad.json") && err.contains("SB-001"), "{err}");
    let bad_key = env.write_bytes("bad.key", b"# comment\nnot-hex\n");
    let err = env.fails(&[
        "catalog",
        "sign",
        s(&json),
        "--out",
        s(&env.path("x")),
        "--key",
        s(&bad_key),
    ]);
    assert!(err.contains("bad.key") && err.contains("line 2"), "{err}");
    assert!(!env.path("x").exists());
}

#[test]
fn config_check_names_file_line_key_and_fix() {
    let env = TestEnv::demo();
    env.ok(&["config", "check"]);
    let v = env.json(&["config", "check", "--json"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["demo"], true);

    let env = TestEnv::with_config("\n[printer]\nprot = \"/dev/ttyUSB0\"\n");
    let err = env.fails(&["config", "check"]);
    assert!(
        err.contains("kiosk.toml:5")
            && err.contains("printer.prot")
            && err.contains("printer.port"),
        "{err}"
    );
    let out = env.kiosk(&["config", "check", "--json"]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"][0]["field"], "printer.prot");
    assert_eq!(v["problems"][0]["line"], 5);
    // Other commands still run, with a warning.
    let out = env.kiosk(&["catalog", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("printer.prot"));

    let env = TestEnv::with_config("[session]\nwarn_after_secs = \"soon\"\n");
    let err = env.fails(&["config", "check"]);
    assert!(
        err.contains("kiosk.toml:4") && err.contains("session.warn_after_secs"),
        "{err}"
    );

    let env = TestEnv::with_config("[session]\nwarn_after_secs = 90\nwipe_after_secs = 60\n");
    let err = env.fails(&["config", "check"]);
    assert!(
        err.contains("session.warn_after_secs") && err.contains("fix"),
        "{err}"
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["--config", "/nonexistent/kiosk.toml", "config", "check"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/kiosk.toml"));
}

#[test]
fn every_demo_item_is_complete() {
    let catalog = demo::demo_catalog();
    assert_eq!(validate::catalog_problems(&catalog), Vec::<String>::new());
    // And it survives the whole path: sign, verify, import, load.
    let signed = bundle::sign_catalog(&catalog, &bundle::demo_signing_key()).unwrap();
    let opened = bundle::open_catalog(&signed, &bundle::demo_verifying_key()).unwrap();
    assert_eq!(opened, catalog);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    repo::replace(&mut store, &opened, &import_opts()).unwrap();
    assert_eq!(repo::load(&store).unwrap().unwrap().1, catalog);
}

#[test]
fn demo_catalogue_search_finds_the_pension_item_every_way() {
    let catalog = demo::demo_catalog();
    let index = SearchIndex::build(&catalog.items);
    let target = catalog
        .items
        .iter()
        .position(|i| i.name == "城乡居民基本养老保险参保登记")
        .expect("the demo catalogue has the pension registration item");
    for q in ["ylbx", "yanglao", "养老", "Yang Lao", "YLBX"] {
        let hits = index.search(q, 10);
        assert!(hits.iter().any(|h| h.index == target), "{q}: {hits:?}");
    }
}

fn import_opts() -> ImportOptions {
    ImportOptions {
        source: "test".into(),
        signer_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
        imported_at: chrono::Utc::now(),
        allow_downgrade: false,
    }
}

#[test]
fn repo_replaces_whole_and_rolls_back_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    assert!(repo::load(&store).unwrap().is_none());
    repo::replace(&mut store, &small_catalog(1), &import_opts()).unwrap();
    assert_eq!(
        repo::item_by_code(&store, "CL-001").unwrap().unwrap().name,
        "残疾人证申领"
    );
    assert!(repo::item_by_code(&store, "NO-1").unwrap().is_none());
    let social = repo::list_by_category(&store, Some(Category::SocialInsurance)).unwrap();
    assert_eq!(social.len(), 1);
    assert_eq!(repo::list_by_category(&store, None).unwrap().len(), 2);

    // A failure in the middle of the replacement (the disk refuses the third row): nothing changes.
    let mut next = generated_catalog(5);
    next.version = 2;
    store
        .conn()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON catalog_item WHEN NEW.code = 'GEN-00002'
             BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
        )
        .unwrap();
    let err = repo::replace(&mut store, &next, &import_opts()).unwrap_err();
    assert!(matches!(err, RepoError::Sql(_)), "{err}");
    let (meta, catalog) = repo::load(&store).unwrap().unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(catalog, small_catalog(1));

    store.conn().execute_batch("DROP TRIGGER refuse").unwrap();
    repo::replace(&mut store, &next, &import_opts()).unwrap();
    let (meta, catalog) = repo::load(&store).unwrap().unwrap();
    assert_eq!((meta.version, meta.item_count), (2, 5));
    assert_eq!(catalog.items, next.items);

    // Incomplete catalogues never reach the store.
    let mut bad = small_catalog(3);
    bad.items[0].steps.clear();
    assert!(matches!(
        repo::replace(&mut store, &bad, &import_opts()),
        Err(RepoError::Incomplete { .. })
    ));
    assert_eq!(repo::meta(&store).unwrap().unwrap().version, 2);
}

#[test]
fn an_old_schema_with_data_migrates_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    // A store as the first release wrote it: only migration 1, with a catalogue in it.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", MIGRATIONS[0].version)
            .unwrap();
        let item = sample_item(
            "SB-001",
            "城乡居民基本养老保险参保登记",
            Category::SocialInsurance,
        );
        conn.execute(
            "INSERT INTO catalog_meta (id, county, version, item_count, imported_at, source, signer_key)
             VALUES (1, '旧县', 7, 1, '2026-01-01T00:00:00+00:00', 'old.bundle', 'ab')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO catalog_item (code, position, category, name, item_json) VALUES (?1, 0, '社保', ?2, ?3)",
            rusqlite::params![item.code, item.name, serde_json::to_string(&item).unwrap()],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        MIGRATIONS.last().unwrap().version
    );
    let (meta, catalog) = repo::load(&store).unwrap().unwrap();
    assert_eq!((meta.county.as_str(), meta.version), ("旧县", 7));
    assert_eq!(catalog.items[0].name, "城乡居民基本养老保险参保登记");

    // Every intermediate schema opens too.
    for upto in 0..MIGRATIONS.len() {
        let p = dir.path().join(format!("step{upto}.sqlite3"));
        let conn = rusqlite::Connection::open(&p).unwrap();
        for m in &MIGRATIONS[..upto] {
            conn.execute_batch(m.sql).unwrap();
            conn.pragma_update(None, "user_version", m.version).unwrap();
        }
        drop(conn);
        let store = Store::open(&p).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            MIGRATIONS.last().unwrap().version
        );
    }
}

#[test]
fn a_damaged_or_too_new_store_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.sqlite3");
    std::fs::write(
        &garbage,
        b"this is not an SQLite database, it is a shopping list\n".repeat(100),
    )
    .unwrap();
    let err = Store::open(&garbage).unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("garbage.sqlite3") && msg.contains("damaged") && msg.contains("move it aside"),
        "{msg}"
    );

    let newer = dir.path().join("newer.sqlite3");
    {
        let conn = rusqlite::Connection::open(&newer).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Store::open(&newer).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("install a newer kiosk"));

    // Through the CLI: a damaged store in the data dir makes import fail and name the file.
    let env = TestEnv::demo();
    std::fs::create_dir_all(env.path("data")).unwrap();
    std::fs::write(env.store_path(), b"garbage".repeat(1000)).unwrap();
    let bundle_path = env.write_bytes(
        "cat.bundle",
        &bundle::sign_catalog(&small_catalog(1), &bundle::demo_signing_key()).unwrap(),
    );
    let err = env.fails(&["catalog", "import", s(&bundle_path)]);
    assert!(err.contains(STORE_FILE) && err.contains("damaged"), "{err}");
}

#[test]
fn search_ranks_name_prefix_then_name_then_alias_then_guide() {
    let mut prefix = sample_item("A-1", "养老保险待遇申领", Category::SocialInsurance);
    prefix.life_events.clear();
    let mut inside = sample_item(
        "A-2",
        "城乡居民基本养老保险参保登记",
        Category::SocialInsurance,
    );
    inside.life_events.clear();
    let mut alias = sample_item("A-3", "社会保障卡申领", Category::SocialInsurance);
    alias.aliases = vec!["养老金卡".into()];
    alias.life_events.clear();
    let mut guide = sample_item("A-4", "高龄津贴申领", Category::CivilAffairs);
    guide.life_events.clear();
    guide
        .conditions
        .push("已领取养老金的80周岁以上老年人".into());
    let mut none = sample_item("A-5", "法律援助申请", Category::Justice);
    none.life_events.clear();
    // Built in reverse order, so the ranking cannot come from the catalogue's order.
    let items = vec![none, guide, alias, inside, prefix];
    let index = SearchIndex::build(&items);
    let codes =
        |q: &str| -> Vec<String> { index.search(q, 10).into_iter().map(|h| h.code).collect() };
    assert_eq!(codes("养老"), vec!["A-1", "A-2", "A-3", "A-4"]);
    assert_eq!(codes("yanglao"), vec!["A-1", "A-2", "A-3"]);
    assert_eq!(codes("yl"), vec!["A-1", "A-2", "A-3"]);
    let hits = index.search("ylj", 10);
    assert_eq!(hits[0].code, "A-3");
    assert_eq!(hits[0].field, MatchedField::Alias(0));
    assert_eq!(hits[0].via, MatchVia::Initials);
    assert_eq!(index.search("a-4", 10)[0].field, MatchedField::Code);
}

#[test]
fn bundles_carry_any_kind_for_the_county_back_office() {
    let key = bundle::demo_signing_key();
    let payload = r#"{"announcements":[{"title":"2027年度城乡居民医保开始缴费"}]}"#.as_bytes();
    let signed = bundle::sign(bundle::KIND_ANNOUNCEMENTS, payload, &key);
    assert_eq!(
        bundle::open(&signed, bundle::KIND_ANNOUNCEMENTS, &key.verifying_key()).unwrap(),
        payload
    );
    assert!(matches!(
        bundle::open_catalog(&signed, &key.verifying_key()),
        Err(BundleError::WrongKind { .. })
    ));
}
