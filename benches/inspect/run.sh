#!/usr/bin/env bash
# Inspect benchmark: memlink search / dump against their floors and peers, side by side in one
# run, on a target holding SIZE_MIB (default 4096) of resident pseudo-random bytes with a
# 16-byte needle planted 6 times (across 64 KiB and 1 MiB boundaries, one ending one byte
# before the region's end).
#
# Usage: benches/inspect/run.sh [SIZE_MIB] [RUNS]    (needs a release build: cargo build --release)
# Peers: gdb (find), scanmem (apt-get install scanmem). Prints a Markdown table: best of RUNS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size=${1:-4096}
runs=${2:-3}
target_dir=${CARGO_TARGET_DIR:-$root/target}
memlink=$target_dir/release/memlink
[ -x "$memlink" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$tpid" 2>/dev/null || true; rm -rf "$work" /dev/shm/memlink-bench.$$' EXIT
cc -O2 -o "$work/target" "$here/target.c"
cc -O2 -o "$work/floor" "$here/floor.c"

"$work/target" "$size" > "$work/target.out" &
tpid=$!
until grep -q '^ready' "$work/target.out" 2>/dev/null; do sleep 0.2; done
region=$(sed -n 's/^region=//p' "$work/target.out")
rstart=${region%-*}
planted=$(grep -c '^needle=' "$work/target.out")
needle='BENCH-needle-42!'
hex=$(printf '%s' "$needle" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
gdbbytes=$(printf '%s' "$needle" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/\([0-9a-f][0-9a-f]\)/0x\1,/g; s/,$//; s/, /, /g')

# best_of CMD...: runs CMD $runs times; prints "seconds peak_rss_kib" of the fastest run and
# leaves the fastest run's stdout in $work/out.
best_of() {
    local best="" rss=""
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" > "$work/out.tmp" 2>"$work/err" || true
        read -r t m < "$work/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t; rss=$m; cp "$work/out.tmp" "$work/out"
        fi
    done
    echo "$best $rss"
}

gib=$(awk "BEGIN{print $size/1024}")
echo "target: $gib GiB, $planted needles, pid $tpid; best of $runs runs" >&2

read -r t_raw m_raw < <(best_of "$work/floor" raw "$tpid")
read -r t_mm m_mm < <(best_of "$work/floor" memmem "$tpid" "$needle")
mm_found=$(sed -n 's/.*matches=\([0-9]*\).*/\1/p' "$work/out")
read -r t_ml m_ml < <(best_of "$memlink" search --pid "$tpid" --text "$needle" --format json)
ml_found=$(grep -c '"address"' "$work/out" || true)
read -r t_gdb m_gdb < <(best_of gdb -q -batch -nx -p "$tpid" -ex "find /b $rstart, +$((size << 20)), $gdbbytes")
gdb_found=$(sed -n 's/^\([0-9]*\) patterns\? found.*/\1/p' "$work/out")
if command -v scanmem > /dev/null; then
    read -r t_sm m_sm < <(runs=1 best_of scanmem -p "$tpid" -c "option region_scan_level 3;option scan_data_type bytearray;reset;$hex;exit")
    sm_found=$(grep -o '[0-9]* matches' "$work/err" "$work/out" | tail -1 | grep -o '^[^ ]*' | sed 's/.*://' || true)
else
    t_sm=NA; m_sm=NA; sm_found="not installed"
fi
read -r t_dump m_dump < <(best_of "$memlink" dump --pid "$tpid" --address "$rstart" --size 1GiB -o /dev/shm/memlink-bench.$$ --force)

# The write ceiling of the dump's destination: zeros from the kernel into a new tmpfs file.
read -r t_dd m_dd < <(best_of dd if=/dev/zero of=/dev/shm/memlink-bench.$$ bs=2M count=512)
rm -f /dev/shm/memlink-bench.$$

ratio() { awk "BEGIN{ if (\"$1\"==\"NA\") print \"NA\"; else printf \"%.2f\", $1/$2 }"; }
rate() { awk "BEGIN{ printf \"%.2f\", $1/$2 }"; }
raw_rate=$(rate "$gib" "$t_raw")
dump_rate=$(rate 1 "$t_dump")
cat <<TABLE
| tool (search for a 16-byte needle in $gib GiB) | wall s | GiB/s | vs memmem floor | vs raw floor | found / planted | peak RSS |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| floor: process_vm_readv, 1 MiB chunks | $t_raw | $raw_rate | $(ratio "$t_raw" "$t_mm") | 1.00 | - | $((m_raw / 1024)) MiB |
| floor: + glibc memmem | $t_mm | $(rate "$gib" "$t_mm") | 1.00 | $(ratio "$t_mm" "$t_raw") | $mm_found / $planted | $((m_mm / 1024)) MiB |
| **memlink search** | $t_ml | $(rate "$gib" "$t_ml") | $(ratio "$t_ml" "$t_mm") | $(ratio "$t_ml" "$t_raw") | $ml_found / $planted | $((m_ml / 1024)) MiB |
| gdb find | $t_gdb | $(rate "$gib" "$t_gdb") | $(ratio "$t_gdb" "$t_mm") | $(ratio "$t_gdb" "$t_raw") | ${gdb_found:-?} / $planted | $((m_gdb / 1024)) MiB |
| scanmem (1 run) | $t_sm | $( [ "$t_sm" = NA ] && echo NA || rate "$gib" "$t_sm") | $(ratio "$t_sm" "$t_mm") | $(ratio "$t_sm" "$t_raw") | ${sm_found:-?} / $planted | $( [ "$m_sm" = NA ] && echo NA || echo $((m_sm / 1024)) MiB) |

| dump 1 GiB to /dev/shm | wall s | GiB/s | vs raw floor throughput | peak RSS |
| --- | ---: | ---: | ---: | ---: |
| **memlink dump** | $t_dump | $dump_rate | $(awk "BEGIN{printf \"%.2f\", $dump_rate/$raw_rate}") | $((m_dump / 1024)) MiB |
| ceiling: dd /dev/zero to a new /dev/shm file (no read at all) | $t_dd | $(rate 1 "$t_dd") | $(awk "BEGIN{printf \"%.2f\", 1/$t_dd/$raw_rate}") | $((m_dd / 1024)) MiB |
TABLE
