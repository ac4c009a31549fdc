//! Pre-flight checks of a link, copy or unlink: pure functions over parsed `/proc` data, so that
//! every refusal can be tested on captured data, including cases this machine cannot produce
//! (RDMA, VFIO, hugetlb, Yama, seccomp). Nothing here touches a process.

use crate::error::{Error, Result};
use crate::proc::smaps::SmapsEntry;
use crate::proc::stat::Stat;
use crate::proc::status::Status;
use crate::region::{Perms, VmFlag};

/// Highest user address on x86_64 with 4-level page tables (47 bits).
pub const USER_SPACE_END: u64 = 0x7fff_ffff_f000;

/// The part of one VMA that lies inside the linked (or unlinked) range, with its protection:
/// each piece keeps its own protection after the remap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaPiece {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Its permissions (`r`, `w`, `x`; `s`/`p` as found).
    pub perms: Perms,
}

impl VmaPiece {
    /// The `PROT_*` bits (`Perms` uses the same values for r/w/x).
    pub fn prot(&self) -> u64 {
        (self.perms & (Perms::READ | Perms::WRITE | Perms::EXEC)).bits() as u64
    }
}

/// The hint for a `PTRACE_SEIZE` refused with `EPERM`, given `kernel.yama.ptrace_scope` and
/// whether memlink holds `CAP_SYS_PTRACE` (root does): to a privileged caller the hint names
/// what can still refuse it instead of suggesting privileges it already has.
pub fn yama_hint(scope: Option<u32>, privileged: bool) -> &'static str {
    match (scope, privileged) {
        (Some(3), _) => "kernel.yama.ptrace_scope is 3: tracing is disabled until reboot",
        (_, true) => ROOT_PTRACE_HINT,
        (Some(1), false) => {
            "kernel.yama.ptrace_scope is 1: only descendants (or processes that allowed it with \
             PR_SET_PTRACER) can be traced without CAP_SYS_PTRACE"
        }
        (Some(2), false) => {
            "kernel.yama.ptrace_scope is 2: tracing needs CAP_SYS_PTRACE (try sudo)"
        }
        _ => crate::error::PTRACE_HINT,
    }
}

/// The permission hint for a caller that already has `CAP_SYS_PTRACE`.
pub const ROOT_PTRACE_HINT: &str = "memlink already has CAP_SYS_PTRACE, so neither the user nor \
kernel.yama.ptrace_scope refused it: a security module (SELinux, AppArmor), kernel lockdown or \
another tracer did";

/// Refuses a source and a target that are threads of one thread group (`tgid` from
/// `status`), or a thread of memlink itself, before anything is stopped.
pub fn check_thread_groups(
    source: u32,
    source_tgid: u32,
    target: u32,
    target_tgid: u32,
    self_pid: u32,
) -> Result<()> {
    if source_tgid == target_tgid {
        return Err(Error::InvalidArgument(format!(
            "source {source} and target {target} are threads of the same process ({source_tgid})"
        )));
    }
    for (p, g) in [(source, source_tgid), (target, target_tgid)] {
        if g == self_pid {
            return Err(Error::InvalidArgument(format!(
                "process {p} is a thread of memlink itself"
            )));
        }
    }
    Ok(())
}

/// Checks the arguments alone: sizes, alignment, user-space bounds, distinct processes.
pub fn check_args(
    source: u32,
    target: u32,
    address: u64,
    target_address: u64,
    size: u64,
    page: u64,
    self_pid: u32,
) -> Result<()> {
    if size == 0 {
        return Err(Error::InvalidArgument("size must not be 0".into()));
    }
    for (what, v) in [
        ("address", address),
        ("target address", target_address),
        ("size", size),
    ] {
        if v % page != 0 {
            return Err(Error::InvalidArgument(format!(
                "{what} {v:#x} is not a multiple of the page size ({page} bytes)"
            )));
        }
    }
    for (what, a) in [("address", address), ("target address", target_address)] {
        match a.checked_add(size) {
            Some(end) if end <= USER_SPACE_END => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{what} range {a:#x} + {size:#x} overflows user space (ends at {USER_SPACE_END:#x})"
                )))
            }
        }
    }
    if source == target {
        return Err(Error::InvalidArgument(format!(
            "source and target are the same process ({source})"
        )));
    }
    for p in [source, target] {
        if p == self_pid {
            return Err(Error::InvalidArgument(format!(
                "process {p} is memlink itself"
            )));
        }
    }
    Ok(())
}

/// Checks one process from its `stat` and `status`, in the order that names the real cause.
/// `can_suspend_seccomp`: memlink has `CAP_SYS_ADMIN` and will seize with
/// `PTRACE_O_SUSPEND_SECCOMP`.
pub fn check_process(
    pid: u32,
    stat: &Stat,
    status: &Status,
    can_suspend_seccomp: bool,
) -> Result<()> {
    if stat.is_zombie() || stat.state == b'X' || stat.state == b'x' {
        return Err(Error::Zombie { pid });
    }
    if stat.is_kernel_thread() {
        return Err(Error::KernelThread { pid });
    }
    if status.tracer_pid != 0 {
        return Err(Error::Refused {
            pid,
            reason: format!(
                "already traced by process {} (a debugger or strace); detach it first",
                status.tracer_pid
            ),
        });
    }
    if status.seccomp != 0 && !can_suspend_seccomp {
        return Err(Error::Refused {
            pid,
            reason: format!(
                "it runs under seccomp (mode {}); an injected system call could kill it \
                 (CAP_SYS_ADMIN lets memlink suspend seccomp)",
                status.seccomp
            ),
        });
    }
    Ok(())
}

/// The entries of `smaps` overlapping `[address, address+size)`, checked to cover it without
/// a hole.
fn covering(pid: u32, entries: &[SmapsEntry], address: u64, size: u64) -> Result<Vec<&SmapsEntry>> {
    let end = address + size;
    let mut out = Vec::new();
    let mut at = address;
    for e in entries.iter().filter(|e| e.end > address && e.start < end) {
        if e.start > at {
            break;
        }
        out.push(e);
        at = e.end;
    }
    if at < end {
        let (start, stop) = if out.is_empty() {
            (address, end)
        } else {
            (
                at,
                entries
                    .iter()
                    .find(|e| e.start > at && e.start < end)
                    .map_or(end, |e| e.start),
            )
        };
        return Err(Error::Unmapped {
            pid,
            start,
            end: stop,
        });
    }
    Ok(out)
}

fn has(e: &SmapsEntry, flag: &[u8; 2]) -> bool {
    e.vm_flags.iter().any(|f| f == &VmFlag(*flag))
}

/// Checks the source range of a share-mode link and returns its pieces (clipped to the range)
/// and warnings about state the link loses.
pub fn check_source_range(
    pid: u32,
    entries: &[SmapsEntry],
    address: u64,
    size: u64,
) -> Result<(Vec<VmaPiece>, Vec<String>)> {
    let refuse = |start: u64, why: String| Error::Refused {
        pid,
        reason: format!("source range at {start:#x}: {why}"),
    };
    let mut pieces = Vec::new();
    let mut warnings = Vec::new();
    for e in covering(pid, entries, address, size)? {
        let name = String::from_utf8_lossy(&e.pathname);
        if e.perms.contains(Perms::SHARED) {
            return Err(refuse(
                e.start,
                format!("is already shared memory ({name})"),
            ));
        }
        match e.pathname.as_slice() {
            b"" => {}
            b"[heap]" => {
                return Err(refuse(
                    e.start,
                    "is the heap (only anonymous mappings can be linked)".into(),
                ))
            }
            p if p.starts_with(b"[stack") => {
                return Err(refuse(
                    e.start,
                    "is a stack (only anonymous mappings can be linked)".into(),
                ))
            }
            p if p.starts_with(b"[") => {
                return Err(refuse(
                    e.start,
                    format!("is {name} (only anonymous mappings can be linked)"),
                ))
            }
            _ => {
                return Err(refuse(
                    e.start,
                    format!("is backed by the file {name} (only anonymous mappings can be linked)"),
                ))
            }
        }
        if e.perms.is_none() {
            return Err(refuse(
                e.start,
                "is PROT_NONE (no access): nothing to copy".into(),
            ));
        }
        for (flag, why) in [
            (b"uw", "is registered with userfaultfd"),
            (b"um", "is registered with userfaultfd"),
            (b"ui", "is registered with userfaultfd"),
            (b"lo", "is mlocked"),
            (b"ht", "is hugetlb memory"),
            (b"io", "is a device I/O mapping"),
            (b"pf", "is a raw page-frame mapping"),
            (b"gd", "grows down like a stack"),
            (
                b"mt",
                "carries memory tags (MTE), which would not be copied",
            ),
        ] {
            if has(e, flag) {
                return Err(refuse(
                    e.start,
                    format!("{why} (VmFlags {})", String::from_utf8_lossy(flag)),
                ));
            }
        }
        for (flag, what) in [
            (b"hg", "MADV_HUGEPAGE"),
            (b"dc", "MADV_DONTFORK"),
            (b"wf", "MADV_WIPEONFORK"),
            (b"mg", "MADV_MERGEABLE"),
        ] {
            if has(e, flag) {
                warnings.push(format!(
                    "{:#x}: {what} is lost when the range becomes shared",
                    e.start
                ));
            }
        }
        pieces.push(VmaPiece {
            start: e.start.max(address),
            end: e.end.min(address + size),
            perms: e.perms,
        });
    }
    Ok((pieces, warnings))
}

/// Checks that `[address, address+size)` overlaps no mapping of the target.
pub fn check_target_free(pid: u32, entries: &[SmapsEntry], address: u64, size: u64) -> Result<()> {
    let end = address + size;
    if let Some(e) = entries.iter().find(|e| e.end > address && e.start < end) {
        return Err(Error::Refused {
            pid,
            reason: format!(
                "target range {address:#x}-{end:#x} is occupied by the mapping {:#x}-{:#x}; \
                 choose a free --target-address",
                e.start, e.end
            ),
        });
    }
    Ok(())
}

/// Checks that `[address, address+size)` is fully mapped with `need` permissions (copy mode).
pub fn check_accessible(
    pid: u32,
    entries: &[SmapsEntry],
    address: u64,
    size: u64,
    need: Perms,
    role: &str,
) -> Result<()> {
    for e in covering(pid, entries, address, size)? {
        if !e.perms.contains(need) {
            let p = e.perms.as_bytes();
            return Err(Error::Refused {
                pid,
                reason: format!(
                    "{role} range at {:#x} is {} but must be {}",
                    e.start,
                    String::from_utf8_lossy(&p),
                    if need.contains(Perms::WRITE) {
                        "writable"
                    } else {
                        "readable"
                    }
                ),
            });
        }
    }
    Ok(())
}

/// Checks the range of an unlink: fully mapped, every piece a shared memfd mapping.
pub fn check_unlink_range(
    pid: u32,
    entries: &[SmapsEntry],
    address: u64,
    size: u64,
) -> Result<Vec<VmaPiece>> {
    let mut pieces = Vec::new();
    for e in covering(pid, entries, address, size)? {
        if !e.perms.contains(Perms::SHARED) || !e.pathname.starts_with(b"/memfd:") {
            return Err(Error::Refused {
                pid,
                reason: format!(
                    "range at {:#x} is not a shared memfd mapping ({}), so there is no link to undo",
                    e.start,
                    String::from_utf8_lossy(&e.pathname)
                ),
            });
        }
        if e.perms.is_none() {
            return Err(Error::Refused {
                pid,
                reason: format!("range at {:#x} is PROT_NONE: nothing to copy", e.start),
            });
        }
        pieces.push(VmaPiece {
            start: e.start.max(address),
            end: e.end.min(address + size),
            perms: e.perms,
        });
    }
    Ok(pieces)
}

/// Refuses when an fd shows that a device or the kernel may still write into the source's
/// current pages (io_uring, AIO, RDMA, VFIO): those writes would be lost after the remap.
/// `fd_links` are the targets of `/proc/PID/fd/*`.
pub fn check_pinned(pid: u32, fd_links: &[Vec<u8>], allow_pinned: bool) -> Result<()> {
    if allow_pinned {
        return Ok(());
    }
    for l in fd_links {
        let what = if l.as_slice() == b"anon_inode:[io_uring]" {
            "io_uring"
        } else if l.as_slice() == b"anon_inode:[aio]" {
            "AIO"
        } else if l.starts_with(b"/dev/infiniband/") {
            "RDMA"
        } else if l.starts_with(b"/dev/vfio/") {
            "VFIO"
        } else {
            continue;
        };
        return Err(Error::Refused {
            pid,
            reason: format!(
                "it uses {what} ({}), which may keep writing into the old pages; \
                 use --allow-pinned to link anyway",
                String::from_utf8_lossy(l)
            ),
        });
    }
    Ok(())
}

/// Checks that `more` new mappings (plus a scratch page) fit under `vm.max_map_count`.
pub fn check_map_count(pid: u32, current: usize, more: usize, max: usize) -> Result<()> {
    if current + more + 1 > max {
        return Err(Error::Refused {
            pid,
            reason: format!(
                "it has {current} mappings and vm.max_map_count is {max}: no room for {more} more"
            ),
        });
    }
    Ok(())
}

/// Checks that the temporary second copy fits (`MemAvailable` from `/proc/meminfo`).
pub fn check_memory(pid: u32, size: u64, meminfo: &[u8]) -> Result<()> {
    let avail = meminfo
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"MemAvailable:"))
        .and_then(|v| {
            std::str::from_utf8(v)
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024);
    if let Some(avail) = avail {
        if avail < size {
            return Err(Error::Refused {
                pid,
                reason: format!(
                    "not enough memory for the temporary copy: {size} bytes needed, {avail} available"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::smaps;

    const SMAPS: &[u8] = b"\
7f0000000000-7f0000004000 rw-p 00000000 00:00 0 
VmFlags: rd wr mr mw me ac 
7f0000004000-7f0000005000 r--p 00000000 00:00 0 
VmFlags: rd mr mw me ac 
7f0000006000-7f0000007000 rw-p 00000000 00:00 0 
VmFlags: rd wr mr mw me lo ac 
7f0000008000-7f0000009000 rw-p 00000000 00:00 0 
VmFlags: rd wr mr mw me uw ac 
7f000000a000-7f000000b000 rw-s 00000000 00:01 1234                       /memfd:memlink-link:1:7f (deleted)
VmFlags: rd wr sh mr mw me ms 
7f000000c000-7f000000d000 rw-p 00000000 00:00 0                          [heap]
VmFlags: rd wr mr mw me ac 
7f000000e000-7f000000f000 ---p 00000000 00:00 0 
VmFlags: mr mw me ac 
7f0000010000-7f0000012000 rw-p 00000000 00:0f 5                          /anon_hugepage (deleted)
VmFlags: rd wr mr mw me de ht 
7f0000012000-7f0000013000 r-xp 00000000 fe:00 42                         /usr/lib/libc.so.6
VmFlags: rd ex mr mw me 
7f0000014000-7f0000015000 rw-p 00000000 00:00 0 
VmFlags: rd wr mr mw me ac hg dc 
7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0                          [stack]
VmFlags: rd wr mr mw me gd ac 
";

    fn entries() -> Vec<SmapsEntry> {
        smaps::parse(SMAPS).unwrap()
    }

    fn reason(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn args() {
        let ok = |a, t, s| check_args(1, 2, a, t, s, 4096, 99);
        assert!(ok(0x1000, 0x1000, 0x1000).is_ok());
        assert!(reason(ok(0x1000, 0x1000, 0)).contains("size must not be 0"));
        assert!(reason(ok(0x1001, 0x1000, 0x1000)).contains("address 0x1001 is not a multiple"));
        assert!(reason(ok(0x1000, 0x1000, 100)).contains("size 0x64"));
        assert!(reason(ok(0x1000, 0x1001, 0x1000)).contains("target address"));
        assert!(reason(ok(0x7fff_ffff_f000, 0x1000, 0x1000)).contains("overflows user space"));
        assert!(reason(ok(0xffff_ffff_ffff_f000, 0x1000, 0x2000)).contains("overflows"));
        assert!(reason(check_args(5, 5, 0x1000, 0x1000, 0x1000, 4096, 9)).contains("same process"));
        assert!(
            reason(check_args(5, 9, 0x1000, 0x1000, 0x1000, 4096, 9)).contains("memlink itself")
        );
    }

    #[test]
    fn source_range() {
        let e = entries();
        let (p, w) = check_source_range(1, &e, 0x7f0000000000, 0x5000).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].perms, Perms::READ);
        assert!(w.is_empty());
        // Mixed protections, partial VMA.
        let (p, _) = check_source_range(1, &e, 0x7f0000003000, 0x2000).unwrap();
        assert_eq!((p[0].start, p[0].end), (0x7f0000003000, 0x7f0000004000));
        let r = |a, s| reason(check_source_range(1, &e, a, s));
        assert!(r(0x7f0000004000, 0x2000).contains("not mapped"), "hole");
        assert!(r(0x7f0000100000, 0x1000).contains("not mapped"), "unmapped");
        assert!(r(0x7f0000006000, 0x1000).contains("mlocked"));
        assert!(r(0x7f0000008000, 0x1000).contains("userfaultfd"));
        assert!(r(0x7f000000a000, 0x1000).contains("already shared"));
        assert!(r(0x7f000000c000, 0x1000).contains("heap"));
        assert!(r(0x7f000000e000, 0x1000).contains("PROT_NONE"));
        assert!(
            r(0x7f0000010000, 0x2000).contains("file /anon_hugepage"),
            "hugetlb is file-backed"
        );
        assert!(r(0x7f0000012000, 0x1000).contains("file /usr/lib/libc.so.6"));
        assert!(r(0x7ffd00000000, 0x1000).contains("stack"));
        let (_, w) = check_source_range(1, &e, 0x7f0000014000, 0x1000).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn hugetlb_flag_without_file() {
        let s = b"7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \nVmFlags: rd wr mr mw me ht \n";
        let e = smaps::parse(s).unwrap();
        assert!(reason(check_source_range(1, &e, 0x7f0000000000, 0x200000)).contains("hugetlb"));
    }

    #[test]
    fn target() {
        let e = entries();
        assert!(check_target_free(2, &e, 0x7f0000100000, 0x1000).is_ok());
        assert!(check_target_free(2, &e, 0x7f0000005000, 0x1000).is_ok());
        assert!(reason(check_target_free(2, &e, 0x7f0000004000, 0x2000)).contains("occupied"));
        assert!(check_accessible(2, &e, 0x7f0000000000, 0x4000, Perms::WRITE, "target").is_ok());
        assert!(reason(check_accessible(
            2,
            &e,
            0x7f0000000000,
            0x5000,
            Perms::WRITE,
            "target"
        ))
        .contains("must be writable"));
    }

    #[test]
    fn unlink_range() {
        let e = entries();
        assert_eq!(
            check_unlink_range(1, &e, 0x7f000000a000, 0x1000)
                .unwrap()
                .len(),
            1
        );
        assert!(reason(check_unlink_range(1, &e, 0x7f0000000000, 0x1000))
            .contains("not a shared memfd"));
    }

    #[test]
    fn pinned() {
        let links = |l: &[&[u8]]| l.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        let ok = links(&[b"/dev/null", b"pipe:[123]", b"anon_inode:[eventfd]"]);
        assert!(check_pinned(1, &ok, false).is_ok());
        for (l, what) in [
            (&b"anon_inode:[io_uring]"[..], "io_uring"),
            (b"anon_inode:[aio]", "AIO"),
            (b"/dev/infiniband/uverbs0", "RDMA"),
            (b"/dev/vfio/12", "VFIO"),
        ] {
            let r = reason(check_pinned(1, &links(&[l]), false));
            assert!(r.contains(what) && r.contains("--allow-pinned"), "{r}");
            assert!(check_pinned(1, &links(&[l]), true).is_ok());
        }
    }

    #[test]
    fn process_checks() {
        let stat = |st: &[u8]| crate::proc::stat::parse(st).unwrap();
        let status = |s: &[u8]| crate::proc::status::parse(s).unwrap();
        let live = stat(b"10 (a) S 1 10 10 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0");
        let zombie = stat(b"10 (a) Z 1 10 10 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0");
        let kthread = stat(b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0");
        let plain = status(
            b"Name:\ta\nState:\tS (sleeping)\nTgid:\t10\nPid:\t10\nTracerPid:\t0\nSeccomp:\t0\n",
        );
        let traced = status(b"Name:\ta\nTgid:\t10\nTracerPid:\t4242\nSeccomp:\t0\n");
        let filtered = status(b"Name:\ta\nTgid:\t10\nTracerPid:\t0\nSeccomp:\t2\n");
        assert!(check_process(10, &live, &plain, false).is_ok());
        assert!(reason(check_process(10, &zombie, &plain, false)).contains("zombie"));
        assert!(reason(check_process(2, &kthread, &plain, false)).contains("kernel thread"));
        assert!(reason(check_process(10, &live, &traced, false)).contains("traced by process 4242"));
        assert!(reason(check_process(10, &live, &filtered, false)).contains("seccomp"));
        assert!(check_process(10, &live, &filtered, true).is_ok());
    }

    #[test]
    fn yama() {
        assert!(yama_hint(Some(1), false).contains("ptrace_scope is 1"));
        assert!(yama_hint(Some(3), false).contains("disabled"));
        assert!(yama_hint(Some(3), true).contains("disabled"));
        assert!(yama_hint(None, false).contains("CAP_SYS_PTRACE"));
        for scope in [None, Some(0), Some(1), Some(2)] {
            let h = yama_hint(scope, true);
            assert!(!h.contains("sudo"), "{scope:?}: {h}");
            assert!(h.contains("already has CAP_SYS_PTRACE"), "{h}");
        }
    }

    #[test]
    fn thread_groups() {
        assert!(check_thread_groups(10, 10, 20, 20, 99).is_ok());
        // A thread of the source given as target, and the other way round.
        assert!(reason(check_thread_groups(10, 10, 11, 10, 99)).contains("same process (10)"));
        assert!(reason(check_thread_groups(11, 10, 10, 10, 99)).contains("same process (10)"));
        assert!(reason(check_thread_groups(10, 10, 42, 99, 99)).contains("memlink itself"));
    }

    #[test]
    fn map_count() {
        assert!(check_map_count(1, 100, 3, 65530).is_ok());
        assert!(reason(check_map_count(1, 65528, 3, 65530)).contains("max_map_count"));
    }

    #[test]
    fn memory() {
        let mi = b"MemTotal:       1000 kB\nMemAvailable:     100 kB\n";
        assert!(check_memory(1, 100 * 1024, mi).is_ok());
        assert!(reason(check_memory(1, 200 * 1024, mi)).contains("not enough memory"));
    }
}
