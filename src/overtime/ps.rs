//! The system-wide table: every process with its memory totals, user, command, threads, mapping
//! count and memory cgroup, read in parallel, and the same rows grouped by user, cgroup, command
//! or mapped file.
//!
//! Per process, memlink reads `status` (name, user, threads, `NSpid`, and RSS/swap as a fallback),
//! `smaps_rollup` (RSS, PSS, USS, swap, SwapPss), then `cmdline`, `cgroup` and `maps` (the
//! mapping count). Processes that exit meanwhile are skipped and counted; processes whose
//! `smaps_rollup` may not be read are kept with what `status` shows and marked `restricted`. A
//! figure memlink does not know (not permitted, or not read at all) is `None`, never 0: it sorts
//! last and is left out of sums, which count the rows that lacked it.
//!
//! [`run`] is the whole `memlink ps`: a [`Request`] (filters, sort key, grouping, limit) in, a
//! sorted and grouped [`Report`] with its [`Totals`] out; the command line only renders it.
//!
//! Cost per process is bounded by a time budget: the budget is checked before each optional file,
//! and once it is spent the remaining optional files (cgroup, mapping count, and for the mapping
//! view the rest of `smaps`) are skipped and the row is marked `over_budget`. A single
//! read cannot be interrupted, so a row can overrun its budget by at most one file.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::overtime::cgroup::{self, Cgroup, Container};
pub use crate::overtime::rollup::Sources;
use crate::overtime::rollup::{self, Decision, Provenance, RollupCache, Source};
use crate::platform::ProcDir;
use crate::proc::smaps::{self, SmapsParser};
use crate::region::escape_path;
use crate::region::stats::{FiguresSum, KnownSum, MemoryFigures};

/// One process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRow {
    /// PID in memlink's namespace.
    pub pid: u32,
    /// PID inside the process's own PID namespace (`NSpid`, innermost).
    pub ns_pid: u32,
    /// Real user ID.
    pub uid: u32,
    /// User name (the uid as text when it has no name).
    pub user: String,
    /// Command name (`comm`).
    pub name: String,
    /// Command line, arguments separated by spaces (`None` when not read).
    pub command: Option<String>,
    /// The command line's bytes as the kernel gave them (NULs between arguments become spaces),
    /// for text output, which escapes them itself.
    #[serde(skip)]
    pub command_bytes: Option<Vec<u8>>,
    /// RSS, PSS, USS and swap, bytes. RSS and swap come from `status` when `smaps_rollup` is
    /// not read; PSS and USS are then unknown (`None`).
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// Proportional swap (`None` when `smaps_rollup` was not read).
    pub swap_pss: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Number of mappings (`None` when not read).
    pub mappings: Option<u64>,
    /// Memory cgroup.
    pub cgroup: Option<Cgroup>,
    /// The container, pod or systemd unit recognised from the cgroup path.
    pub container: Option<Container>,
    /// Reading `smaps_rollup` was not permitted: only `status` figures (RSS, swap) are known.
    /// A rollup that was not asked for (`Options::rollup` false) leaves PSS and USS unknown
    /// without marking the row restricted.
    pub restricted: bool,
    /// The time budget ran out: some optional fields were not read.
    pub over_budget: bool,
    /// Resident memory by kind, from `status` (read every time: O(1) counters).
    pub split: Option<RssSplit>,
    /// Where each figure comes from and how old it is.
    pub sources: Sources,
    /// Why PSS and USS are what they are: read now, from an earlier read, or unknown and why.
    pub pss_state: PssState,
    /// Seconds memlink spent reading this process's `smaps_rollup` in this scan (an upper bound
    /// of how long it held up the process's mapping changes); `None` when it was not read.
    pub rollup_read_s: Option<f64>,
    /// The thread-group leader has exited (it called `pthread_exit`) while other threads live:
    /// the figures were read through one of them (`task/TID/`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leader_exited: bool,
    /// The process's start time (`stat` field 22, clock ticks since boot), which tells it from
    /// a later process given the same PID; `None` when unreadable.
    #[serde(skip)]
    pub start_time: Option<u64>,
}

impl Default for ProcessRow {
    /// A row of PID 0 where nothing is known: every figure unknown (`None`), nothing read.
    fn default() -> Self {
        ProcessRow {
            pid: 0,
            ns_pid: 0,
            uid: 0,
            user: String::new(),
            name: String::new(),
            command: None,
            command_bytes: None,
            figures: MemoryFigures::UNKNOWN,
            swap_pss: None,
            threads: 0,
            mappings: None,
            cgroup: None,
            container: None,
            restricted: false,
            over_budget: false,
            split: None,
            sources: Sources {
                rss: Provenance::now(Source::Status),
                pss: None,
            },
            pss_state: PssState::NotRead,
            rollup_read_s: None,
            leader_exited: false,
            start_time: None,
        }
    }
}

/// Resident memory by kind (`RssAnon`, `RssFile`, `RssShmem` of `status`), bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RssSplit {
    /// Anonymous (heap, stacks, private anonymous mappings).
    pub anon: u64,
    /// File-backed.
    pub file: u64,
    /// Shared memory (shared anonymous, tmpfs, memfd, SysV).
    pub shmem: u64,
}

/// What is known of a row's PSS and USS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PssState {
    /// Read from `smaps_rollup` in this scan.
    Read,
    /// From an earlier read (the rollup is over the budget this turn): see `sources.pss.age_s`.
    Earlier,
    /// Not permitted (another user's process without the rights).
    NotPermitted,
    /// Not read: its estimated cost is above the per-target budget (and no earlier read fits).
    OverBudget,
    /// Not read: not asked for, or the file could not be parsed.
    #[default]
    NotRead,
}

impl PssState {
    /// PSS and USS are unknown.
    pub fn is_unknown(self) -> bool {
        !matches!(self, PssState::Read | PssState::Earlier)
    }
}

/// Which optional files to read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The procfs mount.
    pub root: PathBuf,
    /// Only these PIDs (all when `None`).
    pub pids: Option<Vec<u32>>,
    /// Only these users.
    pub uids: Option<Vec<u32>>,
    /// Only commands whose name or command line match.
    pub command: Option<regex::Regex>,
    /// Only processes whose memory cgroup path starts with this.
    pub cgroup: Option<String>,
    /// Read `cmdline`.
    pub cmdline: bool,
    /// Read `maps` for the mapping count.
    pub mappings: bool,
    /// Read `smaps_rollup` (PSS, USS); without it RSS and swap come from `status`.
    pub rollup: bool,
    /// Read `smaps` for the per-mapping view.
    pub per_mapping: bool,
    /// Per-process time budget.
    pub budget: Duration,
    /// Per-process budget for reading `smaps_rollup` in one scan (see [`crate::overtime::rollup`]);
    /// `None`: read every rollup whatever it costs.
    pub rollup_budget: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: PathBuf::from(crate::platform::DEFAULT_PROC_ROOT),
            pids: None,
            uids: None,
            command: None,
            cgroup: None,
            cmdline: true,
            mappings: true,
            rollup: true,
            per_mapping: false,
            budget: Duration::from_millis(250),
            rollup_budget: Some(rollup::DEFAULT_BUDGET),
        }
    }
}

/// Figures of one mapped file (or pseudo-name, or anonymous memory) summed over processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingUse {
    /// The path, `[heap]`-style name, or `[anon]`.
    pub key: String,
    /// Processes that map it.
    pub processes: u64,
    /// Mappings.
    pub mappings: u64,
    /// Summed RSS, PSS, USS and swap.
    #[serde(flatten)]
    pub figures: MemoryFigures,
}

impl Default for MappingUse {
    /// Nothing mapped yet: every figure known and zero.
    fn default() -> Self {
        MappingUse {
            key: String::new(),
            processes: 0,
            mappings: 0,
            figures: MemoryFigures::ZERO,
        }
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Table {
    /// Rows, in PID order.
    pub rows: Vec<ProcessRow>,
    /// Processes that exited while being read.
    pub exited: u64,
    /// PIDs asked for (`Options::pids`) that do not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// Kernel threads and zombies (no user memory), left out.
    pub no_memory: u64,
    /// The per-mapping view, when asked for (largest PSS first).
    pub by_mapping: Option<Vec<MappingUse>>,
}

/// Lists the PIDs under `root`.
pub(crate) fn list_pids(root: &Path) -> Result<Vec<u32>> {
    let rd = std::fs::read_dir(root).map_err(|source| Error::File {
        path: root.to_path_buf(),
        source,
    })?;
    let mut pids: Vec<u32> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

enum Read1 {
    Row(Box<ProcessRow>, Vec<MappingUse>),
    /// The PID's directory was not there.
    Missing,
    Exited,
    NoMemory,
    Filtered,
}

/// Reads a small procfs file with plain `read` calls: `std::fs::read`'s size probe (`statx` and
/// `lseek`) would double the system calls per file, and procfs reports no size anyway.
fn read_small(dir: &ProcDir, name: &str) -> std::io::Result<Vec<u8>> {
    let mut f = dir.open_file(name)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
}

/// Reads every process (or those in `opts.pids`), in parallel, as a one-shot reader.
///
/// # Errors
/// The procfs root cannot be listed.
pub fn scan(opts: &Options) -> Result<Table> {
    scan_with(opts, &RollupCache::new())
}

/// Reads every process like [`scan`], as one turn of a repeated reader: `cache` keeps each
/// process's earlier rollup and budget credit from one turn to the next.
///
/// # Errors
/// The procfs root cannot be listed.
pub fn scan_with(opts: &Options, cache: &RollupCache) -> Result<Table> {
    if let Some(b) = opts.rollup_budget {
        cache.next_turn(b);
    }
    let pids = match &opts.pids {
        Some(p) => {
            let mut p = p.clone();
            p.sort_unstable();
            p.dedup();
            p
        }
        None => list_pids(&opts.root)?,
    };
    let results: Vec<Read1> = pids
        .par_iter()
        .map(|&pid| read_one(opts, cache, pid))
        .collect();
    let mut table = Table::default();
    let mut mappings: HashMap<String, MappingUse> = HashMap::new();
    let mut users: HashMap<u32, String> = HashMap::new();
    for (r, &pid) in results.into_iter().zip(&pids) {
        match r {
            Read1::Row(mut row, uses) => {
                row.user = users
                    .entry(row.uid)
                    .or_insert_with(|| user_name(row.uid))
                    .clone();
                for u in uses {
                    let m = mappings.entry(u.key.clone()).or_insert_with(|| MappingUse {
                        key: u.key.clone(),
                        ..MappingUse::default()
                    });
                    m.processes += 1;
                    m.mappings += u.mappings;
                    m.figures.add(&u.figures);
                }
                table.rows.push(*row);
            }
            // Listed a moment ago, gone now: it exited; asked for by PID: it does not exist.
            Read1::Missing if opts.pids.is_some() => table.missing.push(pid),
            Read1::Missing | Read1::Exited => table.exited += 1,
            Read1::NoMemory => table.no_memory += 1,
            Read1::Filtered => {}
        }
    }
    if opts.per_mapping {
        let mut v: Vec<MappingUse> = mappings.into_values().collect();
        v.sort_by(|a, b| b.figures.pss.cmp(&a.figures.pss).then(a.key.cmp(&b.key)));
        table.by_mapping = Some(v);
    }
    Ok(table)
}

/// A live thread of a process whose leader has exited, as `task/TID/`.
fn live_thread(dir: &ProcDir, pid: u32) -> Option<(String, crate::proc::status::Status)> {
    for tid in dir.tids().ok()? {
        if tid == pid {
            continue;
        }
        let task = format!("task/{tid}/");
        let Ok(b) = read_small(dir, &format!("{task}status")) else {
            continue;
        };
        if let Ok(s) = crate::proc::status::parse(&b) {
            if s.state != b'Z' && s.state != b'X' {
                return Some((task, s));
            }
        }
    }
    None
}

fn read_one(opts: &Options, cache: &RollupCache, pid: u32) -> Read1 {
    let start = Instant::now();
    let Ok(dir) = ProcDir::open(&opts.root, pid) else {
        return Read1::Missing;
    };
    let mut status = match read_small(&dir, "status") {
        Ok(b) => match crate::proc::status::parse(&b) {
            Ok(s) => s,
            Err(_) => return Read1::Exited,
        },
        Err(_) => return Read1::Exited,
    };
    // Where the memory files are read: the process's own directory, or, when its leader called
    // `pthread_exit` while other threads live (a zombie leader, whose own files show no memory),
    // the directory of a live thread.
    let mut task = String::new();
    let mut leader_exited = false;
    if (status.state == b'Z' || status.state == b'X') && status.threads > 1 {
        if let Some((t, s)) = live_thread(&dir, pid) {
            task = t;
            leader_exited = true;
            // The leader's identity, the live thread's memory.
            let (name, uid, ns_pid) = (
                std::mem::take(&mut status.name),
                status.uid,
                std::mem::take(&mut status.ns_pid),
            );
            status = s;
            status.name = name;
            status.uid = uid;
            status.ns_pid = ns_pid;
        }
    }
    if status.state == b'Z' || status.state == b'X' {
        return Read1::NoMemory;
    }
    if status.kthread == Some(true) || (status.kthread.is_none() && status.vm_size == 0) {
        return Read1::NoMemory;
    }
    if let Some(uids) = &opts.uids {
        if !uids.contains(&status.uid[0]) {
            return Read1::Filtered;
        }
    }
    let name = escape_path(&status.name);
    let mut row = ProcessRow {
        pid,
        ns_pid: status.ns_pid.last().copied().unwrap_or(pid),
        uid: status.uid[0],
        user: String::new(),
        name,
        command: None,
        command_bytes: None,
        figures: MemoryFigures {
            rss: Some(status.vm_rss),
            pss: None,
            uss: None,
            swap: Some(status.vm_swap),
        },
        swap_pss: None,
        threads: status.threads,
        mappings: None,
        cgroup: None,
        container: None,
        restricted: false,
        over_budget: false,
        split: Some(RssSplit {
            anon: status.rss_anon,
            file: status.rss_file,
            shmem: status.rss_shmem,
        }),
        sources: Sources {
            rss: Provenance::now(Source::Status),
            pss: None,
        },
        pss_state: PssState::NotRead,
        rollup_read_s: None,
        leader_exited,
        start_time: None,
    };
    if opts.cmdline || opts.command.is_some() {
        match read_small(&dir, &format!("{task}cmdline")) {
            Ok(b) => {
                let joined = cmdline_bytes(&b);
                row.command = Some(escape_path(&joined));
                row.command_bytes = Some(joined);
            }
            Err(e) if gone(&e) => return Read1::Exited,
            Err(_) => {}
        }
    }
    if let Some(re) = &opts.command {
        if !re.is_match(&row.name) && !row.command.as_deref().is_some_and(|c| re.is_match(c)) {
            return Read1::Filtered;
        }
    }
    if opts.cgroup.is_some() || opts.budget > start.elapsed() {
        match read_small(&dir, "cgroup") {
            Ok(b) => {
                row.cgroup = cgroup::parse_proc_cgroup(&b);
                row.container = row.cgroup.as_ref().and_then(|c| cgroup::recognise(&c.path));
            }
            Err(e) if gone(&e) => return Read1::Exited,
            Err(_) => {}
        }
    } else {
        row.over_budget = true;
    }
    if let Some(prefix) = &opts.cgroup {
        if !row
            .cgroup
            .as_ref()
            .is_some_and(|c| cgroup_under(&c.path, prefix))
        {
            return Read1::Filtered;
        }
    }
    // The rollup and the mapping count are independent: for a process with many mappings each
    // is a long read, so an idle worker may take one while this one reads the other.
    let count_maps = opts.mappings && !opts.per_mapping;
    // The rollup walks the page tables: only within the per-target budget (or when the cgroup
    // or mapping view needs it anyway).
    row.start_time = start_time(&dir, &task);
    let key = (pid, row.start_time.unwrap_or(0));
    let decision = if !opts.rollup {
        None
    } else if opts.per_mapping {
        Some(Decision::Read)
    } else {
        Some(cache.decide(key, status.vm_rss, opts.rollup_budget))
    };
    let rollup_file = format!("{task}smaps_rollup");
    let maps_file = format!("{task}maps");
    let (rollup, maps) = rayon::join(
        || match decision {
            Some(Decision::Read) => {
                let t0 = Instant::now();
                Some((read_small(&dir, &rollup_file), t0.elapsed()))
            }
            _ => None,
        },
        || (count_maps && start.elapsed() < opts.budget).then(|| count_lines(&dir, &maps_file)),
    );
    if let Some((res, cost)) = rollup {
        row.rollup_read_s = Some(cost.as_secs_f64());
        match res {
            Ok(b) => match smaps::parse_rollup(&b) {
                Ok(Some(r)) => {
                    row.figures = MemoryFigures::from_usage(&r.usage);
                    row.swap_pss = Some(r.usage.swap_pss);
                    row.sources = Sources {
                        rss: Provenance::now(Source::SmapsRollup),
                        pss: Some(Provenance::now(Source::SmapsRollup)),
                    };
                    row.pss_state = PssState::Read;
                    cache.record(key, row.figures, row.swap_pss, cost);
                }
                Ok(None) => return Read1::Exited,
                // Unparsable: unknown, but not a matter of permission.
                Err(_) => {}
            },
            Err(e) if gone(&e) => return Read1::Exited,
            Err(e) => {
                row.restricted = matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM));
                if row.restricted {
                    row.pss_state = PssState::NotPermitted;
                }
            }
        }
    } else if let Some(Decision::Skip { estimate }) = decision {
        log::debug!(
            "pid {pid}: smaps_rollup estimated at {estimate:?}, over the budget: not read this turn"
        );
        row.pss_state = PssState::OverBudget;
        // An earlier read, while it is still possible next to the RSS of now (a figure of
        // another instant must not make PSS or USS exceed RSS).
        if let Some(e) = cache.earlier(key) {
            if e.fits(row.figures.rss.unwrap_or(0)) {
                row.figures.pss = e.figures.pss;
                row.figures.uss = e.figures.uss;
                row.swap_pss = e.swap_pss;
                row.sources.pss = Some(Provenance {
                    source: Source::SmapsRollup,
                    age_s: e.age.as_secs_f64().max(1e-6),
                });
                row.pss_state = PssState::Earlier;
            }
        }
    }
    match maps {
        Some(Ok(n)) => row.mappings = Some(n),
        Some(Err(e)) if gone(&e) => return Read1::Exited,
        Some(Err(_)) => {}
        None if count_maps => row.over_budget = true,
        None => {}
    }
    let mut uses = Vec::new();
    if opts.per_mapping && row.figures.pss.is_some() {
        match read_mappings(&dir, start, opts.budget) {
            Ok((u, n, complete)) => {
                uses = u;
                row.mappings = Some(n);
                row.over_budget |= !complete;
            }
            Err(e) if gone(&e) => return Read1::Exited,
            Err(_) => {}
        }
    }
    Read1::Row(Box::new(row), uses)
}

/// The start time of the process (or of thread `task`), to tell a reused PID from the process
/// that had it.
fn start_time(dir: &ProcDir, task: &str) -> Option<u64> {
    read_small(dir, &format!("{task}stat"))
        .ok()
        .and_then(|b| crate::proc::stat::parse(&b).ok())
        .map(|s| s.start_time)
}

/// True when cgroup `path` is `prefix` or below it.
pub(crate) fn cgroup_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn cmdline_bytes(b: &[u8]) -> Vec<u8> {
    let trimmed = b.strip_suffix(b"\0").unwrap_or(b);
    trimmed
        .iter()
        .map(|&c| if c == 0 { b' ' } else { c })
        .collect()
}

#[cfg(test)]
fn cmdline_text(b: &[u8]) -> String {
    escape_path(&cmdline_bytes(b))
}

/// Counts the lines of a file under `/proc/PID` without keeping it.
pub(crate) fn count_lines(dir: &ProcDir, name: &str) -> std::io::Result<u64> {
    let mut f = dir.open_file(name)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', &buf[..k]).count() as u64;
    }
}

/// The mapping key used by the per-mapping view.
fn mapping_key(pathname: &[u8]) -> String {
    if pathname.is_empty() {
        "[anon]".to_string()
    } else {
        escape_path(pathname)
    }
}

/// Reads `smaps` and sums figures per mapping key. Returns the sums, the number of mappings and
/// whether the file was read to the end within the budget.
fn read_mappings(
    dir: &ProcDir,
    start: Instant,
    budget: Duration,
) -> std::io::Result<(Vec<MappingUse>, u64, bool)> {
    let f = dir.open_file("smaps")?;
    let mut r = BufReader::with_capacity(64 * 1024, f);
    let mut p = SmapsParser::new();
    let mut sums: HashMap<String, MappingUse> = HashMap::new();
    let mut n = 0u64;
    let mut line = Vec::new();
    let mut complete = true;
    let add = |e: smaps::SmapsEntry, sums: &mut HashMap<String, MappingUse>| {
        let key = mapping_key(&e.pathname);
        let m = sums.entry(key.clone()).or_insert_with(|| MappingUse {
            key,
            processes: 1,
            ..MappingUse::default()
        });
        m.mappings += 1;
        m.figures.add(&MemoryFigures::from_usage(&e.usage));
    };
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        match p.feed_line(&line) {
            Ok(Some(e)) => {
                n += 1;
                add(e, &mut sums);
                if n.is_multiple_of(64) && start.elapsed() > budget {
                    complete = false;
                    break;
                }
            }
            Ok(None) => {}
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    if complete {
        if let Some(e) = p.finish() {
            n += 1;
            add(e, &mut sums);
        }
    }
    Ok((sums.into_values().collect(), n, complete))
}

/// The user name for `uid`, or the number as text.
pub(crate) fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// Resolves a user name or numeric uid.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the user when it is unknown.
pub fn resolve_user(name: &str) -> Result<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(uid);
    }
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
        .ok_or_else(|| Error::InvalidArgument(format!("unknown user {name:?}")))
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One group per command name.
    Command,
    /// One group per user.
    User,
    /// One group per memory cgroup.
    Cgroup,
}

/// Rows summed by a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The command name, user name or cgroup path.
    pub key: String,
    /// The container recognised from the cgroup path (cgroup grouping only).
    pub container: Option<Container>,
    /// Processes.
    pub processes: u64,
    /// Processes whose PSS/USS could not be read (left out of those sums).
    pub restricted: u64,
    /// Processes whose PSS/USS were not read for another reason (over the rollup budget with no
    /// earlier read, not asked for): also left out of those sums.
    #[serde(default)]
    pub unread: u64,
    /// Processes whose PSS/USS come from an earlier read (in the sums; see each row's age).
    #[serde(default)]
    pub earlier: u64,
    /// Summed RSS, PSS, USS and swap of the processes that know them (`None` when none does).
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// Summed SwapPss.
    pub swap_pss: Option<u64>,
    /// Summed threads.
    pub threads: u64,
    /// Largest mapping count of one process in the group.
    pub max_mappings: u64,
    /// The cgroup's own figures (cgroup grouping, when readable).
    pub cgroup_memory: Option<cgroup::MemoryFigures>,
    /// The cgroup (cgroup grouping only).
    pub cgroup: Option<Cgroup>,
}

/// The key of `r` under a grouping.
fn group_key(r: &ProcessRow, by: GroupBy) -> String {
    match by {
        GroupBy::Command => r.name.clone(),
        GroupBy::User => r.user.clone(),
        GroupBy::Cgroup => r
            .cgroup
            .as_ref()
            .map_or_else(|| "?".to_string(), |c| c.path.clone()),
    }
}

/// Groups rows; largest PSS first (then RSS, then key; unknown sums last).
pub fn group(rows: &[ProcessRow], by: GroupBy) -> Vec<Group> {
    let mut map: HashMap<String, (Group, RowSums)> = HashMap::new();
    for r in rows {
        let key = group_key(r, by);
        let (g, sums) = map.entry(key.clone()).or_insert_with(|| {
            (
                Group {
                    key,
                    container: None,
                    processes: 0,
                    restricted: 0,
                    unread: 0,
                    earlier: 0,
                    figures: MemoryFigures::UNKNOWN,
                    swap_pss: None,
                    threads: 0,
                    max_mappings: 0,
                    cgroup_memory: None,
                    cgroup: None,
                },
                RowSums::default(),
            )
        });
        if by == GroupBy::Cgroup {
            g.container = r.container.clone();
            g.cgroup = r.cgroup.clone();
        }
        g.processes += 1;
        g.restricted += r.restricted as u64;
        g.unread += (!r.restricted && r.figures.pss.is_none()) as u64;
        g.earlier += (r.pss_state == PssState::Earlier) as u64;
        g.threads += r.threads;
        g.max_mappings = g.max_mappings.max(r.mappings.unwrap_or(0));
        sums.add(r);
    }
    let mut v: Vec<Group> = map
        .into_values()
        .map(|(mut g, sums)| {
            g.figures = sums.figures.value();
            g.swap_pss = sums.swap_pss.value();
            g
        })
        .collect();
    v.sort_by(|a, b| {
        b.figures
            .pss
            .cmp(&a.figures.pss)
            .then(b.figures.rss.cmp(&a.figures.rss))
            .then(a.key.cmp(&b.key))
    });
    v
}

/// Sums of the optional figures of rows, each leaving unknown values out.
#[derive(Debug, Default)]
struct RowSums {
    figures: FiguresSum,
    swap_pss: KnownSum,
}

impl RowSums {
    fn add(&mut self, r: &ProcessRow) {
        self.figures.add(&r.figures);
        self.swap_pss.add(r.swap_pss);
    }
}

/// Fills in each cgroup group's own memory figures from the cgroup filesystem at `cgroup_root`
/// (normally `/sys/fs/cgroup`).
pub(crate) fn add_cgroup_memory(groups: &mut [Group], cgroup_root: &Path) {
    let mounts = cgroup::Mounts::find(cgroup_root);
    for g in groups {
        if let Some(cg) = &g.cgroup {
            g.cgroup_memory = Some(cgroup::read_memory(&mounts, cg));
        }
    }
}

/// Sums over rows. A row whose figure is unknown is left out of that figure's sum; a sum no row
/// knows is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Processes.
    pub processes: u64,
    /// Restricted processes (their PSS/USS are not in the sums).
    pub restricted: u64,
    /// Processes whose PSS/USS were not read for another reason (also not in the sums).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown: u64,
    /// Processes whose PSS/USS come from an earlier read (in the sums).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub earlier: u64,
    /// Processes whose leader thread has exited while other threads live (in the sums).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leader_exited: u64,
    /// RSS, PSS, USS and swap.
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// SwapPss.
    pub swap_pss: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Mappings.
    pub mappings: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Sums every row.
pub fn totals(rows: &[ProcessRow]) -> Totals {
    let mut sums = RowSums::default();
    let mut t = Totals::default();
    for r in rows {
        t.processes += 1;
        t.restricted += r.restricted as u64;
        t.unknown += (!r.restricted && r.figures.pss.is_none()) as u64;
        t.earlier += (r.pss_state == PssState::Earlier) as u64;
        t.leader_exited += r.leader_exited as u64;
        t.threads += r.threads;
        t.mappings += r.mappings.unwrap_or(0);
        sums.add(r);
    }
    t.figures = sums.figures.value();
    t.swap_pss = sums.swap_pss.value();
    t
}

/// The order of rows (and groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Proportional set size, largest first.
    #[default]
    Pss,
    /// Unique set size, largest first.
    Uss,
    /// Resident set size, largest first.
    Rss,
    /// Swap, largest first.
    Swap,
    /// PID, ascending (groups keep their PSS order).
    Pid,
}

/// What one line of the report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// One line per process.
    #[default]
    Processes,
    /// One line per user, cgroup or command.
    Groups(GroupBy),
    /// One line per mapped file, pseudo-region or `[anon]`, summed over processes (reads every
    /// process's full `smaps`).
    Mappings,
}

/// A whole `memlink ps`: which processes, what to read, how to order and group them.
#[derive(Debug, Clone)]
pub struct Request {
    /// The filters and the files to read (`per_mapping` is set from `view`).
    pub scan: Options,
    /// The order.
    pub sort: SortKey,
    /// Processes, groups or mappings.
    pub view: View,
    /// At most this many lines (0: all); totals always cover every row.
    pub limit: usize,
    /// The cgroup filesystem (for the cgroup view's own figures), normally `/sys/fs/cgroup`.
    pub cgroup_root: PathBuf,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            scan: Options::default(),
            sort: SortKey::default(),
            view: View::default(),
            limit: 0,
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

/// The answer to a [`Request`], ready to render.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The process rows, sorted, at most `limit` of them in the process view (every row
    /// otherwise).
    pub rows: Vec<ProcessRow>,
    /// The groups, sorted and limited (group view).
    pub groups: Vec<Group>,
    /// The mappings, largest PSS first, limited (mapping view).
    pub mappings: Vec<MappingUse>,
    /// Sums over every row read (before the limit).
    pub totals: Totals,
    /// Processes that exited while being read.
    pub exited: u64,
    /// PIDs asked for that do not exist.
    pub missing: Vec<u32>,
    /// Rows over the time budget (before the limit).
    pub over_budget: u64,
}

/// Runs a [`Request`]: scans, sorts, groups, sums and limits.
///
/// # Errors
/// The procfs root cannot be listed.
pub fn run(req: &Request) -> Result<Report> {
    let mut opts = req.scan.clone();
    opts.per_mapping = req.view == View::Mappings;
    let table = scan(&opts)?;
    let mut rows = table.rows;
    sort_rows(&mut rows, req.sort);
    let totals = totals(&rows);
    let over_budget = rows.iter().filter(|r| r.over_budget).count() as u64;
    let limit = |n: usize| if req.limit > 0 { req.limit.min(n) } else { n };
    let mut report = Report {
        totals,
        exited: table.exited,
        missing: table.missing,
        over_budget,
        ..Report::default()
    };
    match req.view {
        View::Processes => rows.truncate(limit(rows.len())),
        View::Groups(by) => {
            let mut groups = group(&rows, by);
            sort_groups(&mut groups, req.sort);
            if by == GroupBy::Cgroup {
                add_cgroup_memory(&mut groups, &req.cgroup_root);
            }
            groups.truncate(limit(groups.len()));
            report.groups = groups;
        }
        View::Mappings => {
            let mut m = table.by_mapping.unwrap_or_default();
            m.truncate(limit(m.len()));
            report.mappings = m;
        }
    }
    report.rows = rows;
    Ok(report)
}

/// Sorts rows by `key`, largest first (PID ascending); PSS/USS read earlier after those read
/// now, unknown figures last, ties by RSS.
pub(crate) fn sort_rows(rows: &mut [ProcessRow], key: SortKey) {
    let by = |f: fn(&MemoryFigures) -> Option<u64>| {
        move |a: &ProcessRow, b: &ProcessRow| {
            f(&b.figures)
                .cmp(&f(&a.figures))
                .then(b.figures.rss.cmp(&a.figures.rss))
        }
    };
    // 0: read now, 1: from an earlier read, 2: unknown.
    let rank = |r: &ProcessRow| match (r.figures.pss, r.pss_state) {
        (None, _) => 2,
        (Some(_), PssState::Earlier) => 1,
        (Some(_), _) => 0,
    };
    let ranked = |f: fn(&MemoryFigures) -> Option<u64>| {
        move |a: &ProcessRow, b: &ProcessRow| rank(a).cmp(&rank(b)).then(by(f)(a, b))
    };
    match key {
        SortKey::Pid => rows.sort_by_key(|r| r.pid),
        SortKey::Pss => rows.sort_by(ranked(|f| f.pss)),
        SortKey::Uss => rows.sort_by(ranked(|f| f.uss)),
        SortKey::Rss => rows.sort_by_key(|r| std::cmp::Reverse(r.figures.rss)),
        SortKey::Swap => rows.sort_by(by(|f| f.swap)),
    }
}

/// Re-sorts groups (already in PSS order) by `key`; unknown sums last.
pub fn sort_groups(g: &mut [Group], key: SortKey) {
    match key {
        SortKey::Pid | SortKey::Pss => {}
        SortKey::Uss => g.sort_by_key(|g| std::cmp::Reverse(g.figures.uss)),
        SortKey::Rss => g.sort_by_key(|g| std::cmp::Reverse(g.figures.rss)),
        SortKey::Swap => g.sort_by_key(|g| std::cmp::Reverse(g.figures.swap)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_prefix() {
        assert!(cgroup_under("/a/b", "/a"));
        assert!(cgroup_under("/a", "/a/"));
        assert!(!cgroup_under("/ab", "/a"));
        assert!(cgroup_under("/x", "/"));
    }

    #[test]
    fn cmdline() {
        assert_eq!(cmdline_text(b"sleep\x00100\x00"), "sleep 100");
        assert_eq!(cmdline_text(b""), "");
    }

    #[test]
    fn unknown_figures_sort_last_and_stay_out_of_sums() {
        let row = |pid: u32, pss: Option<u64>| ProcessRow {
            pid,
            ns_pid: pid,
            user: "root".into(),
            name: "x".into(),
            figures: MemoryFigures {
                rss: Some(100),
                pss,
                uss: pss,
                swap: Some(0),
            },
            swap_pss: pss.map(|_| 0),
            threads: 1,
            mappings: Some(3),
            restricted: pss.is_none(),
            sources: Sources {
                rss: Provenance::now(Source::SmapsRollup),
                pss: pss.map(|_| Provenance::now(Source::SmapsRollup)),
            },
            pss_state: if pss.is_some() {
                PssState::Read
            } else {
                PssState::NotPermitted
            },
            ..ProcessRow::default()
        };
        let mut rows = vec![row(1, None), row(2, Some(5)), row(3, Some(50))];
        sort_rows(&mut rows, SortKey::Pss);
        assert_eq!(rows.iter().map(|r| r.pid).collect::<Vec<_>>(), [3, 2, 1]);
        let t = totals(&rows);
        assert_eq!(
            (t.figures.pss, t.figures.rss, t.restricted),
            (Some(55), Some(300), 1)
        );
        let t = totals(&rows[2..]);
        assert_eq!((t.figures.pss, t.swap_pss), (None, None));
        let g = group(&rows[2..], GroupBy::Command);
        assert_eq!((g[0].figures.pss, g[0].restricted), (None, 1));
        assert_eq!(totals(&[]).figures.pss, Some(0));
    }

    #[test]
    fn scans_self() {
        let me = std::process::id();
        let t = scan(&Options {
            pids: Some(vec![me, 0x7fff_fff0]),
            ..Options::default()
        })
        .unwrap();
        assert_eq!(t.rows.len(), 1);
        // Asked for by PID and not there: missing, not "exited while being read".
        assert_eq!(t.missing, vec![0x7fff_fff0]);
        assert_eq!(t.exited, 0);
        let r = &t.rows[0];
        let (rss, pss, uss) = (
            r.figures.rss.unwrap(),
            r.figures.pss.unwrap(),
            r.figures.uss,
        );
        assert!(pss > 0 && uss.unwrap() > 0 && rss >= uss.unwrap());
        assert!(r.mappings.unwrap() > 5);
        assert!(r.command.is_some());
        let g = group(&t.rows, GroupBy::User);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].figures.pss, Some(pss));
    }
}
