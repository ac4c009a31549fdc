//! `memlink top`: checks what must hold before any screen is drawn (standard output is a
//! terminal, every `--pid` exists), raises the open-file soft limit, then runs the interface.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::args::{TopArgs, TopBy};
use crate::cli::top::{self, app::Grouping, reader};
use crate::cli::Outcome;

/// Runs `memlink top`.
pub fn run(args: TopArgs, proc_root: &Path) -> anyhow::Result<Outcome> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "top needs a terminal on standard output; for scripts use memlink ps (or memlink ps --format json)"
        );
    }
    if args.leaks_duration.is_zero() {
        anyhow::bail!("--leaks-duration must be more than 0");
    }
    if args.delay.is_zero() {
        anyhow::bail!("--delay must be more than 0");
    }
    for &pid in &args.pid {
        if !proc_root.join(pid.to_string()).exists() {
            anyhow::bail!("process {pid} does not exist");
        }
    }
    raise_nofile();
    let sort = args.sort;
    let grouping = match args.by {
        TopBy::Process => Grouping::None,
        TopBy::User => Grouping::User,
        TopBy::Cgroup => Grouping::Cgroup,
        TopBy::Container => Grouping::Container,
    };
    top::run(top::Options {
        reader: reader::Config {
            proc_root: proc_root.to_path_buf(),
            pids: args.pid,
            delay: args.delay,
            pss_every: args.pss_every.max(args.delay),
            budget: std::time::Duration::from_millis(50),
            rollup_budget: memlink::overtime::rollup::DEFAULT_BUDGET,
        },
        sort,
        grouping,
        out_dir: std::path::PathBuf::from("."),
        leaks_for: args.leaks_duration,
    })?;
    Ok(Outcome::Success)
}

/// Raises the soft limit of open files to the hard limit: the reader opens a few files of every
/// process at once (ps reads in parallel). Failing to raise it is not an error.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
