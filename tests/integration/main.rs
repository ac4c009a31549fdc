//! Integration tests: one binary, one module per area, all against real processes.

mod support;

mod audit;
mod bad_input;
mod captures;
mod dump;
mod math;
mod regions;
mod search;
