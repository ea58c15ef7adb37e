//! The speech driver (语音播报驱动): runs the [`SpeechQueue`] on its own thread and speaks its
//! utterances with espeak-ng (Debian package `espeak-ng`, Mandarin voice `cmn`) into ALSA
//! through `aplay` (package `alsa-utils`), or into WAV files for tests.
//!
//! [`Voice`] is the handle the UI holds: every method only sends on an unbounded channel, so
//! the UI thread never waits on speech. The thread starts one engine process per utterance,
//! hands it the text on stdin (never on the command line, which any local user can read in
//! `/proc`), and kills it (SIGKILL) the moment the queue says stop: a page change or a wipe cuts
//! speech off mid-word. Failures (engine missing, no sound card) are logged and reported as
//! [`VoiceEvent::Failed`]; they never reach the villager. The text is never logged.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::queue::{Command, SpeechQueue, UtteranceId};
use super::script::{Lang, Moment, PageView, Utterance};

/// Where the audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Played through ALSA: `espeak-ng --stdout | aplay -D device`.
    Alsa { device: String },
    /// Written as `<dir>/<id>.wav` (`espeak-ng -w`), for tests and for checking a voice.
    WavDir(PathBuf),
}

/// How the engine is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// The espeak-ng binary.
    pub espeak: PathBuf,
    /// The ALSA player.
    pub aplay: PathBuf,
    /// 0-100, from `[voice] volume`.
    pub volume: u8,
    /// Words per minute; espeak-ng's default is 175, slower suits elderly listeners.
    pub rate_wpm: u32,
    pub output: Output,
}

impl EngineSettings {
    /// espeak-ng from `PATH` into ALSA's default device at `volume`.
    pub fn alsa(volume: u8) -> EngineSettings {
        EngineSettings {
            espeak: "espeak-ng".into(),
            aplay: "aplay".into(),
            volume: volume.min(100),
            rate_wpm: 150,
            output: Output::Alsa {
                device: "default".into(),
            },
        }
    }

    /// The settings for `[voice]` in the config; `None` when voice is off.
    pub fn from_config(config: &crate::config::VoiceConfig) -> Option<EngineSettings> {
        config.enabled.then(|| EngineSettings::alsa(config.volume))
    }
}

/// espeak-ng's voice for a language.
pub fn voice_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "cmn",
        Lang::En => "en",
    }
}

/// espeak-ng's amplitude (0-200, 100 its default) for a volume of 0-100.
pub fn amplitude(volume: u8) -> u32 {
    u32::from(volume.min(100)) * 2
}

/// The espeak-ng arguments for one utterance (the text goes on stdin).
pub fn espeak_args(settings: &EngineSettings, lang: Lang, id: UtteranceId) -> Vec<String> {
    let mut args = vec![
        "-v".to_owned(),
        voice_name(lang).to_owned(),
        "-a".to_owned(),
        amplitude(settings.volume).to_string(),
        "-s".to_owned(),
        settings.rate_wpm.to_string(),
        "--stdin".to_owned(),
    ];
    match &settings.output {
        Output::Alsa { .. } => args.push("--stdout".to_owned()),
        Output::WavDir(dir) => {
            args.push("-w".to_owned());
            args.push(wav_path(dir, id).display().to_string());
        }
    }
    args
}

/// Where [`Output::WavDir`] puts utterance `id`.
pub fn wav_path(dir: &std::path::Path, id: UtteranceId) -> PathBuf {
    dir.join(format!("{}.wav", id.0))
}

/// What the speech thread reports (to logs and tests; the UI may ignore them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceEvent {
    /// The engine process started; `pid` is espeak-ng's.
    Started {
        id: UtteranceId,
        pid: u32,
        personal: bool,
    },
    /// Spoken to the end.
    Finished { id: UtteranceId },
    /// Cut off (page change, wipe, key moments off): the processes are killed and reaped.
    Cut { id: UtteranceId },
    /// Could not be spoken; the text says why, for technicians.
    Failed { id: UtteranceId, error: String },
}

/// What the UI sends.
#[derive(Debug)]
enum Input {
    PageShown(PageView),
    Listen,
    ReadMyAnswers,
    Moment(Moment),
    Wipe,
    SetAuto(bool),
    SetVolume(u8),
    SetLang(Lang),
}

/// The UI's handle on spoken guidance. Cheap to call from the UI thread: nothing blocks.
/// Dropping it stops the thread and kills any speech.
#[derive(Debug)]
pub struct Voice {
    tx: Option<mpsc::Sender<Input>>,
    thread: Option<JoinHandle<()>>,
}

impl Voice {
    /// Starts the speech thread. `auto`: key moments spoken by themselves.
    pub fn spawn(
        settings: EngineSettings,
        auto: bool,
        lang: Lang,
    ) -> (Voice, mpsc::Receiver<VoiceEvent>) {
        let (tx, rx) = mpsc::channel();
        let (events_tx, events) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("voice".into())
            .spawn(move || {
                Driver {
                    settings,
                    queue: SpeechQueue::new(auto, lang),
                    inputs: rx,
                    events: events_tx,
                    running: None,
                }
                .run()
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("cannot start the voice thread: {e}; the kiosk stays silent");
                None
            }
        };
        (
            Voice {
                tx: Some(tx),
                thread,
            },
            events,
        )
    }

    /// A page is on screen (cuts off what the last page said).
    pub fn page_shown(&self, page: PageView) {
        self.send(Input::PageShown(page));
    }
    /// 「听」.
    pub fn listen(&self) {
        self.send(Input::Listen);
    }
    /// 「读出我填的信息」 on the confirmation page.
    pub fn read_my_answers(&self) {
        self.send(Input::ReadMyAnswers);
    }
    /// A key moment (spoken when key moments are on).
    pub fn moment(&self, moment: Moment) {
        self.send(Input::Moment(moment));
    }
    /// The visit was wiped: cut off, forget the page.
    pub fn wipe(&self) {
        self.send(Input::Wipe);
    }
    /// Key moments on or off.
    pub fn set_auto(&self, auto: bool) {
        self.send(Input::SetAuto(auto));
    }
    /// 0-100; applies from the next utterance.
    pub fn set_volume(&self, volume: u8) {
        self.send(Input::SetVolume(volume));
    }
    pub fn set_lang(&self, lang: Lang) {
        self.send(Input::SetLang(lang));
    }

    fn send(&self, input: Input) {
        if let Some(tx) = &self.tx
            && tx.send(input).is_err()
        {
            tracing::warn!("the voice thread has stopped; nothing is spoken");
        }
    }
}

impl Drop for Voice {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the voice thread panicked");
        }
    }
}

/// The engine processes of the utterance being spoken.
struct Running {
    id: UtteranceId,
    espeak: Child,
    player: Option<Child>,
    espeak_status: Option<ExitStatus>,
    player_status: Option<ExitStatus>,
}

struct Driver {
    settings: EngineSettings,
    queue: SpeechQueue,
    inputs: mpsc::Receiver<Input>,
    events: mpsc::Sender<VoiceEvent>,
    running: Option<Running>,
}

/// How often a running engine is checked for its end; stop requests are handled at once.
const POLL: Duration = Duration::from_millis(20);

impl Driver {
    fn run(mut self) {
        loop {
            let input = if self.running.is_some() {
                match self.inputs.recv_timeout(POLL) {
                    Ok(i) => Some(i),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.inputs.recv() {
                    Ok(i) => Some(i),
                    Err(_) => break,
                }
            };
            if let Some(input) = input {
                self.apply(input);
            }
            self.drain_commands();
            self.check_running();
            self.drain_commands();
        }
        if let Some(r) = self.running.take() {
            kill(r);
        }
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::PageShown(p) => self.queue.page_shown(p),
            Input::Listen => self.queue.listen(),
            Input::ReadMyAnswers => {
                self.queue.read_my_answers();
            }
            Input::Moment(m) => self.queue.moment(&m),
            Input::Wipe => self.queue.wipe(),
            Input::SetAuto(a) => self.queue.set_auto(a),
            Input::SetVolume(v) => self.settings.volume = v.min(100),
            Input::SetLang(l) => self.queue.set_lang(l),
        }
    }

    fn drain_commands(&mut self) {
        while let Some(command) = self.queue.poll_command() {
            match command {
                Command::Speak { id, utterance } => match self.start(id, &utterance) {
                    Ok(running) => {
                        let pid = running.espeak.id();
                        self.running = Some(running);
                        self.report(VoiceEvent::Started {
                            id,
                            pid,
                            personal: utterance.personal,
                        });
                    }
                    Err(error) => {
                        tracing::warn!(utterance = id.0, "speech failed: {error}");
                        self.report(VoiceEvent::Failed { id, error });
                        self.queue.finished(id);
                    }
                },
                Command::Stop { id } => {
                    if let Some(r) = self.running.take_if(|r| r.id == id) {
                        kill(r);
                        self.report(VoiceEvent::Cut { id });
                    }
                }
            }
        }
    }

    fn check_running(&mut self) {
        let Some(r) = &mut self.running else { return };
        if r.espeak_status.is_none() {
            r.espeak_status = r.espeak.try_wait().ok().flatten();
        }
        if let Some(p) = &mut r.player
            && r.player_status.is_none()
        {
            r.player_status = p.try_wait().ok().flatten();
        }
        let done = r.espeak_status.is_some() && (r.player.is_none() || r.player_status.is_some());
        if !done {
            return;
        }
        let Some(r) = self.running.take() else { return };
        let id = r.id;
        let failed = [("espeak-ng", r.espeak_status), ("aplay", r.player_status)]
            .into_iter()
            .find_map(|(what, s)| {
                s.filter(|s| !s.success())
                    .map(|s| format!("{what} exited with {s}"))
            });
        match failed {
            None => self.report(VoiceEvent::Finished { id }),
            Some(error) => {
                let error = format!(
                    "{error}; check that espeak-ng and alsa-utils are installed (apt-get install espeak-ng alsa-utils) and that `aplay -l` lists the sound card"
                );
                tracing::warn!(utterance = id.0, "speech failed: {error}");
                self.report(VoiceEvent::Failed { id, error });
            }
        }
        self.queue.finished(id);
    }

    fn start(&self, id: UtteranceId, utterance: &Utterance) -> Result<Running, String> {
        let args = espeak_args(&self.settings, utterance.lang, id);
        let mut espeak = Process::new(&self.settings.espeak)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(match self.settings.output {
                Output::Alsa { .. } => Stdio::piped(),
                Output::WavDir(_) => Stdio::null(),
            })
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {}: {e}; install espeak-ng (apt-get install espeak-ng)",
                    self.settings.espeak.display()
                )
            })?;
        let player = match &self.settings.output {
            Output::Alsa { device } => {
                let audio = espeak
                    .stdout
                    .take()
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null());
                match Process::new(&self.settings.aplay)
                    .args(["-q", "-t", "wav", "-D", device, "-"])
                    .stdin(audio)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                {
                    Ok(p) => Some(p),
                    Err(e) => {
                        let _ = espeak.kill();
                        let _ = espeak.wait();
                        return Err(format!(
                            "cannot run {}: {e}; install alsa-utils (apt-get install alsa-utils)",
                            self.settings.aplay.display()
                        ));
                    }
                }
            }
            Output::WavDir(_) => None,
        };
        // Utterances are a few hundred characters, far below a pipe's buffer: this write
        // does not wait on the engine. Dropping stdin ends the text.
        if let Some(mut stdin) = espeak.stdin.take()
            && let Err(e) = stdin.write_all(utterance.text.as_bytes())
        {
            tracing::warn!(utterance = id.0, "cannot hand the text to espeak-ng: {e}");
        }
        Ok(Running {
            id,
            espeak,
            player,
            espeak_status: None,
            player_status: None,
        })
    }

    fn report(&self, event: VoiceEvent) {
        // Nobody listening is fine: the UI may drop the receiver.
        let _ = self.events.send(event);
    }
}

/// Kills the engine and the player and reaps them.
fn kill(mut r: Running) {
    for child in std::iter::once(&mut r.espeak).chain(r.player.as_mut()) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_never_carries_the_text() {
        let mut s = EngineSettings::alsa(70);
        let args = espeak_args(&s, Lang::Zh, UtteranceId(3));
        assert_eq!(
            args,
            ["-v", "cmn", "-a", "140", "-s", "150", "--stdin", "--stdout"]
        );
        s.output = Output::WavDir("/tmp/v".into());
        s.volume = 100;
        let args = espeak_args(&s, Lang::En, UtteranceId(3));
        assert_eq!(
            args,
            [
                "-v",
                "en",
                "-a",
                "200",
                "-s",
                "150",
                "--stdin",
                "-w",
                "/tmp/v/3.wav"
            ]
        );
        assert_eq!(amplitude(255), 200);
        assert_eq!(EngineSettings::alsa(250).volume, 100);
    }
}
