//! Code compared with its file. In every executable file mapping, the pages that are private
//! anonymous copies (the page map says which: [`PageMap`]) are read from the process and
//! compared with the mapped file at the same offset, read through `/proc/PID/map_files/` (the
//! inode actually mapped, not whatever the path names now). Pages that are still the file's
//! page cache cannot differ from it; copies in swap are reported as not verifiable rather
//! than swapped in. Differing ranges are named (module, function + offset, build-id) and
//! classified by decoding the live bytes with `iced-x86`.

use std::fs::File;
use std::os::unix::fs::FileExt;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Mnemonic, OpKind};

use super::elf::ElfCache;
use super::imports::{facts_of, map_files, name_address, Loaded};
use crate::inspect::audit::{kind, Detail, Finding, Severity};
use crate::platform::{MemReader, PageKind, PageMap, ProcDir};
use crate::region::{MemoryRegion, Perms};

/// Differences closer than this many bytes are one range.
const MERGE_GAP: u64 = 8;
/// How many bytes of each side the findings show.
const SHOWN: usize = 16;

/// What the check of one process found.
pub(crate) struct CodeCheck<'a> {
    /// The process.
    pub dir: &'a ProcDir,
    /// Its memory.
    pub memory: &'a MemReader,
    /// Its regions, in address order.
    pub regions: &'a [MemoryRegion],
    /// Does it map `[uprobes]` (the kernel's uprobe breakpoints)?
    pub uprobes: bool,
    /// The parsed ELF files.
    pub cache: &'a ElfCache,
    /// Its loaded modules, by address.
    pub modules: &'a [Loaded],
    /// The files (device, inode) that changed on disk after the process started.
    pub changed: &'a [(u64, u64)],
}

impl CodeCheck<'_> {
    /// Compares every executable file mapping's copied pages with the file.
    pub fn run(&self, pagemap: &PageMap, out: &mut Vec<Finding>) {
        for r in self.regions {
            if !r.perms.contains(Perms::EXEC) || r.path.is_none() || r.deleted {
                continue;
            }
            if r.perms.contains(Perms::WRITE) || r.perms.contains(Perms::SHARED) {
                continue;
            }
            let start = r.base_address as u64;
            let end = start + r.size as u64;
            let Ok(runs) = pagemap.runs(start, end) else {
                continue;
            };
            let copied: Vec<_> = runs
                .iter()
                .filter(|p| matches!(p.kind, PageKind::Anonymous | PageKind::Swapped))
                .collect();
            if copied.is_empty() {
                continue;
            }
            let file = self.dir.open_file(&map_files(r)).ok();
            let mut identical = 0u64;
            for run in copied {
                if run.kind == PageKind::Swapped {
                    out.push(self.finding(
                        r,
                        run.start,
                        run.end,
                        Severity::Low,
                        kind::UNVERIFIED_CODE,
                        format!(
                            "{} of copied code pages are in swap: not compared (reading them would swap them in)",
                            crate::units::format_size(run.len())
                        ),
                        Detail::default(),
                    ));
                    continue;
                }
                let Some(file) = &file else {
                    out.push(self.finding(
                        r,
                        run.start,
                        run.end,
                        Severity::Low,
                        kind::UNVERIFIED_CODE,
                        "copied code pages could not be compared: the mapped file cannot be opened".into(),
                        Detail::default(),
                    ));
                    continue;
                };
                match self.compare(r, file, run.start, run.end, out) {
                    Some(0) => identical += run.len(),
                    Some(_) => {}
                    None => out.push(self.finding(
                        r,
                        run.start,
                        run.end,
                        Severity::Low,
                        kind::UNVERIFIED_CODE,
                        "copied code pages could not be read".into(),
                        Detail::default(),
                    )),
                }
            }
            if identical > 0 {
                out.push(self.identical(
                    r,
                    start,
                    end,
                    format!(
                        "{} copied on write, identical to the file (what a detached debugger leaves)",
                        crate::units::format_size(identical)
                    ),
                ));
            }
        }
    }

    /// Compares `[start, end)` of region `r` with the file; the number of differing ranges
    /// (each pushed as a finding), `None` when either side cannot be read.
    fn compare(
        &self,
        r: &MemoryRegion,
        file: &File,
        start: u64,
        end: u64,
        out: &mut Vec<Finding>,
    ) -> Option<usize> {
        let len = (end - start) as usize;
        let mut live = vec![0u8; len];
        if self.memory.read(start, &mut live).ok()? != len {
            return None;
        }
        let file_off = r.offset + (start - r.base_address as u64);
        let mut disk = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match file.read_at(&mut disk[got..], file_off + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return None,
            }
        }
        // Past the end of the file a mapping reads zeros.
        let mut ranges = diff_ranges(&live, &disk);
        // With text relocations the dynamic linker wrote into the code: where it did, the
        // bytes are expected to differ.
        if let Some(f) = facts_of(self.dir, self.cache, r).filter(|f| f.textrel) {
            let word = f.word();
            let before: usize = ranges.iter().map(|(a, b)| b - a).sum();
            ranges.retain(|&(a, b)| {
                let covered = |i: usize| {
                    f.vaddr_of_offset(file_off + i as u64).is_some_and(|v| {
                        let k = f.text_relocs.partition_point(|&o| o + word <= v);
                        f.text_relocs.get(k).is_some_and(|&o| o <= v)
                    })
                };
                !(a..b).all(covered)
            });
            let after: usize = ranges.iter().map(|(a, b)| b - a).sum();
            if after < before {
                out.push(self.identical(
                    r,
                    start,
                    end,
                    format!(
                        "{} bytes differ from the file where its text relocations (DT_TEXTREL) apply: expected",
                        before - after
                    ),
                ));
            }
        }
        for &(a, b) in &ranges {
            let f = self.describe(r, start, &live, &disk, a, b);
            out.push(f);
        }
        Some(ranges.len())
    }

    #[allow(clippy::too_many_arguments)]
    fn describe(
        &self,
        r: &MemoryRegion,
        base: u64,
        live: &[u8],
        disk: &[u8],
        a: usize,
        b: usize,
    ) -> Finding {
        let addr = base + a as u64;
        let module = r.path.as_ref().map(|p| p.display().to_string());
        let file_off = r.offset + (addr - r.base_address as u64);
        let facts = facts_of(self.dir, self.cache, r);
        let vaddr = facts.as_ref().and_then(|f| f.vaddr_of_offset(file_off));
        let sym = facts
            .as_ref()
            .zip(vaddr)
            .and_then(|(f, v)| f.symbol_at(v).map(|(n, o)| (n.to_string(), o)));
        let symbol = sym.as_ref().map(|(n, o)| format!("{n}+{o:#x}"));
        let place = symbol
            .clone()
            .unwrap_or_else(|| format!("{}+{file_off:#x}", module.as_deref().unwrap_or("?")));
        // Decode from the patch's first byte; an instruction may run past the range.
        let tail = &live[a..live.len().min(a + 16)];
        let class = classify(tail, addr, &live[a..b], sym.as_ref().map(|s| s.1));
        let key = (
            (r.device.major as u64) << 32 | r.device.minor as u64,
            r.inode,
        );
        let changed = self.changed.contains(&key);
        let (severity, class_name, what) = match &class {
            // The file, not the memory, may be what changed.
            _ if changed => (
                Severity::Low,
                "file_changed",
                "differs from the file, which changed on disk after the process started (see file_changed_on_disk): not compared as a patch".to_string(),
            ),
            Class::Breakpoint if self.uprobes => (
                Severity::Low,
                "breakpoint",
                "int3 breakpoint (the process maps [uprobes]: likely a kernel uprobe)".to_string(),
            ),
            Class::Breakpoint => (
                Severity::Medium,
                "breakpoint",
                "int3 breakpoint".to_string(),
            ),
            Class::Hook(t, _) => (
                Severity::High,
                "inline_hook",
                format!(
                    "inline hook: a jump/call to {}",
                    name_address(self.modules, self.regions, *t)
                ),
            ),
            Class::NopOut => (
                Severity::High,
                "nop_out",
                "code replaced by NOPs".to_string(),
            ),
            Class::Other => (Severity::High, "other_patch", "code patched".to_string()),
        };
        let destination = match class {
            Class::Hook(t, _) => Some(name_address(self.modules, self.regions, t)),
            _ => None,
        };
        // A hook covers its whole instruction, even where its last bytes equal the file's.
        let b = match class {
            Class::Hook(_, n) => b.max((a + n).min(live.len())),
            _ => b,
        };
        let shown = |s: &[u8]| hex(&s[a..s.len().min(a + SHOWN.max(b - a).min(64))]);
        self.finding(
            r,
            addr,
            base + b as u64,
            severity,
            kind::MODIFIED_CODE,
            format!(
                "{what} at {place}: {} byte{} differ from the file (live {} vs file {})",
                b - a,
                if b - a == 1 { "" } else { "s" },
                hex(&live[a..b.min(a + SHOWN)]),
                hex(&disk[a..b.min(a + SHOWN)]),
            ),
            Detail {
                module,
                symbol,
                build_id: facts.and_then(|f| f.build_id.clone()),
                class: Some(class_name.into()),
                destination,
                live: Some(shown(live)),
                file: Some(shown(disk)),
                evidence: None,
            },
        )
    }

    /// An `info` finding of bytes that are as expected.
    fn identical(&self, r: &MemoryRegion, start: u64, end: u64, reason: String) -> Finding {
        self.finding(
            r,
            start,
            end,
            Severity::Info,
            kind::COPIED_IDENTICAL,
            reason,
            Detail {
                module: r.path.as_ref().map(|p| p.display().to_string()),
                ..Detail::default()
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        r: &MemoryRegion,
        start: u64,
        end: u64,
        severity: Severity,
        kind: &str,
        reason: String,
        detail: Detail,
    ) -> Finding {
        Finding {
            severity,
            kind: kind.into(),
            start,
            end,
            path: Some(r.display_name()),
            reason,
            jit: None,
            detail: Some(detail),
        }
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The byte ranges `[a, b)` where the two buffers differ, near ranges merged.
pub(crate) fn diff_ranges(live: &[u8], disk: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in live.iter().zip(disk).enumerate() {
        if x == y {
            continue;
        }
        match out.last_mut() {
            Some((_, b)) if (i - *b) as u64 <= MERGE_GAP => *b = i + 1,
            _ => out.push((i, i + 1)),
        }
    }
    out
}

/// What a patch looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// `int3` (0xcc) at the patch.
    Breakpoint,
    /// A jump or call at or near a function's entry: its destination, and the length of the
    /// instructions that make it.
    Hook(u64, usize),
    /// Only NOPs written.
    NopOut,
    /// Anything else.
    Other,
}

/// Classifies patched bytes: `code` is the live code from the patch's first byte (16 bytes
/// or fewer), at `addr`; `patch` the differing bytes; `into_function` how far the patch is
/// into the function containing it, when known.
pub fn classify(code: &[u8], addr: u64, patch: &[u8], into_function: Option<u64>) -> Class {
    if code.first() == Some(&0xcc) {
        return Class::Breakpoint;
    }
    let mut d = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
    let first = d.decode();
    let near_entry = into_function.is_none_or(|o| o < 16);
    if !first.is_invalid() && near_entry {
        match first.flow_control() {
            FlowControl::UnconditionalBranch | FlowControl::Call
                if first.op0_kind() == OpKind::NearBranch64 =>
            {
                return Class::Hook(first.near_branch_target(), first.len());
            }
            _ => {}
        }
        // movabs rax, target; jmp rax
        if first.mnemonic() == Mnemonic::Mov && first.op1_kind() == OpKind::Immediate64 {
            let second = d.decode();
            if second.flow_control() == FlowControl::IndirectBranch {
                return Class::Hook(first.immediate64(), first.len() + second.len());
            }
        }
    }
    let mut nd = Decoder::with_ip(64, patch, addr, DecoderOptions::NONE);
    let mut all_nop = !patch.is_empty();
    while nd.can_decode() {
        let i = nd.decode();
        if i.is_invalid() || i.mnemonic() != Mnemonic::Nop {
            all_nop = false;
            break;
        }
    }
    if all_nop {
        Class::NopOut
    } else {
        Class::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_near_differences() {
        let a = [0u8; 40];
        let mut b = a;
        b[3] = 1;
        b[5] = 1;
        b[30] = 1;
        assert_eq!(diff_ranges(&b, &a), vec![(3, 6), (30, 31)]);
        assert!(diff_ranges(&a, &a).is_empty());
    }

    #[test]
    fn classes() {
        assert_eq!(
            classify(&[0xcc, 0x90], 0x1000, &[0xcc], Some(4)),
            Class::Breakpoint
        );
        // jmp rel32 to 0x1000 + 5 + 0x100
        let jmp = [0xe9, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(
            classify(&jmp, 0x1000, &jmp, Some(0)),
            Class::Hook(0x1105, 5)
        );
        // The same jump deep inside a function is a patch, not a hook.
        assert_eq!(classify(&jmp, 0x1000, &jmp, Some(200)), Class::Other);
        let nops = [0x90, 0x66, 0x90, 0x0f, 0x1f, 0x00];
        assert_eq!(classify(&nops, 0x1000, &nops, Some(40)), Class::NopOut);
        let movabs = [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xe0];
        assert_eq!(
            classify(&movabs, 0x1000, &movabs, Some(0)),
            Class::Hook(0x0807060504030201, 12)
        );
        assert_eq!(
            classify(&[0x31, 0xc0], 0x1000, &[0x31, 0xc0], Some(0)),
            Class::Other
        );
    }
}
