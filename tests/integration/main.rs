//! Integration tests: one binary, one module per area, all against real processes.

mod support;

mod bad_input;
mod captures;
mod link;
mod math;
mod regions;
