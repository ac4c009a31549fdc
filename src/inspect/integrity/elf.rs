//! What the integrity check needs from an ELF file, parsed with the `object` crate: its
//! build-id, the symbol containing an address (`.symtab`, else `.dynsym` with `st_size`), a
//! file offset as a virtual address (through the `PT_LOAD` segments), and whether it exports a
//! symbol. Only the parts read are pulled from the file ([`object::ReadCache`]), so a 100 MB
//! binary costs its headers and symbol tables, not its size.

use std::fs::File;

use object::elf::PT_LOAD;
use object::read::elf::ProgramHeader;
use object::{Object, ObjectSegment, ObjectSymbol, ReadCache, SymbolKind};

/// The facts of one ELF file used to name addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct ElfFacts {
    /// The build-id note, in hex.
    pub build_id: Option<String>,
    /// `PT_LOAD` segments: (file offset, file size, virtual address).
    loads: Vec<(u64, u64, u64)>,
    /// Function symbols with a size: (address, size, name), sorted by address.
    symbols: Vec<(u64, u64, String)>,
    /// The names of the defined dynamic symbols (for export checks), sorted.
    exports: Vec<String>,
}

impl ElfFacts {
    /// Parses `file`; `None` when it is not an ELF file `object` can read.
    pub fn read(file: File) -> Option<ElfFacts> {
        let cache = ReadCache::new(file);
        let obj = object::File::parse(&cache).ok()?;
        let mut facts = ElfFacts {
            build_id: obj
                .build_id()
                .ok()
                .flatten()
                .map(|b| b.iter().map(|x| format!("{x:02x}")).collect()),
            ..ElfFacts::default()
        };
        if let object::File::Elf64(elf) = &obj {
            let endian = elf.endian();
            for ph in elf.elf_program_headers() {
                if ph.p_type(endian) == PT_LOAD {
                    facts.loads.push((
                        ph.p_offset(endian),
                        ph.p_filesz(endian),
                        ph.p_vaddr(endian),
                    ));
                }
            }
        } else {
            for s in obj.segments() {
                let (off, size) = s.file_range();
                facts.loads.push((off, size, s.address()));
            }
        }
        fn text<'d: 'f, 'f, R: object::ReadRef<'d> + 'f>(
            syms: impl Iterator<Item = object::Symbol<'d, 'f, R>>,
        ) -> Vec<(u64, u64, String)> {
            syms.filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.size() > 0)
                .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
                .collect()
        }
        facts.symbols = text(obj.symbols());
        if facts.symbols.is_empty() {
            facts.symbols = text(obj.dynamic_symbols());
        }
        facts.symbols.sort();
        facts.exports = obj
            .dynamic_symbols()
            .filter(|s| s.is_definition())
            .filter_map(|s| s.name().ok().map(str::to_string))
            .collect();
        facts.exports.sort();
        Some(facts)
    }

    /// The virtual address (as linked) of file offset `off`.
    pub fn vaddr_of_offset(&self, off: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|(o, size, _)| *o <= off && off < o + size)
            .map(|(o, _, v)| v + (off - o))
    }

    /// The function containing linked address `vaddr`, and the offset into it.
    pub fn symbol_at(&self, vaddr: u64) -> Option<(&str, u64)> {
        let i = self.symbols.partition_point(|(a, _, _)| *a <= vaddr);
        self.symbols[..i]
            .iter()
            .rev()
            .take(64)
            .find(|(a, size, _)| vaddr < a + size)
            .map(|(a, _, n)| (n.as_str(), vaddr - a))
    }

    /// Does the file export (define in `.dynsym`) `name`?
    pub fn exports(&self, name: &str) -> bool {
        self.exports
            .binary_search_by(|e| e.as_str().cmp(name))
            .is_ok()
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
            .map(|(a, _, n)| (n.clone(), *a))
            .unwrap();
        let addr = facts.symbols.iter().find(|s| s.2 == name).unwrap().0;
        assert_eq!(facts.symbol_at(addr + 1), Some((name.as_str(), 1)));
        assert!(facts.vaddr_of_offset(0).is_some());
    }

    #[test]
    fn libc_exports_open() {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so"))
            .unwrap();
        let facts = ElfFacts::read(File::open(libc).unwrap()).unwrap();
        assert!(facts.exports("open"));
        assert!(!facts.exports("no_such_function_here"));
        // Stripped: the names come from .dynsym with sizes.
        let (off, _, v) = facts.loads[1];
        assert!(facts.vaddr_of_offset(off) == Some(v));
    }
}
