//! Printer profiles (打印机型号配置): what one model of ESC/POS printer can do, read from
//! `hardware/profiles/printers/*.toml`.
//!
//! The shipped profiles are embedded with `include_str!`, so the binary knows them without the
//! repository; a profile can also be loaded from a file. Pure data: parsing only, no device I/O.

use serde::{Deserialize, Serialize};

/// The profiles shipped in `hardware/profiles/printers/`, as (name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    (
        "generic-58mm",
        include_str!("../../hardware/profiles/printers/generic-58mm.toml"),
    ),
    (
        "generic-80mm",
        include_str!("../../hardware/profiles/printers/generic-80mm.toml"),
    ),
    (
        "gb2312-58mm-tearbar",
        include_str!("../../hardware/profiles/printers/gb2312-58mm-tearbar.toml"),
    ),
];

/// The profile used when the config names none.
pub const DEFAULT_PROFILE: &str = "generic-80mm";

/// One printer model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    /// Name used in the config and on the command line, e.g. `generic-80mm`.
    pub name: String,
    /// One line for technicians.
    pub description: String,
    /// Paper roll width (58 or 80).
    pub paper_width_mm: u32,
    /// Printable dots per line: 384 (58 mm), 576 (80 mm), some 180 dpi models 512.
    pub dots_per_line: u32,
    /// How QR codes are printed.
    pub qr: QrMode,
    /// Dots per QR module (1-16).
    pub qr_module_dots: u8,
    /// What the cutter can do.
    pub cut: CutMode,
    /// Dots to feed before cutting so the last line clears the blade.
    pub cut_feed_dots: u8,
    /// Which 2-byte Chinese font the printer has.
    pub font: FontCoverage,
    /// Serial speed (8N1).
    pub baud: u32,
    /// Flow control, always set explicitly on the port.
    pub flow_control: FlowControl,
    /// Which real-time status requests (DLE EOT n) the printer answers.
    pub status: StatusSupport,
    /// How long to wait for one status byte.
    pub status_timeout_ms: u64,
    /// How long one write may stall (flow control holding us back) before the job fails.
    pub write_timeout_ms: u64,
    /// Bytes written at a time; writes are paced to the baud rate chunk by chunk.
    pub write_chunk_bytes: usize,
}

/// How QR codes are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QrMode {
    /// `GS ( k` model 2: the printer draws the code (~41 bytes + data).
    Native,
    /// A `GS v 0` raster image built here: works on every printer, costs kilobytes.
    Raster,
}

/// What the cutter can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutMode {
    /// Full and partial cuts.
    Full,
    /// Partial cut only (leaves a tab).
    Partial,
    /// No cutter: feed past the tear bar.
    None,
}

/// The printer's resident 2-byte Chinese font.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FontCoverage {
    /// The 2-byte part of GB18030 (= GBK, 21886 characters).
    Gbk,
    /// GB2312 only (6763 characters, rows A1-F7).
    Gb2312,
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowControl {
    None,
    XonXoff,
    RtsCts,
}

impl FlowControl {
    /// The name used in profiles.
    pub fn name(self) -> &'static str {
        match self {
            FlowControl::None => "none",
            FlowControl::XonXoff => "xon-xoff",
            FlowControl::RtsCts => "rts-cts",
        }
    }
}

/// Which DLE EOT requests the printer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusSupport {
    /// n = 1, 2, 3, 4.
    Full,
    /// n = 1 and 4 only (many cheap printers).
    PaperOnly,
    /// No status at all: jobs are sent blind.
    None,
}

impl StatusSupport {
    /// The DLE EOT `n` values to ask, in order.
    pub fn requests(self) -> &'static [u8] {
        match self {
            StatusSupport::Full => &[1, 2, 3, 4],
            StatusSupport::PaperOnly => &[1, 4],
            StatusSupport::None => &[],
        }
    }
}

/// A printer profile could not be found or read (the loader is [`crate::profile`]).
pub type ProfileError = crate::profile::ProfileError;

impl crate::profile::Profile for PrinterProfile {
    const KIND: &'static str = "printer";
    const CONFIG_KEY: &'static str = "printer.profile";
    const BUILTIN: &'static [(&'static str, &'static str)] = BUILTIN;

    fn check(&self) -> Result<(), String> {
        self.validate()
    }
}

impl PrinterProfile {
    /// A shipped profile by name.
    pub fn builtin(name: &str) -> Result<PrinterProfile, ProfileError> {
        crate::profile::builtin(name)
    }

    /// Names of the shipped profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        crate::profile::builtin_names::<PrinterProfile>()
    }

    /// Every shipped profile.
    pub fn all_builtin() -> Vec<PrinterProfile> {
        BUILTIN
            .iter()
            .filter_map(|(n, t)| Self::from_toml(t, n).ok())
            .collect()
    }

    /// A shipped profile by name, or a `.toml` file (see [`crate::profile::load`]).
    pub fn load(name_or_path: &str) -> Result<PrinterProfile, ProfileError> {
        crate::profile::load(name_or_path)
    }

    /// Parses and checks a profile; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<PrinterProfile, ProfileError> {
        crate::profile::from_toml(text, origin)
    }

    fn validate(&self) -> Result<(), String> {
        if self.dots_per_line < 192
            || self.dots_per_line > 1024
            || !self.dots_per_line.is_multiple_of(8)
        {
            return Err(format!(
                "dots_per_line {} must be a multiple of 8 between 192 and 1024",
                self.dots_per_line
            ));
        }
        if !(1..=16).contains(&self.qr_module_dots) {
            return Err(format!(
                "qr_module_dots {} must be 1-16",
                self.qr_module_dots
            ));
        }
        if self.baud == 0 {
            return Err("baud must not be 0".into());
        }
        if self.write_chunk_bytes == 0 {
            return Err("write_chunk_bytes must not be 0".into());
        }
        Ok(())
    }

    /// Columns of the standard font (12x24 dots for ASCII): 32 on 58 mm, 48 on 80 mm.
    pub fn columns(&self) -> usize {
        (self.dots_per_line / 12) as usize
    }

    /// Seconds the wire needs for `bytes` at this baud (8N1: 10 bits a byte).
    pub fn wire_time(&self, bytes: usize) -> std::time::Duration {
        std::time::Duration::from_secs_f64(bytes as f64 * 10.0 / self.baud.max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse_and_differ_where_the_issue_says() {
        let p58 = PrinterProfile::builtin("generic-58mm").unwrap();
        let p80 = PrinterProfile::builtin("generic-80mm").unwrap();
        assert_eq!((p58.dots_per_line, p58.columns()), (384, 32));
        assert_eq!((p80.dots_per_line, p80.columns()), (576, 48));
        assert_eq!(p58.qr, QrMode::Raster);
        assert_eq!(p58.cut, CutMode::Partial);
        assert_eq!(p80.qr, QrMode::Native);
        assert_eq!(p80.cut, CutMode::Full);
        assert_eq!(PrinterProfile::all_builtin().len(), BUILTIN.len());
    }

    #[test]
    fn unknown_and_invalid_profiles_are_errors() {
        assert!(matches!(
            PrinterProfile::builtin("nope"),
            Err(ProfileError::Unknown { .. })
        ));
        let bad = include_str!("../../hardware/profiles/printers/generic-58mm.toml")
            .replace("dots_per_line = 384", "dots_per_line = 385");
        assert!(matches!(
            PrinterProfile::from_toml(&bad, "x"),
            Err(ProfileError::Invalid { .. })
        ));
    }
}
