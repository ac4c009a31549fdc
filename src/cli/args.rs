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

    /// Read another procfs mount instead of /proc (the host's /proc mounted into a container).
    #[arg(long, global = true, value_name = "DIR", default_value = "/proc")]
    pub proc_root: std::path::PathBuf,

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
    /// Link a memory range of one process into another (shared pages, or a one-shot copy).
    Link(LinkArgs),
    /// Turn a linked (shared memfd) range back into private memory with the same content.
    Unlink(UnlinkArgs),
    /// Every process with its memory (RSS, PSS, USS, swap), user, threads, mappings and cgroup.
    Ps(PsArgs),
    /// Sample a process's memory over time and judge whether it leaks.
    Watch(WatchArgs),
    /// Save a process's regions and figures to a snapshot file (JSON, mode 0600).
    Snapshot(SnapshotArgs),
    /// Compare two snapshots, or a snapshot with the process now.
    Diff(DiffArgs),
    /// Serve memory metrics for Prometheus (OpenMetrics), or write them to a file.
    Export(ExportArgs),
    /// Search a process's memory for bytes, text or typed values (exit 0: found, 1: not found).
    Search(Box<SearchArgs>),
    /// Write a range of a process's memory to a file (mode 0600).
    Dump(DumpArgs),
    /// Look for suspicious memory protections and modified code (exit 1: findings at --fail-on).
    Audit(AuditArgs),
    /// The call stacks that hold unfreed memory in a running process (eBPF; the process never
    /// stops).
    Leaks(LeaksArgs),
    /// The interactive interface: every process live, drill into one, act on it.
    Top(TopArgs),
    /// Print a shell completion script for memlink on standard output.
    Completions(CompletionsArgs),
    /// Print a man page (roff) on standard output: `memlink man | man -l -`.
    Man(ManArgs),
}

/// `memlink man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand: print its own page, memlink-COMMAND(1), instead of memlink(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// `memlink completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: `source <(memlink completions bash)`, or save the script where the shell
    /// looks for completions.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
#[command(group(clap::ArgGroup::new("target").required(true).args(["pid", "snapshot"])))]
pub struct AnalyzeArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: Option<u32>,
    /// Analyze a snapshot file (from `memlink snapshot`) instead of a live process.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<std::path::PathBuf>,
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
    #[arg(long, conflicts_with = "fault_in")]
    pub resident_only: bool,
    /// Also read swapped-out and uncached pages, through the process (faults them in).
    #[arg(long)]
    pub fault_in: bool,
    /// Bytes of context shown before and after each match (at most 4096).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub context: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Where each pattern flag's values stood on the command line (flag id, one index per
    /// value), filled in from the parsed matches so that patterns keep their order.
    #[arg(skip)]
    pub positions: Vec<(&'static str, Vec<usize>)>,
}

impl SearchArgs {
    /// The ids of the pattern flags, in the order patterns are taken when positions are unknown.
    pub const PATTERN_FLAGS: [&'static str; 13] = [
        "hex", "text", "utf16", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64",
    ];

    /// Records where the pattern flags' values stood in `m` (the `search` subcommand's matches).
    pub fn record_positions(&mut self, m: &clap::ArgMatches) {
        self.positions = Self::PATTERN_FLAGS
            .iter()
            .map(|id| {
                let at = m
                    .indices_of(id)
                    .map(|i| i.collect::<Vec<usize>>())
                    .unwrap_or_default();
                (*id, at)
            })
            .collect();
    }

    /// Where the `i`-th value of flag `id` stood on the command line, when known.
    pub fn position(&self, id: &str, i: usize) -> Option<usize> {
        self.positions
            .iter()
            .find(|(f, _)| *f == id)
            .and_then(|(_, at)| at.get(i).copied())
    }
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
    /// Also read swapped-out and uncached pages, through the process (faults them in);
    /// without it they are holes in the dump.
    #[arg(long)]
    pub fault_in: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `memlink audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid, required_unless_present_any = ["list", "all"], conflicts_with = "all")]
    pub pid: Option<u32>,
    /// Audit every process: one line per process with findings, and how many could not be
    /// read.
    #[arg(long)]
    pub all: bool,
    /// Run these analyzers (built-in or external `memlink-analyzer-NAME`; repeatable);
    /// default: the built-in protection audit.
    #[arg(long, value_name = "NAME")]
    pub analyzer: Vec<String>,
    /// List the built-in and external analyzers.
    #[arg(long)]
    pub list: bool,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, value_parser = parse_severity, default_value = "medium", value_name = "SEVERITY")]
    pub fail_on: memlink::inspect::audit::Severity,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
    /// Do not run the protection audit (`memlink audit`) to draw its findings over the map.
    #[arg(long)]
    pub no_audit: bool,
}

/// Parses a PID: a positive decimal number.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    memlink::units::parse_pid(s).map_err(|e| e.to_string())
}

/// Formats of `memlink ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TableFormat {
    /// Aligned text with human sizes.
    #[default]
    Text,
    /// JSON with sizes in bytes.
    Json,
    /// CSV with sizes in bytes.
    Csv,
}

/// Sort keys of `memlink ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SortKey {
    /// Proportional set size, largest first.
    #[default]
    Pss,
    /// Unique set size, largest first.
    Uss,
    /// Resident set size, largest first.
    Rss,
    /// Swap, largest first.
    Swap,
    /// PID, ascending.
    Pid,
}

/// Grouping of `memlink ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PsBy {
    /// One row per process.
    #[default]
    Process,
    /// One row per user.
    User,
    /// One row per memory cgroup, with the cgroup's own figures.
    Cgroup,
    /// One row per mapped file (reads every process's smaps: slower).
    Mapping,
}

/// `memlink ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Sort key.
    #[arg(long, value_enum, default_value_t)]
    pub sort: SortKey,
    /// Only processes of this user (name or uid; repeatable).
    #[arg(long)]
    pub user: Vec<String>,
    /// Only processes whose name or command line matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub command: Option<String>,
    /// Only processes in this memory cgroup or below it.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Only this process (repeatable).
    #[arg(long, value_parser = parse_pid)]
    pub pid: Vec<u32>,
    /// Add a line of totals.
    #[arg(long)]
    pub totals: bool,
    /// Grouping.
    #[arg(long, value_enum, default_value_t)]
    pub by: PsBy,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: TableFormat,
    /// Time budget per process (e.g. 250ms); past it, optional files are skipped and the row is
    /// marked.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Budget per process for reading smaps_rollup (PSS, USS), which walks the page tables and
    /// holds up the process's mapping changes meanwhile: a process estimated to cost more is read
    /// at a slower cadence (repeated readers) or not at all (one-shot). `none`: no limit.
    #[arg(long, default_value = "5ms", value_parser = parse_rollup_budget, value_name = "DURATION|none")]
    pub rollup_budget: RollupBudget,
    /// Show at most N rows (0: all).
    #[arg(long, short = 'n', default_value_t = 0)]
    pub limit: usize,
    /// Where the cgroup filesystem is mounted.
    #[arg(long, default_value = "/sys/fs/cgroup", value_name = "DIR")]
    pub cgroup_root: std::path::PathBuf,
}

/// Sort keys of `memlink top` (and of its `>` / F6 cycle): those of `ps`, and growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TopSort {
    /// Proportional set size, largest first.
    #[default]
    Pss,
    /// Unique set size, largest first.
    Uss,
    /// Resident set size, largest first.
    Rss,
    /// Swap, largest first.
    Swap,
    /// Growth of RSS per minute (the trend of `memlink watch`), fastest first; unknown until
    /// three samples after a 10 s warm-up.
    Growth,
    /// PID, ascending.
    Pid,
}

/// Grouping of `memlink top`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TopBy {
    /// One row per process.
    #[default]
    Process,
    /// One row per user.
    User,
    /// One row per memory cgroup.
    Cgroup,
    /// One row per container (or cgroup when no container is recognised).
    Container,
}

/// `memlink top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Time between refreshes (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub delay: std::time::Duration,
    /// Sort key.
    #[arg(long, value_enum, default_value_t)]
    pub sort: TopSort,
    /// Grouping.
    #[arg(long, value_enum, default_value_t)]
    pub by: TopBy,
    /// Only this process (repeatable).
    #[arg(long, value_parser = parse_pid)]
    pub pid: Vec<u32>,
    /// How often PSS and USS are read (`smaps_rollup`, slower than `status`), e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub pss_every: std::time::Duration,
    /// How long the leaks key watches.
    #[arg(long, default_value = "30s", value_parser = parse_duration, hide = true)]
    pub leaks_duration: std::time::Duration,
}

/// Formats of `memlink watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum WatchFormat {
    /// A line per sample, then the verdict.
    #[default]
    Text,
    /// One JSON object per line: samples, then the verdict.
    Jsonl,
}

/// Thresholds of the leak rule.
#[derive(Debug, Args, Clone)]
pub struct LeakArgs {
    /// Minimum growth slope per minute for a byte component (e.g. 1MiB).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub min_slope: u64,
    /// Minimum r² of the fit (0..1).
    #[arg(long, default_value_t = 0.8)]
    pub min_r2: f64,
    /// Minimum absolute growth of a byte component over the watch.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub min_growth: u64,
    /// Minimum time span of the judged samples.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub min_span: std::time::Duration,
    /// Time at the start that is not judged (start-up allocations).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    /// Minimum growth slope of the mapping count per minute.
    #[arg(long, default_value_t = 10.0)]
    pub min_map_slope: f64,
    /// Minimum growth of the mapping count.
    #[arg(long, default_value_t = 50)]
    pub min_map_growth: u64,
}

/// `memlink watch`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("length").args(["count", "duration"])))]
pub struct WatchArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// Time between samples (200ms, 1s, 10m).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Stop after N samples.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (10m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Read the per-region view (smaps, costlier) every N samples (also on the first and last).
    #[arg(long, default_value_t = 30)]
    pub detail_every: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: WatchFormat,
    /// Exit with 1 when a leak is suspected.
    #[arg(long)]
    pub fail_on_leak: bool,
    /// Budget per process for reading smaps_rollup (PSS, USS), which walks the page tables and
    /// holds up the process's mapping changes meanwhile: a process estimated to cost more is read
    /// at a slower cadence (repeated readers) or not at all (one-shot). `none`: no limit.
    #[arg(long, default_value = "5ms", value_parser = parse_rollup_budget, value_name = "DURATION|none")]
    pub rollup_budget: RollupBudget,
    /// Leak thresholds.
    #[command(flatten)]
    pub leak: LeakArgs,
}

/// Output formats of `memlink leaks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LeaksFormat {
    /// Ranked sites with human sizes.
    #[default]
    Text,
    /// The whole report, in bytes.
    Json,
    /// Folded stacks (`outer;...;inner bytes`), for flame graph tools.
    Folded,
    /// A gzipped pprof profile (inuse_space, inuse_objects, alloc_space), for `go tool pprof`,
    /// Pyroscope, Grafana.
    Pprof,
    /// A flame graph of the outstanding bytes, as SVG.
    Svg,
}

/// `memlink leaks`.
#[derive(Debug, Args)]
pub struct LeaksArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// How long to watch (Ctrl-C ends early and still reports).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Exact mode: probe every allocation and free of the process's allocator.
    #[arg(long)]
    pub all: bool,
    /// Byte-weighted sampling of stacks: allocations of at least N bytes always carry their
    /// stack, smaller ones with probability 1-exp(-s/N). 0: every allocation's stack.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub sample_bytes: u64,
    /// Fixed seed of the sampler, for reproducible runs.
    #[arg(long, hide = true)]
    pub sample_seed: Option<u64>,
    /// Only allocations at least this old count as outstanding.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub min_age: std::time::Duration,
    /// Sites in the report.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: LeaksFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long)]
    pub force: bool,
    /// Exit with 1 when a site is judged to grow.
    #[arg(long)]
    pub fail_on_leak: bool,
    /// Time between growth samples of each site.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Leak thresholds (as `watch`; the span and warm-up are capped to the watch's length).
    #[command(flatten)]
    pub leak: LeakArgs,
}

/// `memlink snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Process ID.
    #[arg(long, value_parser = parse_pid)]
    pub pid: u32,
    /// The file to write (created with mode 0600).
    #[arg(short, long, value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `memlink diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier snapshot.
    #[arg(value_name = "A")]
    pub a: std::path::PathBuf,
    /// The later snapshot (omit with --pid to compare with the process now).
    #[arg(
        value_name = "B",
        required_unless_present = "pid",
        conflicts_with = "pid"
    )]
    pub b: Option<std::path::PathBuf>,
    /// Compare snapshot A with process PID now.
    #[arg(long, value_parser = parse_pid)]
    pub pid: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exit with 1 when anything changed.
    #[arg(long)]
    pub fail_on_change: bool,
}

/// What `memlink export` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportBy {
    /// By command name.
    #[default]
    Command,
    /// By memory cgroup.
    Cgroup,
    /// By user.
    User,
}

/// File formats of `memlink export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportFormat {
    /// Prometheus text 0.0.4 (what node_exporter's textfile collector reads).
    #[default]
    Prometheus,
    /// OpenMetrics 1.0.
    Openmetrics,
}

/// `memlink export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Serve on this address (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "IP:PORT")]
    pub listen: String,
    /// Allow a non-loopback --listen address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Write the metrics once to FILE (for node_exporter's textfile collector) instead of serving.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Format of --output (HTTP negotiates).
    #[arg(long, value_enum, default_value_t)]
    pub format: ExportFormat,
    /// Grouping of the series.
    #[arg(long, value_enum, default_value_t)]
    pub by: ExportBy,
    /// Also export one series per PID.
    #[arg(long)]
    pub per_pid: bool,
    /// Add command lines to per-PID series.
    #[arg(long, requires = "per_pid")]
    pub cmdline: bool,
    /// Read smaps_rollup for PSS and USS (costlier; budgeted by --budget).
    #[arg(long)]
    pub smaps: bool,
    /// Time budget per process.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Budget per process for reading smaps_rollup (PSS, USS), which walks the page tables and
    /// holds up the process's mapping changes meanwhile: a process estimated to cost more is read
    /// at a slower cadence (repeated readers) or not at all (one-shot). `none`: no limit.
    #[arg(long, default_value = "5ms", value_parser = parse_rollup_budget, value_name = "DURATION|none")]
    pub rollup_budget: RollupBudget,
    /// Only these processes (repeatable).
    #[arg(long, value_parser = parse_pid)]
    pub pid: Vec<u32>,
    /// Watch this process (repeatable): each scrape adds a sample and exports the growth slope.
    #[arg(long, value_parser = parse_pid)]
    pub watch: Vec<u32>,
    /// Leak thresholds for watched processes.
    #[command(flatten)]
    pub leak: LeakArgs,
}

/// A per-process budget for reading `smaps_rollup`; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupBudget(pub Option<std::time::Duration>);

/// Parses `--rollup-budget`: a duration, or `none` for no limit.
pub fn parse_rollup_budget(s: &str) -> Result<RollupBudget, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(RollupBudget(None));
    }
    parse_duration(s).map(|d| RollupBudget(Some(d)))
}

/// Parses a duration (200ms, 1s, 10m).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    memlink::overtime::watch::parse_duration(s).map_err(|e| e.to_string())
}

/// Parses a size (4096, 1MiB, 0x1000).
pub fn parse_size(s: &str) -> Result<u64, String> {
    memlink::units::parse_size(s).map_err(|e| e.to_string())
}

/// Parses a severity: info, low, medium, high or critical.
pub fn parse_severity(s: &str) -> Result<memlink::inspect::audit::Severity, String> {
    s.parse().map_err(|e: memlink::Error| e.to_string())
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
    #[arg(long, value_parser = parse_address, required_unless_present = "cleanup")]
    pub address: Option<u64>,
    /// Size: decimal, 0x hex, or with a suffix (4KiB); page-aligned.
    #[arg(long, value_parser = parse_size, required_unless_present = "cleanup")]
    pub size: Option<u64>,
    /// Remove what a link or unlink interrupted by memlink's own death left in the process
    /// (memlink memfd fds, a target mapping whose source stayed private).
    #[arg(long, conflicts_with_all = ["address", "size"])]
    pub cleanup: bool,
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
