//! Streaming enumeration of a process's regions from `/proc/PID/maps` or `smaps`.
//!
//! Three stages run at once: a reader thread pulls the file from the kernel in large chunks, a
//! parser thread splits lines and parses them into entries (sent in batches), and the caller's
//! thread classifies and consumes regions. Generating `smaps` is the kernel's work, so
//! overlapping it with ours keeps the total close to a plain `cat`. Memory stays bounded (a few
//! chunks and batches plus a window of three entries) whatever the number of mappings.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::classify::{Classifier, ThreadStacks};
use crate::error::{Error, Result};
use crate::memory::MemoryRegion;
use crate::proc::maps;
use crate::proc::smaps::{SmapsEntry, SmapsParser};
use crate::proc::task::{parse_syscall, SyscallState};

use super::procdir::ProcDir;

const CHUNK: usize = 1 << 20;

/// Reads every thread's stack pointer from `task/TID/syscall` (a blocked thread's registers;
/// reading it never stops the thread).
pub fn thread_stacks(dir: &ProcDir) -> ThreadStacks {
    let Ok(tids) = dir.tids() else {
        return ThreadStacks::new(Vec::new(), 1);
    };
    let mut sps = Vec::with_capacity(tids.len());
    let mut unknown = 0;
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
    ThreadStacks::new(sps, unknown)
}

/// Splits a stream of chunks into lines, carrying a partial line across chunks.
struct Lines {
    chunks: Chunks,
    chunk: Vec<u8>,
    pos: usize,
    carry: Vec<u8>,
    eof: bool,
}

impl Lines {
    /// Calls `f` with the next line; returns false at the end of input.
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
        let handle = std::thread::spawn(move || loop {
            // Recycled buffers come back truncated to what was used; growing them back to
            // CHUNK only zeroes that part again, never the whole megabyte.
            let mut buf = recycle_rx.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
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
                        if filled + 64 * 1024 > CHUNK {
                            break Ok(filled);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
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

/// What the parser thread can fail with: the file could not be read, or a line not parsed.
enum StageError {
    Io(std::io::Error),
    Parse(Error),
}

/// Entries per message from the parser thread.
const BATCH: usize = 256;

/// The parser thread: lines in, batches of entries out. Stops at the first error (after
/// sending it) or when the consumer has gone.
fn parse_stage(
    mut lines: Lines,
    detailed: bool,
    tx: SyncSender<Result<Vec<SmapsEntry>, StageError>>,
) {
    let mut parser = SmapsParser::new();
    let mut line_no = 0;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        line_no += 1;
        let res = if detailed {
            lines.next_line(|l| parser.feed_line(l))
        } else {
            lines.next_line(|l| {
                maps::parse_line(l, line_no).map(|m| Some(SmapsEntry::from_header(&m)))
            })
        };
        let entry = match res {
            Err(e) => {
                let _ = tx.send(Err(StageError::Io(e)));
                return;
            }
            Ok(None) => {
                batch.extend(parser.finish());
                if !batch.is_empty() {
                    let _ = tx.send(Ok(batch));
                }
                lines.chunks.join();
                return;
            }
            Ok(Some(Err(e))) => {
                let _ = tx.send(Err(StageError::Parse(e)));
                return;
            }
            Ok(Some(Ok(entry))) => entry,
        };
        if let Some(e) = entry {
            batch.push(e);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send(Ok(full)).is_err() {
                    return;
                }
            }
        }
    }
}

/// An iterator over a process's regions, in address order.
pub struct RegionStream {
    dir: ProcDir,
    batches: Receiver<Result<Vec<SmapsEntry>, StageError>>,
    parser: Option<JoinHandle<()>>,
    detailed: bool,
    classifier: Classifier,
    /// The batch being consumed; entries are classified where they lie, by index, so that
    /// they are never moved (each carries a few hundred bytes of figures).
    batch: Vec<SmapsEntry>,
    /// Index in `batch` of the next entry to classify.
    idx: usize,
    /// The entry just before `batch[0]` (the last one of the previous batch).
    before: Option<SmapsEntry>,
    /// The batch after `batch`, received early to see the neighbour of `batch`'s last entry.
    after: Option<Vec<SmapsEntry>>,
    /// No more batches will come.
    drained: bool,
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
        let (tx, batches) = sync_channel(4);
        let lines = Lines {
            chunks: Chunks::spawn(file),
            chunk: Vec::new(),
            pos: 0,
            carry: Vec::new(),
            eof: false,
        };
        let parser = std::thread::spawn(move || parse_stage(lines, detailed, tx));
        Ok(RegionStream {
            dir,
            batches,
            parser: Some(parser),
            detailed,
            classifier: Classifier::new(stacks),
            batch: Vec::new(),
            idx: 0,
            before: None,
            after: None,
            drained: false,
            finished: false,
        })
    }

    /// The PID being read.
    pub fn pid(&self) -> u32 {
        self.dir.pid()
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        self.dir.error("read the memory map of", e)
    }

    /// Receives the next non-empty batch, or `None` at the end of input.
    fn recv_batch(&mut self) -> Result<Option<Vec<SmapsEntry>>> {
        while !self.drained {
            match self.batches.recv() {
                Ok(Ok(batch)) if batch.is_empty() => {}
                Ok(Ok(batch)) => return Ok(Some(batch)),
                Ok(Err(StageError::Io(e))) => return Err(self.read_error(e)),
                Ok(Err(StageError::Parse(e))) => return Err(e),
                Err(_) => self.drained = true,
            }
        }
        Ok(None)
    }

    fn step(&mut self) -> Result<Option<MemoryRegion>> {
        if self.idx >= self.batch.len() {
            // Move on to the next batch, keeping the last entry as the left neighbour.
            let next = match self.after.take() {
                Some(b) => Some(b),
                None => self.recv_batch()?,
            };
            let Some(next) = next else {
                self.end_of_input()?;
                return Ok(None);
            };
            self.before = self.batch.pop();
            self.batch = next;
            self.idx = 0;
        }
        let i = self.idx;
        if i + 1 == self.batch.len() && self.after.is_none() {
            self.after = self.recv_batch()?;
        }
        let (usage, flags) = if self.detailed {
            let e = &mut self.batch[i];
            (Some(e.usage), Some(std::mem::take(&mut e.vm_flags)))
        } else {
            (None, None)
        };
        let prev = match i {
            0 => self.before.as_ref(),
            _ => self.batch.get(i - 1),
        }
        .map(SmapsEntry::as_maps_line);
        let next = self
            .batch
            .get(i + 1)
            .or_else(|| self.after.as_ref().and_then(|b| b.first()))
            .map(SmapsEntry::as_maps_line);
        let region = self.classifier.region(
            prev.as_ref(),
            &self.batch[i].as_maps_line(),
            next.as_ref(),
            usage,
            flags,
        );
        self.idx += 1;
        if self.idx == self.batch.len() && self.after.is_none() {
            // That was the last region: check the process is still alive.
            self.end_of_input()?;
        }
        Ok(Some(region))
    }

    /// At the end of the file: a process that died meanwhile gives a truncated list, so say so.
    fn end_of_input(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Some(h) = self.parser.take() {
            let _ = h.join();
        }
        if !self.dir.is_alive() {
            return Err(Error::ProcessExited {
                pid: self.dir.pid(),
                during: "its memory map was being read".into(),
            });
        }
        Ok(())
    }
}

impl Iterator for RegionStream {
    type Item = Result<MemoryRegion>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished && self.idx >= self.batch.len() {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                self.idx = self.batch.len();
                Some(Err(e))
            }
        }
    }
}
