//! memlink: look inside the memory of running processes, and link memory between them.
//!
//! The library reads a process's memory map (`/proc/PID/maps`, `smaps`, `smaps_rollup` on Linux)
//! into typed [`MemoryRegion`]s, classifies each region ([`classify`]), and summarises usage
//! ([`stats`]). Parsing is pure (bytes in, typed values out) and lives in [`proc`]; everything
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
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod analysis;
pub mod analyzer;
pub mod cgroup;
pub mod classify;
pub mod diff;
#[cfg(target_os = "linux")]
pub mod dump;
pub mod error;
#[cfg(target_os = "linux")]
pub mod export;
pub mod json;
pub mod linker;
pub mod map;
pub mod memory;
pub mod platform;
pub mod proc;
pub mod process;
#[cfg(target_os = "linux")]
pub mod ps;
#[cfg(target_os = "linux")]
pub mod search;
pub mod security;
pub mod snapshot;
pub mod stats;
pub mod trend;
pub mod units;
pub mod view;
pub mod watch;

pub use analyzer::MemoryAnalyzer;
pub use error::{Error, Result};
pub use linker::{LinkReport, LinkRequest, MemoryLinker};
pub use memory::{MemoryRegion, Perms, RegionType, TypeReason, Usage};
pub use process::ProcessInfo;
pub use stats::MemoryStats;
pub use view::{RegionSource, RegionView};
