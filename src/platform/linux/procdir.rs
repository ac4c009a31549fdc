//! A handle on `/proc/PID`: an `O_PATH` directory descriptor from which every file of the
//! process is opened, so that a PID reused by another process after we started cannot mix two
//! processes' files.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::proc::{self, stat::Stat, status::Status};

/// The default procfs mount.
pub const DEFAULT_ROOT: &str = "/proc";

/// An open `/proc/PID` directory.
#[derive(Debug)]
pub struct ProcDir {
    pid: u32,
    dir: OwnedFd,
    path: PathBuf,
}

impl ProcDir {
    /// Opens `ROOT/PID` without checking what the process is.
    pub fn open(root: &Path, pid: u32) -> Result<ProcDir> {
        if pid == 0 {
            return Err(Error::InvalidArgument("PID 0 is not a process".into()));
        }
        let path = root.join(pid.to_string());
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid },
                _ => Error::from_errno(pid, "open /proc of", e),
            })?;
        Ok(ProcDir {
            pid,
            dir: dir.into(),
            path,
        })
    }

    /// Opens `ROOT/PID` and checks that it is a live user process: not a zombie, not a kernel
    /// thread. This is where every command's "which process?" errors come from.
    pub fn open_live(root: &Path, pid: u32) -> Result<ProcDir> {
        let d = ProcDir::open(root, pid)?;
        let stat = d.stat()?;
        if stat.is_zombie() {
            return Err(Error::Zombie { pid });
        }
        if stat.is_kernel_thread() {
            return Err(Error::KernelThread { pid });
        }
        Ok(d)
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The directory's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a file relative to the directory (`maps`, `task/123/syscall`...).
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let fd = openat(
            self.dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(File::from(fd))
    }

    /// Reads a whole file relative to the directory.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(4096);
        self.open_file(name)?.read_to_end(&mut buf)?;
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
                pid: self.pid,
                during: format!("trying to {action} it"),
            },
            _ => Error::from_errno(self.pid, action, e),
        }
    }

    /// Parses `stat`.
    pub fn stat(&self) -> Result<Stat> {
        let bytes = self.read("stat").map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid: self.pid },
            _ => Error::from_errno(self.pid, "read the status of", e),
        })?;
        if bytes.is_empty() {
            return Err(Error::NoSuchProcess { pid: self.pid });
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
        self.stat().is_ok_and(|s| !s.is_zombie())
    }

    /// The thread IDs in `task/`.
    pub fn tids(&self) -> Result<Vec<u32>> {
        let dir = self.path.join("task");
        let rd = std::fs::read_dir(&dir).map_err(|e| self.error("list the threads of", e))?;
        let mut tids: Vec<u32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .collect();
        tids.sort_unstable();
        Ok(tids)
    }
}

use std::os::unix::fs::OpenOptionsExt;
