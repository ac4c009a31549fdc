//! `memlink ps`: every process with its memory, or the same grouped by user, cgroup or mapping.

use std::io::Write;
use std::path::Path;

use memlink::overtime::ps::{self, GroupBy, Options, ProcessRow, PssState, Report, Request, View};
use memlink::region::stats::format_figure;
use memlink::text::{terminal_safe, trim_padding};
use memlink::units::format_size;
use serde_json::json;

use crate::cli::args::{PsArgs, PsBy, SortKey, TableFormat};
use crate::cli::output;
use crate::cli::Outcome;

/// The library request from the command line.
fn request(args: &PsArgs, proc_root: &Path) -> anyhow::Result<Request> {
    let uids = if args.user.is_empty() {
        None
    } else {
        Some(
            args.user
                .iter()
                .map(|u| ps::resolve_user(u))
                .collect::<memlink::Result<Vec<u32>>>()?,
        )
    };
    let command = args
        .command
        .as_deref()
        .map(|re| {
            regex::Regex::new(re).map_err(|e| {
                anyhow::anyhow!(
                    "invalid --command regular expression {re:?}: {}",
                    e.to_string().lines().last().unwrap_or("").trim()
                )
            })
        })
        .transpose()?;
    Ok(Request {
        scan: Options {
            root: proc_root.to_path_buf(),
            pids: (!args.pid.is_empty()).then(|| args.pid.clone()),
            uids,
            command,
            cgroup: args.cgroup.clone(),
            cmdline: true,
            mappings: true,
            rollup: true,
            per_mapping: false,
            budget: args.budget,
            rollup_budget: args.rollup_budget.0,
        },
        sort: match args.sort {
            SortKey::Pss => ps::SortKey::Pss,
            SortKey::Uss => ps::SortKey::Uss,
            SortKey::Rss => ps::SortKey::Rss,
            SortKey::Swap => ps::SortKey::Swap,
            SortKey::Pid => ps::SortKey::Pid,
        },
        view: match args.by {
            PsBy::Process => View::Processes,
            PsBy::User => View::Groups(GroupBy::User),
            PsBy::Cgroup => View::Groups(GroupBy::Cgroup),
            PsBy::Mapping => View::Mappings,
        },
        limit: args.limit,
        cgroup_root: args.cgroup_root.clone(),
    })
}

/// Runs `memlink ps`.
pub fn run(args: PsArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let req = request(&args, proc_root)?;
    let report = ps::run(&req)?;
    let asked = req.scan.pids.as_ref().map_or(0, |p| {
        let mut p = p.clone();
        p.sort_unstable();
        p.dedup();
        p.len()
    });
    if !report.missing.is_empty() && report.missing.len() == asked {
        if let [pid] = report.missing[..] {
            return Err(memlink::Error::NoSuchProcess { pid }.into());
        }
        let list: Vec<String> = report.missing.iter().map(u32::to_string).collect();
        anyhow::bail!("processes {} do not exist", list.join(", "));
    }
    for &pid in &report.missing {
        eprintln!("memlink: {}", memlink::Error::NoSuchProcess { pid });
    }
    let mut out = output::stdout();
    match req.view {
        View::Processes => processes(&mut out, &args, &report)?,
        View::Mappings => mappings(&mut out, &args, &report)?,
        View::Groups(by) => grouped(&mut out, &args, by, &report)?,
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn where_(r: &ProcessRow) -> String {
    match (&r.container, &r.cgroup) {
        (Some(c), _) => c.short(),
        (None, Some(cg)) => cg.path.clone(),
        (None, None) => "-".into(),
    }
}

fn footer(out: &mut impl Write, args: &PsArgs, report: &Report) -> std::io::Result<()> {
    let t = &report.totals;
    write!(
        out,
        "{} processes; {} exited while being read (skipped); {} restricted (*: smaps_rollup not readable, RSS and swap from status); {} over the time budget (~: some columns not read)",
        t.processes, report.exited, t.restricted, report.over_budget
    )?;
    let over_rollup = report
        .rows
        .iter()
        .filter(|r| r.pss_state == PssState::OverBudget)
        .count();
    if over_rollup > 0 {
        let budget = args
            .rollup_budget
            .0
            .map_or("no limit".to_string(), |d| format!("{d:?}"));
        write!(
            out,
            "; {over_rollup} over the rollup budget (^: smaps_rollup estimated above {budget} per process, PSS and USS not read, RSS and swap from status; --rollup-budget none reads them)"
        )?;
    }
    if t.unknown as usize > over_rollup {
        write!(
            out,
            "; {} unknown (PSS and USS not read, -)",
            t.unknown as usize - over_rollup
        )?;
    }
    if t.leader_exited > 0 {
        write!(
            out,
            "; {} whose main thread exited (read through a live thread)",
            t.leader_exited
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Sources: RSS, swap, PSS and USS from smaps_rollup, read now; RSS and swap from status (read now) where the rollup was not read."
    )
}

/// A command line (or name) as text: control characters, DEL, C1 and backslashes escaped, the
/// trailing padding blanks some programs set their titles with trimmed.
fn safe_command(r: &ProcessRow) -> String {
    match r.command_bytes.as_deref().filter(|c| !c.is_empty()) {
        Some(b) => terminal_safe(trim_padding(b)),
        None => terminal_safe(r.name.as_bytes()),
    }
}

/// A figure in CSV: the number, or nothing when it is not known.
fn csv_figure(v: Option<u64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn processes(out: &mut impl Write, args: &PsArgs, report: &Report) -> anyhow::Result<()> {
    let rows: &[ProcessRow] = &report.rows;
    let totals = &report.totals;
    match args.format {
        TableFormat::Json => {
            let mut v = json!({
                "processes": rows,
                "exited": report.exited,
                "restricted": totals.restricted,
            });
            if args.totals {
                v["totals"] = serde_json::to_value(totals)?;
            }
            output::write_json(out, &v)?;
        }
        TableFormat::Csv => {
            writeln!(out, "pid,ns_pid,user,name,rss,pss,uss,swap,swap_pss,threads,mappings,cgroup,container,restricted,over_budget,command")?;
            for r in rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    r.pid,
                    r.ns_pid,
                    csv(&r.user),
                    csv(&r.name),
                    csv_figure(r.figures.rss),
                    csv_figure(r.figures.pss),
                    csv_figure(r.figures.uss),
                    csv_figure(r.figures.swap),
                    csv_figure(r.swap_pss),
                    r.threads,
                    r.mappings.map_or(String::new(), |m| m.to_string()),
                    csv(r.cgroup.as_ref().map_or("", |c| c.path.as_str())),
                    csv(&r.container.as_ref().map_or(String::new(), |c| c.short())),
                    r.restricted,
                    r.over_budget,
                    csv(r.command.as_deref().unwrap_or(""))
                )?;
            }
            if args.totals {
                let t = totals;
                writeln!(
                    out,
                    "total,,,,{},{},{},{},{},{},{},,,{},,",
                    csv_figure(t.figures.rss),
                    csv_figure(t.figures.pss),
                    csv_figure(t.figures.uss),
                    csv_figure(t.figures.swap),
                    csv_figure(t.swap_pss),
                    t.threads,
                    t.mappings,
                    t.restricted
                )?;
            }
        }
        TableFormat::Text => {
            writeln!(
                out,
                "{:>7} {:>7} {:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5} {:>6}  {:<24} COMMAND",
                "PID",
                "NSPID",
                "USER",
                "RSS",
                "PSS",
                "USS",
                "SWAP",
                "SWAPPSS",
                "THR",
                "MAPS",
                "CGROUP"
            )?;
            for r in rows {
                let mark = if r.restricted {
                    "*"
                } else if r.pss_state == PssState::OverBudget {
                    "^"
                } else if r.over_budget {
                    "~"
                } else {
                    " "
                };
                let mut cmd = safe_command(r);
                if r.leader_exited {
                    cmd.push_str(&format!(
                        "  [main thread exited; {} threads remain]",
                        r.threads.saturating_sub(1)
                    ));
                }
                writeln!(
                    out,
                    "{:>7}{mark}{:>7} {:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5} {:>6}  {:<24} {}",
                    r.pid,
                    r.ns_pid,
                    truncate(&terminal_safe(r.user.as_bytes()), 10),
                    format_figure(r.figures.rss),
                    format_figure(r.figures.pss),
                    format_figure(r.figures.uss),
                    format_figure(r.figures.swap),
                    format_figure(r.swap_pss),
                    r.threads,
                    r.mappings.map_or("-".to_string(), |m| m.to_string()),
                    truncate(&terminal_safe(where_(r).as_bytes()), 24),
                    truncate(&cmd, 160)
                )?;
            }
            if args.totals {
                let t = totals;
                writeln!(
                    out,
                    "{:>7} {:>7} {:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5} {:>6}",
                    "TOTAL",
                    "",
                    "",
                    format_figure(t.figures.rss),
                    format_figure(t.figures.pss),
                    format_figure(t.figures.uss),
                    format_figure(t.figures.swap),
                    format_figure(t.swap_pss),
                    t.threads,
                    t.mappings
                )?;
            }
            footer(out, args, report)?;
        }
    }
    Ok(())
}

fn grouped(
    out: &mut impl Write,
    args: &PsArgs,
    by: GroupBy,
    report: &Report,
) -> anyhow::Result<()> {
    let (groups, totals) = (&report.groups, &report.totals);
    match args.format {
        TableFormat::Json => {
            let mut v = json!({ "groups": groups, "exited": report.exited });
            if args.totals {
                v["totals"] = serde_json::to_value(totals)?;
            }
            output::write_json(out, &v)?;
        }
        TableFormat::Csv => {
            writeln!(out, "key,container,processes,restricted,rss,pss,uss,swap,swap_pss,threads,max_mappings,cgroup_current,cgroup_max")?;
            for g in groups {
                let m = g.cgroup_memory.as_ref();
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv(&g.key),
                    csv(&g.container.as_ref().map_or(String::new(), |c| c.short())),
                    g.processes,
                    g.restricted,
                    csv_figure(g.figures.rss),
                    csv_figure(g.figures.pss),
                    csv_figure(g.figures.uss),
                    csv_figure(g.figures.swap),
                    csv_figure(g.swap_pss),
                    g.threads,
                    g.max_mappings,
                    m.and_then(|m| m.current)
                        .map_or(String::new(), |v| v.to_string()),
                    m.and_then(|m| m.max)
                        .map_or(String::new(), |v| v.to_string()),
                )?;
            }
        }
        TableFormat::Text => {
            let title = if by == GroupBy::User {
                "USER"
            } else {
                "CGROUP"
            };
            let w = groups
                .iter()
                .map(|g| g.key.chars().count())
                .max()
                .unwrap_or(4)
                .clamp(8, 60);
            writeln!(
                out,
                "{title:<w$} {:>6} {:>9} {:>9} {:>9} {:>9}{}",
                "PROCS",
                "PSS",
                "USS",
                "RSS",
                "SWAP",
                if by == GroupBy::Cgroup {
                    "  CURRENT       MAX  CONTAINER"
                } else {
                    ""
                }
            )?;
            for g in groups {
                write!(
                    out,
                    "{:<w$} {:>6} {:>9} {:>9} {:>9} {:>9}",
                    truncate(&terminal_safe(g.key.as_bytes()), w),
                    g.processes,
                    format_figure(g.figures.pss),
                    format_figure(g.figures.uss),
                    format_figure(g.figures.rss),
                    format_figure(g.figures.swap)
                )?;
                if by == GroupBy::Cgroup {
                    let m = g.cgroup_memory.clone().unwrap_or_default();
                    write!(
                        out,
                        "  {:>7} {:>9}  {}",
                        m.current.map_or("-".into(), format_size),
                        m.max.map_or("max".into(), format_size),
                        g.container.as_ref().map_or("-".into(), |c| c.short())
                    )?;
                    writeln!(out)?;
                    if !m.stat.is_empty() {
                        let stat: Vec<String> = m
                            .stat
                            .iter()
                            .map(|(k, v)| format!("{k} {}", format_size(*v)))
                            .collect();
                        writeln!(out, "    memory.stat: {}", stat.join(", "))?;
                    }
                } else {
                    writeln!(out)?;
                }
            }
            footer(out, args, report)?;
        }
    }
    Ok(())
}

fn mappings(out: &mut impl Write, args: &PsArgs, report: &Report) -> anyhow::Result<()> {
    let list = &report.mappings;
    match args.format {
        TableFormat::Json => {
            output::write_json(
                out,
                &json!({ "source": "smaps", "mappings": list, "exited": report.exited,
                         "processes": report.rows.len() }),
            )?;
        }
        TableFormat::Csv => {
            writeln!(out, "key,processes,mappings,rss,pss,uss,swap")?;
            for m in list {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{}",
                    csv(&m.key),
                    m.processes,
                    m.mappings,
                    csv_figure(m.figures.rss),
                    csv_figure(m.figures.pss),
                    csv_figure(m.figures.uss),
                    csv_figure(m.figures.swap)
                )?;
            }
        }
        TableFormat::Text => {
            writeln!(
                out,
                "By mapping (from smaps: every region of every process was read, which is slower than the rollup)"
            )?;
            writeln!(
                out,
                "{:>6} {:>7} {:>9} {:>9} {:>9} {:>9}  MAPPING",
                "PROCS", "MAPS", "PSS", "USS", "RSS", "SWAP"
            )?;
            for m in list {
                writeln!(
                    out,
                    "{:>6} {:>7} {:>9} {:>9} {:>9} {:>9}  {}",
                    m.processes,
                    m.mappings,
                    format_figure(m.figures.pss),
                    format_figure(m.figures.uss),
                    format_figure(m.figures.rss),
                    format_figure(m.figures.swap),
                    terminal_safe(m.key.as_bytes())
                )?;
            }
            footer(out, args, report)?;
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
