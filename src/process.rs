//! Facts about a process as a whole.

use serde::{Deserialize, Serialize};

/// Facts about a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// PID, as the procfs root numbers it (memlink's own PID namespace for `/proc`).
    pub pid: u32,
    /// Command name (non-UTF-8 bytes as `\xNN`).
    pub name: String,
    /// State letter (`R`, `S`, `D`, `T`, `Z`...).
    pub state: char,
    /// Parent PID.
    pub ppid: u32,
    /// Real user ID.
    pub uid: u32,
    /// Number of threads.
    pub threads: u64,
    /// PID of the tracer, 0 when not traced.
    pub tracer_pid: u32,
    /// PID inside the process's own (innermost) PID namespace.
    pub ns_pid: u32,
    /// A kernel thread (no user memory).
    pub kernel_thread: bool,
    /// Start time in clock ticks after boot (with the PID, identifies the process).
    pub start_time: u64,
}
