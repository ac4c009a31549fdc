//! Summaries of a process's regions: totals, by region type and by mapped file.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::region::view::RegionView;
use crate::region::{escape_path, MemoryRegion, RegionType, Usage};

/// The memory figures memlink reads for a process, a group of processes or a set of regions: the
/// one type `ps`, `watch`, `diff` and these summaries share.
///
/// Every figure is optional: `None` is a figure memlink does not know (it was not read, or
/// reading it was not permitted), which JSON writes as `null` and text as `-`, never as 0. The
/// number type is generic so that the signed change between two sets of figures
/// (`MemoryFigures<i64>`, see [`crate::overtime::diff`]) is the same type. Sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryFigures<T = u64> {
    /// Resident set size.
    pub rss: Option<T>,
    /// Proportional set size.
    pub pss: Option<T>,
    /// Unique set size (private clean + private dirty).
    pub uss: Option<T>,
    /// Swapped out.
    pub swap: Option<T>,
}

impl MemoryFigures {
    /// Every figure known and zero: the sum over nothing.
    pub const ZERO: MemoryFigures = MemoryFigures {
        rss: Some(0),
        pss: Some(0),
        uss: Some(0),
        swap: Some(0),
    };

    /// Every figure unknown.
    pub const UNKNOWN: MemoryFigures = MemoryFigures {
        rss: None,
        pss: None,
        uss: None,
        swap: None,
    };

    /// The figures of one `smaps` entry or of `smaps_rollup`.
    pub fn from_usage(u: &Usage) -> MemoryFigures {
        MemoryFigures {
            rss: Some(u.rss),
            pss: Some(u.pss),
            uss: Some(u.uss()),
            swap: Some(u.swap),
        }
    }

    /// Adds `other` figure by figure; a figure unknown on either side makes the sum unknown
    /// (the total of a set with one unread member is not known).
    pub fn add(&mut self, other: &MemoryFigures) {
        let both = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_add(b?));
        self.rss = both(self.rss, other.rss);
        self.pss = both(self.pss, other.pss);
        self.uss = both(self.uss, other.uss);
        self.swap = both(self.swap, other.swap);
    }

    /// True when every figure is known.
    pub fn is_known(&self) -> bool {
        self.rss.is_some() && self.pss.is_some() && self.uss.is_some() && self.swap.is_some()
    }

    /// `self - before`, figure by figure; unknown when either side is.
    pub fn minus(&self, before: &MemoryFigures) -> MemoryFigures<i64> {
        let d = |a: Option<u64>, b: Option<u64>| Some(signed_sub(a?, b?));
        MemoryFigures {
            rss: d(self.rss, before.rss),
            pss: d(self.pss, before.pss),
            uss: d(self.uss, before.uss),
            swap: d(self.swap, before.swap),
        }
    }
}

/// A figure in text: the human size, or `-` when it is not known (never 0).
pub fn format_figure(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), crate::units::format_size)
}

/// `a - b` as a signed number, clamped to the `i64` range.
pub(crate) fn signed_sub(a: u64, b: u64) -> i64 {
    (a as i128 - b as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Sums one optional figure over many rows, leaving unknown values out and counting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct KnownSum {
    /// The sum of the known values.
    pub sum: u64,
    /// Values that were known.
    pub known: u64,
    /// Values that were unknown (left out of `sum`).
    pub unknown: u64,
}

impl KnownSum {
    /// Adds one value.
    pub fn add(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.sum = self.sum.saturating_add(v);
                self.known += 1;
            }
            None => self.unknown += 1,
        }
    }

    /// The sum, or `None` when there were values and none was known.
    pub fn value(&self) -> Option<u64> {
        (self.known > 0 || self.unknown == 0).then_some(self.sum)
    }
}

/// Sums [`MemoryFigures`] over rows, each figure with [`KnownSum`]: an unknown figure is left out
/// of its sum (and counted) instead of poisoning it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FiguresSum {
    /// RSS.
    pub rss: KnownSum,
    /// PSS.
    pub pss: KnownSum,
    /// USS.
    pub uss: KnownSum,
    /// Swap.
    pub swap: KnownSum,
}

impl FiguresSum {
    /// Adds one row's figures.
    pub fn add(&mut self, f: &MemoryFigures) {
        self.rss.add(f.rss);
        self.pss.add(f.pss);
        self.uss.add(f.uss);
        self.swap.add(f.swap);
    }

    /// The sums (a figure no row knew is unknown).
    pub fn value(&self) -> MemoryFigures {
        MemoryFigures {
            rss: self.rss.value(),
            pss: self.pss.value(),
            uss: self.uss.value(),
            swap: self.swap.value(),
        }
    }
}

/// Figures summed over a set of regions. Sizes in bytes; a memory figure is unknown (`None`)
/// when some region of the set was read without its `smaps` figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Number of regions.
    pub count: u64,
    /// Summed virtual size.
    pub virtual_size: u64,
    /// RSS, PSS, USS and swap.
    #[serde(flatten)]
    pub memory: MemoryFigures,
    /// Dirty (shared dirty + private dirty).
    pub dirty: Option<u64>,
}

impl Default for Figures {
    /// No region: every figure known and zero.
    fn default() -> Self {
        Figures {
            count: 0,
            virtual_size: 0,
            memory: MemoryFigures::ZERO,
            dirty: Some(0),
        }
    }
}

impl Figures {
    /// Adds one region; a region without usage makes the memory figures unknown.
    pub fn add(&mut self, size: u64, usage: Option<&Usage>) {
        self.count += 1;
        self.virtual_size += size;
        match usage {
            Some(u) => {
                self.memory.add(&MemoryFigures::from_usage(u));
                self.dirty = self.dirty.map(|d| d + u.dirty());
            }
            None => {
                self.memory = MemoryFigures::UNKNOWN;
                self.dirty = None;
            }
        }
    }
}

/// Figures for one region type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeFigures {
    /// The type.
    pub region_type: RegionType,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Figures for one mapped file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFigures {
    /// The path (non-UTF-8 bytes as `\xNN`).
    pub path: String,
    /// The file was deleted after it was mapped.
    pub deleted: bool,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Where the memory figures of a process total come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TotalSource {
    /// The kernel's own totals, `/proc/PID/smaps_rollup`, read right after `smaps`. The kernel
    /// rounds each region's PSS down in `smaps` but not in the rollup, so the rows of a summary
    /// can add up to a little less than this total.
    #[serde(rename = "smaps_rollup")]
    SmapsRollup,
    /// The sum of the per-region figures (no rollup: a kernel before 4.14, a capture without
    /// one, a snapshot written before memlink read it, or figures that were not read).
    #[default]
    #[serde(rename = "sum of regions")]
    SumOfRegions,
}

impl TotalSource {
    /// The JSON spelling: `smaps_rollup` or `sum of regions`.
    pub fn name(self) -> &'static str {
        match self {
            TotalSource::SmapsRollup => "smaps_rollup",
            TotalSource::SumOfRegions => "sum of regions",
        }
    }
}

/// The summary of a process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The process.
    pub pid: u32,
    /// Whether per-region figures (`smaps`) went into it; without them only counts and virtual
    /// sizes are meaningful.
    pub detailed: bool,
    /// Totals over every region: counts and virtual size summed over the regions, memory
    /// figures from [`total_source`](Self::total_source).
    pub total: Figures,
    /// Where the memory figures of [`total`](Self::total) come from.
    #[serde(default)]
    pub total_source: TotalSource,
    /// The memory figures summed over the regions, when `total` is taken from the rollup
    /// (`null` when `total` is that sum).
    #[serde(default)]
    pub sum_of_regions: Option<Figures>,
    /// `total` minus [`sum_of_regions`](Self::sum_of_regions), figure by figure: the kernel's
    /// per-region rounding of PSS (and pages that changed between the two reads). `null` when
    /// `total` is the sum.
    #[serde(default)]
    pub total_minus_regions: Option<MemoryFigures<i64>>,
    /// By region type, in [`RegionType::ALL`] order, types with no region left out.
    pub by_type: Vec<TypeFigures>,
    /// By mapped file, largest RSS first (then largest virtual size, then path).
    pub by_file: Vec<FileFigures>,
}

/// Accumulates [`MemoryStats`] one region at a time, so that a stream of any length can be
/// summarised in constant memory (per distinct file).
#[derive(Debug, Default)]
pub struct StatsBuilder {
    detailed: bool,
    total: Figures,
    by_type: [Figures; RegionType::ALL.len()],
    /// Keyed by the exact path bytes, separately for deleted files (index 1), so that adding a
    /// region looks up its borrowed path without building a key.
    by_file: [HashMap<Vec<u8>, Figures>; 2],
}

impl StatsBuilder {
    /// An empty builder.
    pub fn new() -> StatsBuilder {
        StatsBuilder::default()
    }

    /// Adds one region.
    pub fn add(&mut self, r: &MemoryRegion) {
        self.add_view(&r.view());
    }

    /// Adds one region, borrowed.
    pub fn add_view(&mut self, r: &RegionView<'_>) {
        let size = r.size as u64;
        let usage = r.usage;
        self.detailed |= usage.is_some();
        self.total.add(size, usage);
        let i = RegionType::ALL
            .iter()
            .position(|t| *t == r.region_type)
            .unwrap_or(0);
        self.by_type[i].add(size, usage);
        if let Some(path) = r.path {
            let files = &mut self.by_file[r.deleted as usize];
            match files.get_mut(path) {
                Some(f) => f.add(size, usage),
                None => files.entry(path.to_vec()).or_default().add(size, usage),
            }
        }
    }

    /// The finished summary.
    pub fn finish(self, pid: u32) -> MemoryStats {
        let by_type = RegionType::ALL
            .iter()
            .zip(self.by_type)
            .filter(|(_, f)| f.count > 0)
            .map(|(&region_type, figures)| TypeFigures {
                region_type,
                figures,
            })
            .collect();
        let [kept, deleted] = self.by_file;
        let mut by_file: Vec<FileFigures> = kept
            .into_iter()
            .map(|f| (f, false))
            .chain(deleted.into_iter().map(|f| (f, true)))
            .map(|((path, figures), deleted)| FileFigures {
                path: escape_path(&path),
                deleted,
                figures,
            })
            .collect();
        by_file.sort_by(|a, b| {
            b.figures
                .memory
                .rss
                .cmp(&a.figures.memory.rss)
                .then(b.figures.virtual_size.cmp(&a.figures.virtual_size))
                .then(a.path.cmp(&b.path))
                .then(a.deleted.cmp(&b.deleted))
        });
        MemoryStats {
            pid,
            detailed: self.detailed,
            total: self.total,
            total_source: TotalSource::SumOfRegions,
            sum_of_regions: None,
            total_minus_regions: None,
            by_type,
            by_file,
        }
    }
}

impl MemoryStats {
    /// Summarises a list of regions.
    pub fn from_regions<'a>(pid: u32, regions: impl IntoIterator<Item = &'a MemoryRegion>) -> Self {
        let mut b = StatsBuilder::new();
        for r in regions {
            b.add(r);
        }
        b.finish(pid)
    }

    /// Takes the memory figures of the total from the kernel's rollup (`smaps_rollup`, read
    /// right after the regions), keeping the sum of the regions beside it. Counts and virtual
    /// size stay the regions'. Without per-region figures (`detailed` false) nothing changes:
    /// the rollup would be the only figure, with no rows to compare it with.
    pub fn apply_rollup(&mut self, rollup: &Usage) {
        if !self.detailed {
            return;
        }
        if self.total_source == TotalSource::SmapsRollup {
            if let Some(sum) = self.sum_of_regions {
                self.total = sum;
            }
        }
        let sum = self.total;
        self.total.memory = MemoryFigures::from_usage(rollup);
        self.total.dirty = Some(rollup.dirty());
        self.total_source = TotalSource::SmapsRollup;
        self.total_minus_regions = Some(self.total.memory.minus(&sum.memory));
        self.sum_of_regions = Some(sum);
    }

    /// The figures for one type (zero when the process has none).
    pub fn of_type(&self, t: RegionType) -> Figures {
        self.by_type
            .iter()
            .find(|f| f.region_type == t)
            .map(|f| f.figures)
            .unwrap_or_default()
    }
}
