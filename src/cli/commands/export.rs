//! `memlink export`: memory metrics in the OpenMetrics/Prometheus text format, served over HTTP
//! on a loopback address or written once to a file for node_exporter's textfile collector.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use memlink::overtime::export::{self, Format, Scrape, Watched};
use memlink::overtime::ps::{self, GroupBy};
use memlink::overtime::watch::{self, LeakRule, Sample, Sampler};
use memlink::snapshot::create_private;

use crate::cli::args::{ExportArgs, ExportBy, ExportFormat};
use crate::cli::Outcome;

struct WatchState {
    sampler: Sampler,
    name: String,
    start: Instant,
    samples: Vec<Sample>,
    seq: u64,
    gone: bool,
}

/// Samples kept per watched process (at a 15 s scrape interval, about 8 hours).
const MAX_SAMPLES: usize = 2000;

/// Runs `memlink export`.
pub fn run(args: ExportArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let rule = super::watch::leak_rule(&args.leak)?;
    let by = match args.by {
        ExportBy::Command => GroupBy::Command,
        ExportBy::Cgroup => GroupBy::Cgroup,
        ExportBy::User => GroupBy::User,
    };
    let opts = ps::Options {
        root: proc_root.to_path_buf(),
        pids: (!args.pid.is_empty()).then(|| args.pid.clone()),
        cmdline: args.cmdline,
        mappings: true,
        rollup: args.smaps,
        budget: args.budget,
        ..ps::Options::default()
    };
    let render_opts = export::Options {
        by,
        per_pid: args.per_pid,
        cmdline: args.cmdline,
        smaps: args.smaps,
    };
    let mut watched = Vec::new();
    for &pid in &args.watch {
        let sampler = Sampler::open(proc_root, pid)?;
        let name = memlink::platform::process_info_in(proc_root, pid)?.name;
        watched.push(WatchState {
            sampler,
            name,
            start: Instant::now(),
            samples: Vec::new(),
            seq: 0,
            gone: false,
        });
    }
    let max_map_count = std::fs::read_to_string(proc_root.join("sys/vm/max_map_count"))
        .ok()
        .and_then(|s| s.trim().parse().ok());

    let mut scrape = |format: Format| -> memlink::Result<String> {
        let t0 = Instant::now();
        let table = ps::scan(&opts)?;
        let w = watched
            .iter_mut()
            .filter_map(|w| sample_watched(w, &rule))
            .collect();
        let s = Scrape {
            rows: table.rows,
            exited: table.exited,
            max_map_count,
            watched: w,
            duration_s: t0.elapsed().as_secs_f64(),
        };
        Ok(export::render(&s, &render_opts, format))
    };

    if let Some(path) = &args.output {
        let format = match args.format {
            ExportFormat::Prometheus => Format::Prometheus,
            ExportFormat::Openmetrics => Format::OpenMetrics,
        };
        let text = scrape(format)?;
        // Write beside the target and rename, so that a collector never reads half a file.
        let name = path
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("--output {} is not a file name", path.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let mut f = create_private(&tmp, true)?;
        let res = f
            .write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path));
        if let Err(source) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(memlink::Error::File {
                path: path.clone(),
                source,
            }
            .into());
        }
        return Ok(Outcome::Success);
    }

    let addr = export::check_listen(&args.listen, args.allow_remote)?;
    let listener = export::bind(addr)?;
    eprintln!(
        "memlink: serving metrics on http://{}/metrics",
        listener.local_addr().map_or(addr, |a| a)
    );
    export::serve(&listener, |f| {
        scrape(f).unwrap_or_else(|e| {
            log::warn!("scrape failed: {e}");
            String::new()
        })
    })?;
    Ok(Outcome::Success)
}

fn sample_watched(w: &mut WatchState, rule: &LeakRule) -> Option<Watched> {
    if w.gone {
        return None;
    }
    match w.sampler.sample(w.seq, w.start.elapsed().as_secs_f64()) {
        Ok(s) => {
            w.samples.push(s);
            w.seq += 1;
            if w.samples.len() > MAX_SAMPLES {
                w.samples.remove(0);
            }
        }
        Err(e) => {
            log::info!("watched process {} is gone: {e}", w.sampler.pid());
            w.gone = true;
            return None;
        }
    }
    let v = watch::verdict(w.sampler.pid(), &w.samples, None, None, rule);
    Some(Watched {
        pid: w.sampler.pid(),
        name: w.name.clone(),
        // The stack series needs the per-region view, which the exporter does not read.
        components: v
            .components
            .into_iter()
            .filter(|c| c.name != "stacks")
            .collect(),
        leak_suspected: v.leak_suspected,
    })
}
