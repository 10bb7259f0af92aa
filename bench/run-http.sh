#!/usr/bin/env bash
# HTTP checks under load, against a release server on loopback.
#
# Builds `breakglass` (release, the main target dir) and `loadgen` (release, bench/target), starts
# `breakglass serve --demo` on 127.0.0.1 with a fresh SQLite directory and an admin token, then
# runs, one after the other against the same server:
#   healthz  GET /healthz                        the ceiling of the HTTP stack
#   check    POST /api/v1/check                  one check per request
#   batch    POST /api/v1/check/batch            BATCH checks per request
# and prints a summary table. Builds run under `nice -n 19`; the server and loadgen do not.
#
# Environment: DURATION (s, default 10), WARMUP (s, default 2), PORT (default 18087),
# CONNECTIONS (healthz and check, default 16), BATCH_CONNECTIONS (default 4), BATCH (default 1000),
# LOADGEN_THREADS (default 1), SKIP_BUILD=1 to use the binaries already built, SERVER_BIN to run
# another server binary (an older build, for a comparison in the same conditions).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
duration="${DURATION:-10}"
warmup="${WARMUP:-2}"
port="${PORT:-18087}"
connections="${CONNECTIONS:-16}"
batch_connections="${BATCH_CONNECTIONS:-4}"
batch="${BATCH:-1000}"
threads="${LOADGEN_THREADS:-1}"
url="http://127.0.0.1:${port}"
token="bench-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    (cd "$root" && CARGO_TARGET_DIR="$root/target" nice -n 19 cargo build --release -p breakglass)
    (cd "$here" && CARGO_TARGET_DIR="$here/target" nice -n 19 cargo build --release --bin loadgen)
fi
server_bin="${SERVER_BIN:-$root/target/release/breakglass}"
loadgen="$here/target/release/loadgen"

data="$(mktemp -d)"
BREAKGLASS_ADMIN_TOKEN="$token" BREAKGLASS_LOG=warn \
    "$server_bin" serve --data-dir "$data" --listen "127.0.0.1:${port}" --demo >"$data/server.log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

# Wait for the server to answer (at most 30 s).
for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then break; fi
    kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; echo "the server exited" >&2; exit 1; }
    sleep 0.1
done

# CPU seconds (user + system) the server has used so far.
server_cpu() { awk '{ sub(/.*\) /, ""); print ($12 + $13) / 100 }' "/proc/$server/stat"; }

echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for mode in healthz check batch; do
    conns="$connections"
    [[ "$mode" == batch ]] && conns="$batch_connections"
    cpu0="$(server_cpu)"
    out="$("$loadgen" --url "$url" --token "$token" --mode "$mode" --connections "$conns" \
        --duration "$duration" --warmup "$warmup" --batch "$batch" --threads "$threads")"
    cpu1="$(server_cpu)"
    echo "$out" | head -1
    server_pct="$(awk -v a="$cpu0" -v b="$cpu1" -v t="$duration" -v w="$warmup" 'BEGIN { printf "%.0f", 100 * (b - a) / (t + w) }')"
    echo "  server CPU ${server_pct}% (of 200%)"
    results+=("$(echo "$out" | tail -1)|$server_pct")
done

echo
printf '%-8s %6s %12s %14s %10s %10s %10s %8s\n' mode conns "requests/s" "checks/s" "p50 ms" "p99 ms" "max ms" "srv CPU"
healthz_rps=0
for r in "${results[@]}"; do
    json="${r%|*}"
    pct="${r##*|}"
    # The JSON line is flat; pull fields out without jq.
    field() { echo "$json" | sed -E "s/.*\"$1\":([0-9.]+).*/\\1/"; }
    mode="$(echo "$json" | sed -E 's/.*"mode":"([a-z]+)".*/\1/')"
    rps="$(field requests_per_s)"
    [[ "$mode" == healthz ]] && healthz_rps="$rps"
    printf '%-8s %6s %12.0f %14.0f %10.2f %10.2f %10.2f %7s%%\n' "$mode" "$(field connections)" "$rps" \
        "$(field checks_per_s)" "$(awk -v v="$(field p50_us)" 'BEGIN{print v/1000}')" \
        "$(awk -v v="$(field p99_us)" 'BEGIN{print v/1000}')" "$(awk -v v="$(field max_us)" 'BEGIN{print v/1000}')" "$pct"
    if [[ "$mode" == check ]]; then
        check_ratio="$(awk -v c="$rps" -v h="$healthz_rps" 'BEGIN { printf "%.0f", 100 * c / h }')"
    fi
done
echo "single check at ${check_ratio:-?}% of the /healthz ceiling (target: at least 60%)"
