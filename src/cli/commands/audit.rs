//! `memlink audit`: runs the protection audit (or the named analyzers) over a live process.
//! Exit code 1 when a finding reaches `--fail-on`.

use std::io::Write;
use std::path::Path;

use memlink::inspect::analyzers;
use memlink::inspect::auditor::{self, AllReport, AuditReport, AuditRequest};
use memlink::text::terminal_safe;

use crate::cli::args::{AuditArgs, Format};
use crate::cli::output;
use crate::cli::Outcome;

impl TryFrom<&AuditArgs> for AuditRequest {
    type Error = anyhow::Error;

    fn try_from(a: &AuditArgs) -> anyhow::Result<AuditRequest> {
        let pid = match (a.pid, a.all) {
            (Some(p), _) => p,
            (None, true) => 0,
            (None, false) => anyhow::bail!("--pid is required (or use --all or --list)"),
        };
        let mut req = AuditRequest::new(pid);
        req.analyzers = a.analyzer.clone();
        Ok(req)
    }
}

/// Runs `memlink audit`.
pub fn run(args: AuditArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    if args.list {
        return list(args.format);
    }
    let mut req = AuditRequest::try_from(&args)?;
    req.proc_root = proc_root.to_path_buf();
    if args.all {
        let all = auditor::audit_all(&req)?;
        let mut out = output::stdout();
        match args.format {
            Format::Json => output::write_json(&mut out, &all)?,
            Format::Text => write_all_text(&mut out, &all)?,
        }
        out.flush()?;
        return Ok(if all.reaches(args.fail_on) {
            Outcome::Negative
        } else {
            Outcome::Success
        });
    }
    let report = auditor::audit_process(&req)?;
    let mut out = output::stdout();
    match args.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Text => write_text(&mut out, &report)?,
    }
    out.flush()?;
    Ok(if report.reaches(args.fail_on) {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

fn write_all_text(out: &mut impl Write, all: &AllReport) -> std::io::Result<()> {
    writeln!(
        out,
        "Audited {} processes ({} unreadable); {} with findings",
        all.audited,
        all.unreadable,
        all.reports.len()
    )?;
    for r in &all.reports {
        let top = r
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or_default();
        let mut kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
        kinds.dedup();
        writeln!(
            out,
            "{:>7}  {:<16}  {:<8}  {} finding{}: {}",
            r.pid,
            terminal_safe(r.name.as_bytes()),
            top.name(),
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            kinds.join(", ")
        )?;
    }
    Ok(())
}

fn write_text(out: &mut impl Write, report: &AuditReport) -> std::io::Result<()> {
    let findings = &report.findings;
    write!(
        out,
        "Audit of PID {} ({}): {} finding{}",
        report.pid,
        report.name,
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    )?;
    match &report.jit {
        Some(j) => writeln!(out, "; JIT engine recognised: {j}")?,
        None => writeln!(out)?,
    }
    for f in findings {
        let range = if f.start == 0 && f.end == 0 {
            "-".to_string()
        } else {
            format!("{:#x}-{:#x}", f.start, f.end)
        };
        writeln!(
            out,
            "{:<8}  {:<24}  {:<29}  {}  {}",
            f.severity.name(),
            f.kind,
            range,
            terminal_safe(f.path.as_deref().unwrap_or("[anon]").as_bytes()),
            terminal_safe(f.reason.as_bytes())
        )?;
    }
    Ok(())
}

fn list(format: Format) -> anyhow::Result<Outcome> {
    let entries = analyzers::catalog();
    let mut out = output::stdout();
    match format {
        Format::Json => output::write_json(&mut out, &entries)?,
        Format::Text => {
            for e in &entries {
                let detail = match (&e.path, &e.refused) {
                    (Some(_), Some(why)) => format!("REFUSED: {why}"),
                    (Some(p), None) => p.clone(),
                    _ => e.description.clone(),
                };
                writeln!(out, "{:<16}  {:<9}  {}", e.name, e.kind, detail)?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
