//! Searching a live process's memory for byte patterns.
//!
//! The regions to scan come from the memory map, filtered by type, permissions and address
//! range ([`RegionFilter`]). Large regions are cut into segments scanned in parallel (rayon);
//! each segment is read in chunks by [`MemReader::walk`], which repeats the last
//! `longest pattern - 1` bytes of a chunk at the start of the next, and a match is only
//! accepted when it ends in the new bytes and starts inside its own segment: a match that
//! straddles a chunk or segment boundary is therefore found exactly once. Matches never span
//! two regions or an unreadable page.
//!
//! One pattern is searched with `memchr::memmem` (SIMD); several at once with an
//! Aho-Corasick automaton over each pattern's longest fixed run of bytes, then checked whole.

pub mod pattern;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex};

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;
use serde::Serialize;

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::platform::{MemReader, Walk, WalkSpan, DEFAULT_CHUNK};
use crate::region::{MemoryRegion, Perms, RegionType};

pub use pattern::{Pattern, ValueType};

/// Segment size for parallel scanning of large regions.
const SEGMENT: u64 = 32 << 20;
/// The longest pattern (a chunk must hold a whole match).
const MAX_PATTERN: usize = 64 << 10;
/// Bytes of context kept with each match (more for longer patterns, up to [`MAX_CONTEXT`]).
const CONTEXT: usize = 16;
/// The most context kept with a match.
const MAX_CONTEXT: usize = 64;

/// A permission filter such as `r-x`: a letter must be present, `-` must be absent, `?` is
/// either; an optional fourth character `p`/`s` selects private or shared mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermFilter {
    /// Flags that must be set.
    pub must: Perms,
    /// Flags that must be clear.
    pub must_not: Perms,
}

impl PermFilter {
    /// Parses `r-x`, `rw?`, `r--s`.
    pub fn parse(s: &str) -> Result<PermFilter> {
        let bad = || {
            Error::InvalidArgument(format!(
                "invalid permission filter {s:?}: expected three or four characters like r-x or rw-p (? for either)"
            ))
        };
        let b = s.as_bytes();
        if b.len() != 3 && b.len() != 4 {
            return Err(bad());
        }
        let mut f = PermFilter::default();
        for (i, &c) in b.iter().enumerate() {
            let (letter, flag) = [
                (b'r', Perms::READ),
                (b'w', Perms::WRITE),
                (b'x', Perms::EXEC),
                (b's', Perms::SHARED),
            ][i];
            match c {
                _ if c == letter => f.must |= flag,
                b'-' => f.must_not |= flag,
                b'p' if i == 3 => f.must_not |= flag,
                b'?' | b'*' => {}
                _ => return Err(bad()),
            }
        }
        Ok(f)
    }

    /// Does a region with `p` pass?
    pub fn accepts(&self, p: Perms) -> bool {
        p.contains(self.must) && !p.intersects(self.must_not)
    }
}

/// Which regions to scan.
#[derive(Debug, Clone, Default)]
pub struct RegionFilter {
    /// Region types to keep (all when empty).
    pub types: Vec<RegionType>,
    /// Permission filter.
    pub perms: Option<PermFilter>,
    /// Only addresses in `[low, high)`.
    pub range: Option<(u64, u64)>,
}

impl RegionFilter {
    /// Parses `LOW-HIGH` (hex addresses, `HIGH` exclusive).
    pub fn parse_range(s: &str) -> Result<(u64, u64)> {
        let (lo, hi) = s.split_once('-').ok_or_else(|| {
            Error::InvalidArgument(format!("invalid range {s:?}: expected LOW-HIGH in hex"))
        })?;
        let lo = crate::units::parse_address(lo)?;
        let hi = crate::units::parse_address(hi)?;
        if hi <= lo {
            return Err(Error::InvalidArgument(format!(
                "invalid range {s:?}: the end must be above the start"
            )));
        }
        Ok((lo, hi))
    }

    /// Parses a comma-separated list of region types (`heap,stack`).
    pub fn parse_types(s: &str) -> Result<Vec<RegionType>> {
        s.split(',')
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                RegionType::from_name(t).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "unknown region type {t:?} (expected one of: {})",
                        RegionType::ALL
                            .map(|t| t.name().to_ascii_lowercase())
                            .join(", ")
                    ))
                })
            })
            .collect()
    }

    /// The part of `r` to scan, if any.
    pub fn clip(&self, r: &MemoryRegion) -> Option<(u64, u64)> {
        if !self.types.is_empty() && !self.types.contains(&r.region_type) {
            return None;
        }
        if let Some(p) = &self.perms {
            if !p.accepts(r.perms) {
                return None;
            }
        }
        let (mut s, mut e) = (r.base_address as u64, r.end_address() as u64);
        if let Some((lo, hi)) = self.range {
            s = s.max(lo);
            e = e.min(hi);
        }
        (s < e).then_some((s, e))
    }
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The patterns, searched in one pass.
    pub patterns: Vec<Pattern>,
    /// Which regions.
    pub filter: RegionFilter,
    /// Stop after this many matches.
    pub max: Option<usize>,
    /// Skip pages not in RAM (see [`Walk::resident_only`]).
    pub resident_only: bool,
    /// Bytes per read.
    pub chunk: usize,
}

impl SearchRequest {
    /// A request for `patterns` over every readable region.
    pub fn new(patterns: Vec<Pattern>) -> SearchRequest {
        SearchRequest {
            patterns,
            filter: RegionFilter::default(),
            max: None,
            resident_only: false,
            chunk: DEFAULT_CHUNK,
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
}

impl Match {
    /// The context bytes.
    pub fn context_bytes(&self) -> Vec<u8> {
        (0..self.context.len() / 2)
            .filter_map(|i| u8::from_str_radix(&self.context[2 * i..2 * i + 2], 16).ok())
            .collect()
    }
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
    /// Bytes skipped because they were not resident (with `resident_only`).
    pub not_resident_bytes: u64,
    /// Regions skipped because they are not readable (`---p` guards, `--xp` `[vsyscall]`).
    pub regions_not_readable: usize,
    /// The search stopped at `max` matches.
    pub stopped_at_max: bool,
    /// The process exited during the scan: the report covers what was scanned before.
    pub process_exited: bool,
}

enum Engine {
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

/// The compiled patterns.
struct Matcher {
    patterns: Vec<Pattern>,
    /// Per distinct anchor: the (pattern, anchor offset) pairs using it.
    anchors: Vec<Vec<(usize, usize)>>,
    engine: Engine,
    max_len: usize,
}

impl Matcher {
    fn new(patterns: Vec<Pattern>) -> Result<Matcher> {
        if patterns.is_empty() {
            return Err(Error::InvalidArgument(
                "no pattern given (use --hex, --text, --utf16 or a typed value such as --u32)"
                    .into(),
            ));
        }
        if let Some(p) = patterns.iter().find(|p| p.len() > MAX_PATTERN) {
            return Err(Error::InvalidArgument(format!(
                "pattern {} is {} bytes long; the longest supported is {MAX_PATTERN}",
                p.label.chars().take(40).collect::<String>(),
                p.len()
            )));
        }
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut anchors: Vec<Vec<(usize, usize)>> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let (off, a) = p.anchor();
            match keys.iter().position(|k| k == a) {
                Some(k) => anchors[k].push((i, off)),
                None => {
                    keys.push(a.to_vec());
                    anchors.push(vec![(i, off)]);
                }
            }
        }
        let engine = if keys.len() == 1 {
            Engine::One(Box::new(memmem::Finder::new(&keys[0]).into_owned()))
        } else {
            Engine::Many(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&keys)
                    .map_err(|e| Error::InvalidArgument(format!("cannot compile patterns: {e}")))?,
            )
        };
        let max_len = patterns.iter().map(Pattern::len).max().unwrap_or(1);
        Ok(Matcher {
            patterns,
            anchors,
            engine,
            max_len,
        })
    }

    /// Calls `emit(pos, pattern)` for every match in `data` that ends after `carried`, starts
    /// before absolute address `limit` and respects alignment; `base` is `data[0]`'s address.
    fn scan(
        &self,
        data: &[u8],
        carried: usize,
        base: u64,
        limit: u64,
        emit: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        let mut check = |hit: usize, key: usize| -> bool {
            for &(pi, off) in &self.anchors[key] {
                let p = &self.patterns[pi];
                let Some(s) = hit.checked_sub(off) else {
                    continue;
                };
                let end = s + p.len();
                if end > data.len() || end <= carried {
                    continue;
                }
                let addr = base + s as u64;
                if addr >= limit || !addr.is_multiple_of(p.align as u64) || !p.matches(&data[s..]) {
                    continue;
                }
                if !emit(s, pi) {
                    return false;
                }
            }
            true
        };
        match &self.engine {
            Engine::One(f) => {
                for hit in f.find_iter(data) {
                    if !check(hit, 0) {
                        return false;
                    }
                }
            }
            Engine::Many(ac) => {
                for m in ac.find_overlapping_iter(data) {
                    if !check(m.start(), m.pattern().as_usize()) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

struct Unit {
    region: usize,
    start: u64,
    /// Matches must start before this.
    limit: u64,
    /// Read up to here (limit + longest pattern - 1, within the region).
    end: u64,
}

/// A match as the scanning threads pass it on: address, pattern, context bytes.
struct Found {
    addr: u64,
    pattern: usize,
    context: Vec<u8>,
}

/// The queues between scanning threads and the consumer: one per unit, created when a thread
/// starts the unit, at most `window` units ahead of the consumer.
struct Queues {
    state: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    slots: Vec<Option<Receiver<Found>>>,
    consumed: usize,
    closed: bool,
}

impl Queues {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until unit `i` is within the window, then creates its queue; `None` once closed.
    fn open(&self, i: usize, window: usize) -> Option<SyncSender<Found>> {
        let mut st = self.lock();
        while !st.closed && i >= st.consumed + window {
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.closed {
            return None;
        }
        let (tx, rx) = sync_channel(QUEUE);
        st.slots[i] = Some(rx);
        self.ready.notify_all();
        Some(tx)
    }

    /// Waits for unit `i`'s queue.
    fn take(&self, i: usize) -> Receiver<Found> {
        let mut st = self.lock();
        loop {
            if let Some(rx) = st.slots[i].take() {
                return rx;
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn consumed(&self, n: usize) {
        self.lock().consumed = n;
        self.ready.notify_all();
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.slots.clear();
        self.ready.notify_all();
    }
}

/// How many matches may wait, per unit, between a scanning thread and the consumer.
const QUEUE: usize = 1024;
/// How many found matches a scanning thread holds before passing the settled ones on.
const PENDING: usize = 1024;

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
    let pid = analyzer.pid();
    let regions = analyzer.list()?;
    let mut report = SearchReport::default();
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
                end: (limit + matcher.max_len as u64 - 1).min(e),
            });
            seg = limit;
        }
    }

    let total = report.bytes_total;
    let stop = AtomicBool::new(false);
    let exited = AtomicBool::new(false);
    let scanned = AtomicU64::new(0);
    let unreadable = AtomicU64::new(0);
    let unreadable_bytes = AtomicU64::new(0);
    let not_resident = AtomicU64::new(0);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let reader = analyzer.memory();
    let walk = Walk {
        chunk: req.chunk.max(matcher.max_len),
        keep: matcher.max_len - 1,
        resident_only: req.resident_only,
    };
    let ctx_len = CONTEXT.max(matcher.max_len).min(MAX_CONTEXT);
    // Matches of a later call can start up to this far below an earlier one (anchor offsets,
    // overlapping automaton order): pending matches below `latest - settle` are final.
    let settle = 2 * matcher.max_len as u64;

    // Units are handed out in address order; each has a bounded queue that the consumer (this
    // thread) drains in unit order, so output is sorted and memory bounded. A thread blocked
    // on a later unit's full queue waits for earlier units, which other threads are scanning
    // or have finished, so this cannot deadlock.
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(units.len().max(1));
    let window = 2 * threads + 2;
    let queues = Queues {
        state: Mutex::new(QueueState {
            slots: (0..units.len()).map(|_| None).collect(),
            consumed: 0,
            closed: false,
        }),
        ready: Condvar::new(),
    };
    let mut emitted = 0usize;
    let mut sink_error = None;

    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= units.len() {
                        break;
                    }
                    let Some(tx) = queues.open(i, window) else {
                        break; // the consumer has stopped
                    };
                    if stop.load(Ordering::Relaxed) {
                        continue; // dropping `tx` ends the unit for the consumer
                    }
                    let u = &units[i];
                    let mut pending: Vec<Found> = Vec::new();
                    let flush = |pending: &mut Vec<Found>, below: u64| -> bool {
                        pending.sort_by_key(|f| (f.addr, f.pattern));
                        let n = pending.partition_point(|f| f.addr < below);
                        for f in pending.drain(..n) {
                            if tx.send(f).is_err() {
                                return false;
                            }
                        }
                        true
                    };
                    let res = reader.walk(u.start, u.end, &walk, &mut buf, |span| {
                        if stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        match span {
                            WalkSpan::Data {
                                addr,
                                data,
                                carried,
                            } => {
                                let fresh = (addr + data.len() as u64).min(u.limit)
                                    - (addr + carried as u64).min(u.limit);
                                scanned.fetch_add(fresh, Ordering::Relaxed);
                                progress(fresh, total);
                                matcher.scan(data, carried, addr, u.limit, &mut |pos, pi| {
                                    let at = addr + pos as u64;
                                    let end = (pos + ctx_len).min(data.len());
                                    pending.push(Found {
                                        addr: at,
                                        pattern: pi,
                                        context: data[pos..end].to_vec(),
                                    });
                                    pending.len() < PENDING
                                        || flush(&mut pending, at.saturating_sub(settle))
                                })
                            }
                            WalkSpan::Unreadable { start, end } => {
                                let b = end.min(u.limit).saturating_sub(start);
                                unreadable.fetch_add(1, Ordering::Relaxed);
                                unreadable_bytes.fetch_add(b, Ordering::Relaxed);
                                progress(b, total);
                                true
                            }
                            WalkSpan::NotResident { start, end } => {
                                let b = end.min(u.limit).saturating_sub(start);
                                not_resident.fetch_add(b, Ordering::Relaxed);
                                progress(b, total);
                                true
                            }
                        }
                    });
                    flush(&mut pending, u64::MAX);
                    match res {
                        Ok(_) => {}
                        Err(Error::ProcessExited { .. }) => {
                            exited.store(true, Ordering::Relaxed);
                            stop.store(true, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut f = failure.lock().unwrap_or_else(|e| e.into_inner());
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }

        // The consumer: units in order, each until its thread drops the sender.
        'units: for i in 0..units.len() {
            let rx = queues.take(i);
            let r = &regions[units[i].region];
            for f in rx.iter() {
                let mut m = make_match(
                    r,
                    &matcher.patterns[f.pattern],
                    f.pattern,
                    f.addr,
                    &f.context,
                );
                complete_context(&reader, &mut m, ctx_len);
                match sink(m) {
                    Ok(true) => {}
                    Ok(false) => {
                        stop.store(true, Ordering::Relaxed);
                        break 'units;
                    }
                    Err(e) => {
                        sink_error = Some(e);
                        stop.store(true, Ordering::Relaxed);
                        break 'units;
                    }
                }
                emitted += 1;
                if req.max.is_some_and(|max| emitted >= max) {
                    report.stopped_at_max = true;
                    stop.store(true, Ordering::Relaxed);
                    break 'units;
                }
            }
            queues.consumed(i + 1);
        }
        // Unblock threads waiting on queues nobody will read, or on the window.
        queues.close();
    });

    if let Some(e) = sink_error {
        return Err(e);
    }
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    report.bytes_scanned = scanned.into_inner();
    report.unreadable_ranges = unreadable.into_inner();
    report.unreadable_bytes = unreadable_bytes.into_inner();
    report.not_resident_bytes = not_resident.into_inner();
    report.process_exited = exited.into_inner();
    Ok(report)
}

/// A match near the end of a chunk got less context than the others: read the rest.
fn complete_context(reader: &MemReader, m: &mut Match, want: usize) {
    if m.context.len() / 2 >= want {
        return;
    }
    let mut buf = vec![0u8; want];
    let room = (m.region_end - m.address).min(want as u64) as usize;
    if let Ok(n) = reader.read(m.address, &mut buf[..room]) {
        if n * 2 > m.context.len() {
            m.context = hex(&buf[..n]);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn make_match(r: &MemoryRegion, p: &Pattern, pi: usize, addr: u64, context: &[u8]) -> Match {
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
        context: hex(context),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_all(m: &Matcher, data: &[u8], chunk: usize) -> Vec<(usize, usize)> {
        // Simulate the walker's carry over an in-memory buffer.
        let keep = m.max_len - 1;
        let mut out = Vec::new();
        let mut pos = 0;
        let mut carried = 0;
        while pos < data.len() {
            let n = chunk.min(data.len() - pos);
            let start = pos - carried;
            let piece = &data[start..pos + n];
            m.scan(piece, carried, start as u64, u64::MAX, &mut |p, pi| {
                out.push((start + p, pi));
                true
            });
            pos += n;
            carried = keep.min(pos);
        }
        out
    }

    #[test]
    fn boundary_matches_found_once() {
        let m = Matcher::new(vec![Pattern::text("needle!").unwrap()]).unwrap();
        let mut data = vec![0u8; 100];
        for at in [0, 13, 29, 93] {
            data[at..at + 7].copy_from_slice(b"needle!");
        }
        for chunk in [1, 2, 7, 8, 16, 100] {
            let got: Vec<usize> = find_all(&m, &data, chunk)
                .into_iter()
                .map(|x| x.0)
                .collect();
            assert_eq!(got, [0, 13, 29, 93], "chunk {chunk}");
        }
    }

    #[test]
    fn several_patterns_with_wildcards_and_alignment() {
        let m = Matcher::new(vec![
            Pattern::hex("aa ?? cc").unwrap(),
            Pattern::text("ab").unwrap(),
            Pattern::value(ValueType::U16, "0xbbaa", false, true).unwrap(),
        ])
        .unwrap();
        let data = b"x\xaaX\xcc_ab_\xaa\xbb\xaa\xbb";
        let mut got = find_all(&m, data, 3);
        got.sort();
        assert_eq!(got, [(1, 0), (5, 1), (8, 2), (10, 2)]);
    }

    #[test]
    fn filters() {
        let f = PermFilter::parse("r-x").unwrap();
        assert!(f.accepts(Perms::READ | Perms::EXEC));
        assert!(!f.accepts(Perms::READ | Perms::EXEC | Perms::WRITE));
        assert!(PermFilter::parse("rw?s")
            .unwrap()
            .accepts(Perms::READ | Perms::WRITE | Perms::SHARED));
        assert!(PermFilter::parse("rwxq").is_err());
        assert!(PermFilter::parse("x").is_err());
        assert_eq!(
            RegionFilter::parse_range("1000-2000").unwrap(),
            (0x1000, 0x2000)
        );
        assert!(RegionFilter::parse_range("2000-1000").is_err());
        assert!(RegionFilter::parse_range("zz").is_err());
        assert_eq!(
            RegionFilter::parse_types("heap,stack").unwrap(),
            [RegionType::Heap, RegionType::Stack]
        );
        assert!(RegionFilter::parse_types("bogus").is_err());
    }
}
