//! Import hooks: the GOT slots the dynamic linker fills (`JUMP_SLOT` and `GLOB_DAT`
//! relocations) read from the process and resolved to the module and symbol they point at.
//!
//! The modules are the ELF files the kernel says are mapped (`/proc/PID/maps`, parsed through
//! `map_files`), placed by the load bias of their first mapping and spanning their `PT_LOAD`
//! segments (so a copy-relocated variable in an executable's `.bss` belongs to it). A slot is
//! read only where its page is a private copy (the page map says so): the dynamic linker wrote
//! it, or something else did. A page still the file's was never written and cannot hold a
//! hook; one in swap is not swapped in, and is counted as not checked.
//!
//! A slot is legitimate when it points at
//! - a definition of its symbol (any version) in any loaded module, or the canonical PLT
//!   address a non-PIE executable gives a function whose address it takes (an undefined
//!   `.dynsym` entry with a value);
//! - anywhere in a module that defines the symbol as an IFUNC, or in the vDSO, where an
//!   IFUNC's resolver may send it (`memcpy` to `__memmove_avx_unaligned_erms`, `time` to the
//!   vDSO's);
//! - its own module's PLT (a lazy slot not yet bound).
//!
//! Which definition the dynamic linker picks depends on the search order (`LD_PRELOAD`, the
//! global scope, `RTLD_LOCAL`, `RTLD_DEEPBIND`, `dlmopen` namespaces); that order lives in the
//! process's own `link_map`, which the process can forge, so it is not read: any loaded
//! definition is accepted. A slot pointing into anonymous memory or outside every module is
//! `high`; into a module that does not define its symbol, `medium`, naming both.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::elf::{ElfCache, ElfFacts};
use crate::inspect::audit::{kind, Detail, Finding, Severity};
use crate::platform::{MemReader, PageKind, PageMap, ProcDir};
use crate::region::MemoryRegion;

/// A loaded ELF file: where it is and what it is.
pub(crate) struct Loaded {
    /// The first address its segments cover.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Added to a linked address to get the address in the process.
    pub bias: u64,
    /// Its path (or `[vdso]`).
    pub path: String,
    /// The file's facts.
    pub facts: Arc<ElfFacts>,
    /// The file (device, inode) the kernel says is mapped; (0, 0) for the vDSO.
    pub file: (u64, u64),
}

fn dev(r: &MemoryRegion) -> u64 {
    (r.device.major as u64) << 32 | r.device.minor as u64
}

/// `/proc/PID/map_files/` name of region `r`.
pub(crate) fn map_files(r: &MemoryRegion) -> String {
    format!(
        "map_files/{:x}-{:x}",
        r.base_address,
        r.base_address + r.size
    )
}

/// The facts of the file region `r` maps, through the cache.
pub(crate) fn facts_of(dir: &ProcDir, cache: &ElfCache, r: &MemoryRegion) -> Option<Arc<ElfFacts>> {
    r.path.as_ref()?;
    cache.get(dev(r), r.inode, || dir.open_file(&map_files(r)).ok())
}

/// The ELF files loaded in the process, by address. A file counts where one of its mappings
/// starts at file offset 0 and another of them is executable within its span.
pub(crate) fn loaded(
    dir: &ProcDir,
    memory: &MemReader,
    regions: &[MemoryRegion],
    cache: &ElfCache,
) -> Vec<Loaded> {
    let mut out = Vec::new();
    for r in regions {
        if r.name.as_deref() == Some("[vdso]") {
            let mut image = vec![0u8; r.size];
            if memory.read(r.base_address as u64, &mut image).ok() == Some(image.len()) {
                if let Some(facts) = ElfFacts::from_bytes(&image) {
                    push(&mut out, r, Arc::new(facts), "[vdso]".into(), (0, 0));
                }
            }
            continue;
        }
        if r.offset != 0 || r.path.is_none() || r.inode == 0 {
            continue;
        }
        let base = r.base_address as u64;
        let runs_code = regions.iter().any(|x| {
            x.inode == r.inode
                && dev(x) == dev(r)
                && x.perms.contains(crate::region::Perms::EXEC)
                && x.base_address >= r.base_address
        });
        if !runs_code {
            continue;
        }
        let Some(facts) = facts_of(dir, cache, r) else {
            continue;
        };
        let path = r.display_name();
        let _ = base;
        push(&mut out, r, facts, path, (dev(r), r.inode));
    }
    out.sort_by_key(|l| l.start);
    out
}

fn push(
    out: &mut Vec<Loaded>,
    r: &MemoryRegion,
    facts: Arc<ElfFacts>,
    path: String,
    file: (u64, u64),
) {
    let base = r.base_address as u64;
    let (Some(bias), Some((lo, hi))) = (facts.bias(base, r.offset), facts.span()) else {
        return;
    };
    out.push(Loaded {
        start: bias.wrapping_add(lo),
        end: bias.wrapping_add(hi),
        bias,
        path,
        facts,
        file,
    });
}

/// The loaded module containing `addr`.
pub(crate) fn module_at(mods: &[Loaded], addr: u64) -> Option<&Loaded> {
    let i = mods.partition_point(|m| m.start <= addr);
    mods[..i].iter().rev().find(|m| addr < m.end)
}

/// "0x.. (module!function+0x..)", "0x.. (anonymous memory)" or "0x.. (unmapped memory)".
pub(crate) fn name_address(mods: &[Loaded], regions: &[MemoryRegion], addr: u64) -> String {
    if let Some(m) = module_at(mods, addr) {
        let v = addr.wrapping_sub(m.bias);
        let sym = m
            .facts
            .symbol_at(v)
            .map(|(n, o)| format!("!{n}+{o:#x}"))
            .unwrap_or_else(|| format!("+{v:#x}"));
        return format!("{addr:#x} ({}{sym})", m.path);
    }
    match regions
        .iter()
        .find(|r| (r.base_address as u64) <= addr && addr < (r.base_address + r.size) as u64)
    {
        None => format!("{addr:#x} (unmapped memory)"),
        Some(r) if r.path.is_none() && r.name.is_none() => format!("{addr:#x} (anonymous memory)"),
        Some(r) => format!("{addr:#x} ({}, not a loaded ELF module)", r.display_name()),
    }
}

/// The import check of one process.
pub(crate) struct ImportCheck<'a> {
    /// Its memory.
    pub memory: &'a MemReader,
    /// Its page map.
    pub pagemap: &'a PageMap,
    /// Its regions, in address order.
    pub regions: &'a [MemoryRegion],
    /// Its loaded modules.
    pub modules: &'a [Loaded],
    /// The libraries preloaded (`LD_PRELOAD`, `/etc/ld.so.preload`), by path.
    pub preloaded: &'a [String],
}

/// What the import check found besides its findings.
#[derive(Debug, Default)]
pub(crate) struct Imports {
    /// For each preloaded library, the symbols whose slots in other modules it took.
    pub interposed: BTreeMap<String, Vec<String>>,
    /// Slots that could not be read (their page is in swap).
    pub unread: usize,
    /// Slots read and resolved.
    pub checked: usize,
}

/// How a slot's target is judged.
enum Verdict {
    Fine,
    /// Into a module that does not define the symbol: that module's name of the place.
    Foreign,
    /// Into anonymous memory, a mapping that is no module, or nothing.
    Outside,
}

impl ImportCheck<'_> {
    /// Reads and resolves every GOT slot of every loaded module.
    pub fn run(&self, out: &mut Vec<Finding>) -> Imports {
        let mut found = Imports::default();
        for m in self.modules {
            if m.facts.imports.is_empty() || m.file == (0, 0) {
                continue;
            }
            let before = found.checked;
            self.module(m, out, &mut found);
            log::trace!(
                "{}: {} of {} GOT slots read",
                m.path,
                found.checked - before,
                m.facts.imports.len()
            );
        }
        log::debug!(
            "{} GOT slots checked in {} modules, {} in swap",
            found.checked,
            self.modules.len(),
            found.unread
        );
        found
    }

    fn module(&self, m: &Loaded, out: &mut Vec<Finding>, found: &mut Imports) {
        let word = m.facts.word();
        let imports = &m.facts.imports;
        let lo = m.bias.wrapping_add(imports[0].offset);
        let hi = m
            .bias
            .wrapping_add(imports[imports.len() - 1].offset)
            .wrapping_add(word);
        if hi <= lo || hi - lo > 64 << 20 {
            return;
        }
        // The slots must lie in a private mapping of the module's own file: a file merely
        // mapped at offset 0 (read as data, not loaded) has no GOT in memory.
        let Ok(runs) = self.pagemap.runs(lo & !4095, (hi + 4095) & !4095) else {
            return;
        };
        let mut pages: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        // A run of one kind may cross mappings: each piece is judged by the mapping it is in.
        let own: Vec<(u64, u64)> = self
            .regions
            .iter()
            .filter(|r| r.inode == m.file.1 && dev(r) == m.file.0)
            .map(|r| (r.base_address as u64, (r.base_address + r.size) as u64))
            .collect();
        for run in &runs {
            for &(a, b) in &own {
                let (start, end) = (run.start.max(a), run.end.min(b));
                if start >= end {
                    continue;
                }
                match run.kind {
                    PageKind::Anonymous => {
                        let mut buf = vec![0u8; (end - start) as usize];
                        if let Ok(n) = self.memory.read(start, &mut buf) {
                            buf.truncate(n);
                            pages.push((start, start + n as u64, buf));
                        }
                    }
                    PageKind::Swapped => {
                        found.unread += imports
                            .iter()
                            .filter(|i| {
                                let s = m.bias.wrapping_add(i.offset);
                                start <= s && s < end
                            })
                            .count();
                    }
                    // Never written since it was mapped: it holds the file's bytes, no hook.
                    PageKind::File | PageKind::NotPresent => {}
                }
            }
        }
        for imp in imports {
            let slot = m.bias.wrapping_add(imp.offset);
            let Some((start, _, buf)) = pages
                .iter()
                .find(|(a, b, _)| *a <= slot && slot + word <= *b)
            else {
                continue;
            };
            let at = (slot - start) as usize;
            let mut raw = [0u8; 8];
            raw[..word as usize].copy_from_slice(&buf[at..at + word as usize]);
            let target = u64::from_le_bytes(raw);
            if target == 0 {
                // An unresolved weak reference, or not written yet.
                continue;
            }
            found.checked += 1;
            match self.judge(m, &imp.name, target) {
                (Verdict::Fine, Some(by))
                    if by.path != m.path && self.preloaded.contains(&by.path) =>
                {
                    let names = found.interposed.entry(by.path.clone()).or_default();
                    if !names.iter().any(|n| *n == *imp.name) {
                        names.push(imp.name.to_string());
                    }
                }
                (Verdict::Fine, _) => {}
                (verdict, into) => out.push(self.finding(
                    m,
                    imp,
                    slot,
                    target,
                    &raw[..word as usize],
                    verdict,
                    into,
                )),
            }
        }
    }

    /// Where `target`, the value of `name`'s slot in module `m`, points, and whether that is
    /// a place the dynamic linker could have put there.
    fn judge<'m>(&'m self, m: &Loaded, name: &str, target: u64) -> (Verdict, Option<&'m Loaded>) {
        let Some(into) = module_at(self.modules, target) else {
            return (Verdict::Outside, None);
        };
        let linked = target.wrapping_sub(into.bias);
        let syms = into.facts.dynsyms(name);
        let fine = syms.iter().any(|s| s.value == linked || (s.ifunc && s.defined))
            // An IFUNC's resolver may return the vDSO's code (glibc's `time`, `gettimeofday`).
            || (into.file == (0, 0) && self.ifunc_anywhere(name))
            // A lazy slot still pointing into its own module's PLT, or a non-PIE executable's
            // canonical PLT entry.
            || into.facts.in_plt(linked) && (into.path == m.path || into.facts.fixed);
        if fine {
            (Verdict::Fine, Some(into))
        } else {
            (Verdict::Foreign, Some(into))
        }
    }

    fn ifunc_anywhere(&self, name: &str) -> bool {
        self.modules
            .iter()
            .any(|l| l.facts.dynsyms(name).iter().any(|s| s.ifunc && s.defined))
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        m: &Loaded,
        imp: &super::elf::Import,
        slot: u64,
        target: u64,
        raw: &[u8],
        verdict: Verdict,
        into: Option<&Loaded>,
    ) -> Finding {
        let destination = name_address(self.modules, self.regions, target);
        let reloc = if imp.jump_slot {
            "JUMP_SLOT"
        } else {
            "GLOB_DAT"
        };
        let (severity, why) = match (&verdict, into) {
            (Verdict::Foreign, Some(into)) if into.facts.exports(&imp.name) => (
                Severity::Medium,
                format!(
                    "into {}, not at its definition of {} nor at an IFUNC's target",
                    into.path, imp.name
                ),
            ),
            (Verdict::Foreign, Some(into)) => (
                Severity::Medium,
                format!("into {}, which does not define {}", into.path, imp.name),
            ),
            _ => (Severity::High, "outside every loaded module".to_string()),
        };
        Finding {
            severity,
            kind: kind::IMPORT_HOOK.into(),
            start: slot,
            end: slot + raw.len() as u64,
            path: Some(m.path.clone()),
            reason: format!(
                "import hook: the GOT slot of {} ({reloc}) in {} points to {destination}, {why}",
                imp.name, m.path
            ),
            jit: None,
            detail: Some(Detail {
                module: Some(m.path.clone()),
                symbol: Some(imp.name.to_string()),
                build_id: m.facts.build_id.clone(),
                class: Some("import_hook".into()),
                destination: Some(destination),
                live: Some(super::code::hex(raw)),
                file: None,
                evidence: Some(
                    "the slot as read from process memory now; modules and their bounds from the kernel's mappings and each file's program headers; definitions from each file's .dynsym"
                        .into(),
                ),
            }),
        }
    }
}
