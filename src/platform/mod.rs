//! The one platform API. Each operating system has a backend implementing the private
//! `Backend` trait, so that a backend missing an operation fails to compile; operations a
//! platform cannot provide return [`Error::Unsupported`](crate::Error::Unsupported).
//!
//! Linux is the implemented and tested platform. macOS and Windows are small `cfg`'d stubs that
//! say what they do not support (only the Linux standard library is available where memlink is
//! built and tested, so they are not even type-checked there).

use std::path::Path;

use crate::error::Result;
use crate::link::{LinkPartners, LinkReport, LinkRequest, UnlinkReport, UnlinkRequest};
use crate::proc::smaps::Rollup;
use crate::process::ProcessInfo;
#[cfg(not(target_os = "linux"))]
use crate::region::MemoryRegion;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
use linux::Native;

#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
use unsupported::Native;

/// The default procfs mount.
pub const DEFAULT_PROC_ROOT: &str = "/proc";

/// What every backend provides.
trait Backend {
    /// Starts enumerating a process's regions, in address order; `detailed` adds `smaps` figures.
    fn regions(root: &Path, pid: u32, detailed: bool) -> Result<Regions>;
    /// Totals over every region, without per-region work.
    fn rollup(root: &Path, pid: u32) -> Result<Rollup>;
    /// Facts about the process.
    fn process_info(root: &Path, pid: u32) -> Result<ProcessInfo>;
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

/// Enumerates the regions of process `pid`, reading procfs at `root`.
///
/// # Errors
/// [`NoSuchProcess`](crate::Error::NoSuchProcess), [`Zombie`](crate::Error::Zombie),
/// [`KernelThread`](crate::Error::KernelThread), [`PermissionDenied`](crate::Error::PermissionDenied);
/// items of the stream may be [`ProcessExited`](crate::Error::ProcessExited) or a parse error.
pub fn regions_in(root: &Path, pid: u32, detailed: bool) -> Result<Regions> {
    Native::regions(root, pid, detailed)
}

/// Enumerates the regions of process `pid` from `/proc`.
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

/// The process's totals (`/proc/PID/smaps_rollup` on Linux).
pub fn rollup_in(root: &Path, pid: u32) -> Result<Rollup> {
    Native::rollup(root, pid)
}

/// Facts about process `pid`.
pub fn process_info_in(root: &Path, pid: u32) -> Result<ProcessInfo> {
    Native::process_info(root, pid)
}

/// Checks a link request's arguments alone.
pub fn link_check_args(req: &LinkRequest) -> Result<()> {
    Native::link_check_args(req)
}

/// Runs a link request (see [`crate::link::MemoryLinker::link`]).
pub fn link(req: &LinkRequest) -> Result<LinkReport> {
    Native::link(req)
}

/// Runs an unlink request (see [`crate::link::MemoryLinker::unlink`]).
pub fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport> {
    Native::unlink(req)
}

/// See [`crate::link::link_partners`].
pub fn link_partners(pid: u32) -> Result<Vec<LinkPartners>> {
    Native::link_partners(pid)
}
