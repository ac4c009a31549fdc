//! Watching a process over time: cheap periodic [`Sample`]s (from `smaps_rollup`, `status` and
//! the line count of `maps`), an occasional per-region view (`smaps`) for thread stacks and for
//! naming what grew, and the final [`Verdict`] built with the leak rule of [`crate::overtime::trend`].
//!
//! The JSON Lines stream of `memlink watch --format jsonl` is one [`Record`] per line: samples,
//! then one verdict. Sizes are in bytes.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::overtime::diff::region_label;
use crate::overtime::trend::{self, Thresholds};
#[cfg(target_os = "linux")]
use crate::platform::ProcDir;
use crate::proc::smaps;
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
    /// Resident set size.
    pub rss: u64,
    /// Proportional set size.
    pub pss: u64,
    /// Unique set size.
    pub uss: u64,
    /// Swapped out.
    pub swap: u64,
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
pub type RegionUsage = HashMap<String, u64>;

/// Sums resident bytes per label.
pub fn region_usage(regions: &[MemoryRegion]) -> RegionUsage {
    let mut m = RegionUsage::new();
    for r in regions {
        let label = region_label(r).unwrap_or_else(|| r.region_type.name().to_string());
        *m.entry(label).or_default() += r.usage.as_ref().map_or(0, |u| u.rss);
    }
    m
}

/// Resident bytes of stacks in a per-region view.
pub fn stack_bytes(regions: &[MemoryRegion]) -> u64 {
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
    let suggestion = suggestion(pid, &suspected);
    Verdict {
        leak_suspected: !suspected.is_empty(),
        components,
        grew,
        suggestion,
    }
}

fn suggestion(pid: u32, suspected: &[&str]) -> String {
    let mut parts = Vec::new();
    for c in suspected {
        parts.push(match *c {
            "anon" => format!(
                "anonymous memory (heap) grows steadily: find the allocation sites with `heaptrack -p {pid}` or bcc `memleak -p {pid}`"
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
        };
        // Fail now, not at the first sample, when the figures are not readable.
        s.dir
            .read_for("smaps_rollup", "read the memory totals of")?;
        Ok(s)
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes the cheap sample (`smaps_rollup`, `status`, `maps` line count).
    ///
    /// # Errors
    /// [`Error::ProcessExited`] once the process is gone.
    pub fn sample(&self, seq: u64, t: f64) -> Result<Sample> {
        let exited = || Error::ProcessExited {
            pid: self.pid,
            during: "it was being watched".into(),
        };
        let rollup = self
            .dir
            .read_for("smaps_rollup", "read the memory totals of")?;
        let rollup = smaps::parse_rollup(&rollup)?.ok_or_else(exited)?;
        let status = self.dir.status()?;
        let mappings = crate::overtime::ps::count_lines(&self.dir, "maps")
            .map_err(|e| self.dir.error("read", e))?;
        Ok(Sample {
            seq,
            t,
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            pid: self.pid,
            rss: rollup.usage.rss,
            pss: rollup.usage.pss,
            uss: rollup.usage.uss(),
            swap: rollup.usage.swap,
            anon: status.rss_anon,
            file: status.rss_file,
            shmem: status.rss_shmem,
            stacks: None,
            mappings,
        })
    }

    /// Reads the per-region view (`smaps`).
    pub fn regions(&self) -> Result<Vec<MemoryRegion>> {
        crate::platform::regions_in(&self.root, self.pid, true)?.collect()
    }
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
            rss: anon,
            pss: anon,
            uss: anon,
            swap: 0,
            anon,
            file: 100,
            shmem: 0,
            stacks: seq.is_multiple_of(5).then_some(8192),
            mappings: 20,
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
        assert!(v.suggestion.contains("heaptrack -p 9"));
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
