//! The Linux backend: procfs for maps and figures, read through one process handle
//! ([`ProcDir`], an `O_PATH` descriptor of `/proc/PID`); `process_vm_readv(2)` or the procfs
//! `mem` file for contents ([`MemReader`]); ptrace and memfds for links. Private to
//! [`crate::platform`], which re-exports what features use.

#[cfg(feature = "leaks")]
pub mod bpf;
mod link;
mod mapfiles;
mod mem;
mod pagemap;
mod procdir;
mod ptrace;
mod regions;
mod stacklayout;
mod vm;

use std::path::Path;

use super::Backend;
use crate::error::{Error, Result};
use crate::link::request::{LinkPartners, LinkReport, LinkRequest, UnlinkReport, UnlinkRequest};
use crate::proc::smaps::{self, Rollup};
use crate::process::ProcessInfo;
use crate::region::escape_path;

pub use mem::{
    MemReader, Method, ReadMode, RegionReader, Skip, Step, Walk, WalkSpan, DEFAULT_CHUNK,
};
pub use pagemap::{page_runs, PageKind, PageMap, PageMethod, PageRun};
pub use procdir::ProcDir;
pub use regions::RegionStream;
pub use vm::page_size;

pub(super) struct Native;

impl Backend for Native {
    fn open(root: &Path, pid: u32) -> Result<ProcDir> {
        ProcDir::open_live(root, pid)
    }

    fn regions(dir: &ProcDir, detailed: bool) -> Result<RegionStream> {
        RegionStream::open(dir.clone(), detailed)
    }

    fn rollup(dir: &ProcDir) -> Result<Rollup> {
        let pid = dir.pid();
        let bytes = match dir.read("smaps_rollup") {
            Ok(b) => b,
            // Kernels before 4.14 have no smaps_rollup: sum smaps instead (slower, same totals).
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && dir.is_alive() => {
                return rollup_from_smaps(dir.clone());
            }
            Err(e) => return Err(dir.error("read the memory totals of", e)),
        };
        match smaps::parse_rollup(&bytes)? {
            Some(r) => Ok(r),
            None if !dir.is_alive() => Err(Error::ProcessExited {
                pid,
                during: "its memory totals were being read".into(),
            }),
            None => Ok(Rollup::default()),
        }
    }

    fn process_info(dir: &ProcDir) -> Result<ProcessInfo> {
        let pid = dir.pid();
        let stat = dir.stat()?;
        let status = dir.status()?;
        Ok(ProcessInfo {
            pid,
            name: escape_path(&status.name),
            state: status.state as char,
            ppid: status.ppid,
            uid: status.uid[0],
            threads: status.threads,
            tracer_pid: status.tracer_pid,
            ns_pid: status.ns_pid.last().copied().unwrap_or(pid),
            kernel_thread: stat.is_kernel_thread(),
            start_time: stat.start_time,
        })
    }

    fn memory(dir: &ProcDir) -> MemReader {
        MemReader::new(dir)
    }

    fn link_check_args(req: &LinkRequest) -> Result<()> {
        link::check_args(req)
    }

    fn link(req: &LinkRequest) -> Result<LinkReport> {
        link::link(req)
    }

    fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport> {
        link::unlink::unlink(req)
    }

    fn link_partners(pid: u32) -> Result<Vec<LinkPartners>> {
        link::partners(pid)
    }
}

/// Totals summed over `smaps`, for kernels without `smaps_rollup`.
fn rollup_from_smaps(dir: ProcDir) -> Result<Rollup> {
    let mut rollup = Rollup::default();
    let u = &mut rollup.usage;
    for r in RegionStream::open(dir, true)? {
        let r = r?;
        let v = r.usage.unwrap_or_default();
        if rollup.start == 0 {
            rollup.start = r.base_address as u64;
        }
        rollup.end = r.end_address() as u64;
        u.add(&v);
    }
    Ok(rollup)
}
