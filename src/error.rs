//! The one error type of the library, the same on every platform.
//!
//! Every variant names the process, address or path it is about, and renders as one lowercase line
//! without a trailing period. OS error numbers are mapped to variants in one place,
//! [`Error::from_errno`], so that every caller reports `ESRCH`, `EPERM` and `EFAULT` alike.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Hint printed with permission errors about another process.
pub(crate) const PTRACE_HINT: &str = "reading another process's memory needs the same user and \
a non-restrictive kernel.yama.ptrace_scope, or CAP_SYS_PTRACE (try sudo)";

/// Everything that can go wrong in memlink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No process has this PID.
    #[error("process {pid} does not exist")]
    NoSuchProcess {
        /// The PID asked for.
        pid: u32,
    },
    /// The process has exited but was not reaped; it has no memory left.
    #[error("process {pid} is a zombie: it has exited and has no memory left")]
    Zombie {
        /// The zombie's PID.
        pid: u32,
    },
    /// The PID is a kernel thread, which has no user address space.
    #[error("process {pid} is a kernel thread: it has no user memory")]
    KernelThread {
        /// The kernel thread's PID.
        pid: u32,
    },
    /// The process exists but we may not read or trace it.
    #[error("permission denied: cannot {action} process {pid} ({hint})")]
    PermissionDenied {
        /// The PID.
        pid: u32,
        /// What was attempted, e.g. "read the memory map of".
        action: String,
        /// What would help.
        hint: &'static str,
    },
    /// The process exited while we were working on it.
    #[error("process {pid} exited while {during}")]
    ProcessExited {
        /// The PID.
        pid: u32,
        /// What we were doing.
        during: String,
    },
    /// An argument was rejected before anything was touched.
    #[error("{0}")]
    InvalidArgument(String),
    /// A range of addresses is not (fully) mapped in the process.
    #[error("process {pid}: address range {start:#x}-{end:#x} is not mapped")]
    Unmapped {
        /// The PID.
        pid: u32,
        /// First address of the range.
        start: u64,
        /// One past the last address.
        end: u64,
    },
    /// A file from procfs (or a snapshot) could not be parsed.
    #[error("{what}: line {line}: {message}: {text:?}")]
    Parse {
        /// Which file or format.
        what: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
        /// The offending text (shortened).
        text: String,
    },
    /// An operation this platform or architecture does not provide.
    #[error("{op} is not supported on {platform}")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The platform or architecture.
        platform: &'static str,
    },
    /// The kernel refused to load or attach memlink's eBPF probes (no BPF, no uprobes, no
    /// permission, a lockdown), with what was being done.
    #[error("eBPF: {0}")]
    Bpf(String),
    /// A refusal by a safety check, with the condition that caused it.
    #[error("process {pid}: {reason}")]
    Refused {
        /// The PID concerned.
        pid: u32,
        /// Why the operation was refused.
        reason: String,
    },
    /// An OS call failed in a way that has no more specific variant.
    #[error("{op}: {source}")]
    Os {
        /// What was being done.
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file was refused by a safety check: an input that is not a regular file or is too
    /// large, an output that memlink will not write (a directory, a block device, a FIFO
    /// nobody reads).
    #[error("{}: {reason}", path.display())]
    FileRefused {
        /// The path as the user gave it.
        path: PathBuf,
        /// Why, phrased to follow the path, e.g. "is a FIFO, not a regular file".
        reason: String,
    },
    /// A copy stopped part-way; exactly `copied` bytes from the start of the range arrived.
    #[error("copy from process {source_pid} to process {target_pid} stopped after {copied} of {size} bytes: {cause}")]
    PartialCopy {
        /// The process read from.
        source_pid: u32,
        /// The process written to.
        target_pid: u32,
        /// Bytes copied, counted from the start of the range.
        copied: u64,
        /// Bytes asked for.
        size: u64,
        /// Why it stopped (names the address and the process).
        cause: String,
    },
}

impl Error {
    /// Maps an OS error from an operation on process `pid` to the matching variant.
    ///
    /// `action` says what was attempted, phrased to follow "cannot", e.g. "read the memory of".
    pub fn from_errno(pid: u32, action: &str, err: io::Error) -> Error {
        match err.raw_os_error() {
            Some(libc::ESRCH) | Some(libc::ENOENT) => Error::ProcessExited {
                pid,
                during: format!("trying to {action} it"),
            },
            Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied {
                pid,
                action: action.to_string(),
                hint: PTRACE_HINT,
            },
            _ => Error::Os {
                op: format!("{action} process {pid}"),
                source: err,
            },
        }
    }

    /// True for an `EPIPE` on output, which the CLI treats as a quiet exit.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Os { source, .. } | Error::File { source, .. } => {
                source.kind() == io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }

    /// Builds a parse error, shortening the offending text to keep the message on one line.
    pub fn parse(what: &str, line: usize, message: impl Into<String>, text: &[u8]) -> Error {
        let mut text = String::from_utf8_lossy(&text[..text.len().min(120)]).into_owned();
        text.retain(|c| c != '\n');
        Error::Parse {
            what: what.to_string(),
            line,
            message: message.into(),
            text,
        }
    }
}
