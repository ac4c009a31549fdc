//! One watch: refusals that need no BPF, then the probes attached, events applied until the
//! duration ends, the caller asks to stop, or the target exits; then the probes are dropped
//! (every link is owned by a descriptor of this process, so they also go if memlink dies).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::allocator;
use super::growth::{Growth, WATCHED_CALLS};
use super::objects::Objects;
use super::report::{self, Followed, ProcessGrowth, Report};
use super::sampler;
use super::track::Tracker;
use crate::error::{Error, Result};
use crate::overtime::trend::Thresholds;
use crate::platform::{self, Probes, RawEvent};

/// What is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Address-space growth (`brk`, `mmap`, `mremap`, `munmap`, `mprotect`): the default.
    Growth,
    /// Every allocation and free through the allocator's entry points (`--all`).
    Exact,
}

/// The options of a watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// Target.
    pub pid: u32,
    /// Mode.
    pub mode: Mode,
    /// How long to watch.
    pub duration: Duration,
    /// Sampling rate in bytes (0 = the stack of every allocation).
    pub sample_bytes: u64,
    /// Seed of the sampler (fixed for reproducible tests; otherwise from the clock).
    pub seed: u64,
    /// Only allocations at least this old count as outstanding.
    pub min_age: Duration,
    /// Sites in the report.
    pub top: usize,
    /// The leak rule's thresholds, as `watch` uses them.
    pub thresholds: Thresholds,
    /// Time between growth samples of each site.
    pub interval: Duration,
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// How long after its time stamp an event is surely in the ring (the probe stamps it on entry
/// and submits it microseconds later; a thread preempted in between is rare).
const QUEUE_DELAY_NS: u64 = 20_000_000;

/// Growth points on the probes' clock: one at each interval boundary, taken when the first event
/// past the boundary is applied, or once nothing older can still be queued. A watch that falls
/// behind its target (memlink descheduled, a burst read at once) so still records each site's
/// growth as it happened, not as it was read.
struct Ticks {
    start_ns: u64,
    interval_ns: u64,
    next_ns: u64,
}

impl Ticks {
    fn new(start_ns: u64, interval: Duration) -> Ticks {
        Ticks {
            start_ns,
            interval_ns: (interval.as_nanos() as u64).max(1),
            next_ns: start_ns,
        }
    }

    /// The next point due by `now_ns`, in seconds since the start of the watch.
    fn due(&mut self, now_ns: u64) -> Option<f64> {
        if now_ns < self.next_ns {
            return None;
        }
        let t = (self.next_ns - self.start_ns) as f64 / 1e9;
        self.next_ns += self.interval_ns;
        Some(t)
    }
}

fn cap_eff() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
}

/// The refusals that can be told before loading anything, each one line.
fn preflight(pid: u32) -> Result<()> {
    if let Some(caps) = cap_eff() {
        let has = |bit: u32| caps & (1u64 << bit) != 0;
        // CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON on every kernel that has them.
        let missing: Vec<&str> = [(39, "CAP_BPF"), (38, "CAP_PERFMON"), (19, "CAP_SYS_PTRACE")]
            .into_iter()
            .filter(|(bit, _)| !(has(*bit) || (*bit != 19 && has(21))))
            .map(|(_, n)| n)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Refused {
                pid,
                reason: format!(
                    "no permission to trace its allocations: missing {} (run as root, or grant CAP_BPF + CAP_PERFMON and the ptrace access that reading its maps needs)",
                    missing.join(" + ")
                ),
            });
        }
    }
    if let Ok(l) = std::fs::read_to_string("/sys/kernel/security/lockdown") {
        if l.contains("[confidentiality]") {
            return Err(Error::Refused {
                pid,
                reason:
                    "the kernel is locked down (confidentiality): eBPF may not read user memory"
                        .into(),
            });
        }
    }
    if !Path::new("/sys/bus/event_source/devices/uprobe/type").exists() {
        return Err(Error::Unsupported {
            op:
                "memlink leaks (the kernel has no uprobe PMU: /sys/bus/event_source/devices/uprobe)",
            platform: "this kernel",
        });
    }
    Ok(())
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

fn private_bytes(dir: &platform::ProcDir) -> Option<u64> {
    platform::rollup_of(dir)
        .ok()
        .map(|r| r.usage.private_clean + r.usage.private_dirty)
}

/// `VmData` and `VmRSS` of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    (field("VmData:"), field("VmRSS:"))
}

/// `start_brk` (field 47 of `/proc/PID/stat`): the break of a heap that has not grown yet.
fn start_brk(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    // `rest` starts at field 3.
    rest.split_whitespace().nth(47 - 3)?.parse().ok()
}

fn delta(a: Option<u64>, b: Option<u64>) -> Option<i64> {
    Some(b? as i64 - a? as i64)
}

/// Runs a watch of `opts.pid`. `stop` ends it early (Ctrl-C); `on_attached` is called once the
/// probes are in place, with how many.
///
/// # Errors
/// The refusals (permission, lockdown, no uprobes, kernel thread, zombie, no such process), a
/// kernel that refuses the probes ([`Error::Bpf`]), in exact mode an allocator memlink does
/// not know, and a target that exits before anything could be judged.
pub fn run(
    opts: &Options,
    stop: &AtomicBool,
    on_attached: &mut dyn FnMut(usize),
) -> Result<Report> {
    let dir = platform::open_process(Path::new(platform::DEFAULT_PROC_ROOT), opts.pid)?;
    preflight(opts.pid)?;
    let growth_mode = opts.mode == Mode::Growth;
    let exe = std::fs::read_link(format!("/proc/{}/exe", opts.pid))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut objs = Objects::load(opts.pid)?;
    // Growth mode needs no allocator; it names it when it knows it.
    let alloc = match allocator::find(&objs, &exe) {
        Ok(a) => Some(a),
        Err(_) if growth_mode => None,
        Err(e) => return Err(e),
    };
    let mut probes = Probes::load(
        opts.pid,
        growth_mode,
        opts.sample_bytes,
        &sampler::thresholds(),
        opts.seed,
    )?;
    if let (false, Some(alloc)) = (growth_mode, &alloc) {
        for p in &alloc.probes {
            probes.attach(p.program, &p.path, p.offset, opts.pid)?;
        }
    }
    probes.attach_tracepoints()?;
    let mut growth = Growth::new();
    if growth_mode {
        // Read after the probes are in place: a change made in between is seen as an event.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", opts.pid)).unwrap_or_default();
        growth.seed(&maps, start_brk(opts.pid));
    }
    let private_start = private_bytes(&dir);
    let (data_start, rss_start) = status_bytes(opts.pid);
    // Announced only once the baselines are read: what the target does after the announcement
    // is both seen as events and counted in its growth.
    on_attached(probes.attached());
    let started = Instant::now();
    let start_ns = monotonic_ns();
    let mut tracker = Tracker::new(opts.sample_bytes);
    let mut events: Vec<RawEvent> = Vec::new();
    let mut next_check = Duration::ZERO;
    // At least 20 points per site over the watch, so a short watch can be judged.
    let interval = opts
        .interval
        .min(opts.duration / 20)
        .max(Duration::from_millis(50));
    let mut ticks = Ticks::new(start_ns, interval);
    let mut exited = false;
    let (mut private_end, mut data_end, mut rss_end) = (private_start, data_start, rss_start);
    let tick = |tracker: &mut Tracker, growth: &mut Growth, t: f64| {
        if growth_mode {
            growth.tick(t);
        } else {
            tracker.tick(t);
        }
    };
    // Applies the drained events, each after the points due before it, then the points due by
    // `up_to` (nothing older can still be queued).
    let advance = |objs: &mut Objects,
                   tracker: &mut Tracker,
                   growth: &mut Growth,
                   ticks: &mut Ticks,
                   events: &mut Vec<RawEvent>,
                   up_to: u64| {
        for ev in events.drain(..) {
            while let Some(t) = ticks.due(ev.time_ns()) {
                tick(tracker, growth, t);
            }
            match ev {
                RawEvent::Enter { .. } | RawEvent::Return { .. } | RawEvent::Free { .. } => {
                    tracker.apply(objs, ev)
                }
                _ => growth.apply(objs, ev),
            }
        }
        while let Some(t) = ticks.due(up_to) {
            tick(tracker, growth, t);
        }
    };
    loop {
        // Every event stamped well before this has been queued by the time the drain reads.
        let queued_by = monotonic_ns().saturating_sub(QUEUE_DELAY_NS);
        probes.drain(&mut events, Duration::from_millis(2));
        advance(
            &mut objs,
            &mut tracker,
            &mut growth,
            &mut ticks,
            &mut events,
            queued_by,
        );
        if growth.exec {
            break;
        }
        let el = started.elapsed();
        if el >= next_check {
            next_check += interval;
            if alive(opts.pid) {
                private_end = private_bytes(&dir).or(private_end);
                let (d, r) = status_bytes(opts.pid);
                (data_end, rss_end) = (d.or(data_end), r.or(rss_end));
            } else {
                exited = true;
                break;
            }
        }
        if el >= opts.duration || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let watched = started.elapsed();
    let end_ns = start_ns + watched.as_nanos() as u64;
    // The counters at the end of the watch, then what is still queued (it belongs to the watch).
    if !exited && alive(opts.pid) {
        private_end = private_bytes(&dir).or(private_end);
        let (d, r) = status_bytes(opts.pid);
        (data_end, rss_end) = (d.or(data_end), r.or(rss_end));
    }
    probes.drain(&mut events, Duration::ZERO);
    advance(
        &mut objs,
        &mut tracker,
        &mut growth,
        &mut ticks,
        &mut events,
        end_ns,
    );
    tick(&mut tracker, &mut growth, watched.as_secs_f64());
    let drops = probes.drops();
    drop(probes);
    let seen = if growth_mode {
        growth.grows
    } else {
        tracker.allocs
    };
    if exited && seen == 0 {
        return Err(Error::ProcessExited {
            pid: opts.pid,
            during: if growth_mode {
                "it was watched, before any growth of its memory was seen".into()
            } else {
                "it was watched, before any allocation was seen".into()
            },
        });
    }
    // Ages are measured on the probes' clock up to the end of the watch (before the detach,
    // which takes a while: each uprobe is removed under an RCU grace period).
    let now_ns = end_ns;
    let followed = Followed {
        children_not_followed: growth.children.clone(),
        exec: growth.exec,
    };
    let process = ProcessGrowth {
        private: delta(private_start, private_end),
        vm_data: delta(data_start, data_end),
        rss: delta(rss_start, rss_end),
    };
    let (mode, probed, sites, live, allocations, frees) = if growth_mode {
        let live = growth.live().collect();
        let g = &growth;
        (
            "growth",
            WATCHED_CALLS.to_vec(),
            g.sites(),
            live,
            g.grows,
            g.shrinks,
        )
    } else {
        let probed = alloc
            .as_ref()
            .map(|a| a.probes.iter().map(|p| p.symbol).collect())
            .unwrap_or_default();
        let t = &tracker;
        (
            "exact",
            probed,
            t.sites(),
            t.live().collect(),
            t.allocs,
            t.frees,
        )
    };
    Ok(report::build(report::Inputs {
        opts,
        allocator: alloc.as_ref(),
        mode,
        probed,
        sites,
        live,
        allocations,
        frees,
        followed,
        drops,
        watched,
        now_ns,
        exited,
        growth: process,
    }))
}
