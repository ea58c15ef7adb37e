//! A villager's visit as a state machine: idle, browsing, identified, filling, submitted, rating.
