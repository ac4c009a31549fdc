//! `memlink watch`: samples a process at an interval, prints a line (or a JSON object) per
//! sample, and ends with a leak verdict.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;

use memlink::overtime::trend::Thresholds;
use memlink::overtime::watch::{self, LeakRule, Plan, Record, Sample, Sampler, Verdict};
use memlink::region::stats::format_figure;
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
    let plan = Plan {
        interval: args.interval,
        count: args.count,
        duration: args.duration,
        detail_every: args.detail_every,
        rule: leak_rule(&args.leak)?,
        fail_on_leak: args.fail_on_leak,
    };
    plan.check()?;
    let sampler = Sampler::open(proc_root, args.pid)?.with_rollup_budget(args.rollup_budget.0);

    let (tx, rx) = mpsc::channel::<()>();
    // Ctrl-C ends the watch early and still prints the verdict.
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(());
    });

    let mut out = output::stdout();
    let end = watch::run(&sampler, &plan, &rx, |s| -> anyhow::Result<()> {
        print_sample(&mut out, args.format, s)
    })?;
    let v = &end.verdict;
    // Exiting before the span the rule needs leaves no answer: an error, not "no leak".
    let early_exit = end.exited && v.inconclusive.is_some();
    if end.exited && !early_exit {
        eprintln!(
            "memlink: process {} exited after {} samples; judging those",
            args.pid, end.samples
        );
    }
    print_verdict(&mut out, args.format, v)?;
    out.flush()?;
    if let (true, Some(i)) = (early_exit, v.inconclusive) {
        anyhow::bail!(
            "process {} exited after {} samples ({:.1}s judged), before the {:.1}s span the leak rule needs: no verdict",
            args.pid,
            end.samples,
            i.span_s,
            i.needed_s
        );
    }
    Ok(if v.leak_suspected && args.fail_on_leak {
        Outcome::Negative
    } else {
        Outcome::Success
    })
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
                format_figure(s.figures.rss),
                format_figure(s.figures.pss),
                format_figure(s.figures.uss),
                format_figure(s.figures.swap),
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
                match (v.leak_suspected, v.inconclusive) {
                    (true, _) => "LEAK SUSPECTED".to_string(),
                    (false, Some(i)) => format!(
                        "inconclusive (judged {:.1}s, needs {:.1}s)",
                        i.span_s, i.needed_s
                    ),
                    (false, None) => "no leak suspected".to_string(),
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
