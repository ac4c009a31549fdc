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
pub mod jit;

use crate::inspect::audit::{self, kind, Detail, Finding, Severity};
use crate::platform::{MemReader, ProcDir};
use crate::region::RegionType;
use crate::snapshot::Snapshot;

pub use jit::Runtime;

/// What the integrity check adds to an audit.
#[derive(Debug, Default)]
pub struct Integrity {
    /// The runtime recognised from a mapped file's identity.
    pub runtime: Option<Runtime>,
    /// Its findings.
    pub findings: Vec<Finding>,
}

/// Runs the byte-level checks over the live process of `dir`, whose `snapshot` was just taken.
pub fn check(dir: &ProcDir, memory: &MemReader, snapshot: &Snapshot) -> Integrity {
    let regions = &snapshot.regions;
    let uprobes = regions
        .iter()
        .any(|r| r.name.as_deref() == Some("[uprobes]"))
        || regions
            .iter()
            .any(|r| r.region_type == RegionType::Kernel && r.display_name() == "[uprobes]");
    let mut findings = Vec::new();
    code::CodeCheck {
        dir,
        memory,
        regions,
        uprobes,
    }
    .run(&mut findings);
    preload(dir, regions, &mut findings);
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

/// Interposition: each library of `LD_PRELOAD` (as read from the process's environment, which
/// it can rewrite) `low`, of `/etc/ld.so.preload` `medium`; once per library, with whether the
/// process maps it.
fn preload(dir: &ProcDir, regions: &[crate::region::MemoryRegion], out: &mut Vec<Finding>) {
    let maps = |lib: &str| {
        regions
            .iter()
            .any(|r| r.path.as_deref().is_some_and(|p| p.to_str() == Some(lib)))
    };
    let mut push = |lib: &str, severity, source: &str, evidence: &str| {
        if lib.is_empty() {
            return;
        }
        out.push(Finding {
            severity,
            kind: kind::PRELOAD.into(),
            start: 0,
            end: 0,
            path: Some(lib.to_string()),
            reason: format!(
                "{lib} is preloaded by {source}{}: its symbols interpose on every library's",
                if maps(lib) {
                    " and mapped"
                } else {
                    " (not mapped)"
                }
            ),
            jit: None,
            detail: Some(Detail {
                module: Some(lib.to_string()),
                evidence: Some(evidence.into()),
                ..Detail::default()
            }),
        });
    };
    if let Ok(env) = dir.read("environ") {
        for var in env.split(|&b| b == 0) {
            if let Some(v) = var.strip_prefix(b"LD_PRELOAD=") {
                for lib in String::from_utf8_lossy(v).split([':', ' ']) {
                    push(
                        lib,
                        Severity::Low,
                        "LD_PRELOAD",
                        "the process's environment as read now (the process can rewrite it)",
                    );
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/ld.so.preload") {
        for lib in text.split_whitespace() {
            push(
                lib,
                Severity::Medium,
                "/etc/ld.so.preload",
                "/etc/ld.so.preload (a classic userland rootkit vector)",
            );
        }
    }
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
