//! Output helpers shared by commands.
