//! Recognising a just-in-time compiler from the identity of the file the process maps, not
//! from names the process chooses. A runtime is accepted only when a mapped file
//! - has a runtime's library or binary name,
//! - is, by the inode the kernel says is mapped (`/proc/PID/map_files/`), a regular file owned
//!   by root and writable by nobody else, at a path under `/usr/`, `/opt/` or `/lib*/` whose
//!   directory is owned by root too, and
//! - exports that runtime's own entry point in `.dynsym` (`JNI_CreateJavaVM`,
//!   `node::Start`...).
//!
//! `comm` and a basename alone count for nothing: a process can set both.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::elf::ElfFacts;
use crate::platform::ProcDir;
use crate::region::MemoryRegion;

/// A runtime recognised from a mapped file, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The engine ("HotSpot (JVM)", "V8 (node)"...).
    pub engine: &'static str,
    /// What was checked, for the findings' `evidence`.
    pub evidence: String,
}

/// The runtimes known: a test on the file name, the engine, and the symbol it must export.
/// A test on a file name, an engine, the symbol its file must export.
type Known = (fn(&str) -> bool, &'static str, &'static str);

const RUNTIMES: &[Known] = &[
    (|n| n == "libjvm.so", "HotSpot (JVM)", "JNI_CreateJavaVM"),
    (
        |n| n == "node" || n == "nodejs",
        "V8 (node)",
        "_ZN4node5StartEiPPc",
    ),
    (
        |n| n.starts_with("libnode.so"),
        "V8 (node)",
        "_ZN4node5StartEiPPc",
    ),
    (
        |n| n == "libcoreclr.so",
        ".NET CoreCLR",
        "coreclr_initialize",
    ),
    (|n| n.starts_with("libluajit"), "LuaJIT", "luaJIT_setmode"),
    (|n| n == "luajit", "LuaJIT", "luaJIT_setmode"),
];

/// Finds the runtime whose code the process maps, checking its identity.
pub fn recognise(dir: &ProcDir, regions: &[MemoryRegion]) -> Option<Runtime> {
    let mut seen = Vec::new();
    for r in regions {
        let Some(path) = r.path.as_deref() else {
            continue;
        };
        if r.deleted || seen.contains(&r.inode) {
            continue;
        }
        let Some(base) = path.file_name().and_then(|b| b.to_str()) else {
            continue;
        };
        let Some((_, engine, symbol)) = RUNTIMES.iter().find(|(m, _, _)| m(base)) else {
            continue;
        };
        seen.push(r.inode);
        if let Some(evidence) = check(dir, r, path, symbol) {
            return Some(Runtime { engine, evidence });
        }
    }
    None
}

/// Why a file named like a runtime is accepted as that runtime, or `None`.
fn check(dir: &ProcDir, r: &MemoryRegion, path: &Path, symbol: &str) -> Option<String> {
    let system = ["/usr/", "/opt/", "/lib/", "/lib64/"]
        .iter()
        .any(|p| path.starts_with(p));
    if !system {
        return None;
    }
    let name = format!(
        "map_files/{:x}-{:x}",
        r.base_address,
        r.base_address + r.size
    );
    let file = dir.open_file(&name).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return None;
    }
    // The path names the mapped inode (no file swapped in under the name) in a root-owned
    // directory nobody else can write.
    let at_path = fs::metadata(path).ok()?;
    if at_path.ino() != meta.ino() || at_path.dev() != meta.dev() {
        return None;
    }
    let parent = fs::metadata(path.parent()?).ok()?;
    if parent.uid() != 0 || parent.mode() & 0o022 != 0 {
        return None;
    }
    let facts = ElfFacts::read(file)?;
    if !facts.exports(symbol) {
        return None;
    }
    Some(format!(
        "{} is owned by root in a system directory and exports {symbol}{}",
        path.display(),
        facts
            .build_id
            .map(|b| format!(" (build-id {b})"))
            .unwrap_or_default()
    ))
}
