#!/usr/bin/env bash
# Over-time benchmarks: `memlink ps` against the floor (cat every smaps_rollup), smem and ps aux,
# side by side in one run with 200 extra sleepers alive; then the cost of `memlink watch` at 1 s
# on a process with 10,000 mappings.
#
# Usage: benches/overtime/run.sh [MEMLINK_BINARY]   (default: target/release/memlink)
# Needs: cc, hyperfine-free (timing is done here), smem (Debian package `smem`), GNU time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/memlink}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/sleeper" "$here/sleeper.c"
cc -O2 -o "$work/maps10k" "$here/maps10k.c"
for _ in $(seq 200); do "$work/sleeper" & pids+=($!); done
sleep 1
nproc_alive=$(ls -d /proc/[0-9]* | wc -l)

# Median wall time in ms of RUNS runs of a shell command.
median_ms() {
    local runs=$1; shift
    local ts=()
    for _ in $(seq "$runs"); do
        local s e
        s=$(date +%s%N)
        bash -c "$*" >/dev/null 2>&1 || true
        e=$(date +%s%N)
        ts+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

peak_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

floor=$(median_ms 21 'cat /proc/[0-9]*/smaps_rollup')
mem=$(median_ms 21 "$bin ps")
psaux=$(median_ms 21 'ps aux')
smem_t=NA
if command -v smem >/dev/null; then smem_t=$(median_ms 5 'smem'); fi
mem_peak=$(peak_kib "$bin" ps)

echo "processes alive: $nproc_alive"
printf '| command | median ms | x floor |\n|---|---|---|\n'
for row in "cat /proc/[0-9]*/smaps_rollup (floor):$floor" "memlink ps:$mem" "ps aux:$psaux" "smem:$smem_t"; do
    name="${row%:*}"; t="${row##*:}"
    if [ "$t" = NA ]; then printf '| %s | n/a | n/a |\n' "$name"; continue; fi
    printf '| %s | %s | %.2f |\n' "$name" "$t" "$(echo "$t / $floor" | bc -l)"
done
echo "memlink ps peak RSS: ${mem_peak} KiB"

# watch at 1 s on a process with 10,000 mappings: CPU time of memlink (user+sys, which
# includes the kernel work of generating smaps_rollup/maps for the target) over 30 s.
"$work/maps10k" 10000 > "$work/pid" & pids+=($!)
sleep 1
target=$(cat "$work/pid")
maps=$(wc -l < "/proc/$target/maps")
tick=$(getconf CLK_TCK)
t_before=$(awk '{print $14+$15}' "/proc/$target/stat")
/usr/bin/time -f '%U %S' -o "$work/watch.time" "$bin" watch --pid "$target" --interval 1s --duration 30s >/dev/null
t_after=$(awk '{print $14+$15}' "/proc/$target/stat")
read -r wu ws < "$work/watch.time"
cpu=$(echo "$wu + $ws" | bc -l)
printf 'watch --interval 1s --duration 30s on %s mappings: memlink CPU %.2f s = %.2f%% of one core; target CPU %d ticks\n' \
    "$maps" "$cpu" "$(echo "$cpu / 30 * 100" | bc -l)" "$((t_after - t_before))"
