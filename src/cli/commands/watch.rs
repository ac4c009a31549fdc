//! `memlink watch`: samples a process at an interval, prints a line (or a JSON object) per
//! sample, and ends with a leak verdict.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use memlink::overtime::trend::Thresholds;
use memlink::overtime::watch::{self, LeakRule, Record, RegionUsage, Sample, Sampler, Verdict};
use memlink::units::format_size;

use crate::cli::args::{LeakArgs, WatchArgs, WatchFormat};
use crate::cli::output;
use crate::cli::Outcome;

/// The leak rule from the command line.
pub fn leak_rule(a: &LeakArgs) -> anyhow::Result<LeakRule> {
    if !(0.0..=1.0).contains(&a.min_r2) {
        anyhow::bail!("--min-r2 must be between 0 and 1 (got {})", a.min_r2);
    }
    let bytes = Thresholds {
        warmup_s: a.warmup.as_secs_f64(),
        min_slope_per_min: a.min_slope as f64,
        min_r2: a.min_r2,
        min_growth: a.min_growth as f64,
        min_span_s: a.min_span.as_secs_f64(),
    };
    Ok(LeakRule {
        bytes,
        mappings: Thresholds {
            min_slope_per_min: a.min_map_slope,
            min_growth: a.min_map_growth as f64,
            ..bytes
        },
    })
}

/// Runs `memlink watch`.
pub fn run(args: WatchArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    if args.interval.is_zero() {
        anyhow::bail!("--interval must be greater than 0");
    }
    if args.count == Some(0) {
        anyhow::bail!("--count must be at least 1");
    }
    if args.detail_every == 0 {
        anyhow::bail!("--detail-every must be at least 1");
    }
    let rule = leak_rule(&args.leak)?;
    let sampler = Sampler::open(proc_root, args.pid)?;

    let (tx, rx) = mpsc::channel::<()>();
    // Ctrl-C ends the watch early and still prints the verdict.
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(());
    });

    let mut out = output::stdout();
    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut first_view: Option<RegionUsage> = None;
    let mut last_view: Option<(u64, RegionUsage)> = None;
    let mut exited = false;
    let mut seq = 0u64;
    loop {
        let t = start.elapsed().as_secs_f64();
        let last = args.count.is_some_and(|c| seq + 1 >= c)
            || args
                .duration
                .is_some_and(|d| start.elapsed() + args.interval > d);
        let mut s = match sampler.sample(seq, t) {
            Ok(s) => s,
            Err(e) if is_gone(&e) => {
                exited = true;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if seq.is_multiple_of(args.detail_every) || last {
            match sampler.regions() {
                Ok(regions) => {
                    s.stacks = Some(watch::stack_bytes(&regions));
                    let u = watch::region_usage(&regions);
                    if first_view.is_none() {
                        first_view = Some(u);
                    } else {
                        last_view = Some((seq, u));
                    }
                }
                Err(e) if is_gone(&e) => {
                    exited = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        print_sample(&mut out, args.format, &s)?;
        samples.push(s);
        seq += 1;
        if last {
            break;
        }
        let next = start + args.interval * (seq as u32);
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
    }
    // The last per-region view should be as late as possible: take one now if the last sample
    // had none.
    if !exited && last_view.as_ref().map(|v| v.0 + 1) != Some(seq) && seq > 1 {
        if let Ok(regions) = sampler.regions() {
            last_view = Some((seq, watch::region_usage(&regions)));
        }
    }
    if exited {
        eprintln!(
            "memlink: process {} exited after {} samples; judging those",
            args.pid,
            samples.len()
        );
    }
    let v = watch::verdict(
        args.pid,
        &samples,
        first_view.as_ref(),
        last_view.as_ref().map(|v| &v.1),
        &rule,
    );
    print_verdict(&mut out, args.format, &v)?;
    out.flush()?;
    Ok(if v.leak_suspected && args.fail_on_leak {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

fn is_gone(e: &memlink::Error) -> bool {
    matches!(
        e,
        memlink::Error::ProcessExited { .. }
            | memlink::Error::NoSuchProcess { .. }
            | memlink::Error::Zombie { .. }
    )
}

fn print_sample(out: &mut impl Write, f: WatchFormat, s: &Sample) -> anyhow::Result<()> {
    match f {
        WatchFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &Record::Sample(s.clone()))?;
            writeln!(out)?;
        }
        WatchFormat::Text => {
            writeln!(
                out,
                "{:>8.1}s  rss {:>9}  pss {:>9}  uss {:>9}  swap {:>9}  anon {:>9}  file {:>9}  shmem {:>9}  stacks {:>9}  maps {:>6}",
                s.t,
                format_size(s.rss),
                format_size(s.pss),
                format_size(s.uss),
                format_size(s.swap),
                format_size(s.anon),
                format_size(s.file),
                format_size(s.shmem),
                s.stacks.map_or("-".into(), format_size),
                s.mappings
            )?;
        }
    }
    // Live output: each sample is visible as soon as it is taken.
    out.flush()?;
    Ok(())
}

fn print_verdict(out: &mut impl Write, f: WatchFormat, v: &Verdict) -> anyhow::Result<()> {
    match f {
        WatchFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &Record::Verdict(v.clone()))?;
            writeln!(out)?;
        }
        WatchFormat::Text => {
            writeln!(out)?;
            writeln!(
                out,
                "Verdict: {}",
                if v.leak_suspected {
                    "LEAK SUSPECTED"
                } else {
                    "no leak suspected"
                }
            )?;
            for c in &v.components {
                let per_min = if c.name == "mappings" {
                    format!("{:+.1}/min", c.fit.slope_per_min)
                } else {
                    let s = format_size(c.fit.slope_per_min.abs() as u64);
                    format!(
                        "{}{s}/min",
                        if c.fit.slope_per_min < 0.0 { "-" } else { "+" }
                    )
                };
                writeln!(
                    out,
                    "  {} {:<9} {:>14}  r² {:.2}  {}",
                    if c.fit.suspected { "!" } else { " " },
                    c.name,
                    per_min,
                    c.fit.r2,
                    c.fit.reason
                )?;
            }
            if !v.grew.is_empty() {
                writeln!(out, "Grew (first vs last per-region view):")?;
                for g in &v.grew {
                    writeln!(out, "  +{:<9} {}", format_size(g.delta as u64), g.what)?;
                }
            }
            writeln!(out, "Next: {}", v.suggestion)?;
        }
    }
    Ok(())
}
