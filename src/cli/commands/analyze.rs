//! `memlink analyze`: the regions of a process followed by a summary by type and by file.

use std::io::Write;

use memlink::stats::StatsBuilder;
use memlink::MemoryAnalyzer;

use crate::cli::args::{AnalyzeArgs, Format};
use crate::cli::output::{self, RegionTable};
use crate::cli::Outcome;

/// Runs `memlink analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<Outcome> {
    let analyzer = MemoryAnalyzer::new(args.pid)?;
    let mut out = output::stdout();
    match (args.format, args.summary) {
        (Format::Json, false) => {
            output::write_regions_json(&mut out, analyzer.regions(args.detailed)?)?;
        }
        (Format::Json, true) => {
            let stats = analyzer.get_memory_stats()?;
            output::write_json(&mut out, &stats)?;
        }
        (Format::Text, summary) => {
            let mut table = RegionTable::new(args.detailed);
            let mut stats = StatsBuilder::new();
            for r in analyzer.regions(true)? {
                let r = r?;
                stats.add(&r);
                if !summary {
                    table.push(&r);
                }
            }
            writeln!(out, "Memory Analysis for PID: {}", args.pid)?;
            writeln!(out, "{}", "-".repeat(50))?;
            if !summary {
                table.write(&mut out)?;
                writeln!(out)?;
            }
            output::write_summary(&mut out, &stats.finish(args.pid))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
