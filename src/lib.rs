//! memlink: look inside the memory of running processes, and link memory between them.
//!
//! The library reads a process's memory map (`/proc/PID/maps`, `smaps`, `smaps_rollup` on Linux)
//! into typed [`MemoryRegion`]s, classifies each region, and summarises usage. Parsing is pure
//! (bytes in, typed values out) and lives in [`proc`]; everything that touches the operating
//! system lives behind [`platform`].
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod error;
pub mod units;

pub use error::{Error, Result};
