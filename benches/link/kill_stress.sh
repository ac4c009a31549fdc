#!/usr/bin/env bash
# memlink's own death during `memlink link`: N randomized SIGKILLs of memlink (default 200),
# and whether both processes survive intact (alive, answering, content unchanged).
#
# Each iteration links a 1 MiB range between two `linkee` fixtures (tests/fixtures/programs)
# and kills memlink in one of three ways, chosen at random:
#   in-call  MEMLINK_TEST_FAULT=during:CALL@PROCESS:hold, CALL random: memlink is killed
#            while the injection thread of the source or the target is inside that injected
#            system call (it must finish the call and return through the rt_sigreturn frame,
#            see docs/link.md);
#   between  MEMLINK_TEST_FAULT=after:STEP:hold, STEP random: killed between two calls;
#   timed    no hook, killed after a random 0-8 ms.
# The fault hook needs the `test-hooks` cargo feature, so this builds the debug binary with it.
# After each kill, `memlink unlink --cleanup` runs on every survivor. A process counts as intact
# when it answers, its own 1 MiB pattern is byte-exact, its threads' signal masks are their
# own, and, if the link stands, the target's linked range holds the source's pattern.
# Usage: benches/link/kill_stress.sh [ITERATIONS=200] [SEED]   (as root)
set -uo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
RANDOM=${2:-$$}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --features test-hooks --quiet || exit 2
ML="$CARGO_TARGET_DIR/debug/memlink"
B=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$B"' EXIT
cc -O1 -pthread -o "$B/linkee" tests/fixtures/programs/linkee.c || exit 2

CALLS=(memfd_create@source ftruncate@source pwrite64@source mmap@source close@source
    pidfd_open@target pidfd_getfd@target mmap@target close@target)
STEPS=(stop scratch memfd truncate copy target-fd target-map check remap)

# start NAME ARGS... -> sets PID_NAME, REGION_NAME, HOLE_NAME; fds IN_NAME, OUT_NAME
start() {
    local n=$1; shift
    mkfifo "$B/$n.in" "$B/$n.out"
    "$B/linkee" "$@" <"$B/$n.in" >"$B/$n.out" &
    local pid=$!
    exec {fin}>"$B/$n.in"
    exec {fout}<"$B/$n.out"
    local line region="" hole=""
    while read -r -t 10 line <&$fout; do
        case $line in
        region=*) region=${line#region=} ;;
        hole=*) hole=${line#hole=} ;;
        ready) break ;;
        esac
    done
    printf -v "PID_$n" %s "$pid"; printf -v "REGION_$n" %s "$region"; printf -v "HOLE_$n" %s "$hole"
    printf -v "IN_$n" %s "$fin"; printf -v "OUT_$n" %s "$fout"
}

# ask NAME CMD -> the answer line (empty after 3 s)
ask() {
    local fin fout line=""
    fin=IN_$1; fout=OUT_$1
    echo "$2" >&${!fin} 2>/dev/null || { echo ""; return; }
    read -r -t 3 line <&${!fout} || line=""
    echo "$line"
}

stop_fixture() {
    local p=PID_$1 fin=IN_$1 fout=OUT_$1
    kill -9 "${!p}" 2>/dev/null; wait "${!p}" 2>/dev/null
    eval "exec ${!fin}>&- ${!fout}<&-"
    rm -f "$B/$1.in" "$B/$1.out"
}

declare -A total intact
for mode in in-call between timed; do total[$mode]=0; intact[$mode]=0; done
for i in $(seq "$N"); do
    start s 256; start t 256 seed=9
    S=$PID_s; T=$PID_t
    case $((RANDOM % 3)) in
    0) mode=in-call; fault="during:${CALLS[RANDOM % ${#CALLS[@]}]}:hold" ;;
    1) mode=between; fault="after:${STEPS[RANDOM % ${#STEPS[@]}]}:hold" ;;
    *) mode=timed; fault="" ;;
    esac
    mkfifo "$B/ml.in"
    MEMLINK_TEST_FAULT=$fault "$ML" link --source "$S" --target "$T" --address "$REGION_s" \
        --size 1MiB --target-address "$HOLE_t" <"$B/ml.in" >/dev/null 2>"$B/ml.err" &
    M=$!
    exec {mlin}>"$B/ml.in"
    if [ -n "$fault" ]; then
        for _ in $(seq 1000); do grep -q "test hold" "$B/ml.err" && break; sleep 0.01; done
    else
        sleep "0.00$((RANDOM % 9))"
    fi
    kill -9 "$M" 2>/dev/null; wait "$M" 2>/dev/null
    exec {mlin}>&-; rm -f "$B/ml.in"
    # The kernel detaches the tracees when memlink dies; give them time to run on.
    for p in "$S" "$T"; do
        for _ in $(seq 300); do
            grep -q "^TracerPid:[[:space:]]*0$" "/proc/$p/status" 2>/dev/null && break
            [ -e "/proc/$p" ] || break
            sleep 0.01
        done
    done
    "$ML" unlink --cleanup --pid "$S" >/dev/null 2>&1
    "$ML" unlink --cleanup --pid "$T" >/dev/null 2>&1
    linked_ok=1
    if grep -q "^${REGION_s#0x}-.* rw-s " "/proc/$S/maps" 2>/dev/null; then
        [ "$(ask t "checkat ${HOLE_t#0x} 1048576 3")" = "pattern ok" ] || linked_ok=0
    fi
    for n in s t; do
        total[$mode]=$((total[$mode] + 1))
        if [ "$(ask $n ping)" = pong ] && [ "$(ask $n check)" = "pattern ok" ] &&
            [[ "$(ask $n status)" == *"maskbad=0 "* ]] && [ $linked_ok = 1 ]; then
            intact[$mode]=$((intact[$mode] + 1))
        else
            echo "iteration $i ($mode ${fault:-timed}): process $n did not survive intact" >&2
        fi
    done
    stop_fixture s; stop_fixture t
done
all=0; ok=0
for mode in in-call between timed; do
    echo "$mode: ${intact[$mode]} / ${total[$mode]} processes intact"
    all=$((all + total[$mode])); ok=$((ok + intact[$mode]))
done
echo "all: $ok / $all processes intact ($N iterations)"
