//! The one home of remote memory I/O and of the page size.
//!
//! Every read or write of another process's memory goes through [`read`] or [`write()`]:
//! `process_vm_readv(2)`/`process_vm_writev(2)` with one local and one remote buffer, which copy
//! once and stop nothing. They return how many bytes moved (a short count means the next page
//! is unmapped or not accessible) or the raw errno, so each caller maps errors to its own
//! wording. Remote addresses are numbers, never Rust pointers.
//!
//! # References
//! `process_vm_readv(2)` (Linux 3.2), `sysconf(3)`.

use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

/// Reads up to `buf.len()` bytes at `addr` of process `pid`; returns how many were read.
///
/// # Errors
/// The errno of `process_vm_readv(2)`: `ESRCH` (gone), `EPERM` (not permitted), `EFAULT`/`EIO`
/// (nothing readable at `addr`), `ENOSYS` (filtered).
pub fn read(pid: u32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: buf.len(),
    }];
    process_vm_readv(
        Pid::from_raw(pid as i32),
        &mut [std::io::IoSliceMut::new(buf)],
        &remote,
    )
}

/// Writes up to `data.len()` bytes at `addr` of process `pid`; returns how many were written.
///
/// # Errors
/// The errno of `process_vm_writev(2)`, as for [`read`].
pub fn write(pid: u32, addr: u64, data: &[u8]) -> Result<usize, Errno> {
    if data.is_empty() {
        return Ok(0);
    }
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: data.len(),
    }];
    process_vm_writev(
        Pid::from_raw(pid as i32),
        &[std::io::IoSlice::new(data)],
        &remote,
    )
}

/// The system's page size in bytes (4096 when `sysconf` cannot say).
pub fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |v| v as u64)
    })
}
