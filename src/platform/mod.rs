//! The one platform API. Each operating system has a private backend implementing the private
//! `Backend` trait, so that a backend missing an operation fails to compile; operations a
//! platform cannot provide return [`Error::Unsupported`](crate::Error::Unsupported). Nothing
//! outside this module names a backend: features use what is re-exported here.
//!
//! - [`ProcDir`], the process handle: opened once per process ([`open_process`] checks which
//!   process it is, that it is alive, not a zombie, not a kernel thread), then every read of
//!   the process goes through it: [`regions_of`], [`rollup_of`], [`process_info_of`] and the
//!   memory reader [`MemReader`] (with its walk options [`Walk`] and the [`WalkSpan`]s it
//!   reports, on Linux).
//! - [`PageMap`], what backs each page of a range (page cache, private anonymous copy, swap),
//!   on Linux.
//! - [`Regions`], the stream of a process's regions in address order.
//! - The link operations behind [`crate::link::MemoryLinker`].
//!
//! Linux is the implemented and tested platform. macOS and Windows are small `cfg`'d stubs that
//! say what they do not support (only the Linux standard library is available where memlink is
//! built and tested, so they are not even type-checked there).

use std::path::Path;

use crate::error::Result;
use crate::link::request::{LinkPartners, LinkReport, LinkRequest, UnlinkReport, UnlinkRequest};
use crate::proc::smaps::Rollup;
use crate::process::ProcessInfo;
#[cfg(not(target_os = "linux"))]
use crate::region::MemoryRegion;

#[cfg(target_os = "linux")]
mod linux;
/// The eBPF probes of `memlink leaks` (Linux only).
#[cfg(all(target_os = "linux", feature = "leaks"))]
pub use linux::bpf::{
    decode as decode_bpf_event, Drops as BpfDrops, ProbeProgram, Probes, RawEvent,
    STACK_BYTES as BPF_STACK_BYTES,
};
#[cfg(target_os = "linux")]
use linux::Native;
#[cfg(target_os = "linux")]
pub use linux::{page_runs, PageKind, PageMap, PageMethod, PageRun};
#[cfg(target_os = "linux")]
pub use linux::{
    page_size, MemReader, Method, ProcDir, ReadMode, RegionReader, Skip, Step, Walk, WalkSpan,
    DEFAULT_CHUNK,
};

#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
use unsupported::Native;
#[cfg(not(target_os = "linux"))]
pub use unsupported::{MemReader, ProcDir};

/// The default procfs mount: memlink's own, where PIDs are memlink's PIDs.
pub const DEFAULT_PROC_ROOT: &str = "/proc";

/// What every backend provides.
trait Backend {
    /// Opens the handle of process `pid` in procfs `root`, checking that it is a live user
    /// process.
    fn open(root: &Path, pid: u32) -> Result<ProcDir>;
    /// Starts enumerating a process's regions, in address order; `detailed` adds `smaps` figures.
    fn regions(dir: &ProcDir, detailed: bool) -> Result<Regions>;
    /// Totals over every region, without per-region work.
    fn rollup(dir: &ProcDir) -> Result<Rollup>;
    /// Facts about the process.
    fn process_info(dir: &ProcDir) -> Result<ProcessInfo>;
    /// A reader of the process's memory.
    fn memory(dir: &ProcDir) -> MemReader;
    /// Checks a link request's arguments (page size and address-space bounds are per platform).
    fn link_check_args(req: &LinkRequest) -> Result<()>;
    /// Runs a link (or its pre-flight checks).
    fn link(req: &LinkRequest) -> Result<LinkReport>;
    /// Turns a linked range back into private memory.
    fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport>;
    /// The shared memfd ranges of `pid` that other processes map too.
    fn link_partners(pid: u32) -> Result<Vec<LinkPartners>>;
}

/// A stream of regions, in address order.
#[cfg(target_os = "linux")]
pub type Regions = linux::RegionStream;
/// A stream of regions, in address order.
#[cfg(not(target_os = "linux"))]
pub type Regions = crate::region::view::Owned<std::iter::Empty<Result<MemoryRegion>>>;

/// Opens process `pid` in the procfs mounted at `root` and checks, once, that it is a live
/// user process. Every other call of this module that takes a [`ProcDir`] reuses the handle.
///
/// # Errors
/// [`NoSuchProcess`](crate::Error::NoSuchProcess), [`Zombie`](crate::Error::Zombie),
/// [`KernelThread`](crate::Error::KernelThread), [`PermissionDenied`](crate::Error::PermissionDenied),
/// [`InvalidArgument`](crate::Error::InvalidArgument) for PID 0.
pub fn open_process(root: &Path, pid: u32) -> Result<ProcDir> {
    Native::open(root, pid)
}

/// Enumerates the regions of the process of `dir`.
///
/// # Errors
/// The map cannot be opened; items of the stream may be
/// [`ProcessExited`](crate::Error::ProcessExited) or a parse error.
pub fn regions_of(dir: &ProcDir, detailed: bool) -> Result<Regions> {
    Native::regions(dir, detailed)
}

/// Enumerates the regions of process `pid`, reading procfs at `root`.
///
/// # Errors
/// As [`open_process`] and [`regions_of`].
pub fn regions_in(root: &Path, pid: u32, detailed: bool) -> Result<Regions> {
    regions_of(&open_process(root, pid)?, detailed)
}

/// Enumerates the regions of process `pid` from [`DEFAULT_PROC_ROOT`].
///
/// # Errors
/// As [`regions_in`].
pub fn regions(pid: u32, detailed: bool) -> Result<Regions> {
    regions_in(Path::new(DEFAULT_PROC_ROOT), pid, detailed)
}

/// The range of this process's highest mapping (the last line of `/proc/self/maps` on Linux),
/// which tells how wide another process's addresses print on the same system; `None` where it
/// cannot be read.
pub fn own_highest_mapping() -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        let maps = std::fs::read("/proc/self/maps").ok()?;
        let body = maps.strip_suffix(b"\n").unwrap_or(&maps);
        let last = body.rsplit(|&c| c == b'\n').next()?;
        let line = crate::proc::maps::parse_line(last, 0).ok()?;
        Some((line.start, line.end))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The process's totals (`smaps_rollup` on Linux).
///
/// # Errors
/// The totals cannot be read, or the process exited meanwhile.
pub fn rollup_of(dir: &ProcDir) -> Result<Rollup> {
    Native::rollup(dir)
}

/// The totals of process `pid` in procfs `root` (see [`rollup_of`]).
///
/// # Errors
/// As [`open_process`] and [`rollup_of`].
pub fn rollup_in(root: &Path, pid: u32) -> Result<Rollup> {
    rollup_of(&open_process(root, pid)?)
}

/// Facts about the process of `dir`.
///
/// # Errors
/// `stat` or `status` cannot be read (the process exited) or parsed.
pub fn process_info_of(dir: &ProcDir) -> Result<ProcessInfo> {
    Native::process_info(dir)
}

/// Facts about process `pid` in procfs `root`, whatever its state (a zombie or a kernel
/// thread too).
///
/// # Errors
/// As [`process_info_of`], or no such process.
pub fn process_info_in(root: &Path, pid: u32) -> Result<ProcessInfo> {
    process_info_of(&ProcDir::open(root, pid)?)
}

/// A reader of the memory of the process of `dir`: `process_vm_readv(2)` on `/proc`, the
/// procfs `mem` file under any other root (see [`MemReader`]).
pub fn memory_of(dir: &ProcDir) -> MemReader {
    Native::memory(dir)
}

/// Checks a link request's arguments alone.
///
/// # Errors
/// The arguments do not fit this platform (page alignment, address-space bounds).
pub fn link_check_args(req: &LinkRequest) -> Result<()> {
    Native::link_check_args(req)
}

/// Runs a link request (see [`crate::link::MemoryLinker::link`]).
///
/// # Errors
/// See [`crate::link::MemoryLinker::link`].
pub fn link(req: &LinkRequest) -> Result<LinkReport> {
    Native::link(req)
}

/// Runs an unlink request (see [`crate::link::MemoryLinker::unlink`]).
///
/// # Errors
/// See [`crate::link::MemoryLinker::unlink`].
pub fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport> {
    Native::unlink(req)
}

/// See [`crate::link::link_partners`].
///
/// # Errors
/// See [`crate::link::link_partners`].
pub fn link_partners(pid: u32) -> Result<Vec<LinkPartners>> {
    Native::link_partners(pid)
}
