//! `memlink leaks`: runs a watch of the library's [`memlink::leaks`] and writes its report.

use crate::cli::args::LeaksArgs;
use crate::cli::Outcome;

/// Runs `memlink leaks`.
#[cfg(not(target_os = "linux"))]
pub fn run(_args: LeaksArgs) -> anyhow::Result<Outcome> {
    Err(memlink::Error::Unsupported {
        op: "memlink leaks",
        platform: std::env::consts::OS,
    }
    .into())
}

/// Runs `memlink leaks`.
#[cfg(target_os = "linux")]
pub fn run(args: LeaksArgs) -> anyhow::Result<Outcome> {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::Context;
    use memlink::files::OutFile;
    use memlink::leaks::{self, Mode, Options};
    use memlink::overtime::trend::Thresholds;

    use crate::cli::args::LeaksFormat;

    if args.duration.is_zero() {
        anyhow::bail!("--duration must be more than 0s");
    }
    if args.interval.is_zero() {
        anyhow::bail!("--interval must be more than 0s");
    }
    if !(0.0..=1.0).contains(&args.leak.min_r2) {
        anyhow::bail!(
            "--min-r2 must be between 0 and 1 (got {})",
            args.leak.min_r2
        );
    }
    if args.top == 0 {
        anyhow::bail!("--top must be at least 1");
    }
    let window = args.duration.as_secs_f64();
    // The rule of `watch`, with the span and warm-up capped to the window so that a short
    // watch can still judge (the report states the thresholds used).
    let thresholds = Thresholds {
        warmup_s: args.leak.warmup.as_secs_f64().min(window / 5.0),
        min_slope_per_min: args.leak.min_slope as f64,
        min_r2: args.leak.min_r2,
        min_growth: args.leak.min_growth as f64,
        min_span_s: args.leak.min_span.as_secs_f64().min(window * 0.7),
    };
    let seed = args.sample_seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let opts = Options {
        pid: args.pid,
        mode: if args.all { Mode::Exact } else { Mode::Growth },
        duration: args.duration,
        sample_bytes: args.sample_bytes,
        seed,
        min_age: args.min_age,
        top: args.top,
        thresholds,
        interval: args.interval.min(Duration::from_secs(60)),
    };
    // The output file is created before attaching, so a refused path costs no probe.
    let mut out = match &args.output {
        Some(p) => Some(OutFile::create(p, args.force)?),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let started = std::time::Instant::now();
    let report = leaks::run(&opts, &stop, &mut |n| {
        log::info!(
            "{n} probes attached in {:.3}s",
            started.elapsed().as_secs_f64()
        );
    })
    .with_context(|| format!("leaks of process {}", args.pid))?;
    let body: Vec<u8> = match args.format {
        LeaksFormat::Text => report.text().into_bytes(),
        LeaksFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s.into_bytes()
        }
        LeaksFormat::Folded => report.folded().into_bytes(),
        LeaksFormat::Pprof => leaks::export::pprof(&report).context("writing the pprof profile")?,
        LeaksFormat::Svg => leaks::export::svg(&report).context("drawing the flame graph")?,
    };
    match out.as_mut() {
        Some(f) => f.file_mut().write_all(&body)?,
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(&body)?;
            so.flush()?;
        }
    }
    if let Some(f) = out {
        f.commit()?;
    }
    Ok(if report.leak_suspected && args.fail_on_leak {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}
