//! The way into the maintenance screen (维护界面) and the settings it changes, below the UI.
//!
//! - [`gate`]: the pure rules: the hidden gesture and the PIN lockout.
//! - [`MaintenanceGate`]: the PIN check with its lockout kept in a file in the data directory
//!   (`maintenance-lockout.json`), so five wrong PINs lock the screen for 15 minutes across a
//!   restart. The PIN hash is the file provisioning installs beside the config
//!   (`maintenance-pin.hash`, see `provision::bundle`); without it the screen stays closed.
//! - [`verify_maintenance_pin`]: the one entry for other PIN-guarded modes (the coordinator
//!   mode); it shares the lockout, so guesses cannot be spread over two doors.
//! - [`Volume`]: the voice volume the screen changes, kept in `maintenance-settings.json` in
//!   the data directory (written atomically), so it outlives a restart; `voice.volume` in the
//!   config is the value until a technician changes it.
//!
//! Takes time as input (`now`), never reads the clock. Verifying costs a PBKDF2 run (200,000
//! iterations): call it off the UI thread. The PIN itself is never logged or kept.

pub mod gate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{DateTime, Utc};

pub use gate::{Lockout, PinVerdict, TapCounter};

use crate::provision::pin::{PinError, PinHash};

/// The PIN hash file's name, beside the config file.
pub const PIN_HASH_FILE: &str = "maintenance-pin.hash";
/// The lockout file's name, in the data directory.
pub const LOCKOUT_FILE: &str = "maintenance-lockout.json";
/// The settings the maintenance screen changes (the voice volume), in the data directory.
pub const SETTINGS_FILE: &str = "maintenance-settings.json";
/// The exit code of `kiosk run` when the maintenance screen restarts the app (EX_TEMPFAIL);
/// the unit's `Restart=always` starts it again.
pub const RESTART_EXIT_CODE: u8 = 75;

/// Why the gate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(
        "no maintenance PIN on this terminal ({}): provision it (kiosk provision) or put a hash from county-backoffice provision station --pin there",
        .0.display()
    )]
    NoPin(PathBuf),
    #[error("maintenance PIN hash {}: {source}", path.display())]
    BadHash { path: PathBuf, source: PinError },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}; check the data directory", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MaintenanceError {
    /// Plain Chinese for the screen.
    pub fn message_zh(&self) -> &'static str {
        match self {
            MaintenanceError::NoPin(_) | MaintenanceError::BadHash { .. } => {
                "本终端未设置维护密码，请联系县里开通"
            }
            MaintenanceError::Read { .. } | MaintenanceError::Write { .. } => {
                "本机存储出了问题，暂时无法进入维护界面"
            }
        }
    }
}

/// Where the PIN hash and the lockout live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenancePaths {
    pub pin_hash: PathBuf,
    pub lockout: PathBuf,
    /// The settings the screen changes ([`SETTINGS_FILE`]).
    pub settings: PathBuf,
}

impl MaintenancePaths {
    /// The hash beside the config file `config_path`, the lockout in `data_dir`.
    pub fn new(config_path: &Path, data_dir: &Path) -> Self {
        let config_dir = config_path.parent().unwrap_or(Path::new("."));
        MaintenancePaths {
            pin_hash: config_dir.join(PIN_HASH_FILE),
            lockout: data_dir.join(LOCKOUT_FILE),
            settings: data_dir.join(SETTINGS_FILE),
        }
    }
}

/// The maintenance PIN check with its lockout on disk.
#[derive(Debug)]
pub struct MaintenanceGate {
    paths: MaintenancePaths,
    hash: PinHash,
    state: Lockout,
}

impl MaintenanceGate {
    /// Reads the hash and the lockout. A lockout file that cannot be parsed (damaged or
    /// edited) counts as one wrong PIN short of the lock, never as unlocked.
    pub fn open(paths: MaintenancePaths) -> Result<Self, MaintenanceError> {
        let text = match std::fs::read_to_string(&paths.pin_hash) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(MaintenanceError::NoPin(paths.pin_hash.clone()));
            }
            Err(source) => {
                return Err(MaintenanceError::Read {
                    path: paths.pin_hash.clone(),
                    source,
                });
            }
        };
        let hash = PinHash::parse(&text).map_err(|source| MaintenanceError::BadHash {
            path: paths.pin_hash.clone(),
            source,
        })?;
        let state = match std::fs::read_to_string(&paths.lockout) {
            Ok(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
                tracing::warn!(path = %paths.lockout.display(), "maintenance lockout file unreadable ({e}): one try left");
                Lockout {
                    failures: gate::MAX_FAILURES - 1,
                    locked_until: None,
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Lockout::default(),
            Err(source) => {
                return Err(MaintenanceError::Read {
                    path: paths.lockout.clone(),
                    source,
                });
            }
        };
        Ok(MaintenanceGate { paths, hash, state })
    }

    /// Until when the gate is locked, if it is at `now`.
    pub fn locked(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.state.locked(now)
    }

    /// Checks `pin` at `now`; the new lockout state is on disk before this returns.
    pub fn verify(
        &mut self,
        pin: &str,
        now: DateTime<Utc>,
    ) -> Result<PinVerdict, MaintenanceError> {
        if let Some(until) = self.state.locked(now) {
            return Ok(PinVerdict::Locked { until });
        }
        let before = self.state.clone();
        let verdict = self.state.record(self.hash.verify(pin), now);
        if self.state != before {
            self.save()?;
        }
        match verdict {
            PinVerdict::Accepted => tracing::info!("maintenance PIN accepted"),
            PinVerdict::Wrong { left } => tracing::warn!(left, "wrong maintenance PIN"),
            PinVerdict::Locked { until } => {
                tracing::warn!(%until, "maintenance PIN: five wrong, locked")
            }
        }
        Ok(verdict)
    }

    fn save(&self) -> Result<(), MaintenanceError> {
        let body = serde_json::to_string(&self.state).map_err(|e| MaintenanceError::Write {
            path: self.paths.lockout.clone(),
            source: e.into(),
        })?;
        write_atomic(&self.paths.lockout, body.as_bytes())
    }
}

/// Writes `body` to `path` through a temporary file beside it (mode 0600, fsync, rename): a
/// power cut leaves the old file or the new one.
fn write_atomic(path: &Path, body: &[u8]) -> Result<(), MaintenanceError> {
    let err = |source| MaintenanceError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("json.partial");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(err)?;
        f.write_all(body).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Checks the maintenance PIN once at `now`, with the same lockout as the maintenance screen.
/// For PIN-guarded modes other than the screen (coordinator mode). Blocking (PBKDF2, two file
/// operations): call it off the UI thread.
pub fn verify_maintenance_pin(
    paths: &MaintenancePaths,
    pin: &str,
    now: DateTime<Utc>,
) -> Result<PinVerdict, MaintenanceError> {
    MaintenanceGate::open(paths.clone())?.verify(pin, now)
}

/// 音量: the voice volume (0-100). At start it is what the maintenance screen last set
/// ([`Volume::load`] from [`SETTINGS_FILE`]), else `voice.volume` from the config; the screen
/// changes it and [`Volume::save`]s it. Cheap to clone; every clone sees the same value.
#[derive(Debug, Clone)]
pub struct Volume(Arc<AtomicU8>);

/// What [`SETTINGS_FILE`] holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Settings {
    volume: u8,
}

impl Volume {
    pub fn new(percent: u8) -> Self {
        Volume(Arc::new(AtomicU8::new(percent.min(100))))
    }

    /// The volume the maintenance screen saved in `settings`, or `default` (the config's
    /// `voice.volume`) when none was saved. A damaged file is logged and counts as none.
    /// Blocking (one small read).
    pub fn load(settings: &Path, default: u8) -> Self {
        let saved = match std::fs::read_to_string(settings) {
            Ok(text) => match serde_json::from_str::<Settings>(&text) {
                Ok(s) => Some(s.volume),
                Err(e) => {
                    tracing::warn!(path = %settings.display(), "maintenance settings unreadable ({e}): voice.volume from the config");
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %settings.display(), "cannot read the maintenance settings ({e}): voice.volume from the config");
                None
            }
        };
        Volume::new(saved.unwrap_or(default))
    }

    pub fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets it, clamped to 100.
    pub fn set(&self, percent: u8) {
        self.0.store(percent.min(100), Ordering::Relaxed);
    }

    /// Keeps the volume in `settings` for the next start (atomically). Blocking: call it off
    /// the UI thread.
    pub fn save(&self, settings: &Path) -> Result<(), MaintenanceError> {
        let body = serde_json::to_string(&Settings { volume: self.get() }).map_err(|e| {
            MaintenanceError::Write {
                path: settings.to_path_buf(),
                source: e.into(),
            }
        })?;
        write_atomic(settings, body.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::pin::hash_with_salt;

    fn paths(dir: &Path) -> MaintenancePaths {
        MaintenancePaths::new(&dir.join("kiosk.toml"), dir)
    }

    #[test]
    fn the_lockout_survives_a_restart_and_ends_after_fifteen_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        assert!(matches!(
            verify_maintenance_pin(&p, "246810", Utc::now()),
            Err(MaintenanceError::NoPin(_))
        ));
        std::fs::write(
            &p.pin_hash,
            hash_with_salt("246810", b"0123456789abcdef", 100),
        )
        .unwrap();
        let now: DateTime<Utc> = "2026-12-02T05:00:00Z".parse().unwrap();
        for left in (1..5).rev() {
            // Each try opens the gate afresh, as after a restart.
            assert_eq!(
                verify_maintenance_pin(&p, "111111", now).unwrap(),
                PinVerdict::Wrong { left }
            );
        }
        let until = now + chrono::Duration::minutes(15);
        assert_eq!(
            verify_maintenance_pin(&p, "111111", now).unwrap(),
            PinVerdict::Locked { until }
        );
        let gate = MaintenanceGate::open(p.clone()).unwrap();
        assert_eq!(
            gate.locked(now + chrono::Duration::minutes(10)),
            Some(until)
        );
        assert_eq!(
            verify_maintenance_pin(&p, "246810", now + chrono::Duration::minutes(10)).unwrap(),
            PinVerdict::Locked { until }
        );
        assert_eq!(
            verify_maintenance_pin(&p, "246810", until).unwrap(),
            PinVerdict::Accepted
        );
        // A damaged lockout file leaves one try, not five.
        std::fs::write(&p.lockout, "{not json").unwrap();
        assert!(matches!(
            verify_maintenance_pin(&p, "111111", until).unwrap(),
            PinVerdict::Locked { .. }
        ));
        // A bad hash file is named.
        std::fs::write(&p.pin_hash, "246810").unwrap();
        let e = verify_maintenance_pin(&p, "246810", until).unwrap_err();
        assert!(e.to_string().contains(PIN_HASH_FILE), "{e}");
    }

    #[test]
    fn the_volume_is_shared_clamped_and_kept_for_the_next_start() {
        let v = Volume::new(70);
        let other = v.clone();
        other.set(250);
        assert_eq!(v.get(), 100);

        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        assert_eq!(
            Volume::load(&p.settings, 70).get(),
            70,
            "the config's value"
        );
        v.set(40);
        v.save(&p.settings).unwrap();
        assert_eq!(Volume::load(&p.settings, 70).get(), 40, "what was saved");
        std::fs::write(&p.settings, "{not json").unwrap();
        assert_eq!(Volume::load(&p.settings, 70).get(), 70, "a damaged file");
    }
}
