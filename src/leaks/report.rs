//! The report of a watch: sites ranked by outstanding bytes (allocated during the watch, still
//! live, older than `--min-age`), each with its count, its estimate's error bar when sampled,
//! and its growth over the watch (slope and r² by [`crate::overtime::trend`], as `watch`
//! judges); totals reconciled with the process's private-memory growth; events lost in the
//! kernel reported as unknown. Renders as text, JSON and folded stacks.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::allocator::Allocator;
use super::objects::Frame;
use super::sampler;
use super::session::Options;
use super::track::Tracker;
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
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target.
    pub pid: u32,
    /// `"exact"` or `"growth"`.
    pub mode: &'static str,
    /// The allocator found.
    pub allocator: &'static str,
    /// The object that holds it.
    pub allocator_object: String,
    /// Entry points probed.
    pub probed: Vec<&'static str>,
    /// Seconds watched.
    pub duration_s: f64,
    /// Why the watch ended: `"duration"`, `"stopped"` or `"target exited"`.
    pub ended: &'static str,
    /// Sampling rate in bytes (0 = every allocation carries its stack).
    pub sample_bytes: u64,
    /// `--min-age` in seconds.
    pub min_age_s: f64,
    /// Allocations seen during the watch.
    pub allocations: u64,
    /// Of them, freed during the watch.
    pub frees: u64,
    /// Outstanding bytes of every allocation (exact, whether or not sampled).
    pub outstanding_bytes: u64,
    /// Outstanding allocations.
    pub outstanding_count: u64,
    /// Outstanding bytes attributed to no site (stack unreadable, or not sampled).
    pub unattributed_bytes: u64,
    /// Growth of the process's private memory over the watch (`null` when unreadable).
    pub process_private_growth: Option<i64>,
    /// Outstanding bytes as a fraction of that growth (`null` when there was none).
    pub accounts_for: Option<f64>,
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
    /// The allocator.
    pub allocator: &'a Allocator,
    /// The table at the end.
    pub tracker: &'a Tracker,
    /// Kernel-side drops.
    pub drops: BpfDrops,
    /// Time watched.
    pub watched: Duration,
    /// Monotonic clock at the end.
    pub now_ns: u64,
    /// The target exited.
    pub exited: bool,
    /// Private growth of the process.
    pub private_growth: Option<i64>,
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let o = i.opts;
    let min_age_ns = o.min_age.as_nanos() as u64;
    let n = i.tracker.sites.len();
    let mut bytes = vec![0f64; n];
    let mut var = vec![0f64; n];
    let mut count = vec![0u64; n];
    let mut youngest = vec![u64::MAX; n];
    let (mut out_bytes, mut out_count, mut unattributed) = (0u64, 0u64, 0u64);
    for l in i.tracker.live() {
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
        .tracker
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
    let mut probed: Vec<&'static str> = i.allocator.probes.iter().map(|p| p.symbol).collect();
    probed.sort_unstable();
    Report {
        pid: o.pid,
        mode: "exact",
        allocator: i.allocator.family.name(),
        allocator_object: i.allocator.object.clone(),
        probed,
        duration_s: i.watched.as_secs_f64(),
        ended: if i.exited {
            "target exited"
        } else if i.watched >= o.duration {
            "duration"
        } else {
            "stopped"
        },
        sample_bytes: o.sample_bytes,
        min_age_s: o.min_age.as_secs_f64(),
        allocations: i.tracker.allocs,
        frees: i.tracker.frees,
        outstanding_bytes: out_bytes,
        outstanding_count: out_count,
        unattributed_bytes: unattributed,
        process_private_growth: i.private_growth,
        accounts_for: i
            .private_growth
            .filter(|g| *g > 0)
            .map(|g| out_bytes as f64 / g as f64),
        lost: Lost {
            enters: i.drops.enters,
            returns: i.drops.returns,
            frees: i.drops.frees,
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
        let _ = writeln!(
            s,
            "memlink leaks: process {}, {} mode, allocator {} ({}), watched {:.1}s (ended: {})",
            self.pid, self.mode, self.allocator, self.allocator_object, self.duration_s, self.ended
        );
        let sampling = if self.sample_bytes == 0 {
            "every allocation's stack".to_string()
        } else {
            format!(
                "stacks sampled every {} on average",
                human_bytes(self.sample_bytes)
            )
        };
        let _ = writeln!(
            s,
            "{} allocations, {} freed; outstanding {} in {} allocations older than {:.1}s ({sampling})",
            self.allocations,
            self.frees,
            human_bytes(self.outstanding_bytes),
            self.outstanding_count,
            self.min_age_s
        );
        let growth = match (self.process_private_growth, self.accounts_for) {
            (Some(g), Some(f)) => format!(
                "process private memory grew {}; outstanding accounts for {:.0}% of it",
                human_bytes(g.max(0) as u64),
                f * 100.0
            ),
            (Some(g), None) => format!(
                "process private memory changed by {}{}",
                if g < 0 { "-" } else { "" },
                human_bytes(g.unsigned_abs())
            ),
            _ => "process private memory growth: -".to_string(),
        };
        let _ = writeln!(s, "{growth}");
        if self.lost.enters + self.lost.returns + self.lost.frees > 0 {
            let _ = writeln!(
                s,
                "lost events (buffer full; their allocations are unknown): {} entries, {} returns, {} frees",
                self.lost.enters, self.lost.returns, self.lost.frees
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
            let _ = writeln!(s, "no outstanding allocation was made during the watch");
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
                "\n#{} {}{est} in {} allocations, {}: {verdict}",
                site.rank,
                human_bytes(site.bytes),
                site.count,
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
