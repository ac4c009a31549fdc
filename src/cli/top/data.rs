//! What `top` shows, as the reader hands it to the interface: process rows with the age of
//! their PSS/USS figures and their growth, the system totals, and the detail of one process.
//!
//! A process is known by its PID *and* its start time (`stat` field 22): a PID reused by a new
//! process starts a new history, and an older PSS/USS figure of the previous owner is never shown
//! for it. Growth is the least-squares slope of RSS (read at every refresh) over what `top` has
//! seen, with the leak rule of `memlink watch` ([`memlink::overtime::trend`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use memlink::overtime::cgroup::{Cgroup, Container};
use memlink::overtime::ps::ProcessRow;
use memlink::overtime::trend;
use memlink::proc::meminfo::MemInfo;
use memlink::snapshot::Snapshot;

/// Samples of one process kept for its growth (at a 1 s refresh, ten minutes).
pub const HISTORY: usize = 600;

/// One process row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The figures `memlink ps` reads (PSS/USS filled in from the last `smaps_rollup` pass).
    pub ps: ProcessRow,
    /// Start time in clock ticks after boot (`None` when `stat` could not be read).
    pub start: Option<u64>,
    /// Age of the PSS/USS figures (`None` when they are unknown).
    pub pss_age: Option<Duration>,
    /// Growth of RSS in bytes per minute (`None` before two samples).
    pub growth: Option<f64>,
    /// The leak rule holds for the RSS series.
    pub leak: bool,
}

/// One refresh of the process list.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// Every process read.
    pub rows: Vec<Row>,
    /// System totals (`/proc/meminfo`).
    pub mem: MemInfo,
    /// Processes that exited while being read.
    pub exited: u64,
    /// How long the refresh took.
    pub read_in: Duration,
    /// Age of the last `smaps_rollup` pass (`None` before the first).
    pub rollup_age: Option<Duration>,
}

/// The figures of one process's sparkline sample, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spark {
    /// RSS (`status`).
    pub rss: u64,
    /// PSS (`smaps`).
    pub pss: u64,
    /// Anonymous resident (`status` RssAnon).
    pub anon: u64,
    /// File-backed resident (`status` RssFile).
    pub file: u64,
    /// Shared memory resident (`status` RssShmem).
    pub shmem: u64,
}

/// The process view's data for one process.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The process.
    pub pid: u32,
    /// Its regions and summary, read from `smaps`.
    pub snapshot: Snapshot,
    /// The protection audit's findings on it.
    pub findings: usize,
    /// Sparkline samples, oldest first.
    pub history: Vec<Spark>,
    /// How long reading it took.
    pub read_in: Duration,
}

/// RSS samples of one process: (seconds since `top` started, bytes).
type Series = VecDeque<(f64, f64)>;

/// What the reader remembers of one process (PID and start time).
#[derive(Debug, Default)]
struct Seen {
    start: Option<u64>,
    rss: Series,
    /// The mapping count of the last pass that read it.
    mappings: Option<u64>,
    /// The command line of the last pass, with the command name it was read under.
    command: Option<(String, String, Option<Vec<u8>>)>,
    /// The memory cgroup and container of the last pass.
    cgroup: Option<(Cgroup, Option<Container>)>,
}

/// The reader's memory of every process: its RSS history and its last mapping count (PSS/USS
/// figures of earlier passes are kept by the library's
/// [`memlink::overtime::rollup::RollupCache`]).
#[derive(Debug, Default)]
pub struct Tracker {
    history: HashMap<u32, Seen>,
    epoch: Option<Instant>,
}

impl Tracker {
    /// Merges one scan (`rows` with their start times) taken at `now`: each row's PSS/USS age
    /// comes from its provenance, its RSS joins the history of the same process (same PID and
    /// start time), and its growth is judged over that history. A row read without its mapping
    /// count, command line or cgroup (between passes) gets the last ones read for the same
    /// process; the command line only while the command name is the same (an `exec` changes it).
    pub fn merge(&mut self, rows: Vec<ProcessRow>, now: Instant) -> Vec<Row> {
        let epoch = *self.epoch.get_or_insert(now);
        let t = now.saturating_duration_since(epoch).as_secs_f64();
        let mut out = Vec::with_capacity(rows.len());
        let mut seen = HashMap::with_capacity(rows.len());
        for mut ps in rows {
            let (pid, start) = (ps.pid, ps.start_time);
            seen.insert(pid, ());
            let pss_age = ps
                .figures
                .pss
                .and(ps.sources.pss)
                .map(|p| Duration::from_secs_f64(p.age_s.max(0.0)));
            let h = self.history.entry(pid).or_insert_with(|| Seen {
                start,
                ..Seen::default()
            });
            if h.start != start {
                *h = Seen {
                    start,
                    ..Seen::default()
                };
            }
            if ps.mappings.is_some() {
                h.mappings = ps.mappings;
            } else {
                ps.mappings = h.mappings;
            }
            match (&ps.command, &h.command) {
                (Some(c), _) => {
                    h.command = Some((ps.name.clone(), c.clone(), ps.command_bytes.clone()))
                }
                (None, Some((name, c, b))) if *name == ps.name => {
                    ps.command = Some(c.clone());
                    ps.command_bytes = b.clone();
                }
                (None, _) => {}
            }
            match (&ps.cgroup, &h.cgroup) {
                (Some(c), _) => h.cgroup = Some((c.clone(), ps.container.clone())),
                (None, Some((c, k))) => {
                    ps.cgroup = Some(c.clone());
                    ps.container = k.clone();
                }
                (None, None) => {}
            }
            if let Some(rss) = ps.figures.rss {
                if h.rss.len() == HISTORY {
                    h.rss.pop_front();
                }
                h.rss.push_back((t, rss as f64));
            }
            let points: Vec<(f64, f64)> = h.rss.iter().copied().collect();
            // The judgement of `memlink watch`: its slope, over the samples after the warm-up;
            // unknown until it covers some time.
            let j = trend::judge(&points, &trend::DEFAULT_BYTES, "bytes");
            let growth = (j.span_s > 0.0).then_some(j.slope_per_min);
            let leak = j.suspected;
            out.push(Row {
                ps,
                start,
                pss_age,
                growth,
                leak,
            });
        }
        self.history.retain(|pid, _| seen.contains_key(pid));
        out
    }
}
