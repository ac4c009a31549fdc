//! `memlink export`: memory metrics in the OpenMetrics/Prometheus text format, served over HTTP
//! on a loopback address or written once to a file for node_exporter's textfile collector.

use std::path::Path;

use anyhow::Context as _;
use memlink::overtime::export::{self, server, Exporter, Format};
use memlink::overtime::ps::{self, GroupBy};

use crate::cli::args::{ExportArgs, ExportBy, ExportFormat};
use crate::cli::Outcome;

/// Runs `memlink export`.
pub fn run(args: ExportArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let rule = super::watch::leak_rule(&args.leak)?;
    let by = match args.by {
        ExportBy::Command => GroupBy::Command,
        ExportBy::Cgroup => GroupBy::Cgroup,
        ExportBy::User => GroupBy::User,
    };
    let scan = ps::Options {
        root: proc_root.to_path_buf(),
        pids: (!args.pid.is_empty()).then(|| args.pid.clone()),
        cmdline: args.cmdline,
        mappings: true,
        rollup: args.smaps,
        budget: args.budget,
        rollup_budget: args.rollup_budget.0,
        ..ps::Options::default()
    };
    let render = export::Options {
        by,
        per_pid: args.per_pid,
        cmdline: args.cmdline,
        smaps: args.smaps,
    };
    let mut exporter = Exporter::new(scan, render, rule, &args.watch, args.rollup_budget.0)?;

    if let Some(path) = &args.output {
        let format = match args.format {
            ExportFormat::Prometheus => Format::Prometheus,
            ExportFormat::Openmetrics => Format::OpenMetrics,
        };
        exporter.write_once(path, format)?;
        return Ok(Outcome::Success);
    }

    let addr = export::check_listen(&args.listen, args.allow_remote)?;
    let listener = export::bind(addr)?;
    eprintln!(
        "memlink: serving metrics on http://{}/metrics",
        listener.local_addr().map_or(addr, |a| a)
    );
    server::serve(listener, server::Limits::default(), move || {
        exporter.collect().map_err(|e| {
            log::warn!("scrape failed: {e}");
            e.to_string()
        })
    })
    .context("the metrics server stopped")?;
    Ok(Outcome::Success)
}
