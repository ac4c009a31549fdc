//! What the integrity check needs from an ELF file, parsed with the `object` crate: its
//! build-id, the symbol containing an address (`.symtab`, else `.dynsym` with `st_size`), a
//! file offset as a virtual address (through the `PT_LOAD` segments), its dynamic symbols
//! (defined, IFUNC, or the canonical PLT address of an undefined one), the GOT slots of its
//! `JUMP_SLOT`/`GLOB_DAT` relocations, its PLT sections, and whether it has text
//! relocations. Only the parts read are pulled from the file ([`object::ReadCache`]), so a
//! 100 MB binary costs its headers and symbol tables, not its size; [`ElfCache`] parses each
//! file once per run, shared by every process that maps it.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};

use object::elf::{
    DF_TEXTREL, DT_FLAGS, DT_TEXTREL, ET_EXEC, PT_LOAD, R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT,
    SHN_UNDEF, SHT_RELA, STT_FUNC, STT_GNU_IFUNC,
};
use object::read::elf::{Dyn, ElfFile, FileHeader, ProgramHeader, Rel, Rela, SectionHeader, Sym};
use object::{Endianness, Object, ReadRef};

/// One entry of `.dynsym` that names an address.
#[derive(Debug, Clone)]
pub(crate) struct DynSym {
    /// Its name, without version.
    pub name: Box<str>,
    /// Its value (a linked address).
    pub value: u64,
    /// Defined here (not `SHN_UNDEF`).
    pub defined: bool,
    /// An IFUNC: the address used is what its resolver returns.
    pub ifunc: bool,
}

/// A GOT slot the dynamic linker fills with a symbol's address.
#[derive(Debug, Clone)]
pub(crate) struct Import {
    /// The slot's linked address (`r_offset`).
    pub offset: u64,
    /// The symbol's name.
    pub name: Box<str>,
    /// A `JUMP_SLOT` (a call through the PLT); else a `GLOB_DAT` (an address taken).
    pub jump_slot: bool,
}

/// The facts of one ELF file used to name addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct ElfFacts {
    /// The build-id note, in hex.
    pub build_id: Option<String>,
    /// A non-PIE executable (`ET_EXEC`): linked at its load address.
    pub fixed: bool,
    /// `DT_TEXTREL`: the dynamic linker writes into its code.
    pub textrel: bool,
    /// The width of an address (4 or 8 bytes).
    word: u64,
    /// `PT_LOAD` segments: (file offset, file size, virtual address, memory size).
    loads: Vec<(u64, u64, u64, u64)>,
    /// Function symbols with a size: (address, size, name), sorted by address.
    symbols: Vec<(u64, u64, Box<str>)>,
    /// `.dynsym` entries with a name, sorted by name.
    dynsyms: Vec<DynSym>,
    /// The GOT slots of `JUMP_SLOT` and `GLOB_DAT` relocations, by address.
    pub imports: Vec<Import>,
    /// The PLT sections (`.plt`, `.plt.sec`, `.plt.got`): linked [start, end).
    plt: Vec<(u64, u64)>,
    /// The linked ranges written by relocations when `textrel` (from `.rela.dyn` offsets
    /// that fall in executable segments).
    pub text_relocs: Vec<u64>,
}

impl ElfFacts {
    /// Parses `file`; `None` when it is not an ELF file `object` can read.
    pub fn read(file: File) -> Option<ElfFacts> {
        let cache = object::ReadCache::new(file);
        Self::parse(&cache)
    }

    /// Parses an ELF image held in memory (the vDSO).
    pub fn from_bytes(data: &[u8]) -> Option<ElfFacts> {
        Self::parse(data)
    }

    fn parse<'d, R: ReadRef<'d>>(data: R) -> Option<ElfFacts> {
        match object::FileKind::parse(data).ok()? {
            object::FileKind::Elf64 => {
                parse_elf(&ElfFile::<object::elf::FileHeader64<Endianness>, R>::parse(data).ok()?)
            }
            object::FileKind::Elf32 => {
                parse_elf(&ElfFile::<object::elf::FileHeader32<Endianness>, R>::parse(data).ok()?)
            }
            _ => None,
        }
    }

    /// The width of an address in this file (4 or 8 bytes).
    pub fn word(&self) -> u64 {
        self.word
    }

    /// The lowest linked address of the first `PT_LOAD` that maps file offset `off`'s page,
    /// with the page-rounded offset: how a mapping at file offset `off` is placed.
    fn page_vaddr(&self, off: u64) -> Option<u64> {
        const PAGE: u64 = 4096;
        self.loads
            .iter()
            .find(|(o, size, _, _)| (o & !(PAGE - 1)) <= off && off < o + size.max(&1))
            .map(|(o, _, v, _)| (v & !(PAGE - 1)) + (off - (o & !(PAGE - 1))))
    }

    /// The load bias of a mapping of this file at `base` from file offset `off`: what is added
    /// to a linked address to get the address in the process.
    pub fn bias(&self, base: u64, off: u64) -> Option<u64> {
        self.page_vaddr(off).map(|v| base.wrapping_sub(v))
    }

    /// The linked range every `PT_LOAD` covers (its `.bss` included).
    pub fn span(&self) -> Option<(u64, u64)> {
        let lo = self.loads.iter().map(|l| l.2).min()?;
        let hi = self.loads.iter().map(|l| l.2 + l.3).max()?;
        Some((lo, hi))
    }

    /// The virtual address (as linked) of file offset `off`.
    pub fn vaddr_of_offset(&self, off: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|(o, size, _, _)| *o <= off && off < o + size)
            .map(|(o, _, v, _)| v + (off - o))
    }

    /// The function containing linked address `vaddr`, and the offset into it.
    pub fn symbol_at(&self, vaddr: u64) -> Option<(&str, u64)> {
        let i = self.symbols.partition_point(|(a, _, _)| *a <= vaddr);
        self.symbols[..i]
            .iter()
            .rev()
            .take(64)
            .find(|(a, size, _)| vaddr < a + size)
            .map(|(a, _, n)| (&**n, vaddr - a))
    }

    /// The `.dynsym` entries named `name` (every version).
    pub fn dynsyms(&self, name: &str) -> &[DynSym] {
        let lo = self.dynsyms.partition_point(|s| &*s.name < name);
        let hi = lo + self.dynsyms[lo..].partition_point(|s| &*s.name == name);
        &self.dynsyms[lo..hi]
    }

    /// Does the file export (define in `.dynsym`) `name`?
    pub fn exports(&self, name: &str) -> bool {
        self.dynsyms(name).iter().any(|s| s.defined)
    }

    /// Is linked address `vaddr` in one of the PLT sections?
    pub fn in_plt(&self, vaddr: u64) -> bool {
        self.plt.iter().any(|&(a, b)| a <= vaddr && vaddr < b)
    }
}

fn parse_elf<'d, Elf, R>(elf: &ElfFile<'d, Elf, R>) -> Option<ElfFacts>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let endian = elf.endian();
    let data = elf.data();
    let header = elf.elf_header();
    let mut facts = ElfFacts {
        build_id: elf
            .build_id()
            .ok()
            .flatten()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect()),
        fixed: header.e_type(endian) == ET_EXEC,
        word: if header.is_class_64() { 8 } else { 4 },
        ..ElfFacts::default()
    };
    let mut exec_loads = Vec::new();
    for ph in elf.elf_program_headers() {
        if ph.p_type(endian) == PT_LOAD {
            let l = (
                ph.p_offset(endian).into(),
                ph.p_filesz(endian).into(),
                ph.p_vaddr(endian).into(),
                ph.p_memsz(endian).into(),
            );
            if ph.p_flags(endian) & object::elf::PF_X != 0 {
                exec_loads.push((l.2, l.2 + l.3));
            }
            facts.loads.push(l);
        }
        if let Ok(Some(dynamic)) = ph.dynamic(endian, data) {
            for d in dynamic {
                let tag: u64 = d.d_tag(endian).into();
                let val: u64 = d.d_val(endian).into();
                if tag == u64::from(DT_TEXTREL)
                    || (tag == u64::from(DT_FLAGS) && val & u64::from(DF_TEXTREL) != 0)
                {
                    facts.textrel = true;
                }
            }
        }
    }
    let sections = elf.elf_section_table();
    let text = |table: &object::read::elf::SymbolTable<'d, Elf, R>| {
        table
            .iter()
            .filter(|s| {
                matches!(s.st_type(), STT_FUNC | STT_GNU_IFUNC)
                    && s.st_shndx(endian) != SHN_UNDEF
                    && s.st_size(endian).into() > 0
            })
            .filter_map(|s| {
                let name = std::str::from_utf8(table.symbol_name(endian, s).ok()?).ok()?;
                Some((
                    s.st_value(endian).into(),
                    s.st_size(endian).into(),
                    name.into(),
                ))
            })
            .collect::<Vec<(u64, u64, Box<str>)>>()
    };
    facts.symbols = text(elf.elf_symbol_table());
    let dynsym = elf.elf_dynamic_symbol_table();
    if facts.symbols.is_empty() {
        facts.symbols = text(dynsym);
    }
    facts.symbols.sort_unstable();
    let name_of = |s: &Elf::Sym| {
        std::str::from_utf8(dynsym.symbol_name(endian, s).ok()?)
            .ok()
            .filter(|n| !n.is_empty())
    };
    facts.dynsyms = dynsym
        .iter()
        .filter_map(|s| {
            let defined = s.st_shndx(endian) != SHN_UNDEF;
            let value: u64 = s.st_value(endian).into();
            // An undefined symbol with a value is a canonical PLT entry (a non-PIE executable
            // taking a function's address); one without names nothing here.
            if !defined && value == 0 {
                return None;
            }
            Some(DynSym {
                name: name_of(s)?.into(),
                value,
                defined,
                ifunc: s.st_type() == STT_GNU_IFUNC,
            })
        })
        .collect();
    facts.dynsyms.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let dynsym_index = dynsym.section();
    for sh in sections.iter() {
        if let Ok(name) = sections.section_name(endian, sh) {
            if matches!(name, b".plt" | b".plt.sec" | b".plt.got") {
                let a: u64 = sh.sh_addr(endian).into();
                facts.plt.push((a, a + sh.sh_size(endian).into()));
            }
        }
        // (offset, type, symbol) of each relocation, from RELA or REL sections alike.
        let relocs: Vec<(u64, u32, u32)> = if sh.sh_type(endian) == SHT_RELA {
            match sh.rela(endian, data) {
                Ok(Some((relas, link))) => relas
                    .iter()
                    .map(|r| {
                        let sym = if link == dynsym_index {
                            r.r_sym(endian, false)
                        } else {
                            0
                        };
                        (r.r_offset(endian).into(), r.r_type(endian, false), sym)
                    })
                    .collect(),
                _ => continue,
            }
        } else {
            match sh.rel(endian, data) {
                Ok(Some((rels, link))) => rels
                    .iter()
                    .map(|r| {
                        let sym = if link == dynsym_index {
                            r.r_sym(endian)
                        } else {
                            0
                        };
                        (r.r_offset(endian).into(), r.r_type(endian), sym)
                    })
                    .collect(),
                _ => continue,
            }
        };
        for (off, r_type, r_sym) in relocs {
            if facts.textrel && exec_loads.iter().any(|&(a, b)| a <= off && off < b) {
                facts.text_relocs.push(off);
            }
            import(&mut facts, dynsym, off, r_type, r_sym, &name_of);
        }
    }
    facts.imports.sort_unstable_by_key(|i| i.offset);
    facts.text_relocs.sort_unstable();
    Some(facts)
}

/// Records a `JUMP_SLOT`/`GLOB_DAT` relocation (the same numbers on x86-64 and i386).
fn import<'d, Elf: FileHeader<Endian = Endianness>, R: ReadRef<'d>>(
    facts: &mut ElfFacts,
    dynsym: &object::read::elf::SymbolTable<'d, Elf, R>,
    offset: u64,
    r_type: u32,
    r_sym: u32,
    name_of: &impl Fn(&Elf::Sym) -> Option<&'d str>,
) {
    if r_type != R_X86_64_JUMP_SLOT && r_type != R_X86_64_GLOB_DAT || r_sym == 0 {
        return;
    }
    let Ok(sym) = dynsym.symbol(object::SymbolIndex(r_sym as usize)) else {
        return;
    };
    let Some(name) = name_of(sym) else {
        return;
    };
    facts.imports.push(Import {
        offset,
        name: name.into(),
        jump_slot: r_type == R_X86_64_JUMP_SLOT,
    });
}

/// The parsed ELF files of a run, by the (device, inode) the kernel says is mapped: each is
/// parsed once, whichever processes map it.
#[derive(Debug, Default)]
pub struct ElfCache {
    files: Mutex<Files>,
}

/// Parsed files by (device, inode); `None` for a file that is not ELF.
type Files = HashMap<(u64, u64), Option<Arc<ElfFacts>>>;

impl ElfCache {
    /// An empty cache.
    pub fn new() -> ElfCache {
        ElfCache::default()
    }

    /// The facts of the file `(dev, inode)`, parsed from `open()` the first time.
    pub(crate) fn get(
        &self,
        dev: u64,
        inode: u64,
        open: impl FnOnce() -> Option<File>,
    ) -> Option<Arc<ElfFacts>> {
        if let Some(f) = self.lock().get(&(dev, inode)) {
            return f.clone();
        }
        // A file that cannot be opened through this process may be through another.
        let file = open()?;
        let facts = ElfFacts::read(file).map(Arc::new);
        self.lock().insert((dev, inode), facts.clone());
        facts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary names its own functions.
    #[test]
    fn own_binary_names_a_function() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let facts = ElfFacts::read(File::open(&exe).unwrap()).unwrap();
        assert!(facts.build_id.as_deref().is_some_and(|b| b.len() >= 16));
        let (name, _) = facts
            .symbols
            .iter()
            .find(|(_, _, n)| n.contains("own_binary_names_a_function"))
            .map(|(a, _, n)| (n.to_string(), *a))
            .unwrap();
        let addr = facts.symbols.iter().find(|s| *s.2 == *name).unwrap().0;
        assert_eq!(facts.symbol_at(addr + 1), Some((name.as_str(), 1)));
        assert!(facts.vaddr_of_offset(0).is_some());
    }

    /// The libc this test binary runs with.
    fn own_libc() -> ElfFacts {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so"))
            .unwrap();
        ElfFacts::read(File::open(libc).unwrap()).unwrap()
    }

    #[test]
    fn libc_exports_open() {
        let facts = own_libc();
        assert!(facts.exports("open"));
        assert!(!facts.exports("no_such_function_here"));
        // Stripped: the names come from .dynsym with sizes.
        let (off, _, v, _) = facts.loads[1];
        assert!(facts.vaddr_of_offset(off) == Some(v));
    }

    #[test]
    fn libc_has_imports_an_ifunc_and_a_plt() {
        let facts = own_libc();
        assert!(!facts.fixed);
        assert_eq!(facts.word(), 8);
        assert!(!facts.imports.is_empty());
        // memcpy is an IFUNC in glibc, with more than one version.
        assert!(facts.dynsyms("memcpy").iter().any(|s| s.ifunc && s.defined));
        assert!(!facts.dynsyms("getpid").iter().any(|s| s.ifunc));
        assert!(facts.dynsyms("no_such_function_here").is_empty());
        assert!(facts.plt.iter().all(|(a, b)| a < b) && !facts.plt.is_empty());
        // Mapped at offset 0 of its first PT_LOAD, the bias is the base.
        assert_eq!(facts.bias(0x7f00_0000_0000, 0), Some(0x7f00_0000_0000));
        assert!(!facts.textrel);
    }
}
