//! `memlink audit`.

use crate::cli::args::AuditArgs;
use crate::cli::Outcome;

/// Runs `memlink audit`.
pub fn run(_args: AuditArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not implemented")
}
