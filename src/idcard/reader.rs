//! The serial driver of the ID card reader: the thin I/O layer around [`super::protocol`].
//!
//! [`Reader`] is the synchronous driver (open a port, one transaction at a time, explicit
//! timeouts); [`spawn_reader`] runs it on its own thread, polls find -> select -> read every
//! [`ReaderSettings::poll_interval`] and reports [`ReaderEvent`]s on a tokio channel, so the UI
//! never blocks. The thread reopens the port by itself when the device disappears (USB
//! unplugged) and says so when it comes back.
//!
//! It must never log personal data unmasked, never keep card data after handing it on, and
//! never hand on a card that failed validation as `CardPlaced`. It reads no clock of its own:
//! cards are validated on the station's day from the [`CardDay`] it is given.

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serialport::{ClearBuffer, SerialPort, TTYPort};
use tokio::sync::mpsc;

use super::card::{CardRejection, IdCard};
use super::profile::{ReaderProfile, ReaderProfileError};
use super::protocol::{Command, ReadData, ReadDataError, Response, ResponseDecoder, Status};
use crate::pii::Masked;

/// How the driver talks to the reader. [`ReaderSettings::new`] gives the values vendors use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSettings {
    /// Serial device, e.g. `/dev/ttyUSB0` or a stable `/dev/serial/by-id/…` link.
    pub port: PathBuf,
    /// Line speed; SAM readers leave the factory at 115200.
    pub baud: u32,
    /// Time between polls; real readers want no faster than about 300 ms.
    pub poll_interval: Duration,
    /// How long to wait for the answer to find/select/status (vendors: 100-800 ms).
    pub command_timeout: Duration,
    /// How long to wait for the answer to a read (vendors: 1-2 s).
    pub read_timeout: Duration,
    /// Further read attempts after a failed read (status 41 and the like).
    pub read_retries: u32,
    /// Time between attempts to reopen a port that is gone or failed to open.
    pub reopen_interval: Duration,
    /// Ask the card for its fingerprint block too (30 10 instead of 30 01). Off by default:
    /// no kiosk service needs fingerprints, and data never read cannot leak (issue 14 #9).
    pub fingerprint: bool,
}

impl ReaderSettings {
    pub fn new(port: impl Into<PathBuf>) -> ReaderSettings {
        ReaderSettings {
            port: port.into(),
            baud: 115_200,
            poll_interval: Duration::from_millis(300),
            command_timeout: Duration::from_millis(500),
            read_timeout: Duration::from_secs(2),
            read_retries: 2,
            reopen_interval: Duration::from_secs(1),
            fingerprint: false,
        }
    }

    /// The settings of a reader of `profile` on `port`.
    pub fn from_profile(port: impl Into<PathBuf>, profile: &ReaderProfile) -> ReaderSettings {
        ReaderSettings {
            baud: profile.baud,
            poll_interval: profile.poll_interval(),
            command_timeout: profile.find_timeout(),
            read_timeout: profile.read_timeout(),
            // Text and photo only (30 01): no kiosk service needs fingerprints (issue 14 #9),
            // whatever the reader could read.
            fingerprint: false,
            ..ReaderSettings::new(port)
        }
    }

    /// The settings for the reader in the kiosk's config (`reader.profile`, `reader.baud`
    /// overriding the profile's), or `None` in demo mode (no port).
    pub fn from_config(
        config: &crate::config::ReaderConfig,
    ) -> Result<Option<ReaderSettings>, ReaderProfileError> {
        let profile = ReaderProfile::load(&config.profile)?;
        Ok(config.port.clone().map(|port| {
            let mut s = ReaderSettings::from_profile(port, &profile);
            if let Some(baud) = config.baud {
                s.baud = baud;
            }
            s
        }))
    }
}

impl Default for ReaderSettings {
    /// `/dev/ttyUSB0` (where a USB-serial reader usually appears) at 115200 baud.
    fn default() -> Self {
        ReaderSettings::new("/dev/ttyUSB0")
    }
}

/// The day a card's expiry is checked on: the station's day (`station.time_zone`) on the
/// clock the caller gives (`CardDay::new(zone, Utc::now)` on a terminal, a fixed instant in
/// tests), never the machine's own zone.
#[derive(Clone)]
pub struct CardDay {
    zone: chrono_tz::Tz,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl CardDay {
    pub fn new(
        zone: chrono_tz::Tz,
        now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
    ) -> Self {
        CardDay {
            zone,
            now: Arc::new(now),
        }
    }

    /// Today in the station's zone.
    pub fn today(&self) -> NaiveDate {
        (self.now)().with_timezone(&self.zone).date_naive()
    }
}

impl fmt::Debug for CardDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardDay").field("zone", &self.zone).finish()
    }
}

/// What the reader thread reports to the rest of the kiosk.
// A card is the big variant, and events are rare: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ReaderEvent {
    /// A card was placed, read and validated (读卡成功). The receiver owns the only copy.
    CardPlaced(IdCard),
    /// A card was placed and read but failed validation; it must not be used.
    CardRejected(CardRejection),
    /// The card that was placed is no longer on the reader.
    CardLifted,
    /// The reader cannot be used: the text says what is wrong, for logs and technicians.
    ReaderFault(String),
    /// The reader answers again after a fault.
    ReaderBack,
}

/// What went wrong talking to the reader.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error(
        "cannot open {path} at {baud} baud: {source}; check that the reader is plugged in, the path (ls -l /dev/ttyUSB* /dev/serial/by-id/) and that the kiosk user may open it (dialout group)"
    )]
    Open {
        path: String,
        baud: u32,
        source: serialport::Error,
    },
    #[error(
        "the reader on {path} does not answer at {baud} baud (no valid frame within {waited:?}); check that this port is the ID card reader, the baud rate (factory default 115200, also 57600/38400/19200/9600), the cable and the reader's power"
    )]
    NoAnswer {
        path: String,
        baud: u32,
        waited: Duration,
    },
    #[error(
        "serial I/O on {path} failed: {source}; the reader was probably unplugged, check the USB cable"
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the reader's SAM answered {status} to {command:?}; power-cycle the reader, and replace it if this persists"
    )]
    Sam { command: Command, status: Status },
}

/// The result of one poll.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum PollOutcome {
    /// No card on the reader.
    NoCard,
    /// A card was read: valid, or rejected with the reason.
    Card(Result<IdCard, CardRejection>),
    /// A card is there but could not be read (after the retries), with the SAM's last status
    /// or the malformed data.
    ReadFailed(String),
}

/// The synchronous driver: one open port, one transaction at a time.
pub struct Reader {
    port: TTYPort,
    decoder: ResponseDecoder,
    settings: ReaderSettings,
    /// Whether reads use 30 10: only when [`ReaderSettings::fingerprint`] asks for it, and
    /// false once the SAM answered 30 10 with status 21 (old SAM): 30 01 from then on.
    fingerprint_command: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("port", &self.settings.port)
            .field("baud", &self.settings.baud)
            .finish_non_exhaustive()
    }
}

/// Opens a serial port at `baud`, 8N1 without flow control, reads timing out after `timeout`
/// (the card readers' line; the social security card reader's driver uses it too).
pub fn open_8n1(path: &str, baud: u32, timeout: Duration) -> Result<TTYPort, serialport::Error> {
    serialport::new(path, baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(timeout)
        .open_native()
}

impl Reader {
    /// Opens the port (8N1, exclusive). Does not talk to the reader yet.
    pub fn open(settings: &ReaderSettings) -> Result<Reader, ReaderError> {
        let path = settings.port.to_string_lossy().into_owned();
        let port = open_8n1(&path, settings.baud, settings.command_timeout).map_err(|source| {
            ReaderError::Open {
                path: path.clone(),
                baud: settings.baud,
                source,
            }
        })?;
        Ok(Reader {
            port,
            decoder: ResponseDecoder::new(),
            settings: settings.clone(),
            fingerprint_command: settings.fingerprint,
        })
    }

    pub fn settings(&self) -> &ReaderSettings {
        &self.settings
    }

    /// Sends one command and waits up to `timeout` for a well-formed response. Bytes before
    /// a preamble and frames with bad checksums are skipped while waiting.
    pub fn transact(
        &mut self,
        command: Command,
        timeout: Duration,
    ) -> Result<Response, ReaderError> {
        // A late answer to an earlier, timed-out request must not be taken for this one.
        let _ = self.port.clear(ClearBuffer::Input);
        self.decoder.clear();
        let frame = command.frame();
        self.port
            .write_all(&frame)
            .and_then(|()| self.port.flush())
            .map_err(|source| self.io_error(source))?;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 512];
        loop {
            while let Some(decoded) = self.decoder.next_frame() {
                match decoded {
                    Ok(response) => return Ok(response),
                    Err(e) => {
                        tracing::debug!(port = %self.settings.port.display(), "skipping: {e}")
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReaderError::NoAnswer {
                    path: self.settings.port.to_string_lossy().into_owned(),
                    baud: self.settings.baud,
                    waited: timeout,
                });
            }
            self.port
                .set_timeout(deadline - now)
                .map_err(|e| self.io_error(e.into()))?;
            match self.port.read(&mut buf) {
                Ok(0) => {
                    return Err(self.io_error(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "end of file",
                    )));
                }
                Ok(n) => {
                    self.decoder.push(&buf[..n]);
                    zeroize::Zeroize::zeroize(&mut buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    fn io_error(&self, source: std::io::Error) -> ReaderError {
        ReaderError::Io {
            path: self.settings.port.to_string_lossy().into_owned(),
            source,
        }
    }

    /// SAM status (11 FF): whether the reader answers at all and its SAM is well.
    pub fn sam_status(&mut self) -> Result<Status, ReaderError> {
        let timeout = self.settings.command_timeout;
        Ok(self.transact(Command::SamStatus, timeout)?.status)
    }

    /// Find card (20 01): true when a card answers.
    pub fn find_card(&mut self) -> Result<bool, ReaderError> {
        let timeout = self.settings.command_timeout;
        match self.transact(Command::FindCard, timeout)?.status {
            Status::FindCardOk => Ok(true),
            Status::NoCard => Ok(false),
            status => Err(ReaderError::Sam {
                command: Command::FindCard,
                status,
            }),
        }
    }

    /// Select card (20 02): true when the card is still in the field.
    pub fn select_card(&mut self) -> Result<bool, ReaderError> {
        let timeout = self.settings.command_timeout;
        match self.transact(Command::SelectCard, timeout)?.status {
            Status::Success => Ok(true),
            Status::SelectFailed | Status::NoCard => Ok(false),
            status => Err(ReaderError::Sam {
                command: Command::SelectCard,
                status,
            }),
        }
    }

    /// Read after a select: text and photo (30 01), or with the fingerprint block (30 10) when
    /// [`ReaderSettings::fingerprint`] asks for it and the SAM knows the command (old SAMs
    /// answer 30 10 with status 21; then 30 01).
    /// `Ok(Err(_))` is a read the card or SAM refused, with the reason.
    pub fn read_card(&mut self) -> Result<Result<ReadData, String>, ReaderError> {
        let timeout = self.settings.read_timeout;
        if self.fingerprint_command {
            let response = self.transact(Command::ReadTextPhotoFingerprint, timeout)?;
            if response.status == Status::CommandError {
                tracing::info!(
                    port = %self.settings.port.display(),
                    "the SAM does not know 30 10 (status 21); reading with 30 01 from now on"
                );
                self.fingerprint_command = false;
            } else {
                return Ok(read_data(&response, true));
            }
        }
        let response = self.transact(Command::ReadTextPhoto, timeout)?;
        Ok(read_data(&response, false))
    }

    /// One poll: find, select, read (with retries), decode and validate against `today`.
    pub fn poll(&mut self, today: NaiveDate) -> Result<PollOutcome, ReaderError> {
        if !self.find_card()? || !self.select_card()? {
            return Ok(PollOutcome::NoCard);
        }
        let mut last = String::new();
        for attempt in 0..=self.settings.read_retries {
            if attempt > 0 && !self.select_card()? {
                return Ok(PollOutcome::NoCard);
            }
            match self.read_card()? {
                Ok(data) => {
                    // `data` (text block included) is zeroised when it goes out of scope.
                    let card = IdCard::from_sam(&data.text, data.photo.clone(), today);
                    return Ok(PollOutcome::Card(card));
                }
                Err(reason) => {
                    tracing::debug!(attempt, "read failed: {reason}");
                    last = reason;
                }
            }
        }
        Ok(PollOutcome::ReadFailed(last))
    }

    /// Whether the card that was just read is still on the reader. After a read many readers
    /// no longer find the card until it is placed again, but a card still in the field can
    /// be selected, so a failed find is followed by a select.
    pub fn card_still_present(&mut self) -> Result<bool, ReaderError> {
        Ok(self.find_card()? || self.select_card()?)
    }
}

fn read_data(response: &Response, with_fingerprint: bool) -> Result<ReadData, String> {
    if response.status != Status::Success {
        return Err(format!(
            "the SAM answered the read with {}",
            response.status
        ));
    }
    ReadData::parse(&response.data, with_fingerprint)
        .map(|mut d| {
            // The kiosk has no use for fingerprints: wipe them at once.
            if let Some(fp) = d.fingerprint.as_mut() {
                zeroize::Zeroize::zeroize(fp);
            }
            d.fingerprint = None;
            d
        })
        .map_err(|e: ReadDataError| e.to_string())
}

/// Stops the reader thread when dropped (within one I/O timeout; dropping never blocks).
#[derive(Debug)]
pub struct ReaderHandle {
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderHandle {
    /// Stops the thread and waits for it to finish (at most one I/O timeout), so the port is
    /// closed when this returns.
    pub fn stop(mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread; it exits after its current transaction.
        self.stop.take();
    }
}

/// Starts the polling thread; cards are validated on `day`. Events arrive on the receiver;
/// drop the handle (or the receiver) to stop it. Never blocks the caller.
pub fn spawn_reader(
    settings: ReaderSettings,
    day: CardDay,
) -> (ReaderHandle, mpsc::Receiver<ReaderEvent>) {
    let (tx, rx) = mpsc::channel(16);
    let (stop_tx, stop_rx) = std_mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("idcard-reader".into())
        .spawn(move || PollLoop::new(settings, day, tx, stop_rx).run());
    let thread = match thread {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!("cannot start the ID card reader thread: {e}");
            None
        }
    };
    (
        ReaderHandle {
            stop: Some(stop_tx),
            thread,
        },
        rx,
    )
}

struct PollLoop {
    settings: ReaderSettings,
    /// The day cards are validated on.
    day: CardDay,
    tx: mpsc::Sender<ReaderEvent>,
    stop: std_mpsc::Receiver<()>,
    reader: Option<Reader>,
    /// The fault last reported, if the reader is faulty now.
    fault: Option<String>,
    /// A card was read (placed or rejected) and has not been lifted.
    card_present: bool,
    /// The last read failure logged, so a card that cannot be read is logged once, not per poll.
    read_failure: Option<String>,
    /// Polls in a row that got no answer: one lost frame is not yet a fault.
    unanswered: u32,
}

/// Polls in a row without an answer before the reader is reported as not answering.
const UNANSWERED_BEFORE_FAULT: u32 = 2;

/// The receiver is gone or the handle was dropped.
struct Stopped;

impl PollLoop {
    fn new(
        settings: ReaderSettings,
        day: CardDay,
        tx: mpsc::Sender<ReaderEvent>,
        stop: std_mpsc::Receiver<()>,
    ) -> Self {
        PollLoop {
            settings,
            day,
            tx,
            stop,
            reader: None,
            fault: None,
            card_present: false,
            read_failure: None,
            unanswered: 0,
        }
    }

    fn run(mut self) {
        tracing::info!(port = %self.settings.port.display(), baud = self.settings.baud, "ID card reader started");
        while self.step().is_ok() {}
        tracing::info!(port = %self.settings.port.display(), "ID card reader stopped");
    }

    fn send(&self, event: ReaderEvent) -> Result<(), Stopped> {
        self.tx.blocking_send(event).map_err(|_| Stopped)
    }

    /// Waits `d` unless told to stop.
    fn wait(&self, d: Duration) -> Result<(), Stopped> {
        match self.stop.recv_timeout(d) {
            Err(std_mpsc::RecvTimeoutError::Timeout) => Ok(()),
            _ => Err(Stopped),
        }
    }

    fn fault(&mut self, e: &ReaderError) -> Result<(), Stopped> {
        let text = e.to_string();
        if self.fault.as_deref() != Some(text.as_str()) {
            tracing::warn!("ID card reader fault: {text}");
            self.fault = Some(text.clone());
            self.send(ReaderEvent::ReaderFault(text))?;
        }
        if self.card_present {
            self.card_present = false;
            self.send(ReaderEvent::CardLifted)?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), Stopped> {
        let Some(reader) = self.reader.as_mut() else {
            match Reader::open(&self.settings) {
                Ok(r) => {
                    self.reader = Some(r);
                    return Ok(());
                }
                Err(e) => {
                    self.fault(&e)?;
                    return self.wait(self.settings.reopen_interval);
                }
            }
        };
        let today = self.day.today();
        let result = if self.card_present {
            reader.card_still_present().map(|present| {
                if present {
                    None
                } else {
                    Some(PollOutcome::NoCard)
                }
            })
        } else {
            reader.poll(today).map(Some)
        };
        if !matches!(result, Err(ReaderError::NoAnswer { .. })) {
            self.unanswered = 0;
        }
        match result {
            Ok(outcome) => {
                if self.fault.take().is_some() {
                    tracing::info!(port = %self.settings.port.display(), "ID card reader answers again");
                    self.send(ReaderEvent::ReaderBack)?;
                }
                match outcome {
                    None => {}
                    Some(PollOutcome::NoCard) if self.card_present => {
                        self.card_present = false;
                        self.send(ReaderEvent::CardLifted)?;
                    }
                    Some(PollOutcome::NoCard) => self.read_failure = None,
                    Some(PollOutcome::Card(Ok(card))) => {
                        tracing::info!(
                            kind = ?card.kind,
                            id = %Masked::id_number(&card.id_number),
                            "card read"
                        );
                        self.card_present = true;
                        self.send(ReaderEvent::CardPlaced(card))?;
                    }
                    Some(PollOutcome::Card(Err(rejection))) => {
                        tracing::warn!("card rejected: {rejection}");
                        self.card_present = true;
                        self.send(ReaderEvent::CardRejected(rejection))?;
                    }
                    Some(PollOutcome::ReadFailed(reason))
                        if self.read_failure.as_deref() != Some(reason.as_str()) =>
                    {
                        tracing::warn!("a card is on the reader but cannot be read: {reason}");
                        self.read_failure = Some(reason);
                    }
                    Some(PollOutcome::ReadFailed(_)) => {}
                }
            }
            Err(e @ ReaderError::Io { .. }) => {
                self.reader = None;
                self.fault(&e)?;
                return self.wait(self.settings.reopen_interval);
            }
            Err(e @ ReaderError::NoAnswer { .. }) => {
                self.unanswered += 1;
                if self.unanswered >= UNANSWERED_BEFORE_FAULT {
                    self.fault(&e)?;
                } else {
                    tracing::debug!("no answer from the reader, polling again: {e}");
                }
            }
            Err(e) => self.fault(&e)?,
        }
        self.wait(self.settings.poll_interval)
    }
}
