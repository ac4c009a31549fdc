//! `memlink link`: share (or copy) a range of one process's memory with another.
//!
//! `MEMLINK_TEST_FAULT=after:STEP:kill-source|kill-target|fail` is a test-only hook read here
//! and nowhere else: it makes the rollback tests deterministic. It is compiled only with the
//! cargo feature `test-hooks` (the test suite enables it); in any other build the variable has
//! no effect.

use std::io::Write;
use std::path::Path;

#[cfg(feature = "test-hooks")]
use memlink::link::Fault;
use memlink::link::{LinkMode, LinkReport, LinkRequest, MemoryLinker};
use memlink::platform::DEFAULT_PROC_ROOT;
use memlink::units::format_size;

use crate::cli::args::{Format, LinkArgs, ModeArg};
use crate::cli::output;
use crate::cli::Outcome;

/// The test-only fault hook from the environment.
#[cfg(feature = "test-hooks")]
pub fn test_fault() -> anyhow::Result<Option<Fault>> {
    match std::env::var("MEMLINK_TEST_FAULT") {
        Ok(v) if !v.is_empty() => Ok(Some(Fault::parse(&v)?)),
        _ => Ok(None),
    }
}

/// Refuses a `--proc-root` other than `/proc` for `command`: ptrace takes PIDs of memlink's own
/// PID namespace, and only the default procfs is sure to name the same processes.
pub fn refuse_other_proc_root(command: &str, proc_root: &Path) -> anyhow::Result<()> {
    let default = Path::new(DEFAULT_PROC_ROOT);
    let same = |p: &Path| p == default || p.canonicalize().is_ok_and(|p| p == default);
    if same(proc_root) {
        return Ok(());
    }
    anyhow::bail!(
        "{command} does not support --proc-root {}: it traces processes by the PIDs of \
         memlink's own PID namespace, which only {DEFAULT_PROC_ROOT} names",
        proc_root.display()
    )
}

impl TryFrom<&LinkArgs> for LinkRequest {
    type Error = anyhow::Error;

    fn try_from(a: &LinkArgs) -> anyhow::Result<LinkRequest> {
        let mut req = LinkRequest::new(a.source, a.target, a.address, a.size);
        req.target_address = a.target_address;
        req.mode = match a.mode {
            ModeArg::Share => LinkMode::Share,
            ModeArg::Copy => LinkMode::Copy,
        };
        req.verify = a.verify;
        req.dry_run = a.dry_run;
        req.allow_pinned = a.allow_pinned;
        #[cfg(feature = "test-hooks")]
        {
            req.fault = test_fault()?;
        }
        Ok(req)
    }
}

/// Runs `memlink link`.
pub fn run(args: LinkArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    refuse_other_proc_root("link", proc_root)?;
    let req = LinkRequest::try_from(&args)?;
    let report = MemoryLinker::new().link(&req)?;
    let mut out = output::stdout();
    match args.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Text => write_text(&mut out, &report)?,
    }
    out.flush()?;
    for w in &report.warnings {
        log::warn!("{w}");
    }
    Ok(Outcome::Success)
}

fn write_text(out: &mut impl Write, r: &LinkReport) -> std::io::Result<()> {
    let verb = match (r.dry_run, r.mode) {
        (true, LinkMode::Share) => "Would link",
        (true, LinkMode::Copy) => "Would copy",
        (false, LinkMode::Share) => "Linked",
        (false, LinkMode::Copy) => "Copied",
    };
    writeln!(
        out,
        "{verb} {} at {:#x} of process {} to {:#x} of process {} ({} mode)",
        format_size(r.size),
        r.address,
        r.source,
        r.target_address,
        r.target,
        r.mode
    )?;
    if let Some(name) = &r.memfd_name {
        writeln!(out, "memfd:     {name}")?;
    }
    for p in &r.pieces {
        writeln!(out, "piece:     {:#x}-{:#x} {}", p.start, p.end, p.perms)?;
    }
    if !r.dry_run {
        writeln!(out, "copied:    {} bytes", r.bytes_copied)?;
        if let Some(v) = r.verified {
            writeln!(
                out,
                "verified:  {}",
                if v { "identical" } else { "DIFFERENT" }
            )?;
        }
        writeln!(out, "time:      {:.3} ms", r.elapsed_us as f64 / 1000.0)?;
    } else {
        writeln!(out, "checks:    passed; nothing was changed")?;
    }
    for w in &r.warnings {
        writeln!(out, "warning:   {w}")?;
    }
    Ok(())
}
