#!/usr/bin/env python3
"""Core benchmark: memlink list/analyze against the kernel floor (cat of the /proc file), pmap and
the procfs crate, on processes with 1,000 / 10,000 / 100,000 mappings.

Usage (as root, from the repo root):
    python3 benches/core/compare.py [--runs N] [--sizes 1000,100000] [--baseline OLD_MEMLINK]
--baseline adds rows for another memlink binary (an older build), measured in the same runs.
The "own work" rows run memlink on a copy of the process's /proc files in tmpfs (--proc-root),
where reading costs next to nothing: what is left is memlink's own parsing and rendering, which
must stay well below the kernel's generation of the file for the listing to keep up with it.
Raises vm.max_map_count above 65530 for the run and restores it. Prints a Markdown table:
median wall time and mean user-mode CPU time over N runs and peak RSS of each command, and the
ratio to its floor. Runs are
interleaved (every command once, N times over), so that a change in the machine's load during
the run weighs on every command alike; then the issue's targets are checked at the largest size.
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "benches", "core")


def build():
    tmp = os.path.join(ROOT, "target", "bench-core")
    os.makedirs(tmp, exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", os.path.join(tmp, "many_maps"), os.path.join(HERE, "many_maps.c")], check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "memlink"], cwd=ROOT, check=True)
    peer = None
    r = subprocess.run(["cargo", "build", "--release", "-q", "--manifest-path",
                        os.path.join(HERE, "procfs-peer", "Cargo.toml"), "--target-dir", tmp])
    if r.returncode == 0:
        peer = os.path.join(tmp, "release", "procfs-peer")
    return os.path.join(tmp, "many_maps"), os.path.join(ROOT, "target", "release", "memlink"), peer


def wall(argv):
    """Wall seconds and user-mode CPU seconds of one run of `argv`, stdout to /dev/null. The
    user time is the tool's own work: the kernel's generation of the file is system time, for
    the floor and the tools alike. The kernel samples it at each clock tick, so the table gives
    the mean over the runs, which is meaningful from about 10,000 mappings up."""
    with open(os.devnull, "wb") as null:
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=null, stderr=subprocess.PIPE)
        t = time.perf_counter() - t0
        u = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - u0
    if p.returncode != 0:
        sys.exit(f"{argv} failed: {p.stderr.decode()}")
    return t, u


def tmpfs_copy(pid):
    """A procfs root in /dev/shm holding copies of the files memlink reads for `pid`."""
    root = f"/dev/shm/memlink-bench-{pid}"
    os.makedirs(f"{root}/{pid}/task/{pid}", exist_ok=True)
    for name in ["stat", "status", "maps", "smaps", f"task/{pid}/syscall"]:
        with open(f"/proc/{pid}/{name}", "rb") as src, open(f"{root}/{pid}/{name}", "wb") as dst:
            dst.write(src.read())
    return root


def peak_rss(argv):
    """Peak RSS in KiB, read by /usr/bin/time in a run of its own: Python's own RSS would
    otherwise be counted, since a forked child's peak carries over its parent's across exec."""
    with open(os.devnull, "wb") as null:
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, stdout=null, stderr=subprocess.PIPE)
    return int(p.stderr.decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--baseline", help="another memlink binary to measure alongside")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    many, memlink, peer = build()
    old = open("/proc/sys/vm/max_map_count").read().strip()
    need = max(sizes) * 2 + 1000
    if int(old) < need:
        open("/proc/sys/vm/max_map_count", "w").write(str(need))
    try:
        print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, {args.runs} runs each, median wall time, peak RSS\n")
        results = {}
        print("| mappings | command | wall | ratio to floor | user CPU | peak RSS |")
        print("|---:|---|---:|---:|---:|---:|")
        for n in sizes:
            child = subprocess.Popen([many, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert child.stdout.readline().strip() == b"ready"
            pid = str(child.pid)
            copy = tmpfs_copy(pid)
            # A floor row sets the floor for the rows after it.
            rows = [
                ("cat /proc/P/smaps (floor)", ["cat", f"/proc/{pid}/smaps"]),
                ("memlink list --detailed --format json", [memlink, "list", "--pid", pid, "--detailed", "--format", "json"]),
                ("memlink analyze --summary --format json", [memlink, "analyze", "--pid", pid, "--summary", "--format", "json"]),
                ("pmap -X", ["pmap", "-X", pid]),
                ("own work: memlink list --detailed --format json on a tmpfs copy", [memlink, "--proc-root", copy, "list", "--pid", pid, "--detailed", "--format", "json"]),
            ]
            if args.baseline:
                rows.append(("baseline list --detailed --format json", [args.baseline, "list", "--pid", pid, "--detailed", "--format", "json"]))
            if peer:
                rows.append(("procfs crate smaps()", [peer, pid]))
            rows += [
                ("cat /proc/P/maps (floor)", ["cat", f"/proc/{pid}/maps"]),
                ("memlink list", [memlink, "list", "--pid", pid]),
                ("memlink list --format json", [memlink, "list", "--pid", pid, "--format", "json"]),
                ("pmap", ["pmap", pid]),
                ("own work: memlink list on a tmpfs copy", [memlink, "--proc-root", copy, "list", "--pid", pid]),
            ]
            if args.baseline:
                rows.append(("baseline list", [args.baseline, "list", "--pid", pid]))
            if peer:
                rows.append(("procfs crate maps()", [peer, pid, "maps"]))
            times = {label: [] for label, _ in rows}
            user = {label: [] for label, _ in rows}
            for _ in range(args.runs):
                for label, argv in rows:
                    t, u = wall(argv)
                    times[label].append(t)
                    user[label].append(u)
            floor = None
            for label, argv in rows:
                median = statistics.median(times[label])
                cpu = statistics.mean(user[label])
                if "(floor)" in label:
                    floor = median
                results[(n, label)] = median / floor
                rss = peak_rss(argv)
                print(f"| {n:,} | {label} | {median*1000:.1f} ms | {median/floor:.2f}x | {cpu*1000:.1f} ms | {rss/1024:.1f} MiB |", flush=True)
            child.stdin.close()
            child.wait()
            shutil.rmtree(copy)
        n = max(sizes)
        print(f"\nTargets at {n:,} mappings:")
        for label, target in [("memlink list --detailed --format json", 1.25), ("memlink list", 1.5)]:
            r = results[(n, label)]
            print(f"- `{label}`: {r:.2f}x its floor (target at most {target}x): {'met' if r <= target else 'NOT met'}")
    finally:
        open("/proc/sys/vm/max_map_count", "w").write(old)


if __name__ == "__main__":
    main()
