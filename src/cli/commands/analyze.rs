//! `memlink analyze`: the regions of a process (or of a snapshot file) followed by a summary by
//! type and by file.

use std::io::Write;
use std::path::Path;

use memlink::region::stats::{StatsBuilder, TotalSource};
use memlink::region::view::Owned;
use memlink::snapshot::Snapshot;
use memlink::text::terminal_safe;
use memlink::{MemoryAnalyzer, RegionSource};

use crate::cli::args::{AnalyzeArgs, Format};
use crate::cli::output::{self, RegionTable};
use crate::cli::Outcome;

/// Runs `memlink analyze`.
pub fn run(args: AnalyzeArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    if let Some(path) = &args.snapshot {
        let snap = Snapshot::load(path)?;
        let saved = snap.stats.clone();
        return render(
            &args,
            snap.process.pid,
            Owned::new(snap.regions.into_iter().map(Ok)),
            None,
            || Ok(saved.clone()),
            |stats| {
                // The totals the snapshot was taken with (the rollup, when it was read).
                if saved.total_source == TotalSource::SmapsRollup && stats.detailed {
                    stats.total = saved.total;
                    stats.total_source = saved.total_source;
                    stats.sum_of_regions = saved.sum_of_regions;
                    stats.total_minus_regions = saved.total_minus_regions;
                }
                Ok(())
            },
        );
    }
    let pid = args
        .pid
        .ok_or_else(|| anyhow::anyhow!("--pid or --snapshot is required"))?;
    let analyzer = MemoryAnalyzer::with_proc_root(proc_root, pid)?;
    let detailed = args.detailed || args.format == Format::Text;
    render(
        &args,
        pid,
        analyzer.regions(detailed)?,
        analyzer.threads_after_leader_exit(),
        || Ok(analyzer.get_memory_stats()?),
        |stats| {
            // Right after smaps, as get_memory_stats does.
            if let Some(rollup) = analyzer.kernel_rollup()? {
                stats.apply_rollup(&rollup.usage);
            }
            Ok(())
        },
    )
}

fn render(
    args: &AnalyzeArgs,
    pid: u32,
    mut regions: impl RegionSource,
    leader_exited: Option<usize>,
    stats: impl FnOnce() -> anyhow::Result<memlink::MemoryStats>,
    totals: impl FnOnce(&mut memlink::MemoryStats) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let mut out = output::stdout();
    match (args.format, args.summary) {
        (Format::Json, false) => {
            output::write_regions_json(&mut out, &mut regions, |r| {
                if !args.detailed {
                    r.usage = None;
                    r.vm_flags = None;
                }
            })?;
        }
        (Format::Json, true) => {
            output::write_json(&mut out, &stats()?)?;
        }
        (Format::Text, summary) => {
            let mut table = RegionTable::new(args.detailed);
            let mut stats = StatsBuilder::new();
            while let Some(r) = regions.next_view() {
                let r = r?;
                stats.add_view(&r);
                if !summary {
                    table.push(&r);
                }
            }
            writeln!(out, "Memory Analysis for PID: {pid}")?;
            writeln!(out, "{}", "-".repeat(50))?;
            output::leader_note(&mut out, leader_exited)?;
            if !summary {
                table.write(&mut out)?;
                writeln!(out)?;
            }
            let mut stats = stats.finish(pid);
            totals(&mut stats)?;
            output::write_summary(&mut out, &stats)?;
            // Shared memfd ranges (memlink links) of a live process and the other processes
            // mapping them. A scan of every /proc/*/maps; unreadable processes are skipped.
            let linked = match args.snapshot {
                Some(_) => Ok(Vec::new()),
                None => memlink::link::link_partners(pid),
            };
            if let Ok(linked) = linked {
                if !linked.is_empty() {
                    writeln!(out)?;
                    writeln!(out, "Linked ranges (same memfd mapped by other processes):")?;
                    for l in linked {
                        let pids: Vec<String> = l.partners.iter().map(u32::to_string).collect();
                        writeln!(
                            out,
                            "{:#x}-{:#x}    {}    partners: {}",
                            l.start,
                            l.end,
                            terminal_safe(l.name.as_bytes()),
                            pids.join(", ")
                        )?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
