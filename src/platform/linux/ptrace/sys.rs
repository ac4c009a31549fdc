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

/// `NT_X86_XSTATE`: the XSAVE area as a regset.
const NT_X86_XSTATE: libc::c_int = 0x202;

/// The XSAVE image of the stopped tracee `tid` (`PTRACE_GETREGSET NT_X86_XSTATE`: standard
/// format, as large as the kernel's user XSAVE size), or `ENODEV` on a CPU without XSAVE.
///
/// # References
/// ptrace(2) `PTRACE_GETREGSET`; Linux `arch/x86/kernel/fpu/regset.c` (`xstateregs_get`).
pub fn get_xstate(tid: i32) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, live and writable for its whole length during the call;
    // the kernel writes at most `iov_len` bytes and stores the length it wrote in `iov_len`.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            NT_X86_XSTATE as usize,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    let n = iov.iov_len.min(buf.len());
    buf.truncate(n);
    Ok(buf)
}

/// The end (offset + size) of XSAVE component `i` in the standard format, from CPUID leaf
/// 0xD sub-leaf `i`; `None` off x86_64 or for an unknown component.
pub fn xsave_component_end(i: u32) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: CPUID exists on every x86_64 CPU and only reads identification registers;
        // leaf 0xD is the XSAVE leaf, whose sub-leaves report (size, offset) per component.
        #[allow(unused_unsafe)]
        let r = unsafe { std::arch::x86_64::__cpuid_count(0xd, i) };
        (r.eax != 0).then_some(r.eax + r.ebx)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = i;
        None
    }
}
