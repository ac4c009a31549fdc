#!/usr/bin/env bash
# memlink leaks against its peers, in one run, on the same machine:
#   1. malloc_bench.c (two threads, mixed sizes, malloc/free pairs): the work's seconds with no
#      tracing, memlink leaks (growth mode, the default), memlink leaks --all, heaptrack -p
#      (attach mode), and a bpftrace memleak-style probe set and bcc memleak when installed.
#   2. redis-server under redis-benchmark (SET/GET): requests per second, same tracers.
#   3. memlink's own peak RSS (VmHWM) and the time from the command to the first attached
#      probe (its log line), in a release build.
# Usage: benches/leaks/run.sh [PAIRS_FAST PAIRS_SLOW REDIS_N]  (root; builds memlink --release)
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS_FAST=${1:-4000000}   # per thread, for no tracing and growth mode (cheap)
PAIRS_SLOW=${2:-200000}    # per thread, for the per-call probes (a trap per call)
REDIS_N=${3:-200000}
WAIT=6                     # seconds the target waits for the tracer to attach (heaptrack's gdb)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# MEMLINK_BIN=path runs another build (the figures say which).
ML=${MEMLINK_BIN:-target/release/memlink}
[ -n "${MEMLINK_BIN:-}" ] || cargo build --release -q
echo "memlink: $ML"
cc -O2 -pthread -o "$out/malloc_bench" benches/leaks/malloc_bench.c
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; kernel $(uname -r)"

# tracer NAME PID: starts tracer NAME on PID in the background, sets TPID.
tracer() {
  case $1 in
    none) TPID= ;;
    growth) MEMLINK_LOG=info $ML leaks --pid "$2" --duration 600s >"$out/t.out" 2>"$out/t.err" & TPID=$! ;;
    all) MEMLINK_LOG=info $ML leaks --pid "$2" --all --duration 600s >"$out/t.out" 2>"$out/t.err" & TPID=$! ;;
    heaptrack) heaptrack -p "$2" -o "$out/ht" >"$out/t.out" 2>&1 & TPID=$! ;;
    bpftrace) bpftrace -p "$2" -e 'uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == '"$2"'/ { @size[tid] = arg0; @stack[ustack] = count(); }
      uretprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == '"$2"'/ { @live[retval] = @size[tid]; delete(@size[tid]); }
      uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:free /pid == '"$2"'/ { delete(@live[arg0]); }' >"$out/t.out" 2>&1 & TPID=$! ;;
    bcc) /usr/sbin/memleak-bpfcc -p "$2" 600 >"$out/t.out" 2>&1 & TPID=$! ;;
  esac
}
stop_tracer() {
  [ -n "$TPID" ] || return 0
  kill -INT "$TPID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$TPID" 2>/dev/null || true
  wait "$TPID" 2>/dev/null || true
}
available() {
  case $1 in
    heaptrack) command -v heaptrack >/dev/null ;;
    bpftrace) command -v bpftrace >/dev/null ;;
    # bcc compiles its probes at run time against the running kernel's headers.
    bcc) [ -x /usr/sbin/memleak-bpfcc ] && [ -d "/lib/modules/$(uname -r)/build" ] ;;
    *) true ;;
  esac
}

echo
echo "## malloc_bench: 2 threads, seconds of work (lower is better)"
printf '%-10s %10s %10s %10s\n' tracer pairs seconds "vs none"
declare -A base
for t in none growth all heaptrack bpftrace bcc; do
  if ! available $t; then printf '%-10s %s\n' $t "not available (not installed, or bcc without kernel headers)"; continue; fi
  for pairs in $PAIRS_FAST $PAIRS_SLOW; do
    case $t in none) ;; growth) [ $pairs = $PAIRS_FAST ] || continue ;; *) [ $pairs = $PAIRS_SLOW ] || continue ;; esac
    "$out/malloc_bench" $WAIT $pairs >"$out/b.out" & B=$!
    sleep 0.3
    tracer $t $B
    wait $B
    stop_tracer
    secs=$(tail -n 1 "$out/b.out")
    [ $t = none ] && base[$pairs]=$secs
    printf '%-10s %10s %10s %9.2fx\n' $t $pairs "$secs" "$(echo "$secs / ${base[$pairs]}" | bc -l)"
  done
done

echo
echo "## redis-server under redis-benchmark -t set,get -n $REDIS_N -P 1 -c 50, requests/s (higher is better)"
printf '%-10s %12s %12s %10s\n' tracer SET GET "GET vs none"
port=$((20000 + RANDOM % 10000))
redis-server --port $port --save '' --appendonly no --daemonize no >"$out/redis.log" 2>&1 & R=$!
sleep 1
base_get=
for t in none growth all heaptrack bpftrace bcc; do
  if ! available $t; then printf '%-10s %s\n' $t "not available (not installed, or bcc without kernel headers)"; continue; fi
  tracer $t $R
  [ $t = none ] || sleep $([ $t = heaptrack ] && echo $WAIT || echo 3)
  res=$(redis-benchmark -p $port -t set,get -n $REDIS_N -c 50 -q --csv | tr -d '"' | awk -F, '/^(SET|GET)/{print $1, $2}')
  stop_tracer
  set_rps=$(echo "$res" | awk '$1=="SET"{print $2}')
  get_rps=$(echo "$res" | awk '$1=="GET"{print $2}')
  [ $t = none ] && base_get=$get_rps
  printf '%-10s %12s %12s %9.3fx\n' $t "$set_rps" "$get_rps" "$(echo "$get_rps / $base_get" | bc -l)"
done
kill $R; wait $R 2>/dev/null || true

echo
echo "## memlink itself ($ML)"
for mode in growth all; do
  "$out/malloc_bench" 2 $PAIRS_SLOW >"$out/b.out" & B=$!
  sleep 0.2
  rm -f "$out/t.err"
  t0=$(date +%s.%N)
  args=(--pid $B --duration 600s); [ $mode = all ] && args+=(--all)
  MEMLINK_LOG=info $ML leaks "${args[@]}" >"$out/t.out" 2>"$out/t.err" & M=$!
  while ! grep -q "probes attached" "$out/t.err" 2>/dev/null; do sleep 0.01; done
  t1=$(date +%s.%N)
  wait $B
  hwm=$(awk '/VmHWM/{print $2}' /proc/$M/status)
  kill -INT $M; wait $M || true
  printf '%-8s command to first attached probe %.3fs (memlink says: %s); peak RSS %s MiB\n' \
    $mode "$(echo "$t1 - $t0" | bc -l)" "$(grep -o 'in [0-9.]*s' "$out/t.err" | head -1)" "$(echo "$hwm / 1024" | bc)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
