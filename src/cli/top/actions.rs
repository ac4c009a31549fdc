//! The actions on one process: save a snapshot, diff with the last snapshot, write the HTML map,
//! run the audit. Each runs on a thread of its own and reports one line (what it wrote, and
//! where). Files are named by PID and time (`memlink-PID-EPOCHSECONDS.KIND.EXT`) in the
//! current directory and created with memlink's safe-file rules ([`memlink::files`]): never
//! over an existing file, moved into place only once complete. Nothing here changes a process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use anyhow::Context;
use memlink::files::OutFile;
use memlink::inspect::auditor::{self, AuditRequest};
use memlink::map::{html, Layout, LayoutOptions, MapDocument};
use memlink::overtime::diff;
use memlink::snapshot::Snapshot;
use memlink::MemoryAnalyzer;

/// An action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Save a snapshot (JSON).
    Snapshot,
    /// Diff the process now with its last snapshot (JSON).
    Diff,
    /// Write the HTML map.
    HtmlMap,
    /// Run the audit and save its report (JSON).
    Audit,
}

/// What an action reports.
#[derive(Debug)]
pub struct Done {
    /// The process.
    pub pid: u32,
    /// The status line.
    pub message: String,
    /// The snapshot written (for the next diff).
    pub snapshot: Option<PathBuf>,
}

/// The file name of an action's output.
pub fn file_name(pid: u32, kind: &str, ext: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("memlink-{pid}-{secs}.{kind}.{ext}")
}

/// Starts `action` on `pid`; the result arrives on `tx`.
pub fn start(
    action: Action,
    pid: u32,
    proc_root: PathBuf,
    dir: PathBuf,
    last: Option<PathBuf>,
    tx: Sender<Done>,
) {
    std::thread::spawn(move || {
        let r = run(action, pid, &proc_root, &dir, last.as_deref());
        let done = match r {
            Ok((message, snapshot)) => Done {
                pid,
                message,
                snapshot,
            },
            Err(e) => Done {
                pid,
                message: format!("{action:?} of {pid} failed: {}", crate::cli::one_line(&e)),
                snapshot: None,
            },
        };
        let _ = tx.send(done);
    });
}

fn write_file(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(OutFile::create(path, false)?);
    f(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()?;
    Ok(())
}

/// Runs an action now: the status message and, for a snapshot, its path.
pub fn run(
    action: Action,
    pid: u32,
    proc_root: &Path,
    dir: &Path,
    last: Option<&Path>,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    match action {
        Action::Snapshot => {
            let analyzer = MemoryAnalyzer::with_proc_root(proc_root, pid)?;
            let snap = Snapshot::take(&analyzer)?;
            let path = dir.join(file_name(pid, "snapshot", "json"));
            snap.save(&path, false)?;
            Ok((
                format!(
                    "saved a snapshot of {pid} ({} regions) to {}",
                    snap.regions.len(),
                    path.display()
                ),
                Some(path),
            ))
        }
        Action::Diff => {
            let Some(last) = last else {
                anyhow::bail!("no snapshot of {pid} yet: press S first");
            };
            let before = Snapshot::load(last)?;
            let analyzer = MemoryAnalyzer::with_proc_root(proc_root, pid)?;
            let now = Snapshot::take(&analyzer)?;
            let d = diff::diff(&before, &now);
            let path = dir.join(file_name(pid, "diff", "json"));
            write_file(&path, |out| {
                serde_json::to_writer_pretty(&mut *out, &d)?;
                out.write_all(b"\n")
            })?;
            Ok((
                format!(
                    "diff of {pid} with {}: {} added, {} removed, {} grown, {} shrunk; wrote {}",
                    last.display(),
                    d.added.len(),
                    d.removed.len(),
                    d.grown.len(),
                    d.shrunk.len(),
                    path.display()
                ),
                None,
            ))
        }
        Action::HtmlMap => {
            let analyzer = MemoryAnalyzer::with_proc_root(proc_root, pid)?;
            let snap = Snapshot::take(&analyzer)?;
            let findings = auditor::protection_findings(&snap, Some(&analyzer));
            let highlights: Vec<_> = findings.iter().map(memlink::map::Highlight::from).collect();
            let layout = Layout::compute(&snap.regions, &LayoutOptions::default());
            let doc = MapDocument::regions(&snap, &layout, &highlights);
            let path = dir.join(file_name(pid, "map", "html"));
            write_file(&path, |out| html::write(&doc, out))?;
            Ok((
                format!("wrote the map of {pid} to {}", path.display()),
                None,
            ))
        }
        Action::Audit => {
            let mut req = AuditRequest::new(pid);
            req.proc_root = proc_root.to_path_buf();
            let report = auditor::audit_process(&req)?;
            let path = dir.join(file_name(pid, "audit", "json"));
            write_file(&path, |out| {
                serde_json::to_writer_pretty(&mut *out, &report)?;
                out.write_all(b"\n")
            })?;
            Ok((
                format!(
                    "audit of {pid}: {} findings; wrote {}",
                    report.findings.len(),
                    path.display()
                ),
                None,
            ))
        }
    }
}
