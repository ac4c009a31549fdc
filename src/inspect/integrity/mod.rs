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

/// Lowers the findings a recognised runtime explains (see [`audit::lower_for_runtime`]).
pub fn lower(findings: &mut [Finding], snapshot: &Snapshot, runtime: &Runtime) {
    audit::lower_for_runtime(
        findings,
        &snapshot.regions,
        runtime.engine,
        &runtime.evidence,
    );
}
