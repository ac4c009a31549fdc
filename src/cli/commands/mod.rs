//! One module per subcommand; each turns its arguments into a library request, runs it and
//! renders the result.

mod analyze;
#[cfg(target_os = "linux")]
mod audit;
mod completions;
mod diff;
#[cfg(target_os = "linux")]
mod dump;
#[cfg(target_os = "linux")]
mod export;
mod leaks;
mod link;
mod list;
mod man;
mod map;
#[cfg(target_os = "linux")]
mod ps;
#[cfg(target_os = "linux")]
mod search;
mod snapshot;
mod test;
#[cfg(target_os = "linux")]
mod top;
mod unlink;
#[cfg(target_os = "linux")]
mod watch;

use super::args::{Cli, Command};
use super::Outcome;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::List(args) => list::run(args, &cli.proc_root),
        Command::Analyze(args) => analyze::run(args, &cli.proc_root),
        Command::Test(args) => test::run(args),
        Command::Map(args) => map::run(args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Ps(args) => ps::run(args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Watch(args) => watch::run(args, &cli.proc_root),
        Command::Snapshot(args) => snapshot::run(args, &cli.proc_root),
        Command::Diff(args) => diff::run(args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Export(args) => export::run(args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Search(args) => search::run(*args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Dump(args) => dump::run(args, &cli.proc_root),
        #[cfg(target_os = "linux")]
        Command::Audit(args) => audit::run(args, &cli.proc_root),
        // These read procfs or another process's memory directly; other platforms have no
        // backend for them yet.
        #[cfg(not(target_os = "linux"))]
        Command::Ps(_)
        | Command::Watch(_)
        | Command::Export(_)
        | Command::Search(_)
        | Command::Dump(_)
        | Command::Audit(_) => Err(memlink::Error::Unsupported {
            op: "this command",
            platform: std::env::consts::OS,
        }
        .into()),
        #[cfg(target_os = "linux")]
        Command::Top(args) => top::run(args, &cli.proc_root),
        #[cfg(not(target_os = "linux"))]
        Command::Top(_) => Err(memlink::Error::Unsupported {
            op: "top",
            platform: std::env::consts::OS,
        }
        .into()),
        Command::Link(args) => link::run(args, &cli.proc_root),
        Command::Unlink(args) => unlink::run(args, &cli.proc_root),
        Command::Leaks(args) => leaks::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}
