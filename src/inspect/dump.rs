//! Copying a range of a live process's memory to a file.
//!
//! The range is validated against the memory map before anything is created. Gaps between
//! mappings, regions without read permission and pages that fail to read are *holes*: they
//! read as zeros in the output (the file is sparse there) and every hole is listed in the
//! [`DumpReport`], so zeros written for missing memory are never mistaken for memory that
//! held zeros. Reading and writing run on two threads with a small pool of reused buffers,
//! so the copy costs about as much as the slower of the two.
//!
//! Memory is read through the analyzer's process handle ([`MemoryAnalyzer::memory`]), from the
//! procfs root the analyzer was opened with.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel};

use serde::Serialize;

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::platform::{MemReader, ReadMode, Step};
use crate::region::{MemoryRegion, Perms};

/// Bytes per read.
const CHUNK: usize = 2 << 20;
/// Buffers in flight between the reader and the writer.
const BUFFERS: usize = 3;

/// A range that could not be read, written as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hole {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Why: `unmapped`, `not readable` (permissions), `read failed`, or a page the default
    /// read mode does not fault in: `swapped out`, `not in page cache`, `not mapped, backing
    /// file not readable` (see [`ReadMode`]).
    pub why: &'static str,
}

/// What a dump wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DumpReport {
    /// First address dumped.
    pub start: u64,
    /// Bytes in the file (the whole range).
    pub size: u64,
    /// Bytes actually read from the process.
    pub bytes_read: u64,
    /// Unreadable ranges, in address order, present in the file as zeros.
    pub holes: Vec<Hole>,
}

/// Checks `[start, start + size)`: non-empty, no overflow, at least partly mapped. Returns the
/// end address.
pub fn validate(pid: u32, regions: &[MemoryRegion], start: u64, size: u64) -> Result<u64> {
    if size == 0 {
        return Err(Error::InvalidArgument("size must be greater than 0".into()));
    }
    let end = start.checked_add(size).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "address {start:#x} + size {size:#x} overflows the address space"
        ))
    })?;
    if !regions
        .iter()
        .any(|r| (r.base_address as u64) < end && r.end_address() as u64 > start)
    {
        return Err(Error::Unmapped { pid, start, end });
    }
    Ok(end)
}

/// The region containing `addr`, as a range.
pub fn region_at(pid: u32, regions: &[MemoryRegion], addr: u64) -> Result<(u64, u64)> {
    regions
        .iter()
        .find(|r| r.contains(addr as usize))
        .map(|r| (r.base_address as u64, r.end_address() as u64))
        .ok_or(Error::Unmapped {
            pid,
            start: addr,
            end: addr + 1,
        })
}

enum Msg {
    Data(Vec<u8>, usize),
    Skip(u64),
}

/// Copies `[start, end)` of the process to `out` (positioned at the file's start); holes are
/// left as sparse zeros when `sparse` (a new file memlink created), else written as zeros (a
/// pipe or device, which can neither seek nor be truncated).
///
/// # Errors
/// [`Error::ProcessExited`] when the process exits mid-copy, write errors.
#[allow(clippy::too_many_arguments)]
pub fn dump_to(
    reader: &MemReader,
    regions: &[MemoryRegion],
    start: u64,
    end: u64,
    mode: ReadMode,
    out: &mut File,
    path: &Path,
    sparse: bool,
) -> Result<DumpReport> {
    let mut report = DumpReport {
        start,
        size: end - start,
        ..Default::default()
    };
    let (to_writer, from_reader) = sync_channel::<Msg>(BUFFERS);
    let (to_reader, free) = channel::<Vec<u8>>();
    for _ in 0..BUFFERS {
        let _ = to_reader.send(vec![0u8; CHUNK]);
    }
    let file_err = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    std::thread::scope(|s| -> Result<()> {
        let writer = s.spawn(move || -> std::io::Result<()> {
            for msg in from_reader {
                match msg {
                    Msg::Data(buf, n) => {
                        out.write_all(&buf[..n])?;
                        let _ = to_reader.send(buf);
                    }
                    Msg::Skip(n) if sparse => {
                        out.seek(SeekFrom::Current(n as i64))?;
                    }
                    Msg::Skip(mut n) => {
                        let zeros = [0u8; 64 * 1024];
                        while n > 0 {
                            let k = n.min(zeros.len() as u64) as usize;
                            out.write_all(&zeros[..k])?;
                            n -= k as u64;
                        }
                    }
                }
            }
            if sparse {
                let len = out.stream_position()?;
                out.set_len(len)?;
            }
            Ok(())
        });
        let read_result = (|| -> Result<()> {
            let hole = |report: &mut DumpReport, s: u64, e: u64, why| {
                match report.holes.last_mut() {
                    Some(h) if h.end == s && h.why == why => h.end = e,
                    _ => report.holes.push(Hole {
                        start: s,
                        end: e,
                        why,
                    }),
                }
                to_writer.send(Msg::Skip(e - s)).is_ok()
            };
            let mut pos = start;
            for r in regions {
                let (rs, re) = (r.base_address as u64, r.end_address() as u64);
                if re <= pos || rs >= end {
                    continue;
                }
                if rs > pos && !hole(&mut report, pos, rs, "unmapped") {
                    return Ok(());
                }
                let seg_end = re.min(end);
                pos = pos.max(rs);
                if !r.perms.contains(Perms::READ) {
                    if !hole(&mut report, pos, seg_end, "not readable") {
                        return Ok(());
                    }
                    pos = seg_end;
                    continue;
                }
                let mut rr = reader.region(r, mode);
                while pos < seg_end {
                    let Ok(mut buf) = free.recv() else {
                        return Ok(());
                    };
                    let n = (seg_end - pos).min(CHUNK as u64) as usize;
                    match rr.next(pos, pos + n as u64, &mut buf[..n])? {
                        Step::Data(got) => {
                            report.bytes_read += got as u64;
                            pos += got as u64;
                            if to_writer.send(Msg::Data(buf, got)).is_err() {
                                return Ok(());
                            }
                        }
                        Step::Skip { end: skip_end, why } => {
                            // Put the unused buffer back into circulation.
                            if to_writer.send(Msg::Data(buf, 0)).is_err() {
                                return Ok(());
                            }
                            let skip_end = skip_end.clamp((pos + 1).min(seg_end), seg_end);
                            if !hole(&mut report, pos, skip_end, why.describe()) {
                                return Ok(());
                            }
                            pos = skip_end;
                        }
                    }
                }
            }
            if pos < end {
                hole(&mut report, pos, end, "unmapped");
            }
            Ok(())
        })();
        drop(to_writer);
        let write_result = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
        read_result?;
        write_result.map_err(file_err)
    })?;
    Ok(report)
}

/// Dumps `[start, start + size)` of the analyzer's process into a new file at `path`
/// (mode 0600, moved into place once complete; an existing file is replaced only with
/// `force`), or into an existing pipe or device as it is (`-` is standard output). On failure
/// only the temporary file is removed. See [`crate::files`].
///
/// # Errors
/// A bad range (see [`validate`]), the file exists, the process exits, I/O errors.
pub fn dump_file(
    analyzer: &MemoryAnalyzer,
    start: u64,
    size: u64,
    path: &Path,
    force: bool,
    mode: ReadMode,
) -> Result<DumpReport> {
    let pid = analyzer.pid();
    let regions = analyzer.list()?;
    let end = validate(pid, &regions, start, size)?;
    let mut out = crate::files::OutFile::create(path, force)?;
    let reader = analyzer.memory();
    let sparse = out.is_new_file();
    // On error `out` is dropped, which removes the temporary file and nothing else.
    let report = dump_to(
        &reader,
        &regions,
        start,
        end,
        mode,
        out.file_mut(),
        path,
        sparse,
    )?;
    out.commit()?;
    Ok(report)
}
