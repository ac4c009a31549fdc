//! `memlink list`: the regions of a process, one per line.

use std::io::Write;
use std::path::Path;

use memlink::{MemoryAnalyzer, RegionSource};

use crate::cli::args::{Format, ListArgs};
use crate::cli::output::{self, RegionTable};
use crate::cli::Outcome;

/// Runs `memlink list`.
pub fn run(args: ListArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let analyzer = MemoryAnalyzer::with_proc_root(proc_root, args.pid)?;
    let mut regions = analyzer.regions(args.detailed)?;
    let mut out = output::stdout();
    match args.format {
        Format::Json => {
            output::write_regions_json(&mut out, &mut regions, |_| {})?;
        }
        Format::Text => {
            let mut table = RegionTable::new(args.detailed);
            while let Some(r) = regions.next_view() {
                table.push(&r?);
            }
            writeln!(out, "Memory regions for PID: {}", args.pid)?;
            writeln!(out, "{}", "-".repeat(50))?;
            output::leader_note(&mut out, analyzer.threads_after_leader_exit())?;
            table.write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(Outcome::Success)
}
