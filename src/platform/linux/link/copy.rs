//! Copy mode: one-shot `process_vm_readv` from the source into a bounce buffer and
//! `process_vm_writev` into the target's already-mapped writable range (both through
//! [`vm`]), in bounded chunks.
//! Nothing is stopped, so the copy is not atomic with respect to the source's own writes. A
//! copy that stops part-way reports exactly how many bytes arrived.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::link::request::{LinkMode, LinkReport, LinkRequest};
use crate::platform::linux::vm;
use crate::region::Perms;

use super::preflight::{self, VmaPiece};
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
    let pieces = [VmaPiece {
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
    let copy = RangeCopy {
        src,
        src_addr,
        dst,
        dst_addr,
        size,
    };
    let mut buf = vec![0u8; CHUNK.min(size) as usize];
    let mut done: u64 = 0;
    while done < size {
        let len = CHUNK.min(size - done) as usize;
        let got = copy.read_chunk(done, &mut buf[..len])?;
        copy.write_chunk(done, &buf[..got])?;
        done += got as u64;
        if got < len {
            return Err(copy.partial(
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

/// One [`copy_range`]: where from, where to, how much. Offsets are counted from the start of
/// the range, which is what a partial copy reports.
struct RangeCopy {
    src: u32,
    src_addr: u64,
    dst: u32,
    dst_addr: u64,
    size: u64,
}

impl RangeCopy {
    /// A copy that stopped after `done` bytes.
    fn partial(&self, done: u64, cause: String) -> Error {
        Error::PartialCopy {
            source_pid: self.src,
            target_pid: self.dst,
            copied: done,
            size: self.size,
            cause,
        }
    }

    /// Reads the chunk at offset `done` into `buf`; returns how many bytes were read (short
    /// when the next page is not readable).
    fn read_chunk(&self, done: u64, buf: &mut [u8]) -> Result<usize> {
        let at = self.src_addr + done;
        match vm::read(self.src, at, buf) {
            Ok(n) => Ok(n),
            Err(e) if done == 0 => Err(Error::from_errno(self.src, "read the memory of", e.into())),
            Err(e) => Err(self.partial(
                done,
                format!("reading process {} at {at:#x}: {e}", self.src),
            )),
        }
    }

    /// Writes `data`, the chunk at offset `done`, completely.
    fn write_chunk(&self, done: u64, data: &[u8]) -> Result<()> {
        let mut put = 0usize;
        while put < data.len() {
            let off = done + put as u64;
            let at = self.dst_addr + off;
            match vm::write(self.dst, at, &data[put..]) {
                Ok(0) => {
                    return Err(self.partial(
                        off,
                        format!("writing process {} at {at:#x}: page not writable", self.dst),
                    ))
                }
                Ok(w) => put += w,
                Err(e) if off == 0 => {
                    return Err(Error::from_errno(self.dst, "write the memory of", e.into()))
                }
                Err(e) => {
                    return Err(
                        self.partial(off, format!("writing process {} at {at:#x}: {e}", self.dst))
                    )
                }
            }
        }
        Ok(())
    }
}
