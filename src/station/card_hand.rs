//! Demo mode's [`DemoCardHand`]: puts the reader simulator's demo cards on the simulated reader.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ports::{DemoCard, DemoCardHand, DeviceError};
use crate::sim::idcard::IdcardSimulator;

/// How long [`SimCardHand`] waits for the reader to poll the empty field after lifting the
/// demo card. The reader polls every few hundred milliseconds; this is for a loaded machine (the
/// soak on two shared cores), where a bound of 3 s was once too short.
pub const LIFT_WAIT: Duration = Duration::from_secs(30);

/// Demo mode: puts the simulator's demo cards on the simulated reader.
pub struct SimCardHand {
    sim: Arc<IdcardSimulator>,
    placed: Mutex<bool>,
}

impl SimCardHand {
    pub fn new(sim: Arc<IdcardSimulator>) -> Self {
        Self {
            sim,
            placed: Mutex::new(false),
        }
    }

    /// Lifts the card and waits until the reader has polled the empty field, so it sees the
    /// next card as a new one. Only requests the simulator received after the lift count (each
    /// of them is answered with the field empty); two, because the first may be the select of a
    /// presence check whose find came before the lift. A reader that polls nothing within
    /// [`LIFT_WAIT`] is an error: placing the card anyway would leave the reader believing the
    /// old card never left, and the card page waiting for a card that never comes.
    fn lift_and_wait(&self) -> Result<(), DeviceError> {
        self.sim.lift_card();
        let requests = self.sim.watch_requests();
        let deadline = Instant::now() + LIFT_WAIT;
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if requests.recv_timeout(left).is_err() {
                return Err(DeviceError::new(
                    "演示读卡器没有响应，请再点一次“放演示身份证”。",
                    "The demo card reader does not respond; tap “Place demo ID card” again.",
                    format!(
                        "the reader did not poll the simulated reader within {}s of the demo card being lifted",
                        LIFT_WAIT.as_secs()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl DemoCardHand for SimCardHand {
    fn place(&self, card: DemoCard) -> Result<(), DeviceError> {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        if *placed {
            self.lift_and_wait()?;
        }
        self.sim.place_card(card.card());
        *placed = true;
        Ok(())
    }

    fn lift(&self) -> Result<(), DeviceError> {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        self.sim.lift_card();
        *placed = false;
        Ok(())
    }
}
