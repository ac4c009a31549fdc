//! The snapshot diff picture: the regions of the second snapshot plus those removed since the
//! first, in one address-ordered list, each marked added, removed, grown, shrunk or unchanged
//! (from [`crate::overtime::diff::diff`]), and a layout coloured by that change instead of by type.

use std::collections::HashMap;

use serde::Serialize;

use crate::overtime::diff::{diff, region_label, RegionRef, SnapshotDiff};
use crate::region::MemoryRegion;
use crate::snapshot::Snapshot;

use super::layout::{CellKind, Layout, LayoutOptions};
use super::palette;

/// How a region changed between the two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only in the second snapshot.
    Added,
    /// Only in the first snapshot.
    Removed,
    /// Larger (size, else RSS) in the second.
    Grown,
    /// Smaller (size, else RSS) in the second.
    Shrunk,
    /// The same size and RSS.
    Same,
}

impl Change {
    /// The fill colour of a region with this change (unchanged regions keep a pale version of
    /// their type's colour).
    pub fn color(self) -> Option<&'static str> {
        match self {
            Change::Added => Some("#2e9e44"),
            Change::Removed => Some("#d62728"),
            Change::Grown => Some("#ff9f1c"),
            Change::Shrunk => Some("#1f77b4"),
            Change::Same => None,
        }
    }
}

/// Everything the diff picture draws.
#[derive(Debug, Clone)]
pub struct DiffPicture {
    /// The regions of the second snapshot and the removed ones of the first, by address.
    pub regions: Vec<MemoryRegion>,
    /// The change of each region in [`regions`](Self::regions).
    pub changes: Vec<Change>,
    /// The diff itself.
    pub diff: SnapshotDiff,
    /// The layout, coloured by change.
    pub layout: Layout,
}

fn key(r: &RegionRef) -> (u64, u64, Option<String>) {
    (r.start, r.end, r.label.clone())
}

fn region_key(r: &MemoryRegion) -> (u64, u64, Option<String>) {
    (
        r.base_address as u64,
        r.end_address() as u64,
        region_label(r),
    )
}

impl DiffPicture {
    /// Compares `a` (before) with `b` (after) and lays out the result.
    pub fn new(a: &Snapshot, b: &Snapshot, opts: &LayoutOptions) -> DiffPicture {
        let d = diff(a, b);
        let mut status: HashMap<(u64, u64, Option<String>), Change> = HashMap::new();
        for r in &d.added {
            status.insert(key(r), Change::Added);
        }
        for c in &d.grown {
            status.insert(key(&c.after), Change::Grown);
        }
        for c in &d.shrunk {
            status.insert(key(&c.after), Change::Shrunk);
        }
        let removed: std::collections::HashSet<_> = d.removed.iter().map(key).collect();
        let mut all: Vec<(MemoryRegion, Change)> = b
            .regions
            .iter()
            .map(|r| {
                let c = status.get(&region_key(r)).copied().unwrap_or(Change::Same);
                (r.clone(), c)
            })
            .chain(
                a.regions
                    .iter()
                    .filter(|r| removed.contains(&region_key(r)))
                    .map(|r| (r.clone(), Change::Removed)),
            )
            .collect();
        // Stable: at one address the region that is there now comes first.
        all.sort_by_key(|(r, _)| r.base_address);
        let (regions, changes): (Vec<_>, Vec<_>) = all.into_iter().unzip();
        let mut layout = Layout::compute(&regions, opts);
        for row in &mut layout.rows {
            for cell in &mut row.cells {
                if cell.kind == CellKind::Gap {
                    continue;
                }
                let run = &changes[cell.first..cell.first + cell.count];
                // An aggregate shows its most common change other than "same", if any.
                let mut counts: Vec<(Change, usize)> = Vec::new();
                for c in run.iter().filter(|c| **c != Change::Same) {
                    match counts.iter_mut().find(|(k, _)| k == c) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((*c, 1)),
                    }
                }
                let top = counts
                    .iter()
                    .max_by_key(|(_, n)| *n)
                    .map_or(Change::Same, |(c, _)| *c);
                cell.color = match (top.color(), cell.region_type) {
                    (Some(c), _) => c.to_string(),
                    (None, Some(t)) => palette::mix(palette::base(t), 0.7),
                    (None, None) => palette::GAP.to_string(),
                };
            }
        }
        DiffPicture {
            regions,
            changes,
            diff: d,
            layout,
        }
    }

    /// The changes of the regions drawn on their own, in the order of
    /// [`Layout::standalone`].
    pub fn standalone_changes(&self) -> Vec<Change> {
        self.layout
            .cells()
            .filter(|(_, c)| c.kind == CellKind::Region)
            .map(|(_, c)| self.changes[c.first])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_follow_changes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/snapshots/regions.json");
        let a = Snapshot::load(&path).unwrap();
        let mut b = a.clone();
        // Remove one region, grow another, add a third.
        let gone = b.regions.remove(6);
        b.regions[0].size += 0x1000;
        let mut new = gone.clone();
        new.base_address = 0x1000;
        new.name = Some("[anon:new]".into());
        b.regions.insert(0, new);
        let p = DiffPicture::new(&a, &b, &LayoutOptions::default());
        assert_eq!(p.regions.len(), a.regions.len() + 1);
        let count = |c: Change| p.changes.iter().filter(|x| **x == c).count();
        assert_eq!(count(Change::Added), 1);
        assert_eq!(count(Change::Removed), 1);
        assert_eq!(count(Change::Grown), 1);
        assert_eq!(p.changes[0], Change::Added);
        let cells: Vec<_> = p.layout.cells().map(|(_, c)| c).collect();
        assert_eq!(cells[0].color, "#2e9e44");
        assert!(cells.iter().any(|c| c.color == "#d62728"));
        assert_eq!(p.standalone_changes().len(), p.regions.len());
    }
}
