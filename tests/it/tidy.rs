//! Tidy checks: the invariants ARCHITECTURE.md states, checked on the source tree.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let missing: Vec<_> = src_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "modules without a //! doc: {missing:?}");
}

#[test]
fn no_stubs_left_in_src() {
    let stubs: Vec<_> = src_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.contains(concat!("todo", "!(")) || text.contains(concat!("unimplemented", "!("))
        })
        .collect();
    assert!(stubs.is_empty(), "stubs in: {stubs:?}");
}

/// Sans-IO modules: protocols, codecs and state machines that must stay free of devices, sockets,
/// files, the database and the clock, so they are tested with bytes and a virtual clock.
const SANS_IO: &[&str] = &[
    "src/pii.rs",
    "src/catalog/model.rs",
    "src/catalog/search.rs",
    "src/catalog/translation.rs",
    "src/idcard/protocol.rs",
    "src/idcard/card.rs",
    "src/printer/escpos.rs",
    "src/printer/status.rs",
    "src/printer/paper.rs",
    "src/printer/receipt.rs",
    "src/printer/job.rs",
    "src/printer/bitmap.rs",
    "src/county/retry.rs",
    "src/catalog/validate.rs",
    "src/catalog/bundle.rs",
    "src/session/mod.rs",
    "src/session/validate.rs",
    "src/catalog/eligibility.rs",
    "src/voice/script.rs",
    "src/voice/queue.rs",
    "src/county/sync.rs",
    "src/catalog/keyring.rs",
    "src/maintenance/gate.rs",
    "src/provision/bundle.rs",
    "src/provision/pin.rs",
    "src/workdays.rs",
    "src/update/manifest.rs",
    "src/update/bootcount.rs",
    "src/update/machine.rs",
    "src/sscard/emv.rs",
    "src/sscard/frame.rs",
];

/// Every module ARCHITECTURE.md calls pure (sans-IO, no clock) must be in [`SANS_IO`]: the
/// lists in the two places cannot drift apart.
#[test]
fn the_sans_io_list_covers_what_architecture_md_calls_pure() {
    for module in [
        "src/catalog/model.rs",
        "src/catalog/translation.rs",
        "src/catalog/validate.rs",
        "src/catalog/bundle.rs",
        "src/catalog/search.rs",
        "src/idcard/protocol.rs",
        "src/idcard/card.rs",
        "src/printer/escpos.rs",
        "src/printer/status.rs",
        "src/printer/paper.rs",
        "src/printer/receipt.rs",
        "src/printer/job.rs",
        "src/printer/bitmap.rs",
        "src/county/retry.rs",
        "src/session/mod.rs",
        "src/session/validate.rs",
        "src/pii.rs",
    ] {
        assert!(
            SANS_IO.contains(&module),
            "{module} is missing from SANS_IO"
        );
    }
    let arch =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    for file in SANS_IO {
        let name = Path::new(file).file_stem().unwrap().to_str().unwrap();
        let name = if name == "mod" {
            Path::new(file)
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        } else {
            name
        };
        assert!(
            arch.contains(&format!("`{name}`")) || arch.contains(&format!("`{name}.rs`")),
            "ARCHITECTURE.md does not name the sans-IO module {file}"
        );
    }
}

/// Source files under `src/`, relative, with their text.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    src_files()
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            (rel, text)
        })
        .collect()
}

/// anyhow only at the edges: the kiosk's command line and the binaries. Library errors are
/// typed (thiserror).
#[test]
fn anyhow_only_in_the_cli_and_the_binaries() {
    for (file, text) in sources() {
        if file.starts_with("src/cli/") || file.starts_with("src/bin/") {
            continue;
        }
        assert!(
            !code_of(&text).contains("anyhow"),
            "{file} uses anyhow: library errors are typed (thiserror)"
        );
    }
}

/// Modules that drive I/O but take time as an input (`now` parameters or a `Clock`): they never
/// read the clock themselves, except the one `SystemClock` implementation.
const TIME_AS_INPUT: &[&str] = &[
    "src/county/outbox.rs",
    "src/county/noticeboard.rs",
    "src/catalog/repo.rs",
    "src/store/mod.rs",
    "src/backoffice/db.rs",
    "src/backoffice/staff/operators.rs",
    "src/backoffice/staff/cases.rs",
    "src/backoffice/staff/followup.rs",
    "src/backoffice/staff/report.rs",
    "src/backoffice/staff/pages.rs",
    "src/maintenance/mod.rs",
];

/// A case's status changes in one place, `Db::advance_as`, which writes the audit row (who and
/// when) in the same transaction: no other code updates `cases.status`, and staff pages change a
/// status only through `staff::cases::change_status`.
#[test]
fn every_status_change_goes_through_advance_as() {
    for (file, text) in sources() {
        let code = code_of(&text);
        if file != "src/backoffice/db.rs" {
            assert!(
                !code.contains("UPDATE cases SET status"),
                "{file} changes a case's status itself; call Db::advance_as"
            );
        }
        if file.starts_with("src/backoffice/staff/pages") {
            assert!(
                !code.contains(".advance(") && !code.contains(".advance_as("),
                "{file} advances a case without the department check of change_status"
            );
        }
    }
    let db =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backoffice/db.rs"))
            .unwrap();
    assert!(db.contains("staff::cases::record_audit(&tx,"));
}

#[test]
fn modules_that_take_time_as_input_do_not_read_the_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in TIME_AS_INPUT.iter().chain(SANS_IO) {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut code = code_of(&text);
        // The wall clock's own implementation is where `Utc::now` belongs.
        if let Some(start) = code.find("impl Clock for SystemClock {") {
            let end = code[start..]
                .find("\n}\n")
                .map_or(code.len(), |e| start + e);
            code.replace_range(start..end, "");
        }
        for word in ["Utc::now", "Local::now", "SystemTime::now", "Instant::now"] {
            assert!(
                !code.contains(word),
                "{file} reads the clock (`{word}`); take `now` or a Clock as input"
            );
        }
    }
}

/// The UI's page controllers take time from the shell's clock (`Kiosk::now`, `Kiosk::today`
/// in the station's zone), never from the machine: only the shell's `SystemClock` and the
/// tests' wait helpers in `app` read it.
#[test]
fn ui_controllers_take_time_from_the_shell() {
    for (file, text) in sources() {
        if !file.starts_with("src/ui/")
            || matches!(
                file.as_str(),
                "src/ui/shell.rs"
                    | "src/ui/app.rs"
                    | "src/ui/headless.rs"
                    | "src/ui/framebuffer.rs"
            )
        {
            continue;
        }
        let code = code_of(&text);
        for word in ["Utc::now", "Local::now", "SystemTime::now", "Instant::now"] {
            assert!(
                !code.contains(word),
                "{file} reads the clock (`{word}`); use k.now() or k.today()"
            );
        }
    }
}

/// Page adapters never receive a card's raw fields (issue 10): only `ui::answers` reads the
/// card's address, birth date, sex and nation (into the answers that are sent), and the form
/// and the confirmation page show what the card filled in only through
/// `answers::shown_card_value` (masked by `pii`); the name and number only through `Masked`.
#[test]
fn page_adapters_never_receive_raw_card_fields() {
    for (file, text) in sources() {
        if !file.starts_with("src/ui/") || file == "src/ui/answers.rs" {
            continue;
        }
        let code = code_of(&text);
        for field in [
            "card.address",
            "card.birth_date",
            "card.sex",
            "card.nation",
            "card.english_name",
        ] {
            assert!(
                !code.contains(field),
                "{file} reads `{field}`; show a card's data through ui::answers::shown_card_value"
            );
        }
        for field in ["card.name", "card.id_number"] {
            for (at, _) in code.match_indices(field) {
                // The statement so far: masked in it, or the application sent (the draft).
                let start = code[..at].rfind([';', '{', '}']).map_or(0, |i| i + 1);
                let before = &code[start..at];
                assert!(
                    [
                        "Masked::",
                        "Agent::masked(",
                        "applicant_name: ",
                        "id_number: "
                    ]
                    .iter()
                    .any(|m| before.contains(m)),
                    "{file}: `{field}` reaches the screen unmasked: {before}{field}"
                );
            }
        }
    }
    for file in ["src/ui/form.rs", "src/ui/confirm.rs"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        assert!(
            code_of(&text).contains("shown_card_value("),
            "{file} shows what the card filled in without answers::shown_card_value"
        );
    }
}

/// Every PIN typed on the screen goes through the lockout (`MaintenanceGate::verify` or
/// `maintenance::verify_maintenance_pin`): no UI module holds a `PinHash` to compare with.
#[test]
fn ui_pins_go_through_the_lockout() {
    for (file, text) in sources() {
        if !file.starts_with("src/ui/") {
            continue;
        }
        let code = code_of(&text);
        assert!(
            !code.contains("PinHash"),
            "{file} checks a PIN against its hash itself; use maintenance::verify_maintenance_pin (the lockout)"
        );
    }
}

/// Cards are validated on a day the code is given (`idcard::reader::CardDay`, the station's
/// day in `station.time_zone`): nothing in `src/idcard` reads the wall clock (issue 10: the
/// reader thread used the machine's zone). `Instant` for I/O timeouts is fine.
#[test]
fn the_idcard_area_reads_no_wall_clock() {
    let mut seen = 0;
    for (file, text) in sources() {
        if !file.starts_with("src/idcard/") {
            continue;
        }
        seen += 1;
        let code = code_of(&text);
        for word in ["Utc::now", "Local::now", "SystemTime::now"] {
            assert!(
                !code.contains(word),
                "{file} reads the wall clock (`{word}`); validate on the CardDay it is given"
            );
        }
    }
    assert!(seen >= 4, "src/idcard not found");
}

/// Test scaffolding stays out of the product: no hidden test command, and every test hook is
/// behind the `test-support` feature, which only `cargo test` enables.
#[test]
fn test_hooks_are_not_in_the_product() {
    for (file, text) in sources() {
        assert!(
            !text.contains("crash-child") && !text.contains("CrashChild"),
            "{file}: the crash test's child is the test binary itself, not a kiosk command"
        );
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("/// Test support") {
                continue;
            }
            let gated = lines[i..]
                .iter()
                .take_while(|l| {
                    l.trim_start().starts_with("///") || l.trim_start().starts_with("#[")
                })
                .any(|l| l.contains("#[cfg(feature = \"test-support\")]"));
            assert!(
                gated,
                "{file}:{}: a test hook without #[cfg(feature = \"test-support\")]",
                i + 1
            );
        }
    }
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let default = manifest
        .lines()
        .find(|l| l.starts_with("default = "))
        .expect("default features");
    assert!(!default.contains("test-support"), "{default}");
}

/// Personal fields reach logs only through `pii::Masked`: a `tracing` event that names one
/// must mask it.
#[test]
fn logs_see_personal_data_only_through_masked() {
    let personal = [
        "id_number",
        "applicant_name",
        "address",
        ".phone",
        "birth_date",
    ];
    let macros = ["trace!(", "debug!(", "info!(", "warn!(", "error!("];
    for (file, text) in sources() {
        let code = code_of(&text);
        for m in macros {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(m) {
                let call = &rest[i..];
                // The macro's arguments: up to the parenthesis that closes the first one.
                let mut depth = 0i32;
                let end = call
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0 && c == ')'
                    })
                    .map_or(call.len(), |(e, _)| e);
                let call = &call[..end];
                for field in personal {
                    if let Some(at) = call.find(field) {
                        let before = &call[..at];
                        assert!(
                            before.contains("Masked::") || before.contains("mask("),
                            "{file}: a log event names `{field}` without pii::Masked: {call}"
                        );
                    }
                }
                rest = &rest[i + m.len()..];
            }
        }
    }
}

/// `config` does not import `catalog::bundle` back (the trusted-key rule lives in config; the
/// bundle module sees it through the `TrustSource` trait).
#[test]
fn no_import_circle_between_config_and_bundle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = code_of(&std::fs::read_to_string(root.join("src/catalog/bundle.rs")).unwrap());
    assert!(
        !bundle.contains("crate::config"),
        "catalog::bundle imports config: the import circle is back"
    );
}

/// The config is loaded in one place, `cli::main` (`Globals::load`); every command, `kiosk run`
/// included, reads `Globals::loaded()`.
#[test]
fn the_config_is_loaded_in_one_place() {
    for (file, text) in sources() {
        if matches!(file.as_str(), "src/cli/mod.rs" | "src/config.rs") {
            continue;
        }
        let code = code_of(&text);
        assert!(
            !code.contains("config::load(") && !code.contains("toml::from_str::<Config>"),
            "{file} loads the config itself; use Globals::loaded()"
        );
    }
}

/// The county's public progress-page URL has one owner in the station, its learner task; the
/// submit path only reads what it learned (ARCHITECTURE.md, `src/station`).
#[test]
fn the_public_url_is_asked_for_only_by_its_learner() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let code = code_of(&std::fs::read_to_string(root.join("src/station/county.rs")).unwrap());
    let asks = code.matches(".hello()").count();
    let learner = code
        .split("async fn learn_public_url(")
        .nth(1)
        .and_then(|rest| rest.split("const STANDARD_PATH").next())
        .unwrap_or_default();
    assert!(
        asks == 1 && learner.contains(".hello()"),
        "src/station/county.rs asks GET /v1/station {asks} time(s) outside learn_public_url: \
         the submit path must only read the learned URL"
    );
}

/// The code of a module without its comments and its `#[cfg(test)]` part.
fn code_of(text: &str) -> String {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn codecs_do_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forbidden = [
        "tokio",
        "serialport",
        "rusqlite",
        "reqwest",
        "std::fs",
        "std::net",
        "std::io::Read",
        "std::thread",
        "Utc::now",
        "Local::now",
        "Instant::now",
        "SystemTime",
        "rand::",
    ];
    for file in SANS_IO {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            panic!("sans-IO module {file} is missing: update the list in tests/it/tidy.rs");
        };
        let code = code_of(&text);
        for word in forbidden {
            assert!(
                !code.contains(word),
                "{file} uses `{word}`: codecs do no I/O"
            );
        }
    }
}

/// The firmware built for the kiosk image (`--no-default-features --features kms`) links neither
/// the back office's web framework nor its test PKI: demo mode and the back office are features.
#[test]
fn the_firmware_links_neither_axum_nor_rcgen() {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--no-default-features",
            "--features",
            "kms",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("slint "), "not the firmware's tree: {tree}");
    for forbidden in ["axum ", "rcgen "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "the firmware links {forbidden}"
        );
    }
    // And the default build does (so the check above can fail).
    let all = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .output()
        .expect("cargo tree runs");
    assert!(
        String::from_utf8_lossy(&all.stdout)
            .lines()
            .any(|l| l.starts_with("axum "))
    );
}

/// The public progress page reads no personal column and is not routed on the stations'
/// listener; a result notice is queued by the status change itself (ARCHITECTURE.md,
/// `src/backoffice`).
#[test]
fn the_public_page_reads_nothing_personal_and_notices_ride_the_status_change() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let public = code_of(&read("src/backoffice/public.rs"));
    for column in ["applicant_name", "id_number", "phone", "person_key", "note"] {
        assert!(
            !public.contains(column),
            "src/backoffice/public.rs mentions {column}"
        );
    }
    assert!(
        !code_of(&read("src/backoffice/http.rs")).contains("\"/p/"),
        "the stations' router serves the public page"
    );
    let db = code_of(&read("src/backoffice/db.rs"));
    // Every status change goes through `Db::advance_as` (checked by
    // `every_status_change_goes_through_advance_as`); the notice rides in its transaction.
    let advance = db
        .split("pub fn advance_as(")
        .nth(1)
        .and_then(|rest| rest.split("\n    pub fn ").next())
        .expect("Db::advance_as");
    assert!(
        advance.contains("notices::enqueue(&tx,"),
        "Db::advance_as no longer queues the result notice in its transaction"
    );
}

/// Spoken guidance and eligibility are the shell's business (ARCHITECTURE.md, `src/ui`): page
/// controllers never speak by themselves (only `ui::speech`, called by the shell, talks to the
/// speaker), and the form is entered only through the shell's entry, behind the eligibility gate.
#[test]
fn pages_do_not_speak_and_the_form_is_entered_behind_the_eligibility_gate() {
    let mut problems = Vec::new();
    for (file, text) in sources() {
        let Some(name) = file.strip_prefix("src/ui/") else {
            continue;
        };
        let code = code_of(&text);
        if !["speech.rs", "app.rs", "shell.rs", "mod.rs", "tour.rs"].contains(&name)
            && (code.contains("speech::") || code.contains("voice::"))
        {
            problems.push(format!(
                "{file} talks to the speaker; return a Next instead"
            ));
        }
        if name != "app.rs" && name != "form.rs" && code.contains("form::enter(") {
            problems.push(format!(
                "{file} enters the form around the eligibility gate"
            ));
        }
    }
    let app = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/app.rs"))
        .unwrap();
    assert!(
        app.contains("eligibility::gate(self).unwrap_or_else(|| form::enter(self))"),
        "the form's entry runs the eligibility gate first"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The screen's units draw with Slint's linuxkms software renderer, which never draws a mouse
/// cursor (its render path ignores the cursor callback): the kiosk shows no cursor. The image
/// test checks the same on the guest's screen.
#[test]
fn every_screen_unit_uses_the_renderer_that_draws_no_cursor() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/systemd");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let shows_screen = text
            .contains("/usr/bin/kiosk --config /etc/village-kiosk/kiosk.toml run")
            || text.contains(" standby ");
        if !shows_screen {
            continue;
        }
        seen += 1;
        assert!(
            text.contains("Environment=SLINT_BACKEND=linuxkms-software"),
            "{} shows the screen but does not use linuxkms-software",
            path.display()
        );
    }
    assert_eq!(seen, 3, "the app, the not-provisioned and the fault screen");
}

/// Staff pages (the station ledger included) are served by the staff listener only, behind the
/// operator login: the stations' router renders none of them and reads no ledger rows.
#[test]
fn the_stations_listener_serves_no_staff_page() {
    let http = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backoffice/http.rs"),
    )
    .unwrap();
    let code = code_of(&http);
    for forbidden in [
        "ledger_body",
        "ledger_html",
        "ledger::ledger(",
        "pages::",
        "screenshot(",
    ] {
        assert!(
            !code.contains(forbidden),
            "src/backoffice/http.rs uses {forbidden}: staff pages belong to staff::pages"
        );
    }
    let pages = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backoffice/staff/pages.rs"),
    )
    .unwrap();
    assert!(code_of(&pages).contains(".route(\"/staff/ledger\", get(ledger_page))"));
}
