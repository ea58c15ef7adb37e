//! Integration tests for compressed update payloads (issue 12, the root filesystem as
//! `rootfs.img.gz`) against the reference back office on loopback: `kiosk update sign` lists the
//! compressed file and the raw image it unpacks to, `county-backoffice update publish` takes it,
//! the terminal downloads it resumably (a relay cuts the link halfway) and unpacks it into the
//! inactive slot; a payload that is corrupt on the server, or a stream that is cut or unpacks
//! to another image than the signed manifest lists, is refused and the slot is not written and
//! not marked for trial.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use village_kiosk::backoffice::update as bo_update;
use village_kiosk::catalog::bundle;
use village_kiosk::update::bootcount::Slot;
use village_kiosk::update::driver::{CheckOutcome, describe_file, describe_slot_files};
use village_kiosk::update::manifest::{self, ROOTFS_GZ, UpdateManifest};
use village_kiosk::update::{UpdateError, Updater};

use crate::update::{backoffice, cut_download, noise, release_key, run, terminal};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An image-like root filesystem: 2 MiB that do not compress, then 6 MiB of free (zero) blocks.
fn raw_image() -> Vec<u8> {
    let mut raw = noise(2 << 20, 7);
    raw.resize(8 << 20, 0);
    raw
}

/// Version 0.9.0 with its root filesystem compressed, in `dir/release-0.9.0`.
fn compressed_release(dir: &Path) -> (PathBuf, Vec<u8>) {
    let files = dir.join("release-0.9.0");
    std::fs::create_dir_all(&files).unwrap();
    let raw = raw_image();
    std::fs::write(files.join(ROOTFS_GZ), gz(&raw)).unwrap();
    std::fs::write(files.join("vmlinuz"), vec![7u8; 1000]).unwrap();
    std::fs::write(files.join("initrd.img"), vec![9u8; 2000]).unwrap();
    (files, raw)
}

/// The back office in `dir` and the files of the compressed release (not yet published).
fn county_with_release(
    dir: &Path,
) -> (
    village_kiosk::backoffice::EmbeddedBackoffice,
    PathBuf,
    Vec<u8>,
) {
    let bo = backoffice(dir);
    let (files, raw) = compressed_release(dir);
    (bo, files, raw)
}

fn sign(files: &Path) -> Vec<u8> {
    let m = UpdateManifest {
        manifest_version: manifest::MANIFEST_VERSION,
        version: "0.9.0".into(),
        issued_at: Utc::now(),
        files: describe_slot_files(files).unwrap(),
    };
    manifest::sign(&m, &release_key()).unwrap()
}

/// The terminal in `dir` with an old image in slot b (a file standing in for the partition).
fn terminal_with_old_slot_b(dir: &Path) -> (Updater, Vec<u8>) {
    let t = terminal(dir);
    let old = vec![0x5au8; 64 * 1024];
    std::fs::write(dir.join("slot-b.img"), &old).unwrap();
    (t, old)
}

/// Slot b holds `old` still and has no boot entry: nothing will try it.
fn assert_slot_b_untouched(dir: &Path, t: &Updater, old: &[u8]) {
    assert_eq!(std::fs::read(dir.join("slot-b.img")).unwrap(), old);
    let entries = t.entries().unwrap();
    assert!(entries.iter().all(|e| e.slot == Slot::A), "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_update_is_signed_published_resumed_and_unpacked_into_the_slot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bo, files, raw) = county_with_release(d);
    let packed_len = std::fs::metadata(files.join(ROOTFS_GZ)).unwrap().len();
    assert!(packed_len < raw.len() as u64 / 3, "{packed_len}");

    // County staff sign it as they would a build's update directory.
    let key_file = d.join("release.key");
    std::fs::write(
        &key_file,
        bundle::format_signing_key(&release_key(), "release").as_bytes(),
    )
    .unwrap();
    let signed = d.join("update.bundle");
    let os = std::ffi::OsStr::new;
    let (ok, out) = run(
        env!("CARGO_BIN_EXE_kiosk"),
        &[
            os("update"),
            os("sign"),
            os("--version"),
            os("0.9.0"),
            os("--files"),
            files.as_os_str(),
            os("--key"),
            key_file.as_os_str(),
            os("--out"),
            signed.as_os_str(),
        ],
    );
    assert!(ok && out.contains("signed update 0.9.0"), "{out}");
    assert!(
        out.contains(&format!(
            "root filesystem rootfs.img.gz: {packed_len} bytes, unpacks to {} bytes",
            raw.len()
        )),
        "{out}"
    );
    let bytes = std::fs::read(&signed).unwrap();
    let m = manifest::open(&bytes, &release_key().verifying_key(), &[]).unwrap();
    let listed = m.rootfs().unwrap();
    assert_eq!((listed.name.as_str(), listed.size), (ROOTFS_GZ, packed_len));
    assert_eq!(
        listed.unpacked.as_ref().unwrap().size,
        raw.len() as u64,
        "{listed:?}"
    );
    bo_update::publish(&bo.db().unwrap(), &bytes, &files, None, Utc::now()).unwrap();

    let (t, _) = terminal_with_old_slot_b(&d.join("t"));
    let offer = t
        .check(&bo.demo_client("ST-1").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(offer, CheckOutcome::Offered(m.clone()));
    // Only the compressed bytes travel.
    assert_eq!(m.total_size(), packed_len + 3000);

    // The link drops after 1 MiB; the download resumes where it stopped.
    let err = cut_download(&t, &bo, "ST-1", 1 << 20).await;
    assert!(
        matches!(err, UpdateError::Cut { ref file, .. } if file == ROOTFS_GZ),
        "{err}"
    );
    let partial = t.downloaded(&m);
    assert!(partial > 0 && partial < packed_len, "kept {partial} bytes");
    let state = t.download(&bo.demo_client("ST-1").unwrap()).await.unwrap();
    assert_eq!(state.name(), "verified");

    // Unpacked into slot b (longer than the old image there), with a counted entry.
    assert_eq!(t.install(false).unwrap().name(), "installed");
    let slot = std::fs::read(d.join("t/slot-b.img")).unwrap();
    assert_eq!(slot.len(), raw.len());
    assert!(slot == raw, "slot b does not hold the unpacked image");
    assert!(
        d.join("t/esp/loader/entries/village-kiosk-b+2.conf")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_cut_compressed_payload_is_refused_and_leaves_the_slot_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bo, files, raw) = county_with_release(d);
    let bytes = sign(&files);
    bo_update::publish(&bo.db().unwrap(), &bytes, &files, None, Utc::now()).unwrap();
    let client = bo.demo_client("ST-1").unwrap();
    let packed = std::fs::read(files.join(ROOTFS_GZ)).unwrap();

    // 1. Corrupt on the server after publishing (same length): the compressed file's hash
    //    fails, before anything is unpacked.
    let mut flipped = packed.clone();
    flipped[packed.len() / 2] ^= 0xff;
    std::fs::write(files.join(ROOTFS_GZ), &flipped).unwrap();
    let (t, old) = terminal_with_old_slot_b(&d.join("t1"));
    assert!(matches!(
        t.check(&client, &[]).await.unwrap(),
        CheckOutcome::Offered(_)
    ));
    let err = t.download(&client).await.unwrap_err();
    assert!(
        matches!(err, UpdateError::Mismatch { ref file, ref detail } if file == ROOTFS_GZ && detail.contains("SHA-256")),
        "{err}"
    );
    assert_eq!(t.state().unwrap().name(), "failed");
    assert!(matches!(t.install(false), Ok(ref s) if s.name() == "failed"));
    assert_slot_b_untouched(&d.join("t1"), &t, &old);

    // 2. Signed over a cut stream (the manifest's compressed size and hash are the cut file's,
    //    its unpacked image the whole one), and 3. over a stream of another image: the
    //    download matches, the unpack check before install refuses it.
    assert!(
        describe_file(ROOTFS_GZ, &files.join(ROOTFS_GZ)).is_err(),
        "the flipped file does not unpack"
    );
    std::fs::write(files.join(ROOTFS_GZ), &packed).unwrap();
    let listed = describe_file(ROOTFS_GZ, &files.join(ROOTFS_GZ)).unwrap();
    let mut other = raw.clone();
    other[100] ^= 1;
    let cases: [(&str, Vec<u8>, &str); 2] = [
        (
            "cut",
            packed[..packed.len() * 2 / 3].to_vec(),
            "not a complete gzip stream",
        ),
        ("other image", gz(&other), "unpacks to SHA-256"),
    ];
    for (i, (what, payload, refusal)) in cases.into_iter().enumerate() {
        let version = format!("0.9.{}", i + 1);
        let served = d.join(format!("release-{version}"));
        std::fs::create_dir_all(&served).unwrap();
        std::fs::write(served.join(ROOTFS_GZ), &payload).unwrap();
        for f in ["vmlinuz", "initrd.img"] {
            std::fs::copy(files.join(f), served.join(f)).unwrap();
        }
        let mut m = manifest::open(&bytes, &release_key().verifying_key(), &[]).unwrap();
        m.version = version.clone();
        let gz_file = m.files.iter_mut().find(|f| f.name == ROOTFS_GZ).unwrap();
        // Listed as an opaque file: its size and hash as served.
        let on_wire = describe_file("payload", &served.join(ROOTFS_GZ)).unwrap();
        gz_file.size = on_wire.size;
        gz_file.sha256 = on_wire.sha256;
        gz_file.unpacked = listed.unpacked.clone();
        let signed = manifest::sign(&m, &release_key()).unwrap();
        bo_update::publish(&bo.db().unwrap(), &signed, &served, None, Utc::now()).unwrap();

        let dir_t = d.join(format!("t-{i}"));
        let (t, old) = terminal_with_old_slot_b(&dir_t);
        assert!(matches!(
            t.check(&client, &[]).await.unwrap(),
            CheckOutcome::Offered(ref o) if o.version == version
        ));
        let err = t.download(&client).await.unwrap_err();
        assert!(
            matches!(err, UpdateError::Mismatch { ref file, ref detail } if file == ROOTFS_GZ && detail.contains(refusal)),
            "{what}: {err}"
        );
        let r = t.report().unwrap();
        assert_eq!(r.state, "failed", "{what}");
        assert!(r.detail.unwrap().contains(refusal), "{what}");
        // The refused download is deleted, and install has nothing to write.
        assert_eq!(t.downloaded(&m), 3000, "{what}");
        assert_eq!(t.install(false).unwrap().name(), "failed", "{what}");
        assert_slot_b_untouched(&dir_t, &t, &old);
    }
}
