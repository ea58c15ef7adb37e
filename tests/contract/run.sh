#!/usr/bin/env bash
# Contract test (issue 14): schemathesis, property-based, against the reference back office
# and docs/county-api.yaml. Creates a venv (once), starts `county-backoffice serve` on
# 127.0.0.1 with a free port and a demo token, runs every operation, exits non-zero on any
# failure. Usage: tests/contract/run.sh [--max-examples N]   (CI: the default, 50)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CONTRACT_VENV:-$root/target/contract-venv}"
max_examples="${2:-50}"
[[ "${1:-}" == "--max-examples" ]] || max_examples=50

if [[ ! -x "$venv/bin/schemathesis" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
cargo build --quiet --locked --bin county-backoffice
bin="$root/target/debug/county-backoffice"

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

"$venv/bin/schemathesis" --config-file "$root/tests/contract/schemathesis.toml" run "$root/docs/county-api.yaml" \
    --url "http://127.0.0.1:$port/v1" \
    --header "Authorization: Bearer $token" \
    --header "X-Station-Id: ST-CONTRACT" \
    --checks all \
    --max-examples "$max_examples" \
    --seed 1
