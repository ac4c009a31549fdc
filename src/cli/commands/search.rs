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
        // Each pattern with where it stood on the command line: `pattern_index` follows
        // that order, whichever flags gave the patterns.
        let mut placed: Vec<(usize, Pattern)> = Vec::new();
        let mut place = |id: &str, i: usize, p: Pattern| {
            let at = a.position(id, i).unwrap_or(usize::MAX);
            placed.push((at, p));
        };
        for (i, h) in a.hex.iter().enumerate() {
            place("hex", i, Pattern::hex(h)?);
        }
        for (i, t) in a.text.iter().enumerate() {
            place("text", i, Pattern::text(t)?);
        }
        for (i, t) in a.utf16.iter().enumerate() {
            place("utf16", i, Pattern::utf16(t)?);
        }
        let typed = [
            ("i8", ValueType::I8, &a.i8),
            ("u8", ValueType::U8, &a.u8),
            ("i16", ValueType::I16, &a.i16),
            ("u16", ValueType::U16, &a.u16),
            ("i32", ValueType::I32, &a.i32),
            ("u32", ValueType::U32, &a.u32),
            ("i64", ValueType::I64, &a.i64),
            ("u64", ValueType::U64, &a.u64),
            ("f32", ValueType::F32, &a.f32),
            ("f64", ValueType::F64, &a.f64),
        ];
        for (id, ty, values) in typed {
            for (i, v) in values.iter().enumerate() {
                place(id, i, Pattern::value(ty, v, a.big_endian, a.aligned)?);
            }
        }
        // A stable sort: patterns whose position is unknown keep the flags' order.
        placed.sort_by_key(|(at, _)| *at);
        let patterns: Vec<Pattern> = placed.into_iter().map(|(_, p)| p).collect();
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
        if a.context > search::MAX_AROUND {
            return Err(memlink::Error::InvalidArgument(format!(
                "--context {} is too large; the most is {}",
                a.context,
                search::MAX_AROUND
            )));
        }
        req.around = a.context;
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

/// `0x7f..  Code  libfoo.so+0x1234  text:secret  73 65 63 ...  |sec...|  before: ... |..|
/// after: ... |..|`
fn write_match(out: &mut impl Write, m: &Match) -> std::io::Result<()> {
    // Region names are stored with bytes that are not UTF-8 as `\xNN`: take the raw bytes
    // back so that the terminal escaping below escapes each byte once.
    let location: Vec<u8> = match (&m.region_name, m.file_offset) {
        // Shared memory is named as the kernel names it (`/dev/zero (deleted)`,
        // `/SYSV0000162e (deleted)` for SysV key 0x0000162e, `/memfd:NAME (deleted)`): its
        // base name alone (`zero`) would mean nothing to the user.
        (Some(name), Some(fo)) if m.region_type == memlink::region::RegionType::SharedMemory => {
            let mut l = memlink::region::unescape_path(name);
            l.extend_from_slice(format!("+{fo:#x}").as_bytes());
            l
        }
        (Some(name), Some(fo)) => {
            let raw = memlink::region::unescape_path(name);
            let path = raw.strip_suffix(b" (deleted)").unwrap_or(&raw);
            let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
            let mut l = if base.is_empty() {
                raw.clone()
            } else {
                base.to_vec()
            };
            l.extend_from_slice(format!("+{fo:#x}").as_bytes());
            l
        }
        (Some(name), None) => {
            let mut l = memlink::region::unescape_path(name);
            l.extend_from_slice(format!("+{:#x}", m.offset).as_bytes());
            l
        }
        (None, _) => format!("{:#x}+{:#x}", m.region_start, m.offset).into_bytes(),
    };
    let (hex, ascii) = hex_ascii(&m.context_bytes());
    let (before_hex, before_ascii) = hex_ascii(&m.before_bytes());
    let (after_hex, after_ascii) = hex_ascii(&m.after_bytes());
    // File names and patterns are the target's and the user's bytes: escape control
    // characters so that they cannot rewrite the terminal.
    writeln!(
        out,
        "{:#014x}  {:<11}  {:<32}  {:<16}  {:<47}  |{}|  before: {} |{}|  after: {} |{}|",
        m.address,
        m.region_type.name(),
        memlink::text::terminal_safe(&location),
        memlink::text::terminal_safe(m.pattern.as_bytes()),
        hex,
        ascii,
        before_hex,
        before_ascii,
        after_hex,
        after_ascii
    )
}

/// Bytes as spaced hex and as printable ASCII (`.` for anything else).
fn hex_ascii(bytes: &[u8]) -> (String, String) {
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
    (hex.join(" "), ascii)
}

fn io_error(e: std::io::Error) -> memlink::Error {
    memlink::Error::Os {
        op: "write the matches".into(),
        source: e,
    }
}
