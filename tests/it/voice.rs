//! Spoken guidance through the real engine: espeak-ng writes WAV files that are checked for
//! audio, plays through ALSA's null device with aplay, and is killed mid-utterance on a page
//! change and on a wipe. Needs `espeak-ng` and `alsa-utils` (dev.sh test installs them).

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use village_kiosk::voice::engine::wav_path;
use village_kiosk::voice::{
    EngineSettings, Lang, Moment, Output, PageView, Personal, PublicText, UtteranceId, Voice,
    VoiceEvent,
};

const WAIT: Duration = Duration::from_secs(60);

fn next(events: &Receiver<VoiceEvent>) -> VoiceEvent {
    events
        .recv_timeout(WAIT)
        .expect("the voice thread reports within a minute")
}

fn wav_settings(dir: &Path) -> EngineSettings {
    EngineSettings {
        output: Output::WavDir(dir.to_path_buf()),
        ..EngineSettings::alsa(80)
    }
}

/// The PCM samples of a 16-bit mono WAV file espeak-ng wrote.
fn samples(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("the WAV file exists");
    assert_eq!(&bytes[..4], b"RIFF", "{}", path.display());
    assert_eq!(&bytes[8..12], b"WAVE");
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    bytes[data + 8..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn espeak_ng_speaks_the_page_and_the_moments_in_mandarin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (voice, events) = Voice::spawn(wav_settings(dir.path()), true, Lang::Zh);
    voice.page_shown(PageView::Card {
        item_name: PublicText::new("高龄津贴申领"),
        agent: false,
    });
    voice.moment(Moment::PlaceCard);
    voice.moment(Moment::CardRead);
    let mut finished = Vec::new();
    while finished.len() < 2 {
        match next(&events) {
            VoiceEvent::Started { personal, .. } => assert!(!personal),
            VoiceEvent::Finished { id } => finished.push(id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(finished, [UtteranceId(1), UtteranceId(2)]);
    for id in finished {
        let pcm = samples(&wav_path(dir.path(), id));
        // At 22050 Hz, a short sentence is well over half a second of sound.
        assert!(pcm.len() > 11_025, "{id:?}: {} samples", pcm.len());
        let loud = pcm.iter().filter(|s| s.unsigned_abs() > 1000).count();
        assert!(loud > 1000, "{id:?}: only {loud} loud samples: silence");
    }
}

#[test]
fn a_louder_volume_gives_louder_audio() {
    let peak = |volume: u8| {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = EngineSettings {
            volume,
            ..wav_settings(dir.path())
        };
        let (voice, events) = Voice::spawn(settings, true, Lang::Zh);
        voice.page_shown(PageView::Idle);
        voice.listen();
        loop {
            match next(&events) {
                VoiceEvent::Started { .. } => {}
                VoiceEvent::Finished { id } => {
                    let pcm = samples(&wav_path(dir.path(), id));
                    return pcm.iter().map(|s| u64::from(s.unsigned_abs())).sum::<u64>();
                }
                other => panic!("{other:?}"),
            }
        }
    };
    assert!(peak(100) > peak(30));
}

/// A FIFO nobody reads: espeak-ng cannot finish writing its WAV into it, so the utterance is
/// still going when it is cut off.
fn stuck_utterance(dir: &Path, id: u64) {
    nix::unistd::mkfifo(
        &wav_path(dir, UtteranceId(id)),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .expect("mkfifo");
}

fn started(events: &Receiver<VoiceEvent>) -> (UtteranceId, u32, bool) {
    match next(events) {
        VoiceEvent::Started { id, pid, personal } => (id, pid, personal),
        other => panic!("{other:?}"),
    }
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_page_change_kills_the_engine_mid_utterance() {
    let dir = tempfile::tempdir().expect("tempdir");
    stuck_utterance(dir.path(), 1);
    let (voice, events) = Voice::spawn(wav_settings(dir.path()), true, Lang::Zh);
    voice.page_shown(PageView::Home);
    voice.listen();
    let (id, pid, _) = started(&events);
    voice.page_shown(PageView::Search);
    assert_eq!(next(&events), VoiceEvent::Cut { id });
    assert!(gone(pid), "espeak-ng {pid} still exists after the cut");
    // The new page speaks normally.
    voice.listen();
    let (id, _, _) = started(&events);
    assert_eq!(next(&events), VoiceEvent::Finished { id });
    assert!(!samples(&wav_path(dir.path(), id)).is_empty());
}

#[test]
fn a_wipe_kills_the_reading_of_the_villagers_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    stuck_utterance(dir.path(), 1);
    let (voice, events) = Voice::spawn(wav_settings(dir.path()), true, Lang::Zh);
    voice.page_shown(PageView::Confirm {
        item_name: PublicText::new("高龄津贴申领"),
        answers: vec![(PublicText::new("联系电话"), Personal::new("13800138000"))],
    });
    voice.read_my_answers();
    let (id, pid, personal) = started(&events);
    assert!(personal);
    voice.wipe();
    assert_eq!(next(&events), VoiceEvent::Cut { id });
    assert!(gone(pid));
    // Nothing of the wiped visit is spoken again.
    voice.read_my_answers();
    voice.listen();
    voice.page_shown(PageView::Idle);
    voice.listen();
    let (id, _, personal) = started(&events);
    assert!(!personal);
    assert_eq!(id, UtteranceId(2));
}

#[test]
fn alsa_playback_through_aplay() {
    let settings = EngineSettings {
        output: Output::Alsa {
            device: "null".into(),
        },
        ..EngineSettings::alsa(80)
    };
    let (voice, events) = Voice::spawn(settings, true, Lang::Zh);
    voice.page_shown(PageView::Idle);
    voice.moment(Moment::TakeReceipt);
    let (id, _, _) = started(&events);
    assert_eq!(next(&events), VoiceEvent::Finished { id });
}

#[test]
fn a_missing_engine_is_reported_not_fatal() {
    let settings = EngineSettings {
        espeak: "/nonexistent/espeak-ng".into(),
        ..EngineSettings::alsa(80)
    };
    let (voice, events) = Voice::spawn(settings, true, Lang::Zh);
    voice.page_shown(PageView::Idle);
    voice.moment(Moment::PlaceCard);
    match next(&events) {
        VoiceEvent::Failed { error, .. } => {
            assert!(error.contains("apt-get install espeak-ng"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}
