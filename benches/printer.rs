//! Benchmark: printer.

fn main() {}
