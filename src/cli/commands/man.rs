//! `memlink man [COMMAND]`: the man pages, memlink(1) and one memlink-COMMAND(1) per
//! subcommand (the pages memlink(1) refers to), generated from the clap definitions as roff.

use std::io::Write;

use anyhow::{bail, Context};
use clap::CommandFactory;

use super::super::args::{Cli, ManArgs};
use super::super::Outcome;

/// Writes the requested page to stdout.
pub fn run(args: ManArgs) -> anyhow::Result<Outcome> {
    let mut root = Cli::command();
    // Building gives each subcommand its page name (memlink-list) and the global options.
    root.build();
    let cmd = match args.command.as_deref() {
        None => root,
        Some(name) => match root.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
                bail!("no man page for {name:?} (commands: {})", names.join(", "));
            }
        },
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(concat!("memlink ", env!("CARGO_PKG_VERSION")))
        .render(&mut page)
        .context("rendering the man page")?;
    let mut out = std::io::stdout().lock();
    out.write_all(&page)
        .and_then(|()| out.flush())
        .context("writing the man page")?;
    Ok(Outcome::Success)
}
