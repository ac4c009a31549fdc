//! The process view: the summary by type as bars, the top files, the sparklines of RSS, PSS,
//! anonymous, file and shared memory, then the region table; and the terminal map (`m`), drawn
//! by `memlink map`'s renderer.

use memlink::map::{term, Layout as MapLayout, LayoutOptions};
use memlink::region::MemoryRegion;
use memlink::text::terminal_safe;
use memlink::units::format_size;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

use super::{age, header, size};
use crate::cli::top::app::{App, RegionSort};
use crate::cli::top::data::{Detail, Spark};

/// Draws the process view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some((pid, _)) = app.focus else {
        return;
    };
    let gone = app.focus_gone();
    let d = app.detail.as_ref().filter(|d| d.pid == pid);
    let Some(d) = d else {
        let text = match &app.detail_error {
            Some(e) => format!("Process {pid}: {e}"),
            None if gone => format!("Process {pid} has exited"),
            None => format!("Process {pid}: reading..."),
        };
        f.render_widget(Paragraph::new(text), area);
        return;
    };
    let p = &d.snapshot.process;
    let t = &d.snapshot.stats.total;
    let mut title = format!(
        "PID {} {} | RSS {} PSS {} USS {} swap {}",
        p.pid,
        terminal_safe(p.name.as_bytes()),
        size(t.memory.rss),
        size(t.memory.pss),
        size(t.memory.uss),
        size(t.memory.swap),
    );
    let title2 = format!(
        "{} threads | {} regions | audit: {} findings | read in {} | m map, s sort, f filter, Esc back",
        p.threads,
        d.snapshot.regions.len(),
        d.findings,
        age(d.read_in),
    );
    if gone {
        title = format!("[exited: the last figures read] {title}");
    } else if let Some(e) = &app.detail_error {
        title = format!("[{e}] {title}");
    }
    let types = d.snapshot.stats.by_type.len() as u16;
    let files = d.snapshot.stats.by_file.len().min(5) as u16;
    let [head, summary, sparks, table] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(types.max(files) + 1),
        Constraint::Length(5),
        Constraint::Min(0),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(vec![Line::from(title), Line::from(title2)]).style(header(app)),
        head,
    );
    let [bars, top_files] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(summary);
    draw_types(f, bars, d);
    draw_files(f, top_files, d);
    draw_sparks(f, sparks, &d.history);
    draw_regions(f, table, app, d);
}

fn draw_types(f: &mut Frame, area: Rect, d: &Detail) {
    let by = &d.snapshot.stats.by_type;
    let max = by
        .iter()
        .filter_map(|t| t.figures.memory.rss)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_width = (area.width as usize).saturating_sub(24).max(1);
    let mut lines = vec![Line::from("By type (RSS)")];
    for t in by {
        let rss = t.figures.memory.rss;
        let n = rss.map_or(0, |r| {
            (r as u128 * bar_width as u128 / max as u128) as usize
        });
        lines.push(Line::from(format!(
            "{:<12}{:>9} {}",
            t.region_type.name(),
            size(rss),
            "#".repeat(n)
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_files(f: &mut Frame, area: Rect, d: &Detail) {
    let mut lines = vec![Line::from("Top files (RSS)")];
    for file in d.snapshot.stats.by_file.iter().take(5) {
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        lines.push(Line::from(format!(
            "{:>9} {}{}",
            size(file.figures.memory.rss),
            terminal_safe(name.as_bytes()),
            if file.deleted { " (deleted)" } else { "" }
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_sparks(f: &mut Frame, area: Rect, history: &[Spark]) {
    let rows = Layout::vertical([Constraint::Length(1); 5]).split(area);
    type Get = fn(&Spark) -> u64;
    let series: [(&str, Get); 5] = [
        ("RSS", |s| s.rss),
        ("PSS", |s| s.pss),
        ("anon", |s| s.anon),
        ("file", |s| s.file),
        ("shmem", |s| s.shmem),
    ];
    for (i, (name, get)) in series.iter().enumerate() {
        let [label, spark] =
            Layout::horizontal([Constraint::Length(16), Constraint::Min(0)]).areas(rows[i]);
        let data: Vec<u64> = history.iter().map(get).collect();
        let last = data.last().copied();
        f.render_widget(
            Paragraph::new(format!(
                "{name:<6}{:>9} ",
                last.map_or("-".into(), format_size)
            )),
            label,
        );
        // The newest samples at the right, as many as fit.
        let skip = data.len().saturating_sub(spark.width as usize);
        f.render_widget(Sparkline::default().data(&data[skip..]), spark);
    }
}

/// The regions the table shows: filtered by type, permissions or path, and sorted.
pub fn table_regions<'a>(app: &App, d: &'a Detail) -> Vec<&'a MemoryRegion> {
    let filt = app.region_filter.to_lowercase();
    let mut v: Vec<&MemoryRegion> = d
        .snapshot
        .regions
        .iter()
        .filter(|r| {
            filt.is_empty()
                || r.region_type.name().to_lowercase().contains(&filt)
                || r.protection.contains(&filt)
                || r.display_name().to_lowercase().contains(&filt)
        })
        .collect();
    let fig =
        |r: &MemoryRegion, pss: bool| r.usage.as_ref().map(|u| if pss { u.pss } else { u.rss });
    match app.region_sort {
        RegionSort::Address => {}
        RegionSort::Rss => v.sort_by_key(|r| std::cmp::Reverse(fig(r, false))),
        RegionSort::Pss => v.sort_by_key(|r| std::cmp::Reverse(fig(r, true))),
        RegionSort::Size => v.sort_by_key(|r| std::cmp::Reverse(r.size)),
    }
    v
}

fn draw_regions(f: &mut Frame, area: Rect, app: &App, d: &Detail) {
    let regions = table_regions(app, d);
    let head = Row::new([
        "ADDRESS".to_string(),
        "SIZE".into(),
        "TYPE".into(),
        "PERM".into(),
        "RSS".into(),
        "PSS".into(),
        format!(
            "PATH  (sort {:?}{})",
            app.region_sort,
            if app.region_filter.is_empty() {
                String::new()
            } else {
                format!(", filter {:?}", app.region_filter)
            }
        ),
    ])
    .style(header(app));
    let lines = regions.iter().skip(app.scroll).map(|r| {
        let u = r.usage.as_ref();
        Row::new([
            format!("{:#014x}", r.base_address),
            format_size(r.size as u64),
            r.region_type.name().to_string(),
            r.protection.clone(),
            size(u.map(|u| u.rss)),
            size(u.map(|u| u.pss)),
            terminal_safe(r.display_name().as_bytes()),
        ])
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    f.render_widget(Table::new(lines, widths).header(head), area);
}

/// The terminal map text of the process view's process (no colours: the cells are plain).
pub fn map_text(d: &Detail, columns: usize) -> String {
    let layout = MapLayout::compute(
        &d.snapshot.regions,
        &LayoutOptions::terminal(columns.saturating_sub(term::ADDR_COLUMN)),
    );
    term::render(&d.snapshot, &layout, &[], false)
}

/// Draws the terminal map.
pub fn draw_map(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = app.detail.as_ref() else {
        f.render_widget(Paragraph::new("no process data yet"), area);
        return;
    };
    let text = map_text(d, area.width as usize);
    let lines: Vec<Line> = text.lines().skip(app.scroll).map(Line::from).collect();
    f.render_widget(Paragraph::new(lines), area);
}
