//! Watching a process over time: cheap periodic [`Sample`]s (from `smaps_rollup`, `status` and
//! the line count of `maps`), an occasional per-region view (`smaps`) for thread stacks and for
//! naming what grew, and the final [`Verdict`] built with the leak rule of [`crate::overtime::trend`].
//!
//! The JSON Lines stream of `memlink watch --format jsonl` is one [`Record`] per line: samples,
//! then one verdict. Sizes are in bytes.
//!
//! [`run`] is the whole watch loop of a [`Plan`] (checked first by [`Plan::check`]): it samples at
//! the interval until the count, the duration, a stop signal or the process's exit, hands every
//! sample to the caller as it is taken, and returns the [`Verdict`]. A verdict whose judged span
//! is shorter than the rule needs is *inconclusive*, not "no leak".

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::overtime::diff::region_label;
use crate::overtime::rollup::Sources;
#[cfg(target_os = "linux")]
use crate::overtime::rollup::{Decision, Provenance, RollupCache, Source};
use crate::overtime::trend::{self, Thresholds};
#[cfg(target_os = "linux")]
use crate::platform::ProcDir;
use crate::proc::smaps;
use crate::region::stats::MemoryFigures;
use crate::region::{MemoryRegion, RegionType};

/// One sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Sequence number, from 0.
    pub seq: u64,
    /// Seconds since the first sample.
    pub t: f64,
    /// Unix time, seconds.
    pub time: f64,
    /// The process.
    pub pid: u32,
    /// RSS, PSS, USS and swap: RSS and swap from `smaps_rollup` when it was read in this
    /// sample, else from `status`; PSS and USS from a rollup of this sample or an earlier one
    /// (see `sources`), `null` when none fits.
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// Resident anonymous memory (`RssAnon`: heap, private anonymous mappings, stacks).
    pub anon: u64,
    /// Resident file-backed memory (`RssFile`).
    pub file: u64,
    /// Resident shared memory (`RssShmem`: shared anonymous, tmpfs, memfd, SysV).
    pub shmem: u64,
    /// Resident bytes of the main and thread stacks; `None` on samples without the per-region
    /// view.
    pub stacks: Option<u64>,
    /// Number of mappings.
    pub mappings: u64,
    /// Where RSS and PSS come from and how old they are (absent in streams written before
    /// memlink kept a rollup budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Sources>,
    /// Seconds memlink spent reading `smaps_rollup` for this sample (`null`: not read, over the
    /// per-target budget).
    #[serde(default)]
    pub rollup_read_s: Option<f64>,
}

/// The verdict on one component: its name and the fit (flattened in JSON:
/// `slope_per_min`, `r2`, `growth`, `span_s`, `suspected`, `reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// `anon`, `file`, `shmem`, `stacks` or `mappings`.
    pub name: String,
    /// The least-squares fit and the leak rule's judgement of it.
    #[serde(flatten)]
    pub fit: trend::Judgement,
}

/// A region, file or type that grew between the first and last per-region views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grew {
    /// `[heap]`, a file path, or a region type name for anonymous memory.
    pub what: String,
    /// Growth of its resident bytes.
    pub delta: i64,
}

/// The conclusion of a watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Some component met every threshold.
    pub leak_suspected: bool,
    /// One entry per component, in the order anon, file, shmem, stacks, mappings.
    pub components: Vec<Component>,
    /// What grew, largest first (at most 10).
    pub grew: Vec<Grew>,
    /// The next step.
    pub suggestion: String,
    /// Set when no leak was suspected but the span judged was shorter than the rule needs: the
    /// watch cannot tell (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<Inconclusive>,
}

/// Why a verdict cannot tell: the span judged and the span needed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inconclusive {
    /// Seconds between the first and last sample judged (after the warm-up).
    pub span_s: f64,
    /// Seconds the leak rule needs (`--min-span`).
    pub needed_s: f64,
}

/// One line of the JSON Lines stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// A sample.
    Sample(Sample),
    /// The verdict (last line).
    Verdict(Verdict),
}

/// The thresholds for byte components and for the mapping count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeakRule {
    /// For anon, file, shmem and stacks.
    pub bytes: Thresholds,
    /// For the mapping count.
    pub mappings: Thresholds,
}

impl Default for LeakRule {
    fn default() -> Self {
        LeakRule {
            bytes: trend::DEFAULT_BYTES,
            mappings: trend::DEFAULT_MAPPINGS,
        }
    }
}

/// Resident bytes per label (`[heap]`, path, or type name) from a per-region view.
pub(crate) type RegionUsage = HashMap<String, u64>;

/// Sums resident bytes per label.
pub(crate) fn region_usage(regions: &[MemoryRegion]) -> RegionUsage {
    let mut m = RegionUsage::new();
    for r in regions {
        let label = region_label(r).unwrap_or_else(|| r.region_type.name().to_string());
        *m.entry(label).or_default() += r.usage.as_ref().map_or(0, |u| u.rss);
    }
    m
}

/// Resident bytes of stacks in a per-region view.
pub(crate) fn stack_bytes(regions: &[MemoryRegion]) -> u64 {
    regions
        .iter()
        .filter(|r| matches!(r.region_type, RegionType::Stack | RegionType::ThreadStack))
        .map(|r| r.usage.as_ref().map_or(0, |u| u.rss))
        .sum()
}

/// Judges a series of samples; `first`/`last` are the first and last per-region views.
pub fn verdict(
    pid: u32,
    samples: &[Sample],
    first: Option<&RegionUsage>,
    last: Option<&RegionUsage>,
    rule: &LeakRule,
) -> Verdict {
    let series = |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<(f64, f64)> {
        samples
            .iter()
            .filter_map(|s| f(s).map(|v| (s.t, v)))
            .collect()
    };
    type Def<'a> = (&'a str, Vec<(f64, f64)>, &'a Thresholds, &'a str);
    let defs: [Def<'_>; 5] = [
        (
            "anon",
            series(&|s| Some(s.anon as f64)),
            &rule.bytes,
            "bytes",
        ),
        (
            "file",
            series(&|s| Some(s.file as f64)),
            &rule.bytes,
            "bytes",
        ),
        (
            "shmem",
            series(&|s| Some(s.shmem as f64)),
            &rule.bytes,
            "bytes",
        ),
        (
            "stacks",
            series(&|s| s.stacks.map(|v| v as f64)),
            &rule.bytes,
            "bytes",
        ),
        (
            "mappings",
            series(&|s| Some(s.mappings as f64)),
            &rule.mappings,
            "mappings",
        ),
    ];
    let components: Vec<Component> = defs
        .into_iter()
        .map(|(name, pts, th, unit)| Component {
            name: name.to_string(),
            fit: trend::judge(&pts, th, unit),
        })
        .collect();
    let mut grew: Vec<Grew> = match (first, last) {
        (Some(a), Some(b)) => b
            .iter()
            .map(|(k, &after)| Grew {
                what: k.clone(),
                delta: after as i64 - a.get(k).copied().unwrap_or(0) as i64,
            })
            .filter(|g| g.delta > 0)
            .collect(),
        _ => Vec::new(),
    };
    grew.sort_by(|x, y| y.delta.cmp(&x.delta).then(x.what.cmp(&y.what)));
    grew.truncate(10);
    let suspected: Vec<&str> = components
        .iter()
        .filter(|c| c.fit.suspected)
        .map(|c| c.name.as_str())
        .collect();
    // Every per-sample component covers the same samples; stacks (per-region views only) may
    // cover fewer, so the judged span is the longest of them.
    let span_s = components.iter().map(|c| c.fit.span_s).fold(0.0, f64::max);
    let needed_s = rule.bytes.min_span_s.max(rule.mappings.min_span_s);
    let inconclusive =
        (suspected.is_empty() && span_s < needed_s).then_some(Inconclusive { span_s, needed_s });
    let suggestion = match inconclusive {
        Some(i) => format!(
            "inconclusive: judged {:.1}s of the {:.1}s the leak rule needs (watch longer, or lower --min-span/--warmup)",
            i.span_s, i.needed_s
        ),
        None => suggestion(pid, &suspected),
    };
    Verdict {
        leak_suspected: !suspected.is_empty(),
        components,
        grew,
        suggestion,
        inconclusive,
    }
}

fn suggestion(pid: u32, suspected: &[&str]) -> String {
    let mut parts = Vec::new();
    for c in suspected {
        parts.push(match *c {
            "anon" => format!(
                "anonymous memory (heap) grows steadily: find the allocation sites with `memlink leaks --pid {pid}` (`--all` for every allocation)"
            ),
            "file" => format!(
                "file-backed memory grows: see which files with `memlink snapshot --pid {pid} -o before.json`, later `memlink diff --pid {pid} before.json`"
            ),
            "shmem" => "shared memory grows: check /dev/shm, memfd and SysV segments (`ipcs -m`) and `memlink diff`".to_string(),
            "stacks" => format!(
                "thread stacks grow: threads are created and not joined; count them in /proc/{pid}/task"
            ),
            _ => format!(
                "the mapping count grows (mmap without munmap; the limit is vm.max_map_count): trace with bcc `memleak -p {pid}` or `strace -f -e trace=mmap,munmap -p {pid}`"
            ),
        });
    }
    if parts.is_empty() {
        "no steady growth: no leak suspected (watch longer, or lower --min-slope/--min-r2, to look closer)".to_string()
    } else {
        parts.join("; ")
    }
}

/// Samples one process (Linux: reads procfs).
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct Sampler {
    dir: ProcDir,
    root: std::path::PathBuf,
    pid: u32,
    rollup_budget: Option<Duration>,
    cache: RollupCache,
}

#[cfg(target_os = "linux")]
impl Sampler {
    /// Opens process `pid` under procfs `root`.
    ///
    /// # Errors
    /// The process does not exist, is a zombie or kernel thread, or may not be read.
    pub fn open(root: &Path, pid: u32) -> Result<Sampler> {
        let dir = ProcDir::open_live(root, pid)?;
        let s = Sampler {
            dir,
            root: root.to_path_buf(),
            pid,
            rollup_budget: Some(crate::overtime::rollup::DEFAULT_BUDGET),
            cache: RollupCache::new(),
        };
        // Fail now, not at the first sample, when the figures are not readable.
        s.dir
            .read_for("smaps_rollup", "read the memory totals of")?;
        Ok(s)
    }

    /// Sets the per-sample budget for reading `smaps_rollup` (default
    /// [`DEFAULT_BUDGET`](crate::overtime::rollup::DEFAULT_BUDGET); `None`: every sample).
    pub fn with_rollup_budget(mut self, budget: Option<Duration>) -> Sampler {
        self.rollup_budget = budget;
        self
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes the cheap sample: `status` (RSS and its split, swap) and the `maps` line count every
    /// time, `smaps_rollup` (PSS, USS) within the per-target budget.
    ///
    /// # Errors
    /// [`Error::ProcessExited`] once the process is gone.
    pub fn sample(&self, seq: u64, t: f64) -> Result<Sample> {
        let exited = || Error::ProcessExited {
            pid: self.pid,
            during: "it was being watched".into(),
        };
        let status = self.dir.status()?;
        if status.state == b'Z' || status.state == b'X' {
            return Err(exited());
        }
        let key = (self.pid, 0);
        if let Some(b) = self.rollup_budget {
            self.cache.next_turn(b);
        }
        let mut figures = MemoryFigures {
            rss: Some(status.vm_rss),
            pss: None,
            uss: None,
            swap: Some(status.vm_swap),
        };
        let mut sources = Sources {
            rss: Provenance::now(Source::Status),
            pss: None,
        };
        let mut rollup_read_s = None;
        match self.cache.decide(key, status.vm_rss, self.rollup_budget) {
            Decision::Read => {
                let t0 = Instant::now();
                let rollup = self
                    .dir
                    .read_for("smaps_rollup", "read the memory totals of")?;
                let cost = t0.elapsed();
                let rollup = smaps::parse_rollup(&rollup)?.ok_or_else(exited)?;
                figures = MemoryFigures::from_usage(&rollup.usage);
                sources = Sources {
                    rss: Provenance::now(Source::SmapsRollup),
                    pss: Some(Provenance::now(Source::SmapsRollup)),
                };
                rollup_read_s = Some(cost.as_secs_f64());
                self.cache
                    .record(key, figures, Some(rollup.usage.swap_pss), cost);
            }
            Decision::Skip { .. } => {
                if let Some(e) = self.cache.earlier(key) {
                    if e.fits(status.vm_rss) {
                        figures.pss = e.figures.pss;
                        figures.uss = e.figures.uss;
                        sources.pss = Some(Provenance {
                            source: Source::SmapsRollup,
                            age_s: e.age.as_secs_f64().max(1e-6),
                        });
                    }
                }
            }
        }
        let mappings = crate::overtime::ps::count_lines(&self.dir, "maps")
            .map_err(|e| self.dir.error("read", e))?;
        Ok(Sample {
            seq,
            t,
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            pid: self.pid,
            figures,
            anon: status.rss_anon,
            file: status.rss_file,
            shmem: status.rss_shmem,
            stacks: None,
            mappings,
            sources: Some(sources),
            rollup_read_s,
        })
    }

    /// Reads the per-region view (`smaps`).
    pub fn regions(&self) -> Result<Vec<MemoryRegion>> {
        crate::platform::regions_in(&self.root, self.pid, true)?.collect()
    }
}

/// How long and how often to watch, and the rule to judge by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this many samples.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Read the per-region view every this many samples (and on the first and last).
    pub detail_every: u64,
    /// The leak rule.
    pub rule: LeakRule,
    /// A suspected leak is the answer asked for: the watch must be able to reach a verdict.
    pub fail_on_leak: bool,
}

impl Plan {
    /// The seconds from the first sample to the last one a bounded watch can take: with
    /// `--count N`, `(N - 1) * interval`; with `--duration D`, `D`; `None` when unbounded.
    pub fn reach_s(&self) -> Option<f64> {
        match (self.count, self.duration) {
            (Some(n), _) => Some(n.saturating_sub(1) as f64 * self.interval.as_secs_f64()),
            (None, Some(d)) => Some(d.as_secs_f64()),
            (None, None) => None,
        }
    }

    /// Refuses a plan that cannot work, before anything is sampled.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the option: a zero interval, count, duration or
    /// detail period, and with `fail_on_leak` a count or duration that can never reach the
    /// warm-up plus the minimum span (naming the thresholds to lower).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.interval.is_zero() {
            return bad("--interval must be greater than 0".into());
        }
        if self.count == Some(0) {
            return bad("--count must be at least 1".into());
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return bad("--duration must be greater than 0".into());
        }
        if self.detail_every == 0 {
            return bad("--detail-every must be at least 1".into());
        }
        let (b, m) = (&self.rule.bytes, &self.rule.mappings);
        let needed = (b.warmup_s + b.min_span_s).max(m.warmup_s + m.min_span_s);
        if let (true, Some(reach)) = (self.fail_on_leak, self.reach_s()) {
            if reach < needed {
                let what = if self.count.is_some() {
                    "--count and --interval"
                } else {
                    "--duration"
                };
                return bad(format!(
                    "--fail-on-leak can never be answered: {what} cover {reach:.1}s, but --warmup {:.1}s plus --min-span {:.1}s need {needed:.1}s (watch longer, or lower --warmup or --min-span)",
                    b.warmup_s.max(m.warmup_s),
                    b.min_span_s.max(m.min_span_s)
                ));
            }
        }
        Ok(())
    }
}

/// How a watch ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The verdict on the samples taken.
    pub verdict: Verdict,
    /// Samples taken.
    pub samples: u64,
    /// The process exited (or became a zombie) during the watch.
    pub exited: bool,
}

fn is_gone(e: &Error) -> bool {
    matches!(
        e,
        Error::ProcessExited { .. } | Error::NoSuchProcess { .. } | Error::Zombie { .. }
    )
}

/// Watches `sampler`'s process by `plan`: calls `on_sample` with every sample as soon as it is
/// taken (its `stacks` set on samples with the per-region view), stops at the count, the
/// duration, a message on (or the hang-up of) `stop`, or the process's exit, and judges the
/// samples.
///
/// # Errors
/// A sample that fails other than by the process's exit, or an error from `on_sample`.
#[cfg(target_os = "linux")]
pub fn run<E: From<Error>>(
    sampler: &Sampler,
    plan: &Plan,
    stop: &std::sync::mpsc::Receiver<()>,
    mut on_sample: impl FnMut(&Sample) -> std::result::Result<(), E>,
) -> std::result::Result<Outcome, E> {
    use std::sync::mpsc::RecvTimeoutError;
    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut first_view: Option<RegionUsage> = None;
    let mut last_view: Option<(u64, RegionUsage)> = None;
    let mut exited = false;
    let mut seq = 0u64;
    loop {
        let t = start.elapsed().as_secs_f64();
        let last = plan.count.is_some_and(|c| seq + 1 >= c)
            || plan
                .duration
                .is_some_and(|d| start.elapsed() + plan.interval > d);
        let mut s = match sampler.sample(seq, t) {
            Ok(s) => s,
            Err(e) if is_gone(&e) => {
                exited = true;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if seq.is_multiple_of(plan.detail_every) || last {
            match sampler.regions() {
                Ok(regions) => {
                    s.stacks = Some(stack_bytes(&regions));
                    let u = region_usage(&regions);
                    if first_view.is_none() {
                        first_view = Some(u);
                    } else {
                        last_view = Some((seq, u));
                    }
                }
                Err(e) if is_gone(&e) => {
                    exited = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        on_sample(&s)?;
        samples.push(s);
        seq += 1;
        if last {
            break;
        }
        let next = start + plan.interval * (seq as u32);
        let wait = next.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Ok(()) => break,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
    }
    // The last per-region view should be as late as possible: take one now if the last sample
    // had none.
    if !exited && last_view.as_ref().map(|v| v.0 + 1) != Some(seq) && seq > 1 {
        if let Ok(regions) = sampler.regions() {
            last_view = Some((seq, region_usage(&regions)));
        }
    }
    let verdict = verdict(
        sampler.pid(),
        &samples,
        first_view.as_ref(),
        last_view.as_ref().map(|v| &v.1),
        &plan.rule,
    );
    Ok(Outcome {
        verdict,
        samples: samples.len() as u64,
        exited,
    })
}

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (`200ms`, `1s`, `1.5s`, `10m`); a bare
/// number is seconds.
///
/// # Errors
/// [`Error::InvalidArgument`] for anything else, negative or not finite.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    let v: f64 = num.parse().unwrap_or(f64::NAN) * mult;
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(Error::InvalidArgument(format!(
            "invalid duration {s:?} (expected e.g. 200ms, 1s, 10m)"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64, t: f64, anon: u64) -> Sample {
        Sample {
            seq,
            t,
            time: 0.0,
            pid: 1,
            figures: MemoryFigures {
                rss: Some(anon),
                pss: Some(anon),
                uss: Some(anon),
                swap: Some(0),
            },
            anon,
            file: 100,
            shmem: 0,
            stacks: seq.is_multiple_of(5).then_some(8192),
            mappings: 20,
            sources: None,
            rollup_read_s: None,
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn verdict_names_component_and_region() {
        let samples: Vec<Sample> = (0..100)
            .map(|i| sample(i, i as f64, 1_000_000 + i * 1_000_000))
            .collect();
        let first = RegionUsage::from([("[heap]".to_string(), 1000), ("/lib/c.so".into(), 50)]);
        let last =
            RegionUsage::from([("[heap]".to_string(), 99_000_000), ("/lib/c.so".into(), 50)]);
        let v = verdict(9, &samples, Some(&first), Some(&last), &LeakRule::default());
        assert!(v.leak_suspected, "{v:?}");
        let suspected: Vec<&str> = v
            .components
            .iter()
            .filter(|c| c.fit.suspected)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(suspected, ["anon"]);
        assert_eq!(
            v.grew,
            vec![Grew {
                what: "[heap]".into(),
                delta: 98_999_000
            }]
        );
        assert!(v.suggestion.contains("memlink leaks --pid 9"));
        let line = serde_json::to_string(&Record::Verdict(v.clone())).unwrap();
        assert!(line.starts_with("{\"type\":\"verdict\""));
        assert_eq!(
            serde_json::from_str::<Record>(&line).unwrap(),
            Record::Verdict(v)
        );
        let s = serde_json::to_string(&Record::Sample(samples[1].clone())).unwrap();
        assert!(s.contains("\"stacks\":null"), "{s}");
        // A consumer may read a line straight into `Sample` (the tag is ignored).
        assert_eq!(serde_json::from_str::<Sample>(&s).unwrap(), samples[1]);
    }
}
