//! `memlink test`.

use crate::cli::args::TestArgs;
use crate::cli::Outcome;

/// Runs `memlink test`.
pub fn run(_args: TestArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("memlink test is not implemented yet")
}
