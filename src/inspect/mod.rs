//! Looking into a live process's memory without stopping it: pattern [`search`], region
//! [`dump`]s, the protection and integrity [`audit`], and the [`analyzers`] extension point that
//! runs the audit, the summary and external analyzers over one snapshot.

pub mod analyzers;
pub mod audit;
#[cfg(target_os = "linux")]
pub mod dump;
#[cfg(target_os = "linux")]
pub mod search;
