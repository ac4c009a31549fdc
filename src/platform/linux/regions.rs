//! Streaming enumeration of a process's regions from `/proc/PID/maps` or `smaps`.
//!
//! A reader thread pulls the file from the kernel in large chunks while the caller's thread
//! splits lines, parses, classifies and consumes regions: generating `smaps` is the kernel's
//! work, so overlapping it with ours keeps the total close to a plain `cat`. Memory stays
//! bounded (a few chunks plus a window of three entries) whatever the number of mappings.

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
            let mut buf = recycle_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
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

/// An iterator over a process's regions, in address order.
pub struct RegionStream {
    dir: ProcDir,
    lines: Lines,
    parser: Option<SmapsParser>,
    classifier: Classifier,
    prev: Option<SmapsEntry>,
    cur: Option<SmapsEntry>,
    next: Option<SmapsEntry>,
    started: bool,
    finished: bool,
    count: usize,
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
            lines: Lines {
                chunks: Chunks::spawn(file),
                chunk: Vec::new(),
                pos: 0,
                carry: Vec::new(),
                eof: false,
            },
            parser: detailed.then(SmapsParser::new),
            classifier: Classifier::new(stacks),
            prev: None,
            cur: None,
            next: None,
            started: false,
            finished: false,
            count: 0,
        })
    }

    /// The PID being read.
    pub fn pid(&self) -> u32 {
        self.dir.pid()
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        self.dir.error("read the memory map of", e)
    }

    /// Pulls the next raw entry from the file.
    fn pull(&mut self) -> Result<Option<SmapsEntry>> {
        let mut line_no = self.count;
        loop {
            let res = match self.parser.as_mut() {
                Some(parser) => self.lines.next_line(|l| parser.feed_line(l)),
                None => {
                    line_no += 1;
                    self.lines.next_line(|l| {
                        maps::parse_line(l, line_no).map(|m| {
                            Some(SmapsEntry {
                                start: m.start,
                                end: m.end,
                                perms: m.perms,
                                offset: m.offset,
                                device: m.device,
                                inode: m.inode,
                                pathname: m.pathname.to_vec(),
                                ..SmapsEntry::default()
                            })
                        })
                    })
                }
            };
            match res {
                Err(e) => return Err(self.read_error(e)),
                Ok(None) => return Ok(self.parser.as_mut().and_then(SmapsParser::finish)),
                Ok(Some(r)) => {
                    if let Some(entry) = r? {
                        self.count += 1;
                        return Ok(Some(entry));
                    }
                }
            }
        }
    }

    fn step(&mut self) -> Result<Option<MemoryRegion>> {
        if !self.started {
            self.started = true;
            self.cur = self.pull()?;
            self.next = if self.cur.is_some() {
                self.pull()?
            } else {
                None
            };
            if self.cur.is_none() {
                return self.end_of_input().map(|_| None);
            }
        }
        let Some(cur) = self.cur.take() else {
            return Ok(None);
        };
        let detailed = self.parser.is_some();
        let region = {
            let prev = self.prev.as_ref().map(SmapsEntry::as_maps_line);
            let next = self.next.as_ref().map(SmapsEntry::as_maps_line);
            let (usage, flags) = if detailed {
                (Some(cur.usage), Some(cur.vm_flags.clone()))
            } else {
                (None, None)
            };
            self.classifier.region(
                prev.as_ref(),
                &cur.as_maps_line(),
                next.as_ref(),
                usage,
                flags,
            )
        };
        self.prev = Some(cur);
        self.cur = self.next.take();
        if self.cur.is_some() {
            self.next = self.pull()?;
        } else {
            self.end_of_input()?;
        }
        Ok(Some(region))
    }

    /// At the end of the file: a process that died meanwhile gives a truncated list, so say so.
    fn end_of_input(&mut self) -> Result<()> {
        self.finished = true;
        self.lines.chunks.join();
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
        if self.finished && self.cur.is_none() {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                self.cur = None;
                Some(Err(e))
            }
        }
    }
}
