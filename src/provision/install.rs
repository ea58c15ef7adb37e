//! The installer: writes what a verified provisioning bundle [plans](super::bundle::plan) under
//! a system root (`/` on a terminal, a temporary directory in tests).
//!
//! All or nothing as far as the file system allows: every file is first written beside its
//! target (`*.provision-tmp`, final mode and owner, synced), the catalogue is imported into the
//! store in one transaction, and only then are the files renamed into place, the config last
//! (its presence marks the terminal provisioned). Any failure before the renames removes what
//! was staged and leaves the terminal as it was.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::bundle::{self, Owner, PlannedFile, Provisioning, paths};

/// The user the app runs as on the image.
pub const KIOSK_USER: &str = "kiosk";

/// Why installing failed. Nothing was changed unless the error says so.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "there is no user {user:?} in {passwd}; install the village-kiosk package first (it creates the user)"
    )]
    NoKioskUser { user: String, passwd: PathBuf },
    #[error("cannot write {path}: {source}; nothing was changed")]
    Stage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the catalogue in the bundle was refused: {0}; nothing was changed")]
    Catalog(String),
    #[error(
        "cannot move {path} into place: {source}; the terminal is partly provisioned, run kiosk provision again"
    )]
    Commit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where and as whom to install.
#[derive(Debug, Clone)]
pub struct Target {
    /// The system root; `/` on a terminal.
    pub root: PathBuf,
    /// uid and gid of the kiosk user; `None`: leave owners alone (files belong to the caller).
    pub kiosk: Option<(u32, u32)>,
}

impl Target {
    /// The terminal itself (`/`), owned by the `kiosk` user from `/etc/passwd`.
    pub fn system() -> Result<Target, InstallError> {
        Target::at(Path::new("/"), KIOSK_USER)
    }

    /// A root directory whose `etc/passwd` names `user`.
    pub fn at(root: &Path, user: &str) -> Result<Target, InstallError> {
        let passwd = root.join("etc/passwd");
        let ids = fs::read_to_string(&passwd)
            .ok()
            .and_then(|text| user_ids(&text, user));
        match ids {
            Some(ids) => Ok(Target {
                root: root.to_path_buf(),
                kiosk: Some(ids),
            }),
            None => Err(InstallError::NoKioskUser {
                user: user.into(),
                passwd,
            }),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// uid and gid of `user` in passwd(5) text.
pub fn user_ids(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == user)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub files: Vec<PathBuf>,
    /// `(county, version, items)` of the catalogue installed from the bundle.
    pub catalog: Option<(String, u64, usize)>,
}

const STAGED: &str = "provision-tmp";

fn staged_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{STAGED}"));
    target.with_file_name(name)
}

/// Installs a bundle that [`bundle::open`] returned (verified, valid, not expired) and
/// [`bundle::check_station`] accepted.
pub fn install(
    p: &Provisioning,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<Installed, InstallError> {
    // The catalogue is verified before anything is written.
    let catalog = match &p.catalog_bundle {
        Some(text) => {
            let key = crate::catalog::bundle::parse_verifying_key(&p.county.catalog_public_key)
                .map_err(|e| InstallError::Catalog(e.to_string()))?;
            Some((
                crate::catalog::bundle::open_catalog(text.as_bytes(), &key)
                    .map_err(|e| InstallError::Catalog(e.to_string()))?,
                key,
            ))
        }
        None => None,
    };
    let files = bundle::plan(p, now);
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let unstage = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = fs::remove_file(tmp);
        }
    };
    for f in &files {
        let dest = target.root.join(&f.path);
        let tmp = staged_path(&dest);
        if let Err(source) = stage(f, &tmp, target) {
            let _ = fs::remove_file(&tmp);
            unstage(&staged);
            return Err(InstallError::Stage { path: dest, source });
        }
        staged.push((tmp, dest));
    }
    let mut installed_catalog = None;
    if let Some((catalog, key)) = catalog {
        match import_catalog(&catalog, &key, target, now) {
            Ok(c) => installed_catalog = Some(c),
            Err(e) => {
                unstage(&staged);
                return Err(e);
            }
        }
    }
    let mut done = Vec::new();
    for (tmp, dest) in &staged {
        fs::rename(tmp, dest).map_err(|source| InstallError::Commit {
            path: dest.clone(),
            source,
        })?;
        if let Some(dir) = dest.parent()
            && let Ok(d) = fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        done.push(dest.clone());
    }
    tracing::info!(
        station = %p.station.id,
        files = done.len(),
        "provisioned from a bundle issued {}",
        p.issued_at
    );
    Ok(Installed {
        files: done,
        catalog: installed_catalog,
    })
}

fn stage(f: &PlannedFile, tmp: &Path, target: &Target) -> std::io::Result<()> {
    if let Some(dir) = tmp.parent() {
        fs::create_dir_all(dir)?;
    }
    let _ = fs::remove_file(tmp);
    // Created with the final mode: a secret is never readable by others, not even for a moment.
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(f.mode)
        .open(tmp)?;
    out.write_all(&f.contents)?;
    out.set_permissions(fs::Permissions::from_mode(f.mode))?;
    if let (Owner::Kiosk, Some((uid, gid))) = (f.owner, target.kiosk) {
        std::os::unix::fs::fchown(&out, Some(uid), Some(gid))?;
    }
    out.sync_all()
}

fn import_catalog(
    catalog: &crate::catalog::model::Catalog,
    key: &ed25519_dalek::VerifyingKey,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<(String, u64, usize), InstallError> {
    let dir = target.root.join(paths::DATA_DIR.trim_start_matches('/'));
    let mut store = crate::store::Store::open_in(&dir).map_err(|e| {
        InstallError::Catalog(format!("cannot open the store in {}: {e}", dir.display()))
    })?;
    let opts = crate::catalog::repo::ImportOptions {
        source: "provisioning bundle".into(),
        signer_key: hex::encode(key.to_bytes()),
        imported_at: now,
        allow_downgrade: false,
    };
    let meta = match crate::catalog::repo::replace(&mut store, catalog, &opts) {
        Ok(m) => m,
        // The station already holds a newer catalogue from the county: keep it.
        Err(crate::catalog::repo::RepoError::Downgrade { .. }) => {
            return crate::catalog::repo::meta(&store)
                .ok()
                .flatten()
                .map(|m| (m.county, m.version, m.item_count))
                .ok_or_else(|| {
                    InstallError::Catalog("the installed catalogue cannot be read".into())
                });
        }
        Err(e) => return Err(InstallError::Catalog(e.to_string())),
    };
    drop(store);
    if let Some((uid, gid)) = target.kiosk {
        // The app (the kiosk user) writes the store; provisioning may run as root.
        let chown = |p: &Path| std::os::unix::fs::chown(p, Some(uid), Some(gid));
        let res = chown(&dir).and_then(|()| {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
            for e in fs::read_dir(&dir)? {
                chown(&e?.path())?;
            }
            Ok(())
        });
        res.map_err(|e| {
            InstallError::Catalog(format!(
                "cannot hand {} to the kiosk user: {e}",
                dir.display()
            ))
        })?;
    }
    Ok((meta.county, meta.version, meta.item_count))
}
