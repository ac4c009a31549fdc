//! Auditing a live process: an [`AuditRequest`] (which process, through which procfs, with
//! which analyzers), one call ([`audit_process`]) that resolves the analyzers, takes the
//! snapshot, runs the analyzers with access to the live memory and recognises a JIT engine,
//! and the [`AuditReport`] a front end renders. [`protection_findings`] is the same protection
//! audit for a picture of a snapshot, live or saved.

use std::path::PathBuf;

use serde::Serialize;

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::inspect::analyzers::{self, Analyzer, Context, MemoryAccess, ProtectionAudit};
use crate::inspect::audit::{self, Finding, Severity};
use crate::inspect::integrity::Cache;
use crate::platform::DEFAULT_PROC_ROOT;
use crate::snapshot::Snapshot;

/// The analyzer run when a request names none.
pub const DEFAULT_ANALYZER: &str = "protection";

/// What to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRequest {
    /// The process.
    pub pid: u32,
    /// Where procfs is mounted ([`DEFAULT_PROC_ROOT`] by default).
    pub proc_root: PathBuf,
    /// The analyzers to run, in order (built-in names or external `memlink-analyzer-NAME`);
    /// empty for [`DEFAULT_ANALYZER`].
    pub analyzers: Vec<String>,
}

impl AuditRequest {
    /// The default audit of process `pid` through `/proc`.
    pub fn new(pid: u32) -> AuditRequest {
        AuditRequest {
            pid,
            proc_root: PathBuf::from(DEFAULT_PROC_ROOT),
            analyzers: Vec::new(),
        }
    }

    /// The names of the analyzers that run.
    pub fn analyzer_names(&self) -> Vec<String> {
        if self.analyzers.is_empty() {
            vec![DEFAULT_ANALYZER.to_string()]
        } else {
            self.analyzers.clone()
        }
    }
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub name: String,
    /// The JIT engine recognised from the identity of a file it maps, if any.
    pub jit: Option<String>,
    /// The analyzers that ran.
    pub analyzers: Vec<String>,
    /// Every analyzer's findings, most severe first, then by address.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Does a finding have at least severity `s`?
    pub fn reaches(&self, s: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= s)
    }
}

/// Runs an audit. Every analyzer is resolved before the process is looked at, so a refused
/// external analyzer stops everything before any work is done.
///
/// # Errors
/// An unknown or refused analyzer, the process cannot be opened or read, an analyzer fails.
pub fn audit_process(req: &AuditRequest) -> Result<AuditReport> {
    audit_with(req, &Cache::new())
}

/// [`audit_process`] with the ELF files already parsed in `cache`.
fn audit_with(req: &AuditRequest, cache: &Cache) -> Result<AuditReport> {
    let names = req.analyzer_names();
    let analyzers = names
        .iter()
        .map(|n| analyzers::find(n))
        .collect::<Result<Vec<_>>>()?;
    let analyzer = MemoryAnalyzer::with_proc_root(&req.proc_root, req.pid)?;
    let snapshot = Snapshot::take(&analyzer)?;
    let memory = analyzer.memory();
    let cx = Context {
        snapshot: &snapshot,
        memory: Some(&memory),
    };
    let mut findings = Vec::new();
    for a in &analyzers {
        findings.extend(a.run(&cx)?);
    }
    let mut jit = None;
    #[cfg(target_os = "linux")]
    if names.iter().any(|n| n == DEFAULT_ANALYZER) {
        // The byte-level comparison replaces the metadata guess at modified code.
        let integrity =
            crate::inspect::integrity::check(analyzer.proc_dir(), &memory, &snapshot, cache);
        findings.retain(|f| f.kind != audit::kind::MODIFIED_CODE);
        findings.extend(integrity.findings);
        crate::inspect::integrity::explain_own_executable(
            analyzer.proc_dir(),
            &snapshot,
            &mut findings,
        );
        if let Some(rt) = &integrity.runtime {
            crate::inspect::integrity::lower(&mut findings, &snapshot, rt);
            jit = Some(rt.engine.to_string());
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.start.cmp(&b.start)));
    Ok(AuditReport {
        pid: req.pid,
        jit,
        name: snapshot.process.name,
        analyzers: names,
        findings,
    })
}

/// What an audit of every process found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllReport {
    /// How many processes were audited.
    pub audited: usize,
    /// How many could not be read (permission, a failed read), not counting processes that
    /// exited meanwhile, zombies and kernel threads.
    pub unreadable: usize,
    /// The reports of the processes with at least one finding, by PID.
    pub reports: Vec<AuditReport>,
}

impl AllReport {
    /// Does a finding of any process have at least severity `s`?
    pub fn reaches(&self, s: Severity) -> bool {
        self.reports.iter().any(|r| r.reaches(s))
    }
}

/// Audits every process of procfs `req.proc_root` (but memlink itself) as `req` says (its
/// `pid` is ignored).
///
/// # Errors
/// An unknown or refused analyzer; procfs cannot be listed; no process could be read.
pub fn audit_all(req: &AuditRequest) -> Result<AllReport> {
    for n in req.analyzer_names() {
        analyzers::find(&n)?;
    }
    let own = std::process::id();
    let mut pids: Vec<u32> = std::fs::read_dir(&req.proc_root)
        .map_err(|e| crate::error::Error::File {
            path: req.proc_root.clone(),
            source: e,
        })?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p| p != own)
        .collect();
    pids.sort_unstable();
    let mut all = AllReport {
        audited: 0,
        unreadable: 0,
        reports: Vec::new(),
    };
    let cache = Cache::new();
    // Processes are independent: audited in parallel, sharing the files already read.
    use rayon::prelude::*;
    let results: Vec<Result<AuditReport>> = pids
        .par_iter()
        .map(|&pid| {
            let mut one = req.clone();
            one.pid = pid;
            audit_with(&one, &cache)
        })
        .collect();
    for result in results {
        match result {
            Ok(r) => {
                all.audited += 1;
                if !r.findings.is_empty() {
                    all.reports.push(r);
                }
            }
            Err(
                Error::NoSuchProcess { .. }
                | Error::ProcessExited { .. }
                | Error::Zombie { .. }
                | Error::KernelThread { .. },
            ) => {}
            Err(_) => all.unreadable += 1,
        }
    }
    if all.audited == 0 {
        return Err(Error::InvalidArgument(format!(
            "no process in {} could be audited ({} unreadable)",
            req.proc_root.display(),
            all.unreadable
        )));
    }
    Ok(all)
}

/// The protection audit of `snapshot`, sorted like [`audit::audit`]. With `live`, the
/// analyzer of the running process the snapshot was taken from, the check that reads memory
/// (ELF images in anonymous memory) runs too; a saved snapshot cannot have it, nor can a
/// procfs root that is a captured copy (it has no `mem` file, so nothing is read).
pub fn protection_findings(snapshot: &Snapshot, live: Option<&MemoryAnalyzer>) -> Vec<Finding> {
    let memory = live.map(MemoryAnalyzer::memory);
    let cx = Context {
        snapshot,
        memory: memory.as_ref().map(|m| m as &dyn MemoryAccess),
    };
    // The protection audit never fails: it only reads the snapshot and, best effort, memory.
    ProtectionAudit.run(&cx).unwrap_or_default()
}
