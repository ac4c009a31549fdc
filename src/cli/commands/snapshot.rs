//! `memlink snapshot`: saves a process's regions and figures to a versioned JSON file (0600).

use std::path::Path;

use memlink::snapshot::Snapshot;
use memlink::MemoryAnalyzer;

use crate::cli::args::SnapshotArgs;
use crate::cli::Outcome;

/// Runs `memlink snapshot`.
pub fn run(args: SnapshotArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let analyzer = MemoryAnalyzer::with_proc_root(proc_root, args.pid)?;
    let snap = Snapshot::take(&analyzer)?;
    snap.save(&args.output, args.force)?;
    eprintln!(
        "memlink: saved {} regions of process {} ({}) to {}",
        snap.regions.len(),
        snap.process.pid,
        snap.process.name,
        args.output.display()
    );
    Ok(Outcome::Success)
}
