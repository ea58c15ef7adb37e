//! `kiosk devices`: the serial devices plugged in (serialport's enumeration, with USB vendor,
//! product and serial number) and udev rule lines that give the chosen ones their stable names
//! (`/dev/kiosk-idcard`, `/dev/kiosk-printer`), matched by vendor, product and serial number
//! where the device has one, else by the USB port it is plugged into. Two devices on the same
//! bridge chip (CH340 reader and CH340 printer) thus get the right names.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::Globals;

/// Options of `kiosk devices`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DevicesArgs {
    /// Name a device: `idcard=/dev/ttyUSB0` or `printer=/dev/ttyUSB1` (repeat). Prints the
    /// udev rule lines for them instead of the list.
    #[arg(long = "name", value_name = "ROLE=PORT")]
    pub names: Vec<String>,
    /// Write the rule lines to this file (e.g. /etc/udev/rules.d/98-village-kiosk-local.rules)
    /// instead of standard output.
    #[arg(long, value_name = "FILE", requires = "names")]
    pub out: Option<PathBuf>,
    /// The list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One serial device as `kiosk devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub port: String,
    /// `usb`, `pci`, `bluetooth` or `unknown`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The USB device's kernel name (`1-1.2`: bus 1, hub port 1, port 2), from sysfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usb_path: Option<String>,
}

/// The roles a device can be given, and the name each gets.
const ROLES: [(&str, &str); 2] = [("idcard", "kiosk-idcard"), ("printer", "kiosk-printer")];

pub fn run(args: DevicesArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    let devices = list().context("cannot list the serial devices")?;
    if args.names.is_empty() {
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&devices)?);
            return Ok(ExitCode::SUCCESS);
        }
        if devices.is_empty() {
            outln!(
                "no serial devices found (plug the reader and the printer in, then run kiosk devices again)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{:<16} {:<5} {:<9} {:<18} DESCRIPTION",
            "PORT",
            "KIND",
            "VID:PID",
            "SERIAL"
        );
        for d in &devices {
            let ids = match (&d.vid, &d.pid) {
                (Some(v), Some(p)) => format!("{v}:{p}"),
                _ => "-".into(),
            };
            let desc = [d.manufacturer.as_deref(), d.product.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            outln!(
                "{:<16} {:<5} {:<9} {:<18} {}",
                d.port,
                d.kind,
                ids,
                d.serial.as_deref().unwrap_or("-"),
                desc
            );
        }
        outln!("name them: kiosk devices --name idcard=PORT --name printer=PORT [--out FILE]");
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = vec![
        "# village-kiosk: names for this terminal's devices, written by `kiosk devices`."
            .to_string(),
    ];
    for spec in &args.names {
        let (role, port) = spec.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--name {spec:?}: expected ROLE=PORT, e.g. idcard=/dev/ttyUSB0")
        })?;
        let link = ROLES
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, l)| *l)
            .ok_or_else(|| {
                anyhow::anyhow!("--name {spec:?}: unknown role {role:?}; use idcard or printer")
            })?;
        let device = devices
            .iter()
            .find(|d| Path::new(&d.port) == Path::new(port))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--name {spec:?}: {port} is not among the serial devices plugged in (kiosk devices lists them)"
                )
            })?;
        lines.push(rule_line(device, link).map_err(|e| anyhow::anyhow!("--name {spec:?}: {e}"))?);
    }
    let text = lines.join("\n") + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            outln!(
                "wrote {} rule line(s) to {}; apply: udevadm control --reload && udevadm trigger",
                lines.len() - 1,
                path.display()
            );
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The serial devices plugged in, sorted by port.
pub fn list() -> Result<Vec<Device>, serialport::Error> {
    let mut out: Vec<Device> = serialport::available_ports()?
        .into_iter()
        .map(|p| {
            let usb_path = usb_kernel_name(&p.port_name);
            match p.port_type {
                serialport::SerialPortType::UsbPort(u) => Device {
                    port: p.port_name,
                    kind: "usb".into(),
                    vid: Some(format!("{:04x}", u.vid)),
                    pid: Some(format!("{:04x}", u.pid)),
                    serial: u.serial_number.filter(|s| !s.trim().is_empty()),
                    manufacturer: u.manufacturer,
                    product: u.product,
                    usb_path,
                },
                other => Device {
                    port: p.port_name,
                    kind: match other {
                        serialport::SerialPortType::PciPort => "pci",
                        serialport::SerialPortType::BluetoothPort => "bluetooth",
                        _ => "unknown",
                    }
                    .into(),
                    vid: None,
                    pid: None,
                    serial: None,
                    manufacturer: None,
                    product: None,
                    usb_path: None,
                },
            }
        })
        .collect();
    out.sort_by(|a, b| a.port.cmp(&b.port));
    Ok(out)
}

/// `1-1.2` for `/dev/ttyUSB0` whose sysfs device is `…/1-1.2/1-1.2:1.0/ttyUSB0`.
fn usb_kernel_name(port: &str) -> Option<String> {
    let name = Path::new(port).file_name()?.to_str()?;
    let target = std::fs::canonicalize(format!("/sys/class/tty/{name}/device")).ok()?;
    // The interface is `1-1.2:1.0`; its parent directory is the USB device `1-1.2`.
    target.ancestors().find_map(|a| {
        let n = a.file_name()?.to_str()?;
        (n.contains('-') && !n.contains(':') && n.chars().next()?.is_ascii_digit())
            .then(|| n.to_string())
    })
}

/// The udev rule line naming `device` `/dev/<link>`: vendor, product and serial number when
/// the device has a serial, else vendor, product and the USB port (then it must stay in that
/// port).
pub fn rule_line(device: &Device, link: &str) -> Result<String, String> {
    let (Some(vid), Some(pid)) = (&device.vid, &device.pid) else {
        return Err(format!(
            "{} is not a USB device; name it by its fixed path in kiosk.toml instead",
            device.port
        ));
    };
    let tail =
        format!("SYMLINK+=\"{link}\", ENV{{KIOSK_NAMED}}=\"1\", GROUP=\"dialout\", MODE=\"0660\"");
    let head =
        format!("SUBSYSTEM==\"tty\", ATTRS{{idVendor}}==\"{vid}\", ATTRS{{idProduct}}==\"{pid}\"");
    match (&device.serial, &device.usb_path) {
        (Some(serial), _) if is_safe(serial) => {
            Ok(format!("{head}, ATTRS{{serial}}==\"{serial}\", {tail}"))
        }
        (_, Some(path)) if is_safe(path) => Ok(format!(
            "# {} has no serial number: matched by its USB port {path}; keep it plugged into that port\n{head}, KERNELS==\"{path}\", {tail}",
            device.port
        )),
        _ => Err(format!(
            "{} has neither a serial number nor a known USB port; plug it in directly (not through a hub) and try again",
            device.port
        )),
    }
}

/// A value that can stand between quotes in a udev rule.
fn is_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch340(port: &str, serial: Option<&str>, path: &str) -> Device {
        Device {
            port: port.into(),
            kind: "usb".into(),
            vid: Some("1a86".into()),
            pid: Some("7523".into()),
            serial: serial.map(str::to_string),
            manufacturer: None,
            product: Some("USB Serial".into()),
            usb_path: Some(path.into()),
        }
    }

    #[test]
    fn two_devices_on_the_same_bridge_chip_get_distinct_rules() {
        let reader = rule_line(
            &ch340("/dev/ttyUSB0", Some("A10K3QX"), "1-1.2"),
            "kiosk-idcard",
        )
        .unwrap();
        assert_eq!(
            reader,
            "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"1a86\", ATTRS{idProduct}==\"7523\", ATTRS{serial}==\"A10K3QX\", SYMLINK+=\"kiosk-idcard\", ENV{KIOSK_NAMED}=\"1\", GROUP=\"dialout\", MODE=\"0660\""
        );
        let printer = rule_line(&ch340("/dev/ttyUSB1", None, "1-1.3"), "kiosk-printer").unwrap();
        assert!(printer.contains("KERNELS==\"1-1.3\""), "{printer}");
        assert!(printer.contains("SYMLINK+=\"kiosk-printer\""), "{printer}");
        assert!(
            printer.starts_with("# /dev/ttyUSB1 has no serial number"),
            "{printer}"
        );
    }

    #[test]
    fn unusable_devices_are_refused_with_a_reason() {
        let mut d = ch340("/dev/ttyUSB0", Some("bad\"quote"), "");
        assert!(rule_line(&d, "kiosk-idcard").is_err());
        d.vid = None;
        assert!(
            rule_line(&d, "kiosk-idcard")
                .unwrap_err()
                .contains("not a USB device")
        );
    }
}
