//! The drawable layout of an address space, computed once and shared by every renderer (SVG,
//! HTML, terminal).
//!
//! Regions are laid out in address order as *cells* on rows of a fixed width (in abstract
//! units). A cell's width grows with the logarithm of its size, so a 4 KiB guard page and a
//! 64 MiB reservation are both visible. Gaps between regions become gap cells, also
//! log-scaled; a gap of at least [`LayoutOptions::row_break`] bytes (the distance between the
//! executable, the mmap area and the stack, typically) ends the row instead and is labelled
//! between rows. When a process has more regions than [`LayoutOptions::max_cells`], runs of
//! small neighbouring regions are drawn as one *aggregate* cell, so the picture stays readable
//! and the page stays fast.
//!
//! The layout is pure: regions in, cells out, no I/O.

use serde::{Serialize, Serializer};

use crate::region::{HexAddr, MemoryRegion, Perms, RegionType};
use crate::units::format_size;

use super::palette;
use super::Highlight;

/// How to lay out a map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutOptions {
    /// Width of a row in units (pixels in the SVG, percent-scaled in HTML, columns in a
    /// terminal).
    pub width: f64,
    /// Width of the smallest region (one page).
    pub min_region: f64,
    /// Extra width per doubling of a region's size above one page.
    pub per_doubling: f64,
    /// Width of the smallest gap.
    pub min_gap: f64,
    /// Extra width per doubling of a gap's size above one page.
    pub gap_per_doubling: f64,
    /// The widest a gap may be drawn.
    pub max_gap: f64,
    /// A gap at least this large (bytes) ends the row.
    pub row_break: u64,
    /// At most about this many region and aggregate cells; beyond it small regions are
    /// aggregated.
    pub max_cells: usize,
    /// Stretch the cells (up to 3 times) so that the longest row fills the width, when no row
    /// has to wrap.
    pub fill: bool,
}

impl Default for LayoutOptions {
    /// The layout used by the SVG and HTML maps: 1000 units per row.
    fn default() -> Self {
        LayoutOptions {
            width: 1000.0,
            min_region: 8.0,
            per_doubling: 4.0,
            min_gap: 2.0,
            gap_per_doubling: 1.0,
            max_gap: 24.0,
            row_break: 1 << 30,
            max_cells: 2000,
            fill: true,
        }
    }
}

impl LayoutOptions {
    /// A layout for a terminal `columns` wide: every region at least one column.
    pub fn terminal(columns: usize) -> LayoutOptions {
        LayoutOptions {
            width: columns.max(20) as f64,
            min_region: 1.0,
            per_doubling: 0.3,
            min_gap: 1.0,
            gap_per_doubling: 0.0,
            max_gap: 1.0,
            row_break: 1 << 30,
            max_cells: columns.max(20) * 12,
            fill: true,
        }
    }
}

/// What a cell stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// One region: `first` is its index in the snapshot's region list.
    Region,
    /// `count` neighbouring regions from index `first`, too small to draw one by one.
    Aggregate,
    /// Unmapped address space between two regions.
    Gap,
}

/// One drawn rectangle of the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// What it stands for.
    pub kind: CellKind,
    /// Left edge within its row, in units.
    pub x: f64,
    /// Width in units.
    pub w: f64,
    /// First address covered.
    #[serde(serialize_with = "hex")]
    pub start: u64,
    /// One past the last address covered.
    #[serde(serialize_with = "hex")]
    pub end: u64,
    /// Index of the first region in the snapshot's region list (0 for gaps).
    pub first: usize,
    /// Number of regions (0 for gaps).
    pub count: usize,
    /// The region's type; for an aggregate, the type holding most of its bytes.
    pub region_type: Option<RegionType>,
    /// The region's permissions (`rw-p`); `None` for gaps and for aggregates with mixed
    /// permissions.
    pub perms: Option<String>,
    /// Fill colour (`#rrggbb`): the type's colour shaded by permissions.
    pub color: String,
    /// A short label: the file name or pseudo-name of a region, the size of a gap, the
    /// region count of an aggregate.
    pub label: String,
    /// For a region cell: its index among the regions drawn on their own (the order of
    /// [`Layout::standalone`]), which is where a map document keeps its full details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<usize>,
    /// For an aggregate cell: what it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Box<AggregateSummary>>,
}

/// What an aggregate cell holds, so that it can be described, filtered and searched without
/// the full objects of its regions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateSummary {
    /// Mapped bytes.
    pub size: u64,
    /// Resident bytes.
    pub rss: u64,
    /// Proportional resident bytes.
    pub pss: u64,
    /// Swapped-out bytes.
    pub swap: u64,
    /// Region count by type, in [`RegionType::ALL`] order.
    pub types: Vec<(RegionType, usize)>,
    /// The distinct permissions, in order of first appearance.
    pub perms: Vec<String>,
    /// The distinct paths and pseudo-names (at most [`MAX_NAMES`]), in order of first
    /// appearance.
    pub names: Vec<String>,
    /// More distinct names were left out.
    pub names_truncated: bool,
    /// The first few regions as `address perms size name` lines.
    pub sample: Vec<String>,
}

/// The most distinct names an aggregate lists.
pub const MAX_NAMES: usize = 64;
/// The number of regions an aggregate describes one by one.
pub(crate) const SAMPLE: usize = 12;

/// One row of the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The gap (bytes) that ended the previous row, drawn as a labelled separator above this
    /// one; `None` for the first row and for rows that merely wrap.
    pub gap_before: Option<u64>,
    /// The gap as text (`"125.3TB"`), when there is one.
    pub gap_label: Option<String>,
    /// The cells, left to right.
    pub cells: Vec<Cell>,
}

/// The whole map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    /// Row width in units.
    pub width: f64,
    /// Rows, top (low addresses) to bottom.
    pub rows: Vec<Row>,
    /// Number of regions laid out.
    pub regions: usize,
    /// Number of aggregate cells (0 when every region is drawn on its own).
    pub aggregates: usize,
    /// Regions drawn inside aggregates.
    pub aggregated_regions: usize,
}

fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    HexAddr(*v).serialize(s)
}

const PAGE: f64 = 4096.0;

fn log_width(bytes: u64, min: f64, per: f64) -> f64 {
    let doublings = ((bytes as f64) / PAGE).max(1.0).log2();
    min + per * doublings
}

/// A run of regions that will become one cell.
struct Pending {
    first: usize,
    count: usize,
}

impl Layout {
    /// Lays out `regions`, which must be sorted by address and must not overlap (as the kernel
    /// lists them); out-of-order input is drawn in the given order.
    pub fn compute(regions: &[MemoryRegion], opts: &LayoutOptions) -> Layout {
        let natural = Self::compute_scaled(regions, opts, 1.0);
        if !opts.fill {
            return natural;
        }
        let wrapped = natural.rows.iter().skip(1).any(|r| r.gap_before.is_none());
        let longest = natural
            .rows
            .iter()
            .map(|r| r.cells.last().map_or(0.0, |c| c.x + c.w))
            .fold(0.0, f64::max);
        if wrapped || longest <= 0.0 || longest >= opts.width * 0.98 {
            return natural;
        }
        // Stretching every width by the same factor keeps the rows' proportions.
        let scale = (opts.width / longest).min(3.0) * 0.999;
        Self::compute_scaled(regions, opts, scale)
    }

    fn compute_scaled(regions: &[MemoryRegion], opts: &LayoutOptions, scale: f64) -> Layout {
        let scaled = LayoutOptions {
            min_region: opts.min_region * scale,
            per_doubling: opts.per_doubling * scale,
            min_gap: opts.min_gap * scale,
            gap_per_doubling: opts.gap_per_doubling * scale,
            max_gap: opts.max_gap * scale,
            ..*opts
        };
        let opts = &scaled;
        let mut b = Builder {
            opts,
            rows: vec![Row {
                gap_before: None,
                gap_label: None,
                cells: Vec::new(),
            }],
            x: 0.0,
            aggregates: 0,
            aggregated_regions: 0,
            standalone: 0,
        };
        let standalone = standalone_threshold(regions, opts.max_cells);
        let small_count = regions
            .iter()
            .filter(|r| (r.size as u64) < standalone)
            .count();
        let run_len = if regions.len() > opts.max_cells {
            small_count.div_ceil((opts.max_cells / 2).max(1)).max(2)
        } else {
            1
        };
        let mut pending: Option<Pending> = None;
        let mut prev_end: Option<u64> = None;
        for (i, r) in regions.iter().enumerate() {
            let start = r.base_address as u64;
            let gap = prev_end.map_or(0, |e| start.saturating_sub(e));
            let small = (r.size as u64) < standalone;
            // A region joins the pending run when both are small, no row break separates them
            // and the run is not full.
            let joins = small
                && gap < opts.row_break
                && pending.as_ref().is_some_and(|p| {
                    p.count < run_len && (regions[p.first].size as u64) < standalone
                });
            if joins {
                if let Some(p) = pending.as_mut() {
                    p.count += 1;
                }
            } else {
                if let Some(p) = pending.take() {
                    b.flush(regions, p);
                }
                if let Some(e) = prev_end {
                    if gap >= opts.row_break {
                        b.row_break(gap);
                    } else if gap > 0 {
                        b.gap(e, start);
                    }
                }
                pending = Some(Pending { first: i, count: 1 });
            }
            prev_end = Some(r.end_address() as u64);
        }
        if let Some(p) = pending.take() {
            b.flush(regions, p);
        }
        if b.rows.len() == 1 && b.rows[0].cells.is_empty() {
            b.rows.clear();
        }
        Layout {
            width: opts.width,
            rows: b.rows,
            regions: regions.len(),
            aggregates: b.aggregates,
            aggregated_regions: b.aggregated_regions,
        }
    }

    /// Every region and aggregate cell, with its row index.
    pub fn cells(&self) -> impl Iterator<Item = (usize, &Cell)> {
        self.rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.cells.iter().map(move |c| (i, c)))
            .filter(|(_, c)| c.kind != CellKind::Gap)
    }

    /// The regions drawn on their own, in order (a region cell's `detail` indexes this list).
    pub fn standalone<'r>(
        &self,
        regions: &'r [MemoryRegion],
    ) -> impl Iterator<Item = &'r MemoryRegion> + 'r {
        let firsts: Vec<usize> = self
            .cells()
            .filter(|(_, c)| c.kind == CellKind::Region)
            .map(|(_, c)| c.first)
            .collect();
        firsts.into_iter().filter_map(move |i| regions.get(i))
    }

    /// The region and aggregate cells that a highlight overlaps, with their row indices.
    pub fn cells_touching<'a>(
        &'a self,
        h: &'a Highlight,
    ) -> impl Iterator<Item = (usize, &'a Cell)> + 'a {
        self.cells()
            .filter(move |(_, c)| c.start < h.end.max(h.start + 1) && h.start < c.end)
    }
}

/// Regions at least this large are always drawn on their own: when there are too many regions,
/// the largest `max_cells / 2` stay standalone.
fn standalone_threshold(regions: &[MemoryRegion], max_cells: usize) -> u64 {
    if regions.len() <= max_cells {
        return 0;
    }
    let keep = (max_cells / 2).max(1);
    let mut sizes: Vec<u64> = regions.iter().map(|r| r.size as u64).collect();
    // The keep-th largest size; strictly larger regions stay standalone, so that a process of
    // equal-sized regions aggregates them all.
    let (_, kth, _) = sizes.select_nth_unstable_by(keep - 1, |a, b| b.cmp(a));
    kth.saturating_add(1)
}

struct Builder<'o> {
    opts: &'o LayoutOptions,
    rows: Vec<Row>,
    x: f64,
    aggregates: usize,
    aggregated_regions: usize,
    standalone: usize,
}

impl Builder<'_> {
    fn push(&mut self, mut cell: Cell) {
        let row = self.rows.last_mut().expect("at least one row");
        if self.x + cell.w > self.opts.width && !row.cells.is_empty() {
            if cell.kind == CellKind::Gap {
                // A gap at the end of a row is implied by the wrap.
                self.x = self.opts.width;
                return;
            }
            self.rows.push(Row {
                gap_before: None,
                gap_label: None,
                cells: Vec::new(),
            });
            self.x = 0.0;
        }
        let row = self.rows.last_mut().expect("at least one row");
        if cell.kind == CellKind::Gap && row.cells.is_empty() {
            return;
        }
        cell.w = cell.w.min(self.opts.width);
        cell.x = self.x;
        self.x += cell.w;
        row.cells.push(cell);
    }

    fn row_break(&mut self, gap: u64) {
        self.rows.push(Row {
            gap_before: Some(gap),
            gap_label: Some(format_size(gap)),
            cells: Vec::new(),
        });
        self.x = 0.0;
    }

    fn gap(&mut self, start: u64, end: u64) {
        let size = end - start;
        let o = self.opts;
        self.push(Cell {
            kind: CellKind::Gap,
            x: 0.0,
            w: log_width(size, o.min_gap, o.gap_per_doubling).min(o.max_gap),
            start,
            end,
            first: 0,
            count: 0,
            region_type: None,
            perms: None,
            color: palette::GAP.to_string(),
            label: format_size(size),
            detail: None,
            summary: None,
        });
    }

    fn flush(&mut self, regions: &[MemoryRegion], p: Pending) {
        let o = self.opts;
        let run = &regions[p.first..p.first + p.count];
        let start = run[0].base_address as u64;
        let end = run
            .iter()
            .map(|r| r.end_address() as u64)
            .max()
            .unwrap_or(start);
        if p.count == 1 {
            let r = &run[0];
            self.push(Cell {
                kind: CellKind::Region,
                x: 0.0,
                w: log_width(r.size as u64, o.min_region, o.per_doubling),
                start,
                end,
                first: p.first,
                count: 1,
                region_type: Some(r.region_type),
                perms: Some(r.protection.clone()),
                color: palette::shade(r.region_type, r.perms),
                label: short_label(r),
                detail: Some(self.standalone),
                summary: None,
            });
            self.standalone += 1;
            return;
        }
        // The type holding most bytes gives the colour; mixed permissions are drawn at the
        // middle shade.
        let mut bytes = [0u64; RegionType::ALL.len()];
        for r in run {
            bytes[type_index(r.region_type)] += r.size as u64;
        }
        let (ti, _) = bytes
            .iter()
            .enumerate()
            .max_by_key(|(i, b)| (**b, std::cmp::Reverse(*i)))
            .unwrap_or((0, &0));
        let ty = RegionType::ALL[ti];
        let same_perms = run.iter().all(|r| r.perms == run[0].perms);
        let mapped: u64 = run.iter().map(|r| r.size as u64).sum();
        self.aggregates += 1;
        self.aggregated_regions += p.count;
        self.push(Cell {
            kind: CellKind::Aggregate,
            x: 0.0,
            w: log_width(mapped, o.min_region, o.per_doubling),
            start,
            end,
            first: p.first,
            count: p.count,
            region_type: Some(ty),
            perms: same_perms.then(|| run[0].protection.clone()),
            color: if same_perms {
                palette::shade(ty, run[0].perms)
            } else {
                palette::shade(ty, Perms::READ | Perms::WRITE)
            },
            label: format!("{} regions", p.count),
            detail: None,
            summary: Some(Box::new(summarize(run))),
        });
    }
}

fn type_index(t: RegionType) -> usize {
    RegionType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

fn summarize(run: &[MemoryRegion]) -> AggregateSummary {
    let mut counts = [0usize; RegionType::ALL.len()];
    let mut sum = AggregateSummary {
        size: 0,
        rss: 0,
        pss: 0,
        swap: 0,
        types: Vec::new(),
        perms: Vec::new(),
        names: Vec::new(),
        names_truncated: false,
        sample: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for r in run {
        counts[type_index(r.region_type)] += 1;
        sum.size += r.size as u64;
        if let Some(u) = &r.usage {
            sum.rss += u.rss;
            sum.pss += u.pss;
            sum.swap += u.swap;
        }
        if !sum.perms.contains(&r.protection) {
            sum.perms.push(r.protection.clone());
        }
        let name = r.display_name();
        if !name.is_empty() && !seen.contains(&name) {
            if sum.names.len() < MAX_NAMES {
                seen.insert(name.clone());
                sum.names.push(name.clone());
            } else {
                sum.names_truncated = true;
            }
        }
        if sum.sample.len() < SAMPLE {
            sum.sample.push(
                format!(
                    "{:#x} {} {} {}",
                    r.base_address,
                    r.protection,
                    format_size(r.size as u64),
                    name
                )
                .trim_end()
                .to_string(),
            );
        }
    }
    sum.types = RegionType::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| (*t, n))
        .collect();
    sum
}

/// The last path component, or the pseudo-name, or the type.
fn short_label(r: &MemoryRegion) -> String {
    if let Some(f) = &r.mapped_file {
        let base = f.rsplit('/').next().unwrap_or(f);
        return base.to_string();
    }
    if let Some(n) = &r.name {
        return n.clone();
    }
    r.region_type.name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::{Device, TypeReason};

    fn region(base: usize, size: usize, ty: RegionType, prot: &str) -> MemoryRegion {
        MemoryRegion {
            base_address: base,
            size,
            protection: prot.to_string(),
            region_type: ty,
            state: "active".into(),
            mapped_file: None,
            perms: Perms::parse(prot.as_bytes()).unwrap(),
            offset: 0,
            device: Device::default(),
            inode: 0,
            path: None,
            name: None,
            deleted: false,
            type_reason: TypeReason::PrivateAnonymous,
            usage: None,
            vm_flags: None,
        }
    }

    #[test]
    fn gaps_are_compressed_and_big_gaps_break_rows() {
        let regions = vec![
            region(0x1000, 0x1000, RegionType::Code, "r-xp"),
            region(0x3000, 0x10000, RegionType::Heap, "rw-p"),
            region(0x7f00_0000_0000, 0x4000_0000, RegionType::Private, "rw-p"),
        ];
        let opts = LayoutOptions {
            fill: false,
            ..LayoutOptions::default()
        };
        let l = Layout::compute(&regions, &opts);
        assert_eq!(l.rows.len(), 2);
        let r0 = &l.rows[0].cells;
        assert_eq!(r0.len(), 3, "{r0:?}");
        assert_eq!(r0[1].kind, CellKind::Gap);
        assert_eq!(r0[1].label, "4.0KB");
        assert_eq!(r0[0].w, 8.0);
        assert_eq!(r0[2].w, 8.0 + 4.0 * 4.0);
        assert_eq!(r0[2].x, r0[0].w + r0[1].w);
        assert!(l.rows[1].gap_before.unwrap() > 1 << 40);
        assert_eq!(l.rows[1].cells[0].w, 8.0 + 4.0 * 18.0);
        // Filling stretches the longest row to the width.
        let l = Layout::compute(&regions, &LayoutOptions::default());
        let last = l.rows[1].cells.last().unwrap();
        assert!((last.x + last.w - 240.0).abs() < 1.0, "{last:?}");
        assert_eq!(l.cells().count(), 3);
        assert_eq!(l.aggregates, 0);
    }

    #[test]
    fn rows_wrap_without_splitting_regions() {
        let regions: Vec<_> = (0..100)
            .map(|i| region(0x10000 + i * 0x1000, 0x1000, RegionType::Private, "rw-p"))
            .collect();
        let opts = LayoutOptions {
            width: 82.0,
            ..LayoutOptions::default()
        };
        let l = Layout::compute(&regions, &opts);
        assert_eq!(l.rows.len(), 10);
        assert!(l.rows.iter().all(|r| r.cells.len() == 10));
        assert!(l.rows.iter().skip(1).all(|r| r.gap_before.is_none()));
    }

    #[test]
    fn many_small_regions_are_aggregated_big_ones_kept() {
        let mut regions: Vec<_> = (0..10_000)
            .map(|i| {
                let prot = if i % 2 == 0 { "rw-p" } else { "r--p" };
                region(0x10000 + i * 0x1000, 0x1000, RegionType::Private, prot)
            })
            .collect();
        regions.push(region(0x1000_0000, 0x100_0000, RegionType::Heap, "rw-p"));
        let opts = LayoutOptions {
            max_cells: 100,
            ..LayoutOptions::default()
        };
        let l = Layout::compute(&regions, &opts);
        let cells: Vec<_> = l.cells().map(|(_, c)| c).collect();
        assert!(cells.len() <= 110, "{}", cells.len());
        assert!(l.aggregates > 0);
        // Every region is covered exactly once, in order.
        let mut next = 0;
        for c in &cells {
            assert_eq!(c.first, next);
            next += c.count;
        }
        assert_eq!(next, regions.len());
        let heap = cells.last().unwrap();
        assert_eq!(heap.kind, CellKind::Region);
        assert_eq!(heap.region_type, Some(RegionType::Heap));
        assert!(cells[0].perms.is_none(), "mixed permissions");
        let sum = cells[0].summary.as_ref().unwrap();
        assert_eq!(sum.types, vec![(RegionType::Private, cells[0].count)]);
        assert_eq!(sum.perms, vec!["rw-p".to_string(), "r--p".to_string()]);
        assert_eq!(sum.sample.len(), SAMPLE);
        assert_eq!(sum.size, cells[0].count as u64 * 0x1000);
        assert_eq!(heap.detail, Some(0));
        assert_eq!(l.standalone(&regions).count(), 1);
    }

    #[test]
    fn empty_and_highlights() {
        let l = Layout::compute(&[], &LayoutOptions::default());
        assert!(l.rows.is_empty());
        let regions = vec![
            region(0x1000, 0x1000, RegionType::Code, "r-xp"),
            region(0x5000, 0x1000, RegionType::Code, "rwxp"),
        ];
        let l = Layout::compute(&regions, &LayoutOptions::default());
        let h = Highlight {
            start: 0x5800,
            end: 0x5800,
            severity: "high".into(),
            label: "rwx".into(),
        };
        let hit: Vec<_> = l.cells_touching(&h).collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].1.first, 1);
    }
}
