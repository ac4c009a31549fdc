//! The protection and integrity audit: memory that is writable and executable, executable
//! memory with no file (anonymous, deleted files, memfd), file-backed code that was modified,
//! executable stacks, and ELF images loaded into anonymous memory.
//!
//! Just-in-time compilers (V8 in node and Chromium, the JVM, .NET, LuaJIT...) legitimately
//! create writable or anonymous executable memory. When the live audit recognises one from the
//! identity of a file the process maps (see `inspect::integrity::jit`), it lowers the findings
//! of anonymous memory to [`Severity::Low`] with [`lower_for_runtime`], saying which engine and
//! which evidence ([`Finding::jit`], [`Detail::evidence`]); it never hides them, and never
//! lowers them from a name alone.
//!
//! The rules are pure functions of a [`Snapshot`] (with `smaps` figures) plus, for the ELF
//! check, four bytes read from each anonymous executable region. The byte-level comparison of
//! code with its files is `inspect::integrity`'s.

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
    /// Executable file pages that differ from the file: from a saved snapshot, copied pages
    /// (`Anonymous` > 0); live, each byte range that differs.
    pub const MODIFIED_CODE: &str = "modified_code";
    /// Executable file pages copied on write whose bytes equal the file's.
    pub const COPIED_IDENTICAL: &str = "copied_identical_code";
    /// Copied executable pages that could not be compared (in swap, or unreadable).
    pub const UNVERIFIED_CODE: &str = "unverified_code";
    /// A mapped file that changed on disk after the process started (compared with its
    /// package where dpkg knows it).
    pub const FILE_CHANGED: &str = "file_changed_on_disk";
    /// A GOT slot pointing where the dynamic linker would not have put it.
    pub const IMPORT_HOOK: &str = "import_hook";
    /// A library preloaded into the process (`LD_PRELOAD`, `/etc/ld.so.preload`).
    pub const PRELOAD: &str = "preloaded_library";
    /// The process is being traced (ptrace).
    pub const TRACED: &str = "traced";
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
    /// What the byte-level checks know about it (module, symbol, bytes...), when they ran.
    #[serde(default)]
    pub detail: Option<Detail>,
}

/// The specifics of a finding of the byte-level checks; `None` where unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Detail {
    /// The module (mapped file) concerned.
    #[serde(default)]
    pub module: Option<String>,
    /// The function containing the range, as `name+0xOFFSET`.
    #[serde(default)]
    pub symbol: Option<String>,
    /// The module's build-id, in hex.
    #[serde(default)]
    pub build_id: Option<String>,
    /// What the changed code is: `inline_hook`, `breakpoint`, `nop_out`, `other_patch`.
    #[serde(default)]
    pub class: Option<String>,
    /// Where a hook jumps to.
    #[serde(default)]
    pub destination: Option<String>,
    /// The first bytes in memory, in hex.
    #[serde(default)]
    pub live: Option<String>,
    /// The same bytes in the file, in hex.
    #[serde(default)]
    pub file: Option<String>,
    /// The evidence that raised or lowered the finding.
    #[serde(default)]
    pub evidence: Option<String>,
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
pub(crate) type ReadFn<'a> = dyn Fn(u64, &mut [u8]) -> Result<usize> + 'a;

/// Runs the protection audit over a snapshot taken with `smaps` figures. `read` gives access to
/// the live memory (without it the ELF check is skipped). Findings come sorted, most severe
/// first, then by address.
pub fn audit(snapshot: &Snapshot, read: Option<&ReadFn<'_>>) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &snapshot.regions {
        audit_region(r, read, &mut out);
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.start.cmp(&b.start)));
    out
}

/// Lowers to [`Severity::Low`] the findings that runtime `engine`, recognised from `evidence`,
/// explains: writable-executable and anonymous-executable findings of anonymous memory (a
/// JIT's code cache and code-range reservations are anonymous mappings), and for .NET its
/// memfd double mapping. File mappings, stacks and ELF images are never lowered. The
/// evidence is written into each lowered finding.
pub fn lower_for_runtime(
    findings: &mut [Finding],
    regions: &[MemoryRegion],
    engine: &str,
    evidence: &str,
) {
    for f in findings.iter_mut() {
        let Some(r) = regions.iter().find(|r| r.base_address as u64 == f.start) else {
            continue;
        };
        let explained = match f.kind.as_str() {
            kind::WRITABLE_EXECUTABLE | kind::ANONYMOUS_EXECUTABLE => {
                r.path.is_none()
                    && !matches!(r.region_type, RegionType::Stack | RegionType::ThreadStack)
            }
            kind::FILELESS_CODE => is_memfd(r) && engine == ".NET CoreCLR",
            _ => false,
        };
        if explained && f.severity > Severity::Low {
            f.severity = Severity::Low;
            f.reason = format!("{}: consistent with the {engine} JIT compiler", f.reason);
            f.jit = Some(engine.to_string());
            let d = f.detail.get_or_insert_with(Detail::default);
            d.evidence = Some(evidence.to_string());
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.start.cmp(&b.start)));
}

fn audit_region(r: &MemoryRegion, read: Option<&ReadFn<'_>>, out: &mut Vec<Finding>) {
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
        detail: None,
    };
    let lowered =
        |sev: Severity, kind: &str, what: &str| finding(sev, kind, what.to_string(), None);
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
        out.push(finding(
            Severity::High,
            kind::FILELESS_CODE,
            what.into(),
            None,
        ));
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
        out.push(finding(Severity::High, kind::MODIFIED_CODE, what, None));
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
    fn names_alone_lower_nothing_and_a_runtime_lowers_to_low() {
        let s = snapshot("app", BASE);
        assert_eq!(
            kinds(&audit(&s, None)),
            [(Severity::High, kind::WRITABLE_EXECUTABLE, None)]
        );
        // A process called java mapping a libjvm.so: the rules alone lower nothing.
        let jvm =
            format!("{BASE}7f1000000000-7f1000100000 r-xp 00000000 fe:00 7 /tmp/x/libjvm.so\n");
        let s = snapshot("java", &jvm);
        let mut f = audit(&s, None);
        assert_eq!(
            kinds(&f),
            [(Severity::High, kind::WRITABLE_EXECUTABLE, None)]
        );
        // A recognised runtime lowers anonymous memory to low, never to info.
        lower_for_runtime(&mut f, &s.regions, "HotSpot (JVM)", "checked");
        assert_eq!(
            kinds(&f),
            [(
                Severity::Low,
                kind::WRITABLE_EXECUTABLE,
                Some("HotSpot (JVM)")
            )]
        );
        assert!(f[0]
            .reason
            .contains("consistent with the HotSpot (JVM) JIT"));
        assert_eq!(
            f[0].detail.as_ref().unwrap().evidence.as_deref(),
            Some("checked")
        );
    }

    #[test]
    fn memfd_code_is_explained_only_for_dotnet() {
        let m = "7f2000000000-7f2000001000 r-xp 00000000 00:01 9 /memfd:doublemapper (deleted)\n";
        let s = snapshot("app", m);
        let mut f = audit(&s, None);
        assert_eq!(kinds(&f), [(Severity::High, kind::FILELESS_CODE, None)]);
        lower_for_runtime(&mut f, &s.regions, "HotSpot (JVM)", "checked");
        assert_eq!(kinds(&f), [(Severity::High, kind::FILELESS_CODE, None)]);
        lower_for_runtime(&mut f, &s.regions, ".NET CoreCLR", "checked");
        assert_eq!(
            kinds(&f),
            [(Severity::Low, kind::FILELESS_CODE, Some(".NET CoreCLR"))]
        );
    }

    #[test]
    fn elf_header_executable_stack_and_file_rwx_are_never_explained_away() {
        let m = "\
7f0000000000-7f0000001000 r-xp 00000000 00:00 0
7f4000000000-7f4000100000 r-xp 00000000 fe:00 7 /usr/lib/libluajit-5.1.so.2
7f5000000000-7f5000001000 rwxp 00000000 fe:00 8 /usr/lib/libplugin.so
7ffc00000000-7ffc00021000 rwxp 00000000 00:00 0 [stack]
";
        let read = |addr: u64, buf: &mut [u8]| -> Result<usize> {
            assert_eq!(addr, 0x7f00_0000_0000);
            buf.copy_from_slice(b"\x7fELF");
            Ok(4)
        };
        let s = snapshot("luajit", m);
        let mut f = audit(&s, Some(&read));
        lower_for_runtime(&mut f, &s.regions, "LuaJIT", "checked");
        assert_eq!(
            kinds(&f),
            [
                (Severity::Critical, kind::ELF_IN_ANONYMOUS, None),
                (Severity::High, kind::WRITABLE_EXECUTABLE, None),
                (Severity::High, kind::EXECUTABLE_STACK, None),
                (Severity::Low, kind::ANONYMOUS_EXECUTABLE, Some("LuaJIT")),
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
