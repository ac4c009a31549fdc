//! The objects behind a process's mappings, reached through `/proc/PID/map_files/START-END`.
//!
//! - [`Backing`]: the file behind a mapping, opened for reading so that shared and file-backed
//!   memory is read from the object itself (`pread`), never through the target's page tables.
//!   A read of a shmem object (shared anonymous memory, memfd, SysV, `/dev/shm`, hugetlbfs)
//!   returns zeros for a hole without allocating a page; a read of any other file uses
//!   `preadv2(RWF_NOWAIT)`, which copies only what is in the page cache and starts no I/O
//!   (`RWF_NOWAIT` implies `IOCB_NOIO` since Linux 5.9), so a page that is not cached is
//!   reported as such rather than read from disk. The link is first opened with `O_PATH` and
//!   checked with `fstat`: a device behind it is never opened.
//! - [`deleted`]: whether a mapped file whose name ends in ` (deleted)` was really deleted.
//!
//! The kernel appends ` (deleted)` to the path of an unlinked file, but a live file may have a
//! name that ends that way. The file itself settles it: `/proc/PID/map_files/START-END` leads to
//! it (following that link needs `CAP_SYS_ADMIN` or `CAP_CHECKPOINT_RESTORE`), and a link count
//! of 0 means deleted. Without the capability, the name is looked up in the process's own root
//! (`/proc/PID/root`): the same file there (device and inode) is live; nothing there is deleted.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};

use crate::proc::maps::MapsLine;
use crate::region::Device;

use super::procdir::ProcDir;

/// `Some(true)` when the file of `line` was deleted, `Some(false)` when it is a live file
/// whose name ends in ` (deleted)`, `None` when neither can be told (a copied procfs tree, no
/// access).
pub fn deleted(dir: &ProcDir, line: &MapsLine<'_>) -> Option<bool> {
    let link = dir
        .path()
        .join(format!("map_files/{:x}-{:x}", line.start, line.end));
    if let Ok(m) = std::fs::metadata(link) {
        return Some(m.nlink() == 0);
    }
    let root = dir.path().join("root");
    std::fs::metadata(&root).ok()?;
    let rel = line.pathname.strip_prefix(b"/")?;
    match std::fs::metadata(root.join(std::ffi::OsStr::from_bytes(rel))) {
        Ok(m) if m.ino() == line.inode && device(m.dev()) == line.device => Some(false),
        Ok(_) => None,
        Err(e) if e.kind() == ErrorKind::NotFound => Some(true),
        Err(_) => None,
    }
}

/// What kind of object is behind a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackingKind {
    /// A shmem or hugetlbfs file (shared anonymous memory, memfd, SysV, `/dev/shm`): a hole
    /// reads as zeros without allocating.
    Shmem,
    /// A regular file on any other file system: read from the page cache only.
    File,
    /// `/dev/zero`: a private mapping of it is anonymous memory.
    Zero,
    /// Anything else (a device): never read through.
    Other,
}

/// How a read of a [`Backing`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackingRead {
    /// This many bytes were read (at least 1).
    Data(usize),
    /// The page at the offset is not in the page cache (a [`BackingKind::File`] only).
    NotCached,
    /// The offset is at or beyond the end of the file: memory there is not readable.
    End,
    /// The file system cannot read without waiting (`EOPNOTSUPP` for `RWF_NOWAIT`).
    NoWaitUnsupported,
    /// The read failed (`EIO`...): treat the page as unreadable.
    Failed,
}

/// The object behind a mapping, open for reading (see the module documentation).
#[derive(Debug)]
pub struct Backing {
    file: Option<File>,
    kind: BackingKind,
}

/// `TMPFS_MAGIC` and `HUGETLBFS_MAGIC` of `statfs(2)`.
const TMPFS_MAGIC: i64 = 0x0102_1994;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

impl Backing {
    /// Opens the object behind the mapping `[start, end)` of the process of `dir`. Needs
    /// `CAP_SYS_ADMIN` (or `CAP_CHECKPOINT_RESTORE`); the range must be exactly a mapping's.
    ///
    /// # Errors
    /// The OS error of opening the link (`ENOENT`: no such mapping now; `EPERM`: no
    /// capability) or of reopening the file.
    pub fn open(dir: &ProcDir, start: u64, end: u64) -> io::Result<Backing> {
        let link = dir.open_path(&format!("map_files/{start:x}-{end:x}"))?;
        let st = nix::sys::stat::fstat(&link).map_err(io::Error::from)?;
        let mode = st.st_mode & libc::S_IFMT;
        if mode == libc::S_IFCHR {
            let zero = libc::makedev(1, 5);
            let kind = if st.st_rdev == zero {
                BackingKind::Zero
            } else {
                BackingKind::Other
            };
            return Ok(Backing { file: None, kind });
        }
        if mode != libc::S_IFREG {
            return Ok(Backing {
                file: None,
                kind: BackingKind::Other,
            });
        }
        // Reopen the very file that was checked (not the link, which could change meanwhile).
        // O_NOATIME: reading leaves no trace on the file (refused unless memlink owns the file
        // or has CAP_FOWNER; then retry without it).
        let own = format!("/proc/self/fd/{}", link.as_raw_fd());
        let open = |flags: i32| {
            File::options()
                .read(true)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY | flags)
                .open(&own)
        };
        let file = match open(libc::O_NOATIME) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0)?,
            r => r?,
        };
        let fs = nix::sys::statfs::fstatfs(&file).map_err(io::Error::from)?;
        let magic = fs.filesystem_type().0 as i64;
        let kind = if magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC {
            BackingKind::Shmem
        } else {
            BackingKind::File
        };
        Ok(Backing {
            file: Some(file),
            kind,
        })
    }

    /// What the object is.
    pub fn kind(&self) -> BackingKind {
        self.kind
    }

    /// Reads up to `buf.len()` bytes at file offset `offset`: all of a shmem object (holes as
    /// zeros), only cached pages of a file. A kind without a readable file gives
    /// [`BackingRead::Failed`].
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> BackingRead {
        let Some(file) = &self.file else {
            return BackingRead::Failed;
        };
        loop {
            let r = match self.kind {
                BackingKind::Shmem => file.read_at(buf, offset),
                _ => rustix::io::preadv2(
                    file,
                    &mut [io::IoSliceMut::new(buf)],
                    offset,
                    rustix::io::ReadWriteFlags::NOWAIT,
                )
                .map_err(io::Error::from),
            };
            return match r {
                Ok(0) => BackingRead::End,
                Ok(n) => BackingRead::Data(n),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => BackingRead::NotCached,
                    Some(libc::EOPNOTSUPP) => BackingRead::NoWaitUnsupported,
                    _ => BackingRead::Failed,
                },
            };
        }
    }
}

/// True when `path` (already resolved by the caller) is a FIFO, socket or device.
#[allow(dead_code)]
fn is_special(ft: std::fs::FileType) -> bool {
    ft.is_fifo() || ft.is_socket() || ft.is_char_device() || ft.is_block_device()
}

/// Splits a `st_dev` as glibc's `major()`/`minor()` do.
fn device(dev: u64) -> Device {
    Device {
        major: (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32,
        minor: (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_the_kernel_prints_them() {
        assert_eq!(
            device(0xfe00),
            Device {
                major: 0xfe,
                minor: 0
            }
        );
        // A large minor (as with many block devices) keeps its high bits.
        let d = device((0x103 << 8) | 0x45 | (0x12 << 12 << 8));
        assert_eq!(d.major, 0x103);
        assert_eq!(d.minor, 0x1245);
    }
}
