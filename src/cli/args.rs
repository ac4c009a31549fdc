//! Argument syntax. Parsing of sizes and addresses is shared by every command through
//! [`memlink::units`]; each command turns its arguments into a library request.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// memlink: look inside the memory of running processes, and link memory between them.
#[derive(Debug, Parser)]
#[command(name = "memlink", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Increase verbosity (repeat for more: -v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the memory regions of a process.
    List(ListArgs),
    /// Analyze the memory of a process: regions, then a summary by type and by file.
    Analyze(AnalyzeArgs),
    /// Run built-in tests, including the FFI demonstration.
    Test(TestArgs),
}

/// Output formats shared by commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text with human sizes.
    #[default]
    Text,
    /// JSON with sizes in bytes.
    Json,
}

/// `memlink list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// Show detailed figures (RSS, PSS, swap, dirty, flags) and why each region got its type.
    #[arg(long)]
    pub detailed: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `memlink analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Print only the summary by type and by file.
    #[arg(long)]
    pub summary: bool,
    /// Include per-region figures (usage, VmFlags) in the region list.
    #[arg(long)]
    pub detailed: bool,
}

/// `memlink test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The test to run (as a word: `memlink test math`).
    #[arg(value_name = "NAME", conflicts_with = "test")]
    pub name: Option<String>,
    /// The test to run (as an option: `memlink test --test math`); all tests when omitted.
    #[arg(long = "test", value_name = "NAME")]
    pub test: Option<String>,
}

/// Parses a PID: a positive decimal number.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    memlink::units::parse_pid(s).map_err(|e| e.to_string())
}
