//! One module per subcommand; each turns its arguments into a library request, runs it and
//! renders the result.

mod analyze;
mod audit;
mod diff;
mod dump;
mod export;
mod link;
mod list;
mod ps;
mod search;
mod snapshot;
mod test;
mod unlink;
mod watch;

use super::args::{Cli, Command};
use super::Outcome;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::List(args) => list::run(args, &cli.proc_root),
        Command::Analyze(args) => analyze::run(args, &cli.proc_root),
        Command::Test(args) => test::run(args),
        Command::Ps(args) => ps::run(args, &cli.proc_root),
        Command::Watch(args) => watch::run(args, &cli.proc_root),
        Command::Snapshot(args) => snapshot::run(args, &cli.proc_root),
        Command::Diff(args) => diff::run(args, &cli.proc_root),
        Command::Export(args) => export::run(args, &cli.proc_root),
        Command::Search(args) => search::run(*args),
        Command::Dump(args) => dump::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Link(args) => link::run(args),
        Command::Unlink(args) => unlink::run(args),
    }
}
