//! Integration tests: one binary, one module per area, all against real processes.

mod support;

mod bad_input;
mod captures;
mod export;
mod math;
mod ps;
mod regions;
mod snapshot;
mod watch;
