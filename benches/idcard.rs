//! Benchmark: idcard.

fn main() {}
