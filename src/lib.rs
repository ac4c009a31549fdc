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
#![deny(missing_docs)]
#![deny(unsafe_code)]

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
