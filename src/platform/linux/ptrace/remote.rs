//! Running one system call inside a stopped tracee, without writing any code into it.
//!
//! The `syscall` instruction comes from the tracee's own vDSO (`0f 05`). The injection thread's
//! registers and signal mask are saved once. Signals are blocked only while one injected call
//! is in flight.
//!
//! Two sets of registers are written back. *Between* calls, after each one, the thread gets the
//! *resume* registers (a thread stopped inside a restartable system call re-issues it, or
//! `restart_syscall`, with `orig_rax = -1`) and its original mask: if memlink dies between two
//! calls, the thread continues from a syscall-exit stop, where the kernel makes no restart
//! decision of its own, and the manual restart is the best it can get. *After the last call*
//! ([`Session::release`]), memlink brings the thread from its syscall-exit stop to a
//! `PTRACE_EVENT_STOP` inside the kernel's signal handling (`PTRACE_INTERRUPT`, then
//! `PTRACE_CONT` with every signal blocked) and writes the *original* registers and mask
//! there: after the detach the kernel makes the same handler-aware decision as for a thread
//! memlink never touched (restart, `-EINTR` for a handler without `SA_RESTART`,
//! `restart_syscall`), so a `pause`, `sigsuspend` or `read` interrupted by a signal that
//! arrived meanwhile returns `EINTR` instead of being silently re-issued.
//!
//! memlink may die at any instant (SIGKILL, the OOM killer): the kernel then detaches the
//! tracee wherever it is. Every state the injection thread can be in is safe unsupervised:
//! before each call [`Session::prepare`] has written a return frame ([`super::frame`]) below
//! the thread's red zone, and every injected call runs with `rbp` at its chain, so a thread
//! left inside (or at the exit of) an injected call finishes it and returns through
//! `rt_sigreturn` to its original context; between calls it holds the resume registers;
//! during the release it holds registers that run `rt_sigreturn` at once. The signal mask is
//! always written before the registers that depend on it (the original mask before the resume
//! registers), and the injected stack pointer lies below the frame, so even a signal handler
//! run on the injected context (memlink killed between writing the registers and the mask)
//! returns into the chain intact.
//!
//! x86_64 only; on other architectures [`Session::prepare`] returns `Unsupported`.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::platform::linux::link::pid_path;
use crate::platform::linux::vm;

use super::frame::{self, Layout};
use super::sys;
use super::tracee::{Event, ProcId, Session, PTRACE_EVENT_STOP};

/// Linux restart codes seen in `rax` of a thread stopped inside a system call.
const ERESTARTSYS: i64 = -512;
const ERESTARTNOINTR: i64 = -513;
const ERESTARTNOHAND: i64 = -514;
const ERESTART_RESTARTBLOCK: i64 = -516;

/// System call numbers used by the link sequence.
#[allow(missing_docs)]
pub mod nr {
    pub const CLOSE: u64 = 3;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const MREMAP: u64 = 25;
    pub const RECVMSG: u64 = 47;
    pub const SOCKETPAIR: u64 = 53;
    pub const FTRUNCATE: u64 = 77;
    pub const RESTART_SYSCALL: u64 = 219;
    pub const MEMFD_CREATE: u64 = 319;
    pub const PIDFD_OPEN: u64 = 434;
    pub const PIDFD_GETFD: u64 = 438;
}

/// The injection thread of one process: its saved state and the gadget address.
#[derive(Debug, Clone)]
pub struct Injector {
    /// The thread.
    pub tid: i32,
    /// Address of a `syscall` instruction in the tracee.
    pub gadget: u64,
    #[cfg(target_arch = "x86_64")]
    resume: libc::user_regs_struct,
    /// The registers the thread was stopped with, written back in [`Session::release`].
    #[cfg(target_arch = "x86_64")]
    saved: libc::user_regs_struct,
    mask: u64,
    /// Where the return frame lies on the thread's stack.
    frame: Layout,
    /// The address of the process's `rt_sigreturn` sequence (`__restore_rt`).
    restore_rt: u64,
    /// Whether a call was injected (the thread then sits in a syscall-exit stop).
    injected: bool,
    /// Whether a seccomp filter may reject our calls (SIGSYS is checked after each call only
    /// then: without a filter no SIGSYS can come from seccomp).
    seccomp: bool,
}

/// The resume registers for a thread stopped with `saved` (see the design table):
/// re-issue an interrupted restartable call, or `restart_syscall` for `-ERESTART_RESTARTBLOCK`.
#[cfg(target_arch = "x86_64")]
pub fn resume_regs(saved: &libc::user_regs_struct) -> libc::user_regs_struct {
    let mut r = *saved;
    if (saved.orig_rax as i64) >= 0 {
        match saved.rax as i64 {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
                r.rax = saved.orig_rax;
                r.rip = saved.rip.wrapping_sub(2);
            }
            ERESTART_RESTARTBLOCK => {
                r.rax = nr::RESTART_SYSCALL;
                r.rip = saved.rip.wrapping_sub(2);
            }
            _ => {}
        }
    }
    r.orig_rax = u64::MAX;
    r
}

/// Reads up to `len` bytes at `addr` of process `pid` (fewer when the next page is unmapped).
pub fn read_remote(pid: u32, addr: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let n = vm::read(pid, addr, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

impl Injector {
    /// The highest address below which memlink's calls may keep their data (the memfd name,
    /// a message header): the return frame's chain. [`frame::SCRATCH_ROOM`] bytes below it
    /// are free down to the injected stack pointer.
    pub fn scratch_top(&self) -> u64 {
        self.frame.chain
    }

    /// Writes the original signal mask, then the resume registers back (in that order: until
    /// the registers change, the thread would still return through the frame, which restores
    /// the mask itself). Errors are ignored: this runs on paths that are already failing, and
    /// a vanished thread needs nothing.
    pub fn restore(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let _ = sys::set_sigmask(self.tid, self.mask);
            let _ = ptrace::setregs(Pid::from_raw(self.tid), self.resume);
        }
    }

    /// Registers that run `rt_sigreturn` from the frame at once: what the thread holds while
    /// memlink brings it to its final event stop with every signal blocked.
    #[cfg(target_arch = "x86_64")]
    fn sigreturn_now(&self) -> libc::user_regs_struct {
        let mut r = self.resume;
        r.rip = self.restore_rt;
        r.rsp = self.frame.frame + 8;
        r.orig_rax = u64::MAX;
        r
    }
}

/// The context the frame restores for a thread stopped with `r`.
#[cfg(target_arch = "x86_64")]
fn context_of(r: &libc::user_regs_struct) -> frame::Context {
    let c = frame::Context {
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rdi: r.rdi,
        rsi: r.rsi,
        rbp: r.rbp,
        rbx: r.rbx,
        rdx: r.rdx,
        rax: r.rax,
        rcx: r.rcx,
        rsp: r.rsp,
        rip: r.rip,
        eflags: r.eflags,
        cs: r.cs as u16,
        ss: r.ss as u16,
    };
    frame::restart_context(c, r.orig_rax)
}

/// The size of the XSAVE image a signal frame carries for a thread whose ptrace image is
/// `regset`, and the features it restores: up to the end of the highest component the thread
/// holds (CPUID leaf 0xD says where each ends), never less than the legacy area and header.
fn xsave_extent(regset: &[u8]) -> Option<(usize, u64)> {
    let xcr0 = frame::xcr0_of(regset)?;
    let held = frame::xstate_bv(regset)? | 3;
    let mut size = frame::XSAVE_MIN;
    for i in 2..64u32 {
        if (xcr0 & held) >> i & 1 == 1 {
            size = size.max(sys::xsave_component_end(i)? as usize);
        }
    }
    if size > regset.len() {
        return None;
    }
    let mut features = 3;
    for i in 2..64u32 {
        if xcr0 >> i & 1 == 1 && sys::xsave_component_end(i).is_some_and(|e| e as usize <= size) {
            features |= 1 << i;
        }
    }
    Some((size, features))
}

impl Session {
    /// Chooses the injection thread of process `id` (the first stopped thread), saves its
    /// registers and mask, and finds a `syscall` gadget.
    ///
    /// # Errors
    /// `Unsupported` off x86_64 and for 32-bit tracees; `ENOEXEC` when no gadget is found.
    pub fn prepare(&mut self, id: ProcId) -> Result<()> {
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = id;
            return Err(Error::Unsupported {
                op: "injecting system calls",
                platform: std::env::consts::ARCH,
            });
        }
        #[cfg(target_arch = "x86_64")]
        {
            let pid = self.proc(id).pid;
            let tid = *self.proc(id).threads.first().ok_or(Error::ProcessExited {
                pid,
                during: "being stopped".into(),
            })?;
            let saved = match ptrace::getregs(Pid::from_raw(tid)) {
                Ok(r) => r,
                Err(e) => return self.thread_error(id, tid, e, "reading its registers"),
            };
            if saved.cs == 0x23 {
                return Err(Error::Unsupported {
                    op: "linking memory of a 32-bit process",
                    platform: "x86_64 (ia32 tracee)",
                });
            }
            let mask = match sys::get_sigmask(tid) {
                Ok(m) => m,
                Err(e) => return self.thread_error(id, tid, errno(&e), "reading its signal mask"),
            };
            let maps = crate::platform::linux::link::smaps_of(pid)?;
            check_shadow_stack(pid, tid)?;
            let gadget = find_vdso_gadget(pid, &maps).ok_or_else(|| Error::Refused {
                pid,
                reason: "its vDSO has no `syscall; leave; ...; ret` sequence (another kernel?): \
                         memlink needs one to return an unsupervised thread through rt_sigreturn"
                    .into(),
            })?;
            let restore_rt = find_restore_rt(pid, &maps).ok_or_else(|| Error::Refused {
                pid,
                reason: "no rt_sigreturn sequence (`mov $15,%rax; syscall`) in its code".into(),
            })?;
            let seccomp = std::fs::read(pid_path(pid, "status"))
                .ok()
                .and_then(|b| crate::proc::status::parse(&b).ok())
                .is_none_or(|s| s.seccomp != 0);
            let frame = self.write_frame(id, tid, &saved, mask, restore_rt, &maps)?;
            self.proc_mut(id).injector = Some(Injector {
                tid,
                gadget,
                resume: resume_regs(&saved),
                saved,
                mask,
                frame,
                restore_rt,
                injected: false,
                seccomp,
            });
            Ok(())
        }
    }

    /// Writes the return frame of thread `tid` (stopped with `saved` and `mask`) below its red
    /// zone; where it lies.
    ///
    /// # Errors
    /// `Refused` when the thread's XSAVE image cannot be read or its stack mapping has no room
    /// for the frame (nothing has been changed then).
    #[cfg(target_arch = "x86_64")]
    fn write_frame(
        &mut self,
        id: ProcId,
        tid: i32,
        saved: &libc::user_regs_struct,
        mask: u64,
        restore_rt: u64,
        maps: &[crate::proc::smaps::SmapsEntry],
    ) -> Result<Layout> {
        let pid = self.proc(id).pid;
        let regset = match sys::get_xstate(tid) {
            Ok(r) => r,
            Err(e) => return self.thread_error(id, tid, errno(&e), "reading its XSAVE state"),
        };
        let refused = |reason: String| Error::Refused { pid, reason };
        let (xsize, features) = xsave_extent(&regset)
            .ok_or_else(|| refused(format!("thread {tid}: unusable XSAVE image")))?;
        let fp = frame::fpstate_image(&regset, xsize, features)
            .ok_or_else(|| refused(format!("thread {tid}: unusable XSAVE image")))?;
        let sp = saved.rsp;
        let l = frame::layout(sp, xsize)
            .ok_or_else(|| refused(format!("thread {tid}: stack pointer {sp:#x} too low")))?;
        let room = maps.iter().any(|m| {
            m.start <= l.lowest
                && sp <= m.end
                && m.perms.contains(crate::region::Perms::WRITE)
                && !m.perms.contains(crate::region::Perms::SHARED)
        });
        if !room {
            return Err(refused(format!(
                "thread {tid}: its stack has no room for memlink's return frame ({} bytes below \
                 its stack pointer {sp:#x})",
                sp - l.lowest
            )));
        }
        let img = frame::image(&l, &context_of(saved), mask, restore_rt, &fp);
        match vm::write(pid, l.chain, &img) {
            Ok(n) if n == img.len() => Ok(l),
            Ok(_) => Err(refused(format!(
                "thread {tid}: could not write the return frame at {:#x}",
                l.chain
            ))),
            Err(e) => Err(Error::from_errno(pid, "write the memory of", e.into())),
        }
    }

    /// Runs system call `nr` with `args` in process `id`'s injection thread and returns the raw
    /// result (a negative errno on failure). Interrupted calls (`-512..-516`) are issued again.
    ///
    /// # Errors
    /// `ProcessExited` when the process dies (it is then marked dead), `ETIMEDOUT` after
    /// `timeout`, `EPERM` when seccomp rejected the call with SIGSYS or another signal was forced.
    pub fn remote_syscall(
        &mut self,
        id: ProcId,
        nr: u64,
        args: [u64; 6],
        timeout: Duration,
    ) -> Result<i64> {
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (id, nr, args, timeout);
            return Err(Error::Unsupported {
                op: "injecting system calls",
                platform: std::env::consts::ARCH,
            });
        }
        #[cfg(target_arch = "x86_64")]
        {
            let pid = self.proc(id).pid;
            if self.proc(id).dead {
                return Err(Error::ProcessExited {
                    pid,
                    during: "the link".into(),
                });
            }
            let inj = self
                .proc(id)
                .injector
                .clone()
                .ok_or(Error::InvalidArgument(
                    "internal: no injection thread prepared".into(),
                ))?;
            if let Some(i) = self.proc_mut(id).injector.as_mut() {
                i.injected = true;
            }
            for _attempt in 0..8 {
                let r = self.one_call(id, &inj, nr, args, timeout);
                // Whatever happened, put the thread back first (rule: borrowed state only while
                // one call is in flight).
                if !self.proc(id).dead {
                    inj.restore();
                }
                let ret = r?;
                if (-516..=-512).contains(&ret) {
                    continue;
                }
                if inj.seccomp {
                    self.check_sigsys(id, inj.tid)?;
                }
                if ret == nr as i64 && nr >= 8 {
                    // A rejected call in seccomp's dead mode leaves rax unchanged (P9).
                    self.mark_dead(id);
                    return Err(Error::Refused {
                        pid,
                        reason: format!("injected system call {nr} was not executed (seccomp?)"),
                    });
                }
                return Ok(ret);
            }
            Err(Error::Os {
                op: format!("process {pid}: system call {nr} kept being interrupted"),
                source: std::io::Error::from_raw_os_error(libc::EINTR),
            })
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn one_call(
        &mut self,
        id: ProcId,
        inj: &Injector,
        nr: u64,
        args: [u64; 6],
        timeout: Duration,
    ) -> Result<i64> {
        let tid = inj.tid;
        let t = Pid::from_raw(tid);
        let mut regs = inj.resume;
        regs.rax = nr;
        regs.orig_rax = u64::MAX;
        regs.rdi = args[0];
        regs.rsi = args[1];
        regs.rdx = args[2];
        regs.r10 = args[3];
        regs.r8 = args[4];
        regs.r9 = args[5];
        regs.rip = inj.gadget;
        // Unsupervised, `leave; ret` after the call lands on the frame's rt_sigreturn.
        regs.rbp = inj.frame.chain;
        regs.rsp = inj.frame.call_sp;
        if let Err(e) = ptrace::setregs(t, regs) {
            return self.thread_error(id, tid, e, "an injected system call");
        }
        if let Err(e) = sys::set_sigmask(tid, u64::MAX) {
            return self.thread_error(id, tid, errno(&e), "an injected system call");
        }
        if let Err(e) = ptrace::syscall(t, None) {
            return self.thread_error(id, tid, e, "an injected system call");
        }
        let deadline = Instant::now() + timeout;
        let mut entered = false;
        let mut forced: Option<Signal> = None;
        let mut timed_out = false;
        loop {
            let ev = match self.wait(tid, deadline) {
                Ok(ev) => ev,
                Err(_) if !timed_out => {
                    // Make an interruptible sleep return, then collect the exit stop.
                    timed_out = true;
                    let _ = ptrace::interrupt(t);
                    self.wait(tid, Instant::now() + Duration::from_secs(2))?
                }
                Err(e) => return Err(e),
            };
            let resume_sig = match ev {
                Event::Gone => {
                    self.mark_dead(id);
                    return Err(Error::ProcessExited {
                        pid: self.proc(id).pid,
                        during: "an injected system call ran".into(),
                    });
                }
                Event::Stop(WaitStatus::PtraceSyscall(_)) => {
                    if entered {
                        break;
                    }
                    entered = true;
                    #[cfg(feature = "test-hooks")]
                    self.hold_here(id, nr);
                    None
                }
                Event::Stop(WaitStatus::PtraceEvent(_, _, PTRACE_EVENT_STOP)) => {
                    if timed_out && entered {
                        break;
                    }
                    None
                }
                Event::Stop(WaitStatus::Stopped(_, Signal::SIGSTOP)) => Some(Signal::SIGSTOP),
                Event::Stop(WaitStatus::Stopped(_, sig)) => {
                    forced = Some(sig);
                    None
                }
                Event::Stop(_) => None,
            };
            if let Err(e) = ptrace::syscall(t, resume_sig) {
                return self.thread_error(id, tid, e, "an injected system call");
            }
        }
        let pid = self.proc(id).pid;
        if timed_out {
            return Err(Error::Os {
                op: format!("process {pid}: injected system call {nr}"),
                source: std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
            });
        }
        let after = match ptrace::getregs(t) {
            Ok(r) => r,
            Err(e) => return self.thread_error(id, tid, e, "an injected system call"),
        };
        if let Some(sig) = forced {
            return Err(Error::Refused {
                pid,
                reason: format!("injected system call {nr} raised {sig}"),
            });
        }
        Ok(after.rax as i64)
    }

    /// The test-only `during:CALL` hold: at the syscall-entry stop of the first injected call
    /// `nr` (in the process the fault names), announce it and wait.
    #[cfg(feature = "test-hooks")]
    fn hold_here(&mut self, id: ProcId, nr: u64) {
        let pid = self.proc(id).pid;
        if self
            .hold_in_call
            .is_some_and(|(n, p)| n == nr && p.is_none_or(|p| p == pid))
        {
            self.hold_in_call = None;
            crate::link::request::Fault::hold_at(&format!("during system call {nr}"));
        }
    }

    /// Puts the injection thread of process `id` back as it was stopped, where the kernel still
    /// makes its restart decision (see the module docs): after injected calls, from the
    /// syscall-exit stop to a `PTRACE_EVENT_STOP` (`PTRACE_INTERRUPT` + `PTRACE_CONT`, every
    /// signal blocked so that no handler runs on the resume registers), then the original
    /// registers and mask. Idempotent; errors are logged (a vanished thread needs nothing).
    pub fn release(&mut self, id: ProcId) {
        let Some(inj) = self.proc_mut(id).injector.take() else {
            return;
        };
        if self.proc(id).dead {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let tid = inj.tid;
            let t = Pid::from_raw(tid);
            if inj.injected {
                if let Err(e) = self.run_to_event_stop(&inj) {
                    // The thread keeps the resume registers written after its last call.
                    log::debug!("thread {tid}: no event stop after the injected calls: {e}");
                    if matches!(e, Error::ProcessExited { .. }) {
                        self.mark_dead(id);
                    }
                    return;
                }
            }
            let _ = ptrace::setregs(t, inj.saved);
            let _ = sys::set_sigmask(tid, inj.mask);
        }
    }

    /// From a syscall-exit stop, runs `tid` into the `PTRACE_EVENT_STOP` of a
    /// `PTRACE_INTERRUPT`, which the kernel reports from its signal handling before it looks at
    /// the registers for a restart.
    #[cfg(target_arch = "x86_64")]
    /// Until the event stop the thread holds registers that run `rt_sigreturn` from the frame:
    /// should memlink die meanwhile, the thread gets its original registers and mask back
    /// instead of keeping the full mask.
    fn run_to_event_stop(&mut self, inj: &Injector) -> Result<()> {
        let tid = inj.tid;
        let t = Pid::from_raw(tid);
        let fail = |e: Errno| Error::Os {
            op: format!("bring thread {tid} to an event stop"),
            source: e.into(),
        };
        ptrace::setregs(t, inj.sigreturn_now()).map_err(fail)?;
        sys::set_sigmask(tid, u64::MAX).map_err(|e| fail(errno(&e)))?;
        ptrace::interrupt(t).map_err(fail)?;
        ptrace::cont(t, None).map_err(fail)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let resume = match self.wait(tid, deadline)? {
                Event::Gone => {
                    return Err(Error::ProcessExited {
                        pid: tid as u32,
                        during: "being released".into(),
                    })
                }
                Event::Stop(WaitStatus::PtraceEvent(_, _, PTRACE_EVENT_STOP)) => return Ok(()),
                // Only SIGSTOP/SIGKILL get past the full mask: pass them on.
                Event::Stop(WaitStatus::Stopped(_, sig)) => Some(sig),
                Event::Stop(_) => None,
            };
            ptrace::cont(t, resume).map_err(fail)?;
        }
    }

    /// Fails (and marks the process dead) when SIGSYS is pending on the thread: seccomp
    /// rejected the call and the process will die.
    fn check_sigsys(&mut self, id: ProcId, tid: i32) -> Result<()> {
        let pid = self.proc(id).pid;
        let path = pid_path(pid, &format!("task/{tid}/status"));
        let pending = std::fs::read(path)
            .ok()
            .and_then(|b| crate::proc::status::parse(&b).ok())
            .map(|s| s.sig_pnd)
            .unwrap_or(0);
        if sigsys_pending(pending) {
            self.mark_dead(id);
            return Err(Error::Refused {
                pid,
                reason: "seccomp rejected an injected system call (SIGSYS pending)".into(),
            });
        }
        Ok(())
    }
}

/// True when SIGSYS is set in a `SigPnd` mask (bit n-1 stands for signal n).
pub fn sigsys_pending(sig_pnd: u64) -> bool {
    sig_pnd & (1 << (libc::SIGSYS - 1)) != 0
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The address of a `syscall` instruction in the `[vdso]` of `pid` that is followed by
/// `leave; ...; ret` (checked byte by byte: [`frame::gadget_tail_ok`]).
fn find_vdso_gadget(pid: u32, maps: &[crate::proc::smaps::SmapsEntry]) -> Option<u64> {
    let vdso = maps.iter().find(|l| l.pathname == b"[vdso]")?;
    let code = read_remote(pid, vdso.start, (vdso.end - vdso.start) as usize).ok()?;
    frame::find_gadget(&code).map(|off| vdso.start + off as u64)
}

/// Where an `rt_sigreturn` sequence lies in the code of `pid`: libc's first, then any other
/// executable file mapping. The offset found in a file's mapping is remembered (by device,
/// inode, offset and length), so a second process with the same libc costs no scan.
fn find_restore_rt(pid: u32, maps: &[crate::proc::smaps::SmapsEntry]) -> Option<u64> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (u32, u32, u64, u64, u64);
    static SEEN: OnceLock<Mutex<HashMap<Key, Option<u64>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let code: Vec<&crate::proc::smaps::SmapsEntry> = maps
        .iter()
        .filter(|m| {
            m.perms.contains(crate::region::Perms::EXEC)
                && !m.perms.contains(crate::region::Perms::WRITE)
                && m.inode != 0
        })
        .collect();
    let is_libc = |m: &&&crate::proc::smaps::SmapsEntry| {
        m.pathname
            .rsplit(|&b| b == b'/')
            .next()
            .is_some_and(|n| n.starts_with(b"libc.so") || n.starts_with(b"libc-"))
    };
    let ordered = code
        .iter()
        .filter(is_libc)
        .chain(code.iter().filter(|m| !is_libc(m)));
    for m in ordered {
        let key = (
            m.device.major,
            m.device.minor,
            m.inode,
            m.offset,
            m.end - m.start,
        );
        let known = seen.lock().ok().and_then(|s| s.get(&key).copied());
        let off = match known {
            Some(off) => off,
            None => {
                let bytes = read_remote(pid, m.start, (m.end - m.start) as usize).ok()?;
                let off = frame::find_restore_rt(&bytes).map(|o| o as u64);
                if let Ok(mut s) = seen.lock() {
                    s.insert(key, off);
                }
                off
            }
        };
        if let Some(off) = off {
            // The bytes are checked again in this process: a remembered offset is a hint.
            let at = m.start + off;
            let b = read_remote(pid, at, 9).ok()?;
            if frame::find_restore_rt(&b) == Some(0) {
                return Some(at);
            }
        }
    }
    None
}

/// Refuses thread `tid` of `pid` when it runs with a CET user shadow stack.
fn check_shadow_stack(pid: u32, tid: i32) -> Result<()> {
    let st = std::fs::read(pid_path(pid, &format!("task/{tid}/status"))).unwrap_or_default();
    if frame::shadow_stack_enabled(&st) {
        return Err(super::frame::shadow_stack_refusal(pid));
    }
    Ok(())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn regs(orig: i64, rax: i64, rip: u64) -> libc::user_regs_struct {
        let mut r: libc::user_regs_struct = zeroed_regs();
        r.orig_rax = orig as u64;
        r.rax = rax as u64;
        r.rip = rip;
        r
    }

    fn zeroed_regs() -> libc::user_regs_struct {
        libc::user_regs_struct {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            rbp: 0,
            rbx: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rax: 0,
            rcx: 0,
            rdx: 0,
            rsi: 0,
            rdi: 0,
            orig_rax: 0,
            rip: 0,
            cs: 0,
            eflags: 0,
            rsp: 0,
            ss: 0,
            fs_base: 0,
            gs_base: 0,
            ds: 0,
            es: 0,
            fs: 0,
            gs: 0,
        }
    }

    #[test]
    fn resume_table() {
        // read(2) interrupted: re-issue read.
        let r = resume_regs(&regs(0, -512, 0x1002));
        assert_eq!((r.rax, r.rip, r.orig_rax as i64), (0, 0x1000, -1));
        // ppoll with a temporary mask.
        let r = resume_regs(&regs(271, -514, 0x1002));
        assert_eq!((r.rax, r.rip), (271, 0x1000));
        // clock_nanosleep: restart_syscall.
        let r = resume_regs(&regs(230, -516, 0x1002));
        assert_eq!((r.rax, r.rip), (219, 0x1000));
        // epoll_wait returned -EINTR: unchanged.
        let r = resume_regs(&regs(232, -4, 0x1002));
        assert_eq!((r.rax as i64, r.rip), (-4, 0x1002));
        // user space.
        let r = resume_regs(&regs(-1, 42, 0x1002));
        assert_eq!((r.rax, r.rip, r.orig_rax as i64), (42, 0x1002, -1));
        // 515 is not a restart code.
        let r = resume_regs(&regs(0, -515, 0x1002));
        assert_eq!(r.rip, 0x1002);
    }

    #[test]
    fn sigsys_from_captured_status() {
        // SigPnd of a thread whose injected call a RET_TRAP seccomp filter rejected.
        let st = crate::proc::status::parse(
            b"Name:\tx\nTgid:\t7\nSigPnd:\t0000000040000000\nShdPnd:\t0000000000000000\n",
        )
        .unwrap();
        assert!(sigsys_pending(st.sig_pnd));
        assert!(!sigsys_pending(0x100)); // SIGUSR1 only
    }
}
