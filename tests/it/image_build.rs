//! The image build's fault paths (issue 11): a full output disk and a failed package download
//! stop `hardware/image/build` at the step that failed, with the reason, and leave no image or
//! half-written file under any name it would use. They run `hardware/image/build` itself as
//! root (it refuses otherwise); on a machine without root or without the image tools
//! (mmdebstrap, mtools, dosfstools, e2fsprogs, fdisk, systemd-boot-efi) they say they skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/image/build")
}

/// Why the build cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        return Some("not root".into());
    }
    for tool in [
        "mmdebstrap",
        "mkfs.vfat",
        "mmd",
        "mcopy",
        "mkfs.ext4",
        "sfdisk",
        "unshare",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !Path::new("/usr/lib/systemd/boot/efi/systemd-bootx64.efi").exists() {
        return Some("systemd-boot-efi is not installed".into());
    }
    None
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_full_output_disk_stops_the_build_before_anything_is_written() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small");
    std::fs::create_dir(&out).unwrap();
    // A 64 MB file system of its own as the output disk (a private mount namespace: nothing
    // outside the test sees it), then what the build left in it.
    let script = format!(
        "mount -t tmpfs -o size=64m tmpfs '{out}' && '{build}' --out '{out}'; rc=$?; find '{out}' -type f; umount '{out}'; exit $rc",
        out = out.display(),
        build = build_script().display()
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAILED at step \"check free space in"),
        "{stderr}"
    );
    assert!(stderr.contains("MB free in"), "{stderr}");
    assert!(stderr.contains("the build needs about 6000 MB"), "{stderr}");
    assert!(
        stderr.contains("no image was written under the final name"),
        "{stderr}"
    );
    // find printed nothing: no image, no .partial, no cache.
    assert_eq!(stdout.trim(), "", "left behind: {stdout}");
}

#[test]
fn a_failed_package_download_stops_the_build_and_keeps_nothing_half_fetched() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A mirror that refuses every connection: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = Command::new(build_script())
        .args(["--fetch-only", "--out"])
        .arg(dir.path())
        .args(["--mirror", &format!("http://127.0.0.1:{port}/debian")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAILED at step \"Debian root filesystem"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mmdebstrap failed (package download or install"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    let left: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".tar") || f.ends_with(".img") || f.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
