#!/usr/bin/env bash
# CPU time per minute (user and system, from /proc/PID/stat at the end of the run, over the
# process's own lifetime) of memlink top, htop and procps top, each driven in tmux at a 1 s
# refresh for the same time over every process of this machine plus 200 extra sleepers; and the
# memory of each (VmRSS at the end, VmHWM the largest).
# Usage: benches/top/run.sh [SECONDS] [TOOL...]   (default 180 s; tools: memlink htop top, all by
# default; results are scaled to one minute)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-180}
shift || true
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(memlink htop top)
for tool in tmux htop top; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done
cargo build --release --quiet
memlink=$PWD/target/release/memlink
tick=$(getconf CLK_TCK)
sock=memlink-bench-$$

sleepers=()
for _ in $(seq 200); do sleep 100000 & sleepers+=($!); done
trap 'kill "${sleepers[@]}" 2>/dev/null || true; tmux -L "$sock" kill-server 2>/dev/null || true' EXIT

measure() { # name command...
  local name=$1; shift
  tmux -L "$sock" -f /dev/null new-session -d -x 200 -y 50 "$*"
  local pid
  pid=$(tmux -L "$sock" list-panes -F '#{pane_pid}')
  local load0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  sleep "$secs"
  # The pane's shell execs the command: the pane's PID is the tool. Its CPU counts every thread.
  local stat up rss hwm
  stat=$(sed 's/^.*) //' "/proc/$pid/stat")
  up=$(cut -d' ' -f1 /proc/uptime)
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  tmux -L "$sock" kill-server
  # After "pid (comm) ": utime is field 12, stime 13, starttime 20.
  awk -v s="$stat" -v t="$tick" -v up="$up" -v n="$name" -v rss="$rss" -v hwm="$hwm" \
    -v l0="$load0" -v l1="$load1" 'BEGIN {
    split(s, a, " "); life = up - a[20] / t; u = a[12] / t * 60 / life; y = a[13] / t * 60 / life
    printf "%-12s %5.2f s CPU per minute (user %.2f, sys %.2f) over %.0f s; RSS %.1f MiB (max %.1f MiB); load %s -> %s\n",
      n, u + y, u, y, life, rss / 1024, hwm / 1024, l0, l1 }'
}

echo "$(date -u '+%F %T UTC'), $(nproc) cores, kernel $(uname -r), memlink $(git rev-parse --short HEAD)"
echo "processes: $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) (with 200 sleepers), ${secs} s each, 1 s refresh"
echo "$(htop --version | head -1); $(top -V | head -1)"
for tool in "${tools[@]}"; do
  case $tool in
    memlink) measure "memlink top" exec "$memlink" top --delay 1s ;;
    htop) measure "htop" exec htop -d 10 ;;
    top) measure "procps top" exec top -d 1 ;;
    *) echo "run.sh: unknown tool $tool" >&2; exit 2 ;;
  esac
done
