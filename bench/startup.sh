#!/usr/bin/env bash
# Start-up at scale, end to end: `breakglass serve` on a SQLite database holding a five-million-
# event audit chain and a million live bindings, timed from starting the process to its first
# answered check; then `GET /api/v1/audit/verify` over the whole chain, timed by the client.
#
# The chain comes from the store's scale test, which keeps it where AUDIT_DIR says:
#   AUDIT_DIR=/tmp/audit5m VERIFY_PAGES=0 VERIFY_ROUNDS=1 \
#     cargo test -p breakglass-store --release --test load_scale -- --ignored --nocapture verify_five
# This script copies it, adds users, workspaces, projects and bindings with the same SQL as the
# scale test's `load_a_million_bindings` (python3's sqlite3 module), and runs the release binary.
#
# Environment: CHAIN (default /tmp/audit5m/audit.db), PORT (default 18088), SERVER_BIN (default
# target/release/breakglass), RUNS (start-ups, default 3).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
chain="${CHAIN:-/tmp/audit5m/audit.db}"
port="${PORT:-18088}"
server_bin="${SERVER_BIN:-$root/target/release/breakglass}"
runs="${RUNS:-3}"
url="http://127.0.0.1:${port}"
token="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

[[ -f "$chain" ]] || { echo "no chain at $chain: see the comment at the top of this script" >&2; exit 1; }
[[ -x "$server_bin" ]] || { echo "no server binary at $server_bin: cargo build --release -p breakglass" >&2; exit 1; }

data="$(mktemp -d)"
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$data"
}
trap cleanup EXIT

cp "$chain" "$data/breakglass.db"
python3 - "$data/breakglass.db" <<'EOF'
import sqlite3, sys, time
users, workspaces, per_ws, bindings = 10_000, 1_000, 10, 1_000_000
db = sqlite3.connect(sys.argv[1])
t = time.time()
db.executescript(f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {users})
INSERT INTO users (id, email, name, admin_role, status, created_at)
SELECT printf('00000000-0000-4000-8000-%012x', i), printf('user%d@example.com', i),
       printf('User %d', i), 'none', 'active', 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {workspaces})
INSERT INTO workspaces (id, name, status, project_quota, created_at)
SELECT printf('ws-%d', i), printf('Workspace %d', i), 'active', 100, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {workspaces} * {per_ws})
INSERT INTO projects (workspace_id, id, name, created_at)
SELECT printf('ws-%d', i / {per_ws}), printf('p-%d', i % {per_ws}), printf('Project %d', i), 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {bindings})
INSERT INTO bindings (id, user_id, workspace_id, project_id, role, starts_at, expires_at,
                      source, created_by, reason)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), printf('00000000-0000-4000-8000-%012x', i % {users}),
       printf('ws-%d', i % {workspaces}),
       CASE WHEN i % 2 = 0 THEN NULL ELSE printf('p-%d', i % {per_ws}) END,
       CASE WHEN i % 2 = 0 THEN 'member' ELSE 'reader' END,
       0, CASE WHEN i % 3 = 0 THEN 4102444800000000 ELSE NULL END,
       'direct', '00000000-0000-4000-8000-000000000000', NULL
FROM n;
""")
db.commit()
events = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
live = db.execute("SELECT count(*) FROM bindings").fetchone()[0]
print(f"database: {events} audit events, {live} bindings (added in {time.time() - t:.1f} s)")
EOF

# A check of a binding the SQL above created (user 1 holds reader on ws-1/p-1).
check='{"user":"user1@example.com","workspace":"ws-1","project":"p-1","role":"reader"}'
now_ms() { date +%s%3N; }

echo "machine: $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
    started="$(now_ms)"
    BREAKGLASS_ADMIN_TOKEN="$token" BREAKGLASS_LOG=warn \
        "$server_bin" serve --data-dir "$data" --listen "127.0.0.1:${port}" >"$data/server.log" 2>&1 &
    server=$!
    answer=""
    for _ in $(seq 6000); do
        answer="$(curl -s -m 1 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d "$check" "$url/api/v1/check" 2>/dev/null || true)"
        [[ "$answer" == *'"allowed":true'* ]] && break
        kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; echo "the server exited" >&2; exit 1; }
        sleep 0.01
    done
    [[ "$answer" == *'"allowed":true'* ]] || { echo "no allowed answer: $answer" >&2; exit 1; }
    echo "start-up $run: $(( $(now_ms) - started )) ms from exec to an answered check"
    if [[ "$run" == "$runs" ]]; then
        started="$(now_ms)"
        report="$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/audit/verify")"
        ms=$(( $(now_ms) - started ))
        echo "audit verify: $ms ms: ${report:0:160}"
    fi
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
done
