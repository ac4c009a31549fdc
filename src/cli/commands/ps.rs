//! `memlink ps`: every process with its memory, or the same grouped by user, cgroup or mapping.

use std::io::Write;
use std::path::Path;

use memlink::overtime::ps::{self, GroupBy, Options, ProcessRow};
use memlink::units::format_size;
use serde_json::json;

use crate::cli::args::{PsArgs, PsBy, SortKey, TableFormat};
use crate::cli::output;
use crate::cli::Outcome;

/// Runs `memlink ps`.
pub fn run(args: PsArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
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
    let opts = Options {
        root: proc_root.to_path_buf(),
        pids: (!args.pid.is_empty()).then(|| args.pid.clone()),
        uids,
        command,
        cgroup: args.cgroup.clone(),
        cmdline: true,
        mappings: true,
        rollup: true,
        per_mapping: args.by == PsBy::Mapping,
        budget: args.budget,
    };
    let mut table = ps::scan(&opts)?;
    sort(&mut table.rows, args.sort);
    let mut out = output::stdout();
    let totals = ps::totals(&table.rows);
    match args.by {
        PsBy::Process => processes(&mut out, &args, &table, &totals)?,
        PsBy::Mapping => mappings(&mut out, &args, &table)?,
        PsBy::User | PsBy::Cgroup => {
            let by = if args.by == PsBy::User {
                GroupBy::User
            } else {
                GroupBy::Cgroup
            };
            let mut groups = ps::group(&table.rows, by);
            sort_groups(&mut groups, args.sort);
            if by == GroupBy::Cgroup {
                ps::add_cgroup_memory(&mut groups, &args.cgroup_root);
            }
            if args.limit > 0 {
                groups.truncate(args.limit);
            }
            grouped(&mut out, &args, by, &groups, &table, &totals)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn sort(rows: &mut [ProcessRow], key: SortKey) {
    match key {
        SortKey::Pid => rows.sort_by_key(|r| r.pid),
        SortKey::Pss => rows.sort_by(|a, b| b.pss.cmp(&a.pss).then(b.rss.cmp(&a.rss))),
        SortKey::Uss => rows.sort_by(|a, b| b.uss.cmp(&a.uss).then(b.rss.cmp(&a.rss))),
        SortKey::Rss => rows.sort_by_key(|r| std::cmp::Reverse(r.rss)),
        SortKey::Swap => rows.sort_by(|a, b| b.swap.cmp(&a.swap).then(b.rss.cmp(&a.rss))),
    }
}

fn sort_groups(g: &mut [ps::Group], key: SortKey) {
    match key {
        SortKey::Pid | SortKey::Pss => {}
        SortKey::Uss => g.sort_by_key(|g| std::cmp::Reverse(g.uss)),
        SortKey::Rss => g.sort_by_key(|g| std::cmp::Reverse(g.rss)),
        SortKey::Swap => g.sort_by_key(|g| std::cmp::Reverse(g.swap)),
    }
}

fn where_(r: &ProcessRow) -> String {
    match (&r.container, &r.cgroup) {
        (Some(c), _) => c.short(),
        (None, Some(cg)) => cg.path.clone(),
        (None, None) => "-".into(),
    }
}

fn footer(out: &mut impl Write, table: &ps::Table, totals: &ps::Totals) -> std::io::Result<()> {
    writeln!(
        out,
        "{} processes; {} exited while being read (skipped); {} restricted (*: smaps_rollup not readable, RSS and swap from status); {} over the time budget (~: some columns not read)",
        totals.processes,
        table.exited,
        totals.restricted,
        table.rows.iter().filter(|r| r.over_budget).count()
    )
}

fn processes(
    out: &mut impl Write,
    args: &PsArgs,
    table: &ps::Table,
    totals: &ps::Totals,
) -> anyhow::Result<()> {
    let rows: &[ProcessRow] = if args.limit > 0 && args.limit < table.rows.len() {
        &table.rows[..args.limit]
    } else {
        &table.rows
    };
    match args.format {
        TableFormat::Json => {
            let mut v = json!({
                "processes": rows,
                "exited": table.exited,
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
                    r.rss,
                    r.pss,
                    r.uss,
                    r.swap,
                    r.swap_pss,
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
                    t.rss, t.pss, t.uss, t.swap, t.swap_pss, t.threads, t.mappings, t.restricted
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
                } else if r.over_budget {
                    "~"
                } else {
                    " "
                };
                let cmd = r
                    .command
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .unwrap_or(&r.name);
                writeln!(
                    out,
                    "{:>7}{mark}{:>7} {:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5} {:>6}  {:<24} {}",
                    r.pid,
                    r.ns_pid,
                    truncate(&r.user, 10),
                    format_size(r.rss),
                    if r.restricted {
                        "-".into()
                    } else {
                        format_size(r.pss)
                    },
                    if r.restricted {
                        "-".into()
                    } else {
                        format_size(r.uss)
                    },
                    format_size(r.swap),
                    if r.restricted {
                        "-".into()
                    } else {
                        format_size(r.swap_pss)
                    },
                    r.threads,
                    r.mappings.map_or("-".to_string(), |m| m.to_string()),
                    truncate(&where_(r), 24),
                    truncate(cmd, 120)
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
                    format_size(t.rss),
                    format_size(t.pss),
                    format_size(t.uss),
                    format_size(t.swap),
                    format_size(t.swap_pss),
                    t.threads,
                    t.mappings
                )?;
            }
            footer(out, table, totals)?;
        }
    }
    Ok(())
}

fn grouped(
    out: &mut impl Write,
    args: &PsArgs,
    by: GroupBy,
    groups: &[ps::Group],
    table: &ps::Table,
    totals: &ps::Totals,
) -> anyhow::Result<()> {
    match args.format {
        TableFormat::Json => {
            let mut v = json!({ "groups": groups, "exited": table.exited });
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
                    g.rss,
                    g.pss,
                    g.uss,
                    g.swap,
                    g.swap_pss,
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
                    truncate(&g.key, w),
                    g.processes,
                    format_size(g.pss),
                    format_size(g.uss),
                    format_size(g.rss),
                    format_size(g.swap)
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
            footer(out, table, totals)?;
        }
    }
    Ok(())
}

fn mappings(out: &mut impl Write, args: &PsArgs, table: &ps::Table) -> anyhow::Result<()> {
    let list = table.by_mapping.as_deref().unwrap_or(&[]);
    let list = if args.limit > 0 && args.limit < list.len() {
        &list[..args.limit]
    } else {
        list
    };
    match args.format {
        TableFormat::Json => {
            output::write_json(
                out,
                &json!({ "source": "smaps", "mappings": list, "exited": table.exited,
                         "processes": table.rows.len() }),
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
                    m.rss,
                    m.pss,
                    m.uss,
                    m.swap
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
                    format_size(m.pss),
                    format_size(m.uss),
                    format_size(m.rss),
                    format_size(m.swap),
                    m.key
                )?;
            }
            footer(out, table, &ps::totals(&table.rows))?;
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
