#!/usr/bin/env bash
# Checks that a plain `cargo build --release` binary has no test-only fault hook: without the
# `test-hooks` feature it does not contain the name MEMLINK_TEST_FAULT, does not refuse an
# invalid value, and a real link with a fault that would kill the target right after the stop
# succeeds and leaves the target running. (`cargo test` builds its binary with the hook: see
# the test `the_tested_binary_has_the_fault_hook`.)
# Usage: benches/link/release_ignores_fault_hook.sh   (the link needs root or ptrace rights)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
ML="$CARGO_TARGET_DIR/release/memlink"
fail() { echo "FAIL: $*" >&2; exit 1; }

if grep -qa MEMLINK_TEST_FAULT "$ML"; then fail "$ML contains the fault hook"; fi
out=$(MEMLINK_TEST_FAULT=after:nowhere:fail "$ML" link --source 1 --target 2 --address 0x1000 \
    --size 4096 2>&1 || true)
case $out in *"invalid test fault"*) fail "$ML reads MEMLINK_TEST_FAULT: $out" ;; esac

B=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$B"' EXIT
cc -O2 -o "$B/holder" benches/link/holder.c
# start_holder -> sets HPID, REGION, HOLE (stdin kept open through a fifo)
start_holder() {
    local f="$B/in.$RANDOM$RANDOM"
    mkfifo "$f"
    "$B/holder" 4096 <"$f" >"$f.out" &
    HPID=$!
    exec {HFD}>"$f"
    for _ in $(seq 6000); do [ -s "$f.out" ] && break; sleep 0.01; done
    REGION=$(sed 's/region=\([^ ]*\).*/\1/' "$f.out")
    HOLE=$(sed 's/.*hole=//' "$f.out")
}
start_holder; S=$HPID; SR=$REGION
start_holder; T=$HPID; TH=$HOLE
MEMLINK_TEST_FAULT=after:stop:kill-target "$ML" link --source "$S" --target "$T" \
    --address "$SR" --size 4096 --target-address "$TH" >/dev/null ||
    fail "a link with MEMLINK_TEST_FAULT set failed"
kill -0 "$T" 2>/dev/null || fail "the target died: $ML obeyed MEMLINK_TEST_FAULT"
grep -q memlink-link "/proc/$T/maps" || fail "the target has no link"
echo "ok: $ML ignores MEMLINK_TEST_FAULT"
