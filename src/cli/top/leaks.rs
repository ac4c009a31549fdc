//! The leaks action: `memlink leaks --pid P --all --duration 30s --format json -o FILE` run in
//! the background by this same binary (the duration is `top`'s hidden `--leaks-duration`, 30 s) ([`std::env::current_exe`]), one at a time. The report goes
//! to `memlink-PID-EPOCHSECONDS.leaks.json` in the output folder; `memlink leaks` creates it with
//! the safe-file rules of every output (never over an existing file, in place only once complete).
//! `--all` (exact mode) is the mode `memlink leaks` implements.
//!
//! The interface never waits for it: the main loop polls [`LeaksJob::poll`] for the status line
//! (running with the seconds left, done with the path, or the one-line error the command printed,
//! such as a missing permission). Dropping the job stops the command (SIGTERM, then waited; a
//! command that does not end within [`STOP_WAIT`] is killed), so quitting `top` by any path it
//! can catch leaves no `memlink leaks` behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How long a stopped `memlink leaks` is waited for before it is killed.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// A running (or just ended) `memlink leaks`.
pub struct LeaksJob {
    /// The process watched.
    pub pid: u32,
    /// Where the report goes.
    pub path: PathBuf,
    child: Child,
    started: Instant,
    duration: Duration,
    /// What the command wrote on its standard error, gathered by a thread of its own.
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    ended: bool,
}

/// What [`LeaksJob::poll`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still running: the line for the status line.
    Running(String),
    /// Ended: the final line.
    Ended(String),
}

impl LeaksJob {
    /// Starts `exe leaks` on `pid`, its report in `dir`, watching for `duration`.
    pub fn start(exe: &Path, pid: u32, dir: &Path, duration: Duration) -> anyhow::Result<LeaksJob> {
        let path = dir.join(super::actions::file_name(pid, "leaks", "json"));
        let mut child = Command::new(exe)
            .arg("leaks")
            .arg("--pid")
            .arg(pid.to_string())
            .arg("--all")
            .arg("--duration")
            .arg(format!("{}ms", duration.as_millis()))
            .args(["--format", "json", "-o"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {} leaks", exe.display()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.extend_from_slice(&buf[..n]);
                    }
                }
            })
        });
        Ok(LeaksJob {
            pid,
            path,
            child,
            started: Instant::now(),
            duration,
            stderr,
            reader,
            ended: false,
        })
    }

    /// Seconds left of the watch (0 once it is writing its report).
    pub fn left(&self) -> u64 {
        self.duration
            .saturating_sub(self.started.elapsed())
            .as_secs_f64()
            .ceil() as u64
    }

    /// Whether the command has ended (checked without waiting).
    pub fn poll(&mut self) -> Progress {
        let status = match self.child.try_wait() {
            Ok(None) => {
                let left = self.left();
                return Progress::Running(if left > 0 {
                    format!("leaks of {}: running, {left}s left", self.pid)
                } else {
                    format!("leaks of {}: writing its report", self.pid)
                });
            }
            Ok(Some(s)) => s,
            Err(e) => {
                self.ended = true;
                return Progress::Ended(format!("leaks of {} failed: {e}", self.pid));
            }
        };
        self.ended = true;
        // The pipe closes when the command exits: its last words are all there.
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let err = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        Progress::Ended(outcome(self.pid, &self.path, status.code(), &err))
    }

    /// Stops the command: SIGTERM, then waited (killed after [`STOP_WAIT`]).
    pub fn stop(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                _ => break,
            }
        }
    }
}

impl Drop for LeaksJob {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The final status line of a `memlink leaks` that exited with `code` after writing `stderr`.
pub fn outcome(pid: u32, path: &Path, code: Option<i32>, stderr: &[u8]) -> String {
    if matches!(code, Some(0) | Some(1)) {
        if let Ok(text) = std::fs::read(path) {
            let verdict = serde_json::from_slice::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("leak_suspected").and_then(|b| b.as_bool()));
            let what = match verdict {
                Some(true) => "a leak is suspected",
                Some(false) => "no leak suspected",
                None => "done",
            };
            return format!("leaks of {pid}: {what}; wrote {}", path.display());
        }
    }
    // The command's own one-line error, without its `memlink: ` prefix.
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("memlink: "))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()));
    let why = match (line, code) {
        (Some(l), _) => memlink::text::terminal_safe(l.trim_start_matches("memlink: ").as_bytes()),
        (None, Some(c)) => format!("exited with {c} and wrote no report"),
        (None, None) => "stopped by a signal before writing its report".to_string(),
    };
    format!("leaks of {pid} failed: {why}")
}
