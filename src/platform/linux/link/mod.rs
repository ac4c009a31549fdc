//! Linking memory between processes on Linux: the pre-flight checks ([`preflight`], pure), the
//! share-mode sequence ([`share`]), copy mode ([`copy`]), unlink ([`unlink`]) and the removal of
//! what an interrupted link leaves ([`cleanup`]).
//!
//! Everything a refusal needs is read from `/proc` before any process is stopped. Link and
//! unlink always read the default procfs, [`DEFAULT_PROC_ROOT`]: ptrace takes PIDs of memlink's
//! own PID namespace, which another procfs mount may not name.

pub mod cleanup;
pub mod copy;
pub mod preflight;
pub mod share;
pub mod unlink;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::link::request::{LinkMode, LinkPartners, LinkReport, LinkRequest, LinkedPiece};
use crate::platform::linux::procdir::ProcDir;
use crate::platform::linux::vm;
use crate::platform::DEFAULT_PROC_ROOT;
use crate::proc::smaps::{self, SmapsEntry};

use preflight::VmaPiece;

pub use super::vm::page_size;

/// The procfs that link and unlink read.
pub(crate) fn proc_root() -> &'static Path {
    Path::new(DEFAULT_PROC_ROOT)
}

/// `REL` under the procfs root (`meminfo`, `self/status`, `sys/vm/max_map_count`).
pub(crate) fn proc_path(rel: &str) -> PathBuf {
    proc_root().join(rel)
}

/// `REL` in the procfs directory of `pid` (`status`, `fd`, `task/TID/status`).
pub(crate) fn pid_path(pid: u32, rel: &str) -> PathBuf {
    proc_root().join(pid.to_string()).join(rel)
}

/// Checks a request's arguments alone.
pub fn check_args(req: &LinkRequest) -> Result<()> {
    preflight::check_args(
        req.source,
        req.target,
        req.address,
        req.target_address(),
        req.size,
        page_size(),
        std::process::id(),
    )
}

/// What the checks need to know about one process.
#[derive(Debug)]
pub struct Facts {
    /// `smaps`.
    pub smaps: Vec<SmapsEntry>,
}

/// Reads `stat`, `smaps` and `status` of `pid`, in the order that names the real cause of a
/// refusal: missing, zombie, kernel thread, unreadable map, then the status checks.
pub fn gather(pid: u32, can_suspend_seccomp: bool) -> Result<Facts> {
    gather_with(pid, can_suspend_seccomp, true)
}

/// Like [`gather`]; `flags` reads `smaps` (for `VmFlags`), otherwise the cheaper `maps`.
pub fn gather_with(pid: u32, can_suspend_seccomp: bool, flags: bool) -> Result<Facts> {
    let dir = ProcDir::open(proc_root(), pid)?;
    let stat = dir.stat()?;
    if stat.is_zombie() {
        return Err(Error::Zombie { pid });
    }
    if stat.is_kernel_thread() {
        return Err(Error::KernelThread { pid });
    }
    let bytes = dir.read_for(
        if flags { "smaps" } else { "maps" },
        "read the memory map of",
    )?;
    let status = dir.status()?;
    preflight::check_process(pid, &stat, &status, can_suspend_seccomp)?;
    // A CET user shadow stack (the leader's; the injection thread is checked again once
    // stopped) leaves no safe return path for an unsupervised thread: refused up front.
    if dir
        .read("status")
        .is_ok_and(|b| crate::platform::linux::ptrace::frame::shadow_stack_enabled(&b))
    {
        return Err(crate::platform::linux::ptrace::frame::shadow_stack_refusal(
            pid,
        ));
    }
    let smaps = if flags {
        smaps::parse(&bytes)?
    } else {
        maps_entries(&bytes)?
    };
    Ok(Facts { smaps })
}

/// The mappings of `pid` from `maps` (no figures, no `VmFlags`: much cheaper than `smaps`),
/// without the process checks. Used for the target and for the re-checks once memlink
/// traces the processes.
pub fn smaps_of(pid: u32) -> Result<Vec<SmapsEntry>> {
    let dir = ProcDir::open(proc_root(), pid)?;
    maps_entries(&dir.read_for("maps", "read the memory map of")?)
}

/// `maps` lines as entries without figures or flags.
fn maps_entries(bytes: &[u8]) -> Result<Vec<SmapsEntry>> {
    Ok(crate::proc::maps::parse(bytes)?
        .iter()
        .map(|l| SmapsEntry {
            start: l.start,
            end: l.end,
            perms: l.perms,
            offset: l.offset,
            device: l.device,
            inode: l.inode,
            pathname: l.pathname.to_vec(),
            usage: Default::default(),
            vm_flags: Vec::new(),
        })
        .collect())
}

/// The targets of `/proc/PID/fd/*` (unreadable entries are skipped).
pub fn fd_links(pid: u32) -> Vec<Vec<u8>> {
    ProcDir::open(Path::new(crate::platform::DEFAULT_PROC_ROOT), pid)
        .map(|dir| dir.fd_targets())
        .unwrap_or_default()
}

/// memlink's own PID and start time (clock ticks after boot, `stat` field 22): put in the
/// name of everything a link or unlink creates, so that a cleanup can tell a leftover of a
/// memlink that is gone from the work in flight of one that still runs (a PID alone may have
/// been reused).
pub(crate) fn owner_tag() -> String {
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or(0);
    format!("{pid}:{start}")
}

/// The start time of process `pid`, if it exists and is not a zombie.
fn start_time(pid: u32) -> Option<u64> {
    let st = ProcDir::open(proc_root(), pid)
        .and_then(|d| d.stat())
        .ok()?;
    (!st.is_zombie()).then_some(st.start_time)
}

/// True when the memlink named by `tag` (`PID:START`, see [`owner_tag`]) still runs.
pub(crate) fn owner_alive(tag: &str) -> bool {
    let Some((pid, start)) = tag.split_once(':') else {
        return false;
    };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start),
        _ => false,
    }
}

/// True when memlink has `CAP_SYS_ADMIN` (needed for `PTRACE_O_SUSPEND_SECCOMP`).
pub fn has_cap_sys_admin() -> bool {
    has_cap(21)
}

/// True when memlink has `CAP_SYS_PTRACE` (root has it): a permission hint then never
/// suggests privileges.
pub fn has_cap_sys_ptrace() -> bool {
    has_cap(19)
}

/// True when bit `cap` is set in memlink's effective capabilities (`CapEff` in `status`).
fn has_cap(cap: u32) -> bool {
    std::fs::read_to_string(proc_path("self/status"))
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

/// Replaces the "try sudo" hint of a permission error when memlink already has
/// `CAP_SYS_PTRACE`.
pub(crate) fn hint_for_caller(e: Error) -> Error {
    match e {
        Error::PermissionDenied { pid, action, hint }
            if hint.contains("sudo") && has_cap_sys_ptrace() =>
        {
            Error::PermissionDenied {
                pid,
                action,
                hint: preflight::ROOT_PTRACE_HINT,
            }
        }
        e => e,
    }
}

/// Refuses a source and target of one thread group (`--target` naming a thread of the
/// source) before anything is stopped. A PID whose `status` cannot be read is left to the
/// later checks, which name the real cause.
fn check_thread_groups(req: &LinkRequest) -> Result<()> {
    let tgid = |pid: u32| ProcDir::open(proc_root(), pid).and_then(|d| d.status());
    if let (Ok(s), Ok(t)) = (tgid(req.source), tgid(req.target)) {
        preflight::check_thread_groups(req.source, s.tgid, req.target, t.tgid, std::process::id())?;
    }
    Ok(())
}

pub(crate) fn report_pieces(pieces: &[VmaPiece]) -> Vec<LinkedPiece> {
    pieces
        .iter()
        .map(|p| LinkedPiece {
            start: p.start,
            end: p.end,
            perms: String::from_utf8_lossy(&p.perms.as_bytes()[..3]).into_owned(),
        })
        .collect()
}

/// Runs a link request (already validated).
pub fn link(req: &LinkRequest) -> Result<LinkReport> {
    link_inner(req).map_err(hint_for_caller)
}

fn link_inner(req: &LinkRequest) -> Result<LinkReport> {
    let started = Instant::now();
    check_thread_groups(req)?;
    let suspend = has_cap_sys_admin();
    match req.mode {
        LinkMode::Copy => copy::copy(req, started),
        LinkMode::Share => {
            if !cfg!(target_arch = "x86_64") {
                return Err(Error::Unsupported {
                    op: "share-mode linking",
                    platform: std::env::consts::ARCH,
                });
            }
            let plan = share::plan(req, suspend)?;
            if req.dry_run {
                return Ok(share::dry_report(req, &plan, started));
            }
            share::run(req, plan, suspend, started)
        }
    }
}

/// A hash of `[address, address+size)` of `pid`, read in 8 MiB chunks.
pub fn hash_range(pid: u32, address: u64, size: u64) -> Result<u64> {
    const CHUNK: u64 = 8 << 20;
    let mut buf = vec![0u8; CHUNK.min(size) as usize];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut off = 0;
    while off < size {
        let len = CHUNK.min(size - off) as usize;
        let n = vm::read(pid, address + off, &mut buf[..len])
            .map_err(|e| Error::from_errno(pid, "read the memory of", e.into()))?;
        if n != len {
            return Err(Error::Unmapped {
                pid,
                start: address + off + n as u64,
                end: address + size,
            });
        }
        for w in buf[..len].chunks(8) {
            let mut v = [0u8; 8];
            v[..w.len()].copy_from_slice(w);
            h = (h ^ u64::from_le_bytes(v)).wrapping_mul(0x100_0000_01b3);
            h ^= h >> 29;
        }
        off += len as u64;
    }
    Ok(h)
}

/// See [`crate::link::link_partners`].
pub fn partners(pid: u32) -> Result<Vec<LinkPartners>> {
    let dir = ProcDir::open_live(proc_root(), pid)?;
    let own = dir.read_for("maps", "read the memory map of")?;
    let own = crate::proc::maps::parse(&own)?;
    let mut wanted: HashMap<(u32, u32, u64), Vec<usize>> = HashMap::new();
    let mut out: Vec<LinkPartners> = Vec::new();
    for l in own.iter().filter(|l| {
        l.perms.contains(crate::region::Perms::SHARED) && l.pathname.starts_with(b"/memfd:")
    }) {
        wanted
            .entry((l.device.major, l.device.minor, l.inode))
            .or_default()
            .push(out.len());
        out.push(LinkPartners {
            start: l.start,
            end: l.end,
            name: String::from_utf8_lossy(l.pathname).into_owned(),
            partners: Vec::new(),
        });
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let rd = std::fs::read_dir(proc_root()).map_err(|e| Error::File {
        path: proc_root().into(),
        source: e,
    })?;
    for e in rd.filter_map(|e| e.ok()) {
        let Some(other) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if other == pid {
            continue;
        }
        let Ok(bytes) = std::fs::read(pid_path(other, "maps")) else {
            continue;
        };
        let Ok(lines) = crate::proc::maps::parse(&bytes) else {
            continue;
        };
        for l in lines {
            if let Some(idx) = wanted.get(&(l.device.major, l.device.minor, l.inode)) {
                if l.pathname.starts_with(b"/memfd:") {
                    for &i in idx {
                        if !out[i].partners.contains(&other) {
                            out[i].partners.push(other);
                        }
                    }
                }
            }
        }
    }
    out.retain(|p| !p.partners.is_empty());
    for p in &mut out {
        p.partners.sort_unstable();
    }
    Ok(out)
}
