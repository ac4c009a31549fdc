//! What a link or unlink is asked to do and what it reports: data only, shared by the library's
//! [`MemoryLinker`](super::MemoryLinker) and the platform code that carries it out.

use std::fmt;

use serde::Serialize;

#[cfg(feature = "test-hooks")]
use crate::error::{Error, Result};

/// How the target gets the source's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// Both processes map the same pages afterwards (a memfd).
    #[default]
    Share,
    /// The bytes are copied once into an already-mapped writable target range.
    Copy,
}

impl fmt::Display for LinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkMode::Share => "share",
            LinkMode::Copy => "copy",
        })
    }
}

/// The named steps of a share-mode link (and of an unlink), used by reports and by the
/// test-only fault hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Processes stopped and range re-checked.
    Stop,
    /// Scratch page mapped in the source.
    Scratch,
    /// Memfd created in the source.
    Memfd,
    /// Memfd sized.
    Truncate,
    /// Source range copied into the memfd.
    Copy,
    /// Memfd obtained in the target.
    TargetFd,
    /// Memfd mapped in the target.
    TargetMap,
    /// Both processes checked alive (the point of no return follows).
    Check,
    /// Source range replaced by the memfd.
    Remap,
    /// Temporary fds and pages removed.
    Cleanup,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 10] = [
        Step::Stop,
        Step::Scratch,
        Step::Memfd,
        Step::Truncate,
        Step::Copy,
        Step::TargetFd,
        Step::TargetMap,
        Step::Check,
        Step::Remap,
        Step::Cleanup,
    ];

    /// The step's name, as used by `MEMLINK_TEST_FAULT`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Stop => "stop",
            Step::Scratch => "scratch",
            Step::Memfd => "memfd",
            Step::Truncate => "truncate",
            Step::Copy => "copy",
            Step::TargetFd => "target-fd",
            Step::TargetMap => "target-map",
            Step::Check => "check",
            Step::Remap => "remap",
            Step::Cleanup => "cleanup",
        }
    }
}

/// What the test-only fault hook does after its step.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// SIGKILL the source (or the unlinked process).
    KillSource,
    /// SIGKILL the target.
    KillTarget,
    /// Fail as if the next step had failed.
    Fail,
    /// Hold the stopped processes: print `memlink: test hold after STEP` on standard error and
    /// carry on once a line arrives on standard input (so a test can act on the held processes,
    /// e.g. send a signal, at a known instant).
    Hold,
}

/// A test-only fault: stop after `after` and do `action`, so that rollback tests are
/// deterministic. The CLI builds it from `MEMLINK_TEST_FAULT=after:STEP:ACTION`. It exists only
/// with the cargo feature `test-hooks`, which the test suite enables and release builds lack.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The step after which the fault fires.
    pub after: Step,
    /// What happens.
    pub action: FaultAction,
    /// `during:CALL:hold`: instead of after a step, hold while the first injected call named
    /// CALL (its system call number here) is in flight, between its entry and its exit.
    pub during_call: Option<u64>,
    /// `during:CALL@source:hold` / `during:CALL@target:hold`: only a call injected into that
    /// process counts (`None`: either).
    pub during_in: Option<FaultProcess>,
}

/// Which process a `during:` fault waits for.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultProcess {
    /// The source (or the unlinked process).
    Source,
    /// The target.
    Target,
}

/// The injected calls a `during:CALL:hold` fault can name, with their x86_64 numbers.
#[cfg(feature = "test-hooks")]
pub(crate) const FAULT_CALLS: [(&str, u64); 13] = [
    ("close", 3),
    ("mmap", 9),
    ("mprotect", 10),
    ("munmap", 11),
    ("pread64", 17),
    ("pwrite64", 18),
    ("mremap", 25),
    ("recvmsg", 47),
    ("socketpair", 53),
    ("ftruncate", 77),
    ("memfd_create", 319),
    ("pidfd_open", 434),
    ("pidfd_getfd", 438),
];

#[cfg(feature = "test-hooks")]
impl Fault {
    /// Parses `after:STEP:ACTION` with ACTION one of `kill-source`, `kill-target`, `fail`, `hold`.
    pub fn parse(s: &str) -> Result<Fault> {
        let bad = || {
            Error::InvalidArgument(format!(
                "invalid test fault {s:?}: expected after:STEP:kill-source|kill-target|fail|hold or during:CALL[@source|@target]:hold"
            ))
        };
        let mut it = s.split(':');
        match it.next() {
            Some("after") => {}
            Some("during") => {
                let spec = it.next().ok_or_else(bad)?;
                let (call, during_in) = match spec.split_once('@') {
                    None => (spec, None),
                    Some((c, "source")) => (c, Some(FaultProcess::Source)),
                    Some((c, "target")) => (c, Some(FaultProcess::Target)),
                    Some(_) => return Err(bad()),
                };
                let nr = FAULT_CALLS
                    .iter()
                    .find(|(n, _)| *n == call)
                    .ok_or_else(bad)?
                    .1;
                if it.next() != Some("hold") || it.next().is_some() {
                    return Err(bad());
                }
                return Ok(Fault {
                    after: Step::Cleanup,
                    action: FaultAction::Hold,
                    during_call: Some(nr),
                    during_in,
                });
            }
            _ => return Err(bad()),
        }
        let step = it.next().ok_or_else(bad)?;
        let after = *Step::ALL
            .iter()
            .find(|st| st.name() == step)
            .ok_or_else(bad)?;
        let action = match it.next() {
            Some("kill-source") => FaultAction::KillSource,
            Some("kill-target") => FaultAction::KillTarget,
            Some("fail") => FaultAction::Fail,
            Some("hold") => FaultAction::Hold,
            _ => return Err(bad()),
        };
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(Fault {
            after,
            action,
            during_call: None,
            during_in: None,
        })
    }

    /// The `hold` action: announces the step on standard error and waits for a line (or the
    /// end) of standard input.
    pub fn hold(step: Step) {
        Fault::hold_at(&format!("after {}", step.name()));
    }

    /// Prints `memlink: test hold WHERE` on standard error and waits for a line (or the end) of
    /// standard input.
    pub fn hold_at(place: &str) {
        use std::io::BufRead;
        eprintln!("memlink: test hold {place}");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
}

/// A request to link `[address, address+size)` of `source` into `target`.
///
/// Built with [`LinkRequest::new`] (non-exhaustive: the test-only field comes and goes with the
/// `test-hooks` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkRequest {
    /// The process whose memory is shared.
    pub source: u32,
    /// The process that gets the mapping.
    pub target: u32,
    /// First address of the source range (page-aligned).
    pub address: u64,
    /// Length in bytes (page-aligned, not 0).
    pub size: u64,
    /// Where the range appears in the target; `None` means at `address`.
    pub target_address: Option<u64>,
    /// Share or copy.
    pub mode: LinkMode,
    /// Hash both ranges afterwards and compare with the source's content before the link.
    pub verify: bool,
    /// Run the pre-flight checks only.
    pub dry_run: bool,
    /// Link even when the source uses io_uring, AIO, RDMA or VFIO.
    pub allow_pinned: bool,
    /// Test-only fault injection (see [`Fault`]).
    #[cfg(feature = "test-hooks")]
    pub fault: Option<Fault>,
}

impl LinkRequest {
    /// A share-mode request with every option off.
    pub fn new(source: u32, target: u32, address: u64, size: u64) -> LinkRequest {
        LinkRequest {
            source,
            target,
            address,
            size,
            target_address: None,
            mode: LinkMode::Share,
            verify: false,
            dry_run: false,
            allow_pinned: false,
            #[cfg(feature = "test-hooks")]
            fault: None,
        }
    }

    /// The target address (`address` unless one was given).
    pub fn target_address(&self) -> u64 {
        self.target_address.unwrap_or(self.address)
    }
}

/// One source VMA piece of the linked range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedPiece {
    /// First source address.
    pub start: u64,
    /// One past the last source address.
    pub end: u64,
    /// Protection, as in `/proc/PID/maps` (`rw-`).
    pub perms: String,
}

/// What a link did (or, for a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    /// Source PID.
    pub source: u32,
    /// Target PID.
    pub target: u32,
    /// Source address.
    pub address: u64,
    /// Target address.
    pub target_address: u64,
    /// Length in bytes.
    pub size: u64,
    /// Share or copy.
    pub mode: LinkMode,
    /// True when only the checks ran.
    pub dry_run: bool,
    /// The memfd's name (share mode).
    pub memfd_name: Option<String>,
    /// How the target obtained the memfd (`pidfd`).
    pub fd_method: Option<String>,
    /// The source pieces and their protections.
    pub pieces: Vec<LinkedPiece>,
    /// Bytes copied (into the memfd, or into the target in copy mode).
    pub bytes_copied: u64,
    /// `Some(true)` when `--verify` found identical content in both ranges.
    pub verified: Option<bool>,
    /// Steps completed, in order.
    pub steps: Vec<Step>,
    /// Things the user should know (state lost by the source range, leaked fds).
    pub warnings: Vec<String>,
    /// Wall time in microseconds.
    pub elapsed_us: u64,
}

/// A request to turn a linked (shared memfd) range back into private memory.
///
/// Built with [`UnlinkRequest::new`] (non-exhaustive, as [`LinkRequest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnlinkRequest {
    /// The process.
    pub pid: u32,
    /// First address (page-aligned).
    pub address: u64,
    /// Length (page-aligned, not 0).
    pub size: u64,
    /// Run the pre-flight checks only.
    pub dry_run: bool,
    /// Instead of unlinking a range, remove what a link or unlink interrupted by memlink's own
    /// death left in `pid` (memlink memfd fds, a target mapping whose source stayed private);
    /// `address` and `size` are ignored.
    pub cleanup: bool,
    /// Test-only fault injection (`kill-source` kills `pid`).
    #[cfg(feature = "test-hooks")]
    pub fault: Option<Fault>,
}

impl UnlinkRequest {
    /// A request to unlink `[address, address+size)` of `pid`, not a dry run.
    pub fn new(pid: u32, address: u64, size: u64) -> UnlinkRequest {
        UnlinkRequest {
            pid,
            address,
            size,
            dry_run: false,
            cleanup: false,
            #[cfg(feature = "test-hooks")]
            fault: None,
        }
    }

    /// A request to remove the leftovers of interrupted links in `pid` (see
    /// [`UnlinkRequest::cleanup`]).
    pub fn cleanup_of(pid: u32) -> UnlinkRequest {
        UnlinkRequest {
            cleanup: true,
            ..UnlinkRequest::new(pid, 0, 0)
        }
    }
}

/// What an unlink did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnlinkReport {
    /// The process.
    pub pid: u32,
    /// First address.
    pub address: u64,
    /// Length.
    pub size: u64,
    /// True when only the checks ran.
    pub dry_run: bool,
    /// The pieces made private, with their protections.
    pub pieces: Vec<LinkedPiece>,
    /// For a cleanup: each leftover removed (or, in a dry run, found), one line each.
    pub removed: Vec<String>,
    /// Bytes copied into the new private memory.
    pub bytes_copied: u64,
    /// Wall time in microseconds.
    pub elapsed_us: u64,
}

/// A shared memfd range of a process and the other processes that map the same memfd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkPartners {
    /// Start of the range in the process.
    pub start: u64,
    /// One past its end.
    pub end: u64,
    /// The memfd's name as `maps` shows it.
    pub name: String,
    /// Other PIDs mapping the same inode (sorted).
    pub partners: Vec<u32>,
}

#[cfg(all(test, feature = "test-hooks"))]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        let f = Fault::parse("after:copy:hold").unwrap();
        assert_eq!(
            (f.after, f.action, f.during_call),
            (Step::Copy, FaultAction::Hold, None)
        );
        let f = Fault::parse("during:pwrite64:hold").unwrap();
        assert_eq!((f.action, f.during_call), (FaultAction::Hold, Some(18)));
        assert_eq!(f.during_in, None);
        let f = Fault::parse("during:mmap@source:hold").unwrap();
        assert_eq!(
            (f.during_call, f.during_in),
            (Some(9), Some(FaultProcess::Source))
        );
        let f = Fault::parse("during:recvmsg@target:hold").unwrap();
        assert_eq!(f.during_in, Some(FaultProcess::Target));
        for bad in [
            "during:mmap@both:hold",
            "during:pwrite64",
            "during:pwrite64:fail",
            "during:execve:hold",
            "during:mmap:hold:x",
            "after:copy",
        ] {
            assert!(Fault::parse(bad).is_err(), "{bad}");
        }
    }
}
