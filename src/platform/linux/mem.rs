//! Reading another process's memory without stopping it.
//!
//! [`MemReader`] reads through the process handle ([`ProcDir`]). On memlink's own procfs
//! (`/proc`) it uses `process_vm_readv(2)` (one copy, no ptrace stop, through [`vm::read`]),
//! falling back to `ROOT/PID/mem` when the system call is unavailable or filtered (`ENOSYS`,
//! `EPERM` from a seccomp policy). On any other procfs root (`--proc-root`, a procfs of another
//! PID namespace) the PID number may name another process for a PID-taking system call, so it
//! reads `ROOT/PID/mem` only, opened relative to the handle like `ROOT/PID/pagemap`.
//!
//! [`MemReader::walk`] reads a range in large chunks into one reused buffer and reports
//! unreadable pages (`[vvar]`, regions unmapped meanwhile) as holes instead of failing. With
//! [`Walk::resident_only`] it first asks `pagemap` which pages are in RAM and reads only those,
//! so that scanning never faults in swapped-out or never-touched pages; that costs one extra
//! `pread` of 8 bytes per page (2 KiB per MiB scanned, about 0.2% more data moved) and it makes
//! the scan blind to swapped-out contents.
//!
//! # References
//! `process_vm_readv(2)` (Linux 3.2), `proc_pid_mem(5)`, `Documentation/admin-guide/mm/pagemap.rst`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use nix::errno::Errno;

use super::mapfiles::{Backing, BackingKind, BackingRead};
use super::pagemap::{PageKind, PageMap, PageRun};
use super::procdir::ProcDir;
use super::vm;
use crate::error::{Error, Result};
use crate::region::{MemoryRegion, Perms, RegionType};

/// Default chunk size of a walk: large enough to make system calls rare, small enough to stay
/// in the CPU's cache while the chunk is searched.
pub const DEFAULT_CHUNK: usize = 1 << 20;

const METHOD_VM_READV: u8 = 0;
const METHOD_PROC_MEM: u8 = 1;

/// How the reader gets at the target's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `process_vm_readv(2)`.
    VmReadv,
    /// `pread` on `ROOT/PID/mem`.
    ProcMem,
}

/// Reads the memory of one process. Shareable between threads: every read is one positioned
/// system call.
#[derive(Debug)]
pub struct MemReader {
    dir: ProcDir,
    method: AtomicU8,
    mem: OnceLock<std::result::Result<File, i32>>,
    pagemap: OnceLock<Option<PageMap>>,
}

/// What happened to one stretch of a walked range, in address order.
#[derive(Debug)]
pub enum WalkSpan<'a> {
    /// Bytes read. `data` starts at `addr`; its first `carried` bytes are the tail of the
    /// previous span (kept on request, see [`Walk::keep`]), the rest are new.
    Data {
        /// Address of `data[0]`.
        addr: u64,
        /// The bytes.
        data: &'a [u8],
        /// How many leading bytes were already passed in the previous span.
        carried: usize,
    },
    /// A range that was not read, and why.
    Skipped {
        /// First address.
        start: u64,
        /// One past the last address.
        end: u64,
        /// Why.
        why: Skip,
    },
}

/// Options of [`MemReader::walk`].
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Bytes read per system call.
    pub chunk: usize,
    /// How many bytes of the previous span to repeat at the start of the next one when they
    /// are contiguous (a searcher keeps `longest pattern - 1` so that matches across chunk
    /// boundaries are seen).
    pub keep: usize,
    /// How pages that are not mapped in the process are treated ([`ReadMode`]).
    pub mode: ReadMode,
}

/// How a read treats pages that the target has not mapped in its page tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Never grow or stall the target (the default). Shared and file-backed memory is read
    /// through its backing object (`map_files`): shmem holes read as zeros
    /// without allocating, file pages not in the page cache are skipped
    /// ([`Skip::NotCached`]). Private memory is read through the process only where the page
    /// is mapped; a private page in swap is skipped ([`Skip::Swapped`]), a never-touched
    /// anonymous page reads as the zeros it holds. The page kinds come from `PAGEMAP_SCAN`.
    #[default]
    Safe,
    /// Read everything through the process, faulting in (and swapping in) what is not mapped.
    FaultIn,
    /// Read only pages mapped in the process's page tables ([`Skip::NotResident`] for the rest).
    ResidentOnly,
}

/// Why a range was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// Not readable at all: unmapped meanwhile, `[vvar]`, I/O memory, beyond its file's end.
    Unreadable,
    /// Not mapped in the process's page tables ([`ReadMode::ResidentOnly`]).
    NotResident,
    /// A private page in swap: reading it would swap it in ([`ReadMode::Safe`]).
    Swapped,
    /// A file page not in the page cache: reading it would read the disk ([`ReadMode::Safe`]).
    NotCached,
    /// A page not mapped in the process whose backing object could not be opened
    /// (`map_files` needs `CAP_SYS_ADMIN`) or read without waiting ([`ReadMode::Safe`]).
    NoBacking,
}

impl Skip {
    /// A short phrase for reports: `swapped out`, `not in page cache`...
    pub fn describe(self) -> &'static str {
        match self {
            Skip::Unreadable => "read failed",
            Skip::NotResident => "not resident",
            Skip::Swapped => "swapped out",
            Skip::NotCached => "not in page cache",
            Skip::NoBacking => "not mapped, backing file not readable",
        }
    }
}

/// One step of a [`RegionReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many bytes (at least 1) were put at the start of the buffer.
    Data(usize),
    /// Nothing was read from the position up to `end`.
    Skip {
        /// One past the last address skipped.
        end: u64,
        /// Why.
        why: Skip,
    },
}

/// What backs a region, as far as reading it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backed {
    /// A kernel special mapping (`[vdso]`...): always read through the process.
    Special,
    /// Private anonymous memory (heap, stacks, `[anon:NAME]`): an unmapped page holds zeros.
    Anonymous,
    /// A file or shmem object (or a device).
    Object,
}

/// Reads one region of a process according to a [`ReadMode`] (see there). Created by
/// [`MemReader::region`]; holds the region's backing object and page kinds once looked up.
#[derive(Debug)]
pub struct RegionReader<'a> {
    mem: &'a MemReader,
    start: u64,
    end: u64,
    offset: u64,
    shared: bool,
    backed: Backed,
    mode: ReadMode,
    backing: Option<Option<Backing>>,
    runs: Vec<PageRun>,
}

/// Page kinds are looked up this far ahead.
const RUNS_AHEAD: u64 = 32 << 20;

impl RegionReader<'_> {
    /// Reads from `pos` (inside the region) towards `end` into `buf` (not empty): at most
    /// `min(buf.len(), end - pos)` bytes, in one step of one kind.
    ///
    /// # Errors
    /// As [`MemReader::read`]; the page map cannot be read.
    pub fn next(&mut self, pos: u64, end: u64, buf: &mut [u8]) -> Result<Step> {
        let end = end.min(self.end);
        if self.backed == Backed::Special || self.mode == ReadMode::FaultIn {
            return self.memory(pos, end, buf);
        }
        if self.shared && self.mode == ReadMode::Safe {
            if self.backing_readable() {
                return self.read_backing(pos, end, buf);
            }
            let (kind, run_end) = self.run_at(pos)?;
            return match kind {
                PageKind::File | PageKind::Anonymous => self.memory(pos, run_end.min(end), buf),
                _ => Ok(Step::Skip {
                    end: run_end.min(end),
                    why: Skip::NoBacking,
                }),
            };
        }
        let (kind, run_end) = self.run_at(pos)?;
        let run_end = run_end.min(end);
        match (kind, self.mode) {
            (PageKind::File | PageKind::Anonymous, _) => self.memory(pos, run_end, buf),
            (_, ReadMode::ResidentOnly) => Ok(Step::Skip {
                end: run_end,
                why: Skip::NotResident,
            }),
            (PageKind::Swapped, _) => Ok(Step::Skip {
                end: run_end,
                why: Skip::Swapped,
            }),
            (PageKind::NotPresent, _) if self.backed == Backed::Anonymous => {
                Ok(zeros(pos, run_end, buf))
            }
            (PageKind::NotPresent, _) => {
                if self.backing_readable() {
                    return self.read_backing(pos, run_end, buf);
                }
                match self
                    .backing
                    .as_ref()
                    .and_then(|b| b.as_ref())
                    .map(Backing::kind)
                {
                    Some(BackingKind::Zero) => Ok(zeros(pos, run_end, buf)),
                    _ => Ok(Step::Skip {
                        end: run_end,
                        why: Skip::NoBacking,
                    }),
                }
            }
        }
    }

    fn memory(&self, pos: u64, end: u64, buf: &mut [u8]) -> Result<Step> {
        let n = (end - pos).min(buf.len() as u64) as usize;
        let got = self.mem.read(pos, &mut buf[..n])?;
        if got > 0 {
            return Ok(Step::Data(got));
        }
        Ok(Step::Skip {
            end: next_page(pos).min(end),
            why: Skip::Unreadable,
        })
    }

    /// Opens the backing object once; true when it can be read (a shmem object or a file).
    fn backing_readable(&mut self) -> bool {
        let (mem, start, end) = (self.mem, self.start, self.end);
        let b = self.backing.get_or_insert_with(|| {
            Backing::open(&mem.dir, start, end)
                .map_err(|e| log::debug!("map_files/{start:x}-{end:x}: {e}"))
                .ok()
        });
        matches!(
            b.as_ref().map(Backing::kind),
            Some(BackingKind::Shmem | BackingKind::File)
        )
    }

    fn read_backing(&mut self, pos: u64, end: u64, buf: &mut [u8]) -> Result<Step> {
        let n = (end - pos).min(buf.len() as u64) as usize;
        let off = self.offset + (pos - self.start);
        let Some(Some(b)) = &self.backing else {
            return Ok(Step::Skip {
                end,
                why: Skip::NoBacking,
            });
        };
        match b.read(off, &mut buf[..n]) {
            BackingRead::Data(k) => Ok(Step::Data(k)),
            BackingRead::NotCached => Ok(Step::Skip {
                end: next_page(pos).min(end),
                why: Skip::NotCached,
            }),
            BackingRead::End => Ok(Step::Skip {
                end,
                why: Skip::Unreadable,
            }),
            BackingRead::Failed => Ok(Step::Skip {
                end: next_page(pos).min(end),
                why: Skip::Unreadable,
            }),
            BackingRead::NoWaitUnsupported => {
                // This file system cannot say what is cached: read what the process maps.
                self.backing = Some(None);
                self.next(pos, end, buf)
            }
        }
    }

    /// The kind of the page at `pos` and the end of its run.
    fn run_at(&mut self, pos: u64) -> Result<(PageKind, u64)> {
        if let Some(r) = self.runs.iter().find(|r| r.start <= pos && pos < r.end) {
            return Ok((r.kind, r.end));
        }
        let from = pos / vm::page_size() * vm::page_size();
        let to = (from + RUNS_AHEAD).min(self.end).max(pos + 1);
        self.runs = self.mem.pagemap()?.runs(from, to)?;
        match self.runs.iter().find(|r| r.start <= pos && pos < r.end) {
            Some(r) => Ok((r.kind, r.end)),
            None => Err(self.mem.exited()),
        }
    }
}

fn next_page(pos: u64) -> u64 {
    (pos / vm::page_size() + 1) * vm::page_size()
}

fn zeros(pos: u64, end: u64, buf: &mut [u8]) -> Step {
    let n = (end - pos).min(buf.len() as u64) as usize;
    buf[..n].fill(0);
    Step::Data(n)
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            chunk: DEFAULT_CHUNK,
            keep: 0,
            mode: ReadMode::Safe,
        }
    }
}

impl MemReader {
    /// A reader for the process of `dir`. Nothing is opened until the first read.
    pub fn new(dir: &ProcDir) -> MemReader {
        let method = if dir.in_default_root() {
            METHOD_VM_READV
        } else {
            METHOD_PROC_MEM
        };
        MemReader {
            dir: dir.clone(),
            method: AtomicU8::new(method),
            mem: OnceLock::new(),
            pagemap: OnceLock::new(),
        }
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.dir.pid()
    }

    /// The method in use: `VmReadv` on `/proc` (until a fallback), `ProcMem` elsewhere.
    pub fn method(&self) -> Method {
        match self.method.load(Ordering::Relaxed) {
            METHOD_VM_READV => Method::VmReadv,
            _ => Method::ProcMem,
        }
    }

    /// Forces a method (tests and benchmarks compare them). `VmReadv` is only meaningful on
    /// memlink's own procfs.
    pub fn set_method(&self, m: Method) {
        let v = match m {
            Method::VmReadv => METHOD_VM_READV,
            Method::ProcMem => METHOD_PROC_MEM,
        };
        self.method.store(v, Ordering::Relaxed);
    }

    /// The system page size ([`vm::page_size`]).
    pub fn page_size(&self) -> u64 {
        vm::page_size()
    }

    /// Reads up to `buf.len()` bytes at `addr` with one system call. Returns how many bytes
    /// were read: fewer than asked when a page in the range is unreadable (the count stops at
    /// the first such page), 0 when the first page is.
    ///
    /// # Errors
    /// [`Error::ProcessExited`] when the process is gone, [`Error::PermissionDenied`] when it
    /// may not be read, [`Error::File`] when the procfs root has no `mem` file (a captured
    /// copy).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.method.load(Ordering::Relaxed) == METHOD_VM_READV {
            match vm::read(self.pid(), addr, buf) {
                Ok(n) => return Ok(n),
                Err(Errno::EFAULT) | Err(Errno::EIO) | Err(Errno::ENOMEM) => return Ok(0),
                Err(Errno::ESRCH) => return Err(self.exited()),
                Err(e @ (Errno::ENOSYS | Errno::EPERM)) => {
                    // Filtered or missing system call: ROOT/PID/mem may still work.
                    if self.mem_file().is_err() {
                        return Err(self.os_error("read the memory of", e as i32));
                    }
                    log::debug!("process_vm_readv failed ({e}); falling back to /proc/PID/mem");
                    self.method.store(METHOD_PROC_MEM, Ordering::Relaxed);
                }
                Err(e) => return Err(self.os_error("read the memory of", e as i32)),
            }
        }
        self.read_proc_mem(addr, buf)
    }

    fn exited(&self) -> Error {
        Error::ProcessExited {
            pid: self.pid(),
            during: "its memory was being read".into(),
        }
    }

    fn os_error(&self, action: &str, code: i32) -> Error {
        Error::from_errno(self.pid(), action, std::io::Error::from_raw_os_error(code))
    }

    /// Opens `name` of the process once (the result, or the errno, is kept in `slot`).
    fn opened<'a>(
        &self,
        slot: &'a OnceLock<std::result::Result<File, i32>>,
        name: &str,
        action: &str,
    ) -> Result<&'a File> {
        let r = slot.get_or_init(|| {
            self.dir
                .open_file(name)
                .map_err(|e| e.raw_os_error().unwrap_or(0))
        });
        match r {
            Ok(f) => Ok(f),
            // A process that is still there but has no such file: a procfs root that is a
            // captured copy rather than a live procfs. Say which file is missing.
            Err(code) if *code == libc::ENOENT && self.dir.exists() => Err(Error::File {
                path: self.dir.path().join(name),
                source: std::io::Error::from_raw_os_error(*code),
            }),
            Err(code) => Err(self.os_error(action, *code)),
        }
    }

    fn mem_file(&self) -> Result<&File> {
        self.opened(&self.mem, "mem", "read the memory of")
    }

    fn read_proc_mem(&self, addr: u64, buf: &mut [u8]) -> Result<usize> {
        let f = self.mem_file()?;
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], addr + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                // The kernel returns EIO for an unreadable page; a partial count before it.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EFAULT)) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(self.exited()),
                Err(e) => return Err(Error::from_errno(self.pid(), "read the memory of", e)),
            }
        }
        if done == 0 && !self.dir.exists() {
            return Err(self.exited());
        }
        Ok(done)
    }

    /// The page map, opened once.
    fn pagemap(&self) -> Result<&PageMap> {
        if let Some(p) = self.pagemap.get_or_init(|| PageMap::open(&self.dir).ok()) {
            return Ok(p);
        }
        match self.dir.open_file("pagemap") {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && self.dir.exists() => {
                Err(Error::File {
                    path: self.dir.path().join("pagemap"),
                    source: e,
                })
            }
            Err(e) => Err(self.dir.error("read the page map of", e)),
            // It opens now, after failing once: say so rather than retry behind the lock.
            Ok(_) => Err(Error::Os {
                op: format!("read the page map of process {}", self.pid()),
                source: std::io::Error::other("it could not be opened at first"),
            }),
        }
    }

    /// A reader of region `r` (or part of it) in `mode`.
    pub fn region(&self, r: &MemoryRegion, mode: ReadMode) -> RegionReader<'_> {
        let backed = if r.region_type == RegionType::Kernel {
            Backed::Special
        } else if r.inode == 0 && r.path.is_none() && !r.perms.contains(Perms::SHARED) {
            Backed::Anonymous
        } else {
            Backed::Object
        };
        RegionReader {
            mem: self,
            start: r.base_address as u64,
            end: r.end_address() as u64,
            offset: r.offset,
            shared: r.perms.contains(Perms::SHARED),
            backed,
            mode,
            backing: None,
            runs: Vec::new(),
        }
    }

    /// Reads `[start, end)` of region `r` in chunks, calling `f` for every span in address
    /// order until it returns false. Ranges not read become [`WalkSpan::Skipped`] and never
    /// stop the walk. Returns false when `f` stopped it.
    ///
    /// # Errors
    /// [`Error::ProcessExited`] when the process exits during the walk (spans before that
    /// were delivered), permission errors.
    pub fn walk(
        &self,
        r: &MemoryRegion,
        start: u64,
        end: u64,
        opts: &Walk,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(WalkSpan<'_>) -> bool,
    ) -> Result<bool> {
        let page = vm::page_size();
        let chunk = opts.chunk.max(page as usize);
        let keep = opts.keep.min(chunk);
        if buf.len() < chunk + keep {
            buf.resize(chunk + keep, 0);
        }
        let mut rr = self.region(r, opts.mode);
        let mut pos = start;
        let mut carried = 0usize;
        while pos < end {
            let n = (end - pos).min(chunk as u64) as usize;
            match rr.next(pos, pos + n as u64, &mut buf[carried..carried + n])? {
                Step::Data(got) => {
                    let total = carried + got;
                    if !f(WalkSpan::Data {
                        addr: pos - carried as u64,
                        data: &buf[..total],
                        carried,
                    }) {
                        return Ok(false);
                    }
                    pos += got as u64;
                    let next = keep.min(total);
                    buf.copy_within(total - next..total, 0);
                    carried = next;
                }
                Step::Skip { end: skip_end, why } => {
                    carried = 0;
                    let skip_end = skip_end.clamp(pos + 1, end);
                    if !f(WalkSpan::Skipped {
                        start: pos,
                        end: skip_end,
                        why,
                    }) {
                        return Ok(false);
                    }
                    pos = skip_end;
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_reader() -> MemReader {
        let root = std::path::Path::new(crate::platform::DEFAULT_PROC_ROOT);
        MemReader::new(&ProcDir::open(root, std::process::id()).unwrap())
    }

    /// The region of this process holding `addr`.
    fn own_region(addr: u64) -> MemoryRegion {
        crate::platform::regions(std::process::id(), false)
            .unwrap()
            .map(|r| r.unwrap())
            .find(|r| r.contains(addr as usize))
            .unwrap()
    }

    fn own_walk(data: &[u8], opts: Walk) -> (Vec<u8>, usize) {
        let r = own_reader();
        let start = data.as_ptr() as u64;
        let region = own_region(start);
        let mut out = Vec::new();
        let mut spans = 0;
        let mut buf = Vec::new();
        r.walk(
            &region,
            start,
            start + data.len() as u64,
            &opts,
            &mut buf,
            |p| {
                if let WalkSpan::Data {
                    addr,
                    data,
                    carried,
                } = p
                {
                    assert_eq!(addr + carried as u64, start + out.len() as u64);
                    out.extend_from_slice(&data[carried..]);
                    spans += 1;
                }
                true
            },
        )
        .unwrap();
        (out, spans)
    }

    #[test]
    fn walks_own_memory_in_chunks_with_carry() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let (out, spans) = own_walk(
            &data,
            Walk {
                chunk: 4096,
                keep: 15,
                mode: ReadMode::Safe,
            },
        );
        assert_eq!(out, data);
        assert!(spans >= 24, "{spans}");
    }

    #[test]
    fn proc_mem_fallback_reads_the_same() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13) as u8).collect();
        let r = own_reader();
        r.set_method(Method::ProcMem);
        let mut buf = vec![0; data.len()];
        assert_eq!(r.read(data.as_ptr() as u64, &mut buf).unwrap(), data.len());
        assert_eq!(buf, data);
    }

    #[test]
    fn unmapped_address_is_a_hole_not_an_error() {
        let r = own_reader();
        let mut holes = 0;
        let mut buf = Vec::new();
        // A region that is no longer mapped, read through the process.
        let mut gone = own_region(own_reader as *const () as u64);
        gone.base_address = 0x1000;
        gone.size = 0x4000;
        let opts = Walk {
            mode: ReadMode::FaultIn,
            ..Walk::default()
        };
        r.walk(&gone, 0x1000, 0x5000, &opts, &mut buf, |p| {
            assert!(matches!(
                p,
                WalkSpan::Skipped {
                    why: Skip::Unreadable,
                    ..
                }
            ));
            holes += 1;
            true
        })
        .unwrap();
        assert_eq!(holes, 4);
    }

    #[test]
    fn resident_only_reads_touched_pages() {
        let data = vec![1u8; 64 * 1024];
        let (out, _) = own_walk(
            &data,
            Walk {
                chunk: 8192,
                keep: 0,
                mode: ReadMode::ResidentOnly,
            },
        );
        assert_eq!(out, data);
    }

    /// Never-touched private anonymous pages read as zeros without being faulted in.
    /// The mapping is the test's own: a zeroed `Vec` may come from a reused, already
    /// touched arena once glibc's dynamic mmap threshold has grown.
    #[test]
    fn untouched_anonymous_pages_read_as_zeros_without_faulting() {
        let len = 4 << 20;
        let m = crate::platform::linux::pagemap::sys::TestMapping::new(len);
        let page = vm::page_size();
        let first = m.base();
        let r = own_reader();
        let region = own_region(first);
        let kind = |a: u64| r.pagemap().unwrap().runs(a, a + page).unwrap()[0].kind;
        let mid = first + (len as u64 / 2) / page * page;
        assert_eq!(kind(mid), PageKind::NotPresent);
        let mut buf = vec![1u8; 8192];
        let mut rr = r.region(&region, ReadMode::Safe);
        assert_eq!(
            rr.next(mid, mid + 8192, &mut buf).unwrap(),
            Step::Data(8192)
        );
        assert!(buf.iter().all(|&b| b == 0));
        assert_eq!(
            kind(mid),
            PageKind::NotPresent,
            "the read faulted the page in"
        );
        drop(m);
    }
}
