//! `memlink snapshot`: saves a process's regions and figures to a versioned JSON file (0600).

use std::path::Path;

use memlink::snapshot::Snapshot;
use memlink::text::{terminal_safe, trim_padding};
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
        terminal_safe(trim_padding(snap.process.name.as_bytes())),
        terminal_safe(args.output.as_os_str().as_encoded_bytes())
    );
    Ok(Outcome::Success)
}
