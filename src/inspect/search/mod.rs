//! Searching a live process's memory for byte patterns, in three stages.
//!
//! 1. **Plan** (`plan`): the regions to read come from the memory map, filtered by type,
//!    permissions and address range ([`RegionFilter`]); large regions are cut into units of
//!    work (segments) so that they are scanned in parallel.
//! 2. **Scan** (`Scan::scan`, on every core): each unit is read in chunks by
//!    [`MemReader::walk`], which repeats the last `longest pattern - 1` bytes of a chunk at the
//!    start of the next, and searched by the compiled patterns (`matcher`). A match is only
//!    accepted when it ends in the new bytes and starts inside its own unit, so a match that
//!    straddles a chunk or unit boundary is found exactly once. Matches never span two
//!    regions or an unreadable page.
//! 3. **Emit** (`emit`, on the caller's thread): units are drained in address order through
//!    bounded queues (`order`), so matches reach the caller sorted, as soon as every match
//!    below them is known, with memory bounded whatever their number.
//!
//! Memory is read through the analyzer's process handle ([`MemoryAnalyzer::memory`]), so a
//! `--proc-root` other than `/proc` is honoured.

mod filter;
mod matcher;
mod order;
pub mod pattern;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Mutex;

use serde::Serialize;

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::platform::{
    MemReader, ReadMode, RegionReader, Skip, Step, Walk, WalkSpan, DEFAULT_CHUNK,
};
use crate::region::{MemoryRegion, Perms, RegionType};

pub use filter::{PermFilter, RegionFilter};
use matcher::Matcher;
use order::Queues;
pub use pattern::{Pattern, ValueType};

/// Unit size for parallel scanning of large regions.
const SEGMENT: u64 = 32 << 20;
/// Bytes of context kept with each match (more for longer patterns, up to [`MAX_CONTEXT`]).
const CONTEXT: usize = 16;
/// The most context kept with a match.
const MAX_CONTEXT: usize = 64;
/// Bytes before and after a match given by default ([`SearchRequest::around`]).
pub const DEFAULT_AROUND: usize = 16;
/// The most bytes before and after a match a request may ask for.
pub const MAX_AROUND: usize = 4096;
/// How many found matches a scanning thread holds before passing the settled ones on.
const PENDING: usize = 1024;

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The patterns, searched in one pass.
    pub patterns: Vec<Pattern>,
    /// Which regions.
    pub filter: RegionFilter,
    /// Stop after this many matches.
    pub max: Option<usize>,
    /// How pages the process has not mapped are read ([`ReadMode`]; the default never grows
    /// or stalls the target).
    pub mode: ReadMode,
    /// Bytes per read.
    pub chunk: usize,
    /// Bytes kept before and after each match ([`Match::context_before`],
    /// [`Match::context_after`]), clipped to the match's region; at most [`MAX_AROUND`].
    pub around: usize,
}

impl SearchRequest {
    /// A request for `patterns` over every readable region.
    pub fn new(patterns: Vec<Pattern>) -> SearchRequest {
        SearchRequest {
            patterns,
            filter: RegionFilter::default(),
            max: None,
            mode: ReadMode::Safe,
            chunk: DEFAULT_CHUNK,
            around: DEFAULT_AROUND,
        }
    }
}

/// One match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Address of the first byte.
    pub address: u64,
    /// The same in hex.
    pub address_hex: String,
    /// The pattern's label (`text:secret`).
    pub pattern: String,
    /// Index of the pattern in the request.
    pub pattern_index: usize,
    /// The region's first address.
    pub region_start: u64,
    /// One past the region's last address.
    pub region_end: u64,
    /// The region's type.
    pub region_type: RegionType,
    /// The region's path or pseudo-name (`[heap]`), if any.
    pub region_name: Option<String>,
    /// Offset of the match from the region's start.
    pub offset: u64,
    /// Offset in the mapped file, for a file-backed region.
    pub file_offset: Option<u64>,
    /// The matched bytes and a few after them, in hex.
    pub context: String,
    /// Up to [`SearchRequest::around`] bytes just before the match, in hex (fewer at the
    /// region's start or after a range that could not be read).
    pub context_before: String,
    /// Up to [`SearchRequest::around`] bytes just after the match, in hex (fewer at the
    /// region's end or before a range that could not be read).
    pub context_after: String,
}

impl Match {
    /// The context bytes.
    pub fn context_bytes(&self) -> Vec<u8> {
        unhex(&self.context)
    }

    /// The bytes before the match ([`Match::context_before`]).
    pub fn before_bytes(&self) -> Vec<u8> {
        unhex(&self.context_before)
    }

    /// The bytes after the match ([`Match::context_after`]).
    pub fn after_bytes(&self) -> Vec<u8> {
        unhex(&self.context_after)
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// What a search found and how much it read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchReport {
    /// Matches in address order.
    pub matches: Vec<Match>,
    /// Regions scanned (at least partly).
    pub regions_scanned: usize,
    /// Bytes planned for the scan.
    pub bytes_total: u64,
    /// Bytes read and searched.
    pub bytes_scanned: u64,
    /// Unreadable ranges met (skipped).
    pub unreadable_ranges: u64,
    /// Bytes in them.
    pub unreadable_bytes: u64,
    /// Bytes skipped because they were not resident (with [`ReadMode::ResidentOnly`]).
    pub not_resident_bytes: u64,
    /// Bytes of private pages in swap, not read (reading would swap them in).
    pub swapped_bytes: u64,
    /// Bytes of file pages not in the page cache, not read (reading would read the disk).
    pub not_cached_bytes: u64,
    /// Bytes not mapped in the process whose backing object could not be opened, not read.
    pub no_backing_bytes: u64,
    /// Regions skipped because they are not readable (`---p` guards, `--xp` `[vsyscall]`).
    pub regions_not_readable: usize,
    /// The search stopped at `max` matches.
    pub stopped_at_max: bool,
    /// The process exited during the scan: the report covers what was scanned before.
    pub process_exited: bool,
}

/// Searches the memory of `analyzer`'s process, collecting every match (see [`search_with`]
/// to stream them instead, with bounded memory).
///
/// # Errors
/// As [`search_with`].
pub fn search(
    analyzer: &MemoryAnalyzer,
    req: &SearchRequest,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SearchReport> {
    let mut matches = Vec::new();
    let mut report = search_with(analyzer, req, progress, &mut |m| {
        matches.push(m);
        Ok(true)
    })?;
    report.matches = matches;
    Ok(report)
}

/// Searches the memory of `analyzer`'s process and passes every match to `sink`, in address
/// order, as soon as every match below it is known; `sink` returns false to stop. Memory stays
/// bounded whatever the number of matches. `progress` is called with the number of bytes just
/// handled (read or skipped) and the total planned, from several threads. The returned report
/// has no matches (they went to `sink`).
///
/// # Errors
/// No pattern, a range that covers no mapping ([`Error::Unmapped`]), permission errors, an
/// error from `sink`. A process that exits mid-scan is not an error: see
/// [`SearchReport::process_exited`].
pub fn search_with(
    analyzer: &MemoryAnalyzer,
    req: &SearchRequest,
    progress: &(dyn Fn(u64, u64) + Sync),
    sink: &mut dyn FnMut(Match) -> Result<bool>,
) -> Result<SearchReport> {
    let matcher = Matcher::new(req.patterns.clone())?;
    let regions = analyzer.list()?;
    let Plan { units, mut report } = plan(analyzer.pid(), &regions, req, matcher.max_len)?;
    let reader = analyzer.memory();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(units.len().max(1));
    let scan = Scan::new(
        &units,
        &regions,
        &matcher,
        &reader,
        req,
        report.bytes_total,
        progress,
        threads,
    );

    let emitted = std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| scan.scan());
        }
        let emitted = emit(&scan, &regions, req.max, sink);
        scan.queues.close();
        emitted
    });

    report.stopped_at_max = emitted?;
    scan.finish(&mut report)?;
    Ok(report)
}

/// A unit of work: part of one region, scanned by one thread.
struct Unit {
    region: usize,
    start: u64,
    /// Matches must start before this.
    limit: u64,
    /// Read up to here (limit + longest pattern - 1, within the region).
    end: u64,
}

/// What the plan decided: the units, in address order, and the report's planned figures.
struct Plan {
    units: Vec<Unit>,
    report: SearchReport,
}

/// Plans a search over `regions`: the parts the filter keeps, readable ones only, cut into
/// units of [`SEGMENT`] bytes that read `max_len - 1` bytes on into the next one.
///
/// # Errors
/// [`Error::Unmapped`] when the request's range covers no region at all.
fn plan(pid: u32, regions: &[MemoryRegion], req: &SearchRequest, max_len: usize) -> Result<Plan> {
    if let Some((lo, hi)) = req.filter.range {
        if !regions
            .iter()
            .any(|r| (r.base_address as u64) < hi && r.end_address() as u64 > lo)
        {
            return Err(Error::Unmapped {
                pid,
                start: lo,
                end: hi,
            });
        }
    }
    let mut report = SearchReport::default();
    let mut units = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let Some((s, e)) = req.filter.clip(r) else {
            continue;
        };
        if !r.perms.contains(Perms::READ) {
            report.regions_not_readable += 1;
            continue;
        }
        report.regions_scanned += 1;
        report.bytes_total += e - s;
        let mut seg = s;
        while seg < e {
            let limit = (seg + SEGMENT).min(e);
            units.push(Unit {
                region: i,
                start: seg,
                limit,
                end: (limit + max_len as u64 - 1).min(e),
            });
            seg = limit;
        }
    }
    Ok(Plan { units, report })
}

/// A match as the scanning threads pass it on: address, pattern, context bytes, and the bytes
/// around the match that the scanned data held.
struct Found {
    addr: u64,
    pattern: usize,
    context: Vec<u8>,
    before: Vec<u8>,
    after: Vec<u8>,
}

/// What the scanning threads count, shared between them.
#[derive(Default)]
struct Tally {
    scanned: AtomicU64,
    unreadable: AtomicU64,
    unreadable_bytes: AtomicU64,
    not_resident: AtomicU64,
    swapped: AtomicU64,
    not_cached: AtomicU64,
    no_backing: AtomicU64,
    exited: AtomicBool,
}

/// The scanning stage: the state the scanning threads share with each other and the emitter.
struct Scan<'a> {
    units: &'a [Unit],
    regions: &'a [MemoryRegion],
    matcher: &'a Matcher,
    reader: &'a MemReader,
    walk: Walk,
    /// Bytes of context per match.
    ctx_len: usize,
    /// Bytes kept before and after each match.
    around: usize,
    /// Matches found later in a unit can start up to this far below earlier ones (anchor
    /// offsets, the automaton's overlapping order): pending matches further below are final.
    settle: u64,
    total: u64,
    progress: &'a (dyn Fn(u64, u64) + Sync),
    /// The next unit to hand out.
    next: AtomicUsize,
    /// Stop scanning (the emitter stopped, the process exited, a read failed).
    stop: AtomicBool,
    tally: Tally,
    /// The first read error other than the process exiting.
    failure: Mutex<Option<Error>>,
    queues: Queues<Found>,
}

impl<'a> Scan<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        units: &'a [Unit],
        regions: &'a [MemoryRegion],
        matcher: &'a Matcher,
        reader: &'a MemReader,
        req: &SearchRequest,
        total: u64,
        progress: &'a (dyn Fn(u64, u64) + Sync),
        threads: usize,
    ) -> Scan<'a> {
        Scan {
            units,
            regions,
            matcher,
            reader,
            walk: Walk {
                chunk: req.chunk.max(matcher.max_len),
                keep: matcher.max_len - 1,
                mode: req.mode,
            },
            ctx_len: CONTEXT.max(matcher.max_len).min(MAX_CONTEXT),
            around: req.around.min(MAX_AROUND),
            settle: 2 * matcher.max_len as u64,
            total,
            progress,
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            tally: Tally::default(),
            failure: Mutex::new(None),
            queues: Queues::new(units.len(), 2 * threads + 2),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// One scanning thread: takes units in address order until none is left or the emitter
    /// has stopped.
    fn scan(&self) {
        let mut buf = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.units.len() {
                break;
            }
            let Some(tx) = self.queues.open(i) else {
                break; // the emitter has stopped
            };
            if self.stopped() {
                continue; // dropping `tx` ends the unit for the emitter
            }
            let res = self.scan_unit(&self.units[i], tx, &mut buf);
            self.record(res);
        }
    }

    /// Reads and searches one unit, passing its matches on in address order.
    fn scan_unit(&self, u: &Unit, tx: SyncSender<Found>, buf: &mut Vec<u8>) -> Result<bool> {
        let mut pending = Pending {
            found: Vec::new(),
            tx,
        };
        let region = &self.regions[u.region];
        let res = self
            .reader
            .walk(region, u.start, u.end, &self.walk, buf, |span| {
                if self.stopped() {
                    return false;
                }
                match span {
                    WalkSpan::Data {
                        addr,
                        data,
                        carried,
                    } => self.search_data(u, addr, data, carried, &mut pending),
                    WalkSpan::Skipped { start, end, why } => {
                        let b = end.min(u.limit).saturating_sub(start);
                        let t = &self.tally;
                        let counter = match why {
                            Skip::Unreadable => {
                                t.unreadable.fetch_add(1, Ordering::Relaxed);
                                &t.unreadable_bytes
                            }
                            Skip::NotResident => &t.not_resident,
                            Skip::Swapped => &t.swapped,
                            Skip::NotCached => &t.not_cached,
                            Skip::NoBacking => &t.no_backing,
                        };
                        counter.fetch_add(b, Ordering::Relaxed);
                        (self.progress)(b, self.total);
                        true
                    }
                }
            });
        pending.flush(u64::MAX);
        res
    }

    /// Searches bytes read at `addr` (the first `carried` were searched with the previous
    /// span); false when the emitter has stopped.
    fn search_data(
        &self,
        u: &Unit,
        addr: u64,
        data: &[u8],
        carried: usize,
        pending: &mut Pending,
    ) -> bool {
        let fresh = (addr + data.len() as u64).min(u.limit) - (addr + carried as u64).min(u.limit);
        self.tally.scanned.fetch_add(fresh, Ordering::Relaxed);
        (self.progress)(fresh, self.total);
        self.matcher
            .find(data, carried, addr, u.limit, &mut |pos, pi| {
                let at = addr + pos as u64;
                let end = (pos + self.ctx_len).min(data.len());
                let matched = (pos + self.matcher.patterns[pi].len()).min(data.len());
                pending.found.push(Found {
                    addr: at,
                    pattern: pi,
                    context: data[pos..end].to_vec(),
                    before: data[pos.saturating_sub(self.around)..pos].to_vec(),
                    after: data[matched..(matched + self.around).min(data.len())].to_vec(),
                });
                pending.found.len() < PENDING || pending.flush(at.saturating_sub(self.settle))
            })
    }

    /// How a unit's walk ended: a process that exited stops the scan quietly, any other error
    /// stops it and is kept (the first one).
    fn record(&self, res: Result<bool>) {
        match res {
            Ok(_) => {}
            Err(Error::ProcessExited { .. }) => {
                self.tally.exited.store(true, Ordering::Relaxed);
                self.stop();
            }
            Err(e) => {
                self.stop();
                let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                f.get_or_insert(e);
            }
        }
    }

    /// Moves the counts into `report`, or returns the scan's error.
    fn finish(self, report: &mut SearchReport) -> Result<()> {
        if let Some(e) = self.failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        let t = self.tally;
        report.bytes_scanned = t.scanned.into_inner();
        report.unreadable_ranges = t.unreadable.into_inner();
        report.unreadable_bytes = t.unreadable_bytes.into_inner();
        report.not_resident_bytes = t.not_resident.into_inner();
        report.swapped_bytes = t.swapped.into_inner();
        report.not_cached_bytes = t.not_cached.into_inner();
        report.no_backing_bytes = t.no_backing.into_inner();
        report.process_exited = t.exited.into_inner();
        Ok(())
    }
}

/// Matches of one unit not yet passed on: they go out sorted once nothing below them can
/// still be found.
struct Pending {
    found: Vec<Found>,
    tx: SyncSender<Found>,
}

impl Pending {
    /// Passes on, in order, the matches below `below`; false when the emitter has stopped.
    fn flush(&mut self, below: u64) -> bool {
        self.found.sort_by_key(|f| (f.addr, f.pattern));
        let n = self.found.partition_point(|f| f.addr < below);
        for f in self.found.drain(..n) {
            if self.tx.send(f).is_err() {
                return false;
            }
        }
        true
    }
}

/// The emitting stage: drains the units in order, each until its thread drops the sender,
/// turning what was found into [`Match`]es for `sink`. Returns whether it stopped at `max`.
///
/// # Errors
/// The first error of `sink`.
fn emit(
    scan: &Scan<'_>,
    regions: &[MemoryRegion],
    max: Option<usize>,
    sink: &mut dyn FnMut(Match) -> Result<bool>,
) -> Result<bool> {
    let mut emitted = 0usize;
    for (i, unit) in scan.units.iter().enumerate() {
        let rx = scan.queues.take(i);
        let r = &regions[unit.region];
        // Bytes the scanned data did not hold are read as the scan reads (never faulting in
        // pages the default mode leaves alone), clipped to the region.
        let mut rr = scan.reader.region(r, scan.walk.mode);
        for mut f in rx.iter() {
            let p = &scan.matcher.patterns[f.pattern];
            complete_around(&mut rr, r, p.len() as u64, &mut f, scan.around);
            let mut m = make_match(r, p, f.pattern, f.addr, &f);
            complete_context(&mut rr, &mut m, scan.ctx_len);
            match sink(m) {
                Ok(true) => {}
                Ok(false) => {
                    scan.stop();
                    return Ok(false);
                }
                Err(e) => {
                    scan.stop();
                    return Err(e);
                }
            }
            emitted += 1;
            if max.is_some_and(|max| emitted >= max) {
                scan.stop();
                return Ok(true);
            }
        }
        scan.queues.consumed(i + 1);
    }
    Ok(false)
}

/// A match near the end of a chunk got less context than the others: read the rest.
fn complete_context(rr: &mut RegionReader<'_>, m: &mut Match, want: usize) {
    if m.context.len() / 2 >= want {
        return;
    }
    let room = (m.region_end - m.address).min(want as u64);
    let got = read_run(rr, m.address, m.address + room, Keep::FromStart);
    if got.len() * 2 > m.context.len() {
        m.context = hex(&got);
    }
}

/// A match near the start or end of a chunk got fewer bytes around it than asked: read them,
/// within region `r`, through `rr`.
fn complete_around(
    rr: &mut RegionReader<'_>,
    r: &MemoryRegion,
    len: u64,
    f: &mut Found,
    want: usize,
) {
    let (start, end) = (r.base_address as u64, r.end_address() as u64);
    let lo = f.addr.saturating_sub(want as u64).max(start);
    if (f.before.len() as u64) < f.addr - lo {
        let got = read_run(rr, lo, f.addr, Keep::UpToEnd);
        if got.len() > f.before.len() {
            f.before = got;
        }
    }
    let from = (f.addr + len).min(end);
    let hi = from.saturating_add(want as u64).min(end);
    if (f.after.len() as u64) < hi - from {
        let got = read_run(rr, from, hi, Keep::FromStart);
        if got.len() > f.after.len() {
            f.after = got;
        }
    }
}

/// What [`read_run`] keeps when part of the range cannot be read.
#[derive(Clone, Copy)]
enum Keep {
    /// The bytes from `start` up to the first range that could not be read (after a match).
    FromStart,
    /// The bytes that run without a gap up to `end`, those after the last range that could not
    /// be read (before a match).
    UpToEnd,
}

/// The bytes of `[start, end)` read through `rr`, as far as `keep` says.
fn read_run(rr: &mut RegionReader<'_>, start: u64, end: u64, keep: Keep) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; (end - start) as usize];
    let mut pos = start;
    while pos < end {
        match (rr.next(pos, end, &mut buf[..(end - pos) as usize]), keep) {
            (Ok(Step::Data(n)), _) => {
                out.extend_from_slice(&buf[..n]);
                pos += n as u64;
            }
            (Ok(Step::Skip { end: skip, .. }), Keep::UpToEnd) => {
                out.clear();
                pos = skip.clamp(pos + 1, end);
            }
            (Err(_), Keep::UpToEnd) => return Vec::new(),
            (Ok(Step::Skip { .. }) | Err(_), Keep::FromStart) => break,
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn make_match(r: &MemoryRegion, p: &Pattern, pi: usize, addr: u64, f: &Found) -> Match {
    let offset = addr - r.base_address as u64;
    let name = r.display_name();
    Match {
        address: addr,
        address_hex: format!("{addr:#x}"),
        pattern: p.label.clone(),
        pattern_index: pi,
        region_start: r.base_address as u64,
        region_end: r.end_address() as u64,
        region_type: r.region_type,
        region_name: (!name.is_empty()).then_some(name),
        offset,
        file_offset: r.is_file_backed().then(|| r.offset + offset),
        context: hex(&f.context),
        context_before: hex(&f.before),
        context_after: hex(&f.after),
    }
}
