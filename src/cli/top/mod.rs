//! `memlink top`: the interactive interface. The reader thread ([`reader`]) reads, the main
//! thread draws ([`views`]) and handles keys ([`keys`]) and signals ([`guard`]); actions
//! ([`actions`]) run on threads of their own, `memlink leaks` as a child process ([`leaks`]). The state ([`app`]) is plain data, so every
//! screen can be drawn from fixed data into a test backend.

pub mod actions;
pub mod app;
pub mod data;
pub mod guard;
pub mod keys;
pub mod leaks;
pub mod reader;
#[cfg(test)]
mod tests;
pub mod views;

use std::path::PathBuf;
use std::sync::mpsc::{self, TryRecvError};
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{self, Event, KeyEventKind};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use app::{App, Screen};
use guard::{Signal, TerminalGuard};
use keys::Effect;
use reader::{Msg, Reader};

/// How `top` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to read, and how often.
    pub reader: reader::Config,
    /// Initial sort key.
    pub sort: app::Sort,
    /// Initial grouping.
    pub grouping: app::Grouping,
    /// Where action files are written.
    pub out_dir: PathBuf,
    /// How long the leaks action watches.
    pub leaks_for: Duration,
}

/// Runs the interface until `q`, Ctrl-C, SIGTERM, SIGHUP or SIGINT. The caller has checked that
/// standard output is a terminal.
pub fn run(opts: Options) -> anyhow::Result<()> {
    let (sig_tx, sig_rx) = mpsc::channel();
    guard::watch_signals(sig_tx)?;
    let reader = Reader::start(opts.reader.clone()).context("cannot start the reader thread")?;
    let guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .context("cannot use the terminal")?;
    let mut app = App::new(
        opts.reader.delay,
        opts.reader.pss_every,
        opts.sort,
        opts.grouping,
    );
    app.out_dir = opts.out_dir.clone();
    app.status = "reading... (? for help)".into();
    let (done_tx, done_rx) = mpsc::channel();
    // Dropped on every way out of this function, which stops the command.
    let mut leaks_job: Option<leaks::LeaksJob> = None;
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|f| views::draw(f, &app))?;
            dirty = false;
        }
        if event::poll(Duration::from_millis(50))? {
            let page = terminal.size().map_or(10, |s| s.height.saturating_sub(5)) as usize;
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    match keys::key(&mut app, k, page.max(1)) {
                        Effect::None => {}
                        Effect::Focus => reader.focus(app.focus.map(|f| f.0)),
                        Effect::Act(a) => {
                            if let Some(pid) = app.target() {
                                actions::start(
                                    a,
                                    pid,
                                    opts.reader.proc_root.clone(),
                                    app.out_dir.clone(),
                                    app.last_snapshot.get(&pid).cloned(),
                                    done_tx.clone(),
                                );
                            }
                        }
                        Effect::Leaks => start_leaks(&mut app, &mut leaks_job, opts.leaks_for),
                        Effect::Suspend => {
                            guard.suspend()?;
                            terminal.clear()?;
                        }
                    }
                    dirty = true;
                }
                Event::Mouse(m) => {
                    keys::mouse(&mut app, m);
                    dirty = true;
                }
                Event::Resize(..) => {
                    terminal.autoresize()?;
                    dirty = true;
                }
                _ => {}
            }
        }
        if app.quit {
            break;
        }
        loop {
            match reader.rx.try_recv() {
                Ok(msg) => {
                    apply(&mut app, msg);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => anyhow::bail!("the reader thread stopped"),
            }
        }
        while let Ok(d) = done_rx.try_recv() {
            if let Some(p) = d.snapshot {
                app.last_snapshot.insert(d.pid, p);
            }
            app.status = d.message;
            dirty = true;
        }
        if let Some(job) = leaks_job.as_mut() {
            let line = match job.poll() {
                leaks::Progress::Running(line) => Some(line),
                leaks::Progress::Ended(line) => {
                    app.status = line;
                    leaks_job = None;
                    None
                }
            };
            if line != app.background {
                app.background = line;
                dirty = true;
            }
        }
        match sig_rx.try_recv() {
            Ok(Signal::Quit(_)) => break,
            Ok(Signal::Stop) => {
                guard.suspend()?;
                terminal.clear()?;
                dirty = true;
            }
            Ok(Signal::Continue) => {
                terminal.clear()?;
                dirty = true;
            }
            Err(_) => {}
        }
    }
    drop(terminal);
    drop(guard);
    drop(leaks_job);
    Ok(())
}

/// The leaks key: starts `memlink leaks` on the target, unless one is running.
fn start_leaks(app: &mut App, job: &mut Option<leaks::LeaksJob>, duration: Duration) {
    if let Some(j) = job {
        app.status = format!(
            "leaks of {} is running ({}s left): one at a time",
            j.pid,
            j.left()
        );
        return;
    }
    let Some(pid) = app.target() else {
        app.status = "no process selected".into();
        return;
    };
    let started = std::env::current_exe()
        .context("cannot find memlink's own path")
        .and_then(|exe| leaks::LeaksJob::start(&exe, pid, &app.out_dir, duration));
    match started {
        Ok(j) => {
            app.status = format!(
                "leaks of {pid} started for {}s, its report to {}",
                duration.as_secs(),
                j.path.display()
            );
            *job = Some(j);
        }
        Err(e) => app.status = format!("leaks of {pid} failed: {}", crate::cli::one_line(&e)),
    }
}

/// Applies a message of the reader to the state.
pub fn apply(app: &mut App, msg: Msg) {
    match msg {
        Msg::Frame(f) => {
            app.set_frame(f);
            if app.status.starts_with("reading...") {
                app.status = "? for help".into();
            }
        }
        Msg::Detail(d) => {
            // Once the process is gone, its PID may belong to another: keep the last figures.
            if app.focus.map(|f| f.0) == Some(d.pid) && !app.focus_gone() {
                app.detail = Some(*d);
                app.detail_error = None;
            }
        }
        Msg::DetailFailed(pid, e) => {
            if app.focus.map(|f| f.0) == Some(pid)
                && matches!(app.screen, Screen::Process | Screen::Map)
            {
                app.detail_error = Some(e);
            }
        }
        Msg::Failed(e) => app.status = format!("cannot read the process list: {e}"),
    }
}
