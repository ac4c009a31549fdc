//! `memlink map`: pictures of a process's memory, as an HTML page, an SVG, JSON or a compact
//! terminal map.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use memlink::files::OutFile;
use memlink::inspect::auditor;
use memlink::map::diffmap::DiffPicture;
use memlink::map::watch::WatchLog;
use memlink::map::{html, svg, term, Highlight, Layout, LayoutOptions, MapDocument};
use memlink::snapshot::{Snapshot, MAX_SNAPSHOT_BYTES};
use memlink::MemoryAnalyzer;

use crate::cli::args::{ColorChoice, MapArgs, MapFormat};
use crate::cli::output;
use crate::cli::Outcome;

/// Where the picture goes: an output file (moved into place only once complete, see
/// [`memlink::files`]) or stdout.
/// The widths the terminal map can be drawn at: room for the address column and a few cells,
/// and no more than a terminal has.
const WIDTHS: std::ops::RangeInclusive<usize> = 40..=1000;

enum Sink {
    File(std::io::BufWriter<OutFile>),
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
}

impl Sink {
    fn open(path: Option<&Path>, force: bool) -> anyhow::Result<Sink> {
        Ok(match path {
            Some(p) => Sink::File(std::io::BufWriter::with_capacity(
                256 * 1024,
                OutFile::create(p, force)?,
            )),
            None => Sink::Stdout(output::stdout()),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::File(out) => out,
            Sink::Stdout(out) => out,
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::File(out) => {
                let path = out.get_ref().path().to_path_buf();
                let file = out
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                file.commit()?;
            }
            Sink::Stdout(mut out) => out.flush()?,
        }
        Ok(())
    }
}

fn format_of(args: &MapArgs) -> MapFormat {
    args.format.unwrap_or_else(|| match &args.output {
        None => MapFormat::Text,
        Some(p) => match p.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("svg") => MapFormat::Svg,
            Some(e) if e.eq_ignore_ascii_case("json") => MapFormat::Json,
            _ => MapFormat::Html,
        },
    })
}

fn load_highlights(path: &Path) -> anyhow::Result<Vec<Highlight>> {
    let bytes = memlink::files::read_input(path, MAX_SNAPSHOT_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "highlights {}: line {}: {e} (expected a JSON array of {{\"start\", \"end\", \"severity\", \"label\"}})",
            path.display(),
            e.line()
        )
    })
}

/// Runs `memlink map`.
pub fn run(mut args: MapArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    // `-o -` is standard output, as without -o.
    if args.output.as_deref() == Some(Path::new("-")) {
        args.output = None;
    }
    let format = format_of(&args);
    if let Some(w) = args.width {
        if !WIDTHS.contains(&w) {
            anyhow::bail!(
                "--width {w} is out of range: the terminal map takes {} to {} columns",
                WIDTHS.start(),
                WIDTHS.end()
            );
        }
    }
    if let Some(pair) = &args.diff {
        return diff(&args, pair, format);
    }
    if let Some(path) = &args.watch {
        return watch(&args, path, format);
    }
    let mut highlights = match &args.highlights {
        Some(p) => load_highlights(p)?,
        None => Vec::new(),
    };
    // Check the input before creating the output file, so that a bad PID or snapshot leaves
    // nothing behind.
    let (analyzer, loaded) = match (&args.pid, &args.snapshot) {
        (Some(pid), _) => (Some(MemoryAnalyzer::with_proc_root(proc_root, *pid)?), None),
        (None, Some(path)) => (None, Some(Snapshot::load(path)?)),
        (None, None) => anyhow::bail!("one of --pid, --snapshot, --watch or --diff is required"),
    };
    let mut sink = Sink::open(args.output.as_deref(), args.force)?;
    let snapshot = match (&analyzer, loaded) {
        (Some(a), _) => Snapshot::take(a)?,
        (None, Some(s)) => s,
        (None, None) => unreachable!("checked above"),
    };
    if !args.no_audit {
        // The audit's findings, drawn over the map (with the memory check for a live process).
        let findings = auditor::protection_findings(&snapshot, analyzer.as_ref());
        highlights.extend(findings.iter().map(Highlight::from));
    }
    let out = sink.writer();
    match format {
        MapFormat::Text => {
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    args.output.is_none()
                        && std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none()
                }
            };
            // A $COLUMNS outside the range is the terminal's, not a request: it is clamped.
            let columns = args
                .width
                .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
                .unwrap_or(100)
                .clamp(*WIDTHS.start(), *WIDTHS.end());
            let layout = Layout::compute(
                &snapshot.regions,
                &LayoutOptions::terminal(columns.saturating_sub(term::ADDR_COLUMN)),
            );
            out.write_all(term::render(&snapshot, &layout, &highlights, color).as_bytes())?;
        }
        MapFormat::Svg => {
            let layout = Layout::compute(&snapshot.regions, &LayoutOptions::default());
            out.write_all(svg::render(&snapshot, &layout, &highlights).as_bytes())?;
        }
        MapFormat::Json | MapFormat::Html => {
            let layout = Layout::compute(&snapshot.regions, &LayoutOptions::default());
            let doc = MapDocument::regions(&snapshot, &layout, &highlights);
            if format == MapFormat::Json {
                doc.write_json(out)?;
                out.write_all(b"\n")?;
            } else {
                html::write(&doc, out)?;
            }
        }
    }
    sink.finish()?;
    Ok(Outcome::Success)
}

fn watch(args: &MapArgs, path: &Path, format: MapFormat) -> anyhow::Result<Outcome> {
    let bytes = memlink::files::read_input(path, MAX_SNAPSHOT_BYTES)?;
    let log = WatchLog::parse(&bytes, &path.display().to_string())?;
    if format == MapFormat::Text {
        anyhow::bail!(
            "map --watch draws HTML, SVG or JSON, not text (not implemented yet): give -o FILE.html \
             (or --format svg|json)"
        );
    }
    let mut sink = Sink::open(args.output.as_deref(), args.force)?;
    let doc = MapDocument::watch(&log);
    let out = sink.writer();
    match format {
        MapFormat::Json => {
            doc.write_json(out)?;
            out.write_all(b"\n")?;
        }
        MapFormat::Svg => out.write_all(svg::render_watch(&log).as_bytes())?,
        _ => html::write(&doc, out)?,
    }
    sink.finish()?;
    Ok(Outcome::Success)
}

fn diff(args: &MapArgs, pair: &[PathBuf], format: MapFormat) -> anyhow::Result<Outcome> {
    let [a, b] = pair else {
        anyhow::bail!("--diff takes two snapshot files");
    };
    let a = Snapshot::load(a)?;
    let b = Snapshot::load(b)?;
    if format == MapFormat::Text {
        anyhow::bail!(
            "map --diff draws HTML, SVG or JSON, not text (not implemented yet): give -o FILE.html \
             (or --format svg|json); `memlink diff A B` prints the difference as text"
        );
    }
    let mut sink = Sink::open(args.output.as_deref(), args.force)?;
    let picture = DiffPicture::new(&a, &b, &LayoutOptions::default());
    let doc = MapDocument::diff(&a, &b, &picture);
    let out = sink.writer();
    match format {
        MapFormat::Json => {
            doc.write_json(out)?;
            out.write_all(b"\n")?;
        }
        MapFormat::Svg => out.write_all(svg::render_diff(&a, &b, &picture).as_bytes())?,
        _ => html::write(&doc, out)?,
    }
    sink.finish()?;
    Ok(Outcome::Success)
}
