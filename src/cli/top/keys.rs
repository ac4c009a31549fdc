//! Keys: htop's where they exist (arrows, PgUp/PgDn, F3 or `/` search, F4 or `\` filter, F6 or
//! `>` sort, F10 or `q` quit), the rest one letter each (listed on the help screen).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::actions::Action;
use super::app::{App, Grouping, Prompt, RegionSort, Screen};

/// What a key asks of the main loop, beyond changing the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing more.
    None,
    /// The process view opened or closed: tell the reader.
    Focus,
    /// Run an action on the target process.
    Act(Action),
    /// Start `memlink leaks`.
    Leaks,
    /// Suspend (Ctrl-Z).
    Suspend,
}

/// Applies a key to the state.
pub fn key(app: &mut App, k: KeyEvent, page: usize) -> Effect {
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        match k.code {
            KeyCode::Char('c') => app.quit = true,
            KeyCode::Char('z') => return Effect::Suspend,
            _ => {}
        }
        return Effect::None;
    }
    if let Some((what, mut text)) = app.prompt.take() {
        match k.code {
            KeyCode::Enter | KeyCode::Esc => {
                if k.code == KeyCode::Esc && what != Prompt::Search {
                    text.clear();
                }
                match what {
                    Prompt::Search => {
                        app.search = text;
                        app.search_next();
                    }
                    Prompt::Filter => {
                        app.filter = text;
                        app.selected = 0;
                    }
                    Prompt::RegionFilter => {
                        app.region_filter = text;
                        app.scroll = 0;
                    }
                }
            }
            KeyCode::Backspace => {
                text.pop();
                app.prompt = Some((what, text));
            }
            KeyCode::Char(c) => {
                text.push(c);
                // The filter applies while it is typed.
                if what == Prompt::Filter {
                    app.filter = text.clone();
                    app.selected = 0;
                }
                app.prompt = Some((what, text));
            }
            _ => app.prompt = Some((what, text)),
        }
        app.clamp();
        return Effect::None;
    }
    let in_process = matches!(app.screen, Screen::Process | Screen::Map);
    match k.code {
        KeyCode::Char('q') | KeyCode::F(10) => app.quit = true,
        KeyCode::Char('?') | KeyCode::F(1) => {
            if app.screen != Screen::Help {
                app.back = app.screen;
                app.screen = Screen::Help;
            } else {
                app.screen = app.back;
            }
        }
        KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => match app.screen {
            Screen::Help => app.screen = app.back,
            Screen::Map => {
                app.screen = Screen::Process;
                app.scroll = 0;
            }
            Screen::Process => {
                app.screen = Screen::Processes;
                app.focus = None;
                app.detail = None;
                app.detail_error = None;
                app.scroll = 0;
                return Effect::Focus;
            }
            Screen::Processes => {}
        },
        KeyCode::Enter | KeyCode::Right if app.screen == Screen::Processes => {
            if let Some(p) = app.selected_process() {
                app.focus = Some(p);
                app.detail = None;
                app.detail_error = None;
                app.screen = Screen::Process;
                app.scroll = 0;
                return Effect::Focus;
            }
            app.status = "Enter opens a process: ungroup first (g)".into();
        }
        KeyCode::Up => move_by(app, -1),
        KeyCode::Down => move_by(app, 1),
        KeyCode::PageUp => move_by(app, -(page as isize)),
        KeyCode::PageDown => move_by(app, page as isize),
        KeyCode::Home => move_by(app, isize::MIN / 2),
        KeyCode::End => move_by(app, isize::MAX / 2),
        KeyCode::F(3) | KeyCode::Char('/') if !in_process => {
            app.prompt = Some((Prompt::Search, String::new()))
        }
        KeyCode::Char('n') if !in_process => app.search_next(),
        KeyCode::F(4) | KeyCode::Char('\\') if !in_process => {
            app.prompt = Some((Prompt::Filter, app.filter.clone()))
        }
        KeyCode::F(6) | KeyCode::Char('>') if !in_process => {
            app.sort = app.sort.next();
            app.status = format!("sorted by {:?}", app.sort);
        }
        KeyCode::Char('g') if !in_process => {
            app.grouping = match app.grouping {
                Grouping::None => Grouping::User,
                Grouping::User => Grouping::Cgroup,
                Grouping::Cgroup => Grouping::Container,
                Grouping::Container => Grouping::None,
            };
            app.selected = 0;
            app.status = format!("grouping: {:?}", app.grouping);
        }
        KeyCode::Char('m') if app.screen == Screen::Process => {
            app.screen = Screen::Map;
            app.scroll = 0;
        }
        KeyCode::Char('s') if app.screen == Screen::Process => {
            app.region_sort = match app.region_sort {
                RegionSort::Address => RegionSort::Rss,
                RegionSort::Rss => RegionSort::Pss,
                RegionSort::Pss => RegionSort::Size,
                RegionSort::Size => RegionSort::Address,
            };
            app.scroll = 0;
        }
        KeyCode::Char('f') if app.screen == Screen::Process => {
            app.prompt = Some((Prompt::RegionFilter, app.region_filter.clone()))
        }
        KeyCode::Char('S') => return act(app, Action::Snapshot),
        KeyCode::Char('D') => return act(app, Action::Diff),
        KeyCode::Char('H') => return act(app, Action::HtmlMap),
        KeyCode::Char('A') => return act(app, Action::Audit),
        KeyCode::Char('L') => return Effect::Leaks,
        _ => {}
    }
    Effect::None
}

fn act(app: &mut App, a: Action) -> Effect {
    match app.target() {
        Some(pid) => {
            app.status = format!("{a:?} of {pid}...");
            Effect::Act(a)
        }
        None => {
            app.status = "no process selected".into();
            Effect::None
        }
    }
}

fn move_by(app: &mut App, d: isize) {
    match app.screen {
        Screen::Processes => {
            let n = app.line_count();
            let s = (app.selected as isize).saturating_add(d);
            app.selected = s.clamp(0, n.saturating_sub(1) as isize) as usize;
        }
        Screen::Process | Screen::Map => {
            app.scroll = (app.scroll as isize).saturating_add(d).max(0) as usize;
        }
        Screen::Help => {}
    }
}

/// Applies a mouse event: the wheel moves.
pub fn mouse(app: &mut App, m: MouseEvent) {
    match m.kind {
        MouseEventKind::ScrollUp => move_by(app, -3),
        MouseEventKind::ScrollDown => move_by(app, 3),
        _ => {}
    }
}
