//! Rendering shared by commands: JSON arrays streamed one element per line, aligned text tables
//! with human sizes.

use std::io::{self, Write};

use memlink::stats::{Figures, MemoryStats};
use memlink::units::format_size;
use memlink::MemoryRegion;
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

/// The text table of regions. Lines are formatted as regions stream in; the address column is
/// padded once the widest address is known (the last region's, since regions come in address
/// order), so only the formatted text is kept, not the regions.
pub struct RegionTable {
    detailed: bool,
    rows: Vec<(String, String)>,
    width: usize,
}

impl RegionTable {
    /// An empty table; `detailed` adds RSS, PSS, swap and dirty columns and the type reason.
    pub fn new(detailed: bool) -> RegionTable {
        RegionTable {
            detailed,
            rows: Vec::new(),
            width: 0,
        }
    }

    /// Adds a region.
    pub fn push(&mut self, r: &MemoryRegion) {
        use std::fmt::Write as _;
        let range = format!("{:#x}-{:#x}", r.base_address, r.end_address());
        self.width = self.width.max(range.len());
        let mut rest = String::with_capacity(96);
        let _ = write!(
            rest,
            "{:>8}    {:<12}    {}",
            format_size(r.size as u64),
            r.region_type,
            r.perms
        );
        if self.detailed {
            let u = r.usage.unwrap_or_default();
            let _ = write!(
                rest,
                "  {:>8}  {:>8}  {:>8}  {:>8}",
                format_size(u.rss),
                format_size(u.pss),
                format_size(u.swap),
                format_size(u.dirty())
            );
        }
        let name = r.display_name();
        if !name.is_empty() {
            rest.push_str("    ");
            rest.push_str(&name);
        }
        if self.detailed {
            let _ = write!(rest, "    ({})", r.type_reason);
        }
        self.rows.push((range, rest));
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
        for (range, rest) in &self.rows {
            writeln!(out, "{range:<w$}    {rest}", w = self.width)?;
        }
        Ok(())
    }
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
