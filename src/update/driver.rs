//! The update driver: the thin I/O around [`super::machine`]. It fetches and verifies the
//! manifest, downloads the files with HTTP Range (resuming a cut download where it stopped),
//! paced, checks each file's length and SHA-256 (and unpacks a compressed root filesystem once
//! to check the raw image it yields, before any slot is touched), writes the inactive slot
//! (unpacking into its partition, then reading it back) and its counted boot entry, and at start reads the running slot and the ESP's entries to learn whether an update
//! committed or rolled back. The state is a JSON file (`update/state.json` in the data
//! directory) written with write-temp, fsync, rename, so a power cut leaves the old state or the
//! new one, never a torn one. The outbox is never touched.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use super::UpdateConfig;
use super::bootcount::{self, EntryName, Slot};
use super::machine::{Event, Pacer, UpdateState};
use super::manifest::{
    self, BOOT_FILES, ManifestError, Offer, ROOTFS, ROOTFS_GZ, UpdateFile, UpdateManifest,
};
use super::unpack::{self, UnpackError};
use crate::county::client::{BundleKind, ClientError, CountyClient};
use crate::county::wire::UpdateReport;

/// How long one chunk of a download may take before the transfer counts as cut.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an update step did not happen. The running version is untouched.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("update: {0}")]
    County(#[from] ClientError),
    #[error("update: the download of {file} was cut after {have} of {size} bytes: {detail}")]
    Cut {
        file: String,
        have: u64,
        size: u64,
        detail: String,
    },
    #[error("update: {file} does not match the manifest: {detail}; the download was deleted")]
    Mismatch { file: String, detail: String },
    #[error("update: {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("update: {0}")]
    State(String),
    #[error("update: no release key is configured ([update] release_key)")]
    NoReleaseKey,
    #[error("update: not installed now: {0}")]
    NotNow(String),
    #[error("update: the files in {}: {detail}", dir.display())]
    Files { dir: PathBuf, detail: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
    move |source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The county offers no update (404), or not one newer than the running version.
    NothingNew,
    /// A verified manifest was taken up: download it.
    Offered(UpdateManifest),
    /// A newer version is offered but the state does not take it (one already installed, or
    /// this very version rolled back here).
    Declined {
        version: String,
        state: &'static str,
    },
}

/// The update driver for one terminal.
#[derive(Debug, Clone)]
pub struct Updater {
    config: UpdateConfig,
    dir: PathBuf,
    running_version: String,
}

impl Updater {
    /// `dir` is the update directory ([`super::update_dir`]).
    pub fn new(config: UpdateConfig, dir: PathBuf, running_version: &str) -> Updater {
        Updater {
            config,
            dir,
            running_version: running_version.to_string(),
        }
    }

    pub fn config(&self) -> &UpdateConfig {
        &self.config
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn download_path(&self, name: &str) -> PathBuf {
        self.dir.join("download").join(name)
    }

    /// The persisted state (`Idle` when none was ever written).
    pub fn state(&self) -> Result<UpdateState, UpdateError> {
        load_state(&self.dir)
    }

    fn save(&self, state: &UpdateState) -> Result<(), UpdateError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let text = serde_json::to_vec_pretty(state)
            .map_err(|e| UpdateError::State(format!("cannot encode the state: {e}")))?;
        write_atomic(&self.state_path(), &text)?;
        tracing::info!(state = state.name(), "update state");
        Ok(())
    }

    fn apply(&self, state: &UpdateState, event: Event) -> Result<UpdateState, UpdateError> {
        let next = state
            .step(event, Utc::now())
            .map_err(|e| UpdateError::State(e.to_string()))?;
        if &next != state {
            self.save(&next)?;
        }
        Ok(next)
    }

    /// Bytes of the current manifest already downloaded.
    pub fn downloaded(&self, m: &UpdateManifest) -> u64 {
        m.files
            .iter()
            .map(|f| {
                fs::metadata(self.download_path(&f.name))
                    .map(|md| md.len().min(f.size))
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The heartbeat's report of this terminal's update state.
    pub fn report(&self) -> Result<UpdateReport, UpdateError> {
        let state = self.state()?;
        let downloaded = state.manifest().map(|m| self.downloaded(m));
        Ok(state.report(&self.running_version, downloaded))
    }

    /// Asks the county for an update, verifies the manifest against the release key and takes
    /// it up when it is newer than the running version.
    pub async fn check(
        &self,
        client: &CountyClient,
        catalogue_keys: &[VerifyingKey],
    ) -> Result<CheckOutcome, UpdateError> {
        let release_key = self.release_key()?;
        let bytes = match client.bundle(BundleKind::Update, None).await {
            Ok(Some((bytes, _))) => bytes,
            Ok(None) => return Ok(CheckOutcome::NothingNew),
            Err(ClientError::Status { status: 404, .. }) => return Ok(CheckOutcome::NothingNew),
            Err(e) => return Err(e.into()),
        };
        let m = manifest::open(&bytes, &release_key, catalogue_keys)?;
        if manifest::judge(&m, &self.running_version) == Offer::NotNewer {
            return Ok(CheckOutcome::NothingNew);
        }
        let state = self.state()?;
        if !state.accepts_offer(&m.version) {
            return Ok(CheckOutcome::Declined {
                version: m.version,
                state: state.name(),
            });
        }
        if state.manifest() == Some(&m) {
            return Ok(CheckOutcome::Offered(m));
        }
        // Another manifest than the one half downloaded: start over.
        let _ = fs::remove_dir_all(self.dir.join("download"));
        self.apply(&state, Event::Offered(m.clone()))?;
        tracing::info!(version = %m.version, bytes = m.total_size(), "update offered");
        Ok(CheckOutcome::Offered(m))
    }

    fn release_key(&self) -> Result<VerifyingKey, UpdateError> {
        let hex = self
            .config
            .release_key
            .as_deref()
            .ok_or(UpdateError::NoReleaseKey)?;
        crate::catalog::bundle::parse_verifying_key(hex)
            .map_err(|e| UpdateError::State(format!("[update] release_key: {e}")))
    }

    /// Downloads every file of the manifest being worked on, resuming each from what is on
    /// disk, paced to `max_bytes_per_sec`; then checks sizes and hashes. A cut transfer is an
    /// error that keeps what arrived (the next call resumes); a mismatch deletes the file and
    /// fails the update.
    pub async fn download(&self, client: &CountyClient) -> Result<UpdateState, UpdateError> {
        let state = self.state()?;
        let UpdateState::Downloading { manifest: m } = &state else {
            return Ok(state);
        };
        let pacer = Pacer {
            bytes_per_sec: self.config.max_bytes_per_sec,
        };
        for f in &m.files {
            self.download_file(client, f, pacer).await?;
        }
        for f in &m.files {
            // A compressed root filesystem is unpacked once, into nothing, so a stream that
            // does not yield the listed image fails here, before any slot is written.
            let checked = verify_file(&self.download_path(&f.name), f)
                .and_then(|()| check_unpacked(&self.download_path(&f.name), f));
            if let Err(e) = checked {
                let _ = fs::remove_file(self.download_path(&f.name));
                self.apply(&state, Event::DownloadFailed(e.to_string()))?;
                return Err(e);
            }
        }
        tracing::info!(version = %m.version, "update downloaded and verified");
        self.apply(&state, Event::Verified)
    }

    async fn download_file(
        &self,
        client: &CountyClient,
        f: &UpdateFile,
        pacer: Pacer,
    ) -> Result<(), UpdateError> {
        let path = self.download_path(&f.name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut have = file.metadata().map_err(io(&path))?.len();
        if have > f.size {
            file.set_len(0).map_err(io(&path))?;
            have = 0;
        }
        if have == f.size {
            return Ok(());
        }
        let cut = |have: u64, detail: String| UpdateError::Cut {
            file: f.name.clone(),
            have,
            size: f.size,
            detail,
        };
        let started = tokio::time::Instant::now();
        let mut sent: u64 = 0;
        // The county answers a range with at most a piece of it: ask again from where it
        // stopped until the file is complete.
        while have < f.size {
            let mut resp = client.update_file(&f.name, have).await?;
            match resp.status().as_u16() {
                206 => {
                    let from = resp
                        .headers()
                        .get(reqwest::header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if from != Some(have) {
                        return Err(cut(have, format!("the county answered range {from:?}")));
                    }
                    if have > 0 && sent == 0 {
                        tracing::info!(file = %f.name, from = have, "update download resumed");
                    }
                }
                200 => {
                    // The server ignored the range and sends the whole file: start over.
                    file.set_len(0).map_err(io(&path))?;
                    have = 0;
                }
                status => {
                    let message = resp.text().await.unwrap_or_default();
                    return Err(ClientError::Status {
                        status,
                        retry_after: None,
                        message: message.chars().take(200).collect(),
                    }
                    .into());
                }
            }
            file.seek(SeekFrom::Start(have)).map_err(io(&path))?;
            let before = have;
            loop {
                let chunk = match tokio::time::timeout(CHUNK_TIMEOUT, resp.chunk()).await {
                    Err(_) => {
                        file.sync_data().map_err(io(&path))?;
                        return Err(cut(have, "no data for 60 s".into()));
                    }
                    Ok(Err(e)) => {
                        file.sync_data().map_err(io(&path))?;
                        return Err(cut(have, e.to_string()));
                    }
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(c))) => c,
                };
                if have + chunk.len() as u64 > f.size {
                    drop(file);
                    let _ = fs::remove_file(&path);
                    return Err(UpdateError::Mismatch {
                        file: f.name.clone(),
                        detail: format!("the county sent more than the {} bytes listed", f.size),
                    });
                }
                file.write_all(&chunk).map_err(io(&path))?;
                have += chunk.len() as u64;
                sent += chunk.len() as u64;
                let wait = pacer.delay(sent, started.elapsed());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            file.sync_data().map_err(io(&path))?;
            if have == before {
                return Err(cut(have, "the county sent an empty answer".into()));
            }
        }
        Ok(())
    }

    /// Writes a verified update to the inactive slot and puts its counted boot entry on the ESP.
    /// `visit_active`: a villager is using the terminal; then nothing is done. The caller
    /// reboots afterwards (between visits).
    pub fn install(&self, visit_active: bool) -> Result<UpdateState, UpdateError> {
        if visit_active {
            return Err(UpdateError::NotNow(
                "a villager is using the terminal; the update waits for the visit to end".into(),
            ));
        }
        let state = self.state()?;
        let UpdateState::Verified { manifest: m } = &state else {
            return Ok(state);
        };
        let running = self.running_slot()?;
        let target = running.other();
        let installing = self.apply(&state, Event::InstallStarted(target))?;
        match self.write_slot(m, target) {
            Ok(()) => {
                tracing::info!(version = %m.version, slot = target.name(), "update installed; reboot to try it");
                self.apply(&installing, Event::InstallDone)
            }
            Err(e) => {
                self.apply(&installing, Event::InstallFailed(e.to_string()))?;
                Err(e)
            }
        }
    }

    /// The slot running now, from the kernel command line.
    pub fn running_slot(&self) -> Result<Slot, UpdateError> {
        let path = &self.config.cmdline;
        let text = fs::read_to_string(path).map_err(io(path))?;
        Slot::from_cmdline(&text).ok_or_else(|| {
            UpdateError::State(format!(
                "{} names no kiosk.slot= (this disk has no A/B root layout)",
                path.display()
            ))
        })
    }

    fn entries_dir(&self) -> PathBuf {
        self.config.esp_dir.join("loader").join("entries")
    }

    /// The kiosk's boot entries on the ESP.
    pub fn entries(&self) -> Result<Vec<EntryName>, UpdateError> {
        let dir = self.entries_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            if let Some(n) = e.file_name().to_str().and_then(EntryName::parse) {
                out.push(n);
            }
        }
        Ok(out)
    }

    fn remove_entries_of(&self, slot: Slot) -> Result<(), UpdateError> {
        for e in self.entries()? {
            if e.slot == slot {
                let p = self.entries_dir().join(e.file_name());
                fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        sync_dir(&self.entries_dir())
    }

    fn write_slot(&self, m: &UpdateManifest, slot: Slot) -> Result<(), UpdateError> {
        // 1. The slot is about to be overwritten: it must not be bootable meanwhile.
        self.remove_entries_of(slot)?;
        // 2. The root filesystem onto the slot's device (unpacked, if it came compressed), read
        //    back and compared.
        let rootfs = m
            .rootfs()
            .ok_or_else(|| UpdateError::State(format!("no {ROOTFS}")))?;
        let device = self.config.slot_device(slot);
        let source = self.download_path(&rootfs.name);
        match &rootfs.unpacked {
            None => {
                copy_into(&source, &device)?;
                verify_prefix(&device, &rootfs.name, rootfs.size, &rootfs.sha256)?;
            }
            Some(raw) => {
                unpack_into(&source, &device, rootfs)?;
                verify_prefix(&device, &rootfs.name, raw.size, &raw.sha256)?;
            }
        }
        // 3. The kernel and initrd onto the ESP.
        let kdir = self.config.esp_dir.join(format!("kiosk-{}", slot.name()));
        fs::create_dir_all(&kdir).map_err(io(&kdir))?;
        for name in BOOT_FILES {
            let f = m
                .file(name)
                .ok_or_else(|| UpdateError::State(format!("no {name}")))?;
            let dest = kdir.join(name);
            let tmp = kdir.join(format!("{name}.new"));
            let _ = fs::remove_file(&tmp);
            copy_into(&self.download_path(name), &tmp)?;
            verify_file(&tmp, f)?;
            fs::rename(&tmp, &dest).map_err(io(&dest))?;
        }
        sync_dir(&kdir)?;
        // 4. Last, the counted entry: from here on the next boot tries the new slot.
        let entry = self.entries_dir().join(EntryName::fresh(slot).file_name());
        write_atomic(
            &entry,
            bootcount::entry_text(slot, &m.version, &self.config.kernel_options).as_bytes(),
        )?;
        Ok(())
    }

    /// At start: learns from the running slot and the ESP whether an installed update is on
    /// trial, committed or rolled back; a rolled-back slot's exhausted entry is removed so it
    /// never boots again.
    pub fn on_boot(&self) -> Result<UpdateState, UpdateError> {
        let state = self.state()?;
        let target = match &state {
            UpdateState::Installing { slot, .. }
            | UpdateState::Installed { slot, .. }
            | UpdateState::OnTrial { slot, .. } => *slot,
            _ => return Ok(state),
        };
        let running = self.running_slot()?;
        let outcome = bootcount::outcome(target, running, &self.entries()?);
        let next = self.apply(&state, Event::Booted { running, outcome })?;
        if let UpdateState::RolledBack {
            version, reason, ..
        } = &next
        {
            tracing::warn!(%version, %reason, "update rolled back");
            self.remove_entries_of(target)?;
        }
        Ok(next)
    }
}

/// Reads the state in `dir` (`Idle` when there is none).
pub fn load_state(dir: &Path) -> Result<UpdateState, UpdateError> {
    let path = dir.join("state.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            UpdateError::State(format!(
                "{} cannot be read ({e}); move it aside to start over",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpdateState::Idle),
        Err(e) => Err(io(&path)(e)),
    }
}

/// The heartbeat's update report from the update directory `dir`; `None` when no update was
/// ever offered here.
pub fn report_in(dir: &Path, running_version: &str) -> Option<UpdateReport> {
    if !dir.join("state.json").exists() {
        return None;
    }
    let u = Updater::new(UpdateConfig::default(), dir.to_path_buf(), running_version);
    match u.report() {
        Ok(r) => Some(r),
        Err(e) => Some(UpdateReport {
            running_version: running_version.to_string(),
            state: "unknown".into(),
            detail: Some(e.to_string()),
            ..UpdateReport::default()
        }),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    // A directory fsync makes a rename durable; FAT (the ESP) may refuse it: then the file's own
    // sync is what there is.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Opens `to` for writing from offset 0: a block device is written in place, a file is
/// created.
fn open_dest(to: &Path) -> Result<File, UpdateError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(to)
        .map_err(io(to))
}

/// Copies `from` into `to` from offset 0, then syncs.
fn copy_into(from: &Path, to: &Path) -> Result<(), UpdateError> {
    let mut src = File::open(from).map_err(io(from))?;
    let mut dst = open_dest(to)?;
    std::io::copy(&mut src, &mut dst).map_err(io(to))?;
    dst.sync_all().map_err(io(to))?;
    Ok(())
}

/// A compressed file's unpack error as the update error it is: a write error is the device's,
/// anything else means the file is not what the manifest lists.
fn unpack_error(f: &UpdateFile, to: &Path, e: UnpackError) -> UpdateError {
    match e {
        UnpackError::Write(source) => UpdateError::Io {
            path: to.to_path_buf(),
            source,
        },
        e => UpdateError::Mismatch {
            file: f.name.clone(),
            detail: e.to_string(),
        },
    }
}

/// Unpacks the compressed `f` at `from` into nothing and checks it yields the listed raw image
/// (a no-op for a file that is not compressed).
fn check_unpacked(from: &Path, f: &UpdateFile) -> Result<(), UpdateError> {
    let Some(raw) = &f.unpacked else {
        return Ok(());
    };
    let src = File::open(from).map_err(io(from))?;
    let got = unpack::unpack(src, &mut std::io::sink(), raw.size)
        .map_err(|e| unpack_error(f, from, e))?;
    unpack::judge(&got, raw).map_err(|e| unpack_error(f, from, e))
}

/// Unpacks the compressed `f` at `from` into `to` from offset 0, checks what it wrote against
/// the listed raw image, then syncs.
fn unpack_into(from: &Path, to: &Path, f: &UpdateFile) -> Result<(), UpdateError> {
    let raw = f
        .unpacked
        .as_ref()
        .ok_or_else(|| UpdateError::State(format!("{} is not compressed", f.name)))?;
    let src = File::open(from).map_err(io(from))?;
    let mut dst = std::io::BufWriter::with_capacity(1 << 20, open_dest(to)?);
    let got = unpack::unpack(src, &mut dst, raw.size).map_err(|e| unpack_error(f, to, e))?;
    let dst = dst.into_inner().map_err(|e| io(to)(e.into_error()))?;
    dst.sync_all().map_err(io(to))?;
    unpack::judge(&got, raw).map_err(|e| unpack_error(f, to, e))
}

fn hash_prefix(path: &Path, len: u64) -> Result<(u64, String), UpdateError> {
    let f = File::open(path).map_err(io(path))?;
    let mut r = f.take(len);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((n_total, hex::encode(h.finalize())))
}

/// The file is exactly as the manifest lists it.
fn verify_file(path: &Path, f: &UpdateFile) -> Result<(), UpdateError> {
    let len = fs::metadata(path).map_err(io(path))?.len();
    if len != f.size {
        return Err(UpdateError::Mismatch {
            file: f.name.clone(),
            detail: format!("{len} bytes, the manifest lists {}", f.size),
        });
    }
    verify_prefix(path, &f.name, f.size, &f.sha256)
}

/// The first `size` bytes of `path` (a file or a slot device) hash to `sha256`, the manifest's
/// for `name`.
fn verify_prefix(path: &Path, name: &str, size: u64, sha256: &str) -> Result<(), UpdateError> {
    let (n, hash) = hash_prefix(path, size)?;
    if n != size || hash != sha256 {
        return Err(UpdateError::Mismatch {
            file: name.to_string(),
            detail: format!(
                "SHA-256 of {} ({n} bytes) is {hash}, the manifest lists {sha256}",
                path.display(),
            ),
        });
    }
    Ok(())
}

/// Lists a file for a manifest: its size and SHA-256, and for [`ROOTFS_GZ`] the size and
/// SHA-256 of the raw image it unpacks to (a stream that does not unpack is refused).
pub fn describe_file(name: &str, path: &Path) -> Result<UpdateFile, UpdateError> {
    let len = fs::metadata(path).map_err(io(path))?.len();
    let (_, sha256) = hash_prefix(path, len)?;
    let mut f = UpdateFile {
        name: name.to_string(),
        size: len,
        sha256,
        unpacked: None,
    };
    if name == ROOTFS_GZ {
        let src = File::open(path).map_err(io(path))?;
        let raw = unpack::unpack(src, &mut std::io::sink(), manifest::MAX_FILE_SIZE)
            .map_err(|e| unpack_error(&f, path, e))?;
        f.unpacked = Some(raw);
    }
    Ok(f)
}

/// Lists the files of a root-slot update in `dir` for a manifest (`kiosk update sign`): the
/// root filesystem, `rootfs.img.gz` or `rootfs.img` (one of them, not both), and the kernel and
/// initrd.
pub fn describe_slot_files(dir: &Path) -> Result<Vec<UpdateFile>, UpdateError> {
    let rootfs = match (dir.join(ROOTFS_GZ).exists(), dir.join(ROOTFS).exists()) {
        (true, false) => ROOTFS_GZ,
        (false, true) => ROOTFS,
        (true, true) => {
            return Err(UpdateError::Files {
                dir: dir.to_path_buf(),
                detail: format!(
                    "both {ROOTFS_GZ} and {ROOTFS} are there; keep the one to publish (gzip -n {ROOTFS} makes {ROOTFS_GZ})"
                ),
            });
        }
        (false, false) => {
            return Err(UpdateError::Files {
                dir: dir.to_path_buf(),
                detail: format!("neither {ROOTFS_GZ} nor {ROOTFS} is there"),
            });
        }
    };
    std::iter::once(rootfs)
        .chain(BOOT_FILES)
        .map(|name| describe_file(name, &dir.join(name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(dir: &Path, running: Slot) -> Updater {
        let esp = dir.join("esp");
        fs::create_dir_all(esp.join("loader/entries")).unwrap();
        fs::write(esp.join("loader/entries/village-kiosk-a.conf"), "old").unwrap();
        fs::write(
            dir.join("cmdline"),
            format!(
                "root=PARTLABEL=root-{0} rw kiosk.slot={0}\n",
                running.name()
            ),
        )
        .unwrap();
        let config = UpdateConfig {
            release_key: None,
            esp_dir: esp,
            slot_device: dir.join("slot-{slot}.img").display().to_string(),
            cmdline: dir.join("cmdline"),
            ..UpdateConfig::default()
        };
        Updater::new(config, dir.join("update"), "0.4.0")
    }

    fn stage(u: &Updater, files: &[(&str, &[u8])]) -> UpdateManifest {
        let dl = u.dir.join("download");
        fs::create_dir_all(&dl).unwrap();
        let mut list = Vec::new();
        for (name, bytes) in files {
            fs::write(dl.join(name), bytes).unwrap();
            list.push(describe_file(name, &dl.join(name)).unwrap());
        }
        let m = UpdateManifest {
            manifest_version: manifest::MANIFEST_VERSION,
            version: "0.5.0".into(),
            issued_at: Utc::now(),
            files: list,
        };
        u.save(&UpdateState::Verified {
            manifest: m.clone(),
        })
        .unwrap();
        m
    }

    const FILES: [(&str, &[u8]); 3] = [
        ("rootfs.img", b"new root filesystem"),
        ("vmlinuz", b"kernel"),
        ("initrd.img", b"initrd"),
    ];

    #[test]
    fn install_writes_the_inactive_slot_and_a_counted_entry_then_rollback_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        stage(&u, &FILES);
        // Never during a visit.
        assert!(matches!(u.install(true), Err(UpdateError::NotNow(_))));
        assert_eq!(u.state().unwrap().name(), "verified");
        let s = u.install(false).unwrap();
        assert_eq!(s.name(), "installed");
        assert_eq!(
            fs::read(dir.path().join("slot-b.img")).unwrap(),
            b"new root filesystem"
        );
        assert!(!dir.path().join("slot-a.img").exists());
        let entries = dir.path().join("esp/loader/entries");
        let text = fs::read_to_string(entries.join("village-kiosk-b+2.conf")).unwrap();
        assert!(text.contains("kiosk.slot=b"), "{text}");
        assert_eq!(
            fs::read(dir.path().join("esp/kiosk-b/vmlinuz")).unwrap(),
            b"kernel"
        );
        // Not rebooted yet: still installed.
        assert_eq!(u.on_boot().unwrap().name(), "installed");
        // systemd-boot used up both tries of slot b and booted slot a again.
        fs::rename(
            entries.join("village-kiosk-b+2.conf"),
            entries.join("village-kiosk-b+0-2.conf"),
        )
        .unwrap();
        let s = u.on_boot().unwrap();
        assert_eq!(s.name(), "rolled_back");
        assert!(!entries.join("village-kiosk-b+0-2.conf").exists());
        assert!(entries.join("village-kiosk-a.conf").exists());
        let r = u.report().unwrap();
        assert_eq!(
            (
                r.state.as_str(),
                r.version.as_deref(),
                r.running_version.as_str()
            ),
            ("rolled_back", Some("0.5.0"), "0.4.0")
        );
        // And the heartbeat reads the same from the data directory.
        let hb = report_in(&u.dir, "0.4.0").unwrap();
        assert_eq!(hb.state, "rolled_back");
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_compressed_root_filesystem_is_unpacked_into_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        let raw = [b"new root filesystem ".as_slice(), &[0u8; 100_000]].concat();
        let packed = gz(&raw);
        let m = stage(
            &u,
            &[
                (ROOTFS_GZ, &packed),
                ("vmlinuz", b"kernel"),
                ("initrd.img", b"initrd"),
            ],
        );
        let listed = m.rootfs().unwrap().unpacked.clone().unwrap();
        assert_eq!(listed.size, raw.len() as u64);
        // The slot held a longer, older image: its tail stays, the listed prefix is new.
        fs::write(dir.path().join("slot-b.img"), vec![7u8; 200_000]).unwrap();
        assert_eq!(u.install(false).unwrap().name(), "installed");
        let slot = fs::read(dir.path().join("slot-b.img")).unwrap();
        assert_eq!(&slot[..raw.len()], &raw[..]);
        assert!(
            dir.path()
                .join("esp/loader/entries/village-kiosk-b+2.conf")
                .exists()
        );
    }

    #[test]
    fn a_compressed_root_filesystem_that_unpacks_short_is_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        let raw = vec![1u8; 50_000];
        let mut m = stage(
            &u,
            &[
                (ROOTFS_GZ, &gz(&raw)),
                ("vmlinuz", b"kernel"),
                ("initrd.img", b"initrd"),
            ],
        );
        // The manifest lists a longer image than the stream yields.
        m.files[0].unpacked.as_mut().unwrap().size += 1;
        u.save(&UpdateState::Verified { manifest: m }).unwrap();
        let err = u.install(false).unwrap_err();
        assert!(
            matches!(err, UpdateError::Mismatch { ref file, ref detail } if file == ROOTFS_GZ && detail.contains("unpacks to 50000 bytes")),
            "{err}"
        );
        assert_eq!(u.state().unwrap().name(), "failed");
        assert!(u.entries().unwrap().iter().all(|e| e.slot == Slot::A));
    }

    #[test]
    fn slot_files_are_the_compressed_or_the_raw_root_filesystem_not_both() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in FILES {
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        let names = |v: Vec<UpdateFile>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(describe_slot_files(dir.path()).unwrap()),
            [ROOTFS, "vmlinuz", "initrd.img"]
        );
        fs::write(dir.path().join(ROOTFS_GZ), gz(b"new root filesystem")).unwrap();
        let e = describe_slot_files(dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("both rootfs.img.gz and rootfs.img"),
            "{e}"
        );
        fs::remove_file(dir.path().join(ROOTFS)).unwrap();
        let files = describe_slot_files(dir.path()).unwrap();
        assert_eq!(files[0].unpacked.as_ref().unwrap().size, 19);
        // A cut stream is refused when it is listed, not signed.
        let packed = fs::read(dir.path().join(ROOTFS_GZ)).unwrap();
        fs::write(dir.path().join(ROOTFS_GZ), &packed[..packed.len() - 4]).unwrap();
        let e = describe_slot_files(dir.path()).unwrap_err();
        assert!(
            matches!(e, UpdateError::Mismatch { ref file, .. } if file == ROOTFS_GZ),
            "{e}"
        );
        fs::remove_file(dir.path().join(ROOTFS_GZ)).unwrap();
        assert!(
            describe_slot_files(dir.path())
                .unwrap_err()
                .to_string()
                .contains("neither")
        );
    }

    #[test]
    fn blessed_entry_on_the_new_slot_commits() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        stage(&u, &FILES);
        u.install(false).unwrap();
        // Reboot into slot b, on trial (systemd-boot counted one try).
        fs::write(dir.path().join("cmdline"), "kiosk.slot=b").unwrap();
        let entries = dir.path().join("esp/loader/entries");
        fs::rename(
            entries.join("village-kiosk-b+2.conf"),
            entries.join("village-kiosk-b+1-1.conf"),
        )
        .unwrap();
        assert_eq!(u.on_boot().unwrap().name(), "on_trial");
        // systemd-bless-boot after boot-complete.target.
        fs::rename(
            entries.join("village-kiosk-b+1-1.conf"),
            entries.join("village-kiosk-b.conf"),
        )
        .unwrap();
        assert_eq!(u.on_boot().unwrap().name(), "committed");
    }

    #[test]
    fn a_corrupted_download_is_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        let m = stage(&u, &FILES);
        // The kernel file changed on disk after verification (bit rot, tampering).
        fs::write(u.download_path("vmlinuz"), b"kernex").unwrap();
        let err = u.install(false).unwrap_err();
        assert!(
            matches!(err, UpdateError::Mismatch { ref file, .. } if file == "vmlinuz"),
            "{err}"
        );
        assert_eq!(u.state().unwrap().name(), "failed");
        // No bootable entry for the half-written slot.
        assert!(u.entries().unwrap().iter().all(|e| e.slot == Slot::A));
        assert_eq!(m.version, "0.5.0");
    }

    #[test]
    fn a_cut_during_install_writes_again_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let u = setup(dir.path(), Slot::A);
        let m = stage(&u, &FILES);
        u.save(&UpdateState::Installing {
            manifest: m,
            slot: Slot::B,
        })
        .unwrap();
        assert_eq!(u.on_boot().unwrap().name(), "verified");
        assert_eq!(u.install(false).unwrap().name(), "installed");
    }

    #[test]
    fn an_unreadable_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path()).unwrap();
        fs::write(dir.path().join("state.json"), b"{ torn").unwrap();
        let e = load_state(dir.path()).unwrap_err();
        assert!(e.to_string().contains("move it aside"), "{e}");
    }
}
