//! `/proc/PID/status`: `Key:\tvalue` lines.

use crate::error::{Error, Result};

use super::{parse_dec, split_once};

/// The fields of `status` that memlink uses. Sizes are in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// `Name` (the kernel escapes `\n` and `\\` in it), as bytes.
    pub name: Vec<u8>,
    /// First letter of `State`.
    pub state: u8,
    /// `Tgid`.
    pub tgid: u32,
    /// `PPid`.
    pub ppid: u32,
    /// `TracerPid` (0 when not traced).
    pub tracer_pid: u32,
    /// `Uid`: real, effective, saved, filesystem.
    pub uid: [u32; 4],
    /// `Gid`: real, effective, saved, filesystem.
    pub gid: [u32; 4],
    /// `NSpid`: the PID in each nested PID namespace, outermost first.
    pub ns_pid: Vec<u32>,
    /// `Kthread` (kernels from 6.x), when present.
    pub kthread: Option<bool>,
    /// `Threads`.
    pub threads: u64,
    /// `VmSize`.
    pub vm_size: u64,
    /// `VmRSS`.
    pub vm_rss: u64,
    /// `RssAnon`.
    pub rss_anon: u64,
    /// `RssFile`.
    pub rss_file: u64,
    /// `RssShmem`.
    pub rss_shmem: u64,
    /// `VmSwap`.
    pub vm_swap: u64,
    /// `VmLck`.
    pub vm_lck: u64,
    /// `VmPin`.
    pub vm_pin: u64,
    /// `Seccomp`: 0 none, 1 strict, 2 filter.
    pub seccomp: u8,
    /// `SigPnd`: signals pending for this thread.
    pub sig_pnd: u64,
    /// `SigBlk`: blocked signals.
    pub sig_blk: u64,
}

fn first_word(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii_start();
    let end = v
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(v.len());
    &v[..end]
}

fn kb(v: &[u8]) -> Option<u64> {
    parse_dec(first_word(v)).map(|n| n.saturating_mul(1024))
}

fn ids(v: &[u8]) -> Vec<u32> {
    v.split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .filter_map(|w| parse_dec(w).and_then(|n| u32::try_from(n).ok()))
        .collect()
}

fn four(v: &[u8]) -> [u32; 4] {
    let v = ids(v);
    [0, 1, 2, 3].map(|i| v.get(i).copied().unwrap_or(0))
}

/// Parses `status`.
pub fn parse(bytes: &[u8]) -> Result<Status> {
    let mut s = Status::default();
    for (n, line) in super::lines(bytes) {
        let Some((key, value)) = split_once(line, b':') else {
            return Err(Error::parse("status", n, "expected 'Key: value'", line));
        };
        let bad = || Error::parse("status", n, "bad value", line);
        let num = || {
            parse_dec(first_word(value))
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(bad)
        };
        let hex = || super::parse_hex(first_word(value)).ok_or_else(bad);
        match key {
            b"Name" => s.name = value.strip_prefix(b"\t").unwrap_or(value).to_vec(),
            b"State" => s.state = *first_word(value).first().ok_or_else(bad)?,
            b"Tgid" => s.tgid = num()?,
            b"PPid" => s.ppid = num()?,
            b"TracerPid" => s.tracer_pid = num()?,
            b"Uid" => s.uid = four(value),
            b"Gid" => s.gid = four(value),
            b"NSpid" => s.ns_pid = ids(value),
            b"Kthread" => s.kthread = Some(num()? != 0),
            b"Threads" => s.threads = num()? as u64,
            b"VmSize" => s.vm_size = kb(value).ok_or_else(bad)?,
            b"VmRSS" => s.vm_rss = kb(value).ok_or_else(bad)?,
            b"RssAnon" => s.rss_anon = kb(value).ok_or_else(bad)?,
            b"RssFile" => s.rss_file = kb(value).ok_or_else(bad)?,
            b"RssShmem" => s.rss_shmem = kb(value).ok_or_else(bad)?,
            b"VmSwap" => s.vm_swap = kb(value).ok_or_else(bad)?,
            b"VmLck" => s.vm_lck = kb(value).ok_or_else(bad)?,
            b"VmPin" => s.vm_pin = kb(value).ok_or_else(bad)?,
            b"Seccomp" => s.seccomp = num()? as u8,
            b"SigPnd" => s.sig_pnd = hex()?,
            b"SigBlk" => s.sig_blk = hex()?,
            _ => {}
        }
    }
    if s.tgid == 0 {
        return Err(Error::parse("status", 1, "no Tgid line", bytes));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        let s = parse(b"Name:\todd\nState:\tT (stopped)\nTgid:\t6683\nPid:\t6683\nPPid:\t6673\nTracerPid:\t0\nUid:\t0\t1\t2\t3\nNSpid:\t6683\t7\nVmRSS:\t    2460 kB\nSeccomp:\t2\nSigBlk:\t0000000080000000\nThreads:\t4\n").unwrap();
        assert_eq!(s.name, b"odd");
        assert_eq!(s.state, b'T');
        assert_eq!(s.tgid, 6683);
        assert_eq!(s.uid, [0, 1, 2, 3]);
        assert_eq!(s.ns_pid, vec![6683, 7]);
        assert_eq!(s.vm_rss, 2460 * 1024);
        assert_eq!(s.seccomp, 2);
        assert_eq!(s.sig_blk, 1 << 31);
        assert_eq!(s.threads, 4);
    }

    #[test]
    fn errors() {
        assert!(parse(b"Name odd\n").is_err());
        assert!(parse(b"Tgid:\tx\n")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        assert!(parse(b"Name:\tx\n").is_err(), "no Tgid");
    }
}
