//! `memlink diff`: what changed between two snapshots, or between a snapshot and the process now.

use std::io::Write;
use std::path::Path;

use memlink::overtime::diff::{self, FiguresDelta, GroupDelta, RegionRef};
use memlink::region::unescape_path;
use memlink::snapshot::Snapshot;
use memlink::text::{elide_middle, terminal_safe};
use memlink::units::format_size;
use memlink::MemoryAnalyzer;

use crate::cli::args::{DiffArgs, Format};
use crate::cli::output;
use crate::cli::Outcome;

/// Runs `memlink diff`.
pub fn run(args: DiffArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let a = Snapshot::load(&args.a)?;
    let (b, b_name) = match (&args.b, args.pid) {
        (Some(path), _) => (Snapshot::load(path)?, path.display().to_string()),
        (None, Some(pid)) => {
            let analyzer = MemoryAnalyzer::with_proc_root(proc_root, pid)?;
            (Snapshot::take(&analyzer)?, "now".to_string())
        }
        (None, None) => anyhow::bail!("give a second snapshot or --pid"),
    };
    let d = diff::diff(&a, &b);
    let mut out = output::stdout();
    match args.format {
        Format::Json => output::write_json(&mut out, &d)?,
        Format::Text => {
            writeln!(
                out,
                "Diff of process {} ({}) -> process {} ({}){}",
                d.pid_a,
                terminal_safe(args.a.as_os_str().as_encoded_bytes()),
                d.pid_b,
                terminal_safe(b_name.as_bytes()),
                if d.same_process {
                    ""
                } else {
                    "  [different processes]"
                }
            )?;
            writeln!(out, "{}", "-".repeat(50))?;
            section(&mut out, "Added", &d.added)?;
            section(&mut out, "Removed", &d.removed)?;
            for (title, list) in [("Grown", &d.grown), ("Shrunk", &d.shrunk)] {
                writeln!(out, "{title} ({})", list.len())?;
                for c in list {
                    writeln!(
                        out,
                        "  {:#014x}-{:#014x}  {:<12} size {} -> {} ({})  rss {} -> {} ({})",
                        c.after.start,
                        c.after.end,
                        c.after.region_type.name(),
                        format_size(c.before.size),
                        format_size(c.after.size),
                        signed(c.size_delta),
                        size(c.before.rss),
                        size(c.after.rss),
                        c.rss_delta.map_or("-".into(), signed),
                    )?;
                    if let Some(l) = &c.after.label {
                        writeln!(out, "      {}", safe(l))?;
                    }
                }
            }
            writeln!(out)?;
            groups(&mut out, "By type", &d.by_type)?;
            groups(&mut out, "By file", &d.by_file)?;
            writeln!(out, "Total")?;
            delta_row(&mut out, "Total", &d.total.delta, 12)?;
            let [sa, sb] = d.total_sources;
            if sa == sb {
                writeln!(out, "  (totals: {} on both sides)", sa.name())?;
            } else {
                writeln!(
                    out,
                    "  (totals: {} before, {} after: part of the change may be the kernel's \
                     per-region PSS rounding)",
                    sa.name(),
                    sb.name()
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if args.fail_on_change && !d.is_empty() {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

/// A label (a path in its `\xNN` form, or a pseudo-name) as terminal-safe text.
fn safe(label: &str) -> String {
    terminal_safe(&unescape_path(label))
}

fn signed(v: i64) -> String {
    let s = format_size(v.unsigned_abs());
    match v.signum() {
        1 => format!("+{s}"),
        -1 => format!("-{s}"),
        _ => s,
    }
}

/// A size, or `-` when it is not known.
fn size(v: Option<u64>) -> String {
    v.map_or("-".into(), format_size)
}

fn section(out: &mut impl Write, title: &str, list: &[RegionRef]) -> std::io::Result<()> {
    writeln!(out, "{title} ({})", list.len())?;
    for r in list {
        writeln!(
            out,
            "  {:#014x}-{:#014x}  {:>9}  {}  {:<12} rss {:>9}  {}",
            r.start,
            r.end,
            format_size(r.size),
            r.protection,
            r.region_type.name(),
            size(r.rss),
            safe(r.label.as_deref().unwrap_or(""))
        )?;
    }
    Ok(())
}

fn delta_row(out: &mut impl Write, key: &str, d: &FiguresDelta, w: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "  {key:<w$}  {:>6}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
        format!("{:+}", d.count),
        signed(d.virtual_size),
        d.memory.rss.map_or("-".into(), signed),
        d.memory.pss.map_or("-".into(), signed),
        d.memory.uss.map_or("-".into(), signed),
        d.memory.swap.map_or("-".into(), signed)
    )
}

fn groups(out: &mut impl Write, title: &str, list: &[GroupDelta]) -> std::io::Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let w = list
        .iter()
        .map(|g| g.key.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(12, 60);
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "  {:<w$}  {:>6}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
        "", "Count", "Virtual", "RSS", "PSS", "USS", "Swap"
    )?;
    for g in list {
        delta_row(out, &elide_middle(&safe(&g.key), w), &g.delta, w)?;
    }
    writeln!(out)
}
