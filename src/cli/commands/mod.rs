//! One module per subcommand; each turns its arguments into a library request, runs it and
//! renders the result.

mod analyze;
mod audit;
mod dump;
mod list;
mod map;
mod search;
mod test;

use super::args::{Cli, Command};
use super::Outcome;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::List(args) => list::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Test(args) => test::run(args),
        Command::Map(args) => map::run(args),
        Command::Search(args) => search::run(*args),
        Command::Dump(args) => dump::run(args),
        Command::Audit(args) => audit::run(args),
    }
}
