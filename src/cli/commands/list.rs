//! `memlink list`.

use crate::cli::args::ListArgs;
use crate::cli::Outcome;

/// Runs `memlink list`.
pub fn run(_args: ListArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("memlink list is not implemented yet")
}
