#!/usr/bin/env bash
# Audit benchmark: `memlink audit --pid` of a JVM (many libraries, a JIT) against the floor of
# its byte comparison (benches/inspect/audit_floor.c: pagemap, copied pages and file bytes, in
# C), first with a cold ELF cache (one process) and the JVM after a gdb attach/detach (so it
# has copied pages); and `memlink audit --all` against `memlink ps` over the same processes.
#
# Usage: benches/inspect/audit.sh [RUNS]   (needs a release build, java, gdb; MEMLINK=path
# runs another build). Best of RUNS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-5}
memlink=${MEMLINK:-${CARGO_TARGET_DIR:-$root/target}/release/memlink}
[ -x "$memlink" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$jpid" 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -o "$work/floor" "$here/audit_floor.c"
cat > "$work/Hot.java" <<'JAVA'
public class Hot { static int f(int x) { return x * 2 + 1; }
  public static void main(String[] a) throws Exception { long s = 0;
    for (int i = 0; i < 50000000; i++) s += f(i);
    System.out.println("ready " + s); Thread.sleep(600000); } }
JAVA
java "$work/Hot.java" > "$work/java.out" &
jpid=$!
until grep -q '^ready' "$work/java.out" 2>/dev/null; do sleep 0.2; done
gdb -p "$jpid" -batch -nx -ex detach > /dev/null 2>&1 || true

best() { # best wall seconds of $runs runs of "$@"
    local b=999999999999 t0 t1 d
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
        d=$(( (t1 - t0) / 1000 )); [ "$d" -lt "$b" ] && b=$d
    done
    echo "$b"
}
libs=$(awk '$6 ~ /^\// && $2 ~ /x/ {print $6}' "/proc/$jpid/maps" | sort -u | wc -l)
floor=$(best "$work/floor" "$jpid")
audit=$(best "$memlink" audit --pid "$jpid")
all=$(best "$memlink" audit --all)
ps=$(best "$memlink" ps)
procs=$( ("$memlink" audit --all --format json || true) | sed -n 's/.*"audited": *\([0-9]*\).*/\1/p' | head -1 || true)
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
seen=$("$work/floor" "$jpid" || echo "floor failed")
echo "| measure | wall ms |"
echo "| --- | ---: |"
echo "| floor: compare the JVM's copied code pages with its files (C; $seen) | $(ms "$floor") |"
echo "| memlink audit --pid (JVM, $libs executable files) | $(ms "$audit") |"
echo "| memlink audit --all ($procs processes) | $(ms "$all") |"
echo "| memlink ps | $(ms "$ps") |"
echo
echo "audit / floor: $(ratio "$audit" "$floor")x; audit --all / ps: $(ratio "$all" "$ps")x"
