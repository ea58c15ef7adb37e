//! systemd's service watchdog (sd_notify): the app tells systemd it is ready (`READY=1`) after
//! its first frame and keeps saying it is alive (`WATCHDOG=1`) from the UI event loop itself, so a
//! hung UI thread (not only a dead process) makes systemd restart the app
//! (`village-kiosk.service`: `Type=notify`, `WatchdogSec=`).
//!
//! The protocol is one datagram per message to the `AF_UNIX` socket named by `NOTIFY_SOCKET`
//! (a path, or `@name` for the abstract namespace); `WATCHDOG_USEC` (and `WATCHDOG_PID`) say
//! whether and how often systemd expects pings. Outside systemd (no `NOTIFY_SOCKET`) every call
//! is a no-op, so `kiosk run` on a desktop is unaffected.
//!
//! The two calls the app makes (wired into the run loop by the UI restructure):
//!
//! ```ignore
//! let notifier = village_kiosk::watchdog::Notifier::from_env();
//! // 1. once, when the first frame has been drawn (rendering notifier AfterRendering, or the
//! //    first zero-delay timer tick after the window is shown):
//! notifier.ready();
//! // 2. on the UI thread, from a Slint timer, so that a blocked event loop stops the pings:
//! let ping = slint::Timer::default();
//! if let Some(every) = notifier.ping_interval() {
//!     let n = notifier.clone();
//!     ping.start(slint::TimerMode::Repeated, every, move || n.ping());
//! }
//! ```
//!
//! Parsing the environment is pure ([`WatchdogSettings::parse`]); the socket is the thin edge.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

/// What systemd asked for, from `WATCHDOG_USEC` and `WATCHDOG_PID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogSettings {
    /// systemd kills the service when no ping arrives within this time.
    pub timeout: Duration,
}

impl WatchdogSettings {
    /// `None` when no watchdog is armed for this process: unset or zero `WATCHDOG_USEC`, or a
    /// `WATCHDOG_PID` naming another process (the variables leaked to a child).
    pub fn parse(usec: Option<&str>, pid: Option<&str>, my_pid: u32) -> Option<WatchdogSettings> {
        let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
        if let Some(pid) = pid
            && pid.trim().parse::<u32>().ok() != Some(my_pid)
        {
            return None;
        }
        Some(WatchdogSettings {
            timeout: Duration::from_micros(usec),
        })
    }

    /// How often to ping: half the timeout, as sd_watchdog_enabled(3) advises.
    pub fn ping_interval(&self) -> Duration {
        self.timeout / 2
    }
}

/// Sends sd_notify messages; cheap to clone (the UI timer holds one).
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<Arc<UnixDatagram>>,
    watchdog: Option<WatchdogSettings>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`. A socket that cannot be reached
    /// is logged once and treated as absent: the app must run even when systemd is odd.
    pub fn from_env() -> Notifier {
        let watchdog = WatchdogSettings::parse(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        let socket = match std::env::var_os("NOTIFY_SOCKET") {
            None => None,
            Some(path) => match connect(&path.to_string_lossy()) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    tracing::warn!(
                        "NOTIFY_SOCKET {path:?} cannot be reached: {e}; systemd will not hear READY or WATCHDOG"
                    );
                    None
                }
            },
        };
        Notifier { socket, watchdog }
    }

    /// Whether systemd listens at all.
    pub fn is_enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Interval for [`Notifier::ping`], when systemd armed a watchdog for this process.
    pub fn ping_interval(&self) -> Option<Duration> {
        self.socket.as_ref()?;
        self.watchdog.map(|w| w.ping_interval())
    }

    /// `READY=1`: the first frame is on the screen.
    pub fn ready(&self) {
        self.send("READY=1\nSTATUS=showing the idle screen");
    }

    /// `WATCHDOG=1`: call from the UI event loop (a Slint timer), never from another thread.
    pub fn ping(&self) {
        self.send("WATCHDOG=1");
    }

    /// `STATUS=...`: shown by `systemctl status village-kiosk`.
    pub fn status(&self, text: &str) {
        let text = text.replace('\n', " ");
        self.send(&format!("STATUS={text}"));
    }

    /// `STOPPING=1`, before a deliberate exit.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    fn send(&self, message: &str) {
        if let Some(s) = &self.socket
            && let Err(e) = s.send(message.as_bytes())
        {
            tracing::warn!("sd_notify {message:?} failed: {e}");
        }
    }
}

fn connect(path: &str) -> std::io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        socket.connect_addr(&addr)?;
    } else {
        socket.connect(path)?;
    }
    Ok(socket)
}

/// `kiosk watchdog-probe`: a stand-in for the app's event loop, for checking a unit's watchdog
/// settings on a terminal (`systemd-run -p Type=notify -p WatchdogSec=... kiosk watchdog-probe
/// --hang-after-secs N`): READY, pings at the interval systemd asks for, then it stops pinging
/// (a hung loop) and systemd must kill and restart it.
pub fn probe(hang_after: Duration) -> ! {
    let n = Notifier::from_env();
    n.ready();
    let every = n.ping_interval().unwrap_or(Duration::from_secs(1));
    let start = std::time::Instant::now();
    while start.elapsed() < hang_after {
        n.ping();
        std::thread::sleep(every);
    }
    n.status("hung on purpose (watchdog probe)");
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_armed_only_for_this_process() {
        let on = WatchdogSettings::parse(Some("30000000"), None, 42).unwrap();
        assert_eq!(on.timeout, Duration::from_secs(30));
        assert_eq!(on.ping_interval(), Duration::from_secs(15));
        assert!(WatchdogSettings::parse(Some("30000000"), Some("42"), 42).is_some());
        assert_eq!(
            WatchdogSettings::parse(Some("30000000"), Some("7"), 42),
            None
        );
        assert_eq!(WatchdogSettings::parse(Some("0"), None, 42), None);
        assert_eq!(WatchdogSettings::parse(Some("soon"), None, 42), None);
        assert_eq!(WatchdogSettings::parse(None, None, 42), None);
    }

    #[test]
    fn messages_reach_the_notify_socket_as_datagrams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        systemd
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let n = Notifier {
            socket: Some(Arc::new(connect(path.to_str().unwrap()).unwrap())),
            watchdog: WatchdogSettings::parse(Some("4000000"), None, 1),
        };
        assert_eq!(n.ping_interval(), Some(Duration::from_secs(2)));
        n.ready();
        n.ping();
        let mut buf = [0u8; 256];
        let got = |buf: &mut [u8]| {
            let len = systemd.recv(buf).unwrap();
            String::from_utf8(buf[..len].to_vec()).unwrap()
        };
        assert!(got(&mut buf).starts_with("READY=1\n"));
        assert_eq!(got(&mut buf), "WATCHDOG=1");
        // Outside systemd nothing is sent and nothing fails.
        let off = Notifier::default();
        assert!(!off.is_enabled());
        assert_eq!(off.ping_interval(), None);
        off.ready();
    }

    #[test]
    fn abstract_socket_names_are_understood() {
        let name = format!("village-kiosk-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        systemd
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let s = connect(&format!("@{name}")).unwrap();
        s.send(b"WATCHDOG=1").unwrap();
        let mut buf = [0u8; 64];
        let len = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }
}
