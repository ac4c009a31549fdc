//! Copy mode: one-shot `process_vm_readv` from the source into a bounce buffer and
//! `process_vm_writev` into the target's already-mapped writable range, in bounded chunks.
//! Nothing is stopped, so the copy is not atomic with respect to the source's own writes. A
//! copy that stops part-way reports exactly how many bytes arrived.

use std::time::Instant;

use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::link::{LinkMode, LinkReport, LinkRequest};
use crate::region::Perms;

use super::preflight::{self, Piece};
use super::{gather_with, report_pieces};

/// Largest chunk held in memlink's memory at once.
pub const CHUNK: u64 = 64 << 20;

/// Runs a copy-mode request (already validated).
pub fn copy(req: &LinkRequest, started: Instant) -> Result<LinkReport> {
    let n = req.size;
    let ta = req.target_address();
    let s = gather_with(req.source, true, false)?;
    let t = gather_with(req.target, true, false)?;
    preflight::check_accessible(req.source, &s.smaps, req.address, n, Perms::READ, "source")?;
    preflight::check_accessible(req.target, &t.smaps, ta, n, Perms::WRITE, "target")?;
    let pieces = [Piece {
        start: req.address,
        end: req.address + n,
        perms: Perms::READ,
    }];
    let mut report = LinkReport {
        source: req.source,
        target: req.target,
        address: req.address,
        target_address: ta,
        size: n,
        mode: LinkMode::Copy,
        dry_run: req.dry_run,
        memfd_name: None,
        fd_method: None,
        pieces: report_pieces(&pieces),
        bytes_copied: 0,
        verified: None,
        steps: Vec::new(),
        warnings: Vec::new(),
        elapsed_us: 0,
    };
    if req.dry_run {
        report.elapsed_us = started.elapsed().as_micros() as u64;
        return Ok(report);
    }
    report.bytes_copied = copy_range(req.source, req.address, req.target, ta, n)?;
    if req.verify {
        let hs = super::hash_range(req.source, req.address, n)?;
        let ht = super::hash_range(req.target, ta, n)?;
        report.verified = Some(hs == ht);
        if hs != ht {
            report
                .warnings
                .push("the source changed during the copy: the ranges differ".into());
        }
    }
    report.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(report)
}

/// Copies `size` bytes from `src_addr` of `src` to `dst_addr` of `dst` in chunks of at most
/// [`CHUNK`], returning the count. Both may be the same process.
///
/// # Errors
/// [`Error::PartialCopy`] with the exact number of bytes that arrived when a read or write
/// stops short or fails after the first byte; the mapped error when nothing was copied.
pub fn copy_range(src: u32, src_addr: u64, dst: u32, dst_addr: u64, size: u64) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK.min(size) as usize];
    let mut done: u64 = 0;
    let partial = |done: u64, cause: String| Error::PartialCopy {
        source_pid: src,
        target_pid: dst,
        copied: done,
        size,
        cause,
    };
    while done < size {
        let len = CHUNK.min(size - done) as usize;
        let got = match process_vm_readv(
            Pid::from_raw(src as i32),
            &mut [std::io::IoSliceMut::new(&mut buf[..len])],
            &[RemoteIoVec {
                base: (src_addr + done) as usize,
                len,
            }],
        ) {
            Ok(n) => n,
            Err(e) if done == 0 => {
                return Err(Error::from_errno(src, "read the memory of", e.into()))
            }
            Err(e) => {
                return Err(partial(
                    done,
                    format!("reading process {src} at {:#x}: {e}", src_addr + done),
                ))
            }
        };
        let mut put = 0usize;
        while put < got {
            match process_vm_writev(
                Pid::from_raw(dst as i32),
                &[std::io::IoSlice::new(&buf[put..got])],
                &[RemoteIoVec {
                    base: (dst_addr + done + put as u64) as usize,
                    len: got - put,
                }],
            ) {
                Ok(0) => {
                    return Err(partial(
                        done + put as u64,
                        format!(
                            "writing process {dst} at {:#x}: page not writable",
                            dst_addr + done + put as u64
                        ),
                    ))
                }
                Ok(w) => put += w,
                Err(e) if done + put as u64 == 0 => {
                    return Err(Error::from_errno(dst, "write the memory of", e.into()))
                }
                Err(e) => {
                    return Err(partial(
                        done + put as u64,
                        format!(
                            "writing process {dst} at {:#x}: {e}",
                            dst_addr + done + put as u64
                        ),
                    ))
                }
            }
        }
        done += got as u64;
        if got < len {
            return Err(partial(
                done,
                format!(
                    "reading process {src} at {:#x}: address not mapped",
                    src_addr + done
                ),
            ));
        }
    }
    Ok(done)
}
