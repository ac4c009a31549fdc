#!/usr/bin/env bash
# Runs two memlink binaries on the same inputs and diffs every output byte for byte: the committed
# /proc captures (through --proc-root), the snapshot fixtures, and a live fixture process that is
# stopped (SIGSTOP) so its figures hold still between the two runs.
#
#   bash .ci/same-output.sh OLD_BINARY [NEW_BINARY]
#
# NEW_BINARY defaults to target/release/memlink. Exit 0 when every output is identical, 1 with the
# differing commands listed otherwise. Commands whose output is meant to change are listed in
# `expected` below (with the reason) and reported as such, not counted.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
# Each binary runs under the name memlink, so that help texts agree.
mkdir "$work/old" "$work/new"
cp "${1:?usage: same-output.sh OLD_BINARY [NEW_BINARY]}" "$work/old/memlink"
cp "${2:-target/release/memlink}" "$work/new/memlink"
old=$work/old/memlink
new=$work/new/memlink
child=
cleanup() {
    if [ -n "$child" ]; then kill -9 "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A fake procfs root per capture, laid out as ROOT/PID/ like the tests' fake_root.
mkroot() { # name pid
    mkdir -p "$work/root-$1/$2"
    cp -r "tests/fixtures/proc/$1/." "$work/root-$1/$2/"
    echo "$work/root-$1"
}
odd=$(mkroot odd 6683)
zombie=$(mkroot zombie 4242)
kthread=$(mkroot kthread 2)

# A live fixture, stopped so that both binaries see the same figures.
# Linked statically, so no other process shares its file pages and its PSS holds still.
cc -O1 -static -pthread -o "$work/regions" tests/fixtures/programs/regions.c
mkdir "$work/files"
mkfifo "$work/stdin"
"$work/regions" "$work/files" <"$work/stdin" >"$work/regions.out" &
child=$!
exec 3>"$work/stdin" # held open: the fixture serves stdin until EOF
for _ in $(seq 200); do grep -q '^ready' "$work/regions.out" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -STOP "$child"
pid=$child
snap=tests/fixtures/snapshots/regions.json

cmds=(
  "list --proc-root $odd --pid 6683"
  "list --proc-root $odd --pid 6683 --detailed"
  "list --proc-root $odd --pid 6683 --format json"
  "list --proc-root $odd --pid 6683 --detailed --format json"
  "analyze --proc-root $odd --pid 6683"
  "analyze --proc-root $odd --pid 6683 --format json"
  "analyze --proc-root $odd --pid 6683 --summary --format json"
  "analyze --proc-root $odd --pid 6683 --summary"
  "list --proc-root $zombie --pid 4242"
  "list --proc-root $kthread --pid 2"
  "list --pid 999999999"
  "list --pid $pid"
  "list --pid $pid --detailed"
  "list --pid $pid --detailed --format json"
  "analyze --pid $pid"
  "analyze --pid $pid --summary --format json"
  "audit --pid $pid"
  "audit --pid $pid --format json"
  "search --pid $pid --text memlink-needle"
  "map --snapshot $snap"
  "map --snapshot $snap --format svg -o $work/OUT.svg"
  "map --snapshot $snap -o $work/OUT.html"
  "diff $snap $snap"
  "diff $snap $snap --format json"
  "watch --pid 999999999 --count 1"
  "ps --pid $pid --format json"
  "test math"
  "--help"
  "list --help"
)
# Output meant to change, as a command prefix and the reason.
expected=(
  "list --proc-root $odd|classification rules: Guard only beside a stack or heap, deleted state unknown in a capture, stack look-alikes named"
  "analyze --proc-root $odd|the same classification rules"
  "list --pid $pid|the same rules: the fixture's lone inaccessible page is Reserved, not Guard"
  "analyze --pid $pid|the same rules"
  "--help|new subcommands: completions, man"
  "list --proc-root $odd --pid 6683 --detailed --format json|per-region pss_anon/pss_file/pss_shmem are null (only smaps_rollup has them)"
  "list --pid $pid --detailed --format json|per-region PSS split null"
  "analyze --proc-root $odd --pid 6683 --summary --format json|new summary fields total_source, sum_of_regions, total_minus_regions"
  "analyze --pid $pid --summary --format json|total from smaps_rollup, with its source and the difference from the rows"
  "map --snapshot $snap|legend says which figure its sizes are and where the totals come from; no 16.0EB gap above user space"
  "diff $snap $snap|the line naming where the totals come from; diff JSON: total_sources"
)
is_expected() {
    local e
    for e in "${expected[@]}"; do [[ "$1" == "${e%%|*}"* ]] && { echo "${e#*|}"; return 0; }; done
    return 1
}
fail=0
for c in "${cmds[@]}"; do
    for which in old new; do
        bin=${!which}
        rm -f "$work"/OUT.*
        # shellcheck disable=SC2086
        $bin $c >"$work/$which.stdout" 2>"$work/$which.stderr"
        echo "exit $?" >>"$work/$which.stderr"
        for f in "$work"/OUT.*; do [ -e "$f" ] && cat "$f" >>"$work/$which.stdout"; done
        sed -i "s#$work#WORK#g" "$work/$which.stdout" "$work/$which.stderr"
    done
    if cmp -s "$work/old.stdout" "$work/new.stdout" && cmp -s "$work/old.stderr" "$work/new.stderr"; then
        echo "same     memlink $c" | sed "s#$work#WORK#g"
    elif why=$(is_expected "$c"); then
        echo "changed  memlink $c ($why)" | sed "s#$work#WORK#g"
    else
        echo "DIFFERS  memlink $c" | sed "s#$work#WORK#g"
        diff <(cat "$work/old.stdout" "$work/old.stderr") <(cat "$work/new.stdout" "$work/new.stderr") | head -20
        fail=1
    fi
done
exit $fail
