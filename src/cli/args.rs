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
    /// Draw a memory map: an HTML page, an SVG picture, or a compact map in the terminal.
    Map(MapArgs),
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

/// Output formats of `memlink map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapFormat {
    /// A self-contained interactive HTML page.
    Html,
    /// A static SVG picture.
    Svg,
    /// The JSON document the page draws from.
    Json,
    /// A compact map for the terminal.
    Text,
}

/// When to colour terminal output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// When stdout is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `memlink map`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["pid", "snapshot", "watch", "diff"])))]
pub struct MapArgs {
    /// Map a live process.
    #[arg(long, value_parser = parse_pid)]
    pub pid: Option<u32>,
    /// Map a snapshot file (as written by `memlink snapshot`).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<std::path::PathBuf>,
    /// Draw memory growth over time from `memlink watch --format jsonl` output.
    #[arg(long, value_name = "FILE.jsonl")]
    pub watch: Option<std::path::PathBuf>,
    /// Draw the difference between two snapshots.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub diff: Option<Vec<std::path::PathBuf>>,
    /// Write to FILE (created with mode 0600); the format follows its extension (.svg, .json,
    /// otherwise HTML) unless --format says otherwise. Without it the map goes to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Output format [default: html with --output, text without].
    #[arg(long, value_enum)]
    pub format: Option<MapFormat>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Colour the terminal map.
    #[arg(long, value_enum, default_value_t)]
    pub color: ColorChoice,
    /// Width of the terminal map in columns [default: $COLUMNS, else 100].
    #[arg(long, value_name = "COLUMNS")]
    pub width: Option<usize>,
    /// Draw the address ranges listed in FILE (a JSON array of {start, end, severity, label})
    /// over the map.
    #[arg(long, value_name = "FILE")]
    pub highlights: Option<std::path::PathBuf>,
}

/// Parses a PID: a positive decimal number.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    memlink::units::parse_pid(s).map_err(|e| e.to_string())
}
