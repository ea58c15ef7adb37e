//! The standby screens (issue 11): 「本终端尚未开通」 on a terminal without provisioning, and the
//! fault screen after repeated failures, rendered with the real Slint UI (testing backend,
//! software renderer) and by `kiosk standby ... --png`.

use i_slint_backend_testing::ElementHandle;
use slint::ComponentHandle;
use village_kiosk::provision;
use village_kiosk::ui::headless;
use village_kiosk::ui::l10n::Lang;
use village_kiosk::ui::standby::{self, Standby, StationInfo};

fn labels(w: &village_kiosk::ui::StandbyWindow) -> Vec<String> {
    use i_slint_backend_testing::ElementRoot;
    w.root_element()
        .query_descendants()
        .find_all()
        .into_iter()
        .filter(|e: &ElementHandle| e.size().width > 0.0)
        .filter_map(|e| e.accessible_label().map(|s| s.to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

fn info() -> StationInfo {
    StationInfo {
        station_name: "示范县城关镇东关村便民服务站".into(),
        technician_phone: "13800000000".into(),
    }
}

#[test]
fn an_unprovisioned_terminal_says_so_and_how_to_provision() {
    headless::init().unwrap();
    let w = standby::window(
        &Standby::NotProvisioned,
        &StationInfo::default(),
        Lang::Zh,
        false,
    )
    .unwrap();
    w.show().unwrap();
    let l = labels(&w);
    assert!(
        l.iter().any(|s| s == provision::NOT_PROVISIONED_TITLE),
        "{l:?}"
    );
    assert!(
        l.iter()
            .any(|s| s.contains(provision::bundle::USB_FILE_NAME) && s.contains("kiosk provision")),
        "{l:?}"
    );
    // Nothing of the fault screen.
    assert!(!l.iter().any(|s| s.contains(standby::FAULT_TITLE)), "{l:?}");
    let en = standby::window(
        &Standby::NotProvisioned,
        &StationInfo::default(),
        Lang::En,
        true,
    )
    .unwrap();
    en.show().unwrap();
    assert!(
        labels(&en)
            .iter()
            .any(|s| s == provision::NOT_PROVISIONED_TITLE_EN)
    );
}

#[test]
fn the_fault_screen_says_what_to_do_and_whom_to_call() {
    headless::init().unwrap();
    let w = standby::window(
        &Standby::Fault {
            detail: "village-kiosk.service failed repeatedly".into(),
        },
        &info(),
        Lang::Zh,
        false,
    )
    .unwrap();
    w.window().set_size(slint::PhysicalSize::new(1080, 1920));
    w.show().unwrap();
    let l = labels(&w);
    assert!(l.iter().any(|s| s == standby::FAULT_TITLE), "{l:?}");
    assert!(l.iter().any(|s| s.contains("服务站窗口")), "{l:?}");
    assert!(l.iter().any(|s| s.contains("13800000000")), "{l:?}");
    assert!(l.iter().any(|s| s.contains("kiosk doctor")), "{l:?}");
    assert!(l.iter().any(|s| s.contains("failed repeatedly")), "{l:?}");
    assert!(l.iter().any(|s| s.contains("东关村")), "{l:?}");
    // Never a blank screen: the rendered frame has the danger colour of the title and text.
    let shot = w.window().take_snapshot().unwrap();
    let px = shot.as_slice();
    let first = px[0];
    assert!(px.iter().filter(|p| **p != first).count() > 10_000);
}

#[test]
fn kiosk_standby_renders_to_png() {
    let dir = tempfile::tempdir().unwrap();
    for (which, file) in [("not-provisioned", "np.png"), ("fault", "fault.png")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["--config"])
            .arg(dir.path().join("none.toml"))
            .args(["standby", which, "--png"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
