//! Summaries of a process's regions: totals, by region type and by mapped file.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::region::view::RegionView;
use crate::region::{escape_path, MemoryRegion, RegionType, Usage};

/// Figures summed over a set of regions. Sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Figures {
    /// Number of regions.
    pub count: u64,
    /// Summed virtual size.
    pub virtual_size: u64,
    /// Resident set size.
    pub rss: u64,
    /// Proportional set size.
    pub pss: u64,
    /// Unique set size (private clean + private dirty).
    pub uss: u64,
    /// Swapped out.
    pub swap: u64,
    /// Dirty (shared dirty + private dirty).
    pub dirty: u64,
}

impl Figures {
    /// Adds one region (its usage counts only when it was read).
    pub fn add(&mut self, size: u64, usage: Option<&Usage>) {
        self.count += 1;
        self.virtual_size += size;
        if let Some(u) = usage {
            self.rss += u.rss;
            self.pss += u.pss;
            self.uss += u.uss();
            self.swap += u.swap;
            self.dirty += u.dirty();
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

/// The summary of a process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The process.
    pub pid: u32,
    /// Whether per-region figures (`smaps`) went into it; without them only counts and virtual
    /// sizes are meaningful.
    pub detailed: bool,
    /// Totals over every region.
    pub total: Figures,
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
                .rss
                .cmp(&a.figures.rss)
                .then(b.figures.virtual_size.cmp(&a.figures.virtual_size))
                .then(a.path.cmp(&b.path))
                .then(a.deleted.cmp(&b.deleted))
        });
        MemoryStats {
            pid,
            detailed: self.detailed,
            total: self.total,
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

    /// The figures for one type (zero when the process has none).
    pub fn of_type(&self, t: RegionType) -> Figures {
        self.by_type
            .iter()
            .find(|f| f.region_type == t)
            .map(|f| f.figures)
            .unwrap_or_default()
    }
}
