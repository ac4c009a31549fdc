//! Looking into a live process's memory without stopping it: pattern [`search`], region
//! [`dump`]s, the protection and integrity [`audit`], the [`analyzers`] extension point that
//! runs the audit, the summary and external analyzers over one snapshot, and the [`auditor`]
//! that runs an audit request over a live process.
//!
//! Memory is read through the analyzer's process handle
//! ([`MemoryAnalyzer::memory`](crate::MemoryAnalyzer::memory)), so every command here honours
//! a procfs root other than `/proc`.

pub mod analyzers;
pub mod audit;
pub mod auditor;
#[cfg(target_os = "linux")]
pub mod dump;
#[cfg(target_os = "linux")]
pub mod integrity;
#[cfg(target_os = "linux")]
pub mod search;
