//! `memlink audit`: runs the protection audit (or the named analyzers) over a live process.
//! Exit code 1 when a finding reaches `--fail-on`.

use std::io::Write;

use memlink::inspect::analyzers::{self, Context};
use memlink::inspect::audit::{self, Finding};
use memlink::snapshot::Snapshot;
use memlink::MemoryAnalyzer;
use serde::Serialize;

use crate::cli::args::{AuditArgs, Format};
use crate::cli::output;
use crate::cli::Outcome;

#[derive(Serialize)]
struct Report<'a> {
    pid: u32,
    name: &'a str,
    jit: Option<&'a str>,
    analyzers: Vec<String>,
    findings: &'a [Finding],
}

/// Runs `memlink audit`.
pub fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    if args.list {
        return list(args.format);
    }
    let Some(pid) = args.pid else {
        anyhow::bail!("--pid is required (or use --list)");
    };
    let names = if args.analyzer.is_empty() {
        vec!["protection".to_string()]
    } else {
        args.analyzer.clone()
    };
    // Resolve every analyzer before touching the process: a refused one stops everything.
    let analyzers = names
        .iter()
        .map(|n| analyzers::find(n))
        .collect::<memlink::Result<Vec<_>>>()?;
    let analyzer = MemoryAnalyzer::new(pid)?;
    let snapshot = Snapshot::take(&analyzer)?;
    let reader = analyzer.memory();
    let cx = Context {
        snapshot: &snapshot,
        memory: Some(&reader),
    };
    let mut findings = Vec::new();
    for a in &analyzers {
        findings.extend(a.run(&cx)?);
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.start.cmp(&b.start)));
    let jit = audit::detect_jit(&snapshot.process.name, &snapshot.regions);

    let mut out = output::stdout();
    match args.format {
        Format::Json => output::write_json(
            &mut out,
            &Report {
                pid,
                name: &snapshot.process.name,
                jit,
                analyzers: names,
                findings: &findings,
            },
        )?,
        Format::Text => {
            write!(
                out,
                "Audit of PID {pid} ({}): {} finding{}",
                snapshot.process.name,
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            )?;
            match jit {
                Some(j) => writeln!(out, "; JIT engine recognised: {j}")?,
                None => writeln!(out)?,
            }
            for f in &findings {
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
                    f.path.as_deref().unwrap_or("[anon]"),
                    f.reason
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if findings.iter().any(|f| f.severity >= args.fail_on) {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

fn list(format: Format) -> anyhow::Result<Outcome> {
    #[derive(Serialize)]
    struct Entry {
        name: String,
        kind: &'static str,
        description: String,
        path: Option<String>,
        refused: Option<String>,
    }
    let mut entries: Vec<Entry> = analyzers::builtin()
        .iter()
        .map(|a| Entry {
            name: a.name().to_string(),
            kind: "built-in",
            description: a.description().to_string(),
            path: None,
            refused: None,
        })
        .collect();
    for e in analyzers::externals() {
        entries.push(Entry {
            refused: analyzers::check_external(&e.path)
                .err()
                .map(|e| e.to_string()),
            name: e.name,
            kind: "external",
            description: "external analyzer".into(),
            path: Some(e.path.display().to_string()),
        });
    }
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
