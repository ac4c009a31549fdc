//! The processes view: the system totals, then one line per process (or per group).

use memlink::text::terminal_safe;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{age, aged, growth, header, reversed, size};
use crate::cli::top::app::{App, Grouping};

/// Draws the processes view.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let [top, table] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let m = &app.frame.mem;
    let rows = app.visible_rows();
    let line1 = format!(
        "Mem used {} of {}, available {}, shmem {}, swap used {} of {}",
        size(m.used()),
        size(m.total),
        size(m.available),
        size(m.shmem),
        size(m.swap_used()),
        size(m.swap_total),
    );
    let line2 = format!(
        "{} processes{} | sort {:?} | refresh {} (read in {}) | PSS/USS every {}, last {} ago{}",
        rows.len(),
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(" matching {:?}", app.filter)
        },
        app.sort,
        age(app.delay),
        age(app.frame.read_in),
        age(app.pss_every),
        app.frame.rollup_age.map_or_else(|| "-".into(), age),
        if app.frame.exited > 0 {
            format!(" | {} exited", app.frame.exited)
        } else {
            String::new()
        }
    );
    f.render_widget(
        Paragraph::new(vec![Line::from(line1), Line::from(line2)]),
        top,
    );
    if app.grouping == Grouping::None {
        draw_rows(f, table, app, &rows);
    } else {
        draw_groups(f, table, app);
    }
}

fn draw_rows(f: &mut Frame, area: Rect, app: &App, rows: &[&crate::cli::top::data::Row]) {
    // Below 80 columns, only what identifies a process and its main figures.
    let narrow = area.width < 80;
    let keep: &[usize] = if narrow {
        &[0, 2, 3, 10]
    } else {
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    };
    let pick =
        |cells: [String; 11]| -> Vec<String> { keep.iter().map(|&i| cells[i].clone()).collect() };
    let head = Row::new(pick(
        [
            "PID", "USER", "RSS", "PSS", "USS", "SWAP", "THR", "MAPS", "GROWTH", "CGROUP",
            "COMMAND",
        ]
        .map(String::from),
    ))
    .style(header(app));
    let lines = rows.iter().map(|r| {
        let p = &r.ps;
        let cg = p
            .container
            .as_ref()
            .map(|c| c.short())
            .or_else(|| p.cgroup.as_ref().map(|c| c.path.clone()))
            .unwrap_or_else(|| "-".into());
        let cmd = p
            .command
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or(&p.name);
        Row::new(pick([
            p.pid.to_string(),
            terminal_safe(p.user.as_bytes()),
            size(p.figures.rss),
            aged(p.figures.pss, r.pss_age, app.delay),
            aged(p.figures.uss, r.pss_age, app.delay),
            size(p.figures.swap),
            p.threads.to_string(),
            p.mappings.map_or_else(|| "-".into(), |m| m.to_string()),
            format!("{}{}", growth(r.growth), if r.leak { "!" } else { "" }),
            terminal_safe(cg.as_bytes()),
            terminal_safe(cmd.as_bytes()),
        ]))
    });
    let widths = [
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    let widths: Vec<Constraint> = keep.iter().map(|&i| widths[i]).collect();
    let table = Table::new(lines, widths)
        .header(head)
        .row_highlight_style(reversed(app))
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

fn draw_groups(f: &mut Frame, area: Rect, app: &App) {
    let title = match app.grouping {
        Grouping::User => "USER",
        Grouping::Cgroup => "CGROUP",
        _ => "CONTAINER",
    };
    let head =
        Row::new([title, "PROCS", "RSS", "PSS", "USS", "SWAP", "THR", "NO PSS"]).style(header(app));
    let groups = app.groups();
    let mut lines: Vec<Row> = groups
        .iter()
        .map(|g| {
            let s = &g.group;
            Row::new([
                terminal_safe(g.key.as_bytes()),
                s.processes.to_string(),
                size(s.figures.rss),
                size(s.figures.pss),
                size(s.figures.uss),
                size(s.figures.swap),
                s.threads.to_string(),
                s.restricted.to_string(),
            ])
        })
        .collect();
    let visible: Vec<memlink::overtime::ps::ProcessRow> = app
        .visible_rows()
        .into_iter()
        .map(|r| r.ps.clone())
        .collect();
    let t = memlink::overtime::ps::totals(&visible);
    lines.push(
        Row::new([
            "total".to_string(),
            t.processes.to_string(),
            size(t.figures.rss),
            size(t.figures.pss),
            size(t.figures.uss),
            size(t.figures.swap),
            t.threads.to_string(),
            (t.restricted + t.unknown).to_string(),
        ])
        .style(header(app)),
    );
    let widths = [
        Constraint::Min(16),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    let table = Table::new(lines, widths)
        .header(head)
        .row_highlight_style(reversed(app))
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}
