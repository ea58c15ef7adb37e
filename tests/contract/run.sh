#!/usr/bin/env bash
# Contract test (issue 14): schemathesis, property-based, against the reference back office
# and docs/county-api.yaml. Creates a venv (once), starts `county-backoffice serve` on
# 127.0.0.1 with a free port and a demo token, seeds it as the county and its stations would
# (a key rotation published with the real CLI; an application from another station and the
# card-proof lookup that lets ST-CONTRACT see its case, over HTTP), gives schemathesis the
# seeded case number, runs every operation, prints each operation's share of 2xx answers and
# exits non-zero on any failure. Usage: tests/contract/run.sh [--max-examples N]
# (CI: the default, 50)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CONTRACT_VENV:-$root/target/contract-venv}"
max_examples="${2:-50}"
[[ "${1:-}" == "--max-examples" ]] || max_examples=50

# Pinned: the seeded values reach the request body through `parameters` keys `body.…`
# (tests/contract/schemathesis.toml), which older 4.x releases do not read.
schemathesis_version=4.32.5
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != *"version $schemathesis_version" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$schemathesis_version"
fi
cargo build --quiet --locked --bin county-backoffice --bin kiosk
bin="$root/target/debug/county-backoffice"
kiosk="$root/target/debug/kiosk"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
token="contract-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin" serve --listen "127.0.0.1:$port" --db "$work/county.sqlite3" --demo-token "$token" \
    2>"$work/server.log" &
server=$!
# `|| true`: the server's own exit status (killed) must not replace schemathesis' under `set -e`.
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H "X-Station-Id: ST-CONTRACT" \
        "http://127.0.0.1:$port/healthz" 2>/dev/null; then
        break
    fi
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.1
done

# --- Seeding, as the county and its stations would ------------------------------------------
api="http://127.0.0.1:$port/v1"
as_station() { # STATION curl-args...
    local station=$1
    shift
    curl -fsS -H "Authorization: Bearer $token" -H "X-Station-Id: $station" "$@"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
hello="$(as_station ST-CONTRACT "$api/station")"
# GET /keyring: county staff publish a key rotation (the key trusted now plus a new one), signed
# with the key the stations trust now (the DEMO key the demo back office signs with).
"$kiosk" catalog keygen --out "$work/county-next.key" >/dev/null
cat >"$work/rotation.json" <<JSON
{ "county": "示范县", "version": 1, "issued_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "keys": ["$(field bundle_public_key <<<"$hello")", "$(tr -d '[:space:]' <"$work/county-next.key.pub")"] }
JSON
"$kiosk" catalog sign "$work/rotation.json" --kind keyring --demo-key --out "$work/rotation.bundle" >/dev/null
"$bin" publish "$work/rotation.bundle" --db "$work/county.sqlite3" >/dev/null
as_station ST-CONTRACT -o /dev/null "$api/keyring"
# GET /cases/{n}, POST /evaluations: another station submits an application read from a card
# (its card key enrolled), then ST-CONTRACT reads the same card: challenge, lookup with the
# person key and the card key, which grants it sight of that person's cases for 15 minutes.
id_number=410329198001010019
card_key="$(printf 'contract-seed-card' | sha256sum | cut -c1-64)"
receipt="$(as_station ST-SEED -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: contract-seed-1' \
    --data "{\"receipt_number\":\"CG-SEED-0001\",\"item_code\":\"SB-001\",\"item_name\":\"城乡居民基本养老保险参保登记\",
             \"applicant\":{\"name\":\"王小明\",\"id_number\":\"$id_number\"},\"fields\":{},
             \"accepted_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"card_key\":\"$card_key\"}" \
    "$api/applications")"
case_number="$(field case_number <<<"$receipt")"
if as_station ST-CONTRACT -o /dev/null "$api/cases/$case_number" 2>/dev/null; then
    echo "contract seed: ST-CONTRACT saw case $case_number without reading the card" >&2
    exit 1
fi
person_key="$(python3 -c 'import hashlib, hmac, sys
print(hmac.new(bytes.fromhex(sys.argv[1]), sys.argv[2].upper().encode(), hashlib.sha256).hexdigest())' \
    "$(field person_key_salt <<<"$hello")" "$id_number")"
challenge="$(as_station ST-CONTRACT -X POST "$api/persons/challenge" | field challenge)"
as_station ST-CONTRACT -X POST -H 'Content-Type: application/json' -o /dev/null \
    --data "{\"person_key\":\"$person_key\",\"challenge\":\"$challenge\",\"card_key\":\"$card_key\"}" \
    "$api/persons/cases"
as_station ST-CONTRACT -o /dev/null "$api/cases/$case_number"
echo "contract seed: key rotation 1 published; case $case_number visible to ST-CONTRACT after its card lookup"
export CONTRACT_CASE="$case_number"

"$venv/bin/schemathesis" --config-file "$root/tests/contract/schemathesis.toml" run "$root/docs/county-api.yaml" \
    --url "http://127.0.0.1:$port/v1" \
    --header "Authorization: Bearer $token" \
    --header "X-Station-Id: ST-CONTRACT" \
    --checks all \
    --max-examples "$max_examples" \
    --seed 1 \
    --report har --report-har-path "$work/run.har" || status=$?

# Each operation's share of 2xx answers (from the recorded requests).
python3 - "$work/run.har" <<'PY'
import json, re, sys
from collections import defaultdict
ops = [("GET", "/station"), ("POST", "/applications"), ("GET", "/cases/{case_number}"),
       ("POST", "/persons/challenge"), ("POST", "/persons/cases"), ("POST", "/evaluations"),
       ("POST", "/heartbeats"), ("GET", "/catalog"), ("GET", "/announcements"), ("GET", "/keyring")]
counts = defaultdict(lambda: [0, 0])
for entry in json.load(open(sys.argv[1]))["log"]["entries"]:
    method, url = entry["request"]["method"], entry["request"]["url"]
    path = re.sub(r"^[a-z]+://[^/]+/v1", "", url).split("?")[0]
    name = next((f"{m} {p}" for m, p in ops
                 if m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path)),
                "undocumented methods (unsupported_method check)")
    counts[name][0] += 1
    counts[name][1] += 200 <= entry["response"]["status"] < 300
for name, (n, ok) in sorted(counts.items()):
    print(f"contract: {name}: {n} requests, {ok} answered 2xx ({100 * ok / n:.0f} %)")
PY
exit "${status:-0}"
