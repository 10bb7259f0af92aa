#!/usr/bin/env bash
# Schemathesis against a `breakglass serve --demo` on loopback, with every check enabled: once as
# the admin and once as a plain member of a workspace (each through an API token), each run
# bounded to EXAMPLES cases per operation and seeded, so a run repeats exactly.
#
#   fuzz/run.sh                      # target/debug/breakglass; `st` on PATH
#   SERVER_BIN=target/release/breakglass EXAMPLES=50 fuzz/run.sh
#
# Environment: SERVER_BIN, ST (the schemathesis command, default `st`), EXAMPLES (default 25),
# SEED (default 1), REPORT_DIR (JUnit reports; default a temporary directory, removed).
# Exits non-zero when either run finds a failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${SERVER_BIN:-$root/target/debug/breakglass}"
st="${ST:-st}"
examples="${EXAMPLES:-25}"
seed="${SEED:-1}"
token="fuzz-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:${port}"
data="$(mktemp -d)"
reports="${REPORT_DIR:-$data/reports}"

BREAKGLASS_ADMIN_TOKEN="$token" BREAKGLASS_LOG=warn \
    "$bin" serve --data-dir "$data" --listen "127.0.0.1:${port}" --demo >"$data/server.log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    if [[ -z "${REPORT_DIR:-}" ]]; then rm -rf "$data"; fi
}
trap cleanup EXIT

for _ in $(seq 300); do
    if curl -sf "$url/healthz" >/dev/null; then break; fi
    sleep 0.1
done
curl -sf "$url/healthz" >/dev/null || { echo "the server did not start:" >&2; cat "$data/server.log" >&2; exit 1; }

# A plain member of the demo's payments workspace, with an API token of their own.
api() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -X "$2" "$url$3" ${4:+-d "$4"}; }
api "$token" POST /api/v1/users '{"email":"fuzz.member@example.com","name":"Fuzz Member","password":"fuzz member passphrase"}' >/dev/null
api "$token" PUT /api/v1/workspaces/payments/members/fuzz.member@example.com '{"role":"member"}' >/dev/null
session="$(curl -sf -H 'Content-Type: application/json' -X POST "$url/api/v1/auth/login" \
    -d '{"email":"fuzz.member@example.com","password":"fuzz member passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
member="$(api "$session" POST /api/v1/tokens '{"name":"fuzz"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"

status=0
for who in admin member; do
    credential="$token"
    if [[ "$who" == member ]]; then credential="$member"; fi
    echo "== schemathesis as the $who ($examples examples per operation, seed $seed)"
    "$st" --config-file "$here/schemathesis.toml" run "$url/api/v1/openapi.json" \
        -H "Authorization: Bearer $credential" \
        --max-examples "$examples" --seed "$seed" --workers 1 \
        --report junit --report-junit-path "$reports/$who.xml" \
        --no-color || status=1
done
exit "$status"
