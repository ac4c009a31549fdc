//! The reader thread: all reading happens here, off the interface's thread, so that drawing and
//! keys never wait for `/proc`.
//!
//! Every refresh reads `status` (RSS, its anon/file/shmem split, swap, threads) and `stat` (start
//! time) of every process through [`memlink::overtime::ps`]; `cmdline`, `cgroup` and `maps` (the
//! mapping count, a line per mapping) only in the passes below, kept in between by the
//! [`Tracker`]. `smaps_rollup` (PSS, USS, SwapPss), the file whose read walks page
//! tables, is read every `pss_every` in a turn of the library's rollup budget
//! ([`memlink::overtime::rollup`]: a process whose read costs more than the per-target budget is
//! read at a slower cadence); in between (refreshes with a budget of zero), and for a process
//! over the budget, the library gives each row the last PSS/USS its [`RollupCache`] holds for
//! the same process (PID and start time), with its age, while it is not above the RSS of now. The detail of the process shown in the process view (`smaps`, the
//! audit) is read only while that view is open, at most every refresh, and at most every
//! [`BIG_DETAIL_EVERY`] for a process with more than [`BIG_REGIONS`] regions.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memlink::inspect::auditor;
use memlink::overtime::ps::{self, Options};
use memlink::overtime::rollup::RollupCache;
use memlink::snapshot::Snapshot;
use memlink::MemoryAnalyzer;

use super::data::{Detail, Frame, Spark, Tracker};

/// A process with more regions than this is read for the process view less often.
pub const BIG_REGIONS: usize = 5000;
/// How often the process view of a big process is read.
pub const BIG_DETAIL_EVERY: Duration = Duration::from_secs(10);
/// Sparkline samples kept for the process view.
pub const SPARK_SAMPLES: usize = 120;

/// What the reader sends.
#[derive(Debug)]
pub enum Msg {
    /// A refresh of the process list.
    Frame(Frame),
    /// The process view's data.
    Detail(Box<Detail>),
    /// The process view's process could not be read (exited, or not permitted).
    DetailFailed(u32, String),
    /// The process list could not be read at all.
    Failed(String),
}

/// What the reader is asked to read.
#[derive(Debug, Clone)]
pub struct Config {
    /// The procfs mount.
    pub proc_root: PathBuf,
    /// Only these PIDs (all when empty).
    pub pids: Vec<u32>,
    /// Time between refreshes.
    pub delay: Duration,
    /// Time between `smaps_rollup` passes.
    pub pss_every: Duration,
    /// Per-process time budget of a scan (ps's, for the optional files).
    pub budget: Duration,
    /// Per-target budget of a `smaps_rollup` turn (the library's rollup budget).
    pub rollup_budget: Duration,
}

/// The handle the interface keeps on the reader thread.
pub struct Reader {
    /// Messages from the reader.
    pub rx: Receiver<Msg>,
    focus: Arc<Mutex<Option<u32>>>,
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
}

impl Reader {
    /// Starts the thread.
    pub fn start(config: Config) -> std::io::Result<Reader> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (wake, woken) = std::sync::mpsc::channel();
        let focus = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (focus.clone(), stop.clone());
        std::thread::Builder::new()
            .name("top-reader".into())
            .spawn(move || run(config, tx, woken, f, s))?;
        Ok(Reader {
            rx,
            focus,
            stop,
            wake,
        })
    }

    /// Reads the detail of `pid` from now on (`None`: no process view).
    pub fn focus(&self, pid: Option<u32>) {
        if let Ok(mut f) = self.focus.lock() {
            *f = pid;
        }
        let _ = self.wake.send(());
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
    }
}

fn run(
    config: Config,
    tx: Sender<Msg>,
    woken: Receiver<()>,
    focus: Arc<Mutex<Option<u32>>>,
    stop: Arc<AtomicBool>,
) {
    let mut tracker = Tracker::default();
    let cache = RollupCache::new();
    let mut last_rollup: Option<Instant> = None;
    let mut next_list = Instant::now();
    let mut detail = DetailState::default();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= next_list {
            let rollup = last_rollup.is_none_or(|t| now.duration_since(t) >= config.pss_every);
            let msg = read_list(&config, &mut tracker, &cache, rollup);
            if rollup && matches!(msg, Msg::Frame(_)) {
                last_rollup = Some(now);
            }
            let msg = match msg {
                Msg::Frame(mut f) => {
                    f.rollup_age = last_rollup.map(|t| t.elapsed());
                    Msg::Frame(f)
                }
                other => other,
            };
            if tx.send(msg).is_err() {
                return;
            }
            next_list = now + config.delay;
        }
        let target = focus.lock().ok().and_then(|f| *f);
        if let Some(msg) = detail.tick(&config, target) {
            if tx.send(msg).is_err() {
                return;
            }
        }
        let wait = next_list
            .saturating_duration_since(Instant::now())
            .min(detail.wait(&config, target));
        let _ = woken.recv_timeout(wait);
    }
}

fn read_list(config: &Config, tracker: &mut Tracker, cache: &RollupCache, rollup: bool) -> Msg {
    let t0 = Instant::now();
    let opts = Options {
        root: config.proc_root.clone(),
        pids: (!config.pids.is_empty()).then(|| config.pids.clone()),
        // Between passes, only what changes from one second to the next: `status` (and `stat`
        // for the identity). The command line, cgroup and mapping count (a line per mapping)
        // are read in passes and kept in between; a budget of zero skips the optional files.
        budget: if rollup {
            config.budget
        } else {
            Duration::ZERO
        },
        cmdline: rollup,
        mappings: rollup,
        // Between passes, a budget of nothing: the library then reads no rollup (but the first
        // of a process under 1 MiB resident, which costs about nothing) and gives each row the
        // last one it holds for the same process, with its age. The credit of a costly process
        // grows only in passes.
        rollup_budget: Some(if rollup {
            config.rollup_budget
        } else {
            Duration::ZERO
        }),
        ..Options::default()
    };
    let table = match ps::scan_with(&opts, cache) {
        Ok(t) => t,
        Err(e) => return Msg::Failed(e.to_string()),
    };
    let rows = tracker.merge(table.rows, Instant::now());
    let mem = std::fs::read(config.proc_root.join("meminfo"))
        .map(|b| memlink::proc::meminfo::parse(&b))
        .unwrap_or_default();
    Msg::Frame(Frame {
        rows,
        mem,
        exited: table.exited + table.missing.len() as u64,
        read_in: t0.elapsed(),
        rollup_age: None,
    })
}

/// The process view's reading: which process, when it was last read, its sparkline.
#[derive(Default)]
struct DetailState {
    pid: Option<u32>,
    last: Option<Instant>,
    regions: usize,
    history: Vec<Spark>,
}

impl DetailState {
    fn every(&self, config: &Config) -> Duration {
        if self.regions > BIG_REGIONS {
            BIG_DETAIL_EVERY.max(config.delay)
        } else {
            config.delay
        }
    }

    fn wait(&self, config: &Config, target: Option<u32>) -> Duration {
        match (target, self.last) {
            (Some(_), Some(t)) => self.every(config).saturating_sub(t.elapsed()),
            (Some(_), None) => Duration::ZERO,
            (None, _) => config.delay,
        }
    }

    fn tick(&mut self, config: &Config, target: Option<u32>) -> Option<Msg> {
        if target != self.pid {
            *self = DetailState {
                pid: target,
                ..DetailState::default()
            };
        }
        let pid = target?;
        if self.last.is_some_and(|t| t.elapsed() < self.every(config)) {
            return None;
        }
        self.last = Some(Instant::now());
        let t0 = Instant::now();
        let read = || -> memlink::Result<(Snapshot, usize, Spark)> {
            let analyzer = MemoryAnalyzer::with_proc_root(&config.proc_root, pid)?;
            let snapshot = Snapshot::take(&analyzer)?;
            let findings = auditor::protection_findings(&snapshot, Some(&analyzer)).len();
            let status = std::fs::read(config.proc_root.join(pid.to_string()).join("status"))
                .ok()
                .and_then(|b| memlink::proc::status::parse(&b).ok());
            let t = &snapshot.stats.total.memory;
            let spark = Spark {
                rss: t.rss.unwrap_or(0),
                pss: t.pss.unwrap_or(0),
                anon: status.as_ref().map_or(0, |s| s.rss_anon),
                file: status.as_ref().map_or(0, |s| s.rss_file),
                shmem: status.as_ref().map_or(0, |s| s.rss_shmem),
            };
            Ok((snapshot, findings, spark))
        };
        match read() {
            Ok((snapshot, findings, spark)) => {
                self.regions = snapshot.regions.len();
                if self.history.len() == SPARK_SAMPLES {
                    self.history.remove(0);
                }
                self.history.push(spark);
                Some(Msg::Detail(Box::new(Detail {
                    pid,
                    snapshot,
                    findings,
                    history: self.history.clone(),
                    read_in: t0.elapsed(),
                })))
            }
            Err(e) => Some(Msg::DetailFailed(pid, e.to_string())),
        }
    }
}
