//! Memory over time and across the host: the system-wide table ([`ps`]) with its [`cgroup`]s and
//! containers, [`watch`]ing one process with the leak rule of [`trend`], the [`diff`] of two
//! snapshots, and the metrics [`export`]er. Every repeated reader keeps to the per-target
//! [`rollup`] budget.

pub mod cgroup;
pub mod diff;
#[cfg(target_os = "linux")]
pub mod export;
#[cfg(target_os = "linux")]
pub mod ps;
pub mod rollup;
pub mod trend;
pub mod watch;
