//! `memlink leaks`: the call stacks that hold unfreed memory in a running process, found with
//! eBPF probes (no ptrace, no restart, the target never stops).
//!
//! - [`allocator`]: which allocator the process really uses and its entry points;
//! - [`objects`]: the target's code objects, their symbols and unwind tables (`framehop`);
//! - [`sampler`]: byte-weighted sampling and its estimates;
//! - [`track`]: exact mode's live-allocation table and its sites;
//! - [`growth`]: growth mode's model of the ranges grown during the watch and their sites;
//! - [`report`]: the ranked report and its text, JSON and folded forms;
//! - [`export`]: the report as a gzipped pprof profile and as a flame graph SVG;
//! - [`session`]: preflight refusals, attaching, the watch loop and detaching.
//!
//! Growth mode (the default) watches the system calls that grow the address space and needs
//! no allocator support; exact mode (`--all`) probes every allocator [`allocator`] knows. See
//! `docs/leaks.md`.

pub mod allocator;
pub mod export;
pub mod growth;
pub mod objects;
pub mod report;
pub mod sampler;
pub mod session;
pub mod track;

pub use report::Report;
pub use session::{run, Mode, Options};
