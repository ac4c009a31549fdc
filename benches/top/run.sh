#!/usr/bin/env bash
# CPU time per minute (user + system, from /proc/PID/stat after the run) of memlink top, htop
# and procps top, each driven in tmux at a 1 s refresh for the same time over every process of
# this machine plus 200 extra sleepers; and memlink top's largest RSS (VmHWM).
# Usage: benches/top/run.sh [SECONDS]   (default 60; results are scaled to one minute)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
cargo build --release --quiet
memlink=$PWD/target/release/memlink
tick=$(getconf CLK_TCK)

sleepers=()
for _ in $(seq 200); do sleep 100000 & sleepers+=($!); done
trap 'kill "${sleepers[@]}" 2>/dev/null || true; tmux -L memlink-bench kill-server 2>/dev/null || true' EXIT
nproc_now=$(ls -d /proc/[0-9]* | wc -l)

measure() { # name command...
  local name=$1; shift
  tmux -L memlink-bench -f /dev/null new-session -d -x 200 -y 50 "$*"
  sleep 2
  local pid
  pid=$(tmux -L memlink-bench list-panes -F '#{pane_pid}')
  # The pane runs the command through a shell that execs it.
  sleep "$secs"
  local stat hwm
  stat=$(cut -d' ' -f14,15 "/proc/$pid/stat")
  hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
  tmux -L memlink-bench kill-server
  awk -v s="$stat" -v t="$tick" -v secs="$secs" -v n="$name" -v h="$hwm" 'BEGIN {
    split(s, a, " "); cpu = (a[1] + a[2]) / t; printf "%-12s %6.2f s CPU per minute (user %.2f, sys %.2f), max RSS %s\n", n, cpu * 60 / (secs + 2), a[1] / t * 60 / (secs + 2), a[2] / t * 60 / (secs + 2), h }'
}

echo "processes: $nproc_now, ${secs}s each, 1 s refresh"
measure "memlink top" exec "$memlink" top --delay 1s
measure "htop" exec htop -d 10
measure "procps top" exec top -d 1
