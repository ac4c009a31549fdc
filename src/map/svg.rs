//! The static SVG map, rendered in Rust from the [`Layout`], for reports and READMEs.
//!
//! The picture is plain SVG 1.1 (rectangles, text, `<title>` tooltips), deterministic for a
//! given snapshot so that it can be compared byte for byte in tests. It is built by writing
//! strings: the output is a few fixed element kinds whose only variable parts are numbers and
//! escaped text, which an SVG object model would not make safer or shorter.

use std::fmt::Write as _;

use crate::region::stats::format_figure;
use crate::region::{MemoryRegion, RegionType};
use crate::snapshot::Snapshot;
use crate::units::format_size;

use super::diffmap::{Change, DiffPicture};
use super::layout::{Cell, CellKind, Layout};
use super::palette;
use super::watch::{Sample, WatchLog};
use super::Highlight;

const LEFT: f64 = 112.0;
const RIGHT: f64 = 16.0;
const ROW_H: f64 = 26.0;
const ROW_GAP: f64 = 10.0;
const BREAK_H: f64 = 22.0;

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// Black or white, whichever reads better on `fill`.
fn text_color(fill: &str) -> &'static str {
    let c = u32::from_str_radix(fill.trim_start_matches('#'), 16).unwrap_or(0);
    let (r, g, b) = ((c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff);
    let lum = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if lum > 150.0 {
        "#1b1b1b"
    } else {
        "#ffffff"
    }
}

/// The tooltip of a cell.
pub(crate) fn cell_title(cell: &Cell, regions: &[MemoryRegion]) -> String {
    match cell.kind {
        CellKind::Gap => format!(
            "{:#x}-{:#x} unmapped ({})",
            cell.start, cell.end, cell.label
        ),
        CellKind::Aggregate => {
            let run = &regions[cell.first..cell.first + cell.count];
            let rss: u64 = run.iter().map(|r| r.usage.map_or(0, |u| u.rss)).sum();
            format!(
                "{:#x}-{:#x} {} regions, mostly {} (RSS {})",
                cell.start,
                cell.end,
                cell.count,
                cell.region_type.map_or("", RegionType::name),
                format_size(rss)
            )
        }
        CellKind::Region => {
            let r = &regions[cell.first];
            let mut s = format!(
                "{:#x}-{:#x} {} {} {}",
                r.base_address,
                r.end_address(),
                r.protection,
                r.region_type,
                format_size(r.size as u64)
            );
            let name = r.display_name();
            if !name.is_empty() {
                let _ = write!(s, " {name}");
            }
            if let Some(u) = r.usage {
                let _ = write!(
                    s,
                    " (RSS {}, PSS {}, swap {})",
                    format_size(u.rss),
                    format_size(u.pss),
                    format_size(u.swap)
                );
            }
            let _ = write!(s, ": {}", r.type_reason);
            s
        }
    }
}

/// Renders the map of `snapshot` as a standalone SVG document.
pub fn render(snapshot: &Snapshot, layout: &Layout, highlights: &[Highlight]) -> String {
    let mut body = String::with_capacity(256 + layout.regions * 200);
    let mut y = draw_map(&mut body, layout, &snapshot.regions, highlights);
    y += 22.0;
    y = summary_bar(&mut body, snapshot, layout.width, y);
    y = legend(&mut body, snapshot, y);
    if !highlights.is_empty() {
        y += 20.0;
        let _ = writeln!(
            body,
            "<text x=\"{LEFT}\" y=\"{y:.1}\" class=\"head\">Findings</text>"
        );
        y += 6.0;
        for h in highlights {
            y += 16.0;
            let _ = writeln!(
                body,
                "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"small\">{} {:#x}-{:#x}: {}</text>",
                y - 9.0,
                palette::severity(&h.severity),
                LEFT + 16.0,
                escape(&h.severity),
                h.start,
                h.end,
                escape(&h.label)
            );
        }
    }
    let p = &snapshot.process;
    let t = &snapshot.stats.total;
    let mut sub = format!(
        "{} regions, {} virtual",
        layout.regions,
        format_size(t.virtual_size)
    );
    if snapshot.stats.detailed {
        let _ = write!(
            sub,
            ", RSS {}, PSS {}, swap {}",
            format_figure(t.memory.rss),
            format_figure(t.memory.pss),
            format_figure(t.memory.swap)
        );
    }
    if layout.aggregates > 0 {
        let _ = write!(
            sub,
            "; {} small regions drawn as {} groups",
            layout.aggregated_regions, layout.aggregates
        );
    }
    sub.push_str(". Cell widths and gaps are log-scaled.");
    document(
        &format!("Memory map of PID {} ({})", p.pid, p.name),
        &sub,
        layout.width,
        y,
        &body,
    )
}

/// Renders the changes from snapshot `a` to snapshot `b` as a standalone SVG document: the
/// regions of `b` and those removed since `a`, coloured by change.
pub fn render_diff(a: &Snapshot, b: &Snapshot, picture: &DiffPicture) -> String {
    let layout = &picture.layout;
    let mut body = String::with_capacity(256 + layout.regions * 200);
    let mut y = draw_map(&mut body, layout, &picture.regions, &[]) + 26.0;
    let d = &picture.diff;
    let mut x = LEFT;
    for (name, change, n) in [
        ("added", Change::Added, d.added.len()),
        ("removed", Change::Removed, d.removed.len()),
        ("grown", Change::Grown, d.grown.len()),
        ("shrunk", Change::Shrunk, d.shrunk.len()),
    ] {
        let text = format!("{name} ({n})");
        let _ = writeln!(
            body,
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"small\">{}</text>",
            y - 10.0,
            change.color().unwrap_or(palette::GAP),
            x + 17.0,
            escape(&text)
        );
        x += 30.0 + text.chars().count() as f64 * 6.0;
    }
    let _ = writeln!(
        body,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" class=\"small\">unchanged regions: a pale version of their type's colour</text>"
    );
    y += 4.0;
    let sub =
        format!(
        "From {} to {} ({} s later): RSS {}{}, virtual {}{}. Cell widths and gaps are log-scaled.",
        utc(a.taken_at),
        utc(b.taken_at),
        b.taken_at.saturating_sub(a.taken_at),
        if d.total.delta.memory.rss.unwrap_or(0) >= 0 { "+" } else { "-" },
        format_size(d.total.delta.memory.rss.unwrap_or(0).unsigned_abs()),
        if d.total.delta.virtual_size >= 0 { "+" } else { "-" },
        format_size(d.total.delta.virtual_size.unsigned_abs()),
    );
    document(
        &format!(
            "Memory changes of PID {} ({})",
            b.process.pid, b.process.name
        ),
        &sub,
        layout.width,
        y,
        &body,
    )
}

/// Renders a growth picture from `memlink watch --format jsonl` output: RSS and each component
/// over time, the verdict's fitted slopes as dashed lines, and the verdict.
pub fn render_watch(log: &WatchLog) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 300.0;
    let samples = &log.samples;
    let mut body = String::new();
    let top = 62.0;
    let tmax = samples.last().map_or(1.0, |s| s.t).max(1e-9);
    type Get = fn(&Sample) -> Option<u64>;
    let series: [(&str, &str, Get); 5] = [
        ("rss", "#1b1b1b", |s| s.figures.rss),
        ("anon", "#54a24b", |s| Some(s.anon)),
        ("file", "#72b7b2", |s| Some(s.file)),
        ("shmem", "#b279a2", |s| Some(s.shmem)),
        ("stacks", "#eeca3b", |s| s.stacks),
    ];
    let ymax = samples
        .iter()
        .flat_map(|s| series.iter().filter_map(move |(_, _, g)| g(s)))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.08;
    let x = |t: f64| LEFT + W * t / tmax;
    let y = |v: f64| top + H * (1.0 - v / ymax);
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let t = tmax * i as f64 / 4.0;
        let _ = writeln!(
            body,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e6e9ed\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"addr\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"addr\">{:.0} s</text>",
            LEFT + W,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 3.0,
            format_size(v as u64),
            x(t),
            top + H + 14.0,
            t
        );
    }
    let slope = |name: &str| {
        log.verdict
            .as_ref()
            .and_then(|v| v.components.iter().find(|c| c.name == name))
            .map(|c| c.fit.slope_per_min)
    };
    for (name, color, get) in series {
        let pts: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|s| get(s).map(|v| (s.t, v as f64)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let line: Vec<String> = pts
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = writeln!(
            body,
            "<polyline class=\"series\" data-series=\"{name}\" points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            line.join(" ")
        );
        if let (Some(per_min), true) = (slope(name), pts.len() > 1) {
            // The least-squares line passes through the mean point.
            let n = pts.len() as f64;
            let mt = pts.iter().map(|p| p.0).sum::<f64>() / n;
            let mv = pts.iter().map(|p| p.1).sum::<f64>() / n;
            let (t0, t1) = (pts[0].0, pts[pts.len() - 1].0);
            let at = |t: f64| mv + per_min / 60.0 * (t - mt);
            let _ = writeln!(
                body,
                "<line class=\"fit\" data-fit=\"{name}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
                x(t0),
                y(at(t0)),
                x(t1),
                y(at(t1))
            );
        }
    }
    let mut ly = top + H + 40.0;
    let mut lx = LEFT;
    for (name, color, _) in series {
        let text = match slope(name) {
            Some(s) => format!(
                "{name} (fit {}/min, dashed)",
                format_size(s.max(0.0) as u64)
            ),
            None => name.to_string(),
        };
        let _ = writeln!(
            body,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{ly:.1}\" class=\"small\">{}</text>",
            ly - 10.0,
            lx + 17.0,
            escape(&text)
        );
        lx += 30.0 + text.chars().count() as f64 * 6.0;
    }
    if let Some(v) = &log.verdict {
        ly += 24.0;
        let _ = writeln!(
            body,
            "<text x=\"{LEFT}\" y=\"{ly:.1}\" class=\"head\" fill=\"{}\">{}</text>",
            if v.leak_suspected {
                "#c00000"
            } else {
                "#2e7d32"
            },
            if v.leak_suspected {
                "Leak suspected"
            } else {
                "No leak suspected"
            }
        );
        if !v.suggestion.is_empty() {
            ly += 18.0;
            let _ = writeln!(
                body,
                "<text x=\"{LEFT}\" y=\"{ly:.1}\" class=\"small\">{}</text>",
                escape(&v.suggestion)
            );
        }
    }
    let (first, last) = (samples.first(), samples.last());
    let sub = match (first, last) {
        (Some(f), Some(l)) => format!(
            "{} samples over {:.1} s from {}; RSS {} to {}",
            samples.len(),
            l.t,
            utc(f.time as u64),
            format_figure(f.figures.rss),
            format_figure(l.figures.rss)
        ),
        _ => String::new(),
    };
    document(
        &format!("Memory of PID {} over time", first.map_or(0, |s| s.pid)),
        &sub,
        W,
        ly,
        &body,
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC` from seconds since the Unix epoch.
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Wraps a drawn body into a whole SVG document with a title and a subtitle.
fn document(title: &str, sub: &str, map_width: f64, y: f64, body: &str) -> String {
    let width = LEFT + map_width + RIGHT;
    let height = y + 18.0;
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">"
    );
    out.push_str("<style>.head{font-size:15px;font-weight:bold;fill:#1b1b1b}.sub{font-size:11px;fill:#4a5560}.addr{font-size:9px;font-family:DejaVu Sans Mono,monospace;fill:#4a5560}.label{font-size:9px}.gaplabel{font-size:9px;fill:#4a5560}.small{font-size:10px;fill:#1b1b1b}rect.region,rect.aggregate{stroke:#ffffff;stroke-width:0.6}rect.gap{stroke:none}</style>\n");
    // Unmapped gaps are hatched, as in the page.
    let _ = writeln!(
        out,
        "<defs><pattern id=\"gap\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"{}\"/><rect width=\"2\" height=\"5\" fill=\"#d3d8de\"/></pattern></defs>",
        palette::GAP
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<text x=\"{LEFT}\" y=\"26\" class=\"head\">{}</text>",
        escape(title)
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"44\" class=\"sub\">{}</text>",
        escape(sub)
    );
    out.push_str(body);
    out.push_str("</svg>\n");
    out
}

/// Draws the rows of the map (and the highlight outlines) into `body`; returns the y below them.
fn draw_map(
    body: &mut String,
    layout: &Layout,
    regions: &[MemoryRegion],
    highlights: &[Highlight],
) -> f64 {
    let mut y = 62.0;
    // Row top coordinates, for the highlight outlines.
    let mut row_y = Vec::with_capacity(layout.rows.len());
    body.push_str("<g class=\"map\">\n");
    for (i, row) in layout.rows.iter().enumerate() {
        if let Some(label) = &row.gap_label {
            let mid = y + BREAK_H / 2.0;
            let _ = writeln!(
                body,
                "<g class=\"break\"><line x1=\"{LEFT}\" y1=\"{mid}\" x2=\"{:.1}\" y2=\"{mid}\" stroke=\"#9aa3ad\" stroke-dasharray=\"4 3\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"150\" height=\"14\" fill=\"#ffffff\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"gaplabel\">{} unmapped</text></g>",
                LEFT + layout.width,
                LEFT + layout.width / 2.0 - 75.0,
                mid - 7.0,
                LEFT + layout.width / 2.0,
                mid + 3.5,
                escape(label)
            );
            y += BREAK_H;
        } else if i > 0 {
            y += ROW_GAP;
        }
        row_y.push(y);
        if let Some(first) = row.cells.first() {
            let _ = writeln!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"addr\">{:#x}</text>",
                LEFT - 6.0,
                y + ROW_H / 2.0 + 3.5,
                first.start
            );
        }
        for cell in &row.cells {
            let x = LEFT + cell.x;
            let (class, data) = match cell.kind {
                CellKind::Gap => ("gap", String::new()),
                CellKind::Region => ("region", format!(" data-first=\"{}\"", cell.first)),
                CellKind::Aggregate => (
                    "aggregate",
                    format!(
                        " data-first=\"{}\" data-count=\"{}\"",
                        cell.first, cell.count
                    ),
                ),
            };
            let fill = if cell.kind == CellKind::Gap {
                "url(#gap)"
            } else {
                &cell.color
            };
            let _ = write!(
                body,
                "<rect class=\"{class}\"{data} x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{ROW_H}\" fill=\"{fill}\"><title>{}</title></rect>",
                cell.w,
                escape(&cell_title(cell, regions))
            );
            // Labels where they fit (about 5.6 px per character at 9 px).
            let fits = ((cell.w - 4.0) / 5.6).floor().max(0.0) as usize;
            if cell.kind != CellKind::Gap && fits >= 4 {
                let text: String = if cell.label.chars().count() > fits {
                    let mut t: String = cell.label.chars().take(fits - 1).collect();
                    t.push('…');
                    t
                } else {
                    cell.label.clone()
                };
                let _ = write!(
                    body,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\" fill=\"{}\">{}</text>",
                    x + 2.5,
                    y + ROW_H / 2.0 + 3.0,
                    text_color(&cell.color),
                    escape(&text)
                );
            }
            body.push('\n');
        }
        y += ROW_H;
    }
    body.push_str("</g>\n");

    // Highlights: an outline around every cell a highlight touches.
    if !highlights.is_empty() {
        body.push_str("<g class=\"highlights\" fill=\"none\" stroke-width=\"2.5\">\n");
        for h in highlights {
            for (ri, c) in layout.cells_touching(h) {
                // A pointer above the cell, visible even when the cell is a sliver.
                let mid = LEFT + c.x + c.w / 2.0;
                let top = row_y[ri];
                let _ = writeln!(
                    body,
                    "<path class=\"marker\" d=\"M{:.1},{:.1}h10l-5,6z\" fill=\"{}\" stroke=\"none\"/>",
                    mid - 5.0,
                    top - 7.0,
                    palette::severity(&h.severity)
                );
                let _ = writeln!(
                    body,
                    "<rect class=\"finding\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" stroke=\"{}\"><title>{}: {}</title></rect>",
                    LEFT + c.x + 1.0,
                    row_y[ri] + 1.0,
                    (c.w - 2.0).max(1.0),
                    ROW_H - 2.0,
                    palette::severity(&h.severity),
                    escape(&h.severity),
                    escape(&h.label)
                );
            }
        }
        body.push_str("</g>\n");
    }
    y
}

/// A stacked bar of resident memory (or virtual size without figures) by type.
fn summary_bar(body: &mut String, snapshot: &Snapshot, width: f64, mut y: f64) -> f64 {
    let s = &snapshot.stats;
    let (what, total, of): (&str, u64, fn(&crate::region::stats::Figures) -> u64) = if s.detailed {
        (
            "Resident memory (RSS) by type",
            s.total.memory.rss.unwrap_or(0),
            |f| f.memory.rss.unwrap_or(0),
        )
    } else {
        ("Virtual size by type", s.total.virtual_size, |f| {
            f.virtual_size
        })
    };
    let _ = writeln!(
        body,
        "<text x=\"{LEFT}\" y=\"{y:.1}\" class=\"head\">{what}</text>"
    );
    y += 8.0;
    if total == 0 {
        return y + 8.0;
    }
    let mut x = LEFT;
    for t in &s.by_type {
        let v = of(&t.figures);
        if v == 0 {
            continue;
        }
        let w = width * v as f64 / total as f64;
        let _ = writeln!(
            body,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{}\"><title>{}: {}</title></rect>",
            palette::base(t.region_type),
            t.region_type,
            format_size(v)
        );
        x += w;
    }
    y + 16.0 + 22.0
}

/// The legend: each type present with its colour and share, then the permission shades.
fn legend(body: &mut String, snapshot: &Snapshot, mut y: f64) -> f64 {
    let s = &snapshot.stats;
    let mut x = LEFT;
    for t in &s.by_type {
        let f = &t.figures;
        let text = if s.detailed {
            format!(
                "{} {} ({})",
                t.region_type,
                format_figure(f.memory.rss),
                f.count
            )
        } else {
            format!(
                "{} {} ({})",
                t.region_type,
                format_size(f.virtual_size),
                f.count
            )
        };
        let w = 18.0 + text.chars().count() as f64 * 6.0 + 14.0;
        if x + w > LEFT + 1000.0 {
            x = LEFT;
            y += 18.0;
        }
        let _ = writeln!(
            body,
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"small\">{}</text>",
            y - 10.0,
            palette::base(t.region_type),
            x + 17.0,
            escape(&text)
        );
        x += w;
    }
    y += 22.0;
    let mut x = LEFT;
    let _ = write!(
        body,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" class=\"small\">Shade by permission:</text>"
    );
    x += 124.0;
    for (perms, amount) in palette::Palette::new().shades {
        let _ = write!(
            body,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"small\">{perms}</text>",
            y - 10.0,
            palette::mix(palette::base(RegionType::Code), amount),
            x + 16.0
        );
        x += 62.0;
    }
    let _ = writeln!(
        body,
        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"url(#gap)\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"small\">unmapped gap</text>",
        y - 10.0,
        x + 16.0
    );
    y + 14.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_764_338_400), "2025-11-28 14:00:00 UTC");
        assert_eq!(utc(951_782_400 + 86_399), "2000-02-29 23:59:59 UTC");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(escape("\u{1}x"), "\u{fffd}x");
        assert_eq!(text_color("#ffffff"), "#1b1b1b");
        assert_eq!(text_color("#000000"), "#ffffff");
    }
}
