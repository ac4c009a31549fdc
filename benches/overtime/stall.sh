#!/usr/bin/env bash
# The stall memlink's repeated readers impose on a process with one multi-GiB resident mapping,
# against a plain smaps_rollup reader: the fixture (stall.c) maps and unmaps a page every 100 us
# and records its worst latency while each reader runs in a loop for SECONDS.
#
# Usage: benches/overtime/stall.sh [MEMLINK_BINARY] [GIB] [SECONDS]
#        (defaults: target/release/memlink, 4 GiB, 5 s)
# Needs: cc, curl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/memlink}"
gib="${2:-4}"
secs="${3:-5}"
work="$(mktemp -d)"
reader=""
exporter=""
cleanup() {
    [ -n "$reader" ] && kill "$reader" 2>/dev/null || true
    [ -n "$exporter" ] && kill "$exporter" 2>/dev/null || true
    [ -n "${FIX_PID:-}" ] && kill "$FIX_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -pthread -o "$work/stall" "$here/stall.c"
coproc FIX { exec "$work/stall" "$gib"; }
FIX_PID=$FIX_PID
pid=""
while read -r line <&"${FIX[0]}"; do
    case "$line" in pid=*) pid="${line#pid=}" ;; ready) break ;; esac
done
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
echo "fixture pid $pid: $((rss / 1024)) MiB resident in one mapping; each phase ${secs}s; load $(cut -d' ' -f1 /proc/loadavg)"

# Runs "$@" in a loop in the background while the fixture measures; prints the phase's line.
phase() {
    local name="$1"
    shift
    local count="$work/count"
    echo 0 >"$count"
    if [ $# -gt 0 ]; then
        ( n=0; while :; do "$@" >/dev/null 2>&1 || true; n=$((n + 1)); echo "$n" >"$count"; done ) &
        reader=$!
    fi
    echo "measure $secs" >&"${FIX[1]}"
    read -r result <&"${FIX[0]}"
    if [ -n "$reader" ]; then kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true; reader=""; fi
    printf '%-52s %s reads=%s\n' "$name" "$result" "$(cat "$count")"
}

# The time of one read of the rollup, for the record.
t0=$(date +%s%N); cat "/proc/$pid/smaps_rollup" >/dev/null; t1=$(date +%s%N)
echo "one smaps_rollup read: $(( (t1 - t0) / 1000 )) us"

phase "no reader"
phase "cat /proc/PID/smaps_rollup" cat "/proc/$pid/smaps_rollup"
phase "memlink ps --pid PID --rollup-budget none" "$bin" ps --pid "$pid" --rollup-budget none
phase "memlink ps --pid PID (default 5ms budget)" "$bin" ps --pid "$pid"

port=$((20000 + RANDOM % 20000))
for budget in none 5ms; do
    "$bin" export --listen "127.0.0.1:$port" --smaps --per-pid --pid "$pid" --rollup-budget "$budget" \
        >/dev/null 2>&1 &
    exporter=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
    phase "export --smaps, scraped in a loop, --rollup-budget $budget" \
        curl -sf "http://127.0.0.1:$port/metrics"
    curl -sf "http://127.0.0.1:$port/metrics" | grep -E "^memlink_process_(rollup_read_seconds|pss_age_seconds)" || true
    kill "$exporter"; wait "$exporter" 2>/dev/null || true; exporter=""
    port=$((port + 1))
done
echo quit >&"${FIX[1]}"
