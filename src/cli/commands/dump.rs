//! `memlink dump`.

use crate::cli::args::DumpArgs;
use crate::cli::Outcome;

/// Runs `memlink dump`.
pub fn run(_args: DumpArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not implemented")
}
