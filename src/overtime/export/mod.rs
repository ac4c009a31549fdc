//! Metrics exposition: per-group (and optionally per-process) memory in the OpenMetrics or
//! Prometheus text format, and (with the `server` feature) the HTTP [`server`] that serves it on
//! a loopback address.
//!
//! Series are grouped by command name or cgroup by default, because PIDs churn and each new PID
//! would make a new series; per-PID series and command lines are opt-in. Anyone who can reach
//! the port sees the data: a root exporter shows every user's process names and memory to them.
//!
//! Each scrape is one turn of the per-target [`rollup`](crate::overtime::rollup) budget: RSS and
//! swap come from `status` or a rollup read now; PSS and USS from a rollup read now or in an
//! earlier scrape (its age is exported), and memlink's own read time per target is exported as
//! an upper bound of the stall it caused.
//!
//! The metrics are one table, [`METRICS`]: each entry names a family, its type, unit and help,
//! and the function that computes its series from a scrape. A figure memlink could not read is
//! left out (its series is absent), never exported as 0; `memlink_group_unread_processes` counts
//! the processes whose PSS/USS are missing from each group. [`Exporter`] owns the scrape loop
//! (the process table plus the watched processes' samples) and [`write_atomically`] is the one
//! place that writes a metrics file for a collector.

#[cfg(feature = "server")]
pub mod server;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::overtime::ps::{self, GroupBy, ProcessRow, PssState};
use crate::overtime::rollup::RollupCache;
use crate::overtime::watch::{self, Component, LeakRule, Sample, Sampler};
use crate::region::stats::MemoryFigures;

/// The exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenMetrics 1.0 (`application/openmetrics-text`): with `# UNIT` and a final `# EOF`.
    OpenMetrics,
    /// Prometheus text 0.0.4 (`text/plain`), which node_exporter's textfile collector reads.
    Prometheus,
}

impl Format {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// Picks the format from an HTTP `Accept` header.
    pub fn negotiate(accept: &str) -> Format {
        if accept.contains("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// How processes are grouped.
    pub by: GroupBy,
    /// Also export one series per PID.
    pub per_pid: bool,
    /// Add the command line as a label of per-PID series.
    pub cmdline: bool,
    /// PSS and USS were read (`smaps_rollup`).
    pub smaps: bool,
}

/// A watched process and its current judgement.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The PID.
    pub pid: u32,
    /// Its command name.
    pub name: String,
    /// The components as judged so far.
    pub components: Vec<Component>,
    /// Some component is suspected.
    pub leak_suspected: bool,
    /// The leak rule could judge (the span judged reaches `--min-span`); until then
    /// `leak_suspected` is not exported.
    pub judged: bool,
}

/// Everything one scrape renders.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Process rows.
    pub rows: Vec<ProcessRow>,
    /// Processes that exited while being read.
    pub exited: u64,
    /// `vm.max_map_count`, when readable.
    pub max_map_count: Option<u64>,
    /// Watched processes.
    pub watched: Vec<Watched>,
    /// Seconds the scrape took.
    pub duration_s: f64,
}

/// Escapes a label value.
fn esc(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// The type of a metric family (every memlink metric is a gauge today).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
        }
    }
}

/// Labels of one series, in order.
type Labels = Vec<(&'static str, String)>;

/// The series of one family; `None` leaves the family out of the scrape.
type Series = Option<Vec<(Labels, f64)>>;

/// One metric family: its name, type, unit, help and how its series are computed.
pub struct Metric {
    /// The family name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its unit (OpenMetrics `# UNIT`), if any.
    pub unit: Option<&'static str>,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Computes the series.
    series: fn(&Ctx<'_>) -> Series,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric").field("name", &self.name).finish()
    }
}

/// What the series functions see.
struct Ctx<'a> {
    s: &'a Scrape,
    opts: &'a Options,
    by: &'static str,
    groups: Vec<ps::Group>,
    types: &'static [&'static str],
}

/// The figure named `t` (rss, pss, uss, swap).
fn figure(f: &MemoryFigures, t: &str) -> Option<u64> {
    match t {
        "rss" => f.rss,
        "pss" => f.pss,
        "uss" => f.uss,
        _ => f.swap,
    }
}

fn group_labels(c: &Ctx<'_>, g: &ps::Group) -> Labels {
    vec![("group_by", c.by.to_string()), ("group", g.key.clone())]
}

fn pid_labels(pid: u32, command: &str) -> Labels {
    vec![("pid", pid.to_string()), ("command", command.to_string())]
}

fn watch_series(c: &Ctx<'_>, value: fn(&Component) -> f64) -> Series {
    (!c.s.watched.is_empty()).then(|| {
        let mut v = Vec::new();
        for w in &c.s.watched {
            for comp in &w.components {
                let mut l = pid_labels(w.pid, &w.name);
                l.push(("component", comp.name.clone()));
                v.push((l, value(comp)));
            }
        }
        v
    })
}

/// Every metric, in the order of the exposition.
pub static METRICS: &[Metric] = &[
    Metric {
        name: "memlink_group_memory_bytes",
        kind: Kind::Gauge,
        unit: Some("bytes"),
        help: "Memory of a group of processes by type (rss, pss, uss, swap).",
        series: |c| {
            let mut v = Vec::new();
            for g in &c.groups {
                for t in c.types {
                    if let Some(x) = figure(&g.figures, t) {
                        let mut l = group_labels(c, g);
                        l.push(("type", t.to_string()));
                        v.push((l, x as f64));
                    }
                }
            }
            Some(v)
        },
    },
    Metric {
        name: "memlink_group_processes",
        kind: Kind::Gauge,
        unit: None,
        help: "Number of processes in the group.",
        series: |c| {
            Some(
                c.groups
                    .iter()
                    .map(|g| (group_labels(c, g), g.processes as f64))
                    .collect(),
            )
        },
    },
    Metric {
        name: "memlink_group_unread_processes",
        kind: Kind::Gauge,
        unit: None,
        help: "Processes of the group whose PSS and USS are unknown (left out of memlink_group_memory_bytes): not permitted (see memlink_group_restricted_processes), or not read (over the rollup budget with no earlier read, or unparsable).",
        series: |c| {
            c.opts.smaps.then(|| {
                c.groups
                    .iter()
                    .map(|g| {
                        let (denied, unread) = unread(&c.s.rows, c.opts.by, &g.key);
                        (group_labels(c, g), (denied + unread) as f64)
                    })
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_group_restricted_processes",
        kind: Kind::Gauge,
        unit: None,
        help: "Processes of the group whose smaps_rollup memlink may not read (not permitted; part of memlink_group_unread_processes, kept apart from those not read).",
        series: |c| {
            c.opts.smaps.then(|| {
                c.groups
                    .iter()
                    .map(|g| {
                        let (denied, _) = unread(&c.s.rows, c.opts.by, &g.key);
                        (group_labels(c, g), denied as f64)
                    })
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_group_pss_age_seconds",
        kind: Kind::Gauge,
        unit: Some("seconds"),
        help: "Age of the oldest PSS/USS figure in the group's sums (0: every one read in this scrape; older ones come from an earlier scrape, the rollup being over the per-target budget).",
        series: |c| {
            c.opts.smaps.then(|| {
                c.groups
                    .iter()
                    .filter_map(|g| {
                        let age = rows_of(&c.s.rows, c.opts.by, &g.key)
                            .filter_map(|r| r.sources.pss.map(|p| p.age_s))
                            .reduce(f64::max)?;
                        Some((group_labels(c, g), age))
                    })
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_group_rollup_read_max_seconds",
        kind: Kind::Gauge,
        unit: Some("seconds"),
        help: "Longest time memlink spent reading one process's smaps_rollup in this scrape (an upper bound of the stall it imposed on that process's mapping changes).",
        series: |c| {
            c.opts.smaps.then(|| {
                c.groups
                    .iter()
                    .filter_map(|g| {
                        let t = rows_of(&c.s.rows, c.opts.by, &g.key)
                            .filter_map(|r| r.rollup_read_s)
                            .reduce(f64::max)?;
                        Some((group_labels(c, g), t))
                    })
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_group_mappings_max",
        kind: Kind::Gauge,
        unit: None,
        help: "Largest number of mappings of one process in the group (compare with memlink_vm_max_mappings).",
        series: |c| {
            Some(
                c.groups
                    .iter()
                    .map(|g| (group_labels(c, g), g.max_mappings as f64))
                    .collect(),
            )
        },
    },
    Metric {
        name: "memlink_vm_max_mappings",
        kind: Kind::Gauge,
        unit: None,
        help: "The kernel's limit on mappings per process (vm.max_map_count).",
        series: |c| c.s.max_map_count.map(|m| vec![(Vec::new(), m as f64)]),
    },
    Metric {
        name: "memlink_process_memory_bytes",
        kind: Kind::Gauge,
        unit: Some("bytes"),
        help: "Memory of one process by type (rss, pss, uss, swap).",
        series: |c| {
            c.opts.per_pid.then(|| {
                let mut v = Vec::new();
                for r in &c.s.rows {
                    for t in c.types {
                        let Some(x) = figure(&r.figures, t) else {
                            continue;
                        };
                        let mut l = pid_labels(r.pid, &r.name);
                        if c.opts.cmdline {
                            l.push(("cmdline", r.command.clone().unwrap_or_default()));
                        }
                        l.push(("type", t.to_string()));
                        v.push((l, x as f64));
                    }
                }
                v
            })
        },
    },
    Metric {
        name: "memlink_process_pss_age_seconds",
        kind: Kind::Gauge,
        unit: Some("seconds"),
        help: "Age of a process's PSS/USS figures (0: read in this scrape).",
        series: |c| {
            (c.opts.per_pid && c.opts.smaps).then(|| {
                c.s.rows
                    .iter()
                    .filter_map(|r| Some((pid_labels(r.pid, &r.name), r.sources.pss?.age_s)))
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_process_rollup_read_seconds",
        kind: Kind::Gauge,
        unit: Some("seconds"),
        help: "Time memlink spent reading the process's smaps_rollup in this scrape (absent when not read).",
        series: |c| {
            (c.opts.per_pid && c.opts.smaps).then(|| {
                c.s.rows
                    .iter()
                    .filter_map(|r| Some((pid_labels(r.pid, &r.name), r.rollup_read_s?)))
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_process_mappings",
        kind: Kind::Gauge,
        unit: None,
        help: "Number of mappings of one process.",
        series: |c| {
            c.opts.per_pid.then(|| {
                c.s.rows
                    .iter()
                    .filter_map(|r| Some((pid_labels(r.pid, &r.name), r.mappings? as f64)))
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_watch_slope_per_minute",
        kind: Kind::Gauge,
        unit: None,
        help: "Least-squares growth per minute of a watched process's component (bytes; mappings for the mapping count).",
        series: |c| watch_series(c, |comp| comp.fit.slope_per_min),
    },
    Metric {
        name: "memlink_watch_r2",
        kind: Kind::Gauge,
        unit: None,
        help: "r² of the growth fit of a watched process's component.",
        series: |c| watch_series(c, |comp| comp.fit.r2),
    },
    Metric {
        name: "memlink_watch_leak_suspected",
        kind: Kind::Gauge,
        unit: None,
        help: "1 when a watched process meets every leak threshold, 0 when judged and not; absent until the span judged reaches --min-span (see memlink_watch_judged).",
        series: |c| {
            (!c.s.watched.is_empty()).then(|| {
                c.s.watched
                    .iter()
                    .filter(|w| w.judged)
                    .map(|w| {
                        let v = if w.leak_suspected { 1.0 } else { 0.0 };
                        (pid_labels(w.pid, &w.name), v)
                    })
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_watch_judged",
        kind: Kind::Gauge,
        unit: None,
        help: "1 once the leak rule could judge a watched process (its samples span --min-span after the warm-up), 0 before.",
        series: |c| {
            (!c.s.watched.is_empty()).then(|| {
                c.s.watched
                    .iter()
                    .map(|w| (pid_labels(w.pid, &w.name), if w.judged { 1.0 } else { 0.0 }))
                    .collect()
            })
        },
    },
    Metric {
        name: "memlink_scrape_processes",
        kind: Kind::Gauge,
        unit: None,
        help: "Processes read in this scrape, by outcome.",
        series: |c| {
            let rows = &c.s.rows;
            let restricted = rows.iter().filter(|r| r.restricted).count() as f64;
            let over = rows.iter().filter(|r| r.over_budget).count() as f64;
            let state = |s: PssState| rows.iter().filter(|r| r.pss_state == s).count() as f64;
            let outcome = |o: &str, v: f64| (vec![("outcome", o.to_string())], v);
            let mut v = vec![
                outcome("read", rows.len() as f64 - restricted),
                outcome("restricted", restricted),
                outcome("over_budget", over),
                outcome("exited", c.s.exited as f64),
            ];
            if c.opts.smaps {
                v.push(outcome("rollup_earlier", state(PssState::Earlier)));
                v.push(outcome("rollup_over_budget", state(PssState::OverBudget)));
            }
            Some(v)
        },
    },
    Metric {
        name: "memlink_scrape_duration_seconds",
        kind: Kind::Gauge,
        unit: Some("seconds"),
        help: "Time taken to read the processes.",
        series: |c| Some(vec![(Vec::new(), c.s.duration_s)]),
    },
];

/// The rows of group `key`.
fn rows_of<'a>(
    rows: &'a [ProcessRow],
    by: GroupBy,
    key: &'a str,
) -> impl Iterator<Item = &'a ProcessRow> + 'a {
    rows.iter().filter(move |r| match by {
        GroupBy::Command => r.name == key,
        GroupBy::User => r.user == key,
        GroupBy::Cgroup => r.cgroup.as_ref().map_or("?", |c| c.path.as_str()) == key,
    })
}

/// Processes of group `key` whose PSS (or USS) is unknown: (not permitted, not read).
fn unread(rows: &[ProcessRow], by: GroupBy, key: &str) -> (u64, u64) {
    let unknown = |r: &&ProcessRow| r.figures.pss.is_none() || r.figures.uss.is_none();
    rows_of(rows, by, key)
        .filter(unknown)
        .fold(
            (0, 0),
            |(d, u), r| {
                if r.restricted {
                    (d + 1, u)
                } else {
                    (d, u + 1)
                }
            },
        )
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 9e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Renders one scrape.
pub fn render(s: &Scrape, opts: &Options, format: Format) -> String {
    let by = match opts.by {
        GroupBy::Command => "command",
        GroupBy::User => "user",
        GroupBy::Cgroup => "cgroup",
    };
    let c = Ctx {
        s,
        opts,
        by,
        groups: ps::group(&s.rows, opts.by),
        types: if opts.smaps {
            &["rss", "pss", "uss", "swap"]
        } else {
            &["rss", "swap"]
        },
    };
    let mut text = String::with_capacity(8192);
    for m in METRICS {
        let Some(series) = (m.series)(&c) else {
            continue;
        };
        let name = m.name;
        let _ = writeln!(text, "# HELP {name} {}", m.help);
        let _ = writeln!(text, "# TYPE {name} {}", m.kind.name());
        if let (Format::OpenMetrics, Some(u)) = (format, m.unit) {
            let _ = writeln!(text, "# UNIT {name} {u}");
        }
        for (labels, value) in series {
            text.push_str(name);
            if !labels.is_empty() {
                text.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    let _ = write!(text, "{k}=\"{}\"", esc(v));
                }
                text.push('}');
            }
            let _ = writeln!(text, " {}", number(value));
        }
    }
    if format == Format::OpenMetrics {
        text.push_str("# EOF\n");
    }
    text
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never half of
/// it, with [`crate::files::write_atomic`]: written under an unpredictable name beside the target
/// (mode 0600, `O_EXCL|O_NOFOLLOW`), synced, then renamed over it; an existing FIFO or `-` is
/// written as it is.
///
/// # Errors
/// [`Error::File`] naming `path` (the path the user gave, never the temporary file).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomic(path, bytes, true)
}

/// Samples kept per watched process (at a 15 s scrape interval, about 8 hours).
const MAX_SAMPLES: usize = 2000;

/// A watched process between scrapes.
#[derive(Debug)]
struct WatchState {
    sampler: Sampler,
    name: String,
    start: Instant,
    samples: Vec<Sample>,
    seq: u64,
    gone: bool,
}

impl WatchState {
    /// Takes one sample and judges the series so far; `None` once the process is gone.
    fn sample(&mut self, rule: &LeakRule) -> Option<Watched> {
        if self.gone {
            return None;
        }
        match self
            .sampler
            .sample(self.seq, self.start.elapsed().as_secs_f64())
        {
            Ok(s) => {
                self.samples.push(s);
                self.seq += 1;
                if self.samples.len() > MAX_SAMPLES {
                    self.samples.remove(0);
                }
            }
            Err(e) => {
                log::info!("watched process {} is gone: {e}", self.sampler.pid());
                self.gone = true;
                return None;
            }
        }
        let v = watch::verdict(self.sampler.pid(), &self.samples, None, None, rule);
        Some(Watched {
            pid: self.sampler.pid(),
            name: self.name.clone(),
            // The stack series needs the per-region view, which the exporter does not read.
            components: v
                .components
                .into_iter()
                .filter(|c| c.name != "stacks")
                .collect(),
            leak_suspected: v.leak_suspected,
            judged: v.inconclusive.is_none(),
        })
    }
}

/// The exporter: what to read, what to render, and the watched processes' series, kept from
/// one scrape to the next.
#[derive(Debug)]
pub struct Exporter {
    scan: ps::Options,
    render: Options,
    rule: LeakRule,
    watched: Vec<WatchState>,
    max_map_count: Option<u64>,
    cache: RollupCache,
}

impl Exporter {
    /// Opens every watched PID (under the procfs root of `scan`) and reads `vm.max_map_count`.
    ///
    /// # Errors
    /// A watched process that does not exist or may not be read.
    pub fn new(
        scan: ps::Options,
        render: Options,
        rule: LeakRule,
        watch: &[u32],
        rollup_budget: Option<std::time::Duration>,
    ) -> Result<Self> {
        let mut watched = Vec::new();
        for &pid in watch {
            let sampler = Sampler::open(&scan.root, pid)?.with_rollup_budget(rollup_budget);
            let name = crate::platform::process_info_in(&scan.root, pid)?.name;
            watched.push(WatchState {
                sampler,
                name,
                start: Instant::now(),
                samples: Vec::new(),
                seq: 0,
                gone: false,
            });
        }
        let max_map_count = std::fs::read_to_string(scan.root.join("sys/vm/max_map_count"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Ok(Exporter {
            scan,
            render,
            rule,
            watched,
            max_map_count,
            cache: RollupCache::new(),
        })
    }

    /// Reads every process and samples the watched ones.
    ///
    /// # Errors
    /// The procfs root cannot be listed.
    pub fn read(&mut self) -> Result<Scrape> {
        let t0 = Instant::now();
        let table = ps::scan_with(&self.scan, &self.cache)?;
        let rule = self.rule;
        let watched = self
            .watched
            .iter_mut()
            .filter_map(|w| w.sample(&rule))
            .collect();
        Ok(Scrape {
            rows: table.rows,
            exited: table.exited,
            max_map_count: self.max_map_count,
            watched,
            duration_s: t0.elapsed().as_secs_f64(),
        })
    }

    /// One scrape, ready to render in either format (what the [`server`] shares between the
    /// requests that wait for it).
    ///
    /// # Errors
    /// As [`Exporter::read`].
    pub fn collect(&mut self) -> Result<std::sync::Arc<dyn Fn(Format) -> String + Send + Sync>> {
        let s = self.read()?;
        let opts = self.render.clone();
        Ok(std::sync::Arc::new(move |f| render(&s, &opts, f)))
    }

    /// One scrape, rendered.
    ///
    /// # Errors
    /// As [`Exporter::read`].
    pub fn scrape(&mut self, format: Format) -> Result<String> {
        let s = self.read()?;
        Ok(render(&s, &self.render, format))
    }

    /// One scrape written to `path` with [`write_atomically`] (for node_exporter's textfile
    /// collector).
    ///
    /// # Errors
    /// As [`Exporter::read`] and [`write_atomically`].
    pub fn write_once(&mut self, path: &Path, format: Format) -> Result<()> {
        let text = self.scrape(format)?;
        write_atomically(path, text.as_bytes())
    }
}

/// Checks a listen address: it must parse and, unless `allow_remote`, be a loopback address.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the address.
pub fn check_listen(addr: &str, allow_remote: bool) -> Result<SocketAddr> {
    let a: SocketAddr = addr.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "invalid --listen address {addr:?} (expected IP:PORT, e.g. 127.0.0.1:9464)"
        ))
    })?;
    if !a.ip().is_loopback() && !allow_remote {
        return Err(Error::InvalidArgument(format!(
            "--listen {addr} is not a loopback address: anyone reaching it would see every process's memory (add --allow-remote to serve it anyway)"
        )));
    }
    Ok(a)
}

/// Binds the listener.
///
/// # Errors
/// [`Error::Os`] naming the address when it is taken or cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|source| Error::Os {
        op: format!("listen on {addr}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overtime::rollup::{Provenance, Source};

    fn row(pid: u32, name: &str, pss: u64) -> ProcessRow {
        ProcessRow {
            pid,
            ns_pid: pid,
            user: "root".into(),
            name: name.into(),
            command: Some(format!("{name} --secret")),
            figures: MemoryFigures {
                rss: Some(pss * 2),
                pss: Some(pss),
                uss: Some(pss / 2),
                swap: Some(0),
            },
            swap_pss: Some(0),
            threads: 1,
            mappings: Some(10),
            sources: crate::overtime::rollup::Sources {
                rss: Provenance::now(Source::SmapsRollup),
                pss: Some(Provenance::now(Source::SmapsRollup)),
            },
            pss_state: PssState::Read,
            rollup_read_s: Some(0.001),
            ..ProcessRow::default()
        }
    }

    #[test]
    fn renders_groups_and_hides_cmdline() {
        let s = Scrape {
            rows: vec![row(1, "a\"b", 100), row(2, "a\"b", 50), row(3, "c", 7)],
            max_map_count: Some(65530),
            ..Scrape::default()
        };
        let opts = Options {
            by: GroupBy::Command,
            per_pid: false,
            cmdline: false,
            smaps: true,
        };
        let t = render(&s, &opts, Format::OpenMetrics);
        assert!(t.contains(
            "memlink_group_memory_bytes{group_by=\"command\",group=\"a\\\"b\",type=\"pss\"} 150\n"
        ), "{t}");
        assert!(t.contains("# UNIT memlink_group_memory_bytes bytes\n"));
        assert!(t.ends_with("# EOF\n"));
        assert!(!t.contains("pid=\""), "no per-PID series by default");
        assert!(!t.contains("--secret"));
        let t = render(
            &s,
            &Options {
                per_pid: true,
                cmdline: true,
                ..opts
            },
            Format::Prometheus,
        );
        assert!(t.contains("cmdline=\"c --secret\""));
        assert!(!t.contains("# EOF") && !t.contains("# UNIT"));
    }

    #[test]
    fn listen_checks() {
        assert!(check_listen("127.0.0.1:9464", false).is_ok());
        assert!(check_listen("[::1]:9464", false).is_ok());
        let e = check_listen("0.0.0.0:9464", false).unwrap_err().to_string();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(check_listen("0.0.0.0:9464", true).is_ok());
        assert!(check_listen("localhost", false).is_err());
    }
}
