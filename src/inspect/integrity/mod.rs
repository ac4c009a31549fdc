//! The byte-level integrity check of a live process: its code compared with the files it was
//! loaded from ([`code`]), the runtime recognised from the identity of the files it maps
//! ([`jit`]), and a tracer attached to it. The metadata checks (rwx, anonymous code...) are
//! [`crate::inspect::audit`]'s; this module adds what needs the live process: its page map,
//! its memory and `/proc/PID/map_files/`.
//!
//! Evidence from the kernel (mappings, inodes, owners, the page map, `TracerPid`) cannot be
//! forged by the process; the bytes read from its memory can be changed by it at any time, so
//! a clean result says what the memory held when it was read.

pub mod code;
pub mod elf;
pub mod files;
pub mod imports;
pub mod jit;

use crate::inspect::audit::{self, kind, Detail, Finding, Severity};
use crate::platform::{MemReader, PageMap, ProcDir};
use crate::region::RegionType;
use crate::snapshot::Snapshot;

pub use elf::ElfCache;
pub use files::FileCache;
pub use jit::Runtime;

/// What a run of audits keeps between processes: the ELF files parsed and the package
/// database, each read once.
#[derive(Debug, Default)]
pub struct Cache {
    /// The parsed ELF files.
    pub elf: ElfCache,
    /// The package database and the files hashed.
    pub files: FileCache,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }
}

/// What the integrity check adds to an audit.
#[derive(Debug, Default)]
pub struct Integrity {
    /// The runtime recognised from a mapped file's identity.
    pub runtime: Option<Runtime>,
    /// Its findings.
    pub findings: Vec<Finding>,
}

/// Runs the byte-level checks over the live process of `dir`, whose `snapshot` was just taken;
/// `cache` holds what was already read (share it between processes).
pub fn check(dir: &ProcDir, memory: &MemReader, snapshot: &Snapshot, cache: &Cache) -> Integrity {
    let regions = &snapshot.regions;
    let uprobes = regions
        .iter()
        .any(|r| r.name.as_deref() == Some("[uprobes]"))
        || regions
            .iter()
            .any(|r| r.region_type == RegionType::Kernel && r.display_name() == "[uprobes]");
    let mut findings = Vec::new();
    let modules = imports::loaded(dir, memory, regions, &cache.elf);
    let preloaded = preloaded(dir, &cache.files);
    let start = dir
        .path()
        .parent()
        .and_then(|root| files::start_epoch(root, snapshot.process.start_time));
    let changed = files::check(dir, regions, start, &cache.files, &mut findings);
    let mut interposed = Default::default();
    if let Ok(pagemap) = PageMap::open(dir) {
        code::CodeCheck {
            dir,
            memory,
            regions,
            uprobes,
            cache: &cache.elf,
            modules: &modules,
            changed: &changed,
        }
        .run(&pagemap, &mut findings);
        let paths: Vec<String> = preloaded.iter().map(|p| p.path.clone()).collect();
        let found = imports::ImportCheck {
            memory,
            pagemap: &pagemap,
            regions,
            modules: &modules,
            preloaded: &paths,
        }
        .run(&mut findings);
        if found.unread > 0 {
            findings.push(Finding {
                severity: Severity::Low,
                kind: kind::UNVERIFIED_CODE.into(),
                start: 0,
                end: 0,
                path: None,
                reason: format!(
                    "{} GOT slots are in swapped-out pages: not read (reading them would swap them in)",
                    found.unread
                ),
                jit: None,
                detail: None,
            });
        }
        interposed = found.interposed;
    }
    preload(regions, &preloaded, &interposed, &mut findings);
    let tracer = snapshot.process.tracer_pid;
    if tracer != 0 {
        let comm = std::fs::read_to_string(format!("/proc/{tracer}/comm"))
            .map(|s| s.trim_end().to_string())
            .ok();
        findings.push(Finding {
            severity: Severity::Low,
            kind: kind::TRACED.into(),
            start: 0,
            end: 0,
            path: None,
            reason: format!(
                "the process is being traced by PID {tracer} ({})",
                comm.as_deref().unwrap_or("-")
            ),
            jit: None,
            detail: Some(Detail {
                evidence: Some("TracerPid in /proc/PID/status (from the kernel)".into()),
                ..Detail::default()
            }),
        });
    }
    Integrity {
        runtime: jit::recognise(dir, regions),
        findings,
    }
}

/// A preloaded library, and where it is named.
struct Preload {
    path: String,
    severity: Severity,
    source: &'static str,
    evidence: &'static str,
}

/// The libraries of `LD_PRELOAD` (as read from the process's environment, which it can
/// rewrite) and of `/etc/ld.so.preload`.
fn preloaded(dir: &ProcDir, files: &FileCache) -> Vec<Preload> {
    let mut out = Vec::new();
    if let Ok(env) = dir.read("environ") {
        for var in env.split(|&b| b == 0) {
            if let Some(v) = var.strip_prefix(b"LD_PRELOAD=") {
                for lib in String::from_utf8_lossy(v).split([':', ' ']) {
                    if !lib.is_empty() {
                        out.push(Preload {
                            path: lib.to_string(),
                            severity: Severity::Low,
                            source: "LD_PRELOAD",
                            evidence: "the process's environment as read now (the process can rewrite it)",
                        });
                    }
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/ld.so.preload") {
        for lib in text.split_whitespace() {
            // A library an installed package ships (a known tool's) is less likely a
            // rootkit's; the list is read only when the file names a library.
            let packaged = files.package(std::path::Path::new(lib)).is_some();
            out.push(Preload {
                path: lib.to_string(),
                severity: if packaged { Severity::Low } else { Severity::Medium },
                source: "/etc/ld.so.preload",
                evidence: if packaged {
                    "/etc/ld.so.preload (a classic userland rootkit vector); the library belongs to an installed package (dpkg's lists)"
                } else {
                    "/etc/ld.so.preload (a classic userland rootkit vector); no installed package lists the library"
                },
            });
        }
    }
    out
}

/// Interposition: each preloaded library once, with whether the process maps it and the
/// imports of other modules it took.
fn preload(
    regions: &[crate::region::MemoryRegion],
    libs: &[Preload],
    interposed: &std::collections::BTreeMap<String, Vec<String>>,
    out: &mut Vec<Finding>,
) {
    for lib in libs {
        let p = lib.path.as_str();
        let mapped = regions
            .iter()
            .any(|r| r.path.as_deref().is_some_and(|x| x.to_str() == Some(p)));
        let took = match interposed.get(p) {
            Some(names) if !names.is_empty() => {
                let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
                format!(
                    "; the GOT slots of {} symbol{} in other modules point to it ({}{})",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    shown.join(", "),
                    if names.len() > shown.len() {
                        ", ..."
                    } else {
                        ""
                    }
                )
            }
            _ => String::new(),
        };
        out.push(Finding {
            severity: lib.severity,
            kind: kind::PRELOAD.into(),
            start: 0,
            end: 0,
            path: Some(p.to_string()),
            reason: format!(
                "{p} is preloaded by {}{}: its symbols interpose on every library's{took}",
                lib.source,
                if mapped {
                    " and mapped"
                } else {
                    " (not mapped)"
                }
            ),
            jit: None,
            detail: Some(Detail {
                module: Some(p.to_string()),
                evidence: Some(lib.evidence.into()),
                ..Detail::default()
            }),
        });
    }
}

/// Lowers, with the reason, a `fileless_code` finding that is the process's own executable run
/// from a sealed memfd or replaced by an upgrade (see `files::explain_own_executable`).
pub fn explain_own_executable(dir: &ProcDir, snapshot: &Snapshot, findings: &mut [Finding]) {
    files::explain_own_executable(dir, &snapshot.regions, findings);
}

/// Lowers the findings a recognised runtime explains (see [`audit::lower_for_runtime`]).
pub fn lower(findings: &mut [Finding], snapshot: &Snapshot, runtime: &Runtime) {
    audit::lower_for_runtime(
        findings,
        &snapshot.regions,
        runtime.engine,
        &runtime.evidence,
    );
}
