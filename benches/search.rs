//! Benchmark: search.

fn main() {}
