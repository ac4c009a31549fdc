//! `/proc/PID/task/TID/syscall`: what a thread is doing, and its stack pointer.
//!
//! ```text
//! 34 0x0 0x0 0x2 0x7f6867976fe8 0x0 0x7ffea4da2e37 0x7ffea4da2f00 0x7f6867a3cdf2   (in syscall 34)
//! -1 0x7ffea4da2f00 0x7f6867a3cdf2                                                  (blocked, not in a syscall)
//! running                                                                           (on a CPU)
//! ```
//! The stack pointer is the second-to-last field when the thread is blocked.

use crate::error::{Error, Result};

use super::parse_hex;

/// A thread's state as `syscall` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallState {
    /// On a CPU: no registers to report.
    Running,
    /// Blocked; `nr` is the syscall number, or `None` when not in a syscall.
    Blocked {
        /// Syscall number.
        nr: Option<u64>,
        /// Stack pointer.
        sp: u64,
        /// Instruction pointer.
        pc: u64,
    },
}

/// Parses `task/TID/syscall`.
pub fn parse_syscall(bytes: &[u8]) -> Result<SyscallState> {
    let line = bytes.trim_ascii_end();
    if line == b"running" {
        return Ok(SyscallState::Running);
    }
    let f: Vec<&[u8]> = line
        .split(|&c| c == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let err = || Error::parse("syscall", 1, "unexpected format", line);
    let hexf = |w: &[u8]| parse_hex(w.strip_prefix(b"0x").unwrap_or(w)).ok_or_else(err);
    match f.len() {
        3 if f[0] == b"-1" => Ok(SyscallState::Blocked {
            nr: None,
            sp: hexf(f[1])?,
            pc: hexf(f[2])?,
        }),
        9 => Ok(SyscallState::Blocked {
            nr: Some(super::parse_dec(f[0]).ok_or_else(err)?),
            sp: hexf(f[7])?,
            pc: hexf(f[8])?,
        }),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_syscall(b"running\n").unwrap(), SyscallState::Running);
        assert_eq!(
            parse_syscall(b"34 0x0 0x0 0x2 0x8 0x0 0x7ffea4da2e37 0x7f686295aeb0 0x7f6867a3cdf2\n")
                .unwrap(),
            SyscallState::Blocked {
                nr: Some(34),
                sp: 0x7f686295aeb0,
                pc: 0x7f6867a3cdf2
            }
        );
        assert_eq!(
            parse_syscall(b"-1 0x7ffc 0x4000\n").unwrap(),
            SyscallState::Blocked {
                nr: None,
                sp: 0x7ffc,
                pc: 0x4000
            }
        );
        assert!(parse_syscall(b"1 2 3\n").is_err());
        assert!(parse_syscall(b"").is_err());
    }
}
