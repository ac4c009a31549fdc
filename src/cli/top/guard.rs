//! The terminal guard: raw mode and the alternate screen while `top` runs, and the terminal put
//! back on every exit path that can be caught: a normal return, an error, a panic (through the
//! panic hook), SIGTERM, SIGHUP and SIGINT (through the signal thread, which makes the main loop
//! return), and a stop (Ctrl-Z or SIGTSTP: leave the screen, stop, and redraw on SIGCONT).
//! SIGKILL cannot be caught: after it, `reset` or `stty sane` puts the terminal back.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use anyhow::Context;
use crossterm::{cursor, event, execute, terminal};
use signal_hook::consts::signal::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};

/// Whether the terminal is currently in `top`'s mode (so that restoring twice is harmless).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// A signal the main loop must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM, SIGHUP or SIGINT: restore and exit.
    Quit(i32),
    /// SIGTSTP: restore, stop, and redraw once continued.
    Stop,
    /// SIGCONT: redraw.
    Continue,
}

/// Owns the terminal mode; dropping it restores the terminal.
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, and installs the panic hook that restores them.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        activate().context("cannot set up the terminal")?;
        Ok(TerminalGuard(()))
    }

    /// Leaves the screen, stops this process (SIGSTOP, which cannot be handled), and comes back
    /// to the screen once continued.
    pub fn suspend(&self) -> anyhow::Result<()> {
        restore();
        signal_hook::low_level::raise(signal_hook::consts::signal::SIGSTOP)
            .context("cannot stop")?;
        activate().context("cannot set up the terminal again")
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn activate() -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = std::io::stdout();
    execute!(
        out,
        terminal::EnterAlternateScreen,
        cursor::Hide,
        event::EnableMouseCapture
    )?;
    out.flush()
}

/// Puts the terminal back (idempotent; errors are ignored: there is nothing left to do).
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = std::io::stdout();
        let _ = execute!(
            out,
            event::DisableMouseCapture,
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
        let _ = out.flush();
    }
}

/// Starts the thread that turns SIGTERM, SIGHUP, SIGINT, SIGTSTP and SIGCONT into [`Signal`]s.
pub fn watch_signals(tx: Sender<Signal>) -> anyhow::Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGTSTP, SIGCONT])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("top-signals".into())
        .spawn(move || {
            for s in signals.forever() {
                let msg = match s {
                    SIGTSTP => Signal::Stop,
                    SIGCONT => Signal::Continue,
                    other => Signal::Quit(other),
                };
                if tx.send(msg).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
