//! Streaming enumeration of a process's regions from `/proc/PID/maps` or `smaps`.
//!
//! Two stages run at once: a reader thread pulls the file from the kernel in chunks (generating
//! `maps` and `smaps` is the kernel's work, most of the total), and the caller's thread parses,
//! classifies and consumes regions as the chunks arrive. On a two-core machine each stage has a
//! core, and the caller's work per mapping is kept well below the kernel's, so the total stays
//! close to a plain `cat` of the file.
//!
//! Entries are parsed into a window of three slots (the region before, the region, the one
//! after: classification looks at the neighbours) that are reused in turn, and each region is
//! lent out as a [`RegionView`] of its slot: nothing is allocated per mapping. Memory stays
//! bounded (a few chunks and the window) whatever the number of mappings.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::proc::smaps::{is_header, SmapsEntry, SmapsParser};
use crate::proc::task::{parse_syscall, SyscallState};
use crate::region::classify::{needs_deleted_check, settle_deleted, Classifier, ThreadStacks};
use crate::region::view::{RegionSource, RegionView};
use crate::region::MemoryRegion;

use super::procdir::ProcDir;

/// Bytes per read. Small enough that parsing starts soon after the kernel starts generating
/// (and finishes soon after it ends), large enough that the syscalls and hand-overs are few.
const CHUNK: usize = 256 << 10;
/// The longest line accepted (a path is at most 4 KiB): a crafted `--proc-root` file without
/// line ends must not grow memory without bound.
const MAX_LINE: usize = 64 << 10;
/// Bytes of the first read.
const FIRST_CHUNK: usize = 16 << 10;

/// Reads every thread's stack pointer from `task/TID/syscall` (a blocked thread's registers;
/// reading it never stops the thread). When some thread's cannot be read (it is running on a
/// CPU, or the file is unreadable), also finds the regions laid out as glibc thread stacks, from
/// `smaps`, for the layout rule (see [`Classifier`]).
pub fn thread_stacks(dir: &ProcDir) -> ThreadStacks {
    let mut sps = Vec::new();
    // Threads that cannot be listed count as one whose stack pointer is unknown.
    let mut unknown = 0;
    match dir.tids() {
        Ok(tids) => {
            for tid in tids {
                let state = dir
                    .read(&format!("task/{tid}/syscall"))
                    .ok()
                    .and_then(|b| parse_syscall(&b).ok());
                match state {
                    Some(SyscallState::Blocked { sp, .. }) => sps.push((sp, tid)),
                    _ if tid == dir.pid() => {}
                    _ => unknown += 1,
                }
            }
        }
        Err(_) => unknown = 1,
    }
    let stacks = ThreadStacks::new(sps, unknown);
    if unknown == 0 {
        return stacks;
    }
    match super::stacklayout::layout_stacks(dir, unknown) {
        Some(found) => stacks.with_layout_stacks(found),
        None => stacks,
    }
}

/// Splits a stream of chunks into lines, carrying a partial line across chunks.
struct Input {
    chunks: Chunks,
    chunk: Vec<u8>,
    pos: usize,
    carry: Vec<u8>,
    eof: bool,
}

impl Input {
    /// The unparsed rest of the current chunk, where a line may be taken without looking for its
    /// end first (empty while a partial line is carried over).
    fn rest(&self) -> &[u8] {
        if self.carry.is_empty() {
            &self.chunk[self.pos..]
        } else {
            &[]
        }
    }

    /// Calls `f` with the next line; returns `None` at the end of input.
    fn next_line<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> std::io::Result<Option<R>> {
        loop {
            if self.pos < self.chunk.len() {
                let rest = &self.chunk[self.pos..];
                if let Some(i) = memchr::memchr(b'\n', rest) {
                    self.pos += i + 1;
                    if self.carry.is_empty() {
                        return Ok(Some(f(&rest[..i])));
                    }
                    self.carry.extend_from_slice(&rest[..i]);
                    let r = f(&self.carry);
                    self.carry.clear();
                    return Ok(Some(r));
                }
                if self.carry.len() + rest.len() > MAX_LINE {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "a line longer than {} KiB, more than any line of maps or smaps",
                            MAX_LINE >> 10
                        ),
                    ));
                }
                self.carry.extend_from_slice(rest);
                self.pos = self.chunk.len();
            }
            if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.carry);
                return Ok(Some(f(&line)));
            }
            match self.chunks.rx.recv() {
                Ok(Ok(buf)) => {
                    let old = std::mem::replace(&mut self.chunk, buf);
                    let _ = self.chunks.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.eof = true,
            }
        }
    }
}

/// The reading side: a thread that pulls the file in chunks, and the channels to it.
struct Chunks {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    recycle: SyncSender<Vec<u8>>,
    handle: Option<JoinHandle<()>>,
}

impl Chunks {
    /// Starts reading `file` on its own thread. Chunks are recycled through a return channel,
    /// so the reader allocates a handful of buffers whatever the file's size.
    fn spawn(mut file: std::fs::File) -> Chunks {
        let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(2);
        let (recycle, recycle_rx) = sync_channel::<Vec<u8>>(4);
        // The first chunks are small, so that a small map costs a small buffer and parsing of a
        // large one starts early; they double up to CHUNK.
        let mut size = FIRST_CHUNK;
        let handle = std::thread::spawn(move || loop {
            // Recycled buffers come back truncated to what was used; growing them back only
            // zeroes that part again, never the whole chunk.
            let mut buf = recycle_rx.try_recv().unwrap_or_default();
            buf.resize(size, 0);
            // Fill most of the chunk: procfs returns at most what it has formatted so far.
            let mut filled = 0;
            let mut eof = false;
            let res = loop {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break Ok(filled);
                    }
                    Ok(n) => {
                        filled += n;
                        if filled + size / 4 > size {
                            break Ok(filled);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            size = (size * 2).min(CHUNK);
            match res {
                Ok(n) => {
                    buf.truncate(n);
                    if n > 0 && tx.send(Ok(buf)).is_err() {
                        return;
                    }
                    if eof {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        Chunks {
            rx,
            recycle,
            handle: Some(handle),
        }
    }

    /// Waits for the reader thread (after the end of input).
    fn join(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// An iterator over a process's regions, in address order.
///
/// [`next_view`](RegionSource::next_view) lends each region without copying it; the
/// [`Iterator`] implementation gives owned [`MemoryRegion`]s.
pub struct RegionStream {
    dir: ProcDir,
    input: Input,
    detailed: bool,
    classifier: Classifier,
    parser: SmapsParser,
    /// Three entries reused in turn: the region before the current one, the current one, and
    /// the one after (whose header has been read).
    ring: [SmapsEntry; 3],
    /// Index in `ring` of the current entry; the previous one is at `cur + 2`, the next at
    /// `cur + 1` (mod 3).
    cur: usize,
    has_prev: bool,
    has_cur: bool,
    has_next: bool,
    /// The current region was lent out: the window moves on at the next call.
    lent: bool,
    /// The end of input was reached and the process checked.
    checked_end: bool,
    finished: bool,
}

impl RegionStream {
    /// Starts reading `maps` (or `smaps` when `detailed`) of the process in `dir`.
    pub fn open(dir: ProcDir, detailed: bool) -> Result<RegionStream> {
        let stacks = thread_stacks(&dir);
        let name = if detailed { "smaps" } else { "maps" };
        let file = dir
            .open_file(name)
            .map_err(|e| dir.error("read the memory map of", e))?;
        Ok(RegionStream {
            dir,
            input: Input {
                chunks: Chunks::spawn(file),
                chunk: Vec::new(),
                pos: 0,
                carry: Vec::new(),
                eof: false,
            },
            detailed,
            classifier: Classifier::new(stacks),
            parser: SmapsParser::new(),
            ring: Default::default(),
            cur: 0,
            has_prev: false,
            has_cur: false,
            has_next: false,
            lent: false,
            checked_end: false,
            finished: false,
        })
    }

    /// The PID being read.
    pub fn pid(&self) -> u32 {
        self.dir.pid()
    }

    /// Moves the window on, then reads until the current entry is complete (the next header has
    /// been read, or the input ended). False when no entry is left.
    fn fill(&mut self) -> Result<bool> {
        if self.lent {
            self.lent = false;
            self.cur = (self.cur + 1) % 3;
            self.has_prev = self.has_cur;
            self.has_cur = self.has_next;
            self.has_next = false;
        }
        while !self.has_next {
            // Field lines always belong to the current entry: once the next header is read,
            // the current region is complete and lent out before anything else is parsed.
            // The shortcuts parse a line straight from the chunk, finding its end as they go.
            let rest = self.input.rest();
            if self.detailed && self.has_cur {
                let n = self.parser.fixed_field(&mut self.ring[self.cur], rest);
                if n > 0 {
                    self.input.pos += n;
                    continue;
                }
            }
            if !self.detailed || is_header(rest) {
                let n = self
                    .parser
                    .header_prefix(&mut self.ring[self.header_slot()], rest);
                if n > 0 {
                    self.input.pos += n;
                    self.header_read();
                    continue;
                }
            }
            let target = self.header_slot();
            let RegionStream {
                input,
                parser,
                ring,
                cur,
                has_cur,
                detailed,
                ..
            } = self;
            let line = input.next_line(|line| {
                if !*detailed || is_header(line) {
                    parser.header(&mut ring[target], line).map(|_| true)
                } else {
                    let entry = if *has_cur {
                        Some(&mut ring[*cur])
                    } else {
                        None
                    };
                    parser.field(entry, line).map(|_| false)
                }
            });
            match line {
                Err(e) => return Err(self.dir.error("read the memory map of", e)),
                Ok(None) => {
                    self.end_of_input()?;
                    return Ok(self.has_cur);
                }
                Ok(Some(Err(e))) => return Err(e),
                Ok(Some(Ok(true))) => self.header_read(),
                Ok(Some(Ok(false))) => {}
            }
        }
        Ok(true)
    }

    /// The slot the next header is parsed into: the current one while there is none, else the
    /// next one.
    fn header_slot(&self) -> usize {
        if self.has_cur {
            (self.cur + 1) % 3
        } else {
            self.cur
        }
    }

    /// A header was parsed into [`header_slot`](Self::header_slot).
    fn header_read(&mut self) {
        if self.has_cur {
            self.has_next = true;
        } else {
            self.has_cur = true;
        }
    }

    /// At the end of the file: a process that died meanwhile gives a truncated list, so say so.
    fn end_of_input(&mut self) -> Result<()> {
        if self.checked_end {
            return Ok(());
        }
        self.checked_end = true;
        self.input.chunks.join();
        if !self.dir.is_alive() {
            return Err(Error::ProcessExited {
                pid: self.dir.pid(),
                during: "its memory map was being read".into(),
            });
        }
        Ok(())
    }

    fn current_view(&self) -> RegionView<'_> {
        let prev = self
            .has_prev
            .then(|| self.ring[(self.cur + 2) % 3].as_maps_line());
        let next = self
            .has_next
            .then(|| self.ring[(self.cur + 1) % 3].as_maps_line());
        let e = &self.ring[self.cur];
        let line = e.as_maps_line();
        let mut view = self.classifier.view(
            prev.as_ref(),
            &line,
            next.as_ref(),
            self.detailed.then_some(&e.usage),
            self.detailed.then_some(&e.vm_flags[..]),
        );
        if needs_deleted_check(&line) {
            settle_deleted(&mut view, &line, super::mapfiles::deleted(&self.dir, &line));
        }
        view
    }
}

impl RegionSource for RegionStream {
    fn next_view(&mut self) -> Option<Result<RegionView<'_>>> {
        if self.finished {
            return None;
        }
        match self.fill() {
            Ok(true) => {
                self.lent = true;
                Some(Ok(self.current_view()))
            }
            Ok(false) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for RegionStream {
    type Item = Result<MemoryRegion>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_view().map(|r| r.map(|v| v.to_region()))
    }
}
