//! A compact map for the terminal: one character per column, a letter per region type, coloured
//! with ANSI 24-bit colours when asked to (the caller decides, usually by whether stdout is a
//! terminal).

use std::fmt::Write as _;

use crate::region::stats::{format_figure, TotalSource};
use crate::region::RegionType;
use crate::snapshot::Snapshot;
use crate::text::terminal_safe;
use crate::units::format_size;

use super::layout::{CellKind, Layout};
use super::palette;
use super::Highlight;

/// The lowest address of the kernel's half of a 64-bit address space.
const KERNEL_HALF: u64 = 1 << 63;

/// Width of the address column.
pub const ADDR_COLUMN: usize = 19;

/// The letter of a type (upper case; read-only and inaccessible regions use lower case).
pub fn letter(t: RegionType) -> char {
    match t {
        RegionType::Heap => 'H',
        RegionType::Stack => 'S',
        RegionType::ThreadStack => 'T',
        RegionType::Code => 'C',
        RegionType::MappedFile => 'F',
        RegionType::SharedMemory => 'M',
        RegionType::Private => 'A',
        RegionType::Kernel => 'K',
        RegionType::Guard => 'G',
        RegionType::Reserved => 'R',
    }
}

fn rgb(color: &str) -> (u8, u8, u8) {
    let c = u32::from_str_radix(color.trim_start_matches('#'), 16).unwrap_or(0);
    ((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// One character cell of the output.
#[derive(Clone, PartialEq)]
struct Glyph {
    ch: char,
    bg: Option<String>,
    marked: bool,
}

fn style(out: &mut String, g: &Glyph, color: bool) {
    if !color {
        return;
    }
    out.push_str("\x1b[0m");
    if let Some(bg) = &g.bg {
        let (r, gg, b) = rgb(bg);
        let lum = 0.299 * r as f64 + 0.587 * gg as f64 + 0.114 * b as f64;
        let fg = if lum > 150.0 { "30" } else { "97" };
        let _ = write!(out, "\x1b[48;2;{r};{gg};{b}m\x1b[{fg}m");
    } else {
        out.push_str("\x1b[90m");
    }
    if g.marked {
        out.push_str("\x1b[1;4m");
    }
}

/// Renders the map; `layout` must have been computed with
/// [`LayoutOptions::terminal`](super::LayoutOptions::terminal). Cells touched by a highlight are
/// underlined (and marked `!` in a line below when colours are off).
pub fn render(
    snapshot: &Snapshot,
    layout: &Layout,
    highlights: &[Highlight],
    color: bool,
) -> String {
    let mut out = String::new();
    let p = &snapshot.process;
    let t = &snapshot.stats.total;
    let _ = write!(
        out,
        "Memory map of PID {} ({}): {} regions, {} virtual",
        p.pid,
        terminal_safe(p.name.as_bytes()),
        layout.regions,
        format_size(t.virtual_size)
    );
    if snapshot.stats.detailed {
        let _ = write!(
            out,
            ", RSS {}, PSS {}",
            format_figure(t.memory.rss),
            format_figure(t.memory.pss),
        );
    }
    out.push('\n');
    let cols = layout.width.round() as usize;
    for row in &layout.rows {
        if let Some(label) = &row.gap_label {
            // Above the user half of the address space (x86_64's [vsyscall] page) the "gap"
            // is the non-canonical hole and the kernel: nothing a process could map.
            let kernel_half = row.cells.first().is_some_and(|c| c.start >= KERNEL_HALF);
            let text = if kernel_half {
                " end of user space; kernel addresses ".to_string()
            } else {
                format!(" {label} unmapped ")
            };
            let side = cols.saturating_sub(text.chars().count()) / 2;
            let _ = writeln!(
                out,
                "{:w$}{}{}{}",
                "",
                "╌".repeat(side),
                text,
                "╌".repeat(cols.saturating_sub(side + text.chars().count())),
                w = ADDR_COLUMN
            );
        }
        let mut line: Vec<Glyph> = vec![
            Glyph {
                ch: ' ',
                bg: None,
                marked: false,
            };
            cols
        ];
        for cell in &row.cells {
            let a = (cell.x.round() as usize).min(cols);
            let b = ((cell.x + cell.w).round() as usize).clamp(a, cols);
            let marked = cell.kind != CellKind::Gap
                && highlights
                    .iter()
                    .any(|h| cell.start < h.end.max(h.start + 1) && h.start < cell.end);
            let g = match (cell.kind, cell.region_type) {
                (CellKind::Gap, _) | (_, None) => Glyph {
                    ch: '·',
                    bg: None,
                    marked: false,
                },
                (_, Some(ty)) => {
                    let writable_or_exec = cell
                        .perms
                        .as_deref()
                        .is_none_or(|p| p.contains('w') || p.contains('x'));
                    let l = letter(ty);
                    Glyph {
                        ch: if writable_or_exec {
                            l
                        } else {
                            l.to_ascii_lowercase()
                        },
                        bg: Some(cell.color.clone()),
                        marked,
                    }
                }
            };
            for slot in &mut line[a..b] {
                *slot = g.clone();
            }
        }
        while line.last().is_some_and(|g| g.ch == ' ') {
            line.pop();
        }
        let addr = row
            .cells
            .first()
            .map(|c| format!("{:#x}", c.start))
            .unwrap_or_default();
        let _ = write!(out, "{addr:<w$}", w = ADDR_COLUMN);
        let mut prev: Option<&Glyph> = None;
        for g in &line {
            if prev != Some(g) {
                style(&mut out, g, color);
            }
            out.push(g.ch);
            prev = Some(g);
        }
        if color {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
        if !color && line.iter().any(|g| g.marked) {
            let marks: String = line
                .iter()
                .map(|g| if g.marked { '!' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{:w$}{}", "", marks.trim_end(), w = ADDR_COLUMN);
        }
    }
    out.push('\n');
    // The legend, wrapped to the map's width.
    let total_width = cols + ADDR_COLUMN;
    let mut line_len = "Legend:".len();
    out.push_str("Legend:");
    for f in &snapshot.stats.by_type {
        let ty = f.region_type;
        let g = Glyph {
            ch: letter(ty),
            bg: Some(palette::base(ty).to_string()),
            marked: false,
        };
        let size = if snapshot.stats.detailed {
            format_figure(f.figures.memory.rss)
        } else {
            format_size(f.figures.virtual_size)
        };
        let text = format!(" {ty} {size}");
        let item_len = 2 + text.chars().count();
        if line_len + item_len > total_width {
            out.push_str("\n       ");
            line_len = 7;
        }
        out.push(' ');
        style(&mut out, &g, color);
        out.push(g.ch);
        if color {
            out.push_str("\x1b[0m");
        }
        out.push_str(&text);
        line_len += item_len;
    }
    if line_len + 7 > total_width {
        out.push_str("\n       ");
    }
    out.push_str("  · gap\n");
    if snapshot.stats.detailed {
        out.push_str("The legend's sizes are RSS by type (summed over the regions); the totals\n");
        out.push_str(match snapshot.stats.total_source {
            TotalSource::SmapsRollup => "above are the kernel's (smaps_rollup).\n",
            TotalSource::SumOfRegions => "above are the sum of the regions.\n",
        });
    } else {
        out.push_str(
            "The legend's sizes are virtual sizes by type (no per-region figures read).\n",
        );
    }
    out.push_str("Lower case: read-only or inaccessible. Widths and gaps are log-scaled;\n");
    out.push_str("a gap of 1GB or more starts a new row.\n");
    if layout.aggregates > 0 {
        let _ = writeln!(
            out,
            "{} small regions are drawn as {} groups.",
            layout.aggregated_regions, layout.aggregates
        );
    }
    if !highlights.is_empty() {
        let how = if color { "underlined" } else { "marked !" };
        let _ = writeln!(out, "Findings ({how}):");
    }
    for h in highlights {
        // One line each, cut to the map's width.
        let line = format!(
            "{} {:#x}-{:#x}: {}",
            terminal_safe(h.severity.as_bytes()),
            h.start,
            h.end,
            terminal_safe(h.label.as_bytes())
        );
        let width = cols + ADDR_COLUMN;
        if line.chars().count() > width {
            let cut: String = line.chars().take(width.saturating_sub(1)).collect();
            let _ = writeln!(out, "{cut}…");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
