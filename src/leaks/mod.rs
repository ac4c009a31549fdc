//! `memlink leaks`: the call stacks that hold unfreed memory in a running process, found with
//! eBPF probes (no ptrace, no restart, the target never stops).
//!
//! - [`allocator`]: which allocator the process really uses and its entry points;
//! - [`objects`]: the target's code objects, their symbols and unwind tables (`framehop`);
//! - [`sampler`]: byte-weighted sampling and its estimates;
//! - [`track`]: the live-allocation table and its sites;
//! - [`report`]: the ranked report and its text, JSON and folded forms;
//! - [`session`]: preflight refusals, attaching, the watch loop and detaching.
//!
//! Exact mode (`--all`) is implemented on every allocator [`allocator`] knows; growth mode
//! (the default) is not implemented yet and says so. See `docs/leaks.md`.

pub mod allocator;
pub mod objects;
pub mod report;
pub mod sampler;
pub mod session;
pub mod track;

pub use report::Report;
pub use session::{run, Mode, Options};
