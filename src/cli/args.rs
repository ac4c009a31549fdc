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
    /// Link a memory range of one process into another (shared pages, or a one-shot copy).
    Link(LinkArgs),
    /// Turn a linked (shared memfd) range back into private memory with the same content.
    Unlink(UnlinkArgs),
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

/// How `memlink link` gives the target the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ModeArg {
    /// Both processes map the same pages afterwards.
    #[default]
    Share,
    /// Copy the bytes once into the target's already-mapped writable range.
    Copy,
}

/// `memlink link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Source process ID (its range becomes shared).
    #[arg(long, value_parser = parse_pid)]
    pub source: u32,
    /// Target process ID (gets the mapping, or the copy).
    #[arg(long, value_parser = parse_pid)]
    pub target: u32,
    /// Start of the range in the source, in hex (page-aligned).
    #[arg(long, value_parser = parse_address)]
    pub address: u64,
    /// Size in bytes: decimal, 0x hex, or with a suffix (4KiB, 1MiB); page-aligned.
    #[arg(long, value_parser = parse_size)]
    pub size: u64,
    /// Where the range appears in the target (default: the same address).
    #[arg(long, value_parser = parse_address)]
    pub target_address: Option<u64>,
    /// share (default) or copy.
    #[arg(long, value_enum, default_value_t)]
    pub mode: ModeArg,
    /// Hash both ranges afterwards and compare them with the source's content before.
    #[arg(long)]
    pub verify: bool,
    /// Run the pre-flight checks only and say what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Link even if the source uses io_uring, AIO, RDMA or VFIO (writes by the device into the
    /// old pages would be lost).
    #[arg(long)]
    pub allow_pinned: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `memlink unlink`.
#[derive(Debug, Args)]
pub struct UnlinkArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// Start of the linked range, in hex (page-aligned).
    #[arg(long, value_parser = parse_address)]
    pub address: u64,
    /// Size: decimal, 0x hex, or with a suffix (4KiB); page-aligned.
    #[arg(long, value_parser = parse_size)]
    pub size: u64,
    /// Run the pre-flight checks only.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Parses an address (hex with or without 0x).
pub fn parse_address(s: &str) -> Result<u64, String> {
    memlink::units::parse_address(s).map_err(|e| e.to_string())
}

/// Parses a size (bytes, 0x hex, K/M/G/T suffixes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    memlink::units::parse_size(s).map_err(|e| e.to_string())
}

/// Parses a PID: a positive decimal number.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    memlink::units::parse_pid(s).map_err(|e| e.to_string())
}
