//! The receipt printer simulator: an ESC/POS printer on a pseudo-terminal.
//!
//! It answers `DLE EOT` in the chosen [`PaperState`], turns what it receives into a readable
//! transcript (text, QR payloads, images, cuts) and a PNG of the paper, using the same printer
//! model as `kiosk receipt preview` ([`crate::printer::paper`]). Drivers open its tty with
//! serialport like a real printer; dropping it looks like the printer being unplugged.
//! It must never interpret bytes differently from a real printer to make a test pass.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use super::pty::Pty;
use crate::printer::bitmap::Bitmap;
use crate::printer::paper::{PaperInterpreter, PrintModes, TranscriptEntry};
use crate::printer::profile::{DEFAULT_PROFILE, PrinterProfile};
use crate::printer::status::PaperState;

/// How to start a simulated printer.
#[derive(Debug, Clone)]
pub struct SimPrinterOptions {
    /// The model simulated: paper width, native QR or not.
    pub profile: PrinterProfile,
    /// Paper and mechanism state at start.
    pub state: PaperState,
    /// A stable symlink to the tty (replaced if it exists), like a udev rule would make.
    pub link: Option<PathBuf>,
    /// The roll runs out after this many received bytes.
    pub paper_end_after_bytes: Option<usize>,
}

impl Default for SimPrinterOptions {
    /// An 80 mm printer with paper. The shipped profiles are compiled in and tested, so the
    /// lookup cannot fail on input.
    fn default() -> Self {
        SimPrinterOptions {
            profile: PrinterProfile::builtin(DEFAULT_PROFILE)
                .expect("the shipped default profile parses (tested in printer::profile)"),
            state: PaperState::Ok,
            link: None,
            paper_end_after_bytes: None,
        }
    }
}

struct Shared {
    model: Mutex<PaperInterpreter>,
    changed: Condvar,
    received: Mutex<usize>,
}

impl Shared {
    fn model(&self) -> MutexGuard<'_, PaperInterpreter> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulated printer. Drop it to unplug.
pub struct PrinterSimulator {
    pty: Pty,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PrinterSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrinterSimulator")
            .field("path", &self.pty.path())
            .finish()
    }
}

impl PrinterSimulator {
    /// Opens a pty and starts answering on it.
    pub fn start(options: SimPrinterOptions) -> io::Result<PrinterSimulator> {
        let pty = match &options.link {
            Some(link) => Pty::open_linked(link)?,
            None => Pty::open()?,
        };
        let master = pty.try_clone_master()?;
        let flags = nix::fcntl::fcntl(master.as_fd(), nix::fcntl::FcntlArg::F_GETFL)
            .map_err(io::Error::from)?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(master.as_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))
            .map_err(io::Error::from)?;
        let mut model = PaperInterpreter::new(&options.profile);
        model.set_state(options.state);
        model.set_paper_end_after(options.paper_end_after_bytes);
        let shared = Arc::new(Shared {
            model: Mutex::new(model),
            changed: Condvar::new(),
            received: Mutex::new(0),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sim-printer".into())
            .spawn(move || {
                if let Err(e) = runtime.block_on(serve(master, thread_shared, stop_rx)) {
                    tracing::warn!("printer simulator stopped: {e}");
                }
            })?;
        Ok(PrinterSimulator {
            pty,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The tty (or its stable link) a driver opens.
    pub fn path(&self) -> &Path {
        self.pty.path()
    }

    pub fn set_state(&self, state: PaperState) {
        self.shared.model().set_state(state);
    }

    pub fn state(&self) -> PaperState {
        self.shared.model().state()
    }

    /// Everything printed so far.
    pub fn transcript(&self) -> Vec<TranscriptEntry> {
        self.shared.model().transcript().to_vec()
    }

    /// Tears the printed receipts off: the transcript and the paper so far are dropped, so a
    /// long run (the soak test) does not keep every receipt in memory.
    pub fn tear_off(&self) {
        self.shared.model().tear_off();
    }

    /// The text lines printed so far.
    pub fn texts(&self) -> Vec<String> {
        self.transcript()
            .into_iter()
            .filter_map(|e| match e {
                TranscriptEntry::Text { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    /// Payloads of native QR codes printed so far.
    pub fn qr_payloads(&self) -> Vec<String> {
        self.transcript()
            .into_iter()
            .filter_map(|e| match e {
                TranscriptEntry::Qr { data, .. } => Some(data),
                _ => None,
            })
            .collect()
    }

    /// Payloads of raster QR codes printed so far (read back from the images).
    pub fn raster_qr_payloads(&self) -> Vec<String> {
        self.transcript()
            .into_iter()
            .filter_map(|e| match e {
                TranscriptEntry::Image { qr, .. } => qr,
                _ => None,
            })
            .collect()
    }

    /// Raster images printed so far.
    pub fn images(&self) -> Vec<Bitmap> {
        self.transcript()
            .into_iter()
            .filter_map(|e| match e {
                TranscriptEntry::Image { image, .. } => Some(image),
                _ => None,
            })
            .collect()
    }

    /// The print modes the last job left behind.
    pub fn modes(&self) -> PrintModes {
        self.shared.model().modes()
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> usize {
        *self
            .shared
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The paper so far as PNG.
    pub fn paper_png(&self) -> Vec<u8> {
        self.shared.model().paper_png()
    }

    /// Waits until `done` holds for the transcript, or `timeout` passes; returns the
    /// transcript either way and whether `done` held.
    pub fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[TranscriptEntry]) -> bool,
    ) -> (bool, Vec<TranscriptEntry>) {
        let deadline = Instant::now() + timeout;
        let mut model = self.shared.model();
        loop {
            if done(model.transcript()) {
                return (true, model.transcript().to_vec());
            }
            let now = Instant::now();
            if now >= deadline {
                return (false, model.transcript().to_vec());
            }
            model = match self.shared.changed.wait_timeout(model, deadline - now) {
                Ok((m, _)) => m,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Waits until `n` cuts have been made (i.e. `n` jobs finished).
    pub fn wait_for_cuts(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |t| {
            t.iter()
                .filter(|e| matches!(e, TranscriptEntry::Cut { .. }))
                .count()
                >= n
        })
        .0
    }
}

impl Drop for PrinterSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    master: std::fs::File,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> io::Result<()> {
    // SAFETY: the File owns its descriptor for as long as the AsyncFd owns the File.
    let fd = unsafe { AsyncFd::register(master) }.map_err(|e| e.into_parts().1)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let mut guard = tokio::select! {
            _ = &mut stop => return Ok(()),
            g = fd.readable() => g?,
        };
        let n = match guard.try_io(|inner| inner.get_ref().read(&mut buf)) {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO while no driver has the slave open on some kernels: wait for the next open.
            Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        };
        let replies = {
            let mut model = shared.model();
            let replies = model.feed(&buf[..n]);
            *shared.received.lock().unwrap_or_else(|p| p.into_inner()) += n;
            replies
        };
        shared.changed.notify_all();
        let mut rest = &replies[..];
        while !rest.is_empty() {
            let mut guard = fd.writable().await?;
            match guard.try_io(|inner| inner.get_ref().write(rest)) {
                Ok(Ok(w)) => rest = &rest[w..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
