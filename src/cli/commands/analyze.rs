//! `memlink analyze`.

use crate::cli::args::AnalyzeArgs;
use crate::cli::Outcome;

/// Runs `memlink analyze`.
pub fn run(_args: AnalyzeArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("memlink analyze is not implemented yet")
}
