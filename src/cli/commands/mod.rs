//! One module per subcommand; each turns its arguments into a library request, runs it and
//! renders the result.

mod analyze;
mod link;
mod list;
mod test;
mod unlink;

use super::args::{Cli, Command};
use super::Outcome;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::List(args) => list::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Test(args) => test::run(args),
        Command::Link(args) => link::run(args),
        Command::Unlink(args) => unlink::run(args),
    }
}
