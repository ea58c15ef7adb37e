//! Demo mode's [`DemoCardHand`]: puts the reader simulator's demo cards on the simulated reader.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ports::{DemoCard, DemoCardHand, DeviceError};
use crate::sim::idcard::IdcardSimulator;

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
    /// next card as a new one.
    fn lift_and_wait(&self) {
        let requests = self.sim.watch_requests();
        self.sim.lift_card();
        // Two requests: the one in flight may have been answered with the card still there.
        for _ in 0..2 {
            if requests.recv_timeout(Duration::from_secs(3)).is_err() {
                break;
            }
        }
    }
}

impl DemoCardHand for SimCardHand {
    fn place(&self, card: DemoCard) -> Result<(), DeviceError> {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        if *placed {
            self.lift_and_wait();
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
