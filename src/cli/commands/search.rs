//! `memlink search`: find bytes, text or typed values in a live process's memory.
//!
//! Exit codes follow grep: 0 something matched, 1 nothing did, 2 an error (including a process
//! that exited mid-scan, after printing what was found before).

use std::io::{IsTerminal, Write};
use std::path::Path;

use memlink::inspect::search::{self, Match, Pattern, RegionFilter, SearchRequest, ValueType};
use memlink::platform::ReadMode;
use memlink::units::format_size;
use memlink::MemoryAnalyzer;

use crate::cli::args::{Format, SearchArgs};
use crate::cli::output::{self, JsonArray};
use crate::cli::Outcome;

/// Scans smaller than this get no progress bar.
const PROGRESS_MIN: u64 = 256 << 20;

impl TryFrom<&SearchArgs> for SearchRequest {
    type Error = memlink::Error;

    fn try_from(a: &SearchArgs) -> memlink::Result<SearchRequest> {
        let mut patterns = Vec::new();
        for h in &a.hex {
            patterns.push(Pattern::hex(h)?);
        }
        for t in &a.text {
            patterns.push(Pattern::text(t)?);
        }
        for t in &a.utf16 {
            patterns.push(Pattern::utf16(t)?);
        }
        let typed = [
            (ValueType::I8, &a.i8),
            (ValueType::U8, &a.u8),
            (ValueType::I16, &a.i16),
            (ValueType::U16, &a.u16),
            (ValueType::I32, &a.i32),
            (ValueType::U32, &a.u32),
            (ValueType::I64, &a.i64),
            (ValueType::U64, &a.u64),
            (ValueType::F32, &a.f32),
            (ValueType::F64, &a.f64),
        ];
        for (ty, values) in typed {
            for v in values {
                patterns.push(Pattern::value(ty, v, a.big_endian, a.aligned)?);
            }
        }
        if patterns.is_empty() {
            return Err(memlink::Error::InvalidArgument(
                "no pattern given (use --hex, --text, --utf16 or a typed value such as --u32)"
                    .into(),
            ));
        }
        let mut req = SearchRequest::new(patterns);
        if let Some(t) = &a.types {
            req.filter.types = RegionFilter::parse_types(t)?;
        }
        if let Some(p) = &a.perms {
            req.filter.perms = Some(search::PermFilter::parse(p)?);
        }
        if let Some(r) = &a.range {
            req.filter.range = Some(RegionFilter::parse_range(r)?);
        }
        if a.max == Some(0) {
            return Err(memlink::Error::InvalidArgument(
                "--max must be at least 1".into(),
            ));
        }
        req.max = a.max;
        req.mode = if a.resident_only {
            ReadMode::ResidentOnly
        } else if a.fault_in {
            ReadMode::FaultIn
        } else {
            ReadMode::Safe
        };
        Ok(req)
    }
}

/// Runs `memlink search`.
pub fn run(args: SearchArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    let req = SearchRequest::try_from(&args)?;
    let analyzer = MemoryAnalyzer::with_proc_root(proc_root, args.pid)?;
    let bar = indicatif::ProgressBar::hidden();
    let terminal = std::io::stderr().is_terminal();
    let progress = |delta: u64, total: u64| {
        if terminal && total >= PROGRESS_MIN && bar.is_hidden() && bar.length().is_none() {
            bar.set_length(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.inc(delta);
    };
    let mut out = output::stdout();
    let mut count = 0usize;
    let report = match args.format {
        Format::Json => {
            let mut arr = JsonArray::new(&mut out)?;
            let report = search::search_with(&analyzer, &req, &progress, &mut |m| {
                count += 1;
                arr.push(&m).map_err(io_error)?;
                Ok(true)
            })?;
            arr.finish()?;
            report
        }
        Format::Text => {
            let report = search::search_with(&analyzer, &req, &progress, &mut |m| {
                count += 1;
                write_match(&mut out, &m).map_err(io_error)?;
                Ok(true)
            })?;
            bar.finish_and_clear();
            let mut summary = format!(
                "{} match{} in {} region{} ({} scanned",
                count,
                if count == 1 { "" } else { "es" },
                report.regions_scanned,
                if report.regions_scanned == 1 { "" } else { "s" },
                format_size(report.bytes_scanned)
            );
            if report.unreadable_ranges > 0 {
                summary += &format!(
                    ", {} unreadable range{} skipped ({})",
                    report.unreadable_ranges,
                    if report.unreadable_ranges == 1 {
                        ""
                    } else {
                        "s"
                    },
                    format_size(report.unreadable_bytes)
                );
            }
            if report.not_resident_bytes > 0 {
                summary += &format!(
                    ", {} not resident skipped",
                    format_size(report.not_resident_bytes)
                );
            }
            for (bytes, what) in skipped(&report) {
                summary += &format!(", {} {what} not searched", format_size(bytes));
            }
            if report.stopped_at_max {
                summary += ", stopped at --max";
            }
            summary += ")";
            writeln!(out, "{summary}")?;
            report
        }
    };
    bar.finish_and_clear();
    out.flush()?;
    if report.process_exited {
        return Err(memlink::Error::ProcessExited {
            pid: args.pid,
            during: format!(
                "it was being searched ({} of {} scanned; matches before that are above)",
                format_size(report.bytes_scanned),
                format_size(report.bytes_total)
            ),
        }
        .into());
    }
    let not_searched: u64 = skipped(&report).iter().map(|s| s.0).sum();
    if count == 0 && not_searched > 0 {
        // Nothing found, but not everything was looked at: say how much, on stderr so that
        // JSON on stdout stays an array.
        let parts: Vec<String> = skipped(&report)
            .iter()
            .map(|(b, what)| format!("{} {what}", format_size(*b)))
            .collect();
        eprintln!(
            "memlink: nothing found, but {} were not searched ({}); --fault-in reads them",
            format_size(not_searched),
            parts.join(", ")
        );
    }
    Ok(if count == 0 {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

/// The bytes the default read mode left out, with what they were.
fn skipped(r: &search::SearchReport) -> Vec<(u64, &'static str)> {
    [
        (r.swapped_bytes, "swapped out"),
        (r.not_cached_bytes, "not in page cache"),
        (
            r.no_backing_bytes,
            "not mapped and backing file not readable",
        ),
    ]
    .into_iter()
    .filter(|(b, _)| *b > 0)
    .collect()
}

/// `0x7f..  Code  libfoo.so+0x1234  text:secret  73 65 63 ...  |sec...|`
fn write_match(out: &mut impl Write, m: &Match) -> std::io::Result<()> {
    let location = match (&m.region_name, m.file_offset) {
        // Shared memory is named as the kernel names it (`/dev/zero (deleted)`,
        // `/SYSV0000162e (deleted)` for SysV key 0x0000162e, `/memfd:NAME (deleted)`): its
        // base name alone (`zero`) would mean nothing to the user.
        (Some(name), Some(fo)) if m.region_type == memlink::region::RegionType::SharedMemory => {
            format!("{name}+{fo:#x}")
        }
        (Some(name), Some(fo)) => {
            let base = Path::new(name.trim_end_matches(" (deleted)"))
                .file_name()
                .map_or(name.clone(), |b| b.to_string_lossy().into_owned());
            format!("{base}+{fo:#x}")
        }
        (Some(name), None) => format!("{name}+{:#x}", m.offset),
        (None, _) => format!("{:#x}+{:#x}", m.region_start, m.offset),
    };
    let bytes = m.context_bytes();
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    // File names and patterns are the target's and the user's bytes: escape control
    // characters so that they cannot rewrite the terminal.
    writeln!(
        out,
        "{:#014x}  {:<11}  {:<32}  {:<16}  {:<47}  |{}|",
        m.address,
        m.region_type.name(),
        memlink::text::terminal_safe(location.as_bytes()),
        memlink::text::terminal_safe(m.pattern.as_bytes()),
        hex.join(" "),
        ascii
    )
}

fn io_error(e: std::io::Error) -> memlink::Error {
    memlink::Error::Os {
        op: "write the matches".into(),
        source: e,
    }
}
