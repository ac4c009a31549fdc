#!/usr/bin/env bash
# Benchmark of `memlink map` on processes with many mappings, side by side with
# `memlink list --detailed --format json` (the same reading of smaps) and `pmap -X` (the peer).
#
# Usage: benches/map/run.sh [MEMLINK]   (default: $CARGO_TARGET_DIR or target, release build)
# Needs root to raise vm.max_map_count (restored on exit), cc, and chromium for the page timing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
memlink=${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/memlink}
work=$(mktemp -d)
orig=$(cat /proc/sys/vm/max_map_count)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "$(cat /proc/sys/vm/max_map_count)" != "$orig" ]; then sysctl -q -w vm.max_map_count="$orig"; fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ "$orig" -lt 250000 ]; then sysctl -q -w vm.max_map_count=250000; fi
cc -O2 -o "$work/manymaps" "$here/manymaps.c"

# best of 3 wall-clock seconds of a command
best() {
    local b=999999
    for _ in 1 2 3; do
        local s e
        s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
        b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{ print ($1 < b) ? $1 : b }')
    done
    printf '%.3f' "$b"
}

# Chromium's own start-up, for reference: dump-dom of an empty page.
chromium_dump() {
    local s e
    s=$(date +%s.%N)
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile$RANDOM" --dump-dom "file://$1" > "$2" 2>/dev/null
    e=$(date +%s.%N)
    printf '%.2f' "$(echo "$e - $s" | bc -l)"
}
if command -v chromium >/dev/null; then
    echo '<!DOCTYPE html><html><body>empty</body></html>' > "$work/empty.html"
    echo "chromium --dump-dom of an empty page: $(chromium_dump "$work/empty.html" "$work/empty.dom") s"
    echo
fi

printf '| mappings | list --detailed json (s) | map -o html (s) | ratio | map --format svg (s) | pmap -X (s) | html size | chromium --dump-dom (s) |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for n in 10000 100000; do
    mkfifo "$work/in$n"
    "$work/manymaps" "$n" < "$work/in$n" > "$work/out$n" &
    pids+=($!)
    exec {fd}>"$work/in$n"
    until grep -q ready "$work/out$n" 2>/dev/null; do sleep 0.1; done
    pid=$(sed -n 's/^pid=//p' "$work/out$n")
    maps=$(wc -l < "/proc/$pid/maps")
    tl=$(best sh -c "\"\$0\" list --pid $pid --detailed --format json > $work/l.json" "$memlink")
    tm=$(best "$memlink" map --pid "$pid" -o "$work/m.html" --force)
    ts=$(best "$memlink" map --pid "$pid" -o "$work/m.svg" --force)
    tp=$(best pmap -X "$pid")
    size=$(stat -c %s "$work/m.html")
    gz=$(gzip -c "$work/m.html" | wc -c)
    tc=-
    if command -v chromium >/dev/null; then
        tc=$(chromium_dump "$work/m.html" "$work/dom$n")
        grep -q 'data-memlink-ready="1"' "$work/dom$n" || tc="$tc (NOT READY)"
    fi
    printf '| %s | %s | %s | %.2f | %s | %s | %s (%s gzipped) | %s |\n' "$maps" "$tl" "$tm" \
        "$(echo "$tm / $tl" | bc -l)" "$ts" "$tp" "$(numfmt --to=iec "$size")" "$(numfmt --to=iec "$gz")" "$tc"
    eval "exec $fd>&-"
done
