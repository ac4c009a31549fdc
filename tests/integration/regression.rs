//! Regression tests: one test per bug fixed, each named after the behaviour it pins (what must
//! stay true), with a line saying what went wrong before the fix. A test goes here when the fix
//! has no better home in an area's test file; either way, it runs against the real binary or a
//! real process, like the rest of the suite.
//!
//! Add new tests at the end of the file.
