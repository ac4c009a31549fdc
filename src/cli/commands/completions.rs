//! `memlink completions SHELL`: a completion script generated from the clap definitions, so it
//! always knows every subcommand and option of this build.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use super::super::args::{Cli, CompletionsArgs};
use super::super::Outcome;

/// Writes the completion script for `args.shell` to stdout.
pub fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    // clap_complete panics on a failed write: render into memory, then write with errors
    // reported (a closed pipe exits quietly).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing the completion script")?;
    Ok(Outcome::Success)
}
