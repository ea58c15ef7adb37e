//! Root slots and systemd-boot's boot counting (启动计数), by name.
//!
//! The disk has two root slots, `a` and `b` (GPT partitions labelled `root-a` and `root-b`).
//! Each slot boots from one entry in the ESP's `loader/entries/`:
//!
//! - `village-kiosk-b+2.conf`: a freshly installed slot with 2 tries left. systemd-boot renames
//!   it at every boot attempt (`+1-1`, then `+0-2`) before starting the kernel;
//! - `village-kiosk-b.conf`: blessed (`systemd-bless-boot` dropped the counter once
//!   `boot-complete.target` was reached, which the kiosk's health gate orders after the first
//!   frame and a healthy doctor verdict);
//! - `village-kiosk-b+0-2.conf`: tries exhausted. systemd-boot sorts such an entry after every
//!   other one, so the previous slot boots again: the rollback (回退) needs no code on the new
//!   version at all.
//!
//! The running slot comes from the kernel command line (`kiosk.slot=a`), which each entry sets.
//! Pure: names and text in, values out.

use serde::{Deserialize, Serialize};

/// The prefix of every kiosk boot entry.
pub const ENTRY_PREFIX: &str = "village-kiosk-";
/// Tries a new slot gets before systemd-boot falls back to the previous one.
pub const TRIES: u32 = 2;

/// A root slot (根分区槽位).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    /// The GPT partition label of the slot's root filesystem.
    pub fn partlabel(self) -> String {
        format!("root-{}", self.name())
    }

    fn parse(s: &str) -> Option<Slot> {
        match s {
            "a" => Some(Slot::A),
            "b" => Some(Slot::B),
            _ => None,
        }
    }

    /// The running slot, from `/proc/cmdline` (`kiosk.slot=a`).
    pub fn from_cmdline(cmdline: &str) -> Option<Slot> {
        cmdline
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("kiosk.slot="))
            .next_back()
            .and_then(Slot::parse)
    }
}

/// A boot entry's counter: tries left and tries done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub left: u32,
    pub done: u32,
}

/// The name of a kiosk boot entry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryName {
    pub slot: Slot,
    /// `None`: blessed (or never counted).
    pub counter: Option<Counter>,
}

impl EntryName {
    /// A freshly installed slot's entry.
    pub fn fresh(slot: Slot) -> EntryName {
        EntryName {
            slot,
            counter: Some(Counter {
                left: TRIES,
                done: 0,
            }),
        }
    }

    /// Parses `village-kiosk-b+1-1.conf`; `None` for any other file.
    pub fn parse(file_name: &str) -> Option<EntryName> {
        let stem = file_name
            .strip_suffix(".conf")?
            .strip_prefix(ENTRY_PREFIX)?;
        let (slot, counter) = match stem.split_once('+') {
            None => (stem, None),
            Some((slot, count)) => {
                let (left, done) = match count.split_once('-') {
                    Some((l, d)) => (l, Some(d)),
                    None => (count, None),
                };
                let num = |s: &str| -> Option<u32> {
                    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| s.parse().ok())
                        .flatten()
                };
                let left = num(left)?;
                let done = match done {
                    Some(d) => num(d)?,
                    None => 0,
                };
                (slot, Some(Counter { left, done }))
            }
        };
        Some(EntryName {
            slot: Slot::parse(slot)?,
            counter,
        })
    }

    pub fn file_name(&self) -> String {
        match self.counter {
            None => format!("{ENTRY_PREFIX}{}.conf", self.slot.name()),
            Some(Counter { left, done: 0 }) => {
                format!("{ENTRY_PREFIX}{}+{left}.conf", self.slot.name())
            }
            Some(Counter { left, done }) => {
                format!("{ENTRY_PREFIX}{}+{left}-{done}.conf", self.slot.name())
            }
        }
    }

    /// Tries exhausted: systemd-boot will not pick it while another entry is bootable.
    pub fn exhausted(&self) -> bool {
        matches!(self.counter, Some(Counter { left: 0, .. }))
    }
}

/// The text of a slot's boot entry. `options` are the kernel options besides the root and the
/// slot (quiet screen, console).
pub fn entry_text(slot: Slot, version: &str, options: &str) -> String {
    let s = slot.name();
    format!(
        "title village-kiosk {version} (slot {s})\nsort-key village-kiosk\nversion {version}\nlinux /kiosk-{s}/vmlinuz\ninitrd /kiosk-{s}/initrd.img\noptions root=PARTLABEL=root-{s} rw kiosk.slot={s} {options}\n"
    )
}

/// Where an installed update stands, from the running slot and the entries on the ESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialOutcome {
    /// Installed, not booted yet (or booted and not counted yet): the entry has tries left and
    /// the old slot runs.
    Waiting,
    /// Running the new slot on trial: its entry still has a counter; the health gate decides.
    OnTrial,
    /// Running the new slot, blessed: the update is committed.
    Committed,
    /// Running the old slot and the new slot's entry has no tries left: rolled back.
    RolledBack,
    /// Running the old slot and the new slot has no entry (install cut short, or removed).
    NoEntry,
}

/// Judges an installed update of `target` from the running slot and the ESP's entry names.
pub fn outcome(target: Slot, running: Slot, entries: &[EntryName]) -> TrialOutcome {
    let entry = entries.iter().find(|e| e.slot == target);
    match (running == target, entry) {
        (true, Some(EntryName { counter: None, .. })) => TrialOutcome::Committed,
        (true, Some(_)) => TrialOutcome::OnTrial,
        // Booted from an entry that was renamed or removed meanwhile: treat as committed only
        // when blessed; without any entry the next boot cannot reach this slot, so it is a
        // trial still.
        (true, None) => TrialOutcome::OnTrial,
        (false, Some(e)) if e.exhausted() => TrialOutcome::RolledBack,
        (false, Some(EntryName { counter: None, .. })) => TrialOutcome::Waiting,
        (false, Some(_)) => TrialOutcome::Waiting,
        (false, None) => TrialOutcome::NoEntry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip_through_boot_counting() {
        let fresh = EntryName::fresh(Slot::B);
        assert_eq!(fresh.file_name(), "village-kiosk-b+2.conf");
        for name in [
            "village-kiosk-b+2.conf",
            "village-kiosk-b+1-1.conf",
            "village-kiosk-b+0-2.conf",
            "village-kiosk-a.conf",
        ] {
            assert_eq!(EntryName::parse(name).unwrap().file_name(), name);
        }
        assert!(
            EntryName::parse("village-kiosk-b+0-2.conf")
                .unwrap()
                .exhausted()
        );
        assert!(
            !EntryName::parse("village-kiosk-b+1-1.conf")
                .unwrap()
                .exhausted()
        );
        for bad in [
            "kiosk.conf",
            "village-kiosk-c.conf",
            "village-kiosk-a+.conf",
            "village-kiosk-a+x-1.conf",
            "village-kiosk-a.conf.tmp",
        ] {
            assert_eq!(EntryName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn running_slot_comes_from_the_command_line() {
        assert_eq!(
            Slot::from_cmdline("root=PARTLABEL=root-b rw kiosk.slot=b quiet\n"),
            Some(Slot::B)
        );
        assert_eq!(Slot::from_cmdline("root=/dev/vda2 rw"), None);
        assert_eq!(Slot::from_cmdline("kiosk.slot=z"), None);
        let text = entry_text(Slot::B, "0.5.0", "quiet");
        assert!(text.contains("options root=PARTLABEL=root-b rw kiosk.slot=b quiet"));
        assert!(text.contains("linux /kiosk-b/vmlinuz"));
        assert!(text.contains("version 0.5.0"));
    }

    #[test]
    fn outcome_follows_the_counter() {
        let e = |n: &str| EntryName::parse(n).unwrap();
        let old = e("village-kiosk-a.conf");
        use TrialOutcome::*;
        assert_eq!(
            outcome(Slot::B, Slot::A, &[old, e("village-kiosk-b+2.conf")]),
            Waiting
        );
        assert_eq!(
            outcome(Slot::B, Slot::B, &[old, e("village-kiosk-b+1-1.conf")]),
            OnTrial
        );
        assert_eq!(
            outcome(Slot::B, Slot::B, &[old, e("village-kiosk-b.conf")]),
            Committed
        );
        assert_eq!(
            outcome(Slot::B, Slot::A, &[old, e("village-kiosk-b+0-2.conf")]),
            RolledBack
        );
        assert_eq!(outcome(Slot::B, Slot::A, &[old]), NoEntry);
    }
}
