//! memlink: look inside the memory of running processes, and link memory between them.
//!
//! The library reads a process's memory map (`/proc/PID/maps`, `smaps`, `smaps_rollup` on Linux)
//! into typed [`MemoryRegion`]s, classifies each region ([`region::classify`]), and summarises usage
//! ([`region::stats`]). Parsing is pure (bytes in, typed values out) and lives in [`proc`]; everything
//! that touches the operating system lives behind [`platform`].
//!
//! ```no_run
//! use memlink::{MemoryAnalyzer, RegionType};
//! let analyzer = MemoryAnalyzer::new(1234)?;
//! for region in analyzer.find_stack_regions()? {
//!     println!("{:#x} {} {}", region.base_address, region.size, region.region_type);
//! }
//! # Ok::<(), memlink::Error>(())
//! ```
//!
//! # The public API, by area
//!
//! Each area is one folder (or file); the command-line tool is a thin layer over these calls.
//!
//! | Area | Entry points | What it answers |
//! |------|--------------|-----------------|
//! | [`analyzer`] | [`MemoryAnalyzer`] | the regions of one process, classified, with their figures and totals |
//! | [`region`] | [`MemoryRegion`], [`RegionType`], [`TypeReason`], [`region::stats::MemoryStats`], [`region::view::RegionView`] | the model: one mapping, its type and why, summaries by type and by file, the JSON writer |
//! | [`proc`] | `proc::maps`, `proc::smaps`, `proc::stat`, `proc::status`, `proc::vocab` | pure parsers of the kernel's files, and the kernel's own vocabulary ([`Perms`], [`Usage`]) |
//! | [`platform`] | [`platform::open_process`], [`platform::regions_of`], [`platform::rollup_of`], [`platform::MemReader`] | the only code that talks to the operating system (Linux today; a clear error elsewhere) |
//! | [`link`] | [`MemoryLinker`], [`LinkRequest`], [`LinkReport`], `link::request::UnlinkRequest` | share or copy an address range between two unmodified processes, and undo it |
//! | [`inspect`] | `inspect::search::search`, `inspect::dump::dump_to`, `inspect::auditor::audit_process`, `inspect::analyzers` | search, dump and audit the contents of a live process |
//! | [`overtime`] | `overtime::ps::run`, `overtime::watch::run`, `overtime::trend::judge`, `overtime::diff::diff`, `overtime::export::Exporter` | many processes and many instants: system-wide figures, growth verdicts, snapshot differences, the OpenMetrics exporter |
//! | [`map`] | `map::MapDocument` | pictures of an address space (HTML, SVG, terminal) |
//! | [`snapshot`] | [`snapshot::Snapshot`] | a process's regions saved to a file and read back |
//! | [`files`], [`text`], [`units`] | [`files::OutFile`], [`text::terminal_safe`], [`units::format_size`] | safe output files, terminal-safe text, sizes and addresses |
//! | [`error`] | [`Error`], [`Result`] | one error type for the whole library |
//!
//! Lint levels (missing docs, `unsafe` only in the raw-call wrappers) are set for the whole
//! workspace in `Cargo.toml`.

pub mod analyzer;
pub mod error;
pub mod files;
pub mod inspect;
#[cfg(all(target_os = "linux", feature = "leaks"))]
pub mod leaks;
pub mod link;
pub mod map;
pub mod overtime;
pub mod platform;
pub mod proc;
pub mod process;
pub mod region;
pub mod snapshot;
pub mod text;
pub mod units;

pub use analyzer::MemoryAnalyzer;
pub use error::{Error, Result};
pub use link::{LinkReport, LinkRequest, MemoryLinker};
pub use process::ProcessInfo;
pub use region::stats::MemoryStats;
pub use region::view::{RegionSource, RegionView};
pub use region::{MemoryRegion, Perms, RegionType, TypeReason, Usage};
