//! Rendering shared by commands: JSON arrays streamed one element per line, aligned text tables
//! with human sizes.

use std::io::{self, Write};

use memlink::region::json;
use memlink::region::stats::{format_figure, Figures, MemoryFigures, MemoryStats, TotalSource};
use memlink::region::unescape_path;
use memlink::text::{elide_middle, push_terminal_safe, terminal_safe};
use memlink::units::{format_size, push_size};
use memlink::{RegionSource, RegionView};
use serde::Serialize;

/// The note printed under a text header when the main thread has exited while `remaining`
/// threads live (the memory is then read through one of them).
pub fn leader_note(out: &mut impl Write, remaining: Option<usize>) -> io::Result<()> {
    match remaining {
        Some(1) => writeln!(out, "Note: the main thread exited; 1 thread remains"),
        Some(n) => writeln!(out, "Note: the main thread exited; {n} threads remain"),
        None => Ok(()),
    }
}

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

/// The text table of regions. The address column is padded to the widest range, which is the
/// last region's (regions come in address order), so the table is kept until the end. Each row
/// is formatted in full as it streams in, padded to the width the table expects (the widest
/// range of memlink's own process: on the same kernel, the same top mapping, such as
/// `[vsyscall]`); when the widest range turns out otherwise, the rows are re-padded at the end.
/// Formatting avoids `fmt`: it runs once per region, for hundreds of thousands of them.
pub struct RegionTable {
    detailed: bool,
    /// Per row: where its line ends in `text` (after the newline), and its range's length.
    rows: Vec<(usize, u8)>,
    text: Vec<u8>,
    /// The width rows are padded to as they come.
    expected: usize,
    /// The widest range so far.
    width: usize,
    /// Where a size is formatted before it is right-aligned.
    scratch: Vec<u8>,
}

/// The widest expected range width honoured (a real one is at most 37 columns).
const MAX_EXPECTED: usize = 64;
/// Room for the fixed-width start of a row: range, padding, size, type and permissions.
const ROW_START: usize = MAX_EXPECTED + 4 + 8 + 4 + 12 + 4 + 4 + 16;

/// Type names padded to the type column's 12 characters.
fn type_column(t: memlink::RegionType) -> [u8; 12] {
    let mut col = [b' '; 12];
    let name = t.name().as_bytes();
    col[..name.len()].copy_from_slice(name);
    col
}

/// Writes `0x` and the hex digits of `v` at `at` (and up to 16 bytes of scratch after them);
/// returns where the digits end.
fn put_hex(b: &mut [u8; ROW_START], at: usize, v: u64) -> usize {
    let (digits, n) = memlink::region::json::hex_left(v);
    b[at..at + 2].copy_from_slice(b"0x");
    b[at + 2..at + 18].copy_from_slice(&digits);
    at + 2 + n
}

fn hex_len(v: u64) -> usize {
    2 + if v == 0 {
        1
    } else {
        16 - v.leading_zeros() as usize / 4
    }
}

/// The width of the address range `start-end` as the table prints it.
fn range_len(start: u64, end: u64) -> usize {
    hex_len(start) + 1 + hex_len(end)
}

/// The range width the table expects, from memlink's own highest mapping.
fn expected_width() -> usize {
    memlink::platform::own_highest_mapping().map_or(0, |(start, end)| range_len(start, end))
}

impl RegionTable {
    /// Writes `bytes` as a human size right-aligned in the 8 columns at `at` of `b` (which
    /// holds spaces there); returns the end of the columns.
    fn put_size<const N: usize>(&mut self, b: &mut [u8; N], at: usize, bytes: u64) -> usize {
        self.scratch.clear();
        push_size(&mut self.scratch, bytes);
        // A size is at most 8 characters ("1023.9KB": rounding up carries into the next unit);
        // the bound only keeps the copy within the columns.
        let n = self.scratch.len().min(8);
        b[at + 8 - n..at + 8].copy_from_slice(&self.scratch[..n]);
        at + 8
    }

    /// An empty table; `detailed` adds RSS, PSS, swap and dirty columns and the type reason.
    pub fn new(detailed: bool) -> RegionTable {
        RegionTable::with_expected_width(detailed, expected_width())
    }

    /// An empty table that pads rows to `expected` columns until it knows better.
    pub fn with_expected_width(detailed: bool, expected: usize) -> RegionTable {
        RegionTable {
            detailed,
            rows: Vec::new(),
            text: Vec::new(),
            // No range is wider than 37 columns; the cap keeps a row's start within `ROW_START`.
            expected: expected.min(MAX_EXPECTED),
            width: 0,
            scratch: Vec::with_capacity(16),
        }
    }

    /// Adds a region.
    pub fn push(&mut self, r: &RegionView<'_>) {
        let (start, end) = (r.base_address as u64, r.end_address() as u64);
        let len = range_len(start, end);
        self.width = self.width.max(len);
        // The fixed-width start of the row, built in place from fixed-size pieces.
        let mut b = [b' '; ROW_START];
        let dash = put_hex(&mut b, 0, start);
        b[dash] = b'-';
        let range_end = put_hex(&mut b, dash + 1, end);
        b[range_end..range_end + 16].fill(b' ');
        let mut p = self.expected.max(len) + 4;
        p = self.put_size(&mut b, p, r.size as u64) + 4;
        b[p..p + 12].copy_from_slice(&type_column(r.region_type));
        p += 16;
        b[p..p + 4].copy_from_slice(&r.perms.as_bytes());
        p += 4;
        let t = &mut self.text;
        t.extend_from_slice(&b[..p]);
        if self.detailed {
            let u = r.usage.copied().unwrap_or_default();
            let mut b = [b' '; 40];
            let mut p = 0;
            for v in [u.rss, u.pss, u.swap, u.dirty()] {
                p = self.put_size(&mut b, p + 2, v);
            }
            self.text.extend_from_slice(&b[..p]);
        }
        let t = &mut self.text;
        match (r.path, r.name) {
            (Some(p), _) => {
                t.extend_from_slice(b"    ");
                push_terminal_safe(t, p);
                if r.deleted {
                    t.extend_from_slice(b" (deleted)");
                }
            }
            (None, Some(n)) => {
                t.extend_from_slice(b"    ");
                push_terminal_safe(t, n);
            }
            (None, None) => {}
        }
        if self.detailed {
            use std::io::Write as _;
            let _ = write!(t, "    ({})", r.type_reason);
        }
        t.push(b'\n');
        self.rows.push((t.len(), len as u8));
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
        if self.width == self.expected || self.rows.is_empty() {
            return out.write_all(&self.text);
        }
        // The widest range was not the expected one: re-pad every row.
        let mut buf = Vec::with_capacity(512 * 1024);
        let mut from = 0;
        for &(to, len) in &self.rows {
            let len = len as usize;
            let line = &self.text[from..to];
            let old_pad = self.expected.saturating_sub(len) + 4;
            buf.extend_from_slice(&line[..len]);
            pad(&mut buf, self.width - len + 4);
            buf.extend_from_slice(&line[len + old_pad..]);
            from = to;
            if buf.len() >= 480 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }
}

fn pad(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, b' ');
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
        format_figure(f.memory.rss),
        format_figure(f.memory.pss),
        format_figure(f.memory.uss),
        format_figure(f.memory.swap),
        format_figure(f.dirty),
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
    if s.detailed {
        writeln!(out, "{}", total_source_line(s))?;
    }
    if !s.by_file.is_empty() {
        writeln!(out)?;
        writeln!(out, "Summary by file")?;
        let names: Vec<String> = s
            .by_file
            .iter()
            .map(|f| {
                let name = terminal_safe(&unescape_path(&f.path));
                if f.deleted {
                    format!("{name} (deleted)")
                } else {
                    name
                }
            })
            .collect();
        let w = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, FILE_COLUMN);
        header(out, "File", w)?;
        for (f, name) in s.by_file.iter().zip(&names) {
            figures_row(out, &elide_middle(name, w), &f.figures, w)?;
        }
    }
    Ok(())
}

/// The widest "Summary by file" name column; longer paths are elided in the middle.
const FILE_COLUMN: usize = 60;

/// The line under the Total row that says where the total's memory figures come from and how
/// the rows above differ from it.
pub fn total_source_line(s: &MemoryStats) -> String {
    match (s.total_source, &s.total_minus_regions) {
        (TotalSource::SmapsRollup, Some(d)) => format!(
            "Total from smaps_rollup; total minus the sum of the rows (the kernel rounds PSS \
             down per region): {}",
            signed_figures(d)
        ),
        _ => "Total is the sum of the rows (no smaps_rollup)".to_string(),
    }
}

/// `RSS +0B, PSS -12.0KB, USS +0B, Swap +0B`, unknown figures as `-`.
pub fn signed_figures(d: &MemoryFigures<i64>) -> String {
    let f = |v: Option<i64>| match v {
        None => "-".to_string(),
        Some(v) => format!(
            "{}{}",
            if v < 0 { "-" } else { "+" },
            format_size(v.unsigned_abs())
        ),
    };
    format!(
        "RSS {}, PSS {}, USS {}, Swap {}",
        f(d.rss),
        f(d.pss),
        f(d.uss),
        f(d.swap)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use memlink::proc::maps;
    use memlink::region::classify::{classify_all, Classifier};

    /// Rows padded to a wrong expected width are re-padded to the same table.
    #[test]
    fn table_is_the_same_whatever_width_it_expected() {
        let text = b"55e6eacae000-55e6eacaf000 r--p 00000000 fe:00 827394   /srv/odd\n\
              7f686215b000-7f686215c000 ---p 00000000 00:00 0 \n\
              7ffea4d84000-7ffea4da5000 rw-p 00000000 00:00 0   [stack]\n\
              ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]\n";
        let regions = classify_all(&Classifier::default(), &maps::parse(text).unwrap());
        for n in [1, regions.len()] {
            for detailed in [false, true] {
                let render = |expected| {
                    let mut t = RegionTable::with_expected_width(detailed, expected);
                    for r in &regions[..n] {
                        t.push(&r.view());
                    }
                    let mut out = Vec::new();
                    t.write(&mut out).unwrap();
                    String::from_utf8(out).unwrap()
                };
                let exact = render(if n == 1 { 29 } else { 37 });
                for expected in [0, 5, 29, 37, 60] {
                    assert_eq!(render(expected), exact, "expected {expected}, {n} rows");
                }
                let first = exact.lines().nth(detailed as usize).unwrap();
                assert!(
                    first.starts_with("0x55e6eacae000-0x55e6eacaf000    "),
                    "{first}"
                );
                assert_eq!(exact.lines().count(), n + detailed as usize);
            }
        }
    }
}
