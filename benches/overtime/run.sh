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

# Wall time in ms of one run of a shell command.
once_ms() {
    local s e
    s=$(date +%s%N)
    bash -c "$1" >/dev/null 2>&1 || true
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
}

# Median in ms of a list of microsecond figures.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }

peak_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

sl_files=$(printf '/proc/%s/smaps_rollup ' "${pids[@]}")
sl_args=$(printf -- '--pid %s ' "${pids[@]}")
cmds=(
    "cat /proc/[0-9]*/smaps_rollup"
    "$bin ps"
    "ps aux"
    "cat $sl_files"
    "$bin ps $sl_args"
)
names=(
    "cat /proc/[0-9]*/smaps_rollup (floor)"
    "memlink ps"
    "ps aux"
    "sleepers only: cat their smaps_rollup (floor)"
    "sleepers only: memlink ps --pid (x200)"
)
# Interleaved runs, so that a change of load on the machine hits every command alike.
declare -A t
runs=21
for _ in $(seq $runs); do
    for i in "${!cmds[@]}"; do t[$i]+="$(once_ms "${cmds[$i]}") "; done
done
smem_t=NA
if command -v smem >/dev/null; then
    st=(); for _ in 1 2 3; do st+=("$(once_ms smem)"); done; smem_t=$(median "${st[@]}")
fi
mem_peak=$(peak_kib "$bin" ps)

echo "processes alive: $nproc_alive; runs: $runs interleaved (smem: 3)"
printf '| command | median ms | x floor |\n|---|---|---|\n'
floor=$(median ${t[0]})
sl_floor=$(median ${t[3]})
for i in "${!cmds[@]}"; do
    m=$(median ${t[$i]})
    f=$floor; [ "$i" -ge 3 ] && f=$sl_floor
    printf '| %s | %s | %.2f |\n' "${names[$i]}" "$m" "$(echo "$m / $f" | bc -l)"
done
[ "$smem_t" != NA ] && printf '| smem | %s | %.2f |\n' "$smem_t" "$(echo "$smem_t / $floor" | bc -l)"
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
