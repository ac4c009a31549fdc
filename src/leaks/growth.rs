//! Growth mode's model of the target's address space: every range that the calls it watches
//! (`brk`, `mmap`, `mremap`, `munmap`, `mprotect`) made writable during the watch, each owned by
//! the unwound stack of the call that made it (a site), and the `PROT_NONE` reservations that a
//! later `mprotect` may turn writable (glibc grows its non-main arenas that way).
//!
//! A site's outstanding bytes are the bytes of its ranges still mapped and writable at the end.
//! The model is pure: it is fed decoded events ([`RawEvent::SysEnter`] and
//! [`RawEvent::SysExit`]), paired per thread (a thread is in one system call at a time).

use std::collections::{BTreeMap, HashMap};

use super::objects::Objects;
use super::track::{LiveAlloc, Site, SiteTable};
use crate::platform::RawEvent;

/// x86-64 system call numbers of the calls watched.
pub(crate) mod nr {
    pub const MMAP: u32 = 9;
    pub const MPROTECT: u32 = 10;
    pub const MUNMAP: u32 = 11;
    pub const BRK: u32 = 12;
    pub const MREMAP: u32 = 25;
    pub const CLONE: u32 = 56;
    pub const FORK: u32 = 57;
    pub const VFORK: u32 = 58;
    pub const CLONE3: u32 = 435;
}

/// The memory calls growth mode watches, as the report names them.
pub const WATCHED_CALLS: [&str; 5] = ["brk", "mmap", "mprotect", "mremap", "munmap"];

const PROT_WRITE: u64 = 0x2;
const MAP_SHARED: u64 = 0x01;
const MAP_ANONYMOUS: u64 = 0x20;
const PAGE: u64 = 4096;

fn down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

fn up(a: u64) -> u64 {
    a.saturating_add(PAGE - 1) & !(PAGE - 1)
}

/// A writable range grown during the watch.
#[derive(Debug, Clone, Copy)]
struct Seg {
    end: u64,
    /// The site, `None` when the call's stack could not be read or unwound.
    site: Option<u32>,
    time_ns: u64,
}

#[derive(Debug, Clone)]
struct Call {
    nr: u32,
    args: [u64; 5],
    site: Option<u32>,
    time_ns: u64,
}

/// The model.
pub struct Growth {
    counted: BTreeMap<u64, Seg>,
    /// `PROT_NONE` private anonymous ranges, start → end.
    reserved: BTreeMap<u64, u64>,
    /// The program break, page-aligned, when known.
    brk: Option<u64>,
    pending: HashMap<u32, Call>,
    table: SiteTable,
    /// Calls that grew memory during the watch.
    pub grows: u64,
    /// Calls that gave memory back during the watch.
    pub shrinks: u64,
    /// Growth calls whose stack could not be read or unwound.
    pub unknown_stacks: u64,
    /// New processes the target made (fork, vfork, clone without `CLONE_THREAD`): not followed.
    pub children: Vec<u32>,
    /// The target executed a new program.
    pub exec: bool,
    /// The latest event time seen (kernel monotonic nanoseconds).
    pub last_ns: u64,
}

impl Default for Growth {
    fn default() -> Self {
        Self::new()
    }
}

impl Growth {
    /// An empty model (no reservation known, the break unknown).
    pub fn new() -> Growth {
        Growth {
            counted: BTreeMap::new(),
            reserved: BTreeMap::new(),
            brk: None,
            pending: HashMap::new(),
            table: SiteTable::default(),
            grows: 0,
            shrinks: 0,
            unknown_stacks: 0,
            children: Vec::new(),
            exec: false,
            last_ns: 0,
        }
    }

    /// Seeds the model from the target's `/proc/PID/maps` text read at the start: its
    /// `PROT_NONE` private anonymous reservations, and the program break (the end of `[heap]`,
    /// else `start_brk`, the break of a heap not grown yet).
    pub fn seed(&mut self, maps: &str, start_brk: Option<u64>) {
        self.brk = start_brk.map(up);
        for line in maps.lines() {
            let mut f = line.split_whitespace();
            let (Some(range), Some(perms)) = (f.next(), f.next()) else {
                continue;
            };
            let path: Vec<&str> = f.skip(3).collect();
            let Some((s, e)) = range.split_once('-') else {
                continue;
            };
            let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
                continue;
            };
            if path.first() == Some(&"[heap]") {
                self.brk = Some(e);
            } else if perms == "---p" && path.is_empty() {
                self.reserved.insert(s, e);
            }
        }
    }

    /// Bytes of writable ranges grown during the watch and still mapped.
    pub fn outstanding(&self) -> u64 {
        self.counted.iter().map(|(s, g)| g.end - s).sum()
    }

    /// Every outstanding range, as the report counts allocations.
    pub fn live(&self) -> impl Iterator<Item = LiveAlloc> + '_ {
        self.counted.iter().map(|(s, g)| LiveAlloc {
            size: g.end - s,
            site: g.site,
            sampled: true,
            weight: (g.end - s) as f64,
            time_ns: g.time_ns,
        })
    }

    /// Records each site's outstanding bytes at `t` seconds.
    pub fn tick(&mut self, t: f64) {
        self.table.tick(t);
    }

    /// Sites by id.
    pub fn sites(&self) -> &[Site] {
        &self.table.sites
    }

    fn site_mut(&mut self, site: Option<u32>) -> Option<&mut Site> {
        site.and_then(|i| self.table.sites.get_mut(i as usize))
    }

    /// Removes `[start, end)` from the grown ranges; returns the pieces removed.
    fn cut(&mut self, start: u64, end: u64) -> Vec<(u64, Seg)> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        // The range that starts before `start` and may reach into it, then those inside.
        let first = self
            .counted
            .range(..start)
            .next_back()
            .filter(|(_, g)| g.end > start)
            .map(|(s, _)| *s);
        let keys: Vec<u64> = first
            .into_iter()
            .chain(self.counted.range(start..end).map(|(s, _)| *s))
            .collect();
        for s in keys {
            let Some(g) = self.counted.remove(&s) else {
                continue;
            };
            if s < start {
                self.counted.insert(s, Seg { end: start, ..g });
            }
            if g.end > end {
                self.counted.insert(end, g);
            }
            let (a, b) = (s.max(start), g.end.min(end));
            if let Some(site) = self.site_mut(g.site) {
                site.live_bytes -= (b - a) as f64;
            }
            out.push((a, Seg { end: b, ..g }));
        }
        out
    }

    /// Removes `[start, end)` from the reservations; returns the pieces removed.
    fn unreserve(&mut self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        let first = self
            .reserved
            .range(..start)
            .next_back()
            .filter(|(_, e)| **e > start)
            .map(|(s, _)| *s);
        let keys: Vec<u64> = first
            .into_iter()
            .chain(self.reserved.range(start..end).map(|(s, _)| *s))
            .collect();
        for s in keys {
            let Some(e) = self.reserved.remove(&s) else {
                continue;
            };
            if s < start {
                self.reserved.insert(s, start);
            }
            if e > end {
                self.reserved.insert(end, e);
            }
            out.push((s.max(start), e.min(end)));
        }
        out
    }

    /// Puts a grown range in place (what was there is replaced); `fresh` counts it as growth
    /// of its site (a range moved by `mremap` is not).
    fn put(&mut self, start: u64, end: u64, site: Option<u32>, time_ns: u64, fresh: bool) {
        if start >= end {
            return;
        }
        self.cut(start, end);
        self.counted.insert(start, Seg { end, site, time_ns });
        if let Some(s) = self.site_mut(site) {
            s.live_bytes += (end - start) as f64;
            if fresh {
                s.alloc_bytes += (end - start) as f64;
                s.alloc_count += 1;
            }
        }
    }

    /// Applies one event; other kinds than the system call ones are ignored.
    pub fn apply(&mut self, objs: &mut Objects, ev: RawEvent) {
        self.last_ns = self.last_ns.max(ev.time_ns());
        match ev {
            RawEvent::SysEnter {
                tid,
                time_ns,
                nr,
                args,
                ip,
                sp,
                bp,
                stack,
                stack_unreadable,
            } => {
                let wants_stack = matches!(nr, nr::MMAP | nr::MPROTECT | nr::MREMAP)
                    || (nr == nr::BRK && args[0] != 0);
                let site = if wants_stack && (!stack.is_empty() || stack_unreadable) {
                    let site = self.table.site_of(objs, [ip, sp, bp], &stack, 0);
                    self.unknown_stacks += u64::from(site.is_none());
                    site
                } else {
                    None
                };
                self.pending.insert(
                    tid,
                    Call {
                        nr,
                        args,
                        site,
                        time_ns,
                    },
                );
            }
            RawEvent::SysExit { tid, ret, .. } => {
                if let Some(c) = self.pending.remove(&tid) {
                    self.complete(c, ret);
                }
            }
            RawEvent::Exec { .. } => self.exec = true,
            _ => {}
        }
    }

    fn complete(&mut self, c: Call, ret: i64) {
        // -4095..-1 is an errno.
        let failed = (-4095..0).contains(&ret);
        if failed {
            return;
        }
        let a = c.args;
        match c.nr {
            nr::MMAP => {
                let (start, end) = (ret as u64, (ret as u64).saturating_add(up(a[1])));
                let (prot, flags) = (a[2], a[3]);
                self.unreserve(start, end);
                let removed = self.cut(start, end);
                if !removed.is_empty() {
                    self.shrinks += 1;
                }
                let private = flags & MAP_SHARED == 0;
                if prot & PROT_WRITE != 0 && (private || flags & MAP_ANONYMOUS != 0) {
                    self.grows += 1;
                    self.put(start, end, c.site, c.time_ns, true);
                } else if prot == 0 && private && flags & MAP_ANONYMOUS != 0 {
                    self.reserved.insert(start, end);
                }
            }
            nr::MUNMAP => {
                let (start, end) = (down(a[0]), up(a[0].saturating_add(a[1])));
                self.unreserve(start, end);
                if !self.cut(start, end).is_empty() {
                    self.shrinks += 1;
                }
            }
            nr::MPROTECT => {
                let (start, end) = (down(a[0]), up(a[0].saturating_add(a[1])));
                let prot = a[2];
                if prot & PROT_WRITE != 0 {
                    let pieces = self.unreserve(start, end);
                    if !pieces.is_empty() {
                        self.grows += 1;
                    }
                    for (s, e) in pieces {
                        self.put(s, e, c.site, c.time_ns, true);
                    }
                } else {
                    let removed = self.cut(start, end);
                    if !removed.is_empty() {
                        self.shrinks += 1;
                    }
                    if prot == 0 {
                        for (s, g) in removed {
                            self.reserved.insert(s, g.end);
                        }
                    }
                }
            }
            nr::BRK => {
                let new = up(ret as u64);
                if let Some(old) = self.brk {
                    if new > old {
                        self.grows += 1;
                        self.put(old, new, c.site, c.time_ns, true);
                    } else if new < old {
                        self.shrinks += 1;
                        self.cut(new, old);
                    }
                }
                self.brk = Some(new);
            }
            nr::MREMAP => {
                let (old, old_len, new_len) = (down(a[0]), up(a[1]), up(a[2]));
                let new = ret as u64;
                self.unreserve(old, old + old_len);
                let moved = self.cut(old, old + old_len);
                for (s, g) in moved {
                    let (ns, ne) = (s - old + new, (g.end - old + new).min(new + new_len));
                    self.put(ns, ne, g.site, g.time_ns, false);
                }
                if new_len > old_len {
                    self.grows += 1;
                    self.put(new + old_len, new + new_len, c.site, c.time_ns, true);
                } else if new_len < old_len {
                    self.shrinks += 1;
                }
            }
            nr::CLONE | nr::FORK | nr::VFORK | nr::CLONE3 if ret > 0 => {
                self.children.push(ret as u32);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(g: &mut Growth, nr: u32, args: [u64; 5], site: Option<u32>, ret: i64) {
        g.complete(
            Call {
                nr,
                args,
                site,
                time_ns: 1,
            },
            ret,
        );
    }

    fn with_sites(n: usize) -> Growth {
        let mut g = Growth::new();
        for _ in 0..n {
            g.table.sites.push(Site {
                frames: Vec::new(),
                truncated: false,
                live_bytes: 0.0,
                live_count: 0,
                alloc_bytes: 0.0,
                alloc_count: 0,
                series: Vec::new(),
            });
        }
        g
    }

    #[test]
    fn mmap_then_partial_munmap_keeps_the_rest_on_its_site() {
        let mut g = with_sites(1);
        call(
            &mut g,
            nr::MMAP,
            [0, 10 * PAGE, 3, 0x22, u64::MAX],
            Some(0),
            0x10000,
        );
        assert_eq!(g.outstanding(), 10 * PAGE);
        // The middle goes: two pieces stay.
        call(
            &mut g,
            nr::MUNMAP,
            [0x10000 + 2 * PAGE, 3 * PAGE, 0, 0, 0],
            None,
            0,
        );
        assert_eq!(g.outstanding(), 7 * PAGE);
        assert_eq!(g.table.sites[0].live_bytes, (7 * PAGE) as f64);
        assert_eq!(g.table.sites[0].alloc_bytes, (10 * PAGE) as f64);
        assert_eq!(g.live().count(), 2);
        // A failed call changes nothing.
        call(&mut g, nr::MUNMAP, [0x10000, 10 * PAGE, 0, 0, 0], None, -22);
        assert_eq!(g.outstanding(), 7 * PAGE);
    }

    #[test]
    fn reservations_count_once_made_writable_on_the_mprotect_site() {
        let mut g = with_sites(2);
        g.seed(
            "7f0000000000-7f0004000000 ---p 00000000 00:00 0 \n\
             55550000-55551000 rw-p 00000000 00:00 0          [heap]\n",
            None,
        );
        assert_eq!(g.brk, Some(0x55551000));
        // An arena's heap grows by 2 pages, then 1 more.
        call(
            &mut g,
            nr::MPROTECT,
            [0x7f0000000000, 2 * PAGE, 3, 0, 0],
            Some(1),
            0,
        );
        call(
            &mut g,
            nr::MPROTECT,
            [0x7f0000000000, 3 * PAGE, 3, 0, 0],
            Some(1),
            0,
        );
        assert_eq!(g.table.sites[1].live_bytes, (3 * PAGE) as f64);
        // A writable mprotect outside any reservation is not growth.
        call(&mut g, nr::MPROTECT, [0x1000, PAGE, 3, 0, 0], Some(0), 0);
        assert_eq!(g.outstanding(), 3 * PAGE);
        // Made PROT_NONE again: gone, and a reservation again.
        call(
            &mut g,
            nr::MPROTECT,
            [0x7f0000000000 + 2 * PAGE, PAGE, 0, 0, 0],
            None,
            0,
        );
        assert_eq!(g.outstanding(), 2 * PAGE);
        call(
            &mut g,
            nr::MPROTECT,
            [0x7f0000000000 + 2 * PAGE, PAGE, 3, 0, 0],
            Some(0),
            0,
        );
        assert_eq!(g.table.sites[0].live_bytes, PAGE as f64);
        // The break grows from the end of [heap], then shrinks.
        call(
            &mut g,
            nr::BRK,
            [0x55555000, 0, 0, 0, 0],
            Some(0),
            0x55555000,
        );
        assert_eq!(g.table.sites[0].live_bytes, (5 * PAGE) as f64);
        call(&mut g, nr::BRK, [0x55553000, 0, 0, 0, 0], None, 0x55553000);
        assert_eq!(g.table.sites[0].live_bytes, (3 * PAGE) as f64);
    }

    #[test]
    fn mremap_moves_ranges_and_counts_only_the_extra_on_its_site() {
        let mut g = with_sites(2);
        call(
            &mut g,
            nr::MMAP,
            [0, 4 * PAGE, 3, 0x22, u64::MAX],
            Some(0),
            0x10000,
        );
        call(
            &mut g,
            nr::MREMAP,
            [0x10000, 4 * PAGE, 6 * PAGE, 1, 0],
            Some(1),
            0x90000,
        );
        assert_eq!(g.table.sites[0].live_bytes, (4 * PAGE) as f64);
        assert_eq!(g.table.sites[1].live_bytes, (2 * PAGE) as f64);
        assert_eq!(g.outstanding(), 6 * PAGE);
        // Shrunk in place: the tail goes.
        call(
            &mut g,
            nr::MREMAP,
            [0x90000, 6 * PAGE, PAGE, 0, 0],
            None,
            0x90000,
        );
        assert_eq!(g.outstanding(), PAGE);
        // Read-only or shared file mappings are not growth; children are recorded.
        call(&mut g, nr::MMAP, [0, PAGE, 1, 0x02, 3], Some(0), 0x200000);
        call(&mut g, nr::MMAP, [0, PAGE, 3, 0x01, 3], Some(0), 0x300000);
        assert_eq!(g.outstanding(), PAGE);
        call(&mut g, nr::FORK, [0; 5], None, 4242);
        assert_eq!(g.children, vec![4242]);
    }
}
