#!/usr/bin/env bash
# Link benchmarks, memlink side by side with its baselines in one run:
#   4 KiB link between two single-threaded processes vs `gdb -p PID -batch` (attach + detach);
#   1 GiB link vs memcpy of 1 GiB into fresh memory; copy mode 1 GiB vs a raw
#   process_vm_readv/writev loop; memlink's peak RSS during a 1 GiB link.
# Usage: benches/link/run.sh [RUNS_SMALL=15] [RUNS_BIG=3]   (needs root or ptrace rights, gdb)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS_SMALL=${1:-15}
RUNS_BIG=${2:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
ML="$CARGO_TARGET_DIR/release/memlink"
B=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$B"' EXIT
for p in holder memcpy_baseline pvm_copy; do cc -O2 -o "$B/$p" "benches/link/$p.c"; done

now() { date +%s%N; }
ms() { echo "scale=3; ($2 - $1) / 1000000" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# start_holder SIZE [HOLE] -> sets HPID, REGION, HOLE (stdin kept open through a fifo)
start_holder() {
    local f="$B/in.$RANDOM$RANDOM"
    mkfifo "$f"
    "$B/holder" "$@" <"$f" >"$f.out" &
    HPID=$!
    exec {HFD}>"$f"
    for _ in $(seq 6000); do [ -s "$f.out" ] && break; sleep 0.01; done
    REGION=$(sed 's/region=\([^ ]*\).*/\1/' "$f.out")
    HOLE=$(sed 's/.*hole=//' "$f.out")
}

echo "# link 4 KiB ($RUNS_SMALL runs)"
: >"$B/link4k"; : >"$B/gdb"; : >"$B/inner"; : >"$B/true"
for _ in $(seq "$RUNS_SMALL"); do
    start_holder 4096; S=$HPID; SR=$REGION
    start_holder 4096; T=$HPID; TH=$HOLE
    t0=$(now); "$ML" link --source "$S" --target "$T" --address "$SR" --size 4096 --target-address "$TH" --format json >"$B/j"; t1=$(now)
    ms "$t0" "$t1" >>"$B/link4k"
    # memlink's own time from the first check to the last detach (no process start-up).
    echo "scale=3; $(sed -n 's/.*"elapsed_us": \([0-9]*\).*/\1/p' "$B/j") / 1000" | bc >>"$B/inner"
    # The cost of starting any process here, for scale.
    t0=$(now); /bin/true; t1=$(now)
    ms "$t0" "$t1" >>"$B/true"
    t0=$(now); gdb -q -nx -batch -p "$T" >/dev/null 2>&1; t1=$(now)
    ms "$t0" "$t1" >>"$B/gdb"
    kill "$S" "$T"; wait "$S" "$T" 2>/dev/null || true
done
echo "memlink link 4KiB median ms (wall, incl. exec): $(median <"$B/link4k")"
echo "memlink link 4KiB median ms (checks..detach):  $(median <"$B/inner")"
echo "gdb -p -batch median ms (wall, incl. exec):     $(median <"$B/gdb")"
echo "/bin/true median ms (process start-up):         $(median <"$B/true")"

echo "# 1 GiB ($RUNS_BIG runs)"
G=$((1 << 30))
: >"$B/link1g"; : >"$B/memcpy"; : >"$B/copy1g"; : >"$B/pvm"; : >"$B/rss"
for _ in $(seq "$RUNS_BIG"); do
    start_holder $G; S=$HPID; SR=$REGION
    start_holder 4096 $G; T=$HPID; TH=$HOLE
    t0=$(now)
    /usr/bin/time -f "%M" -o "$B/time.out" "$ML" link --source "$S" --target "$T" --address "$SR" --size 1GiB --target-address "$TH" >/dev/null
    t1=$(now)
    ms "$t0" "$t1" >>"$B/link1g"
    cat "$B/time.out" >>"$B/rss"
    kill "$S" "$T"; wait "$S" "$T" 2>/dev/null || true
    echo "$("$B/memcpy_baseline" $G) * 1000" | bc >>"$B/memcpy"

    start_holder $G; S=$HPID; SR=$REGION
    start_holder $G; T=$HPID; TR=$REGION
    # Warm-up pass so that both timed copies find the same state, then both in turn.
    "$B/pvm_copy" "$S" "${SR#0x}" "$T" "${TR#0x}" $G >/dev/null
    t0=$(now); "$ML" link --mode copy --source "$S" --target "$T" --address "$SR" --size 1GiB --target-address "$TR" >/dev/null; t1=$(now)
    ms "$t0" "$t1" >>"$B/copy1g"
    echo "$("$B/pvm_copy" "$S" "${SR#0x}" "$T" "${TR#0x}" $G) * 1000" | bc >>"$B/pvm"
    kill "$S" "$T"; wait "$S" "$T" 2>/dev/null || true
done
echo "memlink link 1GiB median ms:        $(median <"$B/link1g")"
echo "memcpy 1GiB into fresh median ms:   $(median <"$B/memcpy")"
echo "memlink copy mode 1GiB median ms:   $(median <"$B/copy1g")"
echo "raw process_vm loop 1GiB median ms: $(median <"$B/pvm")"
echo "memlink peak RSS during 1GiB link (KiB, max): $(sort -n "$B/rss" | tail -1)"
