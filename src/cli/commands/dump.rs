//! `memlink dump`: write a range of a process's memory to a file created with mode 0600 (or to
//! an existing pipe or device, or to stdout with `-o -`).

use std::io::Write;
use std::path::Path;

use memlink::inspect::dump;
use memlink::platform::ReadMode;
use memlink::units::{format_size, parse_address, parse_size};
use memlink::MemoryAnalyzer;

use crate::cli::args::{DumpArgs, Format};
use crate::cli::output;
use crate::cli::Outcome;

/// Runs `memlink dump`.
pub fn run(args: DumpArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    // Parse everything before looking at the process or the file system.
    let explicit = match (&args.address, &args.size, &args.region) {
        (Some(a), Some(s), None) => Some((parse_address(a)?, parse_size(s)?)),
        (None, None, Some(_)) => None,
        _ => anyhow::bail!("give either --address and --size, or --region"),
    };
    let region_addr = args.region.as_deref().map(parse_address).transpose()?;
    let analyzer = MemoryAnalyzer::with_proc_root(proc_root, args.pid)?;
    let (start, size) = match (explicit, region_addr) {
        (Some(x), _) => x,
        (None, Some(a)) => {
            let (s, e) = dump::region_at(args.pid, &analyzer.list()?, a)?;
            (s, e - s)
        }
        (None, None) => unreachable!("checked above"),
    };
    let mode = if args.fault_in {
        ReadMode::FaultIn
    } else {
        ReadMode::Safe
    };
    let report = dump::dump_file(&analyzer, start, size, &args.output, args.force, mode)?;
    // With `-o -` the memory went to stdout; the report goes to stderr.
    let mut out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(output::stdout())
    };
    match args.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Text => {
            writeln!(
                out,
                "wrote {} ({} bytes) from {:#x}-{:#x} to {}",
                format_size(report.size),
                report.size,
                report.start,
                report.start + report.size,
                args.output.display()
            )?;
            if !report.holes.is_empty() {
                writeln!(
                    out,
                    "{} range{} not read, written as zeros:",
                    report.holes.len(),
                    if report.holes.len() == 1 { "" } else { "s" }
                )?;
                for h in &report.holes {
                    writeln!(
                        out,
                        "  {:#x}-{:#x}  {:>8}  {}",
                        h.start,
                        h.end,
                        format_size(h.end - h.start),
                        h.why
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
