//! A raw-mode pseudo-terminal pair. The simulator keeps the master; the device under test opens
//! the slave's path (or a stable symlink to it) with serialport like any serial device.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::termios::{self, SetArg};

/// An open pseudo-terminal. Dropping it closes both ends and removes the symlink, if any: to a
/// driver on the other side that looks like the device being unplugged.
#[derive(Debug)]
pub struct Pty {
    master: File,
    /// Held open so the master does not see a hang-up between a driver's opens.
    _slave: OwnedFd,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

impl Pty {
    /// Opens a new pseudo-terminal in raw mode (no echo, no line discipline).
    pub fn open() -> io::Result<Pty> {
        let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut attrs = termios::tcgetattr(&pair.slave).map_err(io::Error::from)?;
        termios::cfmakeraw(&mut attrs);
        termios::tcsetattr(&pair.slave, SetArg::TCSANOW, &attrs).map_err(io::Error::from)?;
        let slave_path = nix::unistd::ttyname(&pair.slave).map_err(io::Error::from)?;
        Ok(Pty {
            master: File::from(pair.master),
            _slave: pair.slave,
            slave_path,
            link: None,
        })
    }

    /// Opens a pseudo-terminal and points `link` at it (replacing an old link), so a driver can
    /// be configured with one stable path across simulator restarts.
    pub fn open_linked(link: &Path) -> io::Result<Pty> {
        let mut pty = Pty::open()?;
        match std::fs::remove_file(link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(&pty.slave_path, link)?;
        pty.link = Some(link.to_path_buf());
        Ok(pty)
    }

    /// The path a driver opens: the symlink when there is one, else the slave tty.
    pub fn path(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.slave_path)
    }

    /// The slave tty itself (e.g. `/dev/pts/7`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The master side: read what the driver wrote, write what the device answers.
    pub fn master(&self) -> &File {
        &self.master
    }

    /// A second handle on the master, for a reader and a writer on different threads.
    pub fn try_clone_master(&self) -> io::Result<File> {
        self.master.try_clone()
    }
}

/// A simulator's serving thread: dropping it tells the thread to stop and waits for it.
#[derive(Debug)]
pub struct Serving {
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            // Only remove the link if it still points at this pty (a newer one may own it).
            if std::fs::read_link(link).ok().as_deref() == Some(self.slave_path.as_path()) {
                let _ = std::fs::remove_file(link);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_cross_the_pty_unchanged() {
        let pty = Pty::open().unwrap();
        let mut slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(pty.slave_path())
            .unwrap();
        // Bytes a cooked tty would mangle: CR, LF, ^C, ^D, XON/XOFF.
        let sent = [0xAA, 0x0D, 0x0A, 0x03, 0x04, 0x11, 0x13, 0x00, 0xFF];
        slave.write_all(&sent).unwrap();
        let mut got = [0u8; 9];
        pty.master().read_exact(&mut got).unwrap();
        assert_eq!(got, sent);
    }
}
