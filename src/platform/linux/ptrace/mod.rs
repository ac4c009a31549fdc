//! ptrace machinery: the tracee guard ([`tracee`]), the remote system call primitive
//! ([`remote`]) and the raw calls `nix` lacks ([`sys`]).
//!
//! Tested on x86_64 only; other architectures get `Error::Unsupported` from [`remote`].

pub mod frame;
pub mod remote;
pub mod sys;
pub mod tracee;

pub use tracee::{ProcId, Session};
