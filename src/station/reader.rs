//! The card reader port: the reader driver's events (`idcard::reader`) as [`CardEvent`]s.

use std::path::Path;

use super::ports::CardEvent;
use crate::doctor::health::HealthReporter;
use crate::idcard::reader::{CardDay, ReaderEvent, ReaderHandle, ReaderSettings, spawn_reader};

fn card_event(e: ReaderEvent) -> CardEvent {
    match e {
        ReaderEvent::CardPlaced(card) => CardEvent::Placed(card),
        ReaderEvent::CardRejected(r) => CardEvent::Rejected {
            message_zh: r.message_zh().to_owned(),
            message_en: format!(
                "This card cannot be used ({r}). Please use a valid card or ask the staff."
            ),
        },
        ReaderEvent::CardLifted => CardEvent::Lifted,
        ReaderEvent::ReaderFault(s) => CardEvent::Fault(s),
        ReaderEvent::ReaderBack => CardEvent::Back,
    }
}

/// The station's day on the wall clock: what cards are validated on (`station.time_zone`).
pub fn station_day(zone: chrono_tz::Tz) -> CardDay {
    CardDay::new(zone, chrono::Utc::now)
}

/// Starts the reader driver on `port`, validating cards on `day`, and hands each of its events
/// to `on_event` (on the runtime, not the caller's thread), after `health` (the heartbeat's
/// view of the reader) saw it. Stop it with [`ReaderHandle::stop`].
pub fn start(
    port: &Path,
    day: CardDay,
    rt: &tokio::runtime::Handle,
    health: Option<HealthReporter>,
    on_event: impl Fn(CardEvent) + Send + 'static,
) -> ReaderHandle {
    let (handle, mut rx) = spawn_reader(ReaderSettings::new(port), day);
    rt.spawn(async move {
        while let Some(e) = rx.recv().await {
            if let Some(h) = &health {
                h.reader_event(&e);
                super::health::refresh_verdict(h);
            }
            on_event(card_event(e));
        }
    });
    handle
}
