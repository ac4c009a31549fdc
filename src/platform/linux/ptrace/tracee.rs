//! The tracee guard: seize and interrupt the threads of one or more processes, route every
//! ptrace event through one `waitpid(-1, __WALL)` loop, and detach everything in `Drop`.
//!
//! One loop for all tracees matters: a dead thread-group leader is reported only after every
//! other traced thread of its group has been reaped, so waiting on one tid could block forever.
//! Events for other tids are stashed until someone asks for them. memlink's own terminating
//! signals stay blocked while tracees are held, so that a Ctrl-C cannot leave a tracee stopped
//! with borrowed registers; they are delivered after the last detach.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::platform::linux::link::{proc_path, proc_root};
use crate::platform::linux::procdir::ProcDir;

use super::remote::Injector;

/// `PTRACE_EVENT_STOP`: the stop caused by `PTRACE_INTERRUPT` or a group stop under SEIZE.
pub const PTRACE_EVENT_STOP: i32 = 128;
/// `PTRACE_O_SUSPEND_SECCOMP` (Linux 4.3, needs `CAP_SYS_ADMIN`).
pub const PTRACE_O_SUSPEND_SECCOMP: i32 = 0x200000;
/// How long stopping one thread may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Index of a traced process inside a [`Session`].
pub type ProcId = usize;

/// One traced process.
#[derive(Debug)]
pub struct Traced {
    /// Its PID.
    pub pid: u32,
    /// The threads we seized and that are in a ptrace stop.
    pub threads: Vec<i32>,
    /// Set once the process was seen dying: never touch it again.
    pub dead: bool,
    /// The thread that runs injected syscalls, once chosen.
    pub injector: Option<Injector>,
}

/// Holds tracees; detaches every thread and restores memlink's signal mask when dropped.
#[derive(Debug)]
pub struct Session {
    procs: Vec<Traced>,
    stash: HashMap<i32, WaitStatus>,
    old_mask: Option<SigSet>,
    options: Options,
    sigchld: Option<SignalFd>,
    /// Test-only: hold once inside the first injected call with this number (in the process
    /// with this PID, or in any when `None`).
    #[cfg(feature = "test-hooks")]
    pub hold_in_call: Option<(u64, Option<u32>)>,
}

/// What waiting for a thread produced.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A ptrace stop of the thread.
    Stop(WaitStatus),
    /// The thread (or its process) exited.
    Gone,
}

impl Session {
    /// Blocks memlink's own SIGINT/TERM/HUP/QUIT/PIPE/TSTP (and SIGCHLD, read through a
    /// signalfd) and starts an empty session.
    /// `suspend_seccomp` adds `PTRACE_O_SUSPEND_SECCOMP` to every seize.
    pub fn new(suspend_seccomp: bool) -> Session {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGPIPE,
            Signal::SIGTSTP,
            Signal::SIGCHLD,
        ] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        let old_mask = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .ok()
            .map(|_| old);
        // Tracee stops raise SIGCHLD in memlink: a signalfd lets the event loop sleep until
        // one arrives (with a deadline) instead of polling.
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        let sigchld =
            SignalFd::with_flags(&chld, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok();
        let mut options = Options::PTRACE_O_TRACESYSGOOD;
        if suspend_seccomp {
            options |= Options::from_bits_retain(PTRACE_O_SUSPEND_SECCOMP);
        }
        Session {
            procs: Vec::new(),
            stash: HashMap::new(),
            old_mask,
            options,
            sigchld,
            #[cfg(feature = "test-hooks")]
            hold_in_call: None,
        }
    }

    /// The traced process `id`.
    pub fn proc(&self, id: ProcId) -> &Traced {
        &self.procs[id]
    }

    /// The traced process `id`, mutably.
    pub fn proc_mut(&mut self, id: ProcId) -> &mut Traced {
        &mut self.procs[id]
    }

    /// Marks process `id` dead: it is never touched again.
    pub fn mark_dead(&mut self, id: ProcId) {
        self.procs[id].dead = true;
    }

    /// Is process `id` still alive? Reads the state in `/proc/PID/stat`, because a traced zombie
    /// still answers `kill(pid, 0)`.
    pub fn alive(&mut self, id: ProcId) -> bool {
        if self.procs[id].dead {
            return false;
        }
        let ok = ProcDir::open(proc_root(), self.procs[id].pid)
            .and_then(|d| d.stat())
            .is_ok_and(|s| !s.is_zombie() && s.state != b'X' && s.state != b'x');
        if !ok {
            self.procs[id].dead = true;
        }
        ok
    }

    /// Seizes and stops process `pid`: every thread (`all`), or only one thread (the leader,
    /// or the first thread that is not a zombie).
    ///
    /// # Errors
    /// `PermissionDenied` (with the Yama hint when it applies), `ProcessExited`, `Os` with
    /// `EAGAIN` when threads keep appearing, `ETIMEDOUT` when a thread does not stop.
    pub fn stop(&mut self, pid: u32, all: bool) -> Result<ProcId> {
        let dir = ProcDir::open(proc_root(), pid)?;
        let id = self.procs.len();
        self.procs.push(Traced {
            pid,
            threads: Vec::new(),
            dead: false,
            injector: None,
        });
        let mut seen: HashSet<i32> = HashSet::new();
        let mut settled = false;
        for _pass in 0..10 {
            let mut tids = dir.tids()?;
            if !all {
                tids = vec![pick_one_thread(&dir, &tids)?];
            }
            let new: Vec<i32> = tids
                .iter()
                .map(|&t| t as i32)
                .filter(|t| !seen.contains(t))
                .collect();
            if new.is_empty() {
                settled = true;
                break;
            }
            for tid in new {
                seen.insert(tid);
                match ptrace::seize(Pid::from_raw(tid), self.options) {
                    Ok(()) => {}
                    Err(Errno::ESRCH) => continue,
                    Err(e) => return Err(seize_error(pid, tid, e)),
                }
                self.procs[id].threads.push(tid);
                if let Err(e) = ptrace::interrupt(Pid::from_raw(tid)) {
                    if e != Errno::ESRCH {
                        return Err(os(pid, "interrupt a thread of", e));
                    }
                }
                self.wait_interrupted(id, tid)?;
            }
            if !all {
                settled = true;
                break;
            }
        }
        if !settled {
            return Err(Error::Os {
                op: format!("stop process {pid}: threads kept appearing"),
                source: std::io::Error::from_raw_os_error(libc::EAGAIN),
            });
        }
        if self.procs[id].threads.is_empty() {
            self.procs[id].dead = true;
            return Err(Error::ProcessExited {
                pid,
                during: "being stopped".into(),
            });
        }
        Ok(id)
    }

    /// Waits until `tid` reaches the stop our interrupt asked for, re-delivering signals that
    /// raced it.
    fn wait_interrupted(&mut self, id: ProcId, tid: i32) -> Result<()> {
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.wait(tid, deadline)? {
                Event::Stop(WaitStatus::PtraceEvent(_, _, PTRACE_EVENT_STOP)) => return Ok(()),
                Event::Stop(WaitStatus::Stopped(_, sig)) => {
                    // A signal-delivery stop that raced the interrupt: pass the signal on; the
                    // interrupt stays pending and arrives next.
                    if let Err(e) = ptrace::cont(Pid::from_raw(tid), sig) {
                        return self.thread_error(id, tid, e, "being stopped");
                    }
                }
                Event::Stop(_) => {
                    if let Err(e) = ptrace::cont(Pid::from_raw(tid), None) {
                        return self.thread_error(id, tid, e, "being stopped");
                    }
                }
                Event::Gone => {
                    self.procs[id].threads.retain(|&t| t != tid);
                    return Ok(());
                }
            }
        }
    }

    /// Handles an error of a ptrace request on `tid`: `ESRCH` means the thread is gone.
    pub fn thread_error<T>(&mut self, id: ProcId, tid: i32, e: Errno, during: &str) -> Result<T> {
        let pid = self.procs[id].pid;
        if e == Errno::ESRCH {
            self.procs[id].threads.retain(|&t| t != tid);
            if tid as u32 == pid || self.procs[id].threads.is_empty() || !self.alive(id) {
                self.procs[id].dead = true;
            }
            return Err(Error::ProcessExited {
                pid,
                during: during.to_string(),
            });
        }
        Err(os(pid, during, e))
    }

    /// Waits for the next event of `tid`: `waitpid(-1, __WALL | WNOHANG)`, sleeping on a
    /// SIGCHLD signalfd between attempts, until `deadline`; events of other threads are
    /// stashed.
    ///
    /// # Errors
    /// `Os` with `ETIMEDOUT` at the deadline.
    pub fn wait(&mut self, tid: i32, deadline: Instant) -> Result<Event> {
        let mut spins = 0u32;
        loop {
            if let Some(st) = self.stash.remove(&tid) {
                return Ok(classify(st));
            }
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
            ) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(st) => {
                    let Some(p) = st.pid() else { continue };
                    if p.as_raw() == tid {
                        return Ok(classify(st));
                    }
                    self.note_other(st);
                    continue;
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => return Ok(Event::Gone),
                Err(e) => {
                    return Err(Error::Os {
                        op: "wait for a traced thread".into(),
                        source: e.into(),
                    })
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Os {
                    op: format!("wait for thread {tid}"),
                    source: std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                });
            }
            match &self.sigchld {
                Some(fd) => {
                    // Sleep until SIGCHLD is pending (it stays pending between the waitpid
                    // above and this poll, so no event is missed), at most 100 ms at a time.
                    let left = (deadline - now).min(Duration::from_millis(100));
                    let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(100);
                    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, ms);
                    while let Ok(Some(_)) = fd.read_signal() {}
                }
                None => {
                    spins += 1;
                    let us = u64::from(spins).min(1000);
                    std::thread::sleep(Duration::from_micros(us));
                }
            }
        }
    }

    /// Records an event of a thread nobody is waiting for: exits update the thread set.
    fn note_other(&mut self, st: WaitStatus) {
        let Some(p) = st.pid() else { return };
        let tid = p.as_raw();
        if matches!(st, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            for pr in &mut self.procs {
                if pr.threads.contains(&tid) {
                    pr.threads.retain(|&t| t != tid);
                    if tid as u32 == pr.pid {
                        pr.dead = true;
                    }
                }
            }
        }
        self.stash.insert(tid, st);
    }

    /// Sends SIGKILL to process `id` and waits until its injection thread is reported gone.
    /// Used by the test-only fault hook to make "the other process died here" deterministic.
    #[cfg(feature = "test-hooks")]
    pub fn kill_and_reap(&mut self, id: ProcId) {
        let pid = self.procs[id].pid;
        let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let threads = self.procs[id].threads.clone();
        for tid in threads {
            loop {
                match self.wait(tid, deadline) {
                    Ok(Event::Gone) | Err(_) => break,
                    Ok(Event::Stop(_)) => {
                        let _ = ptrace::cont(Pid::from_raw(tid), None);
                    }
                }
            }
        }
        self.procs[id].threads.clear();
        self.procs[id].dead = true;
    }

    /// Detaches every thread of process `id` (its injection thread already holds its resume
    /// state). Errors are ignored: a thread that vanished needs no detach.
    pub fn detach(&mut self, id: ProcId) {
        let threads = std::mem::take(&mut self.procs[id].threads);
        if self.procs[id].dead {
            return;
        }
        for tid in threads {
            if let Err(e) = ptrace::detach(Pid::from_raw(tid), None) {
                log::debug!("detach {tid}: {e}");
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for id in 0..self.procs.len() {
            self.release(id);
            self.detach(id);
        }
        if let Some(old) = self.old_mask.take() {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}

fn classify(st: WaitStatus) -> Event {
    match st {
        WaitStatus::Exited(..) | WaitStatus::Signaled(..) => Event::Gone,
        other => Event::Stop(other),
    }
}

/// The thread of a process to stop when one is enough: the leader unless it is a zombie (it
/// may have called `pthread_exit`).
fn pick_one_thread(dir: &ProcDir, tids: &[u32]) -> Result<u32> {
    let pid = dir.pid();
    let ok = |t: u32| {
        dir.read(&format!("task/{t}/stat"))
            .ok()
            .and_then(|b| crate::proc::stat::parse(&b).ok())
            .is_some_and(|s| !s.is_zombie())
    };
    if tids.contains(&pid) && ok(pid) {
        return Ok(pid);
    }
    tids.iter()
        .copied()
        .find(|&t| ok(t))
        .ok_or(Error::Zombie { pid })
}

fn os(pid: u32, action: &str, e: Errno) -> Error {
    Error::Os {
        op: format!("{action} process {pid}"),
        source: e.into(),
    }
}

/// The error for a failed `PTRACE_SEIZE` of thread `tid` of `pid`: "already traced" when the
/// thread's `TracerPid` names a tracer (memlink itself included, which the pre-flight checks
/// cannot see), else Yama when it is the likely cause.
fn seize_error(pid: u32, tid: i32, e: Errno) -> Error {
    if e == Errno::EPERM {
        let tracer = std::fs::read(proc_path(&format!("{pid}/task/{tid}/status")))
            .ok()
            .and_then(|b| crate::proc::status::parse(&b).ok())
            .map_or(0, |s| s.tracer_pid);
        if tracer != 0 {
            let who = if tracer == std::process::id() {
                " (memlink itself: is it a thread of the other process?)"
            } else {
                ""
            };
            return Error::Refused {
                pid,
                reason: format!("already traced by process {tracer}{who}; detach it first"),
            };
        }
        let scope = std::fs::read_to_string(proc_path("sys/kernel/yama/ptrace_scope"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        return Error::PermissionDenied {
            pid,
            action: "trace".into(),
            hint: super::super::link::preflight::yama_hint(
                scope,
                super::super::link::has_cap_sys_ptrace(),
            ),
        };
    }
    os(pid, "seize", e)
}
