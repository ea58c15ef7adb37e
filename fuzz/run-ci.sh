#!/bin/sh
# Runs every fuzz target (or the ones named) for a bounded time each, for CI.
#
#   fuzz/run-ci.sh [SECONDS] [TARGET...]      default: 20 s for each target of `cargo fuzz list`
#
# Each target starts from its committed seeds (fuzz/seeds/<target>, regression inputs included)
# and the corpus it grew before (fuzz/corpus/<target>, not committed). Prints one line per target:
#   fuzz: <target> seconds=S executions=N result=ok|CRASH
# and exits 1 if any target crashed (its input is in fuzz/artifacts/<target>/; the log tail is
# printed). Needs a nightly toolchain and cargo-fuzz (installed from crates.io when missing).
set -eu
cd "$(dirname "$0")"
SECS=${1:-20}
[ $# -gt 0 ] && shift
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
TARGETS=${*:-$(cargo +nightly fuzz list)}
cargo +nightly fuzz build >&2
fail=0
for t in $TARGETS; do
    mkdir -p "corpus/$t" "seeds/$t"
    log=$(mktemp)
    if cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        fail=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    echo "fuzz: $t seconds=$SECS executions=${runs:-?} result=$result"
    if [ "$result" != ok ]; then
        tail -n 60 "$log" >&2
    fi
    rm -f "$log"
done
exit "$fail"
