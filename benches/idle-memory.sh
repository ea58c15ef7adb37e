#!/bin/sh
# Idle memory of a kiosk build in production mode (issue 10 part 4): PSS after the first frame
# of `kiosk run --headless --exit-after-first-frame` against a real back office on loopback.
#
#   benches/idle-memory.sh KIOSK TOOLS_DIR [RUNS]
#
# KIOSK is the kiosk binary measured (e.g. the firmware, built with
# `--no-default-features --features gui`). TOOLS_DIR holds a default build's `kiosk` and
# `county-backoffice` (the firmware has neither the simulators nor the back office): they make
# the throwaway county (test PKI from `county-backoffice certs`, a signing key, the demo
# catalogue signed), serve it with mutual TLS on 127.0.0.1 (a free port), and run the reader and
# printer simulators on pseudo-terminals. A station config in a temporary directory points the
# measured kiosk at all of it; the catalogue is imported with the measured kiosk itself. Each run
# prints the kiosk's own `memory: PSS N kB after the first frame` line; the last line is the
# median over RUNS (default 5). Everything is removed and every process started is stopped at
# the end. Figures and the date: docs/PERFORMANCE.md.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 KIOSK TOOLS_DIR [RUNS]" >&2
    exit 64
fi
kiosk=$(realpath "$1")
tools=$(realpath "$2")
runs=${3:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$kiosk" "$tools/kiosk" "$tools/county-backoffice"; do
    [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }
done

work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
    done
    for p in $pids; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

station=410329-101-203
# Private copies of the tools: if TOOLS_DIR's `kiosk` were the measured file itself, the
# simulators would share its text pages and the measured PSS would come out too low.
cp "$tools/county-backoffice" "$work/county-backoffice"
cp "$tools/kiosk" "$work/tools-kiosk"
bo="$work/county-backoffice"
tk="$work/tools-kiosk"

# The county: CA, server and station certificates, signing key, the demo catalogue signed.
"$bo" certs ca --dir "$work/pki" >/dev/null
"$bo" certs server --dir "$work/pki" --host localhost >/dev/null
"$bo" certs station --dir "$work/pki" --station-id "$station" >/dev/null
"$tk" catalog keygen --out "$work/county.key" >/dev/null
"$tk" catalog sign "$repo/data/demo-catalog.json" --key "$work/county.key" \
    --out "$work/catalog.bundle" >/dev/null
public_key=$(cat "$work/county.key.pub")

# Waits until FILE has a line containing TEXT (at most 60 s), for a process started in the
# background; fails if it does not appear.
wait_line() {
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 600 ]; then
            echo "error: no \"$2\" in $1:" >&2
            cat "$1" >&2
            exit 1
        fi
        sleep 0.1
    done
}

RUST_LOG=warn "$bo" serve --listen 127.0.0.1:0 --db "$work/county.sqlite3" \
    --tls-ca "$work/pki/ca.pem" --tls-cert "$work/pki/server.pem" \
    --tls-key "$work/pki/server.key" --signing-key "$work/county.key" \
    >"$work/backoffice.out" 2>"$work/backoffice.err" </dev/null &
pids="$pids $!"
wait_line "$work/backoffice.err" "serving https"
port=$(sed -n 's/.*serving https.* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/backoffice.err" | head -n 1)

"$tk" sim idcard >"$work/reader.tty" 2>"$work/reader.err" </dev/null &
pids="$pids $!"
"$tk" sim printer --profile generic-80mm >"$work/printer.tty" 2>"$work/printer.err" </dev/null &
pids="$pids $!"
wait_line "$work/reader.tty" "/dev/"
wait_line "$work/printer.tty" "/dev/"

cat >"$work/kiosk.toml" <<EOF
[station]
id = "$station"
name = "示范县城关镇东关村便民服务站"
time_zone = "Asia/Shanghai"

[data]
dir = "$work/data"

[reader]
port = "$(head -n 1 "$work/reader.tty")"

[printer]
port = "$(head -n 1 "$work/printer.tty")"
profile = "generic-80mm"

[county]
url = "https://localhost:$port"
ca_cert = "$work/pki/ca.pem"
client_cert = "$work/pki/station-$station.pem"
client_key = "$work/pki/station-$station.key"
catalog_public_key = "$public_key"
EOF

"$kiosk" --config "$work/kiosk.toml" catalog import "$work/catalog.bundle" >/dev/null

n=0
: >"$work/pss"
while [ "$n" -lt "$runs" ]; do
    n=$((n + 1))
    out=$(RUST_LOG=warn "$kiosk" --config "$work/kiosk.toml" run --headless \
        --exit-after-first-frame </dev/null 2>"$work/run.err") || {
        echo "error: kiosk run failed:" >&2
        cat "$work/run.err" >&2
        exit 1
    }
    line=$(printf '%s\n' "$out" | grep '^memory: PSS ') || {
        echo "error: no memory line in: $out" >&2
        exit 1
    }
    echo "run $n: $line"
    printf '%s\n' "$line" | awk '{print $3}' >>"$work/pss"
done
median=$(sort -n "$work/pss" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
echo "median PSS after the first frame: $median kB ($runs runs, production mode, $kiosk)"
