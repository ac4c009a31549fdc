//! The few raw calls that `nix` does not wrap: the tracee's signal mask and the pidfd calls.
//! Each is a thin `libc` wrapper; everything that decides what to call lives in safe code.
#![allow(unsafe_code, reason = "raw libc calls that nix does not wrap")]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `PTRACE_GETSIGMASK` (Linux 3.11).
const PTRACE_GETSIGMASK: libc::c_uint = 0x420a;
/// `PTRACE_SETSIGMASK` (Linux 3.11).
const PTRACE_SETSIGMASK: libc::c_uint = 0x420b;

/// Reads the blocked-signal mask of the stopped tracee `tid`.
///
/// # References
/// ptrace(2), `PTRACE_GETSIGMASK`; since Linux 5.2 it returns the saved "real" mask while the
/// thread sits in `ppoll`/`pselect`/`sigsuspend` with a temporary mask.
pub fn get_sigmask(tid: i32) -> io::Result<u64> {
    let mut mask: u64 = 0;
    // SAFETY: `mask` is a live, writable 8-byte buffer and addr = 8 tells the kernel its size;
    // the kernel writes exactly 8 bytes and keeps no reference after the call.
    let r = unsafe {
        libc::ptrace(
            PTRACE_GETSIGMASK,
            tid,
            std::mem::size_of::<u64>(),
            &mut mask as *mut u64,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(mask)
}

/// Sets the blocked-signal mask of the stopped tracee `tid` (SIGKILL/SIGSTOP stay deliverable).
pub fn set_sigmask(tid: i32, mask: u64) -> io::Result<()> {
    // SAFETY: `mask` is a live 8-byte value that the kernel only reads during the call.
    let r = unsafe {
        libc::ptrace(
            PTRACE_SETSIGMASK,
            tid,
            std::mem::size_of::<u64>(),
            &mask as *const u64,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pidfd_open(pid, 0)` (Linux 5.3).
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: the syscall takes two integers and returns a new fd or -1; no memory is shared.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0 as libc::c_uint) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success `r` is a freshly created fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// `pidfd_getfd(pidfd, targetfd, 0)` (Linux 5.6): a duplicate of another process's fd.
pub fn pidfd_getfd(pidfd: &OwnedFd, fd: i32) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: integer arguments only; `pidfd` is borrowed and stays open during the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd as libc::c_int,
            0 as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success `r` is a freshly created fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}
