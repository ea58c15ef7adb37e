//! A simulated ID card reader: speaks the SAM protocol byte for byte on a pseudo-terminal, so
//! the real driver opens a real tty with serialport (tests, demo mode, `kiosk sim idcard`).
//!
//! It answers at the configured baud rate (writes are paced at 10 bits per byte, since a pty
//! has no line speed of its own), stays silent when the driver's tty is set to another baud,
//! and can misbehave like real readers: responses split into pieces, noise before responses,
//! a card that must be lifted and placed again after a read, an old SAM without 30 10, and a
//! reader that goes silent.
//!
//! It must never be used in place of a reader on a real kiosk outside demo mode, and never
//! logs card data unmasked.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::time::Instant;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::idcard::card::{CardKind, IdCard, Sex, TextBlockError, gb11643_check_char, nation_name};
use crate::idcard::protocol::{Command, FrameError, ReadData, RequestDecoder, Response, Status};
use crate::sim::pty::Pty;

/// How the simulated reader behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Make the tty reachable through this stable symlink (like /dev/serial/by-id/…).
    pub link: Option<PathBuf>,
    /// The card on the reader at start.
    pub card: Option<SimCard>,
    /// The reader's line speed: writes are paced at it, and requests sent while the tty is set
    /// to another speed are ignored (a real reader sees only garbage then).
    pub baud: u32,
    /// Pace writes at `baud` (10 bits per byte). Off: write as fast as the pty takes them.
    pub pace: bool,
    /// Split every response into this many pieces with short gaps (1 = whole).
    pub pieces: usize,
    /// Send noise bytes before every response.
    pub noise: bool,
    /// After a read the card is not found again until it is lifted and placed again (as on
    /// most real readers); it can still be selected while it stays in the field.
    pub replace_after_read: bool,
    /// Answer 30 10 with status 21, like old SAM modules.
    pub old_sam: bool,
    /// Answer nothing.
    pub silent: bool,
    /// Fingerprint block length in a 30 10 answer (0, 512 or 1024).
    pub fingerprint_len: usize,
    /// Fail this many reads (status 41) after every placement, like a card laid down askew.
    pub failing_reads: u32,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            link: None,
            card: None,
            baud: 115_200,
            pace: true,
            pieces: 1,
            noise: false,
            replace_after_read: false,
            old_sam: false,
            silent: false,
            fingerprint_len: 1024,
            failing_reads: 0,
        }
    }
}

/// A card to put on the simulated reader. Its JSON (for `kiosk sim idcard --card FILE.json`)
/// uses the field names of `kiosk card read --json`; `valid_until` null or absent is 长期.
/// The data need not be valid: invalid cards test the kiosk's rejections.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SimCard {
    #[zeroize(skip)]
    pub card_kind: CardKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    /// `male`, `female`, `unknown`, `not_stated`; also accepted: 男/女/未知/未说明 and the codes
    /// 1/2/0/9, so the output of `kiosk card read --json --show-pii` replays as is.
    #[zeroize(skip)]
    #[serde(deserialize_with = "sex_any")]
    pub sex: Sex,
    /// GB/T 3304 code, e.g. "01" (resident cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nation_code: Option<String>,
    /// ISO 3166 alpha-3 (foreigner's card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[zeroize(skip)]
    pub birth_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub id_number: String,
    pub issuer: String,
    #[zeroize(skip)]
    pub valid_from: NaiveDate,
    #[zeroize(skip)]
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_count: Option<u32>,
    /// WLT photo bytes; a fixed 1024-byte stand-in when absent.
    #[serde(default = "demo_photo", skip_serializing)]
    pub photo: Vec<u8>,
}

impl std::fmt::Debug for SimCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCard")
            .field("card_kind", &self.card_kind)
            .field("id_number", &crate::pii::Masked::id_number(&self.id_number))
            .finish_non_exhaustive()
    }
}

fn sex_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Sex, D::Error> {
    let s = String::deserialize(d)?;
    let sex = match s.as_str() {
        "male" | "男" => Some(Sex::Male),
        "female" | "女" => Some(Sex::Female),
        "unknown" | "未知" => Some(Sex::Unknown),
        "not_stated" | "未说明" => Some(Sex::NotStated),
        code => Sex::from_code(code),
    };
    sex.ok_or_else(|| serde::de::Error::custom(format!("unknown sex {s:?}")))
}

/// A stand-in for a WLT photo: 1024 bytes, opaque like the real thing.
fn demo_photo() -> Vec<u8> {
    let mut photo = b"WLT-DEMO".to_vec();
    photo.extend((0..1024 - 8).map(|i: u32| (i.wrapping_mul(37) % 251) as u8));
    photo
}

/// A citizen-style number from its first 17 digits plus the GB 11643 check character.
fn with_check(first17: &str) -> String {
    let check = gb11643_check_char(first17).unwrap_or('0');
    format!("{first17}{check}")
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Today minus one year, so permits valid for years are valid whenever the demo runs.
fn a_year_ago() -> NaiveDate {
    let today = chrono::Local::now().date_naive();
    today
        .with_year(today.year() - 1)
        .unwrap_or(today - chrono::Days::new(366))
}

fn years_after(d: NaiveDate, years: i32) -> NaiveDate {
    d.with_year(d.year() + years)
        .unwrap_or(d + chrono::Days::new(365 * years as u64))
}

impl SimCard {
    /// A resident ID card (居民身份证) of a fictional villager, valid 长期.
    pub fn demo_resident() -> SimCard {
        SimCard {
            card_kind: CardKind::Resident,
            name: "王小明".into(),
            english_name: None,
            sex: Sex::Male,
            nation_code: Some("01".into()),
            nationality: None,
            birth_date: ymd(1960, 1, 1),
            address: Some("安徽省宣城市示范县城关镇东关村12号".into()),
            id_number: with_check("34052419600101001"),
            issuer: "示范县公安局".into(),
            valid_from: ymd(2015, 3, 1),
            valid_until: None,
            pass_number: None,
            issue_count: None,
            photo: demo_photo(),
        }
    }

    /// The demo villager's card for someone `years` old today (born today `years` years ago,
    /// 29 February as 28 February): for eligibility by age (e.g. 26 on 高龄津贴, 80 and over).
    /// A valid ID number from the same county (示范县, 340524).
    pub fn demo_resident_aged(years: u32) -> SimCard {
        let today = chrono::Local::now().date_naive();
        let years = i32::try_from(years).unwrap_or(0);
        let born = today
            .with_year(today.year() - years)
            .or_else(|| (today - chrono::Days::new(1)).with_year(today.year() - years))
            .unwrap_or(today);
        let mut card = SimCard::demo_resident();
        card.name = "李小华".into();
        card.birth_date = born;
        card.id_number = with_check(&format!("340524{}011", born.format("%Y%m%d")));
        card
    }

    /// A Hong Kong/Macao/Taiwan residents' residence permit (港澳台居民居住证, J), valid five
    /// years from a year ago.
    pub fn demo_hk_macao_taiwan() -> SimCard {
        let from = a_year_ago();
        SimCard {
            card_kind: CardKind::HkMacaoTaiwanPermit,
            name: "陈美玲".into(),
            english_name: None,
            sex: Sex::Female,
            nation_code: None,
            nationality: None,
            birth_date: ymd(1990, 3, 15),
            address: Some("广东省深圳市福田区示范路1号".into()),
            id_number: with_check("81000019900315002"),
            issuer: "深圳市公安局".into(),
            valid_from: from,
            valid_until: Some(years_after(from, 5)),
            pass_number: Some("H12345678".into()),
            issue_count: Some(1),
            photo: demo_photo(),
        }
    }

    /// A foreigner's permanent residence card (外国人永久居留身份证, old format I), valid ten
    /// years from a year ago.
    pub fn demo_foreign_permanent() -> SimCard {
        let from = a_year_ago();
        SimCard {
            card_kind: CardKind::ForeignPermanentResident,
            name: "史密斯".into(),
            english_name: Some("SMITH, JOHN".into()),
            sex: Sex::Male,
            nation_code: None,
            nationality: Some("CAN".into()),
            birth_date: ymd(1985, 5, 15),
            address: None,
            id_number: "CAN318505150012".into(),
            issuer: "1500".into(),
            valid_from: from,
            valid_until: Some(years_after(from, 10)),
            pass_number: None,
            issue_count: None,
            photo: demo_photo(),
        }
    }

    /// A resident ID card that expired on 2025-08-20 (otherwise valid).
    pub fn demo_expired() -> SimCard {
        SimCard {
            card_kind: CardKind::Resident,
            name: "李秀英".into(),
            english_name: None,
            sex: Sex::Female,
            nation_code: Some("03".into()),
            nationality: None,
            birth_date: ymd(1975, 8, 20),
            address: Some("河南省洛阳市示范县城关镇西关村3号".into()),
            id_number: with_check("41032919750820002"),
            issuer: "示范县公安局".into(),
            valid_from: ymd(2005, 8, 20),
            valid_until: Some(ymd(2025, 8, 20)),
            pass_number: None,
            issue_count: None,
            photo: demo_photo(),
        }
    }

    /// The card as the kiosk would decode it (not validated).
    pub fn to_id_card(&self) -> IdCard {
        let nation = self
            .nation_code
            .as_deref()
            .and_then(nation_name)
            .map(str::to_string);
        IdCard {
            kind: self.card_kind,
            name: self.name.clone(),
            english_name: self.english_name.clone(),
            sex: self.sex,
            nation_code: self.nation_code.clone(),
            nation,
            nationality: self.nationality.clone(),
            birth_date: self.birth_date,
            address: self.address.clone(),
            id_number: self.id_number.clone(),
            issuer: self.issuer.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            pass_number: self.pass_number.clone(),
            issue_count: self.issue_count,
            photo: self.photo.clone(),
        }
    }

    /// The 256-byte text block a SAM sends for this card.
    pub fn text_block(&self) -> Result<Zeroizing<Vec<u8>>, TextBlockError> {
        self.to_id_card().encode_text_block()
    }
}

/// What the simulated reader is doing now.
#[derive(Default)]
struct SimState {
    /// The card in the field, with its text block (None when it does not encode).
    card: Option<(SimCard, Option<Zeroizing<Vec<u8>>>)>,
    /// Found and selected since it was placed.
    selected: bool,
    /// Read, and not yet lifted: with `replace_after_read`, find fails now.
    read_done: bool,
    /// Reads failed since the card was placed.
    failed_reads: u32,
    silent: bool,
    /// Where to report each request received (tests watch the driver's behaviour).
    watchers: Vec<std::sync::mpsc::Sender<Option<Command>>>,
}

struct Shared {
    state: Mutex<SimState>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub use crate::station::ports::DemoCard;

impl DemoCard {
    /// The card's data as the simulator holds it.
    pub fn card(self) -> SimCard {
        match self {
            DemoCard::Resident => SimCard::demo_resident(),
            DemoCard::HkMacaoTaiwan => SimCard::demo_hk_macao_taiwan(),
            DemoCard::ForeignPermanent => SimCard::demo_foreign_permanent(),
            DemoCard::Expired => SimCard::demo_expired(),
        }
    }
}

/// A running simulated reader. Dropping it closes the pty (to the driver: the reader was
/// unplugged) and removes its link.
pub struct IdcardSimulator {
    path: PathBuf,
    slave_path: PathBuf,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for IdcardSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdcardSimulator")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl IdcardSimulator {
    /// Opens a pty and starts answering on it.
    pub fn start(options: SimOptions) -> io::Result<IdcardSimulator> {
        let pty = match &options.link {
            Some(link) => Pty::open_linked(link)?,
            None => Pty::open()?,
        };
        let path = pty.path().to_path_buf();
        let slave_path = pty.slave_path().to_path_buf();
        let master = pty.try_clone_master()?;
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState {
                silent: options.silent,
                ..SimState::default()
            }),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let sim = {
            let shared = shared.clone();
            let options = options.clone();
            std::thread::Builder::new()
                .name("idcard-sim".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        // SAFETY: `master` is an owned, open File; the AsyncFd owns it for its
                        // whole life and a File always returns the same fd.
                        let result = match unsafe { AsyncFd::register(master) } {
                            Ok(fd) => serve(fd, &shared, &options, stop_rx).await,
                            Err(e) => Err(io::Error::other(e.to_string())),
                        };
                        if let Err(e) = result {
                            tracing::warn!("ID card simulator stopped: {e}");
                        }
                    });
                    // The pty closes here, after the serving loop.
                    drop(pty);
                })?
        };
        let sim = IdcardSimulator {
            path,
            slave_path,
            shared,
            stop: Some(stop_tx),
            thread: Some(sim),
        };
        if let Some(card) = options.card {
            sim.place_card(card);
        }
        Ok(sim)
    }

    /// The path the driver opens (the link when there is one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty slave itself.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Puts a card on the reader (replacing any card there).
    pub fn place_card(&self, card: SimCard) {
        let text = match card.text_block() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("the simulated card does not encode ({e}); reads will fail");
                None
            }
        };
        let mut st = self.shared.state();
        st.card = Some((card, text));
        st.selected = false;
        st.read_done = false;
        st.failed_reads = 0;
    }

    /// Takes the card off the reader.
    pub fn lift_card(&self) {
        let mut st = self.shared.state();
        st.card = None;
        st.selected = false;
        st.read_done = false;
    }

    /// Makes the reader answer nothing (true) or answer again (false).
    pub fn set_silent(&self, silent: bool) {
        self.shared.state().silent = silent;
    }

    /// A channel that receives every request the simulator answers or ignores from now on
    /// (`None` for unknown commands), so tests can wait for the driver to do something.
    pub fn watch_requests(&self) -> std::sync::mpsc::Receiver<Option<Command>> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.shared.state().watchers.push(tx);
        rx
    }

    /// Bytes received from the driver and sent to it so far (for wire-time comparisons).
    pub fn bytes_exchanged(&self) -> (u64, u64) {
        (
            self.shared.bytes_in.load(Ordering::Relaxed),
            self.shared.bytes_out.load(Ordering::Relaxed),
        )
    }
}

impl Drop for IdcardSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The line speed the driver set on the tty (Linux: termios2, as serialport sets it).
#[cfg(target_os = "linux")]
fn tty_baud(fd: &AsyncFd<std::fs::File>) -> Option<u32> {
    use std::os::fd::AsRawFd;
    // SAFETY: TCGETS2 fills a termios2 struct we own; the fd is open for the call's duration.
    let mut t: nix::libc::termios2 = unsafe { std::mem::zeroed() };
    let rc = unsafe { nix::libc::ioctl(fd.get_ref().as_raw_fd(), nix::libc::TCGETS2, &mut t) };
    (rc == 0).then_some(t.c_ospeed)
}

#[cfg(not(target_os = "linux"))]
fn tty_baud(_fd: &AsyncFd<std::fs::File>) -> Option<u32> {
    None
}

async fn serve(
    fd: AsyncFd<std::fs::File>,
    shared: &Shared,
    options: &SimOptions,
    mut stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut decoder = RequestDecoder::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::select! {
            _ = &mut stop => return Ok(()),
            r = read_some(&fd, &mut buf) => r?,
        };
        shared.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        decoder.push(&buf[..n]);
        while let Some(decoded) = decoder.next_frame() {
            // A real reader cannot make sense of bytes sent at another speed.
            if let Some(baud) = tty_baud(&fd)
                && baud != options.baud
            {
                continue;
            }
            if options.pace {
                // The request's bytes took their time on the wire before the reader had them.
                let len = decoded.as_ref().map_or(0, |r| r.encode().len());
                let byte_time = 10.0 / f64::from(options.baud.max(1));
                tokio::time::sleep(Duration::from_secs_f64(byte_time * len as f64)).await;
            }
            let response = match decoded {
                Ok(request) => {
                    let command = request.known_command();
                    answer(command, shared, options)
                }
                Err(FrameError::BadChecksum { .. }) => {
                    Some(Response::new(Status::ChecksumError, vec![]))
                }
                Err(FrameError::ImpossibleLength(_)) => {
                    Some(Response::new(Status::LengthError, vec![]))
                }
            };
            let Some(response) = response else { continue };
            let mut out = Vec::new();
            if options.noise {
                out.extend_from_slice(&[0x00, 0xAA, 0xAA, 0x96, 0x13, 0xFF]);
            }
            out.extend(response.encode());
            tokio::select! {
                _ = &mut stop => return Ok(()),
                r = send(&fd, &out, options) => r?,
            }
            shared
                .bytes_out
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            out.zeroize();
        }
    }
}

/// What the reader answers to a command (None: nothing, it is silent).
fn answer(command: Option<Command>, shared: &Shared, options: &SimOptions) -> Option<Response> {
    let mut st = shared.state();
    st.watchers.retain(|w| w.send(command).is_ok());
    if st.silent {
        return None;
    }
    let ok = |data: Vec<u8>| Some(Response::new(Status::Success, data));
    let fail = |status| Some(Response::new(status, vec![]));
    match command {
        None => fail(Status::CommandError),
        Some(Command::ResetSam | Command::SamStatus) => ok(vec![]),
        Some(Command::ReadSamId) => ok(vec![
            0x05, 0x01, 0x20, 0x26, 0x01, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
        ]),
        Some(Command::FindCard) => {
            if st.card.is_some() && !(options.replace_after_read && st.read_done) {
                Some(Response::new(Status::FindCardOk, vec![0; 4]))
            } else {
                fail(Status::NoCard)
            }
        }
        Some(Command::SelectCard) => {
            if st.card.is_some() {
                st.selected = true;
                ok(vec![0; 8])
            } else {
                fail(Status::SelectFailed)
            }
        }
        Some(Command::ReadTextPhotoFingerprint) if options.old_sam => fail(Status::CommandError),
        Some(c @ (Command::ReadTextPhoto | Command::ReadTextPhotoFingerprint)) => {
            if !st.selected || st.failed_reads < options.failing_reads {
                st.failed_reads = st.failed_reads.saturating_add(1);
                return fail(Status::ReadFailed);
            }
            let Some((card, Some(text))) = &st.card else {
                return fail(Status::ReadFailed);
            };
            let data = ReadData {
                text: text.to_vec(),
                photo: card.photo.clone(),
                fingerprint: (c == Command::ReadTextPhotoFingerprint)
                    .then(|| vec![0; options.fingerprint_len]),
            };
            st.read_done = true;
            ok(data.encode())
        }
        Some(Command::ReadAppendedAddress) => fail(Status::NoContent),
    }
}

pub(crate) async fn read_some(fd: &AsyncFd<std::fs::File>, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|inner| inner.get_ref().read(buf)) {
            Ok(Ok(0)) => {
                // Nobody has the slave open right now; wait for a driver.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(Ok(n)) => return Ok(n),
            Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => {
                // No slave open (the driver closed it): wait for one.
                guard.clear_ready();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

pub(crate) async fn write_all(fd: &AsyncFd<std::fs::File>, mut bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    while !bytes.is_empty() {
        let mut guard = fd.writable().await?;
        match guard.try_io(|inner| inner.get_ref().write(bytes)) {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

/// Writes a response in the configured pieces, paced at the line speed.
async fn send(fd: &AsyncFd<std::fs::File>, bytes: &[u8], options: &SimOptions) -> io::Result<()> {
    let pieces = options.pieces.max(1).min(bytes.len().max(1));
    let piece_len = bytes.len().div_ceil(pieces);
    // 10 bits per byte on an 8N1 line.
    let byte_time = Duration::from_secs_f64(10.0 / f64::from(options.baud.max(1)));
    let start = Instant::now();
    let mut sent = 0usize;
    for (i, piece) in bytes.chunks(piece_len.max(1)).enumerate() {
        if i > 0 {
            // A gap between pieces, as USB-serial bridges make.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        if options.pace {
            // Paced in chunks of 64 bytes (5.6 ms at 115200), each handed to the pty when the
            // line would have delivered its last byte.
            for chunk in piece.chunks(64) {
                sent += chunk.len();
                tokio::time::sleep_until(start + byte_time * sent as u32).await;
                write_all(fd, chunk).await?;
            }
        } else {
            write_all(fd, piece).await?;
            sent += piece.len();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_cards_are_valid_except_the_expired_one() {
        let today = chrono::Local::now().date_naive();
        for card in [
            SimCard::demo_resident(),
            SimCard::demo_hk_macao_taiwan(),
            SimCard::demo_foreign_permanent(),
        ] {
            let text = card.text_block().unwrap();
            let decoded = IdCard::from_sam(&text, card.photo.clone(), today).unwrap();
            assert_eq!(decoded, card.to_id_card());
        }
        let expired = SimCard::demo_expired();
        let text = expired.text_block().unwrap();
        assert!(matches!(
            IdCard::from_sam(&text, vec![], today),
            Err(crate::idcard::CardRejection::Expired { .. })
        ));
    }

    #[test]
    fn card_json_round_trips_and_accepts_the_read_output() {
        let card = SimCard::demo_hk_macao_taiwan();
        let json = serde_json::to_string(&card).unwrap();
        let back: SimCard = serde_json::from_str(&json).unwrap();
        assert_eq!(back, card);

        // The shape `kiosk card read --json --show-pii` prints.
        let read_output = r#"{
            "card_kind": "resident", "name": "王小明", "sex": "男", "sex_code": "1",
            "nation": "汉", "nation_code": "01", "birth_date": "1960-01-01",
            "address": "安徽省宣城市示范县城关镇东关村12号", "id_number": "340524196001010010",
            "issuer": "示范县公安局", "valid_from": "2015-03-01", "valid_until": null,
            "photo_bytes": 1024, "masked": false
        }"#;
        let replay: SimCard = serde_json::from_str(read_output).unwrap();
        assert_eq!(replay.sex, Sex::Male);
        assert_eq!(replay.valid_until, None);
        assert_eq!(replay.id_number, SimCard::demo_resident().id_number);
        assert!(serde_json::from_str::<SimCard>(&read_output.replace("男", "X")).is_err());
    }
}
