//! The report of a watch: sites ranked by outstanding bytes (allocated during the watch, still
//! live, older than `--min-age`), each with its count, its estimate's error bar when sampled,
//! and its growth over the watch (slope and r² by [`crate::overtime::trend`], as `watch`
//! judges); totals reconciled with the process's private-memory growth; events lost in the
//! kernel reported as unknown. The same shape serves both modes: in growth mode a site is the
//! stack of the calls that grew the address space, its bytes those still mapped. Renders as
//! text, JSON and folded stacks (pprof and SVG are in [`super::export`]).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::allocator::Allocator;
use super::objects::Frame;
use super::sampler;
use super::session::Options;
use super::track::{LiveAlloc, Site};
use crate::overtime::trend::{self, Judgement, Thresholds};
use crate::platform::BpfDrops;
use crate::units::format_size as human_bytes;

/// One site of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    /// Rank, from 1.
    pub rank: usize,
    /// Outstanding bytes (estimated when sampled).
    pub bytes: u64,
    /// Standard error of `bytes` (0 when every allocation carries its stack).
    pub bytes_stderr: u64,
    /// Outstanding allocations (sampled ones).
    pub count: u64,
    /// Bytes allocated at this site during the watch (estimated when sampled).
    pub alloc_bytes: u64,
    /// Allocations at this site during the watch (sampled ones).
    pub alloc_count: u64,
    /// Age of the youngest outstanding allocation counted, seconds.
    pub youngest_age_s: f64,
    /// The trend of the site's live bytes over the watch.
    pub growth: Judgement,
    /// Frames, innermost (the allocator's caller) first.
    pub frames: Vec<Frame>,
    /// The stack was cut short.
    pub truncated: bool,
}

/// Events lost when a buffer was full. Their allocations are unknown: not counted, not zero.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Lost {
    /// Allocator entries.
    pub enters: u64,
    /// Allocator returns.
    pub returns: u64,
    /// Frees.
    pub frees: u64,
    /// System call events (growth mode's memory calls, new processes).
    pub syscalls: u64,
}

/// How the process's own counters moved over the watch, in bytes (`null` when unreadable).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcessGrowth {
    /// Private memory (`smaps_rollup` Private_Clean + Private_Dirty).
    pub private: Option<i64>,
    /// `VmData` of `/proc/PID/status`: private writable address space (heap, anonymous maps).
    pub vm_data: Option<i64>,
    /// `VmRSS` of `/proc/PID/status`.
    pub rss: Option<i64>,
}

/// What became of the target's new processes and programs during the watch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Followed {
    /// PIDs of the processes the target made (fork, vfork, clone of a process): they are
    /// not followed, their memory is not in the report.
    pub children_not_followed: Vec<u32>,
    /// The target executed a new program: the probes ended there, the report covers the
    /// watch up to the exec.
    pub exec: bool,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target.
    pub pid: u32,
    /// `"exact"` or `"growth"`.
    pub mode: &'static str,
    /// The allocator found (`null` in growth mode when memlink does not know it).
    pub allocator: Option<&'static str>,
    /// The object that holds it.
    pub allocator_object: Option<String>,
    /// Entry points probed (exact mode) or system calls watched (growth mode).
    pub probed: Vec<&'static str>,
    /// Seconds watched.
    pub duration_s: f64,
    /// Why the watch ended: `"duration"`, `"stopped"`, `"target exited"` or
    /// `"target executed a new program"`.
    pub ended: &'static str,
    /// Sampling rate in bytes (0 = every allocation carries its stack).
    pub sample_bytes: u64,
    /// `--min-age` in seconds.
    pub min_age_s: f64,
    /// Allocations seen during the watch (growth mode: calls that grew memory).
    pub allocations: u64,
    /// Of them, freed during the watch (growth mode: calls that gave memory back).
    pub frees: u64,
    /// Outstanding bytes of every allocation (exact, whether or not sampled; growth mode: the
    /// bytes of the ranges grown during the watch and still mapped).
    pub outstanding_bytes: u64,
    /// Outstanding allocations.
    pub outstanding_count: u64,
    /// Outstanding bytes attributed to no site (stack unreadable, or not sampled).
    pub unattributed_bytes: u64,
    /// Growth of the process's private memory over the watch (`null` when unreadable).
    pub process_private_growth: Option<i64>,
    /// Growth of the process's counters over the watch.
    pub process_growth: ProcessGrowth,
    /// Outstanding bytes as a fraction of the process's growth (`null` when there was none):
    /// of its private memory in exact mode, of its `VmData` in growth mode.
    pub accounts_for: Option<f64>,
    /// Which growth `accounts_for` is measured against: `"private"` or `"vm_data"`.
    pub accounts_for_basis: &'static str,
    /// New processes and programs.
    pub followed: Followed,
    /// Events lost in the kernel (`null` fields never happen; the counts are exact).
    pub lost: Lost,
    /// The thresholds a site's growth was judged with.
    pub thresholds: Thresholds,
    /// Whether some site (or the total) is judged to leak.
    pub leak_suspected: bool,
    /// Sites, ranked.
    pub sites: Vec<SiteReport>,
    /// Sites left out by `--top`.
    pub sites_omitted: usize,
}

/// What [`build`] needs.
pub struct Inputs<'a> {
    /// The options.
    pub opts: &'a Options,
    /// The allocator, when known.
    pub allocator: Option<&'a Allocator>,
    /// `"exact"` or `"growth"`.
    pub mode: &'static str,
    /// What was probed.
    pub probed: Vec<&'static str>,
    /// The sites at the end.
    pub sites: &'a [Site],
    /// The live allocations (or grown ranges) at the end.
    pub live: Vec<LiveAlloc>,
    /// Allocations seen.
    pub allocations: u64,
    /// Frees seen.
    pub frees: u64,
    /// Children and exec.
    pub followed: Followed,
    /// Kernel-side drops.
    pub drops: BpfDrops,
    /// Time watched.
    pub watched: Duration,
    /// Monotonic clock at the end.
    pub now_ns: u64,
    /// The target exited.
    pub exited: bool,
    /// Growth of the process's counters.
    pub growth: ProcessGrowth,
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let o = i.opts;
    let min_age_ns = o.min_age.as_nanos() as u64;
    let n = i.sites.len();
    let mut bytes = vec![0f64; n];
    let mut var = vec![0f64; n];
    let mut count = vec![0u64; n];
    let mut youngest = vec![u64::MAX; n];
    let (mut out_bytes, mut out_count, mut unattributed) = (0u64, 0u64, 0u64);
    for l in &i.live {
        let age = i.now_ns.saturating_sub(l.time_ns);
        if age < min_age_ns {
            continue;
        }
        out_bytes += l.size;
        out_count += 1;
        match l.site {
            Some(s) if l.sampled => {
                let s = s as usize;
                bytes[s] += l.weight;
                var[s] += sampler::variance(l.size, o.sample_bytes);
                count[s] += 1;
                youngest[s] = youngest[s].min(age);
            }
            _ => {
                if o.sample_bytes == 0 || l.sampled {
                    unattributed += l.size;
                }
            }
        }
    }
    let mut sites: Vec<SiteReport> = i
        .sites
        .iter()
        .enumerate()
        .filter(|(k, _)| count[*k] > 0)
        .map(|(k, s)| SiteReport {
            rank: 0,
            bytes: bytes[k].round() as u64,
            bytes_stderr: var[k].sqrt().round() as u64,
            count: count[k],
            alloc_bytes: s.alloc_bytes.round() as u64,
            alloc_count: s.alloc_count,
            youngest_age_s: youngest[k] as f64 / 1e9,
            growth: trend::judge(&s.series, &o.thresholds, "bytes"),
            frames: s.frames.clone(),
            truncated: s.truncated,
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.count.cmp(&a.count)));
    let leak_suspected = sites.iter().any(|s| s.growth.suspected);
    let omitted = sites.len().saturating_sub(o.top);
    sites.truncate(o.top);
    for (k, s) in sites.iter_mut().enumerate() {
        s.rank = k + 1;
    }
    let mut probed = i.probed;
    probed.sort_unstable();
    let growth_mode = i.mode == "growth";
    let basis = if growth_mode {
        i.growth.vm_data
    } else {
        i.growth.private
    };
    Report {
        pid: o.pid,
        mode: i.mode,
        allocator: i.allocator.map(|a| a.family.name()),
        allocator_object: i.allocator.map(|a| a.object.clone()),
        probed,
        duration_s: i.watched.as_secs_f64(),
        ended: if i.followed.exec {
            "target executed a new program"
        } else if i.exited {
            "target exited"
        } else if i.watched >= o.duration {
            "duration"
        } else {
            "stopped"
        },
        sample_bytes: o.sample_bytes,
        min_age_s: o.min_age.as_secs_f64(),
        allocations: i.allocations,
        frees: i.frees,
        outstanding_bytes: out_bytes,
        outstanding_count: out_count,
        unattributed_bytes: unattributed,
        process_private_growth: i.growth.private,
        process_growth: i.growth,
        accounts_for: basis
            .filter(|g| *g > 0)
            .map(|g| out_bytes as f64 / g as f64),
        accounts_for_basis: if growth_mode { "vm_data" } else { "private" },
        followed: i.followed,
        lost: Lost {
            enters: i.drops.enters,
            returns: i.drops.returns,
            frees: i.drops.frees,
            syscalls: i.drops.syscalls,
        },
        thresholds: o.thresholds,
        leak_suspected,
        sites,
        sites_omitted: omitted,
    }
}

impl Report {
    /// Human-readable text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let allocator = match (self.allocator, &self.allocator_object) {
            (Some(a), Some(o)) => format!("{a} ({o})"),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "memlink leaks: process {}, {} mode, allocator {allocator}, watched {:.1}s (ended: {})",
            self.pid, self.mode, self.duration_s, self.ended
        );
        let growth_mode = self.mode == "growth";
        let sampling = if growth_mode {
            format!("every call's stack: {}", self.probed.join(", "))
        } else if self.sample_bytes == 0 {
            "every allocation's stack".to_string()
        } else {
            format!(
                "stacks sampled every {} on average",
                human_bytes(self.sample_bytes)
            )
        };
        if growth_mode {
            let _ = writeln!(
                s,
                "{} calls grew memory, {} gave some back; still mapped {} in {} ranges older than {:.1}s ({sampling})",
                self.allocations,
                self.frees,
                human_bytes(self.outstanding_bytes),
                self.outstanding_count,
                self.min_age_s
            );
        } else {
            let _ = writeln!(
                s,
                "{} allocations, {} freed; outstanding {} in {} allocations older than {:.1}s ({sampling})",
                self.allocations,
                self.frees,
                human_bytes(self.outstanding_bytes),
                self.outstanding_count,
                self.min_age_s
            );
        }
        let signed = |g: Option<i64>| match g {
            Some(g) => format!(
                "{}{}",
                if g < 0 { "-" } else { "" },
                human_bytes(g.unsigned_abs())
            ),
            None => "-".to_string(),
        };
        let pg = &self.process_growth;
        let (basis, what) = if growth_mode {
            (pg.vm_data, "VmData")
        } else {
            (pg.private, "private memory")
        };
        let accounted = match (basis, self.accounts_for) {
            (Some(_), Some(f)) => format!(
                "; outstanding accounts for {:.0}% of the {what} growth",
                f * 100.0
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "process grew: private {}, VmData {}, RSS {}{accounted}",
            signed(pg.private),
            signed(pg.vm_data),
            signed(pg.rss)
        );
        if !self.followed.children_not_followed.is_empty() {
            let pids: Vec<String> = self
                .followed
                .children_not_followed
                .iter()
                .map(u32::to_string)
                .collect();
            let _ = writeln!(
                s,
                "new processes not followed (their memory is not in this report): {}",
                pids.join(", ")
            );
        }
        if self.followed.exec {
            let _ = writeln!(
                s,
                "the target executed a new program: the probes ended there; this report covers the watch up to the exec"
            );
        }
        if self.lost.enters + self.lost.returns + self.lost.frees + self.lost.syscalls > 0 {
            let _ = writeln!(
                s,
                "lost events (buffer full; their allocations are unknown): {} entries, {} returns, {} frees, {} system calls",
                self.lost.enters, self.lost.returns, self.lost.frees, self.lost.syscalls
            );
        }
        if self.unattributed_bytes > 0 {
            let _ = writeln!(
                s,
                "unattributed (stack unreadable): {}",
                human_bytes(self.unattributed_bytes)
            );
        }
        let t = &self.thresholds;
        let _ = writeln!(
            s,
            "growth judged with: slope >= {}/min, r2 >= {}, growth >= {}, span >= {:.1}s, warm-up {:.1}s",
            human_bytes(t.min_slope_per_min as u64),
            t.min_r2,
            human_bytes(t.min_growth as u64),
            t.min_span_s,
            t.warmup_s
        );
        if self.sites.is_empty() {
            let _ = writeln!(
                s,
                "{}",
                if growth_mode {
                    "no range grown during the watch is still mapped"
                } else {
                    "no outstanding allocation was made during the watch"
                }
            );
        }
        for site in &self.sites {
            let est = if site.bytes_stderr > 0 {
                format!(" ± {}", human_bytes(site.bytes_stderr))
            } else {
                String::new()
            };
            let verdict = if site.growth.suspected {
                "GROWING".to_string()
            } else if site.growth.r2 > 0.0 || site.growth.slope_per_min != 0.0 {
                format!(
                    "not growing ({}/min, r2 {:.2})",
                    human_bytes(site.growth.slope_per_min.max(0.0) as u64),
                    site.growth.r2
                )
            } else {
                "not growing".to_string()
            };
            let _ = writeln!(
                s,
                "\n#{} {}{est} in {} {}, {}: {verdict}",
                site.rank,
                human_bytes(site.bytes),
                site.count,
                if growth_mode { "ranges" } else { "allocations" },
                if site.growth.suspected {
                    format!(
                        "{}/min, r2 {:.2}",
                        human_bytes(site.growth.slope_per_min.max(0.0) as u64),
                        site.growth.r2
                    )
                } else {
                    format!("youngest {:.1}s old", site.youngest_age_s)
                }
            );
            for f in &site.frames {
                let _ = writeln!(s, "    {}", f.label());
            }
            if site.truncated {
                let _ = writeln!(s, "    ... (truncated)");
            }
        }
        if self.sites_omitted > 0 {
            let _ = writeln!(s, "\n({} more sites; raise --top)", self.sites_omitted);
        }
        s
    }

    /// Folded stacks (`outer;...;inner bytes`), one line per site, for flame graphs.
    pub fn folded(&self) -> String {
        let mut s = String::new();
        for site in &self.sites {
            let frames: Vec<String> = site
                .frames
                .iter()
                .rev()
                .map(|f| f.label().replace([';', ' '], "_"))
                .collect();
            let _ = writeln!(s, "{} {}", frames.join(";"), site.bytes);
        }
        s
    }
}
