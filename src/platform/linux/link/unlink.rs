//! Unlink: turn a shared memfd range of one process back into private memory with the same
//! content, leaving every other mapping of the memfd (the partner's) intact.
//!
//! | step | action | undo |
//! |---|---|---|
//! | stop | stop every thread of the process; re-check the range | detach |
//! | scratch | `mmap(0, N, RW, MAP_PRIVATE\|MAP_ANONYMOUS)` → temporary range | `munmap` |
//! | copy | memlink copies `[A, A+N)` into the temporary range (`process_vm_readv`/`writev`) | (same) |
//! | remap | `mremap(tmp, N, N, MREMAP_MAYMOVE\|MREMAP_FIXED, A)`, then per-piece `mprotect` | — |
//!
//! `mremap` over the range is atomic: the shared mapping is replaced in one call, so there is
//! never a hole. The temporary range stays one VMA (protections are applied after the move)
//! because `mremap` cannot move a range spanning several VMAs.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link::{FaultAction, Step, UnlinkReport, UnlinkRequest};
use crate::platform::linux::procdir::ProcDir;
use crate::platform::linux::ptrace::remote::nr;
use crate::platform::linux::ptrace::Session;

use super::copy::copy_range;
use super::preflight;
use super::{gather, has_cap_sys_admin, page_size, proc_path, proc_root, report_pieces, smaps_of};

const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs an unlink request.
pub fn unlink(req: &UnlinkRequest) -> Result<UnlinkReport> {
    let started = Instant::now();
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
        elapsed_us: 0,
    };
    if req.dry_run {
        report.elapsed_us = started.elapsed().as_micros() as u64;
        return Ok(report);
    }
    if let Ok(mi) = std::fs::read(proc_path("meminfo")) {
        preflight::check_memory(req.pid, req.size, &mi)?;
    }

    let mut s = Session::new(suspend);
    let id = s.stop(req.pid, true)?;
    let again = preflight::check_unlink_range(req.pid, &smaps_of(req.pid)?, req.address, req.size)?;
    if again != pieces {
        return Err(Error::Refused {
            pid: req.pid,
            reason: "the range changed during the checks; try again".into(),
        });
    }
    s.prepare(id)?;
    let fault = |s: &mut Session, step: Step| -> Result<()> {
        match req.fault {
            Some(f) if f.after == step => match f.action {
                FaultAction::KillSource | FaultAction::KillTarget => {
                    s.kill_and_reap(id);
                    Ok(())
                }
                FaultAction::Fail => Err(Error::Refused {
                    pid: req.pid,
                    reason: format!("test fault injected after step {}", step.name()),
                }),
            },
            _ => Ok(()),
        }
    };
    let call = |s: &mut Session, nr: u64, args: [u64; 6], what: &str| -> Result<u64> {
        let r = s.remote_syscall(id, nr, args, TIMEOUT)?;
        if (-4095..0).contains(&r) {
            return Err(Error::Os {
                op: format!("process {}: {what}", req.pid),
                source: std::io::Error::from_raw_os_error(-r as i32),
            });
        }
        Ok(r as u64)
    };
    fault(&mut s, Step::Stop)?;
    let n = req.size;
    let tmp = call(
        &mut s,
        nr::MMAP,
        [0, n, 3, 0x22, u64::MAX, 0],
        "mmap a temporary range",
    )?;
    let undo = |s: &mut Session, e: Error| -> Error {
        if !s.proc(id).dead {
            let _ = s.remote_syscall(id, nr::MUNMAP, [tmp, n, 0, 0, 0, 0], TIMEOUT);
        }
        e
    };
    if let Err(e) = fault(&mut s, Step::Scratch) {
        return Err(undo(&mut s, e));
    }
    match copy_range(req.pid, req.address, req.pid, tmp, n) {
        Ok(c) => report.bytes_copied = c,
        Err(e) => return Err(undo(&mut s, e)),
    }
    if let Err(e) = fault(&mut s, Step::Copy) {
        return Err(undo(&mut s, e));
    }
    let m = match call(
        &mut s,
        nr::MREMAP,
        [tmp, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, req.address, 0],
        "mremap the private copy over the range",
    ) {
        Ok(m) => m,
        Err(e) => return Err(undo(&mut s, e)),
    };
    if m != req.address {
        return Err(Error::Os {
            op: format!("process {}: mremap landed at {m:#x}", req.pid),
            source: std::io::Error::from_raw_os_error(libc::EFAULT),
        });
    }
    for p in pieces.iter().filter(|p| p.prot() != 3) {
        call(
            &mut s,
            nr::MPROTECT,
            [p.start, p.end - p.start, p.prot(), 0, 0, 0],
            "mprotect a piece",
        )?;
    }
    fault(&mut s, Step::Remap)?;
    drop(s);
    // The process must still be there and the range private now.
    let _ = ProcDir::open_live(proc_root(), req.pid)?;
    report.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(report)
}
