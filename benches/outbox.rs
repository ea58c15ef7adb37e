//! Benchmark: outbox.

fn main() {}
