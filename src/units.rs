//! One parser for the sizes, addresses and PIDs given on any command line, and one formatter for
//! human sizes.

use crate::error::{Error, Result};

/// Parses a PID: a positive decimal number that fits the kernel's `pid_t`.
pub fn parse_pid(s: &str) -> Result<u32> {
    let s = s.trim();
    let pid: u32 = s.parse().map_err(|_| {
        Error::InvalidArgument(format!("invalid PID {s:?}: expected a positive number"))
    })?;
    if pid == 0 {
        return Err(Error::InvalidArgument("PID 0 is not a process".into()));
    }
    if pid > i32::MAX as u32 {
        return Err(Error::InvalidArgument(format!(
            "invalid PID {s}: too large"
        )));
    }
    Ok(pid)
}
