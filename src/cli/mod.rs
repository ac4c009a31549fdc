//! The command-line interface: argument syntax (clap), one module per subcommand, and rendering.
//!
//! Exit codes for every command: 0 success, 1 a negative answer (nothing found, findings, leak
//! suspected), 2 an error (including usage errors). A broken pipe exits quietly with 0.

mod args;
mod commands;
mod output;
#[cfg(target_os = "linux")]
mod top;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub use args::Cli;

/// What a command concluded, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a negative answer, not an error.
    Negative,
}

/// Parses the arguments, runs the command and maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("memlink: {} (see memlink --help)", usage_error_line(&e));
            return ExitCode::from(2);
        }
    };
    init_logging(cli.verbose);
    match commands::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("memlink: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// Parses the command line, keeping where `search`'s patterns stood on it.
fn parse() -> Result<Cli, clap::Error> {
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    if let (args::Command::Search(a), Some(m)) =
        (&mut cli.command, matches.subcommand_matches("search"))
    {
        a.record_positions(m);
    }
    Ok(cli)
}

/// The first line of a clap error, without its `error: ` prefix.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = first.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("MEMLINK_LOG")
        .format_timestamp(None)
        .init();
}

/// Renders an error chain on one line: `context: cause: root cause`.
pub(crate) fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ").replace('\n', " ")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<memlink::Error>()
                .is_some_and(memlink::Error::is_broken_pipe)
    })
}
