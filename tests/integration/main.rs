//! Integration tests: one binary, one module per area, all against real processes.

mod support;

mod audit;
mod bad_input;
mod captures;
mod dump;
mod export;
mod exporter;
mod generate;
mod integrity;
mod layout;
mod leaks;
mod link;
mod linkkill;
mod linksafe;
mod map;
mod math;
mod outfile;
mod ps;
mod reading;
mod regions;
mod regression;
mod search;
mod snapshot;
mod top;
mod truth;
mod watch;
