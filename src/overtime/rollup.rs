//! When a repeated reader may read a process's `smaps_rollup`, and what it knew from earlier reads.
//!
//! `smaps_rollup` (PSS, USS, SwapPss) walks the target's page tables while holding its mmap lock
//! for each mapping: about 11 ms per resident GiB, seconds for a database of hundreds of GiB. A
//! thread of the target that maps or unmaps meanwhile waits for the walk of the current mapping.
//! `status` is O(1): the kernel keeps RSS and its anon/file/shmem split as counters. So every
//! repeated reader (`ps`, `watch`, `export`) takes RSS and its split from `status` on every
//! sample, and the rollup only within a **per-target budget** (default 5 ms a sample or scrape):
//!
//! - the cost of a rollup is estimated from the target's last measured read, or, before the first,
//!   from its resident size at [`NS_PER_RESIDENT_MIB`];
//! - a target whose estimate fits the budget is read every time;
//! - a larger one is read at a slower cadence: each turn (sample or scrape) adds the budget to its
//!   credit, and it is read when the credit covers the estimate, so its average cost stays within
//!   the budget. In between, its last PSS/USS are shown with their age ([`Provenance`]), and only
//!   while they are possible (not above the RSS of now); otherwise they are unknown.
//!
//! A one-shot `ps` starts with an empty [`RollupCache`], so a process whose estimate exceeds the
//! budget shows PSS/USS as unknown (over budget) unless `--rollup-budget` allows more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::region::stats::MemoryFigures;

/// The default per-target budget for reading `smaps_rollup` in one sample or scrape.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(5);

/// The estimated cost of reading `smaps_rollup`, nanoseconds per resident MiB, before a target's
/// own read was measured (about 11 ms per resident GiB measured here; see BENCHMARKS.md).
pub const NS_PER_RESIDENT_MIB: u64 = 11_000;

/// Where a figure was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `/proc/PID/status` (O(1) counters: RSS, its anon/file/shmem split, swap).
    Status,
    /// `/proc/PID/smaps_rollup` (a page-table walk: RSS, PSS, USS, swap, SwapPss).
    SmapsRollup,
}

impl Source {
    /// The file name, as shown in text output.
    pub fn file(self) -> &'static str {
        match self {
            Source::Status => "status",
            Source::SmapsRollup => "smaps_rollup",
        }
    }
}

/// The source of a figure and how old it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file it was read from.
    pub source: Source,
    /// Seconds since it was read (0 for a figure read in this sample).
    pub age_s: f64,
}

impl Provenance {
    /// A figure read just now from `source`.
    pub fn now(source: Source) -> Provenance {
        Provenance { source, age_s: 0.0 }
    }

    /// Read in an earlier sample (older than the current one).
    pub fn is_stale(&self) -> bool {
        self.age_s > 0.0
    }
}

/// The source and age of a row's or sample's figures: RSS and swap (with the split) from one file, PSS,
/// USS and SwapPss from another, possibly earlier, read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// RSS, swap and the split.
    pub rss: Provenance,
    /// PSS, USS and SwapPss (`None` when unknown).
    pub pss: Option<Provenance>,
}

/// The key of a target: its PID and start time, so a reused PID is another target.
pub type Key = (u32, u64);

/// What the budget allows for one target in this turn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Read the rollup.
    Read,
    /// Do not: the estimated cost is above the budget and the credit does not cover it yet.
    Skip {
        /// The estimated cost of one read.
        estimate: Duration,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    figures: MemoryFigures,
    swap_pss: Option<u64>,
    read_at: Option<Instant>,
    cost: Option<Duration>,
    credit: Duration,
    turn: u64,
}

/// Earlier rollups per target, with their measured cost and each target's budget credit. Shared
/// by the reading threads of one scan (a mutex around a map, held only to look up or store).
#[derive(Debug, Default)]
pub struct RollupCache {
    inner: Mutex<(u64, HashMap<Key, Entry>)>,
}

/// A rollup read earlier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Earlier {
    /// Its figures.
    pub figures: MemoryFigures,
    /// Its SwapPss.
    pub swap_pss: Option<u64>,
    /// How long ago it was read.
    pub age: Duration,
}

impl Earlier {
    /// Whether this earlier PSS and USS may stand beside an RSS of `rss` read now: a figure of
    /// another instant must never make a row impossible (PSS or USS above RSS).
    pub fn fits(&self, rss: u64) -> bool {
        self.figures.pss.is_some_and(|p| p <= rss) && self.figures.uss.is_some_and(|u| u <= rss)
    }
}

/// The estimated cost of a rollup of a target with `rss` resident bytes.
pub(crate) fn estimate_from_rss(rss: u64) -> Duration {
    Duration::from_nanos((rss / (1024 * 1024)).saturating_mul(NS_PER_RESIDENT_MIB))
}

impl RollupCache {
    /// An empty cache (a one-shot reader).
    pub fn new() -> RollupCache {
        RollupCache::default()
    }

    /// Starts a turn (a sample or a scrape): every target's credit grows by `budget` (up to its
    /// estimated cost, so it cannot be saved up), and targets not seen for 100 turns are forgotten.
    pub fn next_turn(&self, budget: Duration) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        g.0 += 1;
        let turn = g.0;
        g.1.retain(|_, e| turn - e.turn <= 100);
        for e in g.1.values_mut() {
            let cap = e.cost.unwrap_or(Duration::MAX);
            e.credit = (e.credit + budget).min(cap.max(budget));
        }
    }

    /// Whether target `key` (with `rss` resident bytes now) may be read within `budget` (`None`:
    /// no limit).
    pub fn decide(&self, key: Key, rss: u64, budget: Option<Duration>) -> Decision {
        let Some(budget) = budget else {
            return Decision::Read;
        };
        let Ok(mut g) = self.inner.lock() else {
            return Decision::Read;
        };
        let turn = g.0;
        let e = g.1.entry(key).or_insert(Entry {
            figures: MemoryFigures::UNKNOWN,
            swap_pss: None,
            read_at: None,
            cost: None,
            credit: budget,
            turn,
        });
        e.turn = turn;
        let estimate = e.cost.unwrap_or_else(|| estimate_from_rss(rss));
        if estimate <= budget || e.credit >= estimate {
            Decision::Read
        } else {
            Decision::Skip { estimate }
        }
    }

    /// Records a rollup read now that took `cost`.
    pub fn record(&self, key: Key, figures: MemoryFigures, swap_pss: Option<u64>, cost: Duration) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        let turn = g.0;
        let e = g.1.entry(key).or_insert(Entry {
            figures,
            swap_pss,
            read_at: None,
            cost: None,
            credit: Duration::ZERO,
            turn,
        });
        e.figures = figures;
        e.swap_pss = swap_pss;
        e.read_at = Some(Instant::now());
        e.cost = Some(cost);
        e.credit = e.credit.saturating_sub(cost);
        e.turn = turn;
    }

    /// The last rollup of `key`, if one was read.
    pub fn earlier(&self, key: Key) -> Option<Earlier> {
        let g = self.inner.lock().ok()?;
        let e = g.1.get(&key)?;
        Some(Earlier {
            figures: e.figures,
            swap_pss: e.swap_pss,
            age: e.read_at?.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_target_is_read_at_a_slower_cadence() {
        let c = RollupCache::new();
        let key = (42, 7);
        let budget = Duration::from_millis(5);
        let gib = 1u64 << 30;
        // 4 GiB resident: estimated 44 ms, far above 5 ms.
        c.next_turn(budget);
        assert!(matches!(
            c.decide(key, 4 * gib, Some(budget)),
            Decision::Skip { .. }
        ));
        assert_eq!(c.decide(key, 4 * gib, None), Decision::Read);
        // A small one is read every turn.
        assert_eq!(c.decide((1, 1), 1 << 20, Some(budget)), Decision::Read);
        // The credit grows by the budget each turn until it covers the estimate: every 9th turn.
        let mut reads = 0;
        for _ in 0..18 {
            c.next_turn(budget);
            if c.decide(key, 4 * gib, Some(budget)) == Decision::Read {
                reads += 1;
                c.record(key, MemoryFigures::ZERO, Some(0), Duration::from_millis(44));
            }
        }
        assert_eq!(reads, 2, "two reads of 44 ms in 18 turns of 5 ms");
        let e = c.earlier(key).unwrap();
        assert_eq!(e.figures, MemoryFigures::ZERO);
        // An earlier figure above the RSS of now is not shown.
        let mut big = MemoryFigures::ZERO;
        big.pss = Some(10 << 20);
        big.uss = Some(9 << 20);
        c.record(key, big, None, Duration::from_millis(44));
        let e = c.earlier(key).unwrap();
        assert!(e.fits(10 << 20) && !e.fits(8 << 20));
        // A PID reused by another process (another start time) knows nothing yet.
        assert!(c.earlier((42, 8)).is_none());
    }
}
