//! Integration tests: one binary, one module per area, all against real processes.

mod support;

mod audit;
mod bad_input;
mod captures;
mod dump;
mod export;
mod generate;
mod layout;
mod link;
mod map;
mod math;
mod outfile;
mod ps;
mod regions;
mod regression;
mod search;
mod snapshot;
mod top;
mod watch;
