//! The standby window (待机/故障屏) and its controller: what the screen shows when the terminal
//! cannot serve villagers. Two cases, each a page of its own (`ui/pages/not-provisioned.slint`,
//! `ui/pages/fault.slint`) in a window of its own (`ui/standby.slint`) that needs no devices,
//! store or county link:
//!
//! - **not provisioned** (`provision::Status::NotProvisioned`): 「本终端尚未开通」 and how a
//!   technician provisions it (`village-kiosk-not-provisioned.service`);
//! - **fault**: the app failed again and again and systemd stopped restarting it
//!   (`OnFailure=village-kiosk-fault.service`): the villager reads that the terminal is out of
//!   order and to go to the counter, the technician reads whom to call and what to run.
//!
//! Texts are set from here in the UI language; the event loop sends READY after the first frame
//! and WATCHDOG pings like the app (`crate::watchdog`).

use std::rc::Rc;
use std::time::Duration;

use slint::ComponentHandle;

use super::l10n::Lang;
use super::{StandbyAdapter, StandbyKind, StandbyWindow, Theme};
use crate::provision;

/// Which standby screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standby {
    NotProvisioned,
    /// `detail`: a short English line for the technician (what failed), may be empty.
    Fault {
        detail: String,
    },
}

/// What the standby screen knows about the station.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationInfo {
    pub station_name: String,
    /// 运维电话; empty when the county gave none.
    pub technician_phone: String,
}

impl StationInfo {
    /// From the provisioning record (`provision::status()`).
    pub fn from_status(status: &provision::Status) -> StationInfo {
        match status {
            provision::Status::Provisioned {
                station_name,
                technician_phone,
                ..
            } => StationInfo {
                station_name: station_name.clone(),
                technician_phone: technician_phone.clone(),
            },
            provision::Status::NotProvisioned => StationInfo::default(),
        }
    }
}

/// The fault screen's title.
pub const FAULT_TITLE: &str = "本终端暂时无法使用";
pub const FAULT_TITLE_EN: &str = "This terminal is out of order";
/// What the villager does instead.
pub const FAULT_VILLAGER: &str = "请到服务站窗口办理，给您带来不便，敬请谅解。";
pub const FAULT_VILLAGER_EN: &str =
    "Please go to the service counter. Sorry for the inconvenience.";
/// What the staff and the technician do.
pub const FAULT_HOWTO: &str = "工作人员：请联系本站技术员。技术员：通过 SSH 登录后运行 kiosk doctor 查看原因，修复后运行 sudo systemctl restart village-kiosk 恢复服务。";
pub const FAULT_HOWTO_EN: &str = "Staff: call the station's technician. Technician: log in over SSH, run kiosk doctor to see the cause, fix it, then run sudo systemctl restart village-kiosk.";
const NOT_PROVISIONED_VILLAGER: &str = "请到服务站窗口办理。";
const NOT_PROVISIONED_VILLAGER_EN: &str = "Please go to the service counter.";

/// Builds the standby window with its texts set.
pub fn window(
    which: &Standby,
    info: &StationInfo,
    lang: Lang,
    landscape: bool,
) -> Result<StandbyWindow, slint::PlatformError> {
    let w = StandbyWindow::new()?;
    w.global::<Theme>().set_landscape(landscape);
    let a = w.global::<StandbyAdapter>();
    let en = lang == Lang::En;
    let pick = |zh: &str, e: &str| slint::SharedString::from(if en { e } else { zh });
    a.set_station_name(info.station_name.as_str().into());
    a.set_phone(info.technician_phone.as_str().into());
    a.set_phone_label(pick("技术员电话：", "Technician:"));
    match which {
        Standby::NotProvisioned => {
            a.set_kind(StandbyKind::NotProvisioned);
            a.set_title(pick(
                provision::NOT_PROVISIONED_TITLE,
                provision::NOT_PROVISIONED_TITLE_EN,
            ));
            a.set_villager_hint(pick(NOT_PROVISIONED_VILLAGER, NOT_PROVISIONED_VILLAGER_EN));
            a.set_howto(pick(
                provision::NOT_PROVISIONED_HOWTO,
                provision::NOT_PROVISIONED_HOWTO_EN,
            ));
            a.set_detail("".into());
        }
        Standby::Fault { detail } => {
            a.set_kind(StandbyKind::Fault);
            a.set_title(pick(FAULT_TITLE, FAULT_TITLE_EN));
            a.set_villager_hint(pick(FAULT_VILLAGER, FAULT_VILLAGER_EN));
            a.set_howto(pick(FAULT_HOWTO, FAULT_HOWTO_EN));
            a.set_detail(detail.as_str().into());
        }
    }
    Ok(w)
}

/// Shows the standby screen until the process is stopped (systemd stops it when the app
/// starts). READY after the first frame, WATCHDOG from the event loop.
pub fn run(
    which: &Standby,
    info: &StationInfo,
    lang: Lang,
    landscape: bool,
) -> Result<(), slint::PlatformError> {
    let w = window(which, info, lang, landscape)?;
    let watchdog = Rc::new(crate::watchdog::Notifier::from_env());
    {
        let n = watchdog.clone();
        slint::Timer::single_shot(Duration::ZERO, move || n.ready());
    }
    let ping = slint::Timer::default();
    if let Some(every) = watchdog.ping_interval() {
        let n = watchdog.clone();
        ping.start(slint::TimerMode::Repeated, every, move || n.ping());
    }
    w.run()
}
