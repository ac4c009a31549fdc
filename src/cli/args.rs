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
    /// Search a process's memory for bytes, text or typed values (exit 0: found, 1: not found).
    Search(Box<SearchArgs>),
    /// Write a range of a process's memory to a file (mode 0600).
    Dump(DumpArgs),
    /// Look for suspicious memory protections and modified code (exit 1: findings at --fail-on).
    Audit(AuditArgs),
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
/// `memlink search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// Hex bytes, `??` for any byte: `--hex 'de ad ?? ef'` (repeatable).
    #[arg(long, value_name = "BYTES")]
    pub hex: Vec<String>,
    /// UTF-8 text (repeatable).
    #[arg(long, value_name = "STR")]
    pub text: Vec<String>,
    /// UTF-16LE text (repeatable).
    #[arg(long, value_name = "STR")]
    pub utf16: Vec<String>,
    /// A signed 8-bit value (repeatable; likewise for every typed value).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub i8: Vec<String>,
    /// An unsigned 8-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub u8: Vec<String>,
    /// A signed 16-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub i16: Vec<String>,
    /// An unsigned 16-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub u16: Vec<String>,
    /// A signed 32-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub i32: Vec<String>,
    /// An unsigned 32-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub u32: Vec<String>,
    /// A signed 64-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub i64: Vec<String>,
    /// An unsigned 64-bit value.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub u64: Vec<String>,
    /// A 32-bit float (matched bit for bit).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub f32: Vec<String>,
    /// A 64-bit float (matched bit for bit).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub f64: Vec<String>,
    /// Typed values are big-endian (default: little-endian).
    #[arg(long)]
    pub big_endian: bool,
    /// Typed values only match at their natural alignment.
    #[arg(long)]
    pub aligned: bool,
    /// Only these region types, comma-separated (heap,stack,threadstack,code,mappedfile,...).
    #[arg(long = "type", value_name = "TYPES")]
    pub types: Option<String>,
    /// Only regions with these permissions: r-x (letter: required, -: absent, ?: either).
    #[arg(long, value_name = "PERMS")]
    pub perms: Option<String>,
    /// Only addresses in LOW-HIGH (hex, HIGH exclusive).
    #[arg(long, value_name = "LOW-HIGH")]
    pub range: Option<String>,
    /// Stop after N matches.
    #[arg(long, value_name = "N")]
    pub max: Option<usize>,
    /// Skip pages that are not in RAM (never faults pages in; uses /proc/PID/pagemap).
    #[arg(long)]
    pub resident_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `memlink dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// First address (hex).
    #[arg(long, requires = "size", conflicts_with = "region")]
    pub address: Option<String>,
    /// Number of bytes (4096, 0x1000, 4K, 1MiB).
    #[arg(long, requires = "address")]
    pub size: Option<String>,
    /// Dump the whole region containing this address (hex).
    #[arg(long, value_name = "ADDR")]
    pub region: Option<String>,
    /// Output file (created with mode 0600).
    #[arg(short, long, value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `memlink audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid, required_unless_present = "list")]
    pub pid: Option<u32>,
    /// Run these analyzers (built-in or external `memlink-analyzer-NAME`; repeatable);
    /// default: the built-in protection audit.
    #[arg(long, value_name = "NAME")]
    pub analyzer: Vec<String>,
    /// List the built-in and external analyzers.
    #[arg(long)]
    pub list: bool,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, value_parser = parse_severity, default_value = "medium", value_name = "SEVERITY")]
    pub fail_on: memlink::security::Severity,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Parses a PID: a positive decimal number.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    memlink::units::parse_pid(s).map_err(|e| e.to_string())
}

/// Parses a severity: info, low, medium, high or critical.
pub fn parse_severity(s: &str) -> Result<memlink::security::Severity, String> {
    s.parse().map_err(|e: memlink::Error| e.to_string())
}
