//! Rendering shared by commands: JSON arrays streamed one element per line, aligned text tables
//! with human sizes.

use std::io::{self, Write};

use memlink::json::{self, push_hex};
use memlink::memory::push_escaped_path;
use memlink::stats::{Figures, MemoryStats};
use memlink::units::{format_size, push_size};
use memlink::{RegionSource, RegionView};
use serde::Serialize;

/// A locked, buffered stdout.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(256 * 1024, io::stdout().lock())
}

/// Streams a JSON array, one element per line.
pub struct JsonArray<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonArray<W> {
    /// Starts the array.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(JsonArray { out, first: true })
    }

    /// Writes one element.
    pub fn push<T: Serialize>(&mut self, v: &T) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n  " } else { b",\n  " })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, v).map_err(io::Error::from)
    }

    /// Closes the array and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        self.out
            .write_all(if self.first { b"]\n" } else { b"\n]\n" })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a value as pretty JSON followed by a newline.
pub fn write_json<T: Serialize>(out: &mut impl Write, v: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// The text table of regions. Rows are formatted as regions stream in; the address column is
/// padded once the widest range is known (the last region's, since regions come in address
/// order), so only the formatted text is kept, not the regions. Formatting avoids `fmt`: it runs
/// once per region, for hundreds of thousands of them.
pub struct RegionTable {
    detailed: bool,
    /// Per row: start, end, and where its text ends in `text`.
    rows: Vec<(u64, u64, usize)>,
    text: Vec<u8>,
    width: usize,
}

/// Appends `bytes` as a human size, right-aligned in `width` columns.
fn push_size_padded(out: &mut Vec<u8>, width: usize, bytes: u64) {
    let start = out.len();
    push_size(out, bytes);
    let len = out.len() - start;
    if len < width {
        // Shift the few bytes right in place rather than formatting into a temporary.
        out.resize(start + width, b' ');
        out.copy_within(start..start + len, start + width - len);
        out[start..start + width - len].fill(b' ');
    }
}

fn pad_right(out: &mut Vec<u8>, width: usize, s: &[u8]) {
    out.extend_from_slice(s);
    out.extend(std::iter::repeat_n(b' ', width.saturating_sub(s.len())));
}

fn hex_len(v: u64) -> usize {
    2 + if v == 0 {
        1
    } else {
        16 - v.leading_zeros() as usize / 4
    }
}

impl RegionTable {
    /// An empty table; `detailed` adds RSS, PSS, swap and dirty columns and the type reason.
    pub fn new(detailed: bool) -> RegionTable {
        RegionTable {
            detailed,
            rows: Vec::new(),
            text: Vec::new(),
            width: 0,
        }
    }

    /// Adds a region.
    pub fn push(&mut self, r: &RegionView<'_>) {
        let (start, end) = (r.base_address as u64, r.end_address() as u64);
        self.width = self.width.max(hex_len(start) + 1 + hex_len(end));
        let t = &mut self.text;
        push_size_padded(t, 8, r.size as u64);
        t.extend_from_slice(b"    ");
        pad_right(t, 12, r.region_type.name().as_bytes());
        t.extend_from_slice(b"    ");
        t.extend_from_slice(&r.perms.as_bytes());
        if self.detailed {
            let u = r.usage.copied().unwrap_or_default();
            for v in [u.rss, u.pss, u.swap, u.dirty()] {
                t.extend_from_slice(b"  ");
                push_size_padded(t, 8, v);
            }
        }
        match (r.path, r.name) {
            (Some(p), _) => {
                t.extend_from_slice(b"    ");
                push_escaped_path(t, p);
                if r.deleted {
                    t.extend_from_slice(b" (deleted)");
                }
            }
            (None, Some(n)) => {
                t.extend_from_slice(b"    ");
                t.extend_from_slice(n);
            }
            (None, None) => {}
        }
        if self.detailed {
            use std::io::Write as _;
            let _ = write!(t, "    ({})", r.type_reason);
        }
        self.rows.push((start, end, t.len()));
    }

    /// Writes the table.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        if self.detailed {
            writeln!(
                out,
                "{:<w$}    {:>8}    {:<12}    Perm  {:>8}  {:>8}  {:>8}  {:>8}    Path (why)",
                "Range",
                "Size",
                "Type",
                "RSS",
                "PSS",
                "Swap",
                "Dirty",
                w = self.width
            )?;
        }
        let mut buf = Vec::with_capacity(512 * 1024);
        let mut from = 0;
        for &(start, end, to) in &self.rows {
            let line_start = buf.len();
            push_hex(&mut buf, start);
            buf.push(b'-');
            push_hex(&mut buf, end);
            let used = buf.len() - line_start;
            buf.extend(std::iter::repeat_n(
                b' ',
                self.width.saturating_sub(used) + 4,
            ));
            buf.extend_from_slice(&self.text[from..to]);
            buf.push(b'\n');
            from = to;
            if buf.len() >= 480 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }
}

/// Streams regions as a JSON array, one object per line, through the fast writer; `keep`
/// adjusts each region first.
pub fn write_regions_json(
    out: &mut impl Write,
    regions: &mut impl RegionSource,
    keep: impl Fn(&mut RegionView<'_>),
) -> anyhow::Result<()> {
    // Flushed in pieces larger than any BufWriter in front of stdout, which then passes them
    // straight through instead of copying them once more.
    const FLUSH_AT: usize = 512 * 1024;
    let mut buf = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    buf.push(b'[');
    let mut first = true;
    while let Some(r) = regions.next_view() {
        let mut r = r?;
        keep(&mut r);
        buf.extend_from_slice(if first { b"\n  " } else { b",\n  " });
        first = false;
        json::write_view(&mut buf, &r);
        if buf.len() > FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(if first { b"]\n" } else { b"\n]\n" });
    out.write_all(&buf)?;
    out.flush()?;
    Ok(())
}

fn figures_row(out: &mut impl Write, label: &str, f: &Figures, w: usize) -> io::Result<()> {
    writeln!(
        out,
        "{label:<w$}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
        f.count,
        format_size(f.virtual_size),
        format_size(f.rss),
        format_size(f.pss),
        format_size(f.uss),
        format_size(f.swap),
        format_size(f.dirty),
    )
}

/// Writes the summary by type and by file.
pub fn write_summary(out: &mut impl Write, s: &MemoryStats) -> io::Result<()> {
    let header = |out: &mut dyn Write, label: &str, w: usize| {
        writeln!(
            out,
            "{label:<w$}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
            "Count", "Virtual", "RSS", "PSS", "USS", "Swap", "Dirty"
        )
    };
    writeln!(out, "Summary by type")?;
    header(out, "Type", 12)?;
    for t in &s.by_type {
        figures_row(out, t.region_type.name(), &t.figures, 12)?;
    }
    figures_row(out, "Total", &s.total, 12)?;
    if !s.by_file.is_empty() {
        writeln!(out)?;
        writeln!(out, "Summary by file")?;
        let w = s
            .by_file
            .iter()
            .map(|f| f.path.chars().count() + if f.deleted { 10 } else { 0 })
            .max()
            .unwrap_or(4)
            .clamp(4, 60);
        header(out, "File", w)?;
        for f in &s.by_file {
            let name = if f.deleted {
                format!("{} (deleted)", f.path)
            } else {
                f.path.clone()
            };
            figures_row(out, &name, &f.figures, w)?;
        }
    }
    Ok(())
}
