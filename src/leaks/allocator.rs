//! Which allocator a process really uses, and where its entry points are.
//!
//! The allocator is the object that defines the `malloc` the process calls: the executable
//! itself when it defines one (a static binary, or an allocator linked in), else a loaded
//! jemalloc, tcmalloc or mimalloc library, else glibc. Every entry point of that object from
//! the table below is probed, including every free path (a missed free path would make all
//! that goes through it look leaked). Aliases (one address under two names) are probed once.

use serde::Serialize;

use super::objects::Objects;
use crate::error::{Error, Result};
use crate::platform::ProbeProgram;

/// The allocator families memlink knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// GNU libc's malloc.
    Glibc,
    /// jemalloc.
    Jemalloc,
    /// gperftools' tcmalloc.
    Tcmalloc,
    /// Microsoft's mimalloc.
    Mimalloc,
    /// A malloc defined in the executable that is none of the above.
    Executable,
}

impl Family {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::Glibc => "glibc",
            Family::Jemalloc => "jemalloc",
            Family::Tcmalloc => "tcmalloc",
            Family::Mimalloc => "mimalloc",
            Family::Executable => "executable's own malloc",
        }
    }
}

/// Entry points and how each is read, for every family (a name missing from an object is
/// skipped).
const ENTRY_POINTS: &[(&str, ProbeProgram)] = &[
    ("malloc", ProbeProgram::Malloc),
    ("valloc", ProbeProgram::Malloc),
    ("pvalloc", ProbeProgram::Malloc),
    ("calloc", ProbeProgram::Calloc),
    ("realloc", ProbeProgram::Realloc),
    ("reallocarray", ProbeProgram::ReallocArray),
    ("memalign", ProbeProgram::Memalign),
    ("aligned_alloc", ProbeProgram::Memalign),
    ("posix_memalign", ProbeProgram::PosixMemalign),
    ("free", ProbeProgram::Free),
    ("cfree", ProbeProgram::Free),
    // jemalloc, with and without its prefix.
    ("mallocx", ProbeProgram::Malloc),
    ("rallocx", ProbeProgram::Realloc),
    ("dallocx", ProbeProgram::Free),
    ("sdallocx", ProbeProgram::Free),
    ("je_malloc", ProbeProgram::Malloc),
    ("je_calloc", ProbeProgram::Calloc),
    ("je_realloc", ProbeProgram::Realloc),
    ("je_memalign", ProbeProgram::Memalign),
    ("je_aligned_alloc", ProbeProgram::Memalign),
    ("je_posix_memalign", ProbeProgram::PosixMemalign),
    ("je_valloc", ProbeProgram::Malloc),
    ("je_free", ProbeProgram::Free),
    ("je_mallocx", ProbeProgram::Malloc),
    ("je_rallocx", ProbeProgram::Realloc),
    ("je_dallocx", ProbeProgram::Free),
    ("je_sdallocx", ProbeProgram::Free),
    // tcmalloc.
    ("tc_malloc", ProbeProgram::Malloc),
    ("tc_calloc", ProbeProgram::Calloc),
    ("tc_realloc", ProbeProgram::Realloc),
    ("tc_memalign", ProbeProgram::Memalign),
    ("tc_posix_memalign", ProbeProgram::PosixMemalign),
    ("tc_free", ProbeProgram::Free),
    ("tc_free_sized", ProbeProgram::Free),
    // mimalloc.
    ("mi_malloc", ProbeProgram::Malloc),
    ("mi_calloc", ProbeProgram::Calloc),
    ("mi_realloc", ProbeProgram::Realloc),
    ("mi_free", ProbeProgram::Free),
    ("mi_free_size", ProbeProgram::Free),
];

/// One probe to attach.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The entry point's name.
    pub symbol: &'static str,
    /// How its arguments are read.
    pub program: ProbeProgram,
    /// The object memlink opens to attach.
    pub path: std::path::PathBuf,
    /// File offset of the entry point.
    pub offset: u64,
}

/// The allocator found, and its probes.
#[derive(Debug, Clone)]
pub struct Allocator {
    /// Its family.
    pub family: Family,
    /// The object that holds it, as the target sees it.
    pub object: String,
    /// Probes, one per distinct address.
    pub probes: Vec<Probe>,
}

fn family_of(path: &str) -> Option<Family> {
    let base = path.rsplit('/').next().unwrap_or(path);
    if base.starts_with("libjemalloc") {
        Some(Family::Jemalloc)
    } else if base.starts_with("libtcmalloc") {
        Some(Family::Tcmalloc)
    } else if base.starts_with("libmimalloc") {
        Some(Family::Mimalloc)
    } else if base.starts_with("libc.so") || base.starts_with("libc-") {
        Some(Family::Glibc)
    } else {
        None
    }
}

/// Finds the allocator of the process whose objects are `objs`; `exe` is its executable's
/// path as the target sees it.
///
/// # Errors
/// [`Error::Unsupported`] when no object defines a `malloc` memlink recognises.
pub fn find(objs: &Objects, exe: &str) -> Result<Allocator> {
    let defines_malloc = |o: &&super::objects::Loaded| {
        o.symbol("malloc").is_some() || o.symbol("je_malloc").is_some()
    };
    let chosen = objs
        .list
        .iter()
        .filter(defines_malloc)
        .find(|o| o.path == exe)
        .map(|o| {
            let fam = if o.symbol("je_malloc").is_some() || o.symbol("mallocx").is_some() {
                Family::Jemalloc
            } else if o.symbol("tc_malloc").is_some() {
                Family::Tcmalloc
            } else if o.symbol("mi_malloc").is_some() {
                Family::Mimalloc
            } else if o.symbol("__libc_malloc").is_some() {
                Family::Glibc
            } else {
                Family::Executable
            };
            (o, fam)
        })
        .or_else(|| {
            [
                Family::Jemalloc,
                Family::Tcmalloc,
                Family::Mimalloc,
                Family::Glibc,
            ]
            .into_iter()
            .find_map(|want| {
                objs.list
                    .iter()
                    .filter(defines_malloc)
                    .find(|o| family_of(&o.path) == Some(want))
                    .map(|o| (o, want))
            })
        });
    let Some((obj, family)) = chosen else {
        return Err(Error::Unsupported {
            op: "leak tracking of this process (no malloc memlink recognises: not glibc, jemalloc, tcmalloc, mimalloc, nor one in the executable)",
            platform: "this target",
        });
    };
    let mut probes: Vec<Probe> = Vec::new();
    for (name, program) in ENTRY_POINTS {
        let Some(svma) = obj.symbol(name) else {
            continue;
        };
        let Some(offset) = obj.file_offset(svma) else {
            continue;
        };
        if probes.iter().any(|p| p.offset == offset) {
            continue;
        }
        probes.push(Probe {
            symbol: name,
            program: *program,
            path: obj.open_path.clone(),
            offset,
        });
    }
    if !probes.iter().any(|p| p.program == ProbeProgram::Free) {
        return Err(Error::Unsupported {
            op: "leak tracking of this process (its allocator has no free memlink can probe)",
            platform: "this target",
        });
    }
    Ok(Allocator {
        family,
        object: obj.path.clone(),
        probes,
    })
}
