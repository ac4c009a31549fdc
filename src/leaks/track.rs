//! The live-allocation table of exact mode: allocator entries and returns paired per thread,
//! frees matched by address, each sampled allocation attributed to its unwound stack (a site).

use std::collections::HashMap;

use super::objects::{Frame, Objects};
use super::sampler;
use crate::platform::RawEvent;

/// A call site: one unwound stack, symbolized once.
#[derive(Debug, Clone)]
pub struct Site {
    /// Frames, innermost first, starting at the allocator's caller.
    pub frames: Vec<Frame>,
    /// The unwinder stopped before the stack's end.
    pub truncated: bool,
    /// Estimated live bytes now.
    pub live_bytes: f64,
    /// Live sampled allocations now.
    pub live_count: u64,
    /// Estimated bytes allocated during the watch.
    pub alloc_bytes: f64,
    /// Sampled allocations made during the watch.
    pub alloc_count: u64,
    /// `(seconds, estimated live bytes)` at each tick.
    pub series: Vec<(f64, f64)>,
}

/// Sites by id, each unique stack (its return addresses) symbolized once.
#[derive(Default)]
pub(crate) struct SiteTable {
    by_stack: HashMap<Vec<u64>, u32>,
    /// Sites by id.
    pub sites: Vec<Site>,
    /// The time of the latest tick, when there was one.
    last_tick: Option<f64>,
}

impl SiteTable {
    /// The id of the site of stack `key` (innermost first), made on first sight.
    pub(crate) fn intern(&mut self, objs: &Objects, key: Vec<u64>, truncated: bool) -> u32 {
        if let Some(id) = self.by_stack.get(&key) {
            return *id;
        }
        let id = self.sites.len() as u32;
        self.sites.push(Site {
            frames: key.iter().map(|a| objs.symbolize(*a)).collect(),
            truncated,
            live_bytes: 0.0,
            live_count: 0,
            alloc_bytes: 0.0,
            alloc_count: 0,
            // A site first seen since the latest tick had nothing live at that tick.
            series: self.last_tick.map(|t| (t, 0.0)).into_iter().collect(),
        });
        self.by_stack.insert(key, id);
        id
    }

    /// The site of the stack copied at `regs` (`ip`, `sp`, `bp`; `stack` holds the bytes from
    /// `sp` upwards), its first `skip` frames left out; `None` when nothing could be unwound.
    pub(crate) fn site_of(
        &mut self,
        objs: &mut Objects,
        [ip, sp, bp]: [u64; 3],
        stack: &[u8],
        skip: usize,
    ) -> Option<u32> {
        if stack.is_empty() {
            return None;
        }
        let u = objs.unwind(ip, sp, bp, stack);
        let key: Vec<u64> = u.addrs.get(skip..).unwrap_or_default().to_vec();
        if key.is_empty() {
            return None;
        }
        Some(self.intern(objs, key, u.truncated))
    }

    /// Records each site's live bytes at `t` seconds.
    pub(crate) fn tick(&mut self, t: f64) {
        self.last_tick = Some(t);
        for s in &mut self.sites {
            s.series.push((t, s.live_bytes));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Live {
    size: u64,
    /// The site, when the allocation was sampled and its stack could be unwound.
    site: Option<u32>,
    weight: f64,
    time_ns: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    func: u32,
    size: u64,
    old_ptr: u64,
    site: Option<u32>,
    sampled: bool,
    time_ns: u64,
}

/// Sentinel site for a sampled allocation whose stack could not be read.
const UNKNOWN_STACK: u32 = u32::MAX;

/// The table.
pub struct Tracker {
    sample_bytes: u64,
    pending: HashMap<u32, Vec<Pending>>,
    live: HashMap<u64, Live>,
    table: SiteTable,
    /// Allocations seen (every one, sampled or not).
    pub allocs: u64,
    /// Frees of an allocation made during the watch.
    pub frees: u64,
    /// Sampled allocations whose stack could not be read.
    pub unknown_stacks: u64,
    /// Returns without a matching entry (calls in flight at attach, or lost entries).
    pub unmatched_returns: u64,
    /// The latest event time seen (kernel monotonic nanoseconds).
    pub last_ns: u64,
}

/// One live allocation as the report sees it.
#[derive(Debug, Clone, Copy)]
pub struct LiveAlloc {
    /// Requested bytes.
    pub size: u64,
    /// Site, when known.
    pub site: Option<u32>,
    /// Whether the sampler picked it (it carries weight).
    pub sampled: bool,
    /// Its weight (estimated bytes it stands for), 0 when not sampled.
    pub weight: f64,
    /// When it was made.
    pub time_ns: u64,
}

impl Tracker {
    /// A table for sampling rate `sample_bytes` (0 = every allocation).
    pub fn new(sample_bytes: u64) -> Tracker {
        Tracker {
            sample_bytes,
            pending: HashMap::new(),
            live: HashMap::new(),
            table: SiteTable::default(),
            allocs: 0,
            frees: 0,
            unknown_stacks: 0,
            unmatched_returns: 0,
            last_ns: 0,
        }
    }

    fn site_of(&mut self, objs: &mut Objects, regs: [u64; 3], stack: &[u8]) -> Option<u32> {
        // The first address is the allocator's own entry: the site starts at its caller.
        let site = self.table.site_of(objs, regs, stack, 1);
        if site.is_none() {
            self.unknown_stacks += 1;
        }
        Some(site.unwrap_or(UNKNOWN_STACK))
    }

    /// Sites by id.
    pub fn sites(&self) -> &[Site] {
        &self.table.sites
    }

    fn release(&mut self, addr: u64) {
        if let Some(l) = self.live.remove(&addr) {
            self.frees += 1;
            if let Some(s) = l.site.and_then(|i| self.table.sites.get_mut(i as usize)) {
                s.live_bytes -= l.weight;
                s.live_count -= 1;
            }
        }
    }

    /// Applies one allocator event (the others are ignored).
    pub fn apply(&mut self, objs: &mut Objects, ev: RawEvent) {
        self.last_ns = self.last_ns.max(ev.time_ns());
        match ev {
            RawEvent::Enter {
                tid,
                time_ns,
                func,
                size,
                old_ptr,
                ip,
                sp,
                bp,
                sampled,
                stack,
            } => {
                let site = if sampled {
                    self.site_of(objs, [ip, sp, bp], &stack)
                } else {
                    None
                };
                self.pending.entry(tid).or_default().push(Pending {
                    func,
                    size,
                    old_ptr,
                    site,
                    sampled,
                    time_ns,
                });
            }
            RawEvent::Return { tid, addr, .. } => {
                let Some(p) = self.pending.get_mut(&tid).and_then(Vec::pop) else {
                    self.unmatched_returns += 1;
                    return;
                };
                // realloc: a new block (or size 0) ends the old one.
                if p.func == 3 && p.old_ptr != 0 && (addr != 0 || p.size == 0) {
                    self.release(p.old_ptr);
                }
                if addr == 0 {
                    return;
                }
                // A nested call (realloc(NULL) calling malloc) already recorded this block.
                if self.live.contains_key(&addr) {
                    return;
                }
                self.allocs += 1;
                let weight = if p.sampled {
                    sampler::weight(p.size, self.sample_bytes)
                } else {
                    0.0
                };
                let site = p.site.filter(|s| *s != UNKNOWN_STACK);
                if let Some(s) = site.and_then(|i| self.table.sites.get_mut(i as usize)) {
                    s.live_bytes += weight;
                    s.live_count += 1;
                    s.alloc_bytes += weight;
                    s.alloc_count += 1;
                }
                self.live.insert(
                    addr,
                    Live {
                        size: p.size,
                        site: if p.site == Some(UNKNOWN_STACK) {
                            None
                        } else {
                            site
                        },
                        weight,
                        time_ns: p.time_ns,
                    },
                );
            }
            RawEvent::Free { addr, .. } if addr != 0 => self.release(addr),
            // The system call events belong to growth mode's model.
            _ => {}
        }
    }

    /// Records each site's live bytes at `t` seconds.
    pub fn tick(&mut self, t: f64) {
        self.table.tick(t);
    }

    /// Every live allocation made during the watch.
    pub fn live(&self) -> impl Iterator<Item = LiveAlloc> + '_ {
        self.live.values().map(|l| LiveAlloc {
            size: l.size,
            site: l.site,
            sampled: l.weight > 0.0,
            weight: l.weight,
            time_ns: l.time_ns,
        })
    }
}
