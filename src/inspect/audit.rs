//! The protection and integrity audit: memory that is writable and executable, executable
//! memory with no file (anonymous, deleted files, memfd), file-backed code that was modified,
//! executable stacks, and ELF images loaded into anonymous memory.
//!
//! Just-in-time compilers (V8 in node and Chromium, the JVM, .NET, LuaJIT...) legitimately
//! create writable or anonymous executable memory. The audit recognises them from the files
//! the process maps and lowers those findings to [`Severity::Info`], saying which engine
//! explains them ([`Finding::jit`]); it never hides them.
//!
//! The rules are pure functions of a [`Snapshot`] (with `smaps` figures) plus, for the ELF
//! check, four bytes read from each anonymous executable region.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::region::{MemoryRegion, Perms, RegionType};
use crate::snapshot::Snapshot;

/// How serious a finding is, from least to most.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; expected (for example a JIT's code).
    #[default]
    Info,
    /// Unusual but rarely harmful.
    Low,
    /// Suspicious.
    Medium,
    /// Likely tampering or a dangerous configuration.
    High,
    /// Almost certainly injected code.
    Critical,
}

impl Severity {
    /// Every severity, from least to most.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Severity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown severity {s:?} (expected info, low, medium, high or critical)"
                ))
            })
    }
}

/// Kinds of findings of the protection audit (other analyzers may use their own).
pub mod kind {
    /// Memory both writable and executable.
    pub const WRITABLE_EXECUTABLE: &str = "writable_executable";
    /// Executable memory with no file behind it.
    pub const ANONYMOUS_EXECUTABLE: &str = "anonymous_executable";
    /// Executable memory backed by a deleted file or a memfd.
    pub const FILELESS_CODE: &str = "fileless_code";
    /// Executable file pages that differ from the file (copied on write: `Anonymous` > 0).
    pub const MODIFIED_CODE: &str = "modified_code";
    /// An executable stack.
    pub const EXECUTABLE_STACK: &str = "executable_stack";
    /// An ELF header at the start of anonymous executable memory.
    pub const ELF_IN_ANONYMOUS: &str = "elf_in_anonymous_memory";
}

/// One finding about one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// What kind (see [`kind`]).
    pub kind: String,
    /// The region's first address (0 for a finding about the whole process).
    #[serde(default)]
    pub start: u64,
    /// One past its last address.
    #[serde(default)]
    pub end: u64,
    /// The region's path or pseudo-name.
    #[serde(default)]
    pub path: Option<String>,
    /// One line saying why.
    pub reason: String,
    /// The JIT engine that explains the finding, when one was recognised.
    #[serde(default)]
    pub jit: Option<String>,
}

/// Recognises a JIT engine from the files and names a process maps.
pub fn detect_jit(process_name: &str, regions: &[MemoryRegion]) -> Option<&'static str> {
    let by_name = |n: &str| -> Option<&'static str> {
        let n = n.trim_end_matches(" (deleted)");
        Some(match n {
            "node" | "nodejs" | "MainThread" => "V8 (node)",
            "deno" => "V8 (deno)",
            "chrome" | "chromium" | "electron" | "code" => "V8 (Chromium)",
            "java" | "javaw" => "HotSpot (JVM)",
            "luajit" => "LuaJIT",
            "dotnet" => ".NET CoreCLR",
            "bun" => "JavaScriptCore (bun)",
            _ if n.starts_with("libnode.so") || n.starts_with("libv8") => "V8",
            _ if n.starts_with("libjvm.so") => "HotSpot (JVM)",
            _ if n.starts_with("libcoreclr.so") || n.starts_with("doublemapper") => ".NET CoreCLR",
            _ if n.starts_with("libmono") => "Mono",
            _ if n.starts_with("libluajit") => "LuaJIT",
            _ if n.starts_with("libmozjs") || n == "libxul.so" => "SpiderMonkey",
            _ if n.starts_with("libjavascriptcoregtk") => "JavaScriptCore",
            _ if n.starts_with("libpypy") || n == "pypy" || n == "pypy3" => "PyPy",
            _ => return None,
        })
    };
    regions
        .iter()
        .filter_map(|r| r.mapped_file.as_deref())
        .filter_map(|p| by_name(p.rsplit('/').next().unwrap_or(p)))
        .next()
        .or_else(|| by_name(process_name))
}

fn is_memfd(r: &MemoryRegion) -> bool {
    r.mapped_file
        .as_deref()
        .is_some_and(|p| p.starts_with("/memfd:"))
}

/// True for kernel-provided executable pages that are expected in every process.
fn is_kernel_code(r: &MemoryRegion) -> bool {
    r.region_type == RegionType::Kernel
        || matches!(
            r.name.as_deref(),
            Some("[vdso]" | "[vsyscall]" | "[uprobes]")
        )
}

/// Reads the first bytes of a region, for the ELF check.
pub type ReadFn<'a> = dyn Fn(u64, &mut [u8]) -> Result<usize> + 'a;

/// Runs the protection audit over a snapshot taken with `smaps` figures. `read` gives access to
/// the live memory (without it the ELF check is skipped). Findings come sorted, most severe
/// first, then by address.
pub fn audit(snapshot: &Snapshot, read: Option<&ReadFn<'_>>) -> Vec<Finding> {
    let jit = detect_jit(&snapshot.process.name, &snapshot.regions);
    let mut out = Vec::new();
    for r in &snapshot.regions {
        audit_region(r, jit, read, &mut out);
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.start.cmp(&b.start)));
    out
}

fn audit_region(
    r: &MemoryRegion,
    jit: Option<&'static str>,
    read: Option<&ReadFn<'_>>,
    out: &mut Vec<Finding>,
) {
    if !r.perms.contains(Perms::EXEC) || is_kernel_code(r) {
        return;
    }
    let name = r.display_name();
    let finding = |severity, kind: &str, reason: String, jit: Option<&str>| Finding {
        severity,
        kind: kind.to_string(),
        start: r.base_address as u64,
        end: r.end_address() as u64,
        path: (!name.is_empty()).then(|| name.clone()),
        reason,
        jit: jit.map(str::to_string),
    };
    // A JIT explains writable or anonymous code, never an executable stack or an ELF image.
    let lowered = |sev: Severity, kind: &str, what: &str| match jit {
        Some(engine) => finding(
            Severity::Info,
            kind,
            format!("{what}: expected for the {engine} JIT compiler"),
            Some(engine),
        ),
        None => finding(sev, kind, what.to_string(), None),
    };
    let anonymous = r.path.is_none();

    if matches!(r.region_type, RegionType::Stack | RegionType::ThreadStack) {
        out.push(finding(
            Severity::High,
            kind::EXECUTABLE_STACK,
            format!(
                "{} is executable (code injected on the stack could run)",
                if r.region_type == RegionType::Stack {
                    "the main stack"
                } else {
                    "a thread stack"
                }
            ),
            None,
        ));
        return;
    }
    if anonymous {
        if let Some(read) = read {
            let mut magic = [0u8; 4];
            if read(r.base_address as u64, &mut magic).ok() == Some(4) && &magic == b"\x7fELF" {
                out.push(finding(
                    Severity::Critical,
                    kind::ELF_IN_ANONYMOUS,
                    "anonymous executable memory starts with an ELF header (a library loaded without a file: reflective injection)".into(),
                    None,
                ));
            }
        }
    }
    if r.perms.contains(Perms::WRITE) {
        let what = if anonymous {
            "anonymous memory is writable and executable"
        } else {
            "file mapping is writable and executable"
        };
        out.push(lowered(Severity::High, kind::WRITABLE_EXECUTABLE, what));
        return;
    }
    if r.deleted || is_memfd(r) {
        let what = if is_memfd(r) {
            "executable memory backed by a memfd (code with no file on disk)"
        } else {
            "executable memory backed by a deleted file"
        };
        // .NET maps its JIT code through a memfd ("doublemapper"); nothing else is explained.
        if is_memfd(r) && jit == Some(".NET CoreCLR") {
            out.push(lowered(Severity::High, kind::FILELESS_CODE, what));
        } else {
            out.push(finding(
                Severity::High,
                kind::FILELESS_CODE,
                what.into(),
                None,
            ));
        }
        return;
    }
    if anonymous {
        out.push(lowered(
            Severity::Medium,
            kind::ANONYMOUS_EXECUTABLE,
            "anonymous executable memory (code with no file behind it)",
        ));
        return;
    }
    // A page written through a private file mapping is copied on write and then counts as
    // `Anonymous`. `Private_Dirty` alone is not proof: a binary written to disk moments ago
    // has dirty page-cache pages that were never modified in memory.
    let dirty = r.usage.map_or(0, |u| u.anonymous.min(u.private_dirty));
    if dirty > 0 {
        let what = format!(
            "{} of executable file pages differ from the file (patched code, breakpoints or hooks)",
            crate::units::format_size(dirty)
        );
        // node copies its own text into huge pages; that is its binary, not a library.
        let own_binary = jit.is_some()
            && r.mapped_file
                .as_deref()
                .and_then(|p| p.rsplit('/').next())
                .is_some_and(|b| detect_jit(b, &[]) == jit);
        if own_binary {
            out.push(lowered(Severity::High, kind::MODIFIED_CODE, &what));
        } else {
            out.push(finding(Severity::High, kind::MODIFIED_CODE, what, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessInfo;
    use crate::region::classify::{classify_all, Classifier};
    use crate::region::stats::MemoryStats;

    fn snapshot(name: &str, maps_text: &str) -> Snapshot {
        let lines = crate::proc::maps::parse(maps_text.as_bytes()).unwrap();
        let regions = classify_all(&Classifier::default(), &lines);
        Snapshot {
            format: crate::snapshot::SNAPSHOT_FORMAT.into(),
            version: crate::snapshot::SNAPSHOT_VERSION,
            taken_at: 0,
            process: ProcessInfo {
                pid: 42,
                name: name.into(),
                state: 'S',
                ppid: 1,
                uid: 0,
                threads: 1,
                tracer_pid: 0,
                ns_pid: 42,
                kernel_thread: false,
                start_time: 0,
            },
            stats: MemoryStats::from_regions(42, &regions),
            regions,
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(Severity, &str, Option<&str>)> {
        f.iter()
            .map(|f| (f.severity, f.kind.as_str(), f.jit.as_deref()))
            .collect()
    }

    const BASE: &str = "\
55d000000000-55d000001000 r-xp 00001000 fe:00 100 /usr/bin/app
7f0000000000-7f0000001000 rwxp 00000000 00:00 0
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";

    #[test]
    fn rwx_is_high_without_a_jit_and_info_with_one() {
        let s = snapshot("app", BASE);
        assert_eq!(
            kinds(&audit(&s, None)),
            [(Severity::High, kind::WRITABLE_EXECUTABLE, None)]
        );
        let jvm = format!(
            "{BASE}7f1000000000-7f1000100000 r-xp 00000000 fe:00 7 /usr/lib/jvm/lib/server/libjvm.so\n"
        );
        let f = audit(&snapshot("java", &jvm), None);
        assert_eq!(
            kinds(&f),
            [(
                Severity::Info,
                kind::WRITABLE_EXECUTABLE,
                Some("HotSpot (JVM)")
            )]
        );
        assert!(f[0].reason.contains("expected for the HotSpot (JVM) JIT"));
    }

    #[test]
    fn memfd_code_is_explained_only_for_dotnet() {
        let m = "7f2000000000-7f2000001000 r-xp 00000000 00:01 9 /memfd:doublemapper (deleted)\n";
        let f = audit(&snapshot("app", m), None);
        assert_eq!(kinds(&f), [(Severity::High, kind::FILELESS_CODE, None)]);
        let dotnet = format!(
            "{m}7f3000000000-7f3000100000 r-xp 00000000 fe:00 8 /usr/share/dotnet/shared/libcoreclr.so\n"
        );
        let f = audit(&snapshot("dotnet", &dotnet), None);
        assert_eq!(
            kinds(&f),
            [(Severity::Info, kind::FILELESS_CODE, Some(".NET CoreCLR"))]
        );
    }

    #[test]
    fn elf_header_and_executable_stack_are_never_explained_away() {
        let m = "\
7f0000000000-7f0000001000 r-xp 00000000 00:00 0
7f4000000000-7f4000100000 r-xp 00000000 fe:00 7 /usr/lib/libluajit-5.1.so.2
7ffc00000000-7ffc00021000 rwxp 00000000 00:00 0 [stack]
";
        let read = |addr: u64, buf: &mut [u8]| -> Result<usize> {
            assert_eq!(addr, 0x7f00_0000_0000);
            buf.copy_from_slice(b"\x7fELF");
            Ok(4)
        };
        let f = audit(&snapshot("luajit", m), Some(&read));
        assert_eq!(
            kinds(&f),
            [
                (Severity::Critical, kind::ELF_IN_ANONYMOUS, None),
                (Severity::High, kind::EXECUTABLE_STACK, None),
                (Severity::Info, kind::ANONYMOUS_EXECUTABLE, Some("LuaJIT")),
            ]
        );
    }

    #[test]
    fn dirty_code_pages_are_modified_code() {
        let mut s = snapshot(
            "app",
            "55d000000000-55d000002000 r-xp 00001000 fe:00 100 /usr/lib/libfoo.so\n",
        );
        assert!(audit(&s, None).is_empty());
        // Dirty page cache of a freshly written file: not modified in memory.
        s.regions[0].usage = Some(crate::region::Usage {
            private_dirty: 4096,
            ..Default::default()
        });
        assert!(audit(&s, None).is_empty());
        // Copied on write: the page differs from the file.
        s.regions[0].usage = Some(crate::region::Usage {
            private_dirty: 4096,
            anonymous: 4096,
            ..Default::default()
        });
        let f = audit(&s, None);
        assert_eq!(kinds(&f), [(Severity::High, kind::MODIFIED_CODE, None)]);
        assert_eq!(f[0].path.as_deref(), Some("/usr/lib/libfoo.so"));
        assert!(f[0].reason.starts_with("4.0KB of executable file pages"));
    }
}
