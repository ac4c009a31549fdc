//! The process handle: an `O_PATH` descriptor of the `/proc/PID` directory from which every
//! file of the process is opened (`openat(2)`, `readlinkat(2)`, the `task/` listing), so that a
//! PID reused by another process after the handle was opened cannot mix two processes' files.
//!
//! A handle is cheap to clone (the descriptor is shared), so the analyzer, its region streams
//! and its memory reader all work through the one directory opened at the start. It also
//! remembers whether its procfs is memlink's own (`/proc`): only there does the PID number name
//! the same process for system calls that take a PID, such as `process_vm_readv(2)`.
//!
//! # References
//! `proc_pid(5)`, `openat(2)` (`O_PATH`: Linux 2.6.39).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::platform::DEFAULT_PROC_ROOT;
use crate::proc::{self, stat::Stat, status::Status};

/// The most memlink reads of one whole procfs file ([`ProcDir::read`]): `maps` of 100,000
/// mappings is about 10 MiB, the kernel's default limit is 65,530 mappings.
pub const MAX_FILE: u64 = 64 << 20;

/// An open `/proc/PID` directory. Clones share the descriptor.
#[derive(Debug, Clone)]
pub struct ProcDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pid: u32,
    dir: OwnedFd,
    path: PathBuf,
    default_root: bool,
    /// A live thread through which the memory files are read, when the thread-group leader
    /// has exited (`pthread_exit`) while other threads live: the leader's own `maps` is then
    /// empty, but every thread shares the one address space.
    mm_task: Option<u32>,
}

impl ProcDir {
    /// Opens `ROOT/PID` without checking what the process is.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for PID 0, [`Error::NoSuchProcess`] when `ROOT/PID` does not
    /// exist, an OS error (permission, a `ROOT` that is not a directory) otherwise.
    pub fn open(root: &Path, pid: u32) -> Result<ProcDir> {
        if pid == 0 {
            return Err(Error::InvalidArgument("PID 0 is not a process".into()));
        }
        let path = root.join(pid.to_string());
        let default_root = root == Path::new(DEFAULT_PROC_ROOT);
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid },
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    Error::from_errno(pid, "open /proc of", e)
                }
                // Under another root (a file, not a directory...) the path says what is wrong.
                _ if !default_root => Error::File {
                    path: path.clone(),
                    source: e,
                },
                _ => Error::from_errno(pid, "open /proc of", e),
            })?;
        Ok(ProcDir {
            inner: Arc::new(Inner {
                pid,
                dir: dir.into(),
                path,
                default_root,
                mm_task: None,
            }),
        })
    }

    /// Opens `ROOT/PID` and checks, with one read of `stat`, that it is a live user process:
    /// not a zombie, not a kernel thread. This is where every command's "which process?" errors
    /// come from.
    ///
    /// # Errors
    /// As [`open`](Self::open), then [`Error::Zombie`], [`Error::KernelThread`].
    pub fn open_live(root: &Path, pid: u32) -> Result<ProcDir> {
        let mut d = ProcDir::open(root, pid)?;
        let stat = d.stat()?;
        if stat.is_zombie() {
            // A leader that called pthread_exit is a zombie while its other threads live on
            // with the process's memory: read that memory through one of them.
            let live = d.tids().ok().and_then(|tids| {
                tids.into_iter().filter(|&t| t != pid).find(|t| {
                    d.read(&format!("task/{t}/stat"))
                        .ok()
                        .and_then(|b| proc::stat::parse(&b).ok())
                        .is_some_and(|s| !s.is_zombie())
                })
            });
            match (live, Arc::get_mut(&mut d.inner)) {
                (Some(t), Some(inner)) => inner.mm_task = Some(t),
                _ => return Err(Error::Zombie { pid }),
            }
        }
        if stat.is_kernel_thread() {
            return Err(Error::KernelThread { pid });
        }
        Ok(d)
    }

    /// The PID (as the procfs root numbers it).
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The directory's path (for messages).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Is this procfs memlink's own (`/proc`), where [`pid`](Self::pid) names the same process
    /// for PID-taking system calls? A procfs mounted elsewhere may belong to another PID
    /// namespace.
    pub fn in_default_root(&self) -> bool {
        self.inner.default_root
    }

    /// The live thread through which memory is read when the thread-group leader has exited
    /// while other threads live (`None` while the leader lives).
    pub fn leader_exited(&self) -> Option<u32> {
        self.inner.mm_task
    }

    /// Opens a file relative to the directory (`maps`, `task/123/syscall`...). With the leader
    /// exited ([`leader_exited`](Self::leader_exited)), the memory files (`maps`, `smaps`,
    /// `smaps_rollup`, `mem`, `pagemap`, `map_files/`) are the live thread's.
    ///
    ///
    /// Every file of a procfs process directory is a regular file. Under a crafted
    /// `--proc-root` a name may lead to a FIFO (whose open would wait for a writer forever) or
    /// a device such as `/dev/zero` (endless bytes): the file is opened with `O_NONBLOCK`, so
    /// that opening never waits, and refused (`InvalidData`, naming the path) unless it is a
    /// regular file.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let via;
        let name = match self.inner.mm_task {
            Some(t)
                if matches!(name, "maps" | "smaps" | "smaps_rollup" | "mem" | "pagemap")
                    || name.starts_with("map_files/") =>
            {
                via = format!("task/{t}/{name}");
                via.as_str()
            }
            _ => name,
        };
        let fd = openat(
            self.inner.dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        let file = File::from(fd);
        // The kernel's own files of a process under the real `/proc` are procfs files: their
        // type needs no `fstat` (repeated readers such as `top` open thousands a second). What
        // a link leads to (`map_files/`, `fd/`, `root/`...) and anything under another root is
        // checked.
        if self.inner.default_root && is_own_procfs_file(name) {
            return Ok(file);
        }
        let ty = file.metadata()?.file_type();
        if !ty.is_file() {
            let what = if ty.is_fifo() {
                "a FIFO"
            } else if ty.is_char_device() || ty.is_block_device() {
                "a device"
            } else if ty.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {what}, not a procfs file",
                    self.inner.path.join(name).display()
                ),
            ));
        }
        Ok(file)
    }

    /// Opens `name` (a link such as `map_files/START-END`) with `O_PATH`, following it: a
    /// descriptor that names the file without opening it, so that a device behind the link
    /// is never opened. Check what it is with `fstat`, then reopen it for reading.
    pub fn open_path(&self, name: &str) -> io::Result<OwnedFd> {
        openat(
            self.inner.dir.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)
    }

    /// Reads a whole file relative to the directory, at most `MAX_FILE` (64 MiB) bytes (a larger
    /// file is an `InvalidData` error naming the path).
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(4096);
        self.open_file(name)?
            .take(MAX_FILE + 1)
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is larger than {} MiB, more than any procfs file of a process",
                    self.inner.path.join(name).display(),
                    MAX_FILE >> 20
                ),
            ));
        }
        Ok(buf)
    }

    /// Reads a file, mapping OS errors to memlink errors about this process.
    pub fn read_for(&self, name: &str, action: &str) -> Result<Vec<u8>> {
        self.read(name).map_err(|e| self.error(action, e))
    }

    /// Maps an OS error about this process, telling "exited" from "never existed".
    pub fn error(&self, action: &str, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::ProcessExited {
                pid: self.pid(),
                during: format!("trying to {action} it"),
            },
            _ => Error::from_errno(self.pid(), action, e),
        }
    }

    /// Parses `stat`.
    pub fn stat(&self) -> Result<Stat> {
        let pid = self.pid();
        let bytes = self.read("stat").map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid },
            _ => Error::from_errno(pid, "read the status of", e),
        })?;
        if bytes.is_empty() {
            return Err(Error::NoSuchProcess { pid });
        }
        proc::stat::parse(&bytes)
    }

    /// Parses `status`.
    pub fn status(&self) -> Result<Status> {
        let bytes = self.read_for("status", "read the status of")?;
        proc::status::parse(&bytes)
    }

    /// Is the process still alive (not gone, not a zombie)?
    pub fn is_alive(&self) -> bool {
        if let Some(t) = self.inner.mm_task {
            // The leader stays a zombie; the process lives as long as the thread read through.
            return self
                .read(&format!("task/{t}/stat"))
                .ok()
                .and_then(|b| proc::stat::parse(&b).ok())
                .is_some_and(|s| !s.is_zombie());
        }
        self.stat().is_ok_and(|s| !s.is_zombie())
    }

    /// Does the process still exist (a zombie does)? One `openat` of `stat`, nothing read.
    pub fn exists(&self) -> bool {
        self.open_file("stat").is_ok()
    }

    /// The names in a subdirectory (`task`, `fd`), without `.` and `..`, unsorted.
    fn list(&self, name: &str) -> io::Result<Vec<Vec<u8>>> {
        let mut dir = Dir::openat(
            self.inner.dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(dir
            .iter()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_bytes().to_vec())
            .filter(|n| n != b"." && n != b"..")
            .collect())
    }

    /// The thread IDs in `task/`, in increasing order.
    pub fn tids(&self) -> Result<Vec<u32>> {
        let names = self
            .list("task")
            .map_err(|e| self.error("list the threads of", e))?;
        let mut tids: Vec<u32> = names
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok()?.parse().ok())
            .collect();
        tids.sort_unstable();
        Ok(tids)
    }

    /// The targets of the links in `fd/` (what each open descriptor refers to), in no
    /// particular order; entries that cannot be read (closed meanwhile) are skipped, and a
    /// process whose `fd/` cannot be listed has none.
    pub fn fd_targets(&self) -> Vec<Vec<u8>> {
        let Ok(names) = self.list("fd") else {
            return Vec::new();
        };
        names
            .iter()
            .filter_map(|n| {
                let mut rel = b"fd/".to_vec();
                rel.extend_from_slice(n);
                readlinkat(self.inner.dir.as_fd(), OsStr::from_bytes(&rel)).ok()
            })
            .map(|t| t.as_bytes().to_vec())
            .collect()
    }
}

/// True for a file procfs itself generates for a process or one of its threads (`status`,
/// `task/TID/smaps`...), as opposed to a link to some other file (`map_files/`, `fd/`, `exe`).
fn is_own_procfs_file(name: &str) -> bool {
    let file = match name.strip_prefix("task/") {
        Some(rest) => match rest.split_once('/') {
            Some((tid, file)) if !tid.is_empty() && tid.bytes().all(|b| b.is_ascii_digit()) => file,
            _ => return false,
        },
        None => name,
    };
    matches!(
        file,
        "status"
            | "stat"
            | "statm"
            | "cmdline"
            | "comm"
            | "cgroup"
            | "maps"
            | "smaps"
            | "smaps_rollup"
            | "environ"
            | "io"
            | "limits"
            | "oom_score"
    )
}

#[cfg(test)]
mod tests {
    use super::is_own_procfs_file;

    #[test]
    fn own_procfs_files_are_told_from_links() {
        for own in ["status", "smaps_rollup", "task/12/status", "task/7/maps"] {
            assert!(is_own_procfs_file(own), "{own}");
        }
        for other in [
            "map_files/1000-2000",
            "fd/3",
            "exe",
            "root/etc/passwd",
            "task/x/status",
            "task//status",
            "task/12/fd/3",
            "task/12/map_files/1-2",
        ] {
            assert!(!is_own_procfs_file(other), "{other}");
        }
    }
}
