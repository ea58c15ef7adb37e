//! The serial driver of the receipt printer: the thin I/O layer around [`escpos`] and
//! [`status`].
//!
//! One worker thread owns the port; [`Printer`] is a cheap, cloneable, tokio-friendly handle
//! whose `async fn`s only send a request and await the answer, so the UI never blocks. The port
//! is opened lazily with the profile's baud and explicit flow control, writes are paced to the
//! baud rate, every read and write has a timeout, and an unplugged printer is reopened on the
//! next request. Status is checked before and after every job: a job is never reported printed
//! when the printer is out of paper or its cover is open. This module must never lay out
//! receipts or touch the UI.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, DataBits, Parity, SerialPort, StopBits};
use tokio::sync::oneshot;

use super::escpos::{self, EncodeError, Encoder};
use super::job::PrintJob;
use super::profile::{FlowControl, PrinterProfile, ProfileError};
use super::status::{PrinterFault, PrinterStatus, ReplyByte, UNEXPECTED_ANSWER, classify_reply};

/// Where the printer is and what it is. (打印机设置)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterSettings {
    /// The serial device, e.g. `/dev/ttyUSB0` or a udev symlink such as `/dev/kiosk-printer`.
    pub port: PathBuf,
    pub profile: PrinterProfile,
}

impl PrinterSettings {
    /// The settings the kiosk config names; `None` when no port is configured (demo mode starts
    /// a simulator and uses its path).
    pub fn from_config(
        config: &crate::config::PrinterConfig,
    ) -> Result<Option<PrinterSettings>, ProfileError> {
        let profile = PrinterProfile::load(&config.profile)?;
        Ok(config
            .port
            .clone()
            .map(|port| PrinterSettings { port, profile }))
    }
}

/// What happened to a job that printed.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintReport {
    /// Bytes sent to the printer.
    pub bytes_sent: usize,
    /// From the first byte written until the port drained.
    pub stream_time: Duration,
    /// What the bytes need on the wire at the profile's baud.
    pub wire_time: Duration,
    /// Status before and after the job (`None` when the profile has no status support).
    pub status_before: Option<PrinterStatus>,
    pub status_after: Option<PrinterStatus>,
}

impl PrintReport {
    /// The roll is nearly used up: printed fine, but staff should replace it soon.
    pub fn paper_near_end(&self) -> bool {
        self.status_after.is_some_and(|s| s.paper_near_end)
    }
}

/// Why a job or status request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrintError {
    #[error("cannot open printer port {port}: {reason}")]
    NotConnected { port: String, reason: String },
    #[error("lost the printer on {port}: {reason}")]
    Disconnected { port: String, reason: String },
    #[error("printer on {port} did not answer status request DLE EOT {n} within {timeout_ms} ms")]
    NoResponse {
        port: String,
        n: u8,
        timeout_ms: u64,
    },
    #[error(
        "printer on {port}: {UNEXPECTED_ANSWER} (byte {byte:#04x} to DLE EOT {n} has not the fixed bits of a status reply); check the profile's baud rate and that this port is the printer"
    )]
    UnexpectedAnswer { port: String, n: u8, byte: u8 },
    #[error("printer not ready: {0}; nothing was printed")]
    NotReady(PrinterFault),
    #[error("printer reported {0} after the job: the printout is incomplete")]
    FailedDuringJob(PrinterFault),
    #[error("printer accepted no data for {timeout_ms} ms (flow control held, printer busy)")]
    WriteTimeout { timeout_ms: u64 },
    #[error("cannot encode the job: {0}")]
    Encode(#[from] EncodeError),
    #[error("the printer driver thread has stopped")]
    DriverStopped,
}

impl PrintError {
    /// Plain Chinese for the villager's screen.
    pub fn message_zh(&self) -> &str {
        match self {
            PrintError::NotConnected { .. } | PrintError::Disconnected { .. } => {
                "打印机未连接，请联系工作人员"
            }
            PrintError::NoResponse { .. } | PrintError::UnexpectedAnswer { .. } => {
                "打印机没有响应，请联系工作人员"
            }
            PrintError::NotReady(f) => f.message_zh(),
            PrintError::FailedDuringJob(PrinterFault::PaperEnd) => {
                "打印中途缺纸，凭条未打印完整，请联系工作人员"
            }
            PrintError::FailedDuringJob(f) => f.message_zh(),
            PrintError::WriteTimeout { .. } => "打印机忙或故障，请联系工作人员",
            PrintError::Encode(_) => "打印内容有误，请联系工作人员",
            PrintError::DriverStopped => "打印功能暂不可用，请联系工作人员",
        }
    }

    /// The printer fault behind this error, if it is one.
    pub fn fault(&self) -> Option<PrinterFault> {
        match self {
            PrintError::NotReady(f) | PrintError::FailedDuringJob(f) => Some(*f),
            _ => None,
        }
    }

    /// The exit code of `kiosk print …` / `kiosk printer status` (documented in
    /// docs/printer.md): faults 4-9, not connected 2, no response 3, other errors 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            PrintError::NotReady(f) | PrintError::FailedDuringJob(f) => f.exit_code(),
            PrintError::NotConnected { .. } | PrintError::Disconnected { .. } => 2,
            PrintError::NoResponse { .. } | PrintError::UnexpectedAnswer { .. } => 3,
            _ => 1,
        }
    }
}

enum Request {
    Print(PrintJob, oneshot::Sender<Result<PrintReport, PrintError>>),
    Raw(Vec<u8>, oneshot::Sender<Result<PrintReport, PrintError>>),
    Status(oneshot::Sender<Result<PrinterStatus, PrintError>>),
}

/// A handle on the printer. Clone it freely; all clones share one worker thread, which ends
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Printer {
    tx: mpsc::Sender<Request>,
    settings: std::sync::Arc<PrinterSettings>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("port", &self.settings.port)
            .field("profile", &self.settings.profile.name)
            .finish()
    }
}

impl Printer {
    /// Starts the driver. Does not touch the port yet: an absent printer shows up as
    /// [`PrintError::NotConnected`] on the first request, and is found again when plugged in.
    pub fn new(settings: PrinterSettings) -> Printer {
        let (tx, rx) = mpsc::channel();
        let worker_settings = settings.clone();
        let spawned = std::thread::Builder::new()
            .name("printer".into())
            .spawn(move || Worker::new(worker_settings).run(rx));
        if let Err(e) = spawned {
            // Without a thread every request answers DriverStopped (the receiver is gone).
            tracing::error!("cannot start the printer thread: {e}");
        }
        Printer {
            tx,
            settings: std::sync::Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &PrinterSettings {
        &self.settings
    }

    pub fn profile(&self) -> &PrinterProfile {
        &self.settings.profile
    }

    /// Prints `job`: status check, encode, paced write, status check.
    pub async fn print(&self, job: PrintJob) -> Result<PrintReport, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Print(job, tx))?;
        rx.await.map_err(|_| PrintError::DriverStopped)?
    }

    /// Sends already-encoded ESC/POS bytes with the same checks as [`Printer::print`].
    pub async fn print_bytes(&self, bytes: Vec<u8>) -> Result<PrintReport, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Raw(bytes, tx))?;
        rx.await.map_err(|_| PrintError::DriverStopped)?
    }

    /// Asks the printer's real-time status (DLE EOT n for each n the profile supports).
    pub async fn status(&self) -> Result<PrinterStatus, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Status(tx))?;
        rx.await.map_err(|_| PrintError::DriverStopped)?
    }

    /// [`Printer::print`] for threads outside an async runtime (the CLI). Never call this on
    /// the UI thread.
    pub fn print_blocking(&self, job: PrintJob) -> Result<PrintReport, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Print(job, tx))?;
        rx.blocking_recv().map_err(|_| PrintError::DriverStopped)?
    }

    /// [`Printer::print_bytes`] for threads outside an async runtime.
    pub fn print_bytes_blocking(&self, bytes: Vec<u8>) -> Result<PrintReport, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Raw(bytes, tx))?;
        rx.blocking_recv().map_err(|_| PrintError::DriverStopped)?
    }

    /// [`Printer::status`] for threads outside an async runtime.
    pub fn status_blocking(&self) -> Result<PrinterStatus, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Status(tx))?;
        rx.blocking_recv().map_err(|_| PrintError::DriverStopped)?
    }

    fn send(&self, req: Request) -> Result<(), PrintError> {
        self.tx.send(req).map_err(|_| PrintError::DriverStopped)
    }
}

/// The thread that owns the port.
struct Worker {
    settings: PrinterSettings,
    port: Option<Box<dyn SerialPort>>,
    /// Zeros that complete a command an interrupted job left unfinished.
    owed_zeros: usize,
}

impl Worker {
    fn new(settings: PrinterSettings) -> Worker {
        Worker {
            settings,
            port: None,
            owed_zeros: 0,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(req) = rx.recv() {
            match req {
                Request::Print(job, reply) => {
                    let result = escpos::encode_job(&job, &self.settings.profile)
                        .map_err(PrintError::from)
                        .and_then(|bytes| self.job(&bytes));
                    let _ = reply.send(result);
                }
                Request::Raw(bytes, reply) => {
                    let _ = reply.send(self.job(&bytes));
                }
                Request::Status(reply) => {
                    let _ = reply.send(self.status_reopening());
                }
            }
        }
    }

    fn port_name(&self) -> String {
        self.settings.port.display().to_string()
    }

    fn open(&mut self) -> Result<&mut Box<dyn SerialPort>, PrintError> {
        if self.port.is_none() {
            let p = &self.settings.profile;
            let flow = match p.flow_control {
                FlowControl::None => serialport::FlowControl::None,
                FlowControl::XonXoff => serialport::FlowControl::Software,
                FlowControl::RtsCts => serialport::FlowControl::Hardware,
            };
            let port = serialport::new(self.settings.port.to_string_lossy(), p.baud)
                .data_bits(DataBits::Eight)
                .parity(Parity::None)
                .stop_bits(StopBits::One)
                .flow_control(flow)
                .timeout(Duration::from_millis(p.status_timeout_ms))
                .open()
                .map_err(|e| PrintError::NotConnected {
                    port: self.port_name(),
                    reason: e.to_string(),
                })?;
            tracing::info!(port = %self.port_name(), profile = %p.name, "printer port opened");
            self.port = Some(port);
        }
        match self.port.as_mut() {
            Some(port) => Ok(port),
            None => Err(PrintError::DriverStopped),
        }
    }

    fn lost(&mut self, e: impl std::fmt::Display) -> PrintError {
        self.port = None;
        tracing::warn!(port = %self.port_name(), "printer connection lost: {e}");
        PrintError::Disconnected {
            port: self.port_name(),
            reason: e.to_string(),
        }
    }

    /// Status, reopening once if the port we held went stale (printer unplugged and back).
    fn status_reopening(&mut self) -> Result<PrinterStatus, PrintError> {
        let was_open = self.port.is_some();
        match self.status() {
            Err(PrintError::Disconnected { .. }) if was_open => self.status(),
            other => other,
        }
    }

    fn status(&mut self) -> Result<PrinterStatus, PrintError> {
        let requests = self.settings.profile.status.requests();
        let timeout_ms = self.settings.profile.status_timeout_ms;
        let port_name = self.port_name();
        let owed = std::mem::take(&mut self.owed_zeros);
        let port = self.open()?;
        let mut result: Result<PrinterStatus, std::io::Error> = Ok(PrinterStatus::default());
        let mut no_answer = None;
        let mut unexpected = None;
        if owed > 0 {
            tracing::info!(
                bytes = owed,
                "completing a command an interrupted job left open"
            );
            if let Err(e) = port.write_all(&vec![0u8; owed]) {
                result = Err(e);
            }
        }
        if let Err(e) = port.clear(ClearBuffer::Input) {
            result = Err(std::io::Error::other(e.to_string()));
        }
        if let Err(e) = port.set_timeout(Duration::from_millis(timeout_ms)) {
            result = Err(std::io::Error::other(e.to_string()));
        }
        'requests: for &n in requests {
            let Ok(status) = result.as_mut() else { break };
            let mut req = Encoder::new();
            req.status_request(n);
            if let Err(e) = port.write_all(req.bytes()).and_then(|_| port.flush()) {
                result = Err(e);
                break;
            }
            let deadline = Instant::now() + Duration::from_millis(timeout_ms);
            loop {
                let mut byte = [0u8; 1];
                match port.read(&mut byte) {
                    Ok(1) => match classify_reply(n, byte[0]) {
                        ReplyByte::Reply(b) => {
                            status.apply(n, b);
                            break;
                        }
                        // XON/XOFF: keep waiting for the reply.
                        ReplyByte::FlowControl if Instant::now() < deadline => continue,
                        ReplyByte::FlowControl => {
                            no_answer = Some(n);
                            break 'requests;
                        }
                        // Noise is never read as paper or cover trouble.
                        ReplyByte::Unexpected(b) => {
                            unexpected = Some((n, b));
                            break 'requests;
                        }
                    },
                    Ok(0) => {
                        result = Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "port closed",
                        ));
                        break 'requests;
                    }
                    Ok(_) => {
                        no_answer = Some(n);
                        break 'requests;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        no_answer = Some(n);
                        break 'requests;
                    }
                    Err(e) => {
                        result = Err(e);
                        break 'requests;
                    }
                }
            }
        }
        if let Some((n, byte)) = unexpected {
            tracing::warn!(port = %port_name, n, byte, "{UNEXPECTED_ANSWER}");
            return Err(PrintError::UnexpectedAnswer {
                port: port_name,
                n,
                byte,
            });
        }
        if let Some(n) = no_answer {
            return Err(PrintError::NoResponse {
                port: port_name,
                n,
                timeout_ms,
            });
        }
        result.map_err(|e| self.lost(e))
    }

    fn job(&mut self, bytes: &[u8]) -> Result<PrintReport, PrintError> {
        let has_status = !self.settings.profile.status.requests().is_empty();
        let status_before = if has_status {
            let s = self.status_reopening()?;
            if let Some(f) = s.fault() {
                tracing::warn!(fault = %f, "printer not ready; job not sent");
                return Err(PrintError::NotReady(f));
            }
            Some(s)
        } else {
            self.open()?;
            None
        };
        let (stream_time, wire_time) = self.write_paced(bytes)?;
        let status_after = if has_status {
            let s = self.status()?;
            if let Some(f) = s.fault() {
                tracing::warn!(fault = %f, "printer fault during the job");
                return Err(PrintError::FailedDuringJob(f));
            }
            Some(s)
        } else {
            None
        };
        tracing::info!(
            bytes = bytes.len(),
            stream_ms = stream_time.as_millis() as u64,
            "print job sent"
        );
        Ok(PrintReport {
            bytes_sent: bytes.len(),
            stream_time,
            wire_time,
            status_before,
            status_after,
        })
    }

    /// Writes in chunks, never running more than one chunk ahead of the wire at the profile's
    /// baud, so a printer without working flow control is not overrun.
    fn write_paced(&mut self, bytes: &[u8]) -> Result<(Duration, Duration), PrintError> {
        let profile = self.settings.profile.clone();
        let write_timeout = Duration::from_millis(profile.write_timeout_ms);
        let port = self.open()?;
        if let Err(e) = port.set_timeout(write_timeout) {
            return Err(self.lost(e));
        }
        let start = Instant::now();
        let mut sent = 0usize;
        let mut failure = None;
        'chunks: for chunk in bytes.chunks(profile.write_chunk_bytes.max(1)) {
            let mut off = 0;
            while off < chunk.len() {
                match port.write(&chunk[off..]) {
                    Ok(0) => {
                        failure = Some(std::io::Error::from(std::io::ErrorKind::WriteZero));
                        break 'chunks;
                    }
                    Ok(n) => {
                        off += n;
                        sent += n;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        failure = Some(e);
                        break 'chunks;
                    }
                }
            }
            let due = start + profile.wire_time(sent.saturating_sub(profile.write_chunk_bytes));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if failure.is_none()
            && let Err(e) = port.flush()
        {
            failure = Some(e);
        }
        if let Some(e) = failure {
            // A command cut short (a raster image's data, a QR payload) would swallow the next
            // job's bytes: owe the printer the rest as zeros, sent before anything else.
            self.owed_zeros = escpos::bytes_owed(bytes, sent);
            if e.kind() == std::io::ErrorKind::TimedOut {
                // Keep the port: the printer is there but holding us back.
                return Err(PrintError::WriteTimeout {
                    timeout_ms: profile.write_timeout_ms,
                });
            }
            return Err(self.lost(e));
        }
        // The last chunk is on the wire only after its wire time (tcdrain waits for that on a
        // UART; on a pty nothing does): ask for status after the printer has it all.
        let wire = profile.wire_time(bytes.len());
        let elapsed = start.elapsed();
        if wire > elapsed {
            std::thread::sleep(wire - elapsed);
        }
        Ok((start.elapsed(), wire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_config() {
        let mut config = crate::config::PrinterConfig::default();
        assert_eq!(PrinterSettings::from_config(&config).unwrap(), None);
        config.port = Some("/dev/ttyUSB0".into());
        config.profile = "generic-58mm".into();
        let s = PrinterSettings::from_config(&config).unwrap().unwrap();
        assert_eq!(s.profile.dots_per_line, 384);
        config.profile = "no-such-printer".into();
        assert!(PrinterSettings::from_config(&config).is_err());
    }

    #[test]
    fn every_error_has_english_and_chinese() {
        let errors = [
            PrintError::NotConnected {
                port: "/dev/x".into(),
                reason: "gone".into(),
            },
            PrintError::NoResponse {
                port: "/dev/x".into(),
                n: 1,
                timeout_ms: 500,
            },
            PrintError::NotReady(PrinterFault::CoverOpen),
            PrintError::FailedDuringJob(PrinterFault::PaperEnd),
            PrintError::WriteTimeout { timeout_ms: 5000 },
            PrintError::UnexpectedAnswer {
                port: "/dev/x".into(),
                n: 4,
                byte: 0xA5,
            },
            PrintError::Encode(EncodeError::QrEmpty),
            PrintError::DriverStopped,
        ];
        for e in errors {
            assert!(e.to_string().is_ascii(), "{e}");
            assert!(!e.message_zh().is_ascii(), "{e}");
        }
    }
}
