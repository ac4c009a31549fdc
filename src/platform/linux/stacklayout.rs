//! The facts behind the thread stack layout rule that only I/O gives: which regions of a
//! process are laid out as glibc thread stacks (a pass over `smaps` for their `VmFlags`), and
//! whether a region's first page is a guard installed with `MADV_GUARD_INSTALL` (`pagemap`).
//!
//! Read only when some thread's stack pointer could not be read, so `list` (which otherwise
//! reads `maps` alone) pays for `smaps` only then, and gives the same types as `list --detailed`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;

use crate::proc::smaps::SmapsParser;
use crate::region::classify::{LayoutCandidates, StackLayoutScan};

use super::procdir::ProcDir;
use super::vm::page_size;

/// `pagemap` bit of a page inside a guard region (`PM_GUARD_REGION`, Linux 6.15; see
/// Documentation/admin-guide/mm/pagemap.rst).
const PM_GUARD_REGION: u64 = 1 << 58;

/// The regions of the process in `dir` laid out as glibc thread stacks, stopping the guard
/// checks once there are more than `limit` (then none can be attributed anyway). `None` when
/// `smaps` cannot be read.
pub fn layout_stacks(dir: &ProcDir, limit: usize) -> Option<Vec<(u64, u64)>> {
    let mut reader = BufReader::with_capacity(64 << 10, dir.open_file("smaps").ok()?);
    let mut parser = SmapsParser::new();
    let mut scan = StackLayoutScan::new();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Some(done) = parser.feed_line(text).ok()? {
            scan.push(&done.as_maps_line(), &done.vm_flags);
        }
    }
    if let Some(last) = parser.finish() {
        scan.push(&last.as_maps_line(), &last.vm_flags);
    }
    let LayoutCandidates {
        guarded: mut found,
        unguarded,
    } = scan.finish();
    if found.len() <= limit && !unguarded.is_empty() {
        if let Ok(pagemap) = dir.open_file("pagemap") {
            let page = page_size();
            for (start, end) in unguarded {
                if found.len() > limit {
                    break;
                }
                let mut entry = [0u8; 8];
                let guarded = pagemap
                    .read_exact_at(&mut entry, start / page * 8)
                    .is_ok_and(|_| u64::from_ne_bytes(entry) & PM_GUARD_REGION != 0);
                if guarded {
                    found.push((start, end));
                }
            }
        }
    }
    Some(found)
}
