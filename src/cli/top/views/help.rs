//! The help screen: every key.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::cli::top::app::App;

/// The keys, as the help screen and docs/top.md list them.
pub const KEYS: &[(&str, &str)] = &[
    ("Up/Down PgUp/PgDn Home/End", "move"),
    ("Enter", "process view of the selected process"),
    ("Esc / Backspace", "back"),
    ("F3 or /", "search (n: next match)"),
    ("F4 or \\", "filter (empty: show all)"),
    (
        "F6 or >",
        "next sort key (PSS, USS, RSS, swap, growth, PID)",
    ),
    ("g", "grouping: none, user, cgroup, container"),
    ("m", "process view: the terminal map"),
    ("s / f", "process view: region sort / region filter"),
    ("S", "save a snapshot of the process"),
    ("D", "diff the process with its last snapshot"),
    ("H", "write the HTML map of the process"),
    ("A", "run the audit and save its report"),
    ("L", "memlink leaks --all for 30s in the background"),
    ("Ctrl-Z", "suspend (fg to come back)"),
    ("q / Ctrl-C / F10", "quit"),
    ("?", "this help"),
];

/// Draws the help screen.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!("{k:<28} {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(format!(
        "Refresh {}; PSS/USS every {} (a ~ marks a figure older than the refresh); - is unknown.",
        super::age(app.delay),
        super::age(app.pss_every)
    )));
    lines.push(Line::from(
        "A growth mark ! means the leak rule of memlink watch holds.",
    ));
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" memlink top: keys "),
        ),
        area,
    );
}
