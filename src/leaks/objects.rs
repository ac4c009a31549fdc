//! The target's code objects: its executable mappings from `/proc/PID/maps`, each ELF file read
//! once (through `/proc/PID/map_files`, or `/proc/PID/root` as a fallback, so containers and
//! deleted files work), its symbols (`.symtab` and `.dynsym`), and its unwind tables
//! (`.eh_frame`, `.eh_frame_hdr`, `.debug_frame`) handed to `framehop`.

use std::collections::HashMap;
use std::path::PathBuf;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};

use crate::error::{Error, Result};

/// One executable mapping of a file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// File offset of `start`.
    pub offset: u64,
    /// The file's path as the target sees it.
    pub path: String,
}

/// Parses the executable, file-backed lines of a `/proc/PID/maps` text.
pub(crate) fn executable_mappings(maps: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(off)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (_dev, _inode) = (f.next(), f.next());
        let path: Vec<&str> = f.collect();
        let path = path.join(" ");
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset)) = (
            u64::from_str_radix(s, 16),
            u64::from_str_radix(e, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        out.push(Mapping {
            start,
            end,
            offset,
            path,
        });
    }
    out
}

/// A symbol: its address in the file (svma), size and name.
#[derive(Debug, Clone)]
struct Sym {
    addr: u64,
    size: u64,
    name: String,
}

/// One loaded object.
pub struct Loaded {
    /// Path as the target sees it.
    pub path: String,
    /// Path memlink opened it by (a `/proc/PID/map_files` or `/proc/PID/root` path).
    pub open_path: PathBuf,
    /// Load bias: address in the process = address in the file + bias.
    pub bias: u64,
    /// The executable range in the process.
    pub range: std::ops::Range<u64>,
    syms: Vec<Sym>,
    /// `(svma, size, file offset)` of each loadable segment.
    segments: Vec<(u64, u64, u64)>,
}

impl Loaded {
    /// The address in the file of symbol `name` (first match in `.symtab`, then `.dynsym`).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }

    /// The file offset of file address `svma`, for a uprobe.
    pub fn file_offset(&self, svma: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(a, sz, _)| svma >= *a && svma < a + sz)
            .map(|(a, _, off)| svma - a + off)
    }

    /// The function containing file address `svma`, and the offset into it.
    pub fn function_at(&self, svma: u64) -> Option<(&str, u64)> {
        let i = self.syms.partition_point(|s| s.addr <= svma);
        let s = self.syms.get(i.checked_sub(1)?)?;
        let within = svma - s.addr;
        if s.size == 0 && within > 1 << 16 {
            return None;
        }
        if s.size != 0 && within >= s.size {
            return None;
        }
        Some((&s.name, within))
    }
}

/// A frame of a symbolized stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Frame {
    /// Function name, when a symbol covers the address.
    pub function: Option<String>,
    /// The object's path, when the address is in a known object.
    pub module: Option<String>,
    /// Offset in the object's file address space (module+offset when there is no symbol).
    pub offset: u64,
}

impl Frame {
    /// `function` or `module+0xoffset` or `0xaddress`.
    pub fn label(&self) -> String {
        match (&self.function, &self.module) {
            (Some(f), _) => f.clone(),
            (None, Some(m)) => {
                let base = m.rsplit('/').next().unwrap_or(m);
                format!("{base}+{:#x}", self.offset)
            }
            (None, None) => format!("{:#x}", self.offset),
        }
    }
}

/// The target's objects, with an unwinder over all of them.
pub struct Objects {
    /// Loaded objects in address order.
    pub list: Vec<Loaded>,
    unwinder: UnwinderX86_64<Vec<u8>>,
    cache: CacheX86_64,
}

/// An unwound stack: return addresses (the first is the probed instruction) and whether it was
/// cut short (stack copy too shallow or an unwind error).
#[derive(Debug, Clone)]
pub struct Unwound {
    /// Addresses for symbol lookup.
    pub addrs: Vec<u64>,
    /// The unwinder stopped before the stack's end.
    pub truncated: bool,
}

/// Frames kept per stack at most.
pub(crate) const MAX_FRAMES: usize = 64;

impl Objects {
    /// Reads process `pid`'s executable mappings and loads each object once.
    ///
    /// # Errors
    /// [`Error::File`] when the maps file cannot be read.
    pub fn load(pid: u32) -> Result<Objects> {
        let maps_path = PathBuf::from(format!("/proc/{pid}/maps"));
        let maps = std::fs::read_to_string(&maps_path).map_err(|source| Error::File {
            path: maps_path,
            source,
        })?;
        let mut list = Vec::new();
        let mut unwinder = UnwinderX86_64::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for m in executable_mappings(&maps) {
            if seen.contains_key(&m.path) && list.iter().any(|o: &Loaded| o.range.start == m.start)
            {
                continue;
            }
            seen.insert(m.path.clone(), ());
            let by_fd = PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end));
            let by_root = PathBuf::from(format!("/proc/{pid}/root{}", m.path));
            let (open_path, data) = match std::fs::read(&by_root) {
                Ok(d) => (by_root.clone(), d),
                Err(_) => match std::fs::read(&by_fd) {
                    Ok(d) => (by_fd, d),
                    Err(_) => continue,
                },
            };
            let Ok(file) = object::File::parse(&*data) else {
                continue;
            };
            let mut segments = Vec::new();
            let mut bias = None;
            for seg in file.segments() {
                let (foff, fsize) = seg.file_range();
                segments.push((seg.address(), seg.size().max(fsize), foff));
                if bias.is_none() && m.offset >= foff && m.offset < foff + fsize.max(1) {
                    bias = Some(
                        m.start
                            .wrapping_sub(seg.address().wrapping_add(m.offset - foff)),
                    );
                }
            }
            let Some(bias) = bias else { continue };
            let mut syms: Vec<Sym> = file
                .symbols()
                .chain(file.dynamic_symbols())
                // An undefined symbol of a non-PIE executable can carry an address (its PLT
                // entry, for function-pointer equality): it is not a definition.
                .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0 && !s.is_undefined())
                .filter_map(|s| {
                    Some(Sym {
                        addr: s.address(),
                        size: s.size(),
                        name: s.name().ok()?.to_string(),
                    })
                })
                .collect();
            syms.sort_by(|a, b| a.addr.cmp(&b.addr).then(b.size.cmp(&a.size)));
            let section = |name: &str| {
                file.section_by_name(name).and_then(|s| {
                    let data = s.uncompressed_data().ok()?.into_owned();
                    Some((s.address()..s.address() + s.size(), data))
                })
            };
            let text = section(".text");
            let eh = section(".eh_frame");
            let ehh = section(".eh_frame_hdr");
            let dbg = section(".debug_frame");
            let info = ExplicitModuleSectionInfo {
                base_svma: 0,
                text_svma: text.as_ref().map(|t| t.0.clone()),
                text: text.map(|t| t.1),
                eh_frame_svma: eh.as_ref().map(|t| t.0.clone()),
                eh_frame: eh.map(|t| t.1),
                eh_frame_hdr_svma: ehh.as_ref().map(|t| t.0.clone()),
                eh_frame_hdr: ehh.map(|t| t.1),
                debug_frame: dbg.map(|t| t.1),
                ..Default::default()
            };
            unwinder.add_module(Module::new(m.path.clone(), m.start..m.end, bias, info));
            list.push(Loaded {
                path: m.path,
                open_path,
                bias,
                range: m.start..m.end,
                syms,
                segments,
            });
        }
        list.sort_by_key(|o| o.range.start);
        Ok(Objects {
            list,
            unwinder,
            cache: CacheX86_64::new(),
        })
    }

    /// The object whose executable range holds `avma`.
    pub fn object_at(&self, avma: u64) -> Option<&Loaded> {
        let i = self.list.partition_point(|o| o.range.start <= avma);
        let o = self.list.get(i.checked_sub(1)?)?;
        (avma < o.range.end).then_some(o)
    }

    /// Unwinds a stack copied at `sp` (`stack` holds the bytes from `sp` upwards).
    pub fn unwind(&mut self, ip: u64, sp: u64, bp: u64, stack: &[u8]) -> Unwound {
        let mut read = |addr: u64| -> std::result::Result<u64, ()> {
            let off = addr.checked_sub(sp).ok_or(())? as usize;
            let b = stack.get(off..off + 8).ok_or(())?;
            Ok(u64::from_le_bytes(b.try_into().map_err(|_| ())?))
        };
        let regs = UnwindRegsX86_64::new(ip, sp, bp);
        let mut it = self
            .unwinder
            .iter_frames(ip, regs, &mut self.cache, &mut read);
        let mut addrs = Vec::new();
        let mut truncated = false;
        loop {
            match it.next() {
                Ok(Some(f)) => {
                    if addrs.len() == MAX_FRAMES {
                        truncated = true;
                        break;
                    }
                    addrs.push(match f {
                        FrameAddress::InstructionPointer(a) => a,
                        FrameAddress::ReturnAddress(a) => a.get().saturating_sub(1),
                    });
                }
                Ok(None) => break,
                Err(_) => {
                    truncated = true;
                    break;
                }
            }
        }
        Unwound { addrs, truncated }
    }

    /// Names the code at `avma`.
    pub fn symbolize(&self, avma: u64) -> Frame {
        match self.object_at(avma) {
            Some(o) => {
                let svma = avma.wrapping_sub(o.bias);
                Frame {
                    function: o.function_at(svma).map(|(n, _)| n.to_string()),
                    module: Some(o.path.clone()),
                    offset: svma,
                }
            }
            None => Frame {
                function: None,
                module: None,
                offset: avma,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_keep_only_executable_files() {
        let maps = "55d0-55e0 r--p 00000000 08:01 12 /usr/bin/x\n\
                    55e0-5600 r-xp 00001000 08:01 12 /usr/bin/x\n\
                    7f00-7f10 r-xp 00000000 00:00 0 [vdso]\n\
                    7f20-7f30 r-xp 00028000 08:01 13 /usr/lib/a b.so (deleted)\n";
        let m = executable_mappings(maps);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].start, m[0].end, m[0].offset),
            (0x55e0, 0x5600, 0x1000)
        );
        assert_eq!(m[1].path, "/usr/lib/a b.so (deleted)");
    }
}
