//! `/proc/PID/stat` (and `/proc/PID/task/TID/stat`): one line of space-separated fields whose
//! second field, the command name in parentheses, may itself contain spaces and parentheses.

use crate::error::{Error, Result};

use super::parse_dec;

/// The kernel's `PF_KTHREAD` flag in field 9.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `stat` that memlink uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Field 1: PID.
    pub pid: u32,
    /// Field 2: command name (up to 15 bytes, as bytes).
    pub comm: Vec<u8>,
    /// Field 3: state letter (`R`, `S`, `D`, `T`, `t`, `Z`, `X`, `I`...).
    pub state: u8,
    /// Field 4: parent PID.
    pub ppid: u32,
    /// Field 9: `PF_*` flags.
    pub flags: u64,
    /// Field 20: number of threads.
    pub num_threads: u64,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
    /// Field 23: virtual memory size in bytes.
    pub vsize: u64,
    /// Field 24: resident set size in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// A zombie (`Z`) or dead (`X`) task.
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }

    /// A kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses a `stat` line.
pub fn parse(bytes: &[u8]) -> Result<Stat> {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let err = |m: &str| Error::parse("stat", 1, m, line);
    let open = memchr::memchr(b'(', line).ok_or_else(|| err("no '(' before the command"))?;
    let close = memchr::memrchr(b')', line).ok_or_else(|| err("no ')' after the command"))?;
    if close < open {
        return Err(err("unbalanced parentheses"));
    }
    let pid = parse_dec(line[..open].strip_suffix(b" ").unwrap_or(&line[..open]))
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| err("bad pid"))?;
    let comm = line[open + 1..close].to_vec();
    // Fields from 3 on; index 0 here is field 3.
    let rest: Vec<&[u8]> = line[close + 1..]
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    let field = |n: usize| -> Result<u64> {
        rest.get(n - 3)
            .and_then(|f| parse_dec(f))
            .ok_or_else(|| err(&format!("bad or missing field {n}")))
    };
    let state = *rest
        .first()
        .and_then(|s| s.first())
        .ok_or_else(|| err("missing state"))?;
    Ok(Stat {
        pid,
        comm,
        state,
        ppid: field(4)? as u32,
        flags: field(9)?,
        num_threads: field(20)?,
        start_time: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kthread() {
        let s = parse(b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 31 0 0 18446744073709551615 0 0\n").unwrap();
        assert_eq!(s.pid, 2);
        assert_eq!(s.comm, b"kthreadd");
        assert!(s.is_kernel_thread());
        assert!(!s.is_zombie());
    }

    #[test]
    fn odd_comm() {
        let s = parse(b"77 (a) b (c) Z 1 77 77 0 -1 4194316 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 0\n")
            .unwrap();
        assert_eq!(s.comm, b"a) b (c");
        assert!(s.is_zombie());
        assert_eq!(s.start_time, 500);
        assert!(parse(b"77 (a S 1").is_err());
        assert!(parse(b"").is_err());
    }
}
