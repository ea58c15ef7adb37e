//! Benchmark: ui.

fn main() {}
