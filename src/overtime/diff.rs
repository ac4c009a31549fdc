//! Differences between two [`Snapshot`]s of a process: regions added, removed, grown and shrunk,
//! and the change of every figure by region type and by mapped file.
//!
//! Pure: two snapshots in, a [`SnapshotDiff`] out. A region of `a` and a region of `b` are the
//! same region when they have the same label (file path, pseudo-name such as `[heap]`, or
//! nothing for anonymous memory) and the same start address; failing that, the same label and the
//! same end address (a stack grows down, moving its start). A matched region whose size or
//! resident size changed is *grown* or *shrunk* (by size first, then by RSS).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::region::stats::{signed_sub as sub, Figures, MemoryFigures, TotalSource};
use crate::region::{MemoryRegion, RegionType};
use crate::snapshot::Snapshot;

/// A region as the diff reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionRef {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Size in bytes.
    pub size: u64,
    /// Permissions (`rw-p`).
    pub protection: String,
    /// Type.
    pub region_type: RegionType,
    /// The file path, pseudo-name (`[heap]`) or `None` for anonymous memory.
    pub label: Option<String>,
    /// Resident bytes (`None` when the snapshot had no figures).
    pub rss: Option<u64>,
    /// Proportional set size (`None` when the snapshot had no figures).
    pub pss: Option<u64>,
}

/// A region present in both snapshots whose size or resident size changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionChange {
    /// The region in the first snapshot.
    pub before: RegionRef,
    /// The region in the second snapshot.
    pub after: RegionRef,
    /// Change of size in bytes.
    pub size_delta: i64,
    /// Change of resident bytes (`None` when either side had no figures).
    pub rss_delta: Option<i64>,
    /// Change of PSS (`None` when either side had no figures).
    pub pss_delta: Option<i64>,
}

/// Signed changes of [`Figures`]; a memory figure unknown on either side has an unknown change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FiguresDelta {
    /// Number of regions.
    pub count: i64,
    /// Virtual size.
    pub virtual_size: i64,
    /// Change of RSS, PSS, USS and swap.
    #[serde(flatten)]
    pub memory: MemoryFigures<i64>,
}

impl FiguresDelta {
    /// `after - before`.
    pub fn between(before: &Figures, after: &Figures) -> FiguresDelta {
        FiguresDelta {
            count: sub(after.count, before.count),
            virtual_size: sub(after.virtual_size, before.virtual_size),
            memory: after.memory.minus(&before.memory),
        }
    }

    /// True when nothing is known to have changed.
    pub fn is_zero(&self) -> bool {
        let m = &self.memory;
        self.count == 0
            && self.virtual_size == 0
            && [m.rss, m.pss, m.uss, m.swap]
                .iter()
                .all(|v| v.unwrap_or(0) == 0)
    }
}

/// The change of one group of regions (a type or a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDelta {
    /// The type name (`Heap`) or file path.
    pub key: String,
    /// Figures in the first snapshot.
    pub before: Figures,
    /// Figures in the second snapshot.
    pub after: Figures,
    /// `after - before`.
    pub delta: FiguresDelta,
}

/// What changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiff {
    /// PID in the first snapshot.
    pub pid_a: u32,
    /// PID in the second snapshot.
    pub pid_b: u32,
    /// Both snapshots are of the same process (same PID and start time).
    pub same_process: bool,
    /// When the first was taken (Unix seconds).
    pub taken_at_a: u64,
    /// When the second was taken (Unix seconds).
    pub taken_at_b: u64,
    /// Regions only in the second snapshot, in address order.
    pub added: Vec<RegionRef>,
    /// Regions only in the first snapshot, in address order.
    pub removed: Vec<RegionRef>,
    /// Matched regions that grew (size, or RSS at equal size), largest change first.
    pub grown: Vec<RegionChange>,
    /// Matched regions that shrank, largest change first.
    pub shrunk: Vec<RegionChange>,
    /// Totals before, after and the change.
    pub total: GroupDelta,
    /// Where each snapshot's total comes from (first, second): `smaps_rollup` or the sum of
    /// its regions. When they differ, part of the change of the total is the kernel's
    /// per-region rounding of PSS.
    #[serde(default)]
    pub total_sources: [TotalSource; 2],
    /// Changes by region type (types that did not change are left out).
    pub by_type: Vec<GroupDelta>,
    /// Changes by mapped file (files that did not change are left out), largest RSS change
    /// first.
    pub by_file: Vec<GroupDelta>,
}

impl SnapshotDiff {
    /// True when no region was added, removed, grown or shrunk.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.grown.is_empty()
            && self.shrunk.is_empty()
    }
}

/// The label identifying a region across snapshots.
pub(crate) fn region_label(r: &MemoryRegion) -> Option<String> {
    r.mapped_file.clone().or_else(|| r.name.clone())
}

fn reference(r: &MemoryRegion) -> RegionRef {
    let u = r.usage.as_ref();
    RegionRef {
        start: r.base_address as u64,
        end: r.end_address() as u64,
        size: r.size as u64,
        protection: r.protection.clone(),
        region_type: r.region_type,
        label: region_label(r),
        rss: u.map(|u| u.rss),
        pss: u.map(|u| u.pss),
    }
}

/// Compares snapshot `a` (before) with `b` (after).
pub fn diff(a: &Snapshot, b: &Snapshot) -> SnapshotDiff {
    let ra: Vec<RegionRef> = a.regions.iter().map(reference).collect();
    let rb: Vec<RegionRef> = b.regions.iter().map(reference).collect();
    let mut matched_a = vec![false; ra.len()];
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut matched_b = vec![false; rb.len()];

    // First by (label, start), then the rest by (label, end).
    for by_end in [false, true] {
        let mut index: HashMap<(Option<&str>, u64), Vec<usize>> = HashMap::new();
        for (i, r) in ra.iter().enumerate() {
            if !matched_a[i] {
                let addr = if by_end { r.end } else { r.start };
                index.entry((r.label.as_deref(), addr)).or_default().push(i);
            }
        }
        for (j, r) in rb.iter().enumerate() {
            if matched_b[j] {
                continue;
            }
            let addr = if by_end { r.end } else { r.start };
            if let Some(list) = index.get_mut(&(r.label.as_deref(), addr)) {
                if let Some(i) = list.pop() {
                    matched_a[i] = true;
                    matched_b[j] = true;
                    pairs.push((i, j));
                }
            }
        }
    }

    let delta = |a: Option<u64>, b: Option<u64>| Some(sub(a?, b?));
    let mut grown = Vec::new();
    let mut shrunk = Vec::new();
    for (i, j) in pairs {
        let (before, after) = (&ra[i], &rb[j]);
        let change = RegionChange {
            size_delta: sub(after.size, before.size),
            rss_delta: delta(after.rss, before.rss),
            pss_delta: delta(after.pss, before.pss),
            before: before.clone(),
            after: after.clone(),
        };
        match (
            change.size_delta.signum(),
            change.rss_delta.unwrap_or(0).signum(),
        ) {
            (1, _) | (0, 1) => grown.push(change),
            (-1, _) | (0, -1) => shrunk.push(change),
            _ => {}
        }
    }
    let magnitude = |c: &RegionChange| {
        (
            c.size_delta.unsigned_abs(),
            c.rss_delta.unwrap_or(0).unsigned_abs(),
        )
    };
    grown.sort_by(|x, y| {
        magnitude(y)
            .cmp(&magnitude(x))
            .then(x.after.start.cmp(&y.after.start))
    });
    shrunk.sort_by(|x, y| {
        magnitude(y)
            .cmp(&magnitude(x))
            .then(x.after.start.cmp(&y.after.start))
    });

    let added = rb
        .iter()
        .zip(&matched_b)
        .filter(|(_, m)| !**m)
        .map(|(r, _)| r.clone())
        .collect();
    let removed = ra
        .iter()
        .zip(&matched_a)
        .filter(|(_, m)| !**m)
        .map(|(r, _)| r.clone())
        .collect();

    let by_type = RegionType::ALL
        .iter()
        .filter_map(|&t| group(t.name().to_string(), a.stats.of_type(t), b.stats.of_type(t)))
        .collect();

    let files_a: HashMap<&str, Figures> = a
        .stats
        .by_file
        .iter()
        .map(|f| (f.path.as_str(), f.figures))
        .collect();
    let files_b: HashMap<&str, Figures> = b
        .stats
        .by_file
        .iter()
        .map(|f| (f.path.as_str(), f.figures))
        .collect();
    let mut keys: Vec<&str> = files_a.keys().chain(files_b.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut by_file: Vec<GroupDelta> = keys
        .into_iter()
        .filter_map(|k| {
            group(
                k.to_string(),
                files_a.get(k).copied().unwrap_or_default(),
                files_b.get(k).copied().unwrap_or_default(),
            )
        })
        .collect();
    by_file.sort_by(|x, y| {
        y.delta
            .memory
            .rss
            .map(i64::unsigned_abs)
            .cmp(&x.delta.memory.rss.map(i64::unsigned_abs))
            .then(
                y.delta
                    .virtual_size
                    .unsigned_abs()
                    .cmp(&x.delta.virtual_size.unsigned_abs()),
            )
            .then(x.key.cmp(&y.key))
    });

    SnapshotDiff {
        pid_a: a.process.pid,
        pid_b: b.process.pid,
        same_process: a.process.pid == b.process.pid
            && a.process.start_time == b.process.start_time,
        taken_at_a: a.taken_at,
        taken_at_b: b.taken_at,
        added,
        removed,
        grown,
        shrunk,
        total: GroupDelta {
            key: "total".into(),
            before: a.stats.total,
            after: b.stats.total,
            delta: FiguresDelta::between(&a.stats.total, &b.stats.total),
        },
        total_sources: [a.stats.total_source, b.stats.total_source],
        by_type,
        by_file,
    }
}

fn group(key: String, before: Figures, after: Figures) -> Option<GroupDelta> {
    let delta = FiguresDelta::between(&before, &after);
    (!delta.is_zero()).then_some(GroupDelta {
        key,
        before,
        after,
        delta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessInfo;
    use crate::region::stats::MemoryStats;
    use crate::region::Usage;
    use crate::snapshot::{SNAPSHOT_FORMAT, SNAPSHOT_VERSION};

    fn region(start: usize, size: usize, label: Option<&str>, rss: u64) -> MemoryRegion {
        let line = format!(
            "{:x}-{:x} rw-p 00000000 00:00 0 {}",
            start,
            start + size,
            label.unwrap_or("")
        );
        let l = crate::proc::maps::parse_line(line.as_bytes(), 1).unwrap();
        let usage = Usage {
            rss,
            pss: rss,
            private_dirty: rss,
            ..Usage::default()
        };
        crate::region::classify::Classifier::default().region(None, &l, None, Some(usage), None)
    }

    fn snap(regions: Vec<MemoryRegion>) -> Snapshot {
        let stats = MemoryStats::from_regions(7, &regions);
        Snapshot {
            format: SNAPSHOT_FORMAT.into(),
            version: SNAPSHOT_VERSION,
            taken_at: 1,
            process: ProcessInfo {
                pid: 7,
                name: "x".into(),
                state: 'S',
                ppid: 1,
                uid: 0,
                threads: 1,
                tracer_pid: 0,
                ns_pid: 7,
                kernel_thread: false,
                start_time: 5,
            },
            regions,
            stats,
        }
    }

    #[test]
    fn added_removed_grown_shrunk() {
        let a = snap(vec![
            region(0x1000, 0x1000, Some("[heap]"), 4096),
            region(0x10000, 0x2000, None, 0),
            region(0x20000, 0x2000, Some("/lib/x.so"), 8192),
            region(0x7000_0000, 0x3000, Some("[stack]"), 4096),
        ]);
        let b = snap(vec![
            region(0x1000, 0x5000, Some("[heap]"), 20480),
            region(0x20000, 0x2000, Some("/lib/x.so"), 4096),
            region(0x30000, 0x4000, Some("/tmp/new"), 0),
            region(0x6fff_f000, 0x4000, Some("[stack]"), 8192),
        ]);
        let d = diff(&a, &b);
        assert!(d.same_process);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].label.as_deref(), Some("/tmp/new"));
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].start, 0x10000);
        assert_eq!(d.grown.len(), 2);
        assert_eq!(d.grown[0].after.label.as_deref(), Some("[heap]"));
        assert_eq!(d.grown[0].size_delta, 0x4000);
        assert_eq!(d.grown[1].after.label.as_deref(), Some("[stack]"));
        assert_eq!(d.shrunk.len(), 1);
        assert_eq!(d.shrunk[0].rss_delta, Some(-4096));
        let heap = d.by_type.iter().find(|g| g.key == "Heap").unwrap();
        assert_eq!(heap.delta.memory.rss, Some(16384));
        assert!(d.by_file.iter().any(|g| g.key == "/tmp/new"));
        assert!(d.by_file.iter().all(|g| !g.delta.is_zero()));
        assert!(diff(&a, &a).is_empty());
    }
}
