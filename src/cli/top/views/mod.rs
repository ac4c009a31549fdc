//! Drawing: one module per screen, and the cell formats they share. Every figure is drawn with
//! memlink's size format; a figure that is not known is `-`, never 0.

pub mod help;
pub mod process;
pub mod processes;

use std::time::Duration;

use memlink::units::format_size;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Screen};

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let [body, status] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(f.area());
    match app.screen {
        Screen::Processes => processes::draw(f, body, app),
        Screen::Process => process::draw(f, body, app),
        Screen::Map => process::draw_map(f, body, app),
        Screen::Help => help::draw(f, body, app),
    }
    let line = match &app.prompt {
        Some((p, text)) => {
            let what = match p {
                super::app::Prompt::Search => "Search",
                super::app::Prompt::Filter => "Filter",
                super::app::Prompt::RegionFilter => "Region filter",
            };
            format!("{what}: {text}_")
        }
        None => match &app.background {
            Some(b) => format!("{} | {b}", app.status),
            None => app.status.clone(),
        },
    };
    f.render_widget(
        Paragraph::new(Line::from(line)).style(reversed(app)),
        status,
    );
}

/// A size, or `-`.
pub fn size(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), format_size)
}

/// A size with `~` when its figure is older than the refresh, or `-`.
pub fn aged(v: Option<u64>, age: Option<Duration>, delay: Duration) -> String {
    match (v, age) {
        (Some(v), Some(a)) if a > delay => format!("{}~", format_size(v)),
        (Some(v), _) => format_size(v),
        (None, _) => "-".to_string(),
    }
}

/// A growth in bytes per minute, signed, or `-`.
pub fn growth(v: Option<f64>) -> String {
    match v {
        Some(g) if g.is_finite() => {
            let sign = if g < 0.0 { "-" } else { "+" };
            format!("{sign}{}/m", format_size(g.abs().round() as u64))
        }
        _ => "-".to_string(),
    }
}

/// A duration as the status line says it.
pub fn age(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// The style of the selection and the status line.
pub fn reversed(_app: &App) -> Style {
    Style::default().add_modifier(Modifier::REVERSED)
}

/// The header style (bold; coloured unless `NO_COLOR`).
pub fn header(app: &App) -> Style {
    let s = Style::default().add_modifier(Modifier::BOLD);
    if app.color {
        s.fg(ratatui::style::Color::Cyan)
    } else {
        s
    }
}
