//! The share-mode link sequence. A `Share` session holds the tracees, the journal of what
//! to undo and the steps done; the driver [`run`] calls one method per step, in the order of
//! this table, and marks each step done after it (the test-only fault points).
//!
//! | step | method | where | action | undo |
//! |---|---|---|---|---|
//! | stop | `stop`, `recheck` | memlink | stop every thread of S, one of T; re-check the ranges | detach |
//! | scratch | `scratch` | S | write the memfd name below the injection thread's return frame (a page only if that room is missing) | (`munmap`) |
//! | memfd | `memfd` | S | `memfd_create("memlink-link:S:A:PID:START", MFD_CLOEXEC\|MFD_NOEXEC_SEAL)` | `close` |
//! | truncate | `truncate` | S | `ftruncate(sfd, N)` | (closing the fd frees it) |
//! | copy | `copy` | S | `pwrite64(sfd, A+off, len, off)`, chunks of at most 1 GiB | (same) |
//! | target-fd | `target_fd` (and `fd_passing`) | T | `pidfd_open(S)`, `pidfd_getfd(pidfd, sfd)`, `close(pidfd)`; else a socket pair and `SCM_RIGHTS` | `close` |
//! | target-map | `target_map` | T | per piece, `mmap(A'+P-A, len, its prot, MAP_SHARED\|MAP_FIXED_NOREPLACE, tfd, P-A)` | `munmap` what was mapped |
//! | check | `check` | memlink | both alive (state in `/proc/PID/stat`) | — |
//! | remap | `remap` | S | per piece, `mmap(P, len, its prot, MAP_SHARED\|MAP_FIXED, sfd, P-A)` | rebuild a private copy from the memfd if a hole was left |
//! | cleanup | `finish` (`cleanup`) | S, T | close the fds, unmap the scratch page | warn |
//!
//! A failed step hands its error to `rollback`, which undoes what the journal records. Until
//! `remap` nothing the processes can observe has changed, and the memfd holds a complete copy
//! from `copy` until `cleanup`. After `remap` the link is done even if T then dies.

mod fd_passing;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
#[cfg(feature = "test-hooks")]
use crate::link::request::FaultAction;
use crate::link::request::{LinkMode, LinkReport, LinkRequest, Step};
use crate::platform::linux::ptrace::frame::SCRATCH_ROOM;
use crate::platform::linux::ptrace::remote::nr;
use crate::platform::linux::ptrace::{ProcId, Session};
use crate::platform::linux::vm;

use fd_passing::pidfd_error;

use super::preflight::{self, VmaPiece};
use super::{fd_links, gather, hash_range, page_size, proc_path, report_pieces, smaps_of};

const MFD_CLOEXEC: u64 = 1;
const MFD_NOEXEC_SEAL: u64 = 8;
const MAP_SHARED: u64 = 1;
const MAP_PRIVATE: u64 = 2;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const PROT_RW: u64 = 3;
/// Largest `pwrite` per injected call: the window in which a tracee holds borrowed registers.
const PWRITE_CHUNK: u64 = 1 << 30;
/// Timeout of one short injected call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the pre-flight checks established.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The source pieces.
    pub pieces: Vec<VmaPiece>,
    /// State lost by the link.
    pub warnings: Vec<String>,
}

/// The pre-flight checks of a share-mode link. Nothing is touched.
pub fn plan(req: &LinkRequest, suspend_seccomp: bool) -> Result<Plan> {
    let s = gather(req.source, suspend_seccomp)?;
    let t = super::gather_with(req.target, suspend_seccomp, false)?;
    let (pieces, warnings) =
        preflight::check_source_range(req.source, &s.smaps, req.address, req.size)?;
    preflight::check_target_free(req.target, &t.smaps, req.target_address(), req.size)?;
    preflight::check_pinned(req.source, &fd_links(req.source), req.allow_pinned)?;
    if let Ok(mi) = std::fs::read(proc_path("meminfo")) {
        preflight::check_memory(req.source, req.size, &mi)?;
    }
    if let Some(max) = std::fs::read_to_string(proc_path("sys/vm/max_map_count"))
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        // The remap may split two VMAs in S; T gains one per piece.
        preflight::check_map_count(req.source, s.smaps.len(), 2 + 1, max)?;
        preflight::check_map_count(req.target, t.smaps.len(), pieces.len() + 1, max)?;
    }
    Ok(Plan { pieces, warnings })
}

/// The report of a dry run.
pub fn dry_report(req: &LinkRequest, plan: &Plan, started: Instant) -> LinkReport {
    LinkReport {
        source: req.source,
        target: req.target,
        address: req.address,
        target_address: req.target_address(),
        size: req.size,
        mode: LinkMode::Share,
        dry_run: true,
        memfd_name: Some(memfd_name(req)),
        fd_method: None,
        pieces: report_pieces(&plan.pieces),
        bytes_copied: 0,
        verified: None,
        steps: Vec::new(),
        warnings: plan.warnings.clone(),
        elapsed_us: started.elapsed().as_micros() as u64,
    }
}

/// `memlink-link:S:A:PID:START`: the source, the address, and memlink's own PID and start
/// time (see `owner_tag`).
fn memfd_name(req: &LinkRequest) -> String {
    format!(
        "memlink-link:{}:{:x}:{}",
        req.source,
        req.address,
        super::owner_tag()
    )
}

/// What has been done so far, for the undo.
#[derive(Debug, Default)]
struct Journal {
    /// The scratch page in S.
    source_scratch: Option<u64>,
    /// The memfd, as an fd of S.
    source_fd: Option<u64>,
    /// A pidfd of S open in T, while `pidfd_getfd` runs.
    target_pidfd: Option<u64>,
    /// The scratch page in T (socket method).
    target_scratch: Option<u64>,
    /// The socket pair in T (socket method), until `recvmsg` returned.
    target_sockets: Vec<u64>,
    /// The memfd, as an fd of T.
    target_fd: Option<u64>,
    /// How much of the target range, from its start, maps the memfd.
    target_mapped: u64,
    /// The `MAP_FIXED` over the source range was attempted: it may have left a hole.
    remap_tried: bool,
    /// The source range is the memfd now: past the point of no return.
    remapped: bool,
}

/// A share-mode link in progress: the tracees, the journal of what to undo, and the steps
/// done so far.
struct Share<'a> {
    req: &'a LinkRequest,
    plan: Plan,
    tracees: Session,
    source: ProcId,
    target: ProcId,
    journal: Journal,
    steps: Vec<Step>,
    page: u64,
}

/// Runs the link after the checks passed: the steps in order, then the cleanup, or the
/// rollback of whatever the journal records.
pub fn run(req: &LinkRequest, plan: Plan, suspend: bool, started: Instant) -> Result<LinkReport> {
    let mut share = Share::stop(req, plan, suspend)?;
    match share.steps() {
        Ok(report) => share.finish(report, started),
        Err(e) => {
            let e = share.real_cause(e);
            Err(share.rollback(e))
        }
    }
}

impl<'a> Share<'a> {
    /// Step `stop`, first half: seizes every thread of S and one thread of T. Nothing needs
    /// undoing if this fails: dropping the session detaches whatever was stopped.
    fn stop(req: &'a LinkRequest, plan: Plan, suspend: bool) -> Result<Share<'a>> {
        let mut tracees = Session::new(suspend);
        #[cfg(feature = "test-hooks")]
        {
            use crate::link::request::FaultProcess;
            tracees.hold_in_call = req.fault.and_then(|f| {
                let pid = f.during_in.map(|p| match p {
                    FaultProcess::Source => req.source,
                    FaultProcess::Target => req.target,
                });
                Some((f.during_call?, pid))
            });
        }
        let source = tracees.stop(req.source, true)?;
        let target = tracees.stop(req.target, false)?;
        Ok(Share {
            req,
            plan,
            tracees,
            source,
            target,
            journal: Journal::default(),
            steps: Vec::new(),
            page: page_size(),
        })
    }

    /// The steps of the module table, in order, each marked done after it.
    fn steps(&mut self) -> Result<LinkReport> {
        let before = self.recheck()?;
        self.done(Step::Stop)?;
        let scratch = self.scratch()?;
        self.done(Step::Scratch)?;
        let sfd = self.memfd(scratch)?;
        self.done(Step::Memfd)?;
        self.truncate(sfd)?;
        self.done(Step::Truncate)?;
        self.copy(sfd)?;
        self.done(Step::Copy)?;
        let (tfd, method) = self.target_fd(sfd)?;
        self.done(Step::TargetFd)?;
        self.target_map(tfd)?;
        self.done(Step::TargetMap)?;
        self.check()?;
        self.done(Step::Check)?;
        self.remap(sfd)?;
        self.done(Step::Remap)?;
        let verified = self.verify(before)?;
        Ok(self.report(method, verified))
    }

    fn pid(&self, id: ProcId) -> u32 {
        self.tracees.proc(id).pid
    }

    /// One injected call; a negative result becomes an error naming `what`.
    fn call(&mut self, id: ProcId, nr: u64, args: [u64; 6], what: &str) -> Result<u64> {
        self.call_t(id, nr, args, what, CALL_TIMEOUT)
    }

    fn call_t(
        &mut self,
        id: ProcId,
        nr: u64,
        args: [u64; 6],
        what: &str,
        timeout: Duration,
    ) -> Result<u64> {
        let r = self.tracees.remote_syscall(id, nr, args, timeout)?;
        if (-4095..0).contains(&r) {
            return Err(Error::Os {
                op: format!("process {}: {what}", self.pid(id)),
                source: std::io::Error::from_raw_os_error(-r as i32),
            });
        }
        Ok(r as u64)
    }

    fn errno_of(e: &Error) -> Option<i32> {
        match e {
            Error::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Marks `step` done; with the `test-hooks` feature, fires the test-only fault if it names
    /// this step.
    fn done(&mut self, step: Step) -> Result<()> {
        self.steps.push(step);
        #[cfg(feature = "test-hooks")]
        self.fault_after(step)?;
        Ok(())
    }

    /// The test-only fault hook: kills a process (the next step then meets a dead process) or
    /// fails as if the next step had failed.
    #[cfg(feature = "test-hooks")]
    fn fault_after(&mut self, step: Step) -> Result<()> {
        match self.req.fault {
            Some(f) if f.after == step && f.during_call.is_none() => match f.action {
                FaultAction::KillSource => self.tracees.kill_and_reap(self.source),
                FaultAction::KillTarget => self.tracees.kill_and_reap(self.target),
                FaultAction::Fail => {
                    return Err(Error::Refused {
                        pid: self.req.source,
                        reason: format!("test fault injected after step {}", step.name()),
                    })
                }
                FaultAction::Hold => crate::link::request::Fault::hold(step),
            },
            _ => {}
        }
        Ok(())
    }

    /// Step `stop`, second half: re-checks both ranges now that S cannot change them, prepares
    /// both injection threads, and hashes the source range for `--verify`.
    fn recheck(&mut self) -> Result<Option<u64>> {
        let req = self.req;
        let (a, ta, n) = (req.address, req.target_address(), req.size);
        let sf = smaps_of(req.source)?;
        let (pieces, _) = preflight::check_source_range(req.source, &sf, a, n)?;
        if pieces != self.plan.pieces {
            return Err(Error::Refused {
                pid: req.source,
                reason: "the source range changed during the checks; try again".into(),
            });
        }
        let tf = smaps_of(req.target)?;
        preflight::check_target_free(req.target, &tf, ta, n)?;
        self.tracees.prepare(self.source)?;
        self.tracees.prepare(self.target)?;
        if req.verify {
            Ok(Some(hash_range(req.source, a, n)?))
        } else {
            Ok(None)
        }
    }

    /// Step `scratch`: room in S for the memfd's name. It is written below the red zone of
    /// the injection thread's stack (memory the ABI leaves free and that nobody else uses while
    /// the thread is stopped), so nothing is mapped and nothing can be left behind; only when
    /// that room is not inside a writable private mapping is one page mapped instead.
    fn scratch(&mut self) -> Result<u64> {
        let mut name = memfd_name(self.req).into_bytes();
        name.push(0);
        let scratch = match self.stack_scratch(self.source, name.len() as u64) {
            Some(at) => at,
            None => self.scratch_page(self.source)?,
        };
        write_remote(self.req.source, scratch, &name)?;
        Ok(scratch)
    }

    /// An address for `len` bytes below the return frame (itself below the red zone) of
    /// process `id`'s injection thread, when that lies in one writable private mapping.
    fn stack_scratch(&self, id: ProcId, len: u64) -> Option<u64> {
        if len > SCRATCH_ROOM - 64 {
            return None;
        }
        let top = self.tracees.proc(id).injector.as_ref()?.scratch_top();
        let at = top.checked_sub(len)? & !63;
        let maps = smaps_of(self.pid(id)).ok()?;
        maps.iter()
            .find(|e| e.start <= at && top <= e.end)
            .filter(|e| {
                e.perms.contains(crate::region::Perms::WRITE)
                    && !e.perms.contains(crate::region::Perms::SHARED)
            })
            .map(|_| at)
    }

    /// One private anonymous page in process `id`, recorded in the journal.
    fn scratch_page(&mut self, id: ProcId) -> Result<u64> {
        let page = self.page;
        let scratch = self.call(
            id,
            nr::MMAP,
            [0, page, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0],
            "mmap a scratch page",
        )?;
        if id == self.source {
            self.journal.source_scratch = Some(scratch);
        } else {
            self.journal.target_scratch = Some(scratch);
        }
        Ok(scratch)
    }

    /// Step `memfd`: `memfd_create` in S, with `MFD_NOEXEC_SEAL` where the kernel knows it.
    fn memfd(&mut self, scratch: u64) -> Result<u64> {
        let sfd = match self.call(
            self.source,
            nr::MEMFD_CREATE,
            [scratch, MFD_CLOEXEC | MFD_NOEXEC_SEAL, 0, 0, 0, 0],
            "memfd_create",
        ) {
            Err(e) if Self::errno_of(&e) == Some(libc::EINVAL) => {
                // Kernels before 6.3 do not know MFD_NOEXEC_SEAL.
                self.call(
                    self.source,
                    nr::MEMFD_CREATE,
                    [scratch, MFD_CLOEXEC, 0, 0, 0, 0],
                    "memfd_create",
                )?
            }
            r => r?,
        };
        self.journal.source_fd = Some(sfd);
        Ok(sfd)
    }

    /// Step `truncate`: the memfd gets the range's size.
    fn truncate(&mut self, sfd: u64) -> Result<()> {
        self.call(
            self.source,
            nr::FTRUNCATE,
            [sfd, self.req.size, 0, 0, 0, 0],
            "ftruncate the memfd",
        )?;
        Ok(())
    }

    /// Step `copy`: the source writes its own range into the memfd, at most 1 GiB per call.
    fn copy(&mut self, sfd: u64) -> Result<()> {
        let (a, n) = (self.req.address, self.req.size);
        let mut off = 0;
        while off < n {
            let len = PWRITE_CHUNK.min(n - off);
            let timeout = CALL_TIMEOUT + Duration::from_secs(30 * (len >> 30).max(1));
            let w = self.call_t(
                self.source,
                nr::PWRITE64,
                [sfd, a + off, len, off, 0, 0],
                "pwrite the range into the memfd",
                timeout,
            )?;
            if w == 0 {
                return Err(Error::Os {
                    op: format!(
                        "process {}: pwrite into the memfd made no progress",
                        self.req.source
                    ),
                    source: std::io::Error::from_raw_os_error(libc::EIO),
                });
            }
            off += w;
        }
        Ok(())
    }

    /// Step `target-fd`: the memfd as an fd of T, by the pidfd method (injected in T) or else
    /// over a socket pair brokered by memlink. Returns the fd and the method's name.
    fn target_fd(&mut self, sfd: u64) -> Result<(u64, &'static str)> {
        let (tfd, method) = match self.target_fd_pidfd(sfd) {
            Ok(fd) => (fd, "pidfd"),
            Err(e) if !self.tracees.alive(self.source) || !self.tracees.alive(self.target) => {
                return Err(e)
            }
            Err(e) => {
                log::info!("pidfd method failed ({e}); passing the memfd over a socket");
                (
                    self.target_fd_socket(sfd).map_err(pidfd_error)?,
                    "scm-rights",
                )
            }
        };
        self.journal.target_fd = Some(tfd);
        Ok((tfd, method))
    }

    /// Step `target-map`: the memfd mapped into the hole of T, one piece at a time with the
    /// piece's own protection (`MAP_FIXED_NOREPLACE`: refused atomically if T mapped something
    /// there meanwhile; only what memlink mapped is ever unmapped again).
    fn target_map(&mut self, tfd: u64) -> Result<()> {
        let req = self.req;
        let (a, ta) = (req.address, req.target_address());
        let pieces = self.plan.pieces.clone();
        for p in &pieces {
            let at = ta + (p.start - a);
            let len = p.end - p.start;
            let m = match self.call(
                self.target,
                nr::MMAP,
                [
                    at,
                    len,
                    p.prot(),
                    MAP_SHARED | MAP_FIXED_NOREPLACE,
                    tfd,
                    p.start - a,
                ],
                "mmap the memfd",
            ) {
                Err(e) if Self::errno_of(&e) == Some(libc::EEXIST) => return Err(occupied(req)),
                r => r?,
            };
            if m != at {
                // Before Linux 4.17 MAP_FIXED_NOREPLACE is only a hint.
                let _ = self.call(self.target, nr::MUNMAP, [m, len, 0, 0, 0, 0], "munmap");
                return Err(occupied(req));
            }
            self.journal.target_mapped = p.end - a;
        }
        Ok(())
    }

    /// Step `check`: both processes still alive; the point of no return follows.
    fn check(&mut self) -> Result<()> {
        for id in [self.source, self.target] {
            if !self.tracees.alive(id) {
                return Err(Error::ProcessExited {
                    pid: self.pid(id),
                    during: "being linked (before the point of no return)".into(),
                });
            }
        }
        Ok(())
    }

    /// Step `remap`: the memfd mapped over the source range (`MAP_FIXED`), one piece at a
    /// time with that piece's own protection and file offset, so that no instant (memlink
    /// killed between two calls included) leaves a piece with another piece's protection.
    /// From the first remapped piece on, the link stands.
    fn remap(&mut self, sfd: u64) -> Result<()> {
        let a = self.req.address;
        let pieces = self.plan.pieces.clone();
        self.journal.remap_tried = true;
        for (i, p) in pieces.iter().enumerate() {
            let r = self.call(
                self.source,
                nr::MMAP,
                [
                    p.start,
                    p.end - p.start,
                    p.prot(),
                    MAP_SHARED | MAP_FIXED,
                    sfd,
                    p.start - a,
                ],
                "mmap the memfd over the source range",
            );
            let m = match r {
                Ok(m) => m,
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    // Earlier pieces are linked, this one and the rest stayed private with
                    // their content: the range is in two halves, nothing is lost.
                    return Err(Error::Refused {
                        pid: self.req.source,
                        reason: format!(
                            "linked only {:#x}-{:#x} of the source range, the rest stayed \
                             private: {e}",
                            a, p.start
                        ),
                    });
                }
            };
            if m != p.start {
                return Err(Error::Os {
                    op: format!(
                        "process {}: mmap over the source range landed at {m:#x}",
                        self.req.source
                    ),
                    source: std::io::Error::from_raw_os_error(libc::EFAULT),
                });
            }
            self.journal.remapped = true;
        }
        Ok(())
    }

    /// `--verify`: both ranges hash to the source's content before the link.
    fn verify(&self, before: Option<u64>) -> Result<Option<bool>> {
        let Some(h) = before else { return Ok(None) };
        let req = self.req;
        let hs = hash_range(req.source, req.address, req.size)?;
        let ht = hash_range(req.target, req.target_address(), req.size)?;
        if hs != h || ht != h {
            return Err(Error::Refused {
                pid: req.target,
                reason: "verification failed: the linked ranges differ from the source's content"
                    .into(),
            });
        }
        Ok(Some(true))
    }

    /// The report of the finished steps (`steps` and `elapsed_us` are filled in by `finish`).
    fn report(&mut self, method: &str, verified: Option<bool>) -> LinkReport {
        let req = self.req;
        LinkReport {
            source: req.source,
            target: req.target,
            address: req.address,
            target_address: req.target_address(),
            size: req.size,
            mode: LinkMode::Share,
            dry_run: false,
            memfd_name: Some(memfd_name(req)),
            fd_method: Some(method.into()),
            pieces: report_pieces(&self.plan.pieces),
            bytes_copied: req.size,
            verified,
            steps: Vec::new(),
            warnings: std::mem::take(&mut self.plan.warnings),
            elapsed_us: 0,
        }
    }

    /// Step `cleanup` after every other step succeeded, then the detach (dropping the
    /// session). T dying now is reported, though the link stands.
    fn finish(mut self, mut report: LinkReport, started: Instant) -> Result<LinkReport> {
        let cleanup_warnings = self.cleanup();
        if !self.tracees.alive(self.target) {
            return Err(target_died_after_remap(self.req.target));
        }
        if !self.tracees.alive(self.source) {
            return Err(Error::ProcessExited {
                pid: self.req.source,
                during: "the cleanup after the link; the target keeps the linked range with \
                         its content"
                    .into(),
            });
        }
        report.warnings.extend(cleanup_warnings);
        self.steps.push(Step::Cleanup);
        report.steps = std::mem::take(&mut self.steps);
        drop(self);
        report.elapsed_us = started.elapsed().as_micros() as u64;
        Ok(report)
    }

    /// Names the real cause of a failed step: a call that failed because the other process
    /// died.
    fn real_cause(&mut self, mut e: Error) -> Error {
        for id in [self.source, self.target] {
            if !matches!(e, Error::ProcessExited { .. }) && !self.tracees.alive(id) {
                e = Error::ProcessExited {
                    pid: self.pid(id),
                    during: "being linked".into(),
                };
            }
        }
        e
    }

    /// Closes the temporary fds and unmaps the scratch pages; failures become warnings.
    fn cleanup(&mut self) -> Vec<String> {
        let mut w = Vec::new();
        let (source, target, page) = (self.source, self.target, self.page);
        if let Some(fd) = self.journal.target_fd.take() {
            if self.tracees.alive(target) {
                if let Err(e) = self.call(target, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close") {
                    w.push(format!("target fd {fd} may leak: {e}"));
                }
            }
        }
        if let Some(p) = self.journal.target_scratch.take() {
            if self.tracees.alive(target) {
                if let Err(e) = self.call(target, nr::MUNMAP, [p, page, 0, 0, 0, 0], "munmap") {
                    w.push(format!("target scratch page may leak: {e}"));
                }
            }
        }
        if let Some(fd) = self.journal.source_fd.take() {
            if self.tracees.alive(source) {
                if let Err(e) = self.call(source, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close") {
                    w.push(format!("source fd {fd} may leak: {e}"));
                }
            }
        }
        if let Some(p) = self.journal.source_scratch.take() {
            if self.tracees.alive(source) {
                if let Err(e) = self.call(source, nr::MUNMAP, [p, page, 0, 0, 0, 0], "munmap") {
                    w.push(format!("source scratch page may leak: {e}"));
                }
            }
        }
        w
    }

    /// Undoes what the journal records, for each process still alive, and returns the error
    /// to report.
    fn rollback(&mut self, e: Error) -> Error {
        let (source, target) = (self.source, self.target);
        let (a, ta, n) = (self.req.address, self.req.target_address(), self.req.size);
        if self.journal.remapped {
            // Past the point of no return: the source is linked; only clean up.
            let target_alive = self.tracees.alive(target);
            let _ = self.cleanup();
            if !target_alive {
                return target_died_after_remap(self.req.target);
            }
            return e;
        }
        // Target: unmap, close its fds.
        if self.tracees.alive(target) {
            let mapped = self.journal.target_mapped;
            if mapped > 0 {
                if let Err(u) = self.call(target, nr::MUNMAP, [ta, mapped, 0, 0, 0, 0], "munmap") {
                    log::warn!("rollback in target: {u}");
                }
            }
            for fd in [
                self.journal.target_fd.take(),
                self.journal.target_pidfd.take(),
            ]
            .into_iter()
            .flatten()
            {
                let _ = self.call(target, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close");
            }
        }
        // Source: if a failed remap left a hole, rebuild private memory from the memfd.
        if self.journal.remap_tried && self.tracees.alive(source) {
            if let Err(u) = self.rebuild_source(a, n) {
                log::warn!("rollback in source: {u}");
            }
        }
        self.journal.target_fd = None;
        self.journal.target_mapped = 0;
        let _ = self.cleanup();
        e
    }

    /// After a failed `MAP_FIXED` over the source: if the range is no longer fully mapped,
    /// map private memory there again and read the content back from the memfd.
    fn rebuild_source(&mut self, a: u64, n: u64) -> Result<()> {
        let source = self.source;
        let facts = smaps_of(self.req.source)?;
        let fully = preflight::check_source_range(self.req.source, &facts, a, n).is_ok();
        if fully {
            return Ok(());
        }
        let Some(sfd) = self.journal.source_fd else {
            return Ok(());
        };
        self.call(
            source,
            nr::MMAP,
            [
                a,
                n,
                PROT_RW,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                u64::MAX,
                0,
            ],
            "map private memory back",
        )?;
        let mut off = 0;
        while off < n {
            let len = PWRITE_CHUNK.min(n - off);
            let r = self.call(source, nr::PREAD64, [sfd, a + off, len, off, 0, 0], "pread")?;
            if r == 0 {
                break;
            }
            off += r;
        }
        Ok(())
    }
}

fn target_died_after_remap(target: u32) -> Error {
    Error::ProcessExited {
        pid: target,
        during: "being linked, after the source range was remapped; the source keeps a shared \
                 mapping with its content intact"
            .into(),
    }
}

fn occupied(req: &LinkRequest) -> Error {
    Error::Refused {
        pid: req.target,
        reason: format!(
            "target range {:#x}-{:#x} became occupied during the link",
            req.target_address(),
            req.target_address() + req.size
        ),
    }
}

/// Writes `data` at `addr` of process `pid`.
fn write_remote(pid: u32, addr: u64, data: &[u8]) -> Result<()> {
    let n = vm::write(pid, addr, data)
        .map_err(|e| Error::from_errno(pid, "write the memory of", e.into()))?;
    if n != data.len() {
        return Err(Error::Unmapped {
            pid,
            start: addr + n as u64,
            end: addr + data.len() as u64,
        });
    }
    Ok(())
}
