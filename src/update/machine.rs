//! The update's state machine (更新状态机): offered → downloading → verified → installed →
//! on trial → committed, or rolled back / failed with the reason; and the pacing of the download.
//!
//! Pure: the state and an event (with `now`) in, the next state or a refusal out. The driver
//! ([`super::driver`]) persists the state as JSON in the data directory after every step, so a
//! restart or a power cut resumes where it stood; it reports [`UpdateState::report`] in every
//! heartbeat.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bootcount::{Slot, TrialOutcome};
use super::manifest::UpdateManifest;
use crate::county::wire::UpdateReport;

/// Where the terminal stands with software updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateState {
    /// Nothing in progress. `last` is the outcome of the previous update, if any, kept for the
    /// heartbeat.
    #[default]
    Idle,
    /// Files are being downloaded into the download directory (resumable).
    Downloading { manifest: UpdateManifest },
    /// Every file is complete and matched its hash.
    Verified { manifest: UpdateManifest },
    /// The files are being written to `slot` (the inactive one). Its boot entry was removed
    /// first, so a cut here leaves the old slot booting.
    Installing {
        manifest: UpdateManifest,
        slot: Slot,
    },
    /// Written and verified, boot entry in place with its tries: reboot between visits.
    Installed {
        manifest: UpdateManifest,
        slot: Slot,
        at: DateTime<Utc>,
    },
    /// Running the new slot, not yet blessed.
    OnTrial {
        manifest: UpdateManifest,
        slot: Slot,
        since: DateTime<Utc>,
    },
    /// The new version runs and passed its health gate.
    Committed { version: String, at: DateTime<Utc> },
    /// The new version did not become healthy; the old one runs again.
    RolledBack {
        version: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Download, verification or install failed; the old version runs untouched.
    Failed {
        version: String,
        reason: String,
        at: DateTime<Utc>,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A verified manifest with a newer version than the running one.
    Offered(UpdateManifest),
    /// All files downloaded and their hashes matched.
    Verified,
    /// Download or verification failed for good (a hash mismatch, a file larger than listed).
    DownloadFailed(String),
    /// Writing starts on this slot (only between visits).
    InstallStarted(Slot),
    InstallDone,
    InstallFailed(String),
    /// At start: what the boot entries say about the installed slot.
    Booted {
        running: Slot,
        outcome: TrialOutcome,
    },
}

/// An event that does not fit the state; the state stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("update: {event} does not apply while {state}")]
pub struct Refused {
    pub state: &'static str,
    pub event: String,
}

impl UpdateState {
    /// The state's name as the heartbeat and `kiosk update status` say it.
    pub fn name(&self) -> &'static str {
        match self {
            UpdateState::Idle => "idle",
            UpdateState::Downloading { .. } => "downloading",
            UpdateState::Verified { .. } => "verified",
            UpdateState::Installing { .. } => "installing",
            UpdateState::Installed { .. } => "installed",
            UpdateState::OnTrial { .. } => "on_trial",
            UpdateState::Committed { .. } => "committed",
            UpdateState::RolledBack { .. } => "rolled_back",
            UpdateState::Failed { .. } => "failed",
        }
    }

    /// The manifest being worked on, if any.
    pub fn manifest(&self) -> Option<&UpdateManifest> {
        match self {
            UpdateState::Downloading { manifest }
            | UpdateState::Verified { manifest }
            | UpdateState::Installing { manifest, .. }
            | UpdateState::Installed { manifest, .. }
            | UpdateState::OnTrial { manifest, .. } => Some(manifest),
            _ => None,
        }
    }

    /// Whether a newly offered `version` should be taken up: not while one is installed or on
    /// trial, and never a version that already rolled back here.
    pub fn accepts_offer(&self, version: &str) -> bool {
        match self {
            UpdateState::Idle | UpdateState::Committed { .. } => true,
            UpdateState::Failed { .. } => true,
            UpdateState::RolledBack { version: bad, .. } => bad != version,
            UpdateState::Downloading { manifest } | UpdateState::Verified { manifest } => {
                manifest.version != version
            }
            UpdateState::Installing { .. }
            | UpdateState::Installed { .. }
            | UpdateState::OnTrial { .. } => false,
        }
    }

    /// The next state.
    pub fn step(&self, event: Event, now: DateTime<Utc>) -> Result<UpdateState, Refused> {
        use UpdateState as S;
        let refuse = |e: &Event| Refused {
            state: self.name(),
            event: format!("{e:?}").chars().take(80).collect(),
        };
        let version = || {
            self.manifest()
                .map(|m| m.version.clone())
                .unwrap_or_default()
        };
        Ok(match (self, event) {
            (s, Event::Offered(m)) if s.accepts_offer(&m.version) => S::Downloading { manifest: m },
            (S::Downloading { manifest }, Event::Verified) => S::Verified {
                manifest: manifest.clone(),
            },
            (S::Downloading { .. }, Event::DownloadFailed(reason)) => S::Failed {
                version: version(),
                reason,
                at: now,
            },
            (S::Verified { manifest }, Event::InstallStarted(slot)) => S::Installing {
                manifest: manifest.clone(),
                slot,
            },
            (S::Installing { manifest, slot }, Event::InstallDone) => S::Installed {
                manifest: manifest.clone(),
                slot: *slot,
                at: now,
            },
            (S::Installing { .. }, Event::InstallFailed(reason)) => S::Failed {
                version: version(),
                reason,
                at: now,
            },
            // A cut during install: the files are still verified in the download directory;
            // write them again.
            (S::Installing { manifest, .. }, Event::Booted { .. }) => S::Verified {
                manifest: manifest.clone(),
            },
            (
                S::Installed { manifest, slot, .. } | S::OnTrial { manifest, slot, .. },
                Event::Booted { running, outcome },
            ) => {
                match outcome {
                    TrialOutcome::Waiting => self.clone(),
                    TrialOutcome::OnTrial if running == *slot => S::OnTrial {
                        manifest: manifest.clone(),
                        slot: *slot,
                        since: match self {
                            S::OnTrial { since, .. } => *since,
                            _ => now,
                        },
                    },
                    TrialOutcome::Committed if running == *slot => S::Committed {
                        version: manifest.version.clone(),
                        at: now,
                    },
                    TrialOutcome::RolledBack => S::RolledBack {
                        version: manifest.version.clone(),
                        reason: format!(
                            "version {} did not reach its first frame and a healthy doctor verdict within its {} boot tries; slot {} runs the previous version again",
                            manifest.version,
                            super::bootcount::TRIES,
                            running.name()
                        ),
                        at: now,
                    },
                    TrialOutcome::NoEntry => S::Failed {
                        version: manifest.version.clone(),
                        reason: format!(
                            "the boot entry of slot {} disappeared before it booted",
                            slot.name()
                        ),
                        at: now,
                    },
                    // Running a slot the outcome does not fit (the old slot while the new
                    // one is "on trial"): keep the state, the next boot decides.
                    _ => self.clone(),
                }
            }
            (s, Event::Booted { .. }) => s.clone(),
            (_, e) => return Err(refuse(&e)),
        })
    }

    /// What the heartbeat says.
    pub fn report(&self, running_version: &str, downloaded: Option<u64>) -> UpdateReport {
        let (version, detail, at) = match self {
            UpdateState::Committed { version, at } => (Some(version.clone()), None, Some(*at)),
            UpdateState::RolledBack {
                version,
                reason,
                at,
            }
            | UpdateState::Failed {
                version,
                reason,
                at,
            } => (Some(version.clone()), Some(reason.clone()), Some(*at)),
            UpdateState::Installed { at, manifest, .. } => {
                (Some(manifest.version.clone()), None, Some(*at))
            }
            UpdateState::OnTrial {
                since, manifest, ..
            } => (Some(manifest.version.clone()), None, Some(*since)),
            s => (s.manifest().map(|m| m.version.clone()), None, None),
        };
        UpdateReport {
            running_version: running_version.to_string(),
            state: self.name().to_string(),
            version,
            downloaded,
            total: self.manifest().map(|m| m.total_size()),
            detail,
            at,
        }
    }
}

/// Paces a download to `bytes_per_sec` (a token bucket over the whole transfer), so the
/// villagers' submissions on the same extranet link go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    pub bytes_per_sec: u64,
}

impl Pacer {
    /// How long to wait before reading more, after `sent` bytes in `elapsed`.
    pub fn delay(&self, sent: u64, elapsed: Duration) -> Duration {
        if self.bytes_per_sec == 0 {
            return Duration::ZERO;
        }
        let due = Duration::from_secs_f64(sent as f64 / self.bytes_per_sec as f64);
        due.saturating_sub(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::manifest::tests::sample;
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_happy_path_ends_committed() {
        let m = sample("0.5.0");
        let s = UpdateState::Idle
            .step(Event::Offered(m.clone()), now())
            .unwrap();
        assert_eq!(s.name(), "downloading");
        let s = s.step(Event::Verified, now()).unwrap();
        let s = s.step(Event::InstallStarted(Slot::B), now()).unwrap();
        let s = s.step(Event::InstallDone, now()).unwrap();
        assert_eq!(s.name(), "installed");
        // Still on the old slot before the reboot.
        let waiting = s
            .step(
                Event::Booted {
                    running: Slot::A,
                    outcome: TrialOutcome::Waiting,
                },
                now(),
            )
            .unwrap();
        assert_eq!(waiting, s);
        let s = s
            .step(
                Event::Booted {
                    running: Slot::B,
                    outcome: TrialOutcome::OnTrial,
                },
                now(),
            )
            .unwrap();
        assert_eq!(s.name(), "on_trial");
        let s = s
            .step(
                Event::Booted {
                    running: Slot::B,
                    outcome: TrialOutcome::Committed,
                },
                now(),
            )
            .unwrap();
        assert_eq!(
            s,
            UpdateState::Committed {
                version: "0.5.0".into(),
                at: now()
            }
        );
        let r = s.report("0.5.0", None);
        assert_eq!(
            (r.state.as_str(), r.version.as_deref()),
            ("committed", Some("0.5.0"))
        );
    }

    #[test]
    fn exhausted_tries_roll_back_and_the_bad_version_is_not_taken_again() {
        let m = sample("0.5.0");
        let installed = UpdateState::Installed {
            manifest: m.clone(),
            slot: Slot::B,
            at: now(),
        };
        let s = installed
            .step(
                Event::Booted {
                    running: Slot::A,
                    outcome: TrialOutcome::RolledBack,
                },
                now(),
            )
            .unwrap();
        assert_eq!(s.name(), "rolled_back");
        let r = s.report("0.4.0", None);
        assert_eq!(r.running_version, "0.4.0");
        assert!(r.detail.unwrap().contains("did not reach its first frame"));
        assert!(!s.accepts_offer("0.5.0"));
        assert!(s.accepts_offer("0.5.1"));
        assert!(s.step(Event::Offered(m), now()).is_err());
    }

    #[test]
    fn failures_and_cuts_leave_the_old_version() {
        let m = sample("0.5.0");
        let s = UpdateState::Downloading {
            manifest: m.clone(),
        }
        .step(
            Event::DownloadFailed("rootfs.img: hash mismatch".into()),
            now(),
        )
        .unwrap();
        assert_eq!(s.name(), "failed");
        // A power cut while writing: back to verified, to write again.
        let s = UpdateState::Installing {
            manifest: m.clone(),
            slot: Slot::B,
        }
        .step(
            Event::Booted {
                running: Slot::A,
                outcome: TrialOutcome::NoEntry,
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            s,
            UpdateState::Verified {
                manifest: m.clone()
            }
        );
        // Nothing can be installed that was not verified.
        assert!(
            UpdateState::Downloading {
                manifest: m.clone()
            }
            .step(Event::InstallStarted(Slot::B), now())
            .is_err()
        );
        assert!(UpdateState::Idle.step(Event::InstallDone, now()).is_err());
        // No new offer while one is installed.
        let installed = UpdateState::Installed {
            manifest: m,
            slot: Slot::B,
            at: now(),
        };
        assert!(!installed.accepts_offer("0.6.0"));
    }

    #[test]
    fn state_survives_json() {
        let s = UpdateState::Installed {
            manifest: sample("0.5.0"),
            slot: Slot::B,
            at: now(),
        };
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"state\":\"installed\""));
        assert_eq!(serde_json::from_str::<UpdateState>(&text).unwrap(), s);
    }

    #[test]
    fn pacer_bounds_the_rate() {
        let p = Pacer {
            bytes_per_sec: 1000,
        };
        assert_eq!(p.delay(500, Duration::ZERO), Duration::from_millis(500));
        assert_eq!(p.delay(500, Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(
            Pacer { bytes_per_sec: 0 }.delay(1 << 30, Duration::ZERO),
            Duration::ZERO
        );
    }
}
