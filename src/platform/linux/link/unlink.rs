//! Unlink: turn a shared memfd range of one process back into private memory with the same
//! content, leaving every other mapping of the memfd (the partner's) intact. An `Unlink`
//! session holds the tracee; the driver calls one method per step, in the order of this table,
//! and marks each step done after it (the test-only fault points).
//!
//! | step | method | action | undo |
//! |---|---|---|---|
//! | stop | `stop` | stop every thread of the process; re-check the range | detach |
//! | scratch | `scratch` | `mmap(0, N, RW, MAP_PRIVATE\|MAP_ANONYMOUS)` → temporary range, then the marker `memfd_create("memlink-unlink:P:A:TMP:N:PID:START")` | `munmap`, `close` |
//! | copy | `copy` | memlink copies `[A, A+N)` into the temporary range (`process_vm_readv`/`writev`) | (same) |
//! | remap | `remap` | `mremap(tmp, N, N, MREMAP_MAYMOVE\|MREMAP_FIXED, A)`, then per-piece `mprotect`, then `close` the marker | — |
//!
//! The temporary range stays private anonymous memory (a memfd behind it would leave the
//! unlinked range file-backed); the marker fd names it instead, so that `unlink --cleanup`
//! finds what an unlink interrupted by memlink's death left.
//!
//! `mremap` over the range is atomic: the shared mapping is replaced in one call, so there is
//! never a hole. The temporary range stays one VMA (protections are applied after the move)
//! because `mremap` cannot move a range spanning several VMAs.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
#[cfg(feature = "test-hooks")]
use crate::link::request::FaultAction;
use crate::link::request::{Step, UnlinkReport, UnlinkRequest};
use crate::platform::linux::procdir::ProcDir;
use crate::platform::linux::ptrace::remote::nr;
use crate::platform::linux::ptrace::{ProcId, Session};

use super::copy::copy_range;
use super::preflight::{self, VmaPiece};
use super::{gather, has_cap_sys_admin, page_size, proc_path, proc_root, report_pieces, smaps_of};

const PROT_RW: u64 = 3;
const MAP_PRIVATE_ANONYMOUS: u64 = 0x22;
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const TIMEOUT: Duration = Duration::from_secs(30);
const MFD_CLOEXEC: u64 = 1;

/// Runs an unlink request: the argument checks and the pre-flight checks, then the steps.
pub fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport> {
    unlink_inner(req).map_err(super::hint_for_caller)
}

fn unlink_inner(req: &UnlinkRequest) -> Result<UnlinkReport> {
    if req.cleanup {
        return super::cleanup::cleanup(req);
    }
    let started = Instant::now();
    check_args(req)?;
    let suspend = has_cap_sys_admin();
    let facts = gather(req.pid, suspend)?;
    let pieces = preflight::check_unlink_range(req.pid, &facts.smaps, req.address, req.size)?;
    let mut report = UnlinkReport {
        pid: req.pid,
        address: req.address,
        size: req.size,
        dry_run: req.dry_run,
        pieces: report_pieces(&pieces),
        bytes_copied: 0,
        removed: Vec::new(),
        elapsed_us: 0,
    };
    if req.dry_run {
        report.elapsed_us = started.elapsed().as_micros() as u64;
        return Ok(report);
    }
    if let Ok(mi) = std::fs::read(proc_path("meminfo")) {
        preflight::check_memory(req.pid, req.size, &mi)?;
    }
    let mut unlink = Unlink::stop(req, pieces, suspend)?;
    report.bytes_copied = unlink.steps()?;
    drop(unlink);
    // The process must still be there and the range private now.
    let _ = ProcDir::open_live(proc_root(), req.pid)?;
    report.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(report)
}

/// The arguments alone: size, alignment, user-space bounds, not memlink itself, x86_64.
pub(super) fn check_args(req: &UnlinkRequest) -> Result<()> {
    let page = page_size();
    if req.size == 0 {
        return Err(Error::InvalidArgument("size must not be 0".into()));
    }
    if !req.address.is_multiple_of(page) || !req.size.is_multiple_of(page) {
        return Err(Error::InvalidArgument(format!(
            "address {:#x} and size {:#x} must be multiples of the page size ({page} bytes)",
            req.address, req.size
        )));
    }
    if req
        .address
        .checked_add(req.size)
        .is_none_or(|e| e > preflight::USER_SPACE_END)
    {
        return Err(Error::InvalidArgument(format!(
            "range {:#x} + {:#x} overflows user space",
            req.address, req.size
        )));
    }
    if req.pid == std::process::id() {
        return Err(Error::InvalidArgument(format!(
            "process {} is memlink itself",
            req.pid
        )));
    }
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::Unsupported {
            op: "unlinking memory",
            platform: std::env::consts::ARCH,
        });
    }
    Ok(())
}

/// An unlink in progress: the stopped process and the pieces of its range.
struct Unlink<'a> {
    req: &'a UnlinkRequest,
    pieces: Vec<VmaPiece>,
    tracees: Session,
    process: ProcId,
    /// The marker memfd's fd in the process, while it is open.
    marker: Option<u64>,
}

impl<'a> Unlink<'a> {
    /// Step `stop`: stops every thread of the process, re-checks the range and prepares the
    /// injection thread. Dropping the session on failure detaches.
    fn stop(req: &'a UnlinkRequest, pieces: Vec<VmaPiece>, suspend: bool) -> Result<Unlink<'a>> {
        let mut tracees = Session::new(suspend);
        #[cfg(feature = "test-hooks")]
        {
            tracees.hold_in_call = req.fault.and_then(|f| Some((f.during_call?, None)));
        }
        let process = tracees.stop(req.pid, true)?;
        let again =
            preflight::check_unlink_range(req.pid, &smaps_of(req.pid)?, req.address, req.size)?;
        if again != pieces {
            return Err(Error::Refused {
                pid: req.pid,
                reason: "the range changed during the checks; try again".into(),
            });
        }
        tracees.prepare(process)?;
        Ok(Unlink {
            req,
            pieces,
            tracees,
            process,
            marker: None,
        })
    }

    /// The steps of the module table after `stop`, each marked done after it; a failure while
    /// the temporary range exists unmaps it first. Returns the bytes copied.
    fn steps(&mut self) -> Result<u64> {
        self.done(Step::Stop)?;
        let tmp = self.scratch()?;
        self.undoing(tmp, |u| u.done(Step::Scratch))?;
        let copied = self.undoing(tmp, |u| u.copy(tmp))?;
        self.undoing(tmp, |u| u.done(Step::Copy))?;
        self.remap(tmp)?;
        self.close_marker();
        self.done(Step::Remap)?;
        Ok(copied)
    }

    /// Marks `step` done; with the `test-hooks` feature, fires the test-only fault if it names
    /// this step.
    fn done(&mut self, step: Step) -> Result<()> {
        #[cfg(feature = "test-hooks")]
        match self.req.fault {
            Some(f) if f.after == step && f.during_call.is_none() => match f.action {
                FaultAction::KillSource | FaultAction::KillTarget => {
                    self.tracees.kill_and_reap(self.process);
                }
                FaultAction::Fail => {
                    return Err(Error::Refused {
                        pid: self.req.pid,
                        reason: format!("test fault injected after step {}", step.name()),
                    })
                }
                FaultAction::Hold => crate::link::request::Fault::hold(step),
            },
            _ => {}
        }
        #[cfg(not(feature = "test-hooks"))]
        let _ = step;
        Ok(())
    }

    /// One injected call; a negative result becomes an error naming `what`.
    fn call(&mut self, nr: u64, args: [u64; 6], what: &str) -> Result<u64> {
        let r = self
            .tracees
            .remote_syscall(self.process, nr, args, TIMEOUT)?;
        if (-4095..0).contains(&r) {
            return Err(Error::Os {
                op: format!("process {}: {what}", self.req.pid),
                source: std::io::Error::from_raw_os_error(-r as i32),
            });
        }
        Ok(r as u64)
    }

    /// Runs `f`; if it fails, unmaps the temporary range at `tmp` and closes the marker before
    /// passing the error on.
    fn undoing<T>(&mut self, tmp: u64, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        f(self).inspect_err(|_| {
            if !self.tracees.proc(self.process).dead {
                let n = self.req.size;
                let _ = self.tracees.remote_syscall(
                    self.process,
                    nr::MUNMAP,
                    [tmp, n, 0, 0, 0, 0],
                    TIMEOUT,
                );
                self.close_marker();
            }
        })
    }

    /// Closes the marker memfd, if open (a failure only leaves the fd, which the cleanup
    /// finds).
    fn close_marker(&mut self) {
        if let Some(fd) = self.marker.take() {
            if !self.tracees.proc(self.process).dead {
                let _ = self.call(nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close the marker memfd");
            }
        }
    }

    /// Step `scratch`: a temporary private anonymous range of N bytes elsewhere in the process,
    /// then the marker memfd that names it (its name is written below the injection thread's
    /// return frame).
    fn scratch(&mut self) -> Result<u64> {
        let (pid, a, n) = (self.req.pid, self.req.address, self.req.size);
        let tmp = self.call(
            nr::MMAP,
            [0, n, PROT_RW, MAP_PRIVATE_ANONYMOUS, u64::MAX, 0],
            "mmap a temporary range",
        )?;
        let mut name = format!(
            "memlink-unlink:{pid}:{a:x}:{tmp:x}:{n:x}:{}",
            super::owner_tag()
        )
        .into_bytes();
        name.push(0);
        let top = self
            .tracees
            .proc(self.process)
            .injector
            .as_ref()
            .map(|i| i.scratch_top())
            .unwrap_or(0);
        let at = top.saturating_sub(name.len() as u64) & !63;
        let marker = self.undoing(tmp, |u| {
            match crate::platform::linux::vm::write(pid, at, &name) {
                Ok(w) if w == name.len() => {}
                _ => {
                    return Err(Error::Unmapped {
                        pid,
                        start: at,
                        end: at + name.len() as u64,
                    })
                }
            }
            u.call(
                nr::MEMFD_CREATE,
                [at, MFD_CLOEXEC, 0, 0, 0, 0],
                "memfd_create the marker of the temporary range",
            )
        })?;
        self.marker = Some(marker);
        Ok(tmp)
    }

    /// Step `copy`: memlink copies the range into the temporary range.
    fn copy(&mut self, tmp: u64) -> Result<u64> {
        let req = self.req;
        copy_range(req.pid, req.address, req.pid, tmp, req.size)
    }

    /// Step `remap`: the temporary range moved over the shared one in one `mremap`, then
    /// per-piece protections.
    fn remap(&mut self, tmp: u64) -> Result<()> {
        let (a, n) = (self.req.address, self.req.size);
        let m = self.undoing(tmp, |u| {
            u.call(
                nr::MREMAP,
                [tmp, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, a, 0],
                "mremap the private copy over the range",
            )
        })?;
        if m != a {
            return Err(Error::Os {
                op: format!("process {}: mremap landed at {m:#x}", self.req.pid),
                source: std::io::Error::from_raw_os_error(libc::EFAULT),
            });
        }
        let pieces = self.pieces.clone();
        for p in pieces.iter().filter(|p| p.prot() != PROT_RW) {
            self.call(
                nr::MPROTECT,
                [p.start, p.end - p.start, p.prot(), 0, 0, 0],
                "mprotect a piece",
            )?;
        }
        Ok(())
    }
}
