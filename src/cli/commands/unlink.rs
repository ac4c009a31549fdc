//! `memlink unlink`: turn a linked range back into private memory with the same content, or
//! (`--cleanup`) remove what an interrupted link left in a process.

use std::io::Write;
use std::path::Path;

use memlink::link::{MemoryLinker, UnlinkRequest};
use memlink::units::format_size;

use crate::cli::args::{Format, UnlinkArgs};
use crate::cli::output;
use crate::cli::Outcome;

/// Runs `memlink unlink`.
pub fn run(args: UnlinkArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    super::link::refuse_other_proc_root("unlink", proc_root)?;
    let mut req = if args.cleanup {
        UnlinkRequest::cleanup_of(args.pid)
    } else {
        // clap requires both without --cleanup.
        UnlinkRequest::new(
            args.pid,
            args.address.unwrap_or_default(),
            args.size.unwrap_or_default(),
        )
    };
    req.dry_run = args.dry_run;
    #[cfg(feature = "test-hooks")]
    {
        req.fault = super::link::test_fault()?;
    }
    let r = MemoryLinker::new().unlink(&req)?;
    let mut out = output::stdout();
    match args.format {
        Format::Json => output::write_json(&mut out, &r)?,
        Format::Text if req.cleanup => {
            let verb = if r.dry_run { "Would remove" } else { "Removed" };
            if r.removed.is_empty() {
                writeln!(out, "No memlink leftovers in process {}", r.pid)?;
            }
            for what in &r.removed {
                writeln!(out, "{verb}: {what}")?;
            }
        }
        Format::Text => {
            let verb = if r.dry_run { "Would make" } else { "Made" };
            writeln!(
                out,
                "{verb} {} at {:#x} of process {} private again",
                format_size(r.size),
                r.address,
                r.pid
            )?;
            for p in &r.pieces {
                writeln!(out, "piece:     {:#x}-{:#x} {}", p.start, p.end, p.perms)?;
            }
            if !r.dry_run {
                writeln!(out, "copied:    {} bytes", r.bytes_copied)?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
