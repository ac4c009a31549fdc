//! `memlink unlink --cleanup --pid P`: removes what a link or unlink interrupted by memlink's
//! own death (SIGKILL, the OOM killer) left in P, returning P to its state before that link.
//!
//! What is removed, and why it is safe:
//! * every fd of P that points at a memfd named `memlink-link:S:A`: no finished link leaves
//!   one (the cleanup step closes them), so such an fd is a leftover;
//! * every mapping of such a memfd in P when P is not S and S does not map the same memfd
//!   (same inode): the link stopped before its point of no return (the source stayed
//!   private), so P never had the range in use. A mapping that S maps too is a link that
//!   stands and is kept; one without a leftover fd in P is a finished link and is kept.
//!
//! * every fd of P that points at a memfd named `memlink-unlink:P:A:TMP:N:...` (the marker of
//!   an interrupted unlink), and the temporary range `[TMP, TMP+N)` it names when that still
//!   lies in one private anonymous mapping (the kernel may merge it with a neighbour) and `A`
//!   is still the shared memfd
//!   (the unlink's `mremap` did not run: the range could not have been reused by P, which
//!   does not know it).
//!
//! Another memlink's work in flight is never touched: every name carries the PID and start
//! time of the memlink that made it, and a leftover whose memlink still runs is kept; besides,
//! a link or unlink holds every process it changes stopped under ptrace, and the cleanup must
//! seize P itself, which the kernel then refuses ("already traced").

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link::request::{UnlinkReport, UnlinkRequest};
use crate::platform::linux::procdir::ProcDir;
use crate::platform::linux::ptrace::remote::nr;
use crate::platform::linux::ptrace::Session;
use crate::region::Perms;

use super::{gather, has_cap_sys_admin, pid_path, proc_root, smaps_of};

const TIMEOUT: Duration = Duration::from_secs(30);
const PREFIX: &[u8] = b"/memfd:memlink-link:";
const UNLINK_PREFIX: &[u8] = b"/memfd:memlink-unlink:";

/// What a cleanup removes from one process.
#[derive(Debug, Default, PartialEq, Eq)]
struct Leftovers {
    /// Leftover fds: (fd, inode, name).
    fds: Vec<(u64, u64, String)>,
    /// Leftover mappings: (start, end, name).
    maps: Vec<(u64, u64, String)>,
}

impl Leftovers {
    fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.maps.is_empty()
    }

    fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .maps
            .iter()
            .map(|(s, e, n)| format!("mapping {s:#x}-{e:#x} ({} bytes) of {n}", e - s))
            .collect();
        out.extend(self.fds.iter().map(|(fd, _, n)| format!("fd {fd} ({n})")));
        out
    }
}

/// The colon-separated fields after `prefix` in a memfd path (` (deleted)` removed).
fn fields<'p>(path: &'p [u8], prefix: &[u8]) -> Option<Vec<&'p str>> {
    let rest = path.strip_prefix(prefix)?;
    let rest = rest.strip_suffix(b" (deleted)").unwrap_or(rest);
    Some(std::str::from_utf8(rest).ok()?.split(':').collect())
}

/// The source PID in a memfd path `/memfd:memlink-link:S:A:PID:START (deleted)`.
fn source_of(path: &[u8]) -> Option<u32> {
    fields(path, PREFIX)?.first()?.parse().ok()
}

/// The memlink (`PID:START`) that made a memfd, from the last two fields of its name; `None`
/// for a name without them.
fn owner_of(path: &[u8]) -> Option<String> {
    let f = fields(path, PREFIX).or_else(|| fields(path, UNLINK_PREFIX))?;
    let n = f.len();
    let want = if path.starts_with(PREFIX) { 4 } else { 6 };
    (n == want).then(|| format!("{}:{}", f[n - 2], f[n - 1]))
}

/// The temporary range `(A, TMP, N)` an unlink marker names.
fn unlink_marker(path: &[u8]) -> Option<(u64, u64, u64)> {
    let f = fields(path, UNLINK_PREFIX)?;
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    match f.as_slice() {
        [_, a, tmp, n, _, _] => Some((hex(a)?, hex(tmp)?, hex(n)?)),
        _ => None,
    }
}

/// True when a memfd path belongs to a memlink that still runs: its work is in flight.
fn in_flight(path: &[u8]) -> bool {
    owner_of(path).is_some_and(|o| super::owner_alive(&o))
}

/// Finds the leftovers in `pid` from `/proc` (see the module docs).
fn find(pid: u32) -> Result<Leftovers> {
    let dir = ProcDir::open_live(proc_root(), pid)?;
    let mut out = Leftovers::default();
    let fd_dir = pid_path(pid, "fd");
    let rd =
        std::fs::read_dir(&fd_dir).map_err(|e| Error::from_errno(pid, "list the fds of", e))?;
    for e in rd.filter_map(|e| e.ok()) {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let t = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()).to_vec();
        if !(t.starts_with(PREFIX) || t.starts_with(UNLINK_PREFIX)) || in_flight(&t) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        out.fds
            .push((fd, meta.ino(), String::from_utf8_lossy(&t).into_owned()));
    }
    let inodes: HashSet<u64> = out.fds.iter().map(|f| f.1).collect();
    drop(dir);
    let maps = smaps_of(pid)?;
    for (_, _, name) in &out.fds {
        let Some((a, tmp, n)) = unlink_marker(name.as_bytes()) else {
            continue;
        };
        let still_shared = maps.iter().any(|m| {
            m.start <= a
                && a < m.end
                && m.perms.contains(Perms::SHARED)
                && m.pathname.starts_with(b"/memfd:")
        });
        // The kernel may have merged the range with a neighbour of the same kind: it lies
        // inside one private anonymous mapping.
        let tmp_is_ours = maps.iter().any(|m| {
            m.start <= tmp
                && tmp.saturating_add(n) <= m.end
                && m.inode == 0
                && m.pathname.is_empty()
                && !m.perms.contains(Perms::SHARED)
        });
        if still_shared && tmp_is_ours {
            out.maps
                .push((tmp, tmp + n, format!("the temporary range of {name}")));
        }
    }
    for m in maps {
        if !m.pathname.starts_with(PREFIX) || !inodes.contains(&m.inode) {
            continue;
        }
        let Some(src) = source_of(&m.pathname) else {
            continue;
        };
        if src == pid {
            continue;
        }
        let source_maps_it = smaps_of(src).is_ok_and(|sm| {
            sm.iter()
                .any(|e| e.inode == m.inode && e.perms.contains(Perms::SHARED))
        });
        if !source_maps_it {
            out.maps.push((
                m.start,
                m.end,
                String::from_utf8_lossy(&m.pathname).into_owned(),
            ));
        }
    }
    Ok(out)
}

/// Runs a cleanup request: finds the leftovers, and unless it is a dry run (or there are
/// none) stops P and removes them with injected `munmap` and `close` calls.
pub fn cleanup(req: &UnlinkRequest) -> Result<UnlinkReport> {
    let started = Instant::now();
    let pid = req.pid;
    super::unlink::check_args(&UnlinkRequest::new(pid, 0, super::page_size()))?;
    let suspend = has_cap_sys_admin();
    // A traced process whose only memlink objects belong to a memlink in flight (the tracer)
    // has nothing to clean: it is then neither refused nor stopped.
    let found = match gather(pid, suspend) {
        Ok(_) => find(pid)?,
        Err(e @ Error::Refused { .. }) if e.to_string().contains("already traced") => {
            let found = find(pid)?;
            if !found.is_empty() {
                return Err(e);
            }
            found
        }
        Err(e) => return Err(e),
    };
    let mut report = UnlinkReport {
        pid,
        address: 0,
        size: 0,
        dry_run: req.dry_run,
        pieces: Vec::new(),
        bytes_copied: 0,
        removed: found.lines(),
        elapsed_us: 0,
    };
    if req.dry_run || found.is_empty() {
        report.elapsed_us = started.elapsed().as_micros() as u64;
        return Ok(report);
    }
    let mut tracees = Session::new(suspend);
    let id = tracees.stop(pid, true)?;
    // Found again now that P cannot change: only what is still there is removed.
    let found = find(pid)?;
    tracees.prepare(id)?;
    let mut call = |nr: u64, args: [u64; 6], what: String| -> Result<()> {
        let r = tracees.remote_syscall(id, nr, args, TIMEOUT)?;
        if (-4095..0).contains(&r) {
            return Err(Error::Os {
                op: format!("process {pid}: {what}"),
                source: std::io::Error::from_raw_os_error(-r as i32),
            });
        }
        Ok(())
    };
    for (s, e, n) in &found.maps {
        call(
            nr::MUNMAP,
            [*s, e - s, 0, 0, 0, 0],
            format!("munmap {s:#x} ({n})"),
        )?;
    }
    for (fd, _, n) in &found.fds {
        call(
            nr::CLOSE,
            [*fd, 0, 0, 0, 0, 0],
            format!("close fd {fd} ({n})"),
        )?;
    }
    drop(tracees);
    report.removed = found.lines();
    report.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_pid_from_the_memfd_name() {
        assert_eq!(
            source_of(b"/memfd:memlink-link:123:7f00 (deleted)"),
            Some(123)
        );
        assert_eq!(source_of(b"/memfd:memlink-demo (deleted)"), None);
        assert_eq!(source_of(b"/memfd:memlink-link:x:7f00"), None);
        assert_eq!(
            source_of(b"/memfd:memlink-link:123:7f00:456:789 (deleted)"),
            Some(123)
        );
    }

    #[test]
    fn owner_and_marker_from_the_names() {
        assert_eq!(
            owner_of(b"/memfd:memlink-link:123:7f00:456:789 (deleted)").as_deref(),
            Some("456:789")
        );
        // A name from before the owner was recorded has none.
        assert_eq!(owner_of(b"/memfd:memlink-link:123:7f00 (deleted)"), None);
        let m = b"/memfd:memlink-unlink:123:7f00:7e00:4000:456:789 (deleted)";
        assert_eq!(owner_of(m).as_deref(), Some("456:789"));
        assert_eq!(unlink_marker(m), Some((0x7f00, 0x7e00, 0x4000)));
        assert_eq!(unlink_marker(b"/memfd:memlink-unlink:123:7f00"), None);
        // This process runs: its own tag is in flight; a start time that is not its own is not.
        let me = super::super::owner_tag();
        assert!(super::super::owner_alive(&me));
        let pid = std::process::id();
        assert!(!super::super::owner_alive(&format!("{pid}:1")));
        assert!(!super::super::owner_alive("x:1"));
    }
}
