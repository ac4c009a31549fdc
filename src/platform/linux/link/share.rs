//! The share-mode link sequence, as explicit steps each with its undo.
//!
//! | step | where | action | undo |
//! |---|---|---|---|
//! | stop | memlink | stop every thread of S, one of T; re-check the ranges | detach |
//! | scratch | S | `mmap` one page, write the memfd name into it | `munmap` |
//! | memfd | S | `memfd_create(name, MFD_CLOEXEC\|MFD_NOEXEC_SEAL)` | `close` |
//! | truncate | S | `ftruncate(sfd, N)` | (closing the fd frees it) |
//! | copy | S | `pwrite64(sfd, A+off, len, off)`, chunks of at most 1 GiB | (same) |
//! | target-fd | T | `pidfd_open(S)`, `pidfd_getfd(pidfd, sfd)`, `close(pidfd)` | `close` |
//! | target-map | T | `mmap(A', N, MAP_SHARED\|MAP_FIXED_NOREPLACE, tfd)`, per-piece `mprotect` | `munmap` |
//! | check | memlink | both alive (state in `/proc/PID/stat`) | — |
//! | remap | S | `mmap(A, N, MAP_SHARED\|MAP_FIXED, sfd)`, per-piece `mprotect` | rebuild a private copy from the memfd if a hole was left |
//! | cleanup | S, T | close the fds, unmap the scratch page | warn |
//!
//! Until `remap` nothing the processes can observe has changed, and the memfd holds a complete
//! copy from `copy` until `cleanup`. After `remap` the link is done even if T then dies.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link::{FaultAction, LinkMode, LinkReport, LinkRequest, Step};
use crate::platform::linux::ptrace::remote::nr;
use crate::platform::linux::ptrace::sys;
use crate::platform::linux::ptrace::{ProcId, Session};
use crate::platform::linux::vm;

use super::preflight::{self, Piece};
use super::{
    fd_links, gather, hash_range, page_size, pid_path, proc_path, report_pieces, smaps_of,
};

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
    pub pieces: Vec<Piece>,
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

fn memfd_name(req: &LinkRequest) -> String {
    format!("memlink-link:{}:{:x}", req.source, req.address)
}

/// What has been done so far, for the undo.
#[derive(Debug, Default)]
struct Journal {
    s_scratch: Option<u64>,
    sfd: Option<u64>,
    t_pidfd: Option<u64>,
    t_scratch: Option<u64>,
    t_socks: Vec<u64>,
    tfd: Option<u64>,
    t_map: bool,
    remap_tried: bool,
    remapped: bool,
}

struct Link<'a> {
    req: &'a LinkRequest,
    s: Session,
    sid: ProcId,
    tid: ProcId,
    j: Journal,
    steps: Vec<Step>,
    page: u64,
}

/// Runs the link after the checks passed.
pub fn run(req: &LinkRequest, plan: Plan, suspend: bool, started: Instant) -> Result<LinkReport> {
    let mut s = Session::new(suspend);
    let sid = s.stop(req.source, true)?;
    let tid = s.stop(req.target, false)?;
    let mut l = Link {
        req,
        s,
        sid,
        tid,
        j: Journal::default(),
        steps: Vec::new(),
        page: page_size(),
    };
    let result = l.steps(plan);
    match result {
        Ok(mut report) => {
            let cleanup_warnings = l.cleanup();
            if !l.s.alive(l.tid) {
                return Err(target_died_after_remap(req.target));
            }
            report.warnings.extend(cleanup_warnings);
            l.steps.push(Step::Cleanup);
            report.steps = l.steps.clone();
            drop(l);
            report.elapsed_us = started.elapsed().as_micros() as u64;
            Ok(report)
        }
        Err(mut e) => {
            // Name the real cause: a call that failed because the other process died.
            for id in [l.sid, l.tid] {
                if !matches!(e, Error::ProcessExited { .. }) && !l.s.alive(id) {
                    e = Error::ProcessExited {
                        pid: l.pid(id),
                        during: "being linked".into(),
                    };
                }
            }
            Err(l.rollback(e))
        }
    }
}

impl Link<'_> {
    fn pid(&self, id: ProcId) -> u32 {
        self.s.proc(id).pid
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
        let r = self.s.remote_syscall(id, nr, args, timeout)?;
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

    /// Marks `step` done and fires the test-only fault hook if it names this step.
    fn done(&mut self, step: Step) -> Result<()> {
        self.steps.push(step);
        if let Some(f) = self.req.fault {
            if f.after == step {
                match f.action {
                    FaultAction::KillSource => self.s.kill_and_reap(self.sid),
                    FaultAction::KillTarget => self.s.kill_and_reap(self.tid),
                    FaultAction::Fail => {
                        return Err(Error::Refused {
                            pid: self.req.source,
                            reason: format!("test fault injected after step {}", step.name()),
                        })
                    }
                }
            }
        }
        Ok(())
    }

    fn steps(&mut self, plan: Plan) -> Result<LinkReport> {
        let req = self.req;
        let (sid, tid) = (self.sid, self.tid);
        let n = req.size;
        let a = req.address;
        let ta = req.target_address();

        // Re-check the ranges now that S cannot change.
        let sf = smaps_of(req.source)?;
        let (pieces, _) = preflight::check_source_range(req.source, &sf, a, n)?;
        if pieces != plan.pieces {
            return Err(Error::Refused {
                pid: req.source,
                reason: "the source range changed during the checks; try again".into(),
            });
        }
        let tf = smaps_of(req.target)?;
        preflight::check_target_free(req.target, &tf, ta, n)?;
        self.s.prepare(sid)?;
        self.s.prepare(tid)?;
        let before = if req.verify {
            Some(hash_range(req.source, a, n)?)
        } else {
            None
        };
        self.done(Step::Stop)?;

        // scratch
        let page = self.page;
        let scratch = self.call(
            sid,
            nr::MMAP,
            [0, page, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0],
            "mmap a scratch page",
        )?;
        self.j.s_scratch = Some(scratch);
        let name = memfd_name(req);
        let mut bytes = name.clone().into_bytes();
        bytes.push(0);
        write_remote(req.source, scratch, &bytes)?;
        self.done(Step::Scratch)?;

        // memfd
        let sfd = match self.call(
            sid,
            nr::MEMFD_CREATE,
            [scratch, MFD_CLOEXEC | MFD_NOEXEC_SEAL, 0, 0, 0, 0],
            "memfd_create",
        ) {
            Err(e) if Self::errno_of(&e) == Some(libc::EINVAL) => {
                // Kernels before 6.3 do not know MFD_NOEXEC_SEAL.
                self.call(
                    sid,
                    nr::MEMFD_CREATE,
                    [scratch, MFD_CLOEXEC, 0, 0, 0, 0],
                    "memfd_create",
                )?
            }
            r => r?,
        };
        self.j.sfd = Some(sfd);
        self.done(Step::Memfd)?;

        self.call(
            sid,
            nr::FTRUNCATE,
            [sfd, n, 0, 0, 0, 0],
            "ftruncate the memfd",
        )?;
        self.done(Step::Truncate)?;

        // copy: the source writes its own range into the memfd.
        let mut off = 0;
        while off < n {
            let len = PWRITE_CHUNK.min(n - off);
            let timeout = CALL_TIMEOUT + Duration::from_secs(30 * (len >> 30).max(1));
            let w = self.call_t(
                sid,
                nr::PWRITE64,
                [sfd, a + off, len, off, 0, 0],
                "pwrite the range into the memfd",
                timeout,
            )?;
            if w == 0 {
                return Err(Error::Os {
                    op: format!(
                        "process {}: pwrite into the memfd made no progress",
                        req.source
                    ),
                    source: std::io::Error::from_raw_os_error(libc::EIO),
                });
            }
            off += w;
        }
        self.done(Step::Copy)?;

        // target-fd: method A (pidfd, injected in T), then B (SCM_RIGHTS brokered by memlink).
        let (tfd, method) = match self.target_fd_pidfd(sfd) {
            Ok(fd) => (fd, "pidfd"),
            Err(e) if !self.s.alive(sid) || !self.s.alive(tid) => return Err(e),
            Err(e) => {
                log::info!("pidfd method failed ({e}); passing the memfd over a socket");
                (
                    self.target_fd_socket(sfd).map_err(pidfd_error)?,
                    "scm-rights",
                )
            }
        };
        self.j.tfd = Some(tfd);
        self.done(Step::TargetFd)?;

        // target-map
        let prot0 = pieces[0].prot();
        let m = match self.call(
            tid,
            nr::MMAP,
            [ta, n, prot0, MAP_SHARED | MAP_FIXED_NOREPLACE, tfd, 0],
            "mmap the memfd",
        ) {
            Err(e) if Self::errno_of(&e) == Some(libc::EEXIST) => return Err(occupied(req)),
            r => r?,
        };
        if m != ta {
            // Before Linux 4.17 MAP_FIXED_NOREPLACE is only a hint.
            let _ = self.call(tid, nr::MUNMAP, [m, n, 0, 0, 0, 0], "munmap");
            return Err(occupied(req));
        }
        self.j.t_map = true;
        for p in pieces.iter().filter(|p| p.prot() != prot0) {
            self.call(
                tid,
                nr::MPROTECT,
                [ta + (p.start - a), p.end - p.start, p.prot(), 0, 0, 0],
                "mprotect a piece of the target range",
            )?;
        }
        self.done(Step::TargetMap)?;

        // check: the point of no return.
        for id in [sid, tid] {
            if !self.s.alive(id) {
                return Err(Error::ProcessExited {
                    pid: self.pid(id),
                    during: "being linked (before the point of no return)".into(),
                });
            }
        }
        self.done(Step::Check)?;

        // remap
        self.j.remap_tried = true;
        let m = self.call(
            sid,
            nr::MMAP,
            [a, n, prot0, MAP_SHARED | MAP_FIXED, sfd, 0],
            "mmap the memfd over the source range",
        )?;
        if m != a {
            return Err(Error::Os {
                op: format!(
                    "process {}: mmap over the source range landed at {m:#x}",
                    req.source
                ),
                source: std::io::Error::from_raw_os_error(libc::EFAULT),
            });
        }
        self.j.remapped = true;
        for p in pieces.iter().filter(|p| p.prot() != prot0) {
            // The data is in the memfd either way; a failed mprotect is only reported.
            if let Err(e) = self.call(
                sid,
                nr::MPROTECT,
                [p.start, p.end - p.start, p.prot(), 0, 0, 0],
                "mprotect a piece of the source range",
            ) {
                log::warn!("{e}");
            }
        }
        self.done(Step::Remap)?;

        let verified = match before {
            Some(h) => {
                let hs = hash_range(req.source, a, n)?;
                let ht = hash_range(req.target, ta, n)?;
                if hs != h || ht != h {
                    return Err(Error::Refused {
                        pid: req.target,
                        reason: "verification failed: the linked ranges differ from the source's content".into(),
                    });
                }
                Some(true)
            }
            None => None,
        };

        Ok(LinkReport {
            source: req.source,
            target: req.target,
            address: a,
            target_address: ta,
            size: n,
            mode: LinkMode::Share,
            dry_run: false,
            memfd_name: Some(name),
            fd_method: Some(method.into()),
            pieces: report_pieces(&pieces),
            bytes_copied: n,
            verified,
            steps: Vec::new(),
            warnings: plan.warnings,
            elapsed_us: 0,
        })
    }

    /// Method A: `pidfd_open(S)` and `pidfd_getfd` injected in T. Needs T to be allowed to
    /// trace S, and S visible in T's PID namespace.
    fn target_fd_pidfd(&mut self, sfd: u64) -> Result<u64> {
        let (req, tid) = (self.req, self.tid);
        let spid_in_t = pid_as_seen_by(req.source, req.target).ok_or_else(|| Error::Refused {
            pid: req.target,
            reason: format!("process {} is not visible in its PID namespace", req.source),
        })?;
        let pidfd = self
            .call(
                tid,
                nr::PIDFD_OPEN,
                [spid_in_t as u64, 0, 0, 0, 0, 0],
                "pidfd_open",
            )
            .map_err(pidfd_error)?;
        self.j.t_pidfd = Some(pidfd);
        let r = self.call(
            tid,
            nr::PIDFD_GETFD,
            [pidfd, sfd, 0, 0, 0, 0],
            "pidfd_getfd",
        );
        let _ = self.call(tid, nr::CLOSE, [pidfd, 0, 0, 0, 0, 0], "close the pidfd");
        self.j.t_pidfd = None;
        r.map_err(pidfd_error)
    }

    /// Method B: T creates a socket pair; memlink takes one end and the memfd with its own
    /// `pidfd_getfd` and sends the memfd with `SCM_RIGHTS`; T receives it with an injected
    /// `recvmsg`. Needs only memlink's rights over both processes (works across users and PID
    /// namespaces).
    fn target_fd_socket(&mut self, sfd: u64) -> Result<u64> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
        use std::os::fd::AsRawFd;
        let (req, tid) = (self.req, self.tid);
        let page = self.page;
        let scratch = self.call(
            tid,
            nr::MMAP,
            [0, page, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0],
            "mmap a scratch page",
        )?;
        self.j.t_scratch = Some(scratch);
        // socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, scratch)
        self.call(
            tid,
            nr::SOCKETPAIR,
            [1, 2 | 0x80000, 0, scratch, 0, 0],
            "socketpair",
        )?;
        let sv = super::super::ptrace::remote::read_remote(req.target, scratch, 8)
            .map_err(|e| Error::from_errno(req.target, "read the memory of", e))?;
        if sv.len() != 8 {
            return Err(Error::Unmapped {
                pid: req.target,
                start: scratch,
                end: scratch + 8,
            });
        }
        let sv0 = i32::from_ne_bytes([sv[0], sv[1], sv[2], sv[3]]) as u64;
        let sv1 = i32::from_ne_bytes([sv[4], sv[5], sv[6], sv[7]]) as u64;
        self.j.t_socks = vec![sv0, sv1];
        let getfd = |pid: u32, fd: u64| -> Result<std::os::fd::OwnedFd> {
            let pidfd = sys::pidfd_open(pid).map_err(|e| os(pid, "pidfd_open", e))?;
            sys::pidfd_getfd(&pidfd, fd as i32).map_err(|e| os(pid, "pidfd_getfd", e))
        };
        let sock = getfd(req.target, sv1)?;
        let memfd = getfd(req.source, sfd)?;
        let fds = [memfd.as_raw_fd()];
        sendmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &[std::io::IoSlice::new(b"m")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(|e| os(req.target, "send the memfd", e.into()))?;
        drop(sock);
        drop(memfd);
        // msghdr at +64, iovec at +128, control buffer at +192, data at +256.
        let mut msg = Vec::with_capacity(200);
        let put = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&x.to_ne_bytes());
        put(&mut msg, 0); // msg_name
        put(&mut msg, 0); // msg_namelen + padding
        put(&mut msg, scratch + 128); // msg_iov
        put(&mut msg, 1); // msg_iovlen
        put(&mut msg, scratch + 192); // msg_control
        put(&mut msg, 64); // msg_controllen
        put(&mut msg, 0); // msg_flags + padding
        msg.resize(64, 0);
        put(&mut msg, scratch + 256); // iov_base
        put(&mut msg, 16); // iov_len
        msg.resize(192 - 64 + 64, 0);
        write_remote(req.target, scratch + 64, &msg)?;
        // recvmsg(sv0, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)
        self.call(
            tid,
            nr::RECVMSG,
            [sv0, scratch + 64, 0x4000_0000 | 0x40, 0, 0, 0],
            "recvmsg",
        )?;
        let c = super::super::ptrace::remote::read_remote(req.target, scratch + 192, 24)
            .map_err(|e| Error::from_errno(req.target, "read the memory of", e))?;
        let level = c
            .get(8..12)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let kind = c
            .get(12..16)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let fd = c
            .get(16..20)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        for fd in std::mem::take(&mut self.j.t_socks) {
            let _ = self.call(tid, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close a socket");
        }
        match (level, kind, fd) {
            (Some(1), Some(1), Some(fd)) if fd >= 0 => Ok(fd as u64),
            _ => Err(Error::Refused {
                pid: req.target,
                reason: "the memfd did not arrive over the socket".into(),
            }),
        }
    }

    /// Closes the temporary fds and unmaps the scratch page; failures become warnings.
    fn cleanup(&mut self) -> Vec<String> {
        let mut w = Vec::new();
        let (sid, tid) = (self.sid, self.tid);
        if let Some(fd) = self.j.tfd.take() {
            if self.s.alive(tid) {
                if let Err(e) = self.call(tid, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close") {
                    w.push(format!("target fd {fd} may leak: {e}"));
                }
            }
        }
        if let Some(p) = self.j.t_scratch.take() {
            if self.s.alive(tid) {
                let page = self.page;
                if let Err(e) = self.call(tid, nr::MUNMAP, [p, page, 0, 0, 0, 0], "munmap") {
                    w.push(format!("target scratch page may leak: {e}"));
                }
            }
        }
        if let Some(fd) = self.j.sfd.take() {
            if self.s.alive(sid) {
                if let Err(e) = self.call(sid, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close") {
                    w.push(format!("source fd {fd} may leak: {e}"));
                }
            }
        }
        if let Some(p) = self.j.s_scratch.take() {
            if self.s.alive(sid) {
                let page = self.page;
                if let Err(e) = self.call(sid, nr::MUNMAP, [p, page, 0, 0, 0, 0], "munmap") {
                    w.push(format!("source scratch page may leak: {e}"));
                }
            }
        }
        w
    }

    /// Undoes what the journal records, for each process still alive, and returns the error
    /// to report.
    fn rollback(&mut self, e: Error) -> Error {
        let (sid, tid) = (self.sid, self.tid);
        let (a, ta, n) = (self.req.address, self.req.target_address(), self.req.size);
        if self.j.remapped {
            // Past the point of no return: the source is linked; only clean up.
            let tgt_alive = self.s.alive(tid);
            let _ = self.cleanup();
            if !tgt_alive {
                return target_died_after_remap(self.req.target);
            }
            return e;
        }
        // Target: unmap, close its fds.
        if self.s.alive(tid) {
            if self.j.t_map {
                if let Err(u) = self.call(tid, nr::MUNMAP, [ta, n, 0, 0, 0, 0], "munmap") {
                    log::warn!("rollback in target: {u}");
                }
            }
            for fd in [self.j.tfd.take(), self.j.t_pidfd.take()]
                .into_iter()
                .flatten()
            {
                let _ = self.call(tid, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close");
            }
        }
        // Source: if a failed remap left a hole, rebuild private memory from the memfd.
        if self.j.remap_tried && self.s.alive(sid) {
            if let Err(u) = self.rebuild_source(a, n) {
                log::warn!("rollback in source: {u}");
            }
        }
        self.j.tfd = None;
        self.j.t_map = false;
        let _ = self.cleanup();
        e
    }

    /// After a failed `MAP_FIXED` over the source: if the range is no longer fully mapped,
    /// map private memory there again and read the content back from the memfd.
    fn rebuild_source(&mut self, a: u64, n: u64) -> Result<()> {
        let sid = self.sid;
        let facts = smaps_of(self.req.source)?;
        let fully = preflight::check_source_range(self.req.source, &facts, a, n).is_ok();
        if fully {
            return Ok(());
        }
        let Some(sfd) = self.j.sfd else { return Ok(()) };
        self.call(
            sid,
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
            let r = self.call(sid, nr::PREAD64, [sfd, a + off, len, off, 0, 0], "pread")?;
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

/// Explains a failed pidfd call: ENOSYS means a kernel older than 5.6.
fn pidfd_error(e: Error) -> Error {
    match e {
        Error::Os { op, source } if source.raw_os_error() == Some(libc::ENOSYS) => Error::Os {
            op: format!(
                "{op} (the kernel lacks pidfd_open/pidfd_getfd: Linux 5.6 or later is needed)"
            ),
            source,
        },
        Error::Os { op, source } if source.raw_os_error() == Some(libc::EPERM) => Error::Os {
            op: format!(
                "{op} (the target may not trace the source: same user or CAP_SYS_PTRACE needed)"
            ),
            source,
        },
        e => e,
    }
}

fn os(pid: u32, what: &str, e: std::io::Error) -> Error {
    Error::Os {
        op: format!("{what} of process {pid}"),
        source: e,
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

/// The PID of `pid` as process `observer` sees it: the same when both live in memlink's PID
/// namespace, else the innermost `NSpid` when `pid` lives in the observer's namespace.
fn pid_as_seen_by(pid: u32, observer: u32) -> Option<u32> {
    let ns = |p: &str| std::fs::read_link(proc_path(&format!("{p}/ns/pid"))).ok();
    let obs = ns(&observer.to_string())?;
    if Some(&obs) == ns("self").as_ref() {
        return Some(pid);
    }
    if Some(&obs) == ns(&pid.to_string()).as_ref() {
        let st = std::fs::read(pid_path(pid, "status")).ok()?;
        return crate::proc::status::parse(&st).ok()?.ns_pid.last().copied();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfd_errors_name_the_cause() {
        let os = |errno| Error::Os {
            op: "process 5: pidfd_getfd".into(),
            source: std::io::Error::from_raw_os_error(errno),
        };
        assert!(pidfd_error(os(libc::ENOSYS))
            .to_string()
            .contains("Linux 5.6 or later"));
        assert!(pidfd_error(os(libc::EPERM))
            .to_string()
            .contains("CAP_SYS_PTRACE"));
        assert!(!pidfd_error(os(libc::EBADF)).to_string().contains("Linux"));
    }
}
